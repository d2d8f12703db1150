use crate::engine::{Effect, abort, promote, promote_full, retry};
use crate::model::{AnalysisPhase, ConditionKind, ConditionStatus, PauseReason, Phase};

use super::sim::{Sim, analysis, pause, pause_for, weight};

#[test]
fn the_first_revision_becomes_stable_at_once() {
    let sim = Sim::canary(vec![weight(20), pause()]).deployed();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
    assert_eq!(sim.spec_of("v1"), 5);
    assert_eq!(sim.state.counts.available, 5);
    assert_eq!(sim.services["web-stable"].as_deref(), Some("v1"));
    assert!(sim.event_reasons().contains(&"RolloutCompleted"));
    let healthy = sim
        .state
        .conditions
        .iter()
        .find(|c| c.kind == ConditionKind::Healthy);
    assert_eq!(healthy.map(|c| c.status), Some(ConditionStatus::True));
}

#[test]
fn a_three_step_canary_runs_to_healthy() {
    let mut sim = Sim::canary(vec![weight(20), pause_for(60), weight(60)]).deployed();
    sim.update_to("v2");
    sim.settle();
    // Step 1 reached 20 % (1 of 5 pods with surge), step 2 pauses for a minute.
    assert_eq!(sim.index(), Some(1));
    assert_eq!(sim.phase(), Phase::Paused);
    assert_eq!(sim.split("v2", "v1"), (1, 4));
    assert_eq!(sim.services["web-canary"].as_deref(), Some("v2"));
    assert_eq!(sim.services["web-stable"].as_deref(), Some("v1"));
    let requeue = sim.last.as_ref().unwrap().requeue_after.unwrap();
    assert_eq!(requeue.as_secs(), 60, "wakes up when the pause ends");

    sim.advance(59);
    sim.settle();
    assert_eq!(sim.index(), Some(1), "still paused");

    sim.advance(1);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Healthy);
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert_eq!(sim.split("v2", "v1"), (5, 0));
    assert_eq!(sim.services["web-stable"].as_deref(), Some("v2"));
    let completed: Vec<_> = sim
        .events
        .iter()
        .filter(|event| event.reason == "RolloutStepCompleted")
        .map(|event| event.message.as_str())
        .collect();
    assert_eq!(
        completed,
        [
            "Rollout step 1/3 completed (setWeight: 20)",
            "Rollout step 2/3 completed (pause: 1m0s)",
            "Rollout step 3/3 completed (setWeight: 60)",
        ]
    );
}

#[test]
fn an_indefinite_pause_waits_for_promote() {
    let mut sim = Sim::canary(vec![weight(40), pause(), weight(80)]).deployed();
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.phase(), Phase::Paused);
    assert_eq!(sim.state.message, "CanaryPauseStep");
    sim.advance(86_400);
    sim.settle();
    assert_eq!(sim.index(), Some(1), "a day later, still waiting");

    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Healthy);
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
}

#[test]
fn abort_restores_the_stable_revision_until_retried() {
    let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.split("v2", "v1"), (2, 3));

    sim.state = abort(&sim.state);
    sim.settle();
    assert_eq!(sim.split("v2", "v1"), (0, 5));
    assert_eq!(sim.phase(), Phase::Degraded);
    assert_eq!(
        sim.state.message,
        "RolloutAborted: Rollout aborted update to revision 2"
    );
    assert_eq!(
        sim.services["web-canary"].as_deref(),
        Some("v1"),
        "canary Service back on stable"
    );
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
    let warnings: Vec<_> = sim
        .events
        .iter()
        .filter(|event| event.warning)
        .map(|e| e.reason)
        .collect();
    assert_eq!(
        warnings,
        ["RolloutAborted"],
        "one warning, not one per reconcile"
    );

    sim.advance(3600);
    sim.settle();
    assert_eq!(
        sim.split("v2", "v1"),
        (0, 5),
        "the aborted revision is not retried by itself"
    );

    sim.state = retry(&sim.state);
    sim.settle();
    assert_eq!(sim.index(), Some(1), "steps start again");
    assert_eq!(sim.split("v2", "v1"), (2, 3));
    assert_eq!(sim.phase(), Phase::Paused);
}

