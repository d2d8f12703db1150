//! Canaries whose traffic is split by routers, on the real control plane with each router's
//! real CRDs (stand-ins for Ambassador and App Mesh, whose modules are not served here): the
//! router's objects carry each step's weight, read back before the step completes; header and
//! mirror routes come and go; an abort sends everything to the stable; and a Git sync of a
//! route mid-canary keeps the weights the Rollout set.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tidegate::k8s::crd::{Phase, RolloutStatus};
use tidegate::sync::SyncResult;

use crate::support::daemon::{Daemon, apps_source, wait_for_sync};
use crate::support::git::{GitServer, Repo};
use crate::support::rollout::{
    Controllers, apply, create_services, event_notes, event_reasons, rollout, selector_of,
    tidegate, wait_for_status,
};
use crate::support::routers::{self, install_router_crds, wait_for_router_object};
use crate::support::{TIMEOUT, TestNamespace, install_crds, wait_for};

/// A canary Rollout `web` of 3 replicas whose traffic `routing` splits.
fn routed(image: &str, steps: &Value, routing: &Value) -> Value {
    let mut manifest = rollout(image, steps);
    manifest["spec"]["strategy"]["canary"]["trafficRouting"] = routing.clone();
    manifest
}

/// A router's object and how to read the canary's weight off it.
struct Probe {
    api_version: &'static str,
    kind: &'static str,
    name: &'static str,
    weight: fn(Option<&Value>) -> Option<i64>,
}

impl Probe {
    async fn wait_for(&self, ns: &TestNamespace, weight: i64, when: &str) -> Option<Value> {
        let what = format!("{} {} carrying {weight} {when}", self.kind, self.name);
        wait_for_router_object(
            ns,
            (self.api_version, self.kind, self.name),
            &what,
            |live| (self.weight)(live) == Some(weight),
        )
        .await
    }
}

/// Runs a canary `[setWeight: 30, pause]` through `routing` over `objects`: the first revision
/// leaves the canary nothing, the second gets 30 at the pause (read back before the pause
/// starts), and its promotion gives the stable Service the new pods and the canary nothing.
async fn walk(
    prefix: &str,
    objects: &[Value],
    routing: &Value,
    probe: &Probe,
) -> (TestNamespace, RolloutStatus) {
    let ns = TestNamespace::create(prefix).await;
    install_crds(&ns.client()).await;
    install_router_crds(&ns.client()).await;
    create_services(&ns, ["web-canary", "web-stable"]).await;
    for object in objects {
        routers::apply(&ns, object).await;
    }
    let steps = json!([{"setWeight": 30}, {"pause": {}}]);
    let controllers = Controllers::start(&ns);
    apply(&ns, &routed("registry.invalid/web:1", &steps, routing)).await;
    let first = wait_for_status(&ns, "the first revision", |status| {
        status.phase == Some(Phase::Healthy) && routers::carries(status, 0)
    })
    .await;
    probe.wait_for(&ns, 0, "for the first revision").await;

    apply(&ns, &routed("registry.invalid/web:2", &steps, routing)).await;
    let paused = wait_for_status(&ns, "the pause at 30%", |status| {
        status.phase == Some(Phase::Paused) && routers::carries(status, 30)
    })
    .await;
    assert_eq!(paused.current_step_index, Some(1));
    probe.wait_for(&ns, 30, "at the pause").await;

    tidegate(&ns, &["promote", "--direct", "web"]);
    let promoted = wait_for_status(&ns, "the promotion", |status| {
        status.phase == Some(Phase::Healthy)
            && status.stable_rs != first.stable_rs
            && routers::carries(status, 0)
    })
    .await;
    probe.wait_for(&ns, 0, "once promoted").await;
    assert_eq!(
        selector_of(&ns, "web-stable").await.as_deref(),
        Some(promoted.stable_rs.as_str())
    );
    controllers.stop().await;
    (ns, promoted)
}

fn destination_weight(live: Option<&Value>, host: &str) -> Option<i64> {
    live?["spec"]["http"]
        .as_array()?
        .iter()
        .find(|route| route["name"] == "primary")?["route"]
        .as_array()?
        .iter()
        .find(|destination| {
            destination["destination"]["host"] == host
                || destination["destination"]["subset"] == host
        })?["weight"]
        .as_i64()
}

