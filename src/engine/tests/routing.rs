//! Canaries whose traffic is split by routers: the weight follows the pods, is read back
//! before a step completes, managed routes come and go with their steps, and an abort sends
//! every request to the stable before the canary loses a pod.

use crate::engine::{Effect, abort, promote, promote_full, retry};
use crate::model::{
    CanaryScale, HeaderMatch, HeaderRoute, MirrorMatch, MirrorRoute, Phase, RouterReading,
    RouterState, Step, StringMatch,
};

use super::sim::{Sim, pause, pause_for, weight};

/// Deploys v1, then updates to v2 and settles.
fn updated(sim: Sim) -> Sim {
    let mut sim = sim.deployed();
    sim.update_to("v2");
    sim.settle();
    sim
}

fn header_route(name: &str) -> Step {
    Step::SetHeaderRoute(HeaderRoute {
        name: name.into(),
        matches: vec![HeaderMatch {
            header: "x-canary".into(),
            value: StringMatch::Exact("yes".into()),
        }],
    })
}

fn mirror_route(name: &str) -> Step {
    Step::SetMirrorRoute(MirrorRoute {
        name: name.into(),
        matches: vec![MirrorMatch {
            method: Some(StringMatch::Exact("GET".into())),
            ..MirrorMatch::default()
        }],
        percentage: Some(50),
    })
}

fn remove_route(name: &str) -> Step {
    Step::SetHeaderRoute(HeaderRoute {
        name: name.into(),
        matches: Vec::new(),
    })
}

fn scale(scale: CanaryScale) -> Step {
    Step::SetCanaryScale(scale)
}

#[test]
fn the_first_revision_is_stable_and_its_route_sends_the_canary_nothing() {
    let sim = Sim::routed(vec![weight(20), pause()]).deployed();
    assert_eq!(sim.carried_weight(), Some(0));
    let traffic = sim.state.traffic.as_ref().expect("routed status");
    assert_eq!((traffic.canary_weight, traffic.stable_weight), (0, 100));
    assert!(traffic.verified);
    assert_eq!(sim.spec_of("v1"), 5);
}

#[test]
fn a_routed_canary_keeps_the_stable_whole_and_waits_at_its_pause() {
    let sim = updated(Sim::routed(vec![weight(20), pause(), weight(60), pause()]));
    assert_eq!(sim.index(), Some(1), "at the pause");
    assert_eq!(
        sim.split("v2", "v1"),
        (1, 5),
        "ceil(20% of 5) canary pods, stable whole"
    );
    assert_eq!(sim.carried_weight(), Some(20));
    assert!(sim.has_event("TrafficWeightUpdated", "from 0 to 20"));
    assert_eq!(sim.phase(), Phase::Paused);
    assert_eq!(sim.selector("web-canary"), Some("v2"));
    assert_eq!(sim.selector("web-stable"), Some("v1"));
}

#[test]
fn the_weight_moves_only_once_the_pods_for_it_are_available() {
    let mut sim = Sim::routed(vec![weight(20), pause(), weight(60), pause()]).deployed();
    sim.pods_start = false;
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.spec_of("v2"), 1);
    assert_eq!(
        sim.carried_weight(),
        Some(0),
        "no canary pod is available yet"
    );
    assert_eq!(sim.index(), Some(0));
    sim.pods_become_available();
    sim.settle();
    assert_eq!(sim.carried_weight(), Some(20));
    assert_eq!(sim.index(), Some(1));

    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.spec_of("v2"), 3, "ceil(60% of 5)");
    assert_eq!(
        sim.carried_weight(),
        Some(20),
        "the previous weight holds meanwhile"
    );
    assert_eq!(sim.index(), Some(2));
    sim.pods_become_available();
    sim.settle();
    assert_eq!(sim.carried_weight(), Some(60));
    assert_eq!(sim.index(), Some(3));
}

#[test]
fn a_step_completes_only_once_its_weight_is_read_back() {
    let mut sim = Sim::routed(vec![weight(20), pause()]).deployed();
    sim.routers_stuck = true;
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.index(), Some(0), "the route still says 0");
    assert_eq!(sim.carried_weight(), Some(0));
    let traffic = sim.state.traffic.as_ref().expect("routed status");
    assert_eq!(traffic.canary_weight, 20, "asked for");
    assert!(!traffic.verified);
    assert!(
        sim.last.as_ref().expect("reconciled").effects.iter().any(
            |effect| matches!(effect, Effect::SetTraffic(intent) if intent.canary_weight == 20)
        ),
        "asked again every pass"
    );

    sim.routers_stuck = false;
    sim.settle();
    assert_eq!(sim.index(), Some(1));
}

