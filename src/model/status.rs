//! The state of a Rollout that the engine reads and writes — the durable part of its status —
//! and what the engine observes of the cluster around it.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::PodMetadata;

/// A Rollout's durable state: everything the engine needs to resume after a restart.
#[derive(Clone, Debug, Default, PartialEq)]
#[allow(clippy::struct_excessive_bools)] // Argo's independent status flags, one field each
pub struct RolloutState {
    /// The `metadata.generation` last acted on.
    pub observed_generation: Option<i64>,
    /// Pod-template hash of the revision being rolled out.
    pub current_pod_hash: Option<String>,
    /// Hash of the steps being executed; a change restarts them.
    pub current_step_hash: Option<String>,
    /// Index of the current canary step; `steps.len()` once all are done.
    pub current_step_index: Option<usize>,
    /// Pod-template hash of the stable (fully promoted) revision.
    pub stable_hash: Option<String>,
    /// The update was aborted; it stays aborted until the template changes or a retry.
    pub abort: bool,
    /// When the abort was first reconciled.
    pub aborted_at: Option<Timestamp>,
    /// Skip remaining steps, pauses and analysis, and promote.
    pub promote_full: bool,
    /// The engine paused the rollout; still true after a person cleared the conditions.
    pub controller_pause: bool,
    /// Why the engine paused the rollout, and since when.
    pub pause_conditions: Vec<PauseCondition>,
    /// The AnalysisRun of the current canary step, as last observed.
    pub step_analysis: Option<AnalysisRunState>,
    /// The Experiment of the current canary step (its name).
    pub step_experiment: Option<String>,
    /// The canary's background AnalysisRun, as last observed.
    pub background_analysis: Option<AnalysisRunState>,
    /// The blue-green pre-promotion AnalysisRun, as last observed.
    pub pre_promotion_analysis: Option<AnalysisRunState>,
    /// The blue-green post-promotion AnalysisRun, as last observed.
    pub post_promotion_analysis: Option<AnalysisRunState>,
    /// How often the name of a new ReplicaSet was found taken by an object that is not the
    /// Rollout's; part of the pod-template hash, so each collision gives a new name.
    pub collision_count: Option<i32>,
    /// Conditions, as reported on the Rollout.
    pub conditions: Vec<Condition>,
    /// The overall phase.
    pub phase: Option<Phase>,
    /// Why the rollout is in its phase.
    pub message: String,
    /// Pod counts across the Rollout's ReplicaSets.
    pub counts: PodCounts,
    /// The canary weight the replica counts aim at.
    pub weight: i32,
    /// What the traffic routers were last asked to carry, and whether they were seen to.
    pub traffic: Option<TrafficStatus>,
    /// Which ping-pong Service is the stable one.
    pub stable_ping_pong: Option<super::PingPongSide>,
    /// Blue-green: the preview passed its analysis and pause and may grow to full size.
    pub preview_checkpoint: bool,
    /// The `restartAt` whose restart has finished.
    pub restarted_at: Option<Timestamp>,
}

/// The split the routers of a canary were last asked for (`status.canary.weights`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrafficStatus {
    /// The canary's weight.
    pub canary_weight: i32,
    /// The canary's pod-template hash.
    pub canary_hash: String,
    /// The canary Service.
    pub canary_service: String,
    /// The stable's weight.
    pub stable_weight: i32,
    /// The stable's pod-template hash.
    pub stable_hash: String,
    /// The stable Service.
    pub stable_service: String,
    /// Experiment Services that take part of the stable's weight.
    pub additional: Vec<super::AdditionalDestination>,
    /// Whether every router was read back carrying this split.
    pub verified: bool,
}

/// Pod counts reported in the Rollout's status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodCounts {
    /// Non-terminated pods.
    pub replicas: i32,
    /// Pods of the current revision.
    pub updated: i32,
    /// Ready pods.
    pub ready: i32,
    /// Available pods.
    pub available: i32,
}

// Also the wire form in the CRDs, hence the serde and schema derives.
/// Why the engine paused a rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PauseReason {
    /// A canary `pause` step.
    CanaryPauseStep,
    /// Blue-green waiting for promotion.
    BlueGreenPause,
    /// An analysis ended Inconclusive.
    InconclusiveAnalysisRun,
    /// An Experiment ended Inconclusive, or Successful only because it was terminated.
    InconclusiveExperiment,
}

impl fmt::Display for PauseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A pause and when it began.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PauseCondition {
    /// Why.
    pub reason: PauseReason,
    /// Since when.
    pub start: Timestamp,
}

// Also the wire form in the CRDs, hence the serde and schema derives.
/// The overall phase of a Rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Phase {
    /// Fully promoted and available.
    Healthy,
    /// Moving towards the desired state.
    Progressing,
    /// Waiting for a pause to end or a person.
    Paused,
    /// Aborted, invalid, or out of time.
    Degraded,
}

