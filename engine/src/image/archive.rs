//! `docker save` / `docker load` archives.
//!
//! Written archives follow Docker 25+: one tar that is at once an OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/…`) and a legacy docker-archive (`manifest.json`, `repositories`),
//! with layers stored uncompressed under their diff IDs. Reading accepts that, the pre-25 layout
//! (`<id>.json` configs and `<id>/layer.tar`, found through `manifest.json`), and a plain OCI layout
//! without `manifest.json` (as buildx's `type=oci` exporter writes).
//!
//! Reading never creates a path taken from the archive: every regular file is streamed into a fresh
//! `blob-N` file in `scratch`, and names, symlinks and hardlinks are resolved in a table in memory.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::media;
use super::unpack::{decompress, UnpackError};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("invalid image {image}: {reason}")]
    Image { image: String, reason: String },
    #[error("invalid archive: {0}")]
    Invalid(String),
    /// The tar stream itself is broken (Go's archive/tar wording).
    #[error("{0}")]
    Tar(&'static str),
    #[error("invalid archive: no manifest.json (nor an OCI index.json) found")]
    MissingManifest,
    #[error("invalid archive: {file} is not valid JSON: {source}")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid archive: {path} is referenced by {by} but missing")]
    MissingBlob { path: String, by: String },
    #[error("invalid archive: {path}: content digest is {actual}, expected {expected}")]
    DigestMismatch {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("invalid archive: entry {0:?} escapes the archive root")]
    Escape(String),
    #[error("layer {path}: {source}")]
    Layer {
        path: String,
        #[source]
        source: UnpackError,
    },
}

/// A tar reading error in the words of Go's archive/tar (what dockerd answers), instead of the
/// tar crate's, which can quote the garbage bytes of a broken header.
fn tar_err(e: io::Error) -> ArchiveError {
    let text = e.to_string();
    let go = if e.kind() == io::ErrorKind::UnexpectedEof
        || text.contains("failed to read entire block")
    {
        "unexpected EOF"
    } else if text.contains("numeric field")
        || text.contains("cksum")
        || text.contains("checksum")
        || text.contains("invalid")
    {
        "archive/tar: invalid tar header"
    } else {
        return ArchiveError::Io {
            context: "reading archive".into(),
            source: e,
        };
    };
    ArchiveError::Tar(go)
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ArchiveError {
    let context = context.into();
    move |source| ArchiveError::Io { context, source }
}

/// One image to save.
pub struct SaveImage {
    /// Raw image config JSON; its sha256 is the image ID.
    pub config: Vec<u8>,
    /// Tags to record, e.g. `busybox:latest` or `127.0.0.1:5000/x:1`.
    pub repo_tags: Vec<String>,
    /// Layer blobs in order, gzip-compressed or plain tar.
    pub layers: Vec<PathBuf>,
}

/// A layer blob found in a loaded archive.
pub struct LoadedLayer {
    /// A file inside `scratch` holding the blob exactly as found in the archive.
    pub path: PathBuf,
    /// `sha256:<hex>` of that file.
    pub digest: String,
}

/// One image found in a loaded archive.
pub struct LoadedImage {
    pub config: Vec<u8>,
    /// `sha256:<hex>` of `config`: the image ID.
    pub config_digest: String,
    pub repo_tags: Vec<String>,
    pub layers: Vec<LoadedLayer>,
}

const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// Metadata files (manifests, configs, indexes) are read into memory; nothing legitimate is this big.
const MAX_METADATA_BYTES: u64 = 64 << 20;

// ---- JSON shapes -------------------------------------------------------------------------------

/// One element of `manifest.json`, field names as Docker writes them.
#[derive(Serialize, Deserialize)]
struct ManifestItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Platform {
    architecture: String,
    os: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    variant: Option<String>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    platform: Option<Platform>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Serialize, Deserialize)]
struct OciManifest {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    media_type: Option<String>,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Serialize, Deserialize)]
struct OciIndex {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// The parts of an image config this module needs.
struct ConfigInfo {
    diff_ids: Vec<String>,
    platform: Option<Platform>,
}

fn parse_config(raw: &[u8], image: &str) -> Result<ConfigInfo, ArchiveError> {
    let bad = |reason: String| ArchiveError::Image {
        image: image.to_string(),
        reason,
    };
    let v: serde_json::Value =
        serde_json::from_slice(raw).map_err(|e| bad(format!("config is not valid JSON: {e}")))?;
    let ids = v
        .pointer("/rootfs/diff_ids")
        .and_then(|d| d.as_array())
        .ok_or_else(|| bad("config has no rootfs.diff_ids".into()))?;
    let mut diff_ids = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id
            .as_str()
            .ok_or_else(|| bad("rootfs.diff_ids holds a non-string".into()))?;
        sha256_hex(id).ok_or_else(|| bad(format!("unsupported diff ID {id:?}")))?;
        diff_ids.push(id.to_string());
    }
    let text = |k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_string);
    let platform = match (text("architecture"), text("os")) {
        (Some(architecture), Some(os)) => Some(Platform {
            architecture,
            os,
            variant: text("variant").filter(|s| !s.is_empty()),
        }),
        _ => None,
    };
    Ok(ConfigInfo { diff_ids, platform })
}

