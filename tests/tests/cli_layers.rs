//! A four-layer image (whiteouts, an opaque directory, hardlinks, symlinks, modes, owners,
//! xattrs) unpacked into overlay snapshots and seen from inside a container exactly as built.

use berth_tests::*;

fn lgetxattr(path: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if len < 0 {
        return None;
    }
    buf.truncate(len as usize);
    Some(buf)
}

#[test]
fn layered_image_is_seen_exactly_as_built() {
    let reg = fixture_registry();
    let d = Berthd::start();
    let busybox = reg.image("busybox:latest");
    let layers = reg.image("layers:latest");
    d.docker_ok(&["pull", "-q", &busybox]);
    let out = d.docker_ok(&["pull", &layers]);
    assert!(
        out.contains("Already exists"),
        "the busybox layer is shared: {out}"
    );

    // Entrypoint + Cmd + WorkingDir + Env from the image config.
    assert_eq!(
        d.docker_ok(&["run", "--rm", &layers]).trim(),
        "hola from /work"
    );

    let script = r#"
        test ! -e /work/deleted.txt && echo whiteout-file
        test ! -e /work/gone && echo whiteout-dir
        cat /work/hello.txt
        ls /opt/replaced | tr '\n' ' '; echo
        test ! -e /bin/vi && echo lower-file-hidden
        a=$(stat -c %i /work/links/a-original); b=$(stat -c %i /work/links/b-hardlink)
        test "$a" = "$b" && echo hardlink-$(stat -c %h /work/links/a-original)
        readlink /work/links/c-relative; readlink /work/links/d-absolute
        cat /work/links/d-absolute >/dev/null && echo symlink-resolves
        stat -c %a /usr/local/bin/suid
        stat -c '%u:%g %a' /work/owned.txt
        stat -c %a /work/private
        echo $BERTH_ENTRYPOINT
    "#;
    let got = d.docker_ok(&["run", "--rm", &layers, "sh", "-c", script]);
    let want = [
        "whiteout-file",
        "whiteout-dir",
        "hello from layer 2",
        "new.txt ",
        "lower-file-hidden",
        "hardlink-2",
        "a-original",
        "/work/links/a-original",
        "symlink-resolves",
        "4755",
        "1000:1000 640",
        "700",
        "ran",
    ];
    assert_eq!(got.lines().collect::<Vec<_>>(), want, "{got}");

    // The shared lower layer is untouched by the upper image's whiteout.
    let vi = d.docker_ok(&[
        "run",
        "--rm",
        &busybox,
        "sh",
        "-c",
        "test -e /bin/vi && echo present",
    ]);
    assert_eq!(vi.trim(), "present");

    // The xattr came through the PAX header into the layer snapshot.
    let upper = d.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{.GraphDriver.Data.UpperDir}}",
        &layers,
    ]);
    let file = std::path::Path::new(upper.trim()).join("work/xattr.txt");
    assert_eq!(
        lgetxattr(&file, "user.berth").as_deref(),
        Some(&b"yes"[..]),
        "{}",
        file.display()
    );

    // Writes go to the container's own layer, never into the image.
    d.docker_ok(&[
        "run",
        "--name",
        "writer",
        &layers,
        "sh",
        "-c",
        "echo changed > /work/hello.txt",
    ]);
    let again = d.docker_ok(&["run", "--rm", &layers, "cat", "/work/hello.txt"]);
    assert_eq!(again.trim(), "hello from layer 2");
    d.docker_ok(&["rm", "writer"]);
    d.docker_ok(&["rmi", &layers]);
    // busybox still runs after the image that shared its layer is gone.
    assert_eq!(
        d.docker_ok(&["run", "--rm", &busybox, "echo", "ok"]).trim(),
        "ok"
    );
}
