//! Table tests of the replica math against the vectors of Argo Rollouts' own unit tests
//! (`utils/replicaset/canary_test.go`), worked examples from ARGO-SEMANTICS §1.6, and property
//! tests of the limits over whole canary progressions.

use proptest::prelude::*;

use super::*;

/// (replicas, weight, surge, expected canary, expected stable)
const WEIGHTED_SPLITS: [(i32, i32, i32, i32, i32); 61] = [
    (0, 0, 0, 0, 0),     // zero replicas, weight 0, no surge
    (0, 50, 0, 0, 0),    // zero replicas, half weight, no surge
    (0, 100, 0, 0, 0),   // zero replicas, full weight, no surge
    (0, 0, 1, 0, 0),     // zero replicas, weight 0, surge 1
    (0, 50, 1, 0, 0),    // zero replicas, half weight, surge 1
    (0, 100, 1, 0, 0),   // zero replicas, full weight, surge 1
    (1, 0, 0, 0, 1),     // 1 replica, weight 0, no surge
    (1, 1, 0, 0, 1),     // 1 replica, tiny weight rounds to stable
    (1, 49, 0, 0, 1),    // 1 replica, just under half stays stable
    (1, 50, 0, 1, 0),    // 1 replica, exactly half flips to canary
    (1, 99, 0, 1, 0),    // 1 replica, near-full weight goes to canary
    (1, 100, 0, 1, 0),   // 1 replica, full weight goes to canary
    (1, 0, 1, 0, 1),     // 1 replica + surge, weight 0
    (1, 1, 1, 1, 1),     // 1 replica + surge, tiny weight gets a surge pod
    (1, 49, 1, 1, 1),    // 1 replica + surge, weight 49
    (1, 50, 1, 1, 1),    // 1 replica + surge, weight 50
    (1, 99, 1, 1, 1),    // 1 replica + surge, weight 99 keeps stable
    (1, 100, 1, 1, 0),   // 1 replica + surge, full weight drops stable
    (2, 0, 0, 0, 2),     // 2 replicas, weight 0
    (2, 1, 0, 1, 1),     // 2 replicas, tiny weight splits 1/1
    (2, 50, 0, 1, 1),    // 2 replicas, half weight
    (2, 99, 0, 1, 1),    // 2 replicas, near-full weight still 1/1
    (2, 100, 0, 2, 0),   // 2 replicas, full weight
    (2, 0, 1, 0, 2),     // 2 replicas + surge, weight 0
    (2, 1, 1, 1, 2),     // 2 replicas + surge, tiny weight adds canary on top
    (2, 50, 1, 1, 1),    // 2 replicas + surge, half weight no surge used
    (2, 99, 1, 2, 1),    // 2 replicas + surge, near-full keeps 1 stable
    (2, 100, 1, 2, 0),   // 2 replicas + surge, full weight
    (3, 10, 0, 1, 2),    // 3 replicas, weight 10
    (3, 25, 0, 1, 2),    // 3 replicas, weight 25
    (3, 33, 0, 1, 2),    // 3 replicas, weight 33
    (3, 34, 0, 1, 2),    // 3 replicas, weight 34
    (3, 49, 0, 1, 2),    // 3 replicas, weight 49
    (3, 50, 0, 2, 1),    // 3 replicas, weight 50 tips to 2 canary
    (3, 10, 1, 1, 3),    // 3 replicas + surge, weight 10
    (3, 25, 1, 1, 3),    // 3 replicas + surge, weight 25
    (3, 33, 1, 1, 2),    // 3 replicas + surge, weight 33
    (3, 34, 1, 1, 2),    // 3 replicas + surge, weight 34
    (3, 49, 1, 2, 2),    // 3 replicas + surge, weight 49
    (3, 50, 1, 2, 2),    // 3 replicas + surge, weight 50
    (10, 0, 1, 0, 10), // 10 replicas + surge 1, weight 0 (the only surge-1 row in a surge-0 block)
    (10, 1, 0, 1, 9),  // 10 replicas, weight 1
    (10, 14, 0, 1, 9), // 10 replicas, weight 14
    (10, 15, 0, 2, 8), // 10 replicas, weight 15 rounds up
    (10, 16, 0, 2, 8), // 10 replicas, weight 16
    (10, 99, 0, 9, 1), // 10 replicas, weight 99
    (10, 100, 1, 10, 0), // 10 replicas + surge 1, full weight (also surge 1 in the surge-0 block)
    (10, 0, 1, 0, 10), // 10 replicas + surge, weight 0 (same input as row 41)
    (10, 1, 1, 1, 10), // 10 replicas + surge, weight 1
    (10, 18, 1, 2, 9), // 10 replicas + surge, weight 18
    (10, 19, 1, 2, 9), // 10 replicas + surge, weight 19
    (10, 20, 1, 2, 8), // 10 replicas + surge, weight 20 exact
    (10, 23, 1, 2, 8), // 10 replicas + surge, weight 23
    (10, 24, 1, 3, 8), // 10 replicas + surge, weight 24
    (10, 25, 1, 3, 8), // 10 replicas + surge, weight 25
    (10, 99, 1, 10, 1), // 10 replicas + surge, weight 99
    (10, 100, 1, 10, 0), // 10 replicas + surge, full weight
    // Not in Argo's table: the floor option counts whenever floor and ceiling are not tied.
    (8, 30, 0, 2, 6), // 8 replicas at 30 %: 2 (25 %) is closer than 3 (37.5 %)
    (8, 90, 0, 7, 1), // 8 replicas at 90 %: the ceiling (8) would empty the stable, so 7
    (2, 96, 0, 1, 1), // 2 replicas at 96 %: not tied, the floor keeps one pod on each side
    (7, 86, 1, 6, 1), // 7 replicas at 86 % + surge: 6 of 7 (85.7 %) beats 7 of 8 (87.5 %)
];

