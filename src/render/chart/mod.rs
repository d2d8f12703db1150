//! Charts from chart repositories: an HTTP repository's `index.yaml` or an OCI registry's
//! tags pick the newest version the source's constraint allows; the archive is fetched (or
//! taken from the cache, where archives are kept by their SHA-256), its digest checked
//! against what the repository gives, and unpacked for `helm template` — which itself never
//! touches the network or the credentials.

pub mod archive;
pub mod dependencies;
mod http;
pub mod index;
pub mod oci;
pub mod version;

use std::path::{Path, PathBuf};
use std::time::Duration;

use archive::Digest;
use http::Sender;
use reqwest::Url;
use version::Constraint;

use super::options::ChartReference;
use crate::manifest::Limits;

/// Largest index or manifest read.
const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;
/// Most pages of tags read from a registry.
const MAX_TAG_PAGES: usize = 100;

/// A chart, unpacked.
#[derive(Debug)]
pub struct Fetched {
    /// Its directory (holding `Chart.yaml`).
    pub dir: PathBuf,
    /// The version chosen.
    pub version: String,
    /// Its archive's digest.
    pub digest: Digest,
    /// Taken from the cache, not the network.
    pub cached: bool,
}

/// Fetches the chart `reference` names and unpacks it under `into`; archives are kept in
/// `cache` by digest (none: not kept).
pub fn fetch(
    reference: &ChartReference,
    cache: Option<&Path>,
    into: &Path,
    limits: &Limits,
) -> Result<Fetched, String> {
    let constraint = reference
        .version
        .as_deref()
        .filter(|text| !text.trim().is_empty())
        .map(Constraint::parse)
        .transpose()?;
    let credentials = reference
        .auth
        .as_ref()
        .map(|auth| {
            auth.password
                .read()
                .map(|password| (auth.username.clone(), password))
                .map_err(|error| format!("chart repository credentials: {error}"))
        })
        .transpose()?;
    let timeout = Duration::from_secs(limits.render_timeout_seconds);
    let Chosen {
        version,
        digest,
        bytes,
        cached,
    } = if reference.repository.starts_with("oci://") {
        let chart = oci::Chart::new(&reference.repository, &reference.name, reference.plain_http)?;
        let mut sender = Sender::new(&chart.registry, credentials, timeout, chart.pull_scope())?;
        from_registry(&mut sender, &chart, constraint.as_ref(), cache, limits)?
    } else {
        let base = index::base(&reference.repository)?;
        let mut sender = Sender::new(&base, credentials, timeout, String::new())?;
        from_index(
            &mut sender,
            &base,
            reference,
            constraint.as_ref(),
            cache,
            limits,
        )?
    };
    let dir = archive::unpack(&bytes, into, limits)
        .map_err(|why| format!("chart {} {version}: {why}", reference.name))?;
    Ok(Fetched {
        dir,
        version,
        digest,
        cached,
    })
}

/// The version chosen and its archive.
struct Chosen {
    version: String,
    digest: Digest,
    bytes: Vec<u8>,
    cached: bool,
}

fn from_index(
    sender: &mut Sender,
    base: &Url,
    reference: &ChartReference,
    constraint: Option<&Constraint>,
    cache: Option<&Path>,
    limits: &Limits,
) -> Result<Chosen, String> {
    let index = sender.get(&index::index_url(base), None, MAX_INDEX_BYTES)?;
    let text = String::from_utf8(index.body)
        .map_err(|_| format!("{} is not UTF-8 text", index::index_url(base)))?;
    let entry = index::choose(&text, base, &reference.name, constraint)?;
    if let Some(digest) = entry.digest.clone()
        && let Some(bytes) = read_cached(cache, &digest)
    {
        return Ok(Chosen {
            version: entry.version,
            digest,
            bytes,
            cached: true,
        });
    }
    let bytes = sender.get(&entry.url, None, limits.max_total_bytes)?.body;
    let digest = match entry.digest {
        Some(digest) => {
            digest
                .verify(&bytes)
                .map_err(|why| format!("chart {} {}: {why}", reference.name, entry.version))?;
            digest
        }
        None => Digest::of(&bytes),
    };
    store(cache, &digest, &bytes);
    Ok(Chosen {
        version: entry.version,
        digest,
        bytes,
        cached: false,
    })
}

