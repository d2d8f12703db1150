//! tidegate's safety promise on the real control plane: a revision reaches users only after
//! its analysis passed by measuring and every pause was released, and abort always wins —
//! through unrelated commits, retries, returns to an earlier revision, NaN and missing data
//! from a real Prometheus, and a daemon killed at every dangerous moment (failpoints).
//!
//! Analysis here measures a local web endpoint whose answer the test sets per path: `0.2`
//! holds a run (each measurement is Inconclusive, tolerated), `0.01` passes it (two in a
//! row), `0.9` fails it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tidegate::engine;
use tidegate::k8s::crd::{AnalysisRun, AnalysisTemplate, Phase, Rollout, RolloutStatus};
use tidegate::k8s::{self, labels};
use tidegate::sync::SyncResult;

use crate::support::daemon::{Daemon, apps_source, wait_for_sync};
use crate::support::git::{GitServer, Repo};
use crate::support::http::{HttpServer, Response};
use crate::support::prometheus::ErrorRate;
use crate::support::rollout::{
    ControllerProcess, Controllers, act, apply, create_services, notes_about_web, replica_sets,
    rollout, rollout_notes, selector_of, tidegate, wait_for_status,
};
use crate::support::{TIMEOUT, TestNamespace, install_crds, wait_for};

/// Holds a run: every measurement Inconclusive (tolerated).
const HOLD: &str = "0.2";
/// Passes a run: two measurements in a row.
const PASS: &str = "0.01";
/// Fails a run.
const FAIL: &str = "0.9";

/// A web endpoint whose answer the test sets, per path, counting the requests.
struct Verdicts {
    server: HttpServer,
    answers: Arc<Mutex<BTreeMap<String, String>>>,
    hits: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl Verdicts {
    async fn start() -> Self {
        let answers: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let hits: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
        let (shared_answers, shared_hits) = (answers.clone(), hits.clone());
        let server = HttpServer::start(move |request| {
            *shared_hits
                .lock()
                .expect("the test holds no lock across a panic")
                .entry(request.path.clone())
                .or_default() += 1;
            let answer = shared_answers
                .lock()
                .expect("the test holds no lock across a panic")
                .get(&request.path)
                .cloned();
            Response::ok(answer.unwrap_or_else(|| HOLD.to_owned()))
        })
        .await;
        Self {
            server,
            answers,
            hits,
        }
    }

    fn set(&self, path: &str, answer: &str) {
        self.answers
            .lock()
            .expect("the test holds no lock across a panic")
            .insert(path.to_owned(), answer.to_owned());
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("the test holds no lock across a panic")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }
}

/// An AnalysisTemplate `name` measuring `url` every second until two measurements in a row
/// pass (below 0.05); 0.5 or more fails it, anything between is tolerated.
fn template(name: &str, url: &str) -> Value {
    template_with(
        name,
        url,
        json!({"count": 1000, "consecutiveSuccessLimit": 2, "inconclusiveLimit": 1000}),
    )
}

/// An AnalysisTemplate `name` measuring `url` every second, with `extra` metric fields.
fn template_with(name: &str, url: &str, extra: Value) -> Value {
    let mut metric = json!({
        "name": "verdict",
        "interval": "1s",
        "successCondition": "result < 0.05",
        "failureCondition": "result >= 0.5",
        "provider": {"web": {"url": url}},
    });
    if let (Some(fields), Value::Object(more)) = (metric.as_object_mut(), extra) {
        fields.extend(more);
    }
    json!({
        "apiVersion": "tidegate.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": name},
        "spec": {"metrics": [metric]},
    })
}

async fn apply_template(namespace: &TestNamespace, template: &Value) {
    let name = template["metadata"]["name"].as_str().expect("named");
    namespace
        .api::<AnalysisTemplate>()
        .patch(
            name,
            &k8s::PatchParams::apply(k8s::SYNC_FIELD_MANAGER),
            &k8s::Patch::Apply(template),
        )
        .await
        .expect("apply AnalysisTemplate");
}

fn analysis_step(template: &str) -> Value {
    json!({"analysis": {"templates": [{"templateName": template}]}})
}

/// A canary of 2 replicas with `steps`.
fn canary(image: &str, steps: &Value) -> Value {
    let mut manifest = rollout(image, steps);
    manifest["spec"]["replicas"] = json!(2);
    manifest
}

/// A blue-green Rollout of 2 replicas with `strategy` (Services `web-active`, `web-preview`).
fn blue_green(image: &str, strategy: &Value) -> Value {
    let mut manifest = canary(image, &json!([]));
    let mut strategy = strategy.clone();
    strategy["activeService"] = json!("web-active");
    strategy["previewService"] = json!("web-preview");
    manifest["spec"]["strategy"] = json!({"blueGreen": strategy});
    manifest
}

fn step_run(status: &RolloutStatus) -> Option<String> {
    status
        .canary
        .as_ref()?
        .current_step_analysis_run_status
        .as_ref()
        .map(|run| run.name.clone())
}

fn pre_run(status: &RolloutStatus) -> Option<String> {
    status
        .blue_green
        .as_ref()?
        .pre_promotion_analysis_run_status
        .as_ref()
        .map(|run| run.name.clone())
}

/// AnalysisRun `name`, once it exists (the status records a run before it is created).
async fn run(namespace: &TestNamespace, name: &str) -> AnalysisRun {
    let runs = namespace.api::<AnalysisRun>();
    wait_for(&format!("AnalysisRun {name}"), TIMEOUT, || async {
        runs.get_opt(name).await.ok().flatten()
    })
    .await
}

/// Successful measurements of run `name`.
async fn successes(namespace: &TestNamespace, name: &str) -> i32 {
    run(namespace, name)
        .await
        .status
        .and_then(|status| {
            status
                .metric_results
                .first()
                .map(|result| result.successful)
        })
        .unwrap_or(0)
}

/// The Experiments of the namespace, with their phases.
async fn experiment_names(namespace: &TestNamespace) -> BTreeSet<String> {
    namespace
        .api::<tidegate::k8s::crd::Experiment>()
        .list(&k8s::ListParams::default())
        .await
        .expect("list Experiments")
        .items
        .into_iter()
        .map(|experiment| {
            let phase = experiment.status.and_then(|status| status.phase);
            format!("{}={phase:?}", experiment.metadata.name.unwrap_or_default())
        })
        .collect()
}

