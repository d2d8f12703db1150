//! The AnalysisRun controller: measures each run's metrics when they are due, records the
//! measurements and phases in the run's status (written with optimistic concurrency), and
//! wakes again when the next measurement is due or a Job of the run changes.
//!
//! In: AnalysisRuns (created by the rollout engine or by hand). Out: their status — which the
//! rollout engine reads — Events on each run, and analysis metrics. A restarted controller
//! carries on from the status: a measurement is recorded once, and a Job once created is
//! found again, not duplicated.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use super::args::{Args, ArgsError};
use super::assess::{self, MetricPlan};
use super::guard::{GuardedResolver, HostGuard};
use super::provider::secrets::ClusterSecrets;
use super::provider::{self, Context, Provider, StsCache, TokenCache};
use super::round;
use super::summary::{self, summarize};
use super::ttl::{self, Ttl};
use crate::k8s::Scope;
use crate::k8s::crd::{
    AnalysisRun, AnalysisRunSpec, AnalysisRunStatus, Measurement, Metric, MetricResult,
};
use crate::metrics::{AnalysisLabels, MeasurementLabels, Metrics};
use crate::model::AnalysisPhase;

/// What the controller needs besides the cluster.
#[derive(Clone)]
pub struct Settings {
    /// Hosts analysis may reach.
    pub guard: HostGuard,
    /// Where to count runs and measurements.
    pub metrics: Arc<Metrics>,
    /// The daemon's namespace: where provider Secrets (`datadog`, `newrelic`, …) are read.
    pub namespace: String,
}

struct Shared {
    client: Client,
    recorder: crate::k8s::events::Publisher,
    settings: Settings,
    http: reqwest::Client,
    insecure_http: reqwest::Client,
    tokens: TokenCache,
    sts: StsCache,
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
    /// Deleting a run whose `ttlStrategy` expired failed.
    #[error("delete AnalysisRun {run}")]
    Delete {
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
        tokens: TokenCache::default(),
        sts: StsCache::default(),
        settings,
    });
    let controller = Controller::new(runs, watcher::Config::default());
    let caches = shared.settings.metrics.argo.caches.clone();
    caches.watch_runs(Some(controller.store()));
    let controller = controller.owns(
        jobs,
        watcher::Config::default().labels("tidegate.dev/analysis-run"),
    );
    crate::k8s::shutdown::run_until_shutdown(controller, shutdown, |controller| {
        controller.run(reconcile, error_policy, shared)
    })
    .await;
    caches.watch_runs(None);
}

/// The providers' HTTP client: names resolved through the guard, redirects never followed
/// (a redirect could lead past the allow-list), TLS verified unless `insecure`.
pub(super) fn http_client(guard: &HostGuard, insecure: bool) -> reqwest::Client {
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
pub(super) struct Prepared {
    pub(super) plan: MetricPlan,
    pub(super) metric: Metric,
    pub(super) provider: Box<dyn Provider>,
}

async fn reconcile(run: Arc<AnalysisRun>, shared: Arc<Shared>) -> Result<Action, AnalysisError> {
    let mut status = run.status.clone().unwrap_or_default();
    if status.phase.is_completed() {
        return collect(&shared, &run, &status).await;
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
            status.completed_at = Some(Time(now));
            write_status(&shared, &run, status.clone()).await?;
            finished(&shared, &run, &status).await;
            return collect(&shared, &run, &status).await;
        }
    };
    let plans: Vec<MetricPlan> = prepared.iter().map(|metric| metric.plan.clone()).collect();
    let mut results = round::carried_results(&plans, &status);
    let context = Context {
        client: &shared.client,
        run: &run,
        guard: &shared.settings.guard,
        http: &shared.http,
        insecure_http: &shared.insecure_http,
        tokens: &shared.tokens,
        sts: &shared.sts,
        secrets: &ClusterSecrets(shared.client.clone()),
        namespace: &shared.settings.namespace,
    };

    take_measurements(
        &shared,
        &context,
        &args,
        &prepared,
        &plans,
        &mut results,
        started,
        now,
    )
    .await;
    let before: Vec<AnalysisPhase> = status
        .metric_results
        .iter()
        .map(|result| result.phase)
        .collect();
    let (terminating, summary) = judge(&run.spec, &plans, &mut results);
    round::apply_summary(&mut status, summary, results);
    if status.phase.is_completed() {
        status.completed_at = Some(Time(Timestamp::now()));
    }
    write_status(&shared, &run, status.clone()).await?;
    announce_metrics(&shared, &run, &before, &status).await;
    if status.phase.is_completed() {
        finished(&shared, &run, &status).await;
        return collect(&shared, &run, &status).await;
    }
    Ok(Action::requeue(round::next_wake(
        &plans,
        &status.metric_results,
        started,
        Timestamp::now(),
        terminating,
    )))
}

/// Deletes a finished run whose `ttlStrategy` says its time is up, or looks again when it
/// will be (a run gone meanwhile needs nothing).
async fn collect(
    shared: &Shared,
    run: &AnalysisRun,
    status: &AnalysisRunStatus,
) -> Result<Action, AnalysisError> {
    match fate(&run.spec, status, Timestamp::now()) {
        Ttl::Keep => Ok(Action::await_change()),
        Ttl::Wait(left) => Ok(Action::requeue(left)),
        Ttl::Expired => {
            let api: Api<AnalysisRun> =
                Api::namespaced(shared.client.clone(), &run.namespace().unwrap_or_default());
            match api
                .delete(&run.name_any(), &DeleteParams::background())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(error)) if error.is_not_found() => {}
                Err(source) => {
                    return Err(AnalysisError::Delete {
                        run: run.name_any(),
                        source,
                    });
                }
            }
            tracing::info!(run = %run.name_any(), "deleted: its ttlStrategy expired");
            Ok(Action::await_change())
        }
    }
}

