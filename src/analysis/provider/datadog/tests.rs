//! Datadog's request shapes and answers, from Datadog's public API documentation and the
//! recordings of its Go client (`datadog-api-client-go` cassettes).

use serde_json::json;

use super::*;
use crate::analysis::provider::request::Answer;
use crate::analysis::provider::{HARNESS_NAMESPACE, Harness, metric};
use crate::recorder::Recorder;

fn spec(value: Value) -> DatadogMetric {
    serde_json::from_value(value).expect("a Datadog spec")
}

fn keys() -> Credentials {
    Credentials {
        address: "https://api.datadoghq.com/".to_owned(),
        api_key: "api-1".to_owned(),
        app_key: "app-1".to_owned(),
    }
}

fn at(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(seconds).expect("a time")
}

#[test]
fn specs_are_checked_as_argo_checks_them() {
    let refused = |value: Value| check(&spec(value)).expect_err("refused");
    assert_eq!(check(&spec(json!({"query": "avg:cpu{*}"}))), Ok(()));
    assert_eq!(
        check(&spec(
            json!({"apiVersion": "v2", "queries": {"a": "q1", "b": "q2"}, "formula": "a/b", "aggregator": "avg"})
        )),
        Ok(())
    );
    assert_eq!(refused(json!({})), "datadog: set either query or queries");
    assert_eq!(
        refused(json!({"apiVersion": "v2", "query": "q", "queries": {"a": "q"}})),
        "datadog: set either query or queries"
    );
    assert_eq!(
        refused(json!({"apiVersion": "v3", "query": "q"})),
        "datadog.apiVersion \"v3\" is not v1 or v2"
    );
    assert_eq!(
        refused(json!({"queries": {"a": "q"}})),
        "datadog: queries and formula need apiVersion v2"
    );
    assert_eq!(
        refused(json!({"query": "q", "formula": "a"})),
        "datadog: queries and formula need apiVersion v2"
    );
    assert_eq!(
        refused(json!({"query": "q", "aggregator": "avg"})),
        "datadog: aggregator needs apiVersion v2"
    );
    assert_eq!(
        refused(json!({"apiVersion": "v2", "query": "q", "formula": "a"})),
        "datadog: a formula needs queries"
    );
    assert_eq!(
        refused(json!({"apiVersion": "v2", "queries": {"a": "q", "b": "r"}})),
        "datadog: several queries need a formula"
    );
    assert!(
        refused(json!({"apiVersion": "v2", "query": "q", "aggregator": "median"}))
            .starts_with("datadog.aggregator \"median\" is not one of avg, min")
    );
    assert_eq!(
        refused(json!({"query": "q", "secretRef": {"namespaced": true}})),
        "datadog.secretRef: namespaced needs a name"
    );
    assert_eq!(
        refused(json!({"query": "q", "interval": "0s"})),
        "datadog.interval must be more than 0"
    );
    assert!(refused(json!({"query": "q", "interval": "soon"})).starts_with("datadog.interval: "));
}

#[test]
fn v1_asks_for_the_interval_before_now() {
    let request = shape(
        &spec(json!({"query": "avg:errors{service:web}", "interval": "10m"})),
        &keys(),
        at(1_700_000_600),
    )
    .expect("a request");
    assert_eq!(request.method, reqwest::Method::GET);
    assert_eq!(
        request.url.as_str(),
        "https://api.datadoghq.com/api/v1/query?from=1700000000&query=avg%3Aerrors%7Bservice%3Aweb%7D&to=1700000600"
    );
    assert_eq!(request.body, None);
    assert_eq!(request.header_value("dd-api-key"), Some("api-1"));
    assert_eq!(request.header_value("dd-application-key"), Some("app-1"));
    assert_eq!(request.header_value("accept"), Some("application/json"));
    // Five minutes unless said otherwise.
    let default = shape(&spec(json!({"query": "q"})), &keys(), at(1_000)).expect("a request");
    assert!(
        default.url.as_str().contains("from=700&"),
        "{}",
        default.url
    );
}