#[tokio::test]
async fn istio_host_level_routing_walks_a_canary() {
    let vs = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "web"},
        "spec": {"hosts": ["web"], "http": [{"name": "primary", "route": [
            {"destination": {"host": "web-stable"}, "weight": 100},
            {"destination": {"host": "web-canary"}, "weight": 0},
        ]}]},
    });
    let routing = json!({"istio": {"virtualService": {"name": "web", "routes": ["primary"]}}});
    let probe = Probe {
        api_version: "networking.istio.io/v1",
        kind: "VirtualService",
        name: "web",
        weight: |live| destination_weight(live, "web-canary"),
    };
    let (ns, _) = walk("route-istio", &[vs], &routing, &probe).await;
    announced_once(
        &ns,
        "Updated VirtualService",
        &[
            "VirtualService `web` set to desiredWeight '30'",
            "VirtualService `web` set to desiredWeight '100'",
            "VirtualService `web` set to desiredWeight '0'",
        ],
    )
    .await;
}

/// Each router write of `messages` was announced with `reason`, once.
async fn announced_once(ns: &TestNamespace, reason: &str, messages: &[&str]) {
    let notes = event_notes(ns).await;
    let times = |message: &str| {
        notes
            .iter()
            .filter(|(r, m)| r == reason && m == message)
            .count()
    };
    for message in messages {
        assert_eq!(times(message), 1, "{message}: {notes:#?}");
    }
}

#[tokio::test]
async fn istio_subset_level_routing_walks_a_canary_and_pins_the_subsets() {
    let rule = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "web"},
        "spec": {"host": "web", "subsets": [{"name": "stable"}, {"name": "canary"}, {"name": "debug", "labels": {"debug": "true"}}]},
    });
    let vs = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "web"},
        "spec": {"hosts": ["web"], "http": [{"name": "primary", "route": [
            {"destination": {"host": "web", "subset": "stable"}, "weight": 100},
            {"destination": {"host": "web", "subset": "canary"}, "weight": 0},
        ]}]},
    });
    let routing = json!({"istio": {
        "virtualService": {"name": "web", "routes": ["primary"]},
        "destinationRule": {"name": "web", "canarySubsetName": "canary", "stableSubsetName": "stable"},
    }});
    let probe = Probe {
        api_version: "networking.istio.io/v1",
        kind: "VirtualService",
        name: "web",
        weight: |live| destination_weight(live, "canary"),
    };
    let (ns, promoted) = walk("route-subset", &[rule, vs], &routing, &probe).await;
    let rule = routers::get(&ns, "networking.istio.io/v1", "DestinationRule", "web")
        .await
        .expect("the rule");
    let hash = |subset: usize| {
        rule["spec"]["subsets"][subset]["labels"]["rollouts-pod-template-hash"].clone()
    };
    assert_eq!(hash(0), json!(promoted.stable_rs), "{rule:#}");
    assert_eq!(
        hash(1),
        json!(promoted.stable_rs),
        "both select the promoted revision"
    );
    assert_eq!(
        rule["spec"]["subsets"][2]["labels"],
        json!({"debug": "true"}),
        "others kept"
    );
}

#[tokio::test]
async fn nginx_routing_walks_a_canary_through_its_own_ingress() {
    let ingress = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web"},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "web.test", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web-stable", "port": {"number": 80}}}},
        ]}}]},
    });
    let routing = json!({"nginx": {"stableIngress": "web"}});
    let probe = Probe {
        api_version: "networking.k8s.io/v1",
        kind: "Ingress",
        name: "web-web-canary",
        weight: |live| {
            live?["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]
                .as_str()?
                .parse()
                .ok()
        },
    };
    let (ns, _) = walk("route-nginx", &[ingress], &routing, &probe).await;
    announced_once(
        &ns,
        "CreatingCanaryIngress",
        &["Creating canary ingress `web-web-canary` with weight `0`"],
    )
    .await;
    announced_once(
        &ns,
        "PatchingCanaryIngress",
        &[
            "Updating Ingress `web-web-canary` to desiredWeight '30'",
            "Updating Ingress `web-web-canary` to desiredWeight '100'",
            "Updating Ingress `web-web-canary` to desiredWeight '0'",
        ],
    )
    .await;
}

#[tokio::test]
async fn alb_routing_walks_a_canary_through_the_action_annotation() {
    let ingress = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}},
        "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web-stable", "port": {"name": "use-annotation"}}}},
        ]}}]},
    });
    let routing = json!({"alb": {"ingress": "web", "servicePort": 80}});
    let probe = Probe {
        api_version: "networking.k8s.io/v1",
        kind: "Ingress",
        name: "web",
        weight: |live| {
            let action: Value = serde_json::from_str(
                live?["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.web-stable"]
                    .as_str()?,
            )
            .ok()?;
            action["ForwardConfig"]["TargetGroups"]
                .as_array()?
                .iter()
                .find(|group| group["ServiceName"] == "web-canary")?["Weight"]
                .as_i64()
        },
    };
    walk("route-alb", &[ingress], &routing, &probe).await;
}