/// v2 released from its first pause and paused again at 80 %: 4 new pods, 1 stable.
fn at_80_percent() -> Sim {
    let mut sim = Sim::canary(vec![weight(40), pause(), weight(80), pause()]).deployed();
    sim.update_to("v2");
    sim.settle();
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    sim
}

#[test]
fn a_new_revision_mid_rollout_supersedes_the_canary() {
    let mut sim = at_80_percent();
    assert_eq!(sim.index(), Some(3));
    assert_eq!(sim.split("v2", "v1"), (4, 1));

    sim.update_to("v3");
    sim.settle();
    assert_eq!(sim.spec_of("v2"), 0, "the superseded canary drains");
    assert_eq!(
        sim.split("v3", "v1"),
        (2, 3),
        "v3 starts from the first step against v1"
    );
    assert_eq!(sim.index(), Some(1));
    assert!(sim.event_reasons().contains(&"RolloutUpdated"));
}

#[test]
fn returning_to_the_stable_template_skips_the_steps() {
    let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
    sim.update_to("v2");
    sim.settle();
    sim.update_to("v1");
    sim.settle();
    assert_eq!(sim.phase(), Phase::Healthy);
    assert_eq!(sim.split("v1", "v2"), (5, 0));
    assert!(sim.event_reasons().contains(&"SkipSteps"));
}

#[test]
fn promote_full_skips_every_remaining_step() {
    let mut sim = Sim::canary(vec![weight(20), pause(), weight(50), pause()]).deployed();
    sim.update_to("v2");
    sim.settle();
    sim.state = promote_full(&sim.state);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Healthy);
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    let completed = sim
        .events
        .iter()
        .find(|e| e.reason == "RolloutCompleted" && e.message.contains("v2"));
    assert!(
        completed
            .unwrap()
            .message
            .ends_with("Full promotion requested")
    );
}

#[test]
fn a_successful_analysis_lets_the_canary_continue() {
    let mut sim = Sim::canary(vec![weight(20), analysis(), weight(60)]).deployed();
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.runs.len(), 1);
    assert_eq!(sim.runs[0].name, "web-v2-2-1");
    assert_eq!(sim.phase(), Phase::Progressing, "waiting for the analysis");
    assert_eq!(sim.index(), Some(1));

    sim.set_run_phase(AnalysisPhase::Successful, "");
    sim.settle();
    assert_eq!(sim.phase(), Phase::Healthy);
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
}

#[test]
fn finished_runs_of_earlier_revisions_are_kept_within_the_history_limits() {
    let mut sim = Sim::canary(vec![weight(20), analysis()]).deployed();
    sim.plan.successful_run_history_limit = 1;
    for (revision, hash) in ["v2", "v3", "v4"].into_iter().enumerate() {
        sim.advance(60);
        sim.update_to(hash);
        sim.settle();
        sim.set_run_phase(AnalysisPhase::Successful, "");
        sim.settle();
        assert_eq!(sim.phase(), Phase::Healthy, "revision {}", revision + 2);
    }
    sim.settle();
    let kept: Vec<&str> = sim.runs.iter().map(|run| run.name.as_str()).collect();
    // v4's run is the current revision's; of the earlier ones only the newest (v3) stays.
    assert_eq!(kept, ["web-v3-3-1", "web-v4-4-1"]);
}

