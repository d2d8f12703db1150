//! The Datadog provider, as Argo's: `apiVersion: v1` asks `GET /api/v1/query` over the last
//! `interval` and takes the last point of the first series; `v2` posts a scalar query
//! (`/api/v2/query/scalar`) — `query`, or named `queries` with a `formula` — reduced by
//! `aggregator`, and takes the value (one per group when grouped).
//!
//! Credentials: the Secret `secretRef` names (in the run's namespace when `namespaced`), else
//! `DD_API_KEY`, `DD_APP_KEY` and `DD_ADDRESS` in the daemon's environment, else the Secret
//! `datadog` in the daemon's namespace — keys `api-key`, `app-key`, `address` (default
//! `https://api.datadoghq.com`).
//!
//! Where Argo reads a `null` point as 0, tidegate reads NaN (so the NaN rules apply); an empty
//! answer is no data; Datadog's `errors` are reported wherever they appear.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::request::{self, Request};
use super::secrets::{self, Keys};
use super::{Context, Outcome, Provider, sigv4};
use crate::analysis::condition::MetricValue;
use crate::k8s::crd::{DatadogMetric, Measurement, Metric};

/// Where Datadog is unless the credentials say otherwise.
const DEFAULT_ADDRESS: &str = "https://api.datadoghq.com";

/// The Secret read when a metric names none.
const DEFAULT_SECRET: &str = "datadog";

/// How far back a query looks unless `interval` says otherwise (Argo's default).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// How long a measurement may take, retries included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The aggregators `/api/v2/query/scalar` knows.
const AGGREGATORS: &[&str] = &[
    "avg",
    "min",
    "max",
    "sum",
    "last",
    "mean",
    "l2norm",
    "area",
    "percentile",
];

/// Measures with Datadog.
pub struct DatadogProvider;

/// Why `spec` cannot be measured, if it cannot (Argo's rules).
pub fn check(spec: &DatadogMetric) -> Result<(), String> {
    let v2 = match spec.api_version.as_str() {
        "" | "v1" => false,
        "v2" => true,
        other => return Err(format!("datadog.apiVersion {other:?} is not v1 or v2")),
    };
    if spec.query.is_empty() == spec.queries.is_empty() {
        return Err("datadog: set either query or queries".to_owned());
    }
    if !v2 {
        if !spec.queries.is_empty() || !spec.formula.is_empty() {
            return Err("datadog: queries and formula need apiVersion v2".to_owned());
        }
        if !spec.aggregator.is_empty() {
            return Err("datadog: aggregator needs apiVersion v2".to_owned());
        }
    }
    if !spec.formula.is_empty() && spec.queries.is_empty() {
        return Err("datadog: a formula needs queries".to_owned());
    }
    if spec.queries.len() > 1 && spec.formula.is_empty() {
        return Err("datadog: several queries need a formula".to_owned());
    }
    if !spec.aggregator.is_empty() && !AGGREGATORS.contains(&spec.aggregator.as_str()) {
        return Err(format!(
            "datadog.aggregator {:?} is not one of {}",
            spec.aggregator,
            AGGREGATORS.join(", ")
        ));
    }
    if let Some(reference) = &spec.secret_ref
        && reference.namespaced
        && reference.name.is_empty()
    {
        return Err("datadog.secretRef: namespaced needs a name".to_owned());
    }
    interval(spec).map(|_| ())
}

/// How far back the query looks.
fn interval(spec: &DatadogMetric) -> Result<Duration, String> {
    if spec.interval.is_empty() {
        return Ok(DEFAULT_INTERVAL);
    }
    crate::model::parse_go_duration(&spec.interval)
        .map_err(|error| format!("datadog.interval: {error}"))
        .and_then(|interval| {
            if interval.is_zero() {
                Err("datadog.interval must be more than 0".to_owned())
            } else {
                Ok(interval)
            }
        })
}

/// Datadog credentials.
#[derive(Clone, PartialEq)]
pub struct Credentials {
    address: String,
    api_key: String,
    app_key: String,
}

