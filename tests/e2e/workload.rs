//! `workloadRef` through GitOps on the real control plane: a Rollout from Git whose pod
//! template is a Deployment's, also from Git. The Rollout waits (Degraded, saying why) until
//! the Deployment exists, runs its template, takes over from it (`scaleDown:
//! progressively`), and runs each change of the Deployment's template as a new revision
//! through its steps — while the Deployment, whose replicas the Rollout now owns, never
//! serves that revision by itself, though Git still says `replicas: 3` on every commit.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tidegate::k8s::crd::Phase;
use tidegate::k8s::{self, ResourceExt};
use tidegate::sync::SyncResult;

use crate::support::daemon::{Daemon, apps_source, wait_for_sync};
use crate::support::git::GitServer;
use crate::support::rollout::{tidegate, wait_for_status};
use crate::support::{TIMEOUT, TestNamespace, install_crds, wait_for};

const SERVICES: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web-canary\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-stable\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n";

/// An Argo Rollout, unchanged: no template, no selector, only the reference.
fn rollout() -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 3,
            "workloadRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "web",
                "scaleDown": "progressively",
            },
            "strategy": { "canary": {
                "canaryService": "web-canary",
                "stableService": "web-stable",
                "steps": [{ "setWeight": 34 }, { "pause": {} }],
            } },
        },
    })
}

/// The Deployment as Git has it: 3 replicas, always.
fn deployment(image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 3,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": image }] },
            },
        },
    })
}

fn yaml(manifest: &Value) -> String {
    serde_json::to_string_pretty(manifest).expect("manifests serialize")
}

/// The Deployment's `spec.replicas` and who owns them.
async fn deployment_replicas(ns: &TestNamespace) -> (i32, Vec<String>) {
    let found = ns
        .api::<k8s::Deployment>()
        .get("web")
        .await
        .expect("get the Deployment");
    let owners = found
        .managed_fields()
        .iter()
        .filter(|entry| {
            entry
                .fields_v1
                .as_ref()
                .is_some_and(|fields| fields.0.pointer("/f:spec/f:replicas").is_some())
        })
        .filter_map(|entry| entry.manager.clone())
        .collect();
    (found.spec.replicas.unwrap_or(1), owners)
}

/// The largest `spec.replicas` any version of the Deployment had while watched.
struct ReplicasWatch {
    most: Arc<Mutex<i32>>,
    task: tokio::task::JoinHandle<()>,
}

impl ReplicasWatch {
    async fn start(ns: &TestNamespace) -> Self {
        use futures::StreamExt;
        use kube::runtime::WatchStreamExt;
        let most = Arc::new(Mutex::new(0));
        let (shared, deployments) = (most.clone(), ns.api::<k8s::Deployment>());
        let config = kube::runtime::watcher::Config::default().fields("metadata.name=web");
        let (ready, watching) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut ready = Some(ready);
            let mut updates =
                std::pin::pin!(kube::runtime::watcher(deployments, config).applied_objects());
            while let Some(Ok(found)) = updates.next().await {
                let replicas = found.spec.replicas.unwrap_or(1);
                let mut most = shared.lock().expect("no lock held across a panic");
                *most = (*most).max(replicas);
                drop(most);
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
            }
        });
        let _ = watching.await;
        Self { most, task }
    }

    fn most(self) -> i32 {
        self.task.abort();
        *self.most.lock().expect("no lock held across a panic")
    }
}

/// The Rollout in the API keeps only its reference; its status names the Deployment's selector.
async fn assert_only_the_reference_stored(ns: &TestNamespace) {
    let rollout = ns
        .api::<tidegate::k8s::crd::Rollout>()
        .get("web")
        .await
        .expect("get the Rollout");
    assert!(
        rollout.spec.template.is_none() && rollout.spec.selector.is_none(),
        "nothing resolved is written back"
    );
    assert_eq!(
        rollout
            .status
            .as_ref()
            .map(|status| status.selector.as_str()),
        Some("app=web"),
        "the Deployment's selector is the Rollout's"
    );
}

