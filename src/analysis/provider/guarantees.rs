//! The safety rules hold for every provider: an answer with no data, or with a NaN (a `null`
//! point), never makes a measurement Successful, even under a lone failure condition that
//! never holds (Successful in Argo). Each provider is measured against a request recorder
//! answering as its service does when there is nothing to report.

use serde_json::{Value, json};

use super::{HARNESS_NAMESPACE, Harness, Outcome, cloudwatch, for_metric, metric};
use crate::analysis::assess::MetricPlan;
use crate::analysis::round::measurement_of;
use crate::k8s::crd::Metric;
use crate::model::AnalysisPhase;
use crate::recorder::Recorder;

/// A failure condition that never holds: Argo calls every measurement Successful.
const NEVER: &str = "result == 12345";

/// Each provider's spec (against the recorder at `url`) and its answers: no data, and where
/// the service can say so, a point that is `null` or NaN.
fn cases(url: &str) -> Vec<(&'static str, Value, Vec<String>)> {
    let csv = |value: &str| format!("#datatype,string,long,double\n,result,table,_value\n{value}");
    vec![
        (
            "datadog v1",
            json!({"datadog": {"query": "q", "secretRef": {"name": "creds"}}}),
            vec![
                json!({"status": "ok", "series": []}).to_string(),
                json!({"status": "ok", "series": [{"pointlist": [[1, null]]}]}).to_string(),
            ],
        ),
        (
            "datadog v2",
            json!({"datadog": {"apiVersion": "v2", "query": "q", "secretRef": {"name": "creds"}}}),
            vec![
                json!({"data": {"attributes": {"columns": [{"values": []}]}}}).to_string(),
                json!({"data": {"attributes": {"columns": [{"values": [null]}]}}}).to_string(),
            ],
        ),
        (
            "newRelic",
            json!({"newRelic": {"profile": "creds", "query": "SELECT count(*) FROM T"}}),
            vec![
                json!({"data": {"actor": {"account": {"nrql": {"results": []}}}}}).to_string(),
                json!({"data": {"actor": {"account": {"nrql": {"results": [{}]}}}}}).to_string(),
            ],
        ),
        (
            "influxdb",
            json!({"influxdb": {"profile": "creds", "query": "from(bucket: \"b\")"}}),
            vec![csv(""), csv(",,0,NaN\n")],
        ),
        (
            "skywalking",
            json!({"skywalking": {"address": url, "interval": "5m", "query": "query q($duration: Duration!) { a }"}}),
            vec![
                json!({"data": null}).to_string(),
                json!({"data": {}}).to_string(),
            ],
        ),
        (
            "wavefront",
            json!({"wavefront": {"address": url, "query": "ts(cpu)"}}),
            vec![
                json!({"timeseries": []}).to_string(),
                json!({"timeseries": [{"data": []}]}).to_string(),
            ],
        ),
        (
            "graphite",
            json!({"graphite": {"address": url, "query": "target=cpu"}}),
            vec![
                json!([]).to_string(),
                json!([{"target": "cpu", "datapoints": [[null, 1]]}]).to_string(),
            ],
        ),
    ]
}

/// The phase and message of `outcome` judged by `metric`'s conditions.
fn judged(metric: &Metric, outcome: Result<Outcome, String>) -> (AnalysisPhase, String) {
    let plan = MetricPlan::read(metric, false, None).expect("a plan");
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
    let measurement = measurement_of(outcome, &plan, now.clone(), &now, ToOwned::to_owned);
    (measurement.phase, measurement.message)
}

#[tokio::test]
async fn no_data_and_nan_never_pass_whatever_the_provider() {
    for (name, _, answers) in cases("http://127.0.0.1:9") {
        for answer in answers {
            let (recorder, url) = Recorder::start(vec![(
                200,
                vec![("content-type", "application/json".to_owned())],
                answer.clone(),
            )])
            .await;
            let spec = cases(&url)
                .into_iter()
                .find(|(case, _, _)| *case == name)
                .map(|(_, spec, _)| spec)
                .expect("the case");
            let metric = metric(json!({"name": "m", "failureCondition": NEVER, "provider": spec}));
            let mut harness = Harness::new();
            let creds = [
                ("api-key", "k"),
                ("app-key", "k"),
                ("address", url.as_str()),
                ("personal-api-key", "k"),
                ("account-id", "1"),
                ("base-url-nerdgraph", &format!("{url}/graphql")),
                ("authToken", "t"),
                ("org", "o"),
            ]
            .map(|(key, value)| (key, value.to_owned()));
            let creds: Vec<(&str, &str)> = creds
                .iter()
                .map(|(key, value)| (*key, value.as_str()))
                .collect();
            harness.secrets = harness
                .secrets
                .with(HARNESS_NAMESPACE, "creds", &creds)
                .with(HARNESS_NAMESPACE, "wavefront-api-tokens", &[(&url, "k")]);
            let context = harness.context();
            let provider = for_metric(&metric).expect("a provider");
            let outcome = provider.measure(&context, &metric, 0, None).await;
            assert!(
                matches!(outcome, Ok(Outcome::Value(_))),
                "{name} {answer}: {outcome:?}"
            );
            assert_eq!(recorder.take().len(), 1, "{name}: the service was asked");
            let (phase, message) = judged(&metric, outcome);
            assert_eq!(
                phase,
                AnalysisPhase::Inconclusive,
                "{name} {answer}: {message}"
            );
        }
    }
}

#[tokio::test]
async fn cloudwatch_results_without_values_never_pass() {
    for answer in [
        "<GetMetricDataResponse><GetMetricDataResult><MetricDataResults/></GetMetricDataResult></GetMetricDataResponse>",
        "<GetMetricDataResponse><GetMetricDataResult><MetricDataResults><member><Id>a</Id><Values/></member></MetricDataResults></GetMetricDataResult></GetMetricDataResponse>",
    ] {
        let (_recorder, url) = Recorder::start(vec![(
            200,
            vec![("content-type", "text/xml".to_owned())],
            answer.to_owned(),
        )])
        .await;
        let metric = metric(
            json!({"name": "m", "successCondition": "all(result[0].Values, {# < 1})",
            "provider": {"cloudWatch": {"metricDataQueries": [{"id": "a", "expression": "1"}]}}}),
        );
        let harness = Harness::new();
        let context = harness.context();
        let env = move |name: &str| {
            Some(match name {
                "AWS_REGION" => "eu-west-1".to_owned(),
                "AWS_ACCESS_KEY_ID" => "AKID".to_owned(),
                "AWS_SECRET_ACCESS_KEY" => "secret".to_owned(),
                "AWS_ENDPOINT_URL" => url.clone(),
                _ => return None,
            })
        };
        let spec = metric.provider.cloud_watch.as_ref().expect("a spec");
        let value = cloudwatch::take(&context, spec, &env)
            .await
            .map(Outcome::Value);
        // Argo: `all([], …)` holds, Successful. Here: no data, Inconclusive.
        let (phase, message) = judged(&metric, value);
        assert_eq!(phase, AnalysisPhase::Inconclusive, "{answer}: {message}");
    }
}
