//! Ambassador canary Mappings: given a base Mapping and its canary copy (or none), the exact
//! copy to create, replace or delete, and what they are read to carry.

use serde_json::{Value, json};

use super::*;
use crate::traffic::tests::{context, intent, read, routed_without_record};

fn config() -> Config {
    Config {
        mappings: vec!["web".into()],
    }
}

fn base(api_version: &str) -> Value {
    json!({
        "apiVersion": api_version, "kind": "Mapping",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "3", "labels": {"app": "web"}},
        "spec": {"hostname": "web.example.com", "prefix": "/", "timeout_ms": 3000,
                 "service": "http://web-stable.shop:8080"},
    })
}

/// The canary copy of the v3alpha1 base at `weight`, as created.
fn copy(weight: i64) -> Value {
    json!({
        "apiVersion": "getambassador.io/v3alpha1", "kind": "Mapping",
        "metadata": {"name": "web-canary", "namespace": "shop", "ownerReferences": [context().owner]},
        "spec": {"hostname": "web.example.com", "prefix": "/", "timeout_ms": 3000,
                 "service": "http://web-canary.shop:8080", "weight": weight},
    })
}

fn objects(base: Option<Value>, canary: Option<Value>) -> Objects {
    let target = |name| Target::new(MAPPING, "shop", name);
    let api_version = "getambassador.io/v3alpha1";
    vec![
        Read {
            target: target("web"),
            api_version,
            live: base,
        },
        Read {
            target: target("web-canary"),
            api_version,
            live: canary,
        },
    ]
}

fn writes(objects: &Objects, asked: &TrafficIntent) -> Result<Vec<Write>, String> {
    Ambassador(&config()).writes(&context(), objects, asked)
}

#[test]
fn each_mapping_and_its_copy_are_looked_up() {
    assert_eq!(
        Ambassador(&config()).lookups(&context()),
        [
            Lookup::Named(Target::new(MAPPING, "shop", "web")),
            Lookup::Named(Target::new(MAPPING, "shop", "web-canary")),
        ]
    );
}

#[test]
fn a_copy_is_created_at_a_weight_keeping_the_services_scheme_namespace_and_port() {
    let writes = writes(
        &objects(Some(base("getambassador.io/v3alpha1")), None),
        &intent(30),
    )
    .unwrap();
    let [Write::Create(target, created)] = writes.as_slice() else {
        panic!("one create expected, got {writes:?}")
    };
    assert_eq!(target.describe(), "Mapping shop/web-canary");
    assert_eq!(routed_without_record(created), copy(30));
}

#[test]
fn the_copy_is_created_under_the_bases_version() {
    let writes = writes(
        &objects(Some(base("getambassador.io/v2")), None),
        &intent(10),
    )
    .unwrap();
    let [Write::Create(_, created)] = writes.as_slice() else {
        panic!("one create expected, got {writes:?}")
    };
    assert_eq!(created["apiVersion"], "getambassador.io/v2");
}

#[test]
fn a_copy_that_carries_the_intent_is_not_written_and_another_weight_replaces_it() {
    let mut live = copy(30);
    live["metadata"]["resourceVersion"] = json!("8");
    let read = objects(Some(base("getambassador.io/v3alpha1")), Some(live));
    assert_eq!(writes(&read, &intent(30)), Ok(Vec::new()));
    let readings = Ambassador(&config()).readings(&context(), &read);
    assert_eq!(readings[0].object, "Mapping shop/web");
    assert!(readings[0].carries(&intent(30)));
    assert!(!readings[0].carries(&intent(40)));

    let replaced = writes(&read, &intent(40)).unwrap();
    let [Write::Replace(_, replaced)] = replaced.as_slice() else {
        panic!("one replace expected, got {replaced:?}")
    };
    let mut expected = copy(40);
    expected["metadata"]["resourceVersion"] = json!("8");
    assert_eq!(routed_without_record(replaced), expected);
}

#[test]
fn at_weight_zero_the_copy_is_deleted_and_none_reads_as_zero() {
    let with_copy = objects(Some(base("getambassador.io/v3alpha1")), Some(copy(30)));
    assert_eq!(
        writes(&with_copy, &intent(0)),
        Ok(vec![Write::Delete(Target::new(
            MAPPING,
            "shop",
            "web-canary"
        ))])
    );
    let without = objects(Some(base("getambassador.io/v3alpha1")), None);
    assert_eq!(writes(&without, &intent(0)), Ok(Vec::new()));
    let readings = Ambassador(&config()).readings(&context(), &without);
    assert!(readings[0].carries(&intent(0)), "the base gets everything");
    assert!(!readings[0].carries(&intent(10)));
}

#[test]
fn mappings_that_cannot_carry_the_split_are_errors_naming_them() {
    let mut weighted = base("getambassador.io/v3alpha1");
    weighted["spec"]["weight"] = json!(50);
    assert_eq!(
        writes(&objects(Some(weighted), None), &intent(10)).unwrap_err(),
        "Mapping shop/web must not have a weight"
    );
    let mut zero = base("getambassador.io/v3alpha1");
    zero["spec"]["weight"] = json!(0);
    assert!(
        writes(&objects(Some(zero), None), &intent(10)).is_ok(),
        "a weight of 0 is none"
    );
    assert_eq!(
        writes(&objects(None, None), &intent(10)).unwrap_err(),
        "Mapping shop/web does not exist"
    );
    assert_eq!(
        Ambassador(&config()).readings(&context(), &objects(None, None))[0].state,
        Err("Mapping shop/web does not exist".to_owned())
    );
    assert_eq!(
        writes(
            &read(MAPPING, base("getambassador.io/v3alpha1")),
            &intent(10)
        )
        .unwrap_err(),
        "Mapping web-canary was not read"
    );
    let mut foreign = copy(30);
    foreign["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("ownerReferences");
    let foreign = objects(Some(base("getambassador.io/v3alpha1")), Some(foreign));
    let refused = "Mapping shop/web-canary exists but does not belong to Rollout web";
    assert_eq!(writes(&foreign, &intent(10)).unwrap_err(), refused);
    assert_eq!(
        writes(&foreign, &intent(0)).unwrap_err(),
        refused,
        "nor deleted"
    );
}

#[test]
fn the_copys_service_and_name_are_derived_from_the_base() {
    for (base, copy) in [
        ("web-stable", "web-canary"),
        ("web-stable:8080", "web-canary:8080"),
        ("web-stable.shop", "web-canary.shop"),
        (
            "https://web-stable.shop.svc.cluster.local:443",
            "https://web-canary.shop.svc.cluster.local:443",
        ),
    ] {
        assert_eq!(canary_service(base, "web-canary"), copy, "{base}");
    }
    assert_eq!(canary_name("web"), "web-canary");
    assert_eq!(
        canary_name(&"m".repeat(300)),
        format!("{}-canary", "m".repeat(246))
    );
}

#[test]
fn a_weight_change_is_announced_as_argo_announces_it() {
    let config = config();
    let ambassador = Ambassador(&config);
    let write = Write::Delete(Target::new(MAPPING, "shop", "web-canary"));
    assert_eq!(
        ambassador.notices(&write, Some(&intent(20)), &intent(0)),
        [Notice::new(
            "CanaryMappingWeightUpdate",
            "Set canary mapping weight to 0".to_owned()
        )]
    );
    assert!(
        ambassador
            .notices(&write, Some(&intent(20)), &intent(20))
            .is_empty()
    );
}
