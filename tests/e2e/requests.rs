//! Real requests through a real Gateway API data plane — Traefik, started by `scripts/testenv
//! up --traffic` — to pods that answer with their version (`tests/pod-responder.py`): the share
//! of requests each version answers follows the Rollout's weights, a header route sends the
//! requests it matches to the canary, an abort returns every request to the stable without
//! one failing, and an analysis of Traefik's own request metrics in Prometheus promotes a
//! healthy release and aborts one that fails 30 % of its requests.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tidegate::k8s::crd::Phase;

use crate::support::prometheus::Prometheus;
use crate::support::rollout::{
    Controllers, apply, replica_sets, rollout, tidegate, wait_for_status,
};
use crate::support::routers::{self, install_router_crds};
use crate::support::traffic::{self, Answers, GATEWAY, Load};
use crate::support::{TIMEOUT, TestNamespace, install_crds};

/// Requests per measured split. Were requests placed at random, 1000 of them would put each
/// share within ±5 points of the weight with probability above 99.8 % (5 points is 3.2
/// standard deviations at 50 %). Traefik's weighted round robin is deterministic: one client
/// alone on a route lands within a request or two of the weight. (No other client uses a
/// test's route while it measures a split: a concurrent client would skew the share one
/// client sees, though not the total.)
const SAMPLE: usize = 1000;
/// How far a measured share may be from the weight, in percentage points.
const TOLERANCE: f64 = 5.0;

/// The host the test's route answers for.
fn host_of(ns: &TestNamespace) -> String {
    format!("{}.tidegate.test", ns.name())
}

/// Services `web-canary` and `web-stable`, port 80 to the pods' port named `http`.
async fn services(ns: &TestNamespace) {
    for name in ["web-canary", "web-stable"] {
        let service = json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        });
        routers::apply(ns, &service).await;
    }
}

/// The route `web` on the testenv's Gateway: everything for the test's host to the stable.
fn route(ns: &TestNamespace) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "web"},
        "spec": {
            "parentRefs": [{"name": GATEWAY.1, "namespace": GATEWAY.0}],
            "hostnames": [host_of(ns)],
            "rules": [{"backendRefs": [
                {"name": "web-stable", "port": 80, "weight": 100},
                {"name": "web-canary", "port": 80, "weight": 0},
            ]}],
        },
    })
}

/// Rollout `web`: 4 pods of `version` that fail `error_percent` % of their requests, split
/// by the Gateway API route `web`.
fn web(version: &str, error_percent: u32, steps: &Value) -> Value {
    let mut manifest = rollout(&format!("registry.invalid/web:{version}"), steps);
    manifest["spec"]["replicas"] = json!(4);
    let container = &mut manifest["spec"]["template"]["spec"]["containers"][0];
    container["ports"] = json!([{"name": "http", "containerPort": 8080}]);
    container["env"] = json!([
        {"name": "RESPONDER_ERROR_PERCENT", "value": error_percent.to_string()},
    ]);
    manifest["spec"]["strategy"]["canary"]["trafficRouting"] = json!({
        "managedRoutes": [{"name": "beta"}],
        "plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "web"}},
    });
    manifest
}

/// A namespace with the Services, the route and version 1 live behind the gateway.
async fn live_v1(prefix: &str, steps: &Value) -> (TestNamespace, Controllers) {
    let ns = TestNamespace::create(prefix).await;
    install_crds(&ns.client()).await;
    install_router_crds(&ns.client()).await;
    services(&ns).await;
    routers::apply(&ns, &route(&ns)).await;
    let controllers = Controllers::start(&ns);
    apply(&ns, &web("1", 0, steps)).await;
    wait_for_status(&ns, "version 1 stable", |status| {
        status.phase == Some(Phase::Healthy) && routers::carries(status, 0)
    })
    .await;
    settled_on(&ns, &[("1", 100.0)], &[]).await;
    (ns, controllers)
}

/// The percentage of `answers` that `version` gave.
fn percent(answers: &Answers, version: &str) -> f64 {
    answers.share(version) * 100.0
}

