//! The replicas of a Deployment that a Rollout's `workloadRef` scales down
//! (`scaleDown: onsuccess | progressively`) are the Rollout's. The Rollout controller sets
//! them with its own field manager; were sync to apply Git's `spec.replicas` again (forced),
//! every commit would bring the Deployment's pods back — and the Deployment's template is the
//! Rollout's newest revision, so they would serve it past every step and analysis. So a
//! Deployment whose live `spec.replicas` belong to `tidegate-rollout` is applied without
//! them. Drift already leaves fields of `tidegate-rollout` out of the comparison.
//!
//! Pure: objects in, objects out.

use serde_json::Value;

use crate::k8s::ROLLOUT_FIELD_MANAGER;

/// Whether objects of this kind may be scaled by a Rollout.
#[must_use]
pub fn may_be_scaled(api_version: &str, kind: &str) -> bool {
    api_version == "apps/v1" && kind == "Deployment"
}

/// `desired` without `spec.replicas` when the Rollout controller owns them in `live`;
/// `None` when it does not (nothing to leave out).
#[must_use]
pub fn carry(desired: &Value, live: &Value) -> Option<Value> {
    if !may_be_scaled(desired["apiVersion"].as_str()?, desired["kind"].as_str()?) {
        return None;
    }
    let owned = live["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .filter(|entry| entry["manager"] == ROLLOUT_FIELD_MANAGER)
        .any(|entry| entry.pointer("/fieldsV1/f:spec/f:replicas").is_some());
    if !owned {
        return None;
    }
    let mut carried = desired.clone();
    carried
        .get_mut("spec")?
        .as_object_mut()?
        .remove("replicas")?;
    Some(carried)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn git() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"image": "web:2"}]}}}
        })
    }

    fn live(manager: &str, fields: &Value) -> Value {
        json!({
            "metadata": {"managedFields": [
                {"manager": "tidegate-sync", "fieldsV1": {"f:spec": {"f:template": {}}}},
                {"manager": manager, "fieldsV1": fields}
            ]},
            "spec": {"replicas": 0}
        })
    }

    #[test]
    fn replicas_the_rollout_owns_are_not_applied_and_the_rest_of_git_is() {
        let owned = live("tidegate-rollout", &json!({"f:spec": {"f:replicas": {}}}));
        let carried = carry(&git(), &owned).expect("the replicas to leave out");
        assert_eq!(carried["spec"].get("replicas"), None);
        assert_eq!(carried["spec"]["template"], git()["spec"]["template"]);
    }

    #[test]
    fn replicas_of_anyone_else_are_applied_from_git() {
        let sync = live("tidegate-sync", &json!({"f:spec": {"f:replicas": {}}}));
        assert_eq!(carry(&git(), &sync), None);
        let other_field = live("tidegate-rollout", &json!({"f:metadata": {"f:labels": {}}}));
        assert_eq!(carry(&git(), &other_field), None);
        let mut service = git();
        service["apiVersion"] = json!("v1");
        service["kind"] = json!("Service");
        let owned = live("tidegate-rollout", &json!({"f:spec": {"f:replicas": {}}}));
        assert_eq!(carry(&service, &owned), None);
        let mut stateful = git();
        stateful["kind"] = json!("StatefulSet");
        assert_eq!(
            carry(&stateful, &owned),
            None,
            "only Deployments are scaled by a Rollout"
        );
        assert!(may_be_scaled("apps/v1", "Deployment"));
        assert!(!may_be_scaled("apps/v1", "StatefulSet"));
        assert!(!may_be_scaled("v1", "Deployment"));
        let mut without = git();
        without["spec"].as_object_mut().unwrap().remove("replicas");
        assert_eq!(carry(&without, &owned), None, "nothing to leave out");
    }
}
