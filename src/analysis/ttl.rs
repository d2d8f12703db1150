//! `ttlStrategy`: when a finished AnalysisRun is deleted, as Argo decides it — the rule for
//! its phase (`secondsAfterSuccess`, `secondsAfterFailure`) if set, else
//! `secondsAfterCompletion`; the run goes once more whole seconds than that have passed since
//! it finished.
//!
//! Pure: a strategy, a phase and times in, a deadline out.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::k8s::crd::{AnalysisPhase, TtlStrategy};

/// What to do with a finished run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// Keep it: no rule applies, or it is not finished.
    Keep,
    /// Delete it now.
    Expired,
    /// Look again after this long.
    Wait(Duration),
}

/// The fate of a run in `phase`, finished at `completed`, under `strategy`, at `now`.
#[must_use]
pub fn ttl(
    strategy: Option<&TtlStrategy>,
    phase: AnalysisPhase,
    completed: Option<Timestamp>,
    now: Timestamp,
) -> Ttl {
    let (Some(strategy), Some(completed)) = (strategy, completed) else {
        return Ttl::Keep;
    };
    if !phase.is_completed() {
        return Ttl::Keep;
    }
    let seconds = match phase {
        AnalysisPhase::Successful if strategy.seconds_after_success.is_some() => {
            strategy.seconds_after_success
        }
        AnalysisPhase::Failed if strategy.seconds_after_failure.is_some() => {
            strategy.seconds_after_failure
        }
        _ => strategy.seconds_after_completion,
    };
    let Some(seconds) = seconds else {
        return Ttl::Keep;
    };
    // Argo compares whole seconds passed: the run goes once they exceed the TTL.
    let deadline = completed + SignedDuration::from_secs(i64::from(seconds) + 1);
    if now >= deadline {
        Ttl::Expired
    } else {
        let left = now.duration_until(deadline).unsigned_abs();
        Ttl::Wait(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
    }

    fn strategy(
        completion: Option<i32>,
        failure: Option<i32>,
        success: Option<i32>,
    ) -> TtlStrategy {
        TtlStrategy {
            seconds_after_completion: completion,
            seconds_after_failure: failure,
            seconds_after_success: success,
        }
    }

    #[test]
    fn the_rule_of_the_phase_wins_over_completion() {
        let rules = strategy(Some(100), Some(10), Some(20));
        let done = Some(at(0));
        assert_eq!(
            ttl(Some(&rules), AnalysisPhase::Failed, done, at(11)),
            Ttl::Expired
        );
        assert_eq!(
            ttl(Some(&rules), AnalysisPhase::Successful, done, at(11)),
            Ttl::Wait(Duration::from_secs(10))
        );
        assert_eq!(
            ttl(Some(&rules), AnalysisPhase::Successful, done, at(21)),
            Ttl::Expired
        );
        assert_eq!(
            ttl(Some(&rules), AnalysisPhase::Error, done, at(21)),
            Ttl::Wait(Duration::from_secs(80))
        );
        assert_eq!(
            ttl(Some(&rules), AnalysisPhase::Inconclusive, done, at(101)),
            Ttl::Expired
        );
    }

    #[test]
    fn completion_covers_a_phase_without_its_own_rule() {
        let rules = strategy(Some(5), None, None);
        for phase in [
            AnalysisPhase::Successful,
            AnalysisPhase::Failed,
            AnalysisPhase::Error,
        ] {
            assert_eq!(
                ttl(Some(&rules), phase, Some(at(0)), at(6)),
                Ttl::Expired,
                "{phase:?}"
            );
        }
        let only_success = strategy(None, None, Some(5));
        assert_eq!(
            ttl(
                Some(&only_success),
                AnalysisPhase::Failed,
                Some(at(0)),
                at(60)
            ),
            Ttl::Keep
        );
    }

    /// As Argo: whole seconds passed must exceed the TTL — at exactly the TTL the run stays.
    #[test]
    fn the_run_goes_once_more_seconds_than_the_ttl_passed() {
        let rules = strategy(Some(5), None, None);
        let done = Some(at(0));
        assert_eq!(
            ttl(Some(&rules), AnalysisPhase::Successful, done, at(5)),
            Ttl::Wait(Duration::from_secs(1))
        );
        assert_eq!(
            ttl(Some(&rules), AnalysisPhase::Successful, done, at(6)),
            Ttl::Expired
        );
        assert_eq!(
            ttl(
                Some(&strategy(Some(0), None, None)),
                AnalysisPhase::Successful,
                done,
                at(1)
            ),
            Ttl::Expired
        );
    }

    #[test]
    fn unfinished_runs_runs_without_a_strategy_or_a_finish_time_stay() {
        let rules = strategy(Some(0), None, None);
        assert_eq!(
            ttl(Some(&rules), AnalysisPhase::Running, Some(at(0)), at(60)),
            Ttl::Keep
        );
        assert_eq!(
            ttl(None, AnalysisPhase::Successful, Some(at(0)), at(60)),
            Ttl::Keep
        );
        assert_eq!(
            ttl(Some(&rules), AnalysisPhase::Successful, None, at(60)),
            Ttl::Keep
        );
    }
}