#[test]
fn weighted_split_matches_argo() {
    for (replicas, weight, surge, canary, stable) in WEIGHTED_SPLITS {
        assert_eq!(
            weighted_split(replicas, weight, surge),
            (canary, stable),
            "{replicas} replicas at {weight}% with surge {surge}"
        );
    }
}

/// Found by the `weighted_split_is_bounded` property: where the ceiling would leave the stable
/// empty and the floor ties with it, Argo's options run out and it returns no canary at all
/// (its code says it "should not get here"); the floor is the split closest to the weight.
#[test]
fn a_tie_the_ceiling_cannot_take_goes_to_the_floor() {
    assert_eq!(weighted_split(50, 99, 0), (49, 1));
    assert_eq!(
        weighted_split(150, 99, 0),
        (149, 1),
        "a tie the ceiling may take"
    );
    assert_eq!(
        weighted_split(50, 99, 1),
        (50, 1),
        "surge still wins where it may"
    );
}

/// One basic-canary case: the Rollout, its ReplicaSets, and the expected next counts.
struct Case {
    what: &'static str,
    replicas: i32,
    weight: i32,
    max_surge: Amount,
    max_unavailable: Amount,
    stable: (i32, i32),
    canary: (i32, i32),
    older: Option<(i32, i32)>,
    expected_stable: i32,
    expected_canary: i32,
}

fn counts((spec, available): (i32, i32)) -> ReplicaCounts {
    ReplicaCounts { spec, available }
}