#[test]
fn failed_and_errored_analyses_abort_and_never_promote() {
    for (phase, word) in [
        (AnalysisPhase::Failed, "Failed"),
        (AnalysisPhase::Error, "Error"),
    ] {
        let mut sim = Sim::canary(vec![weight(20), analysis(), weight(60)]).deployed();
        sim.update_to("v2");
        sim.settle();
        sim.set_run_phase(
            phase,
            "Metric \"success-rate\" assessed Failed due to failed (1) > failureLimit (0)",
        );
        sim.settle();
        assert_eq!(sim.phase(), Phase::Degraded, "{word}");
        assert_eq!(
            sim.state.stable_hash.as_deref(),
            Some("v1"),
            "{word}: never promoted"
        );
        assert_eq!(sim.split("v2", "v1"), (0, 5), "{word}");
        assert!(
            sim.state
                .message
                .contains(&format!("Step-based analysis phase {word}: Metric")),
            "{word}: {}",
            sim.state.message
        );
    }
}

#[test]
fn an_inconclusive_analysis_pauses_until_a_person_decides() {
    let mut sim = Sim::canary(vec![weight(20), analysis(), weight(60)]).deployed();
    sim.update_to("v2");
    sim.settle();
    sim.set_run_phase(AnalysisPhase::Inconclusive, "no data");
    sim.settle();
    assert_eq!(sim.phase(), Phase::Paused);
    assert_eq!(
        sim.state.pause_conditions[0].reason,
        PauseReason::InconclusiveAnalysisRun
    );
    assert_eq!(
        sim.state.stable_hash.as_deref(),
        Some("v1"),
        "inconclusive never promotes"
    );

    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Healthy, "the person chose to go on");
}

#[test]
fn a_manual_pause_halts_scaling_and_steps() {
    let mut sim = Sim::canary(vec![weight(40), weight(80)]).deployed();
    sim.plan.paused = true;
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.phase(), Phase::Paused);
    assert_eq!(sim.state.message, "manually paused");
    assert_eq!(sim.split("v2", "v1"), (0, 5));
    sim.plan.paused = false;
    sim.settle();
    assert_eq!(sim.phase(), Phase::Healthy);
}

#[test]
fn no_progress_past_the_deadline_degrades_and_can_abort() {
    for abort_on_deadline in [false, true] {
        let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
        sim.plan.progress_deadline_abort = abort_on_deadline;
        sim.pods_start = false; // the new pods never become available
        sim.update_to("v2");
        sim.settle();
        assert_eq!(sim.phase(), Phase::Progressing);
        sim.advance(601);
        sim.settle();
        assert_eq!(sim.phase(), Phase::Degraded);
        if abort_on_deadline {
            assert!(sim.state.abort);
            assert_eq!(sim.spec_of("v2"), 0);
        } else {
            assert!(
                sim.state.message.starts_with("ProgressDeadlineExceeded: "),
                "{}",
                sim.state.message
            );
            assert!(!sim.state.abort);
            sim.advance(60);
            sim.settle();
            assert_eq!(
                sim.phase(),
                Phase::Degraded,
                "stays exceeded without progress"
            );
            sim.pods_become_available();
            sim.settle();
            assert_eq!(sim.phase(), Phase::Paused, "progress resumes the rollout");
        }
    }
}

#[test]
fn the_deadline_is_reached_at_exactly_progress_deadline_seconds() {
    for (waited, exceeded) in [(599, false), (600, true)] {
        let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
        sim.pods_start = false;
        sim.update_to("v2");
        sim.settle();
        sim.advance(waited);
        sim.settle();
        assert_eq!(
            sim.has_event("RolloutTimedOut", ""),
            exceeded,
            "after {waited}s"
        );
    }
}

#[test]
fn progress_seen_after_a_long_gap_is_progress_not_a_timeout() {
    // Nobody reconciled while the pods started (the daemon was down for 20 minutes): the
    // first pass afterwards sees progress and must not call the update stuck.
    let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
    sim.plan.progress_deadline_abort = true;
    sim.pods_start = false;
    sim.update_to("v2");
    sim.settle();
    sim.advance(1200);
    sim.pods_become_available();
    sim.settle();
    assert!(!sim.has_event("RolloutTimedOut", ""));
    assert!(!sim.state.abort);
    assert_eq!(sim.phase(), Phase::Paused, "at the canary's pause");
}

