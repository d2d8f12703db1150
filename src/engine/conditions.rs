//! A Rollout's conditions and phase, computed from its state after a reconcile, as Argo
//! Rollouts reports them (ARGO-SEMANTICS §3).

use jiff::Timestamp;

use crate::model::{Condition, ConditionKind, ConditionStatus, Phase, RolloutState};

/// Reasons of the Progressing condition.
pub(super) mod reason {
    pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
    pub const NEW_REPLICA_SET_AVAILABLE: &str = "NewReplicaSetAvailable";
    pub const ROLLOUT_ABORTED: &str = "RolloutAborted";
    pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";
    pub const ROLLOUT_PAUSED: &str = "RolloutPaused";
    pub const ROLLOUT_RESUMED: &str = "RolloutResumed";
    pub const ROLLOUT_RETRY: &str = "RolloutRetry";
    pub const ROLLOUT_COMPLETED: &str = "RolloutCompleted";
    pub const AVAILABLE: &str = "AvailableReason";
    pub const REPLICA_SET_CREATE_ERROR: &str = "ReplicaSetCreateError";
}

/// What the reconcile learned, for the conditions.
#[allow(clippy::struct_excessive_bools)] // independent facts about one pass
pub(super) struct Assessment {
    /// Desired replicas.
    pub replicas: i32,
    /// `spec.paused`.
    pub paused_by_spec: bool,
    /// Name of the current revision's ReplicaSet.
    pub new_replica_set: Option<String>,
    /// Something moved this pass (pods, steps, stable).
    pub progressed: bool,
    /// Every step is done and the current revision is stable.
    pub completed: bool,
    /// What went wrong, or was retried, if anything.
    pub trouble: Option<Trouble>,
    /// Blue-green only: whether the active Service selects the current revision.
    pub active_switched: Option<bool>,
    /// A restart is evicting pods.
    pub restarting: bool,
    /// Traffic routers split the traffic: old revisions may keep pods for a delay.
    pub routed: bool,
}

/// What overrides the usual Progressing condition, most important first.
pub(super) enum Trouble {
    /// The update was aborted, with this message.
    Aborted(String),
    /// The progress deadline passed without progress; what was stuck.
    DeadlineExceeded(String),
    /// A retry after an abort happened this pass.
    Retried,
}

/// Updates the conditions of `state` and derives its phase and message.
pub(super) fn assess(state: &mut RolloutState, assessment: &Assessment, now: Timestamp) {
    let available = state.counts.available >= assessment.replicas;
    let (status, message) = if available {
        (ConditionStatus::True, "Rollout has minimum availability")
    } else {
        (
            ConditionStatus::False,
            "Rollout does not have minimum availability",
        )
    };
    set(
        &mut state.conditions,
        ConditionKind::Available,
        status,
        reason::AVAILABLE,
        message,
        false,
        now,
    );

    let paused = assessment.paused_by_spec || !state.pause_conditions.is_empty();
    let was_paused = state
        .conditions
        .iter()
        .any(|c| c.kind == ConditionKind::Paused && c.status == ConditionStatus::True);
    if let Some((status, reason, message)) =
        progressing(state, assessment, available, paused != was_paused)
    {
        let refresh = assessment.progressed;
        set(
            &mut state.conditions,
            ConditionKind::Progressing,
            status,
            reason,
            &message,
            refresh,
            now,
        );
    }
    if paused || was_paused {
        let status = if paused {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        };
        let message = "Rollout is paused";
        set(
            &mut state.conditions,
            ConditionKind::Paused,
            status,
            reason::ROLLOUT_PAUSED,
            message,
            false,
            now,
        );
    }
    completion(state, assessment, paused, now);

    let (phase, message) = phase(state, assessment);
    state.phase = Some(phase);
    state.message = message;
}

