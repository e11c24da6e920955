//! Image references in Docker's normal form: `busybox` is `docker.io/library/busybox:latest`.
//! Parsing is oci-spec's (the distribution grammar); this module adds Docker's "familiar" spelling,
//! which is what `docker images` and `RepoTags` show.

use oci_client::Reference;

use crate::error::EngineError;

pub fn parse(s: &str) -> Result<Reference, EngineError> {
    if s.is_empty() || s.trim() != s {
        return Err(EngineError::invalid("invalid reference format"));
    }
    Reference::try_from(s).map_err(|e| match e {
        oci_client::ParseError::NameContainsUppercase => EngineError::invalid(format!(
            "invalid reference format: repository name ({s}) must be lowercase"
        )),
        other => EngineError::invalid(format!("invalid reference format: {other}")),
    })
}

/// `registry/repository`, e.g. `docker.io/library/busybox`.
pub fn repo_name(r: &Reference) -> String {
    format!("{}/{}", r.registry(), r.repository())
}

/// Canonical `registry/repository:tag`, the key of the tag index. Digest references have no tag.
pub fn canonical_tag(r: &Reference) -> Option<String> {
    r.tag().map(|t| format!("{}:{t}", repo_name(r)))
}

/// Docker's short spelling of a canonical name: drops `docker.io/` and `library/`.
pub fn familiar(canonical: &str) -> String {
    match canonical.strip_prefix("docker.io/") {
        Some(rest) => rest.strip_prefix("library/").unwrap_or(rest).to_string(),
        None => canonical.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        let r = parse("busybox").unwrap();
        assert_eq!(
            canonical_tag(&r).unwrap(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            familiar("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        let r = parse("127.0.0.1:5000/team/app:1.0").unwrap();
        assert_eq!(canonical_tag(&r).unwrap(), "127.0.0.1:5000/team/app:1.0");
        assert_eq!(
            familiar("127.0.0.1:5000/team/app:1.0"),
            "127.0.0.1:5000/team/app:1.0"
        );
        assert!(parse("Busybox").is_err());
        assert!(parse("a b").is_err());
        assert!(parse("").is_err());
    }
}
