//! Analysis against real components: Debian's Prometheus scraping an endpoint the test
//! controls, a local web server, Jobs on the testenv (kwok completes their pods), and a
//! canary Rollout gated by Prometheus that promotes on a good error rate and aborts on a bad
//! one; Debian's carbon-cache + graphite-web and InfluxDB 1.8.10 (Flux, v2 query API)
//! holding points the test writes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tidegate::k8s::crd::{AnalysisRun, AnalysisRunStatus, AnalysisTemplate, Rollout};
use tidegate::k8s::{self, labels};
use tidegate::model::AnalysisPhase;

use crate::support::http::{HttpServer, Response};
use crate::support::prometheus::ErrorRate;
use crate::support::rollout::{ControllerProcess, Controllers};
use crate::support::{TIMEOUT, TestNamespace, healthy_on, install_crds, wait_for, wait_for_object};

async fn setup(prefix: &str) -> (TestNamespace, Controllers) {
    let namespace = TestNamespace::create(prefix).await;
    install_crds(&namespace.client()).await;
    let controllers = Controllers::start(&namespace);
    (namespace, controllers)
}

/// Creates AnalysisRun `name` with `metrics` (and `extra` spec fields) and waits for it to end.
async fn run_to_completion(
    namespace: &TestNamespace,
    name: &str,
    metrics: serde_json::Value,
    extra: serde_json::Value,
) -> AnalysisRunStatus {
    create_run(namespace, name, metrics, extra).await;
    completed(namespace, name).await
}

/// Creates AnalysisRun `name` with `metrics` (and `extra` spec fields).
async fn create_run(
    namespace: &TestNamespace,
    name: &str,
    metrics: serde_json::Value,
    extra: serde_json::Value,
) -> AnalysisRun {
    let spec = merged(json!({"metrics": metrics}), extra);
    let run: AnalysisRun = serde_json::from_value(json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": name}, "spec": spec}))
        .expect("a valid AnalysisRun");
    namespace
        .api::<AnalysisRun>()
        .create(&k8s::PostParams::default(), &run)
        .await
        .expect("create AnalysisRun")
}

/// The status of AnalysisRun `name` once it has ended.
async fn completed(namespace: &TestNamespace, name: &str) -> AnalysisRunStatus {
    let runs = namespace.api::<AnalysisRun>();
    let done = wait_for_object(&runs, name, TIMEOUT, |run: Option<&AnalysisRun>| {
        run.and_then(|run| run.status.as_ref())
            .is_some_and(|status| status.phase.is_completed())
    })
    .await;
    done.and_then(|run| run.status)
        .expect("a completed run has a status")
}

/// Creates Secret `name` with `data` (its `stringData`).
async fn create_secret(namespace: &TestNamespace, name: &str, data: serde_json::Value) {
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data});
    namespace
        .api::<k8s_openapi::api::core::v1::Secret>()
        .create(
            &k8s::PostParams::default(),
            &serde_json::from_value(secret).expect("a valid Secret"),
        )
        .await
        .expect("create the Secret");
}

/// `base` with the fields of `extra` (an object) added or replaced.
fn merged(mut base: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    if let (Some(fields), serde_json::Value::Object(more)) = (base.as_object_mut(), extra) {
        fields.extend(more);
    }
    base
}

fn prometheus_metric(address: &str, extra: serde_json::Value) -> serde_json::Value {
    merged(
        json!({
            "name": "error-rate",
            "successCondition": "len(result) > 0 && result[0] < 0.05",
            "failureCondition": "len(result) > 0 && result[0] >= 0.05",
            "provider": {"prometheus": {"address": address, "query": "demo_error_rate{job=\"demo\"}"}}
        }),
        extra,
    )
}

#[tokio::test]
async fn prometheus_results_decide_runs() {
    let (namespace, controllers) = setup("analysis-prometheus").await;
    let demo = ErrorRate::start().await;
    let address = demo.prometheus.url("");

    let good = run_to_completion(
        &namespace,
        "good",
        json!([prometheus_metric(
            &address,
            json!({"interval": "1s", "count": 2})
        )]),
        json!({}),
    )
    .await;
    assert_eq!(good.phase, AnalysisPhase::Successful, "{good:#?}");
    assert_eq!(good.metric_results[0].measurements[0].value, "[0.01]");
    assert_eq!(good.metric_results[0].successful, 2);

    demo.prometheus
        .wait_for_at_least("count_over_time(demo_error_rate{job=\"demo\"}[1m])", 3.0)
        .await;
    let range = json!({"successCondition": "len(result) >= 2 && all(result, {# < 0.05})", "failureCondition": "",
        "provider": {"prometheus": {"address": address, "query": "demo_error_rate{job=\"demo\"}",
                                    "rangeQuery": {"start": "now() - duration('1m')", "end": "now()", "step": "1s"}}}});
    let ranged = run_to_completion(
        &namespace,
        "range",
        json!([prometheus_metric(&address, range)]),
        json!({}),
    )
    .await;
    assert_eq!(ranged.phase, AnalysisPhase::Successful, "{ranged:#?}");
    assert!(
        ranged.metric_results[0].measurements[0]
            .value
            .matches(',')
            .count()
            >= 1,
        "{ranged:#?}"
    );

    demo.set(0.5).await;
    let bad = run_to_completion(
        &namespace,
        "bad",
        json!([prometheus_metric(&address, json!({}))]),
        json!({}),
    )
    .await;
    assert_eq!(bad.phase, AnalysisPhase::Failed, "{bad:#?}");
    assert_eq!(
        bad.message,
        "Metric \"error-rate\" assessed Failed due to failed (1) > failureLimit (0)"
    );

    let empty = run_to_completion(
        &namespace,
        "empty",
        json!([prometheus_metric(&address, json!({"successCondition": "result[0] < 0.05", "failureCondition": "", "provider": {"prometheus": {"address": address, "query": "no_such_metric"}}, "consecutiveErrorLimit": 0}))]),
        json!({}),
    )
    .await;
    // Argo calls this an Error (`result[0]` of nothing); tidegate: no data says nothing.
    assert_eq!(empty.phase, AnalysisPhase::Inconclusive, "{empty:#?}");
    assert!(
        empty.metric_results[0].measurements[0]
            .message
            .contains("the result is empty (no data) and no condition handles it"),
        "{empty:#?}"
    );

    controllers.stop().await;
}

