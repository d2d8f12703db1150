//! One look at each metric of an AnalysisTemplate outside any Rollout (`tidegate analysis
//! test`): the template becomes a run in memory, its metrics are prepared as the controller
//! prepares a run's (arguments, provider checks, the allow-list), and each is measured once —
//! a Job's until it ends, within the timeout — and judged by its conditions. Nothing is
//! written to the cluster but a Job metric's Job, deleted once measured (or stopped).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Serialize;

use super::args::{Args, ArgsError};
use super::controller::{Prepared, http_client, prepare_metrics};
use super::guard::HostGuard;
use super::provider::secrets::ClusterSecrets;
use super::provider::{Context, StsCache, TokenCache};
use super::round;
use crate::k8s::crd::{
    AnalysisPhase, AnalysisRun, AnalysisRunSpec, AnalysisTemplateSpec, Argument, Measurement,
};

/// How a trial is run.
pub struct Setup {
    /// The cluster (Secrets for arguments and credentials, Jobs).
    pub client: kube::Client,
    /// The namespace of the run: its Secrets and Jobs.
    pub namespace: String,
    /// Where provider credentials' Secrets are read.
    pub secrets_namespace: String,
    /// The hosts metrics may reach.
    pub guard: HostGuard,
    /// How long a metric may take (a Job's), after which it is stopped.
    pub timeout: Duration,
}

/// One metric's measurement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// The metric.
    pub metric: String,
    /// Its provider.
    pub provider: &'static str,
    /// The measurement: phase, value, message.
    pub measurement: Measurement,
}

/// `template`'s metrics with `values` given for its arguments (replacing a default or a
/// Secret reference), as a run named `name` in `namespace`; an argument the template does
/// not have is an error.
pub fn run_of(
    template: &AnalysisTemplateSpec,
    values: &[(String, String)],
    name: &str,
    namespace: &str,
) -> Result<AnalysisRun, String> {
    let mut args: Vec<Argument> = template.args.clone();
    for (key, value) in values {
        let argument = args
            .iter_mut()
            .find(|argument| argument.name == *key)
            .ok_or_else(|| format!("the template has no argument {key:?}"))?;
        argument.value = Some(value.clone());
        argument.value_from = None;
    }
    let spec = AnalysisRunSpec {
        metrics: template.metrics.clone(),
        args,
        dry_run: template.dry_run.clone(),
        measurement_retention: template.measurement_retention.clone(),
        ..AnalysisRunSpec::default()
    };
    let mut run = AnalysisRun::new(name, spec);
    run.metadata.namespace = Some(namespace.to_owned());
    Ok(run)
}

/// Measures each metric of `run` once.
pub async fn measure(setup: &Setup, run: &AnalysisRun) -> Result<Vec<Verdict>, String> {
    let args = Args::resolve(&setup.client, run)
        .await
        .map_err(|error| match error {
            ArgsError::Invalid(problem) | ArgsError::Unavailable(problem) => problem,
        })?;
    let prepared =
        prepare_metrics(&run.spec, &args, &setup.guard).map_err(|error| match error {
            ArgsError::Invalid(problem) | ArgsError::Unavailable(problem) => problem,
        })?;
    let (http, insecure_http) = (
        http_client(&setup.guard, false),
        http_client(&setup.guard, true),
    );
    let (tokens, sts) = (TokenCache::default(), StsCache::default());
    let secrets = ClusterSecrets(setup.client.clone());
    let context = Context {
        client: &setup.client,
        run,
        guard: &setup.guard,
        http: &http,
        insecure_http: &insecure_http,
        tokens: &tokens,
        sts: &sts,
        secrets: &secrets,
        namespace: &setup.secrets_namespace,
    };
    let mut verdicts = Vec::new();
    for metric in &prepared {
        let measurement = measure_one(&context, metric, &args, setup.timeout).await;
        verdicts.push(Verdict {
            metric: metric.metric.name.clone(),
            provider: metric.provider.name(),
            measurement,
        });
    }
    Ok(verdicts)
}

/// One measurement of `metric`, looked at again while its provider says Running (a Job),
/// stopped when `timeout` passes.
async fn measure_one(
    context: &Context<'_>,
    metric: &Prepared,
    args: &Args,
    timeout: Duration,
) -> Measurement {
    let deadline = tokio::time::Instant::now() + timeout;
    let started_at = Time(Timestamp::now());
    let mut in_flight: Option<Measurement> = None;
    loop {
        let outcome = metric
            .provider
            .measure(context, &metric.metric, 0, in_flight.as_ref())
            .await;
        let measurement = round::measurement_of(
            outcome,
            &metric.plan,
            started_at.clone(),
            &Time(Timestamp::now()),
            |text| args.redact(text),
        );
        if measurement.phase != AnalysisPhase::Running {
            // What the provider made (a Job) goes: nothing owns it.
            let _ = metric
                .provider
                .terminate(context, &metric.metric, &measurement)
                .await;
            return measurement;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            let mut stopped = metric
                .provider
                .terminate(context, &metric.metric, &measurement)
                .await;
            stopped.phase = AnalysisPhase::Error;
            stopped.message = format!("still running after {}s: stopped", timeout.as_secs());
            return stopped;
        }
        let wait = measurement
            .resume_at
            .as_ref()
            .and_then(|at| Duration::try_from(at.0.duration_since(Timestamp::now())).ok())
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(200), Duration::from_secs(5))
            .min(deadline - now);
        tokio::time::sleep(wait).await;
        in_flight = Some(measurement);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template() -> AnalysisTemplateSpec {
        serde_json::from_value(json!({
            "args": [{"name": "service"}, {"name": "threshold", "value": "0.01"},
                     {"name": "token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            "metrics": [{"name": "errors", "provider": {"web": {"url": "http://127.0.0.1:9/{{args.service}}"}}}],
            "dryRun": [{"metricName": "errors"}]
        }))
        .expect("a template")
    }

    #[test]
    fn given_values_replace_defaults_and_secret_references() {
        let values = [
            ("service".to_owned(), "web".to_owned()),
            ("token".to_owned(), "t".to_owned()),
        ];
        let run = run_of(&template(), &values, "trial", "shop").expect("a run");
        assert_eq!(run.metadata.name.as_deref(), Some("trial"));
        assert_eq!(run.metadata.namespace.as_deref(), Some("shop"));
        let args: Vec<(String, Option<String>, bool)> = run
            .spec
            .args
            .iter()
            .map(|argument| {
                (
                    argument.name.clone(),
                    argument.value.clone(),
                    argument.value_from.is_some(),
                )
            })
            .collect();
        assert_eq!(
            args,
            [
                ("service".to_owned(), Some("web".to_owned()), false),
                ("threshold".to_owned(), Some("0.01".to_owned()), false),
                ("token".to_owned(), Some("t".to_owned()), false),
            ]
        );
        assert_eq!(run.spec.metrics, template().metrics);
        assert_eq!(run.spec.dry_run, template().dry_run);
        assert_eq!(
            run_of(
                &template(),
                &[("nope".to_owned(), "x".to_owned())],
                "t",
                "n"
            ),
            Err("the template has no argument \"nope\"".to_owned())
        );
    }
}
