//! Options shared by the commands that talk to a cluster, and the runtime they run in.

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context;

use crate::k8s;

/// Where the cluster is and which namespace to use.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the in-cluster account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace (default: the kubeconfig context's).
    #[arg(short, long)]
    pub namespace: Option<String>,
}

impl ClusterArgs {
    /// A client, and the namespace to use.
    pub async fn connect(&self) -> anyhow::Result<(k8s::Client, String)> {
        let client = k8s::connect(self.kubeconfig.as_deref())
            .await
            .context("connect to the cluster")?;
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_owned());
        Ok((client, namespace))
    }
}

/// Runs an async command to completion on a fresh runtime.
pub fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?
        .block_on(future)
}

/// `error`, or — when it says the Rollout does not exist — which Rollouts do, with the
/// closest name as a hint.
pub(super) async fn explain_missing(
    client: &crate::k8s::Client,
    namespace: &str,
    name: &str,
    error: anyhow::Error,
) -> anyhow::Error {
    let missing = error.chain().any(|cause| matches!(cause.downcast_ref::<kube::Error>(), Some(kube::Error::Api(status)) if status.code == 404));
    if !missing {
        return error;
    }
    let names: Vec<String> =
        kube::Api::<crate::k8s::crd::Rollout>::namespaced(client.clone(), namespace)
            .list(&kube::api::ListParams::default())
            .await
            .map(|list| list.items.iter().map(kube::ResourceExt::name_any).collect())
            .unwrap_or_default();
    let hint = match crate::hint::closest(name, names.iter().map(String::as_str)) {
        Some(close) => format!("; did you mean {close:?}?"),
        None if names.is_empty() => " (it has none)".to_owned(),
        None => format!(" (it has {})", names.join(", ")),
    };
    anyhow::anyhow!("no Rollout named {name:?} in namespace {namespace:?}{hint}")
}
