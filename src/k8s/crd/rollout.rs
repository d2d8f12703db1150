//! The `Rollout` custom resource: Argo Rollouts' `v1alpha1` spec and status, field for field,
//! under group `tidegate.dev`.
//!
//! Field names, optionality and defaults follow Argo's Go types (`pkg/apis/rollouts/v1alpha1`).
//! Parts of the spec that tidegate does not execute yet (traffic routers other than Services,
//! experiments, header and mirror routes, step plugins) are kept as opaque objects, so Argo
//! manifests are stored unchanged; `docs/rollouts.md` lists them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Opaque, RolloutAnalysisRunStatus, is_false, is_zero, is_zero_u64, undocumented};
pub use crate::model::{PauseReason, Phase};

/// A workload whose new versions are released step by step (canary) or side by side
/// (blue-green), gated by analysis.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "tidegate.dev",
    version = "v1alpha1",
    kind = "Rollout",
    doc = "A workload released step by step (canary) or side by side (blue-green), gated by analysis.",
    namespaced,
    status = "RolloutStatus",
    shortname = "ro",
    category = "tidegate",
    scale = r#"{"specReplicasPath":".spec.replicas","statusReplicasPath":".status.HPAReplicas","labelSelectorPath":".status.selector"}"#,
    printcolumn = r#"{"name":"Desired","type":"integer","jsonPath":".spec.replicas","description":"Number of desired pods"}"#,
    printcolumn = r#"{"name":"Available","type":"integer","jsonPath":".status.availableReplicas","description":"Available pods"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase","description":"Healthy, Progressing, Paused or Degraded"}"#,
    printcolumn = r#"{"name":"Step","type":"integer","jsonPath":".status.currentStepIndex","description":"Index of the current canary step"}"#,
    printcolumn = r#"{"name":"Weight","type":"integer","jsonPath":".status.canary.weights.canary.weight","description":"Traffic weight of the canary"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// Number of desired pods; defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Label selector for the pods; must match the template's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// The pods to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "undocumented::<Option<PodTemplateSpec>>")]
    pub template: Option<PodTemplateSpec>,
    /// A Deployment that provides the pod template (and, when `selector` is absent, the
    /// selector) instead of `template`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_ref: Option<ObjectRef>,
    /// The template (and selector) were filled in from `workloadRef` by the controller: never
    /// read from or written to the API.
    #[serde(skip)]
    #[schemars(skip)]
    pub template_from_workload: bool,
    /// Seconds a new pod must be ready before it counts as available; defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// How far back a rollback to an earlier revision is fast-tracked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_window: Option<RollbackWindowSpec>,
    /// How new versions replace old ones: `canary` or `blueGreen`.
    #[serde(default)]
    pub strategy: RolloutStrategy,
    /// Old ReplicaSets to keep; defaults to 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// Pauses the rollout at its current step.
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Seconds without progress before the rollout is reported as failed; defaults to 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    /// Abort the update when `progressDeadlineSeconds` is exceeded.
    #[serde(default, skip_serializing_if = "is_false")]
    pub progress_deadline_abort: bool,
    /// Restart every pod created before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_at: Option<Time>,
    /// How many finished AnalysisRuns to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisRunStrategy>,
}

/// A reference to the workload that provides the pod template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Kind of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Name of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Whether to scale the referenced workload down: `never`, `onsuccess` or `progressively`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scale_down: String,
}

/// The window in which a rollback is fast-tracked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollbackWindowSpec {
    /// Number of revisions back that are rolled back without running the steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revisions: Option<i32>,
}

/// How many finished AnalysisRuns are kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunStrategy {
    /// Successful runs to keep; defaults to 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_run_history_limit: Option<i32>,
    /// Failed, errored or inconclusive runs to keep; defaults to 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsuccessful_run_history_limit: Option<i32>,
}

/// The update strategy: exactly one of `canary` and `blueGreen`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStrategy {
    /// Run the new and old version side by side and switch the active Service at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreenStrategy>,
    /// Shift replicas and traffic to the new version step by step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStrategy>,
}

