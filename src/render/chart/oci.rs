//! Charts in OCI registries, pure: the distribution API's addresses for a chart's tags,
//! manifest and archive, reading its answers (tag pages, the chart layer of a manifest), and
//! the registry's authentication challenge (basic, or a bearer token from its token service).

use reqwest::Url;
use serde::Deserialize;

use super::archive::Digest;

/// The media type Helm gives a chart's archive layer.
pub const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// The media type of a Helm chart's config blob.
pub const CHART_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
/// What a manifest request accepts.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json";

/// A chart's repository in a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// `https://host[:port]/` (or `http://` for a plain-HTTP registry).
    pub registry: Url,
    /// `namespace/name`.
    pub repository: String,
}

impl Chart {
    /// The chart `name` under `reference` (`oci://host[:port]/namespace`).
    pub fn new(reference: &str, name: &str, plain_http: bool) -> Result<Self, String> {
        let rest = reference.strip_prefix("oci://").ok_or_else(|| {
            format!("chart repository {reference:?}: an OCI registry is named oci://host/namespace")
        })?;
        let (host, namespace) = rest.split_once('/').unwrap_or((rest, ""));
        let scheme = if plain_http { "http" } else { "https" };
        let registry = Url::parse(&format!("{scheme}://{host}/"))
            .ok()
            .filter(|url| {
                url.path() == "/" && url.username().is_empty() && url.password().is_none()
            })
            .ok_or_else(|| {
                format!("chart repository {reference:?}: {host:?} is not a registry host")
            })?;
        let repository = [namespace.trim_matches('/'), name]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("/");
        if !repository.split('/').all(is_path_component) {
            return Err(format!(
                "chart {name:?} in {reference:?}: {repository:?} is not a registry repository name"
            ));
        }
        Ok(Self {
            registry,
            repository,
        })
    }

    /// The first page of its tags.
    #[must_use]
    pub fn tags_url(&self) -> Url {
        self.api(&format!("tags/list?n={TAGS_PAGE}"))
    }

    /// The manifest of `tag`.
    #[must_use]
    pub fn manifest_url(&self, tag: &str) -> Url {
        self.api(&format!("manifests/{tag}"))
    }

    /// The blob `digest`.
    #[must_use]
    pub fn blob_url(&self, digest: &Digest) -> Url {
        self.api(&format!("blobs/{}", digest.oci()))
    }

    fn api(&self, tail: &str) -> Url {
        let mut url = self.registry.clone();
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        url.set_path(&format!("/v2/{}/{path}", self.repository));
        url.set_query((!query.is_empty()).then_some(query));
        url
    }

    /// The scope a token for pulling it asks for.
    #[must_use]
    pub fn pull_scope(&self) -> String {
        format!("repository:{}:pull", self.repository)
    }
}

/// Tags asked for per page.
pub const TAGS_PAGE: usize = 1000;

