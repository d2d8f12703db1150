//! The CloudWatch provider, as Argo's: one `GetMetricData` call over the last `interval` with
//! the metric's `metricDataQueries`, signed with AWS Signature Version 4 (service
//! `monitoring`) with the daemon's credentials, found as AWS's SDKs find them (the
//! environment, a web identity, the shared credentials file; see [`sigv4`]); the region is
//! `AWS_REGION` (or `AWS_DEFAULT_REGION`), the endpoint `https://monitoring.<region>.amazonaws.com`
//! unless `AWS_ENDPOINT_URL_CLOUDWATCH` or `AWS_ENDPOINT_URL` says otherwise.
//!
//! The request uses CloudWatch's documented Query protocol (a form, an XML answer), as the
//! Go SDK Argo is built with does. `result` is the list of `MetricDataResults` with Argo's
//! field names (`result[0].Values`, newest first); results without a single value are no data.

use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Map, Value, json};

use super::request::{self, Request};
use super::{Context, Outcome, Provider, sigv4};
use crate::analysis::condition::MetricValue;
use crate::k8s::crd::{
    CloudWatchMetric, CloudWatchMetricDataQuery, Measurement, Metric, SigV4Config,
};

/// How far back the queries look unless `interval` says otherwise (Argo's default).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// How long a measurement may take, retries included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The API version of the Query protocol.
const API_VERSION: &str = "2010-08-01";

/// The service name requests are signed for.
const SERVICE: &str = "monitoring";

/// Measures with CloudWatch.
pub struct CloudWatchProvider;

/// Why `spec` cannot be measured, if it cannot.
pub fn check(spec: &CloudWatchMetric) -> Result<(), String> {
    interval(spec)?;
    if spec.metric_data_queries.is_empty() {
        return Err("cloudWatch.metricDataQueries is empty".to_owned());
    }
    for (index, query) in spec.metric_data_queries.iter().enumerate() {
        let at = format!("cloudWatch.metricDataQueries[{index}]");
        let valid_id = query
            .id
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_lowercase())
            && query
                .id
                .chars()
                .all(|letter| letter.is_ascii_alphanumeric() || letter == '_');
        if !valid_id {
            return Err(format!(
                "{at}.id {:?} must start with a lower-case letter and hold only letters, digits and _",
                query.id
            ));
        }
        if query.expression.is_some() == query.metric_stat.is_some() {
            return Err(format!("{at}: set either expression or metricStat"));
        }
        if let Some(stat) = &query.metric_stat {
            if stat.metric.metric_name.is_empty() || stat.stat.is_empty() {
                return Err(format!("{at}.metricStat needs metric.metricName and stat"));
            }
            seconds(stat.period.as_ref(), &format!("{at}.metricStat.period"))?
                .ok_or_else(|| format!("{at}.metricStat.period is required"))?;
        }
        seconds(query.period.as_ref(), &format!("{at}.period"))?;
    }
    Ok(())
}

/// How far back the queries look.
fn interval(spec: &CloudWatchMetric) -> Result<Duration, String> {
    if spec.interval.is_empty() {
        return Ok(DEFAULT_INTERVAL);
    }
    match crate::model::parse_go_duration(&spec.interval) {
        Ok(interval) if !interval.is_zero() => Ok(interval),
        Ok(_) => Err("cloudWatch.interval must be more than 0".to_owned()),
        Err(error) => Err(format!("cloudWatch.interval: {error}")),
    }
}

/// A period in whole seconds (a number or a digit string), if given.
fn seconds(period: Option<&IntOrString>, at: &str) -> Result<Option<u32>, String> {
    let Some(period) = period else {
        return Ok(None);
    };
    let seconds = match period {
        IntOrString::Int(seconds) => u32::try_from(*seconds).ok(),
        IntOrString::String(text) => text.trim().parse::<u32>().ok(),
    };
    match seconds {
        Some(seconds) if seconds > 0 => Ok(Some(seconds)),
        _ => Err(format!("{at} must be a positive number of seconds")),
    }
}

