use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::analysis::condition::MetricValue;
use crate::analysis::summary::summarize;
use crate::k8s::crd::{Metric, RunSummary};
use AnalysisPhase::{Error, Failed, Inconclusive, Pending, Running, Successful};

fn plan(name: &str, fields: &serde_json::Value, dry_run: bool) -> MetricPlan {
    let mut spec =
        json!({"name": name, "provider": {"prometheus": {"address": "http://p", "query": "q"}}});
    spec.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    let metric: Metric = serde_json::from_value(spec).unwrap();
    MetricPlan::read(&metric, dry_run, None).unwrap()
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn finished(phase: AnalysisPhase, seconds: i64) -> Measurement {
    Measurement {
        phase,
        started_at: Some(Time(at(seconds))),
        finished_at: Some(Time(at(seconds))),
        ..Measurement::default()
    }
}

fn running(resume_at: Option<i64>) -> Measurement {
    Measurement {
        phase: Running,
        started_at: Some(Time(at(0))),
        resume_at: resume_at.map(|seconds| Time(at(seconds))),
        metadata: BTreeMap::from([("job-name".to_owned(), "run-1".to_owned())]),
        ..Measurement::default()
    }
}

fn result_of(plan: &MetricPlan, measurements: Vec<Measurement>) -> MetricResult {
    let mut result = MetricResult {
        name: plan.name.clone(),
        ..MetricResult::default()
    };
    for measurement in measurements {
        assess::record(&mut result, measurement, plan.retention);
    }
    result
}

#[test]
fn recorded_results_carry_over_by_name_and_new_metrics_start_fresh() {
    let plans = [
        plan("errors", &json!({}), false),
        plan("latency", &json!({}), false),
    ];
    let latency = result_of(&plans[1], vec![finished(Successful, 0)]);
    let gone = MetricResult {
        name: "removed".into(),
        count: 7,
        ..MetricResult::default()
    };
    let status = AnalysisRunStatus {
        metric_results: vec![gone, latency.clone()],
        ..AnalysisRunStatus::default()
    };
    let carried = carried_results(&plans, &status);
    assert_eq!(
        carried,
        [
            MetricResult {
                name: "errors".into(),
                ..MetricResult::default()
            },
            latency
        ],
        "in the plans' order, a result of a metric no longer planned dropped"
    );
}

#[test]
fn a_run_terminates_when_asked_or_when_a_metric_that_is_not_a_dry_run_ended_it() {
    let decisive = plan("errors", &json!({}), false);
    let dry = plan("latency", &json!({}), true);
    let failed_once = |plan: &MetricPlan| result_of(plan, vec![finished(Failed, 0)]);
    let fresh = |plan: &MetricPlan| result_of(plan, vec![]);
    let plans = [decisive.clone(), dry.clone()];
    assert!(!is_terminating(
        false,
        &plans,
        &[fresh(&decisive), fresh(&dry)]
    ));
    assert!(is_terminating(
        true,
        &plans,
        &[fresh(&decisive), fresh(&dry)]
    ));
    assert!(is_terminating(
        false,
        &plans,
        &[failed_once(&decisive), fresh(&dry)]
    ));
    assert!(
        !is_terminating(false, &plans, &[fresh(&decisive), failed_once(&dry)]),
        "a failed dry run never ends the run"
    );
    let passed = result_of(&decisive, vec![finished(Successful, 0)]);
    assert!(
        !is_terminating(false, &plans, &[passed, fresh(&dry)]),
        "a Successful metric does not stop the others"
    );
}

#[test]
fn due_metrics_are_those_whose_next_measurement_is_now() {
    let every_10s = plan("errors", &json!({"interval": "10s"}), false);
    let delayed = plan(
        "latency",
        &json!({"initialDelay": "30s", "interval": "10s"}),
        false,
    );
    let once = plan("smoke", &json!({"count": 1}), false);
    let plans = [every_10s.clone(), delayed.clone(), once.clone()];
    let results = [
        result_of(&every_10s, vec![finished(Successful, 0)]),
        result_of(&delayed, vec![]),
        result_of(&once, vec![]),
    ];
    assert_eq!(due_now(&plans, &results, at(0), at(5), false), [2]);
    assert_eq!(due_now(&plans, &results, at(0), at(10), false), [0, 2]);
    assert_eq!(due_now(&plans, &results, at(0), at(30), false), [0, 1, 2]);
    assert!(
        due_now(&plans, &results, at(0), at(30), true).is_empty(),
        "nothing is measured once the run terminates"
    );
    let measured_once = [
        results[0].clone(),
        results[1].clone(),
        result_of(&once, vec![finished(Successful, 0)]),
    ];
    assert_eq!(
        due_now(&plans, &measured_once, at(0), at(10), false),
        [0],
        "a metric that reached its count is done"
    );
}

#[test]
fn a_measurement_completes_the_one_in_flight_or_is_added() {
    let plan = plan("job", &json!({"interval": "10s"}), false);
    let mut result = result_of(&plan, vec![finished(Successful, 0)]);
    assert!(in_flight(&result).is_none());
    settle(&mut result, running(Some(5)), plan.retention);
    assert_eq!(result.measurements.len(), 2, "a new measurement, in flight");
    assert_eq!(in_flight(&result), result.measurements.last());
    assert_eq!(result.count, 1, "a measurement in flight is not counted");
    settle(&mut result, finished(Failed, 20), plan.retention);
    assert_eq!(
        result.measurements.len(),
        2,
        "it completed the one in flight"
    );
    assert_eq!(result.measurements[1].phase, Failed);
    assert_eq!((result.count, result.failed), (2, 1));
    assert!(in_flight(&result).is_none());
    settle(&mut result, finished(Successful, 30), plan.retention);
    assert_eq!(result.measurements.len(), 3, "added after a completed one");
}

fn redact(text: &str) -> String {
    text.replace("s3cr3t", "*****")
}

#[test]
fn a_value_is_judged_by_the_conditions_and_stored_redacted() {
    let plan = plan(
        "errors",
        &json!({"successCondition": "result[0] < 0.05"}),
        false,
    );
    let now = Time(at(10));
    for (value, phase) in [(0.01, Successful), (0.2, Failed)] {
        let measurement = measurement_of(
            Ok(Outcome::Value(MetricValue::Vector(vec![value]))),
            &plan,
            Time(at(0)),
            &now,
            redact,
        );
        assert_eq!(measurement.phase, phase, "{value}");
        assert_eq!(measurement.value, format!("[{value}]"));
        assert_eq!(measurement.started_at, Some(Time(at(0))));
        assert_eq!(measurement.finished_at, Some(now.clone()));
        assert_eq!(measurement.resume_at, None);
    }
    let secret = measurement_of(
        Ok(Outcome::Value(MetricValue::Json(json!("token s3cr3t")))),
        &plan,
        Time(at(0)),
        &now,
        redact,
    );
    let empty = measurement_of(
        Ok(Outcome::Value(MetricValue::Vector(Vec::new()))),
        &plan,
        Time(at(0)),
        &now,
        redact,
    );
    assert_eq!(empty.phase, Inconclusive);
    assert!(
        empty.message.starts_with("the result is empty"),
        "{empty:?}"
    );
    assert!(!secret.value.contains("s3cr3t"), "{secret:?}");
    assert!(!secret.message.contains("s3cr3t"), "{secret:?}");
    let long = measurement_of(
        Ok(Outcome::Value(MetricValue::Json(json!("x".repeat(5000))))),
        &plan,
        Time(at(0)),
        &now,
        redact,
    );
    assert_eq!(long.value.chars().count(), MAX_VALUE_CHARS + 3);
}

#[test]
fn a_verdict_in_flight_resumes_later_and_a_final_one_finishes() {
    let plan = plan("job", &json!({}), false);
    let now = Time(at(10));
    let verdict = |phase| {
        Ok(Outcome::Verdict {
            phase,
            value: "score s3cr3t".into(),
            message: "job run-1 s3cr3t".into(),
            metadata: BTreeMap::from([("job-name".to_owned(), "run-1".to_owned())]),
            resume_after: Some(Duration::from_secs(5)),
        })
    };
    let still = measurement_of(verdict(Running), &plan, Time(at(0)), &now, redact);
    assert_eq!(still.phase, Running);
    assert_eq!(still.started_at, Some(Time(at(0))));
    assert_eq!(still.finished_at, None);
    assert_eq!(still.resume_at, Some(Time(at(15))));
    assert_eq!(still.message, "job run-1 *****");
    assert_eq!(still.value, "score *****");
    assert_eq!(still.metadata["job-name"], "run-1");
    let done = measurement_of(verdict(Successful), &plan, Time(at(0)), &now, redact);
    assert_eq!(done.phase, Successful);
    assert_eq!(done.finished_at, Some(now.clone()));
    assert_eq!(done.resume_at, None, "a final verdict is never resumed");
}

#[test]
fn a_provider_error_is_an_error_measurement() {
    let plan = plan("errors", &json!({}), false);
    let now = Time(at(10));
    let measurement = measurement_of(
        Err("GET http://p?token=s3cr3t: refused".into()),
        &plan,
        Time(at(0)),
        &now,
        redact,
    );
    assert_eq!(measurement.phase, Error);
    assert_eq!(measurement.started_at, Some(Time(at(0))));
    assert_eq!(measurement.message, "GET http://p?token=*****: refused");
    assert_eq!(measurement.finished_at, Some(now));
    assert_eq!(measurement.value, "");
}

#[test]
fn the_status_takes_the_summary_and_a_dry_run_summary_only_with_dry_runs() {
    let decisive = plan("errors", &json!({}), false);
    let dry = plan("latency", &json!({}), true);
    let mut results = vec![
        result_of(&decisive, vec![finished(Successful, 0)]),
        result_of(&dry, vec![finished(Failed, 0)]),
    ];
    let plans = [decisive.clone(), dry];
    let summary = summarize(&plans, &mut results, false, false);
    let mut status = AnalysisRunStatus::default();
    apply_summary(&mut status, summary.clone(), results.clone());
    assert_eq!(status.phase, summary.phase);
    assert_eq!(status.message, summary.message);
    assert_eq!(status.run_summary, Some(summary.run_summary));
    assert_eq!(status.dry_run_summary, Some(summary.dry_run_summary));
    assert_eq!(status.metric_results, results);

    let mut alone = vec![result_of(&decisive, vec![finished(Successful, 0)])];
    let summary = summarize(&[decisive], &mut alone, false, false);
    assert_eq!(summary.dry_run_summary, RunSummary::default());
    apply_summary(&mut status, summary, alone);
    assert_eq!(status.dry_run_summary, None, "no dry-run metrics: none");
}

#[test]
fn metrics_completed_in_this_round_are_announced_once() {
    let status = AnalysisRunStatus {
        metric_results: ["a", "b", "c", "d"]
            .iter()
            .zip([Successful, Failed, Running, Error])
            .map(|(name, phase)| MetricResult {
                name: (*name).into(),
                phase,
                ..MetricResult::default()
            })
            .collect(),
        ..AnalysisRunStatus::default()
    };
    let names = |before: &[AnalysisPhase]| {
        completed_since(before, &status)
            .map(|result| result.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&[Running, Successful, Pending]),
        ["a", "d"],
        "b completed before; c still runs; d has no earlier phase"
    );
    assert!(names(&[Successful, Failed, Running, Error]).is_empty());
}

#[test]
fn the_next_look_is_at_the_soonest_due_measurement_within_bounds() {
    let every_10s = plan("errors", &json!({"interval": "10s"}), false);
    let every_hour = plan("latency", &json!({"interval": "1h"}), false);
    let once = plan("smoke", &json!({}), false);
    let measured = |plan: &MetricPlan| result_of(plan, vec![finished(Successful, 0)]);
    assert_eq!(
        next_wake(
            &[every_10s.clone(), every_hour.clone()],
            &[measured(&every_10s), measured(&every_hour)],
            at(0),
            at(4),
            false
        ),
        Duration::from_secs(6)
    );
    assert_eq!(
        next_wake(
            std::slice::from_ref(&every_hour),
            &[measured(&every_hour)],
            at(0),
            at(4),
            false
        ),
        RESYNC,
        "never longer than the resync"
    );
    assert_eq!(
        next_wake(
            std::slice::from_ref(&once),
            &[measured(&once)],
            at(0),
            at(4),
            false
        ),
        RESYNC,
        "nothing due: the resync"
    );
    assert_eq!(
        next_wake(
            std::slice::from_ref(&every_10s),
            &[measured(&every_10s)],
            at(0),
            at(30),
            false
        ),
        Duration::from_millis(500),
        "overdue: soon, never in a busy loop"
    );
    assert_eq!(
        next_wake(
            std::slice::from_ref(&every_10s),
            &[measured(&every_10s)],
            at(0),
            at(4),
            true
        ),
        RESYNC,
        "a terminating run measures nothing more"
    );
}
