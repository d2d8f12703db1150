//! The AnalysisRun controller: measures each run's metrics when they are due, records the
//! measurements and phases in the run's status (written with optimistic concurrency), and
//! wakes again when the next measurement is due or a Job of the run changes.
//!
//! In: AnalysisRuns (created by the rollout engine or by hand). Out: their status — which the
//! rollout engine reads — Events on each run, and analysis metrics. A restarted controller
//! carries on from the status: a measurement is recorded once, and a Job once created is
//! found again, not duplicated.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::PostParams;
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use super::args::{Args, ArgsError};
use super::assess::{self, Due, MetricPlan};
use super::condition::evaluate;
use super::guard::{GuardedResolver, HostGuard};
use super::provider::{self, Context, Outcome, Provider};
use super::summary::summarize;
use crate::k8s::Scope;
use crate::k8s::crd::{AnalysisRun, AnalysisRunStatus, Measurement, Metric, MetricResult};
use crate::metrics::{AnalysisLabels, MeasurementLabels, Metrics};
use crate::model::AnalysisPhase;

/// Longest a measured value may be in the status (web bodies are cut here).
const MAX_VALUE_CHARS: usize = 1024;
/// The controller looks at a running run at least this often.
const RESYNC: Duration = Duration::from_secs(300);

/// What the controller needs besides the cluster.
#[derive(Clone)]
pub struct Settings {
    /// Hosts analysis may reach.
    pub guard: HostGuard,
    /// Where to count runs and measurements.
    pub metrics: Arc<Metrics>,
}

struct Shared {
    client: Client,
    recorder: crate::k8s::events::Publisher,
    settings: Settings,
    http: reqwest::Client,
    insecure_http: reqwest::Client,
}

/// A reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// Writing the status failed (a conflict means the run changed meanwhile).
    #[error("write status of AnalysisRun {run}")]
    WriteStatus {
        /// The run.
        run: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// Runs the controller until `shutdown` completes.
pub async fn run(
    client: Client,
    scope: Scope,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let (runs, jobs): (Api<AnalysisRun>, Api<Job>) = match &scope {
        Scope::Cluster => (Api::all(client.clone()), Api::all(client.clone())),
        Scope::Namespace(namespace) => (
            Api::namespaced(client.clone(), namespace),
            Api::namespaced(client.clone(), namespace),
        ),
    };
    let shared = Arc::new(Shared {
        recorder: crate::k8s::events::Publisher::new(client.clone(), "tidegate-analysis"),
        client,
        http: http_client(&settings.guard, false),
        insecure_http: http_client(&settings.guard, true),
        settings,
    });
    Controller::new(runs, watcher::Config::default())
        .owns(
            jobs,
            watcher::Config::default().labels("tidegate.dev/analysis-run"),
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, shared)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "analysis controller event");
            }
        })
        .await;
}

/// The providers' HTTP client: names resolved through the guard, redirects never followed
/// (a redirect could lead past the allow-list), TLS verified unless `insecure`.
fn http_client(guard: &HostGuard, insecure: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver::new(guard.clone())))
        .tls_danger_accept_invalid_certs(insecure)
        .build()
        .expect("an HTTP client builds")
}

#[allow(clippy::needless_pass_by_value)] // the signature kube-runtime's Controller::run wants
fn error_policy(run: Arc<AnalysisRun>, error: &AnalysisError, _: Arc<Shared>) -> Action {
    tracing::warn!(run = %run.name_any(), error = %crate::k8s::describe_error(error), "analysis reconcile failed");
    Action::requeue(Duration::from_secs(2))
}

/// A metric ready to measure: its plan, its spec with arguments substituted, its provider.
struct Prepared {
    plan: MetricPlan,
    metric: Metric,
    provider: Box<dyn Provider>,
}

