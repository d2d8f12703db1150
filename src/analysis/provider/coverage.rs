//! The acceptance test of Argo parity for analysis: every field of a metric in the
//! AnalysisTemplate schema is read. Each leaf is set (with a few values of its type) on a
//! metric that has everything on its path but that field; what tidegate makes of the metric
//! must change — its plan, the provider's refusal (by name for providers tidegate does not
//! run), or the request sent and the value read against a local request recorder.

use serde_json::{Value, json};

use super::{HARNESS_NAMESPACE, Harness, for_metric};
use crate::analysis::assess::MetricPlan;
use crate::k8s::crd::coverage::{assert_all_read, samples, spec_leaves, with};
use crate::k8s::crd::{AnalysisTemplate, Metric};
use crate::recorder::Recorder;

/// Read where one request against the recorder does not show it, with the test that proves
/// it. Subtrees end in `.`.
const SHOWN_ELSEWHERE: &[(&str, &str)] = &[
    (
        ".provider.cloudWatch.",
        "the interval and every query field in the form sent (the daemon's AWS environment is \
         not the test's): cloudwatch/tests.rs \
         (the_form_asks_for_the_interval_before_now_with_every_query_field)",
    ),
    (
        ".provider.kayenta.scopes[].",
        "every scope field in the body that starts the execution: kayenta/tests.rs \
         (the_config_is_found_by_name_and_the_execution_started_with_the_scopes)",
    ),
    (
        ".provider.job.",
        "the Job's metadata and spec: tests/e2e/analysis.rs (job_metrics_succeed_and_fail_with_their_jobs)",
    ),
    (
        ".provider.prometheus.authentication.sigv4.",
        "credentials by profile, region and roleArn: sigv4/tests.rs \
         (profiles_are_read_from_the_shared_credentials_file, \
         the_region_is_the_settings_then_the_environment_s, \
         a_role_is_assumed_at_sts_with_a_request_signed_by_the_daemon_s_credentials)",
    ),
    (
        ".provider.prometheus.timeout",
        "a_metric_s_timeout_bounds_its_request below",
    ),
    (
        ".provider.web.timeoutSeconds",
        "a_metric_s_timeout_bounds_its_request below",
    ),
];

/// How [`outcome`] marks a metric that does not parse.
const UNREAD: &str = "does not read: ";

/// How [`outcome`] marks a provider's refusal.
const REFUSED: &str = "refused: ";

/// Refusals by name: a field inside what they refuse is refused with it.
const BY_NAME: &[&str] = &[
    "is not supported by tidegate",
    "authentication.sigv4 signs Prometheus queries only",
];

/// What a mapping on a metric's path needs besides its required fields for its fields to
/// matter: OAuth2 that can get a token from the recorder.
fn seed(name: &str) -> Option<Value> {
    (name == "oauth2").then(|| {
        json!({"tokenUrl": "http://127.0.0.1:9/token", "clientId": "tidegate", "clientSecret": "s3cret"})
    })
}

/// The providers that measure, by the path of their spec.
const MEASURED: &[&str] = &[
    "prometheus",
    "web",
    "datadog",
    "influxdb",
    "newRelic",
    "skywalking",
    "wavefront",
    "graphite",
    "kayenta",
];

/// A metric of `provider` against `url` (its credentials' Secret, `creds`, pointing there;
/// Wavefront's token under the key named as `url` in `wavefront-api-tokens`).
fn base(provider: &str, url: &str) -> Value {
    let provider = match provider {
        "prometheus" => json!({"prometheus": {"address": url, "query": "up"}}),
        "web" => json!({"web": {"url": format!("{url}/rate"), "jsonPath": "{$.value}"}}),
        "datadog" => json!({"datadog": {"query": "q", "secretRef": {"name": "creds"}}}),
        "influxdb" => json!({"influxdb": {"profile": "creds", "query": "q"}}),
        "newRelic" => {
            json!({"newRelic": {"query": "SELECT count(*) FROM Transaction", "profile": "creds"}})
        }
        "skywalking" => {
            json!({"skywalking": {"address": url, "query": "query q($duration: Duration!) { a }", "interval": "5m"}})
        }
        "wavefront" => json!({"wavefront": {"address": url, "query": "ts(cpu)"}}),
        "graphite" => json!({"graphite": {"address": url, "query": "target=cpu&from=-5min"}}),
        "kayenta" => {
            let side = json!({"scope": "app=web", "region": "r", "step": 60,
                "start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"});
            json!({"kayenta": {"address": url, "application": "app", "canaryConfigName": "cfg",
                "metricsAccountName": "m", "configurationAccountName": "c", "storageAccountName": "s",
                "threshold": {"pass": 90, "marginal": 75},
                "scopes": [{"name": "default", "controlScope": side, "experimentScope": side}]}})
        }
        other => json!({other: {}}),
    };
    json!({"name": "errors", "successCondition": "result < 2", "provider": provider})
}

