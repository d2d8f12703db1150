//! The Prometheus provider: an instant query (`GET <address>/api/v1/query`), its result mapped
//! as Argo maps it — a scalar to a number, a vector to its samples, a matrix to all samples of
//! all series; anything else is an error.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use super::{Context, Outcome, Provider, seconds_or, sigv4, with_timeout};
use crate::analysis::condition::{MetricValue, evaluate_time};
use crate::k8s::crd::{Measurement, Metric, PrometheusRangeQuery};
use crate::model::parse_go_duration;

/// Queries time out after this unless the metric says otherwise (Argo's default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Measures with PromQL.
pub struct PrometheusProvider;

impl Provider for PrometheusProvider {
    fn name(&self) -> &'static str {
        "prometheus"
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
                .prometheus
                .as_ref()
                .ok_or_else(|| "not a Prometheus metric".to_owned())?;
            let address = spec.address.trim_end_matches('/');
            let endpoint = if spec.range_query.is_some() {
                "query_range"
            } else {
                "query"
            };
            let url = format!("{address}/api/v1/{endpoint}");
            context.guard.check(&url)?;
            let timeout = seconds_or(spec.timeout, DEFAULT_TIMEOUT);
            let http = context.http_client(spec.insecure);
            let mut query_url = reqwest::Url::parse(&url)
                .map_err(|error| format!("invalid address {address:?}: {error}"))?;
            query_url
                .query_pairs_mut()
                .append_pair("query", &spec.query);
            if let Some(range) = &spec.range_query {
                for (name, value) in range_parameters(range)? {
                    query_url.query_pairs_mut().append_pair(name, &value);
                }
            }
            let sigv4 = spec
                .authentication
                .as_ref()
                .and_then(|authentication| authentication.sigv4.as_ref());
            let body = with_timeout(timeout, "Prometheus query", async {
                let mut request = match sigv4 {
                    Some(config) => {
                        let now = jiff::Timestamp::now();
                        let clients = (http, context.sts);
                        sigv4::signed_get(clients, config, &query_url, &sigv4::environment, now)
                            .await?
                    }
                    None => http.get(query_url),
                };
                for header in &spec.headers {
                    request = request.header(&header.key, &header.value);
                }
                let token =
                    super::oauth2::bearer(context, spec.authentication.as_ref(), spec.insecure)
                        .await?;
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.map_err(|error| {
                    format!(
                        "query {address}: {}",
                        crate::k8s::describe_error(&error.without_url())
                    )
                })?;
                let status = response.status();
                let body = super::read_body(response, address).await?;
                if !status.is_success() && !body.trim_start().starts_with('{') {
                    return Err(format!("{address} answered {status}"));
                }
                Ok(body)
            })
            .await?;
            parse_response(&body).map(Outcome::Value)
        })
    }
}