#[tokio::test]
async fn smi_routing_walks_a_canary_through_a_traffic_split_it_owns() {
    let routing = json!({"smi": {"trafficSplitName": "web-split"}});
    let probe = Probe {
        api_version: "split.smi-spec.io/v1alpha4",
        kind: "TrafficSplit",
        name: "web-split",
        weight: |live| {
            live?["spec"]["backends"]
                .as_array()?
                .iter()
                .find(|backend| backend["service"] == "web-canary")?["weight"]
                .as_i64()
        },
    };
    walk("route-smi", &[], &routing, &probe).await;
}

#[tokio::test]
async fn traefik_routing_walks_a_canary_through_a_weighted_service() {
    let service = json!({
        "apiVersion": "traefik.io/v1alpha1", "kind": "TraefikService",
        "metadata": {"name": "web"},
        "spec": {"weighted": {"services": [
            {"name": "web-stable", "port": 80, "weight": 100},
            {"name": "web-canary", "port": 80, "weight": 0},
        ]}},
    });
    let routing = json!({"traefik": {"weightedTraefikServiceName": "web"}});
    let probe = Probe {
        api_version: "traefik.io/v1alpha1",
        kind: "TraefikService",
        name: "web",
        weight: |live| {
            live?["spec"]["weighted"]["services"]
                .as_array()?
                .iter()
                .find(|service| service["name"] == "web-canary")?["weight"]
                .as_i64()
        },
    };
    walk("route-traefik", &[service], &routing, &probe).await;
}

#[tokio::test]
async fn ambassador_routing_walks_a_canary_through_a_canary_mapping() {
    let mapping = json!({
        "apiVersion": "getambassador.io/v3alpha1", "kind": "Mapping",
        "metadata": {"name": "web"},
        "spec": {"hostname": "*", "prefix": "/", "service": "web-stable:80"},
    });
    let routing = json!({"ambassador": {"mappings": ["web"]}});
    let probe = Probe {
        api_version: "getambassador.io/v3alpha1",
        kind: "Mapping",
        name: "web-canary",
        // Without a canary copy the base Mapping has everything.
        weight: |live| live.map_or(Some(0), |live| live["spec"]["weight"].as_i64()),
    };
    walk("route-ambassador", &[mapping], &routing, &probe).await;
}

#[tokio::test]
async fn apisix_routing_walks_a_canary_through_backend_weights() {
    let route = json!({
        "apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute",
        "metadata": {"name": "web"},
        "spec": {"http": [{"name": "web", "match": {"paths": ["/*"]}, "backends": [
            {"serviceName": "web-stable", "servicePort": 80, "weight": 100},
            {"serviceName": "web-canary", "servicePort": 80, "weight": 0},
        ]}]},
    });
    let routing = json!({"apisix": {"route": {"name": "web", "rules": ["web"]}}});
    let probe = Probe {
        api_version: "apisix.apache.org/v2",
        kind: "ApisixRoute",
        name: "web",
        weight: |live| {
            live?["spec"]["http"][0]["backends"]
                .as_array()?
                .iter()
                .find(|backend| backend["serviceName"] == "web-canary")?["weight"]
                .as_i64()
        },
    };
    walk("route-apisix", &[route], &routing, &probe).await;
}

