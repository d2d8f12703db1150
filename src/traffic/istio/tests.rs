//! Istio VirtualServices and DestinationRules: given the objects and an intent, the exact
//! objects to write, and what they are read to carry.

use serde_json::{Value, json};

use super::*;
use crate::model::{IstioDestinationRule, IstioTlsRoute};
use crate::traffic::tests::{
    context, header, intent, mirror, read, routed_without_record, with_experiment,
};

fn config(http_routes: &[&str]) -> Config {
    Config {
        virtual_services: vec![IstioVirtualService {
            name: "web".into(),
            namespace: None,
            http_routes: http_routes.iter().map(|name| (*name).to_owned()).collect(),
            tls_routes: Vec::new(),
            tcp_routes: Vec::new(),
        }],
        destination_rule: None,
    }
}

fn with_rule(mut config: Config) -> Config {
    config.destination_rule = Some(IstioDestinationRule {
        name: "web-rule".into(),
        canary_subset: "canary".into(),
        stable_subset: "stable".into(),
    });
    config
}

fn to(host: &str, weight: i64) -> Value {
    json!({"destination": {"host": host, "port": {"number": 80}}, "weight": weight})
}

fn primary(stable: i64, canary: i64) -> Value {
    json!({"name": "primary", "route": [to("web-stable", stable), to("web-canary", canary)]})
}

fn virtual_service(spec: Value) -> Value {
    let mut service = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7",
                     "managedFields": [{"manager": "argocd"}]},
        "status": {"observedGeneration": 3},
    });
    service["spec"] = spec;
    service
}

/// The writes, as (object, written without the record).
fn written(writes: Vec<Write>) -> Vec<(String, Value)> {
    writes
        .into_iter()
        .map(|write| match write {
            Write::Replace(target, object) => (target.describe(), routed_without_record(&object)),
            other => panic!("only replaces expected, got {other:?}"),
        })
        .collect()
}

fn the_write(writes: Vec<Write>) -> Value {
    let mut written = written(writes);
    assert_eq!(written.len(), 1, "one write expected");
    written.remove(0).1
}

/// The writes for `objects`.
fn writes(config: &Config, objects: &Objects, asked: &TrafficIntent) -> Result<Vec<Write>, String> {
    Istio(config).writes(&context(), objects, asked)
}

/// The writes for the VirtualService `live`.
fn vs_writes(config: &Config, live: &Value, asked: &TrafficIntent) -> Result<Vec<Write>, String> {
    writes(config, &read(VIRTUAL_SERVICE, live.clone()), asked)
}

/// What the VirtualService `live` is read to carry.
fn vs_reading(config: &Config, live: &Value) -> RouterReading {
    Istio(config)
        .readings(&context(), &read(VIRTUAL_SERVICE, live.clone()))
        .remove(0)
}

#[test]
fn the_destination_rule_is_looked_up_first_and_services_in_their_namespace() {
    let mut config = with_rule(config(&[]));
    config.virtual_services[0].namespace = Some("edge".into());
    assert_eq!(
        Istio(&config).lookups(&context()),
        [
            Lookup::Named(Target::new(DESTINATION_RULE, "shop", "web-rule")),
            Lookup::Named(Target::new(VIRTUAL_SERVICE, "edge", "web")),
        ]
    );
}

#[test]
fn weights_go_to_the_named_routes_and_other_destinations_and_routes_are_kept() {
    let mut split = primary(100, 0);
    split["route"].as_array_mut().unwrap().push(to("legacy", 5));
    let other = json!({"name": "admin", "route": [to("web-stable", 100)]});
    let live = virtual_service(json!({"hosts": ["web.example.com"], "gateways": ["public"],
                                      "http": [split, other.clone()]}));
    let written = the_write(vs_writes(&config(&["primary"]), &live, &intent(30)).unwrap());
    assert_eq!(
        written,
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7"},
            "spec": {"hosts": ["web.example.com"], "gateways": ["public"], "http": [
                {"name": "primary", "route": [to("web-stable", 70), to("web-canary", 30), to("legacy", 5)]},
                other,
            ]},
        })
    );
}

/// The one object written, with its record.
fn recorded_write(writes: &[Write]) -> Value {
    match writes {
        [Write::Replace(_, object)] => object.clone(),
        other => panic!("one replace expected, got {other:?}"),
    }
}

