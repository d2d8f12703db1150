//! The engine's safety promises, each against the bypass it closes: a revision reaches
//! users only after its analysis passed by measuring and every pause was released, and
//! abort always wins.

use crate::engine::{AnalysisKind, abort, promote, promote_full, retry};
use crate::model::{AnalysisPhase, BackgroundAnalysis, PauseReason, Phase, Strategy};

use super::sim::{Sim, analysis, analysis_plan, pause, pause_for, weight};

/// Deploys v1, then updates to v2 and settles.
fn updated(sim: Sim) -> Sim {
    let mut sim = sim.deployed();
    sim.update_to("v2");
    sim.settle();
    sim
}

/// What a forced server-side apply of Git's Services did before sync kept the pins: every
/// pin gone.
fn wipe_pins(sim: &mut Sim) {
    for pin in sim.services.values_mut() {
        *pin = None;
    }
}

fn manual_blue_green(sim: Sim) -> Sim {
    let mut sim = sim;
    if let Strategy::BlueGreen(blue_green) = &mut sim.plan.strategy {
        blue_green.auto_promotion_enabled = false;
        blue_green.preview_replica_count = Some(1);
    }
    sim
}

fn with_background(mut sim: Sim, starting_step: usize) -> Sim {
    if let Strategy::Canary(canary) = &mut sim.plan.strategy {
        canary.background_analysis = Some(BackgroundAnalysis {
            analysis: analysis_plan(),
            starting_step,
        });
    }
    sim
}

// --- 1. A lost pin is never a first deploy --------------------------------------------------

#[test]
fn a_blue_green_pause_survives_services_that_lost_their_pins() {
    let mut sim = updated(manual_blue_green(Sim::blue_green(|_| {})));
    assert_eq!(sim.state.message, "BlueGreenPause");
    wipe_pins(&mut sim);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Paused, "{:#?}", sim.state);
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"), "not promoted");
    assert_eq!(
        sim.selector("web-active"),
        Some("v1"),
        "the active Service is pinned to the stable revision again"
    );
    assert_eq!(sim.selector("web-preview"), Some("v2"));
    assert_eq!(sim.spec_of("v2"), 1, "the preview stays at its own size");
    assert!(!sim.has_event("RolloutCompleted", "revision 2"));

    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.selector("web-active"), Some("v2"));
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
}

#[test]
fn a_blue_green_pre_promotion_analysis_survives_services_that_lost_their_pins() {
    let mut sim = updated(manual_blue_green(Sim::blue_green(|bg| {
        bg.pre_promotion_analysis = Some(analysis_plan());
    })));
    assert_eq!(sim.created_names(), ["web-v2-2-pre"]);
    wipe_pins(&mut sim);
    sim.settle();
    assert_eq!(sim.selector("web-active"), Some("v1"));
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
    assert_eq!(
        sim.created_names(),
        ["web-v2-2-pre"],
        "the same run decides"
    );
    assert!(
        sim.state.pause_conditions.is_empty(),
        "no pause before the analysis passed"
    );
    sim.set_run_phase(AnalysisPhase::Successful, "");
    sim.settle();
    assert_eq!(sim.state.message, "BlueGreenPause");
    assert_eq!(sim.selector("web-active"), Some("v1"));
}

#[test]
fn canary_pins_are_restored_and_the_pause_holds() {
    let mut sim = updated(Sim::canary(vec![weight(40), pause(), weight(80)]));
    assert_eq!(sim.index(), Some(1));
    wipe_pins(&mut sim);
    sim.settle();
    assert_eq!(sim.index(), Some(1), "still paused");
    assert_eq!(sim.selector("web-stable"), Some("v1"));
    assert_eq!(sim.selector("web-canary"), Some("v2"));
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
}

// --- 2. Background analysis ----------------------------------------------------------------

#[test]
fn the_first_revision_has_no_background_run() {
    let sim = with_background(Sim::canary(vec![weight(20), pause()]), 0).deployed();
    assert!(sim.created_runs.is_empty());
    assert_eq!(sim.state.background_analysis, None);
}