/// Blue-green: a preview stack beside the active one, promoted by switching the active Service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreenStrategy {
    /// The Service whose selector is switched to the new version on promotion.
    pub active_service: String,
    /// The Service that selects the new version before promotion.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preview_service: String,
    /// Replicas of the new version before promotion; defaults to `replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_replica_count: Option<i32>,
    /// Promote without waiting for a person; defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion_enabled: Option<bool>,
    /// Seconds to wait, once the preview is available, before promoting automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion_seconds: Option<i32>,
    /// Pods that may be unavailable during a restart; defaults to 25%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// Seconds before the previous version is scaled down after promotion; defaults to 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
    /// How many old ReplicaSets may wait for their scale-down delay at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_revision_limit: Option<i32>,
    /// Analysis that must pass before the active Service is switched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_promotion_analysis: Option<RolloutAnalysis>,
    /// Anti-affinity between the old and new pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<AntiAffinity>,
    /// Analysis that must pass after the switch before the new version becomes stable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_promotion_analysis: Option<RolloutAnalysis>,
    /// Labels and annotations for the pods while they are the preview.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_metadata: Option<PodTemplateMetadata>,
    /// Labels and annotations for the pods while they are active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_metadata: Option<PodTemplateMetadata>,
    /// Seconds before the preview is scaled down after an abort; 0 keeps it; defaults to 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_scale_down_delay_seconds: Option<i32>,
}

/// Canary: steps that move replicas (and, with a router, traffic) to the new version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStrategy {
    /// A Service whose selector is pinned to the canary pods.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub canary_service: String,
    /// A Service whose selector is pinned to the stable pods.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stable_service: String,
    /// The steps, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<CanaryStep>,
    /// Fine-grained traffic routing; without it the weight is realised by replica counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_routing: Option<RolloutTrafficRouting>,
    /// Pods that may be unavailable during the update (number or percentage); defaults to 25%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// Pods that may exist above `replicas` during the update; defaults to 25%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
    /// Analysis that runs in the background while the steps execute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<RolloutAnalysisBackground>,
    /// Anti-affinity between the canary and stable pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<AntiAffinity>,
    /// Labels and annotations for the pods while they are the canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_metadata: Option<PodTemplateMetadata>,
    /// Labels and annotations for the pods while they are stable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_metadata: Option<PodTemplateMetadata>,
    /// Seconds before the previous version is scaled down (traffic routing only); defaults to 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
    /// How many old ReplicaSets may wait for their scale-down delay at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_revision_limit: Option<i32>,
    /// Seconds before the canary is scaled down after an abort (traffic routing only); 0 keeps
    /// it; defaults to 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_scale_down_delay_seconds: Option<i32>,
    /// Scale the stable down as traffic moves to the canary (traffic routing only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub dynamic_stable_scale: bool,
    /// Ping-pong Services instead of canary/stable (ALB only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_pong: Option<PingPongSpec>,
    /// Lower bound for a non-empty canary or stable ReplicaSet (traffic routing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_pods_per_replica_set: Option<i32>,
    /// How many canary pods must be available for a step to complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_progress_threshold: Option<ReplicaProgressThreshold>,
}

/// How many canary pods must be available for a step to complete.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaProgressThreshold {
    /// `Pod` (a count) or `Percent`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The count or percentage.
    pub value: i32,
}

/// The two Services of the ping-pong feature.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PingPongSpec {
    /// Name of the ping Service.
    pub ping_service: String,
    /// Name of the pong Service.
    pub pong_service: String,
}

/// Anti-affinity injected between the old and new pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AntiAffinity {
    /// A preferred rule with this weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_during_scheduling_ignored_during_execution: Option<PreferredAntiAffinity>,
    /// A required rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<RequiredAntiAffinity>,
}

/// A preferred anti-affinity rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PreferredAntiAffinity {
    /// Weight of the rule, 1 to 100.
    pub weight: i32,
}

/// A required anti-affinity rule (it has no settings).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RequiredAntiAffinity {}

/// Extra labels and annotations for pods in a role (canary, stable, preview, active).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PodTemplateMetadata {
    /// Labels to add.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations to add.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Traffic routing. tidegate routes by Service selectors; the router blocks are stored as