async fn run_names(namespace: &TestNamespace) -> BTreeSet<String> {
    namespace
        .api::<AnalysisRun>()
        .list(&k8s::ListParams::default())
        .await
        .expect("list AnalysisRuns")
        .items
        .into_iter()
        .filter_map(|run| run.metadata.name)
        .collect()
}

async fn healthy_at(namespace: &TestNamespace, what: &str, hash: Option<&str>) -> RolloutStatus {
    wait_for_status(namespace, what, |status| {
        status.phase == Some(Phase::Healthy)
            && !status.stable_rs.is_empty()
            && status.stable_rs == status.current_pod_hash
            && hash.is_none_or(|hash| status.stable_rs == hash)
    })
    .await
}

/// Waits until the Rollout is healthy on a revision other than `old`.
async fn promoted_from(namespace: &TestNamespace, what: &str, old: &str) -> RolloutStatus {
    wait_for_status(namespace, what, |status| {
        status.phase == Some(Phase::Healthy)
            && status.stable_rs == status.current_pod_hash
            && status.stable_rs != old
    })
    .await
}

// --- 1. Unrelated commits never undo a pin -------------------------------------------------

const SERVICES: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web-active\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-preview\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-canary\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-stable\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n";

fn settings(mode: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: {mode}\n")
}

/// JSON is YAML: a manifest as a file of the repository.
fn yaml(manifest: &Value) -> String {
    serde_json::to_string_pretty(manifest).expect("manifests serialize")
}

/// A Git source with Services, a template and the Rollout `rollout(image)`, synced and
/// controlled by the daemon; returns after the first revision is live.
async fn gitops(
    prefix: &str,
    verdicts: &Verdicts,
    rollout: impl Fn(&str) -> Value,
) -> (TestNamespace, GitServer, Repo, Daemon, RolloutStatus) {
    let ns = TestNamespace::create(prefix).await;
    install_crds(&ns.client()).await;
    let server = GitServer::start(None);
    let repo = server.repo("apps");
    repo.write("services.yaml", SERVICES)
        .write(
            "template.yaml",
            yaml(&template("hold", &verdicts.url("/gate"))),
        )
        .write("settings.yaml", settings("one"))
        .write("rollout.yaml", yaml(&rollout("registry.invalid/web:1")));
    let first = repo.commit("web 1");
    let source = apps_source(&server.url("apps"), &ns);
    let daemon =
        Daemon::start_controlling(&ns, &source, "analysis:\n  allowedHosts: [127.0.0.1/32]\n");
    wait_for_sync(&ns, "apps", &first, SyncResult::Applied).await;
    let live = healthy_at(&ns, "the first revision", None).await;
    (ns, server, repo, daemon, live)
}

/// Commits an unrelated change (the ConfigMap) and waits until it is applied.
async fn unrelated_commit(ns: &TestNamespace, repo: &Repo, mode: &str) {
    repo.write("settings.yaml", settings(mode));
    let commit = repo.commit(&format!("settings {mode}"));
    wait_for_sync(ns, "apps", &commit, SyncResult::Applied).await;
}

async fn full_selector(ns: &TestNamespace, service: &str) -> BTreeMap<String, String> {
    ns.api::<k8s::Service>()
        .get(service)
        .await
        .expect("get Service")
        .spec
        .and_then(|spec| spec.selector)
        .unwrap_or_default()
}

async fn assert_pinned(ns: &TestNamespace, service: &str, hash: &str, when: &str) {
    let selector = full_selector(ns, service).await;
    let expected: BTreeMap<String, String> = [
        ("app".to_owned(), "web".to_owned()),
        (labels::POD_TEMPLATE_HASH.to_owned(), hash.to_owned()),
    ]
    .into();
    assert_eq!(selector, expected, "{service} {when}");
}

/// Every pin a Service had while it was watched (none: "").
struct PinWatch {
    seen: Arc<Mutex<BTreeSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl PinWatch {
    async fn start(ns: &TestNamespace, service: &str) -> Self {
        use futures::StreamExt;
        use kube::runtime::WatchStreamExt;
        let seen: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let (shared, services) = (seen.clone(), ns.api::<k8s::Service>());
        let config =
            kube::runtime::watcher::Config::default().fields(&format!("metadata.name={service}"));
        let (ready, watching) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut ready = Some(ready);
            let mut updates =
                std::pin::pin!(kube::runtime::watcher(services, config).applied_objects());
            while let Some(Ok(found)) = updates.next().await {
                let pin = found
                    .spec
                    .and_then(|spec| spec.selector)
                    .and_then(|selector| selector.get(labels::POD_TEMPLATE_HASH).cloned());
                shared
                    .lock()
                    .expect("the test holds no lock across a panic")
                    .insert(pin.unwrap_or_default());
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
            }
        });
        let _ = watching.await;
        Self { seen, task }
    }

    fn seen(self) -> BTreeSet<String> {
        self.task.abort();
        self.seen
            .lock()
            .expect("the test holds no lock across a panic")
            .clone()
    }
}

/// Commits an unrelated change while watching `pins` (Service, pin it must keep): no update
/// of any of them ever lacks its pin.
async fn unrelated_commit_keeps(
    ns: &TestNamespace,
    repo: &Repo,
    mode: &str,
    pins: &[(&str, &str)],
) {
    let mut watches = Vec::new();
    for (service, _) in pins {
        watches.push(PinWatch::start(ns, service).await);
    }
    unrelated_commit(ns, repo, mode).await;
    for ((service, pin), watch) in pins.iter().zip(watches) {
        assert_pinned(ns, service, pin, &format!("after commit {mode}")).await;
        assert_eq!(
            watch.seen(),
            BTreeSet::from([(*pin).to_owned()]),
            "{service}: every version the commit {mode} left"
        );
    }
}