#[test]
fn background_analysis_starts_at_its_step_and_a_failure_aborts() {
    let mut sim = updated(with_background(
        Sim::canary(vec![weight(20), pause_for(60), weight(60), pause_for(60)]),
        1,
    ));
    assert_eq!(sim.index(), Some(1));
    assert_eq!(
        sim.created_runs,
        [("web-v2-2".to_owned(), AnalysisKind::Background)],
        "one run, labelled Background, named as Argo names it"
    );
    assert_eq!(
        sim.state
            .background_analysis
            .as_ref()
            .map(|run| run.name.as_str()),
        Some("web-v2-2")
    );

    sim.set_phase_of("web-v2-2", AnalysisPhase::Failed);
    sim.settle();
    assert!(sim.has_event(
        "AnalysisRunFailed",
        "Background Analysis Run 'web-v2-2' Status New: 'Failed' Previous: 'Running'"
    ));
    assert_eq!(sim.phase(), Phase::Degraded);
    assert!(sim.state.abort);
    assert!(
        sim.state
            .message
            .contains("Background analysis phase Failed"),
        "{}",
        sim.state.message
    );
    assert_eq!(sim.split("v2", "v1"), (0, 5));
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
}

#[test]
fn background_analysis_before_its_starting_step_does_not_run() {
    let mut sim = with_background(Sim::canary(vec![weight(20), pause(), weight(60)]), 2).deployed();
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.index(), Some(1));
    assert!(sim.created_runs.is_empty());
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.created_names(), ["web-v2-2"]);
}

#[test]
fn a_passing_background_run_is_stopped_once_promoted() {
    let mut sim =
        with_background(Sim::canary(vec![weight(20), pause_for(60), weight(60)]), 0).deployed();
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.created_names(), ["web-v2-2"]);
    sim.advance(60);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Healthy);
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert!(
        sim.run("web-v2-2").terminated,
        "the background run stops with the promotion"
    );
    assert_eq!(sim.state.background_analysis, None);
}

#[test]
fn an_inconclusive_background_run_pauses_and_measures_again_once_released() {
    let mut sim = updated(with_background(
        Sim::canary(vec![weight(20), pause_for(60), weight(60), pause()]),
        0,
    ));
    sim.set_phase_of("web-v2-2", AnalysisPhase::Inconclusive);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Paused);
    assert!(
        sim.state
            .pause_conditions
            .iter()
            .any(|pause| pause.reason == PauseReason::InconclusiveAnalysisRun)
    );
    sim.advance(3600);
    sim.settle();
    assert_eq!(
        sim.state.stable_hash.as_deref(),
        Some("v1"),
        "waits for a person"
    );

    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.created_names(), ["web-v2-2", "web-v2-2.1"]);
    sim.set_phase_of("web-v2-2.1", AnalysisPhase::Failed);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Degraded, "the new run decides");
}

/// Found by cargo-mutants (`promote`, `&&` → `||`): a person releasing the pause of an
/// Inconclusive background run resumes the rollout — it does not skip the analysis step that
/// is still measuring.
#[test]
fn releasing_an_inconclusive_background_pause_does_not_skip_a_running_analysis_step() {
    let mut sim = updated(with_background(
        Sim::canary(vec![weight(20), analysis(), weight(60), pause()]),
        0,
    ));
    assert_eq!(sim.index(), Some(1), "at the analysis step");
    let background = sim
        .state
        .background_analysis
        .as_ref()
        .map(|run| run.name.clone())
        .expect("a background run");
    sim.set_phase_of(&background, AnalysisPhase::Inconclusive);
    sim.settle();
    assert!(
        sim.state
            .pause_conditions
            .iter()
            .any(|pause| pause.reason == PauseReason::InconclusiveAnalysisRun)
    );

    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(
        sim.index(),
        Some(1),
        "the analysis step still waits for its run: {:?}",
        sim.created_names()
    );
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
}

