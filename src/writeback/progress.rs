//! What the outside world should know about a Rollout now: its revision, step, weight and
//! outcome ([`Snapshot`]), what changed since the last look (timeline events), and the commit
//! status that says so.
//!
//! In: a Rollout as read from the cluster. Out: snapshots, events, statuses. Pure.

use kube::ResourceExt;

use super::record::{AnalysisVerdict, MetricVerdict, Outcome};
use crate::forge::{CommitStatus, StatusState};
use crate::k8s::crd::{AnalysisPhase, AnalysisRun, CanaryStep, Rollout, RolloutAnalysisRunStatus};
use crate::k8s::labels;
use crate::model::Phase;

/// The reportable state of a Rollout's current revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The current revision's pod-template hash.
    pub hash: String,
    /// The stable revision's.
    pub stable: String,
    /// The current revision's images.
    pub images: Vec<String>,
    /// Steps completed (canary).
    pub step: usize,
    /// Steps in the plan (0: blue-green).
    pub steps: usize,
    /// Canary weight.
    pub weight: i32,
    /// Phase.
    pub phase: Option<Phase>,
    /// Whether it was aborted.
    pub aborted: bool,
    /// The Rollout's message.
    pub message: String,
    /// Paused until someone promotes it.
    pub awaiting_approval: bool,
    /// The current analysis run and its phase.
    pub analysis: Option<(String, String)>,
    /// Aborted because an analysis failed or errored (not by a person).
    pub analysis_failed: bool,
}

/// The snapshot of `rollout`, once the controller has observed its current spec.
#[must_use]
pub fn snapshot(rollout: &Rollout) -> Option<Snapshot> {
    let status = rollout.status.as_ref()?;
    let observed = status.observed_generation.parse::<i64>().ok();
    if observed != rollout.metadata.generation || status.current_pod_hash.is_empty() {
        return None;
    }
    let steps = rollout.spec.canary_steps();
    let step = status
        .current_step_index
        .and_then(|index| usize::try_from(index).ok())
        .unwrap_or(0)
        .min(steps.len());
    // The engine's own rule, so the approval gate and the engine cannot disagree.
    let awaiting_approval = rollout
        .spec
        .plan()
        .is_ok_and(|plan| crate::engine::awaiting_approval(&plan, &status.to_state()));
    let runs: Vec<&RolloutAnalysisRunStatus> = [
        status
            .canary
            .as_ref()
            .and_then(|canary| canary.current_step_analysis_run_status.as_ref()),
        status
            .canary
            .as_ref()
            .and_then(|canary| canary.current_background_analysis_run_status.as_ref()),
        status
            .blue_green
            .as_ref()
            .and_then(|blue_green| blue_green.pre_promotion_analysis_run_status.as_ref()),
        status
            .blue_green
            .as_ref()
            .and_then(|blue_green| blue_green.post_promotion_analysis_run_status.as_ref()),
    ]
    .into_iter()
    .flatten()
    .filter(|run| !run.name.is_empty())
    .collect();
    let analysis = runs
        .iter()
        .find(|run| !run.status.is_completed() || run.status.is_unsuccessful())
        .or(runs.first())
        .map(|run| (run.name.clone(), run.status.to_string()));
    let analysis_failed = status.abort
        && runs
            .iter()
            .any(|run| matches!(run.status, AnalysisPhase::Failed | AnalysisPhase::Error));
    Some(Snapshot {
        hash: status.current_pod_hash.clone(),
        stable: status.stable_rs.clone(),
        images: crate::k8s::crd::images(rollout.spec.template.as_ref()),
        step,
        steps: steps.len(),
        weight: status
            .canary
            .as_ref()
            .and_then(|canary| canary.weights.as_ref())
            .map_or(0, |weights| weights.canary.weight),
        phase: status.phase,
        aborted: status.abort,
        message: status.message.clone(),
        awaiting_approval,
        analysis,
        analysis_failed,
    })
}

