//! Wavefront's request shape and answers, from Argo's `wavefront_test.go` and the fixtures of
//! Argo's client, `spaceapegames/go-wavefront` (`fixtures/single-series.json`,
//! `fixtures/failed-query.json`).

use serde_json::json;

use super::*;
use crate::analysis::provider::request::Answer;
use crate::analysis::provider::{HARNESS_NAMESPACE, Harness, metric};
use crate::recorder::Recorder;

fn spec(value: Value) -> WavefrontMetric {
    serde_json::from_value(value).expect("a Wavefront spec")
}

fn at(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(seconds).expect("a time")
}

/// go-wavefront's `fixtures/single-series.json`, trimmed from 60 points to 4.
const SINGLE_SERIES: &str = r#"{"query":"ts(servers.load.load.longterm,host=server1.example.net)","name":"ts(servers.load.load.longterm,host=server1.example.net)","timeseries":[{"label":"servers.load.load.longterm","host":"server1.example.net","data":[[1494696240,0.049999999999999996],[1494696300,0.049999999999999996],[1494696720,0.07500000000000001],[1494699780,0.05000000000000001]]}],"granularity":60,"stats":{"keys":105,"points":105,"summaries":724,"latency":1,"queries":2}}"#;

/// go-wavefront's `fixtures/failed-query.json`: a 200 answer.
const FAILED_QUERY: &str = r#"{"query":"ts(servers.load.load.longterm, source=server1.example.net)","errorType":"QueryExecutionFailed","errorMessage":"Terminating Query to save resources"}"#;

#[test]
fn specs_need_a_host_and_a_query() {
    let refused = |value: Value| check(&spec(value)).expect_err("refused");
    assert_eq!(
        check(&spec(
            json!({"address": "example.wavefront.com", "query": "ts(cpu)"})
        )),
        Ok(())
    );
    assert_eq!(
        check(&spec(
            json!({"address": "http://127.0.0.1:8080", "query": "ts(cpu)"})
        )),
        Ok(())
    );
    assert_eq!(
        refused(json!({"query": "ts(cpu)"})),
        "wavefront.address is not set"
    );
    assert_eq!(
        refused(json!({"address": "example.wavefront.com", "query": "  "})),
        "wavefront.query is not set"
    );
    for address in [
        "example.wavefront.com/api",
        "ftp://example.wavefront.com",
        "user:pw@example.wavefront.com",
        "example.wavefront.com?x=1",
    ] {
        assert_eq!(
            refused(json!({"address": address, "query": "q"})),
            format!(
                "wavefront.address {address:?} must be a host and port, like example.wavefront.com"
            )
        );
    }
    assert!(
        refused(json!({"address": "exa mple", "query": "q"}))
            .starts_with("wavefront.address \"exa mple\" is not a host: ")
    );
}

#[test]
fn the_query_asks_for_one_point_at_the_measurement_s_second() {
    let query = "ts(servers.load.load.longterm, host=server1.example.net)";
    let request = shape(
        &spec(json!({"address": "example.wavefront.com", "query": query})),
        "token-1",
        jiff::Timestamp::from_millisecond(1_494_696_300_999).expect("a time"),
    )
    .expect("a request");
    assert_eq!(request.method, reqwest::Method::GET);
    assert_eq!(
        request.url.as_str(),
        "https://example.wavefront.com/api/v2/chart/api?e=1494696300000&g=s&i=true&p=1\
         &q=ts%28servers.load.load.longterm%2C+host%3Dserver1.example.net%29&s=1494696300000"
    );
    assert_eq!(request.body, None);
    assert_eq!(
        request.header_value("authorization"),
        Some("Bearer token-1")
    );
    assert_eq!(request.header_value("accept"), Some("application/json"));
    // An address with its scheme is used as given.
    let local = shape(
        &spec(json!({"address": "http://127.0.0.1:8080/", "query": "ts(cpu)"})),
        "t",
        at(12_000),
    )
    .expect("a request");
    assert_eq!(
        local.url.as_str(),
        "http://127.0.0.1:8080/api/v2/chart/api?e=12000000&g=s&i=true&p=1&q=ts%28cpu%29&s=12000000"
    );
}

