//! Kayenta's requests and answers, with the values of Argo's own Kayenta tests.

use serde_json::json;

use super::*;
use crate::analysis::provider::{Harness, metric};
use crate::recorder::Recorder;

/// Argo's test metric (`kayenta_test.go`), against `address`.
fn spec_at(address: &str) -> KayentaMetric {
    serde_json::from_value(json!({
        "address": address, "application": "guestbook",
        "canaryConfigName": "ValidationCanaryConfigTest3", "metricsAccountName": "wavefront-prod",
        "configurationAccountName": "intuit-kayenta", "storageAccountName": "intuit-kayenta",
        "threshold": {"pass": 90, "marginal": 75},
        "scopes": [{"name": "default",
            "controlScope": {"scope": "app=guestbook and rollouts-pod-template-hash=xxxx", "region": "us-=west-2",
                "step": 60, "start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"},
            "experimentScope": {"scope": "app=guestbook and rollouts-pod-template-hash=yyyy", "region": "us-=west-2",
                "step": 60, "start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"}}]
    }))
    .expect("a Kayenta spec")
}

fn spec() -> KayentaMetric {
    spec_at("https://kayenta.example.oom")
}

/// Argo's canary config list fixture.
const CONFIGS: &str = r#"[{"id":"69a6c352-7033-4ca1-858b-02497e5cc672","name":"ValidationCanaryConfigWF","updatedTimestamp":1556747152000,"updatedTimestampIso":"2019-05-01T21:45:52Z","applications":["guestbook"]},
{"id":"bf9795c0-170f-403e-bb7f-fef3f9a44d42","name":"ValidationCanaryConfigTest3","updatedTimestamp":1553707842000,"updatedTimestampIso":"2019-03-27T17:30:42Z","applications":["guestbook"]},
{"id":"872bb4d3-3309-48e6-9203-2a456a5c2ce7","name":"ValidationCanaryConfigTest2","applications":["guestbook"]}]"#;

/// `change`'s fields set on `value`, objects merged, anything else replaced.
fn merge(value: &mut Value, change: Value) {
    match (value, change) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, field) in from {
                merge(into.entry(key).or_insert(Value::Null), field);
            }
        }
        (slot, change) => *slot = change,
    }
}

#[test]
fn specs_are_checked() {
    assert_eq!(check(&spec()), Ok(()));
    let with = |change: Value| {
        let mut value = serde_json::to_value(spec()).expect("JSON");
        merge(&mut value, change);
        check(&serde_json::from_value(value).expect("a spec")).expect_err("refused")
    };
    assert_eq!(
        with(json!({"application": ""})),
        "kayenta.application is empty"
    );
    assert_eq!(
        with(json!({"threshold": {"pass": 70, "marginal": 75}})),
        "kayenta.threshold: need 0 <= marginal (75) <= pass (70) <= 100"
    );
    assert_eq!(
        with(json!({"threshold": {"pass": 101, "marginal": 75}})),
        "kayenta.threshold: need 0 <= marginal (75) <= pass (101) <= 100"
    );
    assert_eq!(with(json!({"scopes": []})), "kayenta.scopes is empty");
    assert_eq!(
        with(
            json!({"scopes": [{"name": "default", "controlScope": {"scope": "s", "region": "r", "step": 60, "start": "yesterday", "end": "2019-03-29T01:38:34Z"},
            "experimentScope": {"scope": "s", "region": "r", "step": 60, "start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"}}]})
        ),
        "kayenta.scopes[0].controlScope.start \"yesterday\" is not an RFC 3339 time"
    );
    assert_eq!(
        with(
            json!({"scopes": [{"name": "default", "controlScope": {"scope": "s", "region": "r", "step": 60, "start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"},
            "experimentScope": {"scope": "s", "region": "r", "step": 0, "start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"}}]})
        ),
        "kayenta.scopes[0].experimentScope.step must be a positive number of seconds"
    );
    assert!(with(json!({"address": "kayenta"})).starts_with("address \"kayenta\" is not a URL"));
}

