//! The conditions and phase a reconcile reports, one rule at a time: which condition wins the
//! phase (an abort or a passed deadline is Degraded before anything else), when a condition's
//! times move, and what Healthy requires.

use super::*;
use crate::model::{PauseCondition, PauseReason, PodCounts};

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap()
}

/// A canary of 3 replicas, all updated and available, steps not yet done.
fn assessment() -> Assessment {
    Assessment {
        replicas: 3,
        paused_by_spec: false,
        new_replica_set: Some("web-abc".to_owned()),
        progressed: false,
        completed: false,
        trouble: None,
        active_switched: None,
        restarting: false,
        routed: false,
    }
}

fn state_with(counts: PodCounts) -> RolloutState {
    RolloutState {
        counts,
        ..RolloutState::default()
    }
}

fn all_ready(replicas: i32) -> PodCounts {
    PodCounts {
        replicas,
        updated: replicas,
        ready: replicas,
        available: replicas,
    }
}

fn condition(state: &RolloutState, kind: ConditionKind) -> Option<&Condition> {
    state.conditions.iter().find(|c| c.kind == kind)
}

fn progressing_of(state: &RolloutState) -> (ConditionStatus, String, String) {
    let c = condition(state, ConditionKind::Progressing).expect("a Progressing condition");
    (c.status, c.reason.clone(), c.message.clone())
}

fn with_condition(
    mut state: RolloutState,
    kind: ConditionKind,
    status: ConditionStatus,
    reason: &str,
) -> RolloutState {
    set(
        &mut state.conditions,
        kind,
        status,
        reason,
        "earlier",
        false,
        at(0),
    );
    state
}

fn paused_at_step() -> Vec<PauseCondition> {
    vec![PauseCondition {
        reason: PauseReason::CanaryPauseStep,
        start: at(0),
    }]
}

// ---- set: when a condition's fields and times change ----

/// Sets Progressing to (status, reason, message) at `second`, refreshing on `refresh`.
fn put(conditions: &mut Vec<Condition>, update: (ConditionStatus, &str, &str, bool), second: i64) {
    let (status, reason, message, refresh) = update;
    let kind = ConditionKind::Progressing;
    set(
        conditions,
        kind,
        status,
        reason,
        message,
        refresh,
        at(second),
    );
}

fn times(conditions: &[Condition]) -> (Timestamp, Timestamp) {
    assert_eq!(conditions.len(), 1, "one condition of a kind");
    (conditions[0].last_update, conditions[0].last_transition)
}

#[test]
fn a_new_condition_is_added_with_both_times_now() {
    let mut conditions = Vec::new();
    put(&mut conditions, (ConditionStatus::True, "R", "m", false), 5);
    assert_eq!(times(&conditions), (at(5), at(5)));
}

#[test]
fn the_same_status_and_reason_update_the_message_and_move_the_update_time_only_on_refresh() {
    let mut conditions = Vec::new();
    put(&mut conditions, (ConditionStatus::True, "R", "a", false), 1);
    put(&mut conditions, (ConditionStatus::True, "R", "b", false), 2);
    assert_eq!(conditions[0].message, "b");
    assert_eq!(times(&conditions), (at(1), at(1)));
    put(&mut conditions, (ConditionStatus::True, "R", "c", true), 3);
    assert_eq!(times(&conditions), (at(3), at(1)));
}

#[test]
fn a_new_reason_with_the_same_status_keeps_the_transition_time() {
    let mut conditions = Vec::new();
    put(&mut conditions, (ConditionStatus::True, "A", "a", false), 1);
    put(&mut conditions, (ConditionStatus::True, "B", "b", false), 4);
    let c = &conditions[0];
    assert_eq!((c.reason.as_str(), c.message.as_str()), ("B", "b"));
    assert_eq!(times(&conditions), (at(4), at(1)));
}

#[test]
fn a_new_status_moves_the_transition_time() {
    let mut conditions = Vec::new();
    put(&mut conditions, (ConditionStatus::True, "A", "a", false), 1);
    put(
        &mut conditions,
        (ConditionStatus::False, "A", "a", false),
        4,
    );
    assert_eq!(conditions[0].status, ConditionStatus::False);
    assert_eq!(times(&conditions), (at(4), at(4)));
}