#[tokio::test]
async fn unrelated_commits_during_pre_promotion_analysis_and_the_pause_promote_nothing() {
    let verdicts = Verdicts::start().await;
    let strategy = json!({
        "autoPromotionEnabled": false,
        "previewReplicaCount": 1,
        "prePromotionAnalysis": {"templates": [{"templateName": "hold"}]},
    });
    let manifest = |image: &str| blue_green(image, &strategy);
    let (ns, _server, repo, daemon, first) = gitops("safe-bg", &verdicts, manifest).await;
    let v1 = first.stable_rs;

    repo.write("rollout.yaml", yaml(&manifest("registry.invalid/web:2")));
    repo.commit("web 2");
    let analysing = wait_for_status(&ns, "pre-promotion analysis", |status| {
        pre_run(status).is_some() && status.current_pod_hash != v1
    })
    .await;
    let v2 = analysing.current_pod_hash.clone();
    let run_name = pre_run(&analysing).unwrap();
    wait_for("the pre-promotion run measuring", TIMEOUT, || async {
        (verdicts.hits("/gate") > 0).then_some(())
    })
    .await;

    unrelated_commit_keeps(
        &ns,
        &repo,
        "two",
        &[("web-active", &v1), ("web-preview", &v2)],
    )
    .await;
    let status = wait_for_status(&ns, "the status", |_| true).await;
    assert_eq!(status.stable_rs, v1, "{status:#?}");
    assert_eq!(
        pre_run(&status).as_deref(),
        Some(run_name.as_str()),
        "the same run decides"
    );

    verdicts.set("/gate", PASS);
    wait_for_status(&ns, "the blue-green pause", |status| {
        status.message == "BlueGreenPause"
    })
    .await;
    unrelated_commit_keeps(
        &ns,
        &repo,
        "three",
        &[("web-active", &v1), ("web-preview", &v2)],
    )
    .await;
    let status = wait_for_status(&ns, "the status", |_| true).await;
    assert_eq!(status.phase, Some(Phase::Paused), "{status:#?}");
    assert_eq!(status.stable_rs, v1);
    assert_eq!(
        replica_sets(&ns)
            .await
            .iter()
            .find(|rs| rs.0 == v2)
            .map(|rs| rs.1),
        Some(1),
        "the preview stays at its size"
    );

    tidegate(&ns, &["promote", "--direct", "web"]);
    healthy_at(&ns, "the promotion", Some(&v2)).await;
    assert_pinned(&ns, "web-active", &v2, "after the promotion").await;
    daemon.stop().await;
}

#[tokio::test]
async fn unrelated_commits_during_a_canary_analysis_step_and_pause_promote_nothing() {
    let verdicts = Verdicts::start().await;
    let steps = json!([{"setWeight": 50}, analysis_step("hold"), {"pause": {}}]);
    let manifest = |image: &str| canary(image, &steps);
    let (ns, _server, repo, daemon, first) = gitops("safe-canary", &verdicts, manifest).await;
    let v1 = first.stable_rs;

    repo.write("rollout.yaml", yaml(&manifest("registry.invalid/web:2")));
    repo.commit("web 2");
    let analysing = wait_for_status(&ns, "the analysis step", |status| {
        step_run(status).is_some() && status.current_step_index == Some(1)
    })
    .await;
    let v2 = analysing.current_pod_hash.clone();
    let run_name = step_run(&analysing).unwrap();
    wait_for("both Services pinned", TIMEOUT, || async {
        (selector_of(&ns, "web-canary").await.as_deref() == Some(v2.as_str())).then_some(())
    })
    .await;

    unrelated_commit_keeps(
        &ns,
        &repo,
        "two",
        &[("web-stable", &v1), ("web-canary", &v2)],
    )
    .await;
    let status = wait_for_status(&ns, "the status", |_| true).await;
    assert_eq!(status.current_step_index, Some(1), "{status:#?}");
    assert_eq!(step_run(&status).as_deref(), Some(run_name.as_str()));

    verdicts.set("/gate", PASS);
    wait_for_status(&ns, "the canary pause", |status| {
        status.current_step_index == Some(2) && status.phase == Some(Phase::Paused)
    })
    .await;
    unrelated_commit_keeps(
        &ns,
        &repo,
        "three",
        &[("web-stable", &v1), ("web-canary", &v2)],
    )
    .await;
    let status = wait_for_status(&ns, "the status", |_| true).await;
    assert_eq!(status.phase, Some(Phase::Paused), "{status:#?}");
    assert_eq!(status.stable_rs, v1);

    tidegate(&ns, &["promote", "--direct", "web"]);
    healthy_at(&ns, "the promotion", Some(&v2)).await;
    daemon.stop().await;
}

// --- 3. Every attempt measures ----------------------------------------------------------------

/// A namespace with the CRDs, the canary Services, template `hold` on `/<prefix>` and the
/// controllers; `steps` of a canary deployed at v1.
async fn controlled(
    prefix: &str,
    verdicts: &Verdicts,
    steps: &Value,
) -> (TestNamespace, Controllers, String) {
    let ns = TestNamespace::create(prefix).await;
    install_crds(&ns.client()).await;
    create_services(&ns, ["web-stable", "web-canary"]).await;
    apply_template(&ns, &template("hold", &verdicts.url(&format!("/{prefix}")))).await;
    let controllers = Controllers::start(&ns);
    apply(&ns, &canary("registry.invalid/web:1", steps)).await;
    let v1 = healthy_at(&ns, "the first revision", None).await.stable_rs;
    (ns, controllers, v1)
}

#[tokio::test]
async fn abort_then_retry_measures_again() {
    let verdicts = Verdicts::start().await;
    let steps = json!([{"setWeight": 50}, analysis_step("hold"), {"setWeight": 100}]);
    let (ns, controllers, v1) = controlled("retry", &verdicts, &steps).await;
    apply(&ns, &canary("registry.invalid/web:2", &steps)).await;
    let analysing = wait_for_status(&ns, "the analysis step", |status| {
        step_run(status).is_some()
    })
    .await;
    let first = step_run(&analysing).unwrap();
    wait_for("a measurement", TIMEOUT, || async {
        (verdicts.hits("/retry") > 0).then_some(())
    })
    .await;

    act(&ns, |_, state| engine::abort(state)).await;
    wait_for_status(&ns, "the abort", |status| {
        status.phase == Some(Phase::Degraded)
    })
    .await;
    wait_for("the run stopped", TIMEOUT, || async {
        let run = run(&ns, &first).await;
        (run.spec.terminate && run.status.is_some_and(|status| status.phase.is_completed()))
            .then_some(())
    })
    .await;

    verdicts.set("/retry", PASS);
    act(&ns, |_, state| engine::retry(state)).await;
    promoted_from(&ns, "the retried update", &v1).await;
    let names = run_names(&ns).await;
    let second = format!("{first}.1");
    assert!(
        names.contains(&second),
        "a run of its own for the retry: {names:?}"
    );
    assert!(
        successes(&ns, &second).await >= 2,
        "the retry was promoted on measurements, not on the terminated run"
    );
    controllers.stop().await;
}

