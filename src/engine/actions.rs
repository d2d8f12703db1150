//! What a person can ask of a Rollout — promote, promote fully, abort, retry — as changes to
//! its durable state, which the CLI records and the engine acts on in its next reconcile
//! (ARGO-SEMANTICS §2.4). Recording them in the status makes them survive a daemon restart.

use crate::model::{AnalysisPhase, PauseReason, RolloutPlan, RolloutState, Step, Strategy};

/// Moves past the current pause or step: clears an inconclusive analysis pause and skips that
/// step, or ends a pause, or skips the current step.
#[must_use]
pub fn promote(plan: &RolloutPlan, state: &RolloutState) -> RolloutState {
    let mut next = state.clone();
    let steps = match &plan.strategy {
        Strategy::Canary(canary) => canary.steps.len(),
        Strategy::BlueGreen(_) => 0,
    };
    let skip = |next: &mut RolloutState| {
        let index = next.current_step_index.unwrap_or(0);
        next.current_step_index = Some((index + 1).min(steps));
        next.step_analysis = None;
        next.step_experiment = None;
    };
    let gate_runs = match &plan.strategy {
        Strategy::Canary(_) => [state.step_analysis.as_ref(), None],
        Strategy::BlueGreen(_) => [
            state.pre_promotion_analysis.as_ref(),
            state.post_promotion_analysis.as_ref(),
        ],
    };
    let inconclusive = gate_runs
        .into_iter()
        .flatten()
        .any(|run| run.phase == AnalysisPhase::Inconclusive)
        && state
            .pause_conditions
            .iter()
            .any(|p| p.reason == PauseReason::InconclusiveAnalysisRun);
    // An inconclusive experiment is passed the same way (Argo clears the pause only, and
    // the experiment pauses the rollout again).
    let inconclusive = inconclusive
        || state
            .pause_conditions
            .iter()
            .any(|p| p.reason == PauseReason::InconclusiveExperiment);
    if inconclusive {
        next.pause_conditions.clear();
        next.controller_pause = false;
        skip(&mut next);
        if matches!(plan.strategy, Strategy::BlueGreen(_)) {
            // Blue-green has no step to skip: going on past an analysis is a full promotion.
            next.promote_full = true;
        }
    } else if !state.pause_conditions.is_empty() {
        // The engine ends the pause step itself when it sees the condition gone.
        next.pause_conditions.clear();
    } else {
        skip(&mut next);
    }
    next
}

/// Skips every remaining step, pause and analysis; the new revision is promoted once available.
/// An aborted update stays aborted: abort always wins, and only [`retry`] undoes it.
#[must_use]
pub fn promote_full(state: &RolloutState) -> RolloutState {
    let mut next = state.clone();
    if !state.abort && state.stable_hash != state.current_pod_hash {
        next.promote_full = true;
    }
    next
}

/// Aborts the update: the stable revision takes back all traffic and replicas. The aborted
/// revision stays aborted until its template changes or [`retry`]. A pending full promotion
/// is dropped: abort always wins.
#[must_use]
pub fn abort(state: &RolloutState) -> RolloutState {
    let mut next = state.clone();
    next.abort = true;
    next.promote_full = false;
    next
}

/// Retries an aborted update from its first step.
#[must_use]
pub fn retry(state: &RolloutState) -> RolloutState {
    let mut next = state.clone();
    next.abort = false;
    next
}

/// Whether the update waits for a person to release a pause that only a person can release:
/// a canary `pause` step without a duration, or the blue-green pause without automatic
/// promotion. (Approvals through Git and pull requests release exactly these.)
#[must_use]
pub fn awaiting_approval(plan: &RolloutPlan, state: &RolloutState) -> bool {
    let paused = |reason| state.pause_conditions.iter().any(|p| p.reason == reason);
    match &plan.strategy {
        Strategy::Canary(canary) => {
            let index = state.current_step_index.unwrap_or(0);
            paused(PauseReason::CanaryPauseStep)
                && matches!(canary.steps.get(index), Some(Step::Pause(None)))
        }
        Strategy::BlueGreen(blue_green) => {
            paused(PauseReason::BlueGreenPause) && !blue_green.auto_promotion_enabled
        }
    }
}
