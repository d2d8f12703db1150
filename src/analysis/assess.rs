//! Argo's bookkeeping of an AnalysisRun (`analysis/analysis.go`): each metric's settings and
//! their validation, counters per measurement, a metric's phase from its counters and limits,
//! the run's phase from its metrics, and when each metric is next measured.
//!
//! Pure: metric specs, results and the time in; phases, messages and due times out.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::condition::Condition;
use crate::k8s::crd::{Measurement, Metric, MetricResult};
use crate::model::{AnalysisPhase, parse_go_duration};

/// How long to wait after a measurement errored before the next one.
pub const ERROR_RETRY: Duration = crate::k8s::crd::MEASUREMENT_ERROR_RETRY;
/// Measurements kept per metric unless `measurementRetention` says otherwise.
pub const DEFAULT_RETENTION: usize = 10;
/// Consecutive errors tolerated by default.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i32 = 4;

/// A metric's settings, parsed, defaulted and validated.
#[derive(Clone, Debug)]
pub struct MetricPlan {
    /// The metric's name.
    pub name: String,
    /// Time between measurements.
    pub interval: Option<Duration>,
    /// Wait before the first measurement, from the run's start.
    pub initial_delay: Duration,
    /// Measurements to take; `None` is unbounded (interval without count).
    pub count: Option<i32>,
    /// Failures tolerated; -1 disables.
    pub failure_limit: i32,
    /// Inconclusive measurements tolerated.
    pub inconclusive_limit: i32,
    /// Consecutive errors tolerated.
    pub consecutive_error_limit: i32,
    /// Consecutive successes that end the metric Successful (0: not used).
    pub consecutive_success_limit: i32,
    /// Makes a measurement Successful.
    pub success: Option<Condition>,
    /// Makes a measurement Failed.
    pub failure: Option<Condition>,
    /// Measured and recorded, but never decides the run.
    pub dry_run: bool,
    /// Measurements kept in the status.
    pub retention: usize,
}

impl MetricPlan {
    /// Reads `metric` (its `{{args.*}}` already substituted); every problem is reported.
    pub fn read(
        metric: &Metric,
        dry_run: bool,
        retention: Option<i32>,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let name = &metric.name;
        let mut duration = |field: &str, text: &str| -> Option<Duration> {
            if text.is_empty() {
                return None;
            }
            parse_go_duration(text)
                .map_err(|error| problems.push(format!("metric {name:?}: {field}: {error}")))
                .ok()
        };
        let interval = duration("interval", &metric.interval);
        let initial_delay = duration("initialDelay", &metric.initial_delay).unwrap_or_default();
        let mut number = |field: &str, value: Option<&IntOrString>| -> Option<i32> {
            match value? {
                IntOrString::Int(value) => Some(*value),
                IntOrString::String(text) => text
                    .parse()
                    .map_err(|_| {
                        problems.push(format!(
                            "metric {name:?}: {field}: {text:?} is not an integer"
                        ));
                    })
                    .ok(),
            }
        };
        // Argo's EffectiveCount: a count of 0 is no count.
        let count = number("count", metric.count.as_ref()).filter(|count| *count != 0);
        let failure_limit = number("failureLimit", metric.failure_limit.as_ref()).unwrap_or(0);
        let inconclusive_limit =
            number("inconclusiveLimit", metric.inconclusive_limit.as_ref()).unwrap_or(0);
        let consecutive_error_limit = number(
            "consecutiveErrorLimit",
            metric.consecutive_error_limit.as_ref(),
        )
        .unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT);
        let consecutive_success_limit = number(
            "consecutiveSuccessLimit",
            metric.consecutive_success_limit.as_ref(),
        )
        .unwrap_or(0);
        let mut condition = |field: &str, text: &str| -> Option<Condition> {
            if text.trim().is_empty() {
                return None;
            }
            Condition::compile(text)
                .map_err(|error| problems.push(format!("metric {name:?}: {field}: {error}")))
                .ok()
        };
        let success = condition("successCondition", &metric.success_condition);
        let failure = condition("failureCondition", &metric.failure_condition);
        // Argo's ValidateMetric.
        let effective_count = match (count, interval) {
            (Some(count), _) => Some(count),
            (None, None) => Some(1),
            (None, Some(_)) => None,
        };
        if count.is_some_and(|count| count > 1) && interval.is_none() {
            problems.push(format!(
                "metric {name:?}: count must be 1 or less when interval is not set"
            ));
        }
        if let Some(count) = count
            && count < failure_limit.max(0) + consecutive_success_limit
        {
            problems.push(format!(
                "metric {name:?}: count must be >= failureLimit + consecutiveSuccessLimit"
            ));
        }
        for (field, value) in [
            ("failureLimit", failure_limit),
            ("inconclusiveLimit", inconclusive_limit),
            ("consecutiveErrorLimit", consecutive_error_limit),
            ("consecutiveSuccessLimit", consecutive_success_limit),
        ] {
            if value < -1 || (value == -1 && field != "failureLimit") {
                problems.push(format!("metric {name:?}: {field} must be 0 or more"));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            name: name.clone(),
            interval,
            initial_delay,
            count: effective_count,
            failure_limit,
            inconclusive_limit,
            consecutive_error_limit,
            consecutive_success_limit,
            success,
            failure,
            dry_run,
            retention: retention
                .and_then(|limit| usize::try_from(limit).ok())
                .filter(|limit| *limit > 0)
                .unwrap_or(DEFAULT_RETENTION),
        })
    }
}