// ---- Available ----

#[test]
fn available_holds_exactly_when_every_desired_replica_is_available() {
    let mut state = state_with(all_ready(3));
    assess(&mut state, &assessment(), at(1));
    let available = condition(&state, ConditionKind::Available).unwrap();
    assert_eq!(available.status, ConditionStatus::True);

    let mut state = state_with(PodCounts {
        available: 2,
        ..all_ready(3)
    });
    assess(&mut state, &assessment(), at(1));
    let available = condition(&state, ConditionKind::Available).unwrap();
    assert_eq!(available.status, ConditionStatus::False);
}

// ---- Progressing ----

#[test]
fn an_abort_and_a_passed_deadline_make_progressing_false_with_their_message() {
    for (trouble, reason) in [
        (
            Trouble::Aborted("aborted by a person".to_owned()),
            reason::ROLLOUT_ABORTED,
        ),
        (
            Trouble::DeadlineExceeded("stuck".to_owned()),
            reason::PROGRESS_DEADLINE_EXCEEDED,
        ),
    ] {
        let message = match &trouble {
            Trouble::Aborted(m) | Trouble::DeadlineExceeded(m) => m.clone(),
            Trouble::Retried => unreachable!(),
        };
        let mut state = state_with(all_ready(3));
        let assessment = Assessment {
            trouble: Some(trouble),
            completed: true,
            ..assessment()
        };
        assess(&mut state, &assessment, at(1));
        assert_eq!(
            progressing_of(&state),
            (ConditionStatus::False, reason.to_owned(), message.clone())
        );
        assert_eq!(state.phase, Some(Phase::Degraded));
        assert_eq!(state.message, format!("{reason}: {message}"));
    }
}

#[test]
fn a_retry_makes_progressing_unknown() {
    let mut state = state_with(all_ready(3));
    let assessment = Assessment {
        trouble: Some(Trouble::Retried),
        ..assessment()
    };
    assess(&mut state, &assessment, at(1));
    let (status, reason, _) = progressing_of(&state);
    assert_eq!(
        (status, reason.as_str()),
        (ConditionStatus::Unknown, reason::ROLLOUT_RETRY)
    );
    assert_eq!(state.phase, Some(Phase::Progressing));
}

#[test]
fn pausing_and_resuming_flip_progressing_to_unknown() {
    let mut state = state_with(all_ready(3));
    state.pause_conditions = paused_at_step();
    assess(&mut state, &assessment(), at(1));
    let (status, reason, _) = progressing_of(&state);
    assert_eq!(
        (status, reason.as_str()),
        (ConditionStatus::Unknown, reason::ROLLOUT_PAUSED)
    );
    assert_eq!(
        condition(&state, ConditionKind::Paused).unwrap().status,
        ConditionStatus::True
    );
    assert!(deadline_suspended(&state), "no deadline while paused");

    // Still paused: Progressing stays as it is.
    assess(&mut state, &assessment(), at(2));
    assert_eq!(progressing_of(&state).1, reason::ROLLOUT_PAUSED);

    state.pause_conditions.clear();
    assess(&mut state, &assessment(), at(3));
    let (status, reason, _) = progressing_of(&state);
    assert_eq!(
        (status, reason.as_str()),
        (ConditionStatus::Unknown, reason::ROLLOUT_RESUMED)
    );
    let paused = condition(&state, ConditionKind::Paused).unwrap();
    assert_eq!(
        (paused.status, paused.last_transition),
        (ConditionStatus::False, at(3))
    );
    assert!(
        !deadline_suspended(&state),
        "the deadline runs again once resumed"
    );
}

#[test]
fn a_pause_by_the_spec_counts_as_a_pause() {
    let mut state = state_with(all_ready(3));
    let assessment = Assessment {
        paused_by_spec: true,
        ..assessment()
    };
    assess(&mut state, &assessment, at(1));
    assert_eq!(progressing_of(&state).1, reason::ROLLOUT_PAUSED);
    assert_eq!(
        condition(&state, ConditionKind::Paused).unwrap().status,
        ConditionStatus::True
    );
    assert_eq!(
        (state.phase, state.message.as_str()),
        (Some(Phase::Paused), "manually paused")
    );
}

