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
}

impl Default for Renderers {
    fn default() -> Self {
        Self {
            helm: default_helm(),
            kustomize: default_kustomize(),
            chart_cache: None,
        }
    }
}

fn default_helm() -> String {
    "helm".to_owned()
}

fn default_kustomize() -> String {
    "kustomize".to_owned()
}