/// Adds a finished (or first in-flight) measurement to `result`, with Argo's counters.
pub fn record(result: &mut MetricResult, measurement: Measurement, retention: usize) {
    if measurement.phase != AnalysisPhase::Running {
        count(result, measurement.phase);
    }
    result.measurements.push(measurement);
    trim(result, retention);
}

/// Replaces the in-flight last measurement with its finished form.
pub fn complete_last(result: &mut MetricResult, measurement: Measurement, retention: usize) {
    if let Some(last) = result.measurements.last_mut() {
        let finished = measurement.phase != AnalysisPhase::Running;
        *last = measurement;
        if finished {
            let phase = last.phase;
            count(result, phase);
        }
    }
    trim(result, retention);
}

fn count(result: &mut MetricResult, phase: AnalysisPhase) {
    match phase {
        AnalysisPhase::Successful => {
            result.successful += 1;
            result.count += 1;
            result.consecutive_error = 0;
            result.consecutive_success += 1;
        }
        AnalysisPhase::Failed | AnalysisPhase::Inconclusive => {
            if phase == AnalysisPhase::Failed {
                result.failed += 1;
            } else {
                result.inconclusive += 1;
            }
            result.count += 1;
            result.consecutive_error = 0;
            result.consecutive_success = 0;
        }
        AnalysisPhase::Error => {
            result.error += 1;
            result.consecutive_error += 1;
            result.consecutive_success = 0;
        }
        AnalysisPhase::Pending | AnalysisPhase::Running => {}
    }
}

fn trim(result: &mut MetricResult, retention: usize) {
    let excess = result.measurements.len().saturating_sub(retention);
    result.measurements.drain(..excess);
}