#[test]
fn a_rollout_never_paused_has_no_paused_condition() {
    let mut state = state_with(all_ready(3));
    assess(&mut state, &assessment(), at(1));
    assert!(condition(&state, ConditionKind::Paused).is_none());
}

#[test]
fn completed_and_available_is_new_replica_set_available_even_as_a_pause_ends() {
    let mut state = with_condition(
        state_with(all_ready(3)),
        ConditionKind::Paused,
        ConditionStatus::True,
        reason::ROLLOUT_PAUSED,
    );
    let assessment = Assessment {
        completed: true,
        ..assessment()
    };
    assess(&mut state, &assessment, at(1));
    let (status, reason, message) = progressing_of(&state);
    assert_eq!(
        (status, reason.as_str()),
        (ConditionStatus::True, reason::NEW_REPLICA_SET_AVAILABLE)
    );
    assert_eq!(
        message,
        "ReplicaSet \"web-abc\" has successfully progressed."
    );
    assert!(deadline_suspended(&state), "no deadline once complete");
}

#[test]
fn completed_but_not_available_is_still_progressing() {
    let mut state = state_with(PodCounts {
        available: 2,
        ..all_ready(3)
    });
    let assessment = Assessment {
        completed: true,
        ..assessment()
    };
    assess(&mut state, &assessment, at(1));
    assert_eq!(progressing_of(&state).1, reason::REPLICA_SET_UPDATED);
    assert_eq!(state.phase, Some(Phase::Progressing));
}

#[test]
fn progress_refreshes_the_update_time_and_no_progress_leaves_the_condition_alone() {
    let mut state = state_with(all_ready(3));
    assess(&mut state, &assessment(), at(1));
    let (status, reason, message) = progressing_of(&state);
    assert_eq!(
        (status, reason.as_str()),
        (ConditionStatus::True, reason::REPLICA_SET_UPDATED)
    );
    assert_eq!(message, "ReplicaSet \"web-abc\" is progressing.");
    assert_eq!(last_progress(&state), Some(at(1)));

    // No progress: the update time stays, which is what the progress deadline measures.
    assess(&mut state, &assessment(), at(2));
    assert_eq!(last_progress(&state), Some(at(1)));

    let moved = Assessment {
        progressed: true,
        ..assessment()
    };
    assess(&mut state, &moved, at(3));
    assert_eq!(last_progress(&state), Some(at(3)));
}

#[test]
fn without_progress_a_passed_deadline_stays_recorded() {
    let mut state = with_condition(
        state_with(all_ready(3)),
        ConditionKind::Progressing,
        ConditionStatus::False,
        reason::PROGRESS_DEADLINE_EXCEEDED,
    );
    assert!(deadline_exceeded(&state));
    assess(&mut state, &assessment(), at(1));
    assert!(
        deadline_exceeded(&state),
        "no progress: the deadline stays exceeded"
    );
    assert_eq!(state.phase, Some(Phase::Degraded));

    let moved = Assessment {
        progressed: true,
        ..assessment()
    };
    assess(&mut state, &moved, at(2));
    assert!(!deadline_exceeded(&state), "progress replaces it");
    assert_eq!(state.phase, Some(Phase::Progressing));
}

#[test]
fn the_deadline_applies_while_progressing_and_not_once_aborted() {
    let progressing = with_condition(
        RolloutState::default(),
        ConditionKind::Progressing,
        ConditionStatus::True,
        reason::REPLICA_SET_UPDATED,
    );
    assert!(!deadline_suspended(&progressing));
    assert!(!deadline_exceeded(&progressing));
    let aborted = with_condition(
        RolloutState::default(),
        ConditionKind::Progressing,
        ConditionStatus::False,
        reason::ROLLOUT_ABORTED,
    );
    assert!(deadline_suspended(&aborted));
    assert!(!deadline_exceeded(&aborted));
    assert!(!deadline_suspended(&RolloutState::default()));
    assert_eq!(last_progress(&RolloutState::default()), None);
}

// ---- Completed and Healthy ----

