//! The GitOps path end to end: Git (real `git http-backend` or a local repository) → the
//! daemon (`tidegate run`'s code, in-process) → the real apiserver; invalid revisions, prune,
//! drift, self-heal, webhooks and credentials.

use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use k8s_openapi::api::events::v1::Event;
use tidegate::k8s::{self, ConfigMap, Service};
use tidegate::sync::{Records, SyncResult};

use crate::support::daemon::{Daemon, wait_for_sync};
use crate::support::git::{GitServer, Repo, TempDir};
use crate::support::{self, TIMEOUT, TestNamespace, wait_for};

fn source(name: &str, url: &str, ns: &TestNamespace, extra: &str) -> String {
    format!(
        "- name: {name}\n  url: {url}\n  namespace: {}\n  interval: 1h\n{extra}",
        ns.name()
    )
}

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  mode: {value}\n")
}

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports:\n  - port: 80\n";

async fn data(ns: &TestNamespace, name: &str) -> Option<String> {
    let map = ns.api::<ConfigMap>().get_opt(name).await.ok()??;
    map.data?.get("mode").cloned()
}

async fn wait_for_data(ns: &TestNamespace, name: &str, value: &str) {
    wait_for(
        &format!("ConfigMap {name} mode={value}"),
        TIMEOUT,
        || async { (data(ns, name).await.as_deref() == Some(value)).then_some(()) },
    )
    .await;
}

fn sign(secret: &[u8], body: &[u8]) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), body);
    tag.as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .concat()
}

