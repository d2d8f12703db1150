//! What a diff compares: an object without what the apiserver or the rollout engine writes.
//!
//! In: an object as the apiserver returned it, and the `managedFields` entries of the live
//! object. Out: the object without status, server bookkeeping (`managedFields`,
//! `resourceVersion`, `uid`, `generation`, timestamps), the fields owned by the rollout engine's
//! field manager (of a Service's atomic selector, only the Rollout's pin), and with Secret
//! values masked.

use serde_json::{Map, Value};

use crate::k8s::ROLLOUT_FIELD_MANAGER;

/// `metadata` fields the apiserver maintains.
const SERVER_METADATA: [&str; 7] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
];

/// `object` ready to compare: see the module documentation. `owner_fields` is the live
/// object's `metadata.managedFields` (the dry-run result carries the same entries).
#[must_use]
pub fn normalize(object: &Value, managed_fields: &Value) -> Value {
    let mut object = object.clone();
    if let Some(fields) = object.as_object_mut() {
        fields.remove("status");
        if let Some(Value::Object(metadata)) = fields.get_mut("metadata") {
            for key in SERVER_METADATA {
                metadata.remove(key);
            }
            for key in ["labels", "annotations"] {
                if metadata
                    .get(key)
                    .is_some_and(|map| map.as_object().is_some_and(Map::is_empty))
                {
                    metadata.remove(key);
                }
            }
        }
    }
    let service = object["kind"] == "Service" && object["apiVersion"] == "v1";
    // An object a traffic router wrote is compared whole: what the Rollout owns in it was
    // applied again to Git's copy before the comparison (`traffic::carry`), so everything
    // still different is drift — and its atomic lists (`rules`, `http`), which the router's
    // last write owns whole, would otherwise hide Git's changes.
    let routed = crate::traffic::recorded(&object).is_some();
    for entry in managed_fields
        .as_array()
        .into_iter()
        .flatten()
        .filter(|_| !routed)
    {
        if entry["manager"] == ROLLOUT_FIELD_MANAGER
            && let Some(owned) = entry.get("fieldsV1")
        {
            let mut owned = owned.clone();
            if service && let Some(fields) = owned.as_object_mut() {
                // The atomic selector's last writer owns all of it; the Rollout's part is
                // only the pin, which `strip` removes below. Git's keys stay compared.
                let spec = fields.get_mut("f:spec").and_then(Value::as_object_mut);
                if let Some(spec) = spec {
                    spec.remove("f:selector");
                    if spec.is_empty() {
                        fields.remove("f:spec");
                    }
                }
            }
            remove_owned(&mut object, &owned);
        }
    }
    super::pins::strip(&mut object);
    mask_secret(&mut object);
    object
}