#[tokio::test]
async fn a_revision_returned_to_is_measured_again() {
    let verdicts = Verdicts::start().await;
    let steps = json!([{"setWeight": 50}, analysis_step("hold"), {"setWeight": 100}]);
    let (ns, controllers, _) = controlled("return", &verdicts, &steps).await;
    apply(&ns, &canary("registry.invalid/web:2", &steps)).await;
    let analysing = wait_for_status(&ns, "v2 analysing", |status| step_run(status).is_some()).await;
    let (v2, first) = (
        analysing.current_pod_hash.clone(),
        step_run(&analysing).unwrap(),
    );
    apply(&ns, &canary("registry.invalid/web:3", &steps)).await;
    wait_for_status(&ns, "v3 analysing", |status| {
        status.current_pod_hash != v2 && step_run(status).is_some()
    })
    .await;
    wait_for("v2's run stopped", TIMEOUT, || async {
        let run = run(&ns, &first).await;
        (run.spec.terminate && run.status.is_some_and(|status| status.phase.is_completed()))
            .then_some(())
    })
    .await;

    // Back to v2 (as tidegate's own revert does): its ReplicaSet and revision are reused.
    verdicts.set("/return", PASS);
    apply(&ns, &canary("registry.invalid/web:2", &steps)).await;
    healthy_at(&ns, "v2 promoted", Some(&v2)).await;
    let second = format!("{first}.1");
    assert!(run_names(&ns).await.contains(&second));
    assert!(successes(&ns, &second).await >= 2, "v2 measured again");
    controllers.stop().await;
}

// --- 5. Abort always wins ---------------------------------------------------------------------

#[tokio::test]
async fn an_abort_with_a_full_promotion_pending_keeps_the_stable_serving() {
    let verdicts = Verdicts::start().await;
    let steps = json!([{"setWeight": 50}, {"pause": {}}]);
    let (ns, controllers, v1) = controlled("abort-full", &verdicts, &steps).await;
    apply(&ns, &canary("registry.invalid/web:2", &steps)).await;
    let paused = wait_for_status(&ns, "the pause", |status| {
        status.phase == Some(Phase::Paused)
    })
    .await;
    let v2 = paused.current_pod_hash;

    // `promote --full`, then an abort as Argo's CLI records it (status.abort only): both
    // flags in the status before the controller looks.
    act(&ns, |_, state| {
        let mut next = engine::promote_full(state);
        next.abort = true;
        next
    })
    .await;
    wait_for_status(&ns, "the abort", |status| {
        status.phase == Some(Phase::Degraded)
    })
    .await;
    let mut expected = vec![(v1.clone(), 2, 2), (v2.clone(), 0, 0)];
    expected.sort();
    wait_for(
        "the stable back at full size, the canary drained",
        TIMEOUT,
        || async { (replica_sets(&ns).await == expected).then_some(()) },
    )
    .await;
    assert_eq!(
        selector_of(&ns, "web-stable").await.as_deref(),
        Some(v1.as_str())
    );
    assert_eq!(
        selector_of(&ns, "web-canary").await.as_deref(),
        Some(v1.as_str())
    );
    let status = wait_for_status(&ns, "the status", |_| true).await;
    assert!(!status.promote_full, "the full promotion was dropped");
    assert_eq!(status.stable_rs, v1);
    controllers.stop().await;
}

// --- 2. Background analysis -------------------------------------------------------------------

fn with_background(mut manifest: Value) -> Value {
    manifest["spec"]["strategy"]["canary"]["analysis"] =
        json!({"templates": [{"templateName": "background"}], "startingStep": 1});
    manifest
}

#[tokio::test]
async fn a_failing_background_analysis_aborts() {
    let verdicts = Verdicts::start().await;
    let steps = json!([{"setWeight": 50}, {"pause": {}}]);
    let (ns, controllers, v1) = controlled("background-fail", &verdicts, &steps).await;
    apply_template(
        &ns,
        &template_with("background", &verdicts.url("/bg-fail"), json!({})),
    )
    .await;
    verdicts.set("/bg-fail", PASS);
    apply(
        &ns,
        &with_background(canary("registry.invalid/web:2", &steps)),
    )
    .await;
    let paused = wait_for_status(&ns, "the pause with background analysis", |status| {
        status
            .canary
            .as_ref()
            .is_some_and(|canary| canary.current_background_analysis_run_status.is_some())
    })
    .await;
    let background = paused
        .canary
        .and_then(|canary| canary.current_background_analysis_run_status)
        .unwrap()
        .name;
    let labels_of = run(&ns, &background)
        .await
        .metadata
        .labels
        .unwrap_or_default();
    assert_eq!(
        labels_of.get(labels::ROLLOUT_TYPE).map(String::as_str),
        Some("Background")
    );

    verdicts.set("/bg-fail", FAIL);
    let aborted = wait_for_status(&ns, "the abort", |status| {
        status.phase == Some(Phase::Degraded)
    })
    .await;
    assert!(
        aborted.message.contains("Background analysis phase Failed"),
        "{}",
        aborted.message
    );
    assert_eq!(aborted.stable_rs, v1);
    controllers.stop().await;
}