#[test]
fn an_experiment_s_service_is_a_destination_while_it_runs_and_only_it_goes_after() {
    let mut split = primary(90, 10);
    split["route"].as_array_mut().unwrap().push(to("legacy", 0));
    let live = virtual_service(json!({"http": [split]}));
    let config = config(&["primary"]);
    let running = recorded_write(&vs_writes(&config, &live, &with_experiment(10, 20)).unwrap());
    let experiment = json!({"destination": {"host": "web-exp-canary"}, "weight": 20});
    assert_eq!(
        routed_without_record(&running)["spec"]["http"][0]["route"],
        json!([
            to("web-stable", 70),
            to("web-canary", 10),
            to("legacy", 0),
            experiment
        ])
    );
    let reading = vs_reading(&config, &running);
    assert!(reading.carries(&with_experiment(10, 20)));
    assert!(
        !reading.carries(&with_experiment(10, 15)),
        "its weight is read"
    );
    assert!(!reading.carries(&intent(10)), "it is still there");
    assert_eq!(
        vs_writes(&config, &running, &with_experiment(10, 20)),
        Ok(Vec::new()),
        "written once"
    );

    let after = recorded_write(&vs_writes(&config, &running, &intent(10)).unwrap());
    assert_eq!(
        routed_without_record(&after)["spec"]["http"][0]["route"],
        json!([to("web-stable", 90), to("web-canary", 10), to("legacy", 0)]),
        "the experiment's destination goes, the others stay"
    );
    let reading = vs_reading(&config, &after);
    assert!(reading.carries(&intent(10)));
    assert!(!reading.carries(&with_experiment(10, 20)));
}

#[test]
fn a_service_that_carries_the_intent_is_not_written() {
    let live = virtual_service(json!({"http": [primary(80, 20)]}));
    assert_eq!(vs_writes(&config(&[]), &live, &intent(20)), Ok(Vec::new()));
    let reading = vs_reading(&config(&[]), &live);
    assert_eq!(reading.object, "VirtualService shop/web");
    assert!(reading.carries(&intent(20)));
    assert!(!reading.carries(&intent(30)));
}

#[test]
fn services_and_routes_that_cannot_carry_the_split_are_errors_naming_them() {
    let http = |routes: Value| Some(virtual_service(json!({"http": routes})));
    let mut stranger = virtual_service(json!({"http": [primary(100, 0)]}));
    stranger["metadata"]["name"] = json!("other");
    let one_sided = json!([{"name": "primary", "route": [to("web-stable", 100)]}]);
    let two = json!([primary(100, 0), {"name": "b", "route": []}]);
    let table: [(&[&str], Option<Value>, &str); 6] = [
        (
            &["primary", "api"],
            http(json!([primary(100, 0)])),
            "has no HTTP route \"api\"",
        ),
        (
            &[],
            http(one_sided),
            "route \"primary\" needs both a canary and a stable destination",
        ),
        (
            &[],
            http(two),
            "has 2 HTTP routes: name the ones to split in virtualService.routes",
        ),
        (&[], http(json!([])), "has no HTTP route"),
        (&[], None, "does not exist"),
        (&[], Some(stranger), "is not configured"),
    ];
    for (routes, live, message) in table {
        let fallback = virtual_service(json!({}));
        let mut objects = read(VIRTUAL_SERVICE, live.clone().unwrap_or(fallback));
        objects[0].live = live;
        let name = objects[0].target.name.clone();
        let error = writes(&config(routes), &objects, &intent(10)).unwrap_err();
        assert_eq!(error, format!("VirtualService shop/{name} {message}"));
    }
}

