//! The Kayenta provider, as Argo's: a canary analysis started at Kayenta and looked at again
//! until judged. The first look finds the canary config's id by name
//! (`GET /canaryConfig?application=…&configurationAccountName=…`) and starts an execution
//! (`POST /canary/<id>?application=…&metricsAccountName=…&configurationAccountName=…&storageAccountName=…`
//! with the scopes and thresholds); its `canaryExecutionId` is kept in the measurement's
//! metadata, so a restarted daemon looks at the same execution. Later looks
//! (`GET /canary/<execution>`, every 15 s) wait for `complete`; the score
//! (`result.judgeResult.score.score`, cut to an integer) decides: at least `threshold.pass`
//! Successful, at least `threshold.marginal` Inconclusive, else Failed. The metric's
//! conditions are not used, as in Argo.
//!
//! The request shaping and the answers' reading are pure; [`KayentaProvider`] sends.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::request::{self, Request};
use super::{Context, Outcome, Provider};
use crate::k8s::crd::{KayentaMetric, Measurement, Metric, ScopeDetail};
use crate::model::AnalysisPhase;

/// The metadata key of the execution being judged.
pub const EXECUTION: &str = "canaryExecutionId";

/// How long to wait between looks at an execution (Argo's).
const LOOK_AGAIN: Duration = Duration::from_secs(15);

/// How long one look may take, retries included (Argo's client timeout).
const TIMEOUT: Duration = Duration::from_secs(15);

/// Measures with Kayenta.
pub struct KayentaProvider;

/// Why `spec` cannot be measured, if it cannot.
pub fn check(spec: &KayentaMetric) -> Result<(), String> {
    request::url(&spec.address, "/")?;
    for (field, value) in [
        ("application", &spec.application),
        ("canaryConfigName", &spec.canary_config_name),
        ("metricsAccountName", &spec.metrics_account_name),
        ("configurationAccountName", &spec.configuration_account_name),
        ("storageAccountName", &spec.storage_account_name),
    ] {
        if value.trim().is_empty() {
            return Err(format!("kayenta.{field} is empty"));
        }
    }
    let threshold = &spec.threshold;
    if !(0..=threshold.pass).contains(&threshold.marginal) || threshold.pass > 100 {
        return Err(format!(
            "kayenta.threshold: need 0 <= marginal ({}) <= pass ({}) <= 100",
            threshold.marginal, threshold.pass
        ));
    }
    if spec.scopes.is_empty() {
        return Err("kayenta.scopes is empty".to_owned());
    }
    for (index, scope) in spec.scopes.iter().enumerate() {
        if scope.name.trim().is_empty() {
            return Err(format!("kayenta.scopes[{index}].name is empty"));
        }
        for (side, detail) in [
            ("controlScope", &scope.control_scope),
            ("experimentScope", &scope.experiment_scope),
        ] {
            let at = format!("kayenta.scopes[{index}].{side}");
            if detail.scope.trim().is_empty() {
                return Err(format!("{at}.scope is empty"));
            }
            if detail.step <= 0 {
                return Err(format!("{at}.step must be a positive number of seconds"));
            }
            for (field, time) in [("start", &detail.start), ("end", &detail.end)] {
                time.parse::<jiff::Timestamp>()
                    .map_err(|_| format!("{at}.{field} {time:?} is not an RFC 3339 time"))?;
            }
        }
    }
    Ok(())
}

/// The request that lists the application's canary configs.
pub fn configs_request(spec: &KayentaMetric) -> Result<Request, String> {
    let mut url = request::url(&spec.address, "/canaryConfig")?;
    url.query_pairs_mut()
        .append_pair("application", &spec.application)
        .append_pair("configurationAccountName", &spec.configuration_account_name);
    Ok(Request::get(url).header("accept", "application/json"))
}

/// The id of the config named `spec.canaryConfigName` in a `/canaryConfig` answer.
pub fn config_id(spec: &KayentaMetric, body: &str) -> Result<String, String> {
    let configs: Vec<Value> = serde_json::from_str(body)
        .map_err(|error| format!("Kayenta's canary configs are not a JSON list: {error}"))?;
    configs
        .iter()
        .find(|config| config["name"] == spec.canary_config_name.as_str())
        .and_then(|config| config["id"].as_str())
        .filter(|id| !id.is_empty())
        .map(ToOwned::to_owned)
        .ok_or_else(|| {
            format!(
                "Kayenta has no canary config named {:?} for application {:?}",
                spec.canary_config_name, spec.application
            )
        })
}

/// One side of a scope as Kayenta takes it.
fn scope_detail(detail: &ScopeDetail) -> Value {
    json!({"scope": detail.scope, "region": detail.region, "step": detail.step,
           "start": detail.start, "end": detail.end})
}

/// The request that starts an execution of config `id`.
pub fn start_request(spec: &KayentaMetric, id: &str) -> Result<Request, String> {
    let mut url = request::url(&spec.address, "/canary/")?;
    url.path_segments_mut()
        .map_err(|()| "kayenta.address cannot take a path".to_owned())?
        .pop_if_empty()
        .push(id);
    url.query_pairs_mut()
        .append_pair("application", &spec.application)
        .append_pair("metricsAccountName", &spec.metrics_account_name)
        .append_pair("configurationAccountName", &spec.configuration_account_name)
        .append_pair("storageAccountName", &spec.storage_account_name);
    let scopes: Map<String, Value> = spec
        .scopes
        .iter()
        .map(|scope| {
            (
                scope.name.clone(),
                json!({"controlScope": scope_detail(&scope.control_scope),
                       "experimentScope": scope_detail(&scope.experiment_scope)}),
            )
        })
        .collect();
    let body = json!({"scopes": scopes,
        "thresholds": {"pass": spec.threshold.pass, "marginal": spec.threshold.marginal}});
    Ok(Request::post_json(url, &body).header("accept", "application/json"))
}

