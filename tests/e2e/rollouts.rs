//! The Rollout controller against the real control plane: kwok runs the pods, the controller
//! drives a canary through its steps, a person promotes or aborts through the status.

use serde_json::json;
use tidegate::controller::{self, Scope};
use tidegate::engine;
use tidegate::k8s;
use tidegate::k8s::ResourceExt;
use tidegate::k8s::crd::Phase;
use tokio::sync::oneshot;

use crate::support::rollout::{
    act, apply, blue_green, create_services, event_reasons, replica_sets, rollout, selector_of,
    tidegate, wait_for_status,
};
use crate::support::{TIMEOUT, TestNamespace, install_crds, wait_for};

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
        let task = tokio::spawn(controller::run(
            namespace.client(),
            scope,
            std::sync::Arc::new(tidegate::metrics::Metrics::default()),
            shutdown,
        ));
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

/// Waits until Service `service` selects revision `hash`: the status is written before the
/// effects of the pass that decided it, so a Service follows its status by a moment.
async fn selector_becomes(namespace: &TestNamespace, service: &str, hash: &str) {
    wait_for(&format!("{service} pointed at {hash}"), TIMEOUT, || async {
        (selector_of(namespace, service).await.as_deref() == Some(hash)).then_some(())
    })
    .await;
}

/// A namespace of its own with the CRDs, two Services and a controller for it.
async fn start(prefix: &str, services: [&str; 2]) -> (TestNamespace, RunningController) {
    let namespace = TestNamespace::create(prefix).await;
    install_crds(&namespace.client()).await;
    create_services(&namespace, services).await;
    let controller = RunningController::start(&namespace);
    (namespace, controller)
}

#[tokio::test]
async fn a_canary_runs_its_steps_to_healthy_with_a_timed_and_a_manual_pause() {
    let (namespace, controller) = start("canary", ["web-stable", "web-canary"]).await;

    let steps = json!([{ "setWeight": 34 }, { "pause": { "duration": 2 } }, { "setWeight": 67 }, { "pause": {} }]);
    apply(&namespace, &rollout("registry.invalid/web:1", &steps)).await;
    let first = wait_for_status(&namespace, "initial deploy", |status| {
        status.phase == Some(Phase::Healthy) && !status.stable_rs.is_empty()
    })
    .await;
    let v1 = first.stable_rs.clone();
    assert_eq!(first.available_replicas, 3);
    selector_becomes(&namespace, "web-stable", &v1).await;

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
    selector_becomes(&namespace, "web-canary", &v2).await;
    selector_becomes(&namespace, "web-stable", &v1).await;

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

    let promoted = tidegate(&namespace, &["promote", "--direct", "web"]);
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
    selector_becomes(&namespace, "web-stable", &v2).await;

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
    let (namespace, controller) = start("abort", ["web-stable", "web-canary"]).await;

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
    selector_becomes(&namespace, "web-canary", &v1).await;
    controller.stop().await;
}

#[tokio::test]
async fn a_new_revision_during_a_pause_supersedes_the_canary() {
    let (namespace, controller) = start("supersede", ["web-stable", "web-canary"]).await;

    let steps = json!([{ "setWeight": 34 }, { "pause": {} }, { "setWeight": 67 }, { "pause": {} }]);
    apply(&namespace, &rollout("registry.invalid/web:1", &steps)).await;
    let v1 = wait_for_status(&namespace, "initial deploy", |status| {
        status.phase == Some(Phase::Healthy)
    })
    .await
    .stable_rs;
    apply(&namespace, &rollout("registry.invalid/web:2", &steps)).await;
    let v2 = wait_for_status(&namespace, "v2 paused", |status| {
        status.phase == Some(Phase::Paused)
    })
    .await
    .current_pod_hash;

    apply(&namespace, &rollout("registry.invalid/web:3", &steps)).await;
    let paused = wait_for_status(&namespace, "v3 paused at its first pause", |status| {
        status.phase == Some(Phase::Paused)
            && status.current_pod_hash != v2
            && status.current_step_index == Some(1)
    })
    .await;
    let v3 = paused.current_pod_hash;
    assert_eq!(paused.stable_rs, v1, "v1 stays stable");
    wait_for("v2 to drain and v3 to take 34 %", TIMEOUT, || async {
        let found = replica_sets(&namespace).await;
        let spec = |hash: &str| {
            found
                .iter()
                .find(|(h, ..)| h == hash)
                .map(|(_, spec, _)| *spec)
        };
        (spec(&v2) == Some(0) && spec(&v3) == Some(1) && spec(&v1) == Some(2)).then_some(())
    })
    .await;
    controller.stop().await;
}