/// A registry's path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, loosely.
fn is_path_component(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && part.starts_with(|c: char| c.is_ascii_alphanumeric())
        && part.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A tag as a chart version: Helm writes `+` (build metadata) as `_` in tags.
#[must_use]
pub fn version_of_tag(tag: &str) -> String {
    tag.replace('_', "+")
}

/// A chart version as a tag.
#[must_use]
pub fn tag_of_version(version: &str) -> String {
    version.replace('+', "_")
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// One page of tags.
pub fn tags(body: &[u8]) -> Result<Vec<String>, String> {
    let list: TagList = serde_json::from_slice(body)
        .map_err(|error| format!("the registry's tag list is not JSON: {error}"))?;
    Ok(list.tags.unwrap_or_default())
}

/// The next page of tags, from a `Link: <…>; rel="next"` header, resolved against `current`
/// and kept on its host.
#[must_use]
pub fn next_page(link: Option<&str>, current: &Url) -> Option<Url> {
    let link = link?;
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|param| param.trim().replace(' ', "") == "rel=\"next\"")
            .then(|| current.join(target).ok())
            .flatten()
            .filter(|next| next.origin() == current.origin())
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
}

/// The chart archive's digest and size in a chart's manifest.
pub fn chart_layer(body: &[u8]) -> Result<(Digest, u64), String> {
    let manifest: Manifest = serde_json::from_slice(body)
        .map_err(|error| format!("the registry's manifest is not an OCI manifest: {error}"))?;
    if manifest
        .config
        .as_ref()
        .is_some_and(|config| config.media_type != CHART_CONFIG)
    {
        return Err(
            "the registry's manifest is not a Helm chart's (its config is not a chart's)".into(),
        );
    }
    let mut charts = manifest
        .layers
        .iter()
        .filter(|layer| layer.media_type == CHART_LAYER);
    let (Some(layer), None) = (charts.next(), charts.next()) else {
        return Err(format!(
            "the registry's manifest has no single {CHART_LAYER} layer"
        ));
    };
    Ok((Digest::parse(&layer.digest)?, layer.size))
}

/// How a registry asked to be authenticated (`WWW-Authenticate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Basic credentials on every request.
    Basic,
    /// A bearer token from the token service at `realm`.
    Bearer {
        /// The token service.
        realm: Url,
        /// Its `service` parameter.
        service: Option<String>,
        /// Its `scope` parameter.
        scope: Option<String>,
    },
}

/// Reads a `WWW-Authenticate` header.
#[must_use]
pub fn challenge(header: &str) -> Option<Challenge> {
    let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parameters(params);
    let get = |key: &str| {
        params
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value.clone())
    };
    let realm = Url::parse(&get("realm")?).ok()?;
    Some(Challenge::Bearer {
        realm,
        service: get("service"),
        scope: get("scope"),
    })
}

/// `key="value", key=value` pairs; commas inside quotes stay in the value.
fn parameters(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_owned();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (
                quoted[..end].to_owned(),
                quoted.get(end + 1..).unwrap_or(""),
            )
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        pairs.push((key, value));
        rest = remaining.trim_start().trim_start_matches(',');
    }
    pairs
}

