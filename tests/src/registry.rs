//! A real `docker-registry` on loopback, and the process-wide registry holding the fixture images.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::http::{basic_auth, http_request, HttpResponse};
use crate::process::{cleanup_dir, spawn_tied, terminate, wait_timeout};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A `docker-registry serve` on `127.0.0.1:<free port>`, storage in its own temp dir. Dropping it
/// kills the process and removes the dir.
pub struct Registry {
    addr: String,
    dir: PathBuf,
    credentials: Option<(String, String)>,
    child: Mutex<Option<Child>>,
    /// The token server of a registry started with [`Registry::start_with_token_auth`].
    token_server: Mutex<Option<Child>>,
}

/// How a [`Registry`] authenticates clients.
enum AuthMode {
    None,
    Htpasswd,
    Token,
}

/// `service` and `issuer` of a token-auth registry's config (the token server signs with them).
const TOKEN_SERVICE: &str = "berth-registry";
const TOKEN_ISSUER: &str = "berth-token-issuer";

impl Registry {
    /// A registry without auth. Panics (with the registry's log) if it does not come up.
    pub fn start() -> Registry {
        Self::launch(None, AuthMode::None)
    }

    /// A registry that requires HTTP basic auth with `user`/`pass` (bcrypt htpasswd file made with
    /// `htpasswd -Bbn`, from apache2-utils).
    pub fn start_with_htpasswd(user: &str, pass: &str) -> Registry {
        Self::launch(
            Some((user.to_string(), pass.to_string())),
            AuthMode::Htpasswd,
        )
    }

    /// A registry that wants bearer tokens, the Docker Hub protocol: `/v2/` answers 401 with
    /// `WWW-Authenticate: Bearer realm="http://127.0.0.1:P/token",service="berth-registry"`, and
    /// the realm is `tests/fixtures/token-server.py` (started here, killed with the registry),
    /// which issues RS256 JWTs for `user`/`pass` (HTTP basic), an access-less token to anonymous
    /// clients, and 401 for wrong credentials. The signing key and its self-signed certificate
    /// (the registry's `rootcertbundle`) are made with the `openssl` CLI in the registry's dir.
    /// Push fixtures with `push_fixture_images_as(reg.addr(), reg.credentials())`.
    pub fn start_with_token_auth(user: &str, pass: &str) -> Registry {
        Self::launch(Some((user.to_string(), pass.to_string())), AuthMode::Token)
    }

