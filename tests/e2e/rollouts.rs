//! The Rollout controller against the real control plane: kwok runs the pods, the controller
//! drives a canary through its steps, a person promotes or aborts through the status.

use serde_json::json;
use tidegate::controller::{self, Scope};
use tidegate::engine;
use tidegate::k8s::crd::{Phase, Rollout, RolloutStatus};
use tidegate::k8s::{self, labels};
use tidegate::model::RolloutState;
use tokio::sync::oneshot;

use crate::support::{TIMEOUT, TestNamespace, install_crds, wait_for, wait_for_object};

/// A controller for one namespace, stopped when dropped.
struct RunningController {
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningController {
    fn start(namespace: &TestNamespace) -> Self {
        let (stop, stopped) = oneshot::channel();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let scope = Scope::Namespace(namespace.name().to_owned());
        let task = tokio::spawn(controller::run(namespace.client(), scope, shutdown));
        Self {
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(TIMEOUT, task)
                .await
                .expect("controller stops")
                .expect("controller task");
        }
    }
}

async fn create_services(namespace: &TestNamespace) {
    let services = namespace.api::<k8s::Service>();
    for name in ["web-stable", "web-canary"] {
        let service = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": name },
            "spec": { "selector": { "app": "web" }, "ports": [{ "port": 80 }] },
        });
        services
            .patch(
                name,
                &k8s::PatchParams::apply(k8s::SYNC_FIELD_MANAGER),
                &k8s::Patch::Apply(&service),
            )
            .await
            .expect("apply Service");
    }
}

fn rollout(image: &str, steps: &serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "tidegate.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 3,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": image }] },
            },
            "strategy": { "canary": {
                "canaryService": "web-canary",
                "stableService": "web-stable",
                "steps": steps,
            } },
        },
    })
}

async fn apply(namespace: &TestNamespace, manifest: &serde_json::Value) {
    namespace
        .api::<Rollout>()
        .patch(
            "web",
            &k8s::PatchParams::apply(k8s::SYNC_FIELD_MANAGER),
            &k8s::Patch::Apply(manifest),
        )
        .await
        .expect("apply Rollout");
}

async fn wait_for_status(
    namespace: &TestNamespace,
    what: &str,
    condition: impl Fn(&RolloutStatus) -> bool,
) -> RolloutStatus {
    let rollouts = namespace.api::<Rollout>();
    let found = wait_for_object(&rollouts, "web", TIMEOUT, |rollout: Option<&Rollout>| {
        rollout
            .and_then(|rollout| rollout.status.as_ref())
            .is_some_and(&condition)
    })
    .await;
    let status = found.and_then(|rollout| rollout.status);
    status.unwrap_or_else(|| panic!("{what}: no status"))
}

/// Runs the `tidegate` binary against the test's namespace; returns its stdout.
fn tidegate(namespace: &TestNamespace, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tidegate"))
        .args(args)
        .args(["--namespace", namespace.name(), "--kubeconfig"])
        .arg(crate::support::kubeconfig())
        .output()
        .expect("run tidegate");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tidegate {args:?} failed: {stderr}{stdout}"
    );
    stdout
}

/// Records a person's action through the library, as `tidegate promote` / `abort` do.
async fn act(namespace: &TestNamespace, action: impl Fn(&Rollout, &RolloutState) -> RolloutState) {
    k8s::act(
        &namespace.client(),
        namespace.name(),
        "web",
        |rollout, state| Ok(action(rollout, state)),
    )
    .await
    .expect("record the action");
}

async fn replica_sets(namespace: &TestNamespace) -> Vec<(String, i32, i32)> {
    let listed = namespace
        .api::<k8s::ReplicaSet>()
        .list(&k8s::ListParams::default().labels(&format!("{}=web", labels::ROLLOUT)))
        .await
        .expect("list ReplicaSets");
    let mut found: Vec<_> = listed
        .items
        .into_iter()
        .map(|rs| {
            let hash = rs
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(labels::POD_TEMPLATE_HASH))
                .cloned();
            let available = rs
                .status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0);
            (
                hash.unwrap_or_default(),
                rs.spec.replicas.unwrap_or(0),
                available,
            )
        })
        .collect();
    found.sort();
    found
}

async fn selector_of(namespace: &TestNamespace, service: &str) -> Option<String> {
    let found = namespace
        .api::<k8s::Service>()
        .get(service)
        .await
        .expect("get Service");
    found
        .spec
        .and_then(|spec| spec.selector)
        .and_then(|selector| selector.get(labels::POD_TEMPLATE_HASH).cloned())
}

async fn event_reasons(namespace: &TestNamespace) -> Vec<String> {
    let events = namespace
        .api::<k8s_openapi::api::events::v1::Event>()
        .list(&k8s::ListParams::default())
        .await
        .expect("list Events");
    events
        .items
        .into_iter()
        .filter_map(|event| event.reason)
        .collect()
}

