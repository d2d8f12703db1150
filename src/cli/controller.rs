//! `tidegate controller`: runs the Rollout and AnalysisRun controllers until interrupted
//! (SIGINT or SIGTERM).

use crate::controller::{self, Scope};

use super::cluster::{ClusterArgs, block_on};

/// Arguments of `tidegate controller`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Without `--namespace`, Rollouts of every namespace are managed.
    #[command(flatten)]
    cluster: ClusterArgs,
    /// A host analysis may reach (`name`, `*.suffix`, `10.0.0.0/8`); repeatable. Default:
    /// in-cluster Services only (`*.svc`, `*.svc.cluster.local`, `*.cluster.local`).
    #[arg(long = "analysis-allowed-host", value_name = "PATTERN")]
    analysis_allowed_hosts: Vec<String>,
    /// Where analysis providers' Secrets (`datadog`, `newrelic`, `influxdb`,
    /// `wavefront-api-tokens`) are read.
    #[arg(long, value_name = "NAMESPACE", default_value = "tidegate-system")]
    provider_secrets_namespace: String,
}

/// Runs the controller.
pub fn run(args: &Args) -> anyhow::Result<()> {
    crate::telemetry::init(&crate::config::LoggingConfig::default());
    block_on(async {
        let (client, namespace) = args.cluster.connect().await?;
        let scope = match &args.cluster.namespace {
            Some(_) => Scope::Namespace(namespace),
            None => Scope::Cluster,
        };
        tracing::info!(?scope, "starting the Rollout controller");
        let guard = if args.analysis_allowed_hosts.is_empty() {
            crate::analysis::guard::HostGuard::default()
        } else {
            crate::analysis::guard::HostGuard::new(&args.analysis_allowed_hosts)
                .map_err(anyhow::Error::msg)?
        };
        let analysis = crate::analysis::controller::Settings {
            guard,
            metrics: std::sync::Arc::default(),
            namespace: args.provider_secrets_namespace.clone(),
        };
        controller::run_all(client, scope, analysis, shutdown_signal()).await;
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
