//! Gateway API routes: given a route and an intent, the exact route to write.

use serde_json::{Value, json};

use super::*;
use crate::traffic::tests::{context, header, intent, mirror, read, routed_without_record};

fn config(header_routes: bool) -> Config {
    Config {
        namespace: None,
        routes: vec![
            crate::model::GatewayRoute {
                kind: RouteKind::Http,
                name: "web".into(),
                header_routes,
            },
            crate::model::GatewayRoute {
                kind: RouteKind::Tcp,
                name: "db".into(),
                header_routes: false,
            },
        ],
        selectors: vec![(RouteKind::Grpc, "app=web".into())],
        in_progress_label: Some((
            "rollouts.argoproj.io/gatewayapi-canary".into(),
            "in-progress".into(),
        )),
    }
}

fn http_route(rules: &Value) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7"},
        "spec": {"parentRefs": [{"name": "gateway"}], "rules": rules},
    })
}

fn weighted_rule() -> Value {
    json!({
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [
            {"group": "", "kind": "Service", "name": "web-stable", "port": 80, "weight": 100},
            {"group": "", "kind": "Service", "name": "web-canary", "port": 80, "weight": 0},
        ],
    })
}

fn the_write(writes: &[Write]) -> Value {
    match writes {
        [Write::Replace(target, object)] => {
            assert_eq!(target.name, "web");
            routed_without_record(object)
        }
        other => panic!("one replace expected, got {other:?}"),
    }
}

#[test]
fn routes_are_looked_up_by_name_and_by_selector_in_the_rollouts_namespace() {
    let lookups = GatewayApi(&config(true)).lookups(&context());
    assert_eq!(
        lookups,
        [
            Lookup::Named(Target::new(HTTP_ROUTE, "shop", "web")),
            Lookup::Named(Target::new(TCP_ROUTE, "shop", "db")),
            Lookup::Selected {
                kind: GRPC_ROUTE,
                namespace: "shop".into(),
                selector: "app=web".into()
            },
        ]
    );
}

#[test]
fn weights_go_to_every_rule_with_both_services_and_the_label_marks_the_canary() {
    let other = json!({"backendRefs": [{"name": "legacy", "port": 80, "weight": 1}]});
    let live = http_route(&json!([weighted_rule(), other.clone()]));
    let written = the_write(
        &GatewayApi(&config(true))
            .writes(&context(), &read(HTTP_ROUTE, live), &intent(30))
            .unwrap(),
    );
    let rules = &written["spec"]["rules"];
    assert_eq!(rules[0]["backendRefs"][0]["weight"], 70);
    assert_eq!(rules[0]["backendRefs"][1]["weight"], 30);
    assert_eq!(
        rules[1], other,
        "a rule without both Services is not touched"
    );
    assert_eq!(
        written["metadata"]["labels"]["rollouts.argoproj.io/gatewayapi-canary"],
        "in-progress"
    );
    assert_eq!(
        written["metadata"]["resourceVersion"], "7",
        "the replace's precondition"
    );

    let back = http_route(&written["spec"]["rules"]);
    let mut back = back;
    back["metadata"] = written["metadata"].clone();
    let idle = the_write(
        &GatewayApi(&config(true))
            .writes(&context(), &read(HTTP_ROUTE, back), &intent(0))
            .unwrap(),
    );
    assert!(
        idle["metadata"].get("labels").is_none(),
        "no label at weight 0"
    );
}

#[test]
fn a_route_that_carries_the_intent_is_not_written() {
    let mut live = http_route(&json!([weighted_rule()]));
    live["spec"]["rules"][0]["backendRefs"][0]["weight"] = json!(80);
    live["spec"]["rules"][0]["backendRefs"][1]["weight"] = json!(20);
    live["metadata"]["labels"] = json!({"rollouts.argoproj.io/gatewayapi-canary": "in-progress"});
    let writes = GatewayApi(&config(true))
        .writes(&context(), &read(HTTP_ROUTE, live.clone()), &intent(20))
        .unwrap();
    assert_eq!(writes, []);
    let readings = GatewayApi(&config(true)).readings(&context(), &read(HTTP_ROUTE, live));
    assert!(readings[0].carries(&intent(20)));
    assert!(!readings[0].carries(&intent(30)));
}

#[test]
fn a_route_without_both_services_or_missing_is_an_error_naming_it() {
    let live = http_route(&json!([{"backendRefs": [{"name": "web-stable", "port": 80}]}]));
    let error = GatewayApi(&config(true))
        .writes(&context(), &read(HTTP_ROUTE, live), &intent(10))
        .unwrap_err();
    assert_eq!(
        error,
        "HTTPRoute shop/web has no rule that sends traffic to both web-canary and web-stable"
    );
    let missing = vec![Read {
        target: Target::new(HTTP_ROUTE, "shop", "web"),
        api_version: "gateway.networking.k8s.io/v1",
        live: None,
    }];
    assert_eq!(
        GatewayApi(&config(true))
            .writes(&context(), &missing, &intent(10))
            .unwrap_err(),
        "HTTPRoute shop/web does not exist"
    );
}

