//! CloudWatch's `GetMetricData` form, its signature and its answers (the AWS documentation's
//! example transcribed to the Query protocol's XML).

use serde_json::json;

use super::*;
use crate::analysis::provider::{Harness, metric};
use crate::recorder::Recorder;

fn spec(value: Value) -> CloudWatchMetric {
    serde_json::from_value(value).expect("a CloudWatch spec")
}

/// Argo's documented example: an error rate from two metrics.
fn documented() -> CloudWatchMetric {
    spec(json!({"interval": "15m", "metricDataQueries": [
        {"id": "rate", "expression": "errors / requests"},
        {"id": "errors", "metricStat": {"metric": {"namespace": "app", "metricName": "errors",
            "dimensions": [{"name": "Service", "value": "web"}]},
            "period": 300, "stat": "Sum", "unit": "Count"}, "returnData": false},
        {"id": "requests", "metricStat": {"metric": {"namespace": "app", "metricName": "requests"},
            "period": "300", "stat": "Sum", "unit": "Count"}, "returnData": false}
    ]}))
}

fn at(text: &str) -> jiff::Timestamp {
    text.parse().expect("a time")
}

#[test]
fn specs_are_checked() {
    let refused = |value: Value| check(&spec(value)).expect_err("refused");
    assert_eq!(check(&documented()), Ok(()));
    assert_eq!(refused(json!({})), "cloudWatch.metricDataQueries is empty");
    assert_eq!(
        refused(json!({"metricDataQueries": [{"id": "Rate", "expression": "1"}]})),
        "cloudWatch.metricDataQueries[0].id \"Rate\" must start with a lower-case letter and hold only letters, digits and _"
    );
    assert_eq!(
        refused(json!({"metricDataQueries": [{"id": "a-b", "expression": "1"}]})),
        "cloudWatch.metricDataQueries[0].id \"a-b\" must start with a lower-case letter and hold only letters, digits and _"
    );
    assert_eq!(
        refused(json!({"metricDataQueries": [{"id": "a"}]})),
        "cloudWatch.metricDataQueries[0]: set either expression or metricStat"
    );
    assert_eq!(
        refused(
            json!({"metricDataQueries": [{"id": "a", "metricStat": {"metric": {"metricName": "m"}, "stat": "Sum"}}]})
        ),
        "cloudWatch.metricDataQueries[0].metricStat.period is required"
    );
    assert_eq!(
        refused(
            json!({"metricDataQueries": [{"id": "a", "metricStat": {"metric": {"metricName": "m"}, "stat": "Sum", "period": "5m"}}]})
        ),
        "cloudWatch.metricDataQueries[0].metricStat.period must be a positive number of seconds"
    );
    assert_eq!(
        refused(
            json!({"metricDataQueries": [{"id": "a", "metricStat": {"metric": {}, "stat": "Sum", "period": 60}}]})
        ),
        "cloudWatch.metricDataQueries[0].metricStat needs metric.metricName and stat"
    );
    assert_eq!(
        refused(json!({"metricDataQueries": [{"id": "a", "expression": "1", "period": 0}]})),
        "cloudWatch.metricDataQueries[0].period must be a positive number of seconds"
    );
    assert_eq!(
        refused(json!({"interval": "0s", "metricDataQueries": [{"id": "a", "expression": "1"}]})),
        "cloudWatch.interval must be more than 0"
    );
}

#[test]
fn the_form_asks_for_the_interval_before_now_with_every_query_field() {
    let form = form(&documented(), at("2024-09-29T22:15:00Z")).expect("a form");
    let fields: Vec<&str> = form.split('&').collect();
    assert_eq!(
        fields,
        [
            "Action=GetMetricData",
            "Version=2010-08-01",
            "StartTime=2024-09-29T22%3A00%3A00Z",
            "EndTime=2024-09-29T22%3A15%3A00Z",
            "MetricDataQueries.member.1.Id=rate",
            "MetricDataQueries.member.1.Expression=errors+%2F+requests",
            "MetricDataQueries.member.2.Id=errors",
            "MetricDataQueries.member.2.MetricStat.Metric.Namespace=app",
            "MetricDataQueries.member.2.MetricStat.Metric.MetricName=errors",
            "MetricDataQueries.member.2.MetricStat.Metric.Dimensions.member.1.Name=Service",
            "MetricDataQueries.member.2.MetricStat.Metric.Dimensions.member.1.Value=web",
            "MetricDataQueries.member.2.MetricStat.Period=300",
            "MetricDataQueries.member.2.MetricStat.Stat=Sum",
            "MetricDataQueries.member.2.MetricStat.Unit=Count",
            "MetricDataQueries.member.2.ReturnData=false",
            "MetricDataQueries.member.3.Id=requests",
            "MetricDataQueries.member.3.MetricStat.Metric.Namespace=app",
            "MetricDataQueries.member.3.MetricStat.Metric.MetricName=requests",
            "MetricDataQueries.member.3.MetricStat.Period=300",
            "MetricDataQueries.member.3.MetricStat.Stat=Sum",
            "MetricDataQueries.member.3.MetricStat.Unit=Count",
            "MetricDataQueries.member.3.ReturnData=false",
        ]
    );
    let labelled = spec(json!({"metricDataQueries": [
        {"id": "m", "label": "Errors", "expression": "SUM(METRICS())", "period": 60, "returnData": true}]}));
    let form = super::form(&labelled, at("2024-09-29T22:15:00Z")).expect("a form");
    assert!(
        form.contains("StartTime=2024-09-29T22%3A10%3A00Z&"),
        "{form}"
    );
    assert!(
        form.ends_with("member.1.Label=Errors&MetricDataQueries.member.1.Period=60&MetricDataQueries.member.1.ReturnData=true"),
        "{form}"
    );
}

