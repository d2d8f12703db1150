//! The part of a reconcile that every strategy shares: the working state of one pass, and
//! what it does the same way for canary and blue-green — detect a new revision, find and
//! create ReplicaSets, handle abort and retry, promote, trim history, pin Services, and turn
//! the outcome into conditions, phase and a decision.

use std::time::Duration;

use jiff::Timestamp;

use super::conditions::{self, Assessment, Trouble};
use super::effect::{AnalysisKind, Effect, Event};
use super::{Decision, Observation};
use crate::model::{
    PauseReason, PingPong, PodCounts, ReplicaSetView, RolloutPlan, RolloutState, Step, Strategy,
    until,
};

/// The working state of one reconcile.
#[allow(clippy::struct_excessive_bools)] // independent facts about one pass
pub(super) struct Pass<'a> {
    pub plan: &'a RolloutPlan,
    /// The canary steps (none for blue-green).
    pub steps: &'a [Step],
    pub previous: &'a RolloutState,
    pub observed: &'a Observation<'a>,
    pub now: Timestamp,
    pub next: RolloutState,
    pub effects: Vec<Effect>,
    pub requeue: Option<Duration>,
    pub progressed: bool,
    pub retried: bool,
    /// The progress deadline passed this pass: what was stuck.
    pub deadline_exceeded: Option<String>,
    /// A restart is evicting pods.
    pub restarting: bool,
}

/// What an update waits for, for the progress deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Waiting {
    /// Pods to scale and become available.
    Pods,
    /// A person or a timer (a pause): no deadline.
    Pause,
    /// The run of an analysis gate.
    Analysis(AnalysisKind),
}

impl<'a> Pass<'a> {
    pub(super) fn new(
        plan: &'a RolloutPlan,
        steps: &'a [Step],
        previous: &'a RolloutState,
        observed: &'a Observation<'a>,
        now: Timestamp,
    ) -> Self {
        let mut next = previous.clone();
        next.observed_generation = Some(observed.generation);
        conditions::clear_invalid_spec(&mut next);
        Self {
            plan,
            steps,
            previous,
            observed,
            now,
            next,
            effects: Vec::new(),
            requeue: None,
            progressed: false,
            retried: false,
            deadline_exceeded: None,
            restarting: false,
        }
    }

    pub(super) fn step_count(&self) -> usize {
        self.steps.len()
    }

    pub(super) fn index(&self) -> usize {
        self.next
            .current_step_index
            .unwrap_or(0)
            .min(self.step_count())
    }

    pub(super) fn is_stable_current(&self) -> bool {
        self.next.stable_hash.as_deref() == Some(self.observed.pod_hash)
    }

    pub(super) fn revision_of(&self, hash: &str) -> u64 {
        let known = self.observed.replica_sets.iter().find(|rs| rs.hash == hash);
        known.map_or_else(
            || next_revision(self.observed.replica_sets),
            |rs| rs.revision,
        )
    }

    pub(super) fn requeue_within(&mut self, after: Duration) {
        self.requeue = Some(self.requeue.map_or(after, |current| current.min(after)));
    }

    /// A changed template or changed steps restart the steps (ARGO-SEMANTICS §2.3.1). Only the
    /// status changes in this pass; scaling starts with the next one.
    pub(super) fn restart_on_new_revision(&mut self) -> bool {
        let pod_hash = self.observed.pod_hash;
        let template_changed = self.previous.current_pod_hash.as_deref() != Some(pod_hash);
        let steps_changed =
            self.previous.current_step_hash.as_deref() != Some(self.observed.steps_hash);
        if !template_changed && !steps_changed {
            return false;
        }
        self.clear_gates();
        self.next.preview_checkpoint = false;
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
        self.progressed = true;
        self.requeue_within(Duration::ZERO);
        true
    }

    pub(super) fn new_replica_set(&self) -> Option<ReplicaSetView> {
        self.observed
            .replica_sets
            .iter()
            .find(|rs| rs.hash == self.observed.pod_hash)
            .cloned()
    }

    /// The first revision becomes stable at once: there is nothing to compare it with.
    pub(super) fn promote_initial_deploy(&mut self) {
        if self.next.stable_hash.is_none() {
            self.promote("Initial deploy");
        }
    }

    /// The stable revision has no steps left, whatever index the status recorded (edited by
    /// hand, or written by another controller).
    pub(super) fn skip_steps_of_the_stable(&mut self) {
        if self.is_stable_current() {
            self.next.current_step_index = Some(self.step_count());
        }
    }

