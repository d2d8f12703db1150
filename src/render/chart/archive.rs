//! Chart archives: their SHA-256 digest, and unpacking one (a `.tgz` as `helm package`
//! writes it) into a directory, refusing what could escape it or exhaust the disk.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::manifest::Limits;

/// Most entries one chart archive may hold.
pub const MAX_ENTRIES: usize = 10_000;

/// A SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest(String);

impl Digest {
    /// Reads `sha256:<hex>` (OCI) or bare `<hex>` (an index's `digest`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let hex = text.strip_prefix("sha256:").unwrap_or(text);
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(hex.to_ascii_lowercase()))
        } else {
            Err(format!("{text:?} is not a SHA-256 digest"))
        }
    }

    /// The digest of `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        let mut hex = String::with_capacity(64);
        for byte in Sha256::digest(bytes) {
            let _ = write!(hex, "{byte:02x}");
        }
        Self(hex)
    }

    /// Lower-case hex.
    #[must_use]
    pub fn hex(&self) -> &str {
        &self.0
    }

    /// `sha256:<hex>`.
    #[must_use]
    pub fn oci(&self) -> String {
        format!("sha256:{}", self.0)
    }

    /// `Ok` when `bytes` have this digest.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), String> {
        let actual = Self::of(bytes);
        if &actual == self {
            Ok(())
        } else {
            Err(format!(
                "the archive's digest is {}, not the {} its repository gives",
                actual.oci(),
                self.oci()
            ))
        }
    }
}

/// Unpacks the chart archive `bytes` under `into`; the chart's directory (the archive's one
/// top-level directory, holding `Chart.yaml`).
///
/// Only directories and regular files are unpacked; links, devices, absolute paths and `..`
/// are refused, as is going over `limits` (file size, total size) or [`MAX_ENTRIES`].
pub fn unpack(bytes: &[u8], into: &Path, limits: &Limits) -> Result<PathBuf, String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut top: Option<String> = None;
    let mut total = 0_u64;
    let entries = archive
        .entries()
        .map_err(|error| format!("the chart archive cannot be read: {error}"))?;
    for (count, entry) in entries.enumerate() {
        let mut entry =
            entry.map_err(|error| format!("the chart archive cannot be read: {error}"))?;
        if count >= MAX_ENTRIES {
            return Err(format!(
                "the chart archive holds more than {MAX_ENTRIES} entries"
            ));
        }
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|error| format!("the chart archive holds a bad path: {error}"))?
            .into_owned();
        let shown = path.display().to_string();
        let parts = normal_parts(&path)
            .ok_or_else(|| format!("the chart archive's {shown:?} leaves the chart"))?;
        let Some(first) = parts.first() else { continue };
        match &top {
            None => top = Some(first.clone()),
            Some(top) if top != first => {
                return Err(format!(
                    "the chart archive holds {shown:?} beside {top:?}: a chart archive has one top directory"
                ));
            }
            Some(_) => {}
        }
        let target = into.join(parts.join("/"));
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|error| write_error(&shown, &error))?;
            continue;
        }
        if !kind.is_file() {
            return Err(format!(
                "the chart archive's {shown:?} is not a file or a directory (links are refused)"
            ));
        }
        let size = entry.size();
        if size > limits.max_file_bytes {
            return Err(format!(
                "the chart archive's {shown:?} is {size} bytes, over the limit of {} (limits.maxFileBytes)",
                limits.max_file_bytes
            ));
        }
        total += size;
        if total > limits.max_total_bytes {
            return Err(format!(
                "the chart archive unpacks to more than {} bytes (limits.maxTotalBytes)",
                limits.max_total_bytes
            ));
        }
        let mut contents = Vec::new();
        entry
            .by_ref()
            .take(size)
            .read_to_end(&mut contents)
            .map_err(|error| format!("the chart archive cannot be read: {error}"))?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|error| write_error(&shown, &error))?;
        }
        std::fs::write(&target, contents).map_err(|error| write_error(&shown, &error))?;
    }
    let top = top.ok_or("the chart archive is empty")?;
    let chart = into.join(&top);
    if chart.join("Chart.yaml").is_file() {
        Ok(chart)
    } else {
        Err(format!("the chart archive holds no {top}/Chart.yaml"))
    }
}

/// The path's parts when it is relative and has no `..` (`.` parts dropped).
fn normal_parts(path: &Path) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?.to_owned()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts)
}