/// `start`, `end` and `step` of a range query, as the query API wants them.
fn range_parameters(range: &PrometheusRangeQuery) -> Result<[(&'static str, String); 3], String> {
    let start = evaluate_time(if range.start.is_empty() {
        "now() - duration('5m')"
    } else {
        &range.start
    })?;
    let end = evaluate_time(if range.end.is_empty() {
        "now()"
    } else {
        &range.end
    })?;
    if end < start {
        return Err(format!(
            "rangeQuery ends ({}) before it starts ({})",
            range.end, range.start
        ));
    }
    let step = if range.step.is_empty() {
        Duration::from_secs(60)
    } else {
        parse_go_duration(&range.step).map_err(|error| format!("rangeQuery.step: {error}"))?
    };
    if step.is_zero() {
        return Err("rangeQuery.step must be more than 0".to_owned());
    }
    Ok([
        ("start", format!("{start:.3}")),
        ("end", format!("{end:.3}")),
        ("step", format!("{}", step.as_secs_f64())),
    ])
}

/// The `result` of a Prometheus query API response.
pub fn parse_response(body: &str) -> Result<MetricValue, String> {
    let response: Value = serde_json::from_str(body)
        .map_err(|error| format!("Prometheus response is not JSON: {error}"))?;
    if response["status"] != "success" {
        let kind = response["errorType"].as_str().unwrap_or("error");
        let message = response["error"].as_str().unwrap_or("no message");
        return Err(format!("Prometheus query failed: {kind}: {message}"));
    }
    let data = &response["data"];
    let sample = |pair: &Value| -> Result<f64, String> {
        let text = pair
            .get(1)
            .and_then(Value::as_str)
            .ok_or("sample without a value")?;
        parse_float(text)
    };
    match data["resultType"].as_str() {
        Some("scalar") => sample(&data["result"]).map(MetricValue::Scalar),
        Some("vector") => data["result"]
            .as_array()
            .ok_or("vector without a result list")?
            .iter()
            .map(|series| sample(&series["value"]))
            .collect::<Result<_, _>>()
            .map(MetricValue::Vector),
        Some("matrix") => {
            let mut values = Vec::new();
            for series in data["result"]
                .as_array()
                .ok_or("matrix without a result list")?
            {
                for pair in series["values"]
                    .as_array()
                    .ok_or("matrix series without values")?
                {
                    values.push(sample(pair)?);
                }
            }
            Ok(MetricValue::Vector(values))
        }
        other => Err(format!(
            "unsupported Prometheus result type {}",
            other.unwrap_or("(none)")
        )),
    }
}

/// Prometheus writes samples as Go formats floats: `NaN`, `+Inf`, `-Inf`, decimals.
fn parse_float(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => text
            .parse()
            .map_err(|_| format!("sample value {text:?} is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::Recorder;

    #[test]
    fn results_are_mapped_as_argo_maps_them() {
        let scalar =
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.1,"10"]}}"#;
        assert_eq!(parse_response(scalar), Ok(MetricValue::Scalar(10.0)));
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"10"]},{"metric":{},"value":[1,"11"]}]}}"#;
        assert_eq!(
            parse_response(vector),
            Ok(MetricValue::Vector(vec![10.0, 11.0]))
        );
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"2"]]},{"metric":{},"values":[[1,"3"]]}]}}"#;
        assert_eq!(
            parse_response(matrix),
            Ok(MetricValue::Vector(vec![1.0, 2.0, 3.0]))
        );
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse_response(empty), Ok(MetricValue::Vector(Vec::new())));
        let nan = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}"#;
        let Ok(MetricValue::Vector(values)) = parse_response(nan) else {
            panic!()
        };
        assert!(values[0].is_nan());
    }

    #[test]
    fn range_queries_send_their_bounds() {
        let range = PrometheusRangeQuery {
            start: "now() - duration('10m')".into(),
            end: "now()".into(),
            step: "30s".into(),
        };
        let [start, end, step] = range_parameters(&range).unwrap();
        let (start, end): (f64, f64) = (start.1.parse().unwrap(), end.1.parse().unwrap());
        assert!((end - start - 600.0).abs() < 1.0, "{start} {end}");
        assert_eq!(step, ("step", "30".to_owned()));
        let backwards = PrometheusRangeQuery {
            start: "now()".into(),
            end: "now() - duration('1h')".into(),
            step: String::new(),
        };
        assert!(range_parameters(&backwards).is_err());
    }

    #[test]
    fn a_range_of_one_instant_is_valid_and_a_zero_step_is_not() {
        let instant = "date('2026-01-01T00:00:00Z')";
        let one_instant = PrometheusRangeQuery {
            start: instant.into(),
            end: instant.into(),
            step: "1m".into(),
        };
        let [start, end, step] = range_parameters(&one_instant).unwrap();
        assert_eq!(start, ("start", "1767225600.000".to_owned()));
        assert_eq!(end, ("end", "1767225600.000".to_owned()));
        assert_eq!(step, ("step", "60".to_owned()));
        let zero_step = PrometheusRangeQuery {
            step: "0s".into(),
            ..one_instant
        };
        assert_eq!(
            range_parameters(&zero_step),
            Err("rangeQuery.step must be more than 0".to_owned())
        );
    }

    #[test]
    fn go_float_spellings_parse() {
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("+Inf"), Ok(f64::INFINITY));
        assert_eq!(parse_float("Inf"), Ok(f64::INFINITY));
        assert_eq!(parse_float("-Inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_float("0.25"), Ok(0.25));
        assert!(parse_float("ten").is_err());
    }

    #[test]
    fn failures_are_errors() {
        let failed = r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        assert_eq!(
            parse_response(failed),
            Err("Prometheus query failed: bad_data: parse error at char 5".into())
        );
        assert!(
            parse_response(
                r#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#
            )
            .is_err()
        );
        assert!(parse_response("<html>").is_err());
    }

    async fn measure(prometheus: serde_json::Value) -> Result<Outcome, String> {
        let harness = super::super::Harness::new();
        let metric = super::super::metric(
            serde_json::json!({"name": "m", "provider": {"prometheus": prometheus}}),
        );
        PrometheusProvider
            .measure(&harness.context(), &metric, 0, None)
            .await
    }

    /// The query string of a request's URI, decoded.
    fn query_of(uri: &str) -> Vec<(String, String)> {
        let url = reqwest::Url::parse(&format!("http://x{uri}")).expect("a URI");
        url.query_pairs().into_owned().collect()
    }

    const VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}}"#;

    #[tokio::test]
    async fn instant_and_range_queries_reach_the_query_api_with_headers_and_token() {
        let token = r#"{"access_token": "t0k3n"}"#;
        let (recorder, url) = Recorder::start(vec![
            (200, vec![], VECTOR),
            (200, vec![], token),
            (200, vec![], VECTOR),
        ])
        .await;
        let query = r#"sum(rate(errors{job="web"}[1m]))"#;
        let instant = serde_json::json!({"address": format!("{url}/"), "query": query,
            "headers": [{"key": "X-Scope-OrgID", "value": "shop"}]});
        assert_eq!(
            measure(instant).await,
            Ok(Outcome::Value(MetricValue::Vector(vec![0.5])))
        );
        let range = serde_json::json!({"address": url, "query": query,
            "rangeQuery": {"start": "now() - duration('10m')", "end": "now()", "step": "30s"},
            "authentication": {"oauth2": {"tokenUrl": format!("{url}/token"),
                "clientId": "tidegate", "clientSecret": "s3cret"}}});
        assert_eq!(
            measure(range).await,
            Ok(Outcome::Value(MetricValue::Vector(vec![0.5])))
        );
        let seen = recorder.take();
        assert_eq!(seen.len(), 3, "{seen:#?}");
        assert_eq!(seen[0].method.as_str(), "GET");
        assert!(seen[0].uri.starts_with("/api/v1/query?"), "{}", seen[0].uri);
        assert_eq!(
            query_of(&seen[0].uri),
            [("query".to_owned(), query.to_owned())]
        );
        assert_eq!(seen[0].header("x-scope-orgid"), ["shop"]);
        assert!(seen[0].header("authorization").is_empty());
        assert!(seen[1].uri.starts_with("/token"), "{}", seen[1].uri);
        assert!(
            seen[2].uri.starts_with("/api/v1/query_range?"),
            "{}",
            seen[2].uri
        );
        let names: Vec<String> = query_of(&seen[2].uri)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["query", "start", "end", "step"]);
        assert_eq!(seen[2].header("authorization"), ["Bearer t0k3n"]);
    }

    #[tokio::test]
    async fn an_error_answer_keeps_prometheus_reason_and_any_other_is_named_by_status() {
        let failed = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        let (recorder, url) = Recorder::start(vec![
            (400, vec![], failed),
            (503, vec![], "upstream unavailable"),
            (200, vec![], "<html>"),
        ])
        .await;
        let metric = serde_json::json!({"address": url, "query": "up"});
        assert_eq!(
            measure(metric.clone()).await,
            Err("Prometheus query failed: bad_data: parse error".to_owned())
        );
        assert_eq!(
            measure(metric.clone()).await,
            Err(format!("{url} answered 503 Service Unavailable"))
        );
        let not_json = measure(metric).await.unwrap_err();
        assert!(
            not_json.starts_with("Prometheus response is not JSON"),
            "{not_json}"
        );
        assert_eq!(recorder.take().len(), 3);
    }
}