// --- 3. Every attempt its own run; only a measured Successful passes ------------------------

#[test]
fn abort_during_an_analysis_step_then_retry_measures_again() {
    let mut sim = updated(Sim::canary(vec![weight(20), analysis(), weight(60)]));
    assert_eq!(sim.created_names(), ["web-v2-2-1"]);
    sim.state = abort(&sim.state);
    sim.settle();
    assert!(sim.run("web-v2-2-1").terminated);
    sim.state = retry(&sim.state);
    sim.settle();
    sim.advance(3600);
    sim.settle();
    assert_eq!(sim.created_names(), ["web-v2-2-1", "web-v2-2-1.1"]);
    assert_eq!(
        sim.index(),
        Some(1),
        "waits for the new run: {:#?}",
        sim.state
    );
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
    sim.set_phase_of("web-v2-2-1.1", AnalysisPhase::Successful);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
}

#[test]
fn a_retry_after_a_failed_analysis_measures_again_rather_than_aborting_at_once() {
    let mut sim = updated(Sim::canary(vec![weight(20), analysis(), weight(60)]));
    sim.set_phase_of("web-v2-2-1", AnalysisPhase::Failed);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Degraded);
    sim.state = retry(&sim.state);
    sim.settle();
    assert_eq!(sim.created_names(), ["web-v2-2-1", "web-v2-2-1.1"]);
    assert!(!sim.state.abort, "not aborted again by the old verdict");
    assert_eq!(sim.phase(), Phase::Progressing);
}

#[test]
fn a_revision_returned_to_is_measured_again() {
    let mut sim = updated(Sim::canary(vec![weight(20), analysis(), weight(60)]));
    sim.update_to("v3");
    sim.settle();
    assert!(
        sim.run("web-v2-2-1").terminated,
        "the superseded revision's run stops"
    );
    // tidegate's own revert returns to v2's template: its ReplicaSet, revision 2, is reused.
    sim.update_to("v2");
    sim.settle();
    assert_eq!(
        sim.created_names(),
        ["web-v2-2-1", "web-v3-3-1", "web-v2-2-1.1"]
    );
    sim.advance(3600);
    sim.settle();
    assert_eq!(sim.index(), Some(1), "{:#?}", sim.state);
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
}

#[test]
fn a_terminated_run_never_passes_a_gate() {
    let mut sim = updated(Sim::canary(vec![weight(20), analysis(), weight(60)]));
    // Someone stops the run: Argo would call it Successful ("Run Terminated").
    let run = sim.runs.last_mut().unwrap();
    run.phase = AnalysisPhase::Successful;
    run.terminated = true;
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
    assert_eq!(sim.phase(), Phase::Paused);
    assert_eq!(sim.state.message, "InconclusiveAnalysisRun");
    let recorded = sim.state.step_analysis.as_ref().unwrap();
    assert_eq!(recorded.phase, AnalysisPhase::Inconclusive);
}

// --- 4. The preview checkpoint does not outlive an abort ------------------------------------

#[test]
fn a_retry_after_an_abort_goes_through_analysis_and_the_pause_again() {
    let mut sim = updated(manual_blue_green(Sim::blue_green(|bg| {
        bg.pre_promotion_analysis = Some(analysis_plan());
    })));
    sim.set_run_phase(AnalysisPhase::Successful, "");
    sim.settle();
    assert_eq!(sim.state.message, "BlueGreenPause");
    sim.pods_start = false;
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert!(sim.state.preview_checkpoint, "cleared to grow");
    assert_eq!(sim.selector("web-active"), Some("v1"), "not available yet");

    sim.state = abort(&sim.state);
    sim.settle();
    assert!(!sim.state.preview_checkpoint);
    sim.pods_become_available();
    sim.settle();
    sim.pods_start = true;
    sim.state = retry(&sim.state);
    sim.settle();
    assert_eq!(
        sim.selector("web-active"),
        Some("v1"),
        "no switch without a new analysis and pause"
    );
    assert_eq!(sim.created_names(), ["web-v2-2-pre", "web-v2-2-pre.1"]);
    sim.set_phase_of("web-v2-2-pre.1", AnalysisPhase::Successful);
    sim.settle();
    assert_eq!(sim.state.message, "BlueGreenPause");
    assert_eq!(sim.selector("web-active"), Some("v1"));
}