#[test]
fn header_and_mirror_routes_come_first_in_managed_routes_order_and_go_when_not_asked() {
    let live = virtual_service(json!({"http": [primary(100, 0)]}));
    let mut asked = intent(30);
    asked.managed_routes = vec!["mirror".into(), "header".into()];
    asked.header_routes = vec![header("header", StringMatch::Exact("yes".into()))];
    asked.mirror_routes = vec![mirror("mirror", 35)];
    let written = the_write(vs_writes(&config(&[]), &live, &asked).unwrap());
    assert_eq!(
        written["spec"]["http"],
        json!([
            {"name": "mirror", "match": [{"method": {"exact": "POST"}, "uri": {"exact": "/checkout"}}],
             "route": [to("web-stable", 70), to("web-canary", 30)],
             "mirror": {"host": "web-canary", "port": {"number": 80}},
             "mirrorPercentage": {"value": 35}},
            {"name": "header", "match": [{"headers": {"X-Canary": {"exact": "yes"}}}],
             "route": [to("web-canary", 100)]},
            primary(70, 30),
        ])
    );
    let reading = vs_reading(&config(&[]), &written);
    let routes = &reading.state.as_ref().unwrap().routes;
    assert_eq!(routes.iter().collect::<Vec<_>>(), ["header", "mirror"]);
    assert!(reading.carries(&asked));
    assert!(!reading.carries(&intent(30)));
    assert_eq!(vs_writes(&config(&[]), &written, &asked), Ok(Vec::new()));

    let removed = the_write(vs_writes(&config(&[]), &written, &intent(30)).unwrap());
    assert_eq!(removed["spec"]["http"], json!([primary(70, 30)]));
}

#[test]
fn a_mirror_route_read_back_with_an_integer_percentage_is_not_written_again() {
    let mut asked = intent(30);
    asked.mirror_routes = vec![mirror("mirror", 35)];
    let live = virtual_service(json!({"http": [primary(100, 0)]}));
    let mut stored = the_write(vs_writes(&config(&[]), &live, &asked).unwrap());
    // What the API server returns: Go encodes the float64 35 as `35`.
    stored["spec"]["http"][0]["mirrorPercentage"]["value"] = json!(35);
    let stored = crate::traffic::record(stored, &Router::Istio(config(&[])), &context(), &asked);
    assert_eq!(vs_writes(&config(&[]), &stored, &asked), Ok(Vec::new()));
}

#[test]
fn fully_qualified_hosts_name_the_services_and_the_only_unmanaged_route_is_split() {
    let stale_header = json!({"name": "header", "match": [], "route": [to("web-canary", 100)]});
    let route = json!({"route": [
        {"destination": {"host": "web-stable.shop.svc.cluster.local"}, "weight": 100},
        {"destination": {"host": "web-canary.shop"}, "weight": 0},
    ]});
    let live = virtual_service(json!({"http": [stale_header, route]}));
    let written = the_write(vs_writes(&config(&[]), &live, &intent(25)).unwrap());
    assert_eq!(
        written["spec"]["http"],
        json!([{"route": [
            {"destination": {"host": "web-stable.shop.svc.cluster.local"}, "weight": 75},
            {"destination": {"host": "web-canary.shop"}, "weight": 25},
        ]}]),
        "the managed route not asked for goes"
    );
}

#[test]
fn tls_routes_are_found_by_port_and_sni_hosts_and_tcp_routes_by_port() {
    let split = |stable, canary| json!([to("web-stable", stable), to("web-canary", canary)]);
    let live = virtual_service(json!({
        "tls": [
            {"match": [{"port": 443, "sniHosts": ["b.example.com", "a.example.com"]}], "route": split(100, 0)},
            {"match": [{"port": 443, "sniHosts": ["admin.example.com"]}], "route": split(100, 0)},
            {"match": [{"port": 443, "sniHosts": ["a.example.com"]}, {"port": 8443, "sniHosts": ["b.example.com"]}],
             "route": split(100, 0)},
        ],
        "tcp": [
            {"match": [{"port": 5432}], "route": split(100, 0)},
            {"match": [{"port": 6379}], "route": split(100, 0)},
        ],
    }));
    let mut config = config(&[]);
    let service = &mut config.virtual_services[0];
    let sni_hosts = vec!["a.example.com".into(), "b.example.com".into()];
    service.tls_routes = vec![IstioTlsRoute {
        port: 443,
        sni_hosts,
    }];
    service.tcp_routes = vec![5432];
    let written = the_write(vs_writes(&config, &live, &intent(40)).unwrap());
    let spec = &written["spec"];
    assert_eq!(spec["tls"][0]["route"], split(60, 40));
    assert_eq!(spec["tcp"][0]["route"], split(60, 40));
    // Other SNI hosts, a route on two ports, another port: not split.
    for kept in ["/tls/1", "/tls/2", "/tcp/1"] {
        assert_eq!(spec.pointer(kept), live["spec"].pointer(kept), "{kept}");
    }
    assert_eq!(spec.get("http"), None, "no HTTP section appears");
    assert!(vs_reading(&config, &written).carries(&intent(40)));

    // A service that splits only TCP takes no mirror (or header) route, and reads as such.
    let mut asked = intent(40);
    asked.mirror_routes = vec![mirror("mirror", 10)];
    let mut tcp_only = config.clone();
    tcp_only.virtual_services[0].tls_routes.clear();
    let shaped = vs_writes(&tcp_only, &live, &asked).expect("a TCP split");
    let [Write::Replace(_, tcp_written)] = shaped.as_slice() else {
        panic!("one replace")
    };
    assert_eq!(tcp_written["spec"].get("http"), None);
    assert!(vs_reading(&tcp_only, tcp_written).carries(&asked));
    let table: [(&[&str], &[i64], &TrafficIntent, &str); 2] = [
        (
            &["a.example.com", "b.example.com"],
            &[3306],
            &intent(40),
            "has no TCP route for port 3306",
        ),
        (
            &["c.example.com"],
            &[],
            &intent(40),
            "has no TLS route for port 443 and SNI hosts [\"c.example.com\"]",
        ),
    ];
    for (sni_hosts, tcp_routes, asked, message) in table {
        let service = &mut config.virtual_services[0];
        service.tls_routes = (!sni_hosts.is_empty())
            .then(|| IstioTlsRoute {
                port: 443,
                sni_hosts: sni_hosts.iter().map(|host| (*host).to_owned()).collect(),
            })
            .into_iter()
            .collect();
        service.tcp_routes = tcp_routes.to_vec();
        let error = vs_writes(&config, &live, asked).unwrap_err();
        assert_eq!(error, format!("VirtualService shop/web {message}"));
    }
}

