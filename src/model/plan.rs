//! A Rollout's spec once read and checked: the plan the engine executes. Every default is
//! applied and every value parsed, so the engine never meets a malformed field; what the spec
//! got wrong is a list of [`SpecError`]s naming the field path.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::Amount;
use super::traffic::{CanaryScale, HeaderRoute, MirrorRoute, TrafficPlan};

/// What a Rollout asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutPlan {
    /// Desired pods.
    pub replicas: i32,
    /// Seconds a pod must be ready before it counts as available.
    pub min_ready_seconds: i32,
    /// Old ReplicaSets to keep.
    pub revision_history_limit: i32,
    /// Time without progress after which the rollout has failed.
    pub progress_deadline: Duration,
    /// Abort the update when the progress deadline passes.
    pub progress_deadline_abort: bool,
    /// A person paused the rollout (`spec.paused`).
    pub paused: bool,
    /// Restart every pod created before this time.
    pub restart_at: Option<jiff::Timestamp>,
    /// Successful AnalysisRuns to keep.
    pub successful_run_history_limit: i32,
    /// Failed, errored or inconclusive AnalysisRuns to keep.
    pub unsuccessful_run_history_limit: i32,
    /// Canary or blue-green.
    pub strategy: Strategy,
    /// Labels and annotations the pods of each role carry beside their template's.
    pub role_metadata: RoleMetadata,
    /// Keep the pods of a new revision off the nodes of the stable one.
    pub anti_affinity: Option<AntiAffinity>,
    /// `rollbackWindow.revisions`: a return to a revision at most this many behind the
    /// stable one is promoted at once, without steps, pauses or analysis.
    pub rollback_window: Option<u32>,
    /// `workloadRef`: the Deployment that holds the pod template, and whether the Rollout
    /// scales it down as it takes over.
    pub workload: Option<WorkloadPlan>,
}

/// A Deployment referenced by `spec.workloadRef`: its pod template is the Rollout's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadPlan {
    /// The Deployment, in the Rollout's namespace.
    pub name: String,
    /// What happens to the Deployment's own pods.
    pub scale_down: ScaleDown,
}

/// `workloadRef.scaleDown`: how a Rollout takes over from the Deployment it references.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScaleDown {
    /// The Deployment is never scaled (`never`, the default).
    #[default]
    Never,
    /// Scaled to 0 once the Rollout is Healthy (`onsuccess`).
    OnSuccess,
    /// Scaled down as the Rollout's pods become available, back up while they are not, until
    /// the Rollout is Healthy; then 0 (`progressively`).
    Progressively,
}

/// Argo's `antiAffinity`: a pod anti-affinity rule, on `kubernetes.io/hostname`, that the
/// ReplicaSet of a new revision gets against the pods of the stable revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AntiAffinity {
    /// `preferredDuringSchedulingIgnoredDuringExecution`, with this weight (1–100).
    Preferred {
        /// The weight.
        weight: i32,
    },
    /// `requiredDuringSchedulingIgnoredDuringExecution`.
    Required,
}

/// The anti-affinity rule a ReplicaSet is given: which rule, against which revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvoidRevision {
    /// Preferred or required.
    pub rule: AntiAffinity,
    /// The pod-template hash of the revision whose nodes to avoid.
    pub hash: String,
}

/// Labels and annotations added to pods (and their ReplicaSet's template) without changing
/// the revision: Argo's ephemeral metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodMetadata {
    /// Labels, by key.
    pub labels: BTreeMap<String, String>,
    /// Annotations, by key.
    pub annotations: BTreeMap<String, String>,
}

impl PodMetadata {
    /// Nothing to add.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.annotations.is_empty()
    }

    /// Metadata of these label and annotation pairs (for tests).
    #[cfg(test)]
    #[must_use]
    pub fn of(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Self {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect()
        };
        Self {
            labels: map(labels),
            annotations: map(annotations),
        }
    }
}

/// The metadata of each role: the revision being rolled out (`canaryMetadata`,
/// `previewMetadata`) and the stable one (`stableMetadata`, `activeMetadata`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleMetadata {
    /// For the pods of the revision being rolled out, until it is stable.
    pub updated: Option<PodMetadata>,
    /// For the pods of the stable revision.
    pub stable: Option<PodMetadata>,
}