async fn reconcile(run: Arc<AnalysisRun>, shared: Arc<Shared>) -> Result<Action, AnalysisError> {
    let mut status = run.status.clone().unwrap_or_default();
    if status.phase.is_completed() {
        return Ok(Action::await_change());
    }
    let now = Timestamp::now();
    let started = status.started_at.as_ref().map_or(now, |time| time.0);
    status.started_at = Some(Time(started));
    let (prepared, args) = match prepare(&shared, &run).await {
        Ok(prepared) => prepared,
        Err(ArgsError::Unavailable(message)) => {
            tracing::warn!(run = %run.name_any(), %message, "cannot resolve the run's arguments now; retrying");
            return Ok(Action::requeue(Duration::from_secs(5)));
        }
        Err(ArgsError::Invalid(problems)) => {
            status.phase = AnalysisPhase::Error;
            status.message = format!("Analysis spec invalid: {problems}");
            write_status(&shared, &run, status.clone()).await?;
            finished(&shared, &run, &status).await;
            return Ok(Action::await_change());
        }
    };
    let mut results: Vec<MetricResult> = prepared
        .iter()
        .map(|metric| {
            status
                .metric_results
                .iter()
                .find(|result| result.name == metric.plan.name)
                .cloned()
                .unwrap_or_else(|| MetricResult {
                    name: metric.plan.name.clone(),
                    ..MetricResult::default()
                })
        })
        .collect();
    let context = Context {
        client: &shared.client,
        run: &run,
        guard: &shared.settings.guard,
        http: &shared.http,
        insecure_http: &shared.insecure_http,
    };

    let terminating = take_measurements(
        &shared,
        &context,
        &args,
        &run,
        &prepared,
        &mut results,
        started,
        now,
    )
    .await;
    let plans: Vec<MetricPlan> = prepared.iter().map(|metric| metric.plan.clone()).collect();
    let before: Vec<AnalysisPhase> = status
        .metric_results
        .iter()
        .map(|result| result.phase)
        .collect();
    let summary = summarize(&plans, &mut results, terminating, run.spec.terminate);
    status.phase = summary.phase;
    status.message = summary.message;
    status.run_summary = Some(summary.run_summary);
    status.dry_run_summary = (summary.dry_run_summary.count > 0).then_some(summary.dry_run_summary);
    status.metric_results = results;
    write_status(&shared, &run, status.clone()).await?;
    announce_metrics(&shared, &run, &before, &status).await;
    if status.phase.is_completed() {
        finished(&shared, &run, &status).await;
        return Ok(Action::await_change());
    }
    Ok(Action::requeue(next_wake(
        &prepared,
        &status,
        started,
        terminating,
    )))
}

/// Takes every due measurement and, once the run is terminating, stops in-flight ones.
/// Returns whether the run is terminating.
#[allow(clippy::too_many_arguments)] // one reconcile's state, passed down once
async fn take_measurements(
    shared: &Shared,
    context: &Context<'_>,
    args: &Args,
    run: &AnalysisRun,
    prepared: &[Prepared],
    results: &mut [MetricResult],
    started: Timestamp,
    now: Timestamp,
) -> bool {
    let terminating = is_terminating(run, prepared, results);
    let mut measurements = Vec::new();
    for (index, (metric, result)) in prepared.iter().zip(results.iter()).enumerate() {
        let (phase, _) = assess::assess_metric(&metric.plan, result, terminating);
        if assess::next_measurement(&metric.plan, result, phase, started, now, terminating)
            == Due::Now
        {
            measurements.push(measure(shared, context, args, metric, result, index));
        }
    }
    for (index, measurement) in futures::future::join_all(measurements).await {
        let in_flight = results[index]
            .measurements
            .last()
            .is_some_and(|last| last.phase == AnalysisPhase::Running);
        let retention = prepared[index].plan.retention;
        if in_flight {
            assess::complete_last(&mut results[index], measurement, retention);
        } else {
            assess::record(&mut results[index], measurement, retention);
        }
    }
    let terminating = is_terminating(run, prepared, results);
    if terminating {
        for (metric, result) in prepared.iter().zip(results.iter_mut()) {
            if let Some(last) = result
                .measurements
                .last()
                .filter(|last| last.phase == AnalysisPhase::Running)
                .cloned()
            {
                let stopped = metric
                    .provider
                    .terminate(context, &metric.metric, &last)
                    .await;
                assess::complete_last(result, stopped, metric.plan.retention);
            }
        }
    }
    terminating
}

