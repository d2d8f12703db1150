//! APISIX ApisixRoutes: given the main route, the header routes' own ApisixRoutes (or none)
//! and an intent, the exact routes to write, create or delete, and what they carry.

use serde_json::{Value, json};

use super::*;
use crate::model::HeaderMatch;
use crate::traffic::tests::{context, header, intent, routed_without_record};

fn config(rules: &[&str]) -> Config {
    Config {
        route: "web".into(),
        rules: rules.iter().map(|rule| (*rule).to_owned()).collect(),
    }
}

fn backends(stable: i64, canary: i64) -> Value {
    json!([
        {"serviceName": "web-stable", "servicePort": 80, "weight": stable},
        {"serviceName": "web-canary", "servicePort": 80, "weight": canary},
    ])
}

fn static_rule() -> Value {
    json!({"name": "static", "match": {"paths": ["/static/*"]},
           "backends": [{"serviceName": "static", "servicePort": 80}]})
}

fn route(stable: i64, canary: i64) -> Value {
    json!({
        "apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "11"},
        "spec": {"ingressClassName": "apisix", "http": [
            {"name": "web", "priority": 2, "match": {"hosts": ["web.example.com"], "paths": ["/*"]},
             "backends": backends(stable, canary), "plugins": [{"name": "cors", "enable": true}]},
            static_rule(),
        ]},
    })
}

/// The main route and the managed routes' own (`header`, `mirror`), as the lookups read them.
fn objects(main: Option<Value>, header: Option<Value>) -> Objects {
    let target = |name| Target::new(APISIX_ROUTE, "shop", name);
    let api_version = "apisix.apache.org/v2";
    vec![
        Read {
            target: target("web"),
            api_version,
            live: main,
        },
        Read {
            target: target("header"),
            api_version,
            live: header,
        },
        Read {
            target: target("mirror"),
            api_version,
            live: None,
        },
    ]
}

fn writes(config: &Config, objects: &Objects, asked: &TrafficIntent) -> Result<Vec<Write>, String> {
    Apisix(config).writes(&context(), objects, asked)
}

/// The header route's own ApisixRoute, as created.
fn header_route(exprs: Value) -> Value {
    let mut route = json!({
        "apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute",
        "metadata": {"name": "header", "namespace": "shop", "ownerReferences": [context().owner]},
        "spec": {"ingressClassName": "apisix", "http": [
            {"name": "web", "priority": 3,
             "match": {"hosts": ["web.example.com"], "paths": ["/*"]},
             "backends": [{"serviceName": "web-canary", "servicePort": 80, "weight": 100}],
             "plugins": [{"name": "cors", "enable": true}]},
        ]},
    });
    route["spec"]["http"][0]["match"]["exprs"] = exprs;
    route
}

#[test]
fn the_main_route_and_one_per_managed_route_are_looked_up() {
    let named = |name| Lookup::Named(Target::new(APISIX_ROUTE, "shop", name));
    assert_eq!(
        Apisix(&config(&[])).lookups(&context()),
        [named("web"), named("header"), named("mirror")]
    );
}

#[test]
fn the_rule_named_like_the_route_carries_the_weights_and_others_are_kept() {
    let writes = writes(
        &config(&[]),
        &objects(Some(route(100, 0)), None),
        &intent(30),
    )
    .unwrap();
    let [Write::Replace(target, written)] = writes.as_slice() else {
        panic!("one replace expected, got {writes:?}")
    };
    assert_eq!(target.describe(), "ApisixRoute shop/web");
    assert_eq!(routed_without_record(written), route(70, 30));
}

#[test]
fn named_rules_each_carry_the_weights() {
    let mut live = route(100, 0);
    live["spec"]["http"][1] = json!({"name": "api", "backends": backends(100, 0)});
    let writes = writes(
        &config(&["web", "api"]),
        &objects(Some(live), None),
        &intent(40),
    )
    .unwrap();
    let [Write::Replace(_, written)] = writes.as_slice() else {
        panic!("one replace expected, got {writes:?}")
    };
    assert_eq!(written["spec"]["http"][0]["backends"], backends(60, 40));
    assert_eq!(written["spec"]["http"][1]["backends"], backends(60, 40));
}

#[test]
fn a_route_that_carries_the_intent_is_not_written() {
    let read = objects(Some(route(80, 20)), None);
    assert_eq!(writes(&config(&[]), &read, &intent(20)), Ok(Vec::new()));
    let readings = Apisix(&config(&[])).readings(&context(), &read);
    assert_eq!(readings.len(), 1);
    assert_eq!(readings[0].object, "ApisixRoute shop/web");
    assert!(readings[0].carries(&intent(20)));
    assert!(!readings[0].carries(&intent(30)));
}

