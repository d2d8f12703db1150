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
