//! `rollbackWindow` (Argo's fast-track rollback): returning to a revision created shortly
//! before the stable one — fewer than `revisions` ReplicaSets between them — is promoted at
//! once, as a full promotion is: no steps, no pauses, no analysis. An abort still wins.

use super::effect::Event;
use super::pass::Pass;

impl Pass<'_> {
    /// Whether the current revision is a rollback within the window: its ReplicaSet is
    /// older than the stable one's (revisions count up as ReplicaSets are created), with
    /// fewer than `revisions` ReplicaSets created in between.
    pub(super) fn rollback_within_window(&self) -> bool {
        let Some(window) = self.plan.rollback_window else {
            return false;
        };
        let (Some(new), Some(stable)) = (self.new_replica_set(), self.stable_replica_set()) else {
            return false;
        };
        if new.revision >= stable.revision {
            return false;
        }
        let between = self
            .observed
            .replica_sets
            .iter()
            .filter(|rs| new.revision < rs.revision && rs.revision < stable.revision)
            .count();
        u32::try_from(between).is_ok_and(|between| between < window)
    }

    /// A rollback within the window goes on as a full promotion (after abort and retry
    /// were handled: an aborted rollback stays aborted).
    pub(super) fn fast_track_rollback(&mut self) {
        if self.next.abort || self.next.promote_full || !self.rollback_within_window() {
            return;
        }
        self.next.promote_full = true;
        self.effects.push(Event::normal(
            "SkipSteps",
            "Rollback to active ReplicaSets within RollbackWindow",
        ));
        self.progressed = true;
    }

    /// Why a full promotion promotes: a rollback within the window says so.
    pub(super) fn full_promotion_reason(&self) -> &'static str {
        if self.rollback_within_window() {
            "Rollback within window"
        } else {
            "Full promotion requested"
        }
    }
}
