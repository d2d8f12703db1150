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
