use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

use super::*;
use AnalysisPhase::{Error, Failed, Inconclusive, Pending, Running, Successful};

fn metric(fields: &serde_json::Value) -> Metric {
    let mut spec =
        json!({"name": "rate", "provider": {"prometheus": {"address": "http://p", "query": "q"}}});
    spec.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    serde_json::from_value(spec).unwrap()
}

fn plan(fields: &serde_json::Value) -> MetricPlan {
    MetricPlan::read(&metric(fields), false, None).unwrap()
}

fn measured(phases: &[AnalysisPhase], plan: &MetricPlan) -> MetricResult {
    let mut result = MetricResult {
        name: plan.name.clone(),
        ..MetricResult::default()
    };
    for phase in phases {
        record(
            &mut result,
            Measurement {
                phase: *phase,
                ..Measurement::default()
            },
            plan.retention,
        );
    }
    result
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

#[test]
fn counters_follow_argo() {
    let plan = plan(&json!({"interval": "10s"}));
    let result = measured(
        &[
            Successful,
            Error,
            Error,
            Failed,
            Inconclusive,
            Successful,
            Successful,
        ],
        &plan,
    );
    assert_eq!(
        (
            result.count,
            result.successful,
            result.failed,
            result.inconclusive,
            result.error
        ),
        (5, 3, 1, 1, 2)
    );
    assert_eq!(
        (result.consecutive_error, result.consecutive_success),
        (0, 2)
    );
    let errors = measured(&[Successful, Error, Error], &plan);
    assert_eq!(
        (
            errors.count,
            errors.consecutive_error,
            errors.consecutive_success
        ),
        (1, 2, 0)
    );
}

#[test]
fn limits_decide_the_metric_and_later_limits_win() {
    let once = plan(&json!({}));
    assert_eq!(
        assess_metric(&once, &measured(&[Successful], &once), false).0,
        Successful
    );
    assert_eq!(
        assess_metric(&once, &measured(&[Failed], &once), false),
        (Failed, "failed (1) > failureLimit (0)".into())
    );
    assert_eq!(
        assess_metric(&once, &measured(&[Inconclusive], &once), false),
        (
            Inconclusive,
            "inconclusive (1) > inconclusiveLimit (0)".into()
        )
    );
    let tolerant = plan(&json!({"interval": "1s", "count": 5, "failureLimit": 2}));
    assert_eq!(
        assess_metric(&tolerant, &measured(&[Failed, Failed], &tolerant), false).0,
        Running
    );
    assert_eq!(
        assess_metric(
            &tolerant,
            &measured(&[Failed, Failed, Failed], &tolerant),
            false
        )
        .0,
        Failed
    );
    assert_eq!(
        assess_metric(
            &tolerant,
            &measured(
                &[Failed, Successful, Failed, Successful, Successful],
                &tolerant
            ),
            false
        )
        .0,
        Successful
    );
    let errors = plan(&json!({"interval": "1s", "count": 10}));
    assert_eq!(
        assess_metric(&errors, &measured(&[Error; 4], &errors), false).0,
        Running
    );
    assert_eq!(
        assess_metric(&errors, &measured(&[Error; 5], &errors), false),
        (
            Error,
            "consecutiveErrors (5) > consecutiveErrorLimit (4)".into()
        )
    );
    // Failed and Error both over their limits: the later check (Error) wins.
    let both = measured(&[Failed, Error, Error, Error, Error, Error], &errors);
    assert_eq!(assess_metric(&errors, &both, false).0, Error);
    let disabled = plan(&json!({"interval": "1s", "count": 3, "failureLimit": -1}));
    assert_eq!(
        assess_metric(
            &disabled,
            &measured(&[Failed, Failed, Failed], &disabled),
            false
        )
        .0,
        Successful
    );
}

#[test]
fn errors_never_count_as_success() {
    let once = plan(&json!({}));
    let result = measured(&[Error], &once);
    assert_eq!(result.count, 0);
    assert_eq!(
        assess_metric(&once, &result, false).0,
        Running,
        "an errored single measurement is retried"
    );
}

#[test]
fn consecutive_successes() {
    let streak = plan(&json!({"interval": "1s", "count": 4, "consecutiveSuccessLimit": 2}));
    assert_eq!(
        assess_metric(
            &streak,
            &measured(&[Failed, Successful, Successful], &streak),
            false
        )
        .0,
        Failed
    );
    let lenient = plan(
        &json!({"interval": "1s", "count": 4, "failureLimit": 2, "consecutiveSuccessLimit": 2}),
    );
    assert_eq!(
        assess_metric(
            &lenient,
            &measured(&[Failed, Successful, Successful], &lenient),
            false
        )
        .0,
        Successful
    );
    assert_eq!(
        assess_metric(
            &lenient,
            &measured(&[Successful, Failed, Successful, Failed], &lenient),
            false
        )
        .0,
        Inconclusive
    );
    let never_fails = plan(
        &json!({"interval": "1s", "count": 4, "failureLimit": -1, "consecutiveSuccessLimit": 2}),
    );
    assert_eq!(
        assess_metric(
            &never_fails,
            &measured(&[Successful, Failed, Successful, Failed], &never_fails),
            false
        )
        .0,
        Failed
    );
}

#[test]
fn a_count_of_zero_is_no_count() {
    assert_eq!(plan(&json!({"interval": "1s", "count": 0})).count, None);
    assert_eq!(plan(&json!({"count": 0})).count, Some(1));
}

#[test]
fn unbounded_metrics_run_until_terminated() {
    let forever = plan(&json!({"interval": "1s"}));
    assert_eq!(forever.count, None);
    let result = measured(&[Successful; 20], &forever);
    assert_eq!(assess_metric(&forever, &result, false).0, Running);
    assert_eq!(assess_metric(&forever, &result, true).0, Successful);
    assert_eq!(result.measurements.len(), DEFAULT_RETENTION);
    assert_eq!(
        assess_metric(&forever, &MetricResult::default(), false).0,
        Pending
    );
    assert_eq!(
        assess_metric(&forever, &MetricResult::default(), true).0,
        Successful
    );
}

#[test]
fn the_run_takes_its_worst_metric_ignoring_dry_runs() {
    assert_eq!(
        assess_run(&[(Successful, false), (Running, false)]),
        Running
    );
    assert_eq!(
        assess_run(&[(Successful, false), (Inconclusive, false)]),
        Inconclusive
    );
    assert_eq!(
        assess_run(&[(Error, false), (Failed, false), (Inconclusive, false)]),
        Failed
    );
    assert_eq!(
        assess_run(&[(Successful, false), (Failed, true)]),
        Successful
    );
    assert_eq!(assess_run(&[(Failed, true)]), Successful);
    assert!(
        ends_the_run(Inconclusive, false)
            && !ends_the_run(Failed, true)
            && !ends_the_run(Successful, false)
    );
}

#[test]
fn measurements_are_scheduled_by_delay_interval_and_errors() {
    let timed = plan(&json!({"interval": "30s", "count": 3, "initialDelay": "1m"}));
    let empty = MetricResult::default();
    assert_eq!(
        next_measurement(&timed, &empty, Pending, at(0), at(10), false),
        Due::At(at(60))
    );
    assert_eq!(
        next_measurement(&timed, &empty, Pending, at(0), at(60), false),
        Due::Now
    );
    let finished = |phase| {
        let mut result = MetricResult::default();
        record(
            &mut result,
            Measurement {
                phase,
                finished_at: Some(Time(at(100))),
                ..Measurement::default()
            },
            10,
        );
        result
    };
    assert_eq!(
        next_measurement(
            &timed,
            &finished(Successful),
            Running,
            at(0),
            at(110),
            false
        ),
        Due::At(at(130))
    );
    assert_eq!(
        next_measurement(&timed, &finished(Error), Running, at(0), at(105), false),
        Due::At(at(110))
    );
    assert_eq!(
        next_measurement(&timed, &finished(Successful), Running, at(0), at(200), true),
        Due::Never
    );
    let once = plan(&json!({}));
    assert_eq!(
        next_measurement(
            &once,
            &finished(Successful),
            Successful,
            at(0),
            at(200),
            false
        ),
        Due::Never
    );
    assert_eq!(
        next_measurement(&once, &finished(Error), Running, at(0), at(200), false),
        Due::Now
    );
    let mut in_flight = MetricResult::default();
    record(
        &mut in_flight,
        Measurement {
            phase: Running,
            resume_at: Some(Time(at(150))),
            ..Measurement::default()
        },
        10,
    );
    assert_eq!(
        next_measurement(&once, &in_flight, Running, at(0), at(120), false),
        Due::At(at(150))
    );
}

#[test]
fn invalid_metrics_say_why() {
    let problems = MetricPlan::read(
        &metric(&json!({"count": 3, "successCondition": "result >=", "interval": "soon"})),
        false,
        None,
    )
    .unwrap_err();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|problem| problem.starts_with("metric \"rate\": successCondition: ")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|problem| problem.contains("count must be 1 or less when interval is not set")),
        "{problems:?}"
    );
    let limits = MetricPlan::read(
        &metric(&json!({"interval": "1s", "count": 2, "failureLimit": 3})),
        false,
        None,
    )
    .unwrap_err();
    assert_eq!(
        limits,
        ["metric \"rate\": count must be >= failureLimit + consecutiveSuccessLimit"]
    );
}

