//! Commands on Rollouts: `get rollout`, `list rollouts`, `promote`, `abort`, `retry`,
//! `restart`, and `terminate analysisrun`; `get`, `list` and `terminate` of experiments go to
//! [`super::experiments`].
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
        /// `table`: the tree view; `json`/`yaml`: the Rollout object.
        #[arg(long, short, value_enum, default_value_t)]
        output: Output,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// One Experiment: its phase, templates and analyses.
    Experiment {
        /// The Experiment.
        name: String,
        /// `table`, or the Experiment object as `json`/`yaml`.
        #[arg(long, short, value_enum, default_value_t)]
        output: Output,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
}

/// How read commands print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// For people (coloured on a terminal unless NO_COLOR is set).
    #[default]
    Table,
    /// The objects as JSON.
    Json,
    /// The objects as YAML.
    Yaml,
}

/// `value` as JSON or YAML, or `None` for a table (the caller renders those).
fn structured(value: &impl serde::Serialize, output: Output) -> anyhow::Result<Option<String>> {
    Ok(match output {
        Output::Table => None,
        Output::Json => Some(format!("{}\n", serde_json::to_string_pretty(value)?)),
        Output::Yaml => Some(serde_saphyr::to_string(value)?),
    })
}

/// Colours when stdout is a terminal and `NO_COLOR` is not set.
fn paint() -> render::Paint {
    render::Paint(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
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
        /// `table`, or the Rollout objects as `json`/`yaml`.
        #[arg(long, short, value_enum, default_value_t)]
        output: Output,
    },
    /// Experiments of a namespace, or of all namespaces with `--all-namespaces`.
    Experiments {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// List the Experiments of every namespace.
        #[arg(long, short = 'A', conflicts_with = "namespace")]
        all_namespaces: bool,
        /// `table`, or the Experiment objects as `json`/`yaml`.
        #[arg(long, short, value_enum, default_value_t)]
        output: Output,
    },
}

/// `tidegate promote NAME [--full]`.
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// The Rollout.
    name: String,
    /// Patch the cluster instead of committing an approval to Git (break-glass: recorded as
    /// such in the Rollout and its outcome record).
    #[arg(long)]
    direct: bool,
    /// Skip every remaining step, pause and analysis (needs --direct).
    #[arg(long, requires = "direct")]
    full: bool,
    /// Who approves (default: $USER).
    #[arg(long = "as", value_name = "NAME")]
    approver: Option<String>,
    /// The configuration file naming the Rollout's source (for approvals through Git).
    #[arg(long, short, value_name = "FILE", default_value = "tidegate.yaml")]
    config: std::path::PathBuf,
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
    let (name, watch, output, cluster) = match &args.what {
        Get::Rollout {
            name,
            watch,
            output,
            cluster,
        } => (name, watch, output, cluster),
        Get::Experiment {
            name,
            output,
            cluster,
        } => {
            return block_on(async {
                let (client, namespace) = cluster.connect().await?;
                let experiment = super::experiments::get(&client, &namespace, name).await?;
                let text = structured(&experiment, *output)?
                    .unwrap_or_else(|| super::experiments::detail(&experiment));
                Ok(write!(out, "{text}")?)
            });
        }
    };
    block_on(async {
        let (client, namespace) = cluster.connect().await?;
        let first = match show(&client, &namespace, name, *output).await {
            Ok(text) => text,
            Err(error) => {
                return Err(
                    super::cluster::explain_missing(&client, &namespace, name, error).await,
                );
            }
        };
        if !*watch {
            return Ok(write!(out, "{first}")?);
        }
        let rollouts = Api::<Rollout>::namespaced(client.clone(), &namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut changes = std::pin::pin!(watcher(rollouts, config).applied_objects());
        let clear = *output == Output::Table && std::io::stdout().is_terminal();
        while let Some(change) = changes.next().await {
            change.context("watch the Rollout")?;
            let text = show(&client, &namespace, name, *output).await?;
            if clear {
                write!(out, "\x1b[2J\x1b[H")?;
            }
            writeln!(out, "{text}")?;
            out.flush()?;
        }
        Ok(())
    })
}

/// The Rollout as `output` wants it.
async fn show(
    client: &k8s::Client,
    namespace: &str,
    name: &str,
    output: Output,
) -> anyhow::Result<String> {
    if output == Output::Table {
        return detail(client, namespace, name).await;
    }
    let rollout = Api::<Rollout>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .with_context(|| format!("get Rollout {namespace}/{name}"))?;
    Ok(structured(&rollout, output)?.unwrap_or_default())
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
    let routers = match (rollout.spec.plan(), rollout.namespace()) {
        (Ok(plan), Some(_)) => crate::traffic::io::read_rollout(client, &rollout, &plan).await,
        _ => Vec::new(),
    };
    Ok(render::rollout_detail(
        &rollout,
        &replica_sets,
        &pods,
        &routers,
        paint(),
    ))
}