/// The form fields of one query, as `MetricDataQueries.member.<n>.…`.
fn query_fields(
    number: usize,
    query: &CloudWatchMetricDataQuery,
) -> Result<Vec<(String, String)>, String> {
    let prefix = format!("MetricDataQueries.member.{number}");
    let mut fields = vec![(format!("{prefix}.Id"), query.id.clone())];
    if let Some(expression) = &query.expression {
        fields.push((format!("{prefix}.Expression"), expression.clone()));
    }
    if let Some(label) = &query.label {
        fields.push((format!("{prefix}.Label"), label.clone()));
    }
    if let Some(stat) = &query.metric_stat {
        let metric = format!("{prefix}.MetricStat.Metric");
        if let Some(namespace) = &stat.metric.namespace {
            fields.push((format!("{metric}.Namespace"), namespace.clone()));
        }
        fields.push((
            format!("{metric}.MetricName"),
            stat.metric.metric_name.clone(),
        ));
        for (index, dimension) in stat.metric.dimensions.iter().enumerate() {
            let at = format!("{metric}.Dimensions.member.{}", index + 1);
            fields.push((format!("{at}.Name"), dimension.name.clone()));
            fields.push((format!("{at}.Value"), dimension.value.clone()));
        }
        if let Some(period) = seconds(stat.period.as_ref(), "metricStat.period")? {
            fields.push((format!("{prefix}.MetricStat.Period"), period.to_string()));
        }
        fields.push((format!("{prefix}.MetricStat.Stat"), stat.stat.clone()));
        if !stat.unit.is_empty() {
            fields.push((format!("{prefix}.MetricStat.Unit"), stat.unit.clone()));
        }
    }
    if let Some(period) = seconds(query.period.as_ref(), "period")? {
        fields.push((format!("{prefix}.Period"), period.to_string()));
    }
    if let Some(return_data) = query.return_data {
        fields.push((format!("{prefix}.ReturnData"), return_data.to_string()));
    }
    Ok(fields)
}

/// The `GetMetricData` form for `spec` over the interval ending at `now`.
pub fn form(spec: &CloudWatchMetric, now: jiff::Timestamp) -> Result<String, String> {
    let lookback = jiff::SignedDuration::try_from(interval(spec)?)
        .map_err(|_| "cloudWatch.interval is too long".to_owned())?;
    let start = now
        .checked_sub(lookback)
        .map_err(|_| "cloudWatch.interval is too long".to_owned())?;
    let time = |at: jiff::Timestamp| at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut fields = vec![
        ("Action".to_owned(), "GetMetricData".to_owned()),
        ("Version".to_owned(), API_VERSION.to_owned()),
        ("StartTime".to_owned(), time(start)),
        ("EndTime".to_owned(), time(now)),
    ];
    for (index, query) in spec.metric_data_queries.iter().enumerate() {
        fields.extend(query_fields(index + 1, query)?);
    }
    let mut encoded = reqwest::Url::parse("http://form.invalid/").expect("a URL");
    encoded.query_pairs_mut().extend_pairs(fields);
    Ok(encoded.query().unwrap_or_default().to_owned())
}

/// Where CloudWatch is for `region`: `AWS_ENDPOINT_URL_CLOUDWATCH`, `AWS_ENDPOINT_URL`, else
/// the region's endpoint.
fn endpoint(var: sigv4::Env<'_>, region: &str) -> String {
    var("AWS_ENDPOINT_URL_CLOUDWATCH")
        .or_else(|| var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| format!("https://monitoring.{region}.amazonaws.com"))
}

/// The signed request for `form` at `now`.
pub fn shape(
    form: String,
    endpoint: &str,
    (credentials, region): (&sigv4::Credentials, &str),
    now: jiff::Timestamp,
) -> Result<Request, String> {
    let url = request::url(endpoint, "/")?;
    let signed = sigv4::sign(
        "POST",
        &url,
        form.as_bytes(),
        credentials,
        region,
        SERVICE,
        now,
    );
    let mut request = Request {
        method: reqwest::Method::POST,
        url,
        headers: vec![(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
        )],
        body: Some(form),
    };
    for (name, value) in signed {
        request = request.header(name, value);
    }
    Ok(request)
}

