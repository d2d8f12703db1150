//! A canary whose traffic is split by routers (ARGO-SEMANTICS §1.5, §2.6–2.7): the weight the
//! routers carry, the managed header and mirror routes in place, and what happens to the pods
//! around them. The routers' weight moves to a step's weight only once the pods for it are
//! there, and it is read back before the step completes: a weight is verified, never assumed.
//! An abort sends all traffic to the stable first; the canary keeps its pods until the stable
//! serves again and the routers were seen to send the canary nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Canary;
use crate::engine::effect::{Effect, Event};
use crate::engine::replicas::Targets;
use crate::model::{
    AdditionalDestination, AnalysisPhase, HeaderRoute, MirrorRoute, ReplicaSetView, Step,
    TrafficIntent, TrafficPlan, TrafficStatus,
};

/// How soon to look again while routers have not yet been seen to carry what they were asked.
const ROUTER_RECHECK: Duration = Duration::from_secs(5);
/// How often routers that send a canary traffic are read again, so that a change made to
/// their objects by anyone else is seen and undone within this time.
const ROUTER_WATCH: Duration = Duration::from_secs(30);

impl Canary<'_> {
    /// Scales a routed canary's new and old ReplicaSets (the stable was handled before).
    pub(super) fn scale_routed(
        &mut self,
        new: &ReplicaSetView,
        targets: Targets,
        traffic: &TrafficPlan,
    ) -> bool {
        // With dynamicStableScale and no explicit delay, the canary follows its weight down.
        let held = !traffic.dynamic_stable_scale || traffic.abort_scale_down_delay_given;
        if self.next.abort && held {
            return self.drain_aborted_canary(new, traffic);
        }
        if new.scale_down_deadline.is_some() {
            // A revision returned to while it waited to be scaled down: it is live again.
            self.effects.push(Effect::SetScaleDownDeadline {
                name: new.name.clone(),
                deadline: None,
            });
        }
        if new.spec != targets.new {
            self.scale_to(new, targets.new);
            return true;
        }
        self.scale_down_others_routed(traffic)
    }

    /// After an abort the canary keeps its pods until the stable has all of its own available
    /// and the routers were seen to send the canary nothing; then it goes after
    /// `abortScaleDownDelaySeconds` (never, when that is 0).
    fn drain_aborted_canary(&mut self, new: &ReplicaSetView, traffic: &TrafficPlan) -> bool {
        let stable_ready = self
            .stable_replica_set()
            .is_none_or(|rs| rs.available >= self.plan.replicas);
        if new.spec == 0 || !stable_ready || !self.routers_carry_now(new) {
            return false;
        }
        self.pass
            .scale_down_after(new, traffic.abort_scale_down_delay)
    }

    /// Old revisions: while an update is in progress an intermediate revision goes at once
    /// (once no Service or router sends it traffic); after a promotion the previous stable
    /// keeps its pods for `scaleDownDelaySeconds` (with `dynamicStableScale` it has followed
    /// the traffic down already and goes at once).
    fn scale_down_others_routed(&mut self, traffic: &TrafficPlan) -> bool {
        let promoted = self.is_stable_current();
        let dynamic = traffic.dynamic_stable_scale;
        let at_once = self.other_replica_sets().into_iter().find(|rs| {
            rs.spec > 0
                && !self.referenced(rs)
                && (dynamic || (!promoted && rs.scale_down_deadline.is_none()))
        });
        if let Some(rs) = at_once {
            self.scale_to(rs, 0);
            return true;
        }
        if dynamic {
            return false;
        }
        let waiting: Vec<String> = self
            .other_replica_sets()
            .into_iter()
            .filter(|rs| self.referenced(rs) || (!promoted && rs.scale_down_deadline.is_none()))
            .map(|rs| rs.name.clone())
            .collect();
        self.pass.scale_down_old_after(
            traffic.scale_down_delay,
            traffic.scale_down_delay_revision_limit,
            |rs| waiting.contains(&rs.name),
        )
    }

    /// Whether a Service the canary names still selects `rs`, or a router still routes to it.
    fn referenced(&self, rs: &ReplicaSetView) -> bool {
        let ping_pong = self.ping_pong_roles();
        let services = [
            self.canary.canary_service.as_ref(),
            self.canary.stable_service.as_ref(),
            ping_pong.as_ref().map(|(stable, _)| stable),
            ping_pong.as_ref().map(|(_, canary)| canary),
        ];
        let pinned = services.into_iter().flatten().any(|service| {
            self.observed
                .services
                .get(service)
                .and_then(Option::as_deref)
                == Some(&rs.hash)
        });
        let routed = self.observed.traffic.iter().any(|reading| {
            reading.state.as_ref().is_ok_and(|state| {
                state
                    .hashes
                    .as_ref()
                    .is_some_and(|(canary, stable)| *canary == rs.hash || *stable == rs.hash)
            })
        });
        pinned || routed
    }

    /// The weight the routers are to carry (Argo's `reconcileTrafficRouting`): nothing once
    /// promoted (the stable Service then selects the new pods) or aborted (with
    /// `dynamicStableScale`, only as much as the stable cannot take yet), nothing while the
    /// canary has no available pod, the split it had while a full promotion finishes; and
    /// during the steps the current step's weight once its pods are there, the previous
    /// step's until then.
    fn router_weight(&self, new: &ReplicaSetView, traffic: &TrafficPlan) -> i32 {
        let full = traffic.max_weight;
        let replicas = self.plan.replicas.max(1);
        let recorded = self
            .previous
            .traffic
            .as_ref()
            .map(|recorded| recorded.canary_weight);
        if self.is_stable_current() {
            return 0;
        }
        if self.next.abort {
            if !traffic.dynamic_stable_scale {
                return 0;
            }
            let stable_available = self.stable_replica_set().map_or(0, |rs| rs.available);
            let stable_share = share(full, stable_available.min(replicas), replicas);
            let weight = full - stable_share;
            return recorded
                .map_or(weight, |recorded| weight.min(recorded))
                .max(0);
        }
        if new.available == 0 {
            return 0;
        }
        if self.next.promote_full {
            if traffic.dynamic_stable_scale {
                return share(full, new.available.min(replicas), replicas);
            }
            return recorded.unwrap_or(0);
        }
        if self.step_count() == 0 {
            return 0;
        }
        let index = self.index();
        let targets = self.compute_targets(new);
        if !self.at_desired_counts(new, targets) {
            return self.set_weight_up_to(index).unwrap_or(0);
        }
        if index >= self.step_count() {
            return full;
        }
        self.set_weight_up_to(index + 1).unwrap_or(0)
    }

    /// The managed routes in place: every `setHeaderRoute` and `setMirrorRoute` up to the
    /// current step, the last of each name winning (one without matches removes it); none
    /// once the update is promoted, aborted or promoting. In `managedRoutes` order.
    fn desired_routes(&self, traffic: &TrafficPlan) -> (Vec<HeaderRoute>, Vec<MirrorRoute>) {
        if self.is_stable_current() || self.next.abort || self.next.promote_full {
            return (Vec::new(), Vec::new());
        }
        let reached = (self.index() + 1).min(self.step_count());
        let mut headers: BTreeMap<&str, &HeaderRoute> = BTreeMap::new();
        let mut mirrors: BTreeMap<&str, &MirrorRoute> = BTreeMap::new();
        for step in self.canary.steps[..reached].iter().flat_map(Step::parts) {
            match step {
                Step::SetHeaderRoute(route) if route.matches.is_empty() => {
                    headers.remove(route.name.as_str());
                }
                Step::SetHeaderRoute(route) => {
                    headers.insert(&route.name, route);
                }
                Step::SetMirrorRoute(route) if route.matches.is_empty() => {
                    mirrors.remove(route.name.as_str());
                }
                Step::SetMirrorRoute(route) => {
                    mirrors.insert(&route.name, route);
                }
                _ => {}
            }
        }
        let header_routes = traffic
            .managed_routes
            .iter()
            .map(String::as_str)
            .filter_map(|name| headers.get(name).map(|route| (*route).clone()))
            .collect();
        let mirror_routes = traffic
            .managed_routes
            .iter()
            .map(String::as_str)
            .filter_map(|name| mirrors.get(name).map(|route| (*route).clone()))
            .collect();
        (header_routes, mirror_routes)
    }

    /// What the routers are to carry now.
    fn intent(&self, new: &ReplicaSetView) -> Option<TrafficIntent> {
        let traffic = self.canary.traffic.as_ref()?;
        let (header_routes, mirror_routes) = self.desired_routes(traffic);
        let stable_hash = self
            .next
            .stable_hash
            .clone()
            .unwrap_or_else(|| new.hash.clone());
        Some(TrafficIntent {
            rollout: self.observed.name.to_owned(),
            canary_weight: self.router_weight(new, traffic),
            max_weight: traffic.max_weight,
            canary_service: self
                .canary
                .canary_service
                .clone()
                .or_else(|| self.ping_pong_roles().map(|(_, canary)| canary))
                .unwrap_or_default(),
            stable_service: self
                .canary
                .stable_service
                .clone()
                .or_else(|| self.ping_pong_roles().map(|(stable, _)| stable))
                .unwrap_or_default(),
            canary_hash: new.hash.clone(),
            stable_hash,
            header_routes,
            mirror_routes,
            managed_routes: traffic.managed_routes.clone(),
            additional: self.experiment_destinations(),
        })
    }

    /// The Services of the current experiment step's weighted templates, while its
    /// Experiment runs (Argo's `calculateWeightDestinationsFromExperiment`); none once the
    /// step is left, the Experiment stops running or is terminated, or the update is
    /// promoted, aborted or promoting (each of which clears the step's Experiment record
    /// before the routers are asked for anything).
    fn experiment_destinations(&self) -> Vec<AdditionalDestination> {
        let Some(step) = self.canary.steps.get(self.index()) else {
            return Vec::new();
        };
        let Some(plan) = step.parts().iter().find_map(|part| match part {
            Step::Experiment(plan) => Some(plan),
            _ => None,
        }) else {
            return Vec::new();
        };
        let running = self.next.step_experiment.as_deref().and_then(|name| {
            self.observed.experiments.iter().find(|experiment| {
                experiment.name == name
                    && experiment.phase == Some(AnalysisPhase::Running)
                    && !experiment.terminated
            })
        });
        let Some(experiment) = running else {
            return Vec::new();
        };
        plan.weights
            .iter()
            .filter_map(|weighted| {
                let template = experiment
                    .templates
                    .iter()
                    .find(|template| template.name == weighted.template)?;
                // No Service yet: nothing to send traffic to.
                (!template.service.is_empty()).then(|| AdditionalDestination {
                    service: template.service.clone(),
                    hash: template.hash.clone(),
                    weight: weighted.weight,
                })
            })
            .collect()
    }

    /// Whether every router object was read back carrying what the routers are to carry now
    /// (always, for a canary without routers).
    pub(super) fn routers_carry_now(&self, new: &ReplicaSetView) -> bool {
        self.intent(new).is_none_or(|intent| self.carried(&intent))
    }

    fn carried(&self, intent: &TrafficIntent) -> bool {
        !self.observed.traffic.is_empty()
            && self
                .observed
                .traffic
                .iter()
                .all(|reading| reading.carries(intent))
    }

    /// Asks the routers for the split and routes of this pass unless they were seen carrying
    /// them, and records what was asked and whether it was seen (`status.canary.weights`).
    pub(super) fn route_traffic(&mut self, new: &ReplicaSetView) {
        let Some(intent) = self.intent(new) else {
            self.next.traffic = None;
            return;
        };
        let verified = self.carried(&intent);
        let status = TrafficStatus {
            canary_weight: intent.canary_weight,
            canary_hash: intent.canary_hash.clone(),
            canary_service: intent.canary_service.clone(),
            stable_weight: intent.stable_weight(),
            stable_hash: intent.stable_hash.clone(),
            stable_service: intent.stable_service.clone(),
            additional: intent.additional.clone(),
            verified,
        };
        let previous = self.previous.traffic.as_ref();
        if let Some(message) = weight_update_message(previous, &status) {
            self.effects
                .push(Event::normal("TrafficWeightUpdated", message));
        }
        if previous != Some(&status) {
            self.progressed = true;
        }
        if !verified {
            self.effects.push(Effect::SetTraffic(intent));
            self.requeue_within(ROUTER_RECHECK);
        } else if status.canary_weight > 0
            || !intent.route_names().is_empty()
            || !intent.additional.is_empty()
        {
            self.requeue_within(ROUTER_WATCH);
        }
        self.next.traffic = Some(status);
    }
}