#[test]
fn requests_are_signed_for_monitoring_in_the_region() {
    let credentials = sigv4::Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: Some("session".into()),
    };
    let now = at("2024-09-29T22:15:00Z");
    let body = "Action=GetMetricData&Version=2010-08-01".to_owned();
    let request = shape(
        body.clone(),
        "https://monitoring.eu-west-1.amazonaws.com",
        (&credentials, "eu-west-1"),
        now,
    )
    .expect("a request");
    assert_eq!(request.method, reqwest::Method::POST);
    assert_eq!(
        request.url.as_str(),
        "https://monitoring.eu-west-1.amazonaws.com/"
    );
    assert_eq!(request.body.as_deref(), Some(body.as_str()));
    assert_eq!(
        request.header_value("content-type"),
        Some("application/x-www-form-urlencoded; charset=utf-8")
    );
    assert_eq!(request.header_value("x-amz-date"), Some("20240929T221500Z"));
    assert_eq!(
        request.header_value("x-amz-security-token"),
        Some("session")
    );
    let expected = sigv4::sign(
        "POST",
        &request.url,
        body.as_bytes(),
        &credentials,
        "eu-west-1",
        "monitoring",
        now,
    );
    let authorization = request.header_value("authorization").expect("signed");
    assert!(
        authorization.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240929/eu-west-1/monitoring/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="
        ),
        "{authorization}"
    );
    assert!(expected.contains(&("authorization", authorization.to_owned())));
    // The signature covers the body: another form is signed differently.
    let other = shape(
        "Action=Other".to_owned(),
        "https://monitoring.eu-west-1.amazonaws.com",
        (&credentials, "eu-west-1"),
        now,
    )
    .expect("a request");
    assert_ne!(other.header_value("authorization"), Some(authorization));
}

/// The AWS documentation's `GetMetricData` example (CLI output), on the Query protocol's wire.
const DOCUMENTED: &str = r#"<GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
  <GetMetricDataResult>
    <MetricDataResults>
      <member><Id>m3</Id><Label>Avg Total IOPS</Label><StatusCode>Complete</StatusCode>
        <Timestamps><member>2024-09-29T22:10:00Z</member></Timestamps>
        <Values><member>96.85</member></Values></member>
    </MetricDataResults>
    <Messages/>
  </GetMetricDataResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</GetMetricDataResponse>"#;

const OK: reqwest::StatusCode = reqwest::StatusCode::OK;

#[test]
fn answers_give_each_result_with_argo_s_field_names() {
    assert_eq!(
        read(OK, DOCUMENTED),
        Ok(MetricValue::Json(
            json!([{"Id": "m3", "Label": "Avg Total IOPS",
            "StatusCode": "Complete", "Timestamps": ["2024-09-29T22:10:00Z"], "Values": [96.85]}])
        ))
    );
    let two = r"<GetMetricDataResponse><GetMetricDataResult><MetricDataResults>
        <member><Id>a</Id><StatusCode>PartialData</StatusCode><Timestamps/><Values/></member>
        <member><Id>b</Id><StatusCode>Complete</StatusCode>
          <Timestamps><member>2024-09-29T22:15:00Z</member><member>2024-09-29T22:10:00Z</member></Timestamps>
          <Values><member>0.004</member><member>1.5E-3</member></Values></member>
        </MetricDataResults></GetMetricDataResult></GetMetricDataResponse>";
    assert_eq!(
        read(OK, two),
        Ok(MetricValue::Json(json!([
            {"Id": "a", "StatusCode": "PartialData", "Timestamps": [], "Values": []},
            {"Id": "b", "StatusCode": "Complete",
             "Timestamps": ["2024-09-29T22:15:00Z", "2024-09-29T22:10:00Z"], "Values": [0.004, 0.0015]}])))
    );
}

