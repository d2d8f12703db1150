//! SkyWalking's request shape and answers, from Argo's SkyWalking docs and a capture of the
//! SkyWalking UI's `readMetricsValues` exchange.

use serde_json::json;

use super::*;
use crate::analysis::provider::request::Answer;
use crate::analysis::provider::{Harness, metric};
use crate::recorder::Recorder;

/// The query of Argo's SkyWalking docs, its argument filled in.
const APDEX: &str = r#"query queryData($duration: Duration!) { service_apdex: readMetricsValues(condition: { name: "service_apdex", entity: { scope: Service, serviceName: "shop", normal: true } }, duration: $duration) { label values { values { value } } } }"#;

fn spec(value: Value) -> SkyWalkingMetric {
    serde_json::from_value(value).expect("a SkyWalking spec")
}

fn apdex(interval: &str) -> SkyWalkingMetric {
    spec(
        json!({"address": "http://skywalking-oap.skywalking:12800/", "query": APDEX, "interval": interval}),
    )
}

#[test]
fn specs_need_an_address_a_query_and_an_interval() {
    let refused = |value: Value| check(&spec(value)).expect_err("refused");
    assert_eq!(check(&apdex("5m")), Ok(()));
    assert_eq!(
        refused(json!({"query": "q", "interval": "5m"})),
        "skywalking.address is required"
    );
    assert_eq!(
        refused(json!({"address": "skywalking-oap:12800", "query": "q", "interval": "5m"})),
        "skywalking.address \"skywalking-oap:12800\" is not an http(s) URL"
    );
    assert!(
        refused(json!({"address": "oap", "query": "q", "interval": "5m"}))
            .starts_with("skywalking.address \"oap\" is not a URL")
    );
    assert_eq!(
        refused(json!({"address": "http://oap:12800", "interval": "5m"})),
        "skywalking.query is required"
    );
    assert_eq!(
        refused(json!({"address": "http://oap:12800", "query": "q"})),
        "skywalking.interval is required (how far back the query looks)"
    );
    assert_eq!(
        refused(json!({"address": "http://oap:12800", "query": "q", "interval": "0s"})),
        "skywalking.interval must be more than 0"
    );
    assert!(
        refused(json!({"address": "http://oap:12800", "query": "q", "interval": "5 minutes"}))
            .starts_with("skywalking.interval: ")
    );
}

#[test]
fn the_duration_runs_from_interval_ago_to_now_in_utc_minutes() {
    let now: jiff::Timestamp = "2021-07-03T13:21:42Z".parse().expect("a time");
    let request = shape(&apdex("1m"), now).expect("a request");
    assert_eq!(request.method, reqwest::Method::POST);
    assert_eq!(
        request.url.as_str(),
        "http://skywalking-oap.skywalking:12800/graphql"
    );
    assert_eq!(
        request.headers,
        [
            ("content-type", "application/json".to_owned()),
            ("accept", "application/json".to_owned()),
        ]
    );
    let body: Value = serde_json::from_str(request.body.as_deref().expect("a body")).expect("JSON");
    assert_eq!(
        body,
        json!({"query": APDEX, "variables": {"duration": {
            "start": "2021-07-03 1320", "end": "2021-07-03 1321", "step": "MINUTE"}}})
    );
    // Across midnight, and in UTC whatever the offset the time was written with.
    let late: jiff::Timestamp = "2021-07-04T01:30:00+02:00".parse().expect("a time");
    let body: Value = serde_json::from_str(
        shape(&apdex("1h30m"), late)
            .expect("a request")
            .body
            .as_deref()
            .expect("a body"),
    )
    .expect("JSON");
    assert_eq!(
        body["variables"]["duration"],
        json!({"start": "2021-07-03 2200", "end": "2021-07-03 2330", "step": "MINUTE"})
    );
}

/// A SkyWalking UI capture of `readMetricsValues` (cnblogs.com/switchvov/p/15375443.html).
const CAPTURED: &str =
    r#"{"data":{"readMetricsValues":{"values":{"values":[{"value":22},{"value":22}]}}}}"#;

#[test]
fn the_result_is_graphql_s_data() {
    let Ok(MetricValue::Json(data)) = read_data(CAPTURED) else {
        panic!("a value");
    };
    assert_eq!(
        data["readMetricsValues"]["values"]["values"][0]["value"],
        22
    );
    assert_eq!(
        MetricValue::Json(data).display(),
        r#"{"readMetricsValues":{"values":{"values":[{"value":22},{"value":22}]}}}"#
    );
    // The docs' apdex query, aliased.
    assert_eq!(
        read_data(
            r#"{"data":{"service_apdex":{"label":null,"values":{"values":[{"value":10000},{"value":9950}]}}}}"#
        ),
        Ok(MetricValue::Json(
            json!({"service_apdex": {"label": null, "values": {"values": [{"value": 10000}, {"value": 9950}]}}})
        ))
    );
}

