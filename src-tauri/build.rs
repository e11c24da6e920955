use std::path::Path;

fn main() {
    // With the UI embedded (the default), say how to build it before tauri's macro fails with a
    // less helpful message.
    if std::env::var_os("CARGO_FEATURE_CUSTOM_PROTOCOL").is_some()
        && !Path::new("../ui/dist/index.html").exists()
    {
        panic!(
            "ui/dist is missing: build the UI first with \
             `npm --prefix ui ci && npm --prefix ui run build` \
             (or build with --no-default-features to load the Vite dev server)"
        );
    }
    println!("cargo:rerun-if-changed=../ui/dist/index.html");
    tauri_build::build()
}
