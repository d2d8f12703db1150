//! Argo Rollouts' Grafana dashboard (`examples/dashboard.json` of argoproj/argo-rollouts at
//! 02eb594) read through Debian's Prometheus scraping a tidegate daemon as job
//! `argo-rollouts-metrics`, with a Rollout in each of Argo's seven phases: every query of the
//! dashboard returns data, except the Go runtime's heap (tidegate is not a Go program).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::ResourceQuota;
use serde_json::json;
use tidegate::k8s::crd::Rollout;
use tidegate::k8s::{self};

use crate::support::daemon::Daemon;
use crate::support::prometheus::Prometheus;
use crate::support::rollout::tidegate;
use crate::support::{TIMEOUT, TestNamespace, install_crds, wait_for, wait_for_object};

/// Every query of the dashboard, in its order (the panel title, the expression).
const QUERIES: [(&str, &str); 17] = [
    (
        "Uptime (controller)",
        r#"time() - max(process_start_time_seconds{job="argo-rollouts-metrics"})"#,
    ),
    (
        "Total Rollouts",
        r#"sum(rollout_info{job="argo-rollouts-metrics"})"#,
    ),
    (
        "Rollouts",
        r#"sum(rollout_info{job="argo-rollouts-metrics"}) by (strategy)"#,
    ),
    (
        "Stable",
        r#"sum(rollout_info{phase="Completed",job="argo-rollouts-metrics"} == 1)"#,
    ),
    (
        "Progressing",
        r#"sum(rollout_info{phase="Progressing",job="argo-rollouts-metrics"})"#,
    ),
    (
        "Paused",
        r#"sum(rollout_info{phase="Paused",job="argo-rollouts-metrics"})"#,
    ),
    (
        "Error",
        r#"sum(rollout_info{job="argo-rollouts-metrics",phase="Error"} == 1)"#,
    ),
    (
        "Invalid Spec",
        r#"sum(rollout_info{job="argo-rollouts-metrics",phase="InvalidSpec"} == 1)"#,
    ),
    (
        "Timeout",
        r#"sum(rollout_info{job="argo-rollouts-metrics",phase="Timeout"} == 1)"#,
    ),
    (
        "Aborted",
        r#"sum(rollout_info{job="argo-rollouts-metrics",phase="Abort"} == 1)"#,
    ),
    (
        "Reconcile Activity",
        r#"sum(increase(rollout_reconcile_count{job="argo-rollouts-metrics"}[10m]))"#,
    ),
    (
        "Reconciliation Performance",
        "sum(increase(rollout_reconcile_bucket[10m])) by (le)",
    ),
    (
        "Memory Used",
        r#"go_memstats_heap_alloc_bytes{job="argo-rollouts-metrics"}"#,
    ),
    (
        "Phase",
        r#"rollout_info{job="argo-rollouts-metrics",namespace="$rollout_namespace",name="$rollout_name"}"#,
    ),
    (
        "Replicas (desired)",
        r#"rollout_info_replicas_desired{job="argo-rollouts-metrics",namespace="$rollout_namespace",name="$rollout_name"}"#,
    ),
    (
        "Replica (available)",
        r#"rollout_info_replicas_available{job="argo-rollouts-metrics",namespace="$rollout_namespace",name="$rollout_name"}"#,
    ),
    (
        "Replica (unavailable)",
        r#"rollout_info_replicas_unavailable{job="argo-rollouts-metrics",namespace="$rollout_namespace",name="$rollout_name"}"#,
    ),
];

/// The dashboard's template variables: `rollout_namespace`, then `rollout_name`.
const VARIABLES: [&str; 2] = [
    "rollout_info",
    r#"rollout_info{namespace="$rollout_namespace"}"#,
];

/// A canary Rollout `name` of `image`, with `extra` spec fields.
fn canary(
    name: &str,
    image: &str,
    steps: &serde_json::Value,
    extra: &serde_json::Value,
) -> serde_json::Value {
    let mut spec = json!({
        "replicas": 2,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": image}]}},
        "strategy": {"canary": {"steps": steps}},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "Rollout",
        "metadata": {"name": name}, "spec": spec})
}

async fn apply(ns: &TestNamespace, manifest: &serde_json::Value) {
    let name = manifest["metadata"]["name"].as_str().expect("a name");
    ns.api::<Rollout>()
        .patch(
            name,
            &k8s::PatchParams::apply(k8s::SYNC_FIELD_MANAGER),
            &k8s::Patch::Apply(manifest),
        )
        .await
        .expect("apply the Rollout");
}