#[test]
fn healthy_requires_completion_every_replica_updated_and_available_and_no_old_pods() {
    let complete = Assessment {
        completed: true,
        ..assessment()
    };
    let mut state = state_with(all_ready(3));
    assess(&mut state, &complete, at(1));
    assert_eq!(
        condition(&state, ConditionKind::Completed).unwrap().status,
        ConditionStatus::True
    );
    assert_eq!(
        condition(&state, ConditionKind::Healthy).unwrap().status,
        ConditionStatus::True
    );
    assert_eq!(
        (state.phase, state.message.as_str()),
        (Some(Phase::Healthy), "")
    );

    // Each requirement on its own keeps it from being healthy.
    let unhealthy = [
        ("not complete", all_ready(3), assessment()),
        (
            "paused",
            all_ready(3),
            Assessment {
                paused_by_spec: true,
                ..complete_copy(&complete)
            },
        ),
        (
            "one not updated",
            PodCounts {
                updated: 2,
                ..all_ready(3)
            },
            complete_copy(&complete),
        ),
        (
            "one not available",
            PodCounts {
                available: 2,
                ..all_ready(3)
            },
            complete_copy(&complete),
        ),
        (
            "an old pod left",
            PodCounts {
                replicas: 4,
                ..all_ready(3)
            },
            complete_copy(&complete),
        ),
    ];
    for (why, counts, assessment) in unhealthy {
        let mut state = state_with(all_ready(3));
        assess(&mut state, &complete, at(1));
        state.counts = counts;
        assess(&mut state, &assessment, at(2));
        let healthy = condition(&state, ConditionKind::Healthy).unwrap();
        assert_eq!(healthy.status, ConditionStatus::False, "{why}");
        assert_ne!(state.phase, Some(Phase::Healthy), "{why}");
    }
}

fn complete_copy(a: &Assessment) -> Assessment {
    Assessment {
        new_replica_set: a.new_replica_set.clone(),
        trouble: None,
        ..*a
    }
}

#[test]
fn a_rollout_never_healthy_has_no_healthy_condition() {
    let mut state = state_with(all_ready(3));
    assess(&mut state, &assessment(), at(1));
    assert!(condition(&state, ConditionKind::Healthy).is_none());
    assert_eq!(
        condition(&state, ConditionKind::Completed).unwrap().status,
        ConditionStatus::False
    );
}

#[test]
fn blue_green_is_healthy_while_the_old_revision_waits_for_its_scale_down() {
    let mut state = state_with(PodCounts {
        replicas: 6,
        ..all_ready(3)
    });
    let switched = Assessment {
        completed: true,
        active_switched: Some(true),
        ..assessment()
    };
    assess(&mut state, &switched, at(1));
    assert_eq!(
        condition(&state, ConditionKind::Healthy).unwrap().status,
        ConditionStatus::True
    );
    assert_eq!(state.phase, Some(Phase::Healthy));
}

// ---- Phase: first match wins ----

fn phase_of(state: RolloutState, assessment: &Assessment) -> (Phase, String) {
    let mut state = state;
    assess(&mut state, assessment, at(1));
    (state.phase.unwrap(), state.message)
}

fn progressing(message: &str) -> (Phase, String) {
    (Phase::Progressing, message.to_owned())
}

#[test]
fn an_invalid_spec_is_degraded_before_anything_else() {
    let state = invalid_spec(&state_with(all_ready(3)), "bad step", at(1));
    assert_eq!(
        (state.phase, state.message.as_str()),
        (Some(Phase::Degraded), "InvalidSpec: bad step")
    );
    let aborted = Assessment {
        trouble: Some(Trouble::Aborted("aborted".to_owned())),
        ..assessment()
    };
    assert_eq!(
        phase_of(state.clone(), &aborted),
        (Phase::Degraded, "InvalidSpec: bad step".to_owned())
    );

    let mut cleared = state;
    clear_invalid_spec(&mut cleared);
    assert!(condition(&cleared, ConditionKind::InvalidSpec).is_none());
    assert_eq!(phase_of(cleared, &assessment()).0, Phase::Progressing);
}

#[test]
fn an_invalid_spec_condition_that_no_longer_holds_is_not_degraded() {
    let state = with_condition(
        state_with(all_ready(3)),
        ConditionKind::InvalidSpec,
        ConditionStatus::False,
        "InvalidSpec",
    );
    assert_eq!(phase_of(state, &assessment()).0, Phase::Progressing);
}