// --- 4b. Promotion waits for every step and every pod ----------------------------------------

/// Found by cargo-mutants (`promote_when_done`, `||` → `&&`).
#[test]
fn a_canary_at_full_weight_still_waits_for_its_remaining_steps() {
    let mut sim = updated(Sim::canary(vec![weight(100), pause(), weight(100)]));
    assert_eq!(sim.split("v2", "v1"), (5, 0), "every pod is new");
    assert_eq!(sim.phase(), Phase::Paused);
    sim.advance(3600);
    sim.settle();
    assert_eq!(
        sim.state.stable_hash.as_deref(),
        Some("v1"),
        "promoted mid-steps"
    );
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
}

/// Found by cargo-mutants (`promote_when_done`, `||` → `&&`).
#[test]
fn a_canary_is_promoted_only_once_the_new_revision_is_fully_available() {
    let mut sim = updated(Sim::canary(vec![weight(20), pause()]));
    sim.pods_start = false;
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert!(sim.spec_of("v2") > 1, "the new revision grows");
    assert_eq!(
        sim.state.stable_hash.as_deref(),
        Some("v1"),
        "promoted before the new pods were available"
    );
    sim.pods_start = true;
    sim.pods_become_available();
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
}

/// Found by cargo-mutants (`complete_step`, `!=` → `==`): a finished pause leaves no pause
/// condition behind, so a later timed pause waits its whole duration.
#[test]
fn a_later_timed_pause_waits_its_whole_duration() {
    let mut sim = updated(Sim::canary(vec![
        weight(20),
        pause_for(60),
        weight(40),
        pause_for(600),
        weight(60),
    ]));
    assert_eq!(sim.index(), Some(1));
    sim.advance(60);
    sim.settle();
    assert_eq!(sim.index(), Some(3));
    let started = sim.now;
    assert_eq!(sim.state.pause_conditions.len(), 1);
    assert_eq!(sim.state.pause_conditions[0].start, started);
    sim.advance(599);
    sim.settle();
    assert_eq!(sim.index(), Some(3), "the second pause ended early");
    sim.advance(1);
    sim.settle();
    assert_eq!(sim.index(), Some(5));
}

// --- 5. Abort always wins -----------------------------------------------------------------

#[test]
fn abort_wins_over_a_pending_full_promotion() {
    let mut sim = updated(Sim::canary(vec![weight(20), pause(), weight(60)]));
    sim.pods_start = false;
    sim.state = promote_full(&sim.state);
    sim.reconcile();
    sim.state = abort(&sim.state);
    sim.pods_start = true;
    sim.settle();
    assert_eq!(sim.phase(), Phase::Degraded);
    assert!(!sim.state.promote_full);
    assert_eq!(sim.split("v2", "v1"), (0, 5), "the stable serves");
    assert_eq!(sim.selector("web-stable"), Some("v1"));
    assert_eq!(sim.selector("web-canary"), Some("v1"));
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
}

#[test]
fn an_abort_recorded_with_a_full_promotion_pending_keeps_the_stable_serving() {
    let mut sim = updated(Sim::canary(vec![weight(20), pause(), weight(60)]));
    // Both flags in the status at once (recorded by two people before a reconcile).
    sim.state = promote_full(&sim.state);
    sim.state.abort = true;
    sim.settle();
    assert_eq!(sim.split("v2", "v1"), (0, 5));
    assert_eq!(sim.selector("web-canary"), Some("v1"));
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
    assert_eq!(
        promote_full(&sim.state),
        sim.state,
        "a full promotion of an aborted update does nothing"
    );
}