/// The answer of the recorder to a metric of `provider`: for every provider but Graphite one
/// object that serves them all — an OAuth2 token, a Prometheus vector, a web value, Datadog's
/// series and columns, New Relic's rows, SkyWalking's `data`, Wavefront's series; Graphite's
/// render API answers a list of series.
fn answer(provider: &str) -> Value {
    if provider == "graphite" {
        return json!([{"target": "cpu", "datapoints": [[1, 1], [null, 2]]}]);
    }
    if provider == "kayenta" {
        // Kayenta's config list: the config is found and an execution started.
        return json!([{"id": "c1", "name": "cfg"}]);
    }
    json!({"access_token": "t", "token_type": "Bearer", "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1"]}],
            "attributes": {"columns": [{"values": [1]}]},
            "actor": {"account": {"nrql": {"results": [{"count": 1}]}}}},
        "series": [{"pointlist": [[1, 1]]}], "timeseries": [{"data": [[1, 1]]}], "value": 1})
}

/// What tidegate makes of `metric` (of `provider`): its plan, its provider, and for a provider
/// that runs, the request it sends to a fresh recorder and the outcome (the recorder's address
/// replaced, and the times of requests that carry the clock).
async fn outcome(provider: &str, metric: &Value, url_placeholder: &str) -> String {
    let answer = answer(provider);
    let json = || vec![("content-type", "application/json".to_owned())];
    let (recorder, url) =
        Recorder::start(vec![(200, json(), answer.clone()), (200, json(), answer)]).await;
    let text = serde_json::to_string(metric)
        .expect("JSON")
        .replace(url_placeholder, &url);
    let metric: Metric = match serde_json::from_str(&text) {
        Ok(metric) => metric,
        Err(error) => return format!("{UNREAD}{error}"),
    };
    let plan = format!("{:?}", MetricPlan::read(&metric, false, None));
    let measured = match for_metric(&metric) {
        Err(refused) => format!("{REFUSED}{refused}"),
        Ok(provider) => {
            let mut seen = Vec::new();
            for verified_only in [false, true] {
                let mut harness = Harness::new();
                let nerdgraph = format!("{url}/graphql");
                let creds = [
                    ("api-key", "k1"),
                    ("app-key", "k2"),
                    ("address", url.as_str()),
                    ("personal-api-key", "k3"),
                    ("account-id", "1"),
                    ("base-url-nerdgraph", nerdgraph.as_str()),
                    ("authToken", "t"),
                    ("org", "o"),
                ];
                harness.secrets = harness
                    .secrets
                    .with(HARNESS_NAMESPACE, "creds", &creds)
                    .with(HARNESS_NAMESPACE, "wavefront-api-tokens", &[(&url, "k3")]);
                if verified_only {
                    // Verified TLS cannot reach the recorder: only an `insecure` metric does.
                    harness.http = reqwest::Client::builder()
                        .proxy(reqwest::Proxy::all("http://127.0.0.1:9").expect("a proxy"))
                        .build()
                        .expect("a client");
                }
                let context = harness.context();
                let result = provider.measure(&context, &metric, 0, None).await;
                let requests: Vec<String> = recorder.take().iter().map(shown).collect();
                seen.push(format!("{result:?} {requests:?}"));
            }
            seen.join(" ")
        }
    };
    format!("{plan} {measured}").replace(&url, "RECORDER")
}

/// A request as the recorder saw it: method, URI, headers (but the varying host), body.
fn shown(seen: &crate::recorder::Seen) -> String {
    let mut headers: Vec<String> = seen
        .headers
        .iter()
        .filter(|(name, _)| *name != "host")
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    headers.sort();
    without_clock(&format!(
        "{} {} {headers:?} {}",
        seen.method, seen.uri, seen.text
    ))
}