const BASIC_CANARY: [Case; 36] = [
    Case {
        what: "availability above spec is not counted as scale-down room",
        replicas: 10,
        weight: 100,
        max_surge: Amount::Count(3),
        max_unavailable: Amount::Count(0),
        stable: (7, 8),
        canary: (6, 3),
        older: None,
        expected_stable: 7,
        expected_canary: 6,
    },
    Case {
        what: "canary grows only by an int surge",
        replicas: 10,
        weight: 20,
        max_surge: Amount::Count(2),
        max_unavailable: Amount::Count(0),
        stable: (10, 10),
        canary: (0, 0),
        older: None,
        expected_stable: 10,
        expected_canary: 2,
    },
    Case {
        what: "canary grows only by a percent surge",
        replicas: 10,
        weight: 20,
        max_surge: Amount::Percent(20),
        max_unavailable: Amount::Count(0),
        stable: (10, 10),
        canary: (0, 0),
        older: None,
        expected_stable: 10,
        expected_canary: 2,
    },
    Case {
        what: "stable trimmed once canary is up",
        replicas: 10,
        weight: 20,
        max_surge: Amount::Percent(20),
        max_unavailable: Amount::Count(0),
        stable: (10, 10),
        canary: (2, 2),
        older: None,
        expected_stable: 8,
        expected_canary: 2,
    },
    Case {
        what: "surge cap stops canary below the weight target",
        replicas: 10,
        weight: 30,
        max_surge: Amount::Count(2),
        max_unavailable: Amount::Count(0),
        stable: (10, 10),
        canary: (0, 0),
        older: None,
        expected_stable: 10,
        expected_canary: 2,
    },
    Case {
        what: "no surge: stable shrinks by an int maxUnavailable",
        replicas: 10,
        weight: 20,
        max_surge: Amount::Count(0),
        max_unavailable: Amount::Count(2),
        stable: (10, 10),
        canary: (0, 0),
        older: None,
        expected_stable: 8,
        expected_canary: 0,
    },
    Case {
        what: "no surge: stable shrinks by a percent maxUnavailable",
        replicas: 10,
        weight: 20,
        max_surge: Amount::Count(0),
        max_unavailable: Amount::Percent(20),
        stable: (10, 10),
        canary: (0, 0),
        older: None,
        expected_stable: 8,
        expected_canary: 0,
    },
    Case {
        what: "unavailability cap stops the stable cut",
        replicas: 10,
        weight: 30,
        max_surge: Amount::Count(0),
        max_unavailable: Amount::Count(2),
        stable: (10, 10),
        canary: (0, 0),
        older: None,
        expected_stable: 8,
        expected_canary: 0,
    },
    Case {
        what: "surge and unavailability both used",
        replicas: 10,
        weight: 50,
        max_surge: Amount::Count(2),
        max_unavailable: Amount::Count(1),
        stable: (10, 10),
        canary: (0, 0),
        older: None,
        expected_stable: 9,
        expected_canary: 2,
    },
    Case {
        what: "weight 0 takes the canary to zero",
        replicas: 10,
        weight: 0,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(1),
        stable: (10, 10),
        canary: (1, 1),
        older: None,
        expected_stable: 10,
        expected_canary: 0,
    },
    Case {
        what: "weight 100 takes stable to zero",
        replicas: 10,
        weight: 100,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(1),
        stable: (1, 1),
        canary: (10, 10),
        older: None,
        expected_stable: 0,
        expected_canary: 10,
    },
    Case {
        what: "single replica, weight 20: canary gets 1 via surge",
        replicas: 1,
        weight: 20,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(0),
        stable: (1, 1),
        canary: (0, 0),
        older: None,
        expected_stable: 1,
        expected_canary: 1,
    },
    Case {
        what: "single replica, weight 90: canary 1, stable kept",
        replicas: 1,
        weight: 90,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(0),
        stable: (1, 1),
        canary: (0, 0),
        older: None,
        expected_stable: 1,
        expected_canary: 1,
    },
    Case {
        what: "single replica, weight < 50, no surge: canary stays 0",
        replicas: 1,
        weight: 49,
        max_surge: Amount::Count(0),
        max_unavailable: Amount::Count(1),
        stable: (1, 1),
        canary: (0, 0),
        older: None,
        expected_stable: 1,
        expected_canary: 0,
    },
    Case {
        what: "single replica, weight > 50, no surge: stable goes to 0 first",
        replicas: 1,
        weight: 51,
        max_surge: Amount::Count(0),
        max_unavailable: Amount::Count(1),
        stable: (1, 1),
        canary: (0, 0),
        older: None,
        expected_stable: 0,
        expected_canary: 0,
    },
    Case {
        what: "single replica, stable already 0: canary raised to 1",
        replicas: 1,
        weight: 51,
        max_surge: Amount::Count(0),
        max_unavailable: Amount::Count(1),
        stable: (0, 0),
        canary: (0, 0),
        older: None,
        expected_stable: 0,
        expected_canary: 1,
    },
    Case {
        what: "older RS present: stable grows back before canary",
        replicas: 10,
        weight: 30,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(0),
        stable: (1, 1),
        canary: (0, 0),
        older: Some((3, 3)),
        expected_stable: 7,
        expected_canary: 1,
    },
    Case {
        what: "partly unavailable stable: canary and stable both cut",
        replicas: 10,
        weight: 30,
        max_surge: Amount::Count(0),
        max_unavailable: Amount::Count(3),
        stable: (8, 5),
        canary: (4, 4),
        older: None,
        expected_stable: 7,
        expected_canary: 3,
    },
    Case {
        what: "weight 100, stable mostly unavailable: cut stable to its available count, canary +1",
        replicas: 10,
        weight: 100,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(0),
        stable: (10, 2),
        canary: (10, 8),
        older: None,
        expected_stable: 2,
        expected_canary: 9,
    },
    Case {
        what: "older RS takes up the whole scale-down budget, so nothing changes",
        replicas: 10,
        weight: 30,
        max_surge: Amount::Count(0),
        max_unavailable: Amount::Count(1),
        stable: (8, 6),
        canary: (4, 2),
        older: Some((3, 3)),
        expected_stable: 8,
        expected_canary: 4,
    },
    Case {
        what: "weight 5 must not round the canary above the surge limit",
        replicas: 10,
        weight: 5,
        max_surge: Amount::Count(0),
        max_unavailable: Amount::Count(1),
        stable: (10, 10),
        canary: (0, 0),
        older: None,
        expected_stable: 9,
        expected_canary: 0,
    },
    Case {
        what: "same, next reconcile after stable is cut to 9",
        replicas: 10,
        weight: 5,
        max_surge: Amount::Count(0),
        max_unavailable: Amount::Count(1),
        stable: (9, 9),
        canary: (0, 0),
        older: None,
        expected_stable: 9,
        expected_canary: 1,
    },
    Case {
        what: "both percents give 0, so maxUnavailable is forced to 1",
        replicas: 10,
        weight: 10,
        max_surge: Amount::Percent(0),
        max_unavailable: Amount::Percent(0),
        stable: (10, 10),
        canary: (0, 0),
        older: None,
        expected_stable: 9,
        expected_canary: 0,
    },
    Case {
        what: "stable mostly unavailable: canary surges by only 1",
        replicas: 4,
        weight: 100,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(0),
        stable: (4, 1),
        canary: (0, 0),
        older: None,
        expected_stable: 4,
        expected_canary: 1,
    },
    Case {
        what: "weight 99, no surge: stable cut by maxUnavailable, canary 0",
        replicas: 3,
        weight: 99,
        max_surge: Amount::Count(0),
        max_unavailable: Amount::Count(2),
        stable: (3, 3),
        canary: (0, 0),
        older: None,
        expected_stable: 1,
        expected_canary: 0,
    },
    Case {
        what: "same, next step: canary fills the freed slots",
        replicas: 3,
        weight: 99,
        max_surge: Amount::Count(0),
        max_unavailable: Amount::Count(2),
        stable: (1, 1),
        canary: (0, 0),
        older: None,
        expected_stable: 1,
        expected_canary: 2,
    },
    Case {
        what: "stable mostly unavailable: scale-down limited to 1",
        replicas: 4,
        weight: 100,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(0),
        stable: (4, 1),
        canary: (1, 1),
        older: None,
        expected_stable: 3,
        expected_canary: 1,
    },
    Case {
        what: "weight back to 0: surge stable first, canary kept",
        replicas: 4,
        weight: 0,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(0),
        stable: (0, 0),
        canary: (4, 4),
        older: None,
        expected_stable: 1,
        expected_canary: 4,
    },
    Case {
        what: "weight 0, surged stable not yet available: no change",
        replicas: 4,
        weight: 0,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(0),
        stable: (1, 0),
        canary: (4, 4),
        older: None,
        expected_stable: 1,
        expected_canary: 4,
    },
    Case {
        what: "weight 0, surged stable available: canary cut by 1",
        replicas: 4,
        weight: 0,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(0),
        stable: (1, 1),
        canary: (4, 4),
        older: None,
        expected_stable: 1,
        expected_canary: 3,
    },
    Case {
        what: "promoteFull (weight 100): canary to full at once, stable out, within loose limits",
        replicas: 4,
        weight: 100,
        max_surge: Amount::Count(4),
        max_unavailable: Amount::Count(4),
        stable: (4, 4),
        canary: (0, 0),
        older: None,
        expected_stable: 0,
        expected_canary: 4,
    },
    Case {
        what: "promoteFull (weight 100) still honours maxSurge and maxUnavailable",
        replicas: 4,
        weight: 100,
        max_surge: Amount::Count(3),
        max_unavailable: Amount::Count(0),
        stable: (4, 4),
        canary: (0, 0),
        older: None,
        expected_stable: 4,
        expected_canary: 3,
    },
    Case {
        // Not in Argo's table; its rule (`GetReplicasForScaleDown`): pods available above a
        // ReplicaSet's spec are going away, so they give no room to scale down.
        what: "abort while the stable still terminates pods above its spec: only its spec counts, canary kept",
        replicas: 10,
        weight: 0,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(0),
        stable: (4, 7),
        canary: (6, 6),
        older: None,
        expected_stable: 5,
        expected_canary: 6,
    },
    Case {
        // Not in Argo's table; Argo's `adjustReplicaWithinLimits`: the stable gives up what
        // exceeds the surge limit only as far as availability allows, the canary the rest.
        what: "replicas cut to 10 with the canary mostly unavailable: stable keeps 8 for availability, canary gives way",
        replicas: 10,
        weight: 50,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(0),
        stable: (9, 9),
        canary: (8, 2),
        older: None,
        expected_stable: 8,
        expected_canary: 3,
    },
    Case {
        // Not in Argo's table: stable first, then the new ReplicaSet, from one surge budget.
        what: "older RS still draining: stable takes 1 of the 3 surge pods, the new RS the other 2",
        replicas: 10,
        weight: 50,
        max_surge: Amount::Count(1),
        max_unavailable: Amount::Count(0),
        stable: (4, 4),
        canary: (0, 0),
        older: Some((4, 4)),
        expected_stable: 5,
        expected_canary: 2,
    },
    Case {
        // Not in Argo's table: free surge room never shrinks the new ReplicaSet by itself.
        what: "weight lowered while stable pods are unready: canary kept despite free surge room",
        replicas: 10,
        weight: 20,
        max_surge: Amount::Count(3),
        max_unavailable: Amount::Count(0),
        stable: (8, 6),
        canary: (4, 4),
        older: None,
        expected_stable: 8,
        expected_canary: 4,
    },
];