/// One condition of a Rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// Which condition.
    pub kind: ConditionKind,
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable detail.
    pub message: String,
    /// When the condition was last updated (progress refreshes it).
    pub last_update: Timestamp,
    /// When the status last changed.
    pub last_transition: Timestamp,
}

/// The conditions a Rollout reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionKind {
    /// Enough pods are available.
    Available,
    /// The rollout makes progress, or why not.
    Progressing,
    /// The rollout is paused.
    Paused,
    /// Fully promoted and healthy.
    Healthy,
    /// The stable revision is the current one.
    Completed,
    /// The spec cannot be executed.
    InvalidSpec,
}

impl fmt::Display for ConditionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The status of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    /// It holds.
    True,
    /// It does not hold.
    False,
    /// Undecided.
    Unknown,
}

impl fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

// Also the wire form in the CRDs, hence the serde and schema derives.
/// Phase of an AnalysisRun, a metric or a measurement.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum AnalysisPhase {
    /// Not started.
    #[default]
    Pending,
    /// Measuring.
    Running,
    /// Passed.
    Successful,
    /// Failed.
    Failed,
    /// Could not measure.
    Error,
    /// Neither passed nor failed.
    Inconclusive,
}

impl fmt::Display for AnalysisPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl AnalysisPhase {
    /// Whether the phase is final.
    #[must_use]
    pub fn is_completed(self) -> bool {
        !matches!(self, Self::Pending | Self::Running)
    }

    /// Whether the phase is final and not Successful: Failed, Error and Inconclusive never
    /// let a rollout continue.
    #[must_use]
    pub fn is_unsuccessful(self) -> bool {
        matches!(self, Self::Failed | Self::Error | Self::Inconclusive)
    }
}

/// An AnalysisRun as the Rollout sees it. In the Rollout's status only the name, phase and
/// message are kept; the rest is what an observation of the run adds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnalysisRunState {
    /// Its name.
    pub name: String,
    /// Its phase.
    pub phase: AnalysisPhase,
    /// Its message.
    pub message: String,
    /// The pod-template hash of the revision it analysed (empty when not observed).
    pub hash: String,
    /// When it was created (when observed), for history limits.
    pub created: Option<Timestamp>,
    /// It was asked to stop (`spec.terminate`): whatever its phase, it did not finish
    /// measuring, so it never lets a rollout continue.
    pub terminated: bool,
    /// By when the run should next show progress (a measurement due, or its start), if it
    /// is still running and that can be told; an analysis gate whose run is overdue by more
    /// than the progress deadline is stuck.
    pub expected_by: Option<Timestamp>,
}

/// An Experiment of the Rollout as observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExperimentState {
    /// Its name.
    pub name: String,
    /// Its phase; `None` before the experiment controller first saw it.
    pub phase: Option<AnalysisPhase>,
    /// Its message.
    pub message: String,
    /// The pod-template hash of the canary revision it compared (empty when unlabelled).
    pub hash: String,
    /// When it was created, for history limits.
    pub created: Option<Timestamp>,
    /// It was asked to stop (`spec.terminate`): ending Successful then says nothing about
    /// the canary, so it never lets a rollout continue.
    pub terminated: bool,
    /// Its templates, as its status reports them.
    pub templates: Vec<ExperimentTemplateState>,
}

/// One template of an Experiment, as its status reports it (`status.templateStatuses`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExperimentTemplateState {
    /// The template's name.
    pub name: String,
    /// Its Service, empty while it has none.
    pub service: String,
    /// The pod-template hash of its pods.
    pub hash: String,
}

/// What the engine observes of one ReplicaSet of the Rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaSetView {
    /// Its name.
    pub name: String,
    /// The pod-template hash it runs.
    pub hash: String,
    /// Its revision number (1, 2, ...).
    pub revision: u64,
    /// `spec.replicas`.
    pub spec: i32,
    /// `status.replicas`.
    pub replicas: i32,
    /// `status.readyReplicas`.
    pub ready: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// When an old ReplicaSet is to be scaled down (its `scale-down-deadline` annotation).
    pub scale_down_deadline: Option<Timestamp>,
    /// The role metadata its template and pods were given (its `ephemeral-metadata`
    /// annotation).
    pub pod_metadata: Option<PodMetadata>,
    /// The revision whose nodes its pods avoid: the pod-template hash its template's
    /// injected anti-affinity rule names.
    pub avoids: Option<String>,
}

/// What the engine observes of one pod of the Rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodView {
    /// Its name.
    pub name: String,
    /// The pod-template hash of its revision.
    pub hash: String,
    /// When it was created.
    pub created: Timestamp,
    /// Whether it is being deleted already.
    pub terminating: bool,
    /// Its labels and annotations.
    pub metadata: PodMetadata,
}

/// Time until `deadline`, or zero once it has passed.
#[must_use]
pub fn until(now: Timestamp, deadline: Timestamp) -> Duration {
    let seconds = deadline
        .as_millisecond()
        .saturating_sub(now.as_millisecond());
    Duration::from_millis(u64::try_from(seconds).unwrap_or(0))
}