impl RoleMetadata {
    /// Whether either role has metadata (and pods must be watched for it).
    #[must_use]
    pub fn is_configured(&self) -> bool {
        self.updated.is_some() || self.stable.is_some()
    }
}

impl RolloutPlan {
    /// The Services the Rollout names (canary and stable, or active and preview).
    #[must_use]
    pub fn services(&self) -> Vec<&str> {
        let names = match &self.strategy {
            Strategy::Canary(canary) => {
                let ping_pong = canary
                    .traffic
                    .as_ref()
                    .and_then(|traffic| traffic.ping_pong.as_ref());
                [
                    canary.canary_service.as_ref(),
                    canary.stable_service.as_ref(),
                    ping_pong.map(|services| &services.ping),
                    ping_pong.map(|services| &services.pong),
                ]
            }
            Strategy::BlueGreen(blue_green) => [
                Some(&blue_green.active_service),
                blue_green.preview_service.as_ref(),
                None,
                None,
            ],
        };
        names.into_iter().flatten().map(String::as_str).collect()
    }
}

/// The update strategy.
#[derive(Clone, Debug, PartialEq)]
pub enum Strategy {
    /// Step by step.
    Canary(CanaryPlan),
    /// Side by side, then switch.
    BlueGreen(BlueGreenPlan),
}

/// A canary: without a traffic router its weights are realised by replica counts, with one
/// the routers split the traffic.
#[derive(Clone, Debug, PartialEq)]
pub struct CanaryPlan {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Pods allowed above `replicas`.
    pub max_surge: Amount,
    /// Pods allowed to be unavailable.
    pub max_unavailable: Amount,
    /// Service pinned to the canary pods.
    pub canary_service: Option<String>,
    /// Service pinned to the stable pods.
    pub stable_service: Option<String>,
    /// Analysis running in the background from a given step on.
    pub background_analysis: Option<BackgroundAnalysis>,
    /// The traffic routers, if the weights are split by routers rather than replica counts.
    pub traffic: Option<TrafficPlan>,
    /// How many of the canary pods a step, or the promotion, wants must be available.
    pub progress_threshold: Option<ProgressThreshold>,
}

/// Argo's `replicaProgressThreshold`: a step (or the promotion) counts its canary pods as
/// ready once this many of those it wants are available, rather than all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressThreshold {
    /// `type: Pod`: this many available pods.
    Pods(i32),
    /// `type: Percent`: this percentage of the pods wanted.
    Percent(i32),
}

impl ProgressThreshold {
    /// Whether `available` of the `desired` pods are enough, as Argo decides it: without a
    /// threshold (or with a negative value) all of them must be; a percentage of none is
    /// always met.
    #[must_use]
    pub fn met(threshold: Option<Self>, available: i32, desired: i32) -> bool {
        match threshold {
            Some(Self::Pods(count)) if count >= 0 => available >= count,
            Some(Self::Percent(percent)) if percent >= 0 => {
                desired == 0
                    || i64::from(available) * 100 >= i64::from(percent) * i64::from(desired)
            }
            _ => available >= desired,
        }
    }
}

/// One canary step.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Move this percentage of replicas to the canary.
    SetWeight(i32),
    /// Wait this long, or until promoted when `None`.
    Pause(Option<Duration>),
    /// Run an analysis; continue only when it succeeds.
    Analysis(AnalysisPlan),
    /// Size the canary independently of its traffic weight (routed canaries only).
    SetCanaryScale(CanaryScale),
    /// Set (or remove) a managed route sending requests with given headers to the canary.
    SetHeaderRoute(HeaderRoute),
    /// Set (or remove) a managed route mirroring matching requests to the canary.
    SetMirrorRoute(MirrorRoute),
    /// Run an Experiment of the stable and canary templates; continue only when it succeeds.
    Experiment(ExperimentPlan),
    /// Several of the above in one step, as Argo allows (`setCanaryScale` with
    /// `setHeaderRoute` and a `pause`, say): all take effect together, and the step completes
    /// as its first part does. The parts are single steps, the deciding one first.
    Combined(Vec<Step>),
}