/// given and refused by the engine until their routers are implemented.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutTrafficRouting {
    /// Istio VirtualService and DestinationRule settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub istio: Option<Opaque>,
    /// NGINX Ingress settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nginx: Option<Opaque>,
    /// AWS ALB Ingress settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alb: Option<Opaque>,
    /// SMI TrafficSplit settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smi: Option<Opaque>,
    /// Ambassador Mapping settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambassador: Option<Opaque>,
    /// AWS App Mesh settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_mesh: Option<Opaque>,
    /// Traefik settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traefik: Option<Opaque>,
    /// Apache APISIX settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apisix: Option<Opaque>,
    /// Traffic router plugin settings, by plugin name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Opaque>,
    /// Routes managed by header and mirror steps, in order of precedence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_routes: Vec<ManagedRoute>,
    /// The weight that means "all traffic"; defaults to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_traffic_weight: Option<i32>,
}

/// A route managed by `setHeaderRoute` or `setMirrorRoute` steps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ManagedRoute {
    /// Name of the route.
    pub name: String,
}

/// One canary step; exactly one field is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStep {
    /// Percentage of traffic (or, without a router, of replicas) for the canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_weight: Option<i32>,
    /// Wait for a duration, or until promoted when no duration is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<RolloutPause>,
    /// Run an Experiment of the stable and canary pod templates; continue when it succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<RolloutExperimentStep>,
    /// Run an AnalysisRun and continue only if it succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<RolloutAnalysis>,
    /// Scale the canary without changing its traffic weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_canary_scale: Option<SetCanaryScale>,
    /// Route requests with matching headers to the canary (not supported by tidegate yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_header_route: Option<Opaque>,
    /// Mirror matching traffic to the canary (not supported by tidegate yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_mirror_route: Option<Opaque>,
    /// A step plugin (not supported by tidegate yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<Opaque>,
}

/// A pause step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RolloutPause {
    /// Seconds (a number or digit string) or a Go duration such as `1h30m`; absent means
    /// "until promoted".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<IntOrString>,
}

/// Scale the canary independently of its traffic weight.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetCanaryScale {
    /// Canary replicas as a percentage of `replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// Canary replicas as a count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Go back to scaling the canary by the traffic weight.
    #[serde(default, skip_serializing_if = "is_false")]
    pub match_traffic_weight: bool,
}

/// Background analysis: a [`RolloutAnalysis`] that starts at a given step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAnalysisBackground {
    /// The analysis to run.
    #[serde(flatten)]
    pub analysis: RolloutAnalysis,
    /// Index of the step at which the background analysis starts; defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_step: Option<i32>,
}

/// An AnalysisRun to create from templates and arguments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAnalysis {
    /// Templates whose metrics are combined into one run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<RolloutAnalysisTemplate>,
    /// Arguments passed to the templates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<super::analysis::AnalysisRunArgument>,
    /// Metrics whose results are recorded but never fail the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<super::analysis::DryRun>,
    /// How many measurements to keep per metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<super::analysis::MeasurementRetention>,
    /// Labels and annotations for the AnalysisRuns created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_run_metadata: Option<PodTemplateMetadata>,
}

/// An `experiment` step: an Experiment made of the stable and canary pod templates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutExperimentStep {
    /// The templates, each the stable or the canary pod template.
    #[schemars(length(min = 1))]
    pub templates: Vec<RolloutExperimentTemplate>,
    /// How long the experiment runs once its templates are available.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub duration: String,
    /// Analyses over the templates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analyses: Vec<RolloutExperimentAnalysis>,
    /// Metrics whose results are recorded but never fail the analyses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<super::analysis::DryRun>,
    /// Labels and annotations for the AnalysisRuns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_run_metadata: Option<PodTemplateMetadata>,
    /// Seconds the templates keep their pods after the experiment ends (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_seconds: Option<i32>,
}

/// A template of an `experiment` step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutExperimentTemplate {
    /// Its name, unique in the step.
    pub name: String,
    /// `stable` or `canary`: whose pod template it runs.
    pub spec_ref: SpecRef,
    /// Pods to run (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Labels (added to the selector too) and annotations for its pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PodTemplateMetadata>,
    /// Its selector; the ReplicaSet's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::undocumented::<Option<LabelSelector>>")]
    pub selector: Option<LabelSelector>,
    /// Traffic for it through the router (not supported by tidegate yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// A Service in front of its pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<super::TemplateService>,
}