#[test]
fn results_without_a_value_are_no_data() {
    let empty = r"<GetMetricDataResponse><GetMetricDataResult><MetricDataResults/></GetMetricDataResult></GetMetricDataResponse>";
    assert_eq!(read(OK, empty), Ok(MetricValue::Nil));
    let no_values = r"<GetMetricDataResponse><GetMetricDataResult><MetricDataResults>
        <member><Id>a</Id><StatusCode>Complete</StatusCode><Timestamps/><Values/></member>
        </MetricDataResults></GetMetricDataResult></GetMetricDataResponse>";
    assert_eq!(read(OK, no_values), Ok(MetricValue::Nil));
    let not_a_number = r"<GetMetricDataResponse><GetMetricDataResult><MetricDataResults>
        <member><Id>a</Id><Values><member>lots</member></Values></member>
        </MetricDataResults></GetMetricDataResult></GetMetricDataResponse>";
    assert_eq!(
        read(OK, not_a_number),
        Err("CloudWatch value \"lots\" is not a number".to_owned())
    );
}

#[test]
fn refusals_name_aws_s_code_and_message() {
    let refusal = r#"<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>The value 0 for parameter MetricDataQueries.member.1.MetricStat.Period is not a valid period.</Message></Error><RequestId>1</RequestId></ErrorResponse>"#;
    assert_eq!(
        read(reqwest::StatusCode::BAD_REQUEST, refusal),
        Err("CloudWatch answered 400 Bad Request: ValidationError: The value 0 for parameter MetricDataQueries.member.1.MetricStat.Period is not a valid period.".to_owned())
    );
    assert!(
        read(reqwest::StatusCode::BAD_GATEWAY, "<html>")
            .expect_err("refused")
            .starts_with("CloudWatch answered 502 Bad Gateway with a body that is not XML")
    );
    assert_eq!(
        read(OK, "<Other/>"),
        Err("CloudWatch's answer has no GetMetricDataResult".to_owned())
    );
}

#[tokio::test]
async fn a_measurement_posts_the_signed_form_to_the_endpoint_and_retries_a_throttle() {
    let (recorder, url) = Recorder::start(vec![
        (
            503,
            vec![("retry-after", "0".to_owned())],
            "<ErrorResponse/>".to_owned(),
        ),
        (
            200,
            vec![("content-type", "text/xml".to_owned())],
            DOCUMENTED.to_owned(),
        ),
    ])
    .await;
    let harness = Harness::new();
    let context = harness.context();
    let env = move |name: &str| {
        Some(match name {
            "AWS_REGION" => "eu-west-1".to_owned(),
            "AWS_ACCESS_KEY_ID" => "AKIDEXAMPLE".to_owned(),
            "AWS_SECRET_ACCESS_KEY" => "secret".to_owned(),
            "AWS_ENDPOINT_URL_CLOUDWATCH" => url.clone(),
            _ => return None,
        })
    };
    let value = take(&context, &documented(), &env).await;
    assert_eq!(
        value.map(|value| value.display()),
        Ok(r#"[{"Id":"m3","Label":"Avg Total IOPS","StatusCode":"Complete","Timestamps":["2024-09-29T22:10:00Z"],"Values":[96.85]}]"#.to_owned())
    );
    let seen = recorder.take();
    assert_eq!(seen.len(), 2, "the throttled request is sent again");
    let request = &seen[1];
    assert_eq!(
        (request.method.as_str(), request.uri.as_str()),
        ("POST", "/")
    );
    assert!(
        request
            .text
            .starts_with("Action=GetMetricData&Version=2010-08-01&StartTime="),
        "{}",
        request.text
    );
    assert!(
        request.header("authorization")[0].starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
        "{:?}",
        request.header("authorization")
    );
    assert!(request.header("authorization")[0].contains("/eu-west-1/monitoring/aws4_request"));
    assert!(!request.text.contains("secret"));

    let no_region = |_: &str| None;
    assert_eq!(
        take(&context, &documented(), &no_region).await,
        Err("CloudWatch needs a region: set AWS_REGION for the daemon".to_owned())
    );
}

#[tokio::test]
async fn a_metric_is_measured_by_its_provider() {
    let metric = metric(
        json!({"name": "m", "provider": {"cloudWatch": {"metricDataQueries": [{"id": "a", "expression": "1"}]}}}),
    );
    let provider = crate::analysis::provider::for_metric(&metric).expect("a provider");
    assert_eq!(provider.name(), "cloudWatch");
}
