//! `docker version`, `info`, ping, API versions and Docker's error format, with the real CLI.

use berth_tests::*;

#[test]
fn version_and_info_through_the_cli() {
    let d = Berthd::start();
    let v = d.docker_ok(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Os}}",
    ]);
    assert_eq!(v.trim(), "1.47 linux");
    let info = d.docker_ok(&[
        "info",
        "--format",
        "{{.DefaultRuntime}} {{.OSType}} {{.Driver}}",
    ]);
    let parts: Vec<&str> = info.split_whitespace().collect();
    assert!(["runc", "crun"].contains(&parts[0]), "{info}");
    assert_eq!(&parts[1..], ["linux", "overlay2"]);
    let sys = d.docker_ok(&["system", "info", "--format", "{{.Containers}} {{.Images}}"]);
    assert_eq!(sys.trim(), "0 0");
}

#[test]
fn ping_versions_and_errors() {
    let d = Berthd::start();
    let sock = d.socket_path();
    let r = unix_http_request(&sock, "GET", "/_ping", &[], b"").unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    assert_eq!(r.header("api-version"), Some("1.47"));
    let r = unix_http_request(&sock, "HEAD", "/_ping", &[], b"").unwrap();
    assert_eq!(r.status, 200);
    for prefix in ["", "/v1.24", "/v1.41", "/v1.47"] {
        let r = unix_http_request(&sock, "GET", &format!("{prefix}/containers/json"), &[], b"")
            .unwrap();
        assert_eq!(r.status, 200, "{prefix}");
        assert_eq!(r.json(), serde_json::json!([]));
    }
    let r = unix_http_request(&sock, "GET", "/v1.99/info", &[], b"").unwrap();
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("too new"));
    let r = unix_http_request(&sock, "GET", "/v1.12/info", &[], b"").unwrap();
    assert_eq!(r.status, 400);
    let r = unix_http_request(&sock, "GET", "/containers/nope/json", &[], b"").unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No such container: nope");
    let r = unix_http_request(&sock, "GET", "/images/nope:1/json", &[], b"").unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No such image: nope:1");
    let r = unix_http_request(
        &sock,
        "POST",
        "/containers/create",
        &[("Content-Type", "application/json")],
        b"{not json",
    )
    .unwrap();
    assert_eq!(r.status, 400);
    let r = unix_http_request(
        &sock,
        "POST",
        "/containers/create",
        &[("Content-Type", "application/json")],
        br#"{"Image":"Bad Ref!"}"#,
    )
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    // Nothing half-made is left behind by refused requests.
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn a_second_engine_on_the_same_data_root_refuses() {
    let d = Berthd::start();
    let out = std::process::Command::new(berthd_bin())
        .arg("--data-root")
        .arg(d.data_root())
        .arg("-H")
        .arg(format!("unix://{}/other.sock", d.dir().display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already using data root"), "{err}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.socket_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660);
}

#[test]
fn endpoints_not_built_yet_answer_501() {
    let d = Berthd::start();
    let sock = d.socket_path();
    for (method, path) in [("POST", "/build"), ("POST", "/images/x/push")] {
        let r = unix_http_request(&sock, method, path, &[], b"").unwrap();
        assert_eq!(r.status, 501, "{method} {path}");
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .contains("not implemented"),
            "{}",
            r.text()
        );
    }
    let r = unix_http_request(&sock, "GET", "/no/such/endpoint", &[], b"").unwrap();
    assert_eq!(r.status, 404);
    // Built since: stats and top (tested in cli_stats) know the container is missing.
    for path in ["/containers/x/stats", "/containers/x/top"] {
        let r = unix_http_request(&sock, "GET", path, &[], b"").unwrap();
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["message"], "No such container: x");
    }
}
