// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // WebKitGTK's accelerated compositing costs the web process ~100 MB (software GL where
    // there is no GPU) and buys nothing for a page of lists and forms: measured with 20
    // containers, PSS of all the app's processes 336 → 236 MB, launch to list 1.3 → 0.8 s
    // (bench/desktop-footprint.sh). Set before GTK starts, and only when the user has not
    // chosen; no other thread exists yet.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    berth_desktop::run()
}