#[test]
fn a_deadline_abort_wins_over_a_pending_full_promotion() {
    let mut sim = Sim::canary(vec![weight(20), pause()]).deployed();
    sim.plan.progress_deadline_abort = true;
    sim.update_to("v2");
    sim.pods_start = false;
    sim.settle();
    sim.state = promote_full(&sim.state);
    sim.settle();
    sim.advance(601);
    sim.settle();
    assert!(sim.state.abort, "{:#?}", sim.state);
    sim.pods_become_available();
    sim.settle();
    assert_eq!(sim.spec_of("v1"), 5, "the stable is back at full size");
    assert_eq!(sim.spec_of("v2"), 0);
    assert_eq!(sim.selector("web-stable"), Some("v1"));
    assert_eq!(sim.selector("web-canary"), Some("v1"));
}

// --- 6. Nothing moves while the Rollout is held -------------------------------------------

// Found by cargo-mutants (`canary::reconcile`, `&&` → `||`): `spec.paused` and the pause of
// an Inconclusive analysis hold the steps too, not only the scaling.

#[test]
fn no_step_completes_under_spec_paused() {
    let mut paused = updated(Sim::canary(vec![weight(20), analysis(), weight(60)]));
    assert_eq!(paused.index(), Some(1));
    paused.plan.paused = true;
    paused.set_phase_of("web-v2-2-1", AnalysisPhase::Successful);
    paused.settle();
    assert_eq!(
        paused.index(),
        Some(1),
        "a step completed under spec.paused"
    );
    paused.plan.paused = false;
    paused.settle();
    assert_eq!(paused.index(), Some(3), "released: the steps go on");
}

#[test]
fn no_step_completes_while_an_inconclusive_analysis_holds_the_rollout() {
    let mut held = updated(with_background(
        Sim::canary(vec![weight(20), pause_for(60), weight(60), pause()]),
        0,
    ));
    assert_eq!(held.index(), Some(1));
    held.set_phase_of("web-v2-2", AnalysisPhase::Inconclusive);
    held.settle();
    held.advance(3600);
    held.settle();
    assert_eq!(
        held.index(),
        Some(1),
        "the timed pause completed while an Inconclusive analysis held the Rollout"
    );
    assert_eq!(held.split("v2", "v1"), (1, 4));
}

// --- 8. Blue-green progress deadline and scale-down revision limit ----------------------------

#[test]
fn a_blue_green_update_without_progress_times_out_and_can_abort() {
    let mut sim = Sim::blue_green(|_| {}).deployed();
    sim.plan.progress_deadline_abort = true;
    sim.pods_start = false;
    sim.update_to("v2");
    sim.settle();
    sim.advance(599);
    sim.settle();
    assert!(!sim.state.abort);
    sim.advance(2);
    sim.settle();
    assert!(sim.state.abort);
    assert_eq!(sim.phase(), Phase::Degraded);
    assert!(sim.has_event("RolloutTimedOut", "web-v2"));
    assert_eq!(sim.selector("web-active"), Some("v1"));
}

#[test]
fn a_blue_green_pause_is_not_held_to_the_deadline() {
    let mut sim = updated(manual_blue_green(Sim::blue_green(|_| {})));
    sim.plan.progress_deadline_abort = true;
    sim.advance(86_400);
    sim.settle();
    assert!(!sim.state.abort);
    assert_eq!(sim.state.message, "BlueGreenPause");
}

#[test]
fn old_blue_green_revisions_beyond_the_revision_limit_scale_down_at_once() {
    let mut sim = Sim::blue_green(|bg| bg.scale_down_delay_revision_limit = Some(1)).deployed();
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert_eq!(sim.spec_of("v1"), 3, "v1 waits for its scale-down delay");
    sim.advance(5);
    sim.update_to("v3");
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v3"));
    assert_eq!(sim.spec_of("v2"), 3, "the newest old revision waits");
    assert_eq!(
        sim.spec_of("v1"),
        0,
        "beyond the limit: scaled down at once"
    );
}

