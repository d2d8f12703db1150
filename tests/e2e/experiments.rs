//! Experiments on the testenv, from Argo's own examples unchanged: templates run as
//! ReplicaSets whose pods kwok runs, analyses as AnalysisRuns with Job metrics (kwok completes
//! the Jobs' pods), a template Service, the duration, termination and the scale-down delay.

use serde_json::{Value, json};
use tidegate::k8s::crd::{AnalysisRun, Experiment, PauseReason, Rollout, TemplatePhase};
use tidegate::k8s::{self, ReplicaSet, ResourceExt, Service, crd, labels};
use tidegate::model::AnalysisPhase;

use crate::support::http::{HttpServer, Response};
use crate::support::rollout::{ControllerProcess, Controllers, tidegate};
use crate::support::{TIMEOUT, TestNamespace, install_crds, wait_for, wait_for_object};

/// The documents of an Argo example in `tests/fixtures/argo/`, moved into tidegate's group.
fn argo_documents(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/argo/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("read fixture");
    serde_saphyr::from_multiple::<Value>(&text)
        .expect("parse fixture")
        .into_iter()
        .filter(|document| !document.is_null())
        .map(|mut document| {
            let kind = document["kind"].as_str().expect("kind").to_owned();
            let api_version = document["apiVersion"].as_str().expect("apiVersion");
            document["apiVersion"] = crd::translated_api_version(api_version, &kind).into();
            document
        })
        .collect()
}

async fn apply(namespace: &TestNamespace, fixture: &str) {
    apply_documents(namespace, fixture, argo_documents(fixture)).await;
}

