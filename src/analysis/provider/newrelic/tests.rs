//! New Relic's request shape and answers, from the NerdGraph documentation and the unit-test
//! fixtures of New Relic's Go client (`newrelic-client-go`, `pkg/nrdb`).

use serde_json::json;

use super::*;
use crate::analysis::provider::request::Answer;
use crate::analysis::provider::{HARNESS_NAMESPACE, Harness, metric};
use crate::recorder::Recorder;

fn spec(value: Value) -> NewRelicMetric {
    serde_json::from_value(value).expect("a New Relic spec")
}

fn keys() -> Credentials {
    Credentials {
        endpoint: US_ENDPOINT.to_owned(),
        api_key: "NRAK-1".to_owned(),
        account_id: 3_806_526,
    }
}

#[test]
fn specs_need_a_query() {
    assert_eq!(
        check(&spec(json!({"query": "SELECT count(*) FROM Transaction"}))),
        Ok(())
    );
    assert_eq!(
        check(&spec(json!({"profile": "team"}))),
        Err("newRelic.query is required".to_owned())
    );
    assert_eq!(
        check(&spec(json!({"query": "  "}))),
        Err("newRelic.query is required".to_owned())
    );
}

#[test]
fn nrql_is_posted_to_nerdgraph_for_the_account() {
    let nrql = "SELECT percentage(count(*), WHERE httpResponseCode >= 500) FROM Transaction WHERE appName = 'shop' SINCE 5 minutes ago";
    let request = shape(&spec(json!({"query": nrql})), &keys()).expect("a request");
    assert_eq!(request.method, reqwest::Method::POST);
    assert_eq!(request.url.as_str(), "https://api.newrelic.com/graphql");
    assert_eq!(
        request.headers,
        [
            ("content-type", "application/json".to_owned()),
            ("api-key", "NRAK-1".to_owned()),
        ]
    );
    let body: Value = serde_json::from_str(request.body.as_deref().expect("a body")).expect("JSON");
    assert_eq!(
        body,
        json!({
            "query": "query($query: Nrql!, $accountId: Int!) { actor { account(id: $accountId) { nrql(query: $query) { results } } } }",
            "variables": {"accountId": 3_806_526, "query": nrql},
        })
    );
}

/// The New Relic docs' answer ("NerdGraph tutorial: Query your data using NRQL").
const DOCUMENTED: &str = r#"{"data":{"actor":{"account":{"nrql":{"results":[{"count":1000}]}}}}}"#;

/// An answer to Argo's fuller document (`newrelic-client-go`, `nrdb_query_unit_test.go`;
/// `messages` shortened, `eventDefinitions`, `rawResponse` and `queryProgress` left out).
const WITH_METADATA: &str = r#"{"data":{"actor":{"account":{"nrql":{"currentResults":null,"otherResult":null,"previousResults":null,"totalResult":null,
 "metadata":{"eventTypes":["Metric"],"facets":null,"messages":["We tried to transform your Metric query ..."],
   "timeWindow":{"begin":1709442593550,"compareWith":null,"end":1709446193550,"since":"60 MINUTES AGO","until":"NOW"}},
 "results":[{"appId":553448202,"appName":"Dummy App Pro Max","endTimestamp":1709446129592,
   "entity.guid":"MzgwNjUyNnxBUE18QVBQTElDQVRJT058NTUzNDQ4MjAy","metricName":"newrelic.internal.usage",
   "newrelic.internal.usage":{"count":49500,"type":"count"},"timestamp":1709446121841,"type":"timeslice",
   "usage.agent.language":"python","usage.agent.type":"apm","usage.metric":"Metrics","usage.newrelic.source":"agent"}]}}}}}"#;

fn rows(results: &Value) -> String {
    json!({"data": {"actor": {"account": {"nrql": {"results": results}}}}}).to_string()
}