#[test]
fn a_router_that_never_carries_the_weight_times_out() {
    let mut sim = Sim::routed(vec![weight(20), pause()]).deployed();
    sim.routers_stuck = true;
    sim.plan.progress_deadline_abort = true;
    sim.update_to("v2");
    sim.settle();
    sim.advance(601);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Degraded, "{:#?}", sim.state);
    assert!(sim.state.abort);
}

#[test]
fn promotion_waits_for_all_traffic_then_the_stable_service_moves_and_the_weight_resets() {
    let mut sim = updated(Sim::routed(vec![weight(20), pause()]));
    sim.routers_stuck = true;
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.spec_of("v2"), 5, "the canary grows to full size");
    assert_eq!(
        sim.state.stable_hash.as_deref(),
        Some("v1"),
        "not promoted while the route still sends 80% to the stable"
    );

    sim.routers_stuck = false;
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert!(sim.has_event("TrafficWeightUpdated", "from 20 to 100"));
    assert!(sim.has_event("TrafficWeightUpdated", "from 100 to 0"));
    assert_eq!(sim.selector("web-stable"), Some("v2"));
    assert_eq!(
        sim.carried_weight(),
        Some(0),
        "all traffic to the stable Service"
    );
    assert_eq!(sim.phase(), Phase::Healthy);
    assert_eq!(
        sim.spec_of("v1"),
        5,
        "the old stable keeps its pods for the delay"
    );
    assert!(sim.deadline_of("v1").is_some());

    sim.advance(31);
    sim.settle();
    assert_eq!(sim.spec_of("v1"), 0);
}

#[test]
fn the_stable_service_moves_before_the_weight_resets() {
    let mut sim = updated(Sim::routed(vec![weight(20), pause()]));
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    let writes: Vec<i32> = sim
        .traffic_writes
        .iter()
        .map(|intent| intent.canary_weight)
        .collect();
    assert_eq!(writes.last(), Some(&0));
    // The pass that resets the weight lists the stable Service's switch first.
    let resetting = sim
        .traffic_writes
        .iter()
        .rposition(|intent| intent.canary_weight == 100)
        .expect("the weight reached 100");
    assert!(resetting < writes.len() - 1);
    assert_eq!(sim.selector("web-stable"), Some("v2"));
}

#[test]
fn abort_sends_all_traffic_to_the_stable_before_the_canary_loses_a_pod() {
    let mut sim = updated(Sim::routed(vec![weight(40), pause()]));
    assert_eq!(sim.carried_weight(), Some(40));
    sim.routers_stuck = true;
    sim.state = abort(&sim.state);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Degraded);
    assert_eq!(sim.state.traffic.as_ref().map(|t| t.canary_weight), Some(0));
    assert_eq!(sim.selector("web-canary"), Some("v1"));
    sim.advance(3600);
    sim.settle();
    assert_eq!(
        sim.spec_of("v2"),
        2,
        "the canary keeps its pods while the route still sends it traffic"
    );
    assert_eq!(
        sim.deadline_of("v2"),
        None,
        "its delay has not even started"
    );

    sim.routers_stuck = false;
    sim.settle();
    assert_eq!(sim.carried_weight(), Some(0));
    assert_eq!(sim.spec_of("v2"), 2, "kept for abortScaleDownDelaySeconds");
    assert!(sim.deadline_of("v2").is_some());
    sim.advance(31);
    sim.settle();
    assert_eq!(sim.spec_of("v2"), 0);
    assert_eq!(sim.spec_of("v1"), 5);
}

#[test]
fn an_abort_delay_of_zero_keeps_the_aborted_canary() {
    let mut sim = Sim::routed(vec![weight(40), pause()]);
    sim.traffic().abort_scale_down_delay = None;
    let mut sim = updated(sim);
    sim.state = abort(&sim.state);
    sim.settle();
    sim.advance(3600);
    sim.settle();
    assert_eq!(sim.carried_weight(), Some(0));
    assert_eq!(sim.spec_of("v2"), 2);
}

