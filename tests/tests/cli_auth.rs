//! `docker login`, pulls and pushes with a registry that wants credentials (htpasswd basic auth).

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

    // A push without credentials is refused; with them (X-Registry-Auth) it goes through.
    let mine = reg.image("mine:1");
    d.docker_ok(&["tag", &img, &mine]);
    d.docker_ok(&["logout", reg.addr()]);
    let refused = d.docker(&["push", &mine]);
    assert_ne!(refused.status, 0, "{refused}");
    assert!(refused.stderr.contains("unauthorized"), "{refused}");
    d.docker_with_stdin(
        &["login", "-u", "berth", "--password-stdin", reg.addr()],
        "s3cret-pass\n",
    );
    let out = d.docker_ok(&["push", &mine]);
    assert!(out.contains("1: digest: sha256:"), "{out}");
    assert_eq!(
        reg.manifest_digest("mine", "1"),
        d.docker_ok(&["image", "inspect", "-f", "{{index .RepoDigests 1}}", &mine])
            .trim()
            .rsplit_once('@')
            .map(|(_, dg)| dg.to_string())
            .unwrap_or_default()
    );
}
