//! One reconcile of a blue-green Rollout (ARGO-SEMANTICS §4): the new revision runs beside
//! the stable one behind the preview Service; after its pre-promotion analysis and pause it
//! grows to full size and the active Service switches to it; after the post-promotion
//! analysis it becomes stable, and the old revision is scaled down after a delay. An abort
//! switches the active Service back.

use std::ops::{Deref, DerefMut};

use jiff::Timestamp;

use super::effect::{AnalysisKind, Effect, Event};
use super::pass::{Pass, Waiting, add};
use super::{Decision, Observation};
use crate::model::{
    BlueGreenPlan, PauseCondition, PauseReason, ReplicaSetView, RolloutPlan, RolloutState, until,
};

/// Reconciles a blue-green Rollout once. Pure: the same inputs always give the same decision.
pub(super) fn reconcile(
    plan: &RolloutPlan,
    blue_green: &BlueGreenPlan,
    state: &RolloutState,
    observed: &Observation<'_>,
    now: Timestamp,
) -> Decision {
    let mut pass = BlueGreen {
        pass: Pass::new(plan, &[], state, observed, now),
        blue_green,
    };
    if pass.restart_on_new_revision() {
        pass.next.preview_checkpoint = false;
        return pass.finish();
    }
    let Some(new) = pass.new_replica_set() else {
        pass.create_or_rename_replica_set();
        return pass.finish();
    };
    if pass.services_missing() {
        return pass.finish();
    }
    pass.promote_initial_deploy();
    pass.handle_retry();
    pass.handle_abort();
    pass.fast_track_rollback();
    let unavailable = blue_green.max_unavailable.rounded_down(plan.replicas);
    pass.restart_pods(unavailable);
    if pass.next.promote_full {
        pass.next.pause_conditions.clear();
    }
    if let Some(preview) = &blue_green.preview_service {
        pass.point(preview, &new.hash, new.available);
    }
    if !pass.halted() {
        pass.scale(&new);
    }
    pass.switch_active(&new);
    pass.promote_after_switch(&new);
    pass.sync_pod_metadata();
    pass.sync_anti_affinity();
    pass.trim_history();
    pass.trim_run_history();
    let completed = pass.is_stable_current() && new.available >= plan.replicas;
    let waiting = pass.waiting(&new);
    pass.check_deadline(&new, completed, waiting);
    pass.finish()
}

/// A pass over a blue-green Rollout: the shared [`Pass`] and the blue-green plan.
struct BlueGreen<'a> {
    pass: Pass<'a>,
    blue_green: &'a BlueGreenPlan,
}

// The blue-green steps below read as methods of the pass they extend.
impl<'a> Deref for BlueGreen<'a> {
    type Target = Pass<'a>;

    fn deref(&self) -> &Pass<'a> {
        &self.pass
    }
}

impl DerefMut for BlueGreen<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.pass
    }
}

