//! The `experiment` step: created once there is a stable revision, passed only by a
//! Successful Experiment nobody terminated; Failed or Error aborts, Inconclusive pauses,
//! and every Experiment that no longer decides anything is stopped.

use crate::engine::{abort, promote, promote_full, retry};
use crate::model::{
    AnalysisPhase, ExperimentPlan, ExperimentTemplateState, PauseReason, Phase, Step,
    TemplateWeight, TrafficIntent,
};

use super::sim::{Sim, experiment, pause, weight};

/// A canary at its experiment step (`setWeight: 20`, `experiment`, `pause`) updating to v2.
fn at_the_experiment() -> Sim {
    let mut sim = Sim::canary(vec![weight(20), experiment(), pause()]).deployed();
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.index(), Some(1));
    sim
}

const NAME: &str = "web-v2-2-1";

#[test]
fn the_step_creates_an_experiment_of_the_stable_and_canary_revisions_and_waits_for_it() {
    let mut sim = at_the_experiment();
    assert_eq!(
        sim.created_experiments,
        [(NAME.to_owned(), 1, "v1".to_owned(), "v2".to_owned())]
    );
    assert_eq!(sim.state.step_experiment.as_deref(), Some(NAME));
    assert!(sim.has_event("ExperimentCreated", NAME));
    assert_eq!(
        sim.split("v2", "v1"),
        (1, 4),
        "the weight of the step before"
    );
    sim.set_experiment(NAME, AnalysisPhase::Running, "");
    sim.advance(600);
    sim.settle();
    assert_eq!(sim.index(), Some(1), "a running experiment holds the step");
    assert_eq!(sim.phase(), Phase::Progressing, "no deadline while it runs");

    sim.set_experiment(NAME, AnalysisPhase::Successful, "");
    sim.settle();
    assert_eq!(
        sim.index(),
        Some(2),
        "a Successful experiment completes the step"
    );
    assert_eq!(sim.state.step_experiment, None);
    assert!(sim.has_event("RolloutStepCompleted", "(experiment)"));
    assert_eq!(sim.created_experiments.len(), 1, "one experiment");
}

#[test]
fn a_failed_experiment_aborts_with_argo_s_message() {
    for phase in [AnalysisPhase::Failed, AnalysisPhase::Error] {
        let mut sim = at_the_experiment();
        sim.set_experiment(NAME, phase, "Metric \"latency\" assessed Failed");
        sim.settle();
        assert!(sim.state.abort, "{phase}");
        assert_eq!(sim.phase(), Phase::Degraded);
        assert!(
            sim.state.message.contains(
                "Experiment analysis phase is error/failed: Metric \"latency\" assessed Failed"
            ),
            "{}",
            sim.state.message
        );
        assert_eq!(
            sim.split("v2", "v1"),
            (0, 5),
            "the stable takes everything back"
        );
    }
}

#[test]
fn an_inconclusive_experiment_pauses_until_a_person_promotes_past_it() {
    let mut sim = at_the_experiment();
    sim.set_experiment(NAME, AnalysisPhase::Inconclusive, "");
    sim.settle();
    assert_eq!(sim.phase(), Phase::Paused);
    assert!(
        sim.state
            .pause_conditions
            .iter()
            .any(|p| p.reason == PauseReason::InconclusiveExperiment)
    );
    assert_eq!(sim.index(), Some(1));
    sim.advance(3600);
    sim.settle();
    assert_eq!(sim.index(), Some(1), "it waits for a person");

    sim.state = promote(&sim.plan, &sim.state);
    sim.settle();
    assert_eq!(sim.index(), Some(2), "promote passes the step");
    assert!(
        sim.state
            .pause_conditions
            .iter()
            .all(|p| p.reason == PauseReason::CanaryPauseStep)
    );
}

