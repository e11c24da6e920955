//! The `filters` query parameter: JSON `{"key": {"value": true}}` (or the legacy `{"key": ["value"]}`).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::error::{EngineError, Result};

/// Labels as the objects keep them (containers and images in a `HashMap`, volumes in an
/// optional `BTreeMap`), for the `label` filters.
pub trait LabelSet {
    fn label(&self, key: &str) -> Option<&str>;
}

impl LabelSet for HashMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl LabelSet for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl<L: LabelSet> LabelSet for Option<L> {
    fn label(&self, key: &str) -> Option<&str> {
        self.as_ref()?.label(key)
    }
}

#[derive(Debug, Default, Clone)]
pub struct Filters {
    map: BTreeMap<String, Vec<String>>,
}

impl Filters {
    pub fn parse(raw: Option<&str>) -> Result<Self> {
        let Some(raw) = raw.filter(|r| !r.is_empty()) else {
            return Ok(Filters::default());
        };
        let v: Value = serde_json::from_str(raw)
            .map_err(|e| EngineError::invalid(format!("invalid filter: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| EngineError::invalid("invalid filter: expected an object"))?;
        let mut map = BTreeMap::new();
        for (k, vals) in obj {
            let list: Vec<String> = match vals {
                Value::Object(m) => m
                    .iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(true))
                    .map(|(v, _)| v.clone())
                    .collect(),
                Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => return Err(EngineError::invalid(format!("invalid filter '{k}'"))),
            };
            map.insert(k.clone(), list);
        }
        Ok(Filters { map })
    }

    /// Fails with dockerd's message for a key the endpoint does not know.
    pub fn only(&self, allowed: &[&str]) -> Result<()> {
        for k in self.map.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(EngineError::invalid(format!("invalid filter '{k}'")));
            }
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> &[String] {
        self.map.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_empty())
    }

    /// A `label` filter: every `k` or `k=v` entry must match.
    pub fn labels_match(&self, labels: &impl LabelSet) -> bool {
        self.kv_match("label", labels)
    }

    /// dockerd's `MatchKVList`: every `k` or `k=v` entry under `key` matches (true when none).
    pub fn kv_match(&self, key: &str, labels: &impl LabelSet) -> bool {
        self.get(key).iter().all(|f| match f.split_once('=') {
            Some((k, v)) => labels.label(k) == Some(v),
            None => labels.label(f).is_some(),
        })
    }

    /// The prune endpoints' label rule: all `label` entries match, and not all `label!` ones do.
    pub fn prune_labels_match(&self, labels: &impl LabelSet) -> bool {
        self.kv_match("label", labels) && !(self.has("label!") && self.kv_match("label!", labels))
    }

    /// The `until` filter of the prune endpoints: at most one value, a dockerd timestamp.
    pub fn until(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        match self.get("until") {
            [] => Ok(None),
            [v] => crate::timestamp::parse(v, chrono::Utc::now())
                .map(Some)
                .map_err(|e| EngineError::invalid(e.to_string())),
            _ => Err(EngineError::invalid("more than one until filter specified")),
        }
    }

    /// Parses a boolean filter (`dangling=true`).
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key).first().map(String::as_str) {
            None => Ok(None),
            Some("true") | Some("1") => Ok(Some(true)),
            Some("false") | Some("0") => Ok(Some(false)),
            Some(other) => Err(EngineError::invalid(format!(
                "Invalid filter '{key}={other}'"
            ))),
        }
    }
}

/// Docker's `reference` filter: shell-style glob on the familiar name, with or without the tag.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn rec(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                // `*` does not cross a `/`, as in Go's path.Match.
                rec(&p[1..], t) || (!t.is_empty() && t[0] != b'/' && rec(p, &t[1..]))
            }
            (Some(b'?'), Some(c)) if *c != b'/' => rec(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => rec(&p[1..], &t[1..]),
            _ => false,
        }
    }
    rec(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_shapes() {
        let f = Filters::parse(Some(r#"{"dangling":{"true":true},"label":["a=b"]}"#)).unwrap();
        assert_eq!(f.bool("dangling").unwrap(), Some(true));
        assert_eq!(f.get("label"), ["a=b"]);
        assert!(f.only(&["dangling"]).is_err());
        assert!(Filters::parse(Some("nope")).is_err());
    }

    #[test]
    fn prune_label_rules() {
        let labels: std::collections::HashMap<String, String> =
            [("tier".to_string(), "front".to_string())].into();
        let f = |raw: &str| Filters::parse(Some(raw)).unwrap();
        assert!(f(r#"{"label":["tier"]}"#).prune_labels_match(&labels));
        assert!(f(r#"{"label":["tier=front"]}"#).prune_labels_match(&labels));
        assert!(!f(r#"{"label":["tier=back"]}"#).prune_labels_match(&labels));
        assert!(!f(r#"{"label!":["tier"]}"#).prune_labels_match(&labels));
        assert!(f(r#"{"label!":["tier=back"]}"#).prune_labels_match(&labels));
        assert!(f(r#"{"label!":["x"]}"#).prune_labels_match(&HashMap::<String, String>::new()));
    }

    #[test]
    fn until_takes_one_timestamp() {
        let f = |raw: &str| Filters::parse(Some(raw)).unwrap();
        assert!(f("{}").until().unwrap().is_none());
        assert!(f(r#"{"until":["1h"]}"#).until().unwrap().is_some());
        assert!(f(r#"{"until":["1h","2h"]}"#).until().is_err());
        assert!(f(r#"{"until":["soon"]}"#).until().is_err());
    }

    #[test]
    fn globs() {
        assert!(glob_match("busy*", "busybox"));
        assert!(glob_match("busybox:*", "busybox:latest"));
        assert!(!glob_match("busy*", "team/busybox"));
        assert!(glob_match("*/busybox", "team/busybox"));
    }
}