#[tokio::test]
async fn blue_green_switches_the_active_service_only_after_promotion() {
    let (namespace, controller) = start("bluegreen", ["web-active", "web-preview"]).await;

    let strategy = json!({
        "activeService": "web-active",
        "previewService": "web-preview",
        "autoPromotionEnabled": false,
        "previewReplicaCount": 1,
        "scaleDownDelaySeconds": 2,
    });
    apply(&namespace, &blue_green("registry.invalid/web:1", &strategy)).await;
    let v1 = wait_for_status(&namespace, "initial deploy", |status| {
        status.phase == Some(Phase::Healthy)
    })
    .await
    .stable_rs;
    selector_becomes(&namespace, "web-active", &v1).await;

    apply(&namespace, &blue_green("registry.invalid/web:2", &strategy)).await;
    let paused = wait_for_status(&namespace, "the blue-green pause", |status| {
        status.phase == Some(Phase::Paused) && status.message == "BlueGreenPause"
    })
    .await;
    let v2 = paused.current_pod_hash;
    let mut expected = vec![(v1.clone(), 3, 3), (v2.clone(), 1, 1)];
    expected.sort();
    wait_for(
        "the preview at its own size beside the full stable",
        TIMEOUT,
        || async { (replica_sets(&namespace).await == expected).then_some(()) },
    )
    .await;
    selector_becomes(&namespace, "web-preview", &v2).await;
    assert_eq!(
        selector_of(&namespace, "web-active").await.as_deref(),
        Some(v1.as_str()),
        "no switch yet"
    );
    // As Argo writes them, for tools that read them (Argo CD's health check).
    let selectors = |status: &k8s::crd::RolloutStatus| {
        status.blue_green.as_ref().map(|blue_green| {
            (
                blue_green.active_selector.clone(),
                blue_green.preview_selector.clone(),
            )
        })
    };
    wait_for_status(&namespace, "the selectors in the status", |status| {
        selectors(status) == Some((v1.clone(), v2.clone()))
    })
    .await;

    tidegate(&namespace, &["promote", "--direct", "web"]);
    let promoted = wait_for_status(&namespace, "promotion", |status| {
        status.phase == Some(Phase::Healthy) && status.stable_rs == v2
    })
    .await;
    assert_eq!(selectors(&promoted), Some((v2.clone(), v2.clone())));
    selector_becomes(&namespace, "web-active", &v2).await;
    wait_for(
        "the old revision to scale down after its delay",
        TIMEOUT,
        || async {
            let found = replica_sets(&namespace).await;
            let old = found
                .iter()
                .find(|(hash, ..)| *hash == v1)
                .map(|(_, spec, _)| *spec);
            (old == Some(0)).then_some(())
        },
    )
    .await;
    controller.stop().await;
}

#[tokio::test]
async fn blue_green_promotes_itself_after_auto_promotion_seconds() {
    let (namespace, controller) = start("autopromote", ["web-active", "web-preview"]).await;

    let strategy = json!({
        "activeService": "web-active",
        "previewService": "web-preview",
        "autoPromotionSeconds": 2,
    });
    apply(&namespace, &blue_green("registry.invalid/web:1", &strategy)).await;
    wait_for_status(&namespace, "initial deploy", |status| {
        status.phase == Some(Phase::Healthy)
    })
    .await;
    apply(&namespace, &blue_green("registry.invalid/web:2", &strategy)).await;
    wait_for_status(&namespace, "the automatic pause", |status| {
        status.message == "BlueGreenPause"
    })
    .await;
    let done = wait_for_status(&namespace, "automatic promotion", |status| {
        status.phase == Some(Phase::Healthy) && status.stable_rs == status.current_pod_hash
    })
    .await;
    selector_becomes(&namespace, "web-active", &done.stable_rs).await;
    controller.stop().await;
}

