//! A Rollout's status on the wire and the engine's [`RolloutState`], converted both ways. The
//! engine owns the status: what it does not track (Argo-only fields, unknown condition types)
//! is not carried over.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{
    BlueGreenStatus, CanaryStatus, PauseCondition as WirePause, RolloutAnalysisRunStatus,
    RolloutCondition, RolloutStatus, TrafficWeights, WeightDestination,
};
use crate::model::{
    AdditionalDestination, AnalysisRunState, Condition, ConditionKind, ConditionStatus,
    PauseCondition, PingPongSide, PodCounts, RolloutState, TrafficStatus,
};

impl RolloutStatus {
    /// The engine's view of this status.
    #[must_use]
    pub fn to_state(&self) -> RolloutState {
        let canary = self.canary.as_ref();
        let blue_green = self.blue_green.as_ref();
        RolloutState {
            observed_generation: self.observed_generation.parse().ok(),
            current_pod_hash: non_empty(&self.current_pod_hash),
            current_step_hash: non_empty(&self.current_step_hash),
            current_step_index: self
                .current_step_index
                .and_then(|index| usize::try_from(index).ok()),
            stable_hash: non_empty(&self.stable_rs),
            abort: self.abort,
            aborted_at: self.aborted_at.as_ref().map(|time| time.0),
            promote_full: self.promote_full,
            controller_pause: self.controller_pause,
            pause_conditions: self
                .pause_conditions
                .iter()
                .map(|pause| PauseCondition {
                    reason: pause.reason,
                    start: pause.start_time.0,
                })
                .collect(),
            step_analysis: canary
                .and_then(|canary| canary.current_step_analysis_run_status.as_ref())
                .map(run_from_wire),
            background_analysis: canary
                .and_then(|canary| canary.current_background_analysis_run_status.as_ref())
                .map(run_from_wire),
            step_experiment: canary
                .map(|canary| canary.current_experiment.clone())
                .filter(|name| !name.is_empty()),
            pre_promotion_analysis: blue_green
                .and_then(|blue_green| blue_green.pre_promotion_analysis_run_status.as_ref())
                .map(run_from_wire),
            post_promotion_analysis: blue_green
                .and_then(|blue_green| blue_green.post_promotion_analysis_run_status.as_ref())
                .map(run_from_wire),
            collision_count: self.collision_count,
            conditions: self
                .conditions
                .iter()
                .filter_map(condition_from_wire)
                .collect(),
            phase: self.phase,
            message: self.message.clone(),
            counts: PodCounts {
                replicas: self.replicas,
                updated: self.updated_replicas,
                ready: self.ready_replicas,
                available: self.available_replicas,
            },
            weight: canary
                .and_then(|canary| canary.weights.as_ref())
                .map_or(0, |weights| weights.canary.weight),
            traffic: canary
                .and_then(|canary| canary.weights.as_ref())
                .and_then(traffic_from_wire),
            stable_ping_pong: canary.and_then(|canary| match canary.stable_ping_pong.as_str() {
                "ping" => Some(PingPongSide::Ping),
                "pong" => Some(PingPongSide::Pong),
                _ => None,
            }),
            restarted_at: self.restarted_at.as_ref().map(|time| time.0),
            preview_checkpoint: blue_green
                .is_some_and(|blue_green| blue_green.scale_up_preview_check_point),
        }
    }