impl Credentials {
    fn from_keys(keys: &Keys, secret: &str) -> Result<Self, String> {
        Ok(Self {
            address: secrets::value(keys, "address")
                .unwrap_or(DEFAULT_ADDRESS)
                .to_owned(),
            api_key: secrets::required(keys, "api-key", secret)?.to_owned(),
            app_key: secrets::required(keys, "app-key", secret)?.to_owned(),
        })
    }
}

/// The credentials for `spec`, found as Argo finds them.
async fn credentials(
    context: &Context<'_>,
    spec: &DatadogMetric,
    var: sigv4::Env<'_>,
) -> Result<Credentials, String> {
    let named = spec
        .secret_ref
        .as_ref()
        .filter(|reference| !reference.name.is_empty());
    if let Some(reference) = named {
        let run_namespace = kube::ResourceExt::namespace(context.run).unwrap_or_default();
        let namespace = if reference.namespaced {
            run_namespace.as_str()
        } else {
            context.namespace
        };
        let keys = context.secrets.read(namespace, &reference.name).await?;
        return Credentials::from_keys(&keys, &reference.name);
    }
    if let (Some(api_key), Some(app_key), Some(address)) =
        (var("DD_API_KEY"), var("DD_APP_KEY"), var("DD_ADDRESS"))
    {
        return Ok(Credentials {
            address,
            api_key,
            app_key,
        });
    }
    let keys = context
        .secrets
        .read(context.namespace, DEFAULT_SECRET)
        .await?;
    Credentials::from_keys(&keys, DEFAULT_SECRET)
}

/// The request for `spec` at `now` (seconds), signed by `credentials`' keys.
pub fn shape(
    spec: &DatadogMetric,
    credentials: &Credentials,
    now: jiff::Timestamp,
) -> Result<Request, String> {
    let to = now.as_second();
    let lookback = i64::try_from(interval(spec)?.as_secs()).unwrap_or(i64::MAX);
    let from = to.saturating_sub(lookback);
    let request = if spec.api_version == "v2" {
        let queries: BTreeMap<&str, &str> = if spec.queries.is_empty() {
            BTreeMap::from([("query", spec.query.as_str())])
        } else {
            spec.queries
                .iter()
                .map(|(name, query)| (name.as_str(), query.as_str()))
                .collect()
        };
        let aggregator = if spec.aggregator.is_empty() {
            "last"
        } else {
            &spec.aggregator
        };
        let queries: Vec<Value> = queries
            .into_iter()
            .map(|(name, query)| {
                json!({"aggregator": aggregator, "data_source": "metrics", "name": name, "query": query})
            })
            .collect();
        let formulas: Vec<Value> = if spec.formula.is_empty() {
            Vec::new()
        } else {
            vec![json!({"formula": spec.formula})]
        };
        let body = json!({"data": {"attributes": {
            "formulas": formulas, "from": from.saturating_mul(1000), "queries": queries,
            "to": to.saturating_mul(1000)}, "type": "scalar_request"}});
        Request::post_json(
            request::url(&credentials.address, "/api/v2/query/scalar")?,
            &body,
        )
    } else {
        let mut url = request::url(&credentials.address, "/api/v1/query")?;
        url.query_pairs_mut()
            .append_pair("from", &from.to_string())
            .append_pair("query", &spec.query)
            .append_pair("to", &to.to_string());
        Request::get(url)
    };
    Ok(request
        .header("accept", "application/json")
        .header("dd-api-key", credentials.api_key.clone())
        .header("dd-application-key", credentials.app_key.clone()))
}

/// Datadog's `errors` (a list of texts) in `body`, joined, if any.
fn errors_in(body: &Value) -> Option<String> {
    let errors: Vec<String> = body
        .get("errors")
        .or_else(|| body.pointer("/data/errors"))
        .into_iter()
        .flat_map(|errors| match errors {
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map_or_else(|| item.to_string(), ToOwned::to_owned)
                })
                .collect(),
            Value::String(text) if !text.is_empty() => vec![text.clone()],
            _ => Vec::new(),
        })
        .collect();
    (!errors.is_empty()).then(|| request::excerpt(&errors.join("; "), 300))
}

/// A point's value: a number, or NaN for `null`.
fn point(value: &Value) -> Result<f64, String> {
    match value {
        Value::Null => Ok(f64::NAN),
        other => other
            .as_f64()
            .ok_or_else(|| format!("Datadog value {other} is not a number")),
    }
}