#[test]
fn a_timeout_is_announced_once() {
    let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
    sim.pods_start = false;
    sim.update_to("v2");
    sim.settle();
    sim.advance(601);
    sim.settle();
    sim.advance(3600);
    sim.settle();
    let announced = sim
        .events
        .iter()
        .filter(|event| event.reason == "RolloutTimedOut")
        .count();
    assert_eq!(announced, 1);
    assert_eq!(sim.phase(), Phase::Degraded);
}

#[test]
fn an_aborted_rollout_is_not_held_to_the_deadline() {
    let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
    sim.update_to("v2");
    sim.settle();
    sim.state = abort(&sim.state);
    sim.settle();
    assert_eq!(sim.spec_of("v2"), 0, "the abort finished");
    sim.advance(86_400);
    sim.settle();
    assert!(!sim.has_event("RolloutTimedOut", ""));
    assert!(sim.state.abort);
}

#[test]
fn restart_at_in_the_future_waits_for_its_time() {
    let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
    sim.with_pods();
    sim.plan.restart_at = Some(sim.now + jiff::SignedDuration::from_secs(60));
    sim.settle();
    assert!(sim.evicted.is_empty(), "not yet: {:?}", sim.evicted);
    sim.advance(60);
    sim.settle();
    assert_eq!(sim.evicted.len(), 5);
}

#[test]
fn restart_evicts_as_many_pods_as_max_unavailable_allows_at_once() {
    let mut sim = Sim::canary(vec![weight(40), pause()])
        .replicas(10)
        .deployed();
    sim.with_pods();
    sim.advance(1);
    sim.plan.restart_at = Some(sim.now);
    sim.reconcile();
    // 10 available, maxUnavailable 25 % of 10 = 2: two pods at a time.
    assert_eq!(sim.evicted, ["web-v1-0", "web-v1-1"]);
}

#[test]
fn a_replica_set_whose_pods_are_still_going_is_not_deleted_for_history() {
    let mut sim = Sim::canary(vec![weight(50)]).deployed();
    sim.plan.revision_history_limit = 0;
    let mut draining = sim.replica_sets[0].clone();
    draining.name = "web-v0".into();
    draining.hash = "v0".into();
    draining.revision = 0;
    draining.spec = 0;
    draining.replicas = 2;
    draining.available = 0;
    draining.ready = 0;
    sim.replica_sets.push(draining);
    let deletes = |sim: &mut Sim| {
        let decision = sim.reconcile();
        decision
            .effects
            .iter()
            .any(|effect| matches!(effect, Effect::DeleteReplicaSet { name } if name == "web-v0"))
    };
    assert!(!deletes(&mut sim), "its pods are still terminating");
    sim.replica_sets
        .iter_mut()
        .filter(|rs| rs.hash == "v0")
        .for_each(|rs| rs.replicas = 0);
    assert!(deletes(&mut sim), "idle now");
}

#[test]
fn replica_counts_stay_within_the_fenceposts_while_pods_start_slowly() {
    let mut sim = Sim::canary(vec![weight(20), weight(50), weight(80)])
        .replicas(10)
        .deployed();
    sim.pods_start = false;
    sim.update_to("v2");
    for _ in 0..200 {
        sim.reconcile();
        let total: i32 = sim.replica_sets.iter().map(|rs| rs.spec).sum();
        let available: i32 = sim.replica_sets.iter().map(|rs| rs.available).sum();
        assert!(total <= 13, "{total} pods above replicas + maxSurge");
        assert!(
            available >= 8,
            "{available} available, below replicas - maxUnavailable"
        );
        sim.pods_become_available();
        if sim.phase() == Phase::Healthy && sim.state.stable_hash.as_deref() == Some("v2") {
            return;
        }
    }
    panic!("never became healthy: {:#?}", sim.state);
}