#[test]
fn each_series_gives_its_point_nearest_the_measurement() {
    // go-wavefront's fixture: at 1494696300 Argo records value "0.05", drift 0.
    assert_eq!(
        read_chart(SINGLE_SERIES, at(1_494_696_300)),
        Ok(MetricValue::Scalar(0.049_999_999_999_999_996))
    );
    assert_eq!(
        read_chart(SINGLE_SERIES, at(1_494_696_700)),
        Ok(MetricValue::Scalar(0.075_000_000_000_000_01))
    );
    assert_eq!(
        read_chart(SINGLE_SERIES, at(1_494_699_000)),
        Ok(MetricValue::Scalar(0.050_000_000_000_000_01))
    );
    // 210 s from 1494696300 and from 1494696720: the first wins.
    assert_eq!(
        read_chart(SINGLE_SERIES, at(1_494_696_510)),
        Ok(MetricValue::Scalar(0.049_999_999_999_999_996))
    );
    // Argo's findDataPointValue cases on [[0,1],[5,2]].
    let two_points = r#"{"timeseries":[{"data":[[0,1],[5,2]]}]}"#;
    for (second, expected) in [(1, "1"), (4, "2"), (0, "1"), (3, "2"), (100, "2")] {
        let value = read_chart(two_points, at(second)).expect("a value");
        assert_eq!(value.display(), expected, "at {second}");
    }
}

