//! The run's status from its metrics: each metric's phase and message, the run's phase, its
//! message (`Metric "m" assessed Failed due to failed (1) > failureLimit (0)`) and the
//! summaries of counted and dry-run metrics.
//!
//! Pure: plans and results in, status fields out.

use std::fmt::Write;

use super::assess::{MetricPlan, assess_metric, assess_run, severity};
use crate::k8s::crd::{MetricResult, RunSummary};
use crate::model::AnalysisPhase;

/// What the run's status says.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The run's phase.
    pub phase: AnalysisPhase,
    /// Why, when it is not Successful or Running.
    pub message: String,
    /// Metrics that decide the run, by phase.
    pub run_summary: RunSummary,
    /// Dry-run metrics, by phase.
    pub dry_run_summary: RunSummary,
}

/// Sets each result's phase and message and sums up the run. `terminate_requested` is the
/// run's `spec.terminate`.
pub fn summarize(
    plans: &[MetricPlan],
    results: &mut [MetricResult],
    terminating: bool,
    terminate_requested: bool,
) -> Summary {
    let mut phases = Vec::new();
    let mut worst: Option<(u8, String)> = None;
    let mut run_summary = RunSummary::default();
    let mut dry_run_summary = RunSummary::default();
    for (plan, result) in plans.iter().zip(results.iter_mut()) {
        let (phase, why) = assess_metric(plan, result, terminating);
        result.phase = phase;
        result.dry_run = plan.dry_run;
        result.message.clone_from(&why);
        phases.push((phase, plan.dry_run));
        let summary = if plan.dry_run {
            &mut dry_run_summary
        } else {
            &mut run_summary
        };
        summary.count += 1;
        match phase {
            AnalysisPhase::Successful => summary.successful += 1,
            AnalysisPhase::Failed => summary.failed += 1,
            AnalysisPhase::Inconclusive => summary.inconclusive += 1,
            AnalysisPhase::Error => summary.error += 1,
            AnalysisPhase::Pending | AnalysisPhase::Running => {}
        }
        if !plan.dry_run
            && matches!(
                phase,
                AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive
            )
        {
            let mut message = format!("Metric \"{}\" assessed {phase} due to {why}", plan.name);
            if phase == AnalysisPhase::Error
                && let Some(last) = result.measurements.last()
                && !last.message.is_empty()
            {
                let _ = write!(message, ": \"Error Message: {}\"", last.message);
            }
            if worst
                .as_ref()
                .is_none_or(|(seen, _)| severity(phase) > *seen)
            {
                worst = Some((severity(phase), message));
            }
        }
    }
    let phase = assess_run(&phases);
    let nothing_measured = results.iter().all(|result| result.measurements.is_empty());
    let message = if terminate_requested && nothing_measured {
        "Run Terminated".to_owned()
    } else if phase.is_completed() && phase != AnalysisPhase::Successful {
        worst.map(|(_, message)| message).unwrap_or_default()
    } else {
        String::new()
    };
    Summary {
        phase,
        message,
        run_summary,
        dry_run_summary,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::analysis::assess::record;
    use crate::k8s::crd::{Measurement, Metric};

    fn plan(name: &str, dry_run: bool) -> MetricPlan {
        let metric: Metric = serde_json::from_value(
            json!({"name": name, "provider": {"web": {"url": "http://x.svc"}}}),
        )
        .unwrap();
        MetricPlan::read(&metric, dry_run, None).unwrap()
    }

    fn result(phases: &[(AnalysisPhase, &str)]) -> MetricResult {
        let mut result = MetricResult::default();
        for (phase, message) in phases {
            record(
                &mut result,
                Measurement {
                    phase: *phase,
                    message: (*message).to_owned(),
                    ..Measurement::default()
                },
                10,
            );
        }
        result
    }

    #[test]
    fn one_failed_metric_fails_the_run_even_if_others_pass() {
        let plans = [plan("latency", false), plan("errors", false)];
        let mut results = [
            result(&[(AnalysisPhase::Successful, "")]),
            result(&[(AnalysisPhase::Failed, "")]),
        ];
        let summary = summarize(&plans, &mut results, true, false);
        assert_eq!(summary.phase, AnalysisPhase::Failed);
        assert_eq!(
            summary.message,
            "Metric \"errors\" assessed Failed due to failed (1) > failureLimit (0)"
        );
        assert_eq!(
            (
                summary.run_summary.count,
                summary.run_summary.successful,
                summary.run_summary.failed
            ),
            (2, 1, 1)
        );
        assert_eq!(results[1].phase, AnalysisPhase::Failed);
    }

    #[test]
    fn dry_run_metrics_are_recorded_but_never_decide() {
        let plans = [plan("latency", false), plan("experimental", true)];
        let mut results = [
            result(&[(AnalysisPhase::Successful, "")]),
            result(&[(AnalysisPhase::Failed, "")]),
        ];
        let summary = summarize(&plans, &mut results, false, false);
        assert_eq!(summary.phase, AnalysisPhase::Successful);
        assert_eq!(
            (
                summary.dry_run_summary.count,
                summary.dry_run_summary.failed
            ),
            (1, 1)
        );
        assert!(results[1].dry_run);
    }

    #[test]
    fn errors_carry_the_last_error_message() {
        let plans = [plan("errors", false)];
        let mut results = [result(&[(AnalysisPhase::Error, "connection refused"); 5])];
        let summary = summarize(&plans, &mut results, false, false);
        assert_eq!(summary.phase, AnalysisPhase::Error);
        assert_eq!(
            summary.message,
            "Metric \"errors\" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): \"Error Message: connection refused\""
        );
    }

    #[test]
    fn every_phase_is_counted() {
        let plans = [
            plan("a", false),
            plan("b", false),
            plan("c", false),
            plan("d", false),
        ];
        let mut results = [
            result(&[(AnalysisPhase::Successful, "")]),
            result(&[(AnalysisPhase::Failed, "")]),
            result(&[(AnalysisPhase::Inconclusive, "")]),
            result(&[(AnalysisPhase::Error, "refused"); 5]),
        ];
        let summary = summarize(&plans, &mut results, true, false);
        let counted = &summary.run_summary;
        assert_eq!(
            (
                counted.count,
                counted.successful,
                counted.failed,
                counted.inconclusive,
                counted.error
            ),
            (4, 1, 1, 1, 1)
        );
    }

    #[test]
    fn the_message_names_the_worst_metric_and_the_first_among_equals() {
        let message = |phases: [AnalysisPhase; 2]| {
            let plans = [plan("first", false), plan("second", false)];
            let mut results = phases.map(|phase| result(&[(phase, "down"); 5]));
            summarize(&plans, &mut results, true, false).message
        };
        let names =
            |message: String, name: &str| message.starts_with(&format!("Metric \"{name}\""));
        assert!(names(
            message([AnalysisPhase::Error, AnalysisPhase::Failed]),
            "second"
        ));
        assert!(names(
            message([AnalysisPhase::Failed, AnalysisPhase::Error]),
            "first"
        ));
        assert!(names(
            message([AnalysisPhase::Failed, AnalysisPhase::Failed]),
            "first"
        ));
        assert!(names(
            message([AnalysisPhase::Inconclusive, AnalysisPhase::Error]),
            "second"
        ));
    }

    #[test]
    fn a_failed_dry_run_metric_never_names_the_run_failure() {
        let plans = [plan("counted", false), plan("experimental", true)];
        let mut results = [
            result(&[(AnalysisPhase::Inconclusive, "")]),
            result(&[(AnalysisPhase::Failed, "")]),
        ];
        let summary = summarize(&plans, &mut results, true, false);
        assert_eq!(summary.phase, AnalysisPhase::Inconclusive);
        assert!(
            summary
                .message
                .starts_with("Metric \"counted\" assessed Inconclusive"),
            "{}",
            summary.message
        );
    }

    #[test]
    fn a_running_run_has_no_message_yet() {
        let plans = [plan("failed", false), plan("waiting", false)];
        let mut results = [
            result(&[(AnalysisPhase::Failed, "")]),
            MetricResult::default(),
        ];
        let summary = summarize(&plans, &mut results, false, false);
        assert_eq!(
            (summary.phase, summary.message.as_str()),
            (AnalysisPhase::Running, "")
        );
    }

    #[test]
    fn a_terminated_run_that_measured_reports_its_metrics_not_the_termination() {
        let plans = [plan("errors", false)];
        let mut results = [result(&[(AnalysisPhase::Successful, "")])];
        let summary = summarize(&plans, &mut results, true, true);
        assert_eq!(
            (summary.phase, summary.message.as_str()),
            (AnalysisPhase::Successful, "")
        );
    }

    #[test]
    fn a_terminated_run_with_nothing_measured_is_successful() {
        let plans = [plan("errors", false)];
        let mut results = [MetricResult::default()];
        let summary = summarize(&plans, &mut results, true, true);
        assert_eq!(
            (summary.phase, summary.message.as_str()),
            (AnalysisPhase::Successful, "Run Terminated")
        );
    }
}