#[tokio::test]
async fn a_passing_background_analysis_promotes_and_is_stopped() {
    let verdicts = Verdicts::start().await;
    let steps = json!([{"setWeight": 50}, {"pause": {"duration": 3}}, {"setWeight": 100}]);
    let (ns, controllers, v1) = controlled("background-pass", &verdicts, &steps).await;
    // Unbounded (no count): it runs until the promotion stops it.
    apply_template(
        &ns,
        &template_with("background", &verdicts.url("/bg-pass"), json!({})),
    )
    .await;
    verdicts.set("/bg-pass", PASS);
    apply(
        &ns,
        &with_background(canary("registry.invalid/web:2", &steps)),
    )
    .await;
    promoted_from(&ns, "the promotion", &v1).await;
    let background: Vec<AnalysisRun> = ns
        .api::<AnalysisRun>()
        .list(&k8s::ListParams::default().labels(&format!("{}=Background", labels::ROLLOUT_TYPE)))
        .await
        .unwrap()
        .items;
    assert_eq!(background.len(), 1, "one background run per revision");
    let name = background[0].metadata.name.clone().unwrap();
    assert!(successes(&ns, &name).await >= 1, "it measured");
    wait_for("the background run stopped", TIMEOUT, || async {
        run(&ns, &name).await.spec.terminate.then_some(())
    })
    .await;
    controllers.stop().await;
}

// --- 7. NaN, no data and an outage from a real Prometheus ----------------------------------

/// A canary gated by Prometheus with a failure-only condition — the condition under which
/// Argo promotes on NaN and on an empty result.
async fn prometheus_gated(
    prefix: &str,
    demo: &ErrorRate,
    query: &str,
    extra: Value,
) -> TestNamespace {
    let ns = TestNamespace::create(prefix).await;
    install_crds(&ns.client()).await;
    create_services(&ns, ["web-stable", "web-canary"]).await;
    let mut metric = json!({
        "name": "error-rate",
        "interval": "1s",
        "count": 3,
        "failureCondition": "any(result, {# > 0.05})",
        "provider": {"prometheus": {"address": demo.prometheus.url(""), "query": query}},
    });
    if let (Some(fields), Value::Object(more)) = (metric.as_object_mut(), extra) {
        fields.extend(more);
    }
    apply_template(
        &ns,
        &json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": "errors"}, "spec": {"metrics": [metric]}}),
    )
    .await;
    ns
}

#[tokio::test]
async fn nan_no_data_and_a_prometheus_outage_never_promote() {
    let steps = json!([{"setWeight": 50}, analysis_step("errors"), {"setWeight": 100}]);
    let nan_demo = ErrorRate::start().await;
    nan_demo.set(f64::NAN).await;
    let mut outage_demo = ErrorRate::start().await;
    let cases = [
        ("nan", &nan_demo, "demo_error_rate{job=\"demo\"}", json!({})),
        ("empty", &nan_demo, "no_such_metric", json!({})),
        (
            "outage",
            &outage_demo,
            "demo_error_rate{job=\"demo\"}",
            json!({"count": 30, "consecutiveErrorLimit": 1}),
        ),
    ];
    let mut running = Vec::new();
    for (prefix, demo, query, extra) in cases {
        let ns = prometheus_gated(prefix, demo, query, extra).await;
        let controllers = Controllers::start(&ns);
        apply(&ns, &canary("registry.invalid/web:1", &steps)).await;
        let v1 = healthy_at(&ns, "the first revision", None).await.stable_rs;
        apply(&ns, &canary("registry.invalid/web:2", &steps)).await;
        running.push((prefix, ns, controllers, v1));
    }
    // The outage: Prometheus goes down once the run has measured.
    let outage_ns = &running[2].1;
    let measured = wait_for("the outage run measuring", TIMEOUT, || async {
        let status = outage_ns.api::<Rollout>().get("web").await.ok()?.status?;
        let name = step_run(&status)?;
        (successes(outage_ns, &name).await >= 1).then_some(name)
    })
    .await;
    outage_demo.prometheus.stop();

    for (prefix, ns, controllers, v1) in running {
        let status = if prefix == "outage" {
            wait_for_status(&ns, "the abort", |status| {
                status.phase == Some(Phase::Degraded)
            })
            .await
        } else {
            wait_for_status(&ns, "the inconclusive pause", |status| {
                status.message == "InconclusiveAnalysisRun"
            })
            .await
        };
        assert_eq!(
            status.stable_rs, v1,
            "{prefix}: never promoted: {status:#?}"
        );
        let run_name = step_run(&status).unwrap();
        if prefix == "outage" {
            assert_eq!(run_name, measured);
            assert!(
                status.message.contains("Error"),
                "{prefix}: {}",
                status.message
            );
        } else {
            let run = run(&ns, &run_name).await;
            let message = &run.status.unwrap().metric_results[0].measurements[0].message;
            assert!(
                message.contains(if prefix == "nan" {
                    "holds NaN"
                } else {
                    "empty"
                }),
                "{prefix}: {message}"
            );
        }
        controllers.stop().await;
    }
}

// --- Crash points -----------------------------------------------------------------------------

/// How a run of a scenario went.
struct Outcome {
    status: RolloutStatus,
    kills: usize,
    notes: BTreeSet<String>,
    runs: BTreeSet<String>,
    experiments: BTreeSet<String>,
    replica_sets: Vec<(String, i32, i32)>,
    /// What each life of the controller logged.
    logs: String,
}

/// A note without what depends on timing: whether the engine saw a run Running before it
/// ended (`Previous: 'Pending'` or `'Running'`).
fn normalized(note: &str) -> String {
    note.split(" Previous: ").next().unwrap_or(note).to_owned()
}

/// A `tidegate controller` process that failpoints stop again and again, restarted each time.
struct Killed<'a> {
    ns: &'a TestNamespace,
    failpoints: Option<&'a str>,
    prefix: &'a str,
    controller: ControllerProcess,
    kills: usize,
    /// The logs of the lives that ended.
    logs: String,
}

impl<'a> Killed<'a> {
    fn start(ns: &'a TestNamespace, failpoints: Option<&'a str>, prefix: &'a str) -> Self {
        Self {
            ns,
            failpoints,
            prefix,
            controller: ControllerProcess::start(ns, failpoints),
            kills: 0,
            logs: String::new(),
        }
    }