/// A metric's phase and, when it ends badly, why (`assessMetricStatus`).
#[must_use]
pub fn assess_metric(
    plan: &MetricPlan,
    result: &MetricResult,
    terminating: bool,
) -> (AnalysisPhase, String) {
    let Some(last) = result.measurements.last() else {
        let phase = if terminating {
            AnalysisPhase::Successful
        } else {
            AnalysisPhase::Pending
        };
        return (phase, String::new());
    };
    if last.phase == AnalysisPhase::Running {
        return (AnalysisPhase::Running, String::new());
    }
    let mut verdict = None;
    if plan.failure_limit >= 0 && result.failed > plan.failure_limit {
        verdict = Some((
            AnalysisPhase::Failed,
            format!(
                "failed ({}) > failureLimit ({})",
                result.failed, plan.failure_limit
            ),
        ));
    }
    if result.inconclusive > plan.inconclusive_limit {
        verdict = Some((
            AnalysisPhase::Inconclusive,
            format!(
                "inconclusive ({}) > inconclusiveLimit ({})",
                result.inconclusive, plan.inconclusive_limit
            ),
        ));
    }
    if result.consecutive_error > plan.consecutive_error_limit {
        verdict = Some((
            AnalysisPhase::Error,
            format!(
                "consecutiveErrors ({}) > consecutiveErrorLimit ({})",
                result.consecutive_error, plan.consecutive_error_limit
            ),
        ));
    }
    if let Some(verdict) = verdict {
        return verdict;
    }
    if plan.consecutive_success_limit > 0
        && result.consecutive_success >= plan.consecutive_success_limit
    {
        return (AnalysisPhase::Successful, String::new());
    }
    if let Some(count) = plan.count
        && result.count >= count
    {
        if plan.consecutive_success_limit > 0 {
            let phase = if plan.failure_limit >= 0 {
                AnalysisPhase::Inconclusive
            } else {
                AnalysisPhase::Failed
            };
            return (
                phase,
                format!(
                    "consecutiveSuccess ({}) < consecutiveSuccessLimit ({}) after count ({count}) measurements",
                    result.consecutive_success, plan.consecutive_success_limit
                ),
            );
        }
        return (AnalysisPhase::Successful, String::new());
    }
    if terminating {
        return (AnalysisPhase::Successful, String::new());
    }
    (AnalysisPhase::Running, String::new())
}

/// How bad a phase is, best first: Successful, Running, Pending, Inconclusive, Error, Failed.
#[must_use]
pub fn severity(phase: AnalysisPhase) -> u8 {
    match phase {
        AnalysisPhase::Successful => 0,
        AnalysisPhase::Running => 1,
        AnalysisPhase::Pending => 2,
        AnalysisPhase::Inconclusive => 3,
        AnalysisPhase::Error => 4,
        AnalysisPhase::Failed => 5,
    }
}

/// The run's phase from its metrics' (phase, dry run) pairs (`assessRunStatus`): Running
/// until every metric completed, then the worst phase among metrics that are not dry runs
/// (Successful when all are dry runs).
#[must_use]
pub fn assess_run(metrics: &[(AnalysisPhase, bool)]) -> AnalysisPhase {
    if metrics.iter().any(|(phase, _)| !phase.is_completed()) {
        return AnalysisPhase::Running;
    }
    metrics
        .iter()
        .filter(|(_, dry_run)| !dry_run)
        .map(|(phase, _)| *phase)
        .max_by_key(|phase| severity(*phase))
        .unwrap_or(AnalysisPhase::Successful)
}

/// Whether a metric's phase ends the run early: a non-dry-run metric Failed, Error or
/// Inconclusive terminates the others.
#[must_use]
pub fn ends_the_run(phase: AnalysisPhase, dry_run: bool) -> bool {
    !dry_run
        && matches!(
            phase,
            AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive
        )
}

/// When a metric is next measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Now.
    Now,
    /// At this time.
    At(Timestamp),
    /// Not again.
    Never,
}

/// When `plan`'s next measurement is due, given its result so far, its phase, when the run
/// started and whether it is terminating.
#[must_use]
pub fn next_measurement(
    plan: &MetricPlan,
    result: &MetricResult,
    phase: AnalysisPhase,
    started: Timestamp,
    now: Timestamp,
    terminating: bool,
) -> Due {
    if terminating || phase.is_completed() {
        return Due::Never;
    }
    let at = |time: Timestamp| if time <= now { Due::Now } else { Due::At(time) };
    let Some(last) = result.measurements.last() else {
        return at(started + plan.initial_delay);
    };
    if last.phase == AnalysisPhase::Running {
        // In flight (a Job): look again when the provider asked to.
        return last.resume_at.as_ref().map_or(Due::Now, |time| at(time.0));
    }
    if plan.count.is_some_and(|count| result.count >= count) {
        return Due::Never;
    }
    let finished = last.finished_at.as_ref().map_or(now, |time| time.0);
    let wait = if last.phase == AnalysisPhase::Error {
        ERROR_RETRY
    } else {
        plan.interval.unwrap_or_default()
    };
    if last.phase != AnalysisPhase::Error && plan.interval.is_none() {
        return Due::Never;
    }
    at(finished + wait)
}

#[cfg(test)]
mod tests;