/// Waits until every pod labelled `app=web` is the Rollout's, of revision `hash`.
async fn only_pods_of(ns: &TestNamespace, hash: &str) {
    wait_for(
        "only the Rollout's pods of the revision left",
        TIMEOUT,
        || async {
            let pods = ns
                .api::<k8s::Pod>()
                .list(&k8s::ListParams::default().labels("app=web"))
                .await
                .expect("list pods");
            let prefix = format!("web-{hash}");
            pods.items
                .iter()
                .all(|pod| {
                    pod.owner_references()
                        .first()
                        .is_some_and(|owner| owner.name.starts_with(&prefix))
                })
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_workload_ref_rollout_takes_over_its_deployment_and_runs_each_template_change() {
    let ns = TestNamespace::create("workload").await;
    install_crds(&ns.client()).await;
    let server = GitServer::start(None);
    let repo = server.repo("apps");
    repo.write("services.yaml", SERVICES)
        .write("rollout.yaml", yaml(&rollout()));
    let first = repo.commit("a Rollout whose Deployment is not there yet");
    let source = apps_source(&server.url("apps"), &ns);
    let daemon = Daemon::start_controlling(&ns, &source, "");
    wait_for_sync(&ns, "apps", &first, SyncResult::Applied).await;
    let waiting = wait_for_status(&ns, "the missing Deployment reported", |status| {
        status.phase == Some(Phase::Degraded)
    })
    .await;
    assert!(
        waiting
            .message
            .contains("spec.workloadRef: Deployment \"web\" not found"),
        "{waiting:#?}"
    );

    // The Deployment arrives: its template is the Rollout's first revision, and its pods
    // give way as the Rollout's become available.
    repo.write(
        "deployment.yaml",
        yaml(&deployment("registry.invalid/web:1")),
    );
    let second = repo.commit("the Deployment");
    wait_for_sync(&ns, "apps", &second, SyncResult::Applied).await;
    let live = wait_for_status(&ns, "the first revision", |status| {
        status.phase == Some(Phase::Healthy) && !status.stable_rs.is_empty()
    })
    .await;
    let v1 = live.stable_rs.clone();
    assert_eq!(live.available_replicas, 3);
    wait_for("the Deployment scaled down", TIMEOUT, || async {
        (deployment_replicas(&ns).await.0 == 0).then_some(())
    })
    .await;
    let (_, owners) = deployment_replicas(&ns).await;
    assert_eq!(
        owners,
        ["tidegate-rollout"],
        "the Rollout owns the replicas"
    );
    assert_only_the_reference_stored(&ns).await;

    // A new template in the Deployment is the Rollout's next revision: it stops at the
    // canary's pause, and the Deployment — Git's `replicas: 3` notwithstanding — never
    // scales up to roll it out by itself.
    let watch = ReplicasWatch::start(&ns).await;
    repo.write(
        "deployment.yaml",
        yaml(&deployment("registry.invalid/web:2")),
    );
    let third = repo.commit("web 2");
    wait_for_sync(&ns, "apps", &third, SyncResult::Applied).await;
    let paused = wait_for_status(&ns, "the canary's pause", |status| {
        status.phase == Some(Phase::Paused) && status.current_pod_hash != v1
    })
    .await;
    assert_eq!(paused.stable_rs, v1);
    let v2 = paused.current_pod_hash.clone();
    let fourth = {
        repo.write(
            "services.yaml",
            format!("{SERVICES}# an unrelated change\n"),
        );
        repo.commit("an unrelated commit")
    };
    wait_for_sync(&ns, "apps", &fourth, SyncResult::Applied).await;
    tidegate(&ns, &["promote", "--full", "--direct", "web"]);
    wait_for_status(&ns, "the second revision", |status| {
        status.phase == Some(Phase::Healthy) && status.stable_rs == v2
    })
    .await;
    assert_eq!(
        watch.most(),
        0,
        "the Deployment never served a revision itself"
    );
    only_pods_of(&ns, &v2).await;
    an_outside_change_wakes_the_rollout(&ns, &v2).await;
    daemon.stop().await;
}

/// A template change made to the Deployment outside the Rollout's source (by a person, or
/// another source) starts a revision too: the Deployment's watch wakes the Rollout, which
/// nothing else touched.
async fn an_outside_change_wakes_the_rollout(ns: &TestNamespace, current: &str) {
    let patch = json!({ "spec": { "template": { "spec": { "containers": [
        { "name": "web", "image": "registry.invalid/web:3" }
    ] } } } });
    ns.api::<k8s::Deployment>()
        .patch(
            "web",
            &k8s::PatchParams::default(),
            &k8s::Patch::Strategic(patch),
        )
        .await
        .expect("change the Deployment's template");
    wait_for_status(ns, "the third revision at the canary's pause", |status| {
        status.phase == Some(Phase::Paused)
            && status.current_pod_hash != current
            && status.stable_rs == current
    })
    .await;
}