#[test]
fn abort_wins_over_a_pending_full_promotion_on_the_routers_too() {
    let mut sim = updated(Sim::routed(vec![weight(40), pause()]));
    sim.state = promote_full(&sim.state);
    sim.state = abort(&sim.state);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
    assert_eq!(sim.carried_weight(), Some(0));
    assert!(
        sim.traffic_writes
            .iter()
            .all(|intent| intent.canary_weight <= 40),
        "never more traffic to the canary than its step gave it"
    );
}

#[test]
fn a_retry_after_an_abort_walks_the_weights_again() {
    let mut sim = updated(Sim::routed(vec![weight(40), pause()]));
    sim.state = abort(&sim.state);
    sim.settle();
    sim.state = retry(&sim.state);
    sim.settle();
    assert_eq!(sim.index(), Some(1));
    assert_eq!(sim.carried_weight(), Some(40));
}

#[test]
fn a_full_promotion_keeps_the_split_until_the_stable_service_moves() {
    let mut sim = updated(Sim::routed(vec![weight(20), pause(), weight(60), pause()]));
    let before = sim.traffic_writes.len();
    sim.state = promote_full(&sim.state);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    let weights: Vec<i32> = sim.traffic_writes[before..]
        .iter()
        .map(|intent| intent.canary_weight)
        .collect();
    assert_eq!(
        weights,
        [0],
        "from 20 straight to 0 once the stable Service selects v2"
    );
    assert_eq!(sim.selector("web-stable"), Some("v2"));
}

#[test]
fn header_routes_come_with_their_step_and_go_with_promotion() {
    let mut sim = updated(Sim::routed(vec![
        scale(CanaryScale::Replicas(1)),
        header_route("header"),
        pause(),
        remove_route("header"),
        weight(50),
        pause(),
    ]));
    assert_eq!(sim.index(), Some(2));
    assert_eq!(sim.carried_routes(), ["header"]);
    assert_eq!(
        sim.carried_weight(),
        Some(0),
        "only the header route reaches the canary"
    );
    assert_eq!(sim.spec_of("v2"), 1, "setCanaryScale sized it");

    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.index(), Some(5));
    assert!(sim.carried_routes().is_empty(), "removed by its step");
    assert_eq!(sim.carried_weight(), Some(50));

    let mut sim = updated(Sim::routed(vec![header_route("header"), pause()]));
    assert_eq!(sim.carried_routes(), ["header"]);
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert!(
        sim.carried_routes().is_empty(),
        "no managed route outlives the update"
    );
}

#[test]
fn managed_routes_go_on_abort_and_follow_the_managed_routes_order() {
    let mut sim = updated(Sim::routed(vec![
        mirror_route("mirror"),
        header_route("header"),
        pause(),
    ]));
    let intent = sim.traffic_writes.last().expect("written");
    assert_eq!(intent.header_routes[0].name, "header");
    assert_eq!(intent.mirror_routes[0].name, "mirror");
    assert_eq!(sim.carried_routes(), ["header", "mirror"]);
    sim.state = abort(&sim.state);
    sim.settle();
    assert!(sim.carried_routes().is_empty());
}

#[test]
fn a_header_route_step_waits_for_its_route_to_be_read_back() {
    let mut sim = Sim::routed(vec![header_route("header"), pause()]).deployed();
    sim.routers_stuck = true;
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.index(), Some(0));
    sim.routers_stuck = false;
    sim.settle();
    assert_eq!(sim.index(), Some(1));
}

#[test]
fn set_canary_scale_sizes_the_canary_without_moving_traffic_until_matched_again() {
    let mut sim = updated(Sim::routed(vec![
        scale(CanaryScale::Weight(60)),
        weight(20),
        pause(),
        scale(CanaryScale::MatchTrafficWeight),
        pause(),
    ]));
    assert_eq!(sim.index(), Some(2));
    assert_eq!(sim.spec_of("v2"), 3, "60% of 5 pods");
    assert_eq!(sim.carried_weight(), Some(20));
    assert!(sim.has_event("RolloutStepCompleted", "setCanaryScale{weight: 60}"));
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.index(), Some(4));
    assert_eq!(sim.spec_of("v2"), 1, "back to what 20% needs");
}

