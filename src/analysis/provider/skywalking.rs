//! The Apache SkyWalking provider, as Argo's: the GraphQL `query` posted to the OAP server's
//! `{address}/graphql` with one variable, `duration` — from `interval` ago to now, in UTC, to
//! the minute (`YYYY-MM-DD HHMM`, step `MINUTE`) — and GraphQL's `data` object as `result`,
//! keyed by the query's fields or aliases (`result.service_apdex.values.values`).
//!
//! No credentials (Argo sends none). `interval` is required, as in practice it is in Argo.
//!
//! Where Argo makes an answer without `data` an Error, tidegate reads no data (so the rules for
//! empty results apply); 429 and 5xx are asked again within the measurement's 30 s (Argo's
//! timeout); every GraphQL error is reported, not the first only.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::request::{self, Request};
use super::{Context, Outcome, Provider};
use crate::analysis::condition::MetricValue;
use crate::k8s::crd::{Measurement, Metric, SkyWalkingMetric};

/// How long a measurement may take, retries included (Argo's `defaultQueryTimeout`).
const TIMEOUT: Duration = Duration::from_secs(30);

/// How SkyWalking reads a minute: `2006-01-02 1504` in Go's words.
const MINUTE_FORMAT: &str = "%Y-%m-%d %H%M";

/// Measures with SkyWalking.
pub struct SkyWalkingProvider;

/// Why `spec` cannot be measured, if it cannot.
pub fn check(spec: &SkyWalkingMetric) -> Result<(), String> {
    if spec.address.trim().is_empty() {
        return Err("skywalking.address is required".to_owned());
    }
    endpoint(spec)?;
    if spec.query.trim().is_empty() {
        return Err("skywalking.query is required".to_owned());
    }
    interval(spec).map(|_| ())
}

/// Where the query goes.
fn endpoint(spec: &SkyWalkingMetric) -> Result<reqwest::Url, String> {
    request::url(&spec.address, "/graphql").map_err(|error| format!("skywalking.{error}"))
}

/// How far back `duration` starts.
fn interval(spec: &SkyWalkingMetric) -> Result<Duration, String> {
    if spec.interval.is_empty() {
        return Err("skywalking.interval is required (how far back the query looks)".to_owned());
    }
    crate::model::parse_go_duration(&spec.interval)
        .map_err(|error| format!("skywalking.interval: {error}"))
        .and_then(|interval| {
            if interval.is_zero() {
                Err("skywalking.interval must be more than 0".to_owned())
            } else {
                Ok(interval)
            }
        })
}

/// The request for `spec` at `now`.
pub fn shape(spec: &SkyWalkingMetric, now: jiff::Timestamp) -> Result<Request, String> {
    let start = now
        .checked_sub(interval(spec)?)
        .map_err(|_| format!("skywalking.interval {:?} is too long", spec.interval))?;
    let body = json!({
        "query": spec.query,
        "variables": {"duration": {
            "start": start.strftime(MINUTE_FORMAT).to_string(),
            "end": now.strftime(MINUTE_FORMAT).to_string(),
            "step": "MINUTE",
        }},
    });
    Ok(Request::post_json(endpoint(spec)?, &body).header("accept", "application/json"))
}

/// The result of a GraphQL answer: its `data` object; no data when it has none.
pub fn read_data(body: &str) -> Result<MetricValue, String> {
    let body: Value = serde_json::from_str(body)
        .map_err(|error| format!("SkyWalking's answer is not JSON: {error}"))?;
    if let Some(errors) = request::graphql_errors(&body) {
        return Err(format!("SkyWalking query failed: {errors}"));
    }
    match body.get("data") {
        None | Some(Value::Null) => Ok(MetricValue::Nil),
        Some(Value::Object(data)) if data.is_empty() => Ok(MetricValue::Nil),
        Some(data @ Value::Object(_)) => Ok(MetricValue::Json(data.clone())),
        Some(_) => Err("SkyWalking's answer has data that is not an object".to_owned()),
    }
}

/// What an answer means: the result of a 200, else an error naming the status and
/// SkyWalking's own message.
pub fn read(answer: &request::Answer) -> Result<MetricValue, String> {
    if answer.status != reqwest::StatusCode::OK {
        let detail = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|body| request::graphql_errors(&body))
            .unwrap_or_else(|| request::excerpt(&answer.body, 200));
        return Err(format!("SkyWalking answered {}: {detail}", answer.status));
    }
    read_data(&answer.body)
}

impl Provider for SkyWalkingProvider {
    fn name(&self) -> &'static str {
        "skywalking"
    }

    fn measure<'a>(
        &'a self,
        context: &'a Context<'a>,
        metric: &'a Metric,
        _index: usize,
        _in_flight: Option<&'a Measurement>,
    ) -> BoxFuture<'a, Result<Outcome, String>> {
        Box::pin(async move {
            let spec = metric
                .provider
                .skywalking
                .as_ref()
                .ok_or_else(|| "not a SkyWalking metric".to_owned())?;
            let deadline = tokio::time::Instant::now() + TIMEOUT;
            super::with_timeout(TIMEOUT, "SkyWalking query", async {
                let request = shape(spec, jiff::Timestamp::now())?;
                let answer = request::exchange(context, &request, deadline).await?;
                read(&answer).map(Outcome::Value)
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests;
