//! Anti-affinity: a new revision's ReplicaSet avoids the nodes of the stable revision's pods,
//! and follows the stable revision when it changes.

use crate::engine::{Effect, promote};
use crate::model::{AntiAffinity, AvoidRevision};

use super::sim::{Sim, pause, weight};

fn with_anti_affinity(mut sim: Sim) -> Sim {
    sim.plan.anti_affinity = Some(AntiAffinity::Preferred { weight: 50 });
    sim
}

fn avoids<'a>(sim: &'a Sim, hash: &str) -> Option<&'a str> {
    let rs = sim.replica_sets.iter().find(|rs| rs.hash == hash)?;
    rs.avoids.as_deref()
}

#[test]
fn a_new_revision_avoids_the_stable_one_and_the_first_avoids_nothing() {
    let mut sim = with_anti_affinity(Sim::canary(vec![weight(40), pause()])).deployed();
    assert_eq!(avoids(&sim, "v1"), None, "nothing to avoid yet");
    sim.update_to("v2");
    sim.settle();
    assert_eq!(avoids(&sim, "v2"), Some("v1"));

    let mut without = Sim::canary(vec![weight(40), pause()]).deployed();
    without.update_to("v2");
    without.settle();
    assert_eq!(avoids(&without, "v2"), None, "only with antiAffinity");
}

#[test]
fn the_rule_is_created_with_the_kind_the_spec_names() {
    let mut sim = Sim::blue_green(|_| {});
    sim.plan.anti_affinity = Some(AntiAffinity::Required);
    let mut sim = sim.deployed();
    sim.update_to("v2");
    // The first pass records the new revision; the next creates its ReplicaSet.
    let created = (0..3).find_map(|_| {
        let decision = sim.reconcile();
        decision.effects.iter().find_map(|effect| match effect {
            Effect::CreateReplicaSet { avoid, .. } => Some(avoid.clone()),
            _ => None,
        })
    });
    assert_eq!(
        created,
        Some(Some(AvoidRevision {
            rule: AntiAffinity::Required,
            hash: "v1".into(),
        }))
    );
}

#[test]
fn a_revision_that_comes_back_avoids_the_stable_one_of_now() {
    let mut sim = with_anti_affinity(Sim::canary(vec![weight(40), pause()])).deployed();
    sim.update_to("v2");
    sim.settle();
    sim.update_to("v3");
    sim.settle();
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v3"));
    assert_eq!(avoids(&sim, "v2"), Some("v1"));

    sim.update_to("v2");
    sim.settle();
    assert_eq!(
        avoids(&sim, "v2"),
        Some("v3"),
        "pointed at the stable revision"
    );
    assert_eq!(
        avoids(&sim, "v3"),
        Some("v1"),
        "the stable one is left alone"
    );
}