#[tokio::test]
async fn a_canary_runs_its_steps_to_healthy_with_a_timed_and_a_manual_pause() {
    let namespace = TestNamespace::create("canary").await;
    install_crds(&namespace.client()).await;
    create_services(&namespace).await;
    let controller = RunningController::start(&namespace);

    let steps = json!([{ "setWeight": 34 }, { "pause": { "duration": 2 } }, { "setWeight": 67 }, { "pause": {} }]);
    apply(&namespace, &rollout("registry.invalid/web:1", &steps)).await;
    let first = wait_for_status(&namespace, "initial deploy", |status| {
        status.phase == Some(Phase::Healthy) && !status.stable_rs.is_empty()
    })
    .await;
    let v1 = first.stable_rs.clone();
    assert_eq!(first.available_replicas, 3);
    assert_eq!(
        selector_of(&namespace, "web-stable").await.as_deref(),
        Some(v1.as_str())
    );

    apply(&namespace, &rollout("registry.invalid/web:2", &steps)).await;
    let paused = wait_for_status(&namespace, "the manual pause", |status| {
        status.current_step_index == Some(3) && status.phase == Some(Phase::Paused)
    })
    .await;
    let v2 = paused.current_pod_hash.clone();
    assert_ne!(v1, v2);
    // 67 % of 3 replicas: 2 canary pods, 1 stable.
    let mut expected = vec![(v1.clone(), 1, 1), (v2.clone(), 2, 2)];
    expected.sort();
    wait_for("the 67 % split to be available", TIMEOUT, || async {
        (replica_sets(&namespace).await == expected).then_some(())
    })
    .await;
    assert_eq!(
        selector_of(&namespace, "web-canary").await.as_deref(),
        Some(v2.as_str())
    );
    assert_eq!(
        selector_of(&namespace, "web-stable").await.as_deref(),
        Some(v1.as_str())
    );

    let detail = tidegate(&namespace, &["get", "rollout", "web"]);
    assert!(
        detail.contains("Status:    Paused (CanaryPauseStep)"),
        "{detail}"
    );
    assert!(detail.contains("▶ 4. pause (until promoted)"), "{detail}");
    assert!(
        detail.contains(&format!("revision 2 {v2} (canary)")),
        "{detail}"
    );
    let table = tidegate(&namespace, &["list", "rollouts"]);
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|row| row.contains("web") && row.contains("Paused")),
        "{table}"
    );

    let promoted = tidegate(&namespace, &["promote", "web"]);
    assert_eq!(
        promoted,
        format!("rollout {}/web promoted\n", namespace.name())
    );
    let done = wait_for_status(&namespace, "promotion", |status| {
        status.phase == Some(Phase::Healthy) && status.stable_rs == v2
    })
    .await;
    assert_eq!(done.current_step_index, Some(4));
    wait_for("the old revision to scale down", TIMEOUT, || async {
        let found = replica_sets(&namespace).await;
        found
            .iter()
            .any(|(hash, spec, _)| *hash == v1 && *spec == 0)
            .then_some(())
    })
    .await;
    assert_eq!(
        selector_of(&namespace, "web-stable").await.as_deref(),
        Some(v2.as_str())
    );

    let reasons = event_reasons(&namespace).await;
    for reason in [
        "RolloutUpdated",
        "RolloutStepCompleted",
        "RolloutPaused",
        "RolloutCompleted",
        "SwitchService",
    ] {
        assert!(
            reasons.iter().any(|found| found == reason),
            "no {reason} event in {reasons:?}"
        );
    }
    controller.stop().await;
}

#[tokio::test]
async fn abort_returns_everything_to_the_stable_revision() {
    let namespace = TestNamespace::create("abort").await;
    install_crds(&namespace.client()).await;
    create_services(&namespace).await;
    let controller = RunningController::start(&namespace);

    let steps = json!([{ "setWeight": 34 }, { "pause": {} }]);
    apply(&namespace, &rollout("registry.invalid/web:1", &steps)).await;
    let first = wait_for_status(&namespace, "initial deploy", |status| {
        status.phase == Some(Phase::Healthy)
    })
    .await;
    let v1 = first.stable_rs;
    apply(&namespace, &rollout("registry.invalid/web:2", &steps)).await;
    wait_for_status(&namespace, "the pause", |status| {
        status.phase == Some(Phase::Paused)
    })
    .await;

    act(&namespace, |_, state| engine::abort(state)).await;
    let aborted = wait_for_status(&namespace, "the abort", |status| {
        status.phase == Some(Phase::Degraded)
    })
    .await;
    assert!(
        aborted
            .message
            .starts_with("RolloutAborted: Rollout aborted update to revision 2"),
        "{}",
        aborted.message
    );
    assert_eq!(aborted.stable_rs, v1);
    wait_for("the canary to drain", TIMEOUT, || async {
        let found = replica_sets(&namespace).await;
        let v1_full = found
            .iter()
            .any(|(hash, spec, available)| *hash == v1 && *spec == 3 && *available == 3);
        let others_empty = found
            .iter()
            .filter(|(hash, ..)| *hash != v1)
            .all(|(_, spec, _)| *spec == 0);
        (v1_full && others_empty).then_some(())
    })
    .await;
    assert_eq!(
        selector_of(&namespace, "web-canary").await.as_deref(),
        Some(v1.as_str())
    );
    controller.stop().await;
}
