//! App settings, kept as JSON in the app's config dir, and start-at-login through an XDG
//! autostart entry (`~/.config/autostart/berth.desktop`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tauri::{Manager, State};
use tracing::{info, warn};
use ts_rs::TS;

use crate::engine_host::vm_config::{host_resources, Platform, MAX_DISK_GIB, MIN_DISK_GIB};
use crate::error::{CommandError, CommandResult};

pub const AUTOSTART_FILE: &str = "berth.desktop";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// `es`, `en`, or `None` to follow the system.
    #[ts(type = "\"es\" | \"en\" | null")]
    pub language: Option<String>,
    /// `light`, `dark` or `system`.
    #[ts(type = "\"light\" | \"dark\" | \"system\"")]
    pub theme: String,
    pub start_at_login: bool,
    pub onboarding_done: bool,
    /// Run the engine in a Linux VM (always on macOS and Windows; an option on Linux).
    pub engine_in_vm: bool,
    pub vm_cpus: u32,
    pub vm_memory_mib: u32,
    /// The data disk's limit; it grows on demand up to this (an existing disk keeps its size).
    pub vm_disk_gib: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            language: None,
            theme: "system".into(),
            start_at_login: false,
            onboarding_done: false,
            engine_in_vm: Platform::current().vm_only(),
            vm_cpus: 2,
            vm_memory_mib: 2048,
            vm_disk_gib: 64,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> CommandResult<()> {
        match self.language.as_deref() {
            None | Some("es") | Some("en") => {}
            Some(other) => {
                return Err(CommandError::invalid(
                    "language",
                    format!("Unsupported language: {other}"),
                ))
            }
        }
        match self.theme.as_str() {
            "light" | "dark" | "system" => {}
            other => {
                return Err(CommandError::invalid(
                    "theme",
                    format!("Unknown theme: {other}"),
                ))
            }
        }
        if !self.engine_in_vm && Platform::current().vm_only() {
            return Err(CommandError::invalid(
                "engineInVm",
                "On this system the engine can only run in a VM",
            ));
        }
        Ok(())
    }

    /// The VM's size, where it changed from `old` (a size saved on a bigger machine, or the
    /// defaults on a small one, must not block saving anything else; the VM host clamps it).
    pub fn validate_vm_size(&self, old: &Settings) -> CommandResult<()> {
        let (host_cpus, host_mib) = host_resources();
        if self.vm_cpus != old.vm_cpus && !(1..=host_cpus).contains(&self.vm_cpus) {
            return Err(CommandError::invalid(
                "vmCpus",
                format!("CPUs: between 1 and {host_cpus} (this computer's)"),
            ));
        }
        if self.vm_memory_mib != old.vm_memory_mib
            && !(MIN_VM_MEMORY_MIB..=host_mib).contains(&self.vm_memory_mib)
        {
            return Err(CommandError::invalid(
                "vmMemoryMib",
                format!("Memory: between {MIN_VM_MEMORY_MIB} and {host_mib} MiB"),
            ));
        }
        if self.vm_disk_gib != old.vm_disk_gib
            && !(MIN_DISK_GIB..=MAX_DISK_GIB).contains(&self.vm_disk_gib)
        {
            return Err(CommandError::invalid(
                "vmDiskGib",
                format!("Disk: between {MIN_DISK_GIB} and {MAX_DISK_GIB} GiB"),
            ));
        }
        Ok(())
    }

    /// Whether going from `self` to `new` needs another engine host (the VM's size only
    /// matters while the engine runs in the VM).
    pub fn host_differs(&self, new: &Settings) -> bool {
        self.engine_in_vm != new.engine_in_vm
            || (new.engine_in_vm
                && (self.vm_cpus, self.vm_memory_mib, self.vm_disk_gib)
                    != (new.vm_cpus, new.vm_memory_mib, new.vm_disk_gib))
    }
}

/// The least memory the guest boots with.
pub const MIN_VM_MEMORY_MIB: u32 = 512;

/// Where settings live and what start-at-login launches.
pub struct SettingsStore {
    file: PathBuf,
    autostart_dir: PathBuf,
    exec: PathBuf,
    current: Mutex<Option<Settings>>,
}

impl SettingsStore {
    pub fn new(config_dir: &Path, autostart_dir: &Path, exec: &Path) -> SettingsStore {
        SettingsStore {
            file: config_dir.join("settings.json"),
            autostart_dir: autostart_dir.to_path_buf(),
            exec: exec.to_path_buf(),
            current: Mutex::new(None),
        }
    }

    /// `$XDG_CONFIG_HOME/autostart`, else `~/.config/autostart`.
    pub fn default_autostart_dir() -> Option<PathBuf> {
        std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .map(|c| c.join("autostart"))
    }

