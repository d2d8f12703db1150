//! What a source may say about how it is rendered (Argo CD's Application fields, under the
//! same names), and where the renderers are.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::secret::SecretRef;

/// A Helm chart source: the source's `path` holds `Chart.yaml`, or `chart` names one in a
/// chart repository (then `path` holds only the values files).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmOptions {
    /// A chart from an HTTP chart repository or an OCI registry, instead of one in Git.
    #[serde(default)]
    pub chart: Option<ChartReference>,
    /// The release name (default: the source's name).
    #[serde(default)]
    pub release_name: Option<String>,
    /// `.Release.Namespace` (default: the source's `namespace`, else `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Values files, relative to the source's `path`, in order; inside the repository only.
    #[serde(default, alias = "valuesFiles")]
    pub value_files: Vec<String>,
    /// Values as YAML text, applied after the files.
    #[serde(default)]
    pub values: Option<String>,
    /// Values as a mapping, applied after `values`.
    #[serde(default)]
    pub values_object: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A chart in a chart repository, as `helm pull` names it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartReference {
    /// The repository: an HTTP chart repository (`https://charts.example.com`, serving
    /// `index.yaml`) or an OCI registry and namespace (`oci://registry.example.com/charts`).
    pub repository: String,
    /// The chart's name in the repository.
    pub name: String,
    /// A version or a Helm version constraint (`1.4.2`, `~1.4`, `>=1.2, <2`, `1.x`); the
    /// newest version that satisfies it is taken. Absent: the newest stable version.
    #[serde(default)]
    pub version: Option<String>,
    /// Credentials for the repository (sent to its host only).
    #[serde(default)]
    pub auth: Option<ChartAuth>,
    /// OCI only: talk plain HTTP to the registry (a registry on loopback without TLS).
    #[serde(default)]
    pub plain_http: bool,
}

/// HTTP basic credentials for a chart repository or registry.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartAuth {
    /// The user name.
    pub username: String,
    /// Where to read the password or token.
    pub password: SecretRef,
}

/// A Kustomize source (the source's `path` holds a kustomization) and the overrides applied
/// to it before the build, as `kustomize edit` would write them.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KustomizeOptions {
    /// A prefix for every object's name.
    #[serde(default)]
    pub name_prefix: Option<String>,
    /// A suffix for every object's name.
    #[serde(default)]
    pub name_suffix: Option<String>,
    /// Image overrides, as `kustomize edit set image` takes them (`name=newName:tag`,
    /// `name:tag`, `name@digest`).
    #[serde(default)]
    pub images: Vec<String>,
    /// Labels added to every object (and selector).
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations added to every object.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// The namespace every namespaced object is put in.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Let kustomizations inflate `helmCharts` (charts kept in the repository only).
    #[serde(default)]
    pub enable_helm: bool,
    /// Hosts remote bases and resources may be fetched from (`github.com`); none by default.
    #[serde(default)]
    pub allow_remote_hosts: Vec<String>,
}

/// The renderer programs: names looked up on tidegate's `PATH`, or paths.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Renderers {
    /// The `helm` program (Helm 3).
    #[serde(default = "default_helm")]
    pub helm: String,
    /// The `kustomize` program (Kustomize 5).
    #[serde(default = "default_kustomize")]
    pub kustomize: String,
    /// Where charts from chart repositories are kept, by digest (default: `.charts` in
    /// `state.cacheDir`).
    #[serde(default)]
    pub chart_cache: Option<PathBuf>,
    /// Credentials and settings for chart repositories, matched by URL prefix: for the
    /// dependencies a `Chart.yaml` in Git names, and for a `helm.chart` that sets no `auth`.
    #[serde(default)]
    pub chart_repositories: Vec<ChartRepository>,
}

/// A chart repository's credentials and settings.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartRepository {
    /// The repository's URL, or a prefix of it (`https://charts.example.com`,
    /// `oci://registry.example.com/team`).
    pub url: String,
    /// Credentials (sent to its host only).
    #[serde(default)]
    pub auth: Option<ChartAuth>,
    /// OCI only: talk plain HTTP to the registry (a registry on loopback without TLS).
    #[serde(default)]
    pub plain_http: bool,
}

impl Renderers {
    /// The reference with the settings of the `chartRepositories` entry whose URL is the
    /// longest prefix of its repository, where it sets none itself.
    #[must_use]
    pub fn with_repository_settings(&self, reference: &ChartReference) -> ChartReference {
        let repository = reference.repository.trim_end_matches('/');
        let entry = self
            .chart_repositories
            .iter()
            .filter(|entry| {
                let prefix = entry.url.trim_end_matches('/');
                repository
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .max_by_key(|entry| entry.url.trim_end_matches('/').len());
        let mut reference = reference.clone();
        if let Some(entry) = entry {
            if reference.auth.is_none() {
                reference.auth.clone_from(&entry.auth);
            }
            reference.plain_http |= entry.plain_http;
        }
        reference
    }
}

impl Default for Renderers {
    fn default() -> Self {
        Self {
            helm: default_helm(),
            kustomize: default_kustomize(),
            chart_cache: None,
            chart_repositories: Vec::new(),
        }
    }
}

fn default_helm() -> String {
    "helm".to_owned()
}

fn default_kustomize() -> String {
    "kustomize".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str, user: &str, plain_http: bool) -> ChartRepository {
        ChartRepository {
            url: url.into(),
            auth: Some(ChartAuth {
                username: user.into(),
                password: SecretRef {
                    file: None,
                    env: Some("T".into()),
                },
            }),
            plain_http,
        }
    }

    fn reference(repository: &str) -> ChartReference {
        ChartReference {
            repository: repository.into(),
            name: "web".into(),
            version: None,
            auth: None,
            plain_http: false,
        }
    }

    #[test]
    fn the_renderers_are_found_on_path_by_default() {
        let renderers = Renderers::default();
        assert_eq!(
            (renderers.helm.as_str(), renderers.kustomize.as_str()),
            ("helm", "kustomize")
        );
        let read: Renderers = serde_json::from_str("{}").expect("defaults");
        assert_eq!(read, renderers);
    }

    #[test]
    fn the_longest_prefix_entry_fills_in_what_a_reference_leaves_out() {
        let renderers = Renderers {
            chart_repositories: vec![
                entry("oci://registry.example.com", "all", false),
                entry("oci://registry.example.com/team/", "team", true),
            ],
            ..Renderers::default()
        };
        let user = |repository: &str| {
            let filled = renderers.with_repository_settings(&reference(repository));
            (filled.auth.map(|auth| auth.username), filled.plain_http)
        };
        assert_eq!(
            user("oci://registry.example.com/team"),
            (Some("team".into()), true)
        );
        assert_eq!(
            user("oci://registry.example.com/team/sub/"),
            (Some("team".into()), true)
        );
        assert_eq!(
            user("oci://registry.example.com/teams"),
            (Some("all".into()), false)
        );
        assert_eq!(
            user("oci://registry.example.com.evil.net/team"),
            (None, false)
        );
        let mut own = reference("oci://registry.example.com/team");
        own.auth = entry("x", "own", false).auth;
        assert_eq!(
            renderers
                .with_repository_settings(&own)
                .auth
                .map(|auth| auth.username),
            Some("own".into())
        );
    }
}
