//! HTTP chart repositories, pure: where a repository's `index.yaml` is, and which archive
//! (address and digest) its index gives for a chart and version constraint.

use std::collections::BTreeMap;

use reqwest::Url;
use serde::Deserialize;

use super::archive::Digest;
use super::version::{self, Constraint};

/// A repository's address as a base that relative chart addresses resolve against.
pub fn base(repository: &str) -> Result<Url, String> {
    let mut url = Url::parse(repository)
        .map_err(|error| format!("chart repository {repository:?}: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "chart repository {repository:?}: an HTTP repository is http:// or https:// (an OCI registry is oci://)"
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The repository's index.
#[must_use]
pub fn index_url(base: &Url) -> Url {
    base.join("index.yaml").unwrap_or_else(|_| base.clone())
}

/// The archive a chart's index entry points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The version, as the index writes it.
    pub version: String,
    /// Its first address, resolved against the repository (as Helm resolves it).
    pub url: Url,
    /// The archive's SHA-256, when the index gives it (`helm repo index` always does).
    pub digest: Option<Digest>,
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    entries: BTreeMap<String, Vec<IndexEntry>>,
}

#[derive(Deserialize)]
struct IndexEntry {
    version: String,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    digest: Option<String>,
}

/// The newest version of `name` in the index `text` that `constraint` allows.
pub fn choose(
    text: &str,
    base: &Url,
    name: &str,
    constraint: Option<&Constraint>,
) -> Result<Entry, String> {
    let index: Index = serde_saphyr::from_str(text)
        .map_err(|error| format!("{} is not a chart index: {error}", index_url(base)))?;
    let Some(entries) = index.entries.get(name) else {
        return Err(format!("{} lists no chart named {name:?}", index_url(base)));
    };
    let Some(chosen) = version::newest(entries.iter().map(|e| e.version.as_str()), constraint)
    else {
        return Err(no_version(name, entries.iter().map(|e| e.version.as_str())));
    };
    let entry = entries
        .iter()
        .find(|entry| entry.version == chosen)
        .ok_or_else(|| format!("chart {name} {chosen} vanished from the index"))?;
    let first = entry
        .urls
        .first()
        .ok_or_else(|| format!("the index gives no address for chart {name} {chosen}"))?;
    let url = base
        .join(first)
        .map_err(|error| format!("chart {name} {chosen}: address {first:?}: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "chart {name} {chosen}: address {url} is not http:// or https://"
        ));
    }
    let digest = entry
        .digest
        .as_deref()
        .map(|text| {
            Digest::parse(text).map_err(|why| format!("chart {name} {chosen}: digest: {why}"))
        })
        .transpose()?;
    Ok(Entry {
        version: chosen.to_owned(),
        url,
        digest,
    })
}

/// "No version matches", with the versions there are (newest last, at most ten).
pub fn no_version<'a>(name: &str, versions: impl Iterator<Item = &'a str>) -> String {
    let mut versions: Vec<&str> = versions.collect();
    versions.sort_by(
        |a, b| match (version::full_version(a), version::full_version(b)) {
            (Some(a), Some(b)) => a.cmp_precedence(&b),
            _ => a.cmp(b),
        },
    );
    let shown = versions.len().saturating_sub(10);
    format!(
        "no version of chart {name} satisfies the constraint (there are: {})",
        if versions.is_empty() {
            "none".to_owned()
        } else {
            versions[shown..].join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "apiVersion: v1
entries:
  web:
    - version: 1.2.0
      urls: [web-1.2.0.tgz]
      digest: 0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
    - version: 1.10.0
      urls: [https://cdn.example.com/charts/web-1.10.0.tgz]
    - version: 2.0.0-rc.1
      urls: [web-2.0.0-rc.1.tgz]
  empty:
    - version: 1.0.0
      urls: []
generated: 2026-12-01T00:00:00Z
";

    fn url(text: &str) -> Url {
        Url::parse(text).expect("url")
    }

    #[test]
    fn the_base_ends_with_a_slash_so_relative_addresses_stay_under_it() {
        let base = base("https://charts.example.com/stable").expect("base");
        assert_eq!(
            index_url(&base).as_str(),
            "https://charts.example.com/stable/index.yaml"
        );
        let entry = choose(
            INDEX,
            &base,
            "web",
            Some(&Constraint::parse("1.2.x").expect("constraint")),
        )
        .expect("entry");
        assert_eq!(
            entry.url.as_str(),
            "https://charts.example.com/stable/web-1.2.0.tgz"
        );
        assert_eq!(
            entry.digest.expect("digest").hex(),
            "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
        );
    }

    #[test]
    fn the_newest_stable_version_and_absolute_addresses() {
        let entry = choose(INDEX, &url("http://127.0.0.1:8080/"), "web", None).expect("entry");
        assert_eq!(entry.version, "1.10.0");
        assert_eq!(
            entry.url.as_str(),
            "https://cdn.example.com/charts/web-1.10.0.tgz"
        );
        assert_eq!(entry.digest, None);
    }

    #[test]
    fn what_cannot_be_chosen_is_named() {
        let base = url("http://127.0.0.1:8080/");
        let error = choose(INDEX, &base, "api", None).expect_err("no chart");
        assert!(error.contains("lists no chart named \"api\""), "{error}");
        let constraint = Constraint::parse("3.x").expect("constraint");
        let error = choose(INDEX, &base, "web", Some(&constraint)).expect_err("no version");
        assert!(
            error.contains("there are: 1.2.0, 1.10.0, 2.0.0-rc.1"),
            "{error}"
        );
        let error = choose(INDEX, &base, "empty", None).expect_err("no url");
        assert!(error.contains("no address"), "{error}");
        let error = choose("entries: [", &base, "web", None).expect_err("not yaml");
        assert!(error.contains("is not a chart index"), "{error}");
        assert!(super::base("oci://registry.example.com/charts").is_err());
        let sneaky = "entries:\n  web:\n    - version: 1.0.0\n      urls: [file:///etc/passwd]\n";
        let error = choose(sneaky, &base, "web", None).expect_err("file url");
        assert!(error.contains("is not http:// or https://"), "{error}");
    }
}
