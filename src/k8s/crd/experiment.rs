//! The `Experiment` custom resource, with Argo Rollouts' `v1alpha1` field names under group
//! `tidegate.dev`: pod templates run side by side as ReplicaSets for a while, with analyses
//! over them; its phase is their verdict.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Argument, DryRun, MeasurementRetention, PodTemplateMetadata, is_false, undocumented};
use crate::model::AnalysisPhase;

/// Argo's default `progressDeadlineSeconds`.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;
/// Argo's default `scaleDownDelaySeconds`.
pub const DEFAULT_SCALE_DOWN_DELAY_SECONDS: i32 = 30;

/// Pod templates run side by side for a while, with analyses over them.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "tidegate.dev",
    version = "v1alpha1",
    kind = "Experiment",
    doc = "Pod templates run side by side for a while, with analyses over them.",
    namespaced,
    status = "ExperimentStatus",
    shortname = "exp",
    category = "tidegate",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.phase","description":"Experiment status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
#[serde(rename_all = "camelCase")]
pub struct ExperimentSpec {
    /// The pod templates to run, each as a ReplicaSet `<experiment>-<template>`.
    #[schemars(length(min = 1))]
    pub templates: Vec<ExperimentTemplate>,
    /// How long to run once every template is available (`30s`, `5m`, `1h`); without it the
    /// experiment runs until terminated, an analysis fails or its required analyses end.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub duration: String,
    /// Seconds a template may go without progress before it fails (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    /// Stop the experiment: its templates scale down and its analyses stop.
    #[serde(default, skip_serializing_if = "is_false")]
    pub terminate: bool,
    /// Analyses run once every template is available.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analyses: Vec<ExperimentAnalysis>,
    /// Metrics whose results are recorded but never fail the analyses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRun>,
    /// How many measurements the analyses keep per metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<MeasurementRetention>,
    /// Seconds a template's ReplicaSet keeps its pods after the experiment ends (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
    /// Labels and annotations for the AnalysisRuns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_run_metadata: Option<PodTemplateMetadata>,
}

/// One pod template of an experiment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentTemplate {
    /// Its name, unique in the experiment.
    pub name: String,
    /// Pods to run (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Seconds a ready pod must stay ready to count as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// Selects the template's pods (the pod-template hash narrows it to this template).
    #[schemars(schema_with = "undocumented::<LabelSelector>")]
    pub selector: LabelSelector,
    /// The pods.
    #[schemars(schema_with = "undocumented::<PodTemplateSpec>")]
    pub template: PodTemplateSpec,
    /// A Service in front of the template's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<TemplateService>,
}

/// The Service of a template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateService {
    /// Its name; the ReplicaSet's name when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// An analysis of an experiment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentAnalysis {
    /// Its name, unique in the experiment; the run is `<experiment>-<name>`.
    pub name: String,
    /// The AnalysisTemplate (or ClusterAnalysisTemplate) to run.
    pub template_name: String,
    /// Look the name up among ClusterAnalysisTemplates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_scope: Option<bool>,
    /// Arguments; values may use `{{templates.<name>.podTemplateHash}}`,
    /// `{{templates.<name>.replicaset.name}}`, `{{experiment.availableAt}}` and
    /// `{{experiment.finishedAt}}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Argument>,
    /// The experiment ends when every required analysis has ended.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required_for_completion: bool,
}

/// What the experiment controller observed and decided.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentStatus {
    /// Pending, Running, Successful, Failed, Error or Inconclusive; absent before the first
    /// reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<AnalysisPhase>,
    /// Why it is in its phase.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Each template's state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub template_statuses: Vec<TemplateStatus>,
    /// When every template first became available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_at: Option<Time>,
    /// Each analysis's run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analysis_runs: Vec<ExperimentAnalysisRunStatus>,
    /// Argo's `Progressing` condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ExperimentCondition>,
}

/// The state of one template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateStatus {
    /// The template.
    pub name: String,
    /// Pods of its ReplicaSet.
    #[serde(default)]
    pub replicas: i32,
    /// Pods of its current template (the same as `replicas`).
    #[serde(default)]
    pub updated_replicas: i32,
    /// Ready pods.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Available pods.
    #[serde(default)]
    pub available_replicas: i32,
    /// Hash collisions met creating its ReplicaSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
    /// Progressing, Running, Successful, Failed or Error; absent before the first reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TemplatePhase>,
    /// Why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When its counters or status last changed (the progress deadline counts from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Its Service, while there is one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    /// The pod-template hash of its pods.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod_template_hash: String,
}