/// The token service request for `challenge`, asking for `scope` when the challenge names
/// none.
#[must_use]
pub fn token_url(realm: &Url, service: Option<&str>, scope: Option<&str>, pull_scope: &str) -> Url {
    let mut url = realm.clone();
    {
        let mut query = url.query_pairs_mut();
        if let Some(service) = service {
            query.append_pair("service", service);
        }
        query.append_pair("scope", scope.unwrap_or(pull_scope));
    }
    url
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// The token in a token service's answer.
pub fn token(body: &[u8]) -> Result<String, String> {
    let answer: TokenAnswer = serde_json::from_slice(body)
        .map_err(|error| format!("the registry's token service answered no JSON: {error}"))?;
    answer
        .token
        .or(answer.access_token)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| "the registry's token service answered no token".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("url")
    }

    #[test]
    fn a_chart_reference_becomes_distribution_api_addresses() {
        let chart = Chart::new("oci://127.0.0.1:5000/team/charts/", "web", true).expect("chart");
        assert_eq!(chart.repository, "team/charts/web");
        assert_eq!(
            chart.tags_url().as_str(),
            "http://127.0.0.1:5000/v2/team/charts/web/tags/list?n=1000"
        );
        assert_eq!(
            chart.manifest_url("1.2.3_build").as_str(),
            "http://127.0.0.1:5000/v2/team/charts/web/manifests/1.2.3_build"
        );
        let digest = Digest::of(b"x");
        assert_eq!(
            chart.blob_url(&digest).as_str(),
            format!(
                "http://127.0.0.1:5000/v2/team/charts/web/blobs/sha256:{}",
                digest.hex()
            )
        );
        assert_eq!(chart.pull_scope(), "repository:team/charts/web:pull");
        let chart = Chart::new("oci://ghcr.io/team-1/charts_2", "web.v2", false).expect("chart");
        assert_eq!(chart.repository, "team-1/charts_2/web.v2");
        let chart = Chart::new("oci://ghcr.io", "web", false).expect("no namespace");
        assert_eq!(
            chart.tags_url().as_str(),
            "https://ghcr.io/v2/web/tags/list?n=1000"
        );
    }

    #[test]
    fn bad_references_are_refused() {
        for (reference, name) in [
            ("https://ghcr.io/charts", "web"),
            ("oci://user:pw@ghcr.io/charts", "web"),
            ("oci://ghcr.io/Charts", "web"),
            ("oci://ghcr.io/charts", "../web"),
            ("oci://ghcr.io/charts", "web?x=1"),
            ("oci:///charts", "web"),
        ] {
            assert!(
                Chart::new(reference, name, false).is_err(),
                "{reference} {name}"
            );
        }
    }

    #[test]
    fn tags_and_versions() {
        assert_eq!(version_of_tag("1.2.3_build.1"), "1.2.3+build.1");
        assert_eq!(tag_of_version("1.2.3+build.1"), "1.2.3_build.1");
        assert_eq!(
            tags(br#"{"name":"web","tags":["1.0.0","latest"]}"#).expect("tags"),
            ["1.0.0", "latest"]
        );
        assert!(
            tags(br#"{"name":"web","tags":null}"#)
                .expect("none")
                .is_empty()
        );
        assert!(tags(b"<html>").is_err());
    }

    #[test]
    fn pages_follow_the_link_header_on_the_same_host_only() {
        let current = url("https://registry.example.com/v2/web/tags/list?n=1000");
        assert_eq!(
            next_page(
                Some(r#"</v2/web/tags/list?last=1.0.0&n=1000>; rel="next""#),
                &current
            )
            .expect("next")
            .as_str(),
            "https://registry.example.com/v2/web/tags/list?last=1.0.0&n=1000"
        );
        assert_eq!(next_page(None, &current), None);
        assert_eq!(
            next_page(Some(r#"</v2/web/tags/list?last=1>; rel="prev""#), &current),
            None
        );
        assert_eq!(
            next_page(
                Some(r#"<https://evil.example.com/v2/web/tags/list>; rel="next""#),
                &current
            ),
            None
        );
    }

    #[test]
    fn the_chart_layer_of_a_manifest() {
        let digest = Digest::of(b"chart");
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{CHART_CONFIG}","digest":"sha256:{0}","size":1}},
               "layers":[{{"mediaType":"application/vnd.cncf.helm.chart.provenance.v1.prov","digest":"sha256:{0}","size":3}},
                         {{"mediaType":"{CHART_LAYER}","digest":"{1}","size":42}}]}}"#,
            "0".repeat(64),
            digest.oci()
        );
        assert_eq!(
            chart_layer(manifest.as_bytes()).expect("layer"),
            (digest, 42)
        );
        let image = r#"{"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:00","size":1},"layers":[]}"#;
        assert!(
            chart_layer(image.as_bytes())
                .expect_err("image")
                .contains("not a Helm chart")
        );
        let none =
            format!(r#"{{"config":{{"mediaType":"{CHART_CONFIG}","digest":"x"}},"layers":[]}}"#);
        assert!(
            chart_layer(none.as_bytes())
                .expect_err("none")
                .contains("no single")
        );
    }

    #[test]
    fn challenges_and_tokens() {
        assert_eq!(
            challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            challenge(
                r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:charts/web:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: url("https://auth.example.com/token"),
                service: Some("registry.example.com".into()),
                scope: Some("repository:charts/web:pull,push".into()),
            })
        );
        assert_eq!(challenge("Negotiate"), None);
        assert_eq!(challenge(r#"Bearer service="x""#), None);
        assert_eq!(
            token_url(
                &url("https://auth.example.com/token"),
                Some("registry"),
                None,
                "repository:web:pull"
            )
            .as_str(),
            "https://auth.example.com/token?service=registry&scope=repository%3Aweb%3Apull"
        );
        assert_eq!(token(br#"{"token":"t1"}"#).expect("token"), "t1");
        assert_eq!(token(br#"{"access_token":"t2"}"#).expect("access"), "t2");
        assert!(token(br#"{"token":""}"#).is_err());
        assert!(token(b"nope").is_err());
    }
}
