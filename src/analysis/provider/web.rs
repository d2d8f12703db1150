//! The web provider: an HTTP request whose JSON answer (the first match of `jsonPath`, by
//! default the whole document) or, if the body is not JSON, whose text is the result.
//! Non-2xx answers are errors. TLS certificates are verified unless the metric says
//! `insecure: true`.

use std::time::Duration;

use futures::future::BoxFuture;
use jsonpath_rust::JsonPath;
use serde_json::Value;

use super::{Context, Outcome, Provider, read_body, seconds_or, with_timeout};
use crate::analysis::condition::MetricValue;
use crate::k8s::crd::{Measurement, Metric};

/// Requests time out after this unless the metric says otherwise (Argo's default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Measures with an HTTP request.
pub struct WebProvider;

impl Provider for WebProvider {
    fn name(&self) -> &'static str {
        "web"
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
                .web
                .as_ref()
                .ok_or_else(|| "not a web metric".to_owned())?;
            context.guard.check(&spec.url)?;
            let method = if spec.method.is_empty() {
                "GET"
            } else {
                spec.method.as_str()
            };
            let method = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|_| format!("unknown HTTP method {method:?}"))?;
            let timeout = seconds_or(spec.timeout_seconds, DEFAULT_TIMEOUT);
            let http = context.http_client(spec.insecure);
            let mut request = http.request(method, &spec.url);
            for header in &spec.headers {
                request = request.header(&header.key, &header.value);
            }
            if let Some(json) = &spec.json_body {
                request = request
                    .header("Content-Type", "application/json")
                    .body(serde_json::to_string(&json.0).expect("JSON serializes"));
            } else if !spec.body.is_empty() {
                request = request.body(spec.body.clone());
            }
            let host = super::host_of(&spec.url);
            let body = with_timeout(timeout, "web request", async {
                let token =
                    super::oauth2::bearer(context, spec.authentication.as_ref(), spec.insecure)
                        .await?;
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.map_err(|error| {
                    format!(
                        "request to {host}: {}",
                        crate::k8s::describe_error(&error.without_url())
                    )
                })?;
                let status = response.status();
                if !status.is_success() {
                    return Err(format!("{host} answered {status}"));
                }
                read_body(response, &host).await
            })
            .await?;
            extract(&body, &spec.json_path).map(Outcome::Value)
        })
    }
}