#[test]
fn an_old_revision_beyond_the_revision_limit_never_waits_behind_a_newer_waiting_one() {
    let mut sim = manual_blue_green(Sim::blue_green(|bg| {
        bg.scale_down_delay_revision_limit = Some(1);
    }))
    .deployed();
    sim.update_to("v2");
    sim.settle();
    sim.update_to("v3");
    sim.settle();
    assert_eq!(sim.spec_of("v2"), 1, "the left preview waits for its delay");
    assert!(sim.deadline_of("v2").is_some());
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v3"));
    assert_eq!(sim.spec_of("v2"), 1, "the newest old revision still waits");
    assert_eq!(
        sim.spec_of("v1"),
        0,
        "beyond the limit: scaled down at once"
    );
    assert_eq!(
        sim.deadline_of("v1"),
        None,
        "beyond the limit: never given a delay"
    );
}

#[test]
fn a_first_revision_whose_pods_never_start_times_out() {
    for mut sim in [
        Sim::blue_green(|_| {}),
        Sim::canary(vec![weight(20), pause()]),
    ] {
        sim.pods_start = false;
        sim.settle();
        sim.advance(599);
        sim.settle();
        assert!(!sim.has_event("RolloutTimedOut", ""));
        sim.advance(2);
        sim.settle();
        assert!(
            sim.has_event("RolloutTimedOut", "ReplicaSet \"web-v1\" has timed out"),
            "{:?}",
            sim.events
        );
        assert_eq!(sim.phase(), Phase::Degraded);
    }
}

#[test]
fn a_preview_is_measured_and_paused_only_once_fully_available() {
    for manual in [false, true] {
        let mut sim = Sim::blue_green(|bg| {
            bg.auto_promotion_enabled = !manual;
            bg.pre_promotion_analysis = (!manual).then(analysis_plan);
        })
        .deployed();
        sim.pods_start = false;
        sim.update_to("v2");
        sim.settle();
        assert_eq!(sim.spec_of("v2"), 3, "the preview is scaled");
        let preview = sim.replica_sets.iter_mut().find(|rs| rs.hash == "v2");
        let preview = preview.expect("the preview exists");
        (preview.ready, preview.available) = (2, 2);
        sim.settle();
        assert!(sim.runs.is_empty(), "measured at 2 of 3 pods");
        assert_eq!(sim.state.pause_conditions, [], "paused at 2 of 3 pods");
        sim.pods_become_available();
        sim.settle();
        if manual {
            assert_eq!(sim.state.message, "BlueGreenPause");
        } else {
            assert_eq!(sim.created_names(), ["web-v2-2-pre"]);
        }
        assert_eq!(sim.selector("web-active"), Some("v1"));
    }
}

#[test]
fn a_preview_whose_pods_never_start_times_out_before_its_analysis_begins() {
    let mut sim =
        Sim::blue_green(|bg| bg.pre_promotion_analysis = Some(analysis_plan())).deployed();
    sim.plan.progress_deadline_abort = true;
    sim.pods_start = false;
    sim.update_to("v2");
    sim.settle();
    sim.advance(601);
    sim.settle();
    assert!(sim.state.abort, "{:#?}", sim.state);
    assert!(
        sim.has_event("RolloutTimedOut", "ReplicaSet \"web-v2\" has timed out"),
        "{:?}",
        sim.events
    );
    assert!(sim.runs.is_empty());
    assert_eq!(sim.selector("web-active"), Some("v1"));
}

#[test]
fn a_promotion_analysis_that_stopped_measuring_is_held_to_the_progress_deadline() {
    for (pre, run) in [(true, "web-v2-2-pre"), (false, "web-v2-2-post")] {
        let mut sim = updated(Sim::blue_green(|bg| {
            if pre {
                bg.pre_promotion_analysis = Some(analysis_plan());
            } else {
                bg.post_promotion_analysis = Some(analysis_plan());
            }
        }));
        sim.plan.progress_deadline_abort = true;
        assert_eq!(sim.created_names(), [run]);
        sim.analysis_stalled = true;
        sim.advance(3600);
        sim.settle();
        assert!(sim.state.abort, "{run}: {:#?}", sim.state);
        let stuck = format!("AnalysisRun \"{run}\" has made no progress");
        assert!(sim.has_event("RolloutTimedOut", &stuck), "{:?}", sim.events);
        assert_eq!(sim.selector("web-active"), Some("v1"), "{run}");
    }
}