#[tokio::test]
async fn commits_are_applied_and_signed_webhooks_trigger_a_fetch() {
    let ns = TestNamespace::create("gitops-hook").await;
    let server = GitServer::start(None);
    let repo = server.repo("shop");
    repo.write("app/settings.yaml", config_map("settings", "one"))
        .write("app/service.yaml", SERVICE);
    let first = repo.commit("first");
    let secrets = TempDir::new("webhook-secret");
    let secret_file = secrets.path().join("secret");
    std::fs::write(&secret_file, "hook-secret\n").unwrap();
    let daemon = Daemon::start(
        &ns,
        &source("shop", &server.url("shop"), &ns, "  path: app\n"),
        &format!("webhook:\n  secret: {{file: {}}}\n", secret_file.display()),
    );
    wait_for_sync(&ns, "shop", &first, SyncResult::Applied).await;
    let map = ns.api::<ConfigMap>().get("settings").await.unwrap();
    assert_eq!(
        map.metadata
            .labels
            .unwrap()
            .get(k8s::labels::SOURCE)
            .map(String::as_str),
        Some("shop")
    );
    let service = ns.api::<Service>().get("web").await.unwrap();
    assert!(
        service
            .metadata
            .managed_fields
            .unwrap()
            .iter()
            .any(|entry| entry.manager.as_deref() == Some("tidegate-sync"))
    );
    wait_for("ready", TIMEOUT, || async {
        reqwest::get(daemon.url("/readyz"))
            .await
            .ok()?
            .status()
            .is_success()
            .then_some(())
    })
    .await;

    repo.write("app/settings.yaml", config_map("settings", "two"));
    let second = repo.commit("second");
    let fetches = "tidegate_git_fetch_duration_seconds_count{source=\"shop\"}";
    let before = daemon.metric(fetches).await.expect("fetches counted");
    let body = format!(
        r#"{{"ref":"refs/heads/main","repository":{{"clone_url":"{}"}}}}"#,
        server.url("shop")
    );
    let client = reqwest::Client::new();
    let hook = |signature: String| {
        client
            .post(daemon.url("/hooks/git"))
            .header("X-GitHub-Event", "push")
            .header("X-Hub-Signature-256", signature)
            .body(body.clone())
            .send()
    };
    let refused = hook(format!("sha256={}", sign(b"wrong-secret", body.as_bytes())))
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let oversized = client
        .post(daemon.url("/hooks/git"))
        .body(vec![b'x'; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), 413);
    assert_eq!(
        daemon.metric(fetches).await,
        Some(before),
        "a refused webhook fetched nothing"
    );
    assert_eq!(data(&ns, "settings").await.as_deref(), Some("one"));

    let accepted = hook(format!("sha256={}", sign(b"hook-secret", body.as_bytes())))
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    assert_eq!(accepted.text().await.unwrap(), r#"{"sources":["shop"]}"#);
    wait_for_sync(&ns, "shop", &second, SyncResult::Applied).await;
    assert_eq!(data(&ns, "settings").await.as_deref(), Some("two"));
    assert_eq!(
        daemon
            .metric("tidegate_syncs_total{source=\"shop\",result=\"applied\"}")
            .await,
        Some(2.0)
    );
    assert_eq!(
        daemon
            .metric("tidegate_source_sync_ok{source=\"shop\"}")
            .await,
        Some(1.0)
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_file_source_syncs_on_commit_without_waiting_for_its_interval() {
    let ns = TestNamespace::create("gitops-file").await;
    let repo = Repo::local();
    repo.write("settings.yaml", config_map("settings", "one"));
    let first = repo.commit("first");
    let daemon = Daemon::start(&ns, &source("local", &repo.file_url(), &ns, ""), "");
    wait_for_sync(&ns, "local", &first, SyncResult::Applied).await;
    repo.write("settings.yaml", config_map("settings", "two"));
    let second = repo.commit("second");
    wait_for_sync(&ns, "local", &second, SyncResult::Applied).await;
    wait_for_data(&ns, "settings", "two").await;
    daemon.stop().await;
}

const ROLLOUT: &str = "apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1
  strategy:
    canary:
      steps:
      - setWeigth: 20
";

#[tokio::test]
async fn an_invalid_revision_changes_nothing_and_says_where() {
    let ns = TestNamespace::create("gitops-invalid").await;
    support::install_crds(&ns.client()).await;
    let repo = Repo::local();
    repo.write("settings.yaml", config_map("settings", "one"));
    let good = repo.commit("good");
    let daemon = Daemon::start(&ns, &source("local", &repo.file_url(), &ns, ""), "");
    wait_for_sync(&ns, "local", &good, SyncResult::Applied).await;

    repo.write("settings.yaml", config_map("settings", "two"))
        .write("broken.yaml", "apiVersion: v1\nkind: [\n");
    let broken = repo.commit("bad YAML");
    let status = wait_for_sync(&ns, "local", &broken, SyncResult::Invalid).await;
    assert!(
        status.message.contains("broken.yaml:"),
        "{}",
        status.message
    );

    repo.remove("broken.yaml").write("rollout.yaml", ROLLOUT);
    let unknown = repo.commit("unknown field");
    let status = wait_for_sync(&ns, "local", &unknown, SyncResult::Invalid).await;
    assert!(
        status
            .message
            .contains("rollout.yaml:18: spec.strategy.canary.steps[0].setWeigth: unknown field"),
        "{}",
        status.message
    );

    repo.remove("rollout.yaml").write(
        "service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: 70000\n",
    );
    let refused = repo.commit("refused by the apiserver");
    let status = wait_for_sync(&ns, "local", &refused, SyncResult::Rejected).await;
    assert!(
        status.message.contains("service.yaml:1: Service"),
        "{}",
        status.message
    );
    assert!(status.message.contains("70000"), "{}", status.message);
    assert_eq!(status.applied_revision.as_deref(), Some(good.as_str()));
    assert_eq!(
        data(&ns, "settings").await.as_deref(),
        Some("one"),
        "nothing of a refused revision is applied"
    );
    assert!(ns.api::<Service>().get_opt("bad").await.unwrap().is_none());

    repo.remove("service.yaml");
    let fixed = repo.commit("fixed");
    wait_for_sync(&ns, "local", &fixed, SyncResult::Applied).await;
    assert_eq!(data(&ns, "settings").await.as_deref(), Some("two"));
    daemon.stop().await;
}

#[tokio::test]
async fn prune_removes_what_left_git_but_an_invalid_refused_or_empty_render_prunes_nothing() {
    let ns = TestNamespace::create("gitops-prune").await;
    let repo = Repo::local();
    repo.write("a.yaml", config_map("a", "one"))
        .write("b.yaml", config_map("b", "one"));
    let first = repo.commit("a and b");
    let daemon = Daemon::start(
        &ns,
        &source("local", &repo.file_url(), &ns, "  prune: true\n"),
        "",
    );
    wait_for_sync(&ns, "local", &first, SyncResult::Applied).await;
    assert!(data(&ns, "b").await.is_some());

    // b leaves Git in revisions that cannot be applied: nothing is pruned.
    repo.remove("b.yaml")
        .write("broken.yaml", "apiVersion: v1\nkind: [\n");
    let invalid = repo.commit("b removed, and a file that does not parse");
    wait_for_sync(&ns, "local", &invalid, SyncResult::Invalid).await;
    assert!(
        data(&ns, "b").await.is_some(),
        "an invalid render prunes nothing"
    );
    repo.remove("broken.yaml").write(
        "service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: 70000\n",
    );
    let refused = repo.commit("b removed, and a Service the apiserver refuses");
    wait_for_sync(&ns, "local", &refused, SyncResult::Rejected).await;
    assert!(
        data(&ns, "b").await.is_some(),
        "a refused revision prunes nothing"
    );

    repo.remove("service.yaml");
    let second = repo.commit("b removed");
    let status = wait_for_sync(&ns, "local", &second, SyncResult::Applied).await;
    // b, and the refused Service the inventory recorded before the dry run refused it (it
    // leaves the inventory as already gone).
    assert!(status.message.contains("pruned 2"), "{}", status.message);
    wait_for("b deleted", TIMEOUT, || async {
        data(&ns, "b").await.is_none().then_some(())
    })
    .await;

    repo.remove("a.yaml")
        .write("README.md", "nothing to deploy\n");
    let empty = repo.commit("everything removed");
    let status = wait_for_sync(&ns, "local", &empty, SyncResult::Applied).await;
    assert!(
        status
            .message
            .contains("the render is empty: nothing pruned"),
        "{}",
        status.message
    );
    assert_eq!(data(&ns, "a").await.as_deref(), Some("one"));
    daemon.stop().await;
}

/// A ValidatingAdmissionPolicy (the real admission chain) refusing every write of `record`,
/// and of a probe ConfigMap, in `ns` whose `status.json` mentions `marker`; removed when
/// dropped.
struct RefusedRecord {
    name: String,
    client: k8s::Client,
}

impl RefusedRecord {
    async fn install(ns: &TestNamespace, record: &str, marker: &str) -> Self {
        use k8s_openapi::api::admissionregistration::v1::{
            ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
        };
        let name = format!("refuse-{}", ns.name());
        let client = ns.client();
        let condition = format!(
            "!(object.metadata.name in ['{record}', 'policy-probe'] && has(object.data) && 'status.json' in object.data && object.data['status.json'].contains('{marker}'))"
        );
        let in_namespace =
            serde_json::json!({"matchLabels": {"kubernetes.io/metadata.name": ns.name()}});
        let policy: ValidatingAdmissionPolicy = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "namespaceSelector": in_namespace,
                    "resourceRules": [{
                        "apiGroups": [""], "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"],
                    }],
                },
                // The message replaces the expression, which names the marker.
                "validations": [{"expression": condition, "message": "refused by the test"}],
            },
        }))
        .expect("a policy");
        let binding: ValidatingAdmissionPolicyBinding = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {"policyName": name, "validationActions": ["Deny"]},
        }))
        .expect("a binding");
        let params = k8s::PostParams::default();
        k8s::Api::<ValidatingAdmissionPolicy>::all(client.clone())
            .create(&params, &policy)
            .await
            .expect("create the policy");
        k8s::Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
            .create(&params, &binding)
            .await
            .expect("create the binding");
        // The apiserver enforces a policy once its informer has it: wait for a refusal.
        let probe: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "policy-probe"},
            "data": {"status.json": marker},
        }))
        .expect("a probe");
        let dry_run = k8s::PostParams {
            dry_run: true,
            ..k8s::PostParams::default()
        };
        wait_for("the policy enforced", TIMEOUT, || async {
            ns.api::<ConfigMap>()
                .create(&dry_run, &probe)
                .await
                .is_err()
                .then_some(())
        })
        .await;
        Self { name, client }
    }

    async fn remove(self) {
        use k8s_openapi::api::admissionregistration::v1::{
            ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
        };
        let params = k8s::DeleteParams::default();
        let _ = k8s::Api::<ValidatingAdmissionPolicyBinding>::all(self.client.clone())
            .delete(&self.name, &params)
            .await;
        let _ = k8s::Api::<ValidatingAdmissionPolicy>::all(self.client.clone())
            .delete(&self.name, &params)
            .await;
    }
}

