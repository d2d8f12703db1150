//! Each source's sync status, inventory and latest drift report, kept in a ConfigMap
//! (`tidegate-source-<name>` in the state namespace) so they survive a restart and any client
//! (`tidegate status`, a dashboard) can read them from the cluster.

use kube::api::{Patch, PatchParams};
use serde::{Deserialize, Serialize};

use super::report::DriftReport;
use crate::k8s::{self, Api, Client, ConfigMap};

/// The most a stored drift report takes of the ConfigMap's 1 MiB.
const MAX_DRIFT_BYTES: usize = 512 * 1024;

/// The field manager of the status records.
const MANAGER: &str = "tidegate-state";

/// How the latest sync attempt ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncResult {
    /// Nothing attempted yet.
    #[default]
    Pending,
    /// Every object applied (and pruned, if on).
    Applied,
    /// The revision has invalid manifests: nothing applied.
    Invalid,
    /// The apiserver refused an object in a dry run: nothing applied.
    Rejected,
    /// Applying failed part way (a transient error or a late refusal); retried.
    Failed,
    /// The repository could not be fetched; the last good revision stays.
    FetchFailed,
}

impl SyncResult {
    /// Lower-case name, for metrics labels and tables.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Applied => "applied",
            Self::Invalid => "invalid",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::FetchFailed => "fetch-failed",
        }
    }
}

/// An object this source applied.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItem {
    /// `apiVersion` it was applied with.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (none for cluster-scoped kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

/// What identifies an object whatever API version it was applied with: (group, kind,
/// namespace, name). Moving a manifest from `policy/v1beta1` to `policy/v1` is the same object.
pub type Identity = (String, String, Option<String>, String);

impl InventoryItem {
    /// The object's identity.
    #[must_use]
    pub fn identity(&self) -> Identity {
        let group = self
            .api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group);
        (
            group.to_owned(),
            self.kind.clone(),
            self.namespace.clone(),
            self.name.clone(),
        )
    }
}

/// What is known about one source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceStatus {
    /// The source.
    pub source: String,
    /// The latest commit fetched and attempted.
    #[serde(default)]
    pub revision: Option<String>,
    /// The latest commit fully applied (the one live in the cluster).
    #[serde(default)]
    pub applied_revision: Option<String>,
    /// How the latest attempt ended.
    #[serde(default)]
    pub result: SyncResult,
    /// What happened, with every problem for a refused revision.
    #[serde(default)]
    pub message: String,
    /// When the latest attempt ended (RFC 3339).
    #[serde(default)]
    pub time: String,
    /// When the latest fully applied sync ended (RFC 3339).
    #[serde(default)]
    pub applied_time: Option<String>,
    /// Objects applied by this source and not pruned since.
    #[serde(default)]
    pub inventory: Vec<InventoryItem>,
}

/// A record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The apiserver call failed.
    #[error("{action} status record {name}")]
    Api {
        /// read or write.
        action: &'static str,
        /// The ConfigMap.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The record is not valid JSON (edited by hand?).
    #[error("status record {name} is unreadable")]
    Corrupt {
        /// The ConfigMap.
        name: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// The records of every source, in one namespace.
#[derive(Clone)]
pub struct Records {
    api: Api<ConfigMap>,
    namespace: String,
}

/// The ConfigMap name of a source's record.
#[must_use]
pub fn record_name(source: &str) -> String {
    format!("tidegate-source-{source}")
}

impl Records {
    /// Records kept in `namespace`.
    #[must_use]
    pub fn new(client: Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
        }
    }

    /// Makes sure the namespace exists (the daemon's first write).
    pub async fn ensure_namespace(&self, client: &Client) -> Result<(), RecordError> {
        let namespace = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}});
        Api::<k8s::Namespace>::all(client.clone())
            .patch(
                &self.namespace,
                &PatchParams::apply(MANAGER),
                &Patch::Apply(&namespace),
            )
            .await
            .map(drop)
            .map_err(|source| RecordError::Api {
                action: "create namespace for",
                name: self.namespace.clone(),
                source,
            })
    }

    /// The status of `source` (default when never recorded).
    pub async fn status(&self, source: &str) -> Result<SourceStatus, RecordError> {
        let mut status: SourceStatus = self.read(source, "status.json").await?.unwrap_or_default();
        source.clone_into(&mut status.source);
        Ok(status)
    }

    /// The latest drift report of `source`, if any.
    pub async fn drift(&self, source: &str) -> Result<Option<DriftReport>, RecordError> {
        self.read(source, "drift.json").await
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        source: &str,
        key: &str,
    ) -> Result<Option<T>, RecordError> {
        let name = record_name(source);
        let map = self
            .api
            .get_opt(&name)
            .await
            .map_err(|error| RecordError::Api {
                action: "read",
                name: name.clone(),
                source: error,
            })?;
        let Some(text) = map
            .and_then(|map| map.data)
            .and_then(|mut data| data.remove(key))
        else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| RecordError::Corrupt {
                name,
                source: error,
            })
    }

    /// Writes the status of its source.
    pub async fn write_status(&self, status: &SourceStatus) -> Result<(), RecordError> {
        self.write(&status.source, "status.json", status).await
    }

    /// Writes the drift report of its source (cut to fit beside the status).
    pub async fn write_drift(&self, report: &DriftReport) -> Result<(), RecordError> {
        self.write(
            &report.source,
            "drift.json",
            &report.bounded(MAX_DRIFT_BYTES),
        )
        .await
    }

    async fn write<T: Serialize>(
        &self,
        source: &str,
        key: &str,
        value: &T,
    ) -> Result<(), RecordError> {
        let name = record_name(source);
        let text = serde_json::to_string(value).expect("records serialize to JSON");
        let map = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {k8s::labels::SOURCE: source, "app.kubernetes.io/managed-by": "tidegate"}},
            "data": {key: text},
        });
        let params = PatchParams::apply(&format!("{MANAGER}-{}", key.trim_end_matches(".json")));
        self.api
            .patch(&name, &params, &Patch::Apply(&map))
            .await
            .map(drop)
            .map_err(|error| RecordError::Api {
                action: "write",
                name,
                source: error,
            })
    }
}
