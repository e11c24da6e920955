//! How berthd reaches a registry, as dockerd decides it: HTTPS with the system's roots plus
//! the CA certificates of `certs.d/<host>/*.crt`; for an insecure registry (loopback,
//! `--insecure-registry HOST` or one inside an `--insecure-registry CIDR`) HTTPS first without
//! verifying the certificate, then plain HTTP when HTTPS does not answer.
//!
//! One difference: dockerd resolves a registry's name to check it against the insecure CIDRs
//! on every pull; berthd resolves names only when CIDRs beyond loopback were given, so that a
//! pull never sends a DNS query the user did not ask for (`localhost` counts as loopback).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};

use crate::error::{EngineError, Result};

/// dockerd's default `InsecureRegistryCIDRs`.
const LOOPBACK: [&str; 2] = ["127.0.0.0/8", "::1/128"];

pub struct RegistryAccess {
    /// `--insecure-registry` values that name a registry (`host[:port]`).
    insecure_hosts: Vec<String>,
    /// The loopback ranges and the `--insecure-registry` values that are CIDRs.
    insecure_cidrs: Vec<IpNet>,
    /// Directories holding `<host>/*.crt` (first the one berthd owns, then dockerd's).
    certs_dirs: Vec<PathBuf>,
}

/// How to reach one registry.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub host: String,
    pub https: bool,
    /// Certificates are not verified (an insecure registry).
    pub insecure: bool,
    /// PEM CA certificates from `certs.d/<host>/`.
    pub roots: Vec<Vec<u8>>,
}

impl Endpoint {
    pub fn scheme(&self) -> &'static str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }

    /// The oci-client configuration for this endpoint.
    pub fn oci_config(&self) -> ClientConfig {
        ClientConfig {
            protocol: if self.https {
                ClientProtocol::Https
            } else {
                ClientProtocol::Http
            },
            accept_invalid_certificates: self.insecure,
            extra_root_certificates: self
                .roots
                .iter()
                .map(|pem| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data: pem.clone(),
                })
                .collect(),
            connect_timeout: Some(Duration::from_secs(15)),
            ..Default::default()
        }
    }

    /// A plain HTTP client with the same trust (for `docker login`).
    pub fn http_client(&self) -> Result<reqwest::Client> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .danger_accept_invalid_certs(self.insecure);
        for pem in &self.roots {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| EngineError::invalid(format!("certs.d CA for {}: {e}", self.host)))?;
            b = b.add_root_certificate(cert);
        }
        b.build()
            .map_err(|e| EngineError::internal(format!("http client: {e}")))
    }
}

impl RegistryAccess {
    /// `insecure`: the `--insecure-registry` values (names or CIDRs).
    pub fn new(insecure: &[String], certs_dirs: Vec<PathBuf>) -> anyhow::Result<Self> {
        let mut insecure_cidrs: Vec<IpNet> =
            LOOPBACK.iter().filter_map(|c| c.parse().ok()).collect();
        let mut insecure_hosts = Vec::new();
        for v in insecure {
            let v = v
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches('/');
            if v.contains('/') {
                let net: IpNet = v
                    .parse()
                    .map_err(|e| anyhow::anyhow!("invalid --insecure-registry CIDR {v}: {e}"))?;
                if !insecure_cidrs.contains(&net) {
                    insecure_cidrs.push(net);
                }
            } else if !insecure_hosts.iter().any(|h| h == v) {
                insecure_hosts.push(v.to_string());
            }
        }
        Ok(RegistryAccess {
            insecure_hosts,
            insecure_cidrs,
            certs_dirs,
        })
    }

    /// `/info`'s `RegistryConfig.InsecureRegistryCIDRs`.
    pub fn cidrs(&self) -> Vec<String> {
        self.insecure_cidrs.iter().map(|c| c.to_string()).collect()
    }

    /// The registries named insecure (`/info`'s `IndexConfigs`).
    pub fn insecure_names(&self) -> &[String] {
        &self.insecure_hosts
    }

