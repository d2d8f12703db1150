use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::*;

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Reads an Argo Rollouts manifest from `tests/fixtures/argo/`, moved to tidegate's group.
fn argo_manifest(name: &str) -> Value {
    let path = repo_path("tests/fixtures/argo").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut manifest: Value = serde_saphyr::from_str(&text).unwrap();
    let kind = manifest["kind"].as_str().unwrap().to_owned();
    let api_version = manifest["apiVersion"].as_str().unwrap();
    manifest["apiVersion"] = translated_api_version(api_version, &kind).into();
    manifest
}

/// Every field of the Argo manifest is known to `K` and survives a round trip unchanged.
fn assert_round_trip<K: DeserializeOwned + Serialize>(name: &str) {
    let manifest = argo_manifest(name);
    let typed: K = serde_json::from_value(manifest.clone())
        .unwrap_or_else(|error| panic!("{name} does not parse: {error}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(back, manifest, "{name} changed in a round trip");
}

#[test]
fn argo_canary_rollout_round_trips() {
    assert_round_trip::<Rollout>("rollout-canary.yaml");
}

#[test]
fn argo_blue_green_rollout_round_trips() {
    assert_round_trip::<Rollout>("rollout-bluegreen.yaml");
}

#[test]
fn argo_analysis_template_round_trips() {
    assert_round_trip::<AnalysisTemplate>("analysistemplate.yaml");
}

#[test]
fn argo_cluster_analysis_template_round_trips() {
    assert_round_trip::<ClusterAnalysisTemplate>("clusteranalysistemplate.yaml");
}

#[test]
fn canary_steps_parse_into_their_types() {
    let rollout: Rollout = serde_json::from_value(argo_manifest("rollout-canary.yaml")).unwrap();
    let canary = rollout.spec.strategy.canary.unwrap();
    assert_eq!(canary.steps[0].set_weight, Some(20));
    let pause = canary.steps[1].pause.as_ref().unwrap();
    assert_eq!(pause.duration, Some(IntOrString::String("1h".into())));
    assert_eq!(
        canary.steps[2].set_canary_scale.as_ref().unwrap().replicas,
        Some(3)
    );
    let analysis = canary.steps[3].analysis.as_ref().unwrap();
    assert!(analysis.templates[0].cluster_scope);
    let source = analysis.args[0].value_from.as_ref().unwrap();
    assert_eq!(
        source.pod_template_hash_value,
        Some(PodTemplateHashValue::Latest)
    );
    assert_eq!(canary.steps[7].pause, Some(RolloutPause { duration: None }));
    assert_eq!(canary.max_unavailable, Some(IntOrString::Int(0)));
    assert!(canary.traffic_routing.unwrap().istio.is_some());
}

#[test]
fn argo_kinds_move_to_the_tidegate_group() {
    for kind in KINDS {
        assert_eq!(translated_api_version(ARGO_API_VERSION, kind), API_VERSION);
    }
    assert_eq!(
        translated_api_version(ARGO_API_VERSION, "Experiment"),
        API_VERSION
    );
    assert_eq!(
        translated_api_version(ARGO_API_VERSION, "Unknown"),
        ARGO_API_VERSION
    );
    assert_eq!(translated_api_version("apps/v1", "Rollout"), "apps/v1");
}

#[test]
fn definitions_cover_every_kind_with_its_scope() {
    let found: Vec<_> = definitions()
        .iter()
        .map(|crd| {
            let names = &crd.spec.names;
            (
                crd.metadata.name.clone().unwrap(),
                names.kind.clone(),
                crd.spec.scope.clone(),
            )
        })
        .collect();
    let expected = [
        ("rollouts.tidegate.dev", "Rollout", "Namespaced"),
        (
            "analysistemplates.tidegate.dev",
            "AnalysisTemplate",
            "Namespaced",
        ),
        (
            "clusteranalysistemplates.tidegate.dev",
            "ClusterAnalysisTemplate",
            "Cluster",
        ),
        ("analysisruns.tidegate.dev", "AnalysisRun", "Namespaced"),
        ("experiments.tidegate.dev", "Experiment", "Namespaced"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(name, kind, scope)| ((*name).to_owned(), (*kind).to_owned(), (*scope).to_owned()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn rollout_has_status_scale_and_printer_columns() {
    let crd = Rollout::crd();
    let version = &crd.spec.versions[0];
    let subresources = version.subresources.as_ref().unwrap();
    assert!(subresources.status.is_some());
    let scale = subresources.scale.as_ref().unwrap();
    assert_eq!(scale.spec_replicas_path, ".spec.replicas");
    assert_eq!(
        scale.label_selector_path.as_deref(),
        Some(".status.selector")
    );
    let columns: Vec<_> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|column| column.name.as_str())
        .collect();
    assert_eq!(
        columns,
        ["Desired", "Available", "Phase", "Step", "Weight", "Age"]
    );
    assert_eq!(crd.spec.names.short_names, Some(vec!["ro".to_owned()]));
}

#[test]
fn opaque_parts_keep_unknown_fields() {
    let crd = serde_json::to_value(Rollout::crd()).unwrap();
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let istio = &schema["properties"]["spec"]["properties"]["strategy"]["properties"]["canary"]["properties"]
        ["trafficRouting"]["properties"]["istio"];
    assert_eq!(
        istio["x-kubernetes-preserve-unknown-fields"], true,
        "{istio:#}"
    );
}

/// `deploy/crds/` (and the Helm chart's copy) is generated by `tidegate crd --output-dir
/// deploy/crds`; CI fails when it is stale because this test does.
#[test]
fn deploy_crds_are_current() {
    for crd in definitions() {
        let name = crd.metadata.name.as_deref().unwrap();
        for dir in ["deploy/crds", "deploy/helm/tidegate/crds"] {
            let path = repo_path(dir).join(format!("{name}.yaml"));
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == to_yaml(&crd).unwrap(),
                "{} is stale or missing: run `cargo run -- crd --output-dir {dir}`",
                path.display()
            );
        }
    }
}

#[test]
fn dry_run_and_retention_rules_match_metric_names_as_argo_s_regular_expressions() {
    let spec: AnalysisRunSpec = serde_json::from_value(serde_json::json!({
        "metrics": [],
        "dryRun": [{"metricName": "^latency-"}, {"metricName": "smoke"}],
        "measurementRetention": [
            {"metricName": ".*", "limit": 5},
            {"metricName": "error", "limit": 20},
            {"metricName": "(unclosed", "limit": 1}
        ]
    }))
    .unwrap();
    assert!(spec.is_dry_run("latency-p99"));
    assert!(!spec.is_dry_run("p99-latency-"), "anchored at the start");
    assert!(
        spec.is_dry_run("smoke-test"),
        "found anywhere, as Go's MatchString"
    );
    assert!(!spec.is_dry_run("error-rate"));
    assert_eq!(
        spec.retention_of("error-rate"),
        Some(20),
        "the last matching rule"
    );
    assert_eq!(spec.retention_of("latency"), Some(5));
    assert_eq!(
        spec.retention_of("(unclosed"),
        Some(1),
        "an invalid expression: its name"
    );
    let star: AnalysisRunSpec = serde_json::from_value(serde_json::json!({
        "metrics": [], "dryRun": [{"metricName": "*"}]
    }))
    .unwrap();
    assert!(star.is_dry_run("anything"));
    let none: AnalysisRunSpec = serde_json::from_value(serde_json::json!({"metrics": []})).unwrap();
    assert!(!none.is_dry_run("anything"));
    assert_eq!(none.retention_of("anything"), None);
}

#[test]
fn rules_matching_no_metric_are_refused_with_argo_s_message() {
    let spec: AnalysisRunSpec = serde_json::from_value(serde_json::json!({
        "metrics": [{"name": "error-rate", "provider": {"web": {"url": "http://x"}}}],
        "dryRun": [{"metricName": "error"}, {"metricName": "latency"}],
        "measurementRetention": [{"metricName": ".*", "limit": 5}, {"metricName": "smoke", "limit": 1}]
    }))
    .unwrap();
    assert_eq!(
        spec.unmatched_rules(),
        [
            (
                "spec.dryRun[1].metricName".to_owned(),
                "dryRun[1]: Rule didn't match any metric name(s)".to_owned()
            ),
            (
                "spec.measurementRetention[1].metricName".to_owned(),
                "measurementRetention[1]: Rule didn't match any metric name(s)".to_owned()
            ),
        ]
    );
    let matched: AnalysisRunSpec = serde_json::from_value(serde_json::json!({
        "metrics": [{"name": "error-rate", "provider": {"web": {"url": "http://x"}}}],
        "dryRun": [{"metricName": "*"}],
    }))
    .unwrap();
    assert!(matched.unmatched_rules().is_empty());
}
