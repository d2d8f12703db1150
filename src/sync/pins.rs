//! Pins: the part of an object from Git that the Rollout controller owns.
//!
//! A Rollout pins the Services it names to a revision by adding
//! `rollouts-pod-template-hash: <hash>` to their `spec.selector`. Git owns every other key of
//! that selector. But `spec.selector` is an *atomic* map: server-side apply replaces it whole,
//! so a forced apply of Git's selector would drop the pin — on every commit, unrelated ones
//! included — and the Service would select every revision's pods at once. Field managers
//! cannot split an atomic field, so sync does: it applies the union of Git's keys and the
//! live pin of a Service a Rollout manages (annotated `managed-by-rollouts`), on the condition
//! that the Service is still the one it read (its resourceVersion), so a switch made in
//! between fails the apply (and it is redone with the new pin) rather than being undone.
//! Drift compares a selector without its pin: the pin is the Rollout's, not Git's.
//!
//! Pure: objects in, objects out.

use serde_json::Value;

use crate::k8s::labels;

/// Whether `object` (desired or live) is a core Service: the only kind with a pin so far.
#[must_use]
pub fn may_be_pinned(api_version: &str, kind: &str) -> bool {
    api_version == "v1" && kind == "Service"
}

/// The pin a live object carries: the pod-template hash its selector has, when a Rollout
/// manages it.
#[must_use]
pub fn live_pin(live: &Value) -> Option<&str> {
    let managed = live
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|annotations| annotations.contains_key(labels::MANAGED_BY));
    if !managed {
        return None;
    }
    live.pointer("/spec/selector")
        .and_then(|selector| selector.get(labels::POD_TEMPLATE_HASH))
        .and_then(Value::as_str)
}

/// `desired` with the live object's pin added to its selector, conditional on the live
/// object's `resourceVersion`; `None` when the live object carries no pin (nothing to keep).
#[must_use]
pub fn carry(desired: &Value, live: &Value) -> Option<Value> {
    let pin = live_pin(live)?;
    let version = live.pointer("/metadata/resourceVersion")?.as_str()?;
    let mut carried = desired.clone();
    let object = carried.as_object_mut()?;
    let spec = object
        .entry("spec")
        .or_insert_with(|| Value::Object(serde_json::Map::new()))
        .as_object_mut()?;
    let selector = spec
        .entry("selector")
        .or_insert_with(|| Value::Object(serde_json::Map::new()))
        .as_object_mut()?;
    selector.insert(
        labels::POD_TEMPLATE_HASH.to_owned(),
        Value::String(pin.to_owned()),
    );
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(serde_json::Map::new()))
        .as_object_mut()?;
    metadata.insert(
        "resourceVersion".to_owned(),
        Value::String(version.to_owned()),
    );
    Some(carried)
}

/// Removes the pin from an object about to be compared, so drift sees only Git's keys.
pub fn strip(object: &mut Value) {
    if object["kind"] != "Service" || object["apiVersion"] != "v1" {
        return;
    }
    if let Some(selector) = object
        .pointer_mut("/spec/selector")
        .and_then(Value::as_object_mut)
    {
        selector.remove(labels::POD_TEMPLATE_HASH);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn git() -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    }

    fn live(annotated: bool, pin: Option<&str>) -> Value {
        let mut selector = json!({"app": "web"});
        if let Some(pin) = pin {
            selector[labels::POD_TEMPLATE_HASH] = json!(pin);
        }
        let annotations = if annotated {
            json!({labels::MANAGED_BY: "web"})
        } else {
            json!({})
        };
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "resourceVersion": "42", "annotations": annotations},
               "spec": {"selector": selector, "ports": [{"port": 80}]}})
    }

    #[test]
    fn the_pin_of_a_managed_service_is_kept_on_the_condition_that_nothing_changed() {
        let carried = carry(&git(), &live(true, Some("6c9f8"))).expect("a pin to keep");
        assert_eq!(
            carried["spec"]["selector"],
            json!({"app": "web", "rollouts-pod-template-hash": "6c9f8"})
        );
        assert_eq!(carried["metadata"]["resourceVersion"], "42");
        assert_eq!(carried["spec"]["ports"], git()["spec"]["ports"]);
    }

    #[test]
    fn git_keys_win_and_only_the_pin_is_kept() {
        let mut changed = git();
        changed["spec"]["selector"] = json!({"app": "shop", "tier": "front"});
        let carried = carry(&changed, &live(true, Some("6c9f8"))).unwrap();
        assert_eq!(
            carried["spec"]["selector"],
            json!({"app": "shop", "tier": "front", "rollouts-pod-template-hash": "6c9f8"})
        );
    }

    #[test]
    fn nothing_is_kept_without_a_pin_or_a_managing_rollout() {
        assert_eq!(carry(&git(), &live(true, None)), None);
        assert_eq!(
            carry(&git(), &live(false, Some("6c9f8"))),
            None,
            "a hash put there by hand is not a Rollout's pin: Git wins"
        );
    }

    #[test]
    fn drift_compares_selectors_without_the_pin() {
        let mut object = live(true, Some("6c9f8"));
        strip(&mut object);
        assert_eq!(object["spec"]["selector"], json!({"app": "web"}));
        let mut other = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                               "spec": {"selector": {"rollouts-pod-template-hash": "x"}}});
        strip(&mut other);
        assert_eq!(
            other["spec"]["selector"],
            json!({"rollouts-pod-template-hash": "x"})
        );
    }
}