/// `full · part / whole`, rounded down.
fn share(full: i32, part: i32, whole: i32) -> i32 {
    let product = i64::from(full) * i64::from(part);
    i32::try_from(product / i64::from(whole.max(1))).unwrap_or(full)
}

/// Argo's `TrafficWeightUpdated` message for a change from `previous` to `now`
/// (`trafficWeightUpdatedMessage`): the canary's move and the additional destinations when
/// they changed, each as Argo prints them (`{weight service hash}`); `None` when neither did.
fn weight_update_message(previous: Option<&TrafficStatus>, now: &TrafficStatus) -> Option<String> {
    let mut details = Vec::new();
    match previous {
        None => details.push(format!("to {}", now.canary_weight)),
        Some(previous) if previous.canary_weight != now.canary_weight => details.push(format!(
            "from {} to {}",
            previous.canary_weight, now.canary_weight
        )),
        Some(_) => {}
    }
    if previous.is_some_and(|previous| previous.additional != now.additional) {
        let additional: Vec<String> = now
            .additional
            .iter()
            .map(|dest| format!("{{{} {} {}}}", dest.weight, dest.service, dest.hash))
            .collect();
        details.push(format!("additional: [{}]", additional.join(" ")));
    }
    (!details.is_empty()).then(|| format!("Traffic weight updated {}", details.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AdditionalDestination;

    fn split(canary: i32, experiments: &[(&str, i32)]) -> TrafficStatus {
        TrafficStatus {
            canary_weight: canary,
            additional: experiments
                .iter()
                .map(|(service, weight)| AdditionalDestination {
                    service: (*service).to_owned(),
                    hash: "e1".into(),
                    weight: *weight,
                })
                .collect(),
            ..TrafficStatus::default()
        }
    }

    #[test]
    fn weight_updates_are_announced_as_argo_words_them() {
        let message = |previous: Option<&TrafficStatus>, now: &TrafficStatus| {
            weight_update_message(previous, now)
        };
        assert_eq!(
            message(None, &split(20, &[("exp", 10)])).as_deref(),
            Some("Traffic weight updated to 20"),
            "the first split: the canary's weight only, as Argo"
        );
        assert_eq!(
            message(Some(&split(20, &[])), &split(30, &[])).as_deref(),
            Some("Traffic weight updated from 20 to 30")
        );
        assert_eq!(
            message(Some(&split(20, &[])), &split(20, &[("exp", 10)])).as_deref(),
            Some("Traffic weight updated additional: [{10 exp e1}]")
        );
        assert_eq!(
            message(Some(&split(20, &[("exp", 10)])), &split(30, &[])).as_deref(),
            Some("Traffic weight updated from 20 to 30, additional: []")
        );
        assert_eq!(
            message(Some(&split(20, &[("exp", 10)])), &split(20, &[("exp", 10)])),
            None
        );
    }
}