// --- 9. Stuck forever, silently -------------------------------------------------------------

#[test]
fn a_replica_set_name_held_by_someone_else_counts_a_collision() {
    let mut sim = Sim::canary(vec![weight(20), pause()]).deployed();
    sim.update_to("v2");
    sim.replica_set_name_taken = true;
    sim.reconcile();
    sim.reconcile();
    assert_eq!(sim.state.collision_count, Some(1));
    assert!(sim.has_event("ReplicaSetNameTaken", "web-v2"));
    assert!(
        !sim.replica_sets.iter().any(|rs| rs.hash == "v2"),
        "nothing is taken for ours"
    );
    // The controller hashes the template with the collision count: a new name.
    sim.replica_set_name_taken = false;
    sim.update_to("v2x");
    sim.settle();
    assert_eq!(sim.split("v2x", "v1"), (1, 4));
}

#[test]
fn a_run_name_held_by_someone_else_is_given_up_for_a_fresh_one() {
    let mut sim = updated(Sim::canary(vec![weight(20), analysis(), weight(60)]));
    // The create met someone else's run of that name: the observation says so.
    sim.runs.clear();
    sim.foreign_runs = vec!["web-v2-2-1".into()];
    sim.settle();
    assert!(sim.has_event("AnalysisRunNameTaken", "web-v2-2-1"));
    assert_eq!(sim.created_names(), ["web-v2-2-1", "web-v2-2-1.1"]);
    sim.set_phase_of("web-v2-2-1.1", AnalysisPhase::Successful);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
}

#[test]
fn a_run_deleted_after_it_was_recorded_is_started_again() {
    let mut sim = updated(Sim::canary(vec![weight(20), analysis(), weight(60)]));
    sim.reconcile();
    sim.runs.clear();
    sim.settle();
    assert_eq!(sim.created_names(), ["web-v2-2-1", "web-v2-2-1"]);
    assert!(sim.has_event("AnalysisRunMissing", "web-v2-2-1"));
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
    sim.set_phase_of("web-v2-2-1", AnalysisPhase::Successful);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
}

#[test]
fn an_analysis_that_stopped_measuring_is_held_to_the_progress_deadline() {
    let mut sim = Sim::canary(vec![weight(20), analysis(), weight(60)]).deployed();
    sim.plan.progress_deadline_abort = true;
    sim.update_to("v2");
    sim.settle();
    sim.analysis_stalled = true;
    sim.advance(3600);
    sim.settle();
    assert!(sim.state.abort, "{:#?}", sim.state);
    assert!(
        sim.has_event(
            "RolloutTimedOut",
            "AnalysisRun \"web-v2-2-1\" has made no progress"
        ),
        "{:?}",
        sim.events
    );
    assert_eq!(sim.split("v2", "v1"), (0, 5));
}

#[test]
fn an_analysis_that_keeps_measuring_is_not_held_to_the_deadline() {
    let mut sim = Sim::canary(vec![weight(20), analysis(), weight(60)]).deployed();
    sim.plan.progress_deadline_abort = true;
    sim.update_to("v2");
    sim.settle();
    for _ in 0..12 {
        sim.advance(300);
        sim.settle();
    }
    assert!(!sim.state.abort);
    assert_eq!(sim.index(), Some(1));
    assert_eq!(sim.state.pause_conditions, []);
}

// --- One rule for approvals ---------------------------------------------------------------