/// Which revision's pod template an experiment template runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpecRef {
    /// The canary (new) revision's.
    #[default]
    Canary,
    /// The stable revision's.
    Stable,
}

/// An analysis of an `experiment` step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutExperimentAnalysis {
    /// Its name, unique in the step.
    pub name: String,
    /// The AnalysisTemplate (or ClusterAnalysisTemplate) to run.
    pub template_name: String,
    /// Look the name up among ClusterAnalysisTemplates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_scope: Option<bool>,
    /// Arguments: values (which may use the experiment's `{{templates.…}}` and
    /// `{{experiment.…}}` variables), pod-template hashes or fields of the Rollout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<super::analysis::AnalysisRunArgument>,
    /// The experiment ends when every required analysis has ended.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required_for_completion: bool,
}

/// A reference to an AnalysisTemplate or ClusterAnalysisTemplate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAnalysisTemplate {
    /// Name of the template.
    pub template_name: String,
    /// Look the name up among ClusterAnalysisTemplates instead of the namespace's templates.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cluster_scope: bool,
}

/// Observed state of a Rollout, written by tidegate. It is the Rollout's only durable state:
/// a restarted daemon resumes from it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// The current update was aborted.
    #[serde(default, skip_serializing_if = "is_false")]
    pub abort: bool,
    /// Why the rollout paused itself; a person clears these to resume.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pause_conditions: Vec<PauseCondition>,
    /// The controller paused the rollout (still true after a person cleared the conditions).
    #[serde(default, skip_serializing_if = "is_false")]
    pub controller_pause: bool,
    /// When the abort was reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_at: Option<Time>,
    /// Hash of the current pod template.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub current_pod_hash: String,
    /// Hash of the current steps; a change restarts the steps.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub current_step_hash: String,
    /// Non-terminated pods of this rollout.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replicas: i32,
    /// Pods with the current template.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub updated_replicas: i32,
    /// Ready pods.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ready_replicas: i32,
    /// Pods ready for at least `minReadySeconds`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub available_replicas: i32,
    /// Index of the current canary step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step_index: Option<i32>,
    /// Hash collisions seen when naming the newest ReplicaSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
    /// The `metadata.generation` last acted on (a string, as in Argo).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub observed_generation: String,
    /// Available, Progressing, Paused, Healthy, Completed, InvalidSpec, ReplicaFailure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<RolloutCondition>,
    /// Canary state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStatus>,
    /// Blue-green state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreenStatus>,
    /// Pods receiving active traffic (the scale subresource's replica count).
    #[serde(
        rename = "HPAReplicas",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub hpa_replicas: Option<i32>,
    /// Label selector of the pods receiving active traffic (for the scale subresource).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
    /// Pod-template hash of the stable ReplicaSet.
    #[serde(rename = "stableRS", default, skip_serializing_if = "String::is_empty")]
    pub stable_rs: String,
    /// When the last restart finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted_at: Option<Time>,
    /// Skip the remaining steps, pauses and analysis and promote.
    #[serde(default, skip_serializing_if = "is_false")]
    pub promote_full: bool,
    /// Healthy, Progressing, Paused or Degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Why the rollout is in its phase.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The generation of the referenced workload last acted on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workload_observed_generation: String,
    /// Events decided by the last reconciles and not yet known to be published (tidegate
    /// only): recorded with the decision, so a daemon stopped before publishing them
    /// publishes them when it resumes, once each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_events: Vec<PendingEvent>,
    /// Sequence number of the last event decided (tidegate only); names each Event.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub event_sequence: u64,
}

/// An Event recorded in the status until it is published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingEvent {
    /// Its sequence number.
    pub sequence: u64,
    /// A Warning rather than a Normal event.
    #[serde(default, skip_serializing_if = "is_false")]
    pub warning: bool,
    /// Machine-readable reason (`RolloutStepCompleted`).
    pub reason: String,
    /// Human-readable message.
    pub message: String,
}

/// Why and since when the rollout paused itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PauseCondition {
    /// CanaryPauseStep, BlueGreenPause, InconclusiveAnalysisRun or InconclusiveExperiment.
    pub reason: PauseReason,
    /// When the pause began.
    pub start_time: Time,
}