// ---- digests -----------------------------------------------------------------------------------

/// The hex part of a `sha256:<64 lowercase hex>` digest.
fn sha256_hex(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:").filter(|h| is_hex64(h))
}

fn is_hex64(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn sha256_of(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Copies `r` to `w`, returning the byte count and the sha256 hex of what went through.
fn copy_hashing(r: &mut dyn Read, w: &mut dyn Write) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..k]);
        w.write_all(&buf[..k])?;
        n += k as u64;
    }
    Ok((n, hex::encode(hasher.finalize())))
}

/// Reader that hashes and counts what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

fn is_compressed(path: &Path) -> io::Result<bool> {
    let mut head = [0u8; 4];
    let mut f = File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok((n >= 2 && head[..2] == [0x1f, 0x8b]) || (n == 4 && head == [0x28, 0xb5, 0x2f, 0xfd]))
}

// ---- references --------------------------------------------------------------------------------

/// A tag split the ways the archive needs it.
struct RepoTag {
    /// `busybox:latest`, as in `manifest.json` `RepoTags`.
    familiar: String,
    /// `busybox`, the key in `repositories`.
    familiar_repo: String,
    /// `docker.io/library/busybox:latest`, for the `index.json` annotation.
    full: String,
    tag: String,
}

/// Normalizes `name[:tag]` like Docker's reference parser does for the parts we need.
fn parse_repo_tag(s: &str) -> Option<RepoTag> {
    if s.contains('@') || s.is_empty() {
        return None;
    }
    let last_slash = s.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match s[last_slash..].rfind(':') {
        Some(i) => (&s[..last_slash + i], &s[last_slash + i + 1..]),
        None => (s, "latest"),
    };
    if name.is_empty() || tag.is_empty() {
        return None;
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first, rest.to_string())
        }
        _ => ("docker.io", name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io"
    } else {
        domain
    };
    let path = if domain == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    let familiar_repo = if domain == "docker.io" {
        match path.strip_prefix("library/") {
            Some(rest) if !rest.contains('/') => rest.to_string(),
            _ => path.clone(),
        }
    } else {
        format!("{domain}/{path}")
    };
    Some(RepoTag {
        familiar: format!("{familiar_repo}:{tag}"),
        full: format!("{domain}/{path}:{tag}"),
        familiar_repo,
        tag: tag.to_string(),
    })
}

// ---- save --------------------------------------------------------------------------------------

enum BlobSource {
    Bytes(Vec<u8>),
    /// An uncompressed tar on disk whose sha256 is checked while it is copied out.
    File {
        path: PathBuf,
        len: u64,
    },
}

