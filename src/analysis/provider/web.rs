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
            let host = reqwest::Url::parse(&spec.url)
                .ok()
                .and_then(|url| url.host_str().map(ToOwned::to_owned))
                .unwrap_or_default();
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
}