/// The states of a template, as Argo names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TemplatePhase {
    /// Pods are coming up.
    Progressing,
    /// Every pod is available.
    Running,
    /// Ran to the end.
    Successful,
    /// Exceeded its progress deadline.
    Failed,
    /// Its objects could not be created or scaled.
    Error,
}

impl TemplatePhase {
    /// Whether the state is final.
    #[must_use]
    pub fn is_completed(self) -> bool {
        matches!(self, Self::Successful | Self::Failed | Self::Error)
    }
}

impl std::fmt::Display for TemplatePhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// The run of one analysis.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentAnalysisRunStatus {
    /// The analysis.
    pub name: String,
    /// Its AnalysisRun, once created.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub analysis_run: String,
    /// The run's phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<AnalysisPhase>,
    /// The run's message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A condition of an experiment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentCondition {
    /// `Progressing`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `True` or `False`.
    pub status: String,
    /// Machine-readable reason.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When the condition last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// When the condition was last written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
}

impl ExperimentSpec {
    /// The spec's `progressDeadlineSeconds`, or Argo's default.
    #[must_use]
    pub fn progress_deadline(&self) -> i32 {
        self.progress_deadline_seconds
            .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS)
    }

    /// The spec's `duration`, if it has one that parses.
    #[must_use]
    pub fn duration(&self) -> Option<std::time::Duration> {
        if self.duration.is_empty() {
            return None;
        }
        crate::model::parse_go_duration(&self.duration).ok()
    }

    /// What makes the spec invalid, as `(field path, message)`: Argo's checks (a template
    /// needs a name of its own, a non-empty selector, a `minReadySeconds` within the progress
    /// deadline) and what tidegate cannot run (a duration that does not parse, analyses
    /// sharing a name, a selector its template's labels do not match).
    #[must_use]
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !self.duration.is_empty()
            && let Err(error) = crate::model::parse_go_duration(&self.duration)
        {
            problems.push(("spec.duration".to_owned(), error.to_string()));
        }
        let deadline = self.progress_deadline();
        if deadline <= 0 {
            problems.push((
                "spec.progressDeadlineSeconds".to_owned(),
                "must be positive".to_owned(),
            ));
        }
        if self.scale_down_delay_seconds.is_some_and(|delay| delay < 0) {
            problems.push((
                "spec.scaleDownDelaySeconds".to_owned(),
                "must not be negative".to_owned(),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (index, template) in self.templates.iter().enumerate() {
            let at = |field: &str| format!("spec.templates[{index}].{field}");
            if template.name.is_empty() {
                problems.push((at("name"), "a template needs a name".to_owned()));
            } else if !names.insert(template.name.as_str()) {
                problems.push((
                    at("name"),
                    format!("template name '{}' is repeated", template.name),
                ));
            }
            if template.replicas.is_some_and(|replicas| replicas < 0) {
                problems.push((at("replicas"), "must not be negative".to_owned()));
            }
            if template.min_ready_seconds.unwrap_or(0) > deadline {
                problems.push((
                    at("minReadySeconds"),
                    "MinReadySeconds cannot be longer than ProgressDeadlineSeconds".to_owned(),
                ));
            }
            let selector = &template.selector;
            if selects_everything(selector) {
                problems.push((
                    at("selector"),
                    "this template selects all pods: a non-empty selector is required".to_owned(),
                ));
            } else {
                match super::plan::selector_matches(selector, pod_labels(&template.template)) {
                    Ok(true) => {}
                    Ok(false) => problems.push((
                        at("selector"),
                        "does not match the labels of the template's pods".to_owned(),
                    )),
                    Err(problem) => problems.push((at("selector"), problem)),
                }
            }
        }
        let mut analyses = std::collections::BTreeSet::new();
        for (index, analysis) in self.analyses.iter().enumerate() {
            let at = |field: &str| format!("spec.analyses[{index}].{field}");
            if analysis.name.is_empty() {
                problems.push((at("name"), "an analysis needs a name".to_owned()));
            } else if !analyses.insert(analysis.name.as_str()) {
                problems.push((
                    at("name"),
                    format!("analysis name '{}' is repeated", analysis.name),
                ));
            }
            if analysis.template_name.is_empty() {
                problems.push((at("templateName"), "names no template".to_owned()));
            }
        }
        problems
    }
}

/// Whether `selector` is empty: it would select every pod of the namespace.
pub(super) fn selects_everything(selector: &LabelSelector) -> bool {
    selector
        .match_labels
        .as_ref()
        .is_none_or(std::collections::BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
}

/// The labels of a pod template (none when it has no metadata).
fn pod_labels(template: &PodTemplateSpec) -> &std::collections::BTreeMap<String, String> {
    static NONE: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    template
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.labels.as_ref())
        .unwrap_or(&NONE)
}