/// Files this module created in `scratch`, removed however the save ends.
struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A new, empty file in `dir` that no one else has.
fn create_unique(dir: &Path, prefix: &str) -> io::Result<(PathBuf, File)> {
    for n in 0u32.. {
        let p = dir.join(format!("{prefix}-{}-{n}", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free scratch file name"))
}

/// Writes a docker-save archive of `images` to `out`. `scratch` holds decompressed layers meanwhile.
pub fn write_archive<W: Write>(
    images: &[SaveImage],
    scratch: &Path,
    out: W,
) -> Result<(), ArchiveError> {
    let mut temps = TempFiles(Vec::new());
    let mut blobs: BTreeMap<String, BlobSource> = BTreeMap::new();
    let mut manifest: Vec<ManifestItem> = Vec::new();
    let mut index: Vec<Descriptor> = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();

    for img in images {
        let config_hex = sha256_of(&img.config);
        let image_name = format!("sha256:{config_hex}");
        let info = parse_config(&img.config, &image_name)?;
        if info.diff_ids.len() != img.layers.len() {
            return Err(ArchiveError::Image {
                image: image_name,
                reason: format!(
                    "{} layer blobs given for {} diff IDs in the config",
                    img.layers.len(),
                    info.diff_ids.len()
                ),
            });
        }
        let mut layer_descs = Vec::new();
        for (layer, diff_id) in img.layers.iter().zip(&info.diff_ids) {
            let hex = sha256_hex(diff_id).unwrap_or_default().to_string();
            if !blobs.contains_key(&hex) {
                let src = stage_layer(layer, &hex, scratch, &mut temps)?;
                blobs.insert(hex.clone(), src);
            }
            let size = match blobs.get(&hex) {
                Some(BlobSource::File { len, .. }) => *len,
                Some(BlobSource::Bytes(b)) => b.len() as u64,
                None => 0,
            };
            layer_descs.push(Descriptor {
                media_type: media::OCI_LAYER.into(),
                digest: diff_id.clone(),
                size,
                platform: None,
                annotations: None,
            });
        }
        let oci_manifest = OciManifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.into()),
            config: Descriptor {
                media_type: media::OCI_CONFIG.into(),
                digest: image_name.clone(),
                size: img.config.len() as u64,
                platform: None,
                annotations: None,
            },
            layers: layer_descs,
        };
        let manifest_bytes = json("OCI manifest", &oci_manifest)?;
        let manifest_hex = sha256_of(&manifest_bytes);
        let manifest_desc = Descriptor {
            media_type: media::OCI_MANIFEST.into(),
            digest: format!("sha256:{manifest_hex}"),
            size: manifest_bytes.len() as u64,
            platform: info.platform.clone(),
            annotations: None,
        };
        blobs.insert(manifest_hex, BlobSource::Bytes(manifest_bytes));
        blobs.insert(config_hex.clone(), BlobSource::Bytes(img.config.clone()));

        let mut repo_tags = Vec::new();
        for t in &img.repo_tags {
            let Some(rt) = parse_repo_tag(t) else {
                tracing::warn!(tag = %t, image = %image_name, "not a name:tag reference; left out of the archive");
                continue;
            };
            if repo_tags.contains(&rt.familiar) {
                continue;
            }
            if let Some(top) = info.diff_ids.last().and_then(|d| sha256_hex(d)) {
                repositories
                    .entry(rt.familiar_repo.clone())
                    .or_default()
                    .insert(rt.tag.clone(), top.to_string());
            }
            let mut annotations = BTreeMap::new();
            annotations.insert(ANNOTATION_IMAGE_NAME.to_string(), rt.full.clone());
            annotations.insert(ANNOTATION_REF_NAME.to_string(), rt.tag.clone());
            index.push(Descriptor {
                annotations: Some(annotations),
                ..manifest_desc.clone()
            });
            repo_tags.push(rt.familiar);
        }
        if repo_tags.is_empty() {
            // Untagged images still belong in the OCI index, or OCI tools would not see them.
            index.push(manifest_desc);
        }
        manifest.push(ManifestItem {
            config: format!("blobs/sha256/{config_hex}"),
            repo_tags: Some(repo_tags),
            layers: info
                .diff_ids
                .iter()
                .filter_map(|d| sha256_hex(d))
                .map(|h| format!("blobs/sha256/{h}"))
                .collect(),
        });
    }

    let index_bytes = json(
        "index.json",
        &OciIndex {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.into()),
            manifests: index,
        },
    )?;
    let mut manifest_bytes = json("manifest.json", &manifest)?;
    manifest_bytes.push(b'\n');

    let mut tar = tar::Builder::new(out);
    // Fixed order, owners and times: the same images always give the same bytes.
    append_dir(&mut tar, "blobs/")?;
    append_dir(&mut tar, "blobs/sha256/")?;
    for (hex, src) in &blobs {
        let name = format!("blobs/sha256/{hex}");
        match src {
            BlobSource::Bytes(b) => append_bytes(&mut tar, &name, b)?,
            BlobSource::File { path, len } => {
                let f = File::open(path).map_err(io_err(format!("opening {}", path.display())))?;
                let mut reader = HashingReader {
                    inner: f.take(*len),
                    hasher: Sha256::new(),
                    count: 0,
                };
                let mut h = file_header(*len);
                tar.append_data(&mut h, &name, &mut reader)
                    .map_err(io_err(format!("writing {name}")))?;
                let actual = hex::encode(reader.hasher.finalize());
                if reader.count != *len || &actual != hex {
                    return Err(ArchiveError::DigestMismatch {
                        path: path.display().to_string(),
                        expected: format!("sha256:{hex}"),
                        actual: format!("sha256:{actual}"),
                    });
                }
            }
        }
    }
    append_bytes(&mut tar, "index.json", &index_bytes)?;
    append_bytes(&mut tar, "manifest.json", &manifest_bytes)?;
    append_bytes(&mut tar, "oci-layout", OCI_LAYOUT)?;
    if !repositories.is_empty() {
        let mut repos = json("repositories", &repositories)?;
        repos.push(b'\n');
        append_bytes(&mut tar, "repositories", &repos)?;
    }
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(io_err("finishing archive"))?;
    drop(temps);
    Ok(())
}

fn json<T: Serialize + ?Sized>(file: &str, v: &T) -> Result<Vec<u8>, ArchiveError> {
    serde_json::to_vec(v).map_err(|source| ArchiveError::Json {
        file: file.into(),
        source,
    })
}

/// Gets a layer ready to be written as the uncompressed blob `hex`: a plain tar is used in place
/// (checked while copied), a compressed one is inflated into `scratch` and checked now.
fn stage_layer(
    layer: &Path,
    hex: &str,
    scratch: &Path,
    temps: &mut TempFiles,
) -> Result<BlobSource, ArchiveError> {
    let shown = layer.display().to_string();
    let compressed = is_compressed(layer).map_err(io_err(format!("reading layer {shown}")))?;
    if !compressed {
        let len = std::fs::metadata(layer)
            .map_err(io_err(format!("reading layer {shown}")))?
            .len();
        return Ok(BlobSource::File {
            path: layer.to_path_buf(),
            len,
        });
    }
    let f = File::open(layer).map_err(io_err(format!("opening layer {shown}")))?;
    let mut r = decompress(io::BufReader::new(f)).map_err(|source| ArchiveError::Layer {
        path: shown.clone(),
        source,
    })?;
    let (tmp, mut out) = create_unique(scratch, "save-layer")
        .map_err(io_err(format!("creating a file in {}", scratch.display())))?;
    temps.0.push(tmp.clone());
    let (len, actual) =
        copy_hashing(&mut r, &mut out).map_err(io_err(format!("decompressing layer {shown}")))?;
    if actual != hex {
        return Err(ArchiveError::DigestMismatch {
            path: shown,
            expected: format!("sha256:{hex}"),
            actual: format!("sha256:{actual}"),
        });
    }
    Ok(BlobSource::File { path: tmp, len })
}

