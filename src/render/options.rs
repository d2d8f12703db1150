//! What a source may say about how it is rendered (Argo CD's Application fields, under the
//! same names), and where the renderers are.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Helm chart source (the source's `path` holds `Chart.yaml`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmOptions {
    /// The release name (default: the source's name).
    #[serde(default)]
    pub release_name: Option<String>,
    /// `.Release.Namespace` (default: the source's `namespace`, else `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Values files, relative to the chart's directory, in order; inside the repository only.
    #[serde(default, alias = "valuesFiles")]
    pub value_files: Vec<String>,
    /// Values as YAML text, applied after the files.
    #[serde(default)]
    pub values: Option<String>,
    /// Values as a mapping, applied after `values`.
    #[serde(default)]
    pub values_object: Option<serde_json::Map<String, serde_json::Value>>,
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
}

impl Default for Renderers {
    fn default() -> Self {
        Self {
            helm: default_helm(),
            kustomize: default_kustomize(),
        }
    }
}

fn default_helm() -> String {
    "helm".to_owned()
}

fn default_kustomize() -> String {
    "kustomize".to_owned()
}
