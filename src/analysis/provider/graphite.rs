//! The Graphite provider, as Argo's: `GET <address>/render?<query>&format=json` — the render
//! query with all its whitespace removed (as Argo does, even inside quotes), its own
//! parameters kept in order, `format=json` set — and the first series' values, oldest first,
//! without its `null`s: always a list.
//!
//! No credentials (Argo has none). Where Argo differs: an answer with no series, no points or
//! only `null`s is no data (Argo: an Error, "no values found", or `[]` that a condition
//! indexing it errors on); the query keeps its parameters' order (Argo sorts them by name;
//! repeated `target`s keep their order either way); an invalid `%` escape is refused when the
//! run starts.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use super::request::{self, Request};
use super::{Context, Outcome, Provider};
use crate::analysis::condition::MetricValue;
use crate::k8s::crd::{GraphiteMetric, Measurement, Metric};

/// How long a measurement may take, retries included (Argo's client timeout).
const TIMEOUT: Duration = Duration::from_secs(10);

/// Measures with Graphite.
pub struct GraphiteProvider;

/// `query` without whitespace (Go's `\s`: space, tab, newline, form feed, carriage return).
fn compact(query: &str) -> String {
    query
        .chars()
        .filter(|character| !character.is_ascii_whitespace())
        .collect()
}

/// The first `%` of `query` not followed by two hex digits, with what follows it.
fn invalid_escape(query: &str) -> Option<&str> {
    let bytes = query.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|(_, byte)| **byte == b'%')
        .map(|(at, _)| at)
        .find(|at| {
            !matches!(bytes.get(at + 1..at + 3), Some([high, low])
                if high.is_ascii_hexdigit() && low.is_ascii_hexdigit())
        })
        .map(|at| query.get(at..(at + 3).min(query.len())).unwrap_or("%"))
}

/// Why `spec` cannot be measured, if it cannot.
pub fn check(spec: &GraphiteMetric) -> Result<(), String> {
    if spec.address.trim().is_empty() {
        return Err("graphite.address is not set".to_owned());
    }
    request::url(&spec.address, "/render").map_err(|problem| format!("graphite.{problem}"))?;
    let query = compact(&spec.query);
    if query.is_empty() {
        return Err("graphite.query is not set".to_owned());
    }
    if let Some(escape) = invalid_escape(&query) {
        return Err(format!("graphite.query has an invalid escape {escape:?}"));
    }
    Ok(())
}

/// The request for `spec`.
pub fn shape(spec: &GraphiteMetric) -> Result<Request, String> {
    let mut url = request::url(&spec.address, "/render")?;
    url.set_query(Some(&compact(&spec.query)));
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| name != "format")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(&pairs)
        .append_pair("format", "json");
    Ok(Request::get(url))
}

/// A point's value: a number, a numeric string, or `null` (`None`).
fn number(value: &Value) -> Result<Option<f64>, String> {
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => number
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("Graphite's value {value} is not a number")),
        Value::String(text) => text
            .parse::<f64>()
            .map(Some)
            .map_err(|_| format!("Graphite's value {value} is not a number")),
        other => Err(format!("Graphite's value {other} is not a number")),
    }
}

/// The values of `series`' datapoints (`[value, time]`), in order, without the `null`s.
fn values(series: &Value) -> Result<Vec<f64>, String> {
    if !series.is_object() {
        return Err(format!(
            "Graphite's series {} is not an object",
            request::excerpt(&series.to_string(), 100)
        ));
    }
    let points = match series.get("datapoints") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(points)) => points,
        Some(_) => return Err("Graphite's series has datapoints that are not a list".to_owned()),
    };
    let mut values = Vec::new();
    for point in points {
        let Some([value, time]) = point.as_array().map(Vec::as_slice) else {
            return Err(format!("Graphite's datapoint {point} is not [value, time]"));
        };
        let time_read = match time {
            Value::Null | Value::Number(_) => true,
            Value::String(text) => text.parse::<i64>().is_ok(),
            _ => false,
        };
        if !time_read {
            return Err(format!("Graphite's time {time} is not a number"));
        }
        values.extend(number(value)?);
    }
    Ok(values)
}

/// The result of a render answer: the first series' values (every series must read), no
/// data when there are none.
pub fn read_render(body: &str) -> Result<MetricValue, String> {
    let body: Value = serde_json::from_str(body)
        .map_err(|error| format!("Graphite's answer is not JSON: {error}"))?;
    let Value::Array(series) = body else {
        return Err("Graphite's answer is not a list of series".to_owned());
    };
    let mut first = None;
    for one in &series {
        let read = values(one)?;
        first.get_or_insert(read);
    }
    Ok(match first {
        Some(values) if !values.is_empty() => MetricValue::Vector(values),
        _ => MetricValue::Nil,
    })
}

/// What an answer means: a status below 400 is read, anything else is an error naming it.
pub fn read(answer: &request::Answer) -> Result<MetricValue, String> {
    if answer.status.as_u16() >= 400 {
        return Err(format!(
            "Graphite answered {}: {}",
            answer.status,
            request::excerpt(&answer.body, 200)
        ));
    }
    read_render(&answer.body)
}

impl Provider for GraphiteProvider {
    fn name(&self) -> &'static str {
        "graphite"
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
                .graphite
                .as_ref()
                .ok_or_else(|| "not a Graphite metric".to_owned())?;
            let deadline = tokio::time::Instant::now() + TIMEOUT;
            super::with_timeout(TIMEOUT, "Graphite query", async {
                let request = shape(spec)?;
                let answer = request::exchange(context, &request, deadline).await?;
                read(&answer).map(Outcome::Value)
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests;
