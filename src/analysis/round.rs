//! One reconcile of an AnalysisRun, decided without I/O: which recorded results carry over,
//! which metrics are due, how a provider's outcome becomes a measurement and is recorded,
//! whether the run is terminating, what its status says afterwards and when to look again.
//! The controller measures, terminates and writes; everything it decides is here.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::assess::{self, Due, MetricPlan};
use super::condition::evaluate;
use super::provider::Outcome;
use super::summary::Summary;
use crate::k8s::crd::{AnalysisRunStatus, Measurement, MetricResult};
use crate::model::AnalysisPhase;

/// Longest a measured value may be in the status (web bodies are cut here).
pub const MAX_VALUE_CHARS: usize = 1024;
/// The controller looks at a running run at least this often.
pub const RESYNC: Duration = Duration::from_secs(300);

/// Each metric's result as the status recorded it (found by name), or a fresh one.
#[must_use]
pub fn carried_results(plans: &[MetricPlan], status: &AnalysisRunStatus) -> Vec<MetricResult> {
    plans
        .iter()
        .map(|plan| {
            status
                .metric_results
                .iter()
                .find(|result| result.name == plan.name)
                .cloned()
                .unwrap_or_else(|| MetricResult {
                    name: plan.name.clone(),
                    ..MetricResult::default()
                })
        })
        .collect()
}

/// Whether the run stops measuring: asked to (`spec.terminate`), or a metric that is not a
/// dry run already ended it.
#[must_use]
pub fn is_terminating(
    terminate_requested: bool,
    plans: &[MetricPlan],
    results: &[MetricResult],
) -> bool {
    terminate_requested
        || plans.iter().zip(results).any(|(plan, result)| {
            let (phase, _) = assess::assess_metric(plan, result, false);
            assess::ends_the_run(phase, plan.dry_run)
        })
}

/// The indexes of the metrics to measure now.
#[must_use]
pub fn due_now(
    plans: &[MetricPlan],
    results: &[MetricResult],
    started: Timestamp,
    now: Timestamp,
    terminating: bool,
) -> Vec<usize> {
    plans
        .iter()
        .zip(results)
        .enumerate()
        .filter(|(_, (plan, result))| {
            let (phase, _) = assess::assess_metric(plan, result, terminating);
            assess::next_measurement(plan, result, phase, started, now, terminating) == Due::Now
        })
        .map(|(index, _)| index)
        .collect()
}

/// The measurement still in flight (a Job that was Running when last looked at).
#[must_use]
pub fn in_flight(result: &MetricResult) -> Option<&Measurement> {
    result
        .measurements
        .last()
        .filter(|last| last.phase == AnalysisPhase::Running)
}

/// Records `measurement`: it completes the one in flight, or is a new one.
pub fn settle(result: &mut MetricResult, measurement: Measurement, retention: usize) {
    if in_flight(result).is_some() {
        assess::complete_last(result, measurement, retention);
    } else {
        assess::record(result, measurement, retention);
    }
}

/// The measurement a provider's outcome makes: a value judged by the metric's conditions, the
/// provider's own verdict, or an Error. `redact` removes secret values from what is stored.
#[must_use]
pub fn measurement_of(
    outcome: Result<Outcome, String>,
    plan: &MetricPlan,
    started_at: Time,
    now: &Time,
    redact: impl Fn(&str) -> String,
) -> Measurement {
    match outcome {
        Ok(Outcome::Value(value)) => {
            let (phase, message) = evaluate(plan.success.as_ref(), plan.failure.as_ref(), &value);
            Measurement {
                phase,
                message: redact(&message),
                started_at: Some(started_at),
                finished_at: Some(now.clone()),
                value: truncate(&redact(&value.display())),
                ..Measurement::default()
            }
        }
        Ok(Outcome::Verdict {
            phase,
            value,
            message,
            metadata,
            resume_after,
        }) => {
            let running = phase == AnalysisPhase::Running;
            Measurement {
                phase,
                message: redact(&message),
                value: truncate(&redact(&value)),
                started_at: Some(started_at),
                finished_at: (!running).then(|| now.clone()),
                metadata,
                resume_at: resume_after
                    .filter(|_| running)
                    .map(|after| Time(now.0 + after)),
            }
        }
        Err(message) => Measurement {
            phase: AnalysisPhase::Error,
            message: redact(&message),
            started_at: Some(started_at),
            finished_at: Some(now.clone()),
            ..Measurement::default()
        },
    }
}

/// `value`, cut to [`MAX_VALUE_CHARS`] characters (and marked) when longer.
#[must_use]
pub fn truncate(value: &str) -> String {
    if value.chars().count() <= MAX_VALUE_CHARS {
        return value.to_owned();
    }
    let mut cut: String = value.chars().take(MAX_VALUE_CHARS).collect();
    cut.push_str("...");
    cut
}

/// Writes the summary and the results into the status; a dry-run summary only when there
/// are dry-run metrics.
pub fn apply_summary(status: &mut AnalysisRunStatus, summary: Summary, results: Vec<MetricResult>) {
    status.phase = summary.phase;
    status.message = summary.message;
    status.run_summary = Some(summary.run_summary);
    status.dry_run_summary = (summary.dry_run_summary.count > 0).then_some(summary.dry_run_summary);
    status.metric_results = results;
}

/// The results that completed since `before` (their phases when the round began).
pub fn completed_since<'a>(
    before: &'a [AnalysisPhase],
    status: &'a AnalysisRunStatus,
) -> impl Iterator<Item = &'a MetricResult> {
    status
        .metric_results
        .iter()
        .enumerate()
        .filter(|(index, result)| {
            let was_completed = before.get(*index).is_some_and(|phase| phase.is_completed());
            result.phase.is_completed() && !was_completed
        })
        .map(|(_, result)| result)
}

/// When to look again: the soonest due measurement, within [0.5 s, [`RESYNC`]].
#[must_use]
pub fn next_wake(
    plans: &[MetricPlan],
    results: &[MetricResult],
    started: Timestamp,
    now: Timestamp,
    terminating: bool,
) -> Duration {
    let soonest = plans
        .iter()
        .zip(results)
        .filter_map(|(plan, result)| {
            match assess::next_measurement(plan, result, result.phase, started, now, terminating) {
                Due::Now => Some(Duration::ZERO),
                Due::At(time) => {
                    Some(Duration::try_from(time.duration_since(now)).unwrap_or_default())
                }
                Due::Never => None,
            }
        })
        .min()
        .unwrap_or(RESYNC);
    soonest.clamp(Duration::from_millis(500), RESYNC)
}

#[cfg(test)]
mod tests;
