use std::time::Duration;

use crate::engine::{abort, promote};
use crate::model::{AnalysisPhase, PauseReason, Phase};

use super::sim::{Sim, analysis_plan};

/// Deploys v1, then updates to v2 and settles.
fn updated(sim: Sim) -> Sim {
    let mut sim = sim.deployed();
    sim.update_to("v2");
    sim.settle();
    sim
}

#[test]
fn the_first_revision_goes_live_at_once() {
    let sim = Sim::blue_green(|_| {}).deployed();
    assert_eq!(sim.selector("web-active"), Some("v1"));
    assert_eq!(sim.selector("web-preview"), Some("v1"));
    assert_eq!(sim.spec_of("v1"), 3);
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
}

#[test]
fn a_manual_promotion_switches_only_after_promote_and_scales_the_old_down_after_its_delay() {
    let mut sim = updated(Sim::blue_green(|bg| {
        bg.auto_promotion_enabled = false;
        bg.preview_replica_count = Some(1);
    }));
    assert_eq!(sim.phase(), Phase::Paused);
    assert_eq!(sim.state.message, "BlueGreenPause");
    assert_eq!(
        sim.split("v2", "v1"),
        (1, 3),
        "the preview runs at its own size"
    );
    assert_eq!(sim.selector("web-preview"), Some("v2"));
    assert_eq!(
        sim.selector("web-active"),
        Some("v1"),
        "no switch before promotion"
    );

    sim.advance(3600);
    sim.settle();
    assert_eq!(
        sim.selector("web-active"),
        Some("v1"),
        "an hour later, still waiting"
    );

    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.selector("web-active"), Some("v2"));
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert_eq!(sim.phase(), Phase::Healthy);
    assert_eq!(
        sim.split("v2", "v1"),
        (3, 3),
        "the old revision waits for its scale-down delay"
    );
    let requeue = sim.last.as_ref().unwrap().requeue_after.unwrap();
    assert!(requeue <= Duration::from_secs(30), "{requeue:?}");

    sim.advance(30);
    sim.settle();
    assert_eq!(sim.split("v2", "v1"), (3, 0));
}

#[test]
fn auto_promotion_seconds_delay_the_switch() {
    let mut sim = updated(Sim::blue_green(|bg| {
        bg.auto_promotion_delay = Duration::from_secs(60);
    }));
    assert_eq!(sim.selector("web-active"), Some("v1"));
    assert_eq!(sim.phase(), Phase::Paused);
    sim.advance(59);
    sim.settle();
    assert_eq!(sim.selector("web-active"), Some("v1"));
    sim.advance(1);
    sim.settle();
    assert_eq!(sim.selector("web-active"), Some("v2"));
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
    assert_eq!(sim.state.pause_conditions, [], "the expired pause is gone");
    assert!(!sim.state.controller_pause);
}

#[test]
fn automatic_promotion_without_delay_switches_once_the_preview_is_available() {
    let mut sim = Sim::blue_green(|_| {}).deployed();
    sim.pods_start = false;
    sim.update_to("v2");
    sim.settle();
    assert_eq!(
        sim.selector("web-active"),
        Some("v1"),
        "v2 pods are not available yet"
    );
    assert_eq!(sim.state.message, "active service cutover pending");
    sim.pods_become_available();
    sim.settle();
    assert_eq!(sim.selector("web-active"), Some("v2"));
    assert_eq!(sim.phase(), Phase::Healthy);
}

#[test]
fn a_failed_pre_promotion_analysis_aborts_before_any_switch() {
    let mut sim = updated(Sim::blue_green(|bg| {
        bg.pre_promotion_analysis = Some(analysis_plan());
    }));
    assert_eq!(sim.runs.len(), 1);
    assert_eq!(sim.runs[0].name, "web-v2-2-pre");
    assert_eq!(sim.selector("web-active"), Some("v1"));
    sim.set_run_phase(AnalysisPhase::Failed, "error rate too high");
    sim.settle();
    assert_eq!(sim.phase(), Phase::Degraded);
    assert_eq!(sim.selector("web-active"), Some("v1"), "never switched");
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v1"));
    assert_eq!(
        sim.spec_of("v2"),
        3,
        "the preview stays for abortScaleDownDelaySeconds"
    );
    sim.advance(30);
    sim.settle();
    assert_eq!(sim.spec_of("v2"), 0);
}

