//! The acceptance test of Argo parity: every field of the Rollout CRD's schema is read. Each
//! leaf field is set (with a few values of its type) on a Rollout that holds everything on
//! its path but that field, and the plan the engine gets must change — a different plan, or
//! a refusal (by name when tidegate does not run it). The few fields the controller reads
//! outside the plan are listed with the code and the test that prove it, and the list must
//! name only fields of the schema.

use serde_json::{Value, json};

use super::{Rollout, RolloutSpec};

/// Read outside `RolloutSpec::plan()` (by the executor, the sync or the controller), with
/// where. Subtrees end in `.`.
const READ_OUTSIDE_THE_PLAN: &[(&str, &str)] = &[
    (
        ".template.",
        "the pod template: the revision's hash and its ReplicaSet's template (executor)",
    ),
    (
        ".selector.",
        "the ReplicaSets' and Services' selector (executor)",
    ),
    (
        ".strategy.canary.steps[].experiment.templates[].",
        "copied into the step's Experiment (executor::experiment, whose test walks them)",
    ),
    (
        ".strategy.canary.steps[].experiment.analysisRunMetadata.",
        "copied into the step's Experiment (executor::experiment, whose test walks them)",
    ),
    (
        ".strategy.canary.steps[].experiment.scaleDownDelaySeconds",
        "copied into the step's Experiment (executor::experiment, whose test walks them)",
    ),
    (
        ".strategy.canary.steps[].experiment.analyses[].name",
        "copied into the step's Experiment (executor::experiment, whose test walks them)",
    ),
    (
        ".strategy.canary.steps[].experiment.analyses[].templateName",
        "copied into the step's Experiment (executor::experiment, whose test walks them)",
    ),
    (
        ".strategy.canary.steps[].experiment.dryRun[].metricName",
        "copied into the step's Experiment (executor::experiment, whose test walks them)",
    ),
    (
        ".strategy.canary.steps[].experiment.analyses[].clusterScope",
        "copied into the step's Experiment (executor::experiment, whose test walks them)",
    ),
    (
        ".strategy.canary.steps[].experiment.analyses[].requiredForCompletion",
        "copied into the step's Experiment (executor::experiment, whose test walks them)",
    ),
];

/// What a mapping on a path needs besides its required fields for its fields to matter: an
/// analysis without templates is no analysis, an experiment without templates none either.
pub(crate) fn seed(name: &str) -> Option<Value> {
    match name {
        "analysis" | "prePromotionAnalysis" | "postPromotionAnalysis" => {
            Some(json!({"templates": [{"templateName": "error-rate"}]}))
        }
        "experiment" => Some(json!({"templates": [{"name": "baseline", "specRef": "stable"}]})),
        "replicaProgressThreshold" => Some(json!({"type": "Pod"})),
        _ => None,
    }
}

/// A Rollout's spec that plans: a canary with one step, and a pod template.
fn base() -> Value {
    json!({
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}},
        "strategy": {}
    })
}

/// The schema of `K`'s spec below `pointer` (a JSON pointer into the spec's schema; empty for
/// the spec itself), and every leaf of it with its schema.
pub(crate) fn spec_leaves<K: kube::CustomResourceExt>(
    pointer: &str,
) -> (Value, Vec<(String, Value)>) {
    let crd = K::crd();
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).expect("schema");
    let spec = &schema["openAPIV3Schema"]["properties"]["spec"];
    let node = spec
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the spec's schema"))
        .clone();
    let mut fields = Vec::new();
    leaves(&node, "", &mut fields);
    (node, fields)
}

/// Every leaf of `schema` under `path` (`a.b[].c`), with its schema.
fn leaves(schema: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        && schema.get("properties").is_none()
    {
        out.push((path.to_owned(), schema.clone()));
        return;
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            leaves(property, &format!("{path}.{name}"), out);
        }
        return;
    }
    if let Some(items) = schema.get("items") {
        leaves(items, &format!("{path}[]"), out);
        return;
    }
    out.push((path.to_owned(), schema.clone()));
}

/// Values of a leaf's type to try.
pub(crate) fn samples(schema: &Value) -> Vec<Value> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values.clone();
    }
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return vec![json!(1), json!(3), json!("50%"), json!("0")];
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time") {
        return vec![json!("2026-01-01T00:00:00Z"), json!("2026-06-01T12:00:00Z")];
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") => vec![json!(1), json!(3), json!(0), json!(100)],
        Some("number") => vec![json!(0.5), json!(2)],
        Some("boolean") => vec![json!(true), json!(false)],
        Some("string") => vec![json!("30s"), json!("web"), json!("Deployment"), json!("1")],
        Some("object") => vec![json!({"a": "b"}), json!({})],
        Some("array") => vec![json!(["a"])],
        _ => vec![json!("x"), json!(1), json!({"a": "b"})],
    }
}

/// The smallest value `schema` accepts: its required fields, each the smallest too.
pub(crate) fn minimal(schema: &Value) -> Value {
    match schema.get("properties").and_then(Value::as_object) {
        Some(properties) => {
            let required = schema
                .get("required")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut object = serde_json::Map::new();
            for name in required.iter().filter_map(Value::as_str) {
                if let Some(property) = properties.get(name) {
                    object.insert(name.to_owned(), minimal(property));
                }
            }
            Value::Object(object)
        }
        None if schema.get("items").is_some() => json!([]),
        None => samples(schema).swap_remove(0),
    }
}

