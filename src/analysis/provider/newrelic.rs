//! The New Relic provider, as Argo's: an NRQL `query` posted to NerdGraph (GraphQL) for the
//! account, and the rows of `data.actor.account.nrql.results` as `result` — one row's object
//! (`result.count`), or the list of rows when there are several (`result[0].count`).
//!
//! Credentials: the Secret `profile` (default `newrelic`) in the daemon's namespace — keys
//! `personal-api-key`, `account-id` (an integer), `region` (`us`, the default, or `eu`) and
//! `base-url-nerdgraph` (NerdGraph's whole URL, to go through a proxy; it wins over `region`).
//! `base-url-rest` is accepted and ignored: NRQL goes to NerdGraph only.
//!
//! Where Argo makes no rows (`[]` or `[{}]`) an Error, tidegate reads no data (so the rules for
//! empty results apply); an unknown `region` is refused where Argo falls back to the US; 429 and
//! 5xx are asked again within the measurement's 30 s.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::request::{self, Request};
use super::secrets::{self, Keys};
use super::{Context, Outcome, Provider};
use crate::analysis::condition::MetricValue;
use crate::k8s::crd::{Measurement, Metric, NewRelicMetric};

/// NerdGraph in the US region.
const US_ENDPOINT: &str = "https://api.newrelic.com/graphql";

/// NerdGraph in the EU region.
const EU_ENDPOINT: &str = "https://api.eu.newrelic.com/graphql";

/// The Secret read when a metric names no `profile`.
const DEFAULT_SECRET: &str = "newrelic";

/// How long a measurement may take, retries included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The GraphQL document: NRQL for an account, its results only (Argo also asks for metadata
/// it drops).
const NRQL_DOCUMENT: &str = "query($query: Nrql!, $accountId: Int!) { actor { account(id: $accountId) { nrql(query: $query) { results } } } }";

/// Measures with New Relic.
pub struct NewRelicProvider;

/// Why `spec` cannot be measured, if it cannot.
pub fn check(spec: &NewRelicMetric) -> Result<(), String> {
    if spec.query.trim().is_empty() {
        return Err("newRelic.query is required".to_owned());
    }
    Ok(())
}

/// New Relic credentials.
#[derive(Clone, PartialEq)]
pub struct Credentials {
    endpoint: String,
    api_key: String,
    account_id: i64,
}

impl Credentials {
    fn from_keys(keys: &Keys, secret: &str) -> Result<Self, String> {
        let api_key = secrets::required(keys, "personal-api-key", secret)?.to_owned();
        let account_id = secrets::required(keys, "account-id", secret)?
            .parse::<i64>()
            .map_err(|_| format!("Secret {secret} has an \"account-id\" that is not an integer"))?;
        let region = secrets::value(keys, "region").unwrap_or("us");
        let regional = if region.eq_ignore_ascii_case("us") {
            US_ENDPOINT
        } else if region.eq_ignore_ascii_case("eu") {
            EU_ENDPOINT
        } else {
            return Err(format!(
                "Secret {secret} has a \"region\" that is not us or eu"
            ));
        };
        let endpoint = secrets::value(keys, "base-url-nerdgraph")
            .unwrap_or(regional)
            .to_owned();
        Ok(Self {
            endpoint,
            api_key,
            account_id,
        })
    }
}

/// The credentials for `spec`: the Secret `profile` (or `newrelic`) in the daemon's namespace.
async fn credentials(context: &Context<'_>, spec: &NewRelicMetric) -> Result<Credentials, String> {
    let name = match spec.profile.trim() {
        "" => DEFAULT_SECRET,
        profile => profile,
    };
    let keys = context.secrets.read(context.namespace, name).await?;
    Credentials::from_keys(&keys, name)
}

/// The request for `spec` with `credentials`.
pub fn shape(spec: &NewRelicMetric, credentials: &Credentials) -> Result<Request, String> {
    let body = json!({
        "query": NRQL_DOCUMENT,
        "variables": {"accountId": credentials.account_id, "query": spec.query},
    });
    Ok(
        Request::post_json(request::url(&credentials.endpoint, "")?, &body)
            .header("api-key", credentials.api_key.clone()),
    )
}

/// The result of a NerdGraph answer: one row's object, or the rows; no data without a row
/// that has a field.
pub fn read_results(body: &str) -> Result<MetricValue, String> {
    let body: Value = serde_json::from_str(body)
        .map_err(|error| format!("New Relic's answer is not JSON: {error}"))?;
    if let Some(errors) = request::graphql_errors(&body) {
        return Err(format!("New Relic query failed: {errors}"));
    }
    let rows = match body.pointer("/data/actor/account/nrql/results") {
        None | Some(Value::Null) => return Ok(MetricValue::Nil),
        Some(Value::Array(rows)) => rows,
        Some(_) => return Err("New Relic's answer has results that are not a list".to_owned()),
    };
    if rows.iter().any(|row| !row.is_object()) {
        return Err("New Relic's answer has a result that is not an object".to_owned());
    }
    Ok(match rows.as_slice() {
        [] => MetricValue::Nil,
        [row] if row.as_object().is_some_and(serde_json::Map::is_empty) => MetricValue::Nil,
        [row] => MetricValue::Json(row.clone()),
        _ => MetricValue::Json(Value::Array(rows.clone())),
    })
}

/// What an answer means: the result of a 200, else an error naming the status and New Relic's
/// own message.
pub fn read(answer: &request::Answer) -> Result<MetricValue, String> {
    if answer.status != reqwest::StatusCode::OK {
        let detail = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|body| request::graphql_errors(&body))
            .unwrap_or_else(|| request::excerpt(&answer.body, 200));
        return Err(format!("New Relic answered {}: {detail}", answer.status));
    }
    read_results(&answer.body)
}

impl Provider for NewRelicProvider {
    fn name(&self) -> &'static str {
        "newRelic"
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
                .new_relic
                .as_ref()
                .ok_or_else(|| "not a New Relic metric".to_owned())?;
            let deadline = tokio::time::Instant::now() + TIMEOUT;
            super::with_timeout(TIMEOUT, "New Relic query", async {
                let credentials = credentials(context, spec).await?;
                let request = shape(spec, &credentials)?;
                let answer = request::exchange(context, &request, deadline).await?;
                read(&answer).map(Outcome::Value)
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests;
