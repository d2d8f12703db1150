//! Anti-affinity (Argo's `antiAffinity`): the ReplicaSet of a new revision is created with a
//! pod anti-affinity rule against the stable revision's pods, so the two do not share nodes;
//! a ReplicaSet whose rule names a revision that is no longer stable is pointed at the one
//! that is.

use super::effect::Effect;
use super::pass::Pass;
use crate::model::AvoidRevision;

impl Pass<'_> {
    /// The rule a new ReplicaSet of the current revision is created with: none for the first
    /// revision, or for a return to the stable one.
    pub(super) fn new_anti_affinity(&self) -> Option<AvoidRevision> {
        let rule = self.plan.anti_affinity?;
        let stable = self.next.stable_hash.as_deref()?;
        (stable != self.observed.pod_hash).then(|| AvoidRevision {
            rule,
            hash: stable.to_owned(),
        })
    }

    /// Points the current ReplicaSet's rule at the stable revision when it names another one
    /// (as Argo, a ReplicaSet created without a rule is left without one).
    pub(super) fn sync_anti_affinity(&mut self) {
        let Some(avoid) = self.new_anti_affinity() else {
            return;
        };
        let current = self
            .observed
            .replica_sets
            .iter()
            .find(|rs| rs.hash == self.observed.pod_hash);
        if let Some(rs) = current
            && rs
                .avoids
                .as_ref()
                .is_some_and(|avoids| *avoids != avoid.hash)
        {
            self.effects.push(Effect::SetAntiAffinity {
                name: rs.name.clone(),
                avoid,
            });
        }
    }
}