#[test]
fn basic_canary_matches_argo() {
    for case in &BASIC_CANARY {
        let others: Vec<_> = case.older.map(counts).into_iter().collect();
        let canary = BasicCanary {
            replicas: case.replicas,
            weight: case.weight,
            fenceposts: Fenceposts::canary(
                case.replicas,
                Some(case.max_surge),
                Some(case.max_unavailable),
            ),
            new: Some(counts(case.canary)),
            stable: Some(counts(case.stable)),
            others: &others,
        };
        let expected = Targets {
            new: case.expected_canary,
            stable: case.expected_stable,
        };
        assert_eq!(canary.targets(), expected, "{}", case.what);
    }
}

/// One traffic-routed case, with the inputs `compute_targets` gives [`RoutedCanary`]: the
/// weight is the Rollout's max once promoting in full or back on the stable, 0 once aborted
/// (with no `setCanaryScale` then), and `dynamic_stable` is the stable weight the routers
/// carry (`None` without `dynamicStableScale`).
struct RoutedCase {
    what: &'static str,
    replicas: i32,
    max_weight: i32,
    weight: i32,
    scale: Option<CanaryScale>,
    min_pods: Option<i32>,
    dynamic_stable: Option<i32>,
    expected_stable: i32,
    expected_canary: i32,
}