/// Fail closed: a commit whose inventory cannot be recorded first is not applied (an object
/// applied but missing from the inventory would never be pruned); once the record can be
/// written again, the commit is applied.
#[tokio::test]
async fn a_commit_whose_inventory_cannot_be_recorded_is_not_applied() {
    let ns = TestNamespace::create("gitops-inventory").await;
    let repo = Repo::local();
    repo.write("a.yaml", config_map("a", "one"));
    let first = repo.commit("a");
    let daemon = Daemon::start(
        &ns,
        &source("local", &repo.file_url(), &ns, "  prune: true\n"),
        "",
    );
    wait_for_sync(&ns, "local", &first, SyncResult::Applied).await;

    let refused = RefusedRecord::install(&ns, "tidegate-source-local", "unrecorded").await;
    repo.write("b.yaml", config_map("unrecorded", "two"));
    let second = repo.commit("an object whose inventory the record refuses");
    let status = wait_for_sync(&ns, "local", &second, SyncResult::Failed).await;
    assert!(
        status.message.contains("inventory cannot be recorded"),
        "{}",
        status.message
    );
    assert!(
        data(&ns, "unrecorded").await.is_none(),
        "applied without a recorded inventory"
    );
    assert_eq!(
        status.applied_revision.as_deref(),
        Some(first.as_str()),
        "the last applied commit stands"
    );

    refused.remove().await;
    let status = wait_for_sync(&ns, "local", &second, SyncResult::Applied).await;
    assert!(
        status
            .inventory
            .iter()
            .any(|item| item.name == "unrecorded"),
        "{:?}",
        status.inventory
    );
    assert_eq!(data(&ns, "unrecorded").await.as_deref(), Some("two"));
    daemon.stop().await;
}

