//! `workloadRef.scaleDown`: the Deployment whose template the Rollout runs steps aside as the
//! Rollout's first revision becomes available (`progressively`, and back while it is not) or
//! is Healthy (`onsuccess`), and never serves again once a later revision exists.

use crate::engine::abort;
use crate::model::{Phase, ScaleDown, WorkloadPlan};

use super::sim::{Sim, pause, weight};

fn migrating(scale_down: ScaleDown) -> Sim {
    let mut sim = Sim::canary(vec![weight(20), pause()]);
    sim.plan.workload = Some(WorkloadPlan {
        name: "web".into(),
        scale_down,
    });
    sim.workload_replicas = Some(5);
    sim.pods_start = false;
    sim
}

#[test]
fn progressively_the_deployment_gives_way_pod_by_pod() {
    let mut sim = migrating(ScaleDown::Progressively);
    sim.settle();
    assert_eq!(
        sim.workload_replicas,
        Some(5),
        "no Rollout pod is available yet"
    );
    for available in [2, 5] {
        sim.replica_sets[0].ready = available;
        sim.replica_sets[0].available = available;
        sim.settle();
        assert_eq!(sim.workload_replicas, Some(5 - available));
    }
    assert_eq!(sim.phase(), Phase::Healthy);
    assert_eq!(sim.workload_writes, [3, 0]);
    // A pod of the first revision lost later: the Deployment (same template) stands in.
    sim.replica_sets[0].available = 4;
    sim.settle();
    assert_eq!(sim.workload_replicas, Some(1));
}

#[test]
fn progressively_the_deployment_comes_back_while_the_first_revision_is_unavailable() {
    let mut sim = migrating(ScaleDown::Progressively);
    sim.settle();
    sim.replica_sets[0].available = 3;
    sim.settle();
    assert_eq!(sim.workload_replicas, Some(2));
    sim.replica_sets[0].available = 1;
    sim.settle();
    assert_eq!(sim.workload_replicas, Some(4), "the same version stands in");
}

#[test]
fn a_later_revision_holds_the_deployment_at_zero_whatever_the_mode_asked() {
    for scale_down in [ScaleDown::OnSuccess, ScaleDown::Progressively] {
        let mut sim = migrating(scale_down);
        sim.settle();
        // The Deployment's template changes before the Rollout was ever Healthy: it is the
        // new revision, and its own rolling update would serve it past the canary's steps.
        sim.update_to("v2");
        sim.settle();
        assert_eq!(sim.workload_replicas, Some(0), "{scale_down:?}");
        sim.state = abort(&sim.state);
        sim.settle();
        assert_eq!(
            sim.workload_replicas,
            Some(0),
            "{scale_down:?}: after abort"
        );
    }
}

#[test]
fn onsuccess_waits_for_healthy_and_never_leaves_it_alone() {
    let mut sim = migrating(ScaleDown::OnSuccess);
    sim.settle();
    sim.replica_sets[0].available = 4;
    sim.settle();
    assert_eq!(sim.workload_replicas, Some(5), "not yet Healthy");
    sim.replica_sets[0].available = 5;
    sim.replica_sets[0].ready = 5;
    sim.settle();
    assert_eq!(sim.phase(), Phase::Healthy);
    assert_eq!(sim.workload_writes, [0]);

    let mut never = migrating(ScaleDown::Never);
    never.settle();
    never.replica_sets[0].available = 5;
    never.replica_sets[0].ready = 5;
    never.settle();
    never.update_to("v2");
    never.settle();
    assert!(never.workload_writes.is_empty());
}

#[test]
fn an_unread_deployment_is_not_scaled() {
    let mut sim = migrating(ScaleDown::Progressively);
    sim.workload_replicas = None;
    sim.settle();
    assert!(sim.workload_writes.is_empty());
}