    /// `retry` cleared the abort flag of an aborted update: start the steps again.
    pub(super) fn handle_retry(&mut self) {
        if !self.next.abort && self.next.aborted_at.is_some() {
            self.next.aborted_at = None;
            self.next.current_step_index = Some(0);
            // A new attempt: every gate measures again, from the start.
            self.clear_gates();
            self.next.preview_checkpoint = false;
            self.retried = true;
            self.progressed = true;
        }
    }

    pub(super) fn handle_abort(&mut self) {
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
        // Abort always wins: a pending full promotion is dropped, and a blue-green preview
        // cleared to grow must be cleared again after a retry.
        self.next.promote_full = false;
        self.next.preview_checkpoint = false;
        self.next.pause_conditions.clear();
        self.next.controller_pause = false;
        let index = if self.is_stable_current() {
            self.step_count()
        } else {
            0
        };
        self.next.current_step_index = Some(index);
    }

    pub(super) fn abort_message(&self) -> String {
        let revision = self.revision_of(self.observed.pod_hash);
        let cause = self
            .analysis_abort_cause()
            .or_else(|| self.experiment_abort_cause());
        match cause {
            Some(cause) => format!("Rollout aborted update to revision {revision}: {cause}"),
            None => format!("Rollout aborted update to revision {revision}"),
        }
    }

    /// Scaling and steps stop while a person paused the rollout or an inconclusive analysis
    /// or experiment waits for one (ARGO-SEMANTICS §1.8).
    pub(super) fn halted(&self) -> bool {
        self.plan.paused
            || self.next.pause_conditions.iter().any(|p| {
                matches!(
                    p.reason,
                    PauseReason::InconclusiveAnalysisRun | PauseReason::InconclusiveExperiment
                )
            })
    }

    pub(super) fn stable_replica_set(&self) -> Option<&'a ReplicaSetView> {
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
    pub(super) fn other_replica_sets(&self) -> Vec<&'a ReplicaSetView> {
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