fn write_config(dir: &TempDir, ns: &TestNamespace, url: &str) -> std::path::PathBuf {
    let path = dir.path().join("tidegate.yaml");
    let text = format!(
        "sources:\n{}state:\n  namespace: {}\n  cacheDir: {}\n",
        source("local", url, ns, ""),
        ns.name(),
        dir.path().join("cache").display()
    );
    std::fs::write(&path, text).expect("write the configuration");
    path
}

fn tidegate(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tidegate"))
        .args(args)
        .arg("--kubeconfig")
        .arg(support::kubeconfig())
        .output()
        .expect("run tidegate")
}

async fn drift_events(ns: &TestNamespace, object: &str, reason: &str) -> usize {
    let events: k8s::Api<Event> = k8s::Api::namespaced(ns.client(), ns.name());
    let list = events
        .list(&k8s::ListParams::default())
        .await
        .expect("list Events");
    list.items
        .iter()
        .filter(|event| {
            event.reason.as_deref() == Some(reason)
                && event.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(object)
        })
        .count()
}

/// `tidegate status` shows the source as applied at `commit`.
fn assert_status_row(config: &str, commit: &str) {
    let table = tidegate(&["status", "--config", config]);
    let table_text = String::from_utf8_lossy(&table.stdout);
    let row = table_text
        .lines()
        .find(|line| line.starts_with("local "))
        .unwrap_or_default();
    assert!(
        row.contains(" applied ") && row.contains(&commit[..12]),
        "{table_text}{}",
        String::from_utf8_lossy(&table.stderr)
    );
}

