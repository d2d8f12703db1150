//! Role metadata: the pods of the revision being rolled out and of the stable one carry their
//! role's labels and annotations, which move with a promotion and leave with a change of
//! spec — without a new revision and without touching what the roles did not add.

use crate::engine::promote;
use crate::model::{PodMetadata, RoleMetadata};

use super::sim::{Sim, pause, weight};

fn canary_role() -> PodMetadata {
    PodMetadata::of(
        &[("role", "canary"), ("track", "new")],
        &[("note", "trial")],
    )
}

fn stable_role() -> PodMetadata {
    PodMetadata::of(&[("role", "stable")], &[])
}

fn with_roles(mut sim: Sim) -> Sim {
    sim.plan.role_metadata = RoleMetadata {
        updated: Some(canary_role()),
        stable: Some(stable_role()),
    };
    sim
}

/// Deploys v1 with its pods, then updates to v2 (its pods started) and settles at the pause.
fn updated(sim: Sim) -> Sim {
    let mut sim = sim.deployed();
    sim.with_pods();
    sim.settle();
    sim.update_to("v2");
    sim.settle();
    sim.with_pods();
    sim.settle();
    sim
}

fn recorded<'a>(sim: &'a Sim, hash: &str) -> Option<&'a PodMetadata> {
    let rs = sim.replica_sets.iter().find(|rs| rs.hash == hash)?;
    rs.pod_metadata.as_ref()
}

#[test]
fn each_role_marks_its_pods_and_the_marks_move_with_the_promotion() {
    let mut sim = updated(with_roles(Sim::canary(vec![weight(40), pause()])));
    assert_eq!(recorded(&sim, "v1"), Some(&stable_role()));
    assert_eq!(recorded(&sim, "v2"), Some(&canary_role()));
    assert_eq!(sim.pod_label("web-v1-0", "role"), Some("stable"));
    assert_eq!(sim.pod_label("web-v2-0", "role"), Some("canary"));

    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert_eq!(recorded(&sim, "v2"), Some(&stable_role()));
    let canary_pods: Vec<_> = sim.pods.iter().filter(|pod| pod.hash == "v2").collect();
    assert_eq!(canary_pods.len(), 2, "the pods of the 40% step");
    for pod in canary_pods {
        let metadata = &pod.metadata;
        assert_eq!(
            metadata.labels.get("role").map(String::as_str),
            Some("stable"),
            "{}",
            pod.name
        );
        assert!(
            !metadata.labels.contains_key("track"),
            "{}: the canary's key left",
            pod.name
        );
        assert!(!metadata.annotations.contains_key("note"), "{}", pod.name);
    }
    assert_eq!(recorded(&sim, "v1"), None, "an old template loses its role");
}

#[test]
fn the_first_revision_is_created_with_the_stable_role() {
    let sim = with_roles(Sim::canary(vec![weight(40), pause()])).deployed();
    assert!(sim.metadata_writes.is_empty(), "{:?}", sim.metadata_writes);
    assert_eq!(recorded(&sim, "v1"), Some(&stable_role()));
}

#[test]
fn only_the_pods_that_miss_their_role_are_written() {
    let mut sim = updated(with_roles(Sim::canary(vec![weight(40), pause()])));
    sim.metadata_writes.clear();
    // A pod created by hand or before the template had its role.
    let pod = sim.pods.iter_mut().find(|p| p.name == "web-v2-1").unwrap();
    pod.metadata = PodMetadata::default();
    let decision = sim.reconcile();
    let writes: Vec<_> = decision
        .effects
        .iter()
        .filter_map(|effect| match effect {
            crate::engine::Effect::SetPodMetadata { name, pods, .. } => Some((name, pods)),
            _ => None,
        })
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].0, "web-v2");
    assert_eq!(writes[0].1, &["web-v2-1".to_owned()]);
    assert_eq!(sim.pod_label("web-v2-1", "role"), Some("canary"));

    sim.metadata_writes.clear();
    sim.settle();
    assert!(sim.metadata_writes.is_empty(), "in step: nothing to write");
}

#[test]
fn keys_a_role_no_longer_has_leave_its_pods_and_keys_it_never_added_stay() {
    let mut sim = updated(with_roles(Sim::canary(vec![weight(40), pause()])));
    let pod = sim.pods.iter_mut().find(|p| p.name == "web-v2-0").unwrap();
    pod.metadata
        .labels
        .insert("sidecar".into(), "injected".into());
    sim.plan.role_metadata.updated = Some(PodMetadata::of(&[("role", "canary")], &[]));
    sim.settle();
    assert_eq!(sim.pod_label("web-v2-0", "role"), Some("canary"));
    assert_eq!(sim.pod_label("web-v2-0", "track"), None);
    assert_eq!(sim.pod_label("web-v2-0", "sidecar"), Some("injected"));

    sim.plan.role_metadata = RoleMetadata::default();
    sim.settle();
    assert_eq!(recorded(&sim, "v2"), None);
    assert_eq!(recorded(&sim, "v1"), None);
    assert_eq!(sim.pod_label("web-v2-0", "role"), None);
    assert_eq!(sim.pod_label("web-v1-0", "role"), None);
    assert_eq!(sim.pod_label("web-v2-0", "sidecar"), Some("injected"));
}

#[test]
fn blue_green_preview_pods_become_active_pods_at_promotion() {
    let mut sim = Sim::blue_green(|blue_green| blue_green.auto_promotion_enabled = false);
    sim.plan.role_metadata = RoleMetadata {
        updated: Some(PodMetadata::of(&[("role", "preview")], &[])),
        stable: Some(PodMetadata::of(&[("role", "active")], &[])),
    };
    let mut sim = updated(sim);
    assert_eq!(sim.pod_label("web-v2-0", "role"), Some("preview"));
    assert_eq!(sim.pod_label("web-v1-0", "role"), Some("active"));

    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert_eq!(sim.pod_label("web-v2-0", "role"), Some("active"));
}