#[test]
fn v2_posts_a_scalar_query_in_milliseconds() {
    let single = shape(
        &spec(json!({"apiVersion": "v2", "query": "avg:cpu{*}", "interval": "1m"})),
        &keys(),
        at(1_700_000_060),
    )
    .expect("a request");
    assert_eq!(single.method, reqwest::Method::POST);
    assert_eq!(
        single.url.as_str(),
        "https://api.datadoghq.com/api/v2/query/scalar"
    );
    assert_eq!(
        single.header_value("content-type"),
        Some("application/json")
    );
    let body: Value = serde_json::from_str(single.body.as_deref().expect("a body")).expect("JSON");
    assert_eq!(
        body,
        json!({"data": {"attributes": {"formulas": [], "from": 1_700_000_000_000_i64,
            "queries": [{"aggregator": "last", "data_source": "metrics", "name": "query", "query": "avg:cpu{*}"}],
            "to": 1_700_000_060_000_i64}, "type": "scalar_request"}})
    );
    let formula = shape(
        &spec(
            json!({"apiVersion": "v2", "queries": {"b": "sum:requests{*}", "a": "sum:errors{*}"},
            "formula": "a / b", "aggregator": "sum"}),
        ),
        &keys(),
        at(1_700_000_300),
    )
    .expect("a request");
    let body: Value = serde_json::from_str(formula.body.as_deref().expect("a body")).expect("JSON");
    assert_eq!(
        body["data"]["attributes"]["queries"],
        json!([{"aggregator": "sum", "data_source": "metrics", "name": "a", "query": "sum:errors{*}"},
               {"aggregator": "sum", "data_source": "metrics", "name": "b", "query": "sum:requests{*}"}])
    );
    assert_eq!(
        body["data"]["attributes"]["formulas"],
        json!([{"formula": "a / b"}])
    );
}

/// Datadog's documented `/api/v1/query` example (`DataDog/documentation`).
const V1_DOCUMENTED: &str = r#"{"status":"ok","res_type":"time_series","series":[{"metric":"system.cpu.idle","attributes":{},"display_name":"system.cpu.idle","unit":null,"pointlist":[[1430311800000,98.19375610351562],[1430312400000,99.85856628417969]],"end":1430312999000,"interval":600,"start":1430311800000,"length":2,"aggr":null,"scope":"host:vagrant-ubuntu-trusty-64","expression":"system.cpu.idle{host:vagrant-ubuntu-trusty-64}"}],"from_date":1430226140000,"group_by":["host"],"to_date":1430312540000,"query":"system.cpu.idle{*}by{host}","message":""}"#;

/// A recorded `/api/v1/query` answer (`datadog-api-client-go`, points trimmed).
const V1_RECORDED: &str = r#"{"status":"ok","resp_version":1,"series":[{"end":1623932699000,"attributes":{},"metric":"system.cpu.idle","interval":300,"tag_set":[],"start":1623846300000,"length":288,"query_index":0,"aggr":null,"scope":"*","pointlist":[[1623846300000.0,94.31900300343831],[1623932100000.0,94.34899172465006],[1623932400000.0,94.11299427350362]],"expression":"system.cpu.idle{*}","unit":[{"family":"percentage","scale_factor":1.0,"name":"percent","short_name":"%","plural":"percent","id":17},null],"display_name":"system.cpu.idle"}],"to_date":1623932501000,"query":"system.cpu.idle{*}","message":"","res_type":"time_series","times":[],"from_date":1623846101000,"group_by":[],"values":[]}"#;

/// A recorded `/api/v2/query/scalar` answer (`datadog-api-client-go`).
const V2_RECORDED: &str = r#"{"data":{"type":"scalar_response","attributes":{"columns":[{"name":"a","values":[5.173633659114822],"type":"number","meta":{"unit":[{"scale_factor":1.0,"id":17,"name":"percent","plural":"percent","family":"percentage","short_name":"%"},null]}}]}}}"#;