/// Removes from `value` what a `fieldsV1` set names: `f:<name>` map fields, `k:<keys>` list
/// items by merge key, `v:<value>` set members. A container whose own entry (`.`) is owned is
/// removed once nothing owned by anyone else is left in it.
fn remove_owned(value: &mut Value, set: &Value) {
    let Some(set) = set.as_object() else { return };
    for (key, children) in set {
        let leaf = children.as_object().is_none_or(serde_json::Map::is_empty);
        if let Some(name) = key.strip_prefix("f:") {
            let Some(map) = value.as_object_mut() else {
                continue;
            };
            if leaf {
                map.remove(name);
            } else if let Some(child) = map.get_mut(name) {
                remove_owned(child, children);
                if children.get(".").is_some() && is_empty(child) {
                    map.remove(name);
                }
            }
        } else if let Some(keys) = key.strip_prefix("k:") {
            let (Some(items), Ok(Value::Object(keys))) =
                (value.as_array_mut(), serde_json::from_str::<Value>(keys))
            else {
                continue;
            };
            let matches = |item: &Value| {
                keys.iter()
                    .all(|(field, wanted)| item.get(field) == Some(wanted))
            };
            if leaf {
                items.retain(|item| !matches(item));
            } else if let Some(item) = items.iter_mut().find(|item| matches(item)) {
                remove_owned(item, children);
            }
        } else if let Some(member) = key.strip_prefix("v:") {
            let (Some(items), Ok(member)) =
                (value.as_array_mut(), serde_json::from_str::<Value>(member))
            else {
                continue;
            };
            items.retain(|item| *item != member);
        }
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// Secret values never reach a diff, a report or a log: each becomes a marker that only says
/// whether two values are equal (a short keyed digest, not the value's hash alone).
fn mask_secret(object: &mut Value) {
    if object["kind"] != "Secret" || object["apiVersion"] != "v1" {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(Value::Object(values)) = object.get_mut(field) {
            for value in values.values_mut() {
                *value = Value::String(format!("<redacted {}>", fingerprint(value)));
            }
        }
    }
    // kubectl apply copies the whole Secret, values in clear, into this annotation.
    if let Some(Value::Object(annotations)) = object.pointer_mut("/metadata/annotations")
        && let Some(value) = annotations.get_mut(LAST_APPLIED)
    {
        *value = Value::String(format!("<redacted {}>", fingerprint(value)));
    }
}

/// The annotation in which `kubectl apply` keeps the last configuration it applied.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Eight hex digits of an HMAC of `value` under a key drawn once per process: equal values
/// get equal fingerprints within one run, and a fingerprint reveals nothing across runs.
fn fingerprint(value: &Value) -> String {
    use std::sync::OnceLock;

    use aws_lc_rs::{hmac, rand};

    static KEY: OnceLock<hmac::Key> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        hmac::Key::generate(hmac::HMAC_SHA256, &rand::SystemRandom::new())
            .expect("the system random source is available")
    });
    let tag = hmac::sign(key, value.to_string().as_bytes());
    let head: [u8; 4] = tag.as_ref()[..4]
        .try_into()
        .expect("HMAC-SHA256 tags are 32 bytes");
    format!("{:08x}", u32::from_be_bytes(head))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn server_bookkeeping_and_status_are_dropped() {
        let live = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "7", "generation": 2,
                         "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [], "annotations": {}},
            "data": {"k": "v"},
            "status": {"x": 1}
        });
        assert_eq!(
            normalize(&live, &json!([])),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})
        );
    }

    #[test]
    fn fields_of_the_rollout_engine_are_ignored() {
        let service = json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {
                "selector": {"app": "web", "rollouts-pod-template-hash": "abc"},
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}],
                "finalizers": ["a", "b"]
            }
        });
        let managed = json!([
            {"manager": "tidegate-sync", "fieldsV1": {"f:spec": {"f:selector": {"f:app": {}}}}},
            {"manager": "tidegate-rollout", "fieldsV1": {"f:spec": {
                "f:selector": {"f:rollouts-pod-template-hash": {}},
                "f:ports": {"k:{\"port\":443,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}},
                "f:finalizers": {"v:\"b\"": {}}
            }}}
        ]);
        assert_eq!(
            normalize(&service, &managed)["spec"],
            json!({"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP"}, {"protocol": "TCP"}], "finalizers": ["a"]})
        );
    }

    #[test]
    fn git_keys_of_a_selector_the_rollout_last_wrote_are_still_compared() {
        let service = |app: &str| {
            json!({
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"selector": {"app": app, "rollouts-pod-template-hash": "abc"}}
            })
        };
        // An atomic map: whoever wrote it last owns all of it.
        let managed = json!([
            {"manager": "tidegate-rollout", "fieldsV1": {"f:spec": {"f:selector": {}}}}
        ]);
        assert_eq!(
            normalize(&service("web"), &managed)["spec"]["selector"],
            json!({"app": "web"})
        );
        assert_ne!(
            normalize(&service("web"), &managed),
            normalize(&service("shop"), &managed),
            "a hand edit of Git's key is drift"
        );
    }

    #[test]
    fn an_owned_container_goes_once_empty() {
        let object = json!({"spec": {"a": {"b": 1}, "keep": {"b": 1, "c": 2}}});
        let managed = json!([{"manager": "tidegate-rollout", "fieldsV1": {"f:spec": {
            "f:a": {".": {}, "f:b": {}},
            "f:keep": {".": {}, "f:b": {}}
        }}}]);
        assert_eq!(
            normalize(&object, &managed),
            json!({"spec": {"keep": {"c": 2}}})
        );
    }

    #[test]
    fn secret_values_are_masked_but_comparable() {
        let secret = |password: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"password": password}});
        let one = normalize(&secret("aHVudGVyMg=="), &json!([]));
        let same = normalize(&secret("aHVudGVyMg=="), &json!([]));
        let other = normalize(&secret("c2VjcmV0"), &json!([]));
        let mut applied = secret("aHVudGVyMg==");
        applied["metadata"]["annotations"] =
            json!({LAST_APPLIED: "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"});
        assert!(
            !normalize(&applied, &json!([]))
                .to_string()
                .contains("aHVudGVyMg")
        );
        assert!(!one.to_string().contains("aHVudGVyMg"));
        assert_eq!(one, same);
        assert_ne!(one, other);
    }
}