    /// The status that records `state`. `selector` is the Rollout's label selector in string
    /// form, which the scale subresource (and so an HPA) needs.
    #[must_use]
    pub fn from_state(state: &RolloutState, selector: &str) -> Self {
        let weights = state.traffic.as_ref().map_or_else(
            || TrafficWeights {
                canary: WeightDestination {
                    weight: state.weight,
                    pod_template_hash: state.current_pod_hash.clone().unwrap_or_default(),
                    ..WeightDestination::default()
                },
                stable: WeightDestination {
                    weight: 100 - state.weight,
                    pod_template_hash: state.stable_hash.clone().unwrap_or_default(),
                    ..WeightDestination::default()
                },
                ..TrafficWeights::default()
            },
            traffic_to_wire,
        );
        let canary = CanaryStatus {
            current_step_analysis_run_status: state.step_analysis.as_ref().map(run_to_wire),
            current_experiment: state.step_experiment.clone().unwrap_or_default(),
            current_background_analysis_run_status: state
                .background_analysis
                .as_ref()
                .map(run_to_wire),
            weights: Some(weights),
            stable_ping_pong: match state.stable_ping_pong {
                Some(PingPongSide::Ping) => "ping".to_owned(),
                Some(PingPongSide::Pong) => "pong".to_owned(),
                None => String::new(),
            },
        };
        let blue_green = BlueGreenStatus {
            scale_up_preview_check_point: state.preview_checkpoint,
            pre_promotion_analysis_run_status: state
                .pre_promotion_analysis
                .as_ref()
                .map(run_to_wire),
            post_promotion_analysis_run_status: state
                .post_promotion_analysis
                .as_ref()
                .map(run_to_wire),
            ..BlueGreenStatus::default()
        };
        Self {
            abort: state.abort,
            pause_conditions: state
                .pause_conditions
                .iter()
                .map(|pause| WirePause {
                    reason: pause.reason,
                    start_time: Time(pause.start),
                })
                .collect(),
            controller_pause: state.controller_pause,
            aborted_at: state.aborted_at.map(Time),
            current_pod_hash: state.current_pod_hash.clone().unwrap_or_default(),
            current_step_hash: state.current_step_hash.clone().unwrap_or_default(),
            replicas: state.counts.replicas,
            updated_replicas: state.counts.updated,
            ready_replicas: state.counts.ready,
            available_replicas: state.counts.available,
            current_step_index: state
                .current_step_index
                .and_then(|index| i32::try_from(index).ok()),
            observed_generation: state
                .observed_generation
                .map(|generation| generation.to_string())
                .unwrap_or_default(),
            conditions: state.conditions.iter().map(condition_to_wire).collect(),
            canary: Some(canary),
            blue_green: (blue_green != BlueGreenStatus::default()).then_some(blue_green),
            collision_count: state.collision_count,
            hpa_replicas: Some(state.counts.available),
            selector: selector.to_owned(),
            stable_rs: state.stable_hash.clone().unwrap_or_default(),
            promote_full: state.promote_full,
            restarted_at: state.restarted_at.map(Time),
            phase: state.phase,
            message: state.message.clone(),
            ..Self::default()
        }
    }

    /// This status with the engine's fields replaced by `state`'s, and what only the
    /// controller keeps (the events waiting to be published, the blue-green selectors) kept.
    #[must_use]
    pub fn with_state(&self, state: &RolloutState, selector: &str) -> Self {
        let mut next = Self {
            pending_events: self.pending_events.clone(),
            event_sequence: self.event_sequence,
            ..Self::from_state(state, selector)
        };
        if let Some(blue_green) = &self.blue_green {
            let written = next.blue_green.get_or_insert_with(BlueGreenStatus::default);
            written
                .active_selector
                .clone_from(&blue_green.active_selector);
            written
                .preview_selector
                .clone_from(&blue_green.preview_selector);
        }
        next
    }

    /// Records which revisions the active and preview Services select
    /// (`status.blueGreen.activeSelector`/`previewSelector`, as Argo writes them).
    #[must_use]
    pub fn with_blue_green_selectors(
        mut self,
        active: Option<&str>,
        preview: Option<&str>,
    ) -> Self {
        let blue_green = self.blue_green.get_or_insert_with(BlueGreenStatus::default);
        active
            .unwrap_or_default()
            .clone_into(&mut blue_green.active_selector);
        preview
            .unwrap_or_default()
            .clone_into(&mut blue_green.preview_selector);
        self
    }
}

/// The split routers were asked for: only a routed canary records whether it was verified
/// (a canary without routers records its replica weight alone).
fn traffic_from_wire(weights: &TrafficWeights) -> Option<TrafficStatus> {
    let verified = weights.verified?;
    Some(TrafficStatus {
        canary_weight: weights.canary.weight,
        canary_hash: weights.canary.pod_template_hash.clone(),
        canary_service: weights.canary.service_name.clone(),
        stable_weight: weights.stable.weight,
        stable_hash: weights.stable.pod_template_hash.clone(),
        stable_service: weights.stable.service_name.clone(),
        additional: weights
            .additional
            .iter()
            .map(|dest| AdditionalDestination {
                service: dest.service_name.clone(),
                hash: dest.pod_template_hash.clone(),
                weight: dest.weight,
            })
            .collect(),
        verified,
    })
}