fn destination_rule(subsets: Value) -> Value {
    let mut rule = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "web-rule", "namespace": "shop", "resourceVersion": "3"},
        "spec": {"host": "web", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
    });
    rule["spec"]["subsets"] = subsets;
    rule
}

fn by_subset(subset: &str, weight: i64) -> Value {
    json!({"destination": {"host": "web", "subset": subset, "port": {"number": 80}}, "weight": weight})
}

fn subset_objects(rule: Value, stable: i64, canary: i64) -> Objects {
    let service = virtual_service(json!({"http": [
        {"name": "primary", "route": [by_subset("stable", stable), by_subset("canary", canary)]},
    ]}));
    [read(DESTINATION_RULE, rule), read(VIRTUAL_SERVICE, service)].concat()
}

#[test]
fn subsets_select_the_revisions_by_hash_before_the_weights_move() {
    let rule = destination_rule(json!([
        {"name": "canary", "labels": {"app": "web"}},
        {"name": "stable"},
        {"name": "legacy", "labels": {"version": "v0"}},
    ]));
    let mut asked = intent(10);
    asked.header_routes = vec![header("header", StringMatch::Regex("beta-.*".into()))];
    let objects = subset_objects(rule, 100, 0);
    let written = written(writes(&with_rule(config(&[])), &objects, &asked).unwrap());
    let names: Vec<&str> = written.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["DestinationRule shop/web-rule", "VirtualService shop/web"]
    );
    assert_eq!(
        written[0].1,
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "web-rule", "namespace": "shop", "resourceVersion": "3",
                         "annotations": {"argo-rollouts.argoproj.io/managed-by-rollouts": "web"}},
            "spec": {"host": "web", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}, "subsets": [
                {"name": "canary", "labels": {"app": "web", "rollouts-pod-template-hash": "new"}},
                {"name": "stable", "labels": {"rollouts-pod-template-hash": "old"}},
                {"name": "legacy", "labels": {"version": "v0"}},
            ]},
        })
    );
    assert_eq!(
        written[1].1["spec"]["http"],
        json!([
            {"name": "header", "match": [{"headers": {"X-Canary": {"regex": "beta-.*"}}}],
             "route": [by_subset("canary", 100)]},
            {"name": "primary", "route": [by_subset("stable", 90), by_subset("canary", 10)]},
        ])
    );
}

