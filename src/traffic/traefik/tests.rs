//! Traefik weighted TraefikServices: given the service and an intent, the exact service to
//! write under either API group, and what it is read to carry.

use serde_json::{Value, json};

use super::*;
use crate::traffic::tests::{context, intent, read, routed_without_record};

fn config() -> Config {
    Config {
        weighted_traefik_service_name: "web-weighted".into(),
    }
}

fn traefik_service(api_version: &str, stable: i64, canary: i64) -> Value {
    json!({
        "apiVersion": api_version, "kind": "TraefikService",
        "metadata": {"name": "web-weighted", "namespace": "shop", "resourceVersion": "21"},
        "spec": {"weighted": {
            "services": [
                {"name": "web-stable", "port": 80, "weight": stable},
                {"name": "web-canary", "port": 80, "weight": canary},
                {"name": "web-static", "kind": "TraefikService", "weight": 1},
            ],
            "sticky": {"cookie": {"name": "lvl"}},
        }},
    })
}

/// The service as read under `api_version` (the one the cluster serves).
fn objects(api_version: &'static str, live: Option<Value>) -> Objects {
    vec![Read {
        target: Target::new(TRAEFIK_SERVICE, "shop", "web-weighted"),
        api_version,
        live,
    }]
}

#[test]
fn the_weighted_service_is_looked_up_by_name() {
    assert_eq!(
        Traefik(&config()).lookups(&context()),
        [Lookup::Named(Target::new(
            TRAEFIK_SERVICE,
            "shop",
            "web-weighted"
        ))]
    );
}

#[test]
fn the_canary_and_stable_weights_are_set_under_both_api_groups() {
    for api_version in ["traefik.io/v1alpha1", "traefik.containo.us/v1alpha1"] {
        let live = traefik_service(api_version, 100, 0);
        let writes = Traefik(&config())
            .writes(&context(), &objects(api_version, Some(live)), &intent(25))
            .unwrap();
        let [Write::Replace(target, written)] = writes.as_slice() else {
            panic!("one replace expected, got {writes:?}")
        };
        assert_eq!(target.describe(), "TraefikService shop/web-weighted");
        assert_eq!(
            routed_without_record(written),
            traefik_service(api_version, 75, 25),
            "{api_version}: other services and options are kept"
        );
        assert!(crate::traffic::may_be_routed(api_version, "TraefikService"));
    }
}

#[test]
fn a_service_that_carries_the_intent_is_not_written() {
    let live = traefik_service("traefik.io/v1alpha1", 60, 40);
    let read = read(TRAEFIK_SERVICE, live);
    assert_eq!(
        Traefik(&config()).writes(&context(), &read, &intent(40)),
        Ok(Vec::new())
    );
    let readings = Traefik(&config()).readings(&context(), &read);
    assert_eq!(readings[0].object, "TraefikService shop/web-weighted");
    assert!(readings[0].carries(&intent(40)));
    assert!(!readings[0].carries(&intent(50)));
}

#[test]
fn services_that_cannot_carry_the_split_are_errors_naming_them() {
    let error = |live: Option<Value>| {
        Traefik(&config())
            .writes(
                &context(),
                &objects("traefik.io/v1alpha1", live),
                &intent(10),
            )
            .unwrap_err()
    };
    assert_eq!(
        error(None),
        "TraefikService shop/web-weighted does not exist"
    );
    let mut mirroring = traefik_service("traefik.io/v1alpha1", 100, 0);
    mirroring["spec"] = json!({"mirroring": {"name": "web-stable", "port": 80}});
    assert_eq!(
        error(Some(mirroring)),
        "TraefikService shop/web-weighted has no spec.weighted.services"
    );
    let mut stable_only = traefik_service("traefik.io/v1alpha1", 100, 0);
    stable_only["spec"]["weighted"]["services"] =
        json!([{"name": "web-stable", "port": 80, "weight": 100}]);
    assert_eq!(
        error(Some(stable_only)),
        "TraefikService shop/web-weighted does not weigh Service web-canary"
    );
    let readings = Traefik(&config()).readings(&context(), &objects("traefik.io/v1alpha1", None));
    assert_eq!(
        readings[0].state,
        Err("TraefikService shop/web-weighted does not exist".to_owned())
    );
}

#[test]
fn weights_that_do_not_add_up_carry_no_weight() {
    let live = traefik_service("traefik.io/v1alpha1", 50, 40);
    let readings = Traefik(&config()).readings(&context(), &read(TRAEFIK_SERVICE, live));
    assert_eq!(readings[0].state.as_ref().unwrap().canary_weight, None);
}