#[test]
fn v1_answers_give_the_last_point_of_the_first_series() {
    assert_eq!(
        read_v1(V1_DOCUMENTED),
        Ok(MetricValue::Scalar(99.858_566_284_179_69))
    );
    assert_eq!(
        read_v1(V1_RECORDED),
        Ok(MetricValue::Scalar(94.112_994_273_503_62))
    );
    assert_eq!(
        read_v1(r#"{"status":"ok","series":[]}"#),
        Ok(MetricValue::Nil)
    );
    assert_eq!(read_v1(r#"{"status":"ok"}"#), Ok(MetricValue::Nil));
    assert_eq!(
        read_v1(r#"{"status":"ok","series":[{"pointlist":[]}]}"#),
        Ok(MetricValue::Nil)
    );
    // A null point is NaN, not Argo's 0.
    let null = read_v1(r#"{"status":"ok","series":[{"pointlist":[[1,0.5],[2,null]]}]}"#);
    assert!(
        matches!(null, Ok(MetricValue::Scalar(value)) if value.is_nan()),
        "{null:?}"
    );
    assert_eq!(
        read_v1(r#"{"status":"ok","series":[{"pointlist":[[1]]}]}"#),
        Err("Datadog's point does not have 2 values".to_owned())
    );
    assert_eq!(
        read_v1(
            r#"{"status":"error","error":"Rate limit of 300 requests in 3600 seconds reached"}"#
        ),
        Err("Datadog query failed: Rate limit of 300 requests in 3600 seconds reached".to_owned())
    );
    assert!(read_v1(r#"{"series":"invalid"}"#).is_err());
    assert!(
        read_v1("<html>")
            .expect_err("not JSON")
            .starts_with("Datadog's answer is not JSON")
    );
}

#[test]
fn v2_answers_give_the_value_or_one_per_group() {
    assert_eq!(
        read_v2(V2_RECORDED),
        Ok(MetricValue::Scalar(5.173_633_659_114_822))
    );
    assert_eq!(
        read_v2(r#"{"data":{"attributes":{"columns":[{"values":[0.0006332881882246533]}]}}}"#),
        Ok(MetricValue::Scalar(0.000_633_288_188_224_653_3))
    );
    assert_eq!(
        read_v2(r#"{"data":{"attributes":{"columns":[{"values":[]}]}}}"#),
        Ok(MetricValue::Nil)
    );
    assert_eq!(
        read_v2(r#"{"data":{"attributes":{}}}"#),
        Ok(MetricValue::Nil)
    );
    let grouped = r#"{"data":{"attributes":{"columns":[
        {"name":"service","type":"group","values":[["web"],["api"]]},
        {"name":"a","type":"number","values":[0.5,null]}]}}}"#;
    let Ok(MetricValue::Vector(values)) = read_v2(grouped) else {
        panic!("a vector");
    };
    assert_eq!(MetricValue::Vector(values.clone()).display(), "[0.5,NaN]");
    // Datadog's errors at the top level (where Argo does not look) are reported.
    assert_eq!(
        read_v2(r#"{"errors":["Queries ending outside the retention date are invalid"]}"#),
        Err(
            "Datadog query failed: Queries ending outside the retention date are invalid"
                .to_owned()
        )
    );
    assert_eq!(
        read_v2(r#"{"data":{"errors":"bad formula"}}"#),
        Err("Datadog query failed: bad formula".to_owned())
    );
}

#[test]
fn only_a_200_is_read_and_a_refusal_says_why() {
    let v2 = spec(json!({"apiVersion": "v2", "query": "q"}));
    let answer = |status: u16, body: &str| Answer {
        status: reqwest::StatusCode::from_u16(status).expect("a status"),
        body: body.to_owned(),
    };
    assert_eq!(
        read(&v2, &answer(400, r#"{"errors":["Queries ending outside the retention date are invalid"]}"#)),
        Err("Datadog answered 400 Bad Request: Queries ending outside the retention date are invalid".to_owned())
    );
    assert_eq!(
        read(&v2, &answer(403, r#"{"errors": ["Forbidden"]}"#)),
        Err("Datadog answered 403 Forbidden: Forbidden".to_owned())
    );
    assert_eq!(
        read(&v2, &answer(502, "<html>bad\ngateway</html>")),
        Err("Datadog answered 502 Bad Gateway: <html>bad gateway</html>".to_owned())
    );
    assert!(read(&v2, &answer(202, V2_RECORDED)).is_err());
    assert_eq!(
        read(&v2, &answer(200, V2_RECORDED)),
        Ok(MetricValue::Scalar(5.173_633_659_114_822))
    );
    let v1 = spec(json!({"query": "q"}));
    assert_eq!(
        read(&v1, &answer(200, V1_DOCUMENTED)),
        Ok(MetricValue::Scalar(99.858_566_284_179_69))
    );
}

/// An environment without Datadog's variables.
fn none(_: &str) -> Option<String> {
    None
}

/// An environment with all three of Datadog's variables.
fn env(name: &str) -> Option<String> {
    Some(match name {
        "DD_API_KEY" => "env-api".to_owned(),
        "DD_APP_KEY" => "env-app".to_owned(),
        "DD_ADDRESS" => "https://env.datadoghq.com".to_owned(),
        _ => return None,
    })
}

#[tokio::test]
async fn credentials_are_found_where_argo_finds_them() {
    let mut harness = Harness::new();
    harness.run.metadata.namespace = Some("shop".to_owned());
    harness.secrets = harness
        .secrets
        .with(
            HARNESS_NAMESPACE,
            "datadog",
            &[("api-key", "daemon-api"), ("app-key", "daemon-app")],
        )
        .with(
            HARNESS_NAMESPACE,
            "dd-team",
            &[
                ("api-key", "team-api"),
                ("app-key", "team-app"),
                ("address", "https://api.datadoghq.eu"),
            ],
        )
        .with(
            "shop",
            "dd-team",
            &[("api-key", "shop-api"), ("app-key", "shop-app")],
        )
        .with("shop", "dd-half", &[("api-key", "shop-api")]);
    let context = harness.context();
    let found = |spec_json: Value, var: sigv4::Env<'static>| {
        let context = &context;
        async move {
            credentials(context, &spec(spec_json), var)
                .await
                .map(|found| (found.address, found.api_key, found.app_key))
        }
    };
    let triple = |address: &str, api: &str, app: &str| {
        Ok((address.to_owned(), api.to_owned(), app.to_owned()))
    };
    assert_eq!(
        found(json!({"query": "q"}), &none).await,
        triple(DEFAULT_ADDRESS, "daemon-api", "daemon-app")
    );
    assert_eq!(
        found(json!({"query": "q"}), &env).await,
        triple("https://env.datadoghq.com", "env-api", "env-app")
    );
    // A named Secret wins over the environment, in the daemon's namespace or the run's.
    assert_eq!(
        found(
            json!({"query": "q", "secretRef": {"name": "dd-team"}}),
            &env
        )
        .await,
        triple("https://api.datadoghq.eu", "team-api", "team-app")
    );
    assert_eq!(
        found(
            json!({"query": "q", "secretRef": {"name": "dd-team", "namespaced": true}}),
            &env
        )
        .await,
        triple(DEFAULT_ADDRESS, "shop-api", "shop-app")
    );
    assert_eq!(
        found(
            json!({"query": "q", "secretRef": {"name": "dd-half", "namespaced": true}}),
            &none
        )
        .await,
        Err("Secret dd-half has no key \"app-key\"".to_owned())
    );
    assert_eq!(
        found(
            json!({"query": "q", "secretRef": {"name": "missing"}}),
            &env
        )
        .await,
        Err("read Secret tidegate-system/missing: not found".to_owned())
    );
}

#[tokio::test]
async fn a_measurement_sends_the_keys_and_retries_a_rate_limit() {
    let json_type = || vec![("content-type", "application/json".to_owned())];
    let (recorder, url) = Recorder::start(vec![
        (
            429,
            vec![("x-ratelimit-reset", "0".to_owned())],
            json!({"errors": ["Rate limited"]}),
        ),
        (
            200,
            json_type(),
            serde_json::from_str::<Value>(V1_RECORDED).expect("JSON"),
        ),
    ])
    .await;
    let mut harness = Harness::new();
    harness.secrets = harness.secrets.with(
        HARNESS_NAMESPACE,
        "dd",
        &[
            ("api-key", "k-api"),
            ("app-key", "k-app"),
            ("address", &url),
        ],
    );
    let context = harness.context();
    let metric = metric(json!({"name": "errors", "provider": {"datadog": {
        "query": "sum:errors{*}", "secretRef": {"name": "dd"}}}}));
    let outcome = DatadogProvider.measure(&context, &metric, 0, None).await;
    assert_eq!(
        outcome,
        Ok(Outcome::Value(MetricValue::Scalar(94.112_994_273_503_62)))
    );
    let seen = recorder.take();
    assert_eq!(seen.len(), 2, "the rate-limited request is asked again");
    for request in &seen {
        assert_eq!(request.method, "GET");
        assert!(
            request.uri.starts_with("/api/v1/query?from="),
            "{}",
            request.uri
        );
        assert!(
            request.uri.contains("&query=sum%3Aerrors%7B*%7D&to="),
            "{}",
            request.uri
        );
        assert_eq!(request.header("dd-api-key"), ["k-api"]);
        assert_eq!(request.header("dd-application-key"), ["k-app"]);
    }
}

#[tokio::test]
async fn an_address_outside_the_allow_list_is_never_sent_the_keys() {
    let mut harness = Harness::new();
    harness.secrets = harness.secrets.with(
        HARNESS_NAMESPACE,
        "datadog",
        &[
            ("api-key", "k-api"),
            ("app-key", "k-app"),
            ("address", "http://10.1.2.3:9"),
        ],
    );
    let context = harness.context();
    let metric = metric(json!({"name": "errors", "provider": {"datadog": {"query": "q"}}}));
    let outcome = DatadogProvider.measure(&context, &metric, 0, None).await;
    let message = outcome.expect_err("refused");
    assert!(message.contains("10.1.2.3"), "{message}");
    assert!(!message.contains("k-api"), "{message}");
}
