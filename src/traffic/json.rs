//! Small edits of Kubernetes objects held as JSON, shared by the routers.

use serde_json::{Map, Value};

/// Sets (or with `None` removes) an annotation.
pub fn set_annotation(object: &mut Value, key: &str, value: Option<&str>) {
    set_meta_entry(object, "annotations", key, value);
}

/// Sets (or with `None` removes) a label.
pub fn set_label(object: &mut Value, key: &str, value: Option<&str>) {
    set_meta_entry(object, "labels", key, value);
}

fn set_meta_entry(object: &mut Value, map: &str, key: &str, value: Option<&str>) {
    let Some(object) = object.as_object_mut() else {
        return;
    };
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    if let Some(value) = value {
        let entries = metadata
            .entry(map)
            .or_insert_with(|| Value::Object(Map::new()));
        if !entries.is_object() {
            *entries = Value::Object(Map::new());
        }
        if let Some(entries) = entries.as_object_mut() {
            entries.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    } else {
        let emptied = metadata
            .get_mut(map)
            .and_then(Value::as_object_mut)
            .is_some_and(|entries| {
                entries.remove(key);
                entries.is_empty()
            });
        if emptied {
            metadata.remove(map);
        }
    }
}

/// An annotation's value.
pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.pointer("/metadata/annotations")?.get(key)?.as_str()
}

/// The string at `pointer`, or "".
pub fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The array at `pointer` (empty when absent).
pub fn items<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// An integer weight, written as a number or a digit string (SMI v1alpha1's quantities).
pub fn weight(value: Option<&Value>) -> Option<i32> {
    match value? {
        Value::Number(number) => number.as_i64().and_then(|n| i32::try_from(n).ok()),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

/// The one value all of `weights` share, if they agree and there is at least one.
pub fn agreed(weights: impl IntoIterator<Item = Option<i32>>) -> Option<i32> {
    let mut agreed = None;
    for weight in weights {
        let weight = weight?;
        match agreed {
            None => agreed = Some(weight),
            Some(seen) if seen != weight => return None,
            Some(_) => {}
        }
    }
    agreed
}

/// The object as it is to be written back: without the server's bookkeeping that a replace
/// must not send back (it keeps `resourceVersion`, the precondition of the replace).
pub fn for_replace(mut object: Value) -> Value {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    if let Some(object) = object.as_object_mut() {
        object.remove("status");
    }
    object
}

/// A fresh object the Rollout owns: `apiVersion`, `kind`, name, namespace and the owner
/// reference, with `spec`.
pub fn owned(
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    owner: &Value,
    spec: Value,
) -> Value {
    let mut metadata = Map::new();
    metadata.insert("name".into(), Value::String(name.to_owned()));
    metadata.insert("namespace".into(), Value::String(namespace.to_owned()));
    if !owner.is_null() {
        metadata.insert("ownerReferences".into(), Value::Array(vec![owner.clone()]));
    }
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(api_version.to_owned()));
    object.insert("kind".into(), Value::String(kind.to_owned()));
    object.insert("metadata".into(), Value::Object(metadata));
    object.insert("spec".into(), spec);
    Value::Object(object)
}

/// Whether `object` names the Rollout (`uid` of `owner`) as its controller.
pub fn owned_by(object: &Value, owner: &Value) -> bool {
    let Some(uid) = owner.get("uid").and_then(Value::as_str) else {
        return false;
    };
    items(object, "/metadata/ownerReferences")
        .iter()
        .any(|reference| {
            reference.get("uid").and_then(Value::as_str) == Some(uid)
                && reference.get("controller").and_then(Value::as_bool) == Some(true)
        })
}