#[test]
fn the_config_is_found_by_name_and_the_execution_started_with_the_scopes() {
    let lookup = configs_request(&spec()).expect("a request");
    assert_eq!(
        lookup.url.as_str(),
        "https://kayenta.example.oom/canaryConfig?application=guestbook&configurationAccountName=intuit-kayenta"
    );
    assert_eq!(
        config_id(&spec(), CONFIGS),
        Ok("bf9795c0-170f-403e-bb7f-fef3f9a44d42".to_owned())
    );
    let mut other = spec();
    other.canary_config_name = "Missing".to_owned();
    assert_eq!(
        config_id(&other, CONFIGS),
        Err(
            "Kayenta has no canary config named \"Missing\" for application \"guestbook\""
                .to_owned()
        )
    );
    assert!(config_id(&spec(), r#"{"this is bad": "yee"}"#).is_err());

    let start = start_request(&spec(), "bf9795c0-170f-403e-bb7f-fef3f9a44d42").expect("a request");
    assert_eq!(start.method, reqwest::Method::POST);
    assert_eq!(
        start.url.as_str(),
        "https://kayenta.example.oom/canary/bf9795c0-170f-403e-bb7f-fef3f9a44d42?application=guestbook&metricsAccountName=wavefront-prod&configurationAccountName=intuit-kayenta&storageAccountName=intuit-kayenta"
    );
    let body: Value = serde_json::from_str(start.body.as_deref().expect("a body")).expect("JSON");
    assert_eq!(
        body,
        json!({"scopes": {"default": {
            "controlScope": {"scope": "app=guestbook and rollouts-pod-template-hash=xxxx", "region": "us-=west-2", "step": 60, "start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"},
            "experimentScope": {"scope": "app=guestbook and rollouts-pod-template-hash=yyyy", "region": "us-=west-2", "step": 60, "start": "2019-03-29T01:08:34Z", "end": "2019-03-29T01:38:34Z"}}},
            "thresholds": {"pass": 90, "marginal": 75}})
    );
    assert_eq!(
        execution_id(r#"{"canaryExecutionId" : "01DS50WVHAWSTAQACJKB1VKDQB"}"#),
        Ok("01DS50WVHAWSTAQACJKB1VKDQB".to_owned())
    );
    assert_eq!(
        execution_id(r#"{"canaryExecutionId" : ""}"#),
        Err("Kayenta's answer has no canaryExecutionId".to_owned())
    );
    assert_eq!(
        execution_id("{}"),
        Err("Kayenta's answer has no canaryExecutionId".to_owned())
    );
    assert_eq!(
        status_request(&spec(), "01DS50WVHAWSTAQACJKB1VKDQB")
            .map(|request| request.url.to_string()),
        Ok("https://kayenta.example.oom/canary/01DS50WVHAWSTAQACJKB1VKDQB".to_owned())
    );
}

#[test]
fn the_score_decides_against_the_thresholds() {
    let judged = |body: Value| judgement(&spec(), &body.to_string());
    let score = |score: f64| json!({"complete": true, "result": {"judgeResult": {"score": {"score": score}}}});
    assert_eq!(
        judged(score(100.0)),
        Ok(Some((
            AnalysisPhase::Successful,
            100,
            "score 100 (pass 90, marginal 75)".to_owned()
        )))
    );
    assert_eq!(
        judged(score(90.0)).map(|found| found.map(|(phase, ..)| phase)),
        Ok(Some(AnalysisPhase::Successful))
    );
    // 89.9 is cut to 89: not a pass.
    assert_eq!(
        judged(score(89.9)),
        Ok(Some((
            AnalysisPhase::Inconclusive,
            89,
            "score 89 (pass 90, marginal 75)".to_owned()
        )))
    );
    assert_eq!(
        judged(score(75.0)).map(|found| found.map(|(phase, ..)| phase)),
        Ok(Some(AnalysisPhase::Inconclusive))
    );
    assert_eq!(
        judged(score(60.0)).map(|found| found.map(|(phase, ..)| phase)),
        Ok(Some(AnalysisPhase::Failed))
    );
    assert_eq!(
        judged(json!({"complete": false, "result": {"judgeResult": {"score": {"score": 80.0}}}})),
        Ok(None)
    );
    assert_eq!(
        judged(json!({})),
        Err("Kayenta's answer has no complete status".to_owned())
    );
    assert_eq!(
        judged(json!({"complete": true, "result": {"judgeResult": {}}})),
        Err("Kayenta's execution ended without a score: no score".to_owned())
    );
    assert_eq!(
        judged(
            json!({"complete": true, "status": "terminal", "result": null,
            "exception": {"details": {"error": "No metrics found for canary config"}}})
        ),
        Err(
            "Kayenta's execution ended without a score: No metrics found for canary config"
                .to_owned()
        )
    );
}

#[tokio::test]
async fn an_execution_is_started_then_looked_at_until_judged() {
    let json_type = || vec![("content-type", "application/json".to_owned())];
    let (recorder, url) = Recorder::start(vec![
        (
            200,
            json_type(),
            serde_json::from_str::<Value>(CONFIGS).expect("JSON"),
        ),
        (
            200,
            json_type(),
            json!({"canaryExecutionId": "01DS50WVHAWSTAQACJKB1VKDQB"}),
        ),
        (200, json_type(), json!({"complete": false})),
        (503, vec![("retry-after", "0".to_owned())], json!({})),
        (
            200,
            json_type(),
            json!({"complete": true, "result": {"judgeResult": {"score": {"score": 60.0}}}}),
        ),
    ])
    .await;
    let harness = Harness::new();
    let context = harness.context();
    let mut value = serde_json::to_value(spec_at(&url)).expect("JSON");
    value["threshold"] = json!({"pass": 90, "marginal": 75});
    let metric = metric(
        json!({"name": "canary", "successCondition": "true", "provider": {"kayenta": value}}),
    );
    let provider = KayentaProvider;
    let started = provider
        .measure(&context, &metric, 0, None)
        .await
        .expect("started");
    let Outcome::Verdict {
        phase,
        metadata,
        resume_after,
        ..
    } = &started
    else {
        panic!("a verdict: {started:?}");
    };
    assert_eq!(*phase, AnalysisPhase::Running);
    assert_eq!(metadata[EXECUTION], "01DS50WVHAWSTAQACJKB1VKDQB");
    assert_eq!(*resume_after, Some(Duration::from_secs(15)));
    let seen = recorder.take();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].uri,
        "/canaryConfig?application=guestbook&configurationAccountName=intuit-kayenta"
    );
    assert_eq!(seen[1].method, "POST");
    assert!(
        seen[1]
            .uri
            .starts_with("/canary/bf9795c0-170f-403e-bb7f-fef3f9a44d42?application=guestbook&"),
        "{}",
        seen[1].uri
    );
    assert_eq!(
        seen[1].body["thresholds"],
        json!({"pass": 90, "marginal": 75})
    );
    looked_at_until_judged(&context, &metric, metadata, &recorder).await;
}

/// The looks after the start: running, then judged by the score alone; then terminated.
async fn looked_at_until_judged(
    context: &Context<'_>,
    metric: &Metric,
    metadata: &BTreeMap<String, String>,
    recorder: &Recorder,
) {
    let provider = KayentaProvider;
    let in_flight = Measurement {
        phase: AnalysisPhase::Running,
        metadata: metadata.clone(),
        ..Measurement::default()
    };
    let running = provider
        .measure(context, metric, 0, Some(&in_flight))
        .await
        .expect("looked at");
    assert!(
        matches!(
            &running,
            Outcome::Verdict {
                phase: AnalysisPhase::Running,
                ..
            }
        ),
        "{running:?}"
    );
    // The metric's own conditions do not decide: Kayenta's score does.
    let judged = provider
        .measure(context, metric, 0, Some(&in_flight))
        .await
        .expect("judged");
    assert_eq!(
        judged,
        Outcome::Verdict {
            phase: AnalysisPhase::Failed,
            value: "60".to_owned(),
            message: "score 60 (pass 90, marginal 75)".to_owned(),
            metadata: metadata.clone(),
            resume_after: None,
        }
    );
    let seen = recorder.take();
    assert_eq!(seen.len(), 3, "the unavailable status is asked again");
    assert!(
        seen.iter()
            .all(|request| request.uri == "/canary/01DS50WVHAWSTAQACJKB1VKDQB")
    );

    let terminated = provider.terminate(context, metric, &in_flight).await;
    assert_eq!(terminated.phase, AnalysisPhase::Inconclusive);
    assert_eq!(terminated.message, "Metric Terminated");
}