/// The reason of Rollout `name`'s Progressing condition (or a true InvalidSpec).
fn reason_of(rollout: &Rollout) -> Option<&str> {
    let conditions = &rollout.status.as_ref()?.conditions;
    if conditions
        .iter()
        .any(|condition| condition.kind == "InvalidSpec" && condition.status == "True")
    {
        return Some("InvalidSpec");
    }
    conditions
        .iter()
        .find(|condition| condition.kind == "Progressing")
        .map(|condition| condition.reason.as_str())
}

async fn wait_for_reason(ns: &TestNamespace, name: &str, reason: &str) {
    let reached = |rollout: Option<&Rollout>| rollout.and_then(reason_of) == Some(reason);
    wait_for_object(&ns.api::<Rollout>(), name, TIMEOUT, reached).await;
}

/// Pods no node can take: their Rollout never becomes available.
const UNSCHEDULABLE: &str = "registry.invalid/app:1";

fn unschedulable(name: &str, extra: &serde_json::Value) -> serde_json::Value {
    let mut manifest = canary(name, UNSCHEDULABLE, &json!([]), extra);
    manifest["spec"]["template"]["spec"]["nodeSelector"] = json!({"no-such": "node"});
    manifest
}

/// One Rollout in each of Argo's phases, named for it.
async fn rollouts_in_every_phase(ns: &TestNamespace) {
    // Completed.
    apply(ns, &canary("done", "app:1", &json!([]), &json!({}))).await;
    // Paused, and one to abort while paused.
    let paused_steps = json!([{"setWeight": 50}, {"pause": {}}]);
    for name in ["paused", "aborted"] {
        apply(ns, &canary(name, "app:1", &paused_steps, &json!({}))).await;
    }
    // Progressing: pods that never become available, within the default deadline.
    apply(ns, &unschedulable("pending", &json!({}))).await;
    // Timeout: the same, past a short deadline.
    apply(
        ns,
        &unschedulable("late", &json!({"progressDeadlineSeconds": 3})),
    )
    .await;
    // InvalidSpec: a weight over 100.
    apply(
        ns,
        &canary("invalid", "app:1", &json!([{"setWeight": 120}]), &json!({})),
    )
    .await;

    for name in ["done", "paused", "aborted"] {
        wait_for_reason(ns, name, "NewReplicaSetAvailable").await;
    }
    for name in ["paused", "aborted"] {
        apply(ns, &canary(name, "app:2", &paused_steps, &json!({}))).await;
        wait_for_reason(ns, name, "RolloutPaused").await;
    }
    tidegate(ns, &["abort", "aborted"]);
    wait_for_reason(ns, "aborted", "RolloutAborted").await;
    wait_for_reason(ns, "pending", "ReplicaSetUpdated").await;
    wait_for_reason(ns, "late", "ProgressDeadlineExceeded").await;
    wait_for_reason(ns, "invalid", "InvalidSpec").await;

    refused_by_a_quota(ns).await;
}

/// Error: Rollout `refused`, whose ReplicaSet a quota allowing no more than there are refuses.
async fn refused_by_a_quota(ns: &TestNamespace) {
    let replica_sets = ns
        .api::<k8s::ReplicaSet>()
        .list(&k8s::ListParams::default())
        .await
        .expect("list ReplicaSets")
        .items
        .len();
    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": {"name": "replica-sets"},
        "spec": {"hard": {"count/replicasets.apps": replica_sets.to_string()}}
    }))
    .expect("a valid ResourceQuota");
    let quotas = ns.api::<ResourceQuota>();
    quotas
        .create(&k8s::PostParams::default(), &quota)
        .await
        .expect("create the quota");
    wait_for_object(
        &quotas,
        "replica-sets",
        TIMEOUT,
        |quota: Option<&ResourceQuota>| {
            quota
                .and_then(|quota| quota.status.as_ref()?.used.as_ref())
                .is_some_and(|used| used.contains_key("count/replicasets.apps"))
        },
    )
    .await;
    apply(ns, &canary("refused", "app:1", &json!([]), &json!({}))).await;
    wait_for_reason(ns, "refused", "ReplicaSetCreateError").await;
}