#[test]
fn the_post_promotion_analysis_decides_stability_and_a_failure_switches_back() {
    for (outcome, stable) in [
        (AnalysisPhase::Successful, "v2"),
        (AnalysisPhase::Failed, "v1"),
    ] {
        let mut sim = updated(Sim::blue_green(|bg| {
            bg.post_promotion_analysis = Some(analysis_plan());
        }));
        assert_eq!(
            sim.selector("web-active"),
            Some("v2"),
            "switched before the post analysis"
        );
        assert_eq!(
            sim.state.stable_hash.as_deref(),
            Some("v1"),
            "not stable before it passes"
        );
        assert_eq!(
            sim.state.message,
            "waiting for post-promotion verification to complete"
        );
        assert_eq!(sim.runs[0].name, "web-v2-2-post");
        sim.set_run_phase(outcome, "");
        sim.settle();
        assert_eq!(
            sim.state.stable_hash.as_deref(),
            Some("v1").filter(|_| stable == "v1").or(Some("v2"))
        );
        assert_eq!(sim.selector("web-active"), Some(stable), "{outcome}");
    }
}

#[test]
fn an_inconclusive_analysis_pauses_and_promote_goes_on() {
    let mut sim = updated(Sim::blue_green(|bg| {
        bg.pre_promotion_analysis = Some(analysis_plan());
    }));
    sim.set_run_phase(AnalysisPhase::Inconclusive, "no data");
    sim.settle();
    assert_eq!(
        sim.state.pause_conditions[0].reason,
        PauseReason::InconclusiveAnalysisRun
    );
    assert_eq!(sim.selector("web-active"), Some("v1"));
    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.selector("web-active"), Some("v2"));
    assert_eq!(sim.phase(), Phase::Healthy);
}

#[test]
fn abort_during_the_pause_keeps_the_active_service_on_stable() {
    let mut sim = updated(Sim::blue_green(|bg| {
        bg.auto_promotion_enabled = false;
    }));
    sim.state = abort(&sim.state);
    sim.settle();
    assert_eq!(sim.phase(), Phase::Degraded);
    assert_eq!(sim.selector("web-active"), Some("v1"));
    assert_eq!(
        sim.selector("web-preview"),
        Some("v2"),
        "the preview stays on the new revision"
    );
    sim.advance(30);
    sim.settle();
    assert_eq!(sim.split("v2", "v1"), (0, 3));
}

mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::engine::tests::sim::{Ended, analysis_outcome};

    proptest! {
        /// Whatever the settings and analysis outcomes, with a person promoting every pause,
        /// a blue-green update ends Healthy on the new revision or Degraded on the old one;
        /// the active Service never selects a revision whose analysis failed.
        #[test]
        fn every_update_ends_healthy_or_degraded(
            auto in any::<bool>(),
            delay in 0..120u64,
            preview in prop::option::of(0..4i32),
            pre in prop::option::of(analysis_outcome()),
            post in prop::option::of(analysis_outcome()),
        ) {
            let sim = Sim::blue_green(|bg| {
                bg.auto_promotion_enabled = auto;
                bg.auto_promotion_delay = Duration::from_secs(delay);
                bg.preview_replica_count = preview;
                bg.pre_promotion_analysis = pre.map(|_| analysis_plan());
                bg.post_promotion_analysis = post.map(|_| analysis_plan());
            });
            let mut sim = updated(sim);
            let ended = sim.drive_to_end(pre.into_iter().chain(post), |_| Ok(()))?;
            prop_assert!(!(ended == Ended::Promoted && sim.any_analysis_failed()), "promoted despite a failed analysis");
            if ended == Ended::Degraded {
                prop_assert_eq!(sim.selector("web-active"), Some("v1"));
            }
        }
    }
}

/// What the status reports as `activeSelector`/`previewSelector`: a pin this pass sets
/// wins over the one observed; without either, none.
#[test]
fn a_decision_tells_what_each_service_selects_once_carried_out() {
    let mut sim = updated(Sim::blue_green(|blue_green| {
        blue_green.auto_promotion_enabled = false;
    }));
    let observed = sim.services.clone();
    assert_eq!(observed.get("web-active"), Some(&Some("v1".to_owned())));
    sim.state = promote(&sim.plan, &sim.state);
    let switching = (0..5)
        .map(|_| sim.reconcile())
        .find(|decision| {
            decision.effects.iter().any(|effect| {
                matches!(effect, crate::engine::Effect::SetServiceSelector { service, .. }
                    if service == "web-active")
            })
        })
        .expect("a pass switches the active Service");
    assert_eq!(switching.pin_of("web-active", &observed), Some("v2"));
    assert_eq!(switching.pin_of("web-preview", &observed), Some("v2"));
    assert_eq!(switching.pin_of("web-missing", &observed), None);
    let idle = crate::engine::Decision {
        state: sim.state.clone(),
        effects: Vec::new(),
        requeue_after: None,
    };
    assert_eq!(idle.pin_of("web-active", &observed), Some("v1"));
}
