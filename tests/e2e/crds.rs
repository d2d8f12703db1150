//! tidegate's CRDs on the real apiserver: they install and become Established, Argo Rollouts
//! manifests are accepted unchanged under strict field validation, unknown fields are refused,
//! and the status and scale subresources and printer columns work.

use serde_json::{Value, json};
use tidegate::k8s::{self, crd};

use crate::support::{TestNamespace, install_crds};

/// An Argo Rollouts manifest from `tests/fixtures/argo/`, moved into tidegate's group.
fn argo_manifest(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/argo/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("read fixture");
    let mut manifest: Value = serde_saphyr::from_str(&text).expect("parse fixture");
    let kind = manifest["kind"].as_str().expect("kind").to_owned();
    let api_version = manifest["apiVersion"].as_str().expect("apiVersion");
    manifest["apiVersion"] = crd::translated_api_version(api_version, &kind).into();
    manifest
}

fn strict_apply() -> k8s::PatchParams {
    k8s::PatchParams::apply(k8s::SYNC_FIELD_MANAGER).validation_strict()
}

#[tokio::test]
async fn argo_manifests_are_stored_unchanged_under_strict_validation() {
    let namespace = TestNamespace::create("crd-argo").await;
    install_crds(&namespace.client()).await;

    let rollouts = namespace.api::<crd::Rollout>();
    for fixture in ["rollout-canary.yaml", "rollout-bluegreen.yaml"] {
        let manifest = argo_manifest(fixture);
        let name = manifest["metadata"]["name"].as_str().expect("name");
        let stored = rollouts
            .patch(name, &strict_apply(), &k8s::Patch::Apply(&manifest))
            .await
            .unwrap_or_else(|error| panic!("apply {fixture}: {error}"));
        assert_eq!(
            serde_json::to_value(&stored.spec).unwrap(),
            manifest["spec"],
            "{fixture}"
        );
    }

    let templates = namespace.api::<crd::AnalysisTemplate>();
    let manifest = argo_manifest("analysistemplate.yaml");
    let stored = templates
        .patch(
            "success-rate",
            &strict_apply(),
            &k8s::Patch::Apply(&manifest),
        )
        .await
        .expect("apply AnalysisTemplate");
    assert_eq!(
        serde_json::to_value(&stored.spec).unwrap(),
        manifest["spec"]
    );
}

#[tokio::test]
async fn unknown_fields_are_refused_with_their_path() {
    let namespace = TestNamespace::create("crd-strict").await;
    install_crds(&namespace.client()).await;

    let mut manifest = argo_manifest("rollout-canary.yaml");
    manifest["spec"]["strategy"]["canary"]["stepz"] = json!([]);
    let error = namespace
        .api::<crd::Rollout>()
        .patch("guestbook", &strict_apply(), &k8s::Patch::Apply(&manifest))
        .await
        .expect_err("an unknown field must be refused");
    let kube::Error::Api(status) = &error else {
        panic!("not an API error: {error:?}")
    };
    assert!(
        status.message.contains(".spec.strategy.canary.stepz"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn status_scale_and_printer_columns_work() {
    let namespace = TestNamespace::create("crd-status").await;
    let client = namespace.client();
    install_crds(&client).await;

    let rollouts = namespace.api::<crd::Rollout>();
    let manifest = argo_manifest("rollout-canary.yaml");
    rollouts
        .patch("guestbook", &strict_apply(), &k8s::Patch::Apply(&manifest))
        .await
        .expect("apply Rollout");

    let status = json!({ "status": {
        "phase": "Paused",
        "currentStepIndex": 1,
        "availableReplicas": 5,
        "canary": { "weights": {
            "canary": { "weight": 20 },
            "stable": { "weight": 80 },
        } },
    } });
    let patched = rollouts
        .patch_status(
            "guestbook",
            &k8s::PatchParams::default(),
            &k8s::Patch::Merge(&status),
        )
        .await
        .expect("patch status");
    let stored = patched.status.expect("status is kept");
    assert_eq!(stored.phase, Some(crd::Phase::Paused));
    assert_eq!(stored.current_step_index, Some(1));

    // Writes through the main resource leave the status subresource alone.
    let reapplied = rollouts
        .patch("guestbook", &strict_apply(), &k8s::Patch::Apply(&manifest))
        .await
        .expect("apply Rollout again");
    assert_eq!(
        reapplied
            .status
            .and_then(|status| status.current_step_index),
        Some(1)
    );

    let scale = rollouts.get_scale("guestbook").await.expect("get scale");
    assert_eq!(scale.spec.and_then(|spec| spec.replicas), Some(5));

    let path = format!(
        "/apis/tidegate.dev/v1alpha1/namespaces/{}/rollouts/guestbook",
        namespace.name()
    );
    let request = http::Request::get(path)
        .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
        .body(Vec::new())
        .expect("build request");
    let table: Value = client.request(request).await.expect("get table");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|column| column["name"].as_str().expect("column name"))
        .collect();
    assert_eq!(
        columns,
        [
            "Name",
            "Desired",
            "Available",
            "Phase",
            "Step",
            "Weight",
            "Age"
        ]
    );
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[0], "guestbook");
    assert_eq!(cells[1], 5);
    assert_eq!(cells[3], "Paused");
    assert_eq!(cells[4], 1);
    assert_eq!(cells[5], 20);
}

/// Problems a fixture may still have because a later issue adds what it uses; each names
/// its fixture, and the problem as `tidegate lint` prints it.
const LINTED_BY_LATER_ISSUES: [(&str, &str); 0] = [];

/// Argo Rollouts conformance: every Argo manifest the project ships lints clean with
/// `tidegate lint`, as `kubectl argo rollouts lint` would pass it — but for what
/// `LINTED_BY_LATER_ISSUES` names. A new refusal, or a fixed one still listed, fails.
#[test]
fn every_argo_fixture_lints_clean() {
    let dir = format!("{}/tests/fixtures/argo", env!("CARGO_MANIFEST_DIR"));
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .expect("read the fixtures")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 4, "{fixtures:?}");
    for fixture in fixtures {
        let name = fixture.file_name().unwrap().to_string_lossy().into_owned();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tidegate"))
            .arg("lint")
            .arg("-f")
            .arg(&fixture)
            .output()
            .expect("run tidegate lint");
        let said = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        let expected: Vec<&str> = LINTED_BY_LATER_ISSUES
            .iter()
            .filter(|(file, _)| *file == name)
            .map(|(_, problem)| *problem)
            .collect();
        if expected.is_empty() {
            assert!(output.status.success(), "{name}: {said}");
        } else {
            assert!(
                !output.status.success(),
                "{name} lints clean now: drop it from the list"
            );
            let problems: Vec<&str> = said
                .lines()
                .filter(|line| line.starts_with(&*fixture.to_string_lossy()))
                .collect();
            assert_eq!(problems.len(), expected.len(), "{name}: {said}");
            for (problem, wanted) in problems.iter().zip(&expected) {
                assert!(problem.contains(wanted), "{name}: {problem}");
            }
        }
    }
}
