//! `docker login` and pulls from a registry that wants credentials (htpasswd basic auth).

use berth_tests::*;

#[test]
fn login_and_authenticated_pull() {
    let reg = Registry::start_with_htpasswd("berth", "s3cret-pass");
    push_fixture_images_as(reg.addr(), reg.credentials());
    let d = Berthd::start();
    let img = reg.image("busybox:latest");

    let denied = d.docker(&["pull", &img]);
    assert_ne!(denied.status, 0, "{denied}");

    let bad = d.docker_with_stdin(
        &["login", "-u", "berth", "--password-stdin", reg.addr()],
        "wrong\n",
    );
    assert_ne!(bad.status, 0, "{bad}");
    assert!(bad.stderr.contains("unauthorized"), "{bad}");

    let ok = d.docker_with_stdin(
        &["login", "-u", "berth", "--password-stdin", reg.addr()],
        "s3cret-pass\n",
    );
    assert_eq!(ok.status, 0, "{ok}");
    assert!(ok.stdout.contains("Login Succeeded"), "{ok}");

    // The CLI now sends X-Registry-Auth with the pull.
    let out = d.docker_ok(&["pull", &img]);
    assert!(out.contains("Pull complete"), "{out}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", &img, "echo", "authed"]).trim(),
        "authed"
    );
}
