//! Acceptance: every field of the Experiment schema changes what the experiment controller
//! decides or creates, or is refused — a test walks the CRD schema (as `k8s::crd::coverage`
//! does for Rollouts) through reconciles at each stage of an experiment's life.

use std::fmt::Write as _;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use super::decide::{Action, Observed, ObservedReplicaSet, ObservedRun, decide};
use super::objects;
use crate::k8s::crd::coverage::{assert_all_read, is_read, spec_leaves, with};
use crate::k8s::crd::{
    AnalysisRunSpec, Experiment, ExperimentAnalysisRunStatus, ExperimentSpec, ExperimentStatus,
    TemplatePhase, TemplateStatus,
};
use crate::model::AnalysisPhase;

/// Read outside the reconcile and the objects: which template a run is made from is read
/// by the controller when it creates the run (`Io::run_spec`).
const READ_BY_THE_CONTROLLER: &[(&str, &str)] = &[
    (
        ".analyses[].templateName",
        "the run's template (Io::run_spec; e2e)",
    ),
    (
        ".analyses[].clusterScope",
        "the run's template (Io::run_spec)",
    ),
];

/// A spec that runs: one template, one analysis.
fn base() -> Value {
    json!({"templates": [{"name": "a", "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]}}}],
            "analyses": [{"name": "x", "templateName": "t"}]})
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("a time")
}

/// An experiment's stages: new; running for an hour with its templates available; a
/// template making no progress for 300 s; analyses done; finished with pods still up.
fn stages(spec: &ExperimentSpec) -> Vec<(ExperimentStatus, Observed)> {
    let template_status = |phase, since: i64| -> Vec<TemplateStatus> {
        spec.templates
            .iter()
            .map(|template| TemplateStatus {
                name: template.name.clone(),
                status: Some(phase),
                available_replicas: template.replicas.unwrap_or(1),
                replicas: template.replicas.unwrap_or(1),
                last_transition_time: Some(Time(at(since))),
                ..TemplateStatus::default()
            })
            .collect()
    };
    let observed = |available: bool| Observed {
        now: at(0),
        replica_sets: spec
            .templates
            .iter()
            .map(|template| {
                let replicas = template.replicas.unwrap_or(1);
                let up = if available { replicas } else { 0 };
                let replica_set = ObservedReplicaSet {
                    hash: format!("h-{}", template.name),
                    desired: replicas,
                    replicas,
                    ready: up,
                    available: up,
                    scale_down_deadline: None,
                };
                (template.name.clone(), replica_set)
            })
            .collect(),
        ..Observed::default()
    };
    let running = ExperimentStatus {
        phase: Some(AnalysisPhase::Running),
        available_at: Some(Time(at(-3600))),
        template_statuses: template_status(TemplatePhase::Running, -3600),
        ..ExperimentStatus::default()
    };
    let analysed = ExperimentStatus {
        analysis_runs: spec
            .analyses
            .iter()
            .map(|analysis| ExperimentAnalysisRunStatus {
                name: analysis.name.clone(),
                analysis_run: format!("ab-{}", analysis.name),
                phase: Some(AnalysisPhase::Running),
                message: String::new(),
            })
            .collect(),
        ..running.clone()
    };
    let mut verdicts = observed(true);
    verdicts.runs = spec
        .analyses
        .iter()
        .map(|analysis| {
            let run = ObservedRun {
                phase: AnalysisPhase::Successful,
                message: String::new(),
                terminating: false,
            };
            (analysis.name.clone(), run)
        })
        .collect();
    vec![
        (
            ExperimentStatus::default(),
            Observed {
                now: at(0),
                ..Observed::default()
            },
        ),
        (running, observed(true)),
        (
            ExperimentStatus {
                phase: Some(AnalysisPhase::Pending),
                template_statuses: template_status(TemplatePhase::Progressing, -300),
                ..ExperimentStatus::default()
            },
            observed(false),
        ),
        (analysed, verdicts),
        (
            ExperimentStatus {
                phase: Some(AnalysisPhase::Successful),
                template_statuses: template_status(TemplatePhase::Successful, -3600),
                ..ExperimentStatus::default()
            },
            observed(true),
        ),
    ]
}

/// How [`outcome`] marks a spec that does not parse.
const UNREAD: &str = "does not read: ";

/// What an Experiment spec makes happen: its problems, and at each stage the decision and
/// the objects its actions create.
fn outcome(document: &Value) -> String {
    let spec = match serde_json::from_value::<ExperimentSpec>(document.clone()) {
        Ok(spec) => spec,
        Err(error) => return format!("{UNREAD}{error}"),
    };
    let mut experiment = Experiment::new("ab", spec.clone());
    experiment.metadata.namespace = Some("shop".into());
    let mut out = format!("{:?}\n", spec.problems());
    for (status, observed) in stages(&spec) {
        let decision = decide("ab", &spec, &status, &observed);
        let _ = writeln!(out, "{decision:?}");
        for action in &decision.actions {
            let template = |name: &str| {
                spec.templates
                    .iter()
                    .find(|template| template.name == name)
                    .expect("actions name the spec's templates")
            };
            let object = match action {
                Action::CreateReplicaSet { template: name } => {
                    format!("{:?}", objects::replica_set(&experiment, template(name)))
                }
                Action::CreateService {
                    template: name,
                    name: service,
                } => {
                    format!(
                        "{:?}",
                        objects::service(&experiment, template(name), service)
                    )
                }
                Action::CreateRun { name, args, .. } => format!(
                    "{:?}",
                    objects::run(&experiment, name, args, AnalysisRunSpec::default())
                ),
                _ => continue,
            };
            out.push_str(&object);
        }
    }
    out
}

#[test]
fn every_experiment_field_is_read_or_refused_by_name() {
    let (spec, fields) = spec_leaves::<Experiment>("");
    let spec = &spec;
    let base = base();
    let mut ignored = Vec::new();
    for (path, leaf) in &fields {
        let read = is_read(leaf, UNREAD, |value| {
            outcome(&runnable(with(&base, spec, path, value, no_seed)))
        });
        if !read {
            ignored.push(path.clone());
        }
    }
    assert_all_read(
        "the Experiment schema",
        &fields,
        &ignored,
        READ_BY_THE_CONTROLLER,
    );
}

fn no_seed(_: &str) -> Option<Value> {
    None
}

/// `document` with what a template needs to run filled in where the walk left it out: a
/// selector and pod labels that match, and a container.
fn runnable(mut document: Value) -> Value {
    let Some(templates) = document.get_mut("templates").and_then(Value::as_array_mut) else {
        return document;
    };
    for template in templates {
        let Some(template) = template.as_object_mut() else {
            continue;
        };
        let selector = template.entry("selector").or_insert_with(|| json!({}));
        if selector.get("matchLabels").is_none() && selector.get("matchExpressions").is_none() {
            selector["matchLabels"] = json!({"app": "a"});
        }
        // A walked expression's operator is the first sample unless the walk sets it: make
        // that one valid, so its key and values matter.
        for expression in selector
            .get_mut("matchExpressions")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if expression["operator"] == json!("30s") {
                expression["operator"] = json!("Exists");
            }
        }
        let pods = template.entry("template").or_insert_with(|| json!({}));
        if !pods.is_object() {
            continue;
        }
        if pods.pointer("/metadata/labels").is_none() {
            // `web` is a sample key: an expression on it can match.
            pods["metadata"]["labels"] = json!({"app": "a", "web": "w"});
        }
        if pods.pointer("/spec/containers").is_none() {
            pods["spec"]["containers"] = json!([{"name": "c", "image": "i"}]);
        }
    }
    document
}