#[tokio::test]
async fn drift_is_reported_by_diff_metrics_and_events_then_healed() {
    let ns = TestNamespace::create("gitops-drift").await;
    let repo = Repo::local();
    repo.write("settings.yaml", config_map("settings", "one"))
        .write("service.yaml", SERVICE);
    let commit = repo.commit("first");
    let fast = |extra: &str| {
        source("local", &repo.file_url(), &ns, extra).replace("interval: 1h", "interval: 1s")
    };
    let daemon = Daemon::start(&ns, &fast(""), "");
    wait_for_sync(&ns, "local", &commit, SyncResult::Applied).await;
    let dir = TempDir::new("diff-config");
    let config = write_config(&dir, &ns, &repo.file_url());
    let config = config.to_str().unwrap();
    let in_sync = tidegate(&["diff", "--config", config]);
    assert_eq!(
        in_sync.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&in_sync.stdout)
    );

    let edit = serde_json::json!({"data": {"mode": "edited-by-hand"}});
    ns.api::<ConfigMap>()
        .patch(
            "settings",
            &k8s::PatchParams::default(),
            &k8s::Patch::Merge(&edit),
        )
        .await
        .unwrap();
    let drifted = tidegate(&["diff", "--config", config]);
    let stdout = String::from_utf8_lossy(&drifted.stdout);
    assert_eq!(
        drifted.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&drifted.stderr)
    );
    assert!(
        stdout.contains("-  mode: edited-by-hand\n+  mode: one\n"),
        "{stdout}"
    );
    wait_for("drift gauge", TIMEOUT, || async {
        (daemon
            .metric("tidegate_drifted_objects{source=\"local\"}")
            .await
            == Some(1.0))
        .then_some(())
    })
    .await;
    wait_for("DriftDetected Event", TIMEOUT, || async {
        (drift_events(&ns, "settings", "DriftDetected").await > 0).then_some(())
    })
    .await;

    ns.api::<Service>()
        .delete("web", &k8s::DeleteParams::default())
        .await
        .unwrap();
    let missing = tidegate(&["diff", "--config", config, "--output", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&missing.stdout).unwrap();
    let states: BTreeMap<&str, &str> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|object| {
            (
                object["object"].as_str().unwrap(),
                object["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states.get(format!("Service {}/web", ns.name()).as_str()),
        Some(&"missing"),
        "{report}"
    );
    assert_status_row(config, &commit);
    daemon.stop().await;

    let healing = Daemon::start(&ns, &fast("  selfHeal: true\n"), "");
    wait_for_data(&ns, "settings", "one").await;
    wait_for("Service recreated", TIMEOUT, || async {
        ns.api::<Service>().get_opt("web").await.ok()?.map(|_| ())
    })
    .await;
    wait_for("drift gauge back to 0", TIMEOUT, || async {
        (healing
            .metric("tidegate_drifted_objects{source=\"local\"}")
            .await
            == Some(0.0))
        .then_some(())
    })
    .await;
    healing.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_every_problem_and_the_daemon_carries_on() {
    let ns = TestNamespace::create("gitops-bad-input").await;
    let repo = Repo::local();
    repo.write("settings.yaml", config_map("settings", "one"));
    let good = repo.commit("good");
    let daemon = Daemon::start(&ns, &source("local", &repo.file_url(), &ns, ""), "");
    wait_for_sync(&ns, "local", &good, SyncResult::Applied).await;

    let bomb = include_str!("../fixtures/bad-input/bomb.yaml");
    repo.write("bomb.yaml", bomb)
        .write("huge.yaml", vec![b'#'; 100 << 20])
        .symlink("passwd.yaml", "/etc/passwd")
        .symlink("escape.yaml", "../../../etc/hostname")
        .write(
            "latin1.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n",
        )
        .write("new.yaml", config_map("new", "one"))
        .write("settings.yaml", config_map("settings", "two"));
    let bad = repo.commit("bad input");
    let status = wait_for_sync(&ns, "local", &bad, SyncResult::Invalid).await;
    for expected in [
        "bomb.yaml",
        "huge.yaml: file is 104857600 bytes",
        "passwd.yaml: symbolic link",
        "escape.yaml: symbolic link",
        "latin1.yaml:3: file is not valid UTF-8",
    ] {
        assert!(
            status.message.contains(expected),
            "{expected:?} not in:\n{}",
            status.message
        );
    }
    assert_eq!(data(&ns, "settings").await.as_deref(), Some("one"));
    assert!(data(&ns, "new").await.is_none());

    for file in [
        "bomb.yaml",
        "huge.yaml",
        "passwd.yaml",
        "escape.yaml",
        "latin1.yaml",
    ] {
        repo.remove(file);
    }
    let fixed = repo.commit("fixed");
    wait_for_sync(&ns, "local", &fixed, SyncResult::Applied).await;
    assert_eq!(data(&ns, "new").await.as_deref(), Some("one"));
    daemon.stop().await;
}

#[tokio::test]
async fn http_sources_authenticate_and_never_show_the_password() {
    let ns = TestNamespace::create("gitops-auth").await;
    let server = GitServer::start(Some("alice:s3cret-pass"));
    let repo = server.repo("private");
    repo.write("settings.yaml", config_map("settings", "one"));
    let commit = repo.commit("first");
    let secrets = TempDir::new("git-secrets");
    let (good, bad) = (secrets.path().join("good"), secrets.path().join("bad"));
    std::fs::write(&good, "s3cret-pass\n").unwrap();
    std::fs::write(&bad, "wrong-pass-value\n").unwrap();
    let auth = |file: &std::path::Path| {
        format!(
            "  auth:\n    username: alice\n    password: {{file: {}}}\n",
            file.display()
        )
    };
    let sources = format!(
        "{}{}{}",
        source("private", &server.url("private"), &ns, &auth(&good)),
        source("wrong", &server.url("private"), &ns, &auth(&bad)),
        source("anonymous", &server.url("private"), &ns, ""),
    );
    let daemon = Daemon::start(&ns, &sources, "");
    wait_for_sync(&ns, "private", &commit, SyncResult::Applied).await;
    let records = Records::new(ns.client(), ns.name());
    for name in ["wrong", "anonymous"] {
        let status = wait_for(&format!("{name} fails to fetch"), TIMEOUT, || async {
            let status = records.status(name).await.ok()?;
            (status.result == SyncResult::FetchFailed).then_some(status)
        })
        .await;
        assert!(
            !status.message.contains("wrong-pass-value") && !status.message.contains("s3cret-pass"),
            "{}",
            status.message
        );
        assert!(
            status.message.contains("fetch failed"),
            "{}",
            status.message
        );
    }
    assert_eq!(
        daemon
            .metric("tidegate_source_sync_ok{source=\"wrong\"}")
            .await,
        Some(0.0)
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_restarted_daemon_prunes_from_the_inventory_it_recorded() {
    let ns = TestNamespace::create("gitops-restart").await;
    let repo = Repo::local();
    repo.write("a.yaml", config_map("a", "one"))
        .write("b.yaml", config_map("b", "one"));
    let commit = repo.commit("first");
    let prune = source("local", &repo.file_url(), &ns, "  prune: true\n");
    let daemon = Daemon::start(&ns, &prune, "");
    wait_for_sync(&ns, "local", &commit, SyncResult::Applied).await;
    daemon.stop().await;
    repo.remove("b.yaml");
    let second = repo.commit("b removed while stopped");
    let restarted = Daemon::start(&ns, &prune, "");
    wait_for_sync(&ns, "local", &second, SyncResult::Applied).await;
    wait_for("b pruned after restart", TIMEOUT, || async {
        data(&ns, "b").await.is_none().then_some(())
    })
    .await;
    let records = Records::new(ns.client(), ns.name());
    let inventory: Vec<String> = records
        .status("local")
        .await
        .unwrap()
        .inventory
        .into_iter()
        .map(|item| item.name)
        .collect();
    assert_eq!(inventory, ["a"]);
    restarted.stop().await;
}

#[tokio::test]
async fn a_revision_may_create_the_namespaces_and_kinds_its_objects_need() {
    let ns = TestNamespace::create("gitops-new-kinds").await;
    let (namespace, group) = (
        format!("{}-apps", ns.name()),
        format!("{}.example.com", ns.name()),
    );
    let repo = Repo::local();
    repo.write(
        "namespace.yaml",
        format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"),
    )
    .write(
        "settings.yaml",
        config_map("settings", "one").replace(
            "metadata:\n",
            &format!("metadata:\n  namespace: {namespace}\n"),
        ),
    )
    .write(
        "crd.yaml",
        format!(
            "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  names: {{kind: Widget, plural: widgets, singular: widget}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {{type: integer}}
"
        ),
    )
    .write(
        "widget.yaml",
        format!(
            "apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: gear\nspec:\n  size: 3\n"
        ),
    );
    let commit = repo.commit("namespace, CRD and their objects together");
    let daemon = Daemon::start(&ns, &source("local", &repo.file_url(), &ns, ""), "");
    let status = wait_for_sync(&ns, "local", &commit, SyncResult::Applied).await;
    assert!(
        status.message.contains("applied 4 objects"),
        "{}",
        status.message
    );
    let settings: k8s::Api<ConfigMap> = k8s::Api::namespaced(ns.client(), &namespace);
    assert!(settings.get_opt("settings").await.unwrap().is_some());
    let widget_kind = kube::discovery::ApiResource {
        group: group.clone(),
        version: "v1".into(),
        api_version: format!("{group}/v1"),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let widgets: k8s::Api<kube::api::DynamicObject> =
        k8s::Api::namespaced_with(ns.client(), ns.name(), &widget_kind);
    assert_eq!(widgets.get("gear").await.unwrap().data["spec"]["size"], 3);

    repo.write(
        "widget.yaml",
        format!(
            "apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: gear\nspec:\n  size: big\n"
        ),
    );
    let refused = repo.commit("a widget the schema refuses");
    let status = wait_for_sync(&ns, "local", &refused, SyncResult::Rejected).await;
    assert!(
        status.message.contains("widget.yaml:1: Widget"),
        "{}",
        status.message
    );
    daemon.stop().await;
    let namespaces: k8s::Api<k8s::Namespace> = k8s::Api::all(ns.client());
    namespaces
        .delete(&namespace, &k8s::DeleteParams::default())
        .await
        .unwrap();
    let definitions: k8s::Api<k8s::CustomResourceDefinition> = k8s::Api::all(ns.client());
    definitions
        .delete(&format!("widgets.{group}"), &k8s::DeleteParams::default())
        .await
        .unwrap();
}
