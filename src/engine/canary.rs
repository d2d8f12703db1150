//! One reconcile of a canary Rollout without a traffic router (ARGO-SEMANTICS §1.8, §2): detect
//! a new revision, create and scale its ReplicaSet towards the current step's weight, complete
//! steps (weights reached, pauses over, analyses passed), promote, and abort.

use std::time::Duration;

use jiff::Timestamp;

use super::conditions::{self, Assessment, Trouble};
use super::effect::{Effect, Event};
use super::replicas::{BasicCanary, Fenceposts, ReplicaCounts, Targets};
use super::{Decision, Observation};
use crate::model::{
    AnalysisPhase, AnalysisRunState, CanaryPlan, PauseCondition, PauseReason, PodCounts,
    ReplicaSetView, RolloutPlan, RolloutState, Step, until,
};

/// Reconciles a canary once. Pure: the same inputs always give the same decision.
pub(super) fn reconcile(
    plan: &RolloutPlan,
    canary: &CanaryPlan,
    state: &RolloutState,
    observed: &Observation<'_>,
    now: Timestamp,
) -> Decision {
    let mut pass = Pass::new(plan, canary, state, observed, now);
    if pass.restart_on_new_revision() {
        return pass.finish();
    }
    let Some(new) = pass.new_replica_set() else {
        let revision = next_revision(observed.replica_sets);
        pass.effects.push(Effect::CreateReplicaSet {
            hash: observed.pod_hash.to_owned(),
            revision,
        });
        pass.effects.push(Event::normal(
            "NewReplicaSetCreated",
            format!(
                "Created ReplicaSet {}-{} (revision {revision})",
                observed.name, observed.pod_hash
            ),
        ));
        return pass.finish();
    };
    pass.promote_initial_deploy();
    pass.handle_retry();
    pass.handle_abort();
    if pass.next.promote_full {
        pass.next.pause_conditions.clear();
        pass.next.current_step_index = Some(canary.steps.len());
    }
    let targets = pass.targets(&new);
    let scaled = !pass.halted() && pass.scale(&new, targets);
    if !scaled && !pass.halted() {
        pass.progress_steps(&new, targets);
    }
    pass.promote_when_done(&new);
    pass.trim_history();
    pass.point_services(&new);
    pass.check_deadline(&new);
    pass.finish()
}

/// The working state of one reconcile.
struct Pass<'a> {
    plan: &'a RolloutPlan,
    canary: &'a CanaryPlan,
    previous: &'a RolloutState,
    observed: &'a Observation<'a>,
    now: Timestamp,
    next: RolloutState,
    effects: Vec<Effect>,
    requeue: Option<Duration>,
    progressed: bool,
    retried: bool,
    deadline_exceeded: bool,
}

impl<'a> Pass<'a> {
    fn new(
        plan: &'a RolloutPlan,
        canary: &'a CanaryPlan,
        previous: &'a RolloutState,
        observed: &'a Observation<'a>,
        now: Timestamp,
    ) -> Self {
        let mut next = previous.clone();
        next.observed_generation = Some(observed.generation);
        conditions::clear_invalid_spec(&mut next);
        Self {
            plan,
            canary,
            previous,
            observed,
            now,
            next,
            effects: Vec::new(),
            requeue: None,
            progressed: false,
            retried: false,
            deadline_exceeded: false,
        }
    }

    fn step_count(&self) -> usize {
        self.canary.steps.len()
    }

    fn index(&self) -> usize {
        self.next
            .current_step_index
            .unwrap_or(0)
            .min(self.step_count())
    }

    fn is_stable_current(&self) -> bool {
        self.next.stable_hash.as_deref() == Some(self.observed.pod_hash)
    }

    fn revision_of(&self, hash: &str) -> u64 {
        let known = self.observed.replica_sets.iter().find(|rs| rs.hash == hash);
        known.map_or_else(
            || next_revision(self.observed.replica_sets),
            |rs| rs.revision,
        )
    }

    fn requeue_within(&mut self, after: Duration) {
        self.requeue = Some(self.requeue.map_or(after, |current| current.min(after)));
    }