impl Step {
    /// The single steps this step is made of.
    #[must_use]
    pub fn parts(&self) -> &[Step] {
        match self {
            Self::Combined(parts) => parts,
            single => std::slice::from_ref(single),
        }
    }

    /// The part that decides when the step completes.
    #[must_use]
    pub fn gate(&self) -> &Step {
        self.parts().first().unwrap_or(self)
    }
}

/// An `experiment` step as the engine needs it: the executor builds the Experiment from the
/// step in the Rollout's spec, with these arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExperimentPlan {
    /// Each analysis's arguments as the Rollout supplies them, in the step's order.
    pub analysis_args: Vec<Vec<AnalysisArg>>,
    /// The templates given a traffic `weight`, in the step's order.
    pub weights: Vec<TemplateWeight>,
}

/// An experiment template that takes a share of the traffic (routed canaries only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateWeight {
    /// The template's name.
    pub template: String,
    /// Its weight, on the `maxTrafficWeight` scale.
    pub weight: i32,
}

/// Background analysis of a canary.
#[derive(Clone, Debug, PartialEq)]
pub struct BackgroundAnalysis {
    /// The analysis to run.
    pub analysis: AnalysisPlan,
    /// Index of the step from which it runs.
    pub starting_step: usize,
}

/// Blue-green: a preview stack, promoted by switching the active Service.
#[derive(Clone, Debug, PartialEq)]
pub struct BlueGreenPlan {
    /// Service switched to the new version on promotion.
    pub active_service: String,
    /// Service selecting the new version before promotion.
    pub preview_service: Option<String>,
    /// Replicas of the new version before promotion; `None` means `replicas`.
    pub preview_replica_count: Option<i32>,
    /// Promote without a person.
    pub auto_promotion_enabled: bool,
    /// Wait this long, once the preview is available, before promoting automatically.
    pub auto_promotion_delay: Duration,
    /// Pods allowed to be unavailable during a restart.
    pub max_unavailable: Amount,
    /// Delay before the previous version is scaled down after promotion.
    pub scale_down_delay: Duration,
    /// Old ReplicaSets allowed to wait for their scale-down delay at once.
    pub scale_down_delay_revision_limit: Option<i32>,
    /// Delay before the preview is scaled down after an abort; `None` keeps it.
    pub abort_scale_down_delay: Option<Duration>,
    /// Analysis that must pass before the switch.
    pub pre_promotion_analysis: Option<AnalysisPlan>,
    /// Analysis that must pass after the switch.
    pub post_promotion_analysis: Option<AnalysisPlan>,
}

/// An analysis to run: templates and the arguments passed to them.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalysisPlan {
    /// Templates whose metrics make up the run.
    pub templates: Vec<TemplateRef>,
    /// Arguments for the templates.
    pub args: Vec<AnalysisArg>,
    /// Metrics measured in dry-run mode (`*` for all).
    pub dry_run: Vec<String>,
    /// Measurements to keep per metric name.
    pub measurement_retention: Vec<(String, i32)>,
    /// Labels for the AnalysisRuns created.
    pub run_labels: BTreeMap<String, String>,
    /// Annotations for the AnalysisRuns created.
    pub run_annotations: BTreeMap<String, String>,
}

/// An AnalysisTemplate or ClusterAnalysisTemplate by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateRef {
    /// The template's name.
    pub name: String,
    /// Whether it is a ClusterAnalysisTemplate.
    pub cluster_scope: bool,
}

/// An argument passed to analysis templates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalysisArg {
    /// The template argument's name.
    pub name: String,
    /// Where the value comes from.
    pub value: ArgValue,
}

/// The value of an analysis argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgValue {
    /// A literal.
    Literal(String),
    /// The pod-template hash of the stable ReplicaSet.
    StableHash,
    /// The pod-template hash of the newest ReplicaSet.
    LatestHash,
    /// A metadata field of the Rollout (`metadata.name`, `metadata.labels['app']`, ...).
    Field(String),
}

/// One thing wrong with a spec, at a field path such as `spec.strategy.canary.steps[2].pause`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// The field, from the object's root.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Everything wrong with a spec (never empty).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}
