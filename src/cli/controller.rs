//! `tidegate controller`: runs the Rollout controller until interrupted (SIGINT or SIGTERM).

use crate::controller::{self, Scope};

use super::cluster::{ClusterArgs, block_on};

/// Arguments of `tidegate controller`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Without `--namespace`, Rollouts of every namespace are managed.
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Runs the controller.
pub fn run(args: &Args) -> anyhow::Result<()> {
    crate::telemetry::init();
    block_on(async {
        let (client, namespace) = args.cluster.connect().await?;
        let scope = match &args.cluster.namespace {
            Some(_) => Scope::Namespace(namespace),
            None => Scope::Cluster,
        };
        tracing::info!(?scope, "starting the Rollout controller");
        controller::run(client, scope, shutdown_signal()).await;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Completes on SIGINT or SIGTERM.
pub(super) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing a SIGTERM handler succeeds on unix");
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