async fn apply_documents(namespace: &TestNamespace, fixture: &str, documents: Vec<Value>) {
    for document in documents {
        let name = document["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_owned();
        let params = k8s::PatchParams::apply(k8s::SYNC_FIELD_MANAGER).validation_strict();
        let result = match document["kind"].as_str() {
            Some("Experiment") => namespace
                .api::<Experiment>()
                .patch(&name, &params, &k8s::Patch::Apply(&document))
                .await
                .map(drop),
            Some("AnalysisTemplate") => namespace
                .api::<crd::AnalysisTemplate>()
                .patch(&name, &params, &k8s::Patch::Apply(&document))
                .await
                .map(drop),
            Some("Rollout") => namespace
                .api::<Rollout>()
                .patch(&name, &params, &k8s::Patch::Apply(&document))
                .await
                .map(drop),
            other => panic!("unexpected kind {other:?}"),
        };
        result.unwrap_or_else(|error| panic!("apply {fixture} {name}: {error}"));
    }
}

fn phase(experiment: Option<&Experiment>) -> Option<AnalysisPhase> {
    experiment?.status.as_ref()?.phase
}

async fn replicas(namespace: &TestNamespace, name: &str) -> Option<i32> {
    let replica_set = namespace.api::<ReplicaSet>().get_opt(name).await.ok()??;
    replica_set.spec.replicas
}

/// Template `template` of experiment `name` runs as its ReplicaSet, as the status records.
async fn assert_template_runs(
    namespace: &TestNamespace,
    name: &str,
    template: &str,
    status: &tidegate::k8s::crd::ExperimentStatus,
) {
    let replica_set = namespace
        .api::<ReplicaSet>()
        .get(&format!("{name}-{template}"))
        .await
        .expect("the template's ReplicaSet");
    let hash = replica_set.labels()[labels::POD_TEMPLATE_HASH].clone();
    assert_eq!(
        replica_set.annotations()["experiment.argoproj.io/template-name"],
        template
    );
    assert_eq!(
        replica_set
            .spec
            .selector
            .match_labels
            .as_ref()
            .expect("a selector")[labels::POD_TEMPLATE_HASH],
        hash
    );
    let recorded = status
        .template_statuses
        .iter()
        .find(|status| status.name == template)
        .expect("a template status");
    assert_eq!(recorded.status, Some(TemplatePhase::Running));
    assert_eq!(
        (
            recorded.available_replicas,
            recorded.pod_template_hash.as_str()
        ),
        (1, hash.as_str())
    );
}

#[tokio::test]
async fn argo_s_experiment_with_analysis_runs_until_terminated_then_scales_down() {
    let namespace = TestNamespace::create("experiment-analysis").await;
    install_crds(&namespace.client()).await;
    let controllers = Controllers::start(&namespace);
    apply(&namespace, "analysis-templates.yaml").await;
    apply(&namespace, "experiment-with-analysis.yaml").await;
    let experiments = namespace.api::<Experiment>();
    let name = "experiment-with-analysis";

    // Both templates run, both analyses pass, and — with neither a duration nor a required
    // analysis — the experiment keeps running.
    let running = wait_for_object(
        &experiments,
        name,
        TIMEOUT * 2,
        |experiment: Option<&Experiment>| {
            experiment
                .and_then(|experiment| experiment.status.as_ref())
                .is_some_and(|status| {
                    status.analysis_runs.len() == 2
                        && status
                            .analysis_runs
                            .iter()
                            .all(|run| run.phase == Some(AnalysisPhase::Successful))
                })
        },
    )
    .await
    .expect("the experiment exists");
    let status = running.status.expect("a status");
    assert_eq!(status.phase, Some(AnalysisPhase::Running), "{status:#?}");
    assert!(status.available_at.is_some());
    for template in ["purple", "orange"] {
        assert_template_runs(&namespace, name, template, &status).await;
    }
    let run = namespace
        .api::<AnalysisRun>()
        .get(&format!("{name}-pass"))
        .await
        .expect("the pass analysis's run");
    assert_eq!(run.owner_references()[0].name, name);

    // What the CLI shows of it.
    let listed = tidegate(&namespace, &["list", "experiments"]);
    assert!(
        listed
            .lines()
            .any(|line| line.contains(name) && line.contains("Running")),
        "{listed}"
    );
    let shown = tidegate(&namespace, &["get", "experiment", name]);
    assert!(shown.contains("Status:     Running"), "{shown}");
    assert!(shown.contains(&format!("{name}-random-fail")), "{shown}");

    // Terminated: Successful at once; the pods stay for the default 30 s scale-down delay.
    let said = tidegate(&namespace, &["terminate", "experiment", name]);
    assert!(said.contains("terminated"), "{said}");
    let terminated = wait_for_object(
        &experiments,
        name,
        TIMEOUT,
        |experiment: Option<&Experiment>| {
            phase(experiment).is_some_and(AnalysisPhase::is_completed)
        },
    )
    .await
    .expect("the experiment exists");
    assert_eq!(
        phase(Some(&terminated)),
        Some(AnalysisPhase::Successful),
        "{:#?}",
        terminated.status
    );
    let purple = format!("{name}-purple");
    let marked = wait_for_object(
        &namespace.api::<ReplicaSet>(),
        &purple,
        TIMEOUT,
        |rs: Option<&ReplicaSet>| {
            rs.is_some_and(|rs| rs.annotations().contains_key(labels::SCALE_DOWN_DEADLINE))
        },
    )
    .await
    .expect("the ReplicaSet");
    assert_eq!(
        marked.spec.replicas,
        Some(1),
        "pods kept until the deadline"
    );
    wait_for_object(
        &namespace.api::<ReplicaSet>(),
        &purple,
        TIMEOUT,
        |rs: Option<&ReplicaSet>| rs.is_some_and(|rs| rs.spec.replicas == Some(0)),
    )
    .await;
    controllers.stop().await;
}

#[tokio::test]
async fn argo_s_experiment_with_service_runs_for_its_duration_behind_its_service() {
    let namespace = TestNamespace::create("experiment-service").await;
    install_crds(&namespace.client()).await;
    let controllers = Controllers::start(&namespace);
    apply(&namespace, "experiment-with-service.yaml").await;
    let experiments = namespace.api::<Experiment>();
    let name = "experiment-with-service";
    let service_name = format!("{name}-test");

    let service = wait_for_object(
        &namespace.api::<Service>(),
        &service_name,
        TIMEOUT,
        |service: Option<&Service>| service.is_some(),
    )
    .await
    .expect("the template's Service");
    let replica_set = namespace
        .api::<ReplicaSet>()
        .get(&format!("{name}-test"))
        .await
        .expect("the template's ReplicaSet");
    let spec = service.spec.expect("a Service spec");
    let selector = spec.selector.expect("a selector");
    assert_eq!(
        selector[labels::POD_TEMPLATE_HASH],
        replica_set.labels()[labels::POD_TEMPLATE_HASH]
    );
    assert_eq!(selector["app"], "experiment-with-service");
    let ports = spec.ports.expect("ports");
    assert_eq!(
        (ports[0].port, ports[0].protocol.as_deref()),
        (8080, Some("TCP"))
    );

    // Running for its 10 s, then Successful; 5 s later the pods go, then the Service.
    let done = wait_for_object(
        &experiments,
        name,
        TIMEOUT,
        |experiment: Option<&Experiment>| {
            phase(experiment).is_some_and(AnalysisPhase::is_completed)
        },
    )
    .await
    .expect("the experiment exists");
    let status = done.status.expect("a status");
    assert_eq!(status.phase, Some(AnalysisPhase::Successful), "{status:#?}");
    let available = status.available_at.expect("availableAt").0;
    let ended = status
        .conditions
        .iter()
        .find(|condition| condition.kind == "Progressing")
        .and_then(|condition| condition.last_transition_time.clone())
        .expect("a Progressing condition")
        .0;
    assert!(
        ended.duration_since(available) >= jiff::SignedDuration::from_secs(10),
        "ran its duration: {available} .. {ended}"
    );
    assert_eq!(status.template_statuses[0].service_name, service_name);
    wait_for_object(
        &namespace.api::<Service>(),
        &service_name,
        TIMEOUT,
        |service: Option<&Service>| service.is_none(),
    )
    .await;
    assert_eq!(replicas(&namespace, &format!("{name}-test")).await, Some(0));
    controllers.stop().await;
}

/// Argo's example Rollout `fixture`, with `change` made to it, applied.
async fn apply_rollout(namespace: &TestNamespace, fixture: &str, change: impl Fn(&mut Value)) {
    let mut documents = argo_documents(fixture);
    for document in &mut documents {
        change(document);
    }
    apply_documents(namespace, fixture, documents).await;
}

fn image(image: &'static str) -> impl Fn(&mut Value) {
    move |rollout: &mut Value| {
        rollout["spec"]["template"]["spec"]["containers"][0]["image"] = image.into();
    }
}

/// Records a person's action on Rollout `name`, as the CLI does.
async fn act(
    namespace: &TestNamespace,
    name: &str,
    action: impl Fn(
        &tidegate::model::RolloutPlan,
        &tidegate::model::RolloutState,
    ) -> tidegate::model::RolloutState,
) {
    k8s::act(
        &namespace.client(),
        namespace.name(),
        name,
        |rollout, state| {
            let plan = rollout.spec.plan().map_err(|errors| errors.to_string())?;
            Ok(action(&plan, state))
        },
    )
    .await
    .expect("record the action");
}

/// Waits until Rollout `name` is Healthy with `image` stable.
async fn healthy(namespace: &TestNamespace, name: &str, image: &'static str) -> Rollout {
    wait_for_object(
        &namespace.api::<Rollout>(),
        name,
        TIMEOUT * 2,
        crate::support::healthy_on(image),
    )
    .await
    .expect("the Rollout")
}

/// The Experiment Rollout `name` records for its current step, once it does.
async fn step_experiment(namespace: &TestNamespace, name: &str) -> String {
    let rollout = wait_for_object(
        &namespace.api::<Rollout>(),
        name,
        TIMEOUT * 2,
        |rollout: Option<&Rollout>| {
            rollout
                .and_then(|rollout| rollout.status.as_ref())
                .and_then(|status| status.canary.as_ref())
                .is_some_and(|canary| !canary.current_experiment.is_empty())
        },
    )
    .await
    .expect("the Rollout");
    rollout
        .status
        .and_then(|status| status.canary)
        .expect("a canary status")
        .current_experiment
}

fn template_image(experiment: &Experiment, template: &str) -> Option<String> {
    experiment
        .spec
        .templates
        .iter()
        .find(|candidate| candidate.name == template)?
        .template
        .spec
        .as_ref()?
        .containers[0]
        .image
        .clone()
}

/// Updates Argo's `rollout-experiment-step.yaml` to a revision that keeps no run history:
/// the finished Experiment `name` of the last one is deleted, and its ReplicaSet goes with it
/// (the Experiment owns it).
async fn next_revision_deletes(namespace: &TestNamespace, name: &str) {
    apply_rollout(namespace, "rollout-experiment-step.yaml", |rollout| {
        image("argoproj/rollouts-demo:green")(rollout);
        rollout["spec"]["analysis"] =
            json!({"successfulRunHistoryLimit": 0, "unsuccessfulRunHistoryLimit": 0});
    })
    .await;
    wait_for_object(
        &namespace.api::<Experiment>(),
        name,
        TIMEOUT,
        |experiment: Option<&Experiment>| experiment.is_none(),
    )
    .await;
    wait_for_object(
        &namespace.api::<ReplicaSet>(),
        &format!("{name}-canary"),
        TIMEOUT,
        |replica_set: Option<&ReplicaSet>| replica_set.is_none(),
    )
    .await;
}

/// Applies Argo's `fixture` (Rollout `name`), waits for its first revision (blue) to be
/// Healthy, updates it to yellow and returns the name of the Experiment its step records.
async fn update_to_the_experiment(namespace: &TestNamespace, fixture: &str, name: &str) -> String {
    apply(namespace, fixture).await;
    healthy(namespace, name, "argoproj/rollouts-demo:blue").await;
    apply_rollout(namespace, fixture, image("argoproj/rollouts-demo:yellow")).await;
    step_experiment(namespace, name).await
}

/// Argo's `rollout-experiment-step.yaml`, unchanged: the step's Experiment runs the canary
/// template with Argo's random-fail analysis (kwok completes its Jobs, so it passes); with
/// neither a duration nor a required analysis it runs on, holding the step. Terminated by a
/// person it ends Successful — which, unlike in Argo, never passes the step: the Rollout
/// pauses until a person promotes it. The next revision, keeping no run history, deletes it.
#[tokio::test]
async fn argo_s_experiment_step_holds_the_canary_until_its_experiment_is_decided_then_trims_it() {
    let namespace = TestNamespace::create("experiment-step").await;
    install_crds(&namespace.client()).await;
    let controllers = Controllers::start(&namespace);
    let name = "rollout-experiment-step";
    apply(&namespace, "analysis-templates.yaml").await;
    let experiment_name =
        update_to_the_experiment(&namespace, "rollout-experiment-step.yaml", name).await;
    let experiments = namespace.api::<Experiment>();
    let experiment = wait_for_object(
        &experiments,
        &experiment_name,
        TIMEOUT * 2,
        |experiment: Option<&Experiment>| {
            experiment
                .and_then(|experiment| experiment.status.as_ref())
                .is_some_and(|status| {
                    status
                        .analysis_runs
                        .iter()
                        .any(|run| run.phase == Some(AnalysisPhase::Successful))
                })
        },
    )
    .await
    .expect("the Experiment");
    assert_eq!(
        template_image(&experiment, "canary").as_deref(),
        Some("argoproj/rollouts-demo:yellow")
    );
    assert_eq!(experiment.owner_references()[0].name, name);
    assert_eq!(
        phase(Some(&experiment)),
        Some(AnalysisPhase::Running),
        "no duration: it runs on"
    );
    let rollout = namespace
        .api::<Rollout>()
        .get(name)
        .await
        .expect("the Rollout");
    let status = rollout.status.expect("a status");
    assert_eq!(
        status.current_step_index,
        Some(1),
        "the step waits for its experiment"
    );

    tidegate(&namespace, &["terminate", "experiment", &experiment_name]);
    wait_for_object(
        &namespace.api::<Rollout>(),
        name,
        TIMEOUT,
        |rollout: Option<&Rollout>| {
            rollout
                .and_then(|rollout| rollout.status.as_ref())
                .is_some_and(|status| {
                    status
                        .pause_conditions
                        .iter()
                        .any(|pause| pause.reason == PauseReason::InconclusiveExperiment)
                })
        },
    )
    .await;
    let rollout = namespace
        .api::<Rollout>()
        .get(name)
        .await
        .expect("the Rollout");
    assert_eq!(
        rollout.status.unwrap().current_step_index,
        Some(1),
        "a terminated experiment passes nothing"
    );

    act(&namespace, name, tidegate::engine::promote).await;
    healthy(&namespace, name, "argoproj/rollouts-demo:yellow").await;

    next_revision_deletes(&namespace, &experiment_name).await;
    controllers.stop().await;
}

/// Argo's `rollout-baseline-vs-canary.yaml`, unchanged: the Experiment runs the stable
/// revision as `baseline` and the new one as `canary`; an abort stops it. Then the same step
/// with an analysis that fails: the Rollout aborts with Argo's message.
#[tokio::test]
async fn argo_s_baseline_vs_canary_runs_both_revisions_and_a_failing_experiment_aborts() {
    let namespace = TestNamespace::create("experiment-baseline").await;
    install_crds(&namespace.client()).await;
    let controllers = Controllers::start(&namespace);
    let name = "rollout-baseline-vs-canary";
    let experiment_name =
        update_to_the_experiment(&namespace, "rollout-baseline-vs-canary.yaml", name).await;
    let experiments = namespace.api::<Experiment>();
    let running = wait_for_object(
        &experiments,
        &experiment_name,
        TIMEOUT * 2,
        |experiment: Option<&Experiment>| phase(experiment) == Some(AnalysisPhase::Running),
    )
    .await
    .expect("the Experiment");
    assert_eq!(
        template_image(&running, "baseline").as_deref(),
        Some("argoproj/rollouts-demo:blue")
    );
    assert_eq!(
        template_image(&running, "canary").as_deref(),
        Some("argoproj/rollouts-demo:yellow")
    );
    for template in ["baseline", "canary"] {
        assert_eq!(
            replicas(&namespace, &format!("{experiment_name}-{template}")).await,
            Some(1)
        );
    }

    act(&namespace, name, |_, state| tidegate::engine::abort(state)).await;
    wait_for_object(
        &experiments,
        &experiment_name,
        TIMEOUT,
        |experiment: Option<&Experiment>| {
            experiment.is_some_and(|experiment| experiment.spec.terminate)
        },
    )
    .await;
    assert_eq!(
        stable_image(&namespace, name).await.as_deref(),
        Some("argoproj/rollouts-demo:blue")
    );
    a_failing_experiment_aborts(&namespace, name).await;
    controllers.stop().await;
}

/// The image of Rollout `name`'s stable ReplicaSet.
async fn stable_image(namespace: &TestNamespace, name: &str) -> Option<String> {
    let rollout = namespace
        .api::<Rollout>()
        .get(name)
        .await
        .expect("the Rollout");
    let stable = rollout.status?.stable_rs;
    let replica_set = namespace
        .api::<k8s::ReplicaSet>()
        .get(&format!("{name}-{stable}"))
        .await
        .expect("the stable ReplicaSet");
    replica_set.spec.template?.spec?.containers[0].image.clone()
}

/// Rollout `name` (Argo's baseline-vs-canary) updated with an experiment analysis that
/// fails: it aborts with Argo's message, and the stable keeps serving.
async fn a_failing_experiment_aborts(namespace: &TestNamespace, name: &str) {
    let verdict = HttpServer::start(|_| Response::ok(r#"{"ok": false}"#)).await;
    let template = json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": "always-fail"},
        "spec": {"metrics": [{"name": "ok", "successCondition": "result == true",
            "provider": {"web": {"url": verdict.url("/"), "jsonPath": "{$.ok}"}}}]}});
    namespace
        .api::<crd::AnalysisTemplate>()
        .create(
            &k8s::PostParams::default(),
            &serde_json::from_value(template).expect("a template"),
        )
        .await
        .expect("create the template");
    apply_rollout(namespace, "rollout-baseline-vs-canary.yaml", |rollout| {
        image("argoproj/rollouts-demo:green")(rollout);
        rollout["spec"]["strategy"]["canary"]["steps"][0]["experiment"]["analyses"] =
            json!([{"name": "verdict", "templateName": "always-fail"}]);
    })
    .await;
    let failed = wait_for_object(
        &namespace.api::<Rollout>(),
        name,
        TIMEOUT * 2,
        |rollout: Option<&Rollout>| {
            rollout
                .and_then(|rollout| rollout.status.as_ref())
                .is_some_and(|status| status.abort && status.message.contains("error/failed"))
        },
    )
    .await
    .expect("the Rollout");
    let message = failed.status.expect("a status").message;
    assert!(
        message.contains("Experiment analysis phase is error/failed"),
        "{message}"
    );
    assert_eq!(
        stable_image(namespace, name).await.as_deref(),
        Some("argoproj/rollouts-demo:blue"),
        "the stable keeps serving"
    );
}

/// A `terminate` that lands while the controller holds a pass about to start the analyses
/// (made on the view before it) wins: the pass's status write fails on the resourceVersion,
/// nothing it decided is done, and no AnalysisRun is ever created.
#[tokio::test]
async fn a_terminate_racing_a_pass_that_starts_the_analyses_wins() {
    let namespace = TestNamespace::create("experiment-race").await;
    install_crds(&namespace.client()).await;
    let name = "experiment-with-analysis";
    let controller = ControllerProcess::start(&namespace, Some("experiment-slow-run=return(4000)"));
    apply(&namespace, "analysis-templates.yaml").await;
    apply(&namespace, "experiment-with-analysis.yaml").await;
    wait_for("the pass that starts the runs", TIMEOUT * 2, || async {
        controller
            .log()
            .contains(&format!("{name} decided to start a run"))
            .then_some(())
    })
    .await;
    tidegate(&namespace, &["terminate", "experiment", name]);
    wait_for("the held pass to go on", TIMEOUT, || async {
        controller
            .log()
            .contains(&format!("{name} goes on"))
            .then_some(())
    })
    .await;
    // The pass after it saw the terminate: the experiment is over.
    let done = wait_for_object(
        &namespace.api::<Experiment>(),
        name,
        TIMEOUT,
        |experiment: Option<&Experiment>| {
            phase(experiment).is_some_and(AnalysisPhase::is_completed)
        },
    )
    .await
    .expect("the experiment exists");
    assert_eq!(phase(Some(&done)), Some(AnalysisPhase::Successful));
    let runs = namespace
        .api::<AnalysisRun>()
        .list(&kube::api::ListParams::default())
        .await
        .expect("list AnalysisRuns");
    let names: Vec<String> = runs.items.iter().map(ResourceExt::name_any).collect();
    assert!(names.is_empty(), "runs were started: {names:?}");
    controller.kill();
}
