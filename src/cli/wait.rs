//! `tidegate wait ROLLOUT`: Argo's `kubectl argo rollouts status` (named for what it does,
//! since `tidegate status` reports sources): print each change of the Rollout's phase and
//! message until it is Healthy (exit 0) or Degraded (exit 1), or `--timeout` passes (exit 1).
//! A status that has not yet seen the latest spec never counts as done.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::cluster::{ClusterArgs, block_on};
use crate::k8s::crd::{Phase, Rollout};
use crate::model::parse_go_duration;

/// `tidegate wait`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Rollout.
    name: String,
    /// Give up after this long (e.g. `90s`, `5m`); without it, wait as long as it takes.
    #[arg(long, short, value_parser = timeout)]
    timeout: Option<Duration>,
    #[command(flatten)]
    cluster: ClusterArgs,
}

fn timeout(text: &str) -> Result<Duration, String> {
    parse_go_duration(text).map_err(|error| error.to_string())
}

/// Where a Rollout stands, for a person watching it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Standing {
    /// `Healthy`, `Progressing - ...`: the line to print.
    pub line: String,
    /// Done: `Ok` when Healthy, `Err(message)` when Degraded.
    pub done: Option<Result<(), String>>,
}

/// The standing of `rollout`: its phase and message, once its status has seen its latest
/// spec (before that it is still progressing, whatever the status says).
pub(crate) fn standing(rollout: &Rollout) -> Standing {
    let status = rollout.status.clone().unwrap_or_default();
    let generation = rollout.metadata.generation.unwrap_or_default().to_string();
    if status.observed_generation != generation {
        return Standing {
            line: "Progressing - waiting for rollout spec update to be observed".to_owned(),
            done: None,
        };
    }
    let phase = status.phase.unwrap_or(Phase::Progressing);
    let line = if status.message.is_empty() {
        format!("{phase:?}")
    } else {
        format!("{phase:?} - {}", status.message)
    };
    let done = match phase {
        Phase::Healthy => Some(Ok(())),
        Phase::Degraded => Some(Err(status.message.clone())),
        Phase::Progressing | Phase::Paused => None,
    };
    Standing { line, done }
}

/// Runs `tidegate wait`.
pub fn run(args: &Args, out: &mut impl Write) -> anyhow::Result<()> {
    block_on(async {
        let (client, namespace) = args.cluster.connect().await?;
        let name = &args.name;
        let rollouts = Api::<Rollout>::namespaced(client.clone(), &namespace);
        if let Err(error) = rollouts.get(name).await {
            let error =
                anyhow::Error::from(error).context(format!("get Rollout {namespace}/{name}"));
            return Err(super::cluster::explain_missing(&client, &namespace, name, error).await);
        }
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut changes = std::pin::pin!(watcher(rollouts, config).applied_objects());
        let watch = async {
            let mut printed = String::new();
            while let Some(change) = changes.next().await {
                let rollout = change.context("watch the Rollout")?;
                let standing = standing(&rollout);
                if standing.line != printed {
                    writeln!(out, "{}", standing.line)?;
                    out.flush()?;
                    printed = standing.line;
                }
                match standing.done {
                    Some(Ok(())) => return Ok(()),
                    Some(Err(message)) => bail!(
                        "rollout {namespace}/{} is Degraded: {message}",
                        rollout.name_any()
                    ),
                    None => {}
                }
            }
            bail!("the watch of rollout {namespace}/{name} ended")
        };
        match args.timeout {
            None => watch.await,
            Some(limit) => match tokio::time::timeout(limit, watch).await {
                Ok(result) => result,
                Err(_) => bail!(
                    "rollout {namespace}/{name} was neither Healthy nor Degraded after {}s",
                    limit.as_secs()
                ),
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(generation: i64, observed: &str, phase: Phase, message: &str) -> Rollout {
        let mut rollout = Rollout::new("web", crate::k8s::crd::RolloutSpec::default());
        rollout.metadata.generation = Some(generation);
        let status = rollout.status.get_or_insert_with(Default::default);
        status.observed_generation = observed.to_owned();
        status.phase = Some(phase);
        status.message = message.to_owned();
        rollout
    }

    #[test]
    fn healthy_and_degraded_end_the_wait_the_rest_go_on() {
        assert_eq!(
            standing(&rollout(2, "2", Phase::Healthy, "")),
            Standing {
                line: "Healthy".into(),
                done: Some(Ok(()))
            }
        );
        assert_eq!(
            standing(&rollout(2, "2", Phase::Degraded, "RolloutAborted: aborted")),
            Standing {
                line: "Degraded - RolloutAborted: aborted".into(),
                done: Some(Err("RolloutAborted: aborted".into()))
            }
        );
        for phase in [Phase::Progressing, Phase::Paused] {
            let standing = standing(&rollout(2, "2", phase, "CanaryPauseStep"));
            assert_eq!(standing.line, format!("{phase:?} - CanaryPauseStep"));
            assert_eq!(standing.done, None);
        }
    }

    /// Right after a new spec is applied the status still says Healthy: that is the old
    /// revision's, and must not end the wait.
    #[test]
    fn a_status_that_has_not_seen_the_latest_spec_is_not_done() {
        let standing = standing(&rollout(3, "2", Phase::Healthy, ""));
        assert_eq!(standing.done, None);
        assert!(
            standing.line.contains("waiting for rollout spec update"),
            "{}",
            standing.line
        );
    }
}