fn traffic_to_wire(traffic: &TrafficStatus) -> TrafficWeights {
    TrafficWeights {
        canary: WeightDestination {
            weight: traffic.canary_weight,
            service_name: traffic.canary_service.clone(),
            pod_template_hash: traffic.canary_hash.clone(),
        },
        stable: WeightDestination {
            weight: traffic.stable_weight,
            service_name: traffic.stable_service.clone(),
            pod_template_hash: traffic.stable_hash.clone(),
        },
        additional: traffic
            .additional
            .iter()
            .map(|dest| WeightDestination {
                weight: dest.weight,
                service_name: dest.service.clone(),
                pod_template_hash: dest.hash.clone(),
            })
            .collect(),
        verified: Some(traffic.verified),
    }
}

fn run_from_wire(run: &RolloutAnalysisRunStatus) -> AnalysisRunState {
    AnalysisRunState {
        name: run.name.clone(),
        phase: run.status,
        message: run.message.clone(),
        ..AnalysisRunState::default()
    }
}

fn run_to_wire(run: &AnalysisRunState) -> RolloutAnalysisRunStatus {
    RolloutAnalysisRunStatus {
        name: run.name.clone(),
        status: run.phase,
        message: run.message.clone(),
    }
}

fn condition_from_wire(condition: &RolloutCondition) -> Option<Condition> {
    let kind = match condition.kind.as_str() {
        "Available" => ConditionKind::Available,
        "Progressing" => ConditionKind::Progressing,
        "Paused" => ConditionKind::Paused,
        "Healthy" => ConditionKind::Healthy,
        "Completed" => ConditionKind::Completed,
        "InvalidSpec" => ConditionKind::InvalidSpec,
        _ => return None,
    };
    let status = match condition.status.as_str() {
        "True" => ConditionStatus::True,
        "False" => ConditionStatus::False,
        _ => ConditionStatus::Unknown,
    };
    Some(Condition {
        kind,
        status,
        reason: condition.reason.clone(),
        message: condition.message.clone(),
        last_update: condition.last_update_time.0,
        last_transition: condition.last_transition_time.0,
    })
}

