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
];

/// A metric of `provider` against `url` (its credentials' Secret, `creds`, pointing there).
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
        other => json!({other: {}}),
    };
    json!({"name": "errors", "successCondition": "result < 2", "provider": provider})
}

/// What tidegate makes of `metric`: its plan, its provider, and for a provider that runs, the
/// request it sends to a fresh recorder and the outcome (the recorder's address replaced).
async fn outcome(metric: &Value, url_placeholder: &str) -> String {
    // One answer for every request: an OAuth2 token, a Prometheus vector, a web value,
    // Datadog's, New Relic's and SkyWalking's (GraphQL's `data`).
    let answer = json!({"access_token": "t", "token_type": "Bearer", "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1"]}],
            "attributes": {"columns": [{"values": [1]}]},
            "actor": {"account": {"nrql": {"results": [{"count": 1}]}}}},
        "series": [{"pointlist": [[1, 1]]}], "value": 1});
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
                harness.secrets = harness.secrets.with(HARNESS_NAMESPACE, "creds", &creds);
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
    format!("{} {} {headers:?} {}", seen.method, seen.uri, seen.text)
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
                outcomes.insert(outcome(&metric, placeholder).await);
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