fn file_header(len: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(len);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    data: &[u8],
) -> Result<(), ArchiveError> {
    let mut h = file_header(data.len() as u64);
    tar.append_data(&mut h, name, data)
        .map_err(io_err(format!("writing {name}")))
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, name: &str) -> Result<(), ArchiveError> {
    let mut h = file_header(0);
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    tar.append_data(&mut h, name, io::empty())
        .map_err(io_err(format!("writing {name}")))
}

// ---- load --------------------------------------------------------------------------------------

/// A regular file of the archive, now in `scratch`.
struct Extracted {
    path: PathBuf,
    hex: String,
    size: u64,
}

/// The archive's namespace, resolved in memory.
struct Contents {
    files: HashMap<String, Extracted>,
    /// Symlinks (target as written) and hardlinks (as `/` + target, relative to the root).
    links: HashMap<String, String>,
}

/// Splits an archive path into clean components; `None` if `..` climbs above the root.
fn clean_components(p: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c.to_string()),
        }
    }
    Some(out)
}

impl Contents {
    /// Finds the file a name refers to, following links inside the archive only.
    fn resolve(&self, name: &str) -> Option<&Extracted> {
        let mut pending: VecDeque<String> = name.split('/').map(str::to_string).collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop_front() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => {}
            }
            resolved.push(part);
            let joined = resolved.join("/");
            if let Some(target) = self.links.get(&joined) {
                hops += 1;
                if hops > crate::fs::MAX_SYMLINKS {
                    return None;
                }
                resolved.pop();
                if target.starts_with('/') {
                    resolved.clear();
                }
                for (i, c) in target.split('/').enumerate() {
                    pending.insert(i, c.to_string());
                }
            }
        }
        self.files.get(&resolved.join("/"))
    }

    fn get(&self, name: &str, by: &str) -> Result<&Extracted, ArchiveError> {
        self.resolve(name).ok_or_else(|| ArchiveError::MissingBlob {
            path: name.to_string(),
            by: by.to_string(),
        })
    }

    fn read_small(&self, name: &str, by: &str) -> Result<(Vec<u8>, String), ArchiveError> {
        let found = self.get(name, by)?;
        if found.size > MAX_METADATA_BYTES {
            return Err(ArchiveError::Invalid(format!(
                "{name} is {} bytes, too large for metadata",
                found.size
            )));
        }
        let data =
            std::fs::read(&found.path).map_err(io_err(format!("reading extracted {name}")))?;
        Ok((data, found.hex.clone()))
    }
}

/// Reads a docker-save archive (or an OCI layout tar) from `input`, extracting blobs into `scratch`.
pub fn read_archive<R: Read>(input: R, scratch: &Path) -> Result<Vec<LoadedImage>, ArchiveError> {
    let contents = extract(input, scratch)?;
    let result = if contents.resolve("manifest.json").is_some() {
        load_docker_manifest(&contents)
    } else if contents.resolve("index.json").is_some() {
        load_oci_index(&contents)
    } else {
        Err(ArchiveError::MissingManifest)
    };
    // Only the layer files handed back are worth keeping.
    let keep: HashSet<PathBuf> = match &result {
        Ok(images) => images
            .iter()
            .flat_map(|i| i.layers.iter().map(|l| l.path.clone()))
            .collect(),
        Err(_) => HashSet::new(),
    };
    for f in contents.files.values() {
        if !keep.contains(&f.path) {
            let _ = std::fs::remove_file(&f.path);
        }
    }
    result
}