#[test]
fn an_experiment_someone_terminated_never_passes_the_step() {
    let mut sim = at_the_experiment();
    sim.set_experiment(NAME, AnalysisPhase::Successful, "");
    sim.experiments[0].terminated = true;
    sim.settle();
    assert_eq!(sim.index(), Some(1));
    assert_eq!(sim.phase(), Phase::Paused);
    assert!(
        sim.state
            .pause_conditions
            .iter()
            .any(|p| p.reason == PauseReason::InconclusiveExperiment)
    );
}

#[test]
fn abort_and_full_promotion_terminate_the_running_experiment() {
    let mut sim = at_the_experiment();
    sim.set_experiment(NAME, AnalysisPhase::Running, "");
    sim.state = abort(&sim.state);
    sim.settle();
    assert!(sim.experiments[0].terminated, "abort stops it");
    assert_eq!(sim.split("v2", "v1"), (0, 5));

    let mut sim = at_the_experiment();
    sim.set_experiment(NAME, AnalysisPhase::Running, "");
    sim.state = promote_full(&sim.state);
    sim.settle();
    assert!(sim.experiments[0].terminated, "a full promotion stops it");
    assert_eq!(sim.phase(), Phase::Healthy);
    assert_eq!(sim.state.stable_hash.as_deref(), Some("v2"));
}

#[test]
fn a_new_revision_during_the_experiment_stops_it_and_never_inherits_its_verdict() {
    let mut sim = at_the_experiment();
    sim.set_experiment(NAME, AnalysisPhase::Running, "");
    sim.update_to("v3");
    sim.settle();
    assert!(
        sim.experiments[0].terminated,
        "the v2 experiment is stopped"
    );
    assert_eq!(sim.index(), Some(1));
    let names: Vec<&str> = sim
        .created_experiments
        .iter()
        .map(|(name, ..)| name.as_str())
        .collect();
    assert_eq!(names, [NAME, "web-v3-3-1"]);
    assert_eq!(sim.created_experiments[1].3, "v3");
    // The old one ending Successful decides nothing now.
    sim.set_experiment(NAME, AnalysisPhase::Successful, "");
    sim.settle();
    assert_eq!(sim.index(), Some(1));
    assert_eq!(sim.state.step_experiment.as_deref(), Some("web-v3-3-1"));
}

#[test]
fn a_recorded_experiment_that_is_missing_is_created_again_under_its_name() {
    let mut sim = at_the_experiment();
    // The daemon stopped after recording the name and before creating it.
    sim.experiments.clear();
    sim.settle();
    assert_eq!(sim.experiments.len(), 1);
    assert_eq!(sim.experiments[0].name, NAME);
    assert_eq!(sim.state.step_experiment.as_deref(), Some(NAME));
}

#[test]
fn a_retry_after_an_abort_runs_a_fresh_experiment() {
    let mut sim = at_the_experiment();
    sim.set_experiment(NAME, AnalysisPhase::Failed, "bad");
    sim.settle();
    assert!(sim.state.abort);
    sim.state = retry(&sim.state);
    sim.settle();
    assert_eq!(sim.index(), Some(1));
    let fresh = format!("{NAME}-1");
    assert_eq!(sim.state.step_experiment.as_deref(), Some(fresh.as_str()));
    assert!(!sim.state.abort, "the failed one decides nothing any more");
    sim.set_experiment(&fresh, AnalysisPhase::Successful, "");
    sim.settle();
    assert_eq!(sim.index(), Some(2));
}

#[test]
fn no_experiment_without_a_stable_revision() {
    let mut sim = Sim::canary(vec![experiment()]);
    sim.settle();
    assert!(
        sim.created_experiments.is_empty(),
        "the first revision has no steps to run"
    );
    assert_eq!(sim.phase(), Phase::Healthy);
}