/// The new Progressing condition, or `None` to leave it as it is (ARGO-SEMANTICS §3.3).
fn progressing(
    state: &RolloutState,
    assessment: &Assessment,
    available: bool,
    pause_flipped: bool,
) -> Option<(ConditionStatus, &'static str, String)> {
    let rs = assessment.new_replica_set.as_deref().unwrap_or_default();
    match &assessment.trouble {
        Some(Trouble::Aborted(message)) => {
            return Some((
                ConditionStatus::False,
                reason::ROLLOUT_ABORTED,
                message.clone(),
            ));
        }
        Some(Trouble::DeadlineExceeded(message)) => {
            return Some((
                ConditionStatus::False,
                reason::PROGRESS_DEADLINE_EXCEEDED,
                message.clone(),
            ));
        }
        Some(Trouble::Retried) => {
            let message = "Retrying Rollout after abort".to_owned();
            return Some((ConditionStatus::Unknown, reason::ROLLOUT_RETRY, message));
        }
        None => {}
    }
    if pause_flipped && !assessment.completed {
        let paused = assessment.paused_by_spec || !state.pause_conditions.is_empty();
        let (reason, message) = if paused {
            (reason::ROLLOUT_PAUSED, "Rollout is paused")
        } else {
            (reason::ROLLOUT_RESUMED, "Rollout is resumed")
        };
        return Some((ConditionStatus::Unknown, reason, message.to_owned()));
    }
    if assessment.completed && available {
        let message = format!("ReplicaSet {rs:?} has successfully progressed.");
        return Some((
            ConditionStatus::True,
            reason::NEW_REPLICA_SET_AVAILABLE,
            message,
        ));
    }
    let unset = progressing_reason(&state.conditions).is_none();
    (assessment.progressed || unset).then(|| {
        let message = format!("ReplicaSet {rs:?} is progressing.");
        (ConditionStatus::True, reason::REPLICA_SET_UPDATED, message)
    })
}