#[test]
fn limits_at_their_bounds_are_accepted_and_beyond_them_refused() {
    let read = |fields: &serde_json::Value| MetricPlan::read(&metric(fields), false, None);
    assert!(
        read(&json!({"count": 1})).is_ok(),
        "one measurement needs no interval"
    );
    assert!(
        read(
            &json!({"interval": "1s", "count": 4, "failureLimit": 1, "consecutiveSuccessLimit": 3})
        )
        .is_ok()
    );
    assert_eq!(
        read(
            &json!({"interval": "1s", "count": 3, "failureLimit": 1, "consecutiveSuccessLimit": 3})
        )
        .unwrap_err(),
        ["metric \"rate\": count must be >= failureLimit + consecutiveSuccessLimit"]
    );
    assert!(
        read(
            &json!({"interval": "1s", "count": 3, "failureLimit": 1, "inconclusiveLimit": 1,
                     "consecutiveErrorLimit": 1, "consecutiveSuccessLimit": 1})
        )
        .is_ok(),
        "a limit of 1 is a limit like any other"
    );
    assert!(read(&json!({"interval": "1s", "count": 3, "failureLimit": -1})).is_ok());
    for field in [
        "inconclusiveLimit",
        "consecutiveErrorLimit",
        "consecutiveSuccessLimit",
    ] {
        assert_eq!(
            read(&json!({"interval": "1s", field: -1})).unwrap_err(),
            [format!("metric \"rate\": {field} must be 0 or more")],
            "only failureLimit may be -1"
        );
    }
    assert_eq!(
        read(&json!({"failureLimit": -2})).unwrap_err(),
        ["metric \"rate\": failureLimit must be 0 or more"]
    );
}