const ROUTED_CANARY: [RoutedCase; 19] = [
    RoutedCase {
        what: "setCanaryScale.replicas sizes the canary, ignoring the weight",
        replicas: 1,
        max_weight: 100,
        weight: 100,
        scale: Some(CanaryScale::Replicas(9)),
        min_pods: None,
        dynamic_stable: None,
        expected_stable: 1,
        expected_canary: 9,
    },
    RoutedCase {
        what: "setCanaryScale.weight sizes the canary (even above 100 %), ignoring the weight",
        replicas: 4,
        max_weight: 100,
        weight: 100,
        scale: Some(CanaryScale::Weight(200)),
        min_pods: None,
        dynamic_stable: None,
        expected_stable: 4,
        expected_canary: 8,
    },
    RoutedCase {
        what: "matchTrafficWeight: the canary follows the weight again",
        replicas: 10,
        max_weight: 100,
        weight: 20,
        scale: Some(CanaryScale::MatchTrafficWeight),
        min_pods: None,
        dynamic_stable: None,
        expected_stable: 10,
        expected_canary: 2,
    },
    RoutedCase {
        what: "canary sized by its weight, stable kept whole",
        replicas: 10,
        max_weight: 100,
        weight: 10,
        scale: None,
        min_pods: None,
        dynamic_stable: None,
        expected_stable: 10,
        expected_canary: 1,
    },
    RoutedCase {
        what: "aborted with abortScaleDownDelaySeconds > 0: setCanaryScale dropped, canary to 0",
        replicas: 1,
        max_weight: 100,
        weight: 0,
        scale: None,
        min_pods: None,
        dynamic_stable: None,
        expected_stable: 1,
        expected_canary: 0,
    },
    RoutedCase {
        what: "minPodsPerReplicaSet raises a starting canary",
        replicas: 10,
        max_weight: 100,
        weight: 5,
        scale: None,
        min_pods: Some(2),
        dynamic_stable: None,
        expected_stable: 10,
        expected_canary: 2,
    },
    RoutedCase {
        what: "promoteFull: minPodsPerReplicaSet above replicas is capped at replicas",
        replicas: 1,
        max_weight: 100,
        weight: 100,
        scale: None,
        min_pods: Some(2),
        dynamic_stable: None,
        expected_stable: 1,
        expected_canary: 1,
    },
    RoutedCase {
        what: "dynamicStableScale: the stable follows its 90 %",
        replicas: 10,
        max_weight: 100,
        weight: 10,
        scale: None,
        min_pods: None,
        dynamic_stable: Some(90),
        expected_stable: 9,
        expected_canary: 1,
    },
    RoutedCase {
        what: "dynamicStableScale: the stable keeps the 90 % it still carries, not the 80 % to be",
        replicas: 10,
        max_weight: 100,
        weight: 20,
        scale: None,
        min_pods: None,
        dynamic_stable: Some(90),
        expected_stable: 9,
        expected_canary: 2,
    },
    RoutedCase {
        what: "dynamicStableScale, aborted after replicas grew to 12: drained canary stays at 0",
        replicas: 12,
        max_weight: 100,
        weight: 0,
        scale: None,
        min_pods: None,
        dynamic_stable: Some(100),
        expected_stable: 12,
        expected_canary: 0,
    },
    RoutedCase {
        what: "dynamicStableScale, aborted while stable pods were evicted: drained canary stays at 0",
        replicas: 10,
        max_weight: 100,
        weight: 0,
        scale: None,
        min_pods: None,
        dynamic_stable: Some(100),
        expected_stable: 10,
        expected_canary: 0,
    },
    RoutedCase {
        what: "dynamicStableScale, rolled back onto the stable: the weight is the max, both whole",
        replicas: 10,
        max_weight: 100,
        weight: 100,
        scale: None,
        min_pods: None,
        dynamic_stable: Some(100),
        expected_stable: 10,
        expected_canary: 10,
    },
    RoutedCase {
        what: "a huge maxTrafficWeight is sized without overflow",
        replicas: 23,
        max_weight: 100_000_000,
        weight: 100_000_000,
        scale: None,
        min_pods: None,
        dynamic_stable: None,
        expected_stable: 23,
        expected_canary: 23,
    },
    // Not in Argo's tables; from `CheckMinPodsPerReplicaSet`, which leaves a count of 0 alone.
    RoutedCase {
        what: "minPodsPerReplicaSet does not raise a canary at weight 0",
        replicas: 10,
        max_weight: 100,
        weight: 0,
        scale: None,
        min_pods: Some(2),
        dynamic_stable: None,
        expected_stable: 10,
        expected_canary: 0,
    },
    RoutedCase {
        what: "dynamicStableScale at full weight: minPodsPerReplicaSet does not raise an empty stable",
        replicas: 10,
        max_weight: 100,
        weight: 100,
        scale: None,
        min_pods: Some(2),
        dynamic_stable: Some(0),
        expected_stable: 0,
        expected_canary: 10,
    },
    RoutedCase {
        what: "dynamicStableScale: minPodsPerReplicaSet raises a small stable",
        replicas: 10,
        max_weight: 100,
        weight: 95,
        scale: None,
        min_pods: Some(3),
        dynamic_stable: Some(5),
        expected_stable: 3,
        expected_canary: 10,
    },
    RoutedCase {
        what: "setCanaryScale.replicas is taken as is, below minPodsPerReplicaSet",
        replicas: 10,
        max_weight: 100,
        weight: 50,
        scale: Some(CanaryScale::Replicas(1)),
        min_pods: Some(2),
        dynamic_stable: None,
        expected_stable: 10,
        expected_canary: 1,
    },
    RoutedCase {
        what: "maxTrafficWeight 1000: weight 250 of 10 replicas rounds up to 3",
        replicas: 10,
        max_weight: 1000,
        weight: 250,
        scale: None,
        min_pods: None,
        dynamic_stable: Some(750),
        expected_stable: 8,
        expected_canary: 3,
    },
    RoutedCase {
        what: "maxTrafficWeight 1000: setCanaryScale.weight 250 is a quarter, as Argo reads it",
        replicas: 10,
        max_weight: 1000,
        weight: 0,
        scale: Some(CanaryScale::Weight(250)),
        min_pods: None,
        dynamic_stable: None,
        expected_stable: 10,
        expected_canary: 3,
    },
];