#[test]
fn each_retry_runs_an_experiment_of_its_own() {
    let mut sim = at_the_experiment();
    let mut expected = NAME.to_owned();
    for attempt in 1..=3 {
        sim.set_experiment(&expected, AnalysisPhase::Failed, "bad");
        sim.settle();
        assert!(sim.state.abort);
        sim.state = retry(&sim.state);
        sim.settle();
        expected = format!("{NAME}-{attempt}");
        assert_eq!(
            sim.state.step_experiment.as_deref(),
            Some(expected.as_str())
        );
    }
    assert_eq!(sim.experiments.len(), 4);
}

#[test]
fn finished_experiments_of_earlier_revisions_are_kept_within_the_history_limits() {
    let mut sim = Sim::canary(vec![weight(20), experiment()]).deployed();
    sim.plan.successful_run_history_limit = 1;
    sim.plan.unsuccessful_run_history_limit = 1;
    let mut names = Vec::new();
    for (revision, hash) in ["v2", "v3", "v4", "v5"].into_iter().enumerate() {
        sim.advance(60);
        sim.update_to(hash);
        sim.settle();
        let name = format!("web-{hash}-{}-1", revision + 2);
        // v3's experiment fails and its update is retried; the others pass.
        if hash == "v3" {
            sim.set_experiment(&name, AnalysisPhase::Failed, "bad");
            sim.settle();
            sim.state = retry(&sim.state);
            sim.settle();
            names.push(name.clone());
            let fresh = format!("{name}-1");
            sim.set_experiment(&fresh, AnalysisPhase::Successful, "");
            names.push(fresh);
        } else {
            sim.set_experiment(&name, AnalysisPhase::Successful, "");
            names.push(name);
        }
        sim.settle();
        assert_eq!(sim.phase(), Phase::Healthy, "{hash}");
    }
    let kept: Vec<&str> = sim.experiments.iter().map(|e| e.name.as_str()).collect();
    // v5's is the current revision's; of the earlier ones the newest successful (v4's) and
    // the newest unsuccessful (v3's failed attempt) stay.
    assert_eq!(
        kept,
        ["web-v3-3-1", "web-v4-4-1", "web-v5-5-1"],
        "{names:?}"
    );
}

#[test]
fn a_finished_experiment_goes_with_its_revision_s_replica_set() {
    let mut sim = Sim::canary(vec![weight(20), experiment()]).deployed();
    sim.plan.revision_history_limit = 0;
    sim.update_to("v2");
    sim.settle();
    sim.set_experiment(NAME, AnalysisPhase::Successful, "");
    sim.settle();
    sim.update_to("v3");
    sim.settle();
    assert!(
        sim.experiments.iter().any(|e| e.name == NAME),
        "v2 is still the stable revision: its experiment stays"
    );
    sim.set_experiment("web-v3-3-1", AnalysisPhase::Successful, "");
    sim.settle();
    assert_eq!(sim.phase(), Phase::Healthy);
    assert!(
        !sim.replica_sets.iter().any(|rs| rs.hash == "v2"),
        "v2's ReplicaSet is beyond the revision history"
    );
    let kept: Vec<&str> = sim.experiments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(kept, ["web-v3-3-1"], "v2's experiment went with it");
}

/// A routed canary at its experiment step (`setWeight: 20` first), whose template `exp`
/// takes 10 of the traffic, its Experiment running with the template's Service `web-exp`.
fn routed_at_a_weighted_experiment() -> Sim {
    routed_at_a_weighted_experiment_after(vec![weight(20)])
}

fn routed_at_a_weighted_experiment_after(mut steps: Vec<Step>) -> Sim {
    let at = steps.len();
    steps.push(Step::Experiment(ExperimentPlan {
        analysis_args: Vec::new(),
        weights: vec![TemplateWeight {
            template: "exp".into(),
            weight: 10,
        }],
    }));
    steps.push(pause());
    let mut sim = Sim::routed(steps).deployed();
    sim.update_to("v2");
    sim.settle();
    assert_eq!(sim.index(), Some(at));
    assert!(
        sim.traffic_writes
            .iter()
            .all(|intent| intent.additional.is_empty()),
        "nothing for the experiment before it runs"
    );
    let name = sim
        .state
        .step_experiment
        .clone()
        .expect("the step's experiment");
    sim.set_experiment(&name, AnalysisPhase::Running, "");
    let experiment = sim.experiments.iter_mut().find(|e| e.name == name).unwrap();
    experiment.templates = vec![ExperimentTemplateState {
        name: "exp".into(),
        service: "web-exp".into(),
        hash: "v2exp".into(),
    }];
    sim.settle();
    sim
}