#[test]
fn a_combined_step_applies_all_its_parts_and_completes_as_its_pause() {
    let combined = Step::Combined(vec![
        pause_for(60),
        scale(CanaryScale::Replicas(2)),
        header_route("header"),
    ]);
    let mut sim = updated(Sim::routed(vec![combined, weight(50), pause()]));
    assert_eq!(sim.index(), Some(0), "paused");
    assert_eq!(sim.spec_of("v2"), 2);
    assert_eq!(sim.carried_routes(), ["header"]);
    sim.advance(61);
    sim.settle();
    assert_eq!(sim.index(), Some(2));
    assert!(
        sim.carried_routes().contains(&"header".to_owned()),
        "set until removed"
    );
}

#[test]
fn min_pods_per_replica_set_raises_a_small_canary() {
    let mut sim = Sim::routed(vec![weight(1), pause()]).replicas(10);
    sim.traffic().min_pods_per_replica_set = Some(2);
    let sim = updated(sim);
    assert_eq!(sim.spec_of("v2"), 2);
    assert_eq!(sim.carried_weight(), Some(1));
}

#[test]
fn max_traffic_weight_scales_the_weights() {
    let mut sim = Sim::routed(vec![weight(200), pause()]).replicas(10);
    sim.traffic().max_weight = 1000;
    let mut sim = updated(sim);
    assert_eq!(sim.spec_of("v2"), 2, "200 of 1000 is 20% of 10 pods");
    assert_eq!(sim.carried_weight(), Some(200));
    assert_eq!(
        sim.state.traffic.as_ref().map(|t| t.stable_weight),
        Some(800)
    );
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert!(sim.has_event("TrafficWeightUpdated", "from 200 to 1000"));
}

#[test]
fn with_dynamic_stable_scale_the_stable_shrinks_only_after_traffic_left_it() {
    let mut sim = Sim::routed(vec![weight(40), pause(), weight(80), pause()]);
    sim.traffic().dynamic_stable_scale = true;
    let mut sim = updated(sim);
    assert_eq!(sim.split("v2", "v1"), (2, 3), "the stable follows its 60%");
    assert_eq!(sim.carried_weight(), Some(40));
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.split("v2", "v1"), (4, 1));
    assert_eq!(sim.carried_weight(), Some(80));
}

#[test]
fn with_dynamic_stable_scale_an_abort_returns_traffic_as_the_stable_grows_back() {
    let mut sim = Sim::routed(vec![weight(80), pause()]);
    sim.traffic().dynamic_stable_scale = true;
    let mut sim = updated(sim);
    assert_eq!(sim.split("v2", "v1"), (4, 1));
    sim.pods_start = false;
    sim.state = abort(&sim.state);
    sim.reconcile();
    sim.reconcile();
    assert_eq!(sim.spec_of("v1"), 5, "the stable grows back first");
    assert_eq!(
        sim.state.traffic.as_ref().map(|t| t.canary_weight),
        Some(80),
        "its new pods are not available yet: the canary keeps the traffic"
    );
    sim.pods_become_available();
    sim.settle();
    assert_eq!(sim.carried_weight(), Some(0));
    assert_eq!(sim.spec_of("v2"), 0, "the canary followed its weight down");
}

#[test]
fn a_revision_replaced_mid_update_keeps_its_pods_while_a_service_selects_it() {
    let mut sim = updated(Sim::routed(vec![weight(40), pause()]));
    sim.pods_start = false;
    sim.update_to("v3");
    sim.settle();
    assert_eq!(sim.spec_of("v3"), 2, "the new canary is sized");
    assert_eq!(
        sim.selector("web-canary"),
        Some("v2"),
        "v3 has no available pod yet"
    );
    assert_eq!(sim.spec_of("v2"), 2, "still selected: kept");
    assert_eq!(
        sim.state.traffic.as_ref().map(|t| t.canary_weight),
        Some(0),
        "no traffic to a canary without an available pod"
    );
    sim.pods_become_available();
    sim.settle();
    assert_eq!(sim.selector("web-canary"), Some("v3"));
    assert_eq!(sim.spec_of("v2"), 0, "unreferenced: scaled down at once");
    assert_eq!(sim.carried_weight(), Some(40));
}