async fn pod_names(namespace: &TestNamespace) -> Vec<String> {
    let pods = namespace
        .api::<k8s::Pod>()
        .list(&k8s::ListParams::default().labels("app=web"))
        .await;
    let mut names: Vec<_> = pods
        .expect("list pods")
        .items
        .into_iter()
        .filter_map(|pod| pod.metadata.name)
        .collect();
    names.sort();
    names
}

/// A namespace with a controller and Rollout `web` (one 50 % step) deployed and Healthy.
async fn deployed(prefix: &str) -> (TestNamespace, RunningController) {
    let (namespace, controller) = start(prefix, ["web-stable", "web-canary"]).await;
    apply(
        &namespace,
        &rollout("registry.invalid/web:1", &json!([{ "setWeight": 50 }])),
    )
    .await;
    wait_for_status(&namespace, "initial deploy", |status| {
        status.phase == Some(Phase::Healthy)
    })
    .await;
    (namespace, controller)
}

#[tokio::test]
async fn restart_replaces_every_pod() {
    let (namespace, controller) = deployed("restart").await;
    wait_for("three pods", TIMEOUT, || async {
        (pod_names(&namespace).await.len() == 3).then_some(())
    })
    .await;
    let before = pod_names(&namespace).await;

    // restartAt has second precision: let a second pass so every pod is older.
    wait_for("a new second", TIMEOUT, || async {
        let pods = namespace
            .api::<k8s::Pod>()
            .list(&k8s::ListParams::default().labels("app=web"))
            .await;
        let newest = pods
            .expect("list pods")
            .items
            .iter()
            .filter_map(|pod| pod.metadata.creation_timestamp.clone())
            .max();
        newest
            .is_some_and(|created| created.0.as_second() < jiff::Timestamp::now().as_second())
            .then_some(())
    })
    .await;
    let said = tidegate(&namespace, &["restart", "web"]);
    assert!(
        said.starts_with(&format!("rollout {}/web restarting", namespace.name())),
        "{said}"
    );
    wait_for_status(&namespace, "the restart", |status| {
        status.restarted_at.is_some() && status.phase == Some(Phase::Healthy)
    })
    .await;
    let after = wait_for("three new pods", TIMEOUT, || async {
        let names = pod_names(&namespace).await;
        (names.len() == 3).then_some(names)
    })
    .await;
    assert!(
        after.iter().all(|name| !before.contains(name)),
        "{before:?} -> {after:?}"
    );
    controller.stop().await;
}

/// The `role` label of every pod of revision `hash`, sorted.
async fn roles_of_pods(namespace: &TestNamespace, hash: &str) -> Vec<Option<String>> {
    let selector = format!("rollouts-pod-template-hash={hash}");
    let pods = namespace
        .api::<k8s::Pod>()
        .list(&k8s::ListParams::default().labels(&selector))
        .await
        .expect("list pods");
    let mut roles: Vec<_> = pods
        .items
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .map(|pod| pod.labels().get("role").cloned())
        .collect();
    roles.sort();
    roles
}

