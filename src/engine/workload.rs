//! `workloadRef.scaleDown`: how a Rollout takes over from the Deployment whose template it
//! runs. The Deployment's template *is* the Rollout's current revision, so while the Rollout
//! runs its first revision the Deployment's pods are the same version and may stand in for
//! the Rollout's missing ones (`progressively`: the Deployment keeps `replicas − available`
//! pods, as Argo; `onsuccess`: all of them until the Rollout is Healthy, then 0, as Argo). As
//! soon as there is a later revision — whose template the Deployment would roll out by itself,
//! past every step and analysis — the Deployment is held at 0 in both modes (Argo leaves it
//! as it is).

use super::{Decision, Effect, Observation};
use crate::model::{Phase, RolloutPlan, ScaleDown};

/// Adds the effect that sets the Deployment's replicas, when they are not what the Rollout's
/// progress calls for. Nothing while the Deployment has not been read (`workload_replicas`).
pub(super) fn scale_down(plan: &RolloutPlan, observed: &Observation<'_>, decision: &mut Decision) {
    let Some(workload) = &plan.workload else {
        return;
    };
    let Some(current) = observed.workload_replicas else {
        return;
    };
    let Some(target) = target(
        workload.scale_down,
        plan.replicas,
        first_revision(observed),
        decision.state.counts.available,
        decision.state.phase == Some(Phase::Healthy),
    ) else {
        return;
    };
    if target != current {
        decision.effects.push(Effect::ScaleWorkload {
            name: workload.name.clone(),
            replicas: target,
        });
    }
}

/// Whether the current revision is the Rollout's first: the Deployment runs the same pods.
fn first_revision(observed: &Observation<'_>) -> bool {
    let current = observed
        .replica_sets
        .iter()
        .find(|rs| rs.hash == observed.pod_hash);
    match current {
        Some(rs) => rs.revision <= 1,
        None => observed.replica_sets.is_empty(),
    }
}

/// The Deployment's replicas: `None` leaves them alone.
fn target(
    scale_down: ScaleDown,
    replicas: i32,
    first_revision: bool,
    available: i32,
    healthy: bool,
) -> Option<i32> {
    let taken_over = healthy || !first_revision;
    match scale_down {
        ScaleDown::Never => None,
        _ if taken_over => Some(0),
        ScaleDown::OnSuccess => None,
        ScaleDown::Progressively => Some((replicas - available).max(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployment_is_scaled_as_argo_scales_it_and_never_past_the_first_revision() {
        use ScaleDown::{Never, OnSuccess, Progressively};
        // (mode, first revision, available of 5, healthy) → Deployment replicas.
        let table = [
            (Never, true, 0, false, None),
            (Never, false, 5, true, None),
            (OnSuccess, true, 3, false, None),
            (OnSuccess, true, 5, true, Some(0)),
            (OnSuccess, false, 0, false, Some(0)),
            (Progressively, true, 0, false, Some(5)),
            (Progressively, true, 2, false, Some(3)),
            (Progressively, true, 5, false, Some(0)),
            (Progressively, true, 7, false, Some(0)),
            (Progressively, true, 3, true, Some(0)),
            (Progressively, false, 0, false, Some(0)),
        ];
        for (mode, first, available, healthy, wanted) in table {
            assert_eq!(
                target(mode, 5, first, available, healthy),
                wanted,
                "{mode:?} first={first} available={available} healthy={healthy}"
            );
        }
    }
}
