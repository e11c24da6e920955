//! The harness itself, without the engine: registries start, serve the fixture images exactly as
//! `tests/fixtures/build-images.sh` documents them, and clean up.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use berth_tests::{
    basic_auth, fixture_registry, http_request, media, push_fixture_images, sha256_digest,
    FixtureRegistry, Registry,
};
use serde_json::Value;

/// GETs a manifest; checks status, Content-Type, digest header and body mediaType.
/// Returns the manifest, its digest and its size.
fn manifest(
    reg: &FixtureRegistry,
    repo: &str,
    reference: &str,
    accept: &str,
) -> (Value, String, u64) {
    let r = reg.get(&format!("/v2/{repo}/manifests/{reference}"), accept);
    assert_eq!(r.status, 200, "{repo}:{reference}: {}", r.text());
    assert_eq!(r.header("content-type"), Some(accept), "{repo}:{reference}");
    let digest = sha256_digest(&r.body);
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
    let json = r.json();
    assert_eq!(json["mediaType"], accept);
    assert_eq!(json["schemaVersion"], 2);
    (json, digest, r.body.len() as u64)
}

/// GETs a blob and checks it against its descriptor (digest and size).
fn blob(reg: &FixtureRegistry, repo: &str, descriptor: &Value) -> Vec<u8> {
    let digest = descriptor["digest"].as_str().expect("descriptor digest");
    let r = reg.get(&format!("/v2/{repo}/blobs/{digest}"), "*/*");
    assert_eq!(r.status, 200, "blob {repo}@{digest}");
    assert_eq!(
        sha256_digest(&r.body),
        digest,
        "blob {repo}@{digest} content"
    );
    assert_eq!(Some(r.body.len() as u64), descriptor["size"].as_u64());
    r.body
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("layer is gzip");
    out
}

/// Checks a whole image manifest: config and layer blobs, diff_ids, history; returns the config
/// and the uncompressed layers.
fn check_image(
    reg: &FixtureRegistry,
    repo: &str,
    manifest: &Value,
    config_type: &str,
    layer_type: &str,
) -> (Value, Vec<Vec<u8>>) {
    assert_eq!(manifest["config"]["mediaType"], config_type);
    let config: Value =
        serde_json::from_slice(&blob(reg, repo, &manifest["config"])).expect("config is JSON");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["rootfs"]["type"], "layers");
    let layers = manifest["layers"].as_array().expect("layers");
    let diff_ids = config["rootfs"]["diff_ids"].as_array().expect("diff_ids");
    assert_eq!(layers.len(), diff_ids.len());
    let mut tars = Vec::new();
    for (layer, diff_id) in layers.iter().zip(diff_ids) {
        assert_eq!(layer["mediaType"], layer_type);
        let tar = gunzip(&blob(reg, repo, layer));
        assert_eq!(Some(sha256_digest(&tar).as_str()), diff_id.as_str());
        tars.push(tar);
    }
    let history = config["history"].as_array().expect("history");
    let non_empty = history
        .iter()
        .filter(|h| h["empty_layer"] != Value::Bool(true))
        .count();
    assert_eq!(non_empty, layers.len(), "history entries with a layer");
    (config, tars)
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    link: Option<String>,
    data: Vec<u8>,
    xattrs: BTreeMap<String, String>,
}

fn entries(tar_bytes: &[u8]) -> BTreeMap<String, Entry> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = BTreeMap::new();
    for e in archive.entries().expect("tar entries") {
        let mut e = e.expect("tar entry");
        let mut xattrs = BTreeMap::new();
        if let Some(exts) = e.pax_extensions().expect("pax") {
            for ext in exts {
                let ext = ext.expect("pax ext");
                if let Some(name) = ext.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr.")) {
                    xattrs.insert(name.to_string(), ext.value().unwrap_or("").to_string());
                }
            }
        }
        let h = e.header().clone();
        let path = e
            .path()
            .expect("path")
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).expect("entry data");
        let entry = Entry {
            kind: h.entry_type(),
            mode: h.mode().expect("mode"),
            uid: h.uid().expect("uid"),
            gid: h.gid().expect("gid"),
            link: h
                .link_name()
                .expect("link")
                .map(|l| l.to_string_lossy().into_owned()),
            data,
            xattrs,
        };
        assert!(
            out.insert(path.clone(), entry).is_none(),
            "duplicate {path}"
        );
    }
    out
}

