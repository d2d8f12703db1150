//! Fixtures shared by the routers' tests, and how sync keeps a router's parts of an object.

use serde_json::{Value, json};

use super::*;
use crate::model::{
    GatewayApi, GatewayRoute, HeaderMatch, HeaderRoute, MirrorMatch, MirrorRoute, RouteKind,
    StringMatch,
};

/// A Rollout `web` in `shop` with Services `web-canary` and `web-stable`, managed routes
/// `header` and `mirror`, weights out of 100.
pub fn context() -> Context {
    Context {
        namespace: "shop".into(),
        rollout: "web".into(),
        canary_service: "web-canary".into(),
        stable_service: "web-stable".into(),
        managed_routes: vec!["header".into(), "mirror".into()],
        max_weight: 100,
        owner: json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "Rollout", "name": "web",
                      "uid": "u-1", "controller": true, "blockOwnerDeletion": true}),
        ping_pong: None,
    }
}

/// The split `canary` / `100 - canary`, hashes `new` and `old`, no managed route.
pub fn intent(canary: i32) -> TrafficIntent {
    TrafficIntent {
        rollout: "web".into(),
        canary_weight: canary,
        max_weight: 100,
        canary_service: "web-canary".into(),
        stable_service: "web-stable".into(),
        canary_hash: "new".into(),
        stable_hash: "old".into(),
        header_routes: Vec::new(),
        mirror_routes: Vec::new(),
        managed_routes: vec!["header".into(), "mirror".into()],
        additional: Vec::new(),
    }
}

/// The split `canary` / the rest, with the experiment Service `web-exp-canary` taking
/// `experiment` of the stable's share.
pub fn with_experiment(canary: i32, experiment: i32) -> TrafficIntent {
    TrafficIntent {
        additional: vec![crate::model::AdditionalDestination {
            service: "web-exp-canary".into(),
            hash: "exp".into(),
            weight: experiment,
        }],
        ..intent(canary)
    }
}

/// A header route matching `X-Canary`.
pub fn header(name: &str, value: StringMatch) -> HeaderRoute {
    HeaderRoute {
        name: name.into(),
        matches: vec![HeaderMatch {
            header: "X-Canary".into(),
            value,
        }],
    }
}

/// A mirror route for `POST /checkout`.
pub fn mirror(name: &str, percentage: i32) -> MirrorRoute {
    MirrorRoute {
        name: name.into(),
        matches: vec![MirrorMatch {
            method: Some(StringMatch::Exact("POST".into())),
            path: Some(StringMatch::Exact("/checkout".into())),
            ..MirrorMatch::default()
        }],
        percentage: Some(percentage),
    }
}

/// One object read, of `kind`, named and namespaced as `object` says.
pub fn read(kind: Kind, object: Value) -> Objects {
    vec![Read {
        target: Target::new(
            kind,
            object["metadata"]["namespace"].as_str().unwrap_or("shop"),
            object["metadata"]["name"].as_str().unwrap_or(""),
        ),
        api_version: kind.apis[0],
        live: Some(object),
    }]
}

/// An object written by a router, without the record of the write (tests compare the rest).
pub fn routed_without_record(object: &Value) -> Value {
    assert!(
        recorded(object).is_some(),
        "a router's write records its intent"
    );
    let mut object = object.clone();
    json::set_annotation(&mut object, INTENT_ANNOTATION, None);
    object
}

fn gateway() -> GatewayApi {
    GatewayApi {
        namespace: None,
        routes: vec![GatewayRoute {
            kind: RouteKind::Http,
            name: "web".into(),
            header_routes: true,
        }],
        selectors: Vec::new(),
        in_progress_label: None,
    }
}

fn git_route(stable: i64, canary: i64) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"rules": [{"backendRefs": [
            {"name": "web-stable", "port": 80, "weight": stable},
            {"name": "web-canary", "port": 80, "weight": canary},
        ]}]},
    })
}

/// The route as the router wrote it mid-canary: 30 % and a header route.
fn live_route() -> Value {
    let mut asked = intent(30);
    asked.header_routes = vec![header("header", StringMatch::Exact("yes".into()))];
    let mut live = git_route(100, 0);
    live["metadata"]["resourceVersion"] = json!("41");
    let router = Router::GatewayApi(gateway());
    let writes = shape(&router)
        .writes(&context(), &read(gateway::HTTP_ROUTE, live), &asked)
        .unwrap();
    let [Write::Replace(_, written)] = writes.as_slice() else {
        panic!("one replace")
    };
    let mut written = written.clone();
    written["metadata"]["resourceVersion"] = json!("42");
    written
}