fn is_terminating(run: &AnalysisRun, prepared: &[Prepared], results: &[MetricResult]) -> bool {
    run.spec.terminate
        || prepared.iter().zip(results).any(|(metric, result)| {
            let (phase, _) = assess::assess_metric(&metric.plan, result, false);
            assess::ends_the_run(phase, metric.plan.dry_run)
        })
}

/// Resolves arguments, substitutes them, reads every metric and checks its provider and
/// target host; every problem is collected.
async fn prepare(shared: &Shared, run: &AnalysisRun) -> Result<(Vec<Prepared>, Args), ArgsError> {
    let args = Args::resolve(&shared.client, run).await?;
    let dry_runs: HashSet<&str> = run
        .spec
        .dry_run
        .iter()
        .map(|dry| dry.metric_name.as_str())
        .collect();
    let mut problems = Vec::new();
    if run.spec.metrics.is_empty() {
        problems.push("the run has no metrics".to_owned());
    }
    let mut prepared = Vec::new();
    for metric in &run.spec.metrics {
        let substituted = match args.substitute(metric) {
            Ok(metric) => metric,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let dry_run = dry_runs.contains("*") || dry_runs.contains(metric.name.as_str());
        let retention = run
            .spec
            .measurement_retention
            .iter()
            .find(|retention| retention.metric_name == metric.name || retention.metric_name == "*")
            .map(|retention| retention.limit);
        let plan = MetricPlan::read(&substituted, dry_run, retention)
            .map_err(|found| problems.extend(found));
        let provider = provider::for_metric(&substituted).map_err(|problem| problems.push(problem));
        if let Some(url) = target_url(&substituted)
            && let Err(problem) = shared.settings.guard.check(&url)
        {
            problems.push(format!("metric {:?}: {problem}", metric.name));
        }
        if let (Ok(plan), Ok(provider)) = (plan, provider) {
            prepared.push(Prepared {
                plan,
                metric: substituted,
                provider,
            });
        }
    }
    if problems.is_empty() {
        Ok((prepared, args))
    } else {
        Err(ArgsError::Invalid(args.redact(&problems.join("; "))))
    }
}

fn target_url(metric: &Metric) -> Option<String> {
    let provider = &metric.provider;
    provider
        .prometheus
        .as_ref()
        .map(|prometheus| prometheus.address.clone())
        .or_else(|| provider.web.as_ref().map(|web| web.url.clone()))
}

/// Takes one measurement; returns the metric's index with it.
async fn measure(
    shared: &Shared,
    context: &Context<'_>,
    args: &Args,
    metric: &Prepared,
    result: &MetricResult,
    index: usize,
) -> (usize, Measurement) {
    let in_flight = result
        .measurements
        .last()
        .filter(|last| last.phase == AnalysisPhase::Running);
    let started_at = in_flight
        .and_then(|last| last.started_at.clone())
        .unwrap_or_else(|| Time(Timestamp::now()));
    let clock = Instant::now();
    let ordinal = usize::try_from(result.count + result.error).unwrap_or(0);
    let outcome = metric
        .provider
        .measure(context, &metric.metric, ordinal, in_flight)
        .await;
    shared
        .settings
        .metrics
        .measurement_duration
        .get_or_create(&MeasurementLabels {
            provider: metric.provider.name().to_owned(),
        })
        .observe(clock.elapsed().as_secs_f64());
    let now = Time(Timestamp::now());
    let measurement = match outcome {
        Ok(Outcome::Value(value)) => {
            let (phase, message) = evaluate(
                metric.plan.success.as_ref(),
                metric.plan.failure.as_ref(),
                &value,
            );
            Measurement {
                phase,
                message: args.redact(&message),
                started_at: Some(started_at),
                finished_at: Some(now),
                value: truncate(&args.redact(&value.display())),
                ..Measurement::default()
            }
        }
        Ok(Outcome::Verdict {
            phase,
            message,
            metadata,
            resume_after,
        }) => {
            let running = phase == AnalysisPhase::Running;
            Measurement {
                phase,
                message: args.redact(&message),
                started_at: Some(started_at),
                finished_at: (!running).then(|| now.clone()),
                metadata,
                resume_at: resume_after
                    .filter(|_| running)
                    .map(|after| Time(now.0 + after)),
                ..Measurement::default()
            }
        }
        Err(message) => Measurement {
            phase: AnalysisPhase::Error,
            message: args.redact(&message),
            started_at: Some(started_at),
            finished_at: Some(now),
            ..Measurement::default()
        },
    };
    if measurement.phase == AnalysisPhase::Error {
        tracing::info!(run = %context.run.name_any(), metric = %metric.plan.name, message = %measurement.message, "measurement error");
    }
    (index, measurement)
}

fn truncate(value: &str) -> String {
    if value.chars().count() <= MAX_VALUE_CHARS {
        return value.to_owned();
    }
    let mut cut: String = value.chars().take(MAX_VALUE_CHARS).collect();
    cut.push_str("...");
    cut
}

/// When to look again: the soonest due measurement, within [0.5 s, 5 min].
fn next_wake(
    prepared: &[Prepared],
    status: &AnalysisRunStatus,
    started: Timestamp,
    terminating: bool,
) -> Duration {
    let now = Timestamp::now();
    let soonest = prepared
        .iter()
        .zip(&status.metric_results)
        .filter_map(|(metric, result)| {
            match assess::next_measurement(
                &metric.plan,
                result,
                result.phase,
                started,
                now,
                terminating,
            ) {
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

async fn write_status(
    shared: &Shared,
    run: &AnalysisRun,
    status: AnalysisRunStatus,
) -> Result<(), AnalysisError> {
    let api: Api<AnalysisRun> =
        Api::namespaced(shared.client.clone(), &run.namespace().unwrap_or_default());
    let mut updated = run.clone();
    updated.status = Some(status);
    api.replace_status(&run.name_any(), &PostParams::default(), &updated)
        .await
        .map(drop)
        .map_err(|source| AnalysisError::WriteStatus {
            run: run.name_any(),
            source,
        })
}

/// An Event for each metric that completed in this reconcile.
async fn announce_metrics(
    shared: &Shared,
    run: &AnalysisRun,
    before: &[AnalysisPhase],
    status: &AnalysisRunStatus,
) {
    for (index, result) in status.metric_results.iter().enumerate() {
        let was_completed = before.get(index).is_some_and(|phase| phase.is_completed());
        if result.phase.is_completed() && !was_completed {
            let note = format!(
                "Metric '{}' Completed. Result: {}",
                result.name, result.phase
            );
            publish(
                shared,
                run,
                &format!("Metric{}", result.phase),
                &note,
                result.phase,
            )
            .await;
        }
    }
}

/// The run ended: count it and announce it.
async fn finished(shared: &Shared, run: &AnalysisRun, status: &AnalysisRunStatus) {
    shared
        .settings
        .metrics
        .analysis_runs
        .get_or_create(&AnalysisLabels {
            phase: status.phase.to_string(),
        })
        .inc();
    let note = if status.message.is_empty() {
        format!("Analysis Completed. Result: {}", status.phase)
    } else {
        status.message.clone()
    };
    tracing::info!(run = %run.name_any(), namespace = %run.namespace().unwrap_or_default(), phase = %status.phase, message = %status.message, "analysis run completed");
    publish(
        shared,
        run,
        &format!("AnalysisRun{}", status.phase),
        &note,
        status.phase,
    )
    .await;
}

async fn publish(
    shared: &Shared,
    run: &AnalysisRun,
    reason: &str,
    note: &str,
    phase: AnalysisPhase,
) {
    let event = crate::k8s::events::Note {
        warning: phase != AnalysisPhase::Successful,
        reason,
        message: note,
        action: "Analysis",
    };
    if let Err(error) = shared.recorder.publish(&run.object_ref(&()), &event).await {
        tracing::debug!(%error, "cannot publish Event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut() {
        assert_eq!(truncate("short"), "short");
        let long = "x".repeat(5000);
        assert_eq!(truncate(&long).chars().count(), MAX_VALUE_CHARS + 3);
    }
}
