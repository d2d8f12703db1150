//! An experiment template's traffic `weight` through the routers that carry it — SMI, ALB and
//! Istio — with Argo's own experiment-step examples, unchanged: at the step, the template's
//! Service takes its weight from the stable's in the router's object on the real control
//! plane (and in `status.canary.weights.additional`); once `promote` passes the step, it is
//! gone from the object again.

use serde_json::{Value, json};
use tidegate::k8s::crd::{Phase, RolloutStatus, WeightDestination};

use crate::support::TestNamespace;
use crate::support::rollout::{Controllers, tidegate};
use crate::support::routers;
use crate::traffic::{apply_argo_example, rollout_where};

/// The object a router keeps the split in, and how to read its (Service, weight) pairs.
struct SplitObject {
    api_version: &'static str,
    kind: &'static str,
    name: &'static str,
    weights: fn(&Value) -> Vec<(String, i64)>,
}

/// A weight as routers write it: a number, or a quantity string (SMI `v1alpha1`).
fn number(value: &Value) -> i64 {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
        .unwrap_or_else(|| panic!("a weight, got {value}"))
}

fn additional(status: &RolloutStatus) -> Vec<WeightDestination> {
    status
        .canary
        .as_ref()
        .and_then(|canary| canary.weights.as_ref())
        .map(|weights| weights.additional.clone())
        .unwrap_or_default()
}

fn verified(status: &RolloutStatus) -> bool {
    status
        .canary
        .as_ref()
        .and_then(|canary| canary.weights.as_ref())
        .is_some_and(|weights| weights.verified == Some(true))
}

/// Runs Argo's example `file`, whose steps are `setWeight: canary` and an experiment of one
/// template weighted `experiment`, through its second revision.
async fn experiment_takes_its_share(
    prefix: &str,
    file: &str,
    object: &SplitObject,
    (canary, experiment): (i64, i64),
) {
    let ns = TestNamespace::create(prefix).await;
    let mut rollout = apply_argo_example(&ns, &[file]).await;
    let name = rollout["metadata"]["name"]
        .as_str()
        .expect("a name")
        .to_owned();
    let services = &rollout["spec"]["strategy"]["canary"];
    let canary_service = services["canaryService"]
        .as_str()
        .expect("a canary Service");
    let stable_service = services["stableService"]
        .as_str()
        .expect("a stable Service");
    let (canary_service, stable_service) = (canary_service.to_owned(), stable_service.to_owned());
    let controllers = Controllers::start(&ns);
    routers::apply(&ns, &rollout).await;
    rollout_where(&ns, &name, "the first revision", |status| {
        status.phase == Some(Phase::Healthy)
    })
    .await;
    rollout["spec"]["template"]["metadata"]["annotations"] = json!({"tidegate.dev/e2e": "2"});
    routers::apply(&ns, &rollout).await;

    let running = rollout_where(&ns, &name, "the experiment's share read back", |status| {
        status.current_step_index == Some(1) && additional(status).len() == 1 && verified(status)
    })
    .await;
    let weights = running
        .canary
        .and_then(|canary| canary.weights)
        .expect("weights");
    let destination = &weights.additional[0];
    let stable = 100 - canary - experiment;
    assert_eq!(
        (
            i64::from(weights.canary.weight),
            i64::from(weights.stable.weight),
            i64::from(destination.weight)
        ),
        (canary, stable, experiment)
    );
    let service = destination.service_name.clone();
    let live = routers::get(&ns, object.api_version, object.kind, object.name)
        .await
        .expect("the router's object");
    let mut carried = (object.weights)(&live);
    carried.sort();
    let mut expected = vec![
        (canary_service, canary),
        (stable_service, stable),
        (service.clone(), experiment),
    ];
    expected.sort();
    assert_eq!(carried, expected, "{live:#}");
    // The destination is the template's Service, selecting the template's pods.
    let selector = routers::get(&ns, "v1", "Service", &service)
        .await
        .expect("the template's Service")["spec"]["selector"]
        .clone();
    assert_eq!(
        selector["rollouts-pod-template-hash"], destination.pod_template_hash,
        "{selector:#}"
    );

    tidegate(&ns, &["promote", "--direct", &name]);
    let done = rollout_where(&ns, &name, "promoted past the experiment", |status| {
        status.phase == Some(Phase::Healthy)
            && status.stable_rs == status.current_pod_hash
            && routers::carries(status, 0)
    })
    .await;
    assert!(additional(&done).is_empty(), "{done:#?}");
    let live = routers::get(&ns, object.api_version, object.kind, object.name)
        .await
        .expect("the router's object");
    let carried = (object.weights)(&live);
    assert!(
        carried.iter().all(|(name, _)| *name != service),
        "the experiment's destination is gone: {live:#}"
    );
    controllers.stop().await;
}

#[tokio::test]
async fn an_istio_experiment_step_sends_its_template_its_weight() {
    let object = SplitObject {
        api_version: "networking.istio.io/v1alpha3",
        kind: "VirtualService",
        name: "istio-host-split-vsvc",
        weights: |live| {
            live["spec"]["http"][0]["route"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|to| {
                    let host = to["destination"]["host"].as_str().unwrap_or("").to_owned();
                    (host, number(&to["weight"]))
                })
                .collect()
        },
    };
    experiment_takes_its_share(
        "exp-istio",
        "test/e2e/istio/istio-host-split-experiment-step.yaml",
        &object,
        (10, 20),
    )
    .await;
}

#[tokio::test]
async fn an_alb_experiment_step_sends_its_template_its_weight() {
    let object = SplitObject {
        api_version: "networking.k8s.io/v1",
        kind: "Ingress",
        name: "alb-rollout-ingress",
        weights: |live| {
            let action = live["metadata"]["annotations"]
                ["alb.ingress.kubernetes.io/actions.alb-rollout-root"]
                .as_str()
                .expect("the forward action");
            let action: Value = serde_json::from_str(action).expect("the action is JSON");
            action["ForwardConfig"]["TargetGroups"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|group| {
                    let service = group["ServiceName"].as_str().unwrap_or("").to_owned();
                    (service, number(&group["Weight"]))
                })
                .collect()
        },
    };
    experiment_takes_its_share(
        "exp-alb",
        "test/e2e/alb/rollout-alb-experiment.yaml",
        &object,
        (10, 20),
    )
    .await;
}

#[tokio::test]
async fn an_smi_experiment_step_sends_its_template_its_weight() {
    let object = SplitObject {
        api_version: "split.smi-spec.io/v1alpha4",
        kind: "TrafficSplit",
        name: "rollout-smi-experiment-trafficsplit",
        weights: |live| {
            live["spec"]["backends"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|backend| {
                    let service = backend["service"].as_str().unwrap_or("").to_owned();
                    (service, number(&backend["weight"]))
                })
                .collect()
        },
    };
    experiment_takes_its_share(
        "exp-smi",
        "test/e2e/smi/rollout-smi-experiment.yaml",
        &object,
        (5, 5),
    )
    .await;
}