fn condition_to_wire(condition: &Condition) -> RolloutCondition {
    RolloutCondition {
        kind: condition.kind.to_string(),
        status: condition.status.to_string(),
        last_update_time: Time(condition.last_update),
        last_transition_time: Time(condition.last_transition),
        reason: condition.reason.clone(),
        message: condition.message.clone(),
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use serde_json::json;

    use super::*;
    use crate::model::{AnalysisPhase, PauseReason, Phase};

    fn state() -> RolloutState {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        RolloutState {
            observed_generation: Some(3),
            current_pod_hash: Some("6c9f8".into()),
            current_step_hash: Some("5d7b4".into()),
            current_step_index: Some(2),
            stable_hash: Some("7f6b5".into()),
            abort: false,
            aborted_at: None,
            promote_full: false,
            controller_pause: true,
            pause_conditions: vec![PauseCondition {
                reason: PauseReason::CanaryPauseStep,
                start: now,
            }],
            step_analysis: Some(AnalysisRunState {
                name: "web-6c9f8-2-1".into(),
                phase: AnalysisPhase::Successful,
                message: String::new(),
                ..AnalysisRunState::default()
            }),
            step_experiment: Some("web-6c9f8-2-3".into()),
            conditions: vec![Condition {
                kind: ConditionKind::Progressing,
                status: ConditionStatus::Unknown,
                reason: "RolloutPaused".into(),
                message: "Rollout is paused".into(),
                last_update: now,
                last_transition: now,
            }],
            phase: Some(Phase::Paused),
            message: "CanaryPauseStep".into(),
            counts: PodCounts {
                replicas: 5,
                updated: 1,
                ready: 5,
                available: 5,
            },
            weight: 20,
            traffic: None,
            stable_ping_pong: Some(PingPongSide::Pong),
            preview_checkpoint: true,
            restarted_at: Some(now),
            background_analysis: Some(AnalysisRunState {
                name: "web-6c9f8-2".into(),
                phase: AnalysisPhase::Running,
                ..AnalysisRunState::default()
            }),
            pre_promotion_analysis: Some(AnalysisRunState {
                name: "web-6c9f8-2-pre".into(),
                phase: AnalysisPhase::Successful,
                ..AnalysisRunState::default()
            }),
            post_promotion_analysis: Some(AnalysisRunState {
                name: "web-6c9f8-2-post".into(),
                phase: AnalysisPhase::Inconclusive,
                message: "inconclusive (1) > inconclusiveLimit (0)".into(),
                ..AnalysisRunState::default()
            }),
            collision_count: Some(1),
        }
    }

    #[test]
    fn state_round_trips_through_the_wire_status() {
        let state = state();
        let status = RolloutStatus::from_state(&state, "app=web");
        assert_eq!(status.to_state(), state);
    }

    /// A person's action (`act`) rewrites the status from a state: the selectors the
    /// controller wrote must survive it, or Argo CD would read a blue-green as switched back.
    #[test]
    fn blue_green_selectors_are_written_and_kept_by_a_later_state() {
        let status = RolloutStatus::from_state(&state(), "app=web")
            .with_blue_green_selectors(Some("aaa"), Some("bbb"));
        let written = status.blue_green.as_ref().unwrap();
        assert_eq!(
            (
                written.active_selector.as_str(),
                written.preview_selector.as_str()
            ),
            ("aaa", "bbb")
        );
        let mut promoted = state();
        promoted.promote_full = true;
        let after = status.with_state(&promoted, "app=web");
        let kept = after.blue_green.as_ref().unwrap();
        assert_eq!(
            (
                kept.active_selector.as_str(),
                kept.preview_selector.as_str()
            ),
            ("aaa", "bbb")
        );
        assert!(after.promote_full);
        let cleared = after.with_blue_green_selectors(None, Some("bbb"));
        assert_eq!(cleared.blue_green.unwrap().active_selector, "");
    }

    #[test]
    fn a_routed_split_round_trips_with_its_services_and_verification() {
        let mut state = state();
        state.traffic = Some(TrafficStatus {
            canary_weight: 20,
            canary_hash: "6c9f8".into(),
            canary_service: "web-canary".into(),
            stable_weight: 80,
            stable_hash: "7f6b5".into(),
            stable_service: "web-stable".into(),
            additional: vec![AdditionalDestination {
                service: "web-exp-canary".into(),
                hash: "6c9f8".into(),
                weight: 10,
            }],
            verified: false,
        });
        let status = RolloutStatus::from_state(&state, "app=web");
        let weights = serde_json::to_value(&status).unwrap()["canary"]["weights"].clone();
        assert_eq!(weights["canary"]["serviceName"], "web-canary");
        assert_eq!(weights["stable"]["weight"], 80);
        assert_eq!(
            weights["additional"],
            json!([{"weight": 10, "serviceName": "web-exp-canary", "podTemplateHash": "6c9f8"}])
        );
        assert_eq!(weights["verified"], false);
        assert_eq!(status.to_state(), state);
    }

    #[test]
    fn wire_status_carries_argo_field_values() {
        let status = serde_json::to_value(RolloutStatus::from_state(&state(), "app=web")).unwrap();
        assert_eq!(status["stableRS"], "7f6b5");
        assert_eq!(status["currentStepIndex"], 2);
        assert_eq!(status["observedGeneration"], "3");
        assert_eq!(status["pauseConditions"][0]["reason"], "CanaryPauseStep");
        assert_eq!(
            status["pauseConditions"][0]["startTime"],
            "2027-01-15T08:00:00Z"
        );
        assert_eq!(status["conditions"][0]["type"], "Progressing");
        assert_eq!(status["canary"]["weights"]["canary"]["weight"], 20);
        assert_eq!(
            status["canary"]["currentStepAnalysisRunStatus"]["status"],
            "Successful"
        );
        assert_eq!(status["selector"], "app=web");
        assert_eq!(status["phase"], "Paused");
    }

    #[test]
    fn unknown_condition_types_are_dropped() {
        let mut status = RolloutStatus::from_state(&state(), "app=web");
        status.conditions[0].kind = "ReplicaFailure".into();
        assert!(status.to_state().conditions.is_empty());
    }
}