/// `document` (whose schema is `schema`) with `value` at `path` (segments `name` or
/// `name[]`), or with only the path's parents when `value` is `None`. A list on the path
/// becomes one new item; a mapping made on the way gets its required fields.
pub(crate) fn with(
    document: &Value,
    schema: &Value,
    path: &str,
    value: Option<&Value>,
    seed: fn(&str) -> Option<Value>,
) -> Value {
    let mut document = document.clone();
    let segments: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    let (mut at, mut schema) = (&mut document, schema);
    for (index, segment) in segments.iter().enumerate() {
        let at_end = index + 1 == segments.len();
        let (name, list) = match segment.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (*segment, false),
        };
        let field = &schema["properties"][name];
        let object = at.as_object_mut().expect("a mapping on the path");
        if at_end {
            match value {
                Some(value) if list => object.insert(name.to_owned(), json!([value])),
                Some(value) => object.insert(name.to_owned(), value.clone()),
                None => object.remove(name),
            };
            return document;
        }
        if list {
            schema = &field["items"];
            let slot = object.entry(name.to_owned()).or_insert(Value::Null);
            *slot = json!([minimal(schema)]);
            at = &mut slot[0];
        } else {
            schema = field;
            let slot = object.entry(name.to_owned()).or_insert(Value::Null);
            // A mapping made here takes the seed over its minimal values; one the document
            // has only gets what it lacks.
            let made = !slot.is_object();
            if made {
                *slot = minimal(field);
            }
            if let (Some(Value::Object(extra)), Some(slot)) = (seed(name), slot.as_object_mut()) {
                for (key, value) in extra {
                    let entry = slot.entry(key).or_insert(Value::Null);
                    if made || entry.is_null() || entry.as_array().is_some_and(Vec::is_empty) {
                        *entry = value;
                    }
                }
            }
            at = slot;
        }
    }
    document
}

/// What the engine gets from `spec`: the plan, or the refusal.
fn outcome(spec: &Value) -> String {
    match serde_json::from_value::<RolloutSpec>(spec.clone()) {
        Ok(spec) => format!("{:?}", spec.plan()),
        Err(error) => format!("{UNREAD}{error}"),
    }
}

/// How [`outcome`] marks a spec that does not parse.
const UNREAD: &str = "does not read: ";

/// Whether a leaf (of schema `leaf`) is read: among the outcomes with it absent and set to
/// each of [`samples`], those that parse (do not start with `unread`) are not all the same.
/// A required field that only the parser notices is not read.
pub(crate) fn is_read(
    leaf: &Value,
    unread: &str,
    outcome: impl Fn(Option<&Value>) -> String,
) -> bool {
    let outcomes: std::collections::BTreeSet<String> = std::iter::once(None)
        .chain(samples(leaf).iter().map(Some))
        .map(outcome)
        .filter(|outcome| !outcome.starts_with(unread))
        .collect();
    outcomes.len() > 1
}

#[test]
fn every_rollout_field_is_read_or_refused_by_name() {
    let (spec, fields) = spec_leaves::<Rollout>("");
    let spec = &spec;
    let canary = with(
        &base(),
        spec,
        ".strategy.canary.steps[]",
        Some(&json!({"setWeight": 50})),
        seed,
    );
    // Behind a router: what only a routed canary plans (ping-pong, managed routes).
    let mut routed = canary.clone();
    routed["strategy"]["canary"]["canaryService"] = json!("web-canary");
    routed["strategy"]["canary"]["stableService"] = json!("web-stable");
    routed["strategy"]["canary"]["trafficRouting"] =
        json!({"istio": {"virtualService": {"name": "web"}}});
    let blue_green = with(
        &base(),
        spec,
        ".strategy.blueGreen.activeService",
        Some(&json!("web-active")),
        seed,
    );
    let mut ignored = Vec::new();
    for (path, leaf) in &fields {
        let bases: Vec<&Value> = if path.starts_with(".strategy.canary") {
            vec![&canary, &routed]
        } else if path.starts_with(".strategy.blueGreen") {
            vec![&blue_green]
        } else {
            vec![&canary, &blue_green]
        };
        let read = bases.iter().any(|base| {
            is_read(leaf, UNREAD, |value| {
                outcome(&with(base, spec, path, value, seed))
            })
        });
        if !read {
            ignored.push(path.clone());
        }
    }
    assert_all_read(
        "the Rollout schema",
        &fields,
        &ignored,
        READ_OUTSIDE_THE_PLAN,
    );
}

/// Fails unless every field in `ignored` is listed in `elsewhere` (exactly, or below a
/// subtree ending in `.`), naming the others; and unless `elsewhere` names only `fields`.
pub(crate) fn assert_all_read(
    what: &str,
    fields: &[(String, Value)],
    ignored: &[String],
    elsewhere: &[(&str, &str)],
) {
    let listed = |known: &str, path: &str| {
        path == known || (known.ends_with('.') && path.starts_with(known))
    };
    for (known, _) in elsewhere {
        assert!(
            fields.iter().any(|(path, _)| listed(known, path)),
            "the list of fields read elsewhere names {known}, which {what} does not have"
        );
    }
    let unread: Vec<&str> = ignored
        .iter()
        .filter(|path| !elsewhere.iter().any(|(known, _)| listed(known, path)))
        .map(String::as_str)
        .collect();
    assert!(
        unread.is_empty(),
        "{} of {} fields of {what} change nothing and are not refused:\n{}",
        unread.len(),
        fields.len(),
        unread.join("\n")
    );
}
