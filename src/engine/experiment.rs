//! The `experiment` step's gate (ARGO-SEMANTICS §2.1, `rollout/experiment.go`): the step
//! creates an Experiment of the stable and canary templates once a stable revision exists,
//! and completes only when that Experiment is Successful. Failed or Error aborts the update;
//! Inconclusive — or Successful only because someone terminated it — pauses it for a person.
//!
//! As with analysis gates, the step is decided by the Experiment whose name the status
//! records, never by one found by a computed name: each attempt records a name no
//! Experiment of the Rollout has yet.

use std::time::Duration;

use super::effect::{Effect, Event};
use super::pass::Pass;
use crate::model::{AnalysisPhase, PauseReason};

impl Pass<'_> {
    /// Runs the experiment gate of step `index`; whether the step is done. (Not reached while
    /// an inconclusive experiment's pause holds the Rollout: the pass is halted.)
    pub(super) fn experiment_gate(&mut self, index: usize) -> bool {
        let Some(name) = self.next.step_experiment.clone() else {
            self.start_experiment(index);
            return false;
        };
        let Some(experiment) = self
            .observed
            .experiments
            .iter()
            .find(|experiment| experiment.name == name)
            .cloned()
        else {
            // Recorded but not there: its creation was interrupted, or someone deleted it.
            // It has to run: create it (again) under its name.
            self.create_experiment(name, index);
            return false;
        };
        match experiment.phase {
            Some(AnalysisPhase::Successful) if !experiment.terminated => true,
            Some(AnalysisPhase::Failed | AnalysisPhase::Error) => {
                self.next.abort = true;
                self.handle_abort();
                false
            }
            Some(AnalysisPhase::Successful | AnalysisPhase::Inconclusive) => {
                self.pause_for_a_person(PauseReason::InconclusiveExperiment);
                false
            }
            Some(AnalysisPhase::Pending | AnalysisPhase::Running) | None => false,
        }
    }

    /// Records a fresh Experiment for step `index` and asks for it — once there is a stable
    /// revision to compare with (Argo waits for one too).
    fn start_experiment(&mut self, index: usize) {
        if self.stable_replica_set().is_none() {
            return;
        }
        let name = self.fresh_experiment_name(index);
        self.effects.push(Event::normal(
            "ExperimentCreated",
            format!("Created Experiment '{name}'"),
        ));
        self.create_experiment(name.clone(), index);
        self.next.step_experiment = Some(name);
        self.progressed = true;
    }

    fn create_experiment(&mut self, name: String, step: usize) {
        let Some(stable) = self.next.stable_hash.clone() else {
            return;
        };
        self.effects.push(Effect::CreateExperiment {
            name,
            step,
            stable_hash: stable,
            canary_hash: self.observed.pod_hash.to_owned(),
        });
        self.requeue_within(Duration::from_secs(5));
    }

    /// `<rollout>-<hash>-<revision>-<step>` as Argo names it, then `-1`, `-2`, … until no
    /// Experiment of the Rollout has it.
    fn fresh_experiment_name(&self, index: usize) -> String {
        let hash = self.observed.pod_hash;
        let base = format!(
            "{}-{hash}-{}-{index}",
            self.observed.name,
            self.revision_of(hash)
        );
        let taken = |name: &str| {
            self.observed
                .experiments
                .iter()
                .any(|experiment| experiment.name == name)
        };
        if !taken(&base) {
            return base;
        }
        // The base is one of the n names taken, so at most n - 1 of these n are.
        (1..=self.observed.experiments.len())
            .map(|attempt| format!("{base}-{attempt}"))
            .find(|name| !taken(name))
            .expect("one of n names, at most n - 1 of them taken, is free")
    }

    /// Stops every Experiment of the Rollout that still runs but decides nothing: those of
    /// earlier steps, revisions and attempts, and all of them once the update is aborted or
    /// (fully) promoted.
    pub(super) fn terminate_idle_experiments(&mut self) {
        let live = if self.analysis_live() {
            self.next.step_experiment.clone()
        } else {
            None
        };
        let idle: Vec<String> = self
            .observed
            .experiments
            .iter()
            .filter(|experiment| !experiment.terminated)
            .filter(|experiment| !experiment.phase.is_some_and(AnalysisPhase::is_completed))
            .filter(|experiment| live.as_deref() != Some(experiment.name.as_str()))
            .map(|experiment| experiment.name.clone())
            .collect();
        for name in idle {
            self.effects.push(Effect::TerminateExperiment { name });
        }
    }

    /// The cause of an abort by the step's Experiment, for its message (Argo's words).
    pub(super) fn experiment_abort_cause(&self) -> Option<String> {
        let name = self.next.step_experiment.as_deref()?;
        let experiment = self
            .observed
            .experiments
            .iter()
            .find(|experiment| experiment.name == name)?;
        matches!(
            experiment.phase,
            Some(AnalysisPhase::Failed | AnalysisPhase::Error)
        )
        .then(|| {
            let mut message = "Experiment analysis phase is error/failed".to_owned();
            if !experiment.message.is_empty() {
                message = format!("{message}: {}", experiment.message);
            }
            message
        })
    }
}
