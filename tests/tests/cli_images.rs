//! Pulling from a real registry and managing images with the docker CLI.

use berth_tests::*;

#[test]
fn pull_list_inspect_tag_and_remove() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let img = reg.image("busybox:latest");
    let out = d.docker_ok(&["pull", &img]);
    assert!(out.contains("Pull complete"), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {img}")),
        "{out}"
    );
    let again = d.docker_ok(&["pull", &img]);
    assert!(again.contains("Image is up to date"), "{again}");

    let ls = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(ls.trim(), img);
    let id = d.docker_ok(&["image", "inspect", "-f", "{{.Id}}", &img]);
    assert!(id.trim().starts_with("sha256:"));
    let digest = reg.manifest_digest("busybox", "latest");
    let rd = d.docker_ok(&["image", "inspect", "-f", "{{index .RepoDigests 0}}", &img]);
    assert_eq!(rd.trim(), format!("{}/busybox@{digest}", reg.addr()));
    let cmd = d.docker_ok(&["image", "inspect", "-f", "{{json .Config.Cmd}}", &img]);
    assert_eq!(cmd.trim(), r#"["sh"]"#);
    let hist = d.docker_ok(&["image", "history", "-q", &img]);
    assert!(!hist.trim().is_empty());

    d.docker_ok(&["tag", &img, "mine/copy:1"]);
    let refs = d.docker_ok(&[
        "images",
        "--filter",
        "reference=mine/*",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    assert_eq!(refs.trim(), "mine/copy:1");
    // Two names: removing one only untags.
    let rm = d.docker_ok(&["rmi", "mine/copy:1"]);
    assert!(
        rm.contains("Untagged: mine/copy:1") && !rm.contains("Deleted"),
        "{rm}"
    );

    // In use by a container: refused without -f.
    d.docker_ok(&["create", "--name", "user", &img, "true"]);
    let refused = d.docker(&["rmi", &img]);
    assert_ne!(refused.status, 0);
    assert!(
        refused.stderr.contains("container") && refused.stderr.contains("is using"),
        "{refused}"
    );
    d.docker_ok(&["rm", "user"]);
    let gone = d.docker_ok(&["rmi", &img]);
    assert!(gone.contains("Deleted: sha256:"), "{gone}");
    assert_eq!(d.docker_ok(&["images", "-q"]).trim(), "");
    let missing = d.docker(&["image", "inspect", &img]);
    assert_eq!(missing.status, 1);
    assert!(missing.stderr.contains("No such image"), "{missing}");
}

#[test]
fn pull_by_digest_index_and_oci() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let digest = reg.manifest_digest("busybox", "latest");
    let by_digest = format!("{}/busybox@{digest}", reg.addr());
    d.docker_ok(&["pull", &by_digest]);
    let listed = d.docker_ok(&["images", "--digests", "--format", "{{.Digest}}"]);
    assert!(listed.contains(&digest), "{listed}");
    // An index: the linux/amd64 entry is chosen, and the layer is shared with what we have.
    let out = d.docker_ok(&["pull", &reg.image("busybox:multi")]);
    assert!(
        out.contains("Already exists") || out.contains("Pull complete"),
        "{out}"
    );
    let arch = d.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Architecture}}",
        &reg.image("busybox:multi"),
    ]);
    assert_eq!(arch.trim(), "amd64");
    d.docker_ok(&["pull", &reg.image("oci:latest")]);
    let missing = d.docker(&["pull", &reg.image("nope:latest")]);
    assert_eq!(missing.status, 1, "{missing}");
    assert!(
        missing.stderr.contains("not found") || missing.stderr.contains("denied"),
        "{missing}"
    );
    let bad = d.docker(&["pull", "Bad/Name"]);
    assert_ne!(bad.status, 0);
    assert!(bad.stderr.contains("invalid reference format"), "{bad}");
}

