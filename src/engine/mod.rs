//! The rollout engine: pure decisions about Rollouts, without I/O or clocks.
//!
//! In: the Rollout's plan (its checked spec), its durable state (its status), what was
//! observed around it (ReplicaSets, Services, AnalysisRuns, Experiments) and the time. Out:
//! the next state, the effects for the executor, and when to look again. A restarted daemon resumes
//! from the status alone: nothing lives in memory between reconciles.

mod actions;
mod anti_affinity;
mod bluegreen;
mod canary;
mod conditions;
mod effect;
mod experiment;
mod gate;
mod history;
mod pass;
mod pod_metadata;
pub mod replicas;
mod rollback_window;
#[cfg(test)]
mod tests;
mod workload;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

pub use actions::{abort, awaiting_approval, promote, promote_full, retry};
pub use conditions::{invalid_spec, replica_set_create_failed};
pub use effect::{AnalysisKind, Effect, Event};

use crate::model::{
    AnalysisRunState, ExperimentState, PodView, ReplicaSetView, RolloutPlan, RolloutState,
    RouterReading, Strategy,
};

/// What the executor observed of a Rollout and the objects around it.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// The Rollout's name.
    pub name: &'a str,
    /// Its `metadata.generation`.
    pub generation: i64,
    /// Pod-template hash of its current template.
    pub pod_hash: &'a str,
    /// Hash of its current steps.
    pub steps_hash: &'a str,
    /// Its ReplicaSets.
    pub replica_sets: &'a [ReplicaSetView],
    /// Services it names, by name, with the pod-template hash their selector pins (if any).
    /// A Service missing here does not exist.
    pub services: &'a BTreeMap<String, Option<String>>,
    /// Its AnalysisRuns.
    pub analysis_runs: &'a [AnalysisRunState],
    /// Names the status records for AnalysisRuns that exist but belong to someone else.
    pub foreign_runs: &'a [String],
    /// Its Experiments.
    pub experiments: &'a [ExperimentState],
    /// The name the current revision's ReplicaSet would have is taken by a ReplicaSet that
    /// is not the Rollout's.
    pub replica_set_name_taken: bool,
    /// Its pods (only needed while a restart is pending).
    pub pods: &'a [PodView],
    /// What each object of its traffic routers carries (routed canaries only).
    pub traffic: &'a [RouterReading],
    /// The replicas of the Deployment its `workloadRef` names, once read.
    pub workload_replicas: Option<i32>,
}

/// The outcome of a reconcile.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The state to record in the Rollout's status.
    pub state: RolloutState,
    /// What to do.
    pub effects: Vec<Effect>,
    /// Reconcile again after this long even if nothing changes (a pause ends, a deadline
    /// passes); `None` waits for the next change.
    pub requeue_after: Option<Duration>,
}

impl Decision {
    /// The pod-template hash Service `service` selects once the effects are carried out:
    /// the pin this decision sets, else the one `observed`.
    #[must_use]
    pub fn pin_of<'a>(
        &'a self,
        service: &str,
        observed: &'a BTreeMap<String, Option<String>>,
    ) -> Option<&'a str> {
        let set = self.effects.iter().rev().find_map(|effect| match effect {
            Effect::SetServiceSelector {
                service: pinned,
                hash,
            } if pinned == service => Some(hash.as_str()),
            _ => None,
        });
        set.or_else(|| observed.get(service)?.as_deref())
    }
}

/// Reconciles a Rollout once.
#[must_use]
pub fn reconcile(
    plan: &RolloutPlan,
    state: &RolloutState,
    observed: &Observation<'_>,
    now: Timestamp,
) -> Decision {
    let mut decision = match &plan.strategy {
        Strategy::Canary(canary) => canary::reconcile(plan, canary, state, observed, now),
        Strategy::BlueGreen(blue_green) => {
            bluegreen::reconcile(plan, blue_green, state, observed, now)
        }
    };
    workload::scale_down(plan, observed, &mut decision);
    decision
}
