//! Analysis gates: which AnalysisRun decides a gate, and its verdict.
//!
//! A gate is decided by the run whose name the Rollout's status records for it (its slot),
//! never by a run found by a computed name: every attempt — a new revision, a revision
//! returned to, a retry after an abort, a resume after an inconclusive background run —
//! records a fresh name that no run of the Rollout has yet, so an old verdict is never
//! reused. A gate passes only on a run that reached Successful by measuring; a run that was
//! terminated (by anyone) counts as inconclusive. A recorded run that has disappeared is
//! started again under its name; a name taken by an object that is not the Rollout's is
//! given up for a fresh one.

use std::time::Duration;

use super::effect::{AnalysisKind, Effect, Event};
use super::pass::Pass;
use crate::model::{AnalysisPhase, AnalysisPlan, AnalysisRunState, PauseCondition, PauseReason};

/// What a terminated run is recorded as, whatever its phase says.
pub(super) const TERMINATED_MESSAGE: &str =
    "the run was terminated before it finished measuring; a terminated run never passes";

impl Pass<'_> {
    /// The status slot that records the run of gates of `kind`.
    pub(super) fn slot(&self, kind: AnalysisKind) -> Option<&AnalysisRunState> {
        match kind {
            AnalysisKind::Step(_) => self.next.step_analysis.as_ref(),
            AnalysisKind::Background => self.next.background_analysis.as_ref(),
            AnalysisKind::PrePromotion => self.next.pre_promotion_analysis.as_ref(),
            AnalysisKind::PostPromotion => self.next.post_promotion_analysis.as_ref(),
        }
    }

    fn slot_mut(&mut self, kind: AnalysisKind) -> &mut Option<AnalysisRunState> {
        match kind {
            AnalysisKind::Step(_) => &mut self.next.step_analysis,
            AnalysisKind::Background => &mut self.next.background_analysis,
            AnalysisKind::PrePromotion => &mut self.next.pre_promotion_analysis,
            AnalysisKind::PostPromotion => &mut self.next.post_promotion_analysis,
        }
    }

    /// Every slot's recorded run, with its kind.
    pub(super) fn recorded_runs(&self) -> impl Iterator<Item = &AnalysisRunState> {
        [
            &self.next.step_analysis,
            &self.next.background_analysis,
            &self.next.pre_promotion_analysis,
            &self.next.post_promotion_analysis,
        ]
        .into_iter()
        .flatten()
    }

    /// Clears every gate's record — the analysis slots and the step's Experiment: what they
    /// record no longer decides anything (and is stopped by [`Self::terminate_idle_runs`] and
    /// [`Self::terminate_idle_experiments`] if it still runs).
    pub(super) fn clear_gates(&mut self) {
        self.next.step_analysis = None;
        self.next.step_experiment = None;
        self.next.background_analysis = None;
        self.next.pre_promotion_analysis = None;
        self.next.post_promotion_analysis = None;
    }

    /// A name for a new run of `kind`: `<rollout>-<hash>-<revision>[-<suffix>]` as Argo names
    /// runs, then `.1`, `.2`, … until neither a run of the Rollout nor an object known to be
    /// someone else's has it.
    fn fresh_run_name(&self, kind: AnalysisKind) -> String {
        let hash = self.observed.pod_hash;
        let mut base = format!("{}-{hash}-{}", self.observed.name, self.revision_of(hash));
        if let Some(suffix) = kind.name_suffix() {
            base.push('-');
            base.push_str(&suffix);
        }
        let taken = |name: &str| {
            self.observed
                .analysis_runs
                .iter()
                .any(|run| run.name == name)
                || self.observed.foreign_runs.iter().any(|taken| taken == name)
        };
        if !taken(&base) {
            return base;
        }
        // One more name than are taken: at least one of them is free.
        let names = self.observed.analysis_runs.len() + self.observed.foreign_runs.len() + 1;
        (1..=names)
            .map(|attempt| format!("{base}.{attempt}"))
            .find(|name| !taken(name))
            .expect("one of more names than are taken is free")
    }

    /// Records a fresh run for the gate of `kind` and asks for it to be created.
    fn start_run(&mut self, analysis: &AnalysisPlan, kind: AnalysisKind) {
        let name = self.fresh_run_name(kind);
        self.create_run(name.clone(), analysis, kind);
        *self.slot_mut(kind) = Some(AnalysisRunState {
            name,
            ..AnalysisRunState::default()
        });
        self.progressed = true;
    }

    fn create_run(&mut self, name: String, analysis: &AnalysisPlan, kind: AnalysisKind) {
        self.effects.push(Effect::CreateAnalysisRun {
            name,
            hash: self.observed.pod_hash.to_owned(),
            analysis: analysis.clone(),
            kind,
        });
        self.requeue_within(Duration::from_secs(5));
    }

    /// Runs the analysis gate of `kind`, starting its run when the status records none, and
    /// acts on the verdict: Successful passes; Failed and Error abort the update;
    /// Inconclusive (or terminated) pauses it for a person; anything else waits. Nothing but
    /// a Successful run that was not terminated lets the update continue.
    pub(super) fn analysis_gate(&mut self, analysis: &AnalysisPlan, kind: AnalysisKind) -> bool {
        let Some(recorded) = self.slot(kind).cloned() else {
            self.start_run(analysis, kind);
            return false;
        };
        if self.observed.foreign_runs.contains(&recorded.name) {
            let fresh = self.fresh_run_name(kind);
            let message = format!(
                "AnalysisRun {} exists but does not belong to Rollout {}; starting {fresh} instead",
                recorded.name, self.observed.name
            );
            self.effects
                .push(Event::warning("AnalysisRunNameTaken", message));
            self.start_run(analysis, kind);
            return false;
        }
        let observed = self
            .observed
            .analysis_runs
            .iter()
            .find(|run| run.name == recorded.name)
            .cloned();
        let Some(run) = observed else {
            // Recorded but not there: its creation failed or was interrupted, or someone
            // deleted it. Either way it has to measure: start it (again) under its name.
            if recorded.phase != AnalysisPhase::Pending {
                let message = format!(
                    "AnalysisRun {} recorded for this update no longer exists; starting it again",
                    recorded.name
                );
                self.effects
                    .push(Event::warning("AnalysisRunMissing", message));
            }
            self.create_run(recorded.name.clone(), analysis, kind);
            *self.slot_mut(kind) = Some(AnalysisRunState {
                name: recorded.name,
                ..AnalysisRunState::default()
            });
            return false;
        };
        let finished_badly = matches!(run.phase, AnalysisPhase::Failed | AnalysisPhase::Error);
        let (phase, message) = if run.terminated && !finished_badly {
            (AnalysisPhase::Inconclusive, TERMINATED_MESSAGE.to_owned())
        } else {
            (run.phase, run.message.clone())
        };
        if recorded.phase != phase && phase.is_completed() {
            self.announce_verdict(kind, &run.name, phase, recorded.phase);
        }
        let verdict_known = recorded.phase == phase;
        *self.slot_mut(kind) = Some(AnalysisRunState {
            name: run.name.clone(),
            phase,
            message,
            ..AnalysisRunState::default()
        });
        match phase {
            AnalysisPhase::Successful => true,
            AnalysisPhase::Failed | AnalysisPhase::Error => {
                self.next.abort = true;
                self.handle_abort();
                false
            }
            AnalysisPhase::Inconclusive => {
                self.pause_for_inconclusive(analysis, kind, verdict_known);
                false
            }
            AnalysisPhase::Pending | AnalysisPhase::Running => false,
        }
    }

    /// An inconclusive run pauses the update until a person decides. Once a person released
    /// that pause (the status had already recorded the verdict, `verdict_known`, and the
    /// pause is gone), the gate measures again with a fresh run.
    fn pause_for_inconclusive(
        &mut self,
        analysis: &AnalysisPlan,
        kind: AnalysisKind,
        verdict_known: bool,
    ) {
        let reason = PauseReason::InconclusiveAnalysisRun;
        if self
            .next
            .pause_conditions
            .iter()
            .any(|p| p.reason == reason)
        {
            return;
        }
        if verdict_known {
            self.start_run(analysis, kind);
            return;
        }
        self.pause_for_a_person(reason);
    }

    /// Pauses the update for a person, for `reason`, with Argo's `RolloutPaused` Event.
    pub(super) fn pause_for_a_person(&mut self, reason: PauseReason) {
        self.next.pause_conditions.push(PauseCondition {
            reason,
            start: self.now,
        });
        self.next.controller_pause = true;
        self.effects.push(Event::normal(
            "RolloutPaused",
            format!("Rollout is paused ({reason})"),
        ));
        self.progressed = true;
    }

    fn announce_verdict(
        &mut self,
        kind: AnalysisKind,
        name: &str,
        phase: AnalysisPhase,
        previous: AnalysisPhase,
    ) {
        let message = format!(
            "{} Analysis Run '{name}' Status New: '{phase}' Previous: '{previous}'",
            kind.label(),
        );
        let reason = match phase {
            AnalysisPhase::Successful => "AnalysisRunSuccessful",
            AnalysisPhase::Failed => "AnalysisRunFailed",
            AnalysisPhase::Error => "AnalysisRunError",
            _ => "AnalysisRunInconclusive",
        };
        let event = if matches!(phase, AnalysisPhase::Failed | AnalysisPhase::Error) {
            Event::warning(reason, message)
        } else {
            Event::normal(reason, message)
        };
        self.effects.push(event);
    }

    /// Whether the recorded runs still decide anything: not once the update is aborted, fully
    /// promoted or being fully promoted.
    pub(super) fn analysis_live(&self) -> bool {
        !self.next.abort && !self.next.promote_full && !self.is_stable_current()
    }

    /// Stops every run of the Rollout that is still measuring but decides nothing: runs of
    /// earlier revisions and attempts, runs of a step that was skipped, and all runs once the
    /// update is aborted or (fully) promoted. Derived from the status and the observation
    /// alone, so a pass interrupted before its effects repeats it.
    pub(super) fn terminate_idle_runs(&mut self) {
        let live: Vec<String> = if self.analysis_live() {
            self.recorded_runs().map(|run| run.name.clone()).collect()
        } else {
            Vec::new()
        };
        let idle: Vec<String> = self
            .observed
            .analysis_runs
            .iter()
            .filter(|run| !run.phase.is_completed() && !run.terminated)
            .filter(|run| !live.contains(&run.name))
            .map(|run| run.name.clone())
            .collect();
        for name in idle {
            self.effects.push(Effect::TerminateAnalysisRun { name });
        }
    }

    /// The cause of an abort by analysis, for its message: the first recorded run that
    /// failed or errored.
    pub(super) fn analysis_abort_cause(&self) -> Option<String> {
        let kinds = [
            AnalysisKind::Step(0),
            AnalysisKind::Background,
            AnalysisKind::PrePromotion,
            AnalysisKind::PostPromotion,
        ];
        kinds.into_iter().find_map(|kind| {
            self.slot(kind)
                .filter(|run| matches!(run.phase, AnalysisPhase::Failed | AnalysisPhase::Error))
                .map(|run| {
                    format!(
                        "{} analysis phase {}: {}",
                        kind.description(),
                        run.phase,
                        run.message
                    )
                })
        })
    }
}
