use serde_json::json;

use super::*;

fn spec(fields: &serde_json::Value) -> AnalysisRunSpec {
    let mut spec = json!({"metrics": [
        {"name": "errors", "successCondition": "result[0] < {{args.limit}}",
         "provider": {"prometheus": {"address": "http://prometheus.monitoring.svc", "query": "q"}}},
        {"name": "latency",
         "provider": {"prometheus": {"address": "http://prometheus.monitoring.svc", "query": "q"}}},
    ]});
    spec.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    serde_json::from_value(spec).unwrap()
}

fn limit() -> Args {
    Args::from_values([("limit".to_owned(), "0.05".to_owned())])
}

#[test]
fn dry_runs_and_retention_apply_to_the_metrics_their_rules_match() {
    let named = spec(&json!({
        "dryRun": [{"metricName": "latency"}],
        "measurementRetention": [{"metricName": "latency", "limit": 3}, {"metricName": "*", "limit": 7}],
    }));
    assert_eq!(options_of(&named, "errors"), (false, Some(7)));
    assert_eq!(
        options_of(&named, "latency"),
        (true, Some(7)),
        "the last rule matching it, as in Argo"
    );
    let ordered = spec(&json!({
        "measurementRetention": [{"metricName": ".*", "limit": 7}, {"metricName": "^lat", "limit": 3}],
    }));
    assert_eq!(options_of(&ordered, "latency"), (false, Some(3)));
    assert_eq!(options_of(&ordered, "errors"), (false, Some(7)));
    let every = spec(&json!({"dryRun": [{"metricName": "*"}]}));
    assert_eq!(options_of(&every, "errors"), (true, None));
    assert_eq!(options_of(&spec(&json!({})), "errors"), (false, None));
}

#[test]
fn metrics_are_prepared_with_their_arguments_and_options() {
    let run = spec(&json!({
        "dryRun": [{"metricName": "latency"}],
        "measurementRetention": [{"metricName": "errors", "limit": 2}],
    }));
    let prepared = prepare_metrics(&run, &limit(), &HostGuard::default()).unwrap();
    let plans: Vec<(&str, bool, usize)> = prepared
        .iter()
        .map(|metric| {
            (
                metric.plan.name.as_str(),
                metric.plan.dry_run,
                metric.plan.retention,
            )
        })
        .collect();
    assert_eq!(plans[0], ("errors", false, 2));
    assert_eq!((plans[1].0, plans[1].1), ("latency", true));
    assert_eq!(prepared[0].metric.success_condition, "result[0] < 0.05");
    assert_eq!(prepared[0].provider.name(), "prometheus");
}

#[test]
fn every_problem_of_a_run_is_reported_at_once() {
    let invalid = |spec: &AnalysisRunSpec, args: &Args, guard: &HostGuard| match prepare_metrics(
        spec, args, guard,
    ) {
        Err(ArgsError::Invalid(message)) => message,
        Err(other) => panic!("expected Invalid, got {other:?}"),
        Ok(_) => panic!("expected problems"),
    };
    assert_eq!(
        invalid(
            &spec(&json!({"metrics": []})),
            &limit(),
            &HostGuard::default()
        ),
        "the run has no metrics"
    );
    assert_eq!(
        invalid(&spec(&json!({})), &Args::default(), &HostGuard::default()),
        "metric \"errors\" uses argument \"limit\", which the run does not define"
    );
    let elsewhere = HostGuard::new(&["*.example.com"]).unwrap();
    let message = invalid(&spec(&json!({})), &limit(), &elsewhere);
    assert!(
        message.starts_with("metric \"errors\": ") && message.contains("; metric \"latency\": "),
        "each metric's refused host is named: {message}"
    );
}

#[test]
fn a_skywalking_address_outside_the_allow_list_is_refused_when_the_run_starts() {
    let run = |address: &str| {
        spec(
            &json!({"metrics": [{"name": "apdex", "provider": {"skywalking": {
            "address": address, "query": "query q($duration: Duration!) { a }", "interval": "5m"}}}]}),
        )
    };
    let guard = HostGuard::new(&["*.example.com"]).unwrap();
    let allowed = prepare_metrics(&run("http://oap.example.com:12800"), &limit(), &guard)
        .expect("an allowed address");
    assert_eq!(allowed[0].provider.name(), "skywalking");
    match prepare_metrics(&run("http://oap.skywalking:12800"), &limit(), &guard) {
        Err(ArgsError::Invalid(message)) => assert!(
            message.starts_with("metric \"apdex\": ") && message.contains("oap.skywalking"),
            "{message}"
        ),
        Err(other) => panic!("expected Invalid, got {other:?}"),
        Ok(_) => panic!("expected the address to be refused"),
    }
}