#[tokio::test]
async fn argo_s_dashboard_queries_all_return_data() {
    let ns = TestNamespace::create("dashboard").await;
    install_crds(&ns.client()).await;
    let daemon = Daemon::start_controlling(&ns, "  []", "");

    rollouts_in_every_phase(&ns).await;

    let prometheus = Prometheus::start_job(
        "argo-rollouts-metrics",
        &[format!("127.0.0.1:{}", daemon.port())],
    )
    .await;
    // Grafana fills the variables with the first value of each: here, this namespace and the
    // Rollout named first.
    let namespaces = label_values(&prometheus, VARIABLES[0], "namespace").await;
    assert!(namespaces.contains(&ns.name().to_owned()), "{namespaces:?}");
    let by_namespace = VARIABLES[1].replace("$rollout_namespace", ns.name());
    let names = label_values(&prometheus, &by_namespace, "name").await;
    assert_eq!(
        names,
        [
            "aborted", "done", "invalid", "late", "paused", "pending", "refused"
        ]
    );

    let mut empty = Vec::new();
    for (title, query) in QUERIES {
        let query = query
            .replace("$rollout_namespace", ns.name())
            .replace("$rollout_name", "done");
        let answered = wait_for(&format!("an answer to {query}"), TIMEOUT, || async {
            let result = prometheus.query(&query).await?;
            // Counters need two scrapes for an increase: wait for data, but not forever.
            (!result.is_empty() || !query.contains("increase")).then_some(result)
        })
        .await;
        if answered.is_empty() {
            empty.push(title);
        }
    }
    assert_eq!(empty, ["Memory Used"], "panels without data");

    // The counts behind the panels: one Rollout per phase.
    for phase in [
        "Completed",
        "Progressing",
        "Paused",
        "Error",
        "InvalidSpec",
        "Timeout",
        "Abort",
    ] {
        let query = format!(
            r#"sum(rollout_info{{namespace="{}",phase="{phase}"}})"#,
            ns.name()
        );
        let result = prometheus.query(&query).await.expect("an answer");
        assert_eq!(result[0]["value"][1], "1", "{phase}: {result:?}");
    }
    let replicas = prometheus
        .query(&format!(
            r#"rollout_info_replicas_available{{namespace="{}",name="done"}}"#,
            ns.name()
        ))
        .await
        .expect("an answer");
    assert_eq!(replicas[0]["value"][1], "2");

    deleted_rollout_s_series_go(&ns, &daemon).await;
    daemon.stop().await;
}

/// Deletes Rollout `aborted`: every series of it leaves the daemon's `/metrics` — Argo's
/// families read from the cache and the reconcile, Event and tidegate series written as it
/// ran.
async fn deleted_rollout_s_series_go(ns: &TestNamespace, daemon: &Daemon) {
    let namespace = format!(r#"namespace="{}""#, ns.name());
    let series_of = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| !line.starts_with('#') && line.contains(&namespace))
            .filter(|line| {
                line.contains(r#"name="aborted""#) || line.contains(r#"rollout="aborted""#)
            })
            .map(|line| line.split('{').next().unwrap_or_default().to_owned())
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect()
    };
    let before = series_of(&daemon.scrape().await.expect("the metrics"));
    for family in [
        "rollout_info",
        "rollout_reconcile_count",
        "rollout_events_total",
        "tidegate_rollout_phase",
    ] {
        assert!(
            before.iter().any(|name| name == family),
            "{family}: {before:?}"
        );
    }
    ns.api::<Rollout>()
        .delete("aborted", &k8s::DeleteParams::default())
        .await
        .expect("delete the Rollout");
    wait_for("the deleted Rollout's series to go", TIMEOUT, || async {
        let left = series_of(&daemon.scrape().await?);
        left.is_empty().then_some(())
    })
    .await;
}

/// Grafana's `label_values(query, label)`: the distinct values of `label`, sorted, once
/// Prometheus has scraped some.
async fn label_values(prometheus: &Prometheus, query: &str, label: &str) -> Vec<String> {
    wait_for(&format!("label values of {query}"), TIMEOUT, || async {
        let result = prometheus.query(query).await?;
        let values: BTreeSet<String> = result
            .iter()
            .filter_map(|series| series["metric"][label].as_str())
            .map(ToOwned::to_owned)
            .collect();
        (!values.is_empty()).then(|| values.into_iter().collect())
    })
    .await
}