fn write_error(path: &str, error: &std::io::Error) -> String {
    format!("cannot unpack the chart archive's {path:?}: {error}")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A `.tgz` of `files` (path, contents), as `helm package` writes one.
    pub(in crate::render::chart) fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, contents) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // Written raw, so the tests can hold what `append_data` would refuse (`..`).
            let name = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *contents).expect("append");
        }
        builder
            .into_inner()
            .and_then(flate2::write::GzEncoder::finish)
            .expect("finish")
    }

    fn with_link(target: &str) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder
            .append_link(&mut header, "web/templates/x.yaml", target)
            .expect("link");
        builder
            .into_inner()
            .and_then(flate2::write::GzEncoder::finish)
            .expect("finish")
    }

    #[test]
    fn a_chart_archive_unpacks_into_its_directory() {
        let dir = tempdir();
        let bytes = archive(&[
            (
                "web/Chart.yaml",
                b"apiVersion: v2\nname: web\nversion: 1.0.0\n",
            ),
            ("web/templates/cm.yaml", b"kind: ConfigMap\n"),
            ("./web/charts/db/Chart.yaml", b"name: db\n"),
        ]);
        let chart = unpack(&bytes, dir.path(), &Limits::default()).expect("unpacks");
        assert_eq!(chart, dir.path().join("web"));
        assert_eq!(
            std::fs::read_to_string(chart.join("templates/cm.yaml")).expect("file"),
            "kind: ConfigMap\n"
        );
        assert!(chart.join("charts/db/Chart.yaml").is_file());
    }

    #[test]
    fn what_could_escape_or_exhaust_is_refused() {
        let chart_yaml: &[u8] = b"name: web\n";
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                archive(&[("web/Chart.yaml", chart_yaml), ("web/../../evil", b"x")]),
                "leaves the chart",
            ),
            (archive(&[("/etc/evil", b"x")]), "leaves the chart"),
            (with_link("../../../etc/passwd"), "links are refused"),
            (
                archive(&[
                    ("web/Chart.yaml", chart_yaml),
                    ("api/Chart.yaml", chart_yaml),
                ]),
                "one top directory",
            ),
            (
                archive(&[("web/values.yaml", b"a: 1\n")]),
                "no web/Chart.yaml",
            ),
            (archive(&[]), "empty"),
            (b"not gzip at all".to_vec(), "cannot be read"),
        ];
        for (bytes, expected) in cases {
            let dir = tempdir();
            let error = unpack(&bytes, dir.path(), &Limits::default()).expect_err(expected);
            assert!(error.contains(expected), "{expected}: {error}");
            assert!(!dir.path().parent().expect("parent").join("evil").exists());
        }
    }

    #[test]
    fn a_failed_write_names_the_entry() {
        let dir = tempdir();
        let blocked = dir.path().join("blocked");
        std::fs::write(&blocked, "a file, not a directory").expect("file");
        let bytes = archive(&[("web/Chart.yaml", b"name: web\n")]);
        let error = unpack(&bytes, &blocked, &Limits::default()).expect_err("cannot write");
        assert!(
            error.starts_with("cannot unpack the chart archive's \"web/Chart.yaml\": "),
            "{error}"
        );
    }

    #[test]
    fn limits_bound_what_unpacks() {
        let big = vec![b'a'; 600];
        let bytes = archive(&[
            ("web/Chart.yaml", b"name: web\n"),
            ("web/a", &big),
            ("web/b", &big),
        ]);
        let limits = |file, total| Limits {
            max_file_bytes: file,
            max_total_bytes: total,
            ..Limits::default()
        };
        let dir = tempdir();
        unpack(&bytes, dir.path(), &limits(600, 1210)).expect("exactly at the limits");
        let error = unpack(&bytes, tempdir().path(), &limits(599, 10_000)).expect_err("file");
        assert!(error.contains("limits.maxFileBytes"), "{error}");
        let error = unpack(&bytes, tempdir().path(), &limits(600, 1209)).expect_err("total");
        assert!(error.contains("limits.maxTotalBytes"), "{error}");
    }

    #[test]
    fn digests_are_checked() {
        let digest = Digest::of(b"chart");
        assert_eq!(Digest::parse(&digest.oci()).expect("oci"), digest);
        assert_eq!(
            Digest::parse(&digest.hex().to_uppercase()).expect("hex"),
            digest
        );
        digest.verify(b"chart").expect("same bytes");
        let error = digest.verify(b"chart!").expect_err("other bytes");
        assert!(error.contains("not the sha256:"), "{error}");
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(&"g".repeat(64)).is_err());
    }

    fn tempdir() -> crate::render::checkout::WorkDir {
        crate::render::checkout::WorkDir::new().expect("work dir")
    }
}