    /// A changed template or changed steps restart the steps (ARGO-SEMANTICS §2.3.1). Only the
    /// status changes in this pass; scaling starts with the next one.
    fn restart_on_new_revision(&mut self) -> bool {
        let pod_hash = self.observed.pod_hash;
        let template_changed = self.previous.current_pod_hash.as_deref() != Some(pod_hash);
        let steps_changed =
            self.previous.current_step_hash.as_deref() != Some(self.observed.steps_hash);
        if !template_changed && !steps_changed {
            return false;
        }
        if let Some(run) = self.next.step_analysis.take() {
            self.effects
                .push(Effect::TerminateAnalysisRun { name: run.name });
        }
        self.next.pause_conditions.clear();
        self.next.controller_pause = false;
        self.next.abort = false;
        self.next.aborted_at = None;
        self.next.promote_full = false;
        self.next.current_step_index = Some(0);
        self.next.current_pod_hash = Some(pod_hash.to_owned());
        self.next.current_step_hash = Some(self.observed.steps_hash.to_owned());
        if template_changed {
            let revision = self.revision_of(pod_hash);
            self.effects.push(Event::normal(
                "RolloutUpdated",
                format!("Rollout updated to revision {revision}"),
            ));
        }
        if self.is_stable_current() {
            self.next.current_step_index = Some(self.step_count());
            self.effects
                .push(Event::normal("SkipSteps", "Rollback to stable ReplicaSets"));
        }
        self.next.weight = self.weight();
        self.progressed = true;
        self.requeue_within(Duration::ZERO);
        true
    }

    fn new_replica_set(&self) -> Option<ReplicaSetView> {
        self.observed
            .replica_sets
            .iter()
            .find(|rs| rs.hash == self.observed.pod_hash)
            .cloned()
    }

    /// The first revision becomes stable at once: there is nothing to compare it with.
    fn promote_initial_deploy(&mut self) {
        if self.next.stable_hash.is_none() {
            self.promote("Initial deploy");
        }
    }

    /// `retry` cleared the abort flag of an aborted update: start the steps again.
    fn handle_retry(&mut self) {
        if !self.next.abort && self.next.aborted_at.is_some() {
            self.next.aborted_at = None;
            self.next.current_step_index = Some(0);
            self.next.step_analysis = None;
            self.retried = true;
            self.progressed = true;
        }
    }

    fn handle_abort(&mut self) {
        if !self.next.abort {
            return;
        }
        if self.is_stable_current() {
            // Nothing left to abort: a fully promoted rollout drops the flag.
            self.next.abort = false;
            self.next.aborted_at = None;
            return;
        }
        if self.next.aborted_at.is_none() {
            self.next.aborted_at = Some(self.now);
            let message = self.abort_message();
            self.effects.push(Event::warning("RolloutAborted", message));
            self.progressed = true;
        }
        if let Some(run) = &self.next.step_analysis
            && !run.phase.is_completed()
        {
            self.effects.push(Effect::TerminateAnalysisRun {
                name: run.name.clone(),
            });
        }
        self.next.pause_conditions.clear();
        self.next.controller_pause = false;
        let index = if self.is_stable_current() {
            self.step_count()
        } else {
            0
        };
        self.next.current_step_index = Some(index);
    }

    fn abort_message(&self) -> String {
        let revision = self.revision_of(self.observed.pod_hash);
        let cause = self
            .next
            .step_analysis
            .as_ref()
            .filter(|run| run.phase.is_unsuccessful())
            .map(|run| format!(": Step-based analysis phase {}: {}", run.phase, run.message));
        format!(
            "Rollout aborted update to revision {revision}{}",
            cause.unwrap_or_default()
        )
    }

    /// Scaling and steps stop while a person paused the rollout or an inconclusive analysis
    /// waits for one (ARGO-SEMANTICS §1.8).
    fn halted(&self) -> bool {
        self.plan.paused
            || self
                .next
                .pause_conditions
                .iter()
                .any(|p| p.reason == PauseReason::InconclusiveAnalysisRun)
    }