impl Snapshot {
    /// How the revision stands.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        if self.aborted {
            Outcome::Aborted
        } else if self.hash == self.stable && self.phase == Some(Phase::Healthy) {
            Outcome::Promoted
        } else {
            Outcome::Progressing
        }
    }

    /// What happened between `before` (of the same revision, if any) and this snapshot.
    #[must_use]
    pub fn events_since(&self, before: Option<&Self>, rollout: &Rollout) -> Vec<String> {
        let mut events = Vec::new();
        let steps = rollout.spec.canary_steps();
        let same = before.filter(|before| before.hash == self.hash);
        if same.is_none() {
            events.push(format!(
                "revision {} ({}) started",
                self.hash,
                self.images.join(", ")
            ));
        }
        let done_before = same.map_or(0, |before| before.step);
        for index in done_before..self.step {
            let described = steps
                .get(index)
                .map_or_else(String::new, CanaryStep::summary);
            events.push(format!(
                "step {}/{} done: {described}",
                index + 1,
                self.steps
            ));
        }
        if self.analysis != same.and_then(|before| before.analysis.clone())
            && let Some((run, phase)) = &self.analysis
        {
            events.push(format!("analysis {run}: {phase}"));
        }
        if self.awaiting_approval && !same.is_some_and(|before| before.awaiting_approval) {
            events.push("paused: waiting for approval".to_owned());
        }
        let outcome = self.outcome();
        if outcome != same.map_or(Outcome::Progressing, Self::outcome) {
            match outcome {
                Outcome::Promoted => events.push("promoted".to_owned()),
                Outcome::Aborted => events.push(format!("aborted: {}", self.message)),
                Outcome::Progressing | Outcome::Superseded => {}
            }
        }
        events
    }

    /// The commit status for `context` that describes this snapshot.
    #[must_use]
    pub fn commit_status(&self, context: &str) -> CommitStatus {
        let (state, description) = match self.outcome() {
            Outcome::Promoted if self.steps > 0 => (
                StatusState::Success,
                format!("promoted to 100% after {} steps", self.steps),
            ),
            Outcome::Promoted => (StatusState::Success, "promoted".to_owned()),
            Outcome::Aborted => (StatusState::Failure, format!("aborted: {}", self.message)),
            Outcome::Superseded => (
                StatusState::Failure,
                "superseded by a newer revision".to_owned(),
            ),
            Outcome::Progressing if self.awaiting_approval => (
                StatusState::Pending,
                format!("{}: waiting for approval", self.position()),
            ),
            Outcome::Progressing => (StatusState::Pending, self.position()),
        };
        CommitStatus {
            state,
            context: context.to_owned(),
            description,
        }
    }

    /// "step 2/5: weight 40%" for a canary, "blue-green: preview" otherwise.
    fn position(&self) -> String {
        if self.steps > 0 {
            format!(
                "step {}/{}: weight {}%",
                (self.step + 1).min(self.steps),
                self.steps,
                self.weight
            )
        } else {
            "blue-green: preview".to_owned()
        }
    }
}

/// The context of a Rollout's commit status: `tidegate/<namespace>/<name>`.
#[must_use]
pub fn status_context(rollout: &Rollout) -> String {
    format!(
        "tidegate/{}/{}",
        rollout.namespace().unwrap_or_default(),
        rollout.name_any()
    )
}