/// Whether every expected (version, percent) is within the tolerance, and nothing failed.
fn matches(answers: &Answers, expected: &[(&str, f64)]) -> bool {
    answers.unanswered == 0
        && answers.errors.is_empty()
        && answers
            .by_version
            .keys()
            .all(|seen| expected.iter().any(|(version, _)| version == seen))
        && expected
            .iter()
            .all(|(version, want)| (percent(answers, version) - want).abs() <= TOLERANCE)
}

/// Waits until the data plane serves the split (a probe of 100 requests matches; Traefik
/// applies a route change a fraction of a second after the route was read back), then
/// measures it on [`SAMPLE`] requests and asserts it. Returns how long the wait took.
async fn settled_on(
    ns: &TestNamespace,
    expected: &[(&str, f64)],
    headers: &[(&str, &str)],
) -> Duration {
    let host = host_of(ns);
    let started = Instant::now();
    loop {
        let probe = traffic::send(&host, 100, headers).await;
        if matches(&probe, expected) {
            break;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "the gateway did not serve {expected:?} with {headers:?} within {TIMEOUT:?}; last probe: {probe:?}"
        );
    }
    let waited = started.elapsed();
    let measured = traffic::send(&host, SAMPLE, headers).await;
    assert!(
        matches(&measured, expected),
        "{SAMPLE} requests with {headers:?}: expected {expected:?} ± {TOLERANCE} points, got {measured:?}"
    );
    println!("{SAMPLE} requests with {headers:?} answered {measured:?}");
    waited
}

#[tokio::test]
async fn requests_follow_the_weights_and_header_routes_and_promotion_moves_them_all() {
    let steps = json!([
        {"setWeight": 20},
        {"pause": {}},
        {"setHeaderRoute": {"name": "beta", "match": [{"headerName": "X-Beta", "headerValue": {"exact": "yes"}}]}},
        {"setWeight": 50},
        {"pause": {}},
    ]);
    let (ns, controllers) = live_v1("requests-weights", &steps).await;

    apply(&ns, &web("2", 0, &steps)).await;
    wait_for_status(&ns, "the pause at 20%", |status| {
        status.phase == Some(Phase::Paused) && routers::carries(status, 20)
    })
    .await;
    settled_on(&ns, &[("1", 80.0), ("2", 20.0)], &[]).await;

    tidegate(&ns, &["promote", "--direct", "web"]);
    wait_for_status(&ns, "the pause at 50%", |status| {
        status.phase == Some(Phase::Paused) && routers::carries(status, 50)
    })
    .await;
    settled_on(&ns, &[("1", 50.0), ("2", 50.0)], &[]).await;
    settled_on(&ns, &[("2", 100.0)], &[("X-Beta", "yes")]).await;
    settled_on(&ns, &[("1", 50.0), ("2", 50.0)], &[("X-Beta", "no")]).await;

    tidegate(&ns, &["promote", "--direct", "web"]);
    wait_for_status(&ns, "version 2 stable", |status| {
        status.phase == Some(Phase::Healthy)
            && routers::carries(status, 0)
            && status.stable_rs == status.current_pod_hash
    })
    .await;
    settled_on(&ns, &[("2", 100.0)], &[]).await;
    settled_on(&ns, &[("2", 100.0)], &[("X-Beta", "yes")]).await;
    controllers.stop().await;
}