/// A reading of a router that routes by pod-template hash and was last seen sending
/// `weight` to `canary` and the rest to `stable`.
fn routing_to(weight: i32, canary: &str, stable: &str) -> RouterState {
    RouterState {
        canary_weight: Some(weight),
        takes_header_routes: true,
        takes_mirror_routes: true,
        hashes: Some((canary.into(), stable.into())),
        ..RouterState::default()
    }
}

#[test]
fn a_replaced_revision_keeps_its_pods_while_a_router_still_routes_to_it() {
    let mut sim = updated(Sim::routed(vec![weight(40), pause()]));
    sim.routers_stuck = true;
    sim.readings[0].state = Ok(routing_to(40, "v2", "v1"));
    sim.update_to("v3");
    sim.settle();
    assert_eq!(sim.selector("web-canary"), Some("v3"), "v3 is available");
    assert_eq!(sim.spec_of("v2"), 2, "the router still sends v2 40 %");

    sim.readings[0].state = Ok(routing_to(0, "v3", "v1"));
    sim.settle();
    assert_eq!(sim.spec_of("v2"), 0, "no router routes to v2 any more");
}

#[test]
fn an_old_stable_a_router_routes_to_again_keeps_its_pods_past_its_delay() {
    let mut sim = updated(Sim::routed(vec![weight(20), pause()]));
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert!(sim.deadline_of("v1").is_some(), "v1 waits for its delay");
    // Someone points the route back at v1, and the routers stop taking writes.
    sim.routers_stuck = true;
    sim.readings[0].state = Ok(routing_to(50, "v1", "v2"));
    sim.advance(31);
    sim.settle();
    assert_eq!(sim.spec_of("v1"), 5, "still routed to: kept past its delay");
}

#[test]
fn a_mirror_route_step_without_matches_removes_the_route() {
    let remove_mirror = Step::SetMirrorRoute(MirrorRoute {
        name: "mirror".into(),
        matches: Vec::new(),
        percentage: None,
    });
    let mut sim = updated(Sim::routed(vec![
        scale(CanaryScale::Replicas(1)),
        mirror_route("mirror"),
        pause(),
        remove_mirror,
        pause(),
    ]));
    assert_eq!(sim.carried_routes(), ["mirror"]);
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.index(), Some(4));
    assert!(sim.carried_routes().is_empty(), "removed by its step");
}

#[test]
fn routers_sending_the_canary_traffic_are_watched_and_idle_ones_are_not() {
    let mut sim = updated(Sim::routed(vec![weight(20), pause()]));
    let watch = std::time::Duration::from_secs(30);
    let requeue = sim.reconcile().requeue_after;
    assert!(
        requeue.is_some_and(|after| after <= watch),
        "at 20 %: {requeue:?}"
    );
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Healthy);
    sim.advance(31);
    sim.settle();
    assert_eq!(sim.spec_of("v1"), 0);
    let requeue = sim.reconcile().requeue_after;
    assert!(requeue.is_none(), "nothing to watch: {requeue:?}");
}

#[test]
fn an_unreadable_router_object_holds_the_step() {
    let mut sim = Sim::routed(vec![weight(20), pause()]).deployed();
    sim.routers_stuck = true;
    sim.readings = vec![RouterReading {
        object: "HTTPRoute web".into(),
        state: Err("not found".into()),
    }];
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.index(), Some(0));
    sim.routers_stuck = false;
    sim.readings[0].state = Ok(RouterState::default());
    sim.settle();
    assert_eq!(sim.index(), Some(1));
}

#[test]
fn old_revisions_beyond_the_revision_limit_go_at_once() {
    let mut sim = Sim::routed(vec![weight(40), pause()]);
    sim.traffic().scale_down_delay_revision_limit = Some(0);
    let mut sim = updated(sim);
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.spec_of("v1"), 0);
    assert!(sim.deadline_of("v1").is_none());
}

fn ping_pong(sim: Sim) -> Sim {
    let mut sim = sim;
    sim.traffic().ping_pong = Some(crate::model::PingPong {
        ping: "web-ping".into(),
        pong: "web-pong".into(),
    });
    sim.services.insert("web-ping".into(), None);
    sim.services.insert("web-pong".into(), None);
    sim
}