/// Whether the run is terminating, and its verdict on `results` (whose phases and messages
/// it sets).
fn judge(
    spec: &AnalysisRunSpec,
    plans: &[MetricPlan],
    results: &mut [MetricResult],
) -> (bool, summary::Summary) {
    let terminating = round::is_terminating(spec.terminate, plans, results);
    let summary = summarize(plans, results, terminating, spec.terminate);
    (terminating, summary)
}

/// What `ttlStrategy` says of a run in `status` at `now`.
fn fate(spec: &AnalysisRunSpec, status: &AnalysisRunStatus, now: Timestamp) -> Ttl {
    let completed = status.completed_at.as_ref().map(|time| time.0);
    ttl::ttl(spec.ttl_strategy.as_ref(), status.phase, completed, now)
}

/// Takes every due measurement and, once the run is terminating, stops in-flight ones.
#[allow(clippy::too_many_arguments)] // one reconcile's state, passed down once
async fn take_measurements(
    shared: &Shared,
    context: &Context<'_>,
    args: &Args,
    prepared: &[Prepared],
    plans: &[MetricPlan],
    results: &mut [MetricResult],
    started: Timestamp,
    now: Timestamp,
) {
    let terminating = round::is_terminating(context.run.spec.terminate, plans, results);
    let measurements = round::due_now(plans, results, started, now, terminating)
        .into_iter()
        .map(|index| {
            measure(
                shared,
                context,
                args,
                &prepared[index],
                &results[index],
                index,
            )
        });
    for (index, measurement) in futures::future::join_all(measurements).await {
        round::settle(&mut results[index], measurement, plans[index].retention);
    }
    if round::is_terminating(context.run.spec.terminate, plans, results) {
        for (metric, result) in prepared.iter().zip(results.iter_mut()) {
            if let Some(last) = round::in_flight(result).cloned() {
                let stopped = metric
                    .provider
                    .terminate(context, &metric.metric, &last)
                    .await;
                assess::complete_last(result, stopped, metric.plan.retention);
            }
        }
    }
}

/// Resolves arguments (reading Secrets), then prepares every metric.
async fn prepare(shared: &Shared, run: &AnalysisRun) -> Result<(Vec<Prepared>, Args), ArgsError> {
    let args = Args::resolve(&shared.client, run).await?;
    let prepared = prepare_metrics(&run.spec, &args, &shared.settings.guard)?;
    Ok((prepared, args))
}

/// Substitutes the arguments into each metric, reads it and checks its provider and target
/// host; every problem is collected (secret values redacted) into one Invalid error.
pub(super) fn prepare_metrics(
    spec: &AnalysisRunSpec,
    args: &Args,
    guard: &HostGuard,
) -> Result<Vec<Prepared>, ArgsError> {
    let mut problems = Vec::new();
    if spec.metrics.is_empty() {
        problems.push("the run has no metrics".to_owned());
    }
    problems.extend(
        spec.unmatched_rules()
            .into_iter()
            .map(|(_, problem)| problem),
    );
    let mut prepared = Vec::new();
    for metric in &spec.metrics {
        let substituted = match args.substitute(metric) {
            Ok(metric) => metric,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let (dry_run, retention) = options_of(spec, &metric.name);
        let plan = MetricPlan::read(&substituted, dry_run, retention)
            .map_err(|found| problems.extend(found));
        let provider = provider::for_metric(&substituted).map_err(|problem| problems.push(problem));
        if let Some(url) = target_url(&substituted)
            && let Err(problem) = guard.check(&url)
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
        Ok(prepared)
    } else {
        Err(ArgsError::Invalid(args.redact(&problems.join("; "))))
    }
}

/// Whether the metric `name` is a dry run, and the measurement retention that applies to it.
fn options_of(spec: &AnalysisRunSpec, name: &str) -> (bool, Option<i32>) {
    (spec.is_dry_run(name), spec.retention_of(name))
}

/// The URL a metric's spec names, checked against the allow-list when the run starts (the
/// hosted providers' addresses in Secrets are checked at each measurement).
fn target_url(metric: &Metric) -> Option<String> {
    let provider = &metric.provider;
    provider
        .prometheus
        .as_ref()
        .map(|prometheus| prometheus.address.clone())
        .or_else(|| provider.web.as_ref().map(|web| web.url.clone()))
        .or_else(|| {
            provider
                .skywalking
                .as_ref()
                .map(|skywalking| skywalking.address.clone())
        })
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
    let in_flight = round::in_flight(result);
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
    let measurement = round::measurement_of(outcome, &metric.plan, started_at, &now, |text| {
        args.redact(text)
    });
    if measurement.phase == AnalysisPhase::Error {
        tracing::info!(run = %context.run.name_any(), metric = %metric.plan.name, message = %measurement.message, "measurement error");
    }
    (index, measurement)
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
    for result in round::completed_since(before, status) {
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
mod tests;

#[cfg(test)]
mod coverage;