    fn launch(credentials: Option<(String, String)>, mode: AuthMode) -> Registry {
        let dir = crate::make_temp_dir("berth-registry-");
        let mut registry = Registry {
            addr: String::new(),
            dir,
            credentials,
            child: Mutex::new(None),
            token_server: Mutex::new(None),
        };
        let auth = match (&mode, &registry.credentials) {
            (AuthMode::None, _) | (_, None) => String::new(),
            (AuthMode::Token, Some(_)) => registry.start_token_server(),
            (AuthMode::Htpasswd, Some((user, pass))) => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, pass])
                    .output()
                    .expect("run htpasswd (apt-get install apache2-utils)");
                assert!(
                    out.status.success(),
                    "htpasswd failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let file = registry.dir.join("htpasswd");
                std::fs::write(&file, &out.stdout).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                    file.display()
                )
            }
        };
        // A port taken between free_port() and the registry's bind makes it exit: try another.
        let mut last_error = String::new();
        for _ in 0..5 {
            let addr = format!("127.0.0.1:{}", crate::free_port());
            let config = format!(
                "version: 0.1\n\
                 log:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n\
                 http:\n  addr: {addr}\n  secret: berth-test-secret\n\
                 {auth}",
                root = registry.dir.join("data").display(),
            );
            let config_path = registry.dir.join("config.yml");
            std::fs::write(&config_path, config).expect("write registry config");
            let log = std::fs::File::create(registry.log_path()).expect("create registry log");
            let mut cmd = Command::new(REGISTRY_BIN);
            cmd.arg("serve")
                .arg(&config_path)
                .current_dir(&registry.dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup log"))
                .stderr(log);
            let mut child = spawn_tied(cmd).unwrap_or_else(|e| {
                panic!("start {REGISTRY_BIN} (apt-get install docker-registry): {e}")
            });
            registry.addr = addr;
            match registry.wait_ready(&mut child) {
                Ok(()) => {
                    *registry.child.lock().unwrap() = Some(child);
                    return registry;
                }
                Err(e) => {
                    terminate(&mut child, Duration::from_secs(1));
                    last_error = format!("{e}\n--- registry log ---\n{}", registry.log());
                }
            }
        }
        panic!("registry did not start: {last_error}");
    }

    /// Makes the signing key and certificate, starts the token server and waits until it
    /// listens; returns the registry's `auth:` config section.
    fn start_token_server(&self) -> String {
        let key = self.dir.join("token-key.pem");
        let cert = self.dir.join("token-cert.pem");
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .args(["-days", "1", "-subj", "/CN=berth-token"])
            .stdin(Stdio::null())
            .output()
            .expect("run openssl (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (user, pass) = self.credentials().expect("token auth has credentials");
        let port_file = self.dir.join("token-server.port");
        let log = std::fs::File::create(self.token_server_log_path()).expect("create token log");
        let mut cmd = Command::new("python3");
        cmd.arg(token_server_script())
            .arg("--key")
            .arg(&key)
            .arg("--cert")
            .arg(&cert)
            .args(["--issuer", TOKEN_ISSUER, "--user", user, "--password", pass])
            .arg("--port-file")
            .arg(&port_file)
            .args(["--listen", "127.0.0.1", "--port", "0"])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        let child = spawn_tied(cmd).expect("start python3 fixtures/token-server.py");
        let mut slot = self.token_server.lock().unwrap();
        let child = slot.insert(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        let port = loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "token server exited early with {status}:\n{}",
                    self.token_server_log()
                );
            }
            if let Ok(port) = std::fs::read_to_string(&port_file) {
                break port
                    .trim()
                    .parse::<u16>()
                    .expect("port in token-server.port");
            }
            assert!(
                Instant::now() < deadline,
                "token server did not start:\n{}",
                self.token_server_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{port}/token\n    \
             service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    \
             rootcertbundle: {}\n",
            cert.display()
        )
    }

    fn wait_ready(&self, child: &mut Child) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("registry exited early with {status}"));
            }
            if let Ok(r) = http_request(&self.addr, "GET", "/v2/", &[], b"") {
                // 401 is the healthy answer of a registry with auth.
                if r.status == 200 || (r.status == 401 && self.credentials.is_some()) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!("GET http://{}/v2/ did not answer", self.addr));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT/<name>`, e.g. `image("busybox:latest")`.
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.addr)
    }

    /// The user and password of a registry started with [`Registry::start_with_htpasswd`] or
    /// [`Registry::start_with_token_auth`].
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Where the registry keeps its temp files (config, htpasswd, `data/` storage, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("registry.log")
    }

    /// The registry's stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn token_server_log_path(&self) -> PathBuf {
        self.dir.join("token-server.log")
    }

    /// The token server's log so far (one line per token request); empty without token auth.
    pub fn token_server_log(&self) -> String {
        std::fs::read_to_string(self.token_server_log_path()).unwrap_or_default()
    }

    /// A request to the registry, with basic auth added when the registry has credentials (a
    /// token-auth registry refuses those: use the token server first).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        let auth = self.credentials().map(|(u, p)| basic_auth(u, p));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(auth) = &auth {
            all.push(("Authorization", auth));
        }
        http_request(&self.addr, method, path, &all, body)
            .unwrap_or_else(|e| panic!("{method} {}{path}: {e}", self.url()))
    }

    /// `GET path` with an `Accept` header.
    pub fn get(&self, path: &str, accept: &str) -> HttpResponse {
        self.request("GET", path, &[("Accept", accept)], b"")
    }

    /// The `Docker-Content-Digest` of `repo:reference` (any manifest type); panics if absent.
    pub fn manifest_digest(&self, repo: &str, reference: &str) -> String {
        let r = self.request(
            "HEAD",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Accept", crate::media::ACCEPT_ALL)],
            b"",
        );
        assert_eq!(r.status, 200, "HEAD manifest {repo}:{reference}");
        r.header("docker-content-digest")
            .expect("Docker-Content-Digest header")
            .to_string()
    }

    /// Kills the registry and removes its dir; what Drop does, callable through `&self`.
    fn shutdown(&self) {
        if let Some(mut child) = self.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = child.kill();
            wait_timeout(&mut child, Duration::from_secs(5));
        }
        let token_server = self
            .token_server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut child) = token_server {
            let _ = child.kill();
            wait_timeout(&mut child, Duration::from_secs(5));
        }
        cleanup_dir(&self.dir);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The registry holding the fixture images, shared by all tests of one test process.
pub struct FixtureRegistry {
    registry: Option<Registry>,
    addr: String,
}

impl FixtureRegistry {
    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `127.0.0.1:PORT/<name>`, e.g. `image("busybox:latest")`.
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.addr)
    }

    /// The registry process (None when `BERTH_FIXTURE_REGISTRY` points at an external one).
    pub fn registry(&self) -> Option<&Registry> {
        self.registry.as_ref()
    }

    /// `GET path` with an `Accept` header.
    pub fn get(&self, path: &str, accept: &str) -> HttpResponse {
        http_request(&self.addr, "GET", path, &[("Accept", accept)], b"")
            .unwrap_or_else(|e| panic!("GET http://{}{path}: {e}", self.addr))
    }

    /// The `Docker-Content-Digest` of `repo:reference`, e.g. to pull by digest.
    pub fn manifest_digest(&self, repo: &str, reference: &str) -> String {
        let r = http_request(
            &self.addr,
            "HEAD",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Accept", crate::media::ACCEPT_ALL)],
            b"",
        )
        .unwrap_or_else(|e| panic!("HEAD manifest {repo}:{reference}: {e}"));
        assert_eq!(r.status, 200, "HEAD manifest {repo}:{reference}");
        r.header("docker-content-digest")
            .expect("Docker-Content-Digest header")
            .to_string()
    }
}

/// Path of `tests/fixtures/build-images.sh`.
pub fn build_images_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/build-images.sh")
}

/// Path of `tests/fixtures/token-server.py`.
pub fn token_server_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/token-server.py")
}

/// Runs `build-images.sh ADDR`; panics with its output on failure.
pub fn push_fixture_images(addr: &str) {
    push_fixture_images_as(addr, None)
}

/// Like [`push_fixture_images`], to a registry that wants credentials (basic auth, or bearer
/// tokens fetched with them from the realm of the registry's challenge).
pub fn push_fixture_images_as(addr: &str, credentials: Option<(&str, &str)>) {
    let mut cmd = Command::new("bash");
    if let Some((u, p)) = credentials {
        cmd.env("BERTH_REGISTRY_AUTH", format!("{u}:{p}"));
    }
    let out = cmd
        .arg(build_images_script())
        .arg(addr)
        .stdin(Stdio::null())
        .output()
        .expect("run bash fixtures/build-images.sh");
    assert!(
        out.status.success(),
        "build-images.sh {addr} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One registry per test process with the fixture images pushed (first call starts it and runs
/// `tests/fixtures/build-images.sh`; later calls return the same one). The registry is killed
/// and its dir removed when the process exits (atexit), or by `PR_SET_PDEATHSIG` if it dies hard.
pub fn fixture_registry() -> &'static FixtureRegistry {
    static FIXTURE: OnceLock<FixtureRegistry> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        if let Ok(addr) = std::env::var("BERTH_FIXTURE_REGISTRY") {
            push_fixture_images(&addr);
            return FixtureRegistry {
                registry: None,
                addr,
            };
        }
        let registry = Registry::start();
        push_fixture_images(registry.addr());
        extern "C" fn stop_fixture_registry() {
            if let Some(registry) = FIXTURE.get().and_then(|f| f.registry.as_ref()) {
                registry.shutdown();
            }
        }
        // SAFETY: registering a plain extern "C" fn with no arguments.
        unsafe {
            libc::atexit(stop_fixture_registry);
        }
        FixtureRegistry {
            addr: registry.addr().to_string(),
            registry: Some(registry),
        }
    })
}