/// The result of a response body: the first match of `json_path` (Argo's `{$.a.b}` form,
/// default the whole document), or the text itself when the body is not JSON.
pub fn extract(body: &str, json_path: &str) -> Result<MetricValue, String> {
    let Ok(document) = serde_json::from_str::<Value>(body) else {
        return Ok(MetricValue::Text(body.to_owned()));
    };
    let path = json_path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim();
    let path = match path {
        "" | "$" => return Ok(MetricValue::Json(document)),
        path if path.starts_with('$') => path.to_owned(),
        path => format!("$.{}", path.trim_start_matches('.')),
    };
    let found = document
        .query(&path)
        .map_err(|error| format!("jsonPath {json_path:?}: {error}"))?;
    found
        .first()
        .map(|value| MetricValue::Json((*value).clone()))
        .ok_or_else(|| format!("jsonPath {json_path:?} matched nothing in the response"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::recorder::Recorder;

    #[test]
    fn json_paths_select_the_first_match() {
        let body = r#"{"data": {"ok": true, "rates": [0.99, 0.5]}}"#;
        assert_eq!(
            extract(body, "{$.data.ok}"),
            Ok(MetricValue::Json(json!(true)))
        );
        assert_eq!(
            extract(body, "$.data.rates[1]"),
            Ok(MetricValue::Json(json!(0.5)))
        );
        assert_eq!(
            extract(body, ""),
            Ok(MetricValue::Json(serde_json::from_str(body).unwrap()))
        );
        assert_eq!(
            extract(body, "{$.data.missing}"),
            Err("jsonPath \"{$.data.missing}\" matched nothing in the response".into())
        );
        assert_eq!(extract("OK", "{$.x}"), Ok(MetricValue::Text("OK".into())));
    }

    #[test]
    fn paths_with_and_without_the_root_select_the_same_value() {
        let body = r#"{"data": {"ok": true}}"#;
        for path in [
            "{$.data.ok}",
            "$.data.ok",
            "{.data.ok}",
            "data.ok",
            " { data.ok } ",
        ] {
            assert_eq!(
                extract(body, path),
                Ok(MetricValue::Json(json!(true))),
                "{path}"
            );
        }
        assert_eq!(
            extract(body, "{$}"),
            Ok(MetricValue::Json(json!({"data": {"ok": true}})))
        );
    }

    async fn measure(metric: serde_json::Value) -> Result<Outcome, String> {
        let harness = super::super::Harness::new();
        let metric = super::super::metric(metric);
        WebProvider
            .measure(&harness.context(), &metric, 0, None)
            .await
    }

    #[tokio::test]
    async fn requests_carry_the_metric_s_method_headers_json_body_and_token() {
        let token = json!({"access_token": "t0k3n", "token_type": "Bearer"});
        let answer = json!({"data": {"ok": true}});
        let (recorder, url) =
            Recorder::start(vec![(200, vec![], token), (200, vec![], answer)]).await;
        let web = json!({"url": format!("{url}/check?team=shop"), "method": "POST",
            "headers": [{"key": "X-Team", "value": "shop"}], "jsonBody": {"q": 1},
            "jsonPath": "{$.data.ok}",
            "authentication": {"oauth2": {"tokenUrl": format!("{url}/token"),
                "clientId": "tidegate", "clientSecret": "s3cret"}}});
        let got = measure(json!({"name": "m", "provider": {"web": web}})).await;
        assert_eq!(got, Ok(Outcome::Value(MetricValue::Json(json!(true)))));
        let seen = recorder.take();
        assert_eq!(seen.len(), 2, "a token, then the measurement: {seen:#?}");
        let request = &seen[1];
        assert_eq!(
            (request.method.as_str(), request.uri.as_str()),
            ("POST", "/check?team=shop")
        );
        assert_eq!(request.header("x-team"), ["shop"]);
        assert_eq!(request.header("content-type"), ["application/json"]);
        assert_eq!(request.header("authorization"), ["Bearer t0k3n"]);
        assert_eq!(request.body, json!({"q": 1}));
    }

    #[tokio::test]
    async fn a_plain_get_by_default_a_text_body_as_given_and_non_2xx_is_an_error() {
        let (recorder, url) = Recorder::start(vec![
            (200, vec![], "healthy"),
            (200, vec![], "{}"),
            (503, vec![], "{\"ok\": true}"),
        ])
        .await;
        let web = |extra: serde_json::Value| {
            let mut web = json!({"url": format!("{url}/health")});
            web.as_object_mut()
                .expect("an object")
                .extend(extra.as_object().expect("an object").clone());
            json!({"name": "m", "provider": {"web": web}})
        };
        assert_eq!(
            measure(web(json!({}))).await,
            Ok(Outcome::Value(MetricValue::Text("healthy".to_owned())))
        );
        let put = measure(web(json!({"method": "PUT", "body": "level=1"}))).await;
        assert_eq!(put, Ok(Outcome::Value(MetricValue::Json(json!({})))));
        assert_eq!(
            measure(web(json!({}))).await,
            Err("127.0.0.1 answered 503 Service Unavailable".to_owned())
        );
        let seen = recorder.take();
        assert_eq!(
            (seen[0].method.as_str(), seen[0].text.as_str()),
            ("GET", "")
        );
        assert!(seen[0].header("authorization").is_empty());
        assert_eq!(
            (seen[1].method.as_str(), seen[1].text.as_str()),
            ("PUT", "level=1")
        );
        assert!(seen[1].header("content-type").is_empty(), "{seen:#?}");
        assert_eq!(
            measure(web(json!({"method": "NOT A METHOD"}))).await,
            Err("unknown HTTP method \"NOT A METHOD\"".to_owned())
        );
        assert_eq!(recorder.take().len(), 0);
    }
}