/// `text` with the times taken from the clock (epoch seconds or milliseconds, as Datadog and
/// Wavefront send them) written relative to the latest of their kind, `<t>` and `<t-300>`: a
/// second passing between two measurements is not taken for a field read, while a field that
/// moves one time (Datadog's `interval`) still shows.
fn without_clock(text: &str) -> String {
    let times = regex::Regex::new(r"\b1[0-9]{9}(?:[0-9]{3})?\b").expect("a pattern");
    let latest = |digits: usize| {
        times
            .find_iter(text)
            .filter(|found| found.len() == digits)
            .filter_map(|found| found.as_str().parse::<i64>().ok())
            .max()
            .unwrap_or_default()
    };
    let (seconds, millis) = (latest(10), latest(13));
    times
        .replace_all(text, |found: &regex::Captures<'_>| {
            let time: i64 = found[0].parse().unwrap_or_default();
            let latest = if found[0].len() == 10 {
                seconds
            } else {
                millis
            };
            match time - latest {
                0 => "<t>".to_owned(),
                offset => format!("<t{offset}>"),
            }
        })
        .into_owned()
}

#[tokio::test]
async fn every_metric_field_is_read_or_refused_by_name() {
    let (metric_schema, fields) = spec_leaves::<AnalysisTemplate>("/properties/metrics/items");
    let metric_schema = &metric_schema;
    let placeholder = "http://127.0.0.1:9";
    let mut ignored = Vec::new();
    for (path, leaf) in &fields {
        // Whole subtrees proven elsewhere (the Job's spec) are not measured again here.
        let subtree_elsewhere = SHOWN_ELSEWHERE
            .iter()
            .any(|(known, _)| known.ends_with('.') && path.starts_with(known));
        if subtree_elsewhere {
            ignored.push(path.clone());
            continue;
        }
        let own = path
            .strip_prefix(".provider.")
            .and_then(|rest| rest.split(['.', '[']).next());
        let providers: Vec<&str> = match own {
            Some(provider) => vec![provider],
            None => MEASURED.to_vec(),
        };
        let mut read = false;
        for provider in providers {
            let base = base(provider, placeholder);
            let mut outcomes = std::collections::BTreeSet::new();
            for value in std::iter::once(None).chain(samples(leaf).iter().map(Some)) {
                let metric = with(&base, metric_schema, path, value, seed);
                outcomes.insert(outcome(provider, &metric, placeholder).await);
            }
            // Values that parse and change what happens, or a field inside something
            // refused by name (sigv4 on a web metric); not a required field only the parser
            // notices.
            outcomes.retain(|outcome| !outcome.starts_with(UNREAD));
            let refused = |outcome: &String| {
                outcome.contains(REFUSED) && BY_NAME.iter().any(|name| outcome.contains(name))
            };
            if outcomes.len() > 1 || outcomes.iter().any(refused) {
                read = true;
                break;
            }
        }
        if !read {
            ignored.push(path.clone());
        }
    }
    assert_all_read("a metric", &fields, &ignored, SHOWN_ELSEWHERE);
}

#[tokio::test]
async fn a_metric_s_timeout_bounds_its_request() {
    // A server that takes the connection and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let harness = Harness::new();
    let context = harness.context();
    for (metric, expected) in [
        (
            json!({"name": "m", "provider": {"prometheus": {"address": url, "query": "up", "timeout": 1}}}),
            "Prometheus query timed out after 1s",
        ),
        (
            json!({"name": "m", "provider": {"web": {"url": url, "timeoutSeconds": 1}}}),
            "web request timed out after 1s",
        ),
    ] {
        let metric: Metric = serde_json::from_value(metric).expect("a metric");
        let provider = for_metric(&metric).expect("a provider");
        let result = provider.measure(&context, &metric, 0, None).await;
        assert_eq!(result, Err(expected.to_owned()));
    }
}

#[test]
fn clock_times_are_shown_relative_to_the_latest() {
    assert_eq!(
        without_clock("GET /api/v1/query?from=1700000000&query=q&to=1700000300 ports 9 12345"),
        "GET /api/v1/query?from=<t-300>&query=q&to=<t> ports 9 12345"
    );
    assert_eq!(
        without_clock(r#"{"from":1700000000000,"to":1700000060000} e=1700000060000"#),
        r#"{"from":<t-60000>,"to":<t>} e=<t>"#
    );
}
