//! One reconcile of a canary Rollout (ARGO-SEMANTICS §1.8, §2): detect a new revision, create
//! and scale its ReplicaSet towards the current step's weight, complete steps (weights reached,
//! pauses over, analyses passed), promote, and abort. With traffic routers ([`routing`]) the
//! routers carry the weight and the pods follow it; without, the pod ratio is the weight.

mod routing;

use std::time::Duration;

use jiff::Timestamp;

use std::ops::{Deref, DerefMut};

use super::effect::{AnalysisKind, Event};
use super::pass::{Pass, Waiting, add};
use super::replicas::{BasicCanary, Fenceposts, ReplicaCounts, RoutedCanary, Targets};
use super::{Decision, Observation};
use crate::model::{
    CanaryPlan, CanaryScale, PauseCondition, PauseReason, ProgressThreshold, ReplicaSetView,
    RolloutPlan, RolloutState, Step, until,
};

/// Reconciles a canary once. Pure: the same inputs always give the same decision.
pub(super) fn reconcile(
    plan: &RolloutPlan,
    canary: &CanaryPlan,
    state: &RolloutState,
    observed: &Observation<'_>,
    now: Timestamp,
) -> Decision {
    let mut pass = Canary {
        pass: Pass::new(plan, &canary.steps, state, observed, now),
        canary,
    };
    if pass.restart_on_new_revision() {
        pass.next.weight = pass.weight();
        return pass.pass.finish();
    }
    let Some(new) = pass.new_replica_set() else {
        pass.create_or_rename_replica_set();
        return pass.pass.finish();
    };
    if pass.services_missing() {
        return pass.pass.finish();
    }
    pass.promote_initial_deploy();
    pass.handle_retry();
    pass.handle_abort();
    pass.fast_track_rollback();
    pass.skip_steps_of_the_stable();
    pass.background_analysis();
    let unavailable = pass.fenceposts().unavailable;
    pass.restart_pods(unavailable);
    if pass.next.promote_full {
        pass.next.pause_conditions.clear();
        pass.next.current_step_index = Some(canary.steps.len());
    }
    let targets = pass.targets(&new);
    let scaled = !pass.halted() && pass.scale(&new, targets);
    if !scaled && !pass.halted() {
        pass.progress_steps(&new, targets);
    }
    pass.promote_when_done(&new, targets);
    pass.sync_pod_metadata();
    pass.sync_anti_affinity();
    pass.trim_history();
    pass.trim_run_history();
    pass.point_services(&new);
    pass.route_traffic(&new);
    let completed = pass.is_stable_current() && new.available >= plan.replicas;
    let waiting = pass.waiting();
    pass.check_deadline(&new, completed, waiting);
    pass.pass.finish()
}

/// A pass over a canary: the shared [`Pass`] and the canary's plan.
struct Canary<'a> {
    pass: Pass<'a>,
    canary: &'a CanaryPlan,
}

// The canary steps below read as methods of the pass they extend.
impl<'a> Deref for Canary<'a> {
    type Target = Pass<'a>;

    fn deref(&self) -> &Pass<'a> {
        &self.pass
    }
}

impl DerefMut for Canary<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.pass
    }
}