#[test]
fn a_retention_of_zero_or_less_keeps_the_default() {
    let kept = |retention| {
        MetricPlan::read(&metric(&json!({})), false, Some(retention))
            .unwrap()
            .retention
    };
    assert_eq!(
        (kept(0), kept(-3), kept(3)),
        (DEFAULT_RETENTION, DEFAULT_RETENTION, 3)
    );
}

#[test]
fn completing_an_in_flight_measurement_counts_it_once_finished() {
    let plan = plan(&json!({"interval": "1s", "count": 3}));
    let mut result = measured(&[Successful], &plan);
    let in_flight = |phase| Measurement {
        phase,
        ..Measurement::default()
    };
    record(&mut result, in_flight(Running), plan.retention);
    assert_eq!((result.count, result.measurements.len()), (1, 2));
    complete_last(&mut result, in_flight(Running), plan.retention);
    assert_eq!(
        (result.count, result.measurements.len()),
        (1, 2),
        "still in flight: not counted"
    );
    complete_last(&mut result, in_flight(Failed), plan.retention);
    assert_eq!(
        (result.count, result.failed, result.measurements.len()),
        (2, 1, 2)
    );
    assert_eq!(result.measurements[1].phase, Failed);
    let mut short = measured(&[Successful, Successful], &plan);
    record(&mut short, in_flight(Running), 2);
    complete_last(&mut short, in_flight(Successful), 2);
    assert_eq!((short.count, short.measurements.len()), (3, 2));
}