#[test]
fn nothing_moves_while_a_named_service_is_missing() {
    let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
    sim.services.remove("web-stable");
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.split("v2", "v1"), (0, 5));
    let warning = sim.events.iter().rev().find(|event| event.warning).unwrap();
    assert_eq!(warning.reason, "ServiceNotFound");
    assert_eq!(
        warning.message,
        "Service web-stable named by the Rollout does not exist"
    );
    assert_eq!(
        sim.last
            .as_ref()
            .unwrap()
            .requeue_after
            .map(|d| d.as_secs()),
        Some(30)
    );

    sim.services.insert("web-stable".into(), Some("v1".into()));
    sim.settle();
    assert_eq!(
        sim.split("v2", "v1"),
        (2, 3),
        "moves once the Service exists"
    );
}

#[test]
fn restart_replaces_every_pod_within_the_availability_budget() {
    let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
    sim.with_pods();
    sim.advance(1);
    let restart_at = sim.now; // every pod is older
    sim.plan.restart_at = Some(restart_at);

    sim.reconcile();
    // 5 available, maxUnavailable 25 % of 5 = 1: one pod at a time.
    assert_eq!(sim.evicted, ["web-v1-0"]);
    assert_eq!(sim.phase(), Phase::Progressing);
    assert_eq!(sim.state.message, "rollout is restarting");

    sim.settle();
    assert_eq!(sim.evicted.len(), 5);
    assert_eq!(sim.state.restarted_at, Some(restart_at));
    assert_eq!(sim.phase(), Phase::Healthy);
    assert!(sim.event_reasons().contains(&"RolloutRestarted"));

    sim.advance(60);
    sim.settle();
    assert_eq!(
        sim.evicted.len(),
        5,
        "a finished restart does not run again"
    );
}

#[test]
fn restart_evicts_stable_pods_first() {
    let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
    sim.update_to("v2");
    sim.settle();
    sim.with_pods();
    sim.advance(1);
    sim.plan.restart_at = Some(sim.now);
    sim.settle();
    assert_eq!(
        sim.evicted,
        ["web-v1-0", "web-v1-1", "web-v1-2", "web-v2-0", "web-v2-1"]
    );
    assert_eq!(sim.phase(), Phase::Paused, "still at the canary's pause");
}

/// Found by cargo-mutants (`restart_pods`, `==` → `!=`): after the stable revision comes
/// the current one, and only then pods an older revision left behind.
#[test]
fn restart_evicts_the_current_revision_before_older_ones() {
    let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
    sim.update_to("v2");
    sim.settle();
    sim.with_pods();
    sim.pods.push(crate::model::PodView {
        name: "web-v0-0".into(),
        hash: "v0".into(),
        created: sim.now,
        terminating: false,
        metadata: crate::model::PodMetadata::default(),
    });
    sim.advance(1);
    sim.plan.restart_at = Some(sim.now);
    sim.settle();
    assert_eq!(
        sim.evicted,
        [
            "web-v1-0", "web-v1-1", "web-v1-2", "web-v2-0", "web-v2-1", "web-v0-0"
        ]
    );
}