    /// The weight the replica counts aim at (ARGO-SEMANTICS §1.2): everything once promoted
    /// or promoting, nothing while aborted, otherwise the last `setWeight` reached.
    fn weight(&self) -> i32 {
        if self.next.promote_full || self.is_stable_current() {
            return 100;
        }
        if self.next.abort {
            return 0;
        }
        let index = self.index();
        if index >= self.step_count() {
            return 100;
        }
        self.canary.steps[..=index]
            .iter()
            .rev()
            .find_map(|step| match step {
                Step::SetWeight(weight) => Some(*weight),
                _ => None,
            })
            .unwrap_or(0)
    }

    fn stable_replica_set(&self) -> Option<&'a ReplicaSetView> {
        let stable = self.next.stable_hash.as_deref()?;
        (stable != self.observed.pod_hash)
            .then(|| {
                self.observed
                    .replica_sets
                    .iter()
                    .find(|rs| rs.hash == stable)
            })
            .flatten()
    }

    /// ReplicaSets of neither the current nor the stable revision, newest first.
    fn other_replica_sets(&self) -> Vec<&'a ReplicaSetView> {
        let stable = self.next.stable_hash.as_deref();
        let mut others: Vec<_> = self
            .observed
            .replica_sets
            .iter()
            .filter(|rs| rs.hash != self.observed.pod_hash && Some(rs.hash.as_str()) != stable)
            .collect();
        others.sort_by_key(|rs| std::cmp::Reverse(rs.revision));
        others
    }

    fn targets(&mut self, new: &ReplicaSetView) -> Targets {
        self.next.weight = self.weight();
        let others: Vec<_> = self
            .other_replica_sets()
            .iter()
            .map(|rs| counts(rs))
            .collect();
        BasicCanary {
            replicas: self.plan.replicas,
            weight: self.next.weight,
            fenceposts: self.fenceposts(),
            new: Some(counts(new)),
            stable: self.stable_replica_set().map(counts),
            others: &others,
        }
        .targets()
    }

    fn fenceposts(&self) -> Fenceposts {
        Fenceposts::canary(
            self.plan.replicas,
            Some(self.canary.max_surge),
            Some(self.canary.max_unavailable),
        )
    }

    /// Scales at most one ReplicaSet, in Argo's order: stable, new, then the others.
    fn scale(&mut self, new: &ReplicaSetView, targets: Targets) -> bool {
        if let Some(stable) = self.stable_replica_set()
            && stable.spec != targets.stable
        {
            self.scale_to(stable, targets.stable);
            return true;
        }
        if new.spec != targets.new {
            self.scale_to(new, targets.new);
            return true;
        }
        self.scale_down_others()
    }

    /// Older ReplicaSets shrink as far as availability allows: first their unavailable pods,
    /// then as many as the available pods above `replicas - maxUnavailable` (§1.7).
    fn scale_down_others(&mut self) -> bool {
        let others = self.other_replica_sets();
        let total_available: i32 = self
            .observed
            .replica_sets
            .iter()
            .map(|rs| rs.available)
            .sum();
        let min_available = self.plan.replicas - self.fenceposts().unavailable;
        let mut can_remove = (total_available - min_available).max(0);
        for rs in others.into_iter().filter(|rs| rs.spec > 0) {
            let target = if rs.spec > rs.available {
                rs.available
            } else {
                let removed = rs.spec.min(can_remove);
                can_remove -= removed;
                rs.spec - removed
            };
            if target != rs.spec {
                self.scale_to(rs, target);
                return true;
            }
        }
        false
    }

    fn scale_to(&mut self, rs: &ReplicaSetView, replicas: i32) {
        let direction = if replicas > rs.spec { "up" } else { "down" };
        self.effects.push(Effect::ScaleReplicaSet {
            name: rs.name.clone(),
            replicas,
        });
        self.effects.push(Event::normal(
            "ScalingReplicaSet",
            format!(
                "Scaled {direction} ReplicaSet {} (revision {}) from {} to {replicas}",
                rs.name, rs.revision, rs.spec
            ),
        ));
        self.progressed = true;
    }

    /// Completes the current step when it is done (ARGO-SEMANTICS §2.1–2.2, §5.6).
    fn progress_steps(&mut self, new: &ReplicaSetView, targets: Targets) {
        if self.next.abort || self.next.promote_full || self.is_stable_current() {
            return;
        }
        let index = self.index();
        let Some(step) = self.canary.steps.get(index) else {
            return;
        };
        let done = match step {
            Step::SetWeight(_) => self.at_desired_counts(new, targets),
            Step::Pause(duration) => self.pause_done(*duration),
            Step::Analysis(_) => self.analysis_done(index),
        };
        if done {
            self.complete_step(index, step);
        }
    }

    fn at_desired_counts(&self, new: &ReplicaSetView, targets: Targets) -> bool {
        let new_ready = new.spec == targets.new && new.available >= targets.new;
        let stable_ready = self
            .stable_replica_set()
            .is_none_or(|rs| rs.spec == targets.stable && rs.replicas == targets.stable);
        let others_gone = self.other_replica_sets().iter().all(|rs| rs.available == 0);
        new_ready && stable_ready && others_gone
    }

    fn pause_done(&mut self, duration: Option<Duration>) -> bool {
        let condition = self
            .next
            .pause_conditions
            .iter()
            .find(|p| p.reason == PauseReason::CanaryPauseStep);
        match (condition, self.next.controller_pause) {
            (None, false) => {
                self.next.pause_conditions.push(PauseCondition {
                    reason: PauseReason::CanaryPauseStep,
                    start: self.now,
                });
                self.next.controller_pause = true;
                self.effects.push(Event::normal(
                    "RolloutPaused",
                    "Rollout is paused (CanaryPauseStep)",
                ));
                self.progressed = true;
                if let Some(duration) = duration {
                    self.requeue_within(duration);
                }
                duration == Some(Duration::ZERO)
            }
            // A person removed the pause condition (promote): the pause is over.
            (None, true) => true,
            (Some(condition), _) => match duration {
                Some(duration) => {
                    let end = add(condition.start, duration);
                    let over = self.now >= end;
                    if !over {
                        self.requeue_within(until(self.now, end));
                    }
                    over
                }
                None => false,
            },
        }
    }

    fn analysis_done(&mut self, index: usize) -> bool {
        let name = self.analysis_run_name(index);
        let Some(run) = self
            .observed
            .analysis_runs
            .iter()
            .find(|run| run.name == name)
        else {
            if self
                .next
                .step_analysis
                .as_ref()
                .is_none_or(|run| run.name != name)
            {
                let Step::Analysis(analysis) = &self.canary.steps[index] else {
                    return false;
                };
                self.effects.push(Effect::CreateAnalysisRun {
                    name: name.clone(),
                    analysis: analysis.clone(),
                    step: index,
                });
                self.next.step_analysis = Some(AnalysisRunState {
                    name,
                    phase: AnalysisPhase::Pending,
                    message: String::new(),
                });
                self.progressed = true;
            }
            return false;
        };
        let changed = self.next.step_analysis.as_ref() != Some(run);
        if changed && run.phase.is_completed() {
            let message = format!(
                "Step Analysis Run '{}' Status New: '{}' Previous: '{}'",
                run.name,
                run.phase,
                self.next
                    .step_analysis
                    .as_ref()
                    .map_or(AnalysisPhase::Pending, |previous| previous.phase)
            );
            let reason = match run.phase {
                AnalysisPhase::Successful => "AnalysisRunSuccessful",
                AnalysisPhase::Failed => "AnalysisRunFailed",
                AnalysisPhase::Error => "AnalysisRunError",
                _ => "AnalysisRunInconclusive",
            };
            let event = if run.phase.is_unsuccessful() && run.phase != AnalysisPhase::Inconclusive {
                Event::warning(reason, message)
            } else {
                Event::normal(reason, message)
            };
            self.effects.push(event);
        }
        self.next.step_analysis = Some(run.clone());
        match run.phase {
            AnalysisPhase::Successful => true,
            AnalysisPhase::Failed | AnalysisPhase::Error => {
                // A failed or errored analysis aborts the update; it never promotes.
                self.next.abort = true;
                self.handle_abort();
                false
            }
            AnalysisPhase::Inconclusive => {
                if !self
                    .next
                    .pause_conditions
                    .iter()
                    .any(|p| p.reason == PauseReason::InconclusiveAnalysisRun)
                {
                    self.next.pause_conditions.push(PauseCondition {
                        reason: PauseReason::InconclusiveAnalysisRun,
                        start: self.now,
                    });
                    self.next.controller_pause = true;
                    self.effects.push(Event::normal(
                        "RolloutPaused",
                        "Rollout is paused (InconclusiveAnalysisRun)",
                    ));
                    self.progressed = true;
                }
                false
            }
            AnalysisPhase::Pending | AnalysisPhase::Running => false,
        }
    }

    /// `<rollout>-<hash>-<revision>-<step>`, as Argo names step analysis runs.
    fn analysis_run_name(&self, index: usize) -> String {
        let hash = self.observed.pod_hash;
        format!(
            "{}-{hash}-{}-{index}",
            self.observed.name,
            self.revision_of(hash)
        )
    }

    fn complete_step(&mut self, index: usize, step: &Step) {
        self.next.current_step_index = Some(index + 1);
        self.next
            .pause_conditions
            .retain(|p| p.reason != PauseReason::CanaryPauseStep);
        self.next.step_analysis = None;
        let description = match step {
            Step::SetWeight(weight) => format!("setWeight: {weight}"),
            Step::Pause(Some(duration)) => format!("pause: {}", go_duration(*duration)),
            Step::Pause(None) => "pause".to_owned(),
            Step::Analysis(_) => "analysis".to_owned(),
        };
        let steps = self.step_count();
        self.effects.push(Event::normal(
            "RolloutStepCompleted",
            format!(
                "Rollout step {}/{steps} completed ({description})",
                index + 1
            ),
        ));
        self.progressed = true;
        self.requeue_within(Duration::ZERO);
    }

    /// Promotes once every step is done (or a full promotion was asked for) and the new
    /// ReplicaSet is fully available (ARGO-SEMANTICS §2.5).
    fn promote_when_done(&mut self, new: &ReplicaSetView) {
        if self.is_stable_current() || self.next.abort {
            return;
        }
        let steps_done = self.index() >= self.step_count();
        if new.available < self.plan.replicas || !(steps_done || self.next.promote_full) {
            return;
        }
        let reason = if self.next.promote_full {
            "Full promotion requested".to_owned()
        } else {
            format!("Completed all {} canary steps", self.step_count())
        };
        self.promote(&reason);
    }

    fn promote(&mut self, reason: &str) {
        let hash = self.observed.pod_hash.to_owned();
        let revision = self.revision_of(&hash);
        self.next.pause_conditions.clear();
        self.next.abort = false;
        self.next.promote_full = false;
        self.next.current_step_index = Some(self.step_count());
        self.next.stable_hash = Some(hash.clone());
        self.effects.push(Event::normal(
            "RolloutCompleted",
            format!("Rollout completed update to revision {revision} ({hash}): {reason}"),
        ));
        self.progressed = true;
    }

    /// Deletes the oldest scaled-down ReplicaSets beyond `revisionHistoryLimit`; the current
    /// and stable revisions are never candidates.
    fn trim_history(&mut self) {
        let mut idle: Vec<_> = self
            .other_replica_sets()
            .into_iter()
            .filter(|rs| rs.spec == 0 && rs.replicas == 0)
            .collect();
        let limit = usize::try_from(self.plan.revision_history_limit).unwrap_or(0);
        idle.sort_by_key(|rs| rs.revision);
        let excess = idle.len().saturating_sub(limit);
        for rs in idle.into_iter().take(excess) {
            self.effects.push(Effect::DeleteReplicaSet {
                name: rs.name.clone(),
            });
        }
    }

    /// Pins the stable Service to the stable pods and the canary Service to the new pods
    /// (to the stable pods while aborted), once the chosen pods have an available replica.
    fn point_services(&mut self, new: &ReplicaSetView) {
        let stable = self.stable_replica_set().cloned();
        let stable_hash = self.next.stable_hash.clone();
        let stable_view = stable.as_ref().unwrap_or(new);
        if let (Some(service), Some(hash)) = (&self.canary.stable_service, &stable_hash) {
            self.point(service, hash, stable_view.available);
        }
        if let Some(service) = &self.canary.canary_service {
            let target = if self.next.abort { stable_view } else { new };
            let hash = if self.next.abort {
                stable_hash.unwrap_or_else(|| new.hash.clone())
            } else {
                new.hash.clone()
            };
            self.point(service, &hash, target.available);
        }
    }

    fn point(&mut self, service: &str, hash: &str, available: i32) {
        let current = self
            .observed
            .services
            .get(service)
            .map(|selector| selector.as_deref());
        let Some(current) = current else { return };
        if current != Some(hash) && available > 0 {
            self.effects.push(Effect::SetServiceSelector {
                service: service.to_owned(),
                hash: hash.to_owned(),
            });
            self.effects.push(Event::normal(
                "SwitchService",
                format!("Switched selector for service '{service}' to value '{hash}'"),
            ));
        }
    }

    /// Marks the rollout as failed when it made no progress for `progressDeadlineSeconds`,
    /// and aborts it with `progressDeadlineAbort` (ARGO-SEMANTICS §3.4).
    fn check_deadline(&mut self, new: &ReplicaSetView) {
        let waiting_step = matches!(
            self.canary.steps.get(self.index()),
            Some(Step::Pause(_) | Step::Analysis(_))
        );
        let completed = self.is_stable_current() && new.available >= self.plan.replicas;
        // Once exceeded, the condition stays until progress replaces it.
        if self.progressed
            || conditions::deadline_exceeded(&self.next)
            || completed
            || waiting_step
            || self.plan.paused
            || !self.next.pause_conditions.is_empty()
            || conditions::deadline_suspended(&self.next)
        {
            return;
        }
        let Some(last_progress) = conditions::last_progress(&self.next) else {
            return;
        };
        let deadline = add(last_progress, self.plan.progress_deadline);
        if self.now < deadline {
            self.requeue_within(until(self.now, deadline));
            return;
        }
        self.deadline_exceeded = true;
        let message = format!("ReplicaSet {:?} has timed out progressing.", new.name);
        self.effects
            .push(Event::warning("RolloutTimedOut", message));
        if self.plan.progress_deadline_abort && !self.next.abort {
            self.next.abort = true;
            self.handle_abort();
        }
    }

    fn finish(mut self) -> Decision {
        if self.next.pause_conditions.is_empty() {
            self.next.controller_pause = false;
        }
        self.next.counts = pod_counts(self.observed.replica_sets, self.observed.pod_hash);
        let new_replica_set = self.new_replica_set().map(|rs| rs.name);
        let trouble = if self.next.abort {
            Some(Trouble::Aborted(self.abort_message()))
        } else if self.deadline_exceeded {
            Some(Trouble::DeadlineExceeded)
        } else if self.retried {
            Some(Trouble::Retried)
        } else {
            None
        };
        let completed = self.is_stable_current() && self.index() >= self.step_count();
        let assessment = Assessment {
            replicas: self.plan.replicas,
            paused_by_spec: self.plan.paused,
            new_replica_set,
            progressed: self.progressed,
            completed,
            trouble,
        };
        conditions::assess(&mut self.next, &assessment, self.now);
        Decision {
            state: self.next,
            effects: self.effects,
            requeue_after: self.requeue,
        }
    }
}

fn counts(rs: &ReplicaSetView) -> ReplicaCounts {
    ReplicaCounts {
        spec: rs.spec,
        available: rs.available,
    }
}

fn pod_counts(replica_sets: &[ReplicaSetView], pod_hash: &str) -> PodCounts {
    let updated = replica_sets
        .iter()
        .find(|rs| rs.hash == pod_hash)
        .map_or(0, |rs| rs.replicas);
    PodCounts {
        replicas: replica_sets.iter().map(|rs| rs.replicas).sum(),
        updated,
        ready: replica_sets.iter().map(|rs| rs.ready).sum(),
        available: replica_sets.iter().map(|rs| rs.available).sum(),
    }
}

fn next_revision(replica_sets: &[ReplicaSetView]) -> u64 {
    replica_sets.iter().map(|rs| rs.revision).max().unwrap_or(0) + 1
}

fn add(time: Timestamp, duration: Duration) -> Timestamp {
    let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    Timestamp::from_millisecond(time.as_millisecond().saturating_add(millis))
        .unwrap_or(Timestamp::MAX)
}

/// A duration as Go prints it (`1h0m0s`, `30s`), for Argo-identical event messages.
fn go_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}