#[tokio::test]
async fn app_mesh_routing_walks_a_canary_through_its_virtual_router() {
    let api = "appmesh.k8s.aws/v1beta2";
    let node = |name: &str| {
        json!({"apiVersion": api, "kind": "VirtualNode", "metadata": {"name": name},
               "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "listeners": [{"portMapping": {"port": 80, "protocol": "http"}}]}})
    };
    let objects = [
        json!({"apiVersion": api, "kind": "VirtualService", "metadata": {"name": "web"},
               "spec": {"provider": {"virtualRouter": {"virtualRouterRef": {"name": "web-router"}}}}}),
        json!({"apiVersion": api, "kind": "VirtualRouter", "metadata": {"name": "web-router"},
        "spec": {"routes": [{"name": "primary", "httpRoute": {"match": {"prefix": "/"}, "action": {"weightedTargets": [
            {"virtualNodeRef": {"name": "web-stable-vn"}, "weight": 100},
            {"virtualNodeRef": {"name": "web-canary-vn"}, "weight": 0},
        ]}}}]}}),
        node("web-stable-vn"),
        node("web-canary-vn"),
    ];
    let routing = json!({"appMesh": {
        "virtualService": {"name": "web", "routes": ["primary"]},
        "virtualNodeGroup": {"canaryVirtualNodeRef": {"name": "web-canary-vn"}, "stableVirtualNodeRef": {"name": "web-stable-vn"}},
    }});
    let probe = Probe {
        api_version: api,
        kind: "VirtualRouter",
        name: "web-router",
        weight: |live| {
            live?["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"]
                .as_array()?
                .iter()
                .find(|target| target["virtualNodeRef"]["name"] == "web-canary-vn")?["weight"]
                .as_i64()
        },
    };
    walk("route-appmesh", &objects, &routing, &probe).await;
}

/// A route that does not exist is announced as Argo announces it — its weight cannot be
/// verified (`WeightVerifyError`) and it cannot be written (`TrafficRoutingError`) — once
/// each, however many passes fail the same way; the Rollout waits, and goes on once the route
/// is there.
#[tokio::test]
async fn a_missing_route_is_announced_once_and_the_rollout_waits_for_it() {
    let ns = TestNamespace::create("route-missing").await;
    install_crds(&ns.client()).await;
    install_router_crds(&ns.client()).await;
    create_services(&ns, ["web-canary", "web-stable"]).await;
    let steps = json!([{"setWeight": 30}, {"pause": {}}]);
    let routing = json!({"plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "web"}}});
    let mut manifest = routed("registry.invalid/web:1", &steps, &routing);
    let controllers = Controllers::start(&ns);
    apply(&ns, &manifest).await;
    let count = |reasons: &[String], wanted: &str| reasons.iter().filter(|r| *r == wanted).count();
    wait_for("both router Warnings", TIMEOUT, || async {
        let reasons = event_reasons(&ns).await;
        (count(&reasons, "WeightVerifyError") > 0 && count(&reasons, "TrafficRoutingError") > 0)
            .then_some(())
    })
    .await;
    // A spec change (not of the template) makes a pass that is sure to fail the same way.
    manifest["spec"]["revisionHistoryLimit"] = json!(5);
    apply(&ns, &manifest).await;
    wait_for_status(&ns, "the second generation observed", |status| {
        status.observed_generation == "2"
    })
    .await;

    routers::apply(&ns, &http_route("gateway")).await;
    wait_for_status(&ns, "the first revision once the route exists", |status| {
        status.phase == Some(Phase::Healthy) && routers::carries(status, 0)
    })
    .await;
    controllers.stop().await;
    let reasons = event_reasons(&ns).await;
    assert_eq!(count(&reasons, "WeightVerifyError"), 1, "{reasons:?}");
    assert_eq!(count(&reasons, "TrafficRoutingError"), 1, "{reasons:?}");
    assert_eq!(count(&reasons, "ReconciliationError"), 0, "{reasons:?}");
}

// --- Gateway API, in depth, synced from Git ---------------------------------------------------

const SERVICES: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web-canary\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-stable\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n";

fn http_route(parent: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "web"},
        "spec": {"parentRefs": [{"name": parent}], "rules": [{"backendRefs": [
            {"name": "web-stable", "port": 80, "weight": 100},
            {"name": "web-canary", "port": 80, "weight": 0},
        ]}]},
    })
}

fn gateway_rollout(image: &str) -> Value {
    let steps = json!([
        {"setWeight": 20},
        {"pause": {}},
        {"setHeaderRoute": {"name": "beta", "match": [{"headerName": "X-Beta", "headerValue": {"exact": "yes"}}]}},
        {"setMirrorRoute": {"name": "shadow", "percentage": 50, "match": [{"method": {"exact": "GET"}}]}},
        {"setWeight": 60},
        {"pause": {}},
    ]);
    let routing = json!({
        "managedRoutes": [{"name": "beta"}, {"name": "shadow"}],
        "plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "web"}},
    });
    routed(image, &steps, &routing)
}

fn rule_weights(route: &Value) -> Option<(i64, i64)> {
    let refs = route["spec"]["rules"][0]["backendRefs"].as_array()?;
    let weight = |name: &str| refs.iter().find(|r| r["name"] == name)?["weight"].as_i64();
    Some((weight("web-stable")?, weight("web-canary")?))
}

fn rule_names(route: &Value) -> Vec<String> {
    route["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|rule| rule["name"].as_str().map(str::to_owned))
        .collect()
}

const ROUTE: (&str, &str, &str) = ("gateway.networking.k8s.io/v1", "HTTPRoute", "web");
const IN_PROGRESS: &str = "rollouts.argoproj.io/gatewayapi-canary";

/// (stable, canary) weights and managed rule names of a route.
type Shown = (Option<(i64, i64)>, Vec<String>);

/// Every [`Shown`] the route had while watched.
struct RouteWatch {
    seen: Arc<Mutex<BTreeSet<Shown>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RouteWatch {
    async fn start(ns: &TestNamespace) -> Self {
        use futures::StreamExt;
        use kube::runtime::WatchStreamExt;
        let seen: Arc<Mutex<BTreeSet<Shown>>> = Arc::default();
        let api = routers::api(ns, ROUTE.0, ROUTE.1).await;
        let config = kube::runtime::watcher::Config::default().fields("metadata.name=web");
        let (ready, watching) = tokio::sync::oneshot::channel();
        let shared = seen.clone();
        let task = tokio::spawn(async move {
            let mut ready = Some(ready);
            let mut updates = std::pin::pin!(kube::runtime::watcher(api, config).applied_objects());
            while let Some(Ok(found)) = updates.next().await {
                let route = serde_json::to_value(found).expect("objects are JSON");
                shared
                    .lock()
                    .expect("the test holds no lock across a panic")
                    .insert((rule_weights(&route), rule_names(&route)));
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
            }
        });
        let _ = watching.await;
        Self { seen, task }
    }

    fn seen(self) -> BTreeSet<Shown> {
        self.task.abort();
        self.seen
            .lock()
            .expect("the test holds no lock across a panic")
            .clone()
    }
}

async fn route_where(ns: &TestNamespace, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    wait_for_router_object(ns, ROUTE, what, |live| live.is_some_and(&check))
        .await
        .expect("the route exists")
}

/// A Git source with the Services, the route and the Rollout, synced and controlled by the
/// daemon; returns once the first revision is live, with its hash.
async fn gateway_source() -> (TestNamespace, GitServer, Repo, Daemon, String) {
    let ns = TestNamespace::create("route-gateway").await;
    install_crds(&ns.client()).await;
    install_router_crds(&ns.client()).await;
    let server = GitServer::start(None);
    let repo = server.repo("apps");
    repo.write("services.yaml", SERVICES)
        .write("route.yaml", yaml(&http_route("public")))
        .write(
            "rollout.yaml",
            yaml(&gateway_rollout("registry.invalid/web:1")),
        );
    let first = repo.commit("web 1");
    let source = apps_source(&server.url("apps"), &ns);
    let daemon = Daemon::start_controlling(&ns, &source, "");
    wait_for_sync(&ns, "apps", &first, SyncResult::Applied).await;
    let v1 = wait_for_status(&ns, "the first revision", |status| {
        status.phase == Some(Phase::Healthy) && routers::carries(status, 0)
    })
    .await
    .stable_rs;
    (ns, server, repo, daemon, v1)
}

fn yaml(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON")
}

/// Waits until the daemon's drift gauge for the source says `expected` objects.
async fn drifted(daemon: &Daemon, expected: f64) {
    wait_for(&format!("{expected} drifted objects"), TIMEOUT, || async {
        let found = daemon
            .metric("tidegate_drifted_objects{source=\"apps\"}")
            .await;
        (found == Some(expected)).then_some(())
    })
    .await;
}

/// Replaces the route, as someone with cluster access might.
async fn replace_route(ns: &TestNamespace, route: Value) {
    routers::api(ns, ROUTE.0, ROUTE.1)
        .await
        .replace(
            "web",
            &kube::api::PostParams::default(),
            &serde_json::from_value(route).expect("a route"),
        )
        .await
        .expect("edit the route by hand");
}

/// Edits the route's parent by hand.
async fn edit_by_hand(ns: &TestNamespace, route: &Value) {
    let mut edited = route.clone();
    edited["spec"]["parentRefs"][0]["name"] = json!("by-hand");
    replace_route(ns, edited).await;
}

#[tokio::test]
async fn a_gateway_api_canary_walks_its_weights_and_routes_and_git_syncs_keep_them() {
    let (ns, _server, repo, daemon, v1) = gateway_source().await;
    repo.write(
        "rollout.yaml",
        yaml(&gateway_rollout("registry.invalid/web:2")),
    );
    repo.commit("web 2");
    wait_for_status(&ns, "the first pause", |status| {
        status.phase == Some(Phase::Paused)
            && status.current_step_index == Some(1)
            && routers::carries(status, 20)
    })
    .await;
    let route = route_where(&ns, "20% to the canary", |route| {
        rule_weights(route) == Some((80, 20))
    })
    .await;
    assert_eq!(route["metadata"]["labels"][IN_PROGRESS], "in-progress");
    let detail = tidegate(&ns, &["get", "rollout", "web"]);
    assert!(
        detail.contains(&format!("HTTPRoute {}/web: canary 20\n", ns.name())),
        "{detail}"
    );

    // Weights someone changes by hand are put back: the Rollout reads its routers again.
    let mut edited = route.clone();
    edited["spec"]["rules"][0]["backendRefs"][0]["weight"] = json!(100);
    edited["spec"]["rules"][0]["backendRefs"][1]["weight"] = json!(0);
    replace_route(&ns, edited).await;
    route_where(&ns, "the weights put back", |route| {
        rule_weights(route) == Some((80, 20))
    })
    .await;

    // Git changes the route mid-canary: its change goes in, the Rollout's weights stay —
    // in every version of the route, not only once the Rollout has put them back.
    let watch = RouteWatch::start(&ns).await;
    repo.write("route.yaml", yaml(&http_route("internal")));
    let moved = repo.commit("route: internal gateway");
    wait_for_sync(&ns, "apps", &moved, SyncResult::Applied).await;
    let route = route_where(&ns, "the synced route", |route| {
        route["spec"]["parentRefs"][0]["name"] == "internal"
    })
    .await;
    assert_eq!(rule_weights(&route), Some((80, 20)), "{route:#}");
    assert_eq!(
        watch.seen(),
        BTreeSet::from([(Some((80, 20)), Vec::new())]),
        "every version of the route while Git's change went in"
    );

    tidegate(&ns, &["promote", "--direct", "web"]);
    wait_for_status(&ns, "the second pause", |status| {
        status.phase == Some(Phase::Paused)
            && status.current_step_index == Some(5)
            && routers::carries(status, 60)
    })
    .await;
    let route = route_where(&ns, "the managed routes and 60%", |route| {
        rule_weights(route) == Some((40, 60)) && rule_names(route) == ["beta", "shadow"]
    })
    .await;
    let rules = route["spec"]["rules"].as_array().expect("rules");
    assert_eq!(rules[1]["backendRefs"][0]["name"], "web-canary");
    assert_eq!(rules[1]["matches"][0]["headers"][0]["name"], "X-Beta");
    assert_eq!(rules[2]["filters"][0]["requestMirror"]["percent"], 50);

    // Another sync mid-canary keeps the managed routes too.
    let watch = RouteWatch::start(&ns).await;
    repo.write("route.yaml", yaml(&http_route("public")));
    let back = repo.commit("route: public gateway");
    wait_for_sync(&ns, "apps", &back, SyncResult::Applied).await;
    let route = route_where(&ns, "the synced route", |route| {
        route["spec"]["parentRefs"][0]["name"] == "public"
    })
    .await;
    assert_eq!(rule_names(&route), ["beta", "shadow"], "{route:#}");
    assert_eq!(rule_weights(&route), Some((40, 60)));
    let managed = vec!["beta".to_owned(), "shadow".to_owned()];
    assert_eq!(watch.seen(), BTreeSet::from([(Some((40, 60)), managed)]));

    // What the Rollout owns is no drift; a hand edit of what Git owns still is.
    drifted(&daemon, 0.0).await;
    edit_by_hand(&ns, &route).await;
    drifted(&daemon, 1.0).await;

    abort_retry_and_promote_fully(&ns, &v1).await;
    daemon.stop().await;
}

/// From a canary at its second pause: abort (all traffic to the stable, the managed routes
/// gone), retry (the weights walked again), and a full promotion.
async fn abort_retry_and_promote_fully(ns: &TestNamespace, v1: &str) {
    // Abort: all traffic to the stable, the managed routes gone.
    tidegate(ns, &["abort", "web"]);
    wait_for_status(ns, "the abort", |status| {
        status.phase == Some(Phase::Degraded) && routers::carries(status, 0)
    })
    .await;
    let route = route_where(ns, "nothing to the canary", |route| {
        rule_weights(route) == Some((100, 0))
    })
    .await;
    assert!(rule_names(&route).is_empty());
    assert!(route["metadata"]["labels"].get(IN_PROGRESS).is_none());
    assert_eq!(selector_of(ns, "web-canary").await.as_deref(), Some(v1));

    // Retry walks the weights again; a full promotion finishes.
    tidegate(ns, &["retry", "web"]);
    wait_for_status(ns, "the first pause again", |status| {
        status.current_step_index == Some(1) && routers::carries(status, 20)
    })
    .await;
    route_where(ns, "20% again", |route| {
        rule_weights(route) == Some((80, 20))
    })
    .await;
    tidegate(ns, &["promote", "--full", "--direct", "web"]);
    let done = wait_for_status(ns, "the promotion", |status| {
        status.phase == Some(Phase::Healthy)
            && status.stable_rs != v1
            && routers::carries(status, 0)
    })
    .await;
    route_where(ns, "the promoted route", |route| {
        rule_weights(route) == Some((100, 0))
    })
    .await;
    assert_eq!(
        selector_of(ns, "web-stable").await.as_deref(),
        Some(done.stable_rs.as_str())
    );
}

// --- Argo Rollouts' own manifests ---------------------------------------------------------

/// Where `scripts/testenv env` says Argo Rollouts' manifests with `trafficRouting` are.
fn argo_examples() -> std::path::PathBuf {
    std::env::var_os("TIDEGATE_TEST_ARGO_EXAMPLES")
        .map(std::path::PathBuf::from)
        .expect("TIDEGATE_TEST_ARGO_EXAMPLES is set by scripts/testenv env")
}

/// Every document of the YAML files under `dir`, with its file's path relative to `dir`.
fn documents(dir: &std::path::Path) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).expect("read a directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "yaml") {
                let text = std::fs::read_to_string(&path).expect("read a manifest");
                let relative = path
                    .strip_prefix(dir)
                    .expect("below dir")
                    .display()
                    .to_string();
                let parsed: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap_or_default();
                found.extend(
                    parsed
                        .into_iter()
                        .filter(|doc| !doc.is_null())
                        .map(|doc| (relative.clone(), doc)),
                );
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[test]
fn argo_manifests_with_traffic_routing_plan() {
    let mut planned = Vec::new();
    let mut refused = Vec::new();
    for (file, doc) in documents(&argo_examples()) {
        if doc["kind"] != "Rollout"
            || doc
                .pointer("/spec/strategy/canary/trafficRouting")
                .is_none()
        {
            continue;
        }
        let rollout: tidegate::k8s::crd::Rollout = serde_json::from_value(doc)
            .unwrap_or_else(|error| panic!("{file} does not parse: {error}"));
        match rollout.spec.plan() {
            Ok(_) => planned.push(file),
            Err(errors) => refused.push(format!("{file}: {errors}")),
        }
    }
    assert_eq!(refused, Vec::<String>::new());
    // Argo Rollouts v1.9.1 holds 42 Rollouts with trafficRouting in examples/ and test/e2e/.
    assert_eq!(planned.len(), 42, "{planned:#?}");
}

/// Waits until Rollout `name` satisfies `condition`.
pub async fn rollout_where(
    ns: &TestNamespace,
    name: &str,
    what: &str,
    condition: impl Fn(&RolloutStatus) -> bool,
) -> RolloutStatus {
    let rollouts = ns.api::<tidegate::k8s::crd::Rollout>();
    let found = crate::support::wait_for_object(
        &rollouts,
        name,
        TIMEOUT,
        |rollout: Option<&tidegate::k8s::crd::Rollout>| {
            rollout
                .and_then(|rollout| rollout.status.as_ref())
                .is_some_and(&condition)
        },
    )
    .await;
    found
        .and_then(|rollout| rollout.status)
        .unwrap_or_else(|| panic!("{what}: no status"))
}

/// Applies every object of Argo's example `files` that the testenv serves, unchanged (but for
/// `REPLACEME`, which Argo's own tests fill in too), in `ns`; returns its Rollout, under
/// `tidegate.dev`, not yet applied.
pub async fn apply_argo_example(ns: &TestNamespace, files: &[&str]) -> Value {
    install_crds(&ns.client()).await;
    install_router_crds(&ns.client()).await;
    let root = argo_examples();
    let mut rollout = None;
    for file in files {
        let text = std::fs::read_to_string(root.join(file))
            .expect("read an example")
            .replace("REPLACEME", "demo");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("an example parses");
        for mut doc in docs.into_iter().filter(|doc| !doc.is_null()) {
            if let Some(metadata) = doc["metadata"].as_object_mut() {
                metadata.remove("namespace");
            }
            if doc["kind"] == "Rollout" {
                rollout = Some(doc);
                continue;
            }
            let api_version = doc["apiVersion"].as_str().unwrap_or("").to_owned();
            let kind = doc["kind"].as_str().unwrap_or("").to_owned();
            let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
            let gvk = kube::core::GroupVersionKind::gvk(group, version, &kind);
            if kube::discovery::pinned_kind(&ns.client(), &gvk)
                .await
                .is_err()
            {
                // A kind no router reads (App Mesh's Mesh, Ambassador's resolver).
                println!("{file}: {kind} is not served here, left out");
                continue;
            }
            routers::apply(ns, &doc).await;
        }
    }
    let mut rollout = rollout.expect("the example has a Rollout");
    rollout["apiVersion"] = json!("tidegate.dev/v1alpha1");
    rollout
}

/// Runs an example of Argo Rollouts unchanged (but for `REPLACEME`, which Argo's own tests
/// fill in too): every object it has that the testenv serves, then its Rollout from its first
/// revision through every step of a second one — promoting each pause — to Healthy, with every
/// router read back carrying nothing for the canary at the end.
async fn run_argo_example(prefix: &str, files: &[&str]) {
    let ns = TestNamespace::create(prefix).await;
    let mut rollout = apply_argo_example(&ns, files).await;
    let name = rollout["metadata"]["name"]
        .as_str()
        .expect("a name")
        .to_owned();
    let controllers = Controllers::start(&ns);
    routers::apply(&ns, &rollout).await;
    let first = rollout_where(&ns, &name, "the first revision", |status| {
        status.phase == Some(Phase::Healthy)
    })
    .await;
    rollout["spec"]["template"]["metadata"]["annotations"] = json!({"tidegate.dev/e2e": "2"});
    routers::apply(&ns, &rollout).await;
    let mut promotions = 0;
    loop {
        let status = rollout_where(&ns, &name, "a pause or the end", |status| {
            status.current_pod_hash != first.stable_rs
                && matches!(
                    status.phase,
                    Some(Phase::Paused | Phase::Healthy | Phase::Degraded)
                )
        })
        .await;
        match status.phase {
            Some(Phase::Healthy) => {
                assert!(routers::carries(&status, 0), "{status:#?}");
                assert_eq!(status.stable_rs, status.current_pod_hash, "promoted");
                break;
            }
            Some(Phase::Paused) => {
                promotions += 1;
                assert!(promotions < 20, "never finished: {status:#?}");
                let index = status.current_step_index;
                tidegate(&ns, &["promote", "--direct", &name]);
                rollout_where(&ns, &name, "the promotion to take", |now| {
                    now.current_step_index != index || now.phase == Some(Phase::Healthy)
                })
                .await;
            }
            _ => panic!("{prefix}: {status:#?}"),
        }
    }
    // Every step of the second revision completed, each once.
    let steps = rollout["spec"]["strategy"]["canary"]["steps"]
        .as_array()
        .map_or(0, Vec::len);
    let events = ns
        .api::<k8s_openapi::api::events::v1::Event>()
        .list(&kube::api::ListParams::default())
        .await
        .expect("list Events");
    let completed: BTreeSet<String> = events
        .items
        .iter()
        .filter(|event| event.reason.as_deref() == Some("RolloutStepCompleted"))
        .filter_map(|event| event.note.clone())
        .collect();
    assert_eq!(completed.len(), steps, "{completed:#?}");
    controllers.stop().await;
}

#[tokio::test]
async fn argo_istio_host_split_runs() {
    run_argo_example("argo-istio", &["test/e2e/istio/istio-host-split.yaml"]).await;
}

#[tokio::test]
async fn argo_istio_mirror_with_set_canary_scale_runs() {
    run_argo_example("argo-mirror", &["examples/istio/istio-mirror.yaml"]).await;
}

#[tokio::test]
async fn argo_nginx_runs() {
    run_argo_example("argo-nginx", &["test/e2e/functional/nginx-template.yaml"]).await;
}

#[tokio::test]
async fn argo_alb_with_dynamic_stable_scale_runs() {
    run_argo_example(
        "argo-alb",
        &["test/e2e/functional/canary-dynamic-stable-scale.yaml"],
    )
    .await;
}

#[tokio::test]
async fn argo_smi_with_nginx_runs() {
    run_argo_example(
        "argo-smi",
        &["test/e2e/smi_ingress/rollout-smi-ingress-canary.yaml"],
    )
    .await;
}

#[tokio::test]
async fn argo_ambassador_runs() {
    run_argo_example(
        "argo-ambassador",
        &[
            "examples/ambassador/echo-service.yaml",
            "examples/ambassador/echo-mapping.yaml",
            "examples/ambassador/rollout.yaml",
        ],
    )
    .await;
}

#[tokio::test]
async fn argo_apisix_with_a_header_route_runs() {
    run_argo_example(
        "argo-apisix",
        &["test/e2e/apisix/rollout-apisix-canary-set-header.yaml"],
    )
    .await;
}

#[tokio::test]
async fn argo_alb_ping_pong_runs() {
    run_argo_example(
        "argo-pingpong",
        &["test/e2e/functional/alb-pingpong-rollout.yaml"],
    )
    .await;
}

#[tokio::test]
async fn argo_istio_ping_pong_runs() {
    run_argo_example(
        "argo-istio-pp",
        &["test/e2e/istio/istio-host-split-ping-pong.yaml"],
    )
    .await;
}

#[tokio::test]
async fn argo_alb_and_istio_together_with_ping_pong_runs() {
    run_argo_example(
        "argo-albmesh",
        &["test/e2e/functional/albmesh-pingpong-stablecanary-rollout.yaml"],
    )
    .await;
}

#[tokio::test]
async fn argo_app_mesh_runs() {
    run_argo_example(
        "argo-appmesh",
        &["test/e2e/appmesh/appmesh-canary-rollout.yaml"],
    )
    .await;
}