#[tokio::test]
async fn role_metadata_and_anti_affinity_shape_the_pods_of_each_revision() {
    let (namespace, controller) = start("rolemeta", ["web-stable", "web-canary"]).await;
    let with_roles = |image: &str| {
        let mut manifest = rollout(image, &json!([{ "setWeight": 34 }, { "pause": {} }]));
        manifest["spec"]["strategy"]["canary"]["canaryMetadata"] =
            json!({ "labels": { "role": "canary", "track": "trial" } });
        manifest["spec"]["strategy"]["canary"]["stableMetadata"] =
            json!({ "labels": { "role": "stable" } });
        manifest["spec"]["strategy"]["canary"]["antiAffinity"] =
            json!({ "preferredDuringSchedulingIgnoredDuringExecution": { "weight": 50 } });
        manifest
    };
    apply(&namespace, &with_roles("registry.invalid/web:1")).await;
    let first = wait_for_status(&namespace, "initial deploy", |status| {
        status.phase == Some(Phase::Healthy) && !status.stable_rs.is_empty()
    })
    .await;
    let v1 = first.stable_rs.clone();
    let stable = Some("stable".to_owned());
    wait_for("the stable pods marked", TIMEOUT, || async {
        (roles_of_pods(&namespace, &v1).await == vec![stable.clone(); 3]).then_some(())
    })
    .await;

    apply(&namespace, &with_roles("registry.invalid/web:2")).await;
    let paused = wait_for_status(&namespace, "the pause", |status| {
        status.phase == Some(Phase::Paused)
    })
    .await;
    let v2 = paused.current_pod_hash.clone();
    let canary = Some("canary".to_owned());
    wait_for("one canary pod marked", TIMEOUT, || async {
        (roles_of_pods(&namespace, &v2).await == vec![canary.clone()]).then_some(())
    })
    .await;
    let canary_set = namespace
        .api::<k8s::ReplicaSet>()
        .get(&format!("web-{v2}"))
        .await
        .expect("the canary's ReplicaSet");
    let affinity = canary_set
        .spec
        .template
        .as_ref()
        .and_then(|template| template.spec.as_ref())
        .and_then(|pod| pod.affinity.as_ref());
    let rule = serde_json::to_value(affinity).expect("serialises");
    let term = &rule["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(term["weight"], 50, "{rule}");
    assert_eq!(
        term["podAffinityTerm"]["labelSelector"]["matchExpressions"][0],
        json!({ "key": "rollouts-pod-template-hash", "operator": "In", "values": [v1] }),
        "the canary avoids the stable pods' nodes: {rule}"
    );
    assert_eq!(
        term["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname",
        "{rule}"
    );
    wait_for("the stable pods still marked", TIMEOUT, || async {
        (roles_of_pods(&namespace, &v1).await == vec![stable.clone(); 2]).then_some(())
    })
    .await;

    tidegate(&namespace, &["promote", "--full", "--direct", "web"]);
    wait_for_status(&namespace, "promotion", |status| {
        status.phase == Some(Phase::Healthy) && status.stable_rs == v2
    })
    .await;
    // The canary pod that became stable is relabelled in place; the ones added later
    // come from the template, which changed first.
    wait_for("every new pod marked stable", TIMEOUT, || async {
        (roles_of_pods(&namespace, &v2).await == vec![stable.clone(); 3]).then_some(())
    })
    .await;
    let pods = namespace
        .api::<k8s::Pod>()
        .list(&k8s::ListParams::default().labels(&format!("rollouts-pod-template-hash={v2}")))
        .await
        .expect("list pods");
    for pod in &pods.items {
        assert_eq!(pod.labels().get("track"), None, "{}", pod.name_any());
    }
    let replica_set = namespace
        .api::<k8s::ReplicaSet>()
        .get(&format!("web-{v2}"))
        .await
        .expect("the new ReplicaSet");
    assert_eq!(
        replica_set
            .annotations()
            .get("rollout.argoproj.io/ephemeral-metadata")
            .map(String::as_str),
        Some(r#"{"labels":{"role":"stable"}}"#),
        "recorded as Argo records it"
    );
    controller.stop().await;
}

#[tokio::test]
async fn a_missing_service_holds_the_rollout_until_it_appears() {
    let namespace = TestNamespace::create("noservice").await;
    install_crds(&namespace.client()).await;
    let controller = RunningController::start(&namespace);
    apply(
        &namespace,
        &rollout("registry.invalid/web:1", &json!([{ "setWeight": 50 }])),
    )
    .await;
    wait_for("a ServiceNotFound warning", TIMEOUT, || async {
        event_reasons(&namespace)
            .await
            .iter()
            .any(|reason| reason == "ServiceNotFound")
            .then_some(())
    })
    .await;
    assert!(
        replica_sets(&namespace)
            .await
            .iter()
            .all(|(_, spec, _)| *spec == 0),
        "nothing scaled"
    );

    create_services(&namespace, ["web-stable", "web-canary"]).await;
    wait_for_status(&namespace, "the deploy once the Services exist", |status| {
        status.phase == Some(Phase::Healthy)
    })
    .await;
    controller.stop().await;
}

/// Runs the `tidegate` binary against the namespace, off the test's runtime so the
/// controller it runs goes on meanwhile; returns whether it succeeded, its stdout and its
/// stderr.
async fn tidegate_outcome(namespace: &TestNamespace, args: &[&str]) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tidegate"));
    command
        .args(args)
        .args(["--namespace", namespace.name(), "--kubeconfig"])
        .arg(crate::support::kubeconfig());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the command's thread")
        .expect("run tidegate");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn wait_ends_on_healthy_or_degraded_and_terminate_stops_a_run() {
    let (namespace, controller) = deployed("wait").await;
    let (ok, out, err) = tidegate_outcome(&namespace, &["wait", "web", "--timeout", "60s"]).await;
    assert!(ok, "{out}{err}");
    assert_eq!(out.lines().last(), Some("Healthy"), "{out}");

    let steps = json!([{ "setWeight": 50 }, { "pause": {} }]);
    apply(&namespace, &rollout("registry.invalid/web:2", &steps)).await;
    wait_for_status(&namespace, "the pause", |status| {
        status.phase == Some(Phase::Paused)
    })
    .await;
    let (ok, out, err) = tidegate_outcome(&namespace, &["wait", "web", "--timeout", "5s"]).await;
    assert!(!ok, "a paused update is not done: {out}");
    assert_eq!(out, "Paused - CanaryPauseStep\n");
    assert!(
        err.contains("neither Healthy nor Degraded after 5s"),
        "{err}"
    );

    // Waiting from the moment of the abort: Degraded ends the wait.
    tidegate(&namespace, &["abort", "web"]);
    let (ok, out, err) = tidegate_outcome(&namespace, &["wait", "web", "--timeout", "60s"]).await;
    assert!(!ok, "{out}");
    assert!(err.contains("is Degraded: RolloutAborted"), "{out}{err}");

    let run = json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisRun",
        "metadata": {"name": "by-hand"},
        "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}]}});
    let run: tidegate::k8s::crd::AnalysisRun = serde_json::from_value(run).expect("a run");
    let runs = namespace.api::<tidegate::k8s::crd::AnalysisRun>();
    runs.create(&k8s::PostParams::default(), &run)
        .await
        .expect("create the run");
    let said = tidegate(&namespace, &["terminate", "analysisrun", "by-hand"]);
    assert_eq!(
        said,
        format!("analysisrun {}/by-hand terminated\n", namespace.name())
    );
    assert!(runs.get("by-hand").await.expect("the run").spec.terminate);
    let (ok, _, err) = tidegate_outcome(&namespace, &["terminate", "analysisrun", "missing"]).await;
    assert!(!ok && err.contains("missing"), "{err}");
    controller.stop().await;
}

#[tokio::test]
async fn read_commands_print_json_and_yaml_and_hint_at_typos() {
    let (namespace, controller) = deployed("cli").await;

    let listed: serde_json::Value =
        serde_json::from_str(&tidegate(&namespace, &["list", "rollouts", "-o", "json"]))
            .expect("JSON");
    assert_eq!(listed[0]["metadata"]["name"], "web");
    let yaml = tidegate(&namespace, &["get", "rollout", "web", "--output", "yaml"]);
    assert!(
        yaml.contains("kind: Rollout") && yaml.contains("phase: Healthy"),
        "{yaml}"
    );

    let typo = std::process::Command::new(env!("CARGO_BIN_EXE_tidegate"))
        .args([
            "promote",
            "wbe",
            "--namespace",
            namespace.name(),
            "--kubeconfig",
        ])
        .arg(crate::support::kubeconfig())
        .output()
        .expect("run tidegate");
    assert_eq!(typo.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "error: no Rollout named \"wbe\" in namespace \"{}\"; did you mean \"web\"?",
            namespace.name()
        )
    );
    controller.stop().await;
}
