//! `docker login` and pulls from a registry with bearer token auth, the Docker Hub protocol: the
//! registry answers 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`, the
//! client gets a JWT from the realm (`tests/fixtures/token-server.py`, RS256, checked by the
//! registry against its `rootcertbundle`) with basic credentials, and repeats the request with
//! `Authorization: Bearer <jwt>`.

use berth_tests::*;

const USER: &str = "berth";
const PASS: &str = "t0ken-pass";

#[test]
fn token_auth_login_and_pull() {
    let reg = Registry::start_with_token_auth(USER, PASS);
    // build-images.sh follows the Bearer challenge: a pull,push token per repository.
    push_fixture_images_as(reg.addr(), reg.credentials());
    let d = Berthd::start();
    let img = reg.image("busybox:latest");

    // Anonymous: the token server hands out a token without access, which the registry refuses.
    let denied = d.docker(&["pull", &img]);
    assert_ne!(denied.status, 0, "{denied}");
    let msg = denied.stderr.to_ascii_lowercase();
    assert!(
        msg.contains("unauthorized") || msg.contains("denied"),
        "{denied}\n--- token server ---\n{}",
        reg.token_server_log()
    );

    let bad = d.docker_with_stdin(
        &["login", "-u", USER, "--password-stdin", reg.addr()],
        "wrong\n",
    );
    assert_ne!(bad.status, 0, "{bad}");
    assert!(bad.stderr.contains("unauthorized"), "{bad}");

    let ok = d.docker_with_stdin(
        &["login", "-u", USER, "--password-stdin", reg.addr()],
        format!("{PASS}\n"),
    );
    assert_eq!(ok.status, 0, "{ok}");
    assert!(ok.stdout.contains("Login Succeeded"), "{ok}");

    // The CLI now sends X-Registry-Auth with the pull; the engine trades it for a token.
    let before = reg.token_server_log().len();
    let out = d.docker(&["pull", &img]);
    assert!(
        out.success() && out.stdout.contains("Pull complete"),
        "{out}\n--- token server ---\n{}\n--- registry ---\n{}",
        reg.token_server_log(),
        reg.log()
    );
    // The engine really went through the token server with the user's credentials.
    let during_pull = reg.token_server_log()[before..].to_string();
    assert!(
        during_pull.contains(&format!(r#"token for '{USER}'"#))
            && during_pull.contains(r#""name": "busybox", "actions": ["pull""#),
        "{during_pull}"
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", &img, "echo", "ok"]).trim(),
        "ok"
    );

    // A push asks the token server for pull and push on the new repository.
    let mine = reg.image("mine:1");
    d.docker_ok(&["tag", &img, &mine]);
    let before = reg.token_server_log().len();
    let out = d.docker(&["push", &mine]);
    assert!(
        out.success() && out.stdout.contains("1: digest: sha256:"),
        "{out}\n--- token server ---\n{}\n--- registry ---\n{}",
        reg.token_server_log(),
        reg.log()
    );
    let during_push = reg.token_server_log()[before..].to_string();
    assert!(
        during_push.contains(r#""name": "mine", "actions": ["pull", "push"]"#),
        "{during_push}"
    );
}
