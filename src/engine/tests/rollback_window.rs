//! `rollbackWindow`: a return to a recent revision is promoted at once — no steps, pauses or
//! analysis — while an older one, or an aborted one, goes through the gates as any update.

use crate::engine::{abort, promote_full};
use crate::model::Phase;

use super::sim::{Sim, analysis, analysis_plan, pause, weight};

/// Deploys v1, then each of `later` in turn, each fully promoted: the last is stable.
fn history(mut sim: Sim, later: &[&str]) -> Sim {
    sim = sim.deployed();
    for hash in later {
        sim.update_to(hash);
        sim.settle();
        sim.state = promote_full(&sim.state);
        sim.settle();
        assert_eq!(sim.state.stable_hash.as_deref(), Some(*hash));
    }
    sim
}

fn gated(window: Option<u32>) -> Sim {
    let mut sim = Sim::canary(vec![weight(40), pause(), analysis()]);
    sim.plan.rollback_window = window;
    sim
}

#[test]
fn a_rollback_within_the_window_skips_steps_pauses_and_analysis() {
    let mut sim = history(gated(Some(1)), &["v2"]);
    let runs_before = sim.created_names().len();
    sim.update_to("v1");
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
    assert_eq!(sim.phase(), Phase::Healthy);
    assert_eq!(sim.created_names().len(), runs_before, "no analysis ran");
    assert!(sim.has_event("RolloutCompleted", "Rollback within window"));
    assert!(sim.has_event("SkipSteps", "within RollbackWindow"));
}

#[test]
fn an_older_revision_or_no_window_goes_through_every_gate() {
    for (window, rollback) in [(None, "v2"), (Some(1), "v1"), (Some(1), "v2")] {
        // v1, v2 and v3 were deployed; v3 is stable.
        let mut sim = history(gated(window), &["v2", "v3"]);
        sim.update_to(rollback);
        sim.settle();
        let within = rollback == "v2" && window.is_some();
        if within {
            assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
        } else {
            assert_eq!(
                sim.state.stable_hash.as_deref(),
                Some("v3"),
                "{window:?} {rollback}"
            );
            assert_eq!(
                sim.phase(),
                Phase::Paused,
                "{window:?} {rollback}: at the pause"
            );
        }
    }
    // Two revisions back fits a window of 2.
    let mut sim = history(gated(Some(2)), &["v2", "v3"]);
    sim.update_to("v1");
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
}

#[test]
fn a_new_revision_is_no_rollback() {
    let mut sim = history(gated(Some(5)), &["v2"]);
    sim.update_to("v3");
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert_eq!(sim.phase(), Phase::Paused);
}

#[test]
fn an_abort_wins_over_a_rollback_within_the_window() {
    let mut sim = history(gated(Some(1)), &["v2"]);
    sim.pods_start = false;
    sim.update_to("v1");
    sim.reconcile();
    sim.state = abort(&sim.state);
    sim.pods_become_available();
    sim.settle();
    sim.pods_become_available();
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert_eq!(sim.phase(), Phase::Degraded);
    assert!(
        !sim.state.promote_full,
        "no full promotion pending behind the abort"
    );
    assert_eq!(
        sim.index(),
        Some(0),
        "the steps wait at the start, as after any abort"
    );
}

#[test]
fn a_blue_green_rollback_within_the_window_switches_without_analysis_or_pause() {
    let mut sim = Sim::blue_green(|blue_green| {
        blue_green.auto_promotion_enabled = false;
        blue_green.pre_promotion_analysis = Some(analysis_plan());
    });
    sim.plan.rollback_window = Some(1);
    let mut sim = history(sim, &["v2"]);
    let runs_before = sim.created_names().len();
    sim.update_to("v1");
    sim.settle();
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
    assert_eq!(sim.selector("web-active"), Some("v1"));
    assert_eq!(sim.created_names().len(), runs_before);
}
