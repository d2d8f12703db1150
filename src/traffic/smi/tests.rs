//! SMI TrafficSplits: given the split (or none) and an intent, the exact TrafficSplit to
//! create or replace, and what it is read to carry.

use serde_json::{Value, json};

use super::*;
use crate::traffic::tests::{context, intent, read, routed_without_record, with_experiment};

fn config() -> Config {
    Config {
        root_service: None,
        traffic_split_name: None,
    }
}

/// The TrafficSplit `web` under `api_version`, as the Rollout created it.
fn split(api_version: &str, canary: Value, stable: Value) -> Value {
    let mut split = json!({
        "apiVersion": api_version, "kind": "TrafficSplit",
        "metadata": {"name": "web", "namespace": "shop", "ownerReferences": [context().owner]},
        "spec": {"service": "web-stable", "backends": [
            {"service": "web-canary"},
            {"service": "web-stable"},
        ]},
    });
    split["spec"]["backends"][0]["weight"] = canary;
    split["spec"]["backends"][1]["weight"] = stable;
    split
}

/// No TrafficSplit, the cluster serving `api_version`.
fn none(api_version: &'static str) -> Objects {
    vec![Read {
        target: Target::new(TRAFFIC_SPLIT, "shop", "web"),
        api_version,
        live: None,
    }]
}

fn one(writes: Result<Vec<Write>, String>) -> Write {
    let mut writes = writes.unwrap();
    assert_eq!(writes.len(), 1, "one write expected, got {writes:?}");
    writes.remove(0)
}

#[test]
fn the_split_is_named_after_the_rollout_unless_configured() {
    let split = |name: Option<&str>| {
        let config = Config {
            root_service: None,
            traffic_split_name: name.map(str::to_owned),
        };
        Smi(&config).lookups(&context())
    };
    let named = |name| vec![Lookup::Named(Target::new(TRAFFIC_SPLIT, "shop", name))];
    assert_eq!(split(None), named("web"));
    assert_eq!(split(Some("web-split")), named("web-split"));
}

#[test]
fn a_missing_split_is_created_owned_by_the_rollout_with_integer_weights() {
    let write =
        one(Smi(&config()).writes(&context(), &none("split.smi-spec.io/v1alpha2"), &intent(30)));
    let Write::Create(target, created) = write else {
        panic!("a create expected, got {write:?}")
    };
    assert_eq!(target.describe(), "TrafficSplit shop/web");
    assert_eq!(
        routed_without_record(&created),
        split("split.smi-spec.io/v1alpha2", json!(30), json!(70))
    );
}

#[test]
fn v1alpha1_weights_are_quantity_strings() {
    let write =
        one(Smi(&config()).writes(&context(), &none("split.smi-spec.io/v1alpha1"), &intent(5)));
    let Write::Create(_, created) = write else {
        panic!("a create expected, got {write:?}")
    };
    assert_eq!(
        routed_without_record(&created),
        split("split.smi-spec.io/v1alpha1", json!("5"), json!("95"))
    );
    let readings = Smi(&config()).readings(&context(), &read(TRAFFIC_SPLIT, created));
    assert!(
        readings[0].carries(&intent(5)),
        "quantities are read as weights"
    );
}

#[test]
fn a_split_is_replaced_under_its_own_version_and_the_root_service_is_configurable() {
    let mut live = split("split.smi-spec.io/v1alpha1", json!("0"), json!("100"));
    live["metadata"]["resourceVersion"] = json!("4");
    live["spec"]["service"] = json!("web");
    let config = Config {
        root_service: Some("web".into()),
        traffic_split_name: None,
    };
    let write = one(Smi(&config).writes(&context(), &read(TRAFFIC_SPLIT, live), &intent(20)));
    let Write::Replace(_, replaced) = write else {
        panic!("a replace expected, got {write:?}")
    };
    let mut expected = split("split.smi-spec.io/v1alpha1", json!("20"), json!("80"));
    expected["metadata"]["resourceVersion"] = json!("4");
    expected["spec"]["service"] = json!("web");
    assert_eq!(routed_without_record(&replaced), expected);
}