/// The execution id in a start answer.
pub fn execution_id(body: &str) -> Result<String, String> {
    let body: Value = serde_json::from_str(body)
        .map_err(|error| format!("Kayenta's answer is not JSON: {error}"))?;
    body[EXECUTION]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(ToOwned::to_owned)
        .ok_or_else(|| format!("Kayenta's answer has no {EXECUTION}"))
}

/// The request that looks at execution `id`.
pub fn status_request(spec: &KayentaMetric, id: &str) -> Result<Request, String> {
    let mut url = request::url(&spec.address, "/canary/")?;
    url.path_segments_mut()
        .map_err(|()| "kayenta.address cannot take a path".to_owned())?
        .pop_if_empty()
        .push(id);
    Ok(Request::get(url).header("accept", "application/json"))
}

/// What an execution's status means: `None` while it runs, else the phase, the score and a
/// message.
pub fn judgement(
    spec: &KayentaMetric,
    body: &str,
) -> Result<Option<(AnalysisPhase, i64, String)>, String> {
    let body: Value = serde_json::from_str(body)
        .map_err(|error| format!("Kayenta's answer is not JSON: {error}"))?;
    let complete = body["complete"]
        .as_bool()
        .ok_or("Kayenta's answer has no complete status")?;
    if !complete {
        return Ok(None);
    }
    let Some(score) = body
        .pointer("/result/judgeResult/score/score")
        .and_then(Value::as_f64)
    else {
        let why = body["exception"]["details"]["error"]
            .as_str()
            .or_else(|| body["exception"]["message"].as_str())
            .or_else(|| body["status"].as_str())
            .unwrap_or("no score");
        return Err(format!(
            "Kayenta's execution ended without a score: {}",
            request::excerpt(why, 300)
        ));
    };
    // Cut toward zero, as Argo does; a score is 0–100.
    #[allow(clippy::cast_possible_truncation)]
    let score = score.trunc() as i64;
    let (pass, marginal) = (spec.threshold.pass, spec.threshold.marginal);
    let phase = if score >= pass {
        AnalysisPhase::Successful
    } else if score >= marginal {
        AnalysisPhase::Inconclusive
    } else {
        AnalysisPhase::Failed
    };
    Ok(Some((
        phase,
        score,
        format!("score {score} (pass {pass}, marginal {marginal})"),
    )))
}

/// `answer` if it is a 200, else an error naming the status and `what`.
fn ok(answer: request::Answer, what: &str) -> Result<String, String> {
    if answer.status == reqwest::StatusCode::OK {
        Ok(answer.body)
    } else {
        Err(format!(
            "Kayenta answered {} to {what}: {}",
            answer.status,
            request::excerpt(&answer.body, 200)
        ))
    }
}

/// Starts an execution; returns its id.
async fn start(context: &Context<'_>, spec: &KayentaMetric) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let configs = request::exchange(context, &configs_request(spec)?, deadline).await?;
    let id = config_id(spec, &ok(configs, "the canary config lookup")?)?;
    let started = request::exchange(context, &start_request(spec, &id)?, deadline).await?;
    execution_id(&ok(started, "the canary's start")?)
}

impl Provider for KayentaProvider {
    fn name(&self) -> &'static str {
        "kayenta"
    }

    fn measure<'a>(
        &'a self,
        context: &'a Context<'a>,
        metric: &'a Metric,
        _index: usize,
        in_flight: Option<&'a Measurement>,
    ) -> BoxFuture<'a, Result<Outcome, String>> {
        Box::pin(async move {
            let spec = metric
                .provider
                .kayenta
                .as_ref()
                .ok_or_else(|| "not a Kayenta metric".to_owned())?;
            let running = in_flight.and_then(|measurement| measurement.metadata.get(EXECUTION));
            super::with_timeout(TIMEOUT, "Kayenta request", async {
                let execution = match running {
                    Some(execution) => execution.clone(),
                    None => start(context, spec).await?,
                };
                let metadata = BTreeMap::from([(EXECUTION.to_owned(), execution.clone())]);
                if running.is_none() {
                    return Ok(Outcome::Verdict {
                        phase: AnalysisPhase::Running,
                        value: String::new(),
                        message: String::new(),
                        metadata,
                        resume_after: Some(LOOK_AGAIN),
                    });
                }
                let deadline = tokio::time::Instant::now() + TIMEOUT;
                let status =
                    request::exchange(context, &status_request(spec, &execution)?, deadline)
                        .await?;
                Ok(
                    match judgement(spec, &ok(status, "the canary's status")?)? {
                        None => Outcome::Verdict {
                            phase: AnalysisPhase::Running,
                            value: String::new(),
                            message: String::new(),
                            metadata,
                            resume_after: Some(LOOK_AGAIN),
                        },
                        Some((phase, score, message)) => Outcome::Verdict {
                            phase,
                            value: score.to_string(),
                            message,
                            metadata,
                            resume_after: None,
                        },
                    },
                )
            })
            .await
        })
    }

    fn terminate<'a>(
        &'a self,
        _context: &'a Context<'a>,
        _metric: &'a Metric,
        measurement: &'a Measurement,
    ) -> BoxFuture<'a, Measurement> {
        // Kayenta has no way to stop an execution; it ends on its own, unread.
        Box::pin(async move { super::job::terminated(measurement, jiff::Timestamp::now()) })
    }
}

#[cfg(test)]
mod tests;