#[test]
fn no_data_is_no_data_and_errors_are_errors() {
    // Argo: Error "no results returned from SkyWalking query"; here the empty-result rules decide.
    assert_eq!(read_data(r#"{"data":null}"#), Ok(MetricValue::Nil));
    assert_eq!(read_data("{}"), Ok(MetricValue::Nil));
    assert_eq!(read_data(r#"{"data":{}}"#), Ok(MetricValue::Nil));
    assert_eq!(
        read_data(r#"{"data":[1]}"#),
        Err("SkyWalking's answer has data that is not an object".to_owned())
    );
    assert_eq!(
        read_data(
            r#"{"errors":[{"message":"Validation error of type FieldUndefined: Field 'readMetricValues' in type 'Query' is undefined"},{"message":"second"}],"data":null}"#
        ),
        Err("SkyWalking query failed: Validation error of type FieldUndefined: Field 'readMetricValues' in type 'Query' is undefined; second".to_owned())
    );
    assert!(
        read_data("<html>")
            .expect_err("not JSON")
            .starts_with("SkyWalking's answer is not JSON")
    );
}

#[test]
fn only_a_200_is_read_and_a_refusal_says_why() {
    let answer = |status: u16, body: &str| Answer {
        status: reqwest::StatusCode::from_u16(status).expect("a status"),
        body: body.to_owned(),
    };
    assert_eq!(
        read(&answer(400, r#"{"errors":[{"message":"Invalid Syntax"}]}"#)),
        Err("SkyWalking answered 400 Bad Request: Invalid Syntax".to_owned())
    );
    assert_eq!(
        read(&answer(404, "Not\nFound")),
        Err("SkyWalking answered 404 Not Found: Not Found".to_owned())
    );
    assert!(read(&answer(204, CAPTURED)).is_err());
    assert!(matches!(
        read(&answer(200, CAPTURED)),
        Ok(MetricValue::Json(_))
    ));
}

#[tokio::test]
async fn a_measurement_posts_the_query_and_retries_a_failing_server() {
    let json_type = || vec![("content-type", "application/json".to_owned())];
    let (recorder, url) = Recorder::start(vec![
        (503, vec![("retry-after", "0".to_owned())], json!({})),
        (
            200,
            json_type(),
            serde_json::from_str::<Value>(CAPTURED).expect("JSON"),
        ),
    ])
    .await;
    let harness = Harness::new();
    let context = harness.context();
    let metric = metric(json!({"name": "apdex", "provider": {"skywalking": {
        "address": url, "query": APDEX, "interval": "10m"}}}));
    let before = jiff::Timestamp::now();
    let outcome = SkyWalkingProvider.measure(&context, &metric, 0, None).await;
    let after = jiff::Timestamp::now();
    assert_eq!(
        outcome,
        Ok(Outcome::Value(MetricValue::Json(
            serde_json::from_str::<Value>(CAPTURED).expect("JSON")["data"].clone()
        )))
    );
    let seen = recorder.take();
    assert_eq!(seen.len(), 2, "the failing server is asked again");
    let minute = |time: jiff::Timestamp| time.strftime(MINUTE_FORMAT).to_string();
    let ten_minutes = jiff::SignedDuration::from_mins(10);
    for request in &seen {
        assert_eq!(request.method, "POST");
        assert_eq!(request.uri, "/graphql");
        assert_eq!(request.header("content-type"), ["application/json"]);
        assert_eq!(request.header("accept"), ["application/json"]);
        assert_eq!(request.body["query"], APDEX);
        let duration = &request.body["variables"]["duration"];
        assert_eq!(duration["step"], "MINUTE");
        let end = duration["end"].as_str().expect("an end");
        assert!(
            [minute(before), minute(after)].iter().any(|at| at == end),
            "{duration}"
        );
        let start = duration["start"].as_str().expect("a start");
        assert!(
            [minute(before - ten_minutes), minute(after - ten_minutes)]
                .iter()
                .any(|at| at == start),
            "{duration}"
        );
    }
}

#[tokio::test]
async fn an_address_outside_the_allow_list_is_not_asked() {
    let harness = Harness::new();
    let context = harness.context();
    let metric = metric(json!({"name": "apdex", "provider": {"skywalking": {
        "address": "http://10.1.2.3:12800", "query": APDEX, "interval": "5m"}}}));
    let outcome = SkyWalkingProvider.measure(&context, &metric, 0, None).await;
    let message = outcome.expect_err("refused");
    assert!(message.contains("10.1.2.3"), "{message}");
}
