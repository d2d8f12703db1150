//! Strategies for the parsers' property tests (test builds only): arbitrary bytes, text made
//! of the characters YAML and JSON give meaning to, and arbitrary documents — as JSON, which
//! is YAML too — optionally shaped like the objects tidegate reads.

use proptest::prelude::*;
use serde_json::Value;

/// Any bytes, UTF-8 or not.
pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..512)
}

/// Text over YAML's and expr's meaningful characters, with words that mean something.
pub fn text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("\n".to_owned()),
        Just("  ".to_owned()),
        Just("- ".to_owned()),
        Just(": ".to_owned()),
        Just("---\n".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("<<: ".to_owned()),
        Just("!!binary ".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("apiVersion: ".to_owned()),
        Just("kind: Rollout".to_owned()),
        Just("metadata: {name: x}".to_owned()),
        Just("result".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("&&".to_owned()),
        Just("#".to_owned()),
        "[a-zA-Z0-9_.$|>%@`~^*+-/=<!?]{0,6}",
        "\\PC{0,3}",
    ];
    proptest::collection::vec(pieces, 0..40).prop_map(|pieces| pieces.concat())
}

/// Any JSON value, a few levels deep.
pub fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|number| {
            serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number)
        }),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(field(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Field names tidegate's kinds have, and others.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("spec".to_owned()),
        Just("strategy".to_owned()),
        Just("canary".to_owned()),
        Just("blueGreen".to_owned()),
        Just("steps".to_owned()),
        Just("setWeight".to_owned()),
        Just("pause".to_owned()),
        Just("analysis".to_owned()),
        Just("templates".to_owned()),
        Just("metrics".to_owned()),
        Just("provider".to_owned()),
        Just("replicas".to_owned()),
        Just("selector".to_owned()),
        Just("template".to_owned()),
        Just("sources".to_owned()),
        Just("url".to_owned()),
        Just("name".to_owned()),
        "[a-zA-Z]{1,8}",
    ]
}

/// A document of one of `kinds`, with an arbitrary body.
pub fn document(kinds: &'static [&'static str]) -> impl Strategy<Value = Value> {
    (proptest::sample::select(kinds), value(), value()).prop_map(|(kind, spec, status)| {
        serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": "x"},
            "spec": spec,
            "status": status,
        })
    })
}