#[test]
fn a_header_route_is_a_rule_per_weighted_rule_sending_matching_requests_to_the_canary() {
    let second = json!({
        "matches": [{"path": {"type": "PathPrefix", "value": "/api"}, "headers": [{"type": "Exact", "name": "X-Canary", "value": "old"}]}],
        "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "x", "value": "y"}]}}],
        "backendRefs": [
            {"group": "", "kind": "Service", "name": "web-stable", "port": 8080, "weight": 100},
            {"group": "", "kind": "Service", "name": "web-canary", "port": 8080, "weight": 0},
        ],
    });
    let live = http_route(&json!([weighted_rule(), second]));
    let mut asked = intent(0);
    asked.header_routes = vec![header("header", StringMatch::Prefix("beta.v1".into()))];
    let written = the_write(
        &GatewayApi(&config(true))
            .writes(&context(), &read(HTTP_ROUTE, live), &asked)
            .unwrap(),
    );
    let rules = written["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 4);
    assert_eq!(
        rules[2],
        json!({
            "name": "header",
            "matches": [{
                "path": {"type": "PathPrefix", "value": "/"},
                "headers": [{"type": "RegularExpression", "name": "X-Canary", "value": "beta\\.v1.*"}],
            }],
            "backendRefs": [{"group": "", "kind": "Service", "name": "web-canary", "port": 80, "weight": 1}],
        })
    );
    assert_eq!(rules[3]["name"], "header-1");
    assert_eq!(
        rules[3]["matches"][0]["headers"],
        json!([{"type": "RegularExpression", "name": "X-Canary", "value": "beta\\.v1.*"}]),
        "the source's header of the same name gives way"
    );
    assert_eq!(rules[3]["matches"][0]["path"]["value"], "/api");
    assert_eq!(rules[3]["filters"][0]["type"], "RequestHeaderModifier");

    let readings =
        GatewayApi(&config(true)).readings(&context(), &read(HTTP_ROUTE, written.clone()));
    assert_eq!(
        readings[0].state.as_ref().unwrap().routes,
        ["header".to_owned()].into()
    );
    assert!(readings[0].carries(&asked));

    let again = GatewayApi(&config(true))
        .writes(&context(), &read(HTTP_ROUTE, written.clone()), &intent(0))
        .unwrap();
    let removed = the_write(&again);
    assert_eq!(
        removed["spec"]["rules"].as_array().unwrap().len(),
        2,
        "removed once not asked for"
    );
}

#[test]
fn routes_without_header_routes_get_none_and_read_as_taking_none() {
    let live = http_route(&json!([weighted_rule()]));
    let mut asked = intent(10);
    asked.header_routes = vec![header("header", StringMatch::Exact("yes".into()))];
    let written = the_write(
        &GatewayApi(&config(false))
            .writes(&context(), &read(HTTP_ROUTE, live), &asked)
            .unwrap(),
    );
    assert_eq!(written["spec"]["rules"].as_array().unwrap().len(), 1);
    let readings = GatewayApi(&config(false)).readings(&context(), &read(HTTP_ROUTE, written));
    assert!(readings[0].carries(&asked), "it carries what it can");
}

#[test]
fn a_mirror_route_keeps_the_split_and_copies_a_share_to_the_canary() {
    let live = http_route(&json!([weighted_rule()]));
    let mut asked = intent(20);
    asked.mirror_routes = vec![mirror("mirror", 35)];
    let written = the_write(
        &GatewayApi(&config(true))
            .writes(&context(), &read(HTTP_ROUTE, live), &asked)
            .unwrap(),
    );
    assert_eq!(
        written["spec"]["rules"][1],
        json!({
            "name": "mirror",
            "matches": [{"path": {"type": "Exact", "value": "/checkout"}, "method": "POST"}],
            "filters": [{"type": "RequestMirror", "requestMirror": {
                "backendRef": {"group": "", "kind": "Service", "name": "web-canary", "port": 80},
                "percent": 35,
            }}],
            "backendRefs": [
                {"group": "", "kind": "Service", "name": "web-stable", "port": 80, "weight": 80},
                {"group": "", "kind": "Service", "name": "web-canary", "port": 80, "weight": 20},
            ],
        })
    );
    let readings = GatewayApi(&config(true)).readings(&context(), &read(HTTP_ROUTE, written));
    assert!(
        readings[0].carries(&asked),
        "the mirror's weights are not read as the split's"
    );
}

#[test]
fn tcp_routes_carry_weights_only() {
    let live = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "TCPRoute",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"rules": [{"backendRefs": [{"name": "web-stable", "port": 5432}, {"name": "web-canary", "port": 5432}]}]},
    });
    let mut asked = intent(40);
    asked.header_routes = vec![header("header", StringMatch::Exact("yes".into()))];
    let readings = GatewayApi(&config(true)).readings(&context(), &read(TCP_ROUTE, live.clone()));
    assert_eq!(
        readings[0].state.as_ref().unwrap().canary_weight,
        None,
        "two default weights of 1 are not a split of 100"
    );
    let writes = GatewayApi(&config(true))
        .writes(&context(), &read(TCP_ROUTE, live), &asked)
        .unwrap();
    let [Write::Replace(_, written)] = writes.as_slice() else {
        panic!("one replace")
    };
    assert_eq!(written["spec"]["rules"].as_array().unwrap().len(), 1);
    assert_eq!(written["spec"]["rules"][0]["backendRefs"][1]["weight"], 40);
}

#[test]
fn methods_are_matched_exactly_and_prefixes_are_escaped() {
    let mut prefix = mirror("mirror", 100);
    prefix.matches[0].method = Some(StringMatch::Prefix("PO".into()));
    assert_eq!(
        mirror_match(&prefix.matches[0]).unwrap_err(),
        "Gateway API matches a method exactly; prefix \"PO\" cannot be routed"
    );
    assert_eq!(escape_regex("a.b*c(d)"), "a\\.b\\*c\\(d\\)");
}