    pub fn autostart_path(&self) -> PathBuf {
        self.autostart_dir.join(AUTOSTART_FILE)
    }

    /// The saved settings; defaults when there is no file or it cannot be read (logged).
    pub fn get(&self) -> Settings {
        if let Some(s) = crate::backend::lock(&self.current).clone() {
            return s;
        }
        let s = match std::fs::read(&self.file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                warn!(file = %self.file.display(), "unreadable settings, using defaults: {e}");
                Settings::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(e) => {
                warn!(file = %self.file.display(), "cannot read settings: {e}");
                Settings::default()
            }
        };
        // The autostart entry is the truth for start-at-login (the user may delete it); where
        // the VM is the only mode, it is on whatever the file says.
        let s = Settings {
            start_at_login: self.autostart_path().exists(),
            engine_in_vm: s.engine_in_vm || Platform::current().vm_only(),
            ..s
        };
        *crate::backend::lock(&self.current) = Some(s.clone());
        s
    }

    /// Validates, writes the autostart entry when it changed, saves atomically.
    pub fn set(&self, new: Settings) -> CommandResult<Settings> {
        new.validate()?;
        let old = self.get();
        new.validate_vm_size(&old)?;
        if new.start_at_login != old.start_at_login
            || new.start_at_login != self.autostart_path().exists()
        {
            self.apply_autostart(new.start_at_login)?;
        }
        let json = serde_json::to_vec_pretty(&new)
            .map_err(|e| CommandError::engine(format!("Cannot encode settings: {e}")))?;
        write_atomic(&self.file, &json).map_err(|e| {
            CommandError::engine(format!("Cannot save {}: {e}", self.file.display()))
        })?;
        info!(?new, "settings saved");
        *crate::backend::lock(&self.current) = Some(new.clone());
        Ok(new)
    }

    fn apply_autostart(&self, enabled: bool) -> CommandResult<()> {
        let path = self.autostart_path();
        let fail = |e: std::io::Error| {
            CommandError::engine(format!("Cannot update {}: {e}", path.display()))
                .with_field("startAtLogin")
        };
        if enabled {
            write_atomic(&path, autostart_entry(&self.exec).as_bytes()).map_err(fail)?;
        } else {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(fail(e)),
            }
        }
        Ok(())
    }
}

fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// An XDG autostart desktop entry that starts the app hidden in the tray.
pub fn autostart_entry(exec: &Path) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName=Berth\nComment=Containers on your desktop\n\
         Exec={} --hidden\nIcon=berth-desktop\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
        desktop_quote(&exec.to_string_lossy())
    )
}

/// Quotes one argument for a desktop entry's `Exec` key (the spec's rules).
pub fn desktop_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,@:=".contains(c));
    if plain {
        return arg.to_string();
    }
    let mut out = String::from("\"");
    for c in arg.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    // A literal '%' must be doubled in Exec.
    out.replace('%', "%%")
}

/// The user's locale as a BCP 47 tag (`es-ES`), from `LC_ALL`, `LC_MESSAGES`, `LANG`.
pub fn locale_from_env(var: impl Fn(&str) -> Option<String>) -> String {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|k| var(k))
        .map(|v| v.split(['.', '@']).next().unwrap_or("").to_string())
        .find(|v| !v.is_empty() && v != "C" && v != "POSIX")
        .map(|v| v.replace('_', "-"))
        .unwrap_or_else(|| "en-US".into())
}

#[tauri::command]
pub async fn get_settings(store: State<'_, SettingsStore>) -> CommandResult<Settings> {
    Ok(store.get())
}

#[tauri::command]
pub async fn set_settings(
    app: tauri::AppHandle,
    store: State<'_, SettingsStore>,
    settings: Settings,
) -> CommandResult<Settings> {
    let before = store.get();
    let saved = store.set(settings)?;
    // The tray speaks the chosen language too.
    crate::tray::refresh(&app);
    if before.host_differs(&saved) {
        // The supervisor follows the new host; a VM boot takes a while, so this returns now
        // and the engine's status tells the rest.
        if let (Some(backend), Some(choice)) = (
            app.try_state::<std::sync::Arc<crate::Backend>>(),
            app.try_state::<crate::engine_host::HostChoice>(),
        ) {
            let backend = backend.inner().clone();
            let new_host = choice.host_for(&saved);
            tauri::async_runtime::spawn(async move {
                backend.switch_host(new_host).await;
                backend.start_if_stopped().await;
            });
        }
    }
    Ok(saved)
}