fn from_registry(
    sender: &mut Sender,
    chart: &oci::Chart,
    constraint: Option<&Constraint>,
    cache: Option<&Path>,
    limits: &Limits,
) -> Result<Chosen, String> {
    let mut versions = Vec::new();
    let mut page = Some(chart.tags_url());
    for _ in 0..MAX_TAG_PAGES {
        let Some(url) = page.take() else { break };
        let answer = sender.get(&url, None, MAX_INDEX_BYTES)?;
        versions.extend(
            oci::tags(&answer.body)?
                .iter()
                .map(|tag| oci::version_of_tag(tag)),
        );
        page = oci::next_page(answer.link.as_deref(), &url);
    }
    let name = chart.repository.rsplit('/').next().unwrap_or_default();
    let version = version::newest(versions.iter().map(String::as_str), constraint)
        .ok_or_else(|| index::no_version(name, versions.iter().map(String::as_str)))?
        .to_owned();
    let manifest = sender.get(
        &chart.manifest_url(&oci::tag_of_version(&version)),
        Some(oci::MANIFEST_ACCEPT),
        MAX_INDEX_BYTES,
    )?;
    let (digest, size) = oci::chart_layer(&manifest.body)?;
    if let Some(bytes) = read_cached(cache, &digest) {
        return Ok(Chosen {
            version,
            digest,
            bytes,
            cached: true,
        });
    }
    if size > limits.max_total_bytes {
        return Err(format!(
            "chart {name} {version} is {size} bytes, over the limit of {} (limits.maxTotalBytes)",
            limits.max_total_bytes
        ));
    }
    let bytes = sender
        .get(&chart.blob_url(&digest), None, limits.max_total_bytes)?
        .body;
    digest
        .verify(&bytes)
        .map_err(|why| format!("chart {name} {version}: {why}"))?;
    store(cache, &digest, &bytes);
    Ok(Chosen {
        version,
        digest,
        bytes,
        cached: false,
    })
}

/// Where the archive with `digest` is kept.
fn cached_path(cache: &Path, digest: &Digest) -> PathBuf {
    cache.join("sha256").join(format!("{}.tgz", digest.hex()))
}

/// The kept archive with `digest`, if it is there and intact (a damaged one is removed).
fn read_cached(cache: Option<&Path>, digest: &Digest) -> Option<Vec<u8>> {
    let path = cached_path(cache?, digest);
    let bytes = std::fs::read(&path).ok()?;
    if digest.verify(&bytes).is_ok() {
        Some(bytes)
    } else {
        tracing::warn!(path = %path.display(), "a cached chart archive is damaged; fetching it again");
        let _ = std::fs::remove_file(&path);
        None
    }
}

