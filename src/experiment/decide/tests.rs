use super::*;
use crate::k8s::crd::Experiment;

fn experiment(extra: &str) -> ExperimentSpec {
    let text = format!(
        "apiVersion: tidegate.dev/v1alpha1
kind: Experiment
metadata: {{name: ab}}
spec:
  templates:
  - name: purple
    selector: {{matchLabels: {{app: demo}}}}
    template:
      metadata: {{labels: {{app: demo}}}}
      spec: {{containers: [{{name: demo, image: 'demo:purple'}}]}}
  - name: orange
    replicas: 2
    selector: {{matchLabels: {{app: demo}}}}
    template:
      metadata: {{labels: {{app: demo}}}}
      spec: {{containers: [{{name: demo, image: 'demo:orange'}}]}}
{extra}"
    );
    serde_saphyr::from_str::<Experiment>(&text).unwrap().spec
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn available(hash: &str, replicas: i32) -> ObservedReplicaSet {
    ObservedReplicaSet {
        hash: hash.into(),
        desired: replicas,
        replicas,
        ready: replicas,
        available: replicas,
        scale_down_deadline: None,
    }
}

/// Both templates' ReplicaSets, fully available.
fn both_available(now: Timestamp) -> Observed {
    Observed {
        now,
        replica_sets: [
            ("purple".to_owned(), available("p1", 1)),
            ("orange".to_owned(), available("o1", 2)),
        ]
        .into(),
        ..Observed::default()
    }
}

/// Reconciles until nothing changes any more with the same observation.
fn settle(
    spec: &ExperimentSpec,
    mut status: ExperimentStatus,
    observed: &Observed,
) -> (ExperimentStatus, Vec<Action>) {
    let mut actions = Vec::new();
    for _ in 0..5 {
        let decision = decide("ab", spec, &status, observed);
        actions.extend(decision.actions);
        if decision.status == status {
            break;
        }
        status = decision.status;
    }
    (status, actions)
}

fn run(phase: AnalysisPhase) -> ObservedRun {
    ObservedRun {
        phase,
        message: String::new(),
        terminating: false,
    }
}

#[test]
fn a_new_experiment_is_pending_and_creates_a_replica_set_per_template() {
    let decision = decide(
        "ab",
        &experiment(""),
        &ExperimentStatus::default(),
        &Observed {
            now: at(0),
            ..Observed::default()
        },
    );
    assert_eq!(decision.status.phase, Some(AnalysisPhase::Pending));
    assert_eq!(
        decision.actions,
        [
            Action::CreateReplicaSet {
                template: "purple".into()
            },
            Action::CreateReplicaSet {
                template: "orange".into()
            },
        ]
    );
    assert_eq!(
        decision.status.template_statuses[1].status,
        Some(TemplatePhase::Progressing)
    );
}

#[test]
fn a_created_replica_set_is_scaled_to_the_template_s_replicas() {
    let mut observed = both_available(at(1));
    observed.replica_sets.get_mut("orange").unwrap().desired = 0;
    let decision = decide(
        "ab",
        &experiment(""),
        &ExperimentStatus::default(),
        &observed,
    );
    assert_eq!(
        decision.actions,
        [Action::ScaleReplicaSet {
            template: "orange".into(),
            replicas: 2
        }]
    );
}

#[test]
fn analyses_start_once_every_template_was_available_with_their_variables() {
    let spec = experiment(
        "  duration: 10m
  analyses:
  - name: compare
    templateName: compare
    args:
    - {name: purple, value: '{{templates.purple.podTemplateHash}}'}
    - {name: orange-rs, value: '{{ templates.orange.replicaset.name }}'}
    - {name: window, value: '{{experiment.availableAt}}..{{experiment.finishedAt}}'}
    - {name: token, valueFrom: {secretKeyRef: {name: s, key: k}}}",
    );
    let first = decide(
        "ab",
        &spec,
        &ExperimentStatus::default(),
        &both_available(at(0)),
    );
    assert_eq!(first.status.phase, Some(AnalysisPhase::Pending));
    let second = decide("ab", &spec, &first.status, &both_available(at(1)));
    assert_eq!(second.status.phase, Some(AnalysisPhase::Running));
    assert_eq!(second.status.available_at, Some(Time(at(1))));
    assert!(
        second.actions.is_empty(),
        "no run before availableAt is recorded: {:?}",
        second.actions
    );
    let third = decide("ab", &spec, &second.status, &both_available(at(2)));
    let [
        Action::CreateRun {
            analysis,
            name,
            args,
        },
    ] = third.actions.as_slice()
    else {
        panic!("{:?}", third.actions)
    };
    assert_eq!(
        (analysis.as_str(), name.as_str()),
        ("compare", "ab-compare")
    );
    let values: Vec<_> = args.iter().map(|arg| arg.value.clone()).collect();
    assert_eq!(
        values,
        [
            Some("p1".to_owned()),
            Some("ab-orange".to_owned()),
            Some("2027-01-15T08:00:01Z..2027-01-15T08:10:01Z".to_owned()),
            None
        ]
    );
    assert!(args[3].value_from.is_some(), "a Secret is left to the run");
    assert_eq!(third.status.analysis_runs[0].analysis_run, "ab-compare");
    assert_eq!(
        third.status.analysis_runs[0].phase,
        Some(AnalysisPhase::Pending)
    );
}

#[test]
fn an_unknown_variable_is_an_error_of_the_analysis_and_ends_the_experiment() {
    let spec = experiment(
        "  analyses:
  - name: compare
    templateName: compare
    args: [{name: x, value: '{{templates.green.podTemplateHash}}'}]",
    );
    let (status, actions) = settle(&spec, ExperimentStatus::default(), &both_available(at(0)));
    assert!(
        !actions
            .iter()
            .any(|action| matches!(action, Action::CreateRun { .. }))
    );
    assert_eq!(status.phase, Some(AnalysisPhase::Error));
    assert_eq!(
        status.message,
        "Failed to create AnalysisRun for analysis 'compare': failed to resolve {{templates.green.podTemplateHash}}"
    );
}

#[test]
fn a_missing_template_is_an_error_before_anything_runs() {
    let spec = experiment("  analyses: [{name: compare, templateName: nowhere}]");
    let observed = Observed {
        now: at(0),
        unreadable_templates: [("compare".to_owned(), "not found".to_owned())].into(),
        ..Observed::default()
    };
    let (status, _) = settle(&spec, ExperimentStatus::default(), &observed);
    assert_eq!(status.phase, Some(AnalysisPhase::Error));
    assert!(
        status
            .message
            .starts_with("AnalysisTemplate verification failed for analysis 'compare'"),
        "{}",
        status.message
    );
}

#[test]
fn the_duration_ends_the_experiment_successfully_then_it_scales_down_after_the_delay() {
    let spec = experiment("  duration: 60s\n  analyses: [{name: watch, templateName: watch}]");
    let (running, _) = settle(&spec, ExperimentStatus::default(), &both_available(at(0)));
    assert_eq!(running.phase, Some(AnalysisPhase::Running));
    let mut observed = both_available(at(30));
    observed
        .runs
        .insert("watch".into(), run(AnalysisPhase::Running));
    let (still, _) = settle(&spec, running.clone(), &observed);
    assert_eq!(
        still.phase,
        Some(AnalysisPhase::Running),
        "before the duration"
    );
    let unchanged = decide("ab", &spec, &still, &observed);
    assert_eq!(
        unchanged.requeue,
        Some(Duration::from_secs(30)),
        "wakes when the duration ends"
    );
    assert!(unchanged.notes.is_empty(), "{:?}", unchanged.notes);

    // As Argo's `now.After(availableAt + duration)`: not passed at the very end, passed after.
    observed.now = at(60);
    let at_the_end = decide("ab", &spec, &still, &observed);
    assert_eq!(at_the_end.status.phase, Some(AnalysisPhase::Running));
    observed.now = at(61);
    let ended = decide("ab", &spec, &still, &observed);
    assert_eq!(
        ended.status.phase,
        Some(AnalysisPhase::Successful),
        "{:?}",
        ended.status
    );
    assert_eq!(
        ended.requeue,
        Some(Duration::ZERO),
        "the next pass acts on the new phase"
    );
    assert!(
        ended
            .notes
            .iter()
            .any(|note| note.reason == "ExperimentSuccessful"
                && note.message == "Experiment transitioned from Running -> Successful"
                && !note.warning),
        "{:?}",
        ended.notes
    );
    assert!(
        ended
            .status
            .template_statuses
            .iter()
            .all(|t| t.status == Some(TemplatePhase::Successful))
    );
    // Finished: the run is stopped, the ReplicaSets get their deadline, 30 s by default.
    let after = decide("ab", &spec, &ended.status, &observed);
    assert!(
        after.actions.contains(&Action::TerminateRun {
            name: "ab-watch".into()
        }),
        "{:?}",
        after.actions
    );
    assert!(after.actions.contains(&Action::SetScaleDownDeadline {
        template: "purple".into(),
        deadline: at(91)
    }));
    assert!(
        !after
            .actions
            .iter()
            .any(|action| matches!(action, Action::ScaleReplicaSet { .. }))
    );
    for replica_set in observed.replica_sets.values_mut() {
        replica_set.scale_down_deadline = Some(at(91));
    }
    observed.now = at(80);
    let waiting = decide("ab", &spec, &after.status, &observed);
    assert!(
        !waiting
            .actions
            .iter()
            .any(|action| matches!(action, Action::ScaleReplicaSet { .. })),
        "{:?}",
        waiting.actions
    );
    observed.now = at(91);
    let down = decide("ab", &spec, &after.status, &observed);
    assert!(
        down.actions.contains(&Action::ScaleReplicaSet {
            template: "orange".into(),
            replicas: 0
        }),
        "{:?}",
        down.actions
    );
    assert_eq!(
        down.status.phase,
        Some(AnalysisPhase::Successful),
        "a finished phase never changes"
    );
}

#[test]
fn without_a_delay_a_finished_template_scales_down_at_once() {
    let spec = experiment("  scaleDownDelaySeconds: 0\n  terminate: true");
    let (status, actions) = settle(&spec, ExperimentStatus::default(), &both_available(at(0)));
    assert_eq!(status.phase, Some(AnalysisPhase::Successful));
    assert!(
        actions.contains(&Action::ScaleReplicaSet {
            template: "purple".into(),
            replicas: 0
        }),
        "{actions:?}"
    );
}

#[test]
fn a_failed_analysis_fails_the_experiment_and_stops_the_others() {
    let spec = experiment("  analyses: [{name: a, templateName: t}, {name: b, templateName: t}]");
    let (running, _) = settle(&spec, ExperimentStatus::default(), &both_available(at(0)));
    let mut observed = both_available(at(5));
    observed.runs.insert(
        "a".into(),
        ObservedRun {
            phase: AnalysisPhase::Failed,
            message: "error rate".into(),
            terminating: false,
        },
    );
    observed
        .runs
        .insert("b".into(), run(AnalysisPhase::Running));
    let failed = decide("ab", &spec, &running, &observed);
    assert_eq!(failed.status.phase, Some(AnalysisPhase::Failed));
    assert_eq!(failed.status.message, "error rate");
    assert!(
        failed
            .notes
            .iter()
            .any(|note| note.reason == "AnalysisRunFailed"
                && note.message
                    == "AnalysisRun 'a' transitioned from Pending -> Failed: error rate"
                && note.warning),
        "{:?}",
        failed.notes
    );
    let next = decide("ab", &spec, &failed.status, &observed);
    assert_eq!(
        next.actions
            .iter()
            .filter(|a| matches!(a, Action::TerminateRun { .. }))
            .count(),
        1,
        "{:?}",
        next.actions
    );
    assert!(next.actions.contains(&Action::TerminateRun {
        name: "ab-b".into()
    }));
    // A run already stopping, or finished, is not stopped again.
    observed.runs.get_mut("b").unwrap().terminating = true;
    let again = decide("ab", &spec, &failed.status, &observed);
    observed.runs.get_mut("b").unwrap().terminating = false;
    observed.runs.get_mut("b").unwrap().phase = AnalysisPhase::Successful;
    let done = decide("ab", &spec, &failed.status, &observed);
    observed.runs.get_mut("b").unwrap().phase = AnalysisPhase::Running;
    for decision in [again, done] {
        assert!(
            !decision
                .actions
                .iter()
                .any(|action| matches!(action, Action::TerminateRun { .. })),
            "{:?}",
            decision.actions
        );
    }
    // Not terminating: nothing is stopped.
    assert!(
        !failed
            .actions
            .iter()
            .any(|action| matches!(action, Action::TerminateRun { .. })),
        "{:?}",
        failed.actions
    );
    // A status recorded with the failure but not (yet) the phase — written by Argo's
    // controller, say — stops the others too: the failure alone makes it terminate.
    let mut recorded_failure = failed.status.clone();
    recorded_failure.phase = Some(AnalysisPhase::Running);
    let stopped = decide("ab", &spec, &recorded_failure, &observed);
    assert!(
        stopped.actions.contains(&Action::TerminateRun {
            name: "ab-b".into()
        }),
        "{:?}",
        stopped.actions
    );
    let mut recorded_template_failure = running.clone();
    recorded_template_failure.template_statuses[0].status = Some(TemplatePhase::Failed);
    let stopped = decide("ab", &spec, &recorded_template_failure, &observed);
    assert!(
        stopped.actions.contains(&Action::TerminateRun {
            name: "ab-b".into()
        }),
        "a failed template: {:?}",
        stopped.actions
    );
}

#[test]
fn required_analyses_end_an_experiment_without_a_duration() {
    let spec = experiment(
        "  analyses:
  - {name: background, templateName: t}
  - {name: verdict, templateName: t, requiredForCompletion: true}",
    );
    let (running, _) = settle(&spec, ExperimentStatus::default(), &both_available(at(0)));
    let mut observed = both_available(at(5));
    observed
        .runs
        .insert("background".into(), run(AnalysisPhase::Running));
    observed
        .runs
        .insert("verdict".into(), run(AnalysisPhase::Running));
    let (still, _) = settle(&spec, running, &observed);
    assert_eq!(
        still.phase,
        Some(AnalysisPhase::Running),
        "no duration: runs on"
    );
    observed
        .runs
        .insert("verdict".into(), run(AnalysisPhase::Successful));
    // As Argo: the others are stopped, and the experiment ends when they have.
    let (stopping, actions) = settle(&spec, still, &observed);
    assert!(
        actions.contains(&Action::TerminateRun {
            name: "ab-background".into()
        }),
        "{actions:?}"
    );
    assert_eq!(stopping.phase, Some(AnalysisPhase::Running));
    observed
        .runs
        .insert("background".into(), run(AnalysisPhase::Successful));
    let done = decide("ab", &spec, &stopping, &observed);
    assert_eq!(done.status.phase, Some(AnalysisPhase::Successful));
    assert_eq!(done.status.message, "Required AnalysisRuns completed");
}

#[test]
fn a_template_without_progress_for_the_deadline_fails_the_experiment() {
    let spec = experiment("  progressDeadlineSeconds: 30");
    let mut observed = both_available(at(0));
    observed.replica_sets.get_mut("orange").unwrap().available = 1;
    observed.replica_sets.get_mut("orange").unwrap().ready = 1;
    let (waiting, _) = settle(&spec, ExperimentStatus::default(), &observed);
    assert_eq!(waiting.phase, Some(AnalysisPhase::Pending));
    observed.now = at(30);
    let (still, _) = settle(&spec, waiting, &observed);
    assert_eq!(
        still.phase,
        Some(AnalysisPhase::Pending),
        "at the deadline, not past it"
    );
    observed.now = at(31);
    let failed = decide("ab", &spec, &still, &observed);
    assert_eq!(failed.status.phase, Some(AnalysisPhase::Failed));
    assert_eq!(
        failed.status.message,
        "Template 'orange' exceeded its progressDeadlineSeconds (30)"
    );
    let notes: Vec<(&str, &str, bool)> = failed
        .notes
        .iter()
        .map(|note| (note.reason.as_str(), note.message.as_str(), note.warning))
        .collect();
    assert!(
        notes.contains(&(
            "TemplateFailed",
            "Template 'orange' transitioned from Progressing -> Failed: \
             Template 'orange' exceeded its progressDeadlineSeconds (30)",
            true
        )),
        "{notes:?}"
    );
    assert!(
        !notes
            .iter()
            .any(|(_, message, _)| message.contains("'purple'")),
        "purple did not change: {notes:?}"
    );
}

#[test]
fn a_terminated_experiment_never_creates_its_replica_sets() {
    let decision = decide(
        "ab",
        &experiment("  terminate: true"),
        &ExperimentStatus::default(),
        &Observed {
            now: at(0),
            ..Observed::default()
        },
    );
    assert!(
        !decision
            .actions
            .iter()
            .any(|action| matches!(action, Action::CreateReplicaSet { .. })),
        "{:?}",
        decision.actions
    );
}

#[test]
fn terminating_ends_a_running_experiment_successfully() {
    let mut spec = experiment("  analyses: [{name: a, templateName: t}]");
    let (running, _) = settle(&spec, ExperimentStatus::default(), &both_available(at(0)));
    spec.terminate = true;
    let mut observed = both_available(at(5));
    observed
        .runs
        .insert("a".into(), run(AnalysisPhase::Running));
    let stopped = decide("ab", &spec, &running, &observed);
    assert!(stopped.actions.contains(&Action::TerminateRun {
        name: "ab-a".into()
    }));
    assert_eq!(
        stopped.status.phase,
        Some(AnalysisPhase::Successful),
        "{:?}",
        stopped.status
    );
}

#[test]
fn a_run_recorded_but_not_created_is_created_on_resume() {
    let spec = experiment("  analyses: [{name: a, templateName: t}]");
    let (status, actions) = settle(&spec, ExperimentStatus::default(), &both_available(at(0)));
    assert!(
        actions
            .iter()
            .any(|action| matches!(action, Action::CreateRun { .. }))
    );
    assert_eq!(status.analysis_runs[0].analysis_run, "ab-a");
    // The daemon stopped after writing the status: the run is not there.
    let resumed = decide("ab", &spec, &status, &both_available(at(9)));
    assert!(
        resumed
            .actions
            .iter()
            .any(|action| matches!(action, Action::CreateRun { name, .. } if name == "ab-a")),
        "{:?}",
        resumed.actions
    );
    // Unless the experiment was terminated meanwhile.
    let mut terminated = spec.clone();
    terminated.terminate = true;
    let resumed = decide("ab", &terminated, &status, &both_available(at(9)));
    assert!(
        !resumed
            .actions
            .iter()
            .any(|action| matches!(action, Action::CreateRun { .. })),
        "{:?}",
        resumed.actions
    );
}

#[test]
fn a_template_service_exists_while_its_pods_run() {
    let spec = experiment("");
    let mut spec_with_service = spec.clone();
    spec_with_service.templates[0].service = Some(crate::k8s::crd::TemplateService::default());
    let decision = decide(
        "ab",
        &spec_with_service,
        &ExperimentStatus::default(),
        &both_available(at(0)),
    );
    assert!(decision.actions.contains(&Action::CreateService {
        template: "purple".into(),
        name: "ab-purple".into()
    }));
    assert_eq!(
        decision.status.template_statuses[0].service_name,
        "ab-purple"
    );
    let mut observed = both_available(at(1));
    observed
        .services
        .insert("purple".into(), "ab-purple".into());
    let mut terminated = spec_with_service.clone();
    terminated.terminate = true;
    terminated.scale_down_delay_seconds = Some(0);
    let (status, actions) = settle(&terminated, decision.status, &observed);
    assert!(
        !actions
            .iter()
            .any(|action| matches!(action, Action::DeleteService { .. })),
        "pods still up: {actions:?}"
    );
    for replica_set in observed.replica_sets.values_mut() {
        *replica_set = ObservedReplicaSet {
            desired: 0,
            ..available(&replica_set.hash, 0)
        };
    }
    let gone = decide("ab", &terminated, &status, &observed);
    assert!(
        gone.actions.contains(&Action::DeleteService {
            name: "ab-purple".into()
        }),
        "{:?}",
        gone.actions
    );
    assert_eq!(gone.status.template_statuses[0].service_name, "");
}

#[test]
fn an_invalid_spec_is_a_condition_and_nothing_is_done() {
    let mut spec = experiment("");
    spec.templates[1].name = "purple".into();
    let decision = decide(
        "ab",
        &spec,
        &ExperimentStatus::default(),
        &both_available(at(0)),
    );
    assert!(decision.actions.is_empty());
    assert!(
        decision
            .status
            .conditions
            .iter()
            .any(|c| c.kind == "InvalidSpec" && c.status == "True")
    );
    assert!(
        decision
            .status
            .message
            .contains("template name 'purple' is repeated"),
        "{}",
        decision.status.message
    );
}

#[test]
fn a_settled_experiment_writes_nothing_more() {
    let spec = experiment("  duration: 1h");
    let (status, _) = settle(&spec, ExperimentStatus::default(), &both_available(at(0)));
    let again = decide("ab", &spec, &status, &both_available(at(100)));
    assert_eq!(again.status, status, "no status churn while running");
    assert!(again.actions.is_empty());
}

/// The `Progressing` condition of `status`: (status, reason, message, last transition).
fn progressing(status: &ExperimentStatus) -> (String, String, String, Option<Timestamp>) {
    let condition = status
        .conditions
        .iter()
        .find(|condition| condition.kind == "Progressing")
        .expect("a Progressing condition");
    (
        condition.status.clone(),
        condition.reason.clone(),
        condition.message.clone(),
        condition.last_transition_time.as_ref().map(|time| time.0),
    )
}

#[test]
fn the_progressing_condition_follows_argo_s_reasons() {
    let spec = experiment("  duration: 60s");
    let first = decide(
        "ab",
        &spec,
        &ExperimentStatus::default(),
        &Observed {
            now: at(0),
            ..Observed::default()
        },
    );
    assert_eq!(
        progressing(&first.status),
        (
            "True".into(),
            "ReplicaSetUpdated".into(),
            "Experiment \"ab\" is progressing.".into(),
            Some(at(0))
        ),
        "templates appeared"
    );
    // Pods not available yet and nothing moving: not running, the condition stays.
    let mut starting = both_available(at(1));
    for replica_set in starting.replica_sets.values_mut() {
        replica_set.available = 0;
        replica_set.ready = 0;
    }
    let (pending, _) = settle(&spec, first.status.clone(), &starting);
    starting.now = at(2);
    let waiting = decide("ab", &spec, &pending, &starting);
    assert_eq!(waiting.status.phase, Some(AnalysisPhase::Pending));
    assert_eq!(progressing(&waiting.status).1, "ReplicaSetUpdated");
    let (running, _) = settle(&spec, first.status, &both_available(at(5)));
    let still = decide("ab", &spec, &running, &both_available(at(10)));
    assert_eq!(
        progressing(&still.status),
        (
            "True".into(),
            "NewReplicaSetAvailable".into(),
            "Experiment \"ab\" is running.".into(),
            Some(at(0))
        ),
        "nothing moved while it runs: the transition stays"
    );
    let mut moved = both_available(at(20));
    moved.replica_sets.get_mut("orange").unwrap().available = 1;
    let moving = decide("ab", &spec, &still.status, &moved);
    assert_eq!(
        progressing(&moving.status).1,
        "ReplicaSetUpdated",
        "a template's counts moved"
    );
    let done = decide("ab", &spec, &still.status, &both_available(at(66)));
    assert_eq!(
        progressing(&done.status),
        (
            "False".into(),
            "ExperimentCompleted".into(),
            "Experiment \"ab\" has successfully ran and completed.".into(),
            Some(at(66))
        )
    );
    // Failed as the duration ended: the templates moved; after that nothing changes.
    let mut failing = still.status.clone();
    failing.template_statuses[0].status = Some(TemplatePhase::Failed);
    let failed = decide("ab", &spec, &failing, &both_available(at(66)));
    assert_eq!(failed.status.phase, Some(AnalysisPhase::Failed));
    assert_eq!(progressing(&failed.status).1, "ReplicaSetUpdated");
    let after = decide("ab", &spec, &failed.status, &both_available(at(70)));
    assert_eq!(
        progressing(&after.status),
        progressing(&failed.status),
        "past the duration it is no longer running"
    );
}

#[test]
fn among_equally_bad_analyses_the_first_one_s_message_is_the_experiment_s() {
    let spec = experiment("  analyses: [{name: a, templateName: t}, {name: b, templateName: t}]");
    let (running, _) = settle(&spec, ExperimentStatus::default(), &both_available(at(0)));
    let mut observed = both_available(at(5));
    for (name, message) in [("a", "first"), ("b", "second")] {
        observed.runs.insert(
            name.into(),
            ObservedRun {
                phase: AnalysisPhase::Failed,
                message: message.into(),
                terminating: false,
            },
        );
    }
    let failed = decide("ab", &spec, &running, &observed);
    assert_eq!(failed.status.phase, Some(AnalysisPhase::Failed));
    assert_eq!(failed.status.message, "first", "as Argo's strict IsWorse");
}