impl BlueGreen<'_> {
    fn finish(self) -> Decision {
        let active = self.active_hash().map(str::to_owned);
        self.pass.finish_with_active(active.as_deref())
    }

    /// The pod-template hash the active Service selects, if it pins one.
    fn active_hash(&self) -> Option<&str> {
        self.observed
            .services
            .get(&self.blue_green.active_service)
            .and_then(|hash| hash.as_deref())
    }

    /// The new revision goes live without a pause or analysis: it is the first revision (the
    /// status records no other as stable), it already is live, or a person asked for it.
    /// Whether a revision was ever promoted comes from the status alone: an active Service
    /// that pins nothing (its selector replaced by hand or by a tool) is repaired, never
    /// taken as a first deploy.
    fn fast_tracked(&self, new: &ReplicaSetView) -> bool {
        self.next.promote_full
            || self.is_stable_current()
            || self.active_hash() == Some(new.hash.as_str())
    }

    /// Replicas for the new revision: the preview size until it is promoted or cleared to grow.
    fn desired_new(&self, new: &ReplicaSetView) -> i32 {
        let replicas = self.plan.replicas;
        if self.fast_tracked(new) || self.next.preview_checkpoint {
            replicas
        } else {
            self.blue_green.preview_replica_count.unwrap_or(replicas)
        }
    }

    /// Scales at most one ReplicaSet: the stable back to full size, the new one to its size
    /// (or, after an abort, to zero once its delay passes), then old ones after their delay.
    fn scale(&mut self, new: &ReplicaSetView) {
        let replicas = self.plan.replicas;
        if let Some(stable) = self.stable_replica_set()
            && stable.spec != replicas
        {
            self.scale_to(stable, replicas);
            return;
        }
        if self.next.abort {
            self.scale_down_aborted(new);
            return;
        }
        if new.scale_down_deadline.is_some() {
            self.effects.push(Effect::SetScaleDownDeadline {
                name: new.name.clone(),
                deadline: None,
            });
        }
        let desired = self.desired_new(new);
        if new.spec != desired {
            self.scale_to(new, desired);
            return;
        }
        self.scale_down_old();
    }

    /// Old revisions keep their pods for `scaleDownDelaySeconds` after they stop being live,
    /// then go to zero (ARGO-SEMANTICS §4).
    fn scale_down_old(&mut self) {
        let blue_green = self.blue_green;
        self.pass.scale_down_old_after(
            blue_green.scale_down_delay,
            blue_green.scale_down_delay_revision_limit,
            |_| false,
        );
    }

    /// After an abort the new revision keeps its pods for `abortScaleDownDelaySeconds` once
    /// the stable is fully available, then goes to zero (never, when the delay is 0).
    fn scale_down_aborted(&mut self, new: &ReplicaSetView) {
        let stable_ready = self
            .stable_replica_set()
            .is_none_or(|rs| rs.available >= self.plan.replicas);
        if new.spec > 0 && stable_ready {
            let delay = self.blue_green.abort_scale_down_delay;
            self.scale_down_after(new, delay);
        }
    }

    /// Points the active Service at the new revision once it is fully available and, unless
    /// fast-tracked, its pre-promotion analysis passed and its pause is over; after an abort,
    /// back at the stable revision.
    fn switch_active(&mut self, new: &ReplicaSetView) {
        let service = self.blue_green.active_service.clone();
        if self.next.abort {
            if let Some(stable) = self.stable_replica_set() {
                let (hash, available) = (stable.hash.clone(), stable.available);
                self.point(&service, &hash, available);
            }
            return;
        }
        let replicas = self.plan.replicas;
        let saturated = new.spec == replicas && new.available == replicas;
        if !self.fast_tracked(new) && !self.cleared_for_switch(new) {
            // Not cleared: the active Service serves the stable revision, and nothing else.
            if let Some(stable) = self.stable_replica_set() {
                let (hash, available) = (stable.hash.clone(), stable.available);
                self.point(&service, &hash, available);
            }
            return;
        }
        if saturated {
            self.point(&service, &new.hash, new.available);
        }
    }

    /// The preview is ready, its pre-promotion analysis passed and its pause is over; from
    /// then on it may grow to full size.
    fn cleared_for_switch(&mut self, new: &ReplicaSetView) -> bool {
        if self.next.preview_checkpoint {
            return true;
        }
        let desired = self.desired_new(new);
        if new.spec != desired || new.available != desired || self.halted() {
            return false;
        }
        let blue_green = self.blue_green;
        if let Some(analysis) = &blue_green.pre_promotion_analysis
            && !self
                .pass
                .analysis_gate(analysis, AnalysisKind::PrePromotion)
        {
            return false;
        }
        if !self.pause_over() {
            return false;
        }
        self.next.preview_checkpoint = true;
        self.progressed = true;
        true
    }

    /// The blue-green pause: none with automatic promotion and no delay; otherwise it starts
    /// when the preview is ready and ends after `autoPromotionSeconds`, or when a person
    /// removes it (`promote`) if automatic promotion is off.
    fn pause_over(&mut self) -> bool {
        let auto = self.blue_green.auto_promotion_enabled;
        let delay = self.blue_green.auto_promotion_delay;
        if auto && delay.is_zero() {
            return true;
        }
        let reason = PauseReason::BlueGreenPause;
        let condition = self
            .next
            .pause_conditions
            .iter()
            .find(|p| p.reason == reason)
            .cloned();
        match (condition, self.next.controller_pause) {
            (None, false) => {
                let start = self.now;
                self.next
                    .pause_conditions
                    .push(PauseCondition { reason, start });
                self.next.controller_pause = true;
                self.effects.push(Event::normal(
                    "RolloutPaused",
                    "Rollout is paused (BlueGreenPause)",
                ));
                self.progressed = true;
                if auto {
                    self.requeue_within(delay);
                }
                false
            }
            (None, true) => true,
            (Some(condition), _) if auto => {
                let end = add(condition.start, delay);
                if self.now >= end {
                    self.next.pause_conditions.retain(|p| p.reason != reason);
                    true
                } else {
                    let wait = until(self.now, end);
                    self.requeue_within(wait);
                    false
                }
            }
            (Some(_), _) => false,
        }
    }

    /// Once the active Service selects the new revision, runs the post-promotion analysis
    /// and then makes the new revision stable.
    fn promote_after_switch(&mut self, new: &ReplicaSetView) {
        if self.next.abort
            || self.is_stable_current()
            || self.active_hash() != Some(new.hash.as_str())
        {
            return;
        }
        let blue_green = self.blue_green;
        if let Some(analysis) = &blue_green.post_promotion_analysis
            && !self.next.promote_full
            && !self
                .pass
                .analysis_gate(analysis, AnalysisKind::PostPromotion)
        {
            return;
        }
        let reason = if self.next.promote_full {
            self.full_promotion_reason()
        } else {
            "Completed blue-green update"
        };
        self.promote(reason);
        self.next.preview_checkpoint = false;
    }

    /// What the update waits for, for the progress deadline: the pre-promotion analysis
    /// while the preview is ready and not yet cleared, the post-promotion analysis once the
    /// active Service switched, pods otherwise. (The blue-green pause holds the deadline
    /// through its pause condition.)
    fn waiting(&self, new: &ReplicaSetView) -> Waiting {
        let switched = self.active_hash() == Some(new.hash.as_str());
        let analysis = if switched {
            self.blue_green
                .post_promotion_analysis
                .as_ref()
                .map(|_| AnalysisKind::PostPromotion)
        } else if !self.next.preview_checkpoint {
            self.blue_green
                .pre_promotion_analysis
                .as_ref()
                .map(|_| AnalysisKind::PrePromotion)
        } else {
            None
        };
        match analysis {
            Some(kind) if self.slot(kind).is_some() => Waiting::Analysis(kind),
            _ => Waiting::Pods,
        }
    }
}
