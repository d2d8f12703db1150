//! App Mesh VirtualServices, VirtualRouters and VirtualNodes: given the objects and an
//! intent, the exact nodes and router to write, and what they are read to carry.

use serde_json::{Value, json};

use super::*;
use crate::traffic::tests::{context, intent, read, routed_without_record};

fn config(routes: &[&str]) -> Config {
    Config {
        virtual_service: "web-svc".into(),
        routes: routes.iter().map(|route| (*route).to_owned()).collect(),
        canary_virtual_node: "web-vn-canary".into(),
        stable_virtual_node: "web-vn-stable".into(),
    }
}

fn virtual_service() -> Value {
    json!({
        "apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualService",
        "metadata": {"name": "web-svc", "namespace": "shop"},
        "spec": {"awsName": "web.shop.svc.cluster.local",
                 "provider": {"virtualRouter": {"virtualRouterRef": {"name": "web-router"}}}},
    })
}

fn targets(canary: i64, stable: i64) -> Value {
    json!([
        {"virtualNodeRef": {"name": "web-vn-canary"}, "weight": canary},
        {"virtualNodeRef": {"name": "web-vn-stable", "namespace": "shop"}, "weight": stable},
    ])
}

fn virtual_router(canary: i64, stable: i64) -> Value {
    json!({
        "apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualRouter",
        "metadata": {"name": "web-router", "namespace": "shop", "resourceVersion": "5"},
        "spec": {
            "listeners": [{"portMapping": {"port": 80, "protocol": "http"}}],
            "routes": [
                {"name": "primary", "httpRoute": {"match": {"prefix": "/"},
                                                  "action": {"weightedTargets": targets(canary, stable)}}},
                {"name": "api", "grpcRoute": {"match": {"serviceName": "web.Api"},
                                              "action": {"weightedTargets": targets(canary, stable)}}},
                {"name": "legacy", "httpRoute": {"match": {"prefix": "/old"}, "action": {"weightedTargets": [
                    {"virtualNodeRef": {"name": "web-vn-legacy"}, "weight": 1},
                ]}}},
            ],
        },
    })
}

fn virtual_node(name: &str, hash: Option<&str>) -> Value {
    let mut node = json!({
        "apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualNode",
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": "2"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                 "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}],
                 "serviceDiscovery": {"dns": {"hostname": format!("{name}.shop.svc.cluster.local")}}},
    });
    if let Some(hash) = hash {
        node["spec"]["podSelector"]["matchLabels"]["rollouts-pod-template-hash"] = json!(hash);
    }
    node
}

/// Everything read, as the lookups and the VirtualRouter followed read them.
fn objects(canary_hash: Option<&str>, stable_hash: Option<&str>, router: Value) -> Objects {
    [
        read(VIRTUAL_SERVICE, virtual_service()),
        read(VIRTUAL_NODE, virtual_node("web-vn-canary", canary_hash)),
        read(VIRTUAL_NODE, virtual_node("web-vn-stable", stable_hash)),
        read(VIRTUAL_ROUTER, router),
    ]
    .concat()
}

fn writes(config: &Config, objects: &Objects, asked: &TrafficIntent) -> Result<Vec<Write>, String> {
    AppMesh(config).writes(&context(), objects, asked)
}

fn written(writes: Vec<Write>) -> Vec<(String, Value)> {
    writes
        .into_iter()
        .map(|write| match write {
            Write::Replace(target, object) => (target.describe(), routed_without_record(&object)),
            other => panic!("only replaces expected, got {other:?}"),
        })
        .collect()
}

#[test]
fn the_service_and_nodes_are_looked_up_and_the_router_they_name_followed() {
    let mesh = AppMesh(&config(&[]));
    assert_eq!(
        mesh.lookups(&context()),
        [
            Lookup::Named(Target::new(VIRTUAL_SERVICE, "shop", "web-svc")),
            Lookup::Named(Target::new(VIRTUAL_NODE, "shop", "web-vn-canary")),
            Lookup::Named(Target::new(VIRTUAL_NODE, "shop", "web-vn-stable")),
        ]
    );
    let mut service = virtual_service();
    let first = read(VIRTUAL_SERVICE, service.clone());
    let router = Lookup::Named(Target::new(VIRTUAL_ROUTER, "shop", "web-router"));
    assert_eq!(mesh.follow(&context(), &first), [router]);
    let all = objects(None, None, virtual_router(0, 100));
    assert_eq!(mesh.follow(&context(), &all), [], "once read, nothing more");
    service["spec"]["provider"]["virtualRouter"]["virtualRouterRef"]["namespace"] = json!("mesh");
    let elsewhere = Lookup::Named(Target::new(VIRTUAL_ROUTER, "mesh", "web-router"));
    assert_eq!(
        mesh.follow(&context(), &read(VIRTUAL_SERVICE, service)),
        [elsewhere]
    );
}

#[test]
fn nodes_select_the_revisions_first_then_the_selected_routes_carry_the_weights() {
    let objects = objects(None, None, virtual_router(0, 100));
    let written = written(writes(&config(&["primary", "api"]), &objects, &intent(30)).unwrap());
    let names: Vec<&str> = written.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "VirtualNode shop/web-vn-canary",
            "VirtualNode shop/web-vn-stable",
            "VirtualRouter shop/web-router"
        ],
        "the canary's node first: the two never select the same pods"
    );
    assert_eq!(written[0].1, virtual_node("web-vn-canary", Some("new")));
    assert_eq!(written[1].1, virtual_node("web-vn-stable", Some("old")));
    assert_eq!(
        written[2].1,
        virtual_router(30, 70),
        "the route not selected is kept"
    );
}

