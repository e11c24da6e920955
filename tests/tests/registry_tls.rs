//! Registries over TLS, reached as dockerd reaches them: a loopback registry (insecure by
//! default) over HTTPS first with its certificate unchecked, and plain HTTP only when HTTPS
//! does not answer; a registry elsewhere (here on a bridge address this test creates) over
//! verified HTTPS, trusted through `certs.d/<host>/ca.crt` or `--insecure-registry CIDR`.
//! Certificates are made with the `openssl` CLI; the registries are Debian's docker-registry.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berth_tests::netenv::NetIdentity;
use berth_tests::*;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA and a server certificate it signed for `ips`.
fn make_pki(dir: &Path, ips: &[&str]) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=berth-test-ca",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=berth-test-registry",
        ],
    );
    let san: Vec<String> = ips.iter().map(|ip| format!("IP:{ip}")).collect();
    std::fs::write(
        dir.join("ext.cnf"),
        format!("subjectAltName={}\n", san.join(",")),
    )
    .expect("ext.cnf");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

/// `docker-registry` serving TLS on `ip:<free port>`, storage in `storage`.
struct TlsRegistry {
    addr: String,
    child: Child,
}

impl TlsRegistry {
    fn start(dir: &Path, ip: &str, storage: &Path) -> TlsRegistry {
        let port = std::net::TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("{ip}:{port}");
        let config = dir.join(format!("registry-{port}.yml"));
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: {addr}\n  secret: berth-test\n  tls:\n    certificate: {}\n    key: {}\n",
                storage.display(),
                dir.join("server.crt").display(),
                dir.join("server.key").display(),
            ),
        )
        .expect("registry config");
        let log = std::fs::File::create(dir.join(format!("registry-{port}.log"))).expect("log");
        let mut cmd = Command::new("/usr/bin/docker-registry");
        cmd.arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        let child = spawn_tied(cmd).expect("start docker-registry");
        let ca = dir.join("ca.crt");
        wait_until("the TLS registry answers", Duration::from_secs(20), || {
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
                .arg(&ca)
                .arg(format!("https://{addr}/v2/"))
                .output()
                .map_err(|e| e.to_string())?;
            let code = String::from_utf8_lossy(&out.stdout).into_owned();
            if code == "200" {
                Ok(())
            } else {
                Err(code)
            }
        });
        TlsRegistry { addr, child }
    }
}

impl Drop for TlsRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bridge with one address, made by this test (a place for a registry that is not
/// loopback); removed on drop.
struct TestBridge {
    name: String,
    ip: String,
}

impl TestBridge {
    fn create() -> TestBridge {
        let id = NetIdentity::new();
        let ip = id.gateway();
        let b = TestBridge {
            name: id.bridge.replacen("bt", "bs", 1),
            ip,
        };
        for args in [
            vec!["link", "add", &b.name, "type", "bridge"],
            vec!["addr", "add", &format!("{}/32", b.ip), "dev", &b.name],
            vec!["link", "set", &b.name, "up"],
        ] {
            let out = Command::new("ip").args(&args).output().expect("run ip");
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        b
    }
}

impl Drop for TestBridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
    }
}

#[test]
fn https_first_for_insecure_registries_and_certs_d_for_the_others() {
    let bridge = TestBridge::create();
    let (_keep, dir) = {
        let d = make_temp_dir("berth-registry-");
        (TempDir(d.clone()), d)
    };
    make_pki(&dir, &["127.0.0.1", &bridge.ip]);
    let storage = dir.join("data");
    let local = TlsRegistry::start(&dir, "127.0.0.1", &storage);
    let remote = TlsRegistry::start(&dir, &bridge.ip, &storage);
    let base = fixture_registry().image("busybox:latest");

    // Loopback is insecure: HTTPS is tried first and its certificate is not checked (a
    // plain-HTTP-only engine fails here: the registry speaks nothing but TLS).
    let certs = dir.join("certs.d");
    std::fs::create_dir_all(&certs).expect("certs.d");
    let certs_arg = format!("--certs-dir={}", certs.display());
    let d = Berthd::start_with_args(&[&certs_arg]);
    d.docker_ok(&["pull", &base]);
    let local_ref = format!("{}/tls/busybox:1", local.addr);
    d.docker_ok(&["tag", &base, &local_ref]);
    let pushed = d.docker_ok(&["push", &local_ref]);
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    d.docker_ok(&["rmi", &local_ref]);
    d.docker_ok(&["pull", &local_ref]);

    // Not loopback: verified HTTPS. The test CA is unknown until certs.d holds it.
    let remote_ref = format!("{}/tls/busybox:1", remote.addr);
    let refused = d.docker(&["pull", &remote_ref]);
    assert_ne!(refused.status, 0, "{refused}");
    assert!(
        refused.stderr.to_lowercase().contains("certificate"),
        "{refused}"
    );
    let host_dir = certs.join(&remote.addr);
    std::fs::create_dir_all(&host_dir).expect("certs.d/host");
    std::fs::copy(dir.join("ca.crt"), host_dir.join("ca.crt")).expect("copy ca.crt");
    d.docker_ok(&["pull", &remote_ref]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", &remote_ref, "echo", "verified"]),
        "verified\n"
    );
    let info = d.docker_ok(&[
        "info",
        "--format",
        "{{json .RegistryConfig.InsecureRegistryCIDRs}}",
    ]);
    assert_eq!(info.trim(), r#"["127.0.0.0/8","::1/128"]"#);
    drop(d);

    // An insecure CIDR takes the registry without its CA; /info shows it.
    let cidr = format!("{}/32", bridge.ip);
    let d = Berthd::start_with_args(&["--insecure-registry", &cidr, &certs_arg]);
    std::fs::remove_file(host_dir.join("ca.crt")).expect("remove ca.crt");
    d.docker_ok(&["pull", &remote_ref]);
    let info = d.docker_ok(&[
        "info",
        "--format",
        "{{json .RegistryConfig.InsecureRegistryCIDRs}}",
    ]);
    assert!(info.contains(&cidr), "{info}");
}

/// Removes a directory on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        cleanup_dir(&self.0);
    }
}
