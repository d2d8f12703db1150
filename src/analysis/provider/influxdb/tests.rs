//! InfluxDB's query request and annotated CSV answers (the InfluxDB documentation's example,
//! Argo's fixture, Flux's error table).

use serde_json::json;

use super::*;
use crate::analysis::provider::{HARNESS_NAMESPACE, Harness, metric};
use crate::recorder::Recorder;

fn spec(value: Value) -> InfluxdbMetric {
    serde_json::from_value(value).expect("an InfluxDB spec")
}

#[test]
fn a_query_is_required() {
    assert_eq!(
        check(&spec(json!({"query": "from(bucket: \"b\")"}))),
        Ok(())
    );
    assert_eq!(
        check(&spec(json!({"query": "  "}))),
        Err("influxdb.query is empty".to_owned())
    );
}

#[test]
fn the_query_is_posted_with_the_token_for_the_organisation() {
    let connection = Connection {
        address: "https://influx.example:8086/".to_owned(),
        token: "t0ken".to_owned(),
        org: "my org".to_owned(),
    };
    let request = shape(
        &spec(json!({"query": "from(bucket: \"app\") |> range(start: -5m)"})),
        &connection,
    )
    .expect("a request");
    assert_eq!(request.method, reqwest::Method::POST);
    assert_eq!(
        request.url.as_str(),
        "https://influx.example:8086/api/v2/query?org=my+org"
    );
    assert_eq!(request.header_value("authorization"), Some("Token t0ken"));
    assert_eq!(
        request.header_value("content-type"),
        Some("application/json")
    );
    assert_eq!(request.header_value("accept"), Some("application/csv"));
    let body: Value = serde_json::from_str(request.body.as_deref().expect("a body")).expect("JSON");
    assert_eq!(
        body,
        json!({"dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",", "header": true},
               "query": "from(bucket: \"app\") |> range(start: -5m)", "type": "flux"})
    );
}

/// The InfluxDB documentation's annotated CSV example: three tables.
const DOCUMENTED: &str = "#group,false,false,true,true,false,false,true,true,true,true
#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string,string
#default,mean,,,,,,,,,
,result,table,_start,_stop,_time,_value,_field,_measurement,host,region
,,0,2022-12-31T05:41:24Z,2023-01-31T05:41:24.001Z,2023-01-01T00:52:00Z,15.43,mem,m,A,east
,,1,2022-12-31T05:41:24Z,2023-01-31T05:41:24.001Z,2023-01-01T00:52:00Z,59.25,mem,m,B,east
,,2,2022-12-31T05:41:24Z,2023-01-31T05:41:24.001Z,2023-01-01T00:52:00Z,52.62,mem,m,C,east
";

#[test]
fn every_table_s_values_are_the_result() {
    assert_eq!(
        read(DOCUMENTED),
        Ok(MetricValue::Vector(vec![15.43, 59.25, 52.62]))
    );
    // Argo's fixture: annotations in another order, a blank line between tables, CRLF.
    let two_tables = "#datatype,string,long,dateTime:RFC3339,double,string\r
#group,false,false,false,false,true\r
#default,_result,,,,\r
,result,table,_time,_value,_field\r
,,0,2020-02-17T22:19:49.747562847Z,1,f\r
\r
#datatype,string,long,dateTime:RFC3339,long,string\r
#group,false,false,false,false,true\r
#default,_result,,,,\r
,result,table,_time,_value,_field\r
,,1,2020-02-18T22:19:49.747562847Z,6,g\r
";
    assert_eq!(read(two_tables), Ok(MetricValue::Vector(vec![1.0, 6.0])));
    let texts = "#datatype,string,long,string,boolean\n,result,table,_value,ok\n,,0,\"a,\"\"b\"\"\",true\n,,0,,false\n";
    assert_eq!(read(texts), Ok(MetricValue::Json(json!(["a,\"b\"", null]))));
    let nan = "#datatype,string,long,double\n,result,table,_value\n,,0,NaN\n,,0,2\n";
    assert_eq!(
        read(nan).map(|value| value.display()),
        Ok("[NaN,2]".to_owned())
    );
}