#[tokio::test]
async fn an_abort_returns_every_request_to_the_stable_and_none_fails() {
    let steps = json!([{"setWeight": 40}, {"pause": {}}]);
    let (ns, controllers) = live_v1("requests-abort", &steps).await;
    apply(&ns, &web("2", 0, &steps)).await;
    wait_for_status(&ns, "the pause at 40%", |status| {
        status.phase == Some(Phase::Paused) && routers::carries(status, 40)
    })
    .await;
    settled_on(&ns, &[("1", 60.0), ("2", 40.0)], &[]).await;

    // Requests keep flowing while the abort drains the canary: none may fail, and once the
    // route was read back at 0 no request reaches the canary.
    let host = host_of(&ns);
    let during = tokio::spawn({
        let host = host.clone();
        async move {
            let mut answers = Answers::default();
            let until = Instant::now() + std::time::Duration::from_secs(5);
            while Instant::now() < until {
                answers.add(&traffic::send(&host, 20, &[]).await);
            }
            answers
        }
    });
    let aborted = Instant::now();
    tidegate(&ns, &["abort", "web"]);
    let at_zero = wait_for_status(&ns, "the abort to reach the route", |status| {
        status.abort && routers::carries(status, 0)
    })
    .await;
    let read_back = aborted.elapsed();
    let served = read_back + settled_on(&ns, &[("1", 100.0)], &[]).await;
    // Requests alone did not see a canary scaled away too early (a guard broken that way
    // still failed no request): its pods must outlive the route's move by the default
    // abortScaleDownDelaySeconds (30 s), which a second or two of waiting above cannot use up.
    let canary = replica_sets(&ns)
        .await
        .into_iter()
        .find(|(hash, _, _)| *hash == at_zero.current_pod_hash);
    assert!(
        canary.as_ref().is_some_and(|(_, spec, _)| *spec > 0),
        "the aborted canary keeps its pods for abortScaleDownDelaySeconds: {canary:?}"
    );
    println!(
        "abort: the route was read back at 0 after {read_back:?}; every request went to the stable after {served:?}"
    );
    let during = during.await.expect("the load task");
    assert!(
        during.unanswered == 0 && during.errors.is_empty(),
        "requests failed during the abort: {during:?}"
    );
    assert!(
        during.by_version.get("2").is_some_and(|count| *count > 0),
        "the load ran while the canary still had traffic: {during:?}"
    );
    controllers.stop().await;
}

/// An analysis of the canary's 5xx share as Traefik counts it, per backend Service.
fn error_share_template(ns: &TestNamespace, prometheus: &str) -> Value {
    let canary = format!(
        "traefik_service_requests_total{{service=~\"httproute-{ns}-web-.*-svc-{ns}-web-canary-.*\"",
        ns = ns.name()
    );
    let query = format!(
        "(sum(rate({canary},code=~\"5..\"}}[15s])) or vector(0)) / sum(rate({canary}}}[15s]))"
    );
    json!({
        "apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": "error-share"},
        "spec": {"metrics": [{
            "name": "canary-errors",
            "initialDelay": "10s",
            "interval": "3s",
            "count": 3,
            "successCondition": "len(result) > 0 && result[0] < 0.05",
            "failureCondition": "len(result) > 0 && result[0] >= 0.05",
            "provider": {"prometheus": {"address": prometheus, "query": query}},
        }]},
    })
}

#[tokio::test]
async fn an_analysis_of_gateway_metrics_promotes_a_healthy_release_and_aborts_a_failing_one() {
    let steps = json!([
        {"setWeight": 50},
        {"analysis": {"templates": [{"templateName": "error-share"}]}},
    ]);
    let (ns, controllers) = live_v1("requests-analysis", &steps).await;
    let prometheus = Prometheus::start(&[traffic::gateway_metrics()]).await;
    routers::apply(&ns, &error_share_template(&ns, &prometheus.url(""))).await;
    let _load = Load::start(&host_of(&ns), 20);

    apply(&ns, &web("2", 0, &steps)).await;
    // Promoted, and the route read back carrying it all to the stable Service (until then
    // the gateway may still send some requests to the canary Service, or to v1 through the
    // stable Service whose endpoints lag its new selector).
    let healthy = wait_for_status(&ns, "version 2 promoted", |status| {
        status.phase == Some(Phase::Healthy)
            && status.stable_rs == status.current_pod_hash
            && routers::carries(status, 0)
    })
    .await;
    assert!(!healthy.abort);
    settled_on(&ns, &[("2", 100.0)], &[]).await;

    apply(&ns, &web("3", 30, &steps)).await;
    let aborted = wait_for_status(&ns, "version 3 aborted", |status| {
        status.abort && routers::carries(status, 0)
    })
    .await;
    assert!(aborted.message.contains("canary-errors"), "{aborted:?}");
    settled_on(&ns, &[("2", 100.0)], &[]).await;
    controllers.stop().await;
}
