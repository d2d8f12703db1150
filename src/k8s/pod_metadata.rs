//! The merge patches that give pods and ReplicaSet templates their role metadata and take
//! away what an earlier role gave them, and the annotation that records it on the ReplicaSet
//! (as Argo does, so a Rollout moved between Argo and tidegate keeps track). Pure shaping;
//! the executor sends them.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::crd::PodTemplateMetadata;
use super::labels;
use crate::model::PodMetadata;

/// The `metadata` of a merge patch: every key of `desired` set, and every key of `previous`
/// that `desired` lacks removed.
#[must_use]
pub fn metadata(previous: Option<&PodMetadata>, desired: Option<&PodMetadata>) -> Value {
    let empty = PodMetadata::default();
    let previous = previous.unwrap_or(&empty);
    let desired = desired.unwrap_or(&empty);
    json!({
        "labels": changes(&previous.labels, &desired.labels),
        "annotations": changes(&previous.annotations, &desired.annotations),
    })
}

/// A merge patch for a pod.
#[must_use]
pub fn pod_patch(previous: Option<&PodMetadata>, desired: Option<&PodMetadata>) -> Value {
    json!({ "metadata": metadata(previous, desired) })
}

/// A merge patch for a ReplicaSet: its template's metadata, and the record of what it gave.
#[must_use]
pub fn replica_set_patch(previous: Option<&PodMetadata>, desired: Option<&PodMetadata>) -> Value {
    json!({
        "metadata": { "annotations": { labels::EPHEMERAL_METADATA: record(desired) } },
        "spec": { "template": { "metadata": metadata(previous, desired) } },
    })
}

/// The value of the `ephemeral-metadata` annotation: Argo's JSON, or none.
#[must_use]
pub fn record(metadata: Option<&PodMetadata>) -> Option<String> {
    let metadata = metadata.filter(|metadata| !metadata.is_empty())?;
    let recorded = PodTemplateMetadata {
        labels: metadata.labels.clone(),
        annotations: metadata.annotations.clone(),
    };
    serde_json::to_string(&recorded).ok()
}

fn changes(previous: &BTreeMap<String, String>, desired: &BTreeMap<String, String>) -> Value {
    let mut patch: Map<String, Value> = previous
        .keys()
        .filter(|key| !desired.contains_key(*key))
        .map(|key| (key.clone(), Value::Null))
        .collect();
    patch.extend(
        desired
            .iter()
            .map(|(key, value)| (key.clone(), Value::String(value.clone()))),
    );
    Value::Object(patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promoted_pod_trades_its_canary_keys_for_the_stable_ones() {
        let canary = PodMetadata::of(&[("role", "canary"), ("track", "new")], &[("a", "1")]);
        let stable = PodMetadata::of(&[("role", "stable")], &[]);
        assert_eq!(
            pod_patch(Some(&canary), Some(&stable)),
            json!({ "metadata": {
                "labels": { "role": "stable", "track": null },
                "annotations": { "a": null },
            }})
        );
    }

    #[test]
    fn no_role_takes_away_everything_recorded_and_the_record() {
        let canary = PodMetadata::of(&[("role", "canary")], &[]);
        assert_eq!(
            replica_set_patch(Some(&canary), None),
            json!({
                "metadata": { "annotations": { labels::EPHEMERAL_METADATA: null } },
                "spec": { "template": { "metadata": {
                    "labels": { "role": null },
                    "annotations": {},
                }}},
            })
        );
    }

    #[test]
    fn the_record_is_argo_json_and_reads_back() {
        let stable = PodMetadata::of(&[("role", "stable")], &[("team", "web")]);
        let recorded = record(Some(&stable)).expect("recorded");
        assert_eq!(
            recorded,
            r#"{"labels":{"role":"stable"},"annotations":{"team":"web"}}"#
        );
        let back: PodTemplateMetadata = serde_json::from_str(&recorded).expect("parses");
        assert_eq!(back.labels, stable.labels);
        assert_eq!(back.annotations, stable.annotations);
        assert_eq!(record(Some(&PodMetadata::default())), None);
        assert_eq!(record(None), None);
    }
}