#[test]
fn a_header_route_is_an_owned_copy_one_priority_higher_sending_only_to_the_canary() {
    let mut asked = intent(30);
    asked.header_routes = vec![header("header", StringMatch::Exact("yes".into()))];
    asked.header_routes[0].matches.push(HeaderMatch {
        header: "X-Group".into(),
        value: StringMatch::Regex("beta|qa".into()),
    });
    let written = writes(&config(&[]), &objects(Some(route(100, 0)), None), &asked).unwrap();
    let [Write::Replace(_, main), Write::Create(target, created)] = written.as_slice() else {
        panic!("a replace and a create expected, got {written:?}")
    };
    assert_eq!(routed_without_record(main), route(70, 30));
    assert_eq!(target.describe(), "ApisixRoute shop/header");
    assert_eq!(
        routed_without_record(created),
        header_route(json!([
            {"subject": {"scope": "Header", "name": "X-Canary"}, "op": "Equal", "value": "yes"},
            {"subject": {"scope": "Header", "name": "X-Group"}, "op": "RegexMatch", "value": "beta|qa"},
        ]))
    );

    let read = objects(Some(routed_without_record(main)), Some(created.clone()));
    let readings = Apisix(&config(&[])).readings(&context(), &read);
    assert_eq!(
        readings[0].state.as_ref().unwrap().routes,
        ["header".to_owned()].into()
    );
    assert!(readings[0].carries(&asked));
    assert!(!readings[0].carries(&intent(30)));
    assert_eq!(writes(&config(&[]), &read, &asked), Ok(Vec::new()));
    assert_eq!(
        writes(&config(&[]), &read, &intent(30)),
        Ok(vec![Write::Delete(Target::new(
            APISIX_ROUTE,
            "shop",
            "header"
        ))]),
        "deleted once no longer asked for"
    );
}

#[test]
fn a_prefix_header_match_is_an_escaped_regex() {
    let mut asked = intent(10);
    asked.header_routes = vec![header("header", StringMatch::Prefix("beta.v1".into()))];
    let writes = writes(&config(&[]), &objects(Some(route(90, 10)), None), &asked).unwrap();
    let [Write::Create(_, created)] = writes.as_slice() else {
        panic!("one create expected, got {writes:?}")
    };
    assert_eq!(
        created["spec"]["http"][0]["match"]["exprs"],
        json!([{"subject": {"scope": "Header", "name": "X-Canary"}, "op": "RegexMatch",
                "value": "^beta\\.v1.*"}])
    );
}

#[test]
fn routes_that_cannot_carry_the_split_are_errors_naming_them() {
    let error =
        |live: Value| writes(&config(&[]), &objects(Some(live), None), &intent(10)).unwrap_err();
    let mut renamed = route(100, 0);
    renamed["spec"]["http"][0]["name"] = json!("main");
    assert_eq!(
        error(renamed),
        "ApisixRoute shop/web has no HTTP rule \"web\""
    );
    let mut upstream = route(100, 0);
    upstream["spec"]["http"][0]
        .as_object_mut()
        .unwrap()
        .remove("backends");
    assert_eq!(
        error(upstream),
        "ApisixRoute shop/web rule \"web\" has no backends"
    );
    let mut stable_only = route(100, 0);
    stable_only["spec"]["http"][0]["backends"] =
        json!([{"serviceName": "web-stable", "servicePort": 80}]);
    assert_eq!(
        error(stable_only),
        "ApisixRoute shop/web rule \"web\" has no backend web-canary"
    );
    assert_eq!(
        writes(&config(&[]), &objects(None, None), &intent(10)).unwrap_err(),
        "ApisixRoute shop/web does not exist"
    );
    assert_eq!(
        Apisix(&config(&[])).readings(&context(), &objects(None, None))[0].state,
        Err("ApisixRoute shop/web does not exist".to_owned())
    );
    let mut lookups = objects(Some(route(100, 0)), None);
    lookups.remove(0);
    assert_eq!(
        writes(&config(&[]), &lookups, &intent(10)).unwrap_err(),
        "ApisixRoute web was not read"
    );
}

#[test]
fn a_managed_routes_apisix_route_of_someone_else_is_refused_and_not_read_as_carried() {
    let mut foreign = header_route(json!([]));
    foreign["metadata"]["ownerReferences"][0]["uid"] = json!("u-2");
    let read = objects(Some(route(100, 0)), Some(foreign));
    assert_eq!(
        writes(&config(&[]), &read, &intent(0)).unwrap_err(),
        "ApisixRoute shop/header exists but does not belong to Rollout web"
    );
    let readings = Apisix(&config(&[])).readings(&context(), &read);
    assert_eq!(
        readings[0].state.as_ref().unwrap().routes,
        std::collections::BTreeSet::new()
    );
}
