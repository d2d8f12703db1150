//! The Wavefront provider (VMware Aria Operations for Applications), as Argo's: `GET
//! https://<address>/api/v2/chart/api` asks for `query` at the measurement's second (`s` and
//! `e` both that second in milliseconds, second granularity, one point per series, series
//! outside the window included), and takes, for each series, the point nearest that second —
//! a number for one series, a list for several.
//!
//! Credentials: the Secret `wavefront-api-tokens` in the daemon's namespace, whose key named
//! exactly as `address` holds the API token, sent as `Authorization: Bearer`.
//!
//! `address` is a host (and port), put after `https://` as Argo does; one that already has a
//! scheme (`http://127.0.0.1:8080`) is used as given, which is how the tests reach a local
//! recorder. Where Argo differs: a series without points is NaN here (0 in Argo); an answer
//! without series is no data (an Error in Argo), but one with Wavefront's `errorMessage` (or
//! `errorType`) is an Error naming it; the time and drift of the points taken, which Argo
//! keeps in the measurement's metadata, are not kept; go-wavefront's `false` flags
//! (`autoEvents`, `includeObsoleteMetrics`, `listmode`, `strict`, Wavefront's defaults) are not
//! sent.

use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::Url;
use serde_json::Value;

use super::request::{self, Request};
use super::secrets;
use super::{Context, Outcome, Provider};
use crate::analysis::condition::MetricValue;
use crate::k8s::crd::{Measurement, Metric, WavefrontMetric};

/// The Secret whose keys are Wavefront addresses and whose values are their API tokens.
const SECRET: &str = "wavefront-api-tokens";

/// The chart API, below the address.
const PATH: &str = "/api/v2/chart/api";

/// How long a measurement may take, retries included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Measures with Wavefront.
pub struct WavefrontProvider;

/// Why `spec` cannot be measured, if it cannot.
pub fn check(spec: &WavefrontMetric) -> Result<(), String> {
    if spec.address.trim().is_empty() {
        return Err("wavefront.address is not set".to_owned());
    }
    if spec.query.trim().is_empty() {
        return Err("wavefront.query is not set".to_owned());
    }
    endpoint(&spec.address).map(|_| ())
}

/// The chart API of `address`: `https://<address>` unless it names its scheme; a host and
/// port only (a path, a query or credentials in it are refused).
fn endpoint(address: &str) -> Result<Url, String> {
    let address = address.trim();
    let base = if address.contains("://") {
        address.to_owned()
    } else {
        format!("https://{address}")
    };
    let parsed = Url::parse(&base)
        .map_err(|error| format!("wavefront.address {address:?} is not a host: {error}"))?;
    let host_only = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some()
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.path() == "/"
        && parsed.query().is_none()
        && parsed.fragment().is_none();
    if !host_only {
        return Err(format!(
            "wavefront.address {address:?} must be a host and port, like example.wavefront.com"
        ));
    }
    request::url(&base, PATH)
}

/// The token for `spec`'s address, from the Secret in the daemon's namespace.
async fn token(context: &Context<'_>, spec: &WavefrontMetric) -> Result<String, String> {
    let keys = context.secrets.read(context.namespace, SECRET).await?;
    secrets::value(&keys, &spec.address)
        .map(ToOwned::to_owned)
        .ok_or_else(|| format!("Secret {SECRET} has no token for {}", spec.address))
}

/// The request for `spec` at `now` (to the second), carrying `token`.
pub fn shape(spec: &WavefrontMetric, token: &str, now: jiff::Timestamp) -> Result<Request, String> {
    let mut url = endpoint(&spec.address)?;
    let at = now.as_second().saturating_mul(1000).to_string();
    url.query_pairs_mut()
        .append_pair("e", &at)
        .append_pair("g", "s")
        .append_pair("i", "true")
        .append_pair("p", "1")
        .append_pair("q", &spec.query)
        .append_pair("s", &at);
    Ok(Request::get(url)
        .header("accept", "application/json")
        .header("authorization", format!("Bearer {token}")))
}