/// The verdicts of a revision's analysis runs, oldest first, with each metric's last values.
#[must_use]
pub fn verdicts(runs: &[AnalysisRun]) -> Vec<AnalysisVerdict> {
    let mut runs: Vec<&AnalysisRun> = runs.iter().collect();
    runs.sort_by_key(|run| (run.metadata.creation_timestamp.clone(), run.name_any()));
    runs.into_iter()
        .map(|run| {
            let status = run.status.clone().unwrap_or_default();
            AnalysisVerdict {
                run: run.name_any(),
                step: run
                    .labels()
                    .get(labels::STEP_INDEX)
                    .and_then(|index| index.parse::<usize>().ok())
                    .map(|index| index + 1),
                phase: status.phase.to_string(),
                metrics: status
                    .metric_results
                    .iter()
                    .map(|metric| MetricVerdict {
                        name: metric.name.clone(),
                        phase: metric.phase.to_string(),
                        values: metric
                            .measurements
                            .iter()
                            .rev()
                            .take(3)
                            .rev()
                            .map(|measurement| measurement.value.clone())
                            .filter(|value| !value.is_empty())
                            .collect(),
                        message: metric.message.clone(),
                    })
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(status: &str) -> Rollout {
        serde_json::from_str(&format!(
            r#"{{"apiVersion": "tidegate.dev/v1alpha1", "kind": "Rollout",
                "metadata": {{"name": "web", "namespace": "shop", "generation": 2}},
                "spec": {{"selector": {{"matchLabels": {{"app": "web"}}}},
                         "template": {{"metadata": {{"labels": {{"app": "web"}}}},
                                      "spec": {{"containers": [{{"name": "web", "image": "web:2"}}]}}}},
                         "strategy": {{"canary": {{"steps": [{{"setWeight": 40}}, {{"pause": {{}}}}, {{"setWeight": 80}}]}}}}}},
                "status": {status}}}"#
        ))
        .expect("a valid Rollout")
    }

    fn status(step: i32, extra: &str) -> String {
        format!(
            r#"{{"observedGeneration": "2", "currentPodHash": "new", "stableRS": "old", "currentStepIndex": {step},
                "phase": "Paused", "canary": {{"weights": {{"canary": {{"weight": 40, "podTemplateHash": "new"}},
                "stable": {{"weight": 60, "podTemplateHash": "old"}}}}}}{extra}}}"#
        )
    }

    #[test]
    fn a_pause_without_duration_waits_for_approval() {
        let paused = rollout(&status(
            1,
            r#", "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-11-26T10:00:00Z"}]"#,
        ));
        let before = snapshot(&rollout(&status(0, ""))).expect("observed");
        let now = snapshot(&paused).expect("observed");
        assert!(now.awaiting_approval);
        assert_eq!(now.outcome(), Outcome::Progressing);
        let status = now.commit_status("tidegate/shop/web");
        assert_eq!(status.state, StatusState::Pending);
        assert_eq!(
            status.description,
            "step 2/3: weight 40%: waiting for approval"
        );
        assert_eq!(
            now.events_since(Some(&before), &paused),
            [
                "step 1/3 done: setWeight: 40",
                "paused: waiting for approval"
            ]
        );
    }

    #[test]
    fn an_unobserved_spec_has_no_snapshot() {
        let stale = rollout(&status(0, "").replace(
            r#""observedGeneration": "2""#,
            r#""observedGeneration": "1""#,
        ));
        assert_eq!(snapshot(&stale), None);
    }

    #[test]
    fn an_abort_after_failed_analysis_is_told_apart_from_a_person_aborting() {
        let run = |phase: &str| {
            format!(
                r#"{{"observedGeneration": "2", "currentPodHash": "new", "stableRS": "old",
                    "currentStepIndex": 2, "phase": "Degraded", "abort": true,
                    "message": "RolloutAborted: metric error-rate failed",
                    "canary": {{"currentStepAnalysisRunStatus": {{"name": "web-new-2", "status": "{phase}"}}}}}}"#
            )
        };
        let failed = snapshot(&rollout(&run("Failed"))).expect("observed");
        assert!(failed.analysis_failed);
        assert_eq!(failed.outcome(), Outcome::Aborted);
        assert_eq!(
            failed.commit_status("c").description,
            "aborted: RolloutAborted: metric error-rate failed"
        );
        let by_hand = snapshot(&rollout(&run("Successful"))).expect("observed");
        assert!(
            !by_hand.analysis_failed,
            "a person aborted: nothing to revert"
        );
    }
}