#[tokio::test]
async fn a_prometheus_outage_mid_run_is_counted_as_errors_never_success() {
    let (namespace, controllers) = setup("analysis-outage").await;
    let mut demo = ErrorRate::start().await;
    let address = demo.prometheus.url("");
    let runs = namespace.api::<AnalysisRun>();
    let outage = json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": "outage"},
        "spec": {"metrics": [prometheus_metric(&address, json!({"interval": "1s", "count": 30, "consecutiveErrorLimit": 1}))]}});
    runs.create(
        &k8s::PostParams::default(),
        &serde_json::from_value(outage).unwrap(),
    )
    .await
    .unwrap();
    wait_for_object(&runs, "outage", TIMEOUT, |run: Option<&AnalysisRun>| {
        run.and_then(|run| run.status.as_ref())
            .is_some_and(|status| {
                status
                    .metric_results
                    .first()
                    .is_some_and(|result| result.successful >= 1)
            })
    })
    .await;
    demo.prometheus.stop();
    let stopped = wait_for_object(&runs, "outage", TIMEOUT, |run: Option<&AnalysisRun>| {
        run.and_then(|run| run.status.as_ref())
            .is_some_and(|status| status.phase.is_completed())
    })
    .await
    .and_then(|run| run.status)
    .unwrap();
    assert_eq!(stopped.phase, AnalysisPhase::Error, "{stopped:#?}");
    assert_eq!(stopped.metric_results[0].consecutive_error, 2);
    assert!(
        stopped
            .message
            .contains("consecutiveErrors (2) > consecutiveErrorLimit (1)"),
        "{}",
        stopped.message
    );
    wait_for("the Error run counted", TIMEOUT, || async {
        controllers
            .metrics
            .encode()
            .contains("tidegate_analysis_runs_total{phase=\"Error\"} 1")
            .then_some(())
    })
    .await;
    controllers.stop().await;
}

#[tokio::test]
async fn web_metrics_read_json_paths_and_treat_failures_as_errors() {
    let (namespace, controllers) = setup("analysis-web").await;
    let seen_token = Arc::new(Mutex::new(None::<String>));
    let seen = seen_token.clone();
    let server = HttpServer::start(move |request| {
        *seen.lock().unwrap() = request.header("authorization").map(ToOwned::to_owned);
        match request.path.as_str() {
            "/health" => Response::ok(r#"{"data": {"ok": true, "latency": 0.12}}"#),
            "/broken" => Response::status(500, "boom"),
            "/slow" => Response {
                delay: Duration::from_secs(5),
                ..Response::ok("{}")
            },
            _ => Response::status(404, "no"),
        }
    })
    .await;
    create_secret(&namespace, "health-token", json!({"token": "s3cr3t-t0ken"})).await;

    let web = |name: &str, path: &str, extra: serde_json::Value| {
        let mut metric = json!({"name": name, "consecutiveErrorLimit": 0, "provider": {"web": {"url": server.url(path)}}});
        metric["provider"]["web"] = merged(metric["provider"]["web"].take(), extra);
        metric
    };
    let mut healthy = web(
        "healthy",
        "/health",
        json!({"jsonPath": "{$.data.ok}", "headers": [{"key": "Authorization", "value": "Bearer {{args.token}}"}]}),
    );
    healthy["successCondition"] = json!("result == true");
    let status = run_to_completion(
        &namespace,
        "healthy",
        json!([healthy]),
        json!({"args": [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "health-token", "key": "token"}}}]}),
    )
    .await;
    assert_eq!(status.phase, AnalysisPhase::Successful, "{status:#?}");
    assert_eq!(status.metric_results[0].measurements[0].value, "true");
    assert_eq!(
        seen_token.lock().unwrap().as_deref(),
        Some("Bearer s3cr3t-t0ken")
    );
    let stored =
        serde_json::to_string(&namespace.api::<AnalysisRun>().get("healthy").await.unwrap())
            .unwrap();
    assert!(
        !stored.contains("s3cr3t-t0ken"),
        "the secret reached the run: {stored}"
    );

    let broken = run_to_completion(
        &namespace,
        "broken",
        json!([web("broken", "/broken", json!({}))]),
        json!({}),
    )
    .await;
    assert_eq!(broken.phase, AnalysisPhase::Error);
    assert!(
        broken.metric_results[0].measurements[0]
            .message
            .contains("500"),
        "{broken:#?}"
    );

    let slow = run_to_completion(
        &namespace,
        "slow",
        json!([web("slow", "/slow", json!({"timeoutSeconds": 1}))]),
        json!({}),
    )
    .await;
    assert_eq!(slow.phase, AnalysisPhase::Error);
    assert_eq!(
        slow.metric_results[0].measurements[0].message,
        "web request timed out after 1s"
    );
    controllers.stop().await;
}