#[tauri::command]
pub async fn system_locale() -> CommandResult<String> {
    Ok(locale_from_env(|k| std::env::var(k).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> SettingsStore {
        SettingsStore::new(
            &dir.join("config"),
            &dir.join("autostart"),
            Path::new("/opt/Berth App/berth-desktop"),
        )
    }

    #[test]
    fn defaults_then_roundtrip_and_autostart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        assert_eq!(s.get(), Settings::default());
        let wanted = Settings {
            language: Some("es".into()),
            theme: "dark".into(),
            start_at_login: true,
            onboarding_done: true,
            engine_in_vm: true,
            vm_cpus: 1,
            vm_memory_mib: 1024,
            vm_disk_gib: 20,
        };
        assert_eq!(s.set(wanted.clone()), Ok(wanted.clone()));
        let entry = std::fs::read_to_string(s.autostart_path()).expect("autostart entry");
        assert!(
            entry.contains("Exec=\"/opt/Berth App/berth-desktop\" --hidden"),
            "{entry}"
        );
        // A new store (next launch) reads the same.
        assert_eq!(store(dir.path()).get(), wanted);
        let json: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("config/settings.json")).expect("file"),
        )
        .expect("json");
        assert_eq!(json["startAtLogin"], true);
        assert_eq!(json["onboardingDone"], true);
        assert_eq!(json["engineInVm"], true);
        assert_eq!(json["vmMemoryMib"], 1024);
        assert_eq!(json["vmDiskGib"], 20);

        let off = Settings {
            start_at_login: false,
            ..wanted
        };
        s.set(off).expect("set");
        assert!(!s.autostart_path().exists());
    }

    #[test]
    fn rejects_unknown_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        let e = s
            .set(Settings {
                language: Some("fr".into()),
                ..Settings::default()
            })
            .expect_err("fr");
        assert_eq!(e.field.as_deref(), Some("language"));
        let e = s
            .set(Settings {
                theme: "neon".into(),
                ..Settings::default()
            })
            .expect_err("neon");
        assert_eq!(e.field.as_deref(), Some("theme"));
        for (bad, field) in [
            (
                Settings {
                    vm_cpus: 0,
                    ..Settings::default()
                },
                "vmCpus",
            ),
            (
                Settings {
                    vm_cpus: 100_000,
                    ..Settings::default()
                },
                "vmCpus",
            ),
            (
                Settings {
                    vm_memory_mib: 100,
                    ..Settings::default()
                },
                "vmMemoryMib",
            ),
            (
                Settings {
                    vm_disk_gib: 1,
                    ..Settings::default()
                },
                "vmDiskGib",
            ),
        ] {
            assert_eq!(s.set(bad).expect_err(field).field.as_deref(), Some(field));
        }
    }

    #[test]
    fn only_engine_settings_switch_the_host() {
        let native = Settings {
            engine_in_vm: false,
            ..Settings::default()
        };
        let vm = Settings {
            engine_in_vm: true,
            ..Settings::default()
        };
        assert!(native.host_differs(&vm) && vm.host_differs(&native));
        assert!(!vm.host_differs(&Settings {
            theme: "dark".into(),
            ..vm.clone()
        }));
        // The VM's size matters only while the engine is in the VM.
        assert!(vm.host_differs(&Settings {
            vm_cpus: 1,
            ..vm.clone()
        }));
        assert!(!native.host_differs(&Settings {
            vm_cpus: 1,
            ..native.clone()
        }));
    }

    #[test]
    fn corrupt_file_gives_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("config")).expect("mkdir");
        std::fs::write(dir.path().join("config/settings.json"), b"{nope").expect("write");
        assert_eq!(store(dir.path()).get(), Settings::default());
        // Missing keys take defaults.
        std::fs::write(
            dir.path().join("config/settings.json"),
            br#"{"theme":"light"}"#,
        )
        .expect("write");
        assert_eq!(store(dir.path()).get().theme, "light");
    }

    #[test]
    fn locales() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(locale_from_env(env(&[("LANG", "es_ES.UTF-8")])), "es-ES");
        assert_eq!(
            locale_from_env(env(&[("LC_ALL", "C"), ("LANG", "es_AR.UTF-8")])),
            "es-AR"
        );
        assert_eq!(locale_from_env(env(&[("LC_MESSAGES", "en_GB")])), "en-GB");
        assert_eq!(locale_from_env(env(&[])), "en-US");
    }

    #[test]
    fn quoting() {
        assert_eq!(desktop_quote("/usr/bin/berth"), "/usr/bin/berth");
        assert_eq!(desktop_quote("/a b/$x"), "\"/a b/\\$x\"");
        assert_eq!(desktop_quote("/a%b"), "\"/a%%b\"");
    }
}
