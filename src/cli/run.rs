//! `tidegate run --config tidegate.yaml`: the daemon — every Git source synced, the Rollout
//! controller, the HTTP server — until SIGINT or SIGTERM.

use std::path::PathBuf;

use anyhow::Context;

use crate::config::Config;
use crate::controller::Scope;

use super::cluster::{ClusterArgs, block_on};
use super::controller::shutdown_signal;

/// Arguments of `tidegate run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file.
    #[arg(long, short, value_name = "FILE", default_value = "tidegate.yaml")]
    config: PathBuf,
    /// Without `--namespace`, Rollouts of every namespace are managed.
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Sync Git only; leave Rollouts to another controller.
    #[arg(long)]
    no_controller: bool,
}

/// Runs the daemon.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    crate::telemetry::init(&config.logging);
    block_on(async {
        let (client, namespace) = args.cluster.connect().await?;
        let scope = match (&args.cluster.namespace, args.no_controller) {
            (_, true) => None,
            (Some(_), false) => Some(Scope::Namespace(namespace)),
            (None, false) => Some(Scope::Cluster),
        };
        tracing::info!(sources = config.sources.len(), ?scope, "starting tidegate");
        crate::render::tools::log_versions(&config.renderers);
        crate::daemon::run(config, client, scope, shutdown_signal())
            .await
            .context("run the daemon")?;
        tracing::info!("stopped");
        Ok(())
    })
}