#[tokio::test]
async fn invalid_runs_say_why_and_measure_nothing() {
    let (namespace, controllers) = setup("analysis-invalid").await;
    let ssrf = run_to_completion(&namespace, "ssrf", json!([{"name": "metadata", "provider": {"web": {"url": "http://169.254.169.254/latest/meta-data"}}}]), json!({})).await;
    assert_eq!(ssrf.phase, AnalysisPhase::Error);
    assert!(ssrf.message.starts_with("Analysis spec invalid: metric \"metadata\": host \"169.254.169.254\" is not in the analysis allow-list"), "{}", ssrf.message);
    assert!(ssrf.metric_results.is_empty());
    let unknown = run_to_completion(
        &namespace,
        "unknown",
        json!([{"name": "plugin", "provider": {"plugin": {"argoproj-labs/metric-plugin": {}}}}]),
        json!({}),
    )
    .await;
    assert!(
        unknown
            .message
            .contains("provider \"plugin\" is not supported by tidegate"),
        "{}",
        unknown.message
    );
    let expression = run_to_completion(&namespace, "expression", json!([{"name": "x", "successCondition": "result >=", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}]), json!({})).await;
    assert!(
        expression.message.contains("successCondition"),
        "{}",
        expression.message
    );
    assert!(
        expression.completed_at.is_some(),
        "a finished run says when"
    );
    // A dryRun rule that matches no metric is Argo's spec error too.
    let unmatched = run_to_completion(
        &namespace,
        "unmatched",
        json!([{"name": "x", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}]),
        json!({"dryRun": [{"metricName": "x"}, {"metricName": "latency"}]}),
    )
    .await;
    assert_eq!(unmatched.phase, AnalysisPhase::Error);
    assert_eq!(
        unmatched.message,
        "Analysis spec invalid: dryRun[1]: Rule didn't match any metric name(s)"
    );
    assert!(unmatched.metric_results.is_empty());

    // ttlStrategy: a finished run goes once its time is up; one without a rule stays.
    let ttl = run_to_completion(
        &namespace,
        "short-lived",
        json!([{"name": "plugin", "provider": {"plugin": {"argoproj-labs/metric-plugin": {}}}}]),
        json!({"ttlStrategy": {"secondsAfterCompletion": 1, "secondsAfterSuccess": 3600}}),
    )
    .await;
    assert_eq!(ttl.phase, AnalysisPhase::Error);
    let runs = namespace.api::<AnalysisRun>();
    crate::support::wait_for("the expired run to be deleted", TIMEOUT, || async {
        runs.get_opt("short-lived")
            .await
            .expect("read the run")
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        runs.get_opt("expression")
            .await
            .expect("read the run")
            .is_some(),
        "a run without ttlStrategy stays"
    );
    controllers.stop().await;
}

#[tokio::test]
async fn job_metrics_succeed_and_fail_with_their_jobs() {
    let (namespace, controllers) = setup("analysis-job").await;
    let job =
        |spec: serde_json::Value| json!({"name": "smoke", "provider": {"job": {"spec": spec}}});
    let completes = job(
        json!({"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "smoke", "image": "smoke:1"}]}}}),
    );
    let passed = run_to_completion(&namespace, "passes", json!([completes]), json!({})).await;
    assert_eq!(passed.phase, AnalysisPhase::Successful, "{passed:#?}");
    let jobs = namespace.api::<k8s_openapi::api::batch::v1::Job>();
    let job_name = passed.metric_results[0].measurements[0].metadata["job-name"].clone();
    let created = jobs
        .get(&job_name)
        .await
        .expect("the Job is kept until the run goes");
    assert_eq!(created.metadata.owner_references.unwrap()[0].name, "passes");

    // Its pod can never be scheduled; the deadline fails the Job.
    let stuck = job(
        json!({"backoffLimit": 0, "activeDeadlineSeconds": 2, "template": {"spec": {"restartPolicy": "Never", "nodeSelector": {"no-such": "node"}, "containers": [{"name": "smoke", "image": "smoke:1"}]}}}),
    );
    let failed = run_to_completion(&namespace, "fails", json!([stuck]), json!({})).await;
    assert_eq!(failed.phase, AnalysisPhase::Failed, "{failed:#?}");
    assert!(
        failed.metric_results[0].measurements[0]
            .message
            .contains("failed"),
        "{failed:#?}"
    );

    namespace
        .api::<AnalysisRun>()
        .delete("passes", &k8s::DeleteParams::background())
        .await
        .unwrap();
    wait_for("the Job to go with its run", TIMEOUT, || async {
        jobs.get_opt(&job_name).await.ok()?.is_none().then_some(())
    })
    .await;
    controllers.stop().await;
}

/// A Job metric named `smoke` whose pod no node can take: it stays Pending, and kwok leaves
/// its status alone.
fn unschedulable_job() -> serde_json::Value {
    json!({"name": "smoke", "consecutiveErrorLimit": 0, "provider": {"job": {"spec":
        {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
            "nodeSelector": {"no-such": "node"},
            "containers": [{"name": "smoke", "image": "registry.invalid/smoke:1"}]}}}}}})
}

#[tokio::test]
async fn a_job_whose_image_cannot_be_pulled_is_inconclusive() {
    let (namespace, controllers) = setup("analysis-job-pull").await;
    create_run(&namespace, "pull", json!([unschedulable_job()]), json!({})).await;
    let pods = namespace.api::<k8s_openapi::api::core::v1::Pod>();
    let pod = wait_for("the Job's pod", TIMEOUT, || async {
        let listed = pods
            .list(&k8s::ListParams::default().labels("job-name=pull-smoke-0"))
            .await
            .ok()?;
        listed.items.into_iter().next()
    })
    .await;
    // What a kubelet reports when the registry refuses the image.
    let waiting = json!({"status": {"containerStatuses": [{"name": "smoke",
        "image": "registry.invalid/smoke:1", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ErrImagePull", "message": "no such host"}}}]}});
    pods.patch_status(
        &pod.metadata.name.expect("a named pod"),
        &k8s::PatchParams::default(),
        &k8s::Patch::Merge(&waiting),
    )
    .await
    .expect("report the pull failure");
    let status = completed(&namespace, "pull").await;
    assert_eq!(status.phase, AnalysisPhase::Inconclusive, "{status:#?}");
    assert_eq!(
        status.metric_results[0].measurements[0].message,
        "Job pull-smoke-0: container smoke is waiting: ErrImagePull"
    );
    controllers.stop().await;
}

#[tokio::test]
async fn a_terminated_job_measurement_deletes_its_job() {
    let (namespace, controllers) = setup("analysis-job-stop").await;
    create_run(
        &namespace,
        "stopped",
        json!([unschedulable_job()]),
        json!({}),
    )
    .await;
    let runs = namespace.api::<AnalysisRun>();
    wait_for_object(&runs, "stopped", TIMEOUT, |run: Option<&AnalysisRun>| {
        run.and_then(|run| run.status.as_ref())
            .and_then(|status| status.metric_results.first())
            .and_then(|result| result.measurements.first())
            .is_some_and(|measurement| measurement.phase == AnalysisPhase::Running)
    })
    .await;
    let jobs = namespace.api::<k8s_openapi::api::batch::v1::Job>();
    assert!(jobs.get_opt("stopped-smoke-0").await.unwrap().is_some());
    runs.patch(
        "stopped",
        &k8s::PatchParams::default(),
        &k8s::Patch::Merge(json!({"spec": {"terminate": true}})),
    )
    .await
    .expect("terminate the run");
    let status = completed(&namespace, "stopped").await;
    let measurement = &status.metric_results[0].measurements[0];
    assert_eq!(
        (measurement.phase, measurement.message.as_str()),
        (AnalysisPhase::Inconclusive, "Metric Terminated"),
        "{status:#?}"
    );
    wait_for(
        "the terminated measurement's Job to go",
        TIMEOUT,
        || async {
            jobs.get_opt("stopped-smoke-0")
                .await
                .ok()?
                .is_none()
                .then_some(())
        },
    )
    .await;
    assert!(
        runs.get_opt("stopped").await.unwrap().is_some(),
        "the run stays"
    );
    controllers.stop().await;
}

#[tokio::test]
async fn a_job_that_exists_is_measured_only_if_its_run_owns_it() {
    let namespace = TestNamespace::create("analysis-job-owner").await;
    install_crds(&namespace.client()).await;
    let completes = json!({"name": "smoke", "consecutiveErrorLimit": 0, "provider": {"job":
        {"spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "smoke", "image": "smoke:1"}]}}}}}});
    let jobs = namespace.api::<k8s_openapi::api::batch::v1::Job>();
    let job = |name: &str, owner: Option<&AnalysisRun>| {
        let owners: Vec<_> = owner
            .map(|run| {
                json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisRun",
                    "name": run.metadata.name, "uid": run.metadata.uid, "controller": true})
            })
            .into_iter()
            .collect();
        serde_json::from_value::<k8s_openapi::api::batch::v1::Job>(json!({
            "metadata": {"name": name, "ownerReferences": owners},
            "spec": completes["provider"]["job"]["spec"]}))
        .expect("a valid Job")
    };
    // As a controller that stopped between creating the Job and recording it leaves them.
    let mine = create_run(&namespace, "mine", json!([completes.clone()]), json!({})).await;
    let made = job("mine-smoke-0", Some(&mine));
    jobs.create(&k8s::PostParams::default(), &made)
        .await
        .expect("create the run's Job");
    create_run(&namespace, "theirs", json!([completes.clone()]), json!({})).await;
    jobs.create(&k8s::PostParams::default(), &job("theirs-smoke-0", None))
        .await
        .expect("create a foreign Job");
    let controllers = Controllers::start(&namespace);

    let mine = completed(&namespace, "mine").await;
    assert_eq!(mine.phase, AnalysisPhase::Successful, "{mine:#?}");
    assert_eq!(
        mine.metric_results[0].measurements[0].metadata["job-name"],
        "mine-smoke-0"
    );
    let theirs = completed(&namespace, "theirs").await;
    assert_eq!(theirs.phase, AnalysisPhase::Error, "{theirs:#?}");
    let message = &theirs.metric_results[0].measurements[0].message;
    assert!(
        message.contains("Job theirs-smoke-0 already exists and does not belong to this run"),
        "{message}"
    );
    let names: Vec<String> = jobs
        .list(&k8s::ListParams::default())
        .await
        .expect("list Jobs")
        .items
        .into_iter()
        .filter_map(|job| job.metadata.name)
        .collect();
    assert_eq!(
        names,
        ["mine-smoke-0", "theirs-smoke-0"],
        "no other Job was made"
    );
    controllers.stop().await;
}

#[tokio::test]
async fn a_job_the_api_refuses_is_an_error_that_says_so() {
    let (namespace, controllers) = setup("analysis-job-refused").await;
    // A container without an image: the apiserver refuses the Job.
    let refused = json!({"name": "smoke", "consecutiveErrorLimit": 0, "provider": {"job":
        {"spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "smoke"}]}}}}}});
    let status = run_to_completion(&namespace, "refused", json!([refused]), json!({})).await;
    assert_eq!(status.phase, AnalysisPhase::Error, "{status:#?}");
    let message = &status.metric_results[0].measurements[0].message;
    assert!(
        message.contains("create Job refused-smoke-0") && message.contains("image"),
        "{message}"
    );
    controllers.stop().await;
}

/// The canary's Services and its error-rate AnalysisTemplate (Prometheus address as argument).
async fn gate(namespace: &TestNamespace) {
    for name in ["web-canary", "web-stable"] {
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
        let params = k8s::PatchParams::apply(k8s::SYNC_FIELD_MANAGER);
        namespace
            .api::<k8s::Service>()
            .patch(name, &params, &k8s::Patch::Apply(&service))
            .await
            .expect("apply a Service");
    }
    // Template composition, as Argo's: the template the Rollout names only includes the one
    // with the metric, which includes it back (a cycle counts each template once).
    let composed = json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "error-rate"},
        "spec": {"args": [{"name": "address"}], "templates": [{"templateName": "error-rate-query"}]}});
    let query = json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "error-rate-query"},
        "spec": {"args": [{"name": "address"}], "templates": [{"templateName": "error-rate"}],
                 "metrics": [prometheus_metric("{{args.address}}", json!({"interval": "1s", "count": 2}))]}});
    for template in [composed, query] {
        let template = serde_json::from_value(template).expect("a valid AnalysisTemplate");
        namespace
            .api::<AnalysisTemplate>()
            .create(&k8s::PostParams::default(), &template)
            .await
            .expect("create the AnalysisTemplate");
    }
}

/// A canary: 50%, then the error-rate analysis against `prometheus`, then 100%.
fn gated_canary(image: &str, prometheus: &str) -> serde_json::Value {
    json!({
        "apiVersion": "tidegate.dev/v1alpha1", "kind": "Rollout", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}},
                 "strategy": {"canary": {"canaryService": "web-canary", "stableService": "web-stable", "steps": [
                     {"setWeight": 50},
                     {"analysis": {"templates": [{"templateName": "error-rate"}], "args": [
                         {"name": "address", "value": prometheus},
                         // Any path into the Rollout, and no value at all, as Argo allows.
                         {"name": "image", "valueFrom": {"fieldRef": {"fieldPath": "spec.template.spec.containers[0].image"}}},
                         {"name": "note"},
                     ]}},
                 ]}}}
    })
}

#[tokio::test]
async fn a_canary_is_promoted_on_a_good_error_rate_and_aborted_on_a_bad_one() {
    let (namespace, controllers) = setup("analysis-canary").await;
    let demo = ErrorRate::start().await;
    gate(&namespace).await;
    let rollouts = namespace.api::<Rollout>();
    let apply = |image: &str| {
        let (rollouts, manifest) = (
            rollouts.clone(),
            gated_canary(image, &demo.prometheus.url("")),
        );
        async move {
            let params = k8s::PatchParams::apply(k8s::SYNC_FIELD_MANAGER);
            rollouts
                .patch("web", &params, &k8s::Patch::Apply(&manifest))
                .await
                .expect("apply Rollout")
        }
    };
    apply("web:1").await;
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:1")).await;

    apply("web:2").await;
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:2")).await;
    let runs = namespace
        .api::<AnalysisRun>()
        .list(&k8s::ListParams::default().labels(labels::ROLLOUT))
        .await
        .expect("list AnalysisRuns");
    assert!(
        runs.items.iter().any(|run| run
            .status
            .as_ref()
            .is_some_and(|status| status.phase == AnalysisPhase::Successful)),
        "a successful analysis promoted web:2"
    );
    for run in &runs.items {
        let metrics: Vec<&str> = run
            .spec
            .metrics
            .iter()
            .map(|metric| metric.name.as_str())
            .collect();
        assert_eq!(
            metrics,
            ["error-rate"],
            "the included template's metric, once"
        );
    }
    let arg_of = |run: &AnalysisRun, name: &str| {
        run.spec
            .args
            .iter()
            .find(|arg| arg.name == name)
            .and_then(|arg| arg.value.clone())
    };
    assert!(
        runs.items
            .iter()
            .any(|run| arg_of(run, "image").as_deref() == Some("web:2")
                && arg_of(run, "note").as_deref() == Some("")),
        "the run's arguments: {:?}",
        runs.items
            .iter()
            .map(|run| &run.spec.args)
            .collect::<Vec<_>>()
    );

    demo.set(0.5).await;
    apply("web:3").await;
    let aborted = wait_for_object(&rollouts, "web", TIMEOUT, |rollout: Option<&Rollout>| {
        rollout
            .and_then(|rollout| rollout.status.as_ref())
            .is_some_and(|status| status.abort)
    })
    .await
    .expect("the Rollout exists");
    let status = aborted.status.expect("an aborted Rollout has a status");
    assert_ne!(
        status.stable_rs, status.current_pod_hash,
        "the bad revision never became stable"
    );
    assert!(status.message.contains("error-rate"), "{}", status.message);
    controllers.stop().await;
}

/// A token endpoint (RFC 6749 client credentials) for client `tidegate` with secret
/// `s3cret`: `/token` takes the client by HTTP Basic, `/token-form` only in the form. Both
/// want the scope `metrics:read`.
fn token_endpoint(request: &crate::support::http::Request) -> Response {
    // `tidegate:s3cret`, base64-encoded.
    let basic = "Basic dGlkZWdhdGU6czNjcmV0";
    let form = &request.body;
    let scoped =
        form.contains("grant_type=client_credentials") && form.contains("scope=metrics%3Aread");
    let by_basic = request.header("authorization") == Some(basic);
    let by_form = form.contains("client_id=tidegate") && form.contains("client_secret=s3cret");
    let accepted = match request.path.as_str() {
        "/token" => by_basic,
        "/token-form" => by_form && request.header("authorization").is_none(),
        _ => false,
    };
    if scoped && accepted {
        Response::ok(r#"{"access_token":"t0k3n","token_type":"Bearer","expires_in":300}"#)
    } else {
        Response::status(401, r#"{"error":"invalid_client"}"#)
    }
}

#[tokio::test]
async fn oauth2_client_credentials_authenticate_web_and_prometheus_metrics() {
    let namespace = TestNamespace::create("analysis-oauth2").await;
    install_crds(&namespace.client()).await;
    // The real controller process, logging everything at trace level.
    let controller = ControllerProcess::start_logging(&namespace, None, "trace");
    let tokens = HttpServer::start(token_endpoint).await;
    // The metric servers answer only a request with the token: the web endpoint, and a
    // request recorder standing in for a Prometheus behind an OAuth2 proxy.
    let metrics = HttpServer::start(|request| {
        if request.header("authorization") != Some("Bearer t0k3n") {
            return Response::status(401, "who are you");
        }
        if request.path.starts_with("/api/v1/query") {
            Response::ok(r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.01"]}]}}"#)
        } else {
            Response::ok(r#"{"ok": true}"#)
        }
    })
    .await;
    create_secret(
        &namespace,
        "oauth",
        json!({"client-secret": "s3cret", "wrong": "guess"}),
    )
    .await;
    let oauth2 = |token_path: &str| {
        json!({"oauth2": {
            "tokenUrl": tokens.url(token_path),
            "clientId": "tidegate",
            "clientSecret": "{{args.client-secret}}",
            "scopes": ["metrics:read"],
        }})
    };
    let metrics_of = |token_path: &str| {
        json!([
            {"name": "web", "successCondition": "result == true", "provider": {"web": {
                "url": metrics.url("/health"), "jsonPath": "{$.ok}",
                "authentication": oauth2(token_path),
            }}},
            {"name": "prometheus", "successCondition": "result[0] < 0.05", "provider": {"prometheus": {
                "address": metrics.url(""), "query": "error_rate",
                "authentication": oauth2(token_path),
            }}},
        ])
    };
    let secret_arg = |key: &str| json!({"args": [{"name": "client-secret", "valueFrom": {"secretKeyRef": {"name": "oauth", "key": key}}}]});
    for (run, token_path) in [("basic", "/token"), ("form", "/token-form")] {
        let status = run_to_completion(
            &namespace,
            run,
            metrics_of(token_path),
            secret_arg("client-secret"),
        )
        .await;
        assert_eq!(
            status.phase,
            AnalysisPhase::Successful,
            "{run}: {status:#?}"
        );
        let stored =
            serde_json::to_string(&namespace.api::<AnalysisRun>().get(run).await.unwrap()).unwrap();
        assert!(
            !stored.contains("s3cret") && !stored.contains("t0k3n"),
            "{run}: {stored}"
        );
    }

    let refused = run_to_completion(
        &namespace,
        "refused",
        metrics_of("/token"),
        merged(secret_arg("wrong"), json!({})),
    )
    .await;
    assert_eq!(refused.phase, AnalysisPhase::Error, "{refused:#?}");
    let message = &refused.metric_results[0].measurements[0].message;
    assert!(
        message.contains("401 Unauthorized (invalid_client)") && !message.contains("guess"),
        "{message}"
    );
    // Neither the secrets nor the token reach a log, even at trace level.
    let logged = wait_for("the three runs' ends logged", TIMEOUT, || {
        let logged = controller.log();
        async move { (logged.matches("analysis run completed").count() == 3).then_some(logged) }
    })
    .await;
    for secret in ["s3cret", "t0k3n", "guess"] {
        assert!(!logged.contains(secret), "{secret:?} was logged");
    }
}

/// Runs `tidegate analysis test` with `args` against the test cluster, off the runtime.
async fn analysis_test(namespace: &TestNamespace, args: Vec<String>) -> std::process::Output {
    let namespace = namespace.name().to_owned();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tidegate"))
            .args(["analysis", "test"])
            .args(&args)
            .args(["--namespace", &namespace, "--kubeconfig"])
            .arg(crate::support::kubeconfig())
            .output()
            .expect("run tidegate analysis test")
    })
    .await
    .expect("the command ran")
}

#[tokio::test]
async fn analysis_test_measures_a_template_once_without_a_rollout() {
    let namespace = TestNamespace::create("analysis-cli").await;
    install_crds(&namespace.client()).await;
    let demo = ErrorRate::start().await;
    let dir = crate::support::git::TempDir::new("analysis-cli");
    let file = dir.path().join("template.yaml");
    let template = format!(
        "apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {{name: error-rate}}
spec:
  args: [{{name: job}}, {{name: limit, value: '0.05'}}]
  metrics:
  - name: error-rate
    successCondition: result[0] < {{{{args.limit}}}}
    provider:
      prometheus: {{address: '{}', query: 'demo_error_rate{{job=\"{{{{args.job}}}}\"}}'}}
  - name: smoke
    provider:
      job:
        spec:
          backoffLimit: 0
          template: {{spec: {{restartPolicy: Never, containers: [{{name: smoke, image: 'smoke:1'}}]}}}}
",
        demo.prometheus.url("")
    );
    std::fs::write(&file, template).expect("write the template");
    let file = file.display().to_string();
    let allowed = ["--allowed-host".to_owned(), "127.0.0.1/32".to_owned()];

    let args = |extra: &[&str]| {
        let mut args = vec![file.clone(), "--arg".to_owned(), "job=demo".to_owned()];
        args.extend(allowed.iter().cloned());
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args
    };
    let passing = analysis_test(&namespace, args(&["-o", "json"])).await;
    let said = String::from_utf8_lossy(&passing.stdout).into_owned()
        + &String::from_utf8_lossy(&passing.stderr);
    assert_eq!(passing.status.code(), Some(0), "{said}");
    let verdicts: serde_json::Value = serde_json::from_slice(&passing.stdout).expect("JSON");
    assert_eq!(verdicts[0]["metric"], "error-rate", "{said}");
    assert_eq!(verdicts[0]["provider"], "prometheus");
    assert_eq!(verdicts[0]["measurement"]["phase"], "Successful", "{said}");
    assert_eq!(verdicts[0]["measurement"]["value"], "[0.01]");
    assert_eq!(verdicts[1]["metric"], "smoke");
    assert_eq!(verdicts[1]["measurement"]["phase"], "Successful", "{said}");
    // The Job metric ran as a Job of the trial's run, deleted once measured.
    let job = verdicts[1]["measurement"]["metadata"]["job-name"]
        .as_str()
        .expect("the Job's name");
    assert!(job.starts_with("tidegate-test-"), "{said}");
    let jobs = namespace.api::<k8s_openapi::api::batch::v1::Job>();
    wait_for("the trial's Job to go", TIMEOUT, || async {
        jobs.get_opt(job).await.ok()?.is_none().then_some(())
    })
    .await;

    // A bad error rate fails the metric and the command; the table names the verdict.
    demo.set(0.5).await;
    let failing = analysis_test(&namespace, args(&[])).await;
    let table = String::from_utf8_lossy(&failing.stdout).into_owned();
    assert_eq!(failing.status.code(), Some(1), "{table}");
    assert!(
        table.starts_with("METRIC      PROVIDER    PHASE"),
        "{table}"
    );
    assert!(
        table.contains("error-rate  prometheus  Failed      [0.5]"),
        "{table}"
    );

    // The daemon's default allow-list refuses the loopback Prometheus: nothing is measured.
    let refused = analysis_test(
        &namespace,
        vec![file.clone(), "--arg".to_owned(), "job=demo".to_owned()],
    )
    .await;
    let error = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert_eq!(refused.status.code(), Some(2), "{error}");
    assert!(
        error.contains("is not in the analysis allow-list"),
        "{error}"
    );
    // An argument the template lacks, or none for one it needs, is refused by name.
    let unknown = analysis_test(&namespace, args(&["--arg", "nope=1"])).await;
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("the template has no argument \"nope\"")
    );
    let missing = analysis_test(&namespace, [vec![file.clone()], allowed.to_vec()].concat()).await;
    let error = String::from_utf8_lossy(&missing.stderr).into_owned();
    assert_eq!(missing.status.code(), Some(2), "{error}");
    assert!(error.contains("job"), "{error}");
}

fn graphite_metric(address: &str, target: &str) -> serde_json::Value {
    json!({
        "name": "error-rate",
        "successCondition": "len(result) > 0 && all(result, {# < 0.05})",
        "failureCondition": "any(result, {# >= 0.05})",
        "provider": {"graphite": {"address": address, "query": format!("target={target}&from=-10min")}}
    })
}

/// Seconds since the epoch, now.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs()
        .try_into()
        .expect("fits")
}

#[tokio::test]
async fn graphite_results_decide_runs() {
    let (namespace, controllers) = setup("analysis-graphite").await;
    let graphite = crate::support::graphite::Graphite::start().await;
    let address = graphite.url();
    // Two good points through carbon; the render of the last 10 minutes also holds a
    // `null` for every other second, which the provider leaves out.
    let base = now();
    graphite.send("demo.web.error_rate", 0.01, base - 3);
    graphite.send("demo.web.error_rate", 0.02, base - 2);
    graphite
        .wait_for_series("demo.web.error_rate", &[0.01, 0.02])
        .await;

    let good = run_to_completion(
        &namespace,
        "good",
        json!([graphite_metric(&address, "demo.web.error_rate")]),
        json!({}),
    )
    .await;
    assert_eq!(good.phase, AnalysisPhase::Successful, "{good:#?}");
    assert_eq!(good.metric_results[0].measurements[0].value, "[0.01,0.02]");

    graphite.send("demo.web.error_rate", 0.5, base - 1);
    graphite
        .wait_for_series("demo.web.error_rate", &[0.01, 0.02, 0.5])
        .await;
    let bad = run_to_completion(
        &namespace,
        "bad",
        json!([graphite_metric(&address, "demo.web.error_rate")]),
        json!({}),
    )
    .await;
    assert_eq!(bad.phase, AnalysisPhase::Failed, "{bad:#?}");
    assert_eq!(
        bad.metric_results[0].measurements[0].value,
        "[0.01,0.02,0.5]"
    );
    assert_eq!(
        bad.message,
        "Metric \"error-rate\" assessed Failed due to failed (1) > failureLimit (0)"
    );

    // A target Graphite has no series for renders `[]`: no data, Inconclusive (as for
    // Prometheus, Argo would call `result[0]` of nothing an Error).
    let empty = run_to_completion(
        &namespace,
        "empty",
        json!([merged(
            graphite_metric(&address, "demo.nothing.error_rate"),
            json!({"successCondition": "result[0] < 0.05", "failureCondition": "", "consecutiveErrorLimit": 0})
        )]),
        json!({}),
    )
    .await;
    assert_eq!(empty.phase, AnalysisPhase::Inconclusive, "{empty:#?}");
    assert!(
        empty.metric_results[0].measurements[0]
            .message
            .contains("the result is empty (no data) and no condition handles it"),
        "{empty:#?}"
    );

    controllers.stop().await;
}

#[tokio::test]
async fn analysis_test_reads_a_real_graphite() {
    let namespace = TestNamespace::create("analysis-cli-graphite").await;
    install_crds(&namespace.client()).await;
    let graphite = crate::support::graphite::Graphite::start().await;
    let base = now();
    graphite.send("demo.api.error_rate", 0.01, base - 2);
    graphite
        .wait_for_series("demo.api.error_rate", &[0.01])
        .await;
    let dir = crate::support::git::TempDir::new("analysis-cli-graphite");
    let file = dir.path().join("template.yaml");
    let template = format!(
        "apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {{name: error-rate}}
spec:
  args: [{{name: service}}]
  metrics:
  - name: error-rate
    successCondition: all(result, {{# < 0.05}})
    provider:
      graphite:
        address: '{}'
        query: |
          target=demo.{{{{args.service}}}}.error_rate
          &from=-10min
",
        graphite.url()
    );
    std::fs::write(&file, template).expect("write the template");
    let args = vec![
        file.display().to_string(),
        "--arg".to_owned(),
        "service=api".to_owned(),
        "--allowed-host".to_owned(),
        "127.0.0.1/32".to_owned(),
        "-o".to_owned(),
        "json".to_owned(),
    ];

    let passing = analysis_test(&namespace, args.clone()).await;
    let said = String::from_utf8_lossy(&passing.stdout).into_owned()
        + &String::from_utf8_lossy(&passing.stderr);
    assert_eq!(passing.status.code(), Some(0), "{said}");
    let verdicts: serde_json::Value = serde_json::from_slice(&passing.stdout).expect("JSON");
    assert_eq!(verdicts[0]["provider"], "graphite", "{said}");
    assert_eq!(verdicts[0]["measurement"]["phase"], "Successful", "{said}");
    assert_eq!(verdicts[0]["measurement"]["value"], "[0.01]", "{said}");

    graphite.send("demo.api.error_rate", 0.5, base - 1);
    graphite
        .wait_for_series("demo.api.error_rate", &[0.01, 0.5])
        .await;
    let failing = analysis_test(&namespace, args).await;
    let said = String::from_utf8_lossy(&failing.stdout).into_owned()
        + &String::from_utf8_lossy(&failing.stderr);
    assert_eq!(failing.status.code(), Some(1), "{said}");
    let verdicts: serde_json::Value = serde_json::from_slice(&failing.stdout).expect("JSON");
    assert_eq!(verdicts[0]["measurement"]["phase"], "Failed", "{said}");
    assert_eq!(verdicts[0]["measurement"]["value"], "[0.01,0.5]", "{said}");
}

/// A Flux query of the last 5 minutes' latest `error_rate` of `service` in the test database.
fn flux_error_rate(service: &str) -> String {
    format!(
        "from(bucket: \"{}\")
  |> range(start: -5m)
  |> filter(fn: (r) => r._measurement == \"http\" and r._field == \"error_rate\" and r.service == \"{service}\")
  |> last()",
        crate::support::influxdb::DATABASE
    )
}

fn influxdb_metric(query: &str) -> serde_json::Value {
    json!({
        "name": "error-rate",
        "successCondition": "len(result) > 0 && all(result, {# < 0.05})",
        "failureCondition": "any(result, {# >= 0.05})",
        "provider": {"influxdb": {"profile": "influxdb-demo", "query": query}}
    })
}

/// The provider's Secret for `influxdb`. InfluxDB 1.8 runs with authentication off here, so
/// it ignores the token and the organisation (both are sent all the same).
/// The token of the InfluxDB profile: sent, and never in a log.
const INFLUXDB_TOKEN: &str = "s3cret-influx-t0ken";

async fn create_influxdb_profile(
    namespace: &TestNamespace,
    influxdb: &crate::support::influxdb::Influxdb,
) {
    create_secret(
        namespace,
        "influxdb-demo",
        json!({"address": influxdb.url(), "authToken": INFLUXDB_TOKEN, "org": "tidegate"}),
    )
    .await;
}

#[tokio::test]
async fn influxdb_results_decide_runs() {
    let (namespace, controllers) = setup("analysis-influxdb").await;
    let influxdb = crate::support::influxdb::Influxdb::start().await;
    // The controllers read provider Secrets in their own namespace: here, the test's.
    create_influxdb_profile(&namespace, &influxdb).await;
    let base = now();
    influxdb
        .write(&format!(
            "http,service=web error_rate=0.01 {}\nhttp,service=api error_rate=0.9 {}",
            base - 3,
            base - 3
        ))
        .await;

    let good = run_to_completion(
        &namespace,
        "good",
        json!([influxdb_metric(&flux_error_rate("web"))]),
        json!({}),
    )
    .await;
    assert_eq!(good.phase, AnalysisPhase::Successful, "{good:#?}");
    assert_eq!(good.metric_results[0].measurements[0].value, "[0.01]");

    // A later, bad point: `last()` now gives it.
    influxdb
        .write(&format!("http,service=web error_rate=0.5 {}", base - 1))
        .await;
    let bad = run_to_completion(
        &namespace,
        "bad",
        json!([influxdb_metric(&flux_error_rate("web"))]),
        json!({}),
    )
    .await;
    assert_eq!(bad.phase, AnalysisPhase::Failed, "{bad:#?}");
    assert_eq!(bad.metric_results[0].measurements[0].value, "[0.5]");
    assert_eq!(
        bad.message,
        "Metric \"error-rate\" assessed Failed due to failed (1) > failureLimit (0)"
    );

    // A filter nothing matches answers no tables: no data, Inconclusive.
    let empty = run_to_completion(
        &namespace,
        "empty",
        json!([merged(
            influxdb_metric(&flux_error_rate("nothing")),
            json!({"successCondition": "result[0] < 0.05", "failureCondition": "", "consecutiveErrorLimit": 0})
        )]),
        json!({}),
    )
    .await;
    assert_eq!(empty.phase, AnalysisPhase::Inconclusive, "{empty:#?}");
    assert!(
        empty.metric_results[0].measurements[0]
            .message
            .contains("the result is empty (no data) and no condition handles it"),
        "{empty:#?}"
    );

    // A query that does not compile: InfluxDB's own message is the measurement's error.
    let broken = run_to_completion(
        &namespace,
        "broken",
        json!([merged(
            influxdb_metric(&format!("{} |> nosuchfunction()", flux_error_rate("web"))),
            json!({"consecutiveErrorLimit": 0})
        )]),
        json!({}),
    )
    .await;
    assert_eq!(broken.phase, AnalysisPhase::Error, "{broken:#?}");
    let message = &broken.metric_results[0].measurements[0].message;
    // 1.8 answers 500 (asked again within the measurement's timeout) and, to a client that
    // accepts CSV, its error as CSV.
    assert!(
        message.starts_with("InfluxDB answered 500 Internal Server Error: type error ")
            && message.ends_with(": undefined identifier \"nosuchfunction\""),
        "{broken:#?}"
    );

    controllers.stop().await;
}

#[tokio::test]
async fn analysis_test_reads_a_real_influxdb() {
    let namespace = TestNamespace::create("analysis-cli-influxdb").await;
    install_crds(&namespace.client()).await;
    let influxdb = crate::support::influxdb::Influxdb::start().await;
    create_influxdb_profile(&namespace, &influxdb).await;
    let base = now();
    influxdb
        .write(&format!("http,service=api error_rate=0.01 {}", base - 2))
        .await;
    let dir = crate::support::git::TempDir::new("analysis-cli-influxdb");
    // `analysis test` reads provider Secrets in the configuration's state namespace.
    let config = dir.path().join("tidegate.yaml");
    std::fs::write(
        &config,
        format!("state:\n  namespace: {}\n", namespace.name()),
    )
    .expect("write the configuration");
    let file = dir.path().join("template.yaml");
    let template = format!(
        "apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {{name: error-rate}}
spec:
  args: [{{name: service}}]
  metrics:
  - name: error-rate
    successCondition: all(result, {{# < 0.05}})
    provider:
      influxdb:
        profile: influxdb-demo
        query: |
          from(bucket: \"{}\")
            |> range(start: -5m)
            |> filter(fn: (r) => r._measurement == \"http\" and r.service == \"{{{{args.service}}}}\")
            |> last()
",
        crate::support::influxdb::DATABASE
    );
    std::fs::write(&file, template).expect("write the template");
    let args = vec![
        file.display().to_string(),
        "--arg".to_owned(),
        "service=api".to_owned(),
        "--config".to_owned(),
        config.display().to_string(),
        "--allowed-host".to_owned(),
        "127.0.0.1/32".to_owned(),
        "-o".to_owned(),
        "json".to_owned(),
    ];

    // Traced as verbosely as it gets, the token never shows.
    let traced = {
        let (args, namespace) = (args.clone(), namespace.name().to_owned());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_tidegate"))
                .env("RUST_LOG", "trace")
                .args(["analysis", "test"])
                .args(&args)
                .args(["--namespace", &namespace, "--kubeconfig"])
                .arg(crate::support::kubeconfig())
                .output()
                .expect("run tidegate analysis test")
        })
        .await
        .expect("the command ran")
    };
    let said = String::from_utf8_lossy(&traced.stdout).into_owned()
        + &String::from_utf8_lossy(&traced.stderr);
    assert_eq!(traced.status.code(), Some(0), "{said}");
    assert!(said.contains("TRACE"), "trace logging is on: {said}");
    assert!(!said.contains(INFLUXDB_TOKEN), "the token leaked: {said}");

    let passing = analysis_test(&namespace, args.clone()).await;
    let said = String::from_utf8_lossy(&passing.stdout).into_owned()
        + &String::from_utf8_lossy(&passing.stderr);
    assert_eq!(passing.status.code(), Some(0), "{said}");
    let verdicts: serde_json::Value = serde_json::from_slice(&passing.stdout).expect("JSON");
    assert_eq!(verdicts[0]["provider"], "influxdb", "{said}");
    assert_eq!(verdicts[0]["measurement"]["phase"], "Successful", "{said}");
    assert_eq!(verdicts[0]["measurement"]["value"], "[0.01]", "{said}");

    influxdb
        .write(&format!("http,service=api error_rate=0.5 {}", base - 1))
        .await;
    let failing = analysis_test(&namespace, args).await;
    let said = String::from_utf8_lossy(&failing.stdout).into_owned()
        + &String::from_utf8_lossy(&failing.stderr);
    assert_eq!(failing.status.code(), Some(1), "{said}");
    let verdicts: serde_json::Value = serde_json::from_slice(&failing.stdout).expect("JSON");
    assert_eq!(verdicts[0]["measurement"]["phase"], "Failed", "{said}");
    assert_eq!(verdicts[0]["measurement"]["value"], "[0.5]", "{said}");
}
