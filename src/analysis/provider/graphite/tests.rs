//! Graphite's request shape and answers, from graphite-web's render API documentation
//! (`docs/render_api.rst`, `format=json`) and Argo's `api_test.go` fixtures.

use serde_json::json;

use super::*;
use crate::analysis::provider::request::Answer;
use crate::analysis::provider::{Harness, metric};
use crate::recorder::Recorder;

fn spec(value: Value) -> GraphiteMetric {
    serde_json::from_value(value).expect("a Graphite spec")
}

/// graphite-web's documented `format=json` answer.
const DOCUMENTED: &str = r#"[{"target": "entries", "datapoints": [[1.0, 1311836008],[2.0, 1311836009],[3.0, 1311836010],[5.0, 1311836011],[6.0, 1311836012]]}]"#;

/// Argo's `api_test.go` "ok" answer (`%f` of 100, `%d` of 1621348430).
const ARGO_OK: &str = r#"[
    {
        "datapoints": [
            [
                100.000000,
                1621348430
            ]
        ],
        "target": "sumSeries(app.http.*.*.count)",
        "tags": {
            "aggregatedBy": "sum",
            "name": "sumSeries(app.http.*.*.count)"
        }
    }
]"#;

/// Argo's `api_test.go` answer with one series of `datapoints`.
fn argo(datapoints: &str) -> String {
    format!(r#"[{{"datapoints": {datapoints}, "target": "sumSeries(app.http.*.*.count)"}}]"#)
}

#[test]
fn specs_need_a_url_and_a_query() {
    let refused = |value: Value| check(&spec(value)).expect_err("refused");
    assert_eq!(
        check(&spec(
            json!({"address": "http://graphite.example.com:9090", "query": "target=a.b&from=-5min"})
        )),
        Ok(())
    );
    assert_eq!(
        refused(json!({"query": "target=a"})),
        "graphite.address is not set"
    );
    assert_eq!(
        refused(json!({"address": "graphite:8080", "query": "target=a"})),
        "graphite.address \"graphite:8080\" is not an http(s) URL"
    );
    assert!(
        refused(json!({"address": ":::", "query": "target=a"}))
            .starts_with("graphite.address \":::\" is not a URL")
    );
    assert_eq!(
        refused(json!({"address": "http://g", "query": " \n\t"})),
        "graphite.query is not set"
    );
    // Argo's "invalid query" case fails the same way, at its escape.
    assert_eq!(
        refused(
            json!({"address": "http://g", "query": "target=#$%^&*(proper$#$%%^(password&from=-2min"})
        ),
        "graphite.query has an invalid escape \"%^&\""
    );
    assert_eq!(
        refused(json!({"address": "http://g", "query": "target=a%2"})),
        "graphite.query has an invalid escape \"%2\""
    );
    assert_eq!(
        check(&spec(
            json!({"address": "http://g", "query": "target=a%2Cb"})
        )),
        Ok(())
    );
}

#[test]
fn the_query_loses_its_whitespace_and_asks_for_json() {
    let request = shape(&spec(json!({
        "address": "http://graphite.example.com:9090/",
        "query": "target=summarize(asPercent(sumSeries(app.http.5xx.count),\n  sumSeries(app.http.*.count)), '5min', 'avg')&from=-5min\n"
    })))
    .expect("a request");
    assert_eq!(request.method, reqwest::Method::GET);
    assert_eq!(
        request.url.as_str(),
        "http://graphite.example.com:9090/render?target=summarize%28asPercent%28sumSeries\
         %28app.http.5xx.count%29%2CsumSeries%28app.http.*.count%29%29%2C%275min%27%2C\
         %27avg%27%29&from=-5min&format=json"
    );
    assert_eq!(request.headers, Vec::new(), "no credentials, no headers");
    assert_eq!(request.body, None);
    // Parameters keep their order; `format` is replaced; a base path is kept.
    let replaced = shape(&spec(json!({
        "address": "https://metrics.example.com/graphite",
        "query": "target=a.b&format=pickle&target=c.d&until=now"
    })))
    .expect("a request");
    assert_eq!(
        replaced.url.as_str(),
        "https://metrics.example.com/graphite/render?target=a.b&target=c.d&until=now&format=json"
    );
}

#[test]
fn the_first_series_gives_its_values_oldest_first_without_nulls() {
    assert_eq!(
        read_render(DOCUMENTED).map(|value| value.display()),
        Ok("[1,2,3,5,6]".to_owned())
    );
    assert_eq!(read_render(ARGO_OK), Ok(MetricValue::Vector(vec![100.0])));
    // A string value, a string time (Argo's fixtures).
    assert_eq!(
        read_render(&argo(r#"[["100.000000", 1621348430]]"#)),
        Ok(MetricValue::Vector(vec![100.0]))
    );
    assert_eq!(
        read_render(&argo(r#"[[100.000000, "1621348430"]]"#)),
        Ok(MetricValue::Vector(vec![100.0]))
    );
    let gappy = r#"[{"target":"a","datapoints":[[null,1],[1.5,2],[null,3],[2.5,4]]},
        {"target":"b","datapoints":[[7,1]]}]"#;
    assert_eq!(
        read_render(gappy).map(|value| value.display()),
        Ok("[1.5,2.5]".to_owned())
    );
}

#[test]
fn no_values_is_no_data() {
    // Argo's `[[null, ts]]`: Value "[]", and an Error for the condition that indexes it.
    assert_eq!(
        read_render(&argo("[[null, 1621348430]]")),
        Ok(MetricValue::Nil)
    );
    assert_eq!(read_render(&argo("[]")), Ok(MetricValue::Nil));
    assert_eq!(read_render("[]"), Ok(MetricValue::Nil));
    assert_eq!(read_render(r#"[{"target":"a"}]"#), Ok(MetricValue::Nil));
    // Only the first series counts, even when another has values.
    assert_eq!(
        read_render(r#"[{"target":"a","datapoints":[]},{"target":"b","datapoints":[[1,1]]}]"#),
        Ok(MetricValue::Nil)
    );
}

#[test]
fn a_point_that_is_not_value_and_time_is_an_error() {
    assert_eq!(
        read_render(&argo("[[10]]")),
        Err("Graphite's datapoint [10] is not [value, time]".to_owned())
    );
    assert_eq!(
        read_render(&argo(r#"[[100, "f"]]"#)),
        Err("Graphite's time \"f\" is not a number".to_owned())
    );
    assert_eq!(
        read_render(&argo("[[[], 1621348420]]")),
        Err("Graphite's value [] is not a number".to_owned())
    );
    assert_eq!(
        read_render(&argo("[[100, []]]")),
        Err("Graphite's time [] is not a number".to_owned())
    );
    assert_eq!(
        read_render(&argo(r#"[["lots", 1]]"#)),
        Err("Graphite's value \"lots\" is not a number".to_owned())
    );
    // Every series must read, as Argo decodes them all.
    assert!(read_render(r#"[{"datapoints":[[1,1]]},{"datapoints":[[1]]}]"#).is_err());
    assert_eq!(
        read_render(r#"{"target":"a"}"#),
        Err("Graphite's answer is not a list of series".to_owned())
    );
    assert!(
        read_render("invalid JSON")
            .expect_err("not JSON")
            .starts_with("Graphite's answer is not JSON")
    );
}

#[test]
fn a_status_of_400_or_more_is_an_error() {
    let answer = |status: u16, body: &str| Answer {
        status: reqwest::StatusCode::from_u16(status).expect("a status"),
        body: body.to_owned(),
    };
    assert_eq!(
        read(&answer(400, "foo")),
        Err("Graphite answered 400 Bad Request: foo".to_owned())
    );
    assert_eq!(
        read(&answer(500, "bar")),
        Err("Graphite answered 500 Internal Server Error: bar".to_owned())
    );
    assert_eq!(
        read(&answer(200, DOCUMENTED)).map(|value| value.display()),
        Ok("[1,2,3,5,6]".to_owned())
    );
}

#[tokio::test]
async fn a_measurement_asks_the_render_api_and_retries_a_failing_server() {
    let (recorder, url) = Recorder::start(vec![
        (503, Vec::new(), "unavailable".to_owned()),
        (
            200,
            vec![("content-type", "application/json".to_owned())],
            DOCUMENTED.to_owned(),
        ),
    ])
    .await;
    let harness = Harness::new();
    let context = harness.context();
    let metric = metric(json!({"name": "entries", "provider": {"graphite": {
        "address": url, "query": "target=sumSeries(app.http.*.*.count)&from=-2min"}}}));
    let outcome = GraphiteProvider.measure(&context, &metric, 0, None).await;
    assert_eq!(
        outcome,
        Ok(Outcome::Value(MetricValue::Vector(vec![
            1.0, 2.0, 3.0, 5.0, 6.0
        ])))
    );
    let seen = recorder.take();
    assert_eq!(seen.len(), 2, "the failing server is asked again");
    for request in &seen {
        assert_eq!(request.method, "GET");
        assert_eq!(
            request.uri,
            "/render?target=sumSeries%28app.http.*.*.count%29&from=-2min&format=json"
        );
        assert!(request.header("authorization").is_empty());
        assert_eq!(request.text, "");
    }
}

#[tokio::test]
async fn an_address_outside_the_allow_list_is_refused_before_sending() {
    let harness = Harness::new();
    let context = harness.context();
    let metric = metric(json!({"name": "entries", "provider": {"graphite": {
        "address": "http://10.1.2.3:8080", "query": "target=a"}}}));
    let message = GraphiteProvider
        .measure(&context, &metric, 0, None)
        .await
        .expect_err("refused");
    assert!(message.contains("10.1.2.3"), "{message}");
}