impl Canary<'_> {
    /// The weight that means all traffic: 100, or the routers' `maxTrafficWeight`.
    fn full_weight(&self) -> i32 {
        self.canary
            .traffic
            .as_ref()
            .map_or(100, |traffic| traffic.max_weight)
    }

    /// The weight the replica counts aim at (ARGO-SEMANTICS §1.2): everything once promoted
    /// or promoting, nothing while aborted, otherwise the last `setWeight` reached.
    fn weight(&self) -> i32 {
        // A stable revision is past its last step and never aborted (`skip_steps_of_the_stable`,
        // `handle_abort`): it falls to the index check below.
        // Abort wins over everything, a pending full promotion included.
        if self.next.abort {
            return 0;
        }
        if self.next.promote_full {
            return self.full_weight();
        }
        let index = self.index();
        if index >= self.step_count() {
            return self.full_weight();
        }
        self.set_weight_up_to(index + 1).unwrap_or(0)
    }

    /// The last `setWeight` among the steps before `end`.
    fn set_weight_up_to(&self, end: usize) -> Option<i32> {
        self.canary.steps[..end.min(self.step_count())]
            .iter()
            .rev()
            .flat_map(Step::parts)
            .find_map(|step| match step {
                Step::SetWeight(weight) => Some(*weight),
                _ => None,
            })
    }

    /// The `setCanaryScale` in effect: the last one at or before the current step, unless it
    /// asked to match the traffic weight again; none once the update is aborted or past its
    /// steps (a full promotion moves it past them before the targets are computed).
    fn canary_scale(&self) -> Option<CanaryScale> {
        if self.next.abort || self.is_stable_current() {
            return None;
        }
        let index = self.index();
        if index >= self.step_count() {
            return None;
        }
        self.canary.steps[..=index]
            .iter()
            .rev()
            .flat_map(|step| step.parts().iter().rev())
            .find_map(|step| match step {
                Step::SetCanaryScale(scale) => Some(*scale),
                _ => None,
            })
            .filter(|scale| *scale != CanaryScale::MatchTrafficWeight)
    }

    fn targets(&mut self, new: &ReplicaSetView) -> Targets {
        self.next.weight = self.weight();
        self.compute_targets(new)
    }

    /// The replica counts the current step asks for.
    fn compute_targets(&self, new: &ReplicaSetView) -> Targets {
        if let Some(traffic) = &self.canary.traffic {
            let stable_is_new = self.stable_replica_set().is_none();
            let weight = if stable_is_new {
                traffic.max_weight
            } else {
                self.weight()
            };
            let dynamic_stable_weight = traffic.dynamic_stable_scale.then(|| {
                self.previous
                    .traffic
                    .as_ref()
                    .map_or(traffic.max_weight, |recorded| recorded.stable_weight)
            });
            return RoutedCanary {
                replicas: self.plan.replicas,
                max_weight: traffic.max_weight,
                weight,
                scale: self.canary_scale(),
                min_pods: traffic.min_pods_per_replica_set,
                dynamic_stable_weight,
            }
            .targets();
        }
        let others: Vec<_> = self
            .other_replica_sets()
            .iter()
            .map(|rs| counts(rs))
            .collect();
        BasicCanary {
            replicas: self.plan.replicas,
            weight: self.weight(),
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
        if let Some(traffic) = self.canary.traffic.as_ref() {
            return self.scale_routed(new, targets, traffic);
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
        let can_remove = (total_available - min_available).max(0);
        // One ReplicaSet per pass, so the budget is spent at most once.
        for rs in others {
            let target = if rs.spec > rs.available {
                rs.available
            } else {
                rs.spec - rs.spec.min(can_remove)
            };
            if target != rs.spec {
                self.scale_to(rs, target);
                return true;
            }
        }
        false
    }

    /// Completes the current step when it is done (ARGO-SEMANTICS §2.1–2.2, §5.6).
    fn progress_steps(&mut self, new: &ReplicaSetView, targets: Targets) {
        // Promoted, promoting in full or stable: the index is past the last step already.
        if self.next.abort {
            return;
        }
        let index = self.index();
        let Some(step) = self.canary.steps.get(index) else {
            return;
        };
        let done = match step.gate() {
            Step::SetWeight(_) => {
                self.at_desired_counts(new, targets) && self.routers_carry_now(new)
            }
            Step::SetCanaryScale(_) => self.at_desired_counts(new, targets),
            Step::SetHeaderRoute(_) | Step::SetMirrorRoute(_) => self.routers_carry_now(new),
            Step::Pause(duration) => self.pause_done(*duration),
            Step::Analysis(_) => self.analysis_done(index),
            Step::Experiment(_) => self.experiment_gate(index),
            Step::Combined(_) => unreachable!("a step's gate is a single step"),
        };
        if done {
            self.complete_step(index, step);
        }
    }

    /// Whether the pods are where the current step wants them (ARGO-SEMANTICS §2.1): the new
    /// ReplicaSet fully scaled and available, the stable fully created (unless it follows the
    /// traffic), and without routers every other revision gone.
    fn at_desired_counts(&self, new: &ReplicaSetView, targets: Targets) -> bool {
        let new_ready = new.spec == targets.new
            && ProgressThreshold::met(self.canary.progress_threshold, new.available, targets.new);
        let dynamic = self
            .canary
            .traffic
            .as_ref()
            .is_some_and(|traffic| traffic.dynamic_stable_scale);
        let stable_ready = dynamic
            || self
                .stable_replica_set()
                .is_none_or(|rs| rs.spec == targets.stable && rs.replicas == targets.stable);
        let others_gone = self.canary.traffic.is_some()
            || self.other_replica_sets().iter().all(|rs| rs.available == 0);
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
                let start = self.now;
                self.next.pause_conditions.push(PauseCondition {
                    reason: PauseReason::CanaryPauseStep,
                    start,
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
                        let wait = until(self.now, end);
                        self.requeue_within(wait);
                    }
                    over
                }
                None => false,
            },
        }
    }

    fn analysis_done(&mut self, index: usize) -> bool {
        let Step::Analysis(analysis) = self.canary.steps[index].gate() else {
            return false;
        };
        self.pass.analysis_gate(analysis, AnalysisKind::Step(index))
    }

    /// Runs the background analysis (ARGO-SEMANTICS §5.6): one run per attempt at the
    /// revision, from `startingStep` until the revision is promoted (then it is stopped);
    /// none for the first revision. Failed or Error aborts, Inconclusive pauses.
    fn background_analysis(&mut self) {
        let Some(background) = &self.canary.background_analysis else {
            return;
        };
        // The first revision is stable by now: it never has a background run.
        if self.is_stable_current() {
            self.next.background_analysis = None;
            return;
        }
        if self.next.abort || self.next.promote_full || self.index() < background.starting_step {
            return;
        }
        self.pass
            .analysis_gate(&background.analysis, AnalysisKind::Background);
    }

    /// What the current step waits for, for the progress deadline.
    fn waiting(&self) -> Waiting {
        match self.canary.steps.get(self.index()).map(Step::gate) {
            // An Experiment holds its templates to its own progress deadline.
            Some(Step::Pause(_) | Step::Experiment(_)) => Waiting::Pause,
            Some(Step::Analysis(_)) => Waiting::Analysis(AnalysisKind::Step(self.index())),
            _ => Waiting::Pods,
        }
    }

    fn complete_step(&mut self, index: usize, step: &Step) {
        self.next.current_step_index = Some(index + 1);
        self.next
            .pause_conditions
            .retain(|p| p.reason != PauseReason::CanaryPauseStep);
        self.next.step_analysis = None;
        self.next.step_experiment = None;
        let description = describe(step.gate());
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
    /// ReplicaSet is fully available — or as available as `replicaProgressThreshold` asks
    /// (ARGO-SEMANTICS §2.5); with routers, once they were also
    /// seen to send it all traffic (a full promotion keeps the split it had).
    fn promote_when_done(&mut self, new: &ReplicaSetView, targets: Targets) {
        if self.is_stable_current() || self.next.abort {
            return;
        }
        let steps_done = self.index() >= self.step_count();
        let available = ProgressThreshold::met(
            self.canary.progress_threshold,
            new.available,
            self.plan.replicas,
        );
        if !available || !(steps_done || self.next.promote_full) {
            return;
        }
        if self.canary.traffic.is_some()
            && !self.next.promote_full
            && !(self.at_desired_counts(new, targets) && self.routers_carry_now(new))
        {
            return;
        }
        let reason = if self.next.promote_full {
            self.full_promotion_reason().to_owned()
        } else {
            format!("Completed all {} canary steps", self.step_count())
        };
        self.promote(&reason);
    }

    /// Pins the stable Service to the stable pods and the canary Service to the new pods
    /// (to the stable pods while aborted), once the chosen pods have an available replica.
    /// Ping-pong Services take the two roles in turn: the stable one is pinned to the stable
    /// pods, the canary one to the new pods until they are promoted (then it is the stable
    /// one), or back to the stable pods on an abort.
    fn point_services(&mut self, new: &ReplicaSetView) {
        let stable = self.stable_replica_set().cloned();
        let stable_hash = self.next.stable_hash.clone();
        let stable_view = stable.as_ref().unwrap_or(new);
        let pairs = [
            (
                self.canary.stable_service.clone(),
                self.canary.canary_service.clone(),
            ),
            self.ping_pong_roles()
                .map_or((None, None), |(stable, canary)| {
                    (Some(stable), Some(canary))
                }),
        ];
        for (stable_service, canary_service) in pairs {
            if let (Some(service), Some(hash)) = (&stable_service, &stable_hash) {
                self.point(service, hash, stable_view.available);
            }
            if let Some(service) = &canary_service {
                let target = if self.next.abort { stable_view } else { new };
                let hash = if self.next.abort {
                    stable_hash.clone().unwrap_or_else(|| new.hash.clone())
                } else {
                    new.hash.clone()
                };
                self.point(service, &hash, target.available);
            }
        }
    }

    /// The (stable, canary) ping-pong Services, if the canary has them.
    pub(super) fn ping_pong_roles(&self) -> Option<(String, String)> {
        let ping_pong = self.canary.traffic.as_ref()?.ping_pong.as_ref()?;
        let (stable, canary) = ping_pong.roles(self.next.stable_ping_pong);
        Some((stable.to_owned(), canary.to_owned()))
    }
}