#[test]
fn objects_that_carry_the_intent_are_not_written() {
    let objects = objects(Some("new"), Some("old"), virtual_router(30, 70));
    assert_eq!(
        writes(&config(&["primary", "api"]), &objects, &intent(30)),
        Ok(Vec::new())
    );
    let readings = AppMesh(&config(&["primary", "api"])).readings(&context(), &objects);
    assert_eq!(readings.len(), 1);
    assert_eq!(readings[0].object, "VirtualService shop/web-svc");
    let state = readings[0].state.as_ref().unwrap();
    assert_eq!(state.hashes, Some(("new".to_owned(), "old".to_owned())));
    assert!(readings[0].carries(&intent(30)));
    assert!(!readings[0].carries(&intent(40)));
    let mut newer = intent(30);
    newer.canary_hash = "newer".into();
    assert!(
        !readings[0].carries(&newer),
        "the canary node selects another revision"
    );
}

#[test]
fn while_the_canary_is_the_stable_its_node_selects_the_placeholder() {
    let mut promoted = intent(0);
    promoted.canary_hash = "old".into();
    let objects = objects(Some("new"), Some("old"), virtual_router(0, 100));
    let written = written(writes(&config(&["primary", "api"]), &objects, &promoted).unwrap());
    assert_eq!(
        written.len(),
        1,
        "the stable node already selects the stable"
    );
    assert_eq!(
        written[0].1,
        virtual_node("web-vn-canary", Some("canary-hash"))
    );

    let placeholder = self::objects(Some("canary-hash"), Some("old"), virtual_router(0, 100));
    let readings = AppMesh(&config(&["primary", "api"])).readings(&context(), &placeholder);
    let state = readings[0].state.as_ref().unwrap();
    assert_eq!(
        state.hashes,
        Some(("old".to_owned(), "old".to_owned())),
        "mapped back"
    );
    assert!(readings[0].carries(&promoted));
}

#[test]
fn routes_that_cannot_carry_the_split_are_errors_naming_them() {
    let error = |routes: &[&str], router: Value| {
        writes(&config(routes), &objects(None, None, router), &intent(10)).unwrap_err()
    };
    assert_eq!(
        error(&[], virtual_router(0, 100)),
        "VirtualRouter shop/web-router route \"legacy\" needs both the canary and the stable VirtualNode as targets"
    );
    assert_eq!(
        error(&["other"], virtual_router(0, 100)),
        "VirtualRouter shop/web-router has none of the routes configured"
    );
    let mut untyped = virtual_router(0, 100);
    untyped["spec"]["routes"][0] = json!({"name": "primary", "udpRoute": {}});
    assert_eq!(
        error(&["primary"], untyped),
        "VirtualRouter shop/web-router route \"primary\" has no supported type"
    );
    let mut untargeted = virtual_router(0, 100);
    untargeted["spec"]["routes"][0]["httpRoute"]["action"] = json!({});
    assert_eq!(
        error(&["primary"], untargeted),
        "VirtualRouter shop/web-router route \"primary\" has no weighted targets"
    );
    let mut foreign = virtual_router(0, 100);
    foreign["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"][0]["virtualNodeRef"]["namespace"] =
        json!("other");
    assert_eq!(
        error(&["primary"], foreign),
        "VirtualRouter shop/web-router route \"primary\" needs both the canary and the stable VirtualNode as targets",
        "a node of another namespace is not the canary's"
    );
}

#[test]
fn missing_objects_are_errors_naming_them() {
    let all = || objects(Some("new"), Some("old"), virtual_router(30, 70));
    let error =
        |objects: Objects| writes(&config(&["primary"]), &objects, &intent(30)).unwrap_err();
    let reading = |objects: Objects| {
        AppMesh(&config(&["primary"])).readings(&context(), &objects)[0]
            .state
            .clone()
    };

    let mut no_service = all();
    no_service[0].live = None;
    let gone = "VirtualService shop/web-svc does not exist";
    assert_eq!(error(no_service.clone()), gone);
    assert_eq!(reading(no_service), Err(gone.to_owned()));
    // Without the VirtualService (sync shaping one object from Git), what was read is shaped.
    let mut unread = all();
    unread.remove(0);
    assert!(writes(&config(&["primary"]), &unread, &intent(30)).is_ok());
    let mut direct = all();
    direct[0].live.as_mut().unwrap()["spec"]["provider"] =
        json!({"virtualNode": {"virtualNodeRef": {"name": "web-vn-stable"}}});
    assert_eq!(
        error(direct),
        "VirtualService shop/web-svc names no VirtualRouter"
    );
    let mut no_router = all();
    no_router[3].live = None;
    let gone = "VirtualRouter shop/web-router does not exist";
    assert_eq!(error(no_router.clone()), gone);
    assert_eq!(reading(no_router), Err(gone.to_owned()));
    let mut no_node = all();
    no_node[1].live = None;
    let gone = "VirtualNode shop/web-vn-canary does not exist";
    assert_eq!(error(no_node.clone()), gone);
    assert_eq!(reading(no_node), Err(gone.to_owned()));
    let mut unread_node = all();
    unread_node.remove(2);
    assert_eq!(error(unread_node), "VirtualNode web-vn-stable was not read");
}

#[test]
fn sync_keeps_the_weights_the_router_wrote() {
    let objects = objects(None, None, virtual_router(0, 100));
    let writes = writes(&config(&["primary", "api"]), &objects, &intent(30)).unwrap();
    let Some(Write::Replace(_, routed)) = writes.last() else {
        panic!("the router's write expected, got {writes:?}")
    };
    let carried =
        crate::traffic::carry(&virtual_router(0, 100), routed).expect("the router wrote it");
    assert_eq!(carried["spec"], virtual_router(30, 70)["spec"]);
}
