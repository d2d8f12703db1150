//! Rollouts on the real control plane, for the tests that drive them: manifests, the
//! `tidegate` binary (commands and a controller process), waits on a Rollout's status, and
//! reads of what it produced (ReplicaSets, Service pins, Events).

use std::sync::Arc;

use serde_json::json;
use tidegate::analysis::controller::Settings;
use tidegate::analysis::guard::HostGuard;
use tidegate::controller::{self, Scope};
use tidegate::k8s::crd::{Rollout, RolloutStatus};
use tidegate::k8s::{self, labels};
use tidegate::metrics::Metrics;
use tidegate::model::RolloutState;
use tokio::sync::oneshot;

use super::{TIMEOUT, TestNamespace, wait_for_object};

pub async fn create_services(namespace: &TestNamespace, names: [&str; 2]) {
    let services = namespace.api::<k8s::Service>();
    for name in names {
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

pub fn rollout(image: &str, steps: &serde_json::Value) -> serde_json::Value {
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

pub async fn apply(namespace: &TestNamespace, manifest: &serde_json::Value) {
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

pub async fn wait_for_status(
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
pub fn tidegate(namespace: &TestNamespace, args: &[&str]) -> String {
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
pub async fn act(
    namespace: &TestNamespace,
    action: impl Fn(&Rollout, &RolloutState) -> RolloutState,
) {
    k8s::act(
        &namespace.client(),
        namespace.name(),
        "web",
        |rollout, state| Ok(action(rollout, state)),
    )
    .await
    .expect("record the action");
}

pub async fn replica_sets(namespace: &TestNamespace) -> Vec<(String, i32, i32)> {
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

pub async fn selector_of(namespace: &TestNamespace, service: &str) -> Option<String> {
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

pub async fn event_reasons(namespace: &TestNamespace) -> Vec<String> {
    event_notes(namespace)
        .await
        .into_iter()
        .map(|(reason, _)| reason)
        .collect()
}

/// The (reason, message) of every Event in the namespace.
pub async fn event_notes(namespace: &TestNamespace) -> Vec<(String, String)> {
    let events = namespace
        .api::<k8s_openapi::api::events::v1::Event>()
        .list(&k8s::ListParams::default())
        .await
        .expect("list Events");
    events
        .items
        .into_iter()
        .filter_map(|event| Some((event.reason?, event.note.unwrap_or_default())))
        .collect()
}

pub fn blue_green(image: &str, strategy: &serde_json::Value) -> serde_json::Value {
    let mut manifest = rollout(image, &json!([]));
    manifest["spec"]["strategy"] = json!({ "blueGreen": strategy });
    manifest
}

/// A `tidegate controller` process of the real binary for one namespace, allowed to reach
/// loopback for analysis, with its log in a file of its own (at `warn`, or the filter in
/// `TIDEGATE_TEST_CONTROLLER_LOG`).
pub struct ControllerProcess {
    child: std::process::Child,
    log: std::path::PathBuf,
    _dir: super::git::TempDir,
}

impl ControllerProcess {
    /// Starts it; `failpoints` is the `fail` crate's `FAILPOINTS` setting (the binary has
    /// failpoints only when the tests are built with `--features failpoints`).
    pub fn start(namespace: &TestNamespace, failpoints: Option<&str>) -> Self {
        let level =
            std::env::var("TIDEGATE_TEST_CONTROLLER_LOG").unwrap_or_else(|_| "warn".to_owned());
        Self::start_logging(namespace, failpoints, &level)
    }

    /// Starts it with `RUST_LOG` at `level`.
    pub fn start_logging(namespace: &TestNamespace, failpoints: Option<&str>, level: &str) -> Self {
        let dir = super::git::TempDir::new("controller");
        let log = dir.path().join("controller.log");
        let file = std::fs::File::create(&log).expect("create the controller's log");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tidegate"));
        command
            .args([
                "controller",
                "--analysis-allowed-host",
                "127.0.0.1/32",
                "--namespace",
                namespace.name(),
                "--kubeconfig",
            ])
            .arg(crate::support::kubeconfig())
            .env("RUST_LOG", level)
            .stdout(std::process::Stdio::null())
            .stderr(file);
        if let Some(failpoints) = failpoints {
            command.env("FAILPOINTS", failpoints);
        }
        let child = command.spawn().expect("start tidegate controller");
        Self {
            child,
            log,
            _dir: dir,
        }
    }

    /// How it exited, if it did.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .try_wait()
            .expect("look at the controller process")
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(mut self) {
        self.child.kill().expect("kill the controller");
        self.child.wait().expect("reap the controller");
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The notes of the Events about Rollout `web`.
pub async fn rollout_notes(namespace: &TestNamespace) -> Vec<String> {
    let events = namespace
        .api::<k8s_openapi::api::events::v1::Event>()
        .list(&k8s::ListParams::default())
        .await
        .expect("list Events");
    notes_about_web(&events.items)
}

/// The notes of those of `events` that are about Rollout `web`.
pub fn notes_about_web(events: &[k8s_openapi::api::events::v1::Event]) -> Vec<String> {
    events
        .iter()
        .filter(|event| {
            event.regarding.as_ref().is_some_and(|regarding| {
                regarding.kind.as_deref() == Some("Rollout")
                    && regarding.name.as_deref() == Some("web")
            })
        })
        .filter_map(|event| event.note.clone())
        .collect()
}

/// The Rollout and AnalysisRun controllers for one namespace, allowed to reach loopback.
pub struct Controllers {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    /// Their metrics.
    pub metrics: Arc<Metrics>,
}

impl Controllers {
    pub fn start(namespace: &TestNamespace) -> Self {
        let (stop, stopped) = oneshot::channel();
        let metrics = Arc::new(Metrics::default());
        let settings = Settings {
            guard: HostGuard::new(&["127.0.0.1/32"]).unwrap_or_default(),
            metrics: metrics.clone(),
            namespace: namespace.name().to_owned(),
        };
        let scope = Scope::Namespace(namespace.name().to_owned());
        let task = tokio::spawn(controller::run_all(
            namespace.client(),
            scope,
            settings,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            stop: Some(stop),
            task,
            metrics,
        }
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().expect("stopped once").send(());
        tokio::time::timeout(TIMEOUT, &mut self.task)
            .await
            .expect("controllers stop")
            .expect("controller task");
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        self.task.abort();
    }
}