    /// Whether `host` (`name[:port]`) is an insecure registry.
    pub async fn is_insecure(&self, host: &str) -> bool {
        if self.insecure_hosts.iter().any(|h| h == host) {
            return true;
        }
        let name = host_name(host);
        if name == "localhost" {
            return true;
        }
        let ips: Vec<IpAddr> = match name.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            // Only when a CIDR beyond loopback asks for it (see the module's note).
            Err(_) if self.insecure_cidrs.len() > LOOPBACK.len() => {
                match tokio::net::lookup_host((name, 0)).await {
                    Ok(addrs) => addrs.map(|a| a.ip()).collect(),
                    Err(_) => vec![],
                }
            }
            Err(_) => vec![],
        };
        ips.iter()
            .any(|ip| self.insecure_cidrs.iter().any(|c| c.contains(ip)))
    }

    /// The PEM CA certificates of `certs.d/<host>/*.crt` (dockerd reads `*.crt` as CAs).
    pub fn roots(&self, host: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for dir in &self.certs_dirs {
            let Ok(entries) = std::fs::read_dir(dir.join(host)) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "crt"))
                .collect();
            files.sort();
            for f in files {
                match std::fs::read(&f) {
                    Ok(pem) => out.push(pem),
                    Err(e) => {
                        tracing::warn!(file = %f.display(), error = %e, "reading a registry CA")
                    }
                }
            }
        }
        out
    }

    /// How to reach `host` now: an insecure registry is asked over HTTPS first (any HTTP
    /// answer to `/v2/` will do), and over HTTP when that fails.
    pub async fn endpoint(&self, host: &str) -> Endpoint {
        let insecure = self.is_insecure(host).await;
        let mut ep = Endpoint {
            host: host.to_string(),
            https: true,
            insecure,
            roots: self.roots(host),
        };
        if insecure {
            let answered = match ep.http_client() {
                Ok(c) => c
                    .get(format!("https://{host}/v2/"))
                    .timeout(Duration::from_secs(15))
                    .send()
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            ep.https = answered;
            tracing::debug!(%host, https = answered, "insecure registry endpoint");
        }
        ep
    }
}

/// `name` of `name:port` or `[v6]:port`.
fn host_name(host: &str) -> &str {
    let h = host
        .rsplit_once(':')
        .filter(|(_, port)| !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()))
        .map(|(h, _)| h)
        .unwrap_or(host);
    h.trim_start_matches('[').trim_end_matches(']')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_named_and_cidr_registries_are_insecure() {
        // Names only (no name is resolved without an extra CIDR, so no DNS query here).
        let a =
            RegistryAccess::new(&["myreg:5000".into(), "http://other:1/".into()], vec![]).unwrap();
        for host in [
            "127.0.0.1:5000",
            "127.3.4.5",
            "[::1]:5000",
            "localhost:80",
            "myreg:5000",
            "other:1",
        ] {
            assert!(a.is_insecure(host).await, "{host}");
        }
        for host in ["myreg:5001", "10.8.0.1:5000", "192.168.1.1"] {
            assert!(!a.is_insecure(host).await, "{host}");
        }
        assert_eq!(a.cidrs(), ["127.0.0.0/8", "::1/128"]);
        // A CIDR: addresses inside it (given as IPs, so again nothing is resolved).
        let b = RegistryAccess::new(&["10.9.0.0/16".into()], vec![]).unwrap();
        assert!(b.is_insecure("10.9.3.4:443").await);
        assert!(!b.is_insecure("10.8.0.1:5000").await);
        assert_eq!(b.cidrs(), ["127.0.0.0/8", "::1/128", "10.9.0.0/16"]);
        assert!(RegistryAccess::new(&["10.0.0.0/99".into()], vec![]).is_err());
    }

    #[test]
    fn cas_come_from_the_hosts_certs_d_dirs() {
        let d = tempfile::tempdir().unwrap();
        let (ours, docker) = (d.path().join("berth"), d.path().join("docker"));
        std::fs::create_dir_all(ours.join("reg:5000")).unwrap();
        std::fs::create_dir_all(docker.join("reg:5000")).unwrap();
        std::fs::write(ours.join("reg:5000/ca.crt"), "A").unwrap();
        std::fs::write(ours.join("reg:5000/client.key"), "K").unwrap();
        std::fs::write(docker.join("reg:5000/extra.crt"), "B").unwrap();
        let a = RegistryAccess::new(&[], vec![ours, docker]).unwrap();
        assert_eq!(a.roots("reg:5000"), vec![b"A".to_vec(), b"B".to_vec()]);
        assert!(a.roots("other:5000").is_empty());
    }
}