/// The texts of `node`'s child elements named `name`'s `member`s.
fn members<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Vec<&'a str> {
    child(node, name)
        .map(|list| {
            list.children()
                .filter(|member| member.has_tag_name("member"))
                .map(|member| member.text().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

/// `node`'s first child element named `name`.
fn child<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<roxmltree::Node<'a, 'a>> {
    node.children().find(|child| child.has_tag_name(name))
}

/// The text of `node`'s child element `name`, if any.
fn text<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    child(node, name).and_then(|child| child.text())
}

/// The result of a `GetMetricData` answer: each result as `{Id, Label, StatusCode, Timestamps,
/// Values}`; no data when no result has a value.
pub fn read(status: reqwest::StatusCode, body: &str) -> Result<MetricValue, String> {
    let document = roxmltree::Document::parse(body).map_err(|error| {
        format!("CloudWatch answered {status} with a body that is not XML: {error}")
    })?;
    let root = document.root_element();
    if root.has_tag_name("ErrorResponse") || !status.is_success() {
        let error = child(root, "Error");
        let code = error
            .and_then(|error| text(error, "Code"))
            .unwrap_or("error");
        let message = error.and_then(|error| text(error, "Message")).unwrap_or("");
        return Err(format!(
            "CloudWatch answered {status}: {code}: {}",
            request::excerpt(message, 300)
        ));
    }
    let result = child(root, "GetMetricDataResult")
        .ok_or("CloudWatch's answer has no GetMetricDataResult")?;
    let mut results = Vec::new();
    for member in child(result, "MetricDataResults")
        .into_iter()
        .flat_map(|list| list.children().filter(|node| node.has_tag_name("member")))
    {
        let values = members(member, "Values")
            .into_iter()
            .map(|value| {
                value
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| format!("CloudWatch value {value:?} is not a number"))
            })
            .collect::<Result<Vec<f64>, String>>()?;
        let mut fields = Map::new();
        for name in ["Id", "Label", "StatusCode"] {
            if let Some(value) = text(member, name) {
                fields.insert(name.to_owned(), json!(value));
            }
        }
        fields.insert(
            "Timestamps".to_owned(),
            json!(members(member, "Timestamps")),
        );
        fields.insert("Values".to_owned(), json!(values));
        results.push(Value::Object(fields));
    }
    let no_value = results
        .iter()
        .all(|result| result["Values"].as_array().is_none_or(Vec::is_empty));
    if no_value {
        return Ok(MetricValue::Nil);
    }
    Ok(MetricValue::Json(Value::Array(results)))
}

impl Provider for CloudWatchProvider {
    fn name(&self) -> &'static str {
        "cloudWatch"
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
                .cloud_watch
                .as_ref()
                .ok_or_else(|| "not a CloudWatch metric".to_owned())?;
            super::with_timeout(
                TIMEOUT,
                "CloudWatch query",
                take(context, spec, &sigv4::environment),
            )
            .await
            .map(Outcome::Value)
        })
    }
}

/// One `GetMetricData` call for `spec` with the credentials, region and endpoint `var`'s
/// environment leads to.
pub(super) async fn take(
    context: &Context<'_>,
    spec: &CloudWatchMetric,
    var: sigv4::Env<'_>,
) -> Result<MetricValue, String> {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or("CloudWatch needs a region: set AWS_REGION for the daemon")?;
    let now = jiff::Timestamp::now();
    let credentials =
        sigv4::resolve_with(context.sts, &SigV4Config::default(), &region, var, now).await?;
    let request = shape(
        form(spec, now)?,
        &endpoint(var, &region),
        (&credentials, &region),
        now,
    )?;
    let answer = request::exchange(context, &request, deadline).await?;
    read(answer.status, &answer.body)
}

#[cfg(test)]
mod tests;