#[test]
fn routed_canary_matches_argo() {
    for case in &ROUTED_CANARY {
        let canary = RoutedCanary {
            replicas: case.replicas,
            max_weight: case.max_weight,
            weight: case.weight,
            scale: case.scale,
            min_pods: case.min_pods,
            dynamic_stable_weight: case.dynamic_stable,
        };
        let expected = Targets {
            new: case.expected_canary,
            stable: case.expected_stable,
        };
        assert_eq!(canary.targets(), expected, "{}", case.what);
    }
}

#[test]
fn ceil_share_rounds_up_like_argos_traffic_weight_to_replicas() {
    // (replicas, weight, max weight, expected pods)
    let shares = [
        (10, 0, 100, 0),
        (10, 20, 100, 2),
        (10, 25, 100, 3),
        (10, 33, 100, 4),
        (10, 99, 100, 10),
        (10, 100, 100, 10),
        (23, 100_000_000, 100_000_000, 23),
        // Not in Argo's table: a max weight of 0 (or below) sizes nothing, it does not divide.
        (10, 50, 0, 0),
        (10, 50, -100, 0),
        (10, -20, 100, 0),
    ];
    for (replicas, weight, of, expected) in shares {
        assert_eq!(
            ceil_share(replicas, weight, of),
            expected,
            "{weight}/{of} of {replicas}"
        );
    }
}

