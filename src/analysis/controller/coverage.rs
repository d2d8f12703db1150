//! Acceptance: every field of an AnalysisRun's spec outside its metrics changes what the
//! AnalysisRun controller makes of the run — its arguments, its metrics' plans, its verdict
//! after a measurement, or when it is deleted. A test walks the CRD schema (as
//! `k8s::crd::coverage` does for Rollouts); each field is set on a run that has everything
//! on its path but that field.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{
    AnalysisRun, AnalysisRunSpec, AnalysisRunStatus, Args, ArgsError, HostGuard, fate, judge,
    prepare_metrics,
};
use crate::k8s::crd::coverage::{assert_all_read, is_read, spec_leaves, with};
use crate::k8s::crd::{Measurement, MetricResult};
use crate::k8s::{ObjectMeta, crd::AnalysisPhase};

/// Read elsewhere, with the test that proves it. Subtrees end in `.`.
const READ_ELSEWHERE: &[(&str, &str)] = &[(
    ".metrics[].",
    "the Metric of AnalysisTemplates too: analysis::provider::coverage walks every field",
)];

/// The metric's name is the smallest string the walk writes (`30s`), so that a `dryRun` or
/// `measurementRetention` rule made on the way to one of its fields names it (and the
/// Secret of a `secretKeyRef` made on the way exists).
const METRIC: &str = "30s";

/// How [`outcome`] marks a spec that does not parse.
const UNREAD: &str = "does not read: ";

/// A run of one metric due three times, whose query uses its argument `web`.
fn base() -> Value {
    json!({"args": [{"name": "web", "value": "w"}], "metrics": [{"name": METRIC, "count": 3, "interval": "1m",
        "successCondition": "result[0] < 1",
        "provider": {"prometheus": {"address": "http://127.0.0.1:9090",
            "query": "errors{job=\"{{args.web}}\"}"}}}]})
}

/// The Secret a `secretKeyRef` made on the way names: `30s`, with a key `30s`.
fn secrets() -> BTreeMap<String, Result<Secret, ArgsError>> {
    let secret = Secret {
        data: Some(BTreeMap::from([(
            METRIC.to_owned(),
            ByteString(b"t0ken".to_vec()),
        )])),
        ..Secret::default()
    };
    BTreeMap::from([(METRIC.to_owned(), Ok(secret))])
}

/// A result of the metric with these measurements.
fn result(phases: &[AnalysisPhase]) -> MetricResult {
    let count = |phase| i32::try_from(phases.iter().filter(|p| **p == phase).count()).unwrap();
    MetricResult {
        name: METRIC.to_owned(),
        phase: AnalysisPhase::Running,
        measurements: phases
            .iter()
            .map(|phase| Measurement {
                phase: *phase,
                ..Measurement::default()
            })
            .collect(),
        count: i32::try_from(phases.len()).unwrap(),
        successful: count(AnalysisPhase::Successful),
        failed: count(AnalysisPhase::Failed),
        ..MetricResult::default()
    }
}

/// What the controller makes of a run with `spec`: its arguments; its metrics' plans; its
/// verdict after one passed and after one failed measurement; and, once finished in each
/// phase, whether it is deleted some seconds later.
fn outcome(spec: &Value) -> String {
    let spec: AnalysisRunSpec = match serde_json::from_value(spec.clone()) {
        Ok(spec) => spec,
        Err(error) => return format!("{UNREAD}{error}"),
    };
    let run = AnalysisRun {
        metadata: ObjectMeta {
            name: Some("run".to_owned()),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    };
    let mut out = String::new();
    let args = Args::assemble(&run, &secrets());
    writeln!(out, "args: {args:?}").expect("a String takes text");
    let args = args.unwrap_or_else(|_| Args::from_values([("web".to_owned(), "w".to_owned())]));
    let guard = HostGuard::new(&["127.0.0.1"]).expect("a pattern");
    let plans = match prepare_metrics(&run.spec, &args, &guard) {
        Ok(prepared) => prepared
            .into_iter()
            .map(|prepared| prepared.plan)
            .collect::<Vec<_>>(),
        Err(error) => return format!("{out}refused: {error}"),
    };
    writeln!(out, "plans: {plans:?}").expect("a String takes text");
    for measured in [[AnalysisPhase::Successful], [AnalysisPhase::Failed]] {
        let verdict = judge(&run.spec, &plans, &mut [result(&measured)]);
        writeln!(out, "after {measured:?}: {verdict:?}").expect("a String takes text");
    }
    let finished = Timestamp::from_second(1_800_000_000).expect("a time");
    for phase in [
        AnalysisPhase::Successful,
        AnalysisPhase::Failed,
        AnalysisPhase::Error,
        AnalysisPhase::Inconclusive,
    ] {
        for seconds in [0, 1, 2, 4, 101] {
            let status = AnalysisRunStatus {
                phase,
                completed_at: Some(Time(finished)),
                ..AnalysisRunStatus::default()
            };
            let now = finished + SignedDuration::from_secs(seconds);
            let fate = fate(&run.spec, &status, now);
            writeln!(out, "{phase} +{seconds}s: {fate:?}").expect("a String takes text");
        }
    }
    out
}

#[test]
fn every_analysis_run_field_outside_its_metrics_is_read() {
    let (spec, fields) = spec_leaves::<AnalysisRun>("");
    let spec = &spec;
    let no_seed = |_: &str| None;
    let mut ignored = Vec::new();
    for (path, leaf) in &fields {
        if path.starts_with(".metrics[].") {
            ignored.push(path.clone());
            continue;
        }
        let read = is_read(leaf, UNREAD, |value| {
            outcome(&with(&base(), spec, path, value, no_seed))
        });
        if !read {
            ignored.push(path.clone());
        }
    }
    assert_all_read("the AnalysisRun schema", &fields, &ignored, READ_ELSEWHERE);
}