#[test]
fn busybox_latest_is_a_schema2_image_with_applets_and_users() {
    let reg = fixture_registry();
    let (m, _, _) = manifest(reg, "busybox", "latest", media::DOCKER_MANIFEST);
    let (config, tars) = check_image(
        reg,
        "busybox",
        &m,
        media::DOCKER_CONFIG,
        media::DOCKER_LAYER,
    );
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(
        config["config"]["Env"],
        serde_json::json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    );
    assert_eq!(tars.len(), 1);
    let files = entries(&tars[0]);
    assert_eq!(files["bin/busybox"].mode, 0o755);
    assert_eq!(
        files["bin/busybox"].data,
        std::fs::read("/bin/busybox").unwrap()
    );
    for applet in [
        "sh", "echo", "cat", "ls", "sleep", "true", "false", "env", "id", "wget", "httpd", "nc",
        "ps", "top", "mount", "ip", "ifconfig", "xargs", "find", "seq", "yes", "stty", "tty",
    ] {
        let e = &files[&format!("bin/{applet}")];
        assert_eq!(e.kind, tar::EntryType::Symlink, "{applet}");
        assert_eq!(e.link.as_deref(), Some("busybox"), "{applet}");
    }
    let passwd = String::from_utf8(files["etc/passwd"].data.clone()).unwrap();
    assert!(passwd.contains("root:x:0:0:"));
    assert!(passwd.contains("nobody:x:65534:65534:"));
    assert!(passwd.contains("berth:x:1000:1000:"));
    assert!(String::from_utf8_lossy(&files["etc/group"].data).contains("berth:x:1000:"));
    assert_eq!(files["tmp"].mode, 0o1777);
    assert_eq!(files["tmp"].kind, tar::EntryType::Directory);
    assert!(files.contains_key("root") && files.contains_key("home"));
    // Reproducible: nothing carries the build time.
    let mut archive = tar::Archive::new(tars[0].as_slice());
    for e in archive.entries().unwrap() {
        assert_eq!(e.unwrap().header().mtime().unwrap(), 1_700_000_000);
    }
}