#[test]
fn no_rows_is_no_data_and_an_error_table_an_error() {
    let header_only = "#datatype,string,long,double\n#group,false,false,false\n#default,_result,,\n,result,table,_value\n";
    assert_eq!(read(header_only), Ok(MetricValue::Nil));
    assert_eq!(read(""), Ok(MetricValue::Nil));
    let error_table = "#datatype,string,string
#group,true,true
#default,,
,error,reference
,failed to create physical plan: invalid time bounds from procedure from: bounds contain zero time,897
";
    assert_eq!(
        read(error_table),
        Err("InfluxDB query failed: failed to create physical plan: invalid time bounds from procedure from: bounds contain zero time".to_owned())
    );
    let not_a_number = "#datatype,string,long,double\n,result,table,_value\n,,0,lots\n";
    assert_eq!(
        read(not_a_number),
        Err("InfluxDB value \"lots\" is not a double".to_owned())
    );
}

#[test]
fn refusals_give_influxdb_s_code_and_message() {
    assert_eq!(
        refusal(
            reqwest::StatusCode::UNAUTHORIZED,
            r#"{"code":"unauthorized","message":"unauthorized access"}"#
        ),
        "InfluxDB answered 401 Unauthorized: unauthorized: unauthorized access"
    );
    // InfluxDB 1.8's v2 query API, for a Flux query that does not compile: JSON, or CSV
    // when the client accepts CSV (as the provider does).
    assert_eq!(
        refusal(
            reqwest::StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"type error 1:50-1:64: undefined identifier \"nosuch\""}"#
        ),
        "InfluxDB answered 500 Internal Server Error: type error 1:50-1:64: undefined identifier \"nosuch\""
    );
    assert_eq!(
        refusal(
            reqwest::StatusCode::INTERNAL_SERVER_ERROR,
            "error\n\"type error 4:16-4:30: undefined identifier \"\"nosuch\"\"\"\n"
        ),
        "InfluxDB answered 500 Internal Server Error: type error 4:16-4:30: undefined identifier \"nosuch\""
    );
    assert_eq!(
        refusal(reqwest::StatusCode::BAD_REQUEST, "bad\nrequest"),
        "InfluxDB answered 400 Bad Request: bad request"
    );
}

#[tokio::test]
async fn a_measurement_reads_the_profile_s_secret_and_asks_again_when_unavailable() {
    let (recorder, url) = Recorder::start(vec![
        (503, vec![("retry-after", "0".to_owned())], String::new()),
        (
            200,
            vec![("content-type", "text/csv".to_owned())],
            DOCUMENTED.to_owned(),
        ),
        (
            401,
            vec![("content-type", "application/json".to_owned())],
            r#"{"code":"unauthorized","message":"unauthorized access"}"#.to_owned(),
        ),
    ])
    .await;
    let mut harness = Harness::new();
    harness.secrets = harness
        .secrets
        .with(
            HARNESS_NAMESPACE,
            "influx-prod",
            &[("address", &url), ("authToken", "t0ken"), ("org", "acme")],
        )
        .with(
            HARNESS_NAMESPACE,
            "influxdb",
            &[("address", &url), ("org", "acme")],
        );
    let context = harness.context();
    let measured = |profile: &str| {
        metric(
            json!({"name": "m", "provider": {"influxdb": {"profile": profile, "query": "from(bucket: \"b\")"}}}),
        )
    };
    let provider = InfluxdbProvider;
    assert_eq!(
        provider
            .measure(&context, &measured("influx-prod"), 0, None)
            .await,
        Ok(Outcome::Value(MetricValue::Vector(vec![
            15.43, 59.25, 52.62
        ])))
    );
    let seen = recorder.take();
    assert_eq!(seen.len(), 2, "the unavailable answer is asked again");
    assert_eq!(seen[1].uri, "/api/v2/query?org=acme");
    assert_eq!(seen[1].header("authorization"), ["Token t0ken"]);
    assert_eq!(seen[1].body["query"], "from(bucket: \"b\")");
    assert_eq!(
        provider
            .measure(&context, &measured("influx-prod"), 0, None)
            .await,
        Err("InfluxDB answered 401 Unauthorized: unauthorized: unauthorized access".to_owned())
    );
    // The default Secret lacks the token: nothing is sent.
    assert_eq!(
        provider.measure(&context, &measured(""), 0, None).await,
        Err("Secret influxdb has no key \"authToken\"".to_owned())
    );
    assert_eq!(recorder.take().len(), 1);
}
