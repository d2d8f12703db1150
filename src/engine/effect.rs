//! What the engine asks the executor to do. Effects are descriptions, not actions: the
//! executor turns them into calls on the cluster and feeds the results back as observations.

use crate::model::AnalysisPlan;

/// One thing the engine wants done.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Create the ReplicaSet of a revision, with 0 replicas.
    CreateReplicaSet {
        /// The pod-template hash (and label) of the revision.
        hash: String,
        /// Its revision number.
        revision: u64,
    },
    /// Set a ReplicaSet's replicas (field manager `tidegate-rollout`).
    ScaleReplicaSet {
        /// The ReplicaSet.
        name: String,
        /// The replicas to set.
        replicas: i32,
    },
    /// Delete a scaled-down ReplicaSet beyond `revisionHistoryLimit`.
    DeleteReplicaSet {
        /// The ReplicaSet.
        name: String,
    },
    /// Pin a Service's selector to a revision's pods.
    SetServiceSelector {
        /// The Service.
        service: String,
        /// The pod-template hash to select.
        hash: String,
    },
    /// Start an AnalysisRun.
    CreateAnalysisRun {
        /// Its name.
        name: String,
        /// What to run.
        analysis: AnalysisPlan,
        /// Index of the canary step it belongs to.
        step: usize,
    },
    /// Stop an AnalysisRun that is no longer needed.
    TerminateAnalysisRun {
        /// Its name.
        name: String,
    },
    /// Record a Kubernetes Event on the Rollout.
    Event(Event),
}

/// A Kubernetes Event about the Rollout, with Argo Rollouts' reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// A Warning rather than a Normal event.
    pub warning: bool,
    /// Machine-readable reason, such as `RolloutStepCompleted`.
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl Event {
    /// A Normal event.
    #[must_use]
    pub fn normal(reason: &'static str, message: impl Into<String>) -> Effect {
        Effect::Event(Self {
            warning: false,
            reason,
            message: message.into(),
        })
    }

    /// A Warning event.
    #[must_use]
    pub fn warning(reason: &'static str, message: impl Into<String>) -> Effect {
        Effect::Event(Self {
            warning: true,
            reason,
            message: message.into(),
        })
    }
}