#[test]
fn busybox_multi_is_an_index_with_amd64_and_arm64() {
    let reg = fixture_registry();
    let (index, _, _) = manifest(reg, "busybox", "multi", media::OCI_INDEX);
    let manifests = index["manifests"].as_array().expect("manifests");
    let mut platforms = BTreeSet::new();
    for desc in manifests {
        let arch = desc["platform"]["architecture"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(desc["platform"]["os"], "linux");
        assert_eq!(desc["mediaType"], media::OCI_MANIFEST);
        let digest = desc["digest"].as_str().unwrap();
        let (m, got, size) = manifest(reg, "busybox", digest, media::OCI_MANIFEST);
        assert_eq!(got, digest);
        assert_eq!(desc["size"].as_u64(), Some(size));
        let (config, _) = check_image(reg, "busybox", &m, media::OCI_CONFIG, media::OCI_LAYER);
        assert_eq!(config["architecture"], arch.as_str());
        platforms.insert(arch);
    }
    assert_eq!(
        platforms,
        BTreeSet::from(["amd64".to_string(), "arm64".to_string()])
    );

    let (arm_only, _, _) = manifest(reg, "busybox", "arm64-only", media::OCI_INDEX);
    assert_eq!(arm_only["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(
        arm_only["manifests"][0]["platform"]["architecture"],
        "arm64"
    );
}

#[test]
fn oci_latest_is_an_oci_manifest_of_the_busybox_content() {
    let reg = fixture_registry();
    let (m, _, _) = manifest(reg, "oci", "latest", media::OCI_MANIFEST);
    let (_, tars) = check_image(reg, "oci", &m, media::OCI_CONFIG, media::OCI_LAYER);
    let (bm, _, _) = manifest(reg, "busybox", "latest", media::DOCKER_MANIFEST);
    assert_eq!(m["layers"][0]["digest"], bm["layers"][0]["digest"]);
    assert_eq!(tars.len(), 1);
}

#[test]
fn layers_latest_has_whiteouts_links_and_special_files() {
    let reg = fixture_registry();
    let (m, _, _) = manifest(reg, "layers", "latest", media::DOCKER_MANIFEST);
    let (config, tars) = check_image(reg, "layers", &m, media::DOCKER_CONFIG, media::DOCKER_LAYER);
    let (bm, _, _) = manifest(reg, "busybox", "latest", media::DOCKER_MANIFEST);
    assert_eq!(
        m["layers"][0]["digest"], bm["layers"][0]["digest"],
        "layers shares the busybox layer"
    );
    assert_eq!(tars.len(), 4);

    let c = &config["config"];
    assert_eq!(c["WorkingDir"], "/work");
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/usr/local/bin/entrypoint.sh"])
    );
    assert!(c["Cmd"].is_array());
    assert!(c["Env"]
        .as_array()
        .unwrap()
        .contains(&Value::from("GREETING=hola")));
    assert_eq!(c["Labels"]["org.berth.test"], "layers");
    assert!(c["ExposedPorts"]["80/tcp"].is_object());
    assert!(c["Volumes"]["/data"].is_object());
    assert!(c.get("User").is_none());

    let l1 = entries(&tars[1]);
    assert!(l1.contains_key("work/deleted.txt") && l1.contains_key("work/gone/file.txt"));
    assert!(l1.contains_key("opt/replaced/old.txt") && l1.contains_key("data/seed.txt"));

    let l2 = entries(&tars[2]);
    for whiteout in [
        "work/.wh.deleted.txt",
        "work/.wh.gone",
        "bin/.wh.vi",
        "opt/replaced/.wh..wh..opq",
    ] {
        assert_eq!(l2[whiteout].kind, tar::EntryType::Regular, "{whiteout}");
        assert!(l2[whiteout].data.is_empty());
    }
    assert_eq!(l2["work/hello.txt"].data, b"hello from layer 2\n");
    assert!(l2.contains_key("opt/replaced/new.txt"));

    let l3 = entries(&tars[3]);
    let hard = &l3["work/links/b-hardlink"];
    assert_eq!(hard.kind, tar::EntryType::Link);
    assert_eq!(hard.link.as_deref(), Some("work/links/a-original"));
    assert_eq!(l3["work/links/c-relative"].kind, tar::EntryType::Symlink);
    assert_eq!(
        l3["work/links/c-relative"].link.as_deref(),
        Some("a-original")
    );
    assert_eq!(
        l3["work/links/d-absolute"].link.as_deref(),
        Some("/work/links/a-original")
    );
    assert_eq!(l3["usr/local/bin/suid"].mode, 0o4755);
    let owned = &l3["work/owned.txt"];
    assert_eq!((owned.uid, owned.gid, owned.mode), (1000, 1000, 0o640));
    assert_eq!(
        l3["work/xattr.txt"]
            .xattrs
            .get("user.berth")
            .map(String::as_str),
        Some("yes")
    );
    let private = &l3["work/private"];
    assert_eq!(
        (private.kind, private.mode),
        (tar::EntryType::Directory, 0o700)
    );
    assert!(!l3.keys().any(|k| k.starts_with("work/private/")));
    assert_eq!(l3["usr/local/bin/entrypoint.sh"].mode, 0o755);
}

#[test]
fn pushing_the_fixtures_again_changes_nothing() {
    let reg = fixture_registry();
    let tags = [
        ("busybox", "latest"),
        ("busybox", "multi"),
        ("busybox", "arm64-only"),
        ("layers", "latest"),
        ("oci", "latest"),
    ];
    let digests = || -> Vec<String> {
        tags.iter()
            .map(|(repo, tag)| reg.manifest_digest(repo, tag))
            .collect()
    };
    let before = digests();
    push_fixture_images(reg.addr());
    assert_eq!(before, digests());
    assert_eq!(
        reg.image("busybox:latest"),
        format!("{}/busybox:latest", reg.addr())
    );
}

#[test]
fn registry_stops_and_cleans_up_on_drop() {
    let reg = Registry::start();
    let r = http_request(reg.addr(), "GET", "/v2/", &[], b"").expect("GET /v2/");
    assert_eq!(r.status, 200);
    let dir = reg.dir().to_path_buf();
    let addr = reg.addr().to_string();
    assert!(dir.join("config.yml").exists());
    drop(reg);
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(
        http_request(&addr, "GET", "/v2/", &[], b"").is_err(),
        "registry still answers after drop"
    );
}

#[test]
fn registry_with_htpasswd_requires_basic_auth() {
    let reg = Registry::start_with_htpasswd("berth", "s3cret");
    let anonymous = http_request(reg.addr(), "GET", "/v2/", &[], b"").unwrap();
    assert_eq!(anonymous.status, 401);
    assert!(anonymous
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Basic")));
    let wrong = basic_auth("berth", "nope");
    let r = http_request(reg.addr(), "GET", "/v2/", &[("Authorization", &wrong)], b"").unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(reg.request("GET", "/v2/", &[], b"").status, 200);
    assert_eq!(reg.credentials(), Some(("berth", "s3cret")));
}