#[test]
fn dangling_filter_save_and_load() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let img = reg.image("busybox:latest");
    d.docker_ok(&["pull", &img]);
    let archive = d.dir().join("busybox.tar");
    d.docker_ok(&["save", "-o", archive.to_str().unwrap(), &img]);
    d.docker_ok(&["rmi", &img]);
    let out = d.docker_ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(out.contains(&format!("Loaded image: {img}")), "{out}");
    // The loaded image runs.
    let hello = d.docker_ok(&["run", "--rm", &img, "echo", "loaded"]);
    assert_eq!(hello.trim(), "loaded");
    // A broken archive: Go's archive/tar words as dockerd answers, nothing loaded.
    let data = std::fs::read(&archive).expect("archive");
    let mut garbage = data[..1024].to_vec();
    garbage[148..156].copy_from_slice(b"zzzzzzzz"); // the header's checksum field
    let out = d.docker_with_stdin(&["load"], &garbage);
    assert_eq!(out.status, 1, "{out}");
    assert!(
        out.stderr.contains("archive/tar: invalid tar header"),
        "{out}"
    );
    let out = d.docker_with_stdin(&["load"], &data[..data.len() / 2]);
    assert!(out.stderr.contains("unexpected EOF"), "{out}");
    d.docker_ok(&["tag", &img, "again:1"]);
    d.docker_ok(&["rmi", &img]);
    d.docker_ok(&["rmi", "again:1"]);
    assert_eq!(
        d.docker_ok(&["images", "-q", "--filter", "dangling=true"])
            .trim(),
        ""
    );
}

#[test]
fn label_filter_and_forced_removal_by_id() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let busybox = reg.image("busybox:latest");
    let layers = reg.image("layers:latest");
    d.docker_ok(&["pull", "-q", &busybox]);
    d.docker_ok(&["pull", "-q", &layers]);
    let labelled = d.docker_ok(&[
        "images",
        "--filter",
        "label=org.berth.test=layers",
        "--format",
        "{{.Repository}}",
    ]);
    assert_eq!(labelled.trim(), format!("{}/layers", reg.addr()));
    let bad = d.docker(&["images", "--filter", "nonsense=1"]);
    assert_ne!(bad.status, 0);
    assert!(bad.stderr.contains("invalid filter"), "{bad}");

    d.docker_ok(&["tag", &busybox, "extra:1"]);
    let id = d
        .docker_ok(&["image", "inspect", "-f", "{{.Id}}", &busybox])
        .trim()
        .to_string();
    let refused = d.docker(&["rmi", &id[7..19]]);
    assert_ne!(refused.status, 0);
    assert!(
        refused
            .stderr
            .contains("referenced in multiple repositories"),
        "{refused}"
    );
    // Running containers block even a forced removal; stopped ones do not.
    d.docker_ok(&["run", "-d", "--name", "busy", &busybox, "sleep", "600"]);
    let running = d.docker(&["rmi", "-f", &id[7..19]]);
    assert!(
        running
            .stderr
            .contains("image is being used by running container"),
        "{running}"
    );
    d.docker_ok(&["rm", "-f", "busy"]);
    let forced = d.docker_ok(&["rmi", "-f", &id[7..19]]);
    assert!(
        forced.contains("Untagged: extra:1") && forced.contains(&format!("Deleted: {id}")),
        "{forced}"
    );
    // The other image, sharing the base layer, still runs.
    assert_eq!(
        d.docker_ok(&["run", "--rm", &layers, "echo", "still"])
            .trim(),
        "still"
    );
}

