use serde_json::{Value, json};

use super::*;
use crate::k8s::crd::Rollout;
use crate::k8s::crd::coverage::{assert_all_read, is_read, seed, spec_leaves, with};

fn replica_set(hash: &str, image: &str) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": format!("web-{hash}"), "annotations": {"rollout.argoproj.io/revision": "2"}},
        "spec": {
            "replicas": 3,
            "minReadySeconds": if hash == "v1" { 5 } else { 0 },
            "selector": {"matchLabels": {"app": "web", "rollouts-pod-template-hash": hash}},
            "template": {
                "metadata": {"labels": {"app": "web", "rollouts-pod-template-hash": hash}},
                "spec": {"containers": [{"name": "web", "image": image}]}
            }
        }
    }))
    .expect("a ReplicaSet")
}

fn build(step: &Value) -> Experiment {
    let step: RolloutExperimentStep = serde_json::from_value(step.clone()).expect("a step");
    build_from(&step)
}

/// How [`outcome`] marks a document that is no step.
const UNREAD: &str = "does not read: ";

/// The Experiment a step document makes, or why the document is no step.
fn outcome(step: &Value) -> String {
    match serde_json::from_value::<RolloutExperimentStep>(step.clone()) {
        Ok(step) => format!("{:?}", build_from(&step)),
        Err(error) => format!("{UNREAD}{error}"),
    }
}

fn build_from(step: &RolloutExperimentStep) -> Experiment {
    experiment_for(
        step,
        "web-v2-2-1",
        Some(120),
        &replica_set("v1", "web:1"),
        &replica_set("v2", "web:2"),
        vec![vec![Argument {
            name: "canary-hash".into(),
            value: Some("v2".into()),
            value_from: None,
        }]],
    )
}

#[test]
fn argo_s_baseline_and_canary_templates_come_from_the_two_revisions() {
    let experiment = build(&json!({
        "duration": "1h",
        "scaleDownDelaySeconds": 10,
        "templates": [
            {"name": "baseline", "specRef": "stable"},
            {"name": "canary", "specRef": "canary", "replicas": 2,
             "metadata": {"labels": {"role": "canary"}, "annotations": {"note": "x"}},
             "service": {"name": "canary-preview"}}
        ],
        "analyses": [{"name": "mann-whitney", "templateName": "mann-whitney", "requiredForCompletion": true,
            "args": [{"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}]}]
    }));
    let spec = &experiment.spec;
    assert_eq!(spec.duration, "1h");
    assert_eq!(spec.progress_deadline_seconds, Some(120));
    assert_eq!(spec.scale_down_delay_seconds, Some(10));
    let [baseline, canary] = spec.templates.as_slice() else {
        panic!("{:?}", spec.templates)
    };
    let image = |template: &ExperimentTemplate| {
        template.template.spec.as_ref().unwrap().containers[0]
            .image
            .clone()
    };
    assert_eq!(image(baseline).as_deref(), Some("web:1"));
    assert_eq!(baseline.min_ready_seconds, Some(5));
    assert_eq!(baseline.service, None);
    assert_eq!(image(canary).as_deref(), Some("web:2"));
    assert_eq!(canary.replicas, Some(2));
    let labels = canary
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .as_ref()
        .unwrap();
    assert_eq!(labels["role"], "canary");
    assert_eq!(
        canary.selector.match_labels.as_ref().unwrap()["role"],
        "canary",
        "step labels select too"
    );
    assert_eq!(
        canary.service.as_ref().map(|service| service.name.as_str()),
        Some("canary-preview")
    );
    let analysis = &spec.analyses[0];
    assert!(analysis.required_for_completion);
    assert_eq!(
        analysis.args[0].value.as_deref(),
        Some("v2"),
        "resolved by the executor"
    );
}

/// Every field of an `experiment` step but the analyses' arguments (the plan carries those,
/// and its own walk proves them) changes the Experiment built.
#[test]
fn every_experiment_step_field_reaches_the_experiment() {
    let (step, fields) = spec_leaves::<Rollout>(
        "/properties/strategy/properties/canary/properties/steps/items/properties/experiment",
    );
    let step = &step;
    let base = json!({"templates": [{"name": "baseline", "specRef": "stable"}]});
    let mut ignored = Vec::new();
    for (path, leaf) in &fields {
        let read = is_read(leaf, UNREAD, |value| {
            outcome(&with(&base, step, path, value, seed))
        });
        if !read {
            ignored.push(path.clone());
        }
    }
    assert_all_read(
        "the experiment step",
        &fields,
        &ignored,
        &[(
            ".analyses[].args[].",
            "resolved from the plan (the Rollout schema's walk)",
        )],
    );
}