#[test]
fn readings_report_the_subsets_hashes() {
    let config = with_rule(config(&[]));
    let rule = |canary: &str| {
        let mut rule = destination_rule(json!([
            {"name": "canary", "labels": {"rollouts-pod-template-hash": canary}},
            {"name": "stable", "labels": {"rollouts-pod-template-hash": "old"}},
        ]));
        rule["metadata"]["annotations"] =
            json!({"argo-rollouts.argoproj.io/managed-by-rollouts": "web"});
        rule
    };
    let current = subset_objects(rule("new"), 80, 20);
    assert_eq!(writes(&config, &current, &intent(20)), Ok(Vec::new()));
    let readings = Istio(&config).readings(&context(), &current);
    let state = readings[0].state.as_ref().unwrap();
    assert_eq!(state.hashes, Some(("new".to_owned(), "old".to_owned())));
    assert!(readings[0].carries(&intent(20)));
    let older = Istio(&config).readings(&context(), &subset_objects(rule("older"), 80, 20));
    assert!(
        !older[0].carries(&intent(20)),
        "the canary subset selects another revision"
    );
}

#[test]
fn a_destination_rule_missing_or_without_the_subsets_is_an_error() {
    let config = with_rule(config(&[]));
    let error =
        |rule: Value| writes(&config, &subset_objects(rule, 100, 0), &intent(10)).unwrap_err();
    assert_eq!(
        error(destination_rule(json!([{"name": "stable"}]))),
        "DestinationRule shop/web-rule has no subset \"canary\""
    );
    let mut bare = destination_rule(json!([]));
    bare["spec"].as_object_mut().unwrap().remove("subsets");
    assert_eq!(error(bare), "DestinationRule shop/web-rule has no subsets");
    let mut missing = subset_objects(destination_rule(json!([])), 100, 0);
    missing[0].live = None;
    let gone = "DestinationRule shop/web-rule does not exist";
    assert_eq!(writes(&config, &missing, &intent(10)).unwrap_err(), gone);
    let readings = Istio(&config).readings(&context(), &missing);
    assert_eq!(readings[0].state, Err(gone.to_owned()));
}

#[test]
fn sync_keeps_a_subset_level_header_route_as_the_router_wrote_it() {
    let mut asked = intent(10);
    asked.header_routes = vec![header("header", StringMatch::Exact("yes".into()))];
    let objects = subset_objects(
        destination_rule(json!([{"name": "canary"}, {"name": "stable"}])),
        100,
        0,
    );
    let writes = writes(&with_rule(config(&[])), &objects, &asked).unwrap();
    let [_, Write::Replace(_, routed)] = writes.as_slice() else {
        panic!("the rule and the service expected, got {writes:?}")
    };
    let git = objects[1].live.clone().unwrap();
    let carried = crate::traffic::carry(&git, routed).expect("the router wrote it");
    assert_eq!(carried["spec"], routed["spec"]);
}

#[test]
fn writes_are_announced_as_argo_announces_them() {
    let config = with_rule(config(&[]));
    let istio = Istio(&config);
    let service = Write::Replace(Target::new(VIRTUAL_SERVICE, "edge", "web"), json!({}));
    let messages = |previous: Option<&TrafficIntent>, intent: &TrafficIntent| {
        istio
            .notices(&service, previous, intent)
            .into_iter()
            .map(|notice| {
                assert_eq!(notice.reason, "Updated VirtualService");
                notice.message
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        messages(None, &intent(20)),
        ["VirtualService `web` set to desiredWeight '20'"]
    );
    assert_eq!(messages(Some(&intent(20)), &intent(20)), [] as [&str; 0]);

    let mut routed = intent(20);
    routed.header_routes = vec![header("header", StringMatch::Exact("1".into()))];
    routed.mirror_routes = vec![mirror("mirror", 50)];
    assert_eq!(
        messages(Some(&intent(20)), &routed),
        [
            "VirtualService `web` set headerRoute 'header'",
            "VirtualService `web` set mirrorRoute 'mirror'"
        ]
    );
    assert_eq!(messages(Some(&routed), &routed), [] as [&str; 0]);
    assert_eq!(
        messages(Some(&routed), &intent(0)),
        [
            "VirtualService `web` set to desiredWeight '0'",
            "VirtualService `web` removed all managed routes."
        ]
    );

    let rule = Write::Replace(Target::new(DESTINATION_RULE, "shop", "web-rule"), json!({}));
    assert_eq!(
        istio.notices(&rule, None, &intent(20)),
        [Notice::new(
            "UpdatedDestinationRule",
            "DestinationRule web-rule subset updated (canary: new, stable: old)".to_owned()
        )]
    );
}
