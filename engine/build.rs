//! Builds the welcome image that berthd loads on its first start (the desktop onboarding runs it
//! offline): Debian's busybox-static plus a bilingual page served by busybox httpd, as a
//! docker-archive tar in OUT_DIR. Reproducible: fixed times and owners, sorted entries.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::Digest;

const MTIME: u64 = 1_700_000_000;
const CREATED: &str = "2023-11-14T22:13:20Z";

fn hex(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h.set_size(size);
    h
}

fn layer(busybox: &[u8], page: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32| {
        let mut h = header(tar::EntryType::Directory, mode, 0);
        b.append_data(&mut h, path, std::io::empty())
            .expect("tar dir");
    };
    dir(&mut b, "bin/", 0o755);
    let mut h = header(tar::EntryType::Regular, 0o755, busybox.len() as u64);
    b.append_data(&mut h, "bin/busybox", busybox)
        .expect("tar busybox");
    for applet in ["cat", "httpd", "ls", "sh", "wget"] {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .expect("tar link");
    }
    dir(&mut b, "tmp/", 0o1777);
    dir(&mut b, "www/", 0o755);
    let mut h = header(tar::EntryType::Regular, 0o644, page.len() as u64);
    b.append_data(&mut h, "www/index.html", page)
        .expect("tar page");
    b.into_inner().expect("finish layer")
}

fn main() {
    let busybox_path = std::env::var_os("BERTH_BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/bin/busybox"));
    println!("cargo:rerun-if-env-changed=BERTH_BUSYBOX");
    println!("cargo:rerun-if-changed={}", busybox_path.display());
    println!("cargo:rerun-if-changed=welcome/index.html");
    let busybox = std::fs::read(&busybox_path).unwrap_or_else(|e| {
        panic!(
            "reading {} for the welcome image ({e}): install Debian's busybox-static or set BERTH_BUSYBOX",
            busybox_path.display()
        )
    });
    let page = std::fs::read("welcome/index.html").expect("engine/welcome/index.html");
    let layer = layer(&busybox, &page);
    let diff_id = hex(&layer);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": {
            "Env": ["PATH=/bin"],
            "Cmd": ["httpd", "-f", "-v", "-p", "80", "-h", "/www"],
            "ExposedPorts": {"80/tcp": {}},
            "WorkingDir": "/www",
            "Labels": {
                "org.opencontainers.image.title": "Berth welcome",
                "org.opencontainers.image.description": "A bilingual welcome page served by busybox httpd",
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]},
        "history": [{"created": CREATED, "created_by": "berth build.rs: busybox-static and a welcome page"}],
    });
    let config = serde_json::to_vec(&config).expect("config json");
    let config_hex = hex(&config);
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": ["berth/welcome:latest"],
        "Layers": [format!("{diff_id}/layer.tar")],
    }]))
    .expect("manifest json");

    let mut archive = tar::Builder::new(Vec::new());
    let mut put = |name: String, data: &[u8]| {
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
        archive
            .append_data(&mut h, name, data)
            .expect("archive entry");
    };
    put(format!("{config_hex}.json"), &config);
    put(format!("{diff_id}/layer.tar"), &layer);
    put("manifest.json".into(), &manifest);
    let bytes = archive.into_inner().expect("finish archive");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("welcome.tar");
    std::fs::File::create(&out)
        .and_then(|mut f| f.write_all(&bytes))
        .expect("write welcome.tar");
}