#[test]
fn only_pauses_a_person_must_release_await_approval() {
    use crate::engine::awaiting_approval;
    let mut manual = updated(Sim::canary(vec![weight(20), pause(), weight(60)]));
    assert!(awaiting_approval(&manual.plan, &manual.state));
    manual.state = promote(&manual.plan, &manual.state);
    manual.settle();
    assert!(!awaiting_approval(&manual.plan, &manual.state));
    let timed = updated(Sim::canary(vec![weight(20), pause_for(60), weight(60)]));
    assert_eq!(timed.phase(), Phase::Paused);
    assert!(
        !awaiting_approval(&timed.plan, &timed.state),
        "a timer releases it"
    );
    let blue_green = updated(manual_blue_green(Sim::blue_green(|_| {})));
    assert!(awaiting_approval(&blue_green.plan, &blue_green.state));
    let automatic = updated(Sim::blue_green(|bg| {
        bg.auto_promotion_delay = std::time::Duration::from_secs(60);
    }));
    assert_eq!(automatic.state.message, "BlueGreenPause");
    assert!(!awaiting_approval(&automatic.plan, &automatic.state));
}

/// Found by cargo-mutants (`background_analysis`, `||` → `&&`): an abort stops the
/// background run for good — it is terminated, and no new one starts while aborted.
#[test]
fn an_abort_stops_the_background_run_and_starts_no_other() {
    let mut sim = updated(with_background(
        Sim::canary(vec![weight(20), pause(), weight(60), pause()]),
        0,
    ));
    assert_eq!(sim.created_names(), ["web-v2-2"]);
    sim.state = abort(&sim.state);
    sim.settle();
    sim.advance(3600);
    sim.settle();
    assert!(sim.run("web-v2-2").terminated);
    assert_eq!(sim.created_names(), ["web-v2-2"], "{:#?}", sim.state);
}

/// Found by cargo-mutants (`background_analysis`, `||` → `&&`): a full promotion skips the
/// remaining steps and their background measurement; the run is stopped and none starts.
#[test]
fn a_full_promotion_stops_the_background_run_and_starts_no_other() {
    let mut sim = updated(with_background(
        Sim::canary(vec![weight(20), pause(), weight(60), pause()]),
        0,
    ));
    sim.state = promote_full(&sim.state);
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert!(sim.run("web-v2-2").terminated);
    assert_eq!(sim.created_names(), ["web-v2-2"], "{:#?}", sim.state);
}

/// Found by cargo-mutants (`check_deadline`, `||` → `&&` before `self.plan.paused` and
/// before the pause conditions): a person's `spec.paused` holds the update, and no progress
/// deadline runs out under it — not even in the pass that sees the pause as the deadline
/// passes, with pods not yet ready.
#[test]
fn no_deadline_runs_out_under_spec_paused() {
    let mut sim = Sim::canary(vec![weight(40), pause()]).deployed();
    sim.pods_start = false;
    sim.plan.progress_deadline_abort = true;
    sim.update_to("v2");
    sim.settle();
    // The pause comes as the deadline passes: the pass that sees it must not abort.
    sim.advance(601);
    sim.plan.paused = true;
    sim.settle();
    assert_eq!(sim.phase(), Phase::Paused, "{}", sim.state.message);
    assert!(!sim.state.abort);
}

/// An inconclusive background run waits for a person; the progress deadline does not
/// decide for them, even with pods not yet ready.
#[test]
fn no_deadline_runs_out_while_an_inconclusive_run_waits_for_a_person() {
    let mut sim = with_background(Sim::canary(vec![weight(40), pause()]), 0).deployed();
    sim.plan.progress_deadline_abort = true;
    sim.pods_start = false;
    sim.update_to("v2");
    sim.settle();
    // The verdict comes as the deadline passes: the pass that pauses must not abort.
    sim.advance(601);
    sim.set_run_phase(AnalysisPhase::Inconclusive, "undecided");
    sim.settle();
    assert!(
        sim.state
            .pause_conditions
            .iter()
            .any(|pause| pause.reason == PauseReason::InconclusiveAnalysisRun),
        "{:#?}",
        sim.state
    );
    assert_eq!(sim.phase(), Phase::Paused, "{}", sim.state.message);
    assert!(!sim.state.abort, "a person decides, not the deadline");
}