#[test]
fn without_a_distinct_stable_the_new_replica_set_takes_everything() {
    let fenceposts = Fenceposts::canary(10, Some(Amount::Count(0)), Some(Amount::Count(1)));
    for new in [counts((10, 0)), counts((9, 9))] {
        let canary = BasicCanary {
            replicas: 10,
            weight: 10,
            fenceposts,
            new: Some(new),
            stable: None,
            others: &[],
        };
        assert_eq!(
            canary.targets(),
            Targets { new: 10, stable: 0 },
            "new {new:?}"
        );
    }
}

#[test]
fn fenceposts_default_to_a_quarter_and_never_both_zero() {
    assert_eq!(
        Fenceposts::canary(10, None, None),
        Fenceposts {
            surge: 3,
            unavailable: 2
        }
    );
    assert_eq!(
        Fenceposts::canary(3, None, None),
        Fenceposts {
            surge: 1,
            unavailable: 0
        }
    );
    let zero = Some(Amount::Percent(0));
    assert_eq!(
        Fenceposts::canary(10, zero, zero),
        Fenceposts {
            surge: 0,
            unavailable: 1
        }
    );
    let many = Some(Amount::Count(50));
    assert_eq!(Fenceposts::canary(4, None, many).unavailable, 4);
}

/// A ReplicaSet pair moved by successive reconciles, in Argo's order: the stable scales first,
/// then the new one; one scale per reconcile; pods become ready between reconciles.
struct Progression {
    replicas: i32,
    weight: i32,
    fenceposts: Fenceposts,
    new: ReplicaCounts,
    stable: ReplicaCounts,
}

impl Progression {
    fn start(replicas: i32, weight: i32, fenceposts: Fenceposts) -> Self {
        let stable = ReplicaCounts {
            spec: replicas,
            available: replicas,
        };
        Self {
            replicas,
            weight,
            fenceposts,
            new: ReplicaCounts::default(),
            stable,
        }
    }

    /// Runs to the weight's split, then retargets to another weight.
    fn settled_then(replicas: i32, weight: i32, next_weight: i32, fenceposts: Fenceposts) -> Self {
        let mut progression = Self::start(replicas, weight, fenceposts);
        progression.run();
        progression.weight = next_weight;
        progression
    }

    /// Applies one reconcile; returns what it scaled, or `None` when nothing changed.
    fn reconcile(&mut self) -> Option<String> {
        let targets = BasicCanary {
            replicas: self.replicas,
            weight: self.weight,
            fenceposts: self.fenceposts,
            new: Some(self.new),
            stable: Some(self.stable),
            others: &[],
        }
        .targets();
        let (name, rs, target) = if targets.stable == self.stable.spec {
            ("new", &mut self.new, targets.new)
        } else {
            ("stable", &mut self.stable, targets.stable)
        };
        if rs.spec == target {
            return None;
        }
        let step = format!("{name} {}→{target}", rs.spec);
        // Scaling down removes pods at once; scaling up makes them ready before the next pass.
        *rs = ReplicaCounts {
            spec: target,
            available: target,
        };
        Some(step)
    }

    fn run(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.reconcile()).take(1000).collect()
    }
}