/// The result of a `/api/v1/query` answer: the last point of the first series, no data when
/// there is none.
pub fn read_v1(body: &str) -> Result<MetricValue, String> {
    let body: Value = serde_json::from_str(body)
        .map_err(|error| format!("Datadog's answer is not JSON: {error}"))?;
    if body["status"] == "error" {
        let message = body["error"].as_str().unwrap_or("no message");
        return Err(format!(
            "Datadog query failed: {}",
            request::excerpt(message, 300)
        ));
    }
    if let Some(errors) = errors_in(&body) {
        return Err(format!("Datadog query failed: {errors}"));
    }
    let series = match &body["series"] {
        Value::Null => return Ok(MetricValue::Nil),
        Value::Array(series) => series,
        _ => return Err("Datadog's answer has a series that is not a list".to_owned()),
    };
    let Some(points) = series.first().map(|first| &first["pointlist"]) else {
        return Ok(MetricValue::Nil);
    };
    let points = match points {
        Value::Null => return Ok(MetricValue::Nil),
        Value::Array(points) => points,
        _ => return Err("Datadog's series has a pointlist that is not a list".to_owned()),
    };
    let Some(last) = points.last() else {
        return Ok(MetricValue::Nil);
    };
    match last.as_array().map(Vec::as_slice) {
        Some([_, value]) => point(value).map(MetricValue::Scalar),
        _ => Err("Datadog's point does not have 2 values".to_owned()),
    }
}

/// The result of a `/api/v2/query/scalar` answer: the first number column's value, or its
/// values in group order when the query is grouped (`by {…}`); no data when it has none.
pub fn read_v2(body: &str) -> Result<MetricValue, String> {
    let body: Value = serde_json::from_str(body)
        .map_err(|error| format!("Datadog's answer is not JSON: {error}"))?;
    if let Some(errors) = errors_in(&body) {
        return Err(format!("Datadog query failed: {errors}"));
    }
    let columns = match body.pointer("/data/attributes/columns") {
        None | Some(Value::Null) => return Ok(MetricValue::Nil),
        Some(Value::Array(columns)) => columns,
        Some(_) => return Err("Datadog's answer has columns that are not a list".to_owned()),
    };
    let kind = |column: &Value| column["type"].as_str().unwrap_or("number").to_owned();
    let grouped = columns.iter().any(|column| kind(column) == "group");
    let Some(numbers) = columns.iter().find(|column| kind(column) == "number") else {
        return Ok(MetricValue::Nil);
    };
    let values = match &numbers["values"] {
        Value::Null => return Ok(MetricValue::Nil),
        Value::Array(values) => values
            .iter()
            .map(point)
            .collect::<Result<Vec<f64>, String>>()?,
        _ => return Err("Datadog's column has values that are not a list".to_owned()),
    };
    Ok(match (grouped, values.as_slice()) {
        (_, []) => MetricValue::Nil,
        (false, [first, ..]) => MetricValue::Scalar(*first),
        (true, _) => MetricValue::Vector(values),
    })
}

/// What an answer means: the result of a 200, else an error naming the status and Datadog's
/// own message.
pub fn read(spec: &DatadogMetric, answer: &request::Answer) -> Result<MetricValue, String> {
    if answer.status != reqwest::StatusCode::OK {
        let detail = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|body| errors_in(&body))
            .unwrap_or_else(|| request::excerpt(&answer.body, 200));
        return Err(format!("Datadog answered {}: {detail}", answer.status));
    }
    if spec.api_version == "v2" {
        read_v2(&answer.body)
    } else {
        read_v1(&answer.body)
    }
}

impl Provider for DatadogProvider {
    fn name(&self) -> &'static str {
        "datadog"
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
                .datadog
                .as_ref()
                .ok_or_else(|| "not a Datadog metric".to_owned())?;
            let deadline = tokio::time::Instant::now() + TIMEOUT;
            super::with_timeout(TIMEOUT, "Datadog query", async {
                let credentials = credentials(context, spec, &sigv4::environment).await?;
                let request = shape(spec, &credentials, jiff::Timestamp::now())?;
                let answer = request::exchange(context, &request, deadline).await?;
                read(spec, &answer).map(Outcome::Value)
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests;