    pub(super) fn scale_to(&mut self, rs: &ReplicaSetView, replicas: i32) {
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

    pub(super) fn promote(&mut self, reason: &str) {
        let hash = self.observed.pod_hash.to_owned();
        let revision = self.revision_of(&hash);
        let ping_pong = matches!(
            &self.plan.strategy,
            Strategy::Canary(canary)
                if canary.traffic.as_ref().is_some_and(|traffic| traffic.ping_pong.is_some())
        );
        if ping_pong && self.next.stable_hash.as_deref() != Some(hash.as_str()) {
            // The canary's ping-pong Service selects the new pods already: it is the stable one
            // now, and no Service switches under traffic.
            self.next.stable_ping_pong = Some(PingPong::flipped(self.next.stable_ping_pong));
        }
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

    /// Old revisions keep their pods for `delay` after they stop being live, then go to zero;
    /// at most `limit` of them wait at once, newest first, and the rest go to zero at once.
    /// ReplicaSets that are still `referenced` (by a Service or a router) are left alone.
    /// Acts on one ReplicaSet at most; returns whether it did.
    pub(super) fn scale_down_old_after(
        &mut self,
        delay: Duration,
        limit: Option<i32>,
        referenced: impl Fn(&ReplicaSetView) -> bool,
    ) -> bool {
        let limit = limit.map_or(usize::MAX, |limit| usize::try_from(limit).unwrap_or(0));
        let old: Vec<_> = self
            .other_replica_sets()
            .into_iter()
            .filter(|rs| rs.spec > 0 && !referenced(rs))
            .collect();
        let mut waiting = 0;
        for rs in old {
            let acted = match rs.scale_down_deadline {
                // Starts its delay: a change, so the pass ends here.
                None if waiting < limit => self.scale_down_after(rs, Some(delay)),
                None => {
                    self.scale_to(rs, 0);
                    true
                }
                Some(_) => {
                    waiting += 1;
                    if waiting > limit {
                        self.scale_to(rs, 0);
                        true
                    } else {
                        self.scale_down_after(rs, Some(delay))
                    }
                }
            };
            if acted {
                return true;
            }
        }
        false
    }

    /// Gives `rs` a scale-down deadline `delay` from now, or scales it to zero once that
    /// deadline passed; `None` keeps it. Returns whether anything was done.
    pub(super) fn scale_down_after(
        &mut self,
        rs: &ReplicaSetView,
        delay: Option<Duration>,
    ) -> bool {
        let Some(delay) = delay else { return false };
        match rs.scale_down_deadline {
            None => {
                let deadline = add(self.now, delay);
                self.effects.push(Effect::SetScaleDownDeadline {
                    name: rs.name.clone(),
                    deadline: Some(deadline),
                });
                self.requeue_within(delay);
                true
            }
            Some(deadline) if self.now >= deadline => {
                self.scale_to(rs, 0);
                true
            }
            Some(deadline) => {
                let wait = until(self.now, deadline);
                self.requeue_within(wait);
                false
            }
        }
    }

    pub(super) fn point(&mut self, service: &str, hash: &str, available: i32) {
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

    pub(super) fn finish(self) -> Decision {
        self.finish_as(None)
    }

    /// Finishes a blue-green pass; `active` is the hash the active Service selects.
    pub(super) fn finish_with_active(self, active: Option<&str>) -> Decision {
        let switched = active == Some(self.observed.pod_hash);
        self.finish_as(Some(switched))
    }

    /// Records pod counts, conditions and phase; `active_switched` is `Some` for blue-green.
    fn finish_as(mut self, active_switched: Option<bool>) -> Decision {
        self.terminate_idle_runs();
        self.terminate_idle_experiments();
        if self.next.pause_conditions.is_empty() {
            self.next.controller_pause = false;
        }
        self.next.counts = pod_counts(self.observed.replica_sets, self.observed.pod_hash);
        let new_replica_set = self.new_replica_set().map(|rs| rs.name);
        let trouble = if self.next.abort {
            Some(Trouble::Aborted(self.abort_message()))
        } else if let Some(stuck) = self.deadline_exceeded.clone() {
            Some(Trouble::DeadlineExceeded(stuck))
        } else if self.retried {
            Some(Trouble::Retried)
        } else {
            None
        };
        // A routed canary is complete once its routers were seen to carry the final split.
        let routers_settled = self
            .next
            .traffic
            .as_ref()
            .is_none_or(|traffic| traffic.verified);
        let completed =
            self.is_stable_current() && self.index() >= self.step_count() && routers_settled;
        let routed =
            matches!(&self.plan.strategy, Strategy::Canary(canary) if canary.traffic.is_some());
        let assessment = Assessment {
            replicas: self.plan.replicas,
            paused_by_spec: self.plan.paused,
            new_replica_set,
            progressed: self.progressed,
            completed,
            trouble,
            active_switched,
            restarting: self.restarting,
            routed,
        };
        conditions::assess(&mut self.next, &assessment, self.now);
        Decision {
            state: self.next,
            effects: self.effects,
            requeue_after: self.requeue,
        }
    }

    /// Whether a Service the Rollout names does not exist; then nothing may move (traffic
    /// could not follow), a Warning says which, and the Rollout is looked at again soon.
    pub(super) fn services_missing(&mut self) -> bool {
        let missing: Vec<&str> = self
            .plan
            .services()
            .into_iter()
            .filter(|name| !self.observed.services.contains_key(*name))
            .collect();
        if missing.is_empty() {
            return false;
        }
        let message = format!(
            "Service {} named by the Rollout does not exist",
            missing.join(", ")
        );
        self.effects
            .push(Event::warning("ServiceNotFound", message));
        self.requeue_within(Duration::from_secs(30));
        true
    }

    /// Restarts the pods created before `restartAt` (ARGO-SEMANTICS §2.10): evicts them —
    /// stable first, then the current revision, then older ones — as far as keeping
    /// `replicas - max(maxUnavailable, 1)` pods available allows, and records the restart as
    /// done once none is left. Evicted pods are replaced by their ReplicaSets.
    pub(super) fn restart_pods(&mut self, max_unavailable: i32) {
        let Some(at) = self.plan.restart_at else {
            return;
        };
        if self.next.restarted_at == Some(at) || self.now < at {
            return;
        }
        let stable = self.next.stable_hash.clone();
        let rank = |hash: &str| {
            if Some(hash) == stable.as_deref() {
                0
            } else if hash == self.observed.pod_hash {
                1
            } else {
                2
            }
        };
        let mut old: Vec<_> = self
            .observed
            .pods
            .iter()
            .filter(|pod| pod.created < at && !pod.terminating)
            .collect();
        if old.is_empty() {
            self.next.restarted_at = Some(at);
            self.effects.push(Event::normal(
                "RolloutRestarted",
                format!("Restarted every pod created before {at}"),
            ));
            self.progressed = true;
            return;
        }
        old.sort_by(|a, b| (rank(&a.hash), &a.name).cmp(&(rank(&b.hash), &b.name)));
        let replica_sets = self.observed.replica_sets;
        let available: i32 = replica_sets.iter().map(|rs| rs.available).sum();
        let desired: i32 = replica_sets
            .iter()
            .map(|rs| rs.spec)
            .sum::<i32>()
            .max(self.plan.replicas);
        let budget = available - (desired - max_unavailable.max(1));
        let evictions: Vec<_> = old
            .iter()
            .take(usize::try_from(budget).unwrap_or(0))
            .map(|pod| pod.name.clone())
            .collect();
        for name in evictions {
            self.effects.push(Effect::EvictPod { name });
            self.progressed = true;
        }
        self.restarting = true;
        self.requeue_within(Duration::from_secs(30));
    }

    /// Marks the rollout as failed when it made no progress for `progressDeadlineSeconds`,
    /// and aborts it with `progressDeadlineAbort` (ARGO-SEMANTICS §3.4). No deadline applies
    /// while a person or a timer holds the update, once it completed, or while it is
    /// aborted; an analysis gate is held to it from when its run was next due to show
    /// progress, so a run that stopped measuring (or never started) cannot stall it forever.
    pub(super) fn check_deadline(
        &mut self,
        new: &ReplicaSetView,
        completed: bool,
        waiting: Waiting,
    ) {
        // Once exceeded, the condition stays until progress replaces it.
        if self.progressed
            || conditions::deadline_exceeded(&self.next)
            || completed
            || waiting == Waiting::Pause
            || self.plan.paused
            || !self.next.pause_conditions.is_empty()
            || conditions::deadline_suspended(&self.next)
        {
            return;
        }
        let Some(last_progress) = conditions::last_progress(&self.next) else {
            return;
        };
        let (from, stuck) = match waiting {
            Waiting::Analysis(kind) => {
                let Some(recorded) = self.slot(kind) else {
                    return;
                };
                let run = self
                    .observed
                    .analysis_runs
                    .iter()
                    .find(|run| run.name == recorded.name);
                if let Some(run) = run {
                    // Completed, or its next measurement cannot be told: nothing is overdue.
                    let Some(due) = run.expected_by else { return };
                    let message = format!(
                        "AnalysisRun {:?} has made no progress since its measurement was due at {due}.",
                        run.name
                    );
                    (last_progress.max(due), message)
                } else {
                    let message = format!(
                        "AnalysisRun {:?} could not be started: it does not exist.",
                        recorded.name
                    );
                    (last_progress, message)
                }
            }
            Waiting::Pods | Waiting::Pause => (
                last_progress,
                format!("ReplicaSet {:?} has timed out progressing.", new.name),
            ),
        };
        let deadline = add(from, self.plan.progress_deadline);
        if self.now < deadline {
            let wait = until(self.now, deadline);
            self.requeue_within(wait);
            return;
        }
        self.effects
            .push(Event::warning("RolloutTimedOut", stuck.clone()));
        self.deadline_exceeded = Some(stuck);
        if self.plan.progress_deadline_abort && !self.next.abort {
            self.next.abort = true;
            self.handle_abort();
        }
    }

    /// Asks for the current revision's ReplicaSet — or, when its name is taken by a
    /// ReplicaSet that is not the Rollout's, counts a collision: the collision count is part
    /// of the pod-template hash, so the next pass looks for a ReplicaSet of another name
    /// (ARGO-SEMANTICS §6).
    pub(super) fn create_or_rename_replica_set(&mut self) {
        if !self.observed.replica_set_name_taken {
            self.create_new_replica_set();
            return;
        }
        let count = self.next.collision_count.unwrap_or(0).saturating_add(1);
        self.next.collision_count = Some(count);
        let message = format!(
            "ReplicaSet {}-{} exists but does not belong to Rollout {}; collision count is now {count}",
            self.observed.name, self.observed.pod_hash, self.observed.name
        );
        self.effects
            .push(Event::warning("ReplicaSetNameTaken", message));
        self.requeue_within(Duration::ZERO);
    }

    fn create_new_replica_set(&mut self) {
        let revision = next_revision(self.observed.replica_sets);
        let hash = self.observed.pod_hash;
        self.effects.push(Effect::CreateReplicaSet {
            hash: hash.to_owned(),
            revision,
            pod_metadata: self.new_pod_metadata(),
            avoid: self.new_anti_affinity(),
        });
        let message = format!(
            "Created ReplicaSet {}-{hash} (revision {revision})",
            self.observed.name
        );
        self.effects
            .push(Event::normal("NewReplicaSetCreated", message));
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

pub(super) fn next_revision(replica_sets: &[ReplicaSetView]) -> u64 {
    replica_sets.iter().map(|rs| rs.revision).max().unwrap_or(0) + 1
}

pub(super) fn add(time: Timestamp, duration: Duration) -> Timestamp {
    let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    Timestamp::from_millisecond(time.as_millisecond().saturating_add(millis))
        .unwrap_or(Timestamp::MAX)
}