#[test]
fn one_row_is_its_object_and_several_are_a_list() {
    assert_eq!(
        read_results(DOCUMENTED),
        Ok(MetricValue::Json(json!({"count": 1000})))
    );
    let Ok(MetricValue::Json(row)) = read_results(WITH_METADATA) else {
        panic!("a row");
    };
    assert_eq!(row["newrelic.internal.usage"]["count"], 49_500);
    assert_eq!(row["appName"], "Dummy App Pro Max");
    assert_eq!(row.as_object().map(serde_json::Map::len), Some(12));
    // Argo's unit-test shapes.
    assert_eq!(
        read_results(&rows(&json!([{"count": 10}]))).map(|value| value.display()),
        Ok(r#"{"count":10}"#.to_owned())
    );
    assert_eq!(
        read_results(&rows(&json!([{"count": 10}, {"count": 20}, {"count": 30}]))),
        Ok(MetricValue::Json(
            json!([{"count": 10}, {"count": 20}, {"count": 30}])
        ))
    );
    // An NRQL null stays null (there is no NaN in JSON).
    assert_eq!(
        read_results(&rows(&json!([{"average.duration": null}]))),
        Ok(MetricValue::Json(json!({"average.duration": null})))
    );
}

#[test]
fn no_rows_are_no_data_not_an_error() {
    // Argo: Error "no results returned from NRQL query"; here the empty-result rules decide.
    assert_eq!(read_results(&rows(&json!([]))), Ok(MetricValue::Nil));
    assert_eq!(read_results(&rows(&json!([{}]))), Ok(MetricValue::Nil));
    assert_eq!(read_results(&rows(&Value::Null)), Ok(MetricValue::Nil));
    assert_eq!(
        read_results(r#"{"data":{"actor":{"account":null}}}"#),
        Ok(MetricValue::Nil)
    );
    assert_eq!(
        read_results(&rows(&json!({"count": 1}))),
        Err("New Relic's answer has results that are not a list".to_owned())
    );
    assert_eq!(
        read_results(&rows(&json!([1]))),
        Err("New Relic's answer has a result that is not an object".to_owned())
    );
    assert!(
        read_results("<html>")
            .expect_err("not JSON")
            .starts_with("New Relic's answer is not JSON")
    );
}

#[test]
fn graphql_errors_in_a_200_are_an_error_naming_them() {
    let answer = r#"{"errors":[{"message":"NRQL Syntax Error: Error at line 1 position 7","path":["actor","account","nrql"]},{"message":"Account 1 not found"}],
        "data":{"actor":{"account":{"nrql":null}}}}"#;
    assert_eq!(
        read_results(answer),
        Err(
            "New Relic query failed: NRQL Syntax Error: Error at line 1 position 7; Account 1 not found"
                .to_owned()
        )
    );
    // Errors win over rows that came with them.
    let both = r#"{"errors":[{"message":"partial"}],"data":{"actor":{"account":{"nrql":{"results":[{"count":1}]}}}}}"#;
    assert_eq!(
        read_results(both),
        Err("New Relic query failed: partial".to_owned())
    );
}

#[test]
fn only_a_200_is_read_and_a_refusal_says_why() {
    let answer = |status: u16, body: &str| Answer {
        status: reqwest::StatusCode::from_u16(status).expect("a status"),
        body: body.to_owned(),
    };
    assert_eq!(
        read(&answer(
            401,
            r#"{"errors":[{"message":"Invalid API key"}]}"#
        )),
        Err("New Relic answered 401 Unauthorized: Invalid API key".to_owned())
    );
    assert_eq!(
        read(&answer(503, "<html>service\nunavailable</html>")),
        Err(
            "New Relic answered 503 Service Unavailable: <html>service unavailable</html>"
                .to_owned()
        )
    );
    assert!(read(&answer(202, DOCUMENTED)).is_err());
    assert_eq!(
        read(&answer(200, DOCUMENTED)),
        Ok(MetricValue::Json(json!({"count": 1000})))
    );
}

#[tokio::test]
async fn credentials_are_read_from_the_profile_s_secret() {
    let mut harness = Harness::new();
    harness.secrets = harness
        .secrets
        .with(
            HARNESS_NAMESPACE,
            "newrelic",
            &[("personal-api-key", "NRAK-d"), ("account-id", "12")],
        )
        .with(
            HARNESS_NAMESPACE,
            "nr-eu",
            &[
                ("personal-api-key", "NRAK-eu"),
                ("account-id", " 34 "),
                ("region", "EU"),
                ("base-url-rest", "https://ignored.example.com/v2"),
            ],
        )
        .with(
            HARNESS_NAMESPACE,
            "nr-proxy",
            &[
                ("personal-api-key", "NRAK-p"),
                ("account-id", "56"),
                ("region", "eu"),
                ("base-url-nerdgraph", "https://nr-proxy.example.com/graphql"),
            ],
        )
        .with(HARNESS_NAMESPACE, "nr-nokey", &[("account-id", "1")])
        .with(
            HARNESS_NAMESPACE,
            "nr-noaccount",
            &[("personal-api-key", "NRAK-x")],
        )
        .with(
            HARNESS_NAMESPACE,
            "nr-badaccount",
            &[("personal-api-key", "NRAK-x"), ("account-id", "12a")],
        )
        .with(
            HARNESS_NAMESPACE,
            "nr-region",
            &[
                ("personal-api-key", "NRAK-x"),
                ("account-id", "1"),
                ("region", "staging"),
            ],
        )
        .with("shop", "team", &[("personal-api-key", "NRAK-shop")]);
    let context = harness.context();
    let found = |profile: &str| {
        let context = &context;
        let spec = spec(json!({"query": "q", "profile": profile}));
        async move {
            credentials(context, &spec)
                .await
                .map(|found| (found.endpoint, found.api_key, found.account_id))
        }
    };
    let triple = |endpoint: &str, key: &str, account: i64| {
        Ok((endpoint.to_owned(), key.to_owned(), account))
    };
    assert_eq!(found("").await, triple(US_ENDPOINT, "NRAK-d", 12));
    assert_eq!(found("nr-eu").await, triple(EU_ENDPOINT, "NRAK-eu", 34));
    assert_eq!(
        found("nr-proxy").await,
        triple("https://nr-proxy.example.com/graphql", "NRAK-p", 56)
    );
    assert_eq!(
        found("nr-nokey").await,
        Err("Secret nr-nokey has no key \"personal-api-key\"".to_owned())
    );
    assert_eq!(
        found("nr-noaccount").await,
        Err("Secret nr-noaccount has no key \"account-id\"".to_owned())
    );
    assert_eq!(
        found("nr-badaccount").await,
        Err("Secret nr-badaccount has an \"account-id\" that is not an integer".to_owned())
    );
    assert_eq!(
        found("nr-region").await,
        Err("Secret nr-region has a \"region\" that is not us or eu".to_owned())
    );
    // The daemon's namespace only: a Secret of the same name elsewhere is not read.
    assert_eq!(
        found("team").await,
        Err("read Secret tidegate-system/team: not found".to_owned())
    );
}

#[tokio::test]
async fn a_measurement_sends_the_key_and_retries_a_failing_server() {
    let json_type = || vec![("content-type", "application/json".to_owned())];
    let (recorder, url) = Recorder::start(vec![
        (
            503,
            vec![("retry-after", "0".to_owned())],
            json!({"errors": [{"message": "Service Unavailable"}]}),
        ),
        (
            200,
            json_type(),
            serde_json::from_str::<Value>(DOCUMENTED).expect("JSON"),
        ),
    ])
    .await;
    let mut harness = Harness::new();
    let endpoint = format!("{url}/graphql");
    harness.secrets = harness.secrets.with(
        HARNESS_NAMESPACE,
        "nr",
        &[
            ("personal-api-key", "NRAK-k"),
            ("account-id", "77"),
            ("base-url-nerdgraph", &endpoint),
        ],
    );
    let context = harness.context();
    let metric = metric(json!({"name": "errors", "provider": {"newRelic": {
        "query": "SELECT count(*) FROM Transaction", "profile": "nr"}}}));
    let outcome = NewRelicProvider.measure(&context, &metric, 0, None).await;
    assert_eq!(
        outcome,
        Ok(Outcome::Value(MetricValue::Json(json!({"count": 1000}))))
    );
    let seen = recorder.take();
    assert_eq!(seen.len(), 2, "the failing server is asked again");
    for request in &seen {
        assert_eq!(request.method, "POST");
        assert_eq!(request.uri, "/graphql");
        assert_eq!(request.header("api-key"), ["NRAK-k"]);
        assert_eq!(request.header("content-type"), ["application/json"]);
        assert_eq!(request.body["query"], NRQL_DOCUMENT);
        assert_eq!(
            request.body["variables"],
            json!({"accountId": 77, "query": "SELECT count(*) FROM Transaction"})
        );
    }
}

#[tokio::test]
async fn an_endpoint_outside_the_allow_list_is_never_sent_the_key() {
    let mut harness = Harness::new();
    harness.secrets = harness.secrets.with(
        HARNESS_NAMESPACE,
        "newrelic",
        &[("personal-api-key", "NRAK-k"), ("account-id", "1")],
    );
    let context = harness.context();
    let metric = metric(json!({"name": "errors", "provider": {"newRelic": {"query": "q"}}}));
    let outcome = NewRelicProvider.measure(&context, &metric, 0, None).await;
    let message = outcome.expect_err("refused");
    assert!(message.contains("api.newrelic.com"), "{message}");
    assert!(!message.contains("NRAK-k"), "{message}");
}