/// `docker push`: a pulled image and a committed one go to a registry of the test's own, whole
/// (layers the registry has are skipped), under one tag or all of them, and pull back intact.
#[test]
fn push_and_pull_back() {
    let (d, img) = engine_with_busybox();
    let reg = Registry::start();
    let target = reg.image("pushed/busybox:1");
    d.docker_ok(&["tag", &img, &target]);
    let out = d.docker_ok(&["push", &target]);
    assert!(
        out.starts_with(&format!(
            "The push refers to repository [{}/pushed/busybox]",
            reg.addr()
        )),
        "{out}"
    );
    assert!(
        out.contains(": Pushed") && !out.contains("already exists"),
        "{out}"
    );
    let digest = out
        .lines()
        .find_map(|l| l.strip_prefix("1: digest: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest line: {out}"))
        .to_string();
    // The registry holds what was reported, and the image now has that digest.
    assert_eq!(reg.manifest_digest("pushed/busybox", "1"), digest);
    let digests = d.docker_ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", &target]);
    assert!(
        digests.contains(&format!("{}/pushed/busybox@{digest}", reg.addr())),
        "{digests}"
    );
    let again = d.docker_ok(&["push", &target]);
    assert!(
        again.contains(": Layer already exists") && !again.contains(": Pushed"),
        "{again}"
    );
    assert!(again.contains(&format!("1: digest: {digest} ")), "{again}");

    // A committed image (a new uncompressed layer on busybox's), two tags, `--all-tags`.
    d.docker_ok(&[
        "run",
        "--name",
        "maker",
        &img,
        "sh",
        "-c",
        "echo made here > /made.txt",
    ]);
    let made = reg.image("made");
    d.docker_ok(&["commit", "maker", &format!("{made}:a")]);
    d.docker_ok(&["tag", &format!("{made}:a"), &format!("{made}:b")]);
    let out = d.docker_ok(&["push", "--all-tags", &made]);
    assert!(
        out.contains("a: digest: sha256:") && out.contains("b: digest: sha256:"),
        "{out}"
    );
    assert_eq!(
        out.matches(": Pushed").count(),
        busybox_layers(&d, &img) + 1,
        "{out}"
    );

    // Gone locally, then back from the registry with the committed file.
    d.docker_ok(&["rm", "maker"]);
    d.docker_ok(&[
        "rmi",
        &format!("{made}:a"),
        &format!("{made}:b"),
        &target,
        &img,
    ]);
    assert_eq!(d.docker_ok(&["images", "-q"]).trim(), "");
    d.docker_ok(&["pull", &format!("{made}:b")]);
    let got = d.docker_ok(&["run", "--rm", &format!("{made}:b"), "cat", "/made.txt"]);
    assert_eq!(got.trim(), "made here");

    // Nothing by that name: dockerd's message in the stream, exit 1; a bad name is a 400.
    let out = d.docker(&["push", &reg.image("nothing:here")]);
    assert_eq!(out.status, 1, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "An image does not exist locally with the tag: {}/nothing",
            reg.addr()
        )),
        "{out}"
    );
    let r = unix_http_request(
        &d.socket_path(),
        "POST",
        "/images/Bad%20Name/push",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
}

/// How many layers the fixture busybox image has.
fn busybox_layers(d: &Berthd, img: &str) -> usize {
    d.docker_ok(&["image", "inspect", "-f", "{{len .RootFS.Layers}}", img])
        .trim()
        .parse()
        .unwrap()
}

/// Uploads `data` as a blob of `repo` in `reg` (the registry's monolithic upload); returns its
/// digest.
fn upload_blob(reg: &Registry, repo: &str, data: &[u8]) -> String {
    let digest = sha256_digest(data);
    let start = http_request(
        reg.addr(),
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        b"",
    )
    .expect("start upload");
    assert_eq!(start.status, 202, "{}", start.text());
    let location = start.header("location").expect("Location").to_string();
    let path = location
        .strip_prefix(&reg.url())
        .unwrap_or(&location)
        .to_string();
    let sep = if path.contains('?') { '&' } else { '?' };
    let put = http_request(
        reg.addr(),
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        data,
    )
    .expect("finish upload");
    assert_eq!(put.status, 201, "{}", put.text());
    digest
}

/// A registry whose manifest declares a layer smaller than the blob it serves: the pull stops
/// at the declared size instead of taking whatever the registry sends, and leaves nothing.
#[test]
fn a_blob_larger_than_its_manifest_declares_is_refused() {
    use std::io::Write;
    let reg = Registry::start();
    let d = Berthd::start();
    // A real layer, so that only the size bound can refuse it.
    let mut b = tar::Builder::new(Vec::new());
    let content = vec![b'x'; 64 * 1024];
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, "big.txt", &content[..])
        .expect("tar entry");
    let layer_tar = b.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    gz.write_all(&layer_tar).expect("gzip");
    let layer = gz.finish().expect("gzip");
    let layer_digest = upload_blob(&reg, "liar", &layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(&layer_tar)]},
    })
    .to_string();
    let config_digest = upload_blob(&reg, "liar", config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": config_digest},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1000, "digest": layer_digest}],
    })
    .to_string();
    let put = http_request(
        reg.addr(),
        "PUT",
        "/v2/liar/manifests/1",
        &[(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )],
        manifest.as_bytes(),
    )
    .expect("put manifest");
    assert_eq!(put.status, 201, "{}", put.text());

    let out = d.docker(&["pull", &reg.image("liar:1")]);
    assert_ne!(out.status, 0, "{out}");
    assert!(
        out.stderr
            .contains("more than the 1000 bytes the manifest declares"),
        "{out}"
    );
    assert_eq!(d.docker_ok(&["images", "-aq"]), "");
    let ingest = d.data_root().join("content/ingest");
    let left: Vec<_> = std::fs::read_dir(&ingest)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "downloads left: {left:?}");
}
