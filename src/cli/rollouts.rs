//! Commands on Rollouts: `get rollout`, `list rollouts`, `promote`, `abort`, `retry`,
//! `restart`.
//! Person actions are recorded in the Rollout's status; the controller acts on them.

use std::io::{IsTerminal, Write};

use anyhow::Context;
use futures::StreamExt;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::cluster::{ClusterArgs, block_on};
use super::render;
use crate::engine;
use crate::k8s::crd::Rollout;
use crate::k8s::{self, ListParams, Pod, ReplicaSet, labels};

/// Field manager of what the CLI writes into a spec.
const CLI_FIELD_MANAGER: &str = "tidegate-cli";

/// `tidegate get ...`.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    #[command(subcommand)]
    what: Get,
}

#[derive(Debug, clap::Subcommand)]
enum Get {
    /// One Rollout in detail: status, steps, revisions, ReplicaSets and pods.
    Rollout {
        /// The Rollout.
        name: String,
        /// Print again whenever it changes, until interrupted.
        #[arg(long, short)]
        watch: bool,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
}

/// `tidegate list ...`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(subcommand)]
    what: List,
}

#[derive(Debug, clap::Subcommand)]
enum List {
    /// Rollouts of a namespace, or of all namespaces with `--all-namespaces`.
    Rollouts {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// List the Rollouts of every namespace.
        #[arg(long, short = 'A', conflicts_with = "namespace")]
        all_namespaces: bool,
    },
}

/// `tidegate promote NAME [--full]`.
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// The Rollout.
    name: String,
    /// Skip every remaining step, pause and analysis.
    #[arg(long)]
    full: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// `tidegate abort NAME` and `tidegate retry NAME`.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// The Rollout.
    name: String,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Runs `tidegate get`.
pub fn get(args: &GetArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let Get::Rollout {
        name,
        watch,
        cluster,
    } = &args.what;
    block_on(async {
        let (client, namespace) = cluster.connect().await?;
        if !*watch {
            let text = detail(&client, &namespace, name).await?;
            return Ok(write!(out, "{text}")?);
        }
        let rollouts = Api::<Rollout>::namespaced(client.clone(), &namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut changes = std::pin::pin!(watcher(rollouts, config).applied_objects());
        let clear = std::io::stdout().is_terminal();
        while let Some(change) = changes.next().await {
            change.context("watch the Rollout")?;
            let text = detail(&client, &namespace, name).await?;
            if clear {
                write!(out, "\x1b[2J\x1b[H")?;
            }
            writeln!(out, "{text}")?;
            out.flush()?;
        }
        Ok(())
    })
}

async fn detail(client: &k8s::Client, namespace: &str, name: &str) -> anyhow::Result<String> {
    let rollout = Api::<Rollout>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .with_context(|| format!("get Rollout {namespace}/{name}"))?;
    let owned = ListParams::default().labels(&format!("{}={name}", labels::ROLLOUT));
    let replica_sets = Api::<ReplicaSet>::namespaced(client.clone(), namespace)
        .list(&owned)
        .await
        .context("list ReplicaSets")?
        .items;
    let hashes: Vec<String> = replica_sets
        .iter()
        .filter_map(|rs| rs.labels().get(labels::POD_TEMPLATE_HASH).cloned())
        .collect();
    let pods = if hashes.is_empty() {
        Vec::new()
    } else {
        let selector = format!("{} in ({})", labels::POD_TEMPLATE_HASH, hashes.join(","));
        Api::<Pod>::namespaced(client.clone(), namespace)
            .list(&ListParams::default().labels(&selector))
            .await
            .context("list pods")?
            .items
    };
    Ok(render::rollout_detail(&rollout, &replica_sets, &pods))
}

/// Runs `tidegate list`.
pub fn list(args: &ListArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let List::Rollouts {
        cluster,
        all_namespaces,
    } = &args.what;
    block_on(async {
        let (client, namespace) = cluster.connect().await?;
        let api: Api<Rollout> = if *all_namespaces {
            Api::all(client)
        } else {
            Api::namespaced(client, &namespace)
        };
        let mut rollouts = api
            .list(&ListParams::default())
            .await
            .context("list Rollouts")?
            .items;
        rollouts.sort_by_key(|rollout| (rollout.namespace(), rollout.name_any()));
        Ok(write!(out, "{}", render::rollout_table(&rollouts))?)
    })
}

/// Runs `tidegate promote`.
pub fn promote(args: &PromoteArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let full = args.full;
    record(
        &args.name,
        &args.cluster,
        out,
        if full { "fully promoted" } else { "promoted" },
        move |rollout, state| {
            if state.abort {
                return Err("it is aborted: retry it first".to_owned());
            }
            if full {
                return Ok(engine::promote_full(state));
            }
            let plan = rollout
                .spec
                .plan()
                .map_err(|errors| format!("its spec is invalid: {errors}"))?;
            Ok(engine::promote(&plan, state))
        },
    )
}

/// Runs `tidegate abort`.
pub fn abort(args: &TargetArgs, out: &mut impl Write) -> anyhow::Result<()> {
    record(&args.name, &args.cluster, out, "aborted", |_, state| {
        Ok(engine::abort(state))
    })
}

/// Runs `tidegate retry`.
pub fn retry(args: &TargetArgs, out: &mut impl Write) -> anyhow::Result<()> {
    record(&args.name, &args.cluster, out, "retried", |_, state| {
        if state.abort {
            Ok(engine::retry(state))
        } else {
            Err("it is not aborted".to_owned())
        }
    })
}

/// Runs `tidegate restart`: sets `spec.restartAt` to now; the controller then replaces every
/// older pod, as many at a time as availability allows.
pub fn restart(args: &TargetArgs, out: &mut impl Write) -> anyhow::Result<()> {
    block_on(async {
        let (client, namespace) = args.cluster.connect().await?;
        let name = &args.name;
        let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())?;
        let patch = serde_json::json!({ "spec": { "restartAt": now.to_string() } });
        let params = kube::api::PatchParams {
            field_manager: Some(CLI_FIELD_MANAGER.to_owned()),
            ..Default::default()
        };
        Api::<Rollout>::namespaced(client, &namespace)
            .patch(name, &params, &kube::api::Patch::Merge(&patch))
            .await
            .with_context(|| format!("set restartAt of Rollout {namespace}/{name}"))?;
        Ok(writeln!(
            out,
            "rollout {namespace}/{name} restarting: pods created before {now} are replaced"
        )?)
    })
}

fn record(
    name: &str,
    cluster: &ClusterArgs,
    out: &mut impl Write,
    done: &str,
    change: impl Fn(&Rollout, &crate::model::RolloutState) -> Result<crate::model::RolloutState, String>,
) -> anyhow::Result<()> {
    block_on(async {
        let (client, namespace) = cluster.connect().await?;
        k8s::act(&client, &namespace, name, change).await?;
        Ok(writeln!(out, "rollout {namespace}/{name} {done}")?)
    })
}