#[test]
fn worked_examples_scale_in_argos_order() {
    // (replicas, weight, maxUnavailable, settled (canary, stable), reconcile sequence)
    type Example = (
        i32,
        i32,
        Option<Amount>,
        (i32, i32),
        &'static [&'static str],
    );
    let examples: [Example; 7] = [
        (10, 20, None, (2, 8), &["stable 10→8", "new 0→2"]),
        (
            10,
            20,
            Some(Amount::Count(0)),
            (2, 8),
            &["new 0→2", "stable 10→8"],
        ),
        (
            10,
            33,
            None,
            (3, 7),
            &["stable 10→8", "new 0→3", "stable 8→7"],
        ),
        (
            10,
            33,
            Some(Amount::Count(0)),
            (3, 7),
            &["new 0→3", "stable 10→7"],
        ),
        (
            10,
            50,
            None,
            (5, 5),
            &["stable 10→8", "new 0→5", "stable 8→5"],
        ),
        (
            10,
            50,
            Some(Amount::Count(0)),
            (5, 5),
            &["new 0→3", "stable 10→7", "new 3→5", "stable 7→5"],
        ),
        (3, 10, Some(Amount::Count(0)), (1, 3), &["new 0→1"]),
    ];
    for (replicas, weight, max_unavailable, (canary, stable), steps) in examples {
        let fenceposts = Fenceposts::canary(replicas, None, max_unavailable);
        let mut progression = Progression::start(replicas, weight, fenceposts);
        let taken = progression.run();
        let what =
            format!("{replicas} replicas at {weight}% with maxUnavailable {max_unavailable:?}");
        assert_eq!(taken, steps, "{what}");
        assert_eq!(
            (progression.new.spec, progression.stable.spec),
            (canary, stable),
            "{what}"
        );
    }
}

fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        (0..5i32).prop_map(Amount::Count),
        (0..=100i32).prop_map(Amount::Percent)
    ]
}

/// Reconciles to the end, checking the limits after every step: at most `replicas + surge`
/// pods, at least `replicas - unavailable` available, and progress in bounded time.
fn settle_within_limits(progression: &mut Progression) -> Result<(), TestCaseError> {
    let Progression {
        replicas,
        fenceposts,
        ..
    } = *progression;
    let mut reconciles = 0;
    while progression.reconcile().is_some() {
        reconciles += 1;
        // With one pod of slack, each pod moves in two reconciles (one down, one up).
        prop_assert!(reconciles <= 4 * replicas + 4, "no convergence");
        let total = progression.new.spec + progression.stable.spec;
        let available = progression.new.available + progression.stable.available;
        prop_assert!(total <= replicas + fenceposts.surge, "{total} pods");
        prop_assert!(
            available >= replicas - fenceposts.unavailable,
            "{available} available"
        );
    }
    let settled = (progression.new.spec, progression.stable.spec);
    prop_assert_eq!(
        settled,
        weighted_split(replicas, progression.weight, fenceposts.surge)
    );
    Ok(())
}

proptest! {
    /// From a fully available stable, a canary towards any weight stays within the fenceposts
    /// and settles on the weighted split.
    #[test]
    fn canary_progressions_stay_within_the_fenceposts(
        replicas in 1..60i32,
        weight in 0..=100i32,
        max_surge in amount(),
        max_unavailable in amount(),
    ) {
        let fenceposts = Fenceposts::canary(replicas, Some(max_surge), Some(max_unavailable));
        settle_within_limits(&mut Progression::start(replicas, weight, fenceposts))?;
    }

    /// Changing the weight of a settled canary, up (the next step) or down (an abort goes to
    /// 0), also stays within the fenceposts and settles on the new split.
    #[test]
    fn weight_changes_stay_within_the_fenceposts(
        replicas in 1..60i32,
        weight in 0..=100i32,
        next_weight in prop_oneof![Just(0), Just(100), 0..=100i32],
        max_surge in amount(),
        max_unavailable in amount(),
    ) {
        let fenceposts = Fenceposts::canary(replicas, Some(max_surge), Some(max_unavailable));
        let mut progression = Progression::settled_then(replicas, weight, next_weight, fenceposts);
        settle_within_limits(&mut progression)?;
    }

    /// The split never goes negative, never exceeds one surge pod, and, for a weight strictly
    /// between 0 and 100 with room for two pods, leaves neither side empty.
    #[test]
    fn weighted_split_is_bounded(replicas in 0..1000i32, weight in 0..=100i32, surge in 0..3i32) {
        let (canary, stable) = weighted_split(replicas, weight, surge);
        prop_assert!(canary >= 0 && stable >= 0);
        let total = canary + stable;
        prop_assert!(total == replicas || (surge > 0 && total == replicas + 1));
        if (1..100).contains(&weight) && replicas >= 2 {
            prop_assert!(canary > 0 && stable > 0);
        }
    }
}