/// Keeps the archive (written aside, then renamed into place: a reader never sees half of
/// one). Failing to keep it only costs a download next time.
fn store(cache: Option<&Path>, digest: &Digest, bytes: &[u8]) {
    let Some(cache) = cache else { return };
    let path = cached_path(cache, digest);
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    let kept = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&partial, bytes))
        .and_then(|()| std::fs::rename(&partial, &path));
    if let Err(error) = kept {
        let _ = std::fs::remove_file(&partial);
        tracing::warn!(path = %path.display(), %error, "cannot keep a chart archive in the cache");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_archives_by_digest_and_drops_damaged_ones() {
        let dir = crate::render::checkout::WorkDir::new().expect("dir");
        let cache = dir.path().join("charts");
        let bytes = b"an archive".to_vec();
        let digest = Digest::of(&bytes);
        assert_eq!(read_cached(Some(&cache), &digest), None);
        store(Some(&cache), &digest, &bytes);
        assert_eq!(read_cached(Some(&cache), &digest), Some(bytes));
        assert_eq!(read_cached(None, &digest), None);
        std::fs::write(cached_path(&cache, &digest), b"tampered").expect("write");
        assert_eq!(read_cached(Some(&cache), &digest), None);
        assert!(!cached_path(&cache, &digest).exists());
        store(None, &digest, b"nowhere");
    }

    /// Runs `fetch` of chart `web` from a registry answering `script` in order; the result
    /// and the paths asked for.
    async fn fetch_from(
        script: Vec<crate::recorder::Answer<String>>,
        version: Option<&str>,
        cache: &Path,
        limits: Limits,
    ) -> (Result<Fetched, String>, Vec<String>) {
        let (registry, url) = crate::recorder::Recorder::start(script).await;
        let reference = ChartReference {
            repository: format!("oci://{}/charts", url.trim_start_matches("http://")),
            name: "web".into(),
            version: version.map(str::to_owned),
            auth: None,
            plain_http: true,
        };
        let cache = cache.to_owned();
        let fetched = tokio::task::spawn_blocking(move || {
            let into = crate::render::checkout::WorkDir::new().expect("dir");
            fetch(&reference, Some(&cache), into.path(), &limits).map(|mut fetched| {
                // The unpacked directory goes with `into`; keep only its name.
                fetched.dir = fetched.dir.file_name().expect("name").into();
                fetched
            })
        })
        .await
        .expect("joined");
        let paths = registry.take().into_iter().map(|seen| seen.uri).collect();
        (fetched, paths)
    }

    fn tags() -> crate::recorder::Answer<String> {
        let tags =
            r#"{"name":"charts/web","tags":["1.0.0","1.2.0","2.0.0","2.1.0-rc.1","latest"]}"#;
        (200, vec![], tags.to_owned())
    }

    fn manifest(digest: &Digest, size: usize) -> crate::recorder::Answer<String> {
        let body = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{}","digest":"sha256:{}","size":2}},"layers":[{{"mediaType":"{}","digest":"{}","size":{size}}}]}}"#,
            oci::CHART_CONFIG,
            "0".repeat(64),
            oci::CHART_LAYER,
            digest.oci()
        );
        (200, vec![], body)
    }

    /// The registry's tags pick the version (a constraint, or the newest stable when there is
    /// none or it is blank); a layer in the cache is not downloaded; an oversized layer is
    /// refused before its download; a layer whose bytes are not its digest is refused.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_registry_chart_is_chosen_by_its_tags_and_checked() {
        let dir = crate::render::checkout::WorkDir::new().expect("dir");
        let cache = dir.path().join("charts");
        let chart = archive::tests::archive(&[("web/Chart.yaml", b"name: web\nversion: 1.2.0\n")]);
        let digest = Digest::of(&chart);
        store(Some(&cache), &digest, &chart);
        let (fetched, paths) = fetch_from(
            vec![tags(), manifest(&digest, chart.len())],
            Some("^1"),
            &cache,
            Limits::default(),
        )
        .await;
        let fetched = fetched.expect("fetched");
        assert_eq!(
            (
                fetched.version.as_str(),
                fetched.cached,
                fetched.dir.to_str()
            ),
            ("1.2.0", true, Some("web"))
        );
        assert_eq!(
            paths,
            [
                "/v2/charts/web/tags/list?n=1000",
                "/v2/charts/web/manifests/1.2.0"
            ]
        );
        for version in [None, Some(" ")] {
            let (fetched, paths) = fetch_from(
                vec![tags(), manifest(&digest, chart.len())],
                version,
                &cache,
                Limits::default(),
            )
            .await;
            assert_eq!(fetched.expect("fetched").version, "2.0.0", "{version:?}");
            assert_eq!(paths[1], "/v2/charts/web/manifests/2.0.0");
        }

        let other = Digest::of(b"not in the cache");
        let small = Limits {
            max_total_bytes: 100,
            ..Limits::default()
        };
        let (refused, paths) = fetch_from(
            vec![tags(), manifest(&other, 101)],
            None,
            &cache,
            small.clone(),
        )
        .await;
        assert!(
            refused
                .expect_err("too big")
                .contains("is 101 bytes, over the limit of 100")
        );
        assert_eq!(paths.len(), 2, "no download: {paths:?}");
        let (refused, paths) = fetch_from(
            vec![
                tags(),
                manifest(&other, 100),
                (200, vec![], "tampered".to_owned()),
            ],
            None,
            &cache,
            small,
        )
        .await;
        assert!(
            refused
                .expect_err("digest")
                .contains("the archive's digest is")
        );
        assert_eq!(paths[2], format!("/v2/charts/web/blobs/{}", other.oci()));
    }
}