/// The Completed and Healthy conditions.
fn completion(state: &mut RolloutState, assessment: &Assessment, paused: bool, now: Timestamp) {
    let status = if assessment.completed {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    let message = "Rollout completed";
    set(
        &mut state.conditions,
        ConditionKind::Completed,
        status,
        reason::ROLLOUT_COMPLETED,
        message,
        false,
        now,
    );

    let counts = state.counts;
    // A blue-green rollout is healthy while the old revision still waits for its scale-down.
    let old_pods_gone =
        assessment.active_switched.is_some() || counts.replicas == assessment.replicas;
    let healthy = !paused
        && assessment.completed
        && counts.updated == assessment.replicas
        && counts.available >= assessment.replicas
        && old_pods_gone;
    if healthy
        || state
            .conditions
            .iter()
            .any(|c| c.kind == ConditionKind::Healthy)
    {
        let status = if healthy {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        };
        let message = "Rollout is healthy";
        set(
            &mut state.conditions,
            ConditionKind::Healthy,
            status,
            "RolloutHealthy",
            message,
            false,
            now,
        );
    }
}

/// The phase, first match wins (ARGO-SEMANTICS §3.1).
fn phase(state: &RolloutState, assessment: &Assessment) -> (Phase, String) {
    let degraded = state.conditions.iter().find(|c| {
        (c.kind == ConditionKind::InvalidSpec && c.status == ConditionStatus::True)
            || c.reason == reason::ROLLOUT_ABORTED
            || c.reason == reason::PROGRESS_DEADLINE_EXCEEDED
    });
    if let Some(condition) = degraded {
        let label = if condition.kind == ConditionKind::InvalidSpec {
            "InvalidSpec"
        } else {
            &condition.reason
        };
        return (Phase::Degraded, format!("{label}: {}", condition.message));
    }
    if assessment.paused_by_spec {
        return (Phase::Paused, "manually paused".to_owned());
    }
    if let Some(pause) = state.pause_conditions.first() {
        return (Phase::Paused, pause.reason.to_string());
    }
    let counts = state.counts;
    let message = if assessment.restarting {
        "rollout is restarting"
    } else if counts.updated < assessment.replicas {
        "more replicas need to be updated"
    } else if counts.available < counts.updated {
        "updated replicas are still becoming available"
    } else if let Some(switched) = assessment.active_switched {
        if !switched {
            "active service cutover pending"
        } else if !assessment.completed {
            "waiting for post-promotion verification to complete"
        } else {
            return (Phase::Healthy, String::new());
        }
    } else if counts.replicas > counts.updated && !assessment.routed {
        "old replicas are pending termination"
    } else if !assessment.completed {
        "waiting for all steps to complete"
    } else {
        return (Phase::Healthy, String::new());
    };
    (Phase::Progressing, message.to_owned())
}

/// Marks the spec invalid: the rollout is Degraded until the spec changes.
#[must_use]
pub fn invalid_spec(state: &RolloutState, message: &str, now: Timestamp) -> RolloutState {
    let mut next = state.clone();
    set(
        &mut next.conditions,
        ConditionKind::InvalidSpec,
        ConditionStatus::True,
        "InvalidSpec",
        message,
        false,
        now,
    );
    next.phase = Some(Phase::Degraded);
    next.message = format!("InvalidSpec: {message}");
    next
}

/// Records that the new revision's ReplicaSet could not be created, as Argo does: the
/// Progressing condition turns False with reason `ReplicaSetCreateError` and `message`,
/// until a later pass makes progress. The phase stays what it was.
#[must_use]
pub fn replica_set_create_failed(
    state: &RolloutState,
    message: &str,
    now: Timestamp,
) -> RolloutState {
    let mut next = state.clone();
    set(
        &mut next.conditions,
        ConditionKind::Progressing,
        ConditionStatus::False,
        reason::REPLICA_SET_CREATE_ERROR,
        message,
        false,
        now,
    );
    next
}

/// Removes the InvalidSpec condition once the spec is valid again.
pub(super) fn clear_invalid_spec(state: &mut RolloutState) {
    state
        .conditions
        .retain(|c| c.kind != ConditionKind::InvalidSpec);
}

fn progressing_reason(conditions: &[Condition]) -> Option<&str> {
    conditions
        .iter()
        .find(|c| c.kind == ConditionKind::Progressing)
        .map(|c| c.reason.as_str())
}

/// Sets a condition. It is replaced only when its status or reason changes; the transition
/// time moves only when the status changes; `refresh` moves the update time (progress).
fn set(
    conditions: &mut Vec<Condition>,
    kind: ConditionKind,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    refresh: bool,
    now: Timestamp,
) {
    match conditions.iter_mut().find(|c| c.kind == kind) {
        Some(existing) if existing.status == status && existing.reason == reason => {
            message.clone_into(&mut existing.message);
            if refresh {
                existing.last_update = now;
            }
        }
        Some(existing) => {
            let last_transition = if existing.status == status {
                existing.last_transition
            } else {
                now
            };
            *existing = Condition {
                kind,
                status,
                reason: reason.to_owned(),
                message: message.to_owned(),
                last_update: now,
                last_transition,
            };
        }
        None => conditions.push(Condition {
            kind,
            status,
            reason: reason.to_owned(),
            message: message.to_owned(),
            last_update: now,
            last_transition: now,
        }),
    }
}

/// When the Progressing condition was last refreshed by progress.
pub(super) fn last_progress(state: &RolloutState) -> Option<Timestamp> {
    state
        .conditions
        .iter()
        .find(|c| c.kind == ConditionKind::Progressing)
        .map(|c| c.last_update)
}

/// Whether the progress deadline already passed (and no progress was made since).
pub(super) fn deadline_exceeded(state: &RolloutState) -> bool {
    progressing_reason(&state.conditions) == Some(reason::PROGRESS_DEADLINE_EXCEEDED)
}

/// Whether the Progressing condition says the rollout is paused, aborted or complete: no
/// deadline applies then.
pub(super) fn deadline_suspended(state: &RolloutState) -> bool {
    matches!(
        progressing_reason(&state.conditions),
        Some(reason::ROLLOUT_ABORTED | reason::ROLLOUT_PAUSED | reason::NEW_REPLICA_SET_AVAILABLE)
    )
}

#[cfg(test)]
mod tests;