/// One condition of a Rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutCondition {
    /// Available, Progressing, Paused, Healthy, Completed, InvalidSpec or ReplicaFailure.
    #[serde(rename = "type")]
    pub kind: String,
    /// True, False or Unknown.
    pub status: String,
    /// When the condition was last updated.
    pub last_update_time: Time,
    /// When the status last changed.
    pub last_transition_time: Time,
    /// Machine-readable reason of the last transition.
    pub reason: String,
    /// Human-readable detail.
    pub message: String,
}

/// Canary state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStatus {
    /// The AnalysisRun of the current analysis step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step_analysis_run_status: Option<RolloutAnalysisRunStatus>,
    /// The background AnalysisRun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_background_analysis_run_status: Option<RolloutAnalysisRunStatus>,
    /// The running Experiment.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub current_experiment: String,
    /// The weights last set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<TrafficWeights>,
    /// For ping-pong: which Service is stable, `ping` or `pong`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stable_ping_pong: String,
}

/// How traffic is split.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TrafficWeights {
    /// Weight of the canary.
    pub canary: WeightDestination,
    /// Weight of the stable.
    pub stable: WeightDestination,
    /// Weights of other destinations (experiments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional: Vec<WeightDestination>,
    /// Whether the router confirmed the weight (ALB only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
}

/// One destination of the traffic split.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WeightDestination {
    /// Percentage of traffic.
    pub weight: i32,
    /// The Service traffic is sent to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    /// The pod-template hash of the destination.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod_template_hash: String,
}

/// Blue-green state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreenStatus {
    /// Pod-template hash the preview Service selects.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preview_selector: String,
    /// Pod-template hash the active Service selects.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub active_selector: String,
    /// The preview may be scaled to full size once the rollout is unpaused.
    #[serde(default, skip_serializing_if = "is_false")]
    pub scale_up_preview_check_point: bool,
    /// The pre-promotion AnalysisRun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_promotion_analysis_run_status: Option<RolloutAnalysisRunStatus>,
    /// The post-promotion AnalysisRun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_promotion_analysis_run_status: Option<RolloutAnalysisRunStatus>,
}

impl CanaryStep {
    /// One line describing the step: `setWeight: 20`, `pause: 30s`, `analysis: error-rate`.
    #[must_use]
    pub fn summary(&self) -> String {
        if let Some(weight) = self.set_weight {
            return format!("setWeight: {weight}");
        }
        if let Some(pause) = &self.pause {
            return match &pause.duration {
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(seconds)) => {
                    format!("pause: {seconds}s")
                }
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(text)) => {
                    format!("pause: {text}")
                }
                None => "pause (until promoted)".to_owned(),
            };
        }
        if let Some(analysis) = &self.analysis {
            let names: Vec<_> = analysis
                .templates
                .iter()
                .map(|t| t.template_name.as_str())
                .collect();
            return format!("analysis: {}", names.join(", "));
        }
        if let Some(scale) = &self.set_canary_scale {
            return match (scale.replicas, scale.weight) {
                (Some(replicas), _) => format!("setCanaryScale: {replicas} replicas"),
                (None, Some(weight)) => format!("setCanaryScale: {weight}%"),
                (None, None) => "setCanaryScale: match traffic weight".to_owned(),
            };
        }
        let route_name = |route: &Opaque| {
            route
                .0
                .get("name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        if let Some(route) = &self.set_header_route {
            return format!("setHeaderRoute: {}", route_name(route));
        }
        if let Some(route) = &self.set_mirror_route {
            return format!("setMirrorRoute: {}", route_name(route));
        }
        "(unsupported step)".to_owned()
    }
}

impl RolloutSpec {
    /// The canary steps (none for blue-green).
    #[must_use]
    pub fn canary_steps(&self) -> &[CanaryStep] {
        self.strategy
            .canary
            .as_ref()
            .map(|canary| canary.steps.as_slice())
            .unwrap_or_default()
    }
}

/// The container images of a pod template, in order.
#[must_use]
pub fn images(template: Option<&PodTemplateSpec>) -> Vec<String> {
    template
        .and_then(|template| template.spec.as_ref())
        .map(|spec| {
            spec.containers
                .iter()
                .filter_map(|container| container.image.clone())
                .collect()
        })
        .unwrap_or_default()
}