#[test]
fn a_pause_reads_as_paused_with_its_reason_and_the_spec_pause_first() {
    let mut state = state_with(all_ready(3));
    state.pause_conditions = vec![PauseCondition {
        reason: PauseReason::InconclusiveAnalysisRun,
        start: at(0),
    }];
    assert_eq!(
        phase_of(state.clone(), &assessment()),
        (Phase::Paused, "InconclusiveAnalysisRun".to_owned())
    );
    let by_spec = Assessment {
        paused_by_spec: true,
        ..assessment()
    };
    assert_eq!(
        phase_of(state, &by_spec),
        (Phase::Paused, "manually paused".to_owned())
    );
}

#[test]
fn progressing_says_what_it_waits_for_in_order() {
    let restarting = Assessment {
        restarting: true,
        ..assessment()
    };
    assert_eq!(
        phase_of(state_with(all_ready(3)), &restarting),
        progressing("rollout is restarting")
    );
    assert_eq!(
        phase_of(
            state_with(PodCounts {
                updated: 2,
                ..all_ready(3)
            }),
            &assessment()
        ),
        progressing("more replicas need to be updated")
    );
    assert_eq!(
        phase_of(
            state_with(PodCounts {
                available: 2,
                ..all_ready(3)
            }),
            &assessment()
        ),
        progressing("updated replicas are still becoming available")
    );
    assert_eq!(
        phase_of(
            state_with(PodCounts {
                replicas: 4,
                ..all_ready(3)
            }),
            &assessment()
        ),
        progressing("old replicas are pending termination")
    );
    assert_eq!(
        phase_of(state_with(all_ready(3)), &assessment()),
        progressing("waiting for all steps to complete")
    );
}

#[test]
fn a_routed_canary_is_not_held_up_by_old_pods_kept_for_their_delay() {
    let routed = Assessment {
        routed: true,
        ..assessment()
    };
    assert_eq!(
        phase_of(
            state_with(PodCounts {
                replicas: 4,
                ..all_ready(3)
            }),
            &routed
        ),
        progressing("waiting for all steps to complete")
    );
    let done = Assessment {
        completed: true,
        ..routed
    };
    // As Argo's phase: Healthy, though the Healthy condition waits for the old pods to go.
    let mut state = state_with(PodCounts {
        replicas: 4,
        ..all_ready(3)
    });
    assess(&mut state, &done, at(1));
    assert_eq!(state.phase, Some(Phase::Healthy));
    assert!(condition(&state, ConditionKind::Healthy).is_none());
}

#[test]
fn blue_green_waits_for_the_switch_then_post_promotion() {
    let not_switched = Assessment {
        active_switched: Some(false),
        ..assessment()
    };
    assert_eq!(
        phase_of(state_with(all_ready(3)), &not_switched),
        progressing("active service cutover pending")
    );
    let switched = Assessment {
        active_switched: Some(true),
        ..assessment()
    };
    assert_eq!(
        phase_of(state_with(all_ready(3)), &switched),
        progressing("waiting for post-promotion verification to complete")
    );
}

#[test]
fn a_replica_set_that_cannot_be_created_turns_progressing_false_until_progress() {
    let mut state = state_with(all_ready(3));
    state.phase = Some(Phase::Progressing);
    assess(&mut state, &assessment(), at(10));
    let message = "Failed to create new replica set \"web-abc\": exceeded quota";
    let failed = replica_set_create_failed(&state, message, at(20));
    assert_eq!(
        progressing_of(&failed),
        (
            ConditionStatus::False,
            "ReplicaSetCreateError".to_owned(),
            message.to_owned()
        )
    );
    assert_eq!(failed.phase, Some(Phase::Progressing), "the phase stays");
    let mut next = failed.clone();
    assess(&mut next, &assessment(), at(30));
    assert_eq!(
        progressing_of(&next).1,
        "ReplicaSetCreateError",
        "a pass without progress keeps it"
    );
    let moved = Assessment {
        progressed: true,
        ..assessment()
    };
    assess(&mut next, &moved, at(40));
    assert_eq!(progressing_of(&next).1, "ReplicaSetUpdated");
}