/// Runs `tidegate list`.
pub fn list(args: &ListArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let (cluster, all_namespaces, output) = match &args.what {
        List::Rollouts {
            cluster,
            all_namespaces,
            output,
        } => (cluster, all_namespaces, output),
        List::Experiments {
            cluster,
            all_namespaces,
            output,
        } => {
            return block_on(async {
                let (client, namespace) = cluster.connect().await?;
                let scope = (!*all_namespaces).then_some(namespace.as_str());
                let experiments = super::experiments::list(client, scope).await?;
                let text = structured(&experiments, *output)?
                    .unwrap_or_else(|| super::experiments::table(&experiments));
                Ok(write!(out, "{text}")?)
            });
        }
    };
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
        let text =
            structured(&rollouts, *output)?.unwrap_or_else(|| render::rollout_table(&rollouts));
        Ok(write!(out, "{text}")?)
    })
}

/// Runs `tidegate promote`: an approval committed to Git, or with `--direct` a promotion
/// recorded in the cluster and marked as break-glass.
pub fn promote(args: &PromoteArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let by = super::approve::approver(args.approver.as_deref());
    if !args.direct {
        return block_on(super::approve::commit_approval(
            &args.name,
            &args.cluster,
            &args.config,
            &by,
            out,
        ));
    }
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
            if rollout.spec.paused {
                // Git holds `spec.paused: true`; the sync would keep the pause whatever the
                // status says.
                return Err("spec.paused is true in Git: promote without --direct commits spec.paused: false".to_owned());
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
    )?;
    block_on(mark(
        &args.name,
        &args.cluster,
        labels::DIRECT_PROMOTION,
        &by,
    ))
}

/// Runs `tidegate abort`.
pub fn abort(args: &TargetArgs, out: &mut impl Write) -> anyhow::Result<()> {
    record(&args.name, &args.cluster, out, "aborted", |_, state| {
        Ok(engine::abort(state))
    })?;
    let by = super::approve::approver(None);
    block_on(mark(&args.name, &args.cluster, labels::ABORTED_BY, &by))
}

/// Annotates Rollout `name` with who did what to which revision (`<who> <revision> <time>`),
/// so the outcome record names the person.
async fn mark(name: &str, cluster: &ClusterArgs, annotation: &str, by: &str) -> anyhow::Result<()> {
    let (client, namespace) = cluster.connect().await?;
    let api = Api::<Rollout>::namespaced(client, &namespace);
    let rollout = api.get(name).await?;
    let revision = rollout
        .status
        .as_ref()
        .map(|status| status.current_pod_hash.clone())
        .unwrap_or_default();
    let value = format!("{by} {revision} {}", jiff::Timestamp::now());
    let patch = serde_json::json!({ "metadata": { "annotations": { annotation: value } } });
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .with_context(|| format!("annotate Rollout {namespace}/{name} with {annotation}"))?;
    Ok(())
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
        let patched = Api::<Rollout>::namespaced(client.clone(), &namespace)
            .patch(name, &params, &kube::api::Patch::Merge(&patch))
            .await
            .with_context(|| format!("set restartAt of Rollout {namespace}/{name}"));
        if let Err(error) = patched {
            return Err(super::cluster::explain_missing(&client, &namespace, name, error).await);
        }
        Ok(writeln!(
            out,
            "rollout {namespace}/{name} restarting: pods created before {now} are replaced"
        )?)
    })
}

/// `tidegate terminate ...`.
#[derive(Debug, clap::Args)]
pub struct TerminateArgs {
    #[command(subcommand)]
    what: Terminate,
}

#[derive(Debug, clap::Subcommand)]
enum Terminate {
    /// An AnalysisRun: it takes no more measurements and ends as it stands; a Rollout's gate
    /// never passes on a terminated run (it pauses for a person instead).
    #[command(name = "analysisrun")]
    AnalysisRun(TargetArgs),
    /// An Experiment: its templates scale down (after its scaleDownDelaySeconds) and its
    /// analyses stop; it ends Successful unless an analysis already failed.
    Experiment(TargetArgs),
}

/// Runs `tidegate terminate`: sets the run's `spec.terminate`, as Argo's CLI does.
pub fn terminate(args: &TerminateArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let target = match &args.what {
        Terminate::AnalysisRun(target) => target,
        Terminate::Experiment(target) => {
            return block_on(async {
                let (client, namespace) = target.cluster.connect().await?;
                super::experiments::terminate(client, &namespace, &target.name).await?;
                Ok(writeln!(
                    out,
                    "experiment {namespace}/{} terminated",
                    target.name
                )?)
            });
        }
    };
    block_on(async {
        let (client, namespace) = target.cluster.connect().await?;
        let name = &target.name;
        let patch = serde_json::json!({ "spec": { "terminate": true } });
        let params = kube::api::PatchParams {
            field_manager: Some(CLI_FIELD_MANAGER.to_owned()),
            ..Default::default()
        };
        Api::<crate::k8s::crd::AnalysisRun>::namespaced(client, &namespace)
            .patch(name, &params, &kube::api::Patch::Merge(&patch))
            .await
            .with_context(|| format!("terminate AnalysisRun {namespace}/{name}"))?;
        Ok(writeln!(out, "analysisrun {namespace}/{name} terminated")?)
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
        if let Err(error) = k8s::act(&client, &namespace, name, change).await {
            return Err(
                super::cluster::explain_missing(&client, &namespace, name, error.into()).await,
            );
        }
        Ok(writeln!(out, "rollout {namespace}/{name} {done}")?)
    })
}