#[test]
fn several_series_give_a_list_and_a_series_without_points_nan() {
    // Argo's two-series case, measured at 12000.
    let two = r#"{"timeseries":[{"data":[[12000,10]]},{"data":[[12000,11]]}]}"#;
    assert_eq!(
        read_chart(two, at(12_000)),
        Ok(MetricValue::Vector(vec![10.0, 11.0]))
    );
    let empty_series = r#"{"timeseries":[{"data":[]},{"label":"x"},{"data":[[12000,10]]}]}"#;
    let value = read_chart(empty_series, at(12_000)).expect("a value");
    assert_eq!(value.display(), "[NaN,NaN,10]");
    let alone = read_chart(r#"{"timeseries":[{"data":[]}]}"#, at(12_000)).expect("a value");
    assert!(
        matches!(alone, MetricValue::Scalar(value) if value.is_nan()),
        "{alone:?}"
    );
    let null = read_chart(r#"{"timeseries":[{"data":[[12000,null]]}]}"#, at(12_000));
    assert!(
        matches!(null, Ok(MetricValue::Scalar(value)) if value.is_nan()),
        "{null:?}"
    );
}

#[test]
fn no_series_is_no_data_and_wavefront_s_error_is_an_error() {
    // Argo's "no series" case: a warning, no series.
    assert_eq!(
        read_chart(
            r#"{"timeseries":[],"warnings":"No query provided"}"#,
            at(12_000)
        ),
        Ok(MetricValue::Nil)
    );
    assert_eq!(
        read_chart(r#"{"query":"ts(x)"}"#, at(12_000)),
        Ok(MetricValue::Nil)
    );
    assert_eq!(
        read_chart(FAILED_QUERY, at(12_000)),
        Err(
            "Wavefront query failed (QueryExecutionFailed): Terminating Query to save resources"
                .to_owned()
        )
    );
    assert_eq!(
        read_chart(
            r#"{"errorMessage":"bad query","timeseries":[{"data":[[1,1]]}]}"#,
            at(1)
        ),
        Err("Wavefront query failed: bad query".to_owned())
    );
    assert_eq!(
        read_chart(r#"{"timeseries":[{"data":[[1]]}]}"#, at(1)),
        Err("Wavefront's point [1] is not [time, value]".to_owned())
    );
    assert_eq!(
        read_chart(r#"{"timeseries":[{"data":[[1,"x"]]}]}"#, at(1)),
        Err("Wavefront value \"x\" is not a number".to_owned())
    );
    assert_eq!(
        read_chart(r#"{"timeseries":{}}"#, at(1)),
        Err("Wavefront's answer has timeseries that is not a list".to_owned())
    );
    assert!(
        read_chart("<html>", at(1))
            .expect_err("not JSON")
            .starts_with("Wavefront's answer is not JSON")
    );
}

#[test]
fn only_a_200_is_read_and_a_refusal_says_why() {
    let answer = |status: u16, body: &str| Answer {
        status: reqwest::StatusCode::from_u16(status).expect("a status"),
        body: body.to_owned(),
    };
    assert_eq!(
        read(
            &answer(401, r#"{"status":{"result":"ERROR","message":"Unauthorized","code":401}}"#),
            at(1)
        ),
        Err(r#"Wavefront answered 401 Unauthorized: {"status":{"result":"ERROR","message":"Unauthorized","code":401}}"#.to_owned())
    );
    assert_eq!(
        read(&answer(502, "<html>bad\ngateway</html>"), at(1)),
        Err("Wavefront answered 502 Bad Gateway: <html>bad gateway</html>".to_owned())
    );
    assert!(read(&answer(204, SINGLE_SERIES), at(1_494_696_300)).is_err());
    assert_eq!(
        read(&answer(200, SINGLE_SERIES), at(1_494_696_300)),
        Ok(MetricValue::Scalar(0.049_999_999_999_999_996))
    );
}

#[tokio::test]
async fn the_token_is_the_key_named_as_the_address() {
    let mut harness = Harness::new();
    harness.secrets = harness
        .secrets
        .with(
            HARNESS_NAMESPACE,
            "wavefront-api-tokens",
            &[
                ("example1.wavefront.com", "token-1"),
                ("example2.wavefront.com", " token-2\n"),
                ("blank.wavefront.com", " "),
            ],
        )
        .with(
            "shop",
            "wavefront-api-tokens",
            &[("example3.wavefront.com", "shop-token")],
        );
    harness.run.metadata.namespace = Some("shop".to_owned());
    let context = harness.context();
    let found = |address: &str| {
        let context = &context;
        let spec = spec(json!({"address": address, "query": "q"}));
        async move { token(context, &spec).await }
    };
    assert_eq!(
        found("example1.wavefront.com").await,
        Ok("token-1".to_owned())
    );
    assert_eq!(
        found("example2.wavefront.com").await,
        Ok("token-2".to_owned())
    );
    for missing in [
        "blank.wavefront.com",
        "Example1.wavefront.com",
        "example1.wavefront.com:443",
        // Only the daemon's namespace is read, never the run's.
        "example3.wavefront.com",
    ] {
        assert_eq!(
            found(missing).await,
            Err(format!(
                "Secret wavefront-api-tokens has no token for {missing}"
            ))
        );
    }
    let empty = Harness::new();
    let context = empty.context();
    assert_eq!(
        token(
            &context,
            &spec(json!({"address": "example1.wavefront.com", "query": "q"}))
        )
        .await,
        Err("read Secret tidegate-system/wavefront-api-tokens: not found".to_owned())
    );
}

#[tokio::test]
async fn a_measurement_sends_the_token_and_retries_a_failing_server() {
    let json_type = || vec![("content-type", "application/json".to_owned())];
    let (recorder, url) = Recorder::start(vec![
        (503, Vec::new(), json!({"message": "unavailable"})),
        (
            200,
            json_type(),
            serde_json::from_str::<Value>(SINGLE_SERIES).expect("JSON"),
        ),
    ])
    .await;
    let mut harness = Harness::new();
    harness.secrets = harness.secrets.with(
        HARNESS_NAMESPACE,
        "wavefront-api-tokens",
        &[
            (url.as_str(), "token-9"),
            ("other.wavefront.com", "token-0"),
        ],
    );
    let context = harness.context();
    let metric = metric(json!({"name": "load", "provider": {"wavefront": {
        "address": url, "query": "ts(servers.load.load.longterm)"}}}));
    let before = jiff::Timestamp::now().as_second();
    let outcome = WavefrontProvider.measure(&context, &metric, 0, None).await;
    let after = jiff::Timestamp::now().as_second();
    // Every point is years old: the newest is the nearest.
    assert_eq!(
        outcome,
        Ok(Outcome::Value(MetricValue::Scalar(
            0.050_000_000_000_000_01
        )))
    );
    let seen = recorder.take();
    assert_eq!(seen.len(), 2, "the failing server is asked again");
    for request in &seen {
        assert_eq!(request.method, "GET");
        let (path, query) = request.uri.split_once('?').expect("a query");
        assert_eq!(path, "/api/v2/chart/api");
        let pairs: Vec<(String, String)> = reqwest::Url::parse(&format!("http://x/?{query}"))
            .expect("a URL")
            .query_pairs()
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        let names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["e", "g", "i", "p", "q", "s"]);
        let millis: i64 = pairs[0].1.parse().expect("milliseconds");
        assert_eq!(pairs[5].1, pairs[0].1, "s and e are the same time");
        assert_eq!(millis % 1000, 0);
        assert!((before..=after).contains(&(millis / 1000)), "{millis}");
        assert_eq!(pairs[4].1, "ts(servers.load.load.longterm)");
        assert_eq!(request.header("authorization"), ["Bearer token-9"]);
        assert_eq!(request.header("accept"), ["application/json"]);
    }
}

#[tokio::test]
async fn an_address_outside_the_allow_list_is_never_sent_the_token() {
    let mut harness = Harness::new();
    harness.secrets = harness.secrets.with(
        HARNESS_NAMESPACE,
        "wavefront-api-tokens",
        &[("example.wavefront.com", "token-1")],
    );
    let context = harness.context();
    let metric = metric(json!({"name": "load", "provider": {"wavefront": {
        "address": "example.wavefront.com", "query": "ts(cpu)"}}}));
    let message = WavefrontProvider
        .measure(&context, &metric, 0, None)
        .await
        .expect_err("refused");
    assert!(message.contains("example.wavefront.com"), "{message}");
    assert!(!message.contains("token-1"), "{message}");
}