#[test]
fn old_revisions_beyond_the_history_limit_are_deleted() {
    let mut sim = Sim::canary(vec![weight(50)]).deployed();
    sim.plan.revision_history_limit = 1;
    for revision in ["v2", "v3", "v4"] {
        sim.update_to(revision);
        sim.settle();
        assert_eq!(sim.phase(), Phase::Healthy, "{revision}");
    }
    let left: Vec<_> = sim
        .replica_sets
        .iter()
        .map(|rs| (rs.hash.as_str(), rs.spec))
        .collect();
    assert_eq!(
        left,
        [("v3", 0), ("v4", 5)],
        "the stable revision and one old one"
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::engine::tests::sim::{Ended, analysis_outcome, experiment};
    use crate::model::{Amount, Step, Strategy as RolloutStrategy};

    /// A step, or an analysis whose run will end in the given phase.
    fn step() -> impl Strategy<Value = (Step, AnalysisPhase)> {
        prop_oneof![
            (0..=100i32).prop_map(|w| (weight(w), AnalysisPhase::Successful)),
            (0..300u64).prop_map(|s| (pause_for(s), AnalysisPhase::Successful)),
            Just((pause(), AnalysisPhase::Successful)),
            analysis_outcome().prop_map(|outcome| (analysis(), outcome)),
            analysis_outcome().prop_map(|outcome| (experiment(), outcome)),
        ]
    }

    proptest! {
        /// Whatever the steps, limits and analysis outcomes, and with a person promoting every
        /// manual pause, an update ends Healthy on the new revision or Degraded on the old one;
        /// the weight stays within 0-100 and a failed analysis never promotes.
        #[test]
        fn every_update_ends_healthy_or_degraded(
            steps in prop::collection::vec(step(), 0..8),
            replicas in 1..12i32,
            surge in 0..3i32,
            unavailable in 0..3i32,
        ) {
            let outcomes: Vec<AnalysisPhase> = steps
                .iter()
                .filter(|(step, _)| matches!(step, Step::Analysis(_) | Step::Experiment(_)))
                .map(|(_, outcome)| *outcome)
                .collect();
            let mut sim = Sim::canary(steps.into_iter().map(|(step, _)| step).collect()).replicas(replicas);
            if let RolloutStrategy::Canary(canary) = &mut sim.plan.strategy {
                canary.max_surge = Amount::Count(surge);
                canary.max_unavailable = Amount::Count(unavailable);
            }
            let mut sim = sim.deployed();
            sim.update_to("v2");
            let ended = sim.drive_to_end(outcomes, |sim| {
                prop_assert!((0..=100).contains(&sim.state.weight));
                Ok(())
            })?;
            prop_assert!(!(ended == Ended::Promoted && sim.any_analysis_failed()), "promoted despite a failed analysis");
        }
    }
}

/// Found by cargo-mutants (`scale_down_others`, `-` → `+`).
#[test]
fn a_superseded_canary_drains_no_faster_than_max_unavailable_allows() {
    let mut sim = at_80_percent();
    assert_eq!(sim.split("v2", "v1"), (4, 1));
    sim.update_to("v3");
    let min_available = 5 - 1; // replicas - maxUnavailable (25 % of 5, rounded down)
    for _ in 0..20 {
        sim.reconcile();
        let available: i32 = sim.replica_sets.iter().map(|rs| rs.available).sum();
        assert!(
            available >= min_available,
            "{available} pods available: {:?}",
            sim.replica_sets
        );
    }
    assert_eq!(sim.spec_of("v2"), 0, "drained in the end");
}

/// Found by cargo-mutants (`scale_down_others`, `>` → `<`): pods that never became available
/// cost no availability, so they go at once.
#[test]
fn a_superseded_canary_whose_pods_never_started_goes_at_once() {
    let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
    sim.pods_start = false;
    sim.update_to("v2");
    sim.settle();
    assert!(sim.spec_of("v2") > 0);
    assert_eq!(
        sim.replica_sets
            .iter()
            .find(|rs| rs.hash == "v2")
            .unwrap()
            .available,
        0
    );
    sim.update_to("v3");
    sim.settle();
    assert_eq!(sim.spec_of("v2"), 0, "{:?}", sim.replica_sets);
}

/// Found by cargo-mutants (`scale_down_others`, the budget's floor of zero removed).
#[test]
fn an_old_revision_never_grows_while_the_stable_is_short_of_pods() {
    let mut sim = at_80_percent();
    sim.update_to("v3");
    for _ in 0..20 {
        if sim.spec_of("v2") == 1 {
            break;
        }
        sim.reconcile();
    }
    assert_eq!(sim.spec_of("v2"), 1, "{:?}", sim.replica_sets);
    // The stable's pods crash, and no new pod starts.
    sim.pods_start = false;
    let stable = sim.replica_sets.iter_mut().find(|rs| rs.hash == "v1");
    let stable = stable.expect("the stable exists");
    (stable.ready, stable.available) = (0, 0);
    for _ in 0..20 {
        sim.reconcile();
        assert!(sim.spec_of("v2") <= 1, "{:?}", sim.replica_sets);
    }
}

/// Found by cargo-mutants (`at_desired_counts`, `&&` → `||`): a step's weight is reached when
/// the stable's pods are gone, not when its spec asks for fewer.
#[test]
fn a_weight_is_reached_only_once_the_stable_pods_are_gone() {
    let mut sim = Sim::canary(vec![weight(20), pause()]).deployed();
    sim.update_to("v2");
    for _ in 0..20 {
        if sim.split("v2", "v1") == (1, 4) {
            break;
        }
        sim.reconcile();
    }
    assert_eq!(sim.split("v2", "v1"), (1, 4));
    // The pod removed from the stable is still terminating.
    let stable = sim.replica_sets.iter_mut().find(|rs| rs.hash == "v1");
    stable.expect("the stable exists").replicas = 5;
    for _ in 0..5 {
        sim.reconcile();
    }
    assert_eq!(
        sim.index(),
        Some(0),
        "the weight step completed with 6 pods"
    );
    let stable = sim.replica_sets.iter_mut().find(|rs| rs.hash == "v1");
    stable.expect("the stable exists").replicas = 4;
    sim.settle();
    assert_eq!(sim.index(), Some(1));
}

/// Found by cargo-mutants (`progress_steps`, `||` → `&&`): the steps are for a new revision;
/// a status that records the stable one at a step (edited, or written by another controller)
/// neither pauses it nor leaves it Progressing.
#[test]
fn the_stable_revision_never_goes_through_steps_whatever_the_recorded_index() {
    for retried in [false, true] {
        let mut sim = Sim::canary(vec![weight(20), pause()]).deployed();
        sim.state.current_step_index = Some(0);
        // A retry recorded for the stable revision restarts nothing either.
        sim.state.aborted_at = retried.then_some(sim.now);
        sim.events.clear();
        sim.settle();
        let reasons = sim.event_reasons();
        assert!(!reasons.contains(&"RolloutStepCompleted"), "{reasons:?}");
        assert!(!reasons.contains(&"RolloutPaused"), "{reasons:?}");
        assert_eq!(sim.phase(), Phase::Healthy);
        assert_eq!(sim.state.pause_conditions, []);
        assert_eq!(sim.split("v1", "none"), (5, 0));
    }
}

/// Found by cargo-mutants (`scale_to`, `>` → `==`): Events say which way a ReplicaSet moved.
#[test]
fn scaling_events_say_which_way_and_how_far() {
    let mut sim = Sim::canary(vec![weight(20), pause()]).deployed();
    sim.update_to("v2");
    sim.settle();
    for message in [
        "Scaled up ReplicaSet web-v2 (revision 2) from 0 to 1",
        "Scaled down ReplicaSet web-v1 (revision 1) from 5 to 4",
    ] {
        assert!(
            sim.has_event("ScalingReplicaSet", message),
            "{:?}",
            sim.events
        );
    }
}

/// Argo's `replicaProgressThreshold`: a step, and the promotion, go on once enough of the
/// canary pods they want are available — and not before.
#[test]
fn a_replica_progress_threshold_lets_steps_and_promotion_go_on_with_enough_pods() {
    use crate::model::{ProgressThreshold, Strategy};

    let make_available = |sim: &mut Sim, available: i32| {
        let rs = sim
            .replica_sets
            .iter_mut()
            .find(|rs| rs.hash == "v2")
            .unwrap();
        rs.ready = available;
        rs.available = available;
    };
    for (threshold, enough, short) in [
        (ProgressThreshold::Percent(60), 3, 2),
        (ProgressThreshold::Pods(4), 4, 3),
    ] {
        let mut sim = Sim::canary(vec![weight(50), pause()])
            .replicas(10)
            .deployed();
        let Strategy::Canary(canary) = &mut sim.plan.strategy else {
            unreachable!()
        };
        canary.progress_threshold = Some(threshold);
        sim.pods_start = false;
        sim.update_to("v2");
        sim.settle();
        assert_eq!(sim.spec_of("v2"), 5, "{threshold:?}");
        make_available(&mut sim, short);
        sim.settle();
        assert_eq!(
            sim.index(),
            Some(0),
            "{threshold:?}: {short} of 5 is not enough"
        );
        make_available(&mut sim, enough);
        sim.settle();
        assert_eq!(sim.index(), Some(1), "{threshold:?}: {enough} of 5 is");
        assert_eq!(sim.phase(), Phase::Paused);

        // The promotion wants all 10: the new pods grow as far as the fenceposts allow.
        let (enough, short) = match threshold {
            ProgressThreshold::Percent(_) => (6, 5),
            ProgressThreshold::Pods(count) => (count, count - 1),
        };
        make_available(&mut sim, short);
        sim.state = promote(&sim.plan, &sim.state);
        sim.settle();
        assert!(sim.spec_of("v2") > 5, "{threshold:?}");
        assert_eq!(
            sim.state.stable_hash.as_deref(),
            Some("v1"),
            "{threshold:?}"
        );
        make_available(&mut sim, enough);
        sim.settle();
        assert_eq!(
            sim.state.stable_hash.as_deref(),
            Some("v2"),
            "{threshold:?}"
        );
    }
}

#[test]
fn without_a_threshold_every_wanted_pod_must_be_available() {
    use crate::model::ProgressThreshold;

    assert!(ProgressThreshold::met(None, 5, 5));
    assert!(!ProgressThreshold::met(None, 4, 5));
    assert!(!ProgressThreshold::met(
        Some(ProgressThreshold::Pods(-1)),
        4,
        5
    ));
    assert!(ProgressThreshold::met(
        Some(ProgressThreshold::Pods(-1)),
        5,
        5
    ));
    assert!(ProgressThreshold::met(
        Some(ProgressThreshold::Percent(50)),
        0,
        0
    ));
    assert!(ProgressThreshold::met(
        Some(ProgressThreshold::Percent(100)),
        3,
        3
    ));
    assert!(!ProgressThreshold::met(
        Some(ProgressThreshold::Percent(100)),
        2,
        3
    ));
    assert!(ProgressThreshold::met(
        Some(ProgressThreshold::Percent(66)),
        2,
        3
    ));
    assert!(!ProgressThreshold::met(
        Some(ProgressThreshold::Percent(67)),
        2,
        3
    ));
}

#[test]
fn a_finished_run_goes_with_its_revision_s_replica_set() {
    let mut sim = Sim::canary(vec![weight(20), analysis()]).deployed();
    sim.plan.revision_history_limit = 0;
    for hash in ["v2", "v3"] {
        sim.update_to(hash);
        sim.settle();
        sim.set_run_phase(AnalysisPhase::Successful, "");
        sim.settle();
        assert_eq!(sim.phase(), Phase::Healthy, "{hash}");
    }
    assert!(!sim.replica_sets.iter().any(|rs| rs.hash == "v2"));
    let kept: Vec<&str> = sim.runs.iter().map(|run| run.name.as_str()).collect();
    assert_eq!(kept, ["web-v3-3-1"], "v2's run went with its ReplicaSet");
}