/// Streams every regular file of the archive into `scratch`, hashing as it goes.
fn extract<R: Read>(input: R, scratch: &Path) -> Result<Contents, ArchiveError> {
    let mut contents = Contents {
        files: HashMap::new(),
        links: HashMap::new(),
    };
    let mut archive = tar::Archive::new(input);
    let entries = archive.entries().map_err(tar_err)?;
    let res = (|| {
        for entry in entries {
            let mut entry = entry.map_err(tar_err)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let name = clean_components(&raw)
                .ok_or_else(|| ArchiveError::Escape(raw.clone()))?
                .join("/");
            let kind = entry.header().entry_type();
            let link_target = || {
                entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .ok_or_else(|| ArchiveError::Invalid(format!("link {raw:?} has no target")))
            };
            match kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let (path, mut f) = create_unique(scratch, "load-blob")
                        .map_err(io_err(format!("creating a file in {}", scratch.display())))?;
                    let prev = contents.files.insert(
                        name.clone(),
                        Extracted {
                            path: path.clone(),
                            hex: String::new(),
                            size: 0,
                        },
                    );
                    if let Some(prev) = prev {
                        let _ = std::fs::remove_file(prev.path);
                    }
                    contents.links.remove(&name);
                    let (size, hex) = copy_hashing(&mut entry, &mut f)
                        .map_err(io_err(format!("extracting {raw}")))?;
                    if let Some(x) = contents.files.get_mut(&name) {
                        x.size = size;
                        x.hex = hex;
                    }
                }
                tar::EntryType::Symlink => {
                    let target = link_target()?;
                    if let Some(prev) = contents.files.remove(&name) {
                        let _ = std::fs::remove_file(prev.path);
                    }
                    // Kept as written: `resolve` reads relative targets from the link's directory.
                    contents.links.insert(name, target);
                }
                tar::EntryType::Link => {
                    let target = link_target()?;
                    if let Some(prev) = contents.files.remove(&name) {
                        let _ = std::fs::remove_file(prev.path);
                    }
                    contents.links.insert(name, format!("/{target}"));
                }
                tar::EntryType::Directory
                | tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader => {}
                other => {
                    tracing::debug!(entry = %raw, kind = ?other, "ignoring archive entry");
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = res {
        for f in contents.files.values() {
            let _ = std::fs::remove_file(&f.path);
        }
        return Err(e);
    }
    // OCI blobs are named by their digest: check them all, referenced or not.
    for (name, f) in &contents.files {
        if let Some(hex) = name.strip_prefix("blobs/sha256/") {
            if is_hex64(hex) && f.hex != hex {
                let err = ArchiveError::DigestMismatch {
                    path: name.clone(),
                    expected: format!("sha256:{hex}"),
                    actual: format!("sha256:{}", f.hex),
                };
                for f in contents.files.values() {
                    let _ = std::fs::remove_file(&f.path);
                }
                return Err(err);
            }
        }
    }
    Ok(contents)
}

/// The digest a file name promises, if it is a content-addressed name.
fn promised_hex(name: &str) -> Option<&str> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let base = base.strip_suffix(".json").unwrap_or(base);
    let base = base.strip_prefix("sha256:").unwrap_or(base);
    is_hex64(base).then_some(base)
}

fn load_docker_manifest(contents: &Contents) -> Result<Vec<LoadedImage>, ArchiveError> {
    let (raw, _) = contents.read_small("manifest.json", "the archive")?;
    let items: Option<Vec<ManifestItem>> =
        serde_json::from_slice(&raw).map_err(|source| ArchiveError::Json {
            file: "manifest.json".into(),
            source,
        })?;
    let items = items.ok_or_else(|| ArchiveError::Invalid("manifest.json is null".into()))?;
    let mut images = Vec::with_capacity(items.len());
    for item in items {
        let (config, config_hex) = contents.read_small(&item.config, "manifest.json")?;
        if let Some(expected) = promised_hex(&item.config) {
            if expected != config_hex {
                return Err(ArchiveError::DigestMismatch {
                    path: item.config.clone(),
                    expected: format!("sha256:{expected}"),
                    actual: format!("sha256:{config_hex}"),
                });
            }
        }
        let image_name = format!("sha256:{config_hex}");
        let info = parse_config(&config, &image_name)?;
        if info.diff_ids.len() != item.layers.len() {
            return Err(ArchiveError::Image {
                image: image_name,
                reason: format!(
                    "manifest.json lists {} layers, the config {} diff IDs",
                    item.layers.len(),
                    info.diff_ids.len()
                ),
            });
        }
        let mut layers = Vec::with_capacity(item.layers.len());
        for (name, diff_id) in item.layers.iter().zip(&info.diff_ids) {
            let found = contents.get(name, "manifest.json")?;
            let layer = LoadedLayer {
                path: found.path.clone(),
                digest: format!("sha256:{}", found.hex),
            };
            // An uncompressed layer is its own diff ID; a compressed one is checked on unpack.
            if layer.digest != *diff_id {
                let compressed = is_compressed(&layer.path)
                    .map_err(io_err(format!("reading extracted {name}")))?;
                if !compressed {
                    return Err(ArchiveError::DigestMismatch {
                        path: name.clone(),
                        expected: diff_id.clone(),
                        actual: layer.digest,
                    });
                }
            }
            layers.push(layer);
        }
        images.push(LoadedImage {
            config,
            config_digest: image_name,
            repo_tags: item.repo_tags.unwrap_or_default(),
            layers,
        });
    }
    Ok(images)
}

fn blob_name(digest: &str, by: &str) -> Result<String, ArchiveError> {
    sha256_hex(digest)
        .map(|h| format!("blobs/sha256/{h}"))
        .ok_or_else(|| ArchiveError::Invalid(format!("{by}: unsupported digest {digest:?}")))
}

fn load_oci_index(contents: &Contents) -> Result<Vec<LoadedImage>, ArchiveError> {
    let (raw, _) = contents.read_small("index.json", "the archive")?;
    let index: OciIndex = serde_json::from_slice(&raw).map_err(|source| ArchiveError::Json {
        file: "index.json".into(),
        source,
    })?;
    // One image per manifest; several index entries (tags) may name the same one.
    let mut order: Vec<String> = Vec::new();
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    for d in &index.manifests {
        match d.media_type.as_str() {
            media::OCI_MANIFEST | media::DOCKER_MANIFEST => {}
            media::OCI_INDEX | media::DOCKER_LIST => {
                return Err(ArchiveError::Invalid(format!(
                    "index.json entry {} is a multi-platform index, which cannot be loaded",
                    d.digest
                )))
            }
            other => {
                tracing::debug!(digest = %d.digest, media_type = %other, "skipping index entry");
                continue;
            }
        }
        if !tags.contains_key(&d.digest) {
            order.push(d.digest.clone());
        }
        let entry = tags.entry(d.digest.clone()).or_default();
        let name = d
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_IMAGE_NAME))
            .and_then(|n| parse_repo_tag(n));
        if let Some(rt) = name {
            if !entry.contains(&rt.familiar) {
                entry.push(rt.familiar);
            }
        }
    }
    let mut images = Vec::new();
    for digest in order {
        let by = format!("index.json entry {digest}");
        let (raw, _) = contents.read_small(&blob_name(&digest, &by)?, &by)?;
        let m: OciManifest = serde_json::from_slice(&raw).map_err(|source| ArchiveError::Json {
            file: format!("manifest {digest}"),
            source,
        })?;
        let by = format!("manifest {digest}");
        let (config, config_hex) = contents.read_small(&blob_name(&m.config.digest, &by)?, &by)?;
        let image_name = format!("sha256:{config_hex}");
        let info = parse_config(&config, &image_name)?;
        if info.diff_ids.len() != m.layers.len() {
            return Err(ArchiveError::Image {
                image: image_name,
                reason: format!(
                    "manifest {digest} lists {} layers, the config {} diff IDs",
                    m.layers.len(),
                    info.diff_ids.len()
                ),
            });
        }
        let mut layers = Vec::new();
        for l in &m.layers {
            let found = contents.get(&blob_name(&l.digest, &by)?, &by)?;
            layers.push(LoadedLayer {
                path: found.path.clone(),
                digest: format!("sha256:{}", found.hex),
            });
        }
        images.push(LoadedImage {
            config,
            config_digest: image_name,
            repo_tags: tags.remove(&digest).unwrap_or_default(),
            layers,
        });
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small layer tar holding one file.
    fn layer_tar(name: &str, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, name, data).unwrap();
        b.into_inner().unwrap()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    fn config_for(layers: &[&[u8]]) -> Vec<u8> {
        let ids: Vec<String> = layers
            .iter()
            .map(|l| format!("sha256:{}", sha256_of(l)))
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": ids},
        }))
        .unwrap()
    }

    /// Builds an archive tar by hand from (name, content) pairs.
    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = file_header(data.len() as u64);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn names_in(archive: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(archive);
        a.entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    fn scratch_files(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn round_trip_two_layers() {
        let work = tempfile::tempdir().unwrap();
        let l1 = layer_tar("etc/hostname", b"box\n");
        let l2 = layer_tar("bin/tool", b"#!/bin/sh\necho hi\n");
        let p1 = work.path().join("l1.tar.gz");
        let p2 = work.path().join("l2.tar");
        std::fs::write(&p1, gzip(&l1)).unwrap();
        std::fs::write(&p2, &l2).unwrap();
        let config = config_for(&[&l1, &l2]);
        let images = [SaveImage {
            config: config.clone(),
            repo_tags: vec![
                "busybox:latest".into(),
                "127.0.0.1:5000/x:1".into(),
                "docker.io/library/busybox:latest".into(),
            ],
            layers: vec![p1.clone(), p2.clone()],
        }];
        let scratch = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        write_archive(&images, scratch.path(), &mut out).unwrap();
        assert_eq!(scratch_files(scratch.path()), 0, "temporary files left");

        // Deterministic.
        let mut again = Vec::new();
        write_archive(&images, scratch.path(), &mut again).unwrap();
        assert_eq!(out, again);

        let names = names_in(&out);
        let config_hex = sha256_of(&config);
        for n in [
            "oci-layout",
            "index.json",
            "manifest.json",
            "repositories",
            &format!("blobs/sha256/{config_hex}"),
            &format!("blobs/sha256/{}", sha256_of(&l1)),
            &format!("blobs/sha256/{}", sha256_of(&l2)),
        ] {
            assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
        }

        // The docker-archive side, read as plain JSON.
        let mut a = tar::Archive::new(&out[..]);
        let mut manifest = None;
        let mut repos = None;
        let mut index = None;
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut s = String::new();
            if ["manifest.json", "repositories", "index.json"].contains(&name.as_str()) {
                e.read_to_string(&mut s).unwrap();
                let v: serde_json::Value = serde_json::from_str(&s).unwrap();
                match name.as_str() {
                    "manifest.json" => manifest = Some(v),
                    "repositories" => repos = Some(v),
                    _ => index = Some(v),
                }
            }
        }
        let manifest = manifest.unwrap();
        assert_eq!(
            manifest[0]["Config"],
            serde_json::json!(format!("blobs/sha256/{config_hex}"))
        );
        assert_eq!(
            manifest[0]["RepoTags"],
            serde_json::json!(["busybox:latest", "127.0.0.1:5000/x:1"])
        );
        assert_eq!(
            repos.unwrap(),
            serde_json::json!({
                "busybox": {"latest": sha256_of(&l2)},
                "127.0.0.1:5000/x": {"1": sha256_of(&l2)},
            })
        );
        let index = index.unwrap();
        assert_eq!(
            index["manifests"][0]["annotations"]["io.containerd.image.name"],
            "docker.io/library/busybox:latest"
        );
        assert_eq!(index["manifests"][0]["platform"]["os"], "linux");

        let load = tempfile::tempdir().unwrap();
        let loaded = read_archive(&out[..], load.path()).unwrap();
        assert_eq!(loaded.len(), 1);
        let img = &loaded[0];
        assert_eq!(img.config, config);
        assert_eq!(img.config_digest, format!("sha256:{config_hex}"));
        assert_eq!(img.repo_tags, ["busybox:latest", "127.0.0.1:5000/x:1"]);
        assert_eq!(img.layers.len(), 2);
        assert_eq!(std::fs::read(&img.layers[0].path).unwrap(), l1);
        assert_eq!(std::fs::read(&img.layers[1].path).unwrap(), l2);
        assert_eq!(img.layers[0].digest, format!("sha256:{}", sha256_of(&l1)));
        assert!(img.layers.iter().all(|l| l.path.starts_with(load.path())));
        // Only the layers are left in scratch.
        assert_eq!(scratch_files(load.path()), 2);
    }

    #[test]
    fn save_checks_layers_against_the_config() {
        let work = tempfile::tempdir().unwrap();
        let l1 = layer_tar("a", b"a");
        let p1 = work.path().join("l1.tar");
        std::fs::write(&p1, &l1).unwrap();
        let config = config_for(&[&l1, &l1]);
        let err = write_archive(
            &[SaveImage {
                config,
                repo_tags: vec![],
                layers: vec![p1.clone()],
            }],
            work.path(),
            Vec::new(),
        )
        .err()
        .unwrap();
        assert!(matches!(err, ArchiveError::Image { .. }), "{err}");

        let other = layer_tar("b", b"b");
        let err = write_archive(
            &[SaveImage {
                config: config_for(&[&other]),
                repo_tags: vec![],
                layers: vec![p1],
            }],
            work.path(),
            Vec::new(),
        )
        .err()
        .unwrap();
        assert!(matches!(err, ArchiveError::DigestMismatch { .. }), "{err}");
    }

    #[test]
    fn reads_legacy_layout() {
        let l1 = layer_tar("etc/os-release", b"ID=test\n");
        let l2 = layer_tar("app", b"bin");
        let config = config_for(&[&l1, &l2]);
        let cfg_hex = sha256_of(&config);
        let manifest = serde_json::to_vec(&serde_json::json!([{
            "Config": format!("{cfg_hex}.json"),
            "RepoTags": ["test:latest"],
            "Layers": ["aaaa/layer.tar", "bbbb/layer.tar"],
        }]))
        .unwrap();
        let repositories = r#"{"test":{"latest":"bbbb"}}"#;
        let cfg_name = format!("{cfg_hex}.json");
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [
            ("aaaa/VERSION", &b"1.0"[..]),
            ("aaaa/json", b"{}"),
            ("aaaa/layer.tar", &l1),
            ("bbbb/VERSION", b"1.0"),
            ("bbbb/json", b"{}"),
            (cfg_name.as_str(), &config),
            ("manifest.json", &manifest),
            ("repositories", repositories.as_bytes()),
        ] {
            let mut h = file_header(data.len() as u64);
            b.append_data(&mut h, name, data).unwrap();
        }
        // Docker writes a repeated layer as a symlink to its first copy; here one to a real file.
        let mut h = file_header(0);
        h.set_entry_type(tar::EntryType::Symlink);
        b.append_link(&mut h, "bbbb/layer.tar", "../cccc/layer.tar")
            .unwrap();
        let mut h = file_header(l2.len() as u64);
        b.append_data(&mut h, "cccc/layer.tar", &l2[..]).unwrap();
        let archive = b.into_inner().unwrap();

        let scratch = tempfile::tempdir().unwrap();
        let loaded = read_archive(&archive[..], scratch.path()).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].config_digest, format!("sha256:{cfg_hex}"));
        assert_eq!(loaded[0].repo_tags, ["test:latest"]);
        assert_eq!(std::fs::read(&loaded[0].layers[0].path).unwrap(), l1);
        assert_eq!(std::fs::read(&loaded[0].layers[1].path).unwrap(), l2);
        assert_eq!(scratch_files(scratch.path()), 2);
    }

    #[test]
    fn reads_plain_oci_layout() {
        let l1 = layer_tar("x", b"x");
        let gz = gzip(&l1);
        let config = config_for(&[&l1]);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": {"mediaType": media::OCI_CONFIG, "digest": format!("sha256:{}", sha256_of(&config)), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{}", sha256_of(&gz)), "size": gz.len()}],
        }))
        .unwrap();
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": media::OCI_MANIFEST, "digest": format!("sha256:{}", sha256_of(&manifest)), "size": manifest.len(),
                "annotations": {ANNOTATION_IMAGE_NAME: "docker.io/library/app:v1", ANNOTATION_REF_NAME: "v1"}}],
        }))
        .unwrap();
        let names = [
            format!("blobs/sha256/{}", sha256_of(&config)),
            format!("blobs/sha256/{}", sha256_of(&gz)),
            format!("blobs/sha256/{}", sha256_of(&manifest)),
        ];
        let archive = tar_of(&[
            ("oci-layout", OCI_LAYOUT),
            (&names[0], &config),
            (&names[1], &gz),
            (&names[2], &manifest),
            ("index.json", &index),
        ]);
        let scratch = tempfile::tempdir().unwrap();
        let loaded = read_archive(&archive[..], scratch.path()).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].repo_tags, ["app:v1"]);
        assert_eq!(
            loaded[0].layers[0].digest,
            format!("sha256:{}", sha256_of(&gz))
        );
    }

    fn load_err(archive: &[u8]) -> ArchiveError {
        let scratch = tempfile::tempdir().unwrap();
        let err = read_archive(archive, scratch.path()).err().unwrap();
        assert_eq!(scratch_files(scratch.path()), 0, "files left after {err}");
        err
    }

    #[test]
    fn malformed_archives_are_rejected() {
        let l1 = layer_tar("a", b"a");
        let config = config_for(&[&l1]);
        let cfg = format!("blobs/sha256/{}", sha256_of(&config));
        let lay = format!("blobs/sha256/{}", sha256_of(&l1));
        let manifest = |layers: &[&str]| {
            serde_json::to_vec(
                &serde_json::json!([{"Config": cfg, "RepoTags": null, "Layers": layers}]),
            )
            .unwrap()
        };

        let err = load_err(&tar_of(&[("oci-layout", OCI_LAYOUT)]));
        assert!(matches!(err, ArchiveError::MissingManifest), "{err}");

        let err = load_err(&tar_of(&[("manifest.json", b"[{not json")]));
        assert!(matches!(err, ArchiveError::Json { .. }), "{err}");

        let err = load_err(&tar_of(&[("manifest.json", b"null")]));
        assert!(matches!(err, ArchiveError::Invalid(_)), "{err}");

        let m = manifest(&[&lay]);
        let err = load_err(&tar_of(&[(&cfg, &config), ("manifest.json", &m)]));
        assert!(
            matches!(err, ArchiveError::MissingBlob { ref path, .. } if *path == lay),
            "{err}"
        );

        // Layer count differs from the config's diff IDs.
        let m = manifest(&[]);
        let err = load_err(&tar_of(&[(&cfg, &config), ("manifest.json", &m)]));
        assert!(matches!(err, ArchiveError::Image { .. }), "{err}");

        // A blob whose content does not match its name.
        let m = manifest(&[&lay]);
        let err = load_err(&tar_of(&[
            (&cfg, &config),
            (&lay, b"tampered"),
            ("manifest.json", &m),
        ]));
        assert!(matches!(err, ArchiveError::DigestMismatch { .. }), "{err}");

        // An uncompressed legacy layer that is not its diff ID.
        let m =
            serde_json::to_vec(&serde_json::json!([{"Config": cfg, "Layers": ["x/layer.tar"]}]))
                .unwrap();
        let other = layer_tar("b", b"b");
        let err = load_err(&tar_of(&[
            (&cfg, &config),
            ("x/layer.tar", &other),
            ("manifest.json", &m),
        ]));
        assert!(matches!(err, ArchiveError::DigestMismatch { .. }), "{err}");

        // Config that is not JSON.
        let bad_cfg = b"not json";
        let m =
            serde_json::to_vec(&serde_json::json!([{"Config": "c.json", "Layers": []}])).unwrap();
        let err = load_err(&tar_of(&[("c.json", bad_cfg), ("manifest.json", &m)]));
        assert!(matches!(err, ArchiveError::Image { .. }), "{err}");
    }

    #[test]
    fn paths_cannot_escape() {
        // A `..` entry name is refused outright.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = file_header(1);
        h.as_old_mut().name[..12].copy_from_slice(b"../../escape");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let archive = b.into_inner().unwrap();
        let err = load_err(&archive);
        assert!(matches!(err, ArchiveError::Escape(_)), "{err}");

        // A manifest pointing through a symlink out of the archive finds nothing, reads nothing.
        let host = tempfile::tempdir().unwrap();
        std::fs::write(host.path().join("secret.json"), b"{}").unwrap();
        let target = host.path().join("secret.json").display().to_string();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = file_header(0);
        h.set_entry_type(tar::EntryType::Symlink);
        b.append_link(&mut h, "cfg.json", &target).unwrap();
        let m = br#"[{"Config":"cfg.json","Layers":[]},{"Config":"../../../../etc/passwd","Layers":[]}]"#;
        let mut h = file_header(m.len() as u64);
        b.append_data(&mut h, "manifest.json", &m[..]).unwrap();
        let archive = b.into_inner().unwrap();
        let err = load_err(&archive);
        assert!(matches!(err, ArchiveError::MissingBlob { .. }), "{err}");
    }

    #[test]
    fn repo_tags_normalize() {
        let rt = parse_repo_tag("busybox").unwrap();
        assert_eq!(
            (
                rt.familiar.as_str(),
                rt.full.as_str(),
                rt.familiar_repo.as_str(),
                rt.tag.as_str()
            ),
            (
                "busybox:latest",
                "docker.io/library/busybox:latest",
                "busybox",
                "latest"
            )
        );
        let rt = parse_repo_tag("localhost:5000/a/b:v2").unwrap();
        assert_eq!(rt.full, "localhost:5000/a/b:v2");
        assert_eq!(rt.familiar_repo, "localhost:5000/a/b");
        let rt = parse_repo_tag("docker.io/user/app:1").unwrap();
        assert_eq!(rt.familiar, "user/app:1");
        assert!(parse_repo_tag("x@sha256:abcd").is_none());
    }
}