#[test]
fn a_split_that_carries_the_intent_is_not_written() {
    let live = split("split.smi-spec.io/v1alpha4", json!(20), json!(80));
    let objects = read(TRAFFIC_SPLIT, live);
    assert_eq!(
        Smi(&config()).writes(&context(), &objects, &intent(20)),
        Ok(Vec::new())
    );
    let readings = Smi(&config()).readings(&context(), &objects);
    assert_eq!(readings[0].object, "TrafficSplit shop/web");
    assert!(readings[0].carries(&intent(20)));
    assert!(!readings[0].carries(&intent(30)));
}

#[test]
fn a_split_of_someone_else_is_refused_and_a_missing_one_reads_as_not_yet() {
    let mut foreign = split("split.smi-spec.io/v1alpha4", json!(0), json!(100));
    foreign["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("ownerReferences");
    assert_eq!(
        Smi(&config())
            .writes(&context(), &read(TRAFFIC_SPLIT, foreign), &intent(10))
            .unwrap_err(),
        "TrafficSplit shop/web exists but does not belong to Rollout web"
    );
    let readings = Smi(&config()).readings(&context(), &none("split.smi-spec.io/v1alpha4"));
    assert_eq!(
        readings[0].state,
        Err("TrafficSplit shop/web does not exist".to_owned())
    );
}

#[test]
fn an_experiment_s_service_is_a_backend_while_it_runs_and_goes_after() {
    let live = split("split.smi-spec.io/v1alpha4", json!(10), json!(90));
    let write = one(Smi(&config()).writes(
        &context(),
        &read(TRAFFIC_SPLIT, live),
        &with_experiment(10, 20),
    ));
    let Write::Replace(_, running) = write else {
        panic!("a replace expected, got {write:?}")
    };
    let mut expected = split("split.smi-spec.io/v1alpha4", json!(10), json!(70));
    let backends = expected["spec"]["backends"].as_array_mut().unwrap();
    backends.push(json!({"service": "web-exp-canary", "weight": 20}));
    assert_eq!(routed_without_record(&running), expected);
    let readings = Smi(&config()).readings(&context(), &read(TRAFFIC_SPLIT, running.clone()));
    assert!(readings[0].carries(&with_experiment(10, 20)));
    assert!(
        !readings[0].carries(&with_experiment(10, 15)),
        "its weight is read"
    );
    assert!(!readings[0].carries(&intent(10)), "it is still there");

    let write = one(Smi(&config()).writes(&context(), &read(TRAFFIC_SPLIT, running), &intent(10)));
    let Write::Replace(_, after) = write else {
        panic!("a replace expected, got {write:?}")
    };
    assert_eq!(
        routed_without_record(&after),
        split("split.smi-spec.io/v1alpha4", json!(10), json!(90))
    );
    let readings = Smi(&config()).readings(&context(), &read(TRAFFIC_SPLIT, after));
    assert!(readings[0].carries(&intent(10)));
    assert!(!readings[0].carries(&with_experiment(10, 20)), "it is gone");
}

#[test]
fn disagreeing_backends_carry_no_weight() {
    let live = split("split.smi-spec.io/v1alpha4", json!(20), json!(70));
    let readings = Smi(&config()).readings(&context(), &read(TRAFFIC_SPLIT, live));
    assert_eq!(readings[0].state.as_ref().unwrap().canary_weight, None);
}

#[test]
fn a_created_traffic_split_is_announced_as_argo_announces_it() {
    let config = config();
    let smi = Smi(&config);
    let target = Target::new(TRAFFIC_SPLIT, "shop", "web");
    assert_eq!(
        smi.notices(&Write::Create(target.clone(), json!({})), None, &intent(20)),
        [Notice::new(
            "TrafficSplitCreated",
            "TrafficSplit `web` created".to_owned()
        )]
    );
    assert!(
        smi.notices(
            &Write::Replace(target, json!({})),
            Some(&intent(20)),
            &intent(40)
        )
        .is_empty()
    );
}