#[test]
fn ping_pong_services_swap_roles_at_each_promotion_without_switching_under_traffic() {
    use crate::model::PingPongSide;

    let mut sim = ping_pong(Sim::routed(vec![weight(30), pause()])).deployed();
    assert_eq!(
        sim.state.stable_ping_pong,
        Some(PingPongSide::Ping),
        "as Argo: ping first"
    );
    assert_eq!(sim.selector("web-ping"), Some("v1"));

    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.selector("web-pong"), Some("v2"), "the canary's side");
    assert_eq!(sim.selector("web-ping"), Some("v1"));
    assert_eq!(sim.carried_weight(), Some(30));

    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert_eq!(
        sim.state.stable_ping_pong,
        Some(PingPongSide::Pong),
        "pong is stable now"
    );
    assert_eq!(sim.selector("web-pong"), Some("v2"), "never switched");
    assert_eq!(sim.carried_weight(), Some(0));
    assert_eq!(sim.phase(), Phase::Healthy);

    sim.update_to("v3");
    sim.settle();
    assert_eq!(
        sim.selector("web-ping"),
        Some("v3"),
        "ping is the canary's side now"
    );
    assert_eq!(sim.selector("web-pong"), Some("v2"));
    sim.state = abort(&sim.state);
    sim.settle();
    assert_eq!(
        sim.selector("web-ping"),
        Some("v2"),
        "an abort points it at the stable"
    );
    assert_eq!(
        sim.state.stable_ping_pong,
        Some(PingPongSide::Pong),
        "no flip without a promotion"
    );
}

/// Found by cargo-mutants (`promote`, `&&` → `||`): only a ping-pong canary records a side.
/// A routed canary without ping-pong Services, or a blue-green Rollout, promotes without
/// ever writing `status.canary.stablePingPong`.
#[test]
fn no_ping_pong_side_without_ping_pong_services() {
    let mut routed = updated(Sim::routed(vec![weight(30), pause()]));
    routed.state = promote(&routed.plan, &routed.state);
    routed.settle();
    assert_eq!(routed.state.stable_hash.as_deref(), Some("v2"));
    assert_eq!(routed.state.stable_ping_pong, None);

    let mut blue_green = updated(Sim::blue_green(|_| {}));
    blue_green.state = promote(&blue_green.plan, &blue_green.state);
    blue_green.settle();
    assert_eq!(blue_green.state.stable_hash.as_deref(), Some("v2"));
    assert_eq!(blue_green.state.stable_ping_pong, None);
}

/// Found by cargo-mutants (`canary_scale`, `||` → `&&`): an abort ends a `setCanaryScale`
/// — with `dynamicStableScale` the aborted canary shrinks as the stable takes the traffic
/// back, whatever size the step gave it.
#[test]
fn an_abort_ends_set_canary_scale() {
    let mut sim = Sim::routed(vec![scale(CanaryScale::Weight(60)), weight(20), pause()]);
    // Not held for a delay: the canary follows the replica targets down.
    sim.traffic().dynamic_stable_scale = true;
    let mut sim = updated(sim);
    assert_eq!(sim.spec_of("v2"), 3);
    sim.state = abort(&sim.state);
    sim.settle();
    assert_eq!(sim.carried_weight(), Some(0));
    sim.advance(31);
    sim.settle();
    assert_eq!(sim.spec_of("v2"), 0, "{:#?}", sim.state);
    assert_eq!(sim.spec_of("v1"), 5);
}

/// Found by cargo-mutants (`canary_scale`, `||` → `&&`): a full promotion ends a
/// `setCanaryScale` — the canary grows to every replica before it becomes stable.
#[test]
fn a_full_promotion_ends_set_canary_scale() {
    let mut sim = updated(Sim::routed(vec![
        scale(CanaryScale::Replicas(1)),
        weight(20),
        pause(),
    ]));
    assert_eq!(sim.spec_of("v2"), 1);
    sim.state = promote_full(&sim.state);
    for _ in 0..100 {
        if sim.state.stable_hash.as_deref() == Some("v2") {
            break;
        }
        sim.reconcile();
    }
    assert_eq!(
        sim.state.stable_hash.as_deref(),
        Some("v2"),
        "{:#?}",
        sim.state
    );
    assert_eq!(
        sim.spec_of("v2"),
        5,
        "every replica before it became stable"
    );
}
