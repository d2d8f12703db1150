//! The InfluxDB provider, as Argo's: a Flux query posted to `<address>/api/v2/query?org=…`
//! (InfluxDB 2 and 3, and 1.8+ with Flux enabled) with the token, address and organisation
//! from the Secret `profile` names (default `influxdb`, in the daemon's namespace; keys
//! `address`, `authToken`, `org`). `result` is the `_value` column of every table of the
//! annotated CSV answer, in order — numbers as a list of numbers.
//!
//! Where Argo ignores them, an error table in the answer (`error`, `reference`) and a CSV it
//! cannot read are errors here; no rows is no data.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::request::{self, Request};
use super::secrets;
use super::{Context, Outcome, Provider};
use crate::analysis::condition::MetricValue;
use crate::k8s::crd::{InfluxdbMetric, Measurement, Metric};

/// The Secret read when a metric names no profile.
const DEFAULT_SECRET: &str = "influxdb";

/// How long a measurement may take, retries included (Argo's).
const TIMEOUT: Duration = Duration::from_secs(30);

/// Measures with InfluxDB.
pub struct InfluxdbProvider;

/// Why `spec` cannot be measured, if it cannot.
pub fn check(spec: &InfluxdbMetric) -> Result<(), String> {
    if spec.query.trim().is_empty() {
        return Err("influxdb.query is empty".to_owned());
    }
    Ok(())
}

/// Where and as whom to query.
#[derive(Clone, PartialEq)]
pub struct Connection {
    address: String,
    token: String,
    org: String,
}

/// The request for `spec` over `connection`.
pub fn shape(spec: &InfluxdbMetric, connection: &Connection) -> Result<Request, String> {
    let mut url = request::url(&connection.address, "/api/v2/query")?;
    url.query_pairs_mut().append_pair("org", &connection.org);
    let body = json!({
        "dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",", "header": true},
        "query": spec.query,
        "type": "flux",
    });
    Ok(Request::post_json(url, &body)
        .header("accept", "application/csv")
        .header("authorization", format!("Token {}", connection.token)))
}

/// The fields of one CSV line (RFC 4180 quoting: `"a,b"`, `""` for a quote).
fn fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(letter) = chars.next() {
        let field = fields.last_mut().expect("one field at least");
        match (letter, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (other, _) => field.push(other),
        }
    }
    fields
}

/// A cell of Flux type `kind` as a value; an empty cell is its `#default`, else null.
fn cell(text: &str, kind: &str) -> Result<Value, String> {
    if text.is_empty() {
        return Ok(Value::Null);
    }
    let number = |text: &str| -> Result<f64, String> {
        match text {
            "NaN" => Ok(f64::NAN),
            "+Inf" | "Inf" => Ok(f64::INFINITY),
            "-Inf" => Ok(f64::NEG_INFINITY),
            _ => text
                .parse::<f64>()
                .map_err(|_| format!("InfluxDB value {text:?} is not a {kind}")),
        }
    };
    Ok(match kind {
        "double" | "long" | "unsignedLong" => {
            let value = number(text)?;
            serde_json::Number::from_f64(value).map_or_else(|| json!(text), Value::Number)
        }
        "boolean" => json!(text == "true"),
        _ => json!(text),
    })
}

/// The `_value`s of an annotated CSV answer, table after table; an error table is an error.
pub fn read(body: &str) -> Result<MetricValue, String> {
    let mut values = Vec::new();
    let mut kinds: Vec<String> = Vec::new();
    let mut defaults: Vec<String> = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for line in body.lines().map(|line| line.trim_end_matches('\r')) {
        if line.trim().is_empty() {
            // A new table: its annotations and header follow.
            (kinds, defaults, header) = (Vec::new(), Vec::new(), None);
            continue;
        }
        let row = fields(line);
        match row.first().map(String::as_str) {
            Some("#datatype") => kinds = row,
            Some("#default") => defaults = row,
            Some(annotation) if annotation.starts_with('#') => {}
            _ => match &header {
                None => header = Some(row),
                Some(names) => {
                    let column = |name: &str| names.iter().position(|named| named == name);
                    if let Some(error) = column("error") {
                        let message = row.get(error).map_or("", String::as_str);
                        return Err(format!(
                            "InfluxDB query failed: {}",
                            request::excerpt(message, 300)
                        ));
                    }
                    let Some(at) = column("_value") else {
                        values.push(Value::Null);
                        continue;
                    };
                    let text = match row.get(at).map(String::as_str) {
                        Some("") | None => defaults.get(at).map_or("", String::as_str),
                        Some(text) => text,
                    };
                    let kind = kinds.get(at).map_or("string", String::as_str);
                    values.push(cell(text, kind)?);
                }
            },
        }
    }
    if values.is_empty() {
        return Ok(MetricValue::Nil);
    }
    let numbers: Option<Vec<f64>> = values.iter().map(number_of).collect();
    Ok(match numbers {
        Some(numbers) => MetricValue::Vector(numbers),
        None => MetricValue::Json(Value::Array(values)),
    })
}

/// A value as a number: JSON numbers, and the NaN and infinities kept as text.
fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => match text.as_str() {
            "NaN" => Some(f64::NAN),
            "+Inf" | "Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// The message of InfluxDB 1.x's error as CSV (what it answers a client that accepts CSV):
/// an `error` column and one row.
fn csv_error(body: &str) -> Option<String> {
    let mut lines = body.lines().map(|line| line.trim_end_matches('\r'));
    let at = fields(lines.next()?)
        .iter()
        .position(|name| name == "error")?;
    fields(lines.next()?).get(at).cloned()
}

/// What a refusal means: InfluxDB's `code: message` (2 and 3), its `error` (1.x, as JSON or
/// CSV), else the body's start.
fn refusal(status: reqwest::StatusCode, body: &str) -> String {
    let detail = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|body| {
            let message = body["message"].as_str().or(body["error"].as_str())?;
            Some(match body["code"].as_str() {
                Some(code) => format!("{code}: {message}"),
                None => message.to_owned(),
            })
        })
        .or_else(|| csv_error(body))
        .unwrap_or_else(|| body.to_owned());
    format!(
        "InfluxDB answered {status}: {}",
        request::excerpt(&detail, 300)
    )
}

impl Provider for InfluxdbProvider {
    fn name(&self) -> &'static str {
        "influxdb"
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
                .influxdb
                .as_ref()
                .ok_or_else(|| "not an InfluxDB metric".to_owned())?;
            let deadline = tokio::time::Instant::now() + TIMEOUT;
            super::with_timeout(TIMEOUT, "InfluxDB query", async {
                let secret = if spec.profile.is_empty() {
                    DEFAULT_SECRET
                } else {
                    spec.profile.as_str()
                };
                let keys = context.secrets.read(context.namespace, secret).await?;
                let connection = Connection {
                    address: secrets::required(&keys, "address", secret)?.to_owned(),
                    token: secrets::required(&keys, "authToken", secret)?.to_owned(),
                    org: secrets::required(&keys, "org", secret)?.to_owned(),
                };
                let answer =
                    request::exchange(context, &shape(spec, &connection)?, deadline).await?;
                if !answer.status.is_success() {
                    return Err(refusal(answer.status, &answer.body));
                }
                read(&answer.body).map(Outcome::Value)
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests;