/// Wavefront's own error in a 200 answer, if it has one.
fn error_in(body: &Value) -> Option<String> {
    let text = |key: &str| match body.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => Some(other.to_string()),
    };
    let message = text("errorMessage");
    let kind = text("errorType");
    if message.is_none() && kind.is_none() {
        return None;
    }
    let message = request::excerpt(message.as_deref().unwrap_or("no message"), 300);
    Some(match kind {
        Some(kind) => format!("Wavefront query failed ({kind}): {message}"),
        None => format!("Wavefront query failed: {message}"),
    })
}

/// The value of the point of `series` whose time (seconds) is nearest `at`, the first of
/// equally near ones; NaN when it has none (or its value is `null`).
fn nearest(series: &Value, at: f64) -> Result<f64, String> {
    let points = match series.get("data") {
        None | Some(Value::Null) => return Ok(f64::NAN),
        Some(Value::Array(points)) => points,
        Some(_) => return Err("Wavefront's series has data that is not a list".to_owned()),
    };
    let mut best: Option<(f64, f64)> = None;
    for point in points {
        let Some([time, value]) = point.as_array().map(Vec::as_slice) else {
            return Err(format!("Wavefront's point {point} is not [time, value]"));
        };
        let time = time
            .as_f64()
            .ok_or_else(|| format!("Wavefront's point time {time} is not a number"))?;
        let value = match value {
            Value::Null => f64::NAN,
            other => other
                .as_f64()
                .ok_or_else(|| format!("Wavefront value {other} is not a number"))?,
        };
        let distance = (time - at).abs();
        if best.is_none_or(|(closest, _)| distance < closest) {
            best = Some((distance, value));
        }
    }
    Ok(best.map_or(f64::NAN, |(_, value)| value))
}

/// The result of a chart answer at `now`: per series the point nearest `now` — a number for
/// one series, a list for several, no data for none; Wavefront's `errorMessage` is an error.
pub fn read_chart(body: &str, now: jiff::Timestamp) -> Result<MetricValue, String> {
    let body: Value = serde_json::from_str(body)
        .map_err(|error| format!("Wavefront's answer is not JSON: {error}"))?;
    if let Some(error) = error_in(&body) {
        return Err(error);
    }
    let series = match body.get("timeseries") {
        None | Some(Value::Null) => return Ok(MetricValue::Nil),
        Some(Value::Array(series)) => series,
        Some(_) => return Err("Wavefront's answer has timeseries that is not a list".to_owned()),
    };
    // Epoch seconds are far below 2^53: exact as a float.
    #[allow(clippy::cast_precision_loss)]
    let at = now.as_second() as f64;
    let values = series
        .iter()
        .map(|one| nearest(one, at))
        .collect::<Result<Vec<f64>, String>>()?;
    Ok(match values.as_slice() {
        [] => MetricValue::Nil,
        [one] => MetricValue::Scalar(*one),
        _ => MetricValue::Vector(values),
    })
}

/// What an answer to a request made at `now` means: the result of a 200, else an error naming
/// the status.
pub fn read(answer: &request::Answer, now: jiff::Timestamp) -> Result<MetricValue, String> {
    if answer.status != reqwest::StatusCode::OK {
        return Err(format!(
            "Wavefront answered {}: {}",
            answer.status,
            request::excerpt(&answer.body, 200)
        ));
    }
    read_chart(&answer.body, now)
}

impl Provider for WavefrontProvider {
    fn name(&self) -> &'static str {
        "wavefront"
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
                .wavefront
                .as_ref()
                .ok_or_else(|| "not a Wavefront metric".to_owned())?;
            let deadline = tokio::time::Instant::now() + TIMEOUT;
            super::with_timeout(TIMEOUT, "Wavefront query", async {
                let token = token(context, spec).await?;
                let now = jiff::Timestamp::now();
                let request = shape(spec, &token, now)?;
                let answer = request::exchange(context, &request, deadline).await?;
                read(&answer, now).map(Outcome::Value)
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests;