/// A step as Argo's events describe it (`setWeight: 20`, `pause: 1h0m0s`).
fn describe(step: &Step) -> String {
    match step {
        Step::SetWeight(weight) => format!("setWeight: {weight}"),
        Step::Pause(Some(duration)) => format!("pause: {}", go_duration(*duration)),
        Step::Pause(None) => "pause".to_owned(),
        Step::Analysis(_) => "analysis".to_owned(),
        Step::Experiment(_) => "experiment".to_owned(),
        Step::SetCanaryScale(CanaryScale::Weight(weight)) => {
            format!("setCanaryScale{{weight: {weight}}}")
        }
        Step::SetCanaryScale(CanaryScale::Replicas(replicas)) => {
            format!("setCanaryScale{{replicas: {replicas}}}")
        }
        Step::SetCanaryScale(CanaryScale::MatchTrafficWeight) => {
            "setCanaryScale{matchTrafficWeight: true}".to_owned()
        }
        Step::SetHeaderRoute(route) => format!("setHeaderRoute: {}", route.name),
        Step::SetMirrorRoute(route) => format!("setMirrorRoute: {}", route.name),
        Step::Combined(parts) => parts.first().map_or_else(String::new, describe),
    }
}

fn counts(rs: &ReplicaSetView) -> ReplicaCounts {
    ReplicaCounts {
        spec: rs.spec,
        available: rs.available,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// As Go's `time.Duration.String()` prints whole seconds.
    #[test]
    fn durations_read_as_go_prints_them() {
        for (seconds, printed) in [
            (0, "0s"),
            (30, "30s"),
            (90, "1m30s"),
            (3600, "1h0m0s"),
            (3661, "1h1m1s"),
        ] {
            assert_eq!(go_duration(Duration::from_secs(seconds)), printed);
        }
    }
}