    /// Restarts the process if a failpoint stopped it; panics with `what` past `deadline` or
    /// when the process died of anything else.
    fn keep_running(&mut self, deadline: tokio::time::Instant, what: &str) {
        let prefix = self.prefix;
        assert!(
            tokio::time::Instant::now() < deadline,
            "{prefix}: {what} after {} kills; log:\n{}",
            self.kills,
            self.controller.log()
        );
        if let Some(exit) = self.controller.exited() {
            let log = self.controller.log();
            assert_eq!(
                exit.code(),
                Some(137),
                "{prefix}: the controller died of something else:\n{log}"
            );
            assert!(log.contains("failpoint"), "{prefix}: {log}");
            self.kills += 1;
            let _ = write!(
                self.logs,
                "--- life {} ---
{log}",
                self.kills
            );
            self.controller = ControllerProcess::start(self.ns, self.failpoints);
        }
    }
}

/// Runs `update` from `first` to `second` under a `tidegate controller` process that
/// `failpoints` (if any) kill again and again, restarting it each time, until `done`.
async fn drive(
    prefix: &str,
    verdicts: &Verdicts,
    failpoints: Option<&str>,
    first: &Value,
    second: &Value,
    done: impl Fn(&RolloutStatus, &[(String, i32, i32)]) -> bool,
) -> Outcome {
    let ns = TestNamespace::create(prefix).await;
    install_crds(&ns.client()).await;
    create_services(&ns, ["web-stable", "web-canary"]).await;
    create_services(&ns, ["web-active", "web-preview"]).await;
    apply_template(
        &ns,
        &template_with("quick", &verdicts.url("/quick"), json!({"count": 2})),
    )
    .await;
    let controller = ControllerProcess::start(&ns, None);
    apply(&ns, first).await;
    let v1 = healthy_at(&ns, "the first revision", None).await.stable_rs;
    controller.kill();
    apply(&ns, second).await;

    // The process is restarted whenever a failpoint stops it, until the update is done and
    // its last Event is published: the final status write is a boundary too, so a process
    // may die before it publishes the Events that write recorded.
    let mut killed = Killed::start(&ns, failpoints, prefix);
    let deadline = tokio::time::Instant::now() + TIMEOUT * 4;
    let status = loop {
        killed.keep_running(deadline, "the update did not finish");
        let status = ns
            .api::<Rollout>()
            .get("web")
            .await
            .ok()
            .and_then(|rollout| rollout.status);
        if let Some(status) = status
            && status.stable_rs != v1
            && done(&status, &replica_sets(&ns).await)
        {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Every Event the status records is published: the Events are listed first, the status
    // read after, so an Event recorded after the listing (a write always precedes the
    // publishing of what it records) makes the check fail and look again.
    let notes = loop {
        killed.keep_running(deadline, "Events recorded in the status were not published");
        let events = ns
            .api::<k8s_openapi::api::events::v1::Event>()
            .list(&k8s::ListParams::default())
            .await
            .expect("list Events");
        let rollout = ns.api::<Rollout>().get("web").await.expect("the Rollout");
        let published: BTreeSet<String> = events
            .items
            .iter()
            .filter_map(|event| event.metadata.name.clone())
            .collect();
        let reference = kube::Resource::object_ref(&rollout, &());
        let all_published = rollout
            .status
            .iter()
            .flat_map(|status| &status.pending_events)
            .all(|event| {
                published.contains(&k8s::events::event_name(
                    &reference,
                    &event.sequence.to_string(),
                ))
            });
        let notes: BTreeSet<String> = notes_about_web(&events.items)
            .iter()
            .map(|note| normalized(note))
            .collect();
        if all_published
            && notes
                .iter()
                .any(|note| note.starts_with("Rollout completed update to revision 2"))
        {
            break notes;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let Killed {
        controller,
        kills,
        mut logs,
        ..
    } = killed;
    let _ = write!(logs, "--- life {} ---\n{}", kills + 1, controller.log());
    controller.kill();
    Outcome {
        status,
        kills,
        notes,
        runs: run_names(&ns).await,
        experiments: experiment_names(&ns).await,
        replica_sets: replica_sets(&ns).await,
        logs,
    }
}

/// The killed runs end as the uninterrupted one does, with the same Events (no step missed,
/// none repeated) and the same AnalysisRuns (none measured twice).
fn assert_same(reference: &Outcome, killed: &Outcome, what: &str, boundaries: usize) {
    println!("{what}: killed {} times", killed.kills);
    assert!(
        killed.kills >= boundaries,
        "{what}: killed {} times, expected at least {boundaries} (are the e2e tests built with --features failpoints?)",
        killed.kills
    );
    assert_eq!(
        killed.status.stable_rs, reference.status.stable_rs,
        "{what}"
    );
    assert_eq!(
        killed.status.current_step_index, reference.status.current_step_index,
        "{what}"
    );
    assert_eq!(killed.status.phase, Some(Phase::Healthy), "{what}");
    assert_eq!(killed.replica_sets, reference.replica_sets, "{what}");
    assert_eq!(killed.runs, reference.runs, "{what}: AnalysisRuns");
    assert_eq!(
        killed.experiments, reference.experiments,
        "{what}: Experiments"
    );
    assert_eq!(
        killed.notes, reference.notes,
        "{what}: Event notes; the killed run's log:\n{}",
        killed.logs
    );
}

#[tokio::test]
async fn killing_a_canary_with_an_analysis_step_at_every_boundary_changes_nothing() {
    let verdicts = Verdicts::start().await;
    verdicts.set("/quick", PASS);
    let steps = json!([{"setWeight": 50}, analysis_step("quick"), {"pause": {"duration": 1}}, {"setWeight": 100}]);
    let (first, second) = (
        canary("registry.invalid/web:1", &steps),
        canary("registry.invalid/web:2", &steps),
    );
    let done = |status: &RolloutStatus, sets: &[(String, i32, i32)]| {
        status.phase == Some(Phase::Healthy)
            && status.stable_rs == status.current_pod_hash
            && status.current_step_index == Some(4)
            && sets.iter().filter(|rs| rs.1 > 0).count() == 1
            // Settled: every ReplicaSet's pods are what it asks for (none left terminating).
            && sets.iter().all(|rs| rs.1 == rs.2)
    };
    let (reference, boundaries, effects) = tokio::join!(
        drive("crash-canary-ref", &verdicts, None, &first, &second, done),
        drive(
            "crash-canary-kill",
            &verdicts,
            Some("rollout-boundary=return"),
            &first,
            &second,
            done
        ),
        drive(
            "crash-canary-fx",
            &verdicts,
            Some("rollout-between-effects=return"),
            &first,
            &second,
            done
        ),
    );
    let steps_completed: Vec<&String> = reference
        .notes
        .iter()
        .filter(|note| note.contains("completed ("))
        .collect();
    assert_eq!(
        steps_completed,
        [
            "Rollout step 1/4 completed (setWeight: 50)",
            "Rollout step 2/4 completed (analysis)",
            "Rollout step 3/4 completed (pause: 1s)",
            "Rollout step 4/4 completed (setWeight: 100)",
        ]
    );
    // Boundaries of the update: new revision, each step, the analysis run's start and verdict,
    // the pause, the promotion.
    assert_same(&reference, &boundaries, "killed at every step boundary", 7);
    assert_same(&reference, &effects, "killed between effects", 1);
}

#[tokio::test]
async fn killing_a_canary_with_an_experiment_step_at_every_boundary_changes_nothing() {
    let verdicts = Verdicts::start().await;
    verdicts.set("/quick", PASS);
    let experiment = json!({"experiment": {
        "duration": "2s",
        "scaleDownDelaySeconds": 0,
        "templates": [{"name": "baseline", "specRef": "stable"}, {"name": "canary", "specRef": "canary"}],
        "analyses": [{"name": "quick", "templateName": "quick", "requiredForCompletion": true}],
    }});
    let steps = json!([{"setWeight": 50}, experiment, {"setWeight": 100}]);
    let (first, second) = (
        canary("registry.invalid/web:1", &steps),
        canary("registry.invalid/web:2", &steps),
    );
    let done = |status: &RolloutStatus, sets: &[(String, i32, i32)]| {
        status.phase == Some(Phase::Healthy)
            && status.stable_rs == status.current_pod_hash
            && status.current_step_index == Some(3)
            && sets.iter().filter(|rs| rs.1 > 0).count() == 1
            && sets.iter().all(|rs| rs.1 == rs.2)
    };
    let (reference, boundaries, effects) = tokio::join!(
        drive("crash-exp-ref", &verdicts, None, &first, &second, done),
        drive(
            "crash-exp-kill",
            &verdicts,
            Some("rollout-boundary=return"),
            &first,
            &second,
            done
        ),
        drive(
            "crash-exp-fx",
            &verdicts,
            Some("rollout-between-effects=return"),
            &first,
            &second,
            done
        ),
    );
    let steps_completed: Vec<&String> = reference
        .notes
        .iter()
        .filter(|note| note.contains("completed ("))
        .collect();
    assert_eq!(
        steps_completed,
        [
            "Rollout step 1/3 completed (setWeight: 50)",
            "Rollout step 2/3 completed (experiment)",
            "Rollout step 3/3 completed (setWeight: 100)",
        ]
    );
    assert_eq!(
        reference.experiments.len(),
        1,
        "{:?}",
        reference.experiments
    );
    // Boundaries: new revision, each step, the experiment's creation, the promotion.
    assert_same(&reference, &boundaries, "killed at every step boundary", 5);
    assert_same(&reference, &effects, "killed between effects", 1);
}

#[tokio::test]
async fn killing_a_blue_green_rollout_at_every_boundary_changes_nothing() {
    let verdicts = Verdicts::start().await;
    verdicts.set("/quick", PASS);
    let strategy = json!({
        "previewReplicaCount": 1,
        "autoPromotionSeconds": 1,
        "scaleDownDelaySeconds": 1,
        "prePromotionAnalysis": {"templates": [{"templateName": "quick"}]},
        "postPromotionAnalysis": {"templates": [{"templateName": "quick"}]},
    });
    let (first, second) = (
        blue_green("registry.invalid/web:1", &strategy),
        blue_green("registry.invalid/web:2", &strategy),
    );
    let done = |status: &RolloutStatus, sets: &[(String, i32, i32)]| {
        status.phase == Some(Phase::Healthy)
            && status.stable_rs == status.current_pod_hash
            && sets.iter().filter(|rs| rs.1 > 0).count() == 1
            // Settled: every ReplicaSet's pods are what it asks for (none left terminating).
            && sets.iter().all(|rs| rs.1 == rs.2)
    };
    let (reference, boundaries, effects) = tokio::join!(
        drive("crash-bg-ref", &verdicts, None, &first, &second, done),
        drive(
            "crash-bg-kill",
            &verdicts,
            Some("rollout-boundary=return"),
            &first,
            &second,
            done
        ),
        drive(
            "crash-bg-fx",
            &verdicts,
            Some("rollout-between-effects=return"),
            &first,
            &second,
            done
        ),
    );
    for expected in [
        "Switched selector for service 'web-active'",
        "PrePromotion Analysis Run",
        "PostPromotion Analysis Run",
        "Rollout is paused (BlueGreenPause)",
    ] {
        assert!(
            reference.notes.iter().any(|note| note.contains(expected)),
            "no {expected:?} in {:#?}",
            reference.notes
        );
    }
    assert_same(&reference, &boundaries, "killed at every step boundary", 6);
    assert_same(&reference, &effects, "killed between effects", 1);
}

// --- 9. Names held by others, and runs that disappear --------------------------------------

#[tokio::test]
async fn names_held_by_others_and_deleted_runs_do_not_stall_a_rollout() {
    let verdicts = Verdicts::start().await;
    let steps = json!([{"setWeight": 50}, analysis_step("hold"), {"setWeight": 100}]);
    let (ns, controllers, v1) = controlled("names", &verdicts, &steps).await;
    let v2_manifest = canary("registry.invalid/web:2", &steps);
    let typed: Rollout = serde_json::from_value(v2_manifest.clone()).expect("a Rollout");
    let (taken, renamed) = (
        typed.spec.pod_template_hash(None).unwrap(),
        typed.spec.pod_template_hash(Some(1)).unwrap(),
    );
    // Someone else's ReplicaSet under v2's name, and someone else's AnalysisRun under the
    // name of the step run of v2 once renamed.
    let squatter: k8s::ReplicaSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": format!("web-{taken}")},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "squatter"}},
                 "template": {"metadata": {"labels": {"app": "squatter"}},
                              "spec": {"containers": [{"name": "c", "image": "registry.invalid/squatter"}]}}},
    }))
    .unwrap();
    ns.api::<k8s::ReplicaSet>()
        .create(&k8s::PostParams::default(), &squatter)
        .await
        .expect("create someone else's ReplicaSet");
    let foreign_run = format!("web-{renamed}-2-1");
    let other: AnalysisRun = serde_json::from_value(json!({
        "apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": foreign_run},
        "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": verdicts.url("/other")}},
                              "successCondition": "result < 0.05"}]},
    }))
    .unwrap();
    ns.api::<AnalysisRun>()
        .create(&k8s::PostParams::default(), &other)
        .await
        .expect("create someone else's AnalysisRun");

    apply(&ns, &v2_manifest).await;
    // Recorded as measuring, not only created: a run deleted while still Pending is started
    // again without a warning (its creation may simply have been interrupted).
    let analysing = wait_for_status(&ns, "the renamed step run measuring", |status| {
        status.collision_count == Some(1)
            && step_run(status).as_deref() == Some(format!("{foreign_run}.1").as_str())
            && status
                .canary
                .as_ref()
                .and_then(|canary| canary.current_step_analysis_run_status.as_ref())
                .is_some_and(|run| run.status == tidegate::model::AnalysisPhase::Running)
    })
    .await;
    assert_eq!(analysing.current_pod_hash, renamed);
    let first = run(&ns, &format!("{foreign_run}.1")).await;
    let notes = rollout_notes(&ns).await;
    for expected in [
        format!("ReplicaSet web-{taken} exists but does not belong to Rollout web"),
        format!("AnalysisRun {foreign_run} exists but does not belong to Rollout web"),
    ] {
        assert!(
            notes.iter().any(|note| note.starts_with(&expected)),
            "no {expected:?} in {notes:#?}"
        );
    }

    // The recorded run disappears: it is started again under its name.
    ns.api::<AnalysisRun>()
        .delete(&format!("{foreign_run}.1"), &k8s::DeleteParams::default())
        .await
        .expect("delete the step run");
    let again = wait_for("the step run started again", TIMEOUT, || async {
        let found = ns
            .api::<AnalysisRun>()
            .get_opt(&format!("{foreign_run}.1"))
            .await
            .ok()??;
        (found.metadata.uid != first.metadata.uid).then_some(found)
    })
    .await;
    assert!(again.metadata.uid.is_some());
    wait_for("the AnalysisRunMissing Event", TIMEOUT, || async {
        rollout_notes(&ns)
            .await
            .iter()
            .any(|note| note.contains("no longer exists; starting it again"))
            .then_some(())
    })
    .await;
    verdicts.set("/names", PASS);
    promoted_from(&ns, "the promotion", &v1).await;
    assert!(
        ns.api::<k8s::ReplicaSet>()
            .get(&format!("web-{taken}"))
            .await
            .is_ok(),
        "someone else's ReplicaSet is left alone"
    );
    controllers.stop().await;
}