#[test]
fn sync_keeps_the_weights_and_managed_routes_a_router_wrote() {
    let live = live_route();
    let mut git = git_route(100, 0);
    git["spec"]["parentRefs"] = json!([{"name": "public"}]);
    let carried = carry(&git, &live).expect("a routed object");
    assert_eq!(
        carried["spec"]["parentRefs"],
        json!([{"name": "public"}]),
        "Git's change goes in"
    );
    let rules = carried["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules[0]["backendRefs"][0]["weight"], 70);
    assert_eq!(rules[0]["backendRefs"][1]["weight"], 30);
    assert_eq!(rules[1]["name"], "header", "the header route stays");
    assert_eq!(
        carried["metadata"]["resourceVersion"], "42",
        "on the condition nothing changed"
    );
    assert_eq!(recorded(&carried), recorded(&live));
}

#[test]
fn nothing_is_carried_for_objects_no_router_wrote() {
    assert_eq!(carry(&git_route(100, 0), &git_route(100, 0)), None);
    let mut service = live_route();
    service["kind"] = json!("Service");
    service["apiVersion"] = json!("v1");
    assert_eq!(carry(&service, &live_route()), None);
}

#[test]
fn a_git_route_the_router_cannot_shape_goes_in_as_it_is() {
    let mut git = git_route(100, 0);
    git["spec"]["rules"][0]["backendRefs"] = json!([{"name": "web-stable", "port": 80}]);
    assert_eq!(
        carry(&git, &live_route()),
        None,
        "nothing kept: Git's route applies"
    );
}

#[test]
fn routed_kinds_are_known_by_api_version_and_kind() {
    assert!(may_be_routed("gateway.networking.k8s.io/v1", "HTTPRoute"));
    assert!(may_be_routed(
        "networking.istio.io/v1alpha3",
        "VirtualService"
    ));
    assert!(may_be_routed(
        "traefik.containo.us/v1alpha1",
        "TraefikService"
    ));
    assert!(!may_be_routed("v1", "Service"));
    assert!(!may_be_routed("gateway.networking.k8s.io/v1", "Gateway"));
}

#[test]
fn alb_splits_between_the_ping_pong_services_and_others_only_when_no_services_are_named() {
    let mut with_ping_pong = context();
    with_ping_pong.ping_pong = Some(("web-pong".into(), "web-ping".into()));
    let alb = Router::Alb(crate::model::Alb {
        ingresses: vec!["web".into()],
        service_port: 80,
        root_service: Some("web-root".into()),
        annotation_prefix: "alb.ingress.kubernetes.io".into(),
        stickiness: None,
    });
    let istio = Router::Istio(crate::model::Istio {
        virtual_services: Vec::new(),
        destination_rule: None,
    });
    let for_alb = with_ping_pong.for_router(&alb);
    assert_eq!(
        (
            for_alb.stable_service.as_str(),
            for_alb.canary_service.as_str()
        ),
        ("web-pong", "web-ping")
    );
    let for_istio = with_ping_pong.for_router(&istio);
    assert_eq!(for_istio.canary_service, "web-canary", "its named Services");
    let mut unnamed = with_ping_pong.clone();
    unnamed.canary_service.clear();
    unnamed.stable_service.clear();
    assert_eq!(unnamed.for_router(&istio).canary_service, "web-ping");
    assert_eq!(
        context().for_router(&alb),
        context(),
        "no ping-pong: unchanged"
    );
}

#[test]
fn only_routers_that_carry_experiment_destinations_are_given_them() {
    let intent = with_experiment(20, 10);
    assert_eq!(intent.stable_weight(), 70);
    let smi = Router::Smi(crate::model::Smi {
        root_service: None,
        traffic_split_name: None,
    });
    assert_eq!(intent.for_router(&smi), intent);
    let traefik = Router::Traefik(crate::model::Traefik {
        weighted_traefik_service_name: "web".into(),
    });
    let plain = intent.for_router(&traefik);
    assert!(plain.additional.is_empty());
    assert_eq!(
        (plain.canary_weight, plain.stable_weight()),
        (20, 80),
        "the stable keeps the experiment's share"
    );
}