fn experiment_weights(intent: &TrafficIntent) -> Vec<(String, i32)> {
    intent
        .additional
        .iter()
        .map(|dest| (dest.service.clone(), dest.weight))
        .collect()
}

#[test]
fn a_weighted_template_s_service_takes_its_share_of_the_stable_s_while_the_experiment_runs() {
    let mut sim = routed_at_a_weighted_experiment();
    let running = sim.traffic_writes.last().unwrap().clone();
    assert_eq!(experiment_weights(&running), [("web-exp".to_owned(), 10)]);
    assert_eq!((running.canary_weight, running.stable_weight()), (20, 70));
    let status = sim.state.traffic.clone().unwrap();
    assert_eq!((status.stable_weight, status.additional.len()), (70, 1));
    assert!(status.verified, "the router was read back carrying it");
    assert!(sim.has_event(
        "TrafficWeightUpdated",
        "Traffic weight updated additional: [{10 web-exp v2exp}]"
    ));

    sim.set_experiment(NAME, AnalysisPhase::Successful, "");
    sim.settle();
    assert_eq!(sim.index(), Some(2));
    let after = sim.traffic_writes.last().unwrap();
    assert_eq!(experiment_weights(after), []);
    assert_eq!((after.canary_weight, after.stable_weight()), (20, 80));
    assert!(sim.state.traffic.as_ref().unwrap().additional.is_empty());
}

#[test]
fn an_experiment_s_traffic_goes_at_once_on_abort_promotion_or_termination() {
    type Leave = fn(&mut Sim);
    let leave: [(&str, Leave); 4] = [
        ("abort", |sim| sim.state = abort(&sim.state)),
        ("promote", |sim| sim.state = promote(&sim.plan, &sim.state)),
        ("promote fully", |sim| sim.state = promote_full(&sim.state)),
        ("terminate", |sim| {
            let experiment = sim.experiments.iter_mut().find(|e| e.name == NAME).unwrap();
            experiment.terminated = true;
        }),
    ];
    for (how, act) in leave {
        let mut sim = routed_at_a_weighted_experiment();
        let before = sim.traffic_writes.len();
        assert!(!experiment_weights(&sim.traffic_writes[before - 1]).is_empty());
        act(&mut sim);
        sim.reconcile();
        let next = sim
            .traffic_writes
            .get(before)
            .unwrap_or_else(|| panic!("{how}: no write"));
        assert_eq!(experiment_weights(next), [], "{how}");
    }
}

#[test]
fn a_template_without_a_service_yet_takes_no_traffic() {
    let mut sim = routed_at_a_weighted_experiment();
    sim.experiments[0].templates[0].service.clear();
    sim.settle();
    assert_eq!(experiment_weights(sim.traffic_writes.last().unwrap()), []);
}

#[test]
fn routers_sending_an_experiment_traffic_are_watched_even_with_no_canary_weight() {
    let mut sim = routed_at_a_weighted_experiment_after(Vec::new());
    let running = sim.traffic_writes.last().unwrap().clone();
    assert_eq!(
        (running.canary_weight, experiment_weights(&running)),
        (0, vec![("web-exp".to_owned(), 10)])
    );
    let requeue = sim.reconcile().requeue_after;
    assert!(
        requeue.is_some_and(|after| after <= std::time::Duration::from_secs(30)),
        "read again within 30 s: {requeue:?}"
    );
}