// --- 6. Nothing moves on an outdated view ------------------------------------------------------

#[tokio::test]
async fn an_abort_recorded_while_a_switch_is_being_decided_wins() {
    let ns = TestNamespace::create("stale-view").await;
    install_crds(&ns.client()).await;
    create_services(&ns, ["web-active", "web-preview"]).await;
    let strategy = json!({"autoPromotionEnabled": false});
    let controller = ControllerProcess::start(&ns, None);
    apply(&ns, &blue_green("registry.invalid/web:1", &strategy)).await;
    let v1 = healthy_at(&ns, "the first revision", None).await.stable_rs;
    apply(&ns, &blue_green("registry.invalid/web:2", &strategy)).await;
    wait_for_status(&ns, "the blue-green pause", |status| {
        status.message == "BlueGreenPause"
    })
    .await;
    controller.kill();

    // Every selector the active Service has from now on.
    let seen: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let watching = {
        let (seen, services) = (seen.clone(), ns.api::<k8s::Service>());
        tokio::spawn(async move {
            use futures::StreamExt;
            use kube::runtime::WatchStreamExt;
            let config =
                kube::runtime::watcher::Config::default().fields("metadata.name=web-active");
            let mut updates =
                std::pin::pin!(kube::runtime::watcher(services, config).applied_objects());
            while let Some(Ok(service)) = updates.next().await {
                let pin = service
                    .spec
                    .and_then(|spec| spec.selector)
                    .and_then(|selector| selector.get(labels::POD_TEMPLATE_HASH).cloned());
                seen.lock()
                    .expect("the test holds no lock across a panic")
                    .insert(pin.unwrap_or_default());
            }
        })
    };
    let mut controller = ControllerProcess::start(&ns, Some("rollout-slow-switch=return(4000)"));
    act(&ns, |rollout, state| {
        engine::promote(&rollout.spec.plan().unwrap(), state)
    })
    .await;
    wait_for("the switch decided", TIMEOUT, || async {
        controller.log().contains("decided a switch").then_some(())
    })
    .await;
    // The controller holds a decision made before this abort, about to be recorded.
    act(&ns, |_, state| engine::abort(state)).await;
    let aborted = wait_for_status(&ns, "the abort", |status| {
        status.phase == Some(Phase::Degraded)
    })
    .await;
    assert_eq!(aborted.stable_rs, v1);
    assert!(controller.exited().is_none(), "{}", controller.log());
    // Let the held pass finish and the next one act on the abort, then look at what the
    // active Service ever selected.
    wait_for("the held pass to finish", TIMEOUT, || async {
        (rollout_notes(&ns)
            .await
            .iter()
            .any(|note| note.starts_with("Rollout aborted")))
        .then_some(())
    })
    .await;
    assert_eq!(
        selector_of(&ns, "web-active").await.as_deref(),
        Some(v1.as_str())
    );
    watching.abort();
    let seen = seen
        .lock()
        .expect("the test holds no lock across a panic")
        .clone();
    assert_eq!(
        seen,
        BTreeSet::from([v1.clone()]),
        "the active Service only ever selected the stable revision"
    );
    controller.kill();
}
