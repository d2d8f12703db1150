//! What the engine asks the executor to do. Effects are descriptions, not actions: the
//! executor turns them into calls on the cluster and feeds the results back as observations.

use crate::model::{AnalysisPlan, AvoidRevision, PodMetadata, TrafficIntent};

/// One thing the engine wants done.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Create the ReplicaSet of a revision, with 0 replicas.
    CreateReplicaSet {
        /// The pod-template hash (and label) of the revision.
        hash: String,
        /// Its revision number.
        revision: u64,
        /// The role metadata its template starts with.
        pod_metadata: Option<PodMetadata>,
        /// The anti-affinity rule its template gets.
        avoid: Option<AvoidRevision>,
    },
    /// Replace the anti-affinity rule a ReplicaSet's template was given.
    SetAntiAffinity {
        /// The ReplicaSet.
        name: String,
        /// The rule it is to have.
        avoid: AvoidRevision,
    },
    /// Set the replicas of the Deployment a `workloadRef` names (field manager
    /// `tidegate-rollout`, which then owns them).
    ScaleWorkload {
        /// The Deployment.
        name: String,
        /// The replicas to set.
        replicas: i32,
    },
    /// Set a ReplicaSet's replicas (field manager `tidegate-rollout`).
    ScaleReplicaSet {
        /// The ReplicaSet.
        name: String,
        /// The replicas to set.
        replicas: i32,
    },
    /// Set (or with `None` remove) the time at which a ReplicaSet is to be scaled down.
    SetScaleDownDeadline {
        /// The ReplicaSet.
        name: String,
        /// The deadline.
        deadline: Option<jiff::Timestamp>,
    },
    /// Give a ReplicaSet's pods, then its template, the role metadata `desired` — and take
    /// away what `previous` (recorded on the ReplicaSet) added that `desired` does not have.
    SetPodMetadata {
        /// The ReplicaSet.
        name: String,
        /// What it records it gave.
        previous: Option<PodMetadata>,
        /// What it is to give.
        desired: Option<PodMetadata>,
        /// Its pods to change (none for a ReplicaSet on its way out).
        pods: Vec<String>,
    },
    /// Delete a scaled-down ReplicaSet beyond `revisionHistoryLimit`.
    DeleteReplicaSet {
        /// The ReplicaSet.
        name: String,
    },
    /// Evict a pod (respecting PodDisruptionBudgets) so its ReplicaSet replaces it.
    EvictPod {
        /// The pod.
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
        /// The pod-template hash of the revision it analyses.
        hash: String,
        /// What to run.
        analysis: AnalysisPlan,
        /// Why it runs.
        kind: AnalysisKind,
    },
    /// Delete a finished AnalysisRun of an earlier revision beyond the history limits.
    DeleteAnalysisRun {
        /// The run.
        name: String,
    },
    /// Stop an AnalysisRun that is no longer needed.
    TerminateAnalysisRun {
        /// Its name.
        name: String,
    },
    /// Create the Experiment of canary step `step` from the stable and canary ReplicaSets.
    CreateExperiment {
        /// Its name.
        name: String,
        /// The step's index.
        step: usize,
        /// The pod-template hash of the stable revision.
        stable_hash: String,
        /// The pod-template hash of the canary revision.
        canary_hash: String,
    },
    /// Stop an Experiment that is no longer needed.
    TerminateExperiment {
        /// Its name.
        name: String,
    },
    /// Delete a finished Experiment of an earlier revision beyond the history limits.
    DeleteExperiment {
        /// Its name.
        name: String,
    },
    /// Make the Rollout's traffic routers carry this split and these managed routes.
    SetTraffic(TrafficIntent),
    /// Record a Kubernetes Event on the Rollout.
    Event(Event),
}

/// Why an AnalysisRun runs (its `rollout-type` label, as in Argo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnalysisKind {
    /// For the canary step with this index.
    Step(usize),
    /// Beside a canary's steps, from its starting step until promotion.
    Background,
    /// Before a blue-green switch.
    PrePromotion,
    /// After a blue-green switch, before the new revision becomes stable.
    PostPromotion,
}

impl AnalysisKind {
    /// How the kind is named in messages: `Step-based analysis phase Failed: ...`.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Self::Step(_) => "Step-based",
            Self::Background => "Background",
            Self::PrePromotion => "Pre-promotion",
            Self::PostPromotion => "Post-promotion",
        }
    }

    /// The suffix of its runs' names (`<rollout>-<hash>-<revision>[-<suffix>]`, as Argo names
    /// them): the step index, `pre` or `post`; background runs have none.
    #[must_use]
    pub fn name_suffix(self) -> Option<String> {
        match self {
            Self::Step(index) => Some(index.to_string()),
            Self::Background => None,
            Self::PrePromotion => Some("pre".to_owned()),
            Self::PostPromotion => Some("post".to_owned()),
        }
    }

    /// The `rollout-type` label value.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Step(_) => "Step",
            Self::Background => "Background",
            Self::PrePromotion => "PrePromotion",
            Self::PostPromotion => "PostPromotion",
        }
    }
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
