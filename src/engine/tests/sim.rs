//! A simulated cluster around the engine: it applies effects the way the executor and the
//! Kubernetes controllers would (ReplicaSets scale, pods become available, Services switch,
//! AnalysisRuns appear) and runs reconciles until nothing changes.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use proptest::prelude::{Just, Strategy, prop_oneof};
use proptest::test_runner::TestCaseError;

use crate::engine::{AnalysisKind, Decision, Effect, Event, Observation, reconcile};
use crate::model::{
    Amount, AnalysisPhase, AnalysisPlan, AnalysisRunState, BlueGreenPlan, CanaryPlan,
    ExperimentPlan, ExperimentState, GatewayApi, GatewayRoute, Phase, PodMetadata, PodView,
    ReplicaSetView, RoleMetadata, RolloutPlan, RolloutState, RouteKind, Router, RouterReading,
    RouterState, Step, Strategy as RolloutStrategy, TemplateRef, TrafficIntent, TrafficPlan,
};

pub const NAME: &str = "web";

/// How an update driven by [`Sim::drive_to_end`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Healthy, the new revision stable.
    Promoted,
    /// Degraded, the old revision still stable.
    Degraded,
}

/// An analysis verdict, for property tests.
pub fn analysis_outcome() -> impl Strategy<Value = AnalysisPhase> {
    prop_oneof![
        Just(AnalysisPhase::Successful),
        Just(AnalysisPhase::Failed),
        Just(AnalysisPhase::Error),
        Just(AnalysisPhase::Inconclusive),
    ]
}

/// `setWeight: weight`.
pub fn weight(weight: i32) -> Step {
    Step::SetWeight(weight)
}

/// `pause: {}` (until promoted).
pub fn pause() -> Step {
    Step::Pause(None)
}

/// `pause: {duration: seconds}`.
pub fn pause_for(seconds: u64) -> Step {
    Step::Pause(Some(Duration::from_secs(seconds)))
}

/// An analysis step with one template.
pub fn analysis() -> Step {
    Step::Analysis(analysis_plan())
}

/// An experiment step.
pub fn experiment() -> Step {
    Step::Experiment(ExperimentPlan {
        analysis_args: Vec::new(),
        weights: Vec::new(),
    })
}

/// An analysis of one template.
pub fn analysis_plan() -> AnalysisPlan {
    AnalysisPlan {
        templates: vec![TemplateRef {
            name: "success-rate".into(),
            cluster_scope: false,
        }],
        args: Vec::new(),
        dry_run: Vec::new(),
        measurement_retention: Vec::new(),
        run_labels: BTreeMap::new(),
        run_annotations: BTreeMap::new(),
    }
}

#[allow(clippy::struct_excessive_bools)] // independent switches of the simulated cluster
pub struct Sim {
    pub plan: RolloutPlan,
    pub state: RolloutState,
    pub replica_sets: Vec<ReplicaSetView>,
    pub services: BTreeMap<String, Option<String>>,
    pub runs: Vec<AnalysisRunState>,
    pub pod_hash: String,
    pub steps_hash: String,
    pub now: Timestamp,
    /// Pods of a scaled-up ReplicaSet become available at once.
    pub pods_start: bool,
    pub events: Vec<Event>,
    pub last: Option<Decision>,
    /// Pods, kept only by tests that restart (`with_pods`).
    pub pods: Vec<PodView>,
    pub evicted: Vec<String>,
    /// Names of recorded runs held by objects that are not the Rollout's.
    pub foreign_runs: Vec<String>,
    /// The new ReplicaSet's name is held by one that is not the Rollout's.
    pub replica_set_name_taken: bool,
    /// Every AnalysisRun created, in order, with why.
    pub created_runs: Vec<(String, AnalysisKind)>,
    /// The AnalysisRun controller stopped measuring: runs keep the due time they had.
    pub analysis_stalled: bool,
    /// What the traffic routers' objects carry (routed canaries only).
    pub readings: Vec<RouterReading>,
    /// The routers ignore what they are asked (their objects keep what they carry).
    pub routers_stuck: bool,
    /// Every split the routers were asked for, in order.
    pub traffic_writes: Vec<TrafficIntent>,
    /// The ReplicaSets whose role metadata was written, in order.
    pub metadata_writes: Vec<String>,
    /// The replicas of the Deployment a `workloadRef` names (`None`: not read).
    pub workload_replicas: Option<i32>,
    /// Every replica count the Deployment was given, in order.
    pub workload_writes: Vec<i32>,
    /// The Rollout's Experiments, as the cluster has them.
    pub experiments: Vec<ExperimentState>,
    /// Every Experiment created, in order, with its step and the (stable, canary) hashes.
    pub created_experiments: Vec<(String, usize, String, String)>,
}

impl Sim {
    /// A canary of 5 replicas with the given steps, not yet deployed.
    pub fn canary(steps: Vec<Step>) -> Self {
        let plan = RolloutPlan {
            replicas: 5,
            min_ready_seconds: 0,
            revision_history_limit: 10,
            progress_deadline: Duration::from_secs(600),
            progress_deadline_abort: false,
            paused: false,
            restart_at: None,
            successful_run_history_limit: 5,
            unsuccessful_run_history_limit: 5,
            strategy: RolloutStrategy::Canary(CanaryPlan {
                steps,
                max_surge: Amount::Percent(25),
                max_unavailable: Amount::Percent(25),
                canary_service: Some("web-canary".into()),
                stable_service: Some("web-stable".into()),
                background_analysis: None,
                traffic: None,
                progress_threshold: None,
            }),
            role_metadata: RoleMetadata::default(),
            anti_affinity: None,
            rollback_window: None,
            workload: None,
        };
        let services = [
            ("web-canary".to_owned(), None),
            ("web-stable".to_owned(), None),
        ]
        .into();
        Self {
            plan,
            state: RolloutState::default(),
            replica_sets: Vec::new(),
            services,
            runs: Vec::new(),
            pod_hash: "v1".into(),
            steps_hash: "steps".into(),
            now: Timestamp::from_second(1_800_000_000).expect("a valid time"),
            pods_start: true,
            events: Vec::new(),
            last: None,
            pods: Vec::new(),
            evicted: Vec::new(),
            foreign_runs: Vec::new(),
            replica_set_name_taken: false,
            created_runs: Vec::new(),
            analysis_stalled: false,
            readings: Vec::new(),
            routers_stuck: false,
            traffic_writes: Vec::new(),
            metadata_writes: Vec::new(),
            workload_replicas: None,
            workload_writes: Vec::new(),
            experiments: Vec::new(),
            created_experiments: Vec::new(),
        }
    }

    /// A canary of 5 replicas whose traffic is split by one router (an HTTPRoute), not yet
    /// deployed; its route carries nothing for the canary.
    pub fn routed(steps: Vec<Step>) -> Self {
        let mut sim = Self::canary(steps);
        if let RolloutStrategy::Canary(canary) = &mut sim.plan.strategy {
            canary.traffic = Some(TrafficPlan {
                routers: vec![Router::GatewayApi(GatewayApi {
                    namespace: None,
                    routes: vec![GatewayRoute {
                        kind: RouteKind::Http,
                        name: "web".into(),
                        header_routes: true,
                    }],
                    selectors: Vec::new(),
                    in_progress_label: None,
                })],
                managed_routes: vec!["header".into(), "mirror".into()],
                max_weight: 100,
                dynamic_stable_scale: false,
                scale_down_delay: Duration::from_secs(30),
                scale_down_delay_revision_limit: None,
                abort_scale_down_delay: Some(Duration::from_secs(30)),
                abort_scale_down_delay_given: false,
                min_pods_per_replica_set: None,
                ping_pong: None,
            });
        }
        sim.readings = vec![RouterReading {
            object: "HTTPRoute web".into(),
            state: Ok(RouterState {
                canary_weight: Some(0),
                takes_header_routes: true,
                takes_mirror_routes: true,
                additional: Some(std::collections::BTreeMap::new()),
                ..RouterState::default()
            }),
        }];
        sim
    }

    /// The traffic plan of a routed canary, to configure.
    pub fn traffic(&mut self) -> &mut TrafficPlan {
        match &mut self.plan.strategy {
            RolloutStrategy::Canary(CanaryPlan {
                traffic: Some(traffic),
                ..
            }) => traffic,
            _ => panic!("not a routed canary"),
        }
    }

    /// The canary weight the routers carry.
    pub fn carried_weight(&self) -> Option<i32> {
        self.readings
            .first()
            .and_then(|reading| reading.state.as_ref().ok())
            .and_then(|state| state.canary_weight)
    }

    /// The managed routes the routers carry.
    pub fn carried_routes(&self) -> Vec<String> {
        self.readings
            .first()
            .and_then(|reading| reading.state.as_ref().ok())
            .map(|state| state.routes.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A blue-green Rollout of 3 replicas, not yet deployed.
    pub fn blue_green(configure: impl FnOnce(&mut BlueGreenPlan)) -> Self {
        let mut blue_green = BlueGreenPlan {
            active_service: "web-active".into(),
            preview_service: Some("web-preview".into()),
            preview_replica_count: None,
            auto_promotion_enabled: true,
            auto_promotion_delay: Duration::ZERO,
            max_unavailable: Amount::Percent(25),
            scale_down_delay: Duration::from_secs(30),
            scale_down_delay_revision_limit: None,
            abort_scale_down_delay: Some(Duration::from_secs(30)),
            pre_promotion_analysis: None,
            post_promotion_analysis: None,
        };
        configure(&mut blue_green);
        let mut sim = Self::canary(Vec::new()).replicas(3);
        sim.plan.strategy = RolloutStrategy::BlueGreen(blue_green);
        sim.services = [
            ("web-active".to_owned(), None),
            ("web-preview".to_owned(), None),
        ]
        .into();
        sim
    }

    /// One pod per replica of every ReplicaSet, created now.
    pub fn with_pods(&mut self) {
        self.pods = self
            .replica_sets
            .iter()
            .flat_map(|rs| {
                (0..rs.spec).map(|index| PodView {
                    name: format!("{}-{index}", rs.name),
                    hash: rs.hash.clone(),
                    created: self.now,
                    terminating: false,
                    // As the ReplicaSet's template gives them.
                    metadata: rs.pod_metadata.clone().unwrap_or_default(),
                })
            })
            .collect();
    }

    /// A label of a pod.
    pub fn pod_label(&self, pod: &str, key: &str) -> Option<&str> {
        let pod = self.pods.iter().find(|candidate| candidate.name == pod)?;
        pod.metadata.labels.get(key).map(String::as_str)
    }

    /// The hash a Service's selector pins.
    pub fn selector(&self, service: &str) -> Option<&str> {
        self.services.get(service).and_then(|hash| hash.as_deref())
    }

    pub fn replicas(mut self, replicas: i32) -> Self {
        self.plan.replicas = replicas;
        self
    }

    /// Deploys the first revision and settles: it becomes stable at once.
    pub fn deployed(mut self) -> Self {
        self.settle();
        assert_eq!(
            self.phase(),
            Phase::Healthy,
            "initial deploy: {:#?}",
            self.state
        );
        self
    }

    /// Changes the pod template to a new revision.
    pub fn update_to(&mut self, hash: &str) {
        self.pod_hash = hash.to_owned();
    }

    pub fn advance(&mut self, seconds: i64) {
        self.now = self
            .now
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .expect("time");
    }

    pub fn phase(&self) -> Phase {
        self.state.phase.expect("reconciled at least once")
    }

    pub fn index(&self) -> Option<usize> {
        self.state.current_step_index
    }

    pub fn spec_of(&self, hash: &str) -> i32 {
        self.replica_sets
            .iter()
            .find(|rs| rs.hash == hash)
            .map_or(0, |rs| rs.spec)
    }

    /// The scale-down deadline the ReplicaSet of `hash` carries.
    pub fn deadline_of(&self, hash: &str) -> Option<Timestamp> {
        self.replica_sets
            .iter()
            .find(|rs| rs.hash == hash)
            .and_then(|rs| rs.scale_down_deadline)
    }

    /// (new, stable) replicas as specified.
    pub fn split(&self, new: &str, stable: &str) -> (i32, i32) {
        (self.spec_of(new), self.spec_of(stable))
    }

    pub fn event_reasons(&self) -> Vec<&'static str> {
        self.events.iter().map(|event| event.reason).collect()
    }

    pub fn set_run_phase(&mut self, phase: AnalysisPhase, message: &str) {
        let run = self.runs.last_mut().expect("an analysis run was created");
        run.phase = phase;
        run.message = message.to_owned();
    }

    /// Sets the phase of run `name`.
    pub fn set_phase_of(&mut self, name: &str, phase: AnalysisPhase) {
        let run = self
            .runs
            .iter_mut()
            .find(|run| run.name == name)
            .unwrap_or_else(|| panic!("no run {name} in {:?}", self.created_runs));
        run.phase = phase;
    }

    /// Sets the phase and message of Experiment `name`.
    pub fn set_experiment(&mut self, name: &str, phase: AnalysisPhase, message: &str) {
        let experiment = self
            .experiments
            .iter_mut()
            .find(|experiment| experiment.name == name)
            .unwrap_or_else(|| panic!("no experiment {name} in {:?}", self.created_experiments));
        experiment.phase = Some(phase);
        message.clone_into(&mut experiment.message);
    }

    /// The run named `name`, as the cluster has it.
    pub fn run(&self, name: &str) -> &AnalysisRunState {
        self.runs
            .iter()
            .find(|run| run.name == name)
            .unwrap_or_else(|| panic!("no run {name} in {:?}", self.created_runs))
    }

    /// Names of the runs created, in order.
    pub fn created_names(&self) -> Vec<&str> {
        self.created_runs
            .iter()
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Whether any Event (of this pass or before) has `reason` and a message containing
    /// `part`.
    pub fn has_event(&self, reason: &str, part: &str) -> bool {
        self.events
            .iter()
            .any(|event| event.reason == reason && event.message.contains(part))
    }

    /// Makes every created pod available.
    pub fn pods_become_available(&mut self) {
        for rs in &mut self.replica_sets {
            rs.ready = rs.replicas;
            rs.available = rs.replicas;
        }
    }

    /// One reconcile; its effects are applied to the simulated cluster.
    pub fn reconcile(&mut self) -> Decision {
        if !self.analysis_stalled {
            // A working AnalysisRun controller: every running run measures on time.
            for run in self.runs.iter_mut().filter(|run| !run.phase.is_completed()) {
                run.expected_by = Some(self.now);
            }
        }
        let observation = Observation {
            name: NAME,
            generation: 1,
            pod_hash: &self.pod_hash,
            steps_hash: &self.steps_hash,
            replica_sets: &self.replica_sets,
            services: &self.services,
            analysis_runs: &self.runs,
            foreign_runs: &self.foreign_runs,
            experiments: &self.experiments,
            replica_set_name_taken: self.replica_set_name_taken,
            pods: &self.pods,
            traffic: &self.readings,
            workload_replicas: self.workload_replicas,
        };
        let decision = reconcile(&self.plan, &self.state, &observation, self.now);
        self.state = decision.state.clone();
        for effect in &decision.effects {
            self.apply(effect);
        }
        self.last = Some(decision.clone());
        decision
    }

    fn apply(&mut self, effect: &Effect) {
        match effect {
            Effect::ScaleWorkload { replicas, .. } => {
                self.workload_replicas = Some(*replicas);
                self.workload_writes.push(*replicas);
            }
            Effect::CreateReplicaSet {
                hash,
                revision,
                pod_metadata,
                avoid,
            } => {
                let avoids = avoid.as_ref().map(|avoid| avoid.hash.clone());
                self.create_replica_set(hash, *revision, pod_metadata.clone(), avoids);
            }
            Effect::SetAntiAffinity { name, avoid } => {
                self.replica_set_mut(name).avoids = Some(avoid.hash.clone());
            }
            Effect::SetPodMetadata {
                name,
                previous,
                desired,
                pods,
            } => self.set_pod_metadata(name, previous.as_ref(), desired.as_ref(), pods),
            Effect::ScaleReplicaSet { name, replicas } => {
                let rs = self
                    .replica_sets
                    .iter_mut()
                    .find(|rs| rs.name == *name)
                    .expect("scaled RS exists");
                rs.spec = *replicas;
                rs.replicas = *replicas;
                // Removed pods go at once; added pods are available only when they start.
                rs.ready = rs.ready.min(*replicas);
                rs.available = rs.available.min(*replicas);
                if self.pods_start {
                    rs.ready = *replicas;
                    rs.available = *replicas;
                }
            }
            Effect::DeleteReplicaSet { name } => self.replica_sets.retain(|rs| rs.name != *name),
            Effect::SetScaleDownDeadline { name, deadline } => {
                self.replica_set_mut(name).scale_down_deadline = *deadline;
            }
            Effect::SetServiceSelector { service, hash } => {
                self.services.insert(service.clone(), Some(hash.clone()));
            }
            Effect::CreateAnalysisRun {
                name, hash, kind, ..
            } => {
                assert!(
                    !self.runs.iter().any(|run| run.name == *name),
                    "AnalysisRun {name} created while it exists"
                );
                self.created_runs.push((name.clone(), *kind));
                self.runs.push(AnalysisRunState {
                    name: name.clone(),
                    phase: AnalysisPhase::Running,
                    message: String::new(),
                    hash: hash.clone(),
                    created: Some(self.now),
                    terminated: false,
                    expected_by: Some(self.now),
                });
            }
            Effect::DeleteAnalysisRun { name } => self.runs.retain(|run| run.name != *name),
            Effect::TerminateAnalysisRun { name } => self.terminate_run(name),
            Effect::EvictPod { name } => {
                // The ReplicaSet replaces the pod at once with a new one.
                let pod = self
                    .pods
                    .iter_mut()
                    .find(|pod| pod.name == *name)
                    .expect("evicted pod exists");
                pod.name = format!("{name}-replaced");
                pod.created = self.now;
                self.evicted.push(name.clone());
            }
            Effect::SetTraffic(intent) => {
                self.traffic_writes.push(intent.clone());
                if !self.routers_stuck {
                    for reading in &mut self.readings {
                        reading.state = Ok(RouterState {
                            canary_weight: Some(intent.canary_weight),
                            routes: intent.route_names(),
                            takes_header_routes: true,
                            takes_mirror_routes: true,
                            hashes: None,
                            additional: Some(intent.additional_weights()),
                        });
                    }
                }
            }
            Effect::CreateExperiment { .. }
            | Effect::TerminateExperiment { .. }
            | Effect::DeleteExperiment { .. } => {
                self.apply_to_experiments(effect);
            }
            Effect::Event(event) => self.events.push(event.clone()),
        }
    }

    /// As the AnalysisRun controller does: a terminated run ends Successful (Argo's "Run
    /// Terminated"), marked terminated.
    fn terminate_run(&mut self, name: &str) {
        if let Some(run) = self.runs.iter_mut().find(|run| run.name == name)
            && !run.phase.is_completed()
        {
            run.phase = AnalysisPhase::Successful;
            run.message = "Run Terminated".into();
            run.terminated = true;
            run.expected_by = None;
        }
    }

    /// What the experiment controller and the API do with an experiment effect.
    fn apply_to_experiments(&mut self, effect: &Effect) {
        match effect {
            Effect::CreateExperiment {
                name,
                step,
                stable_hash,
                canary_hash,
            } => {
                self.created_experiments.push((
                    name.clone(),
                    *step,
                    stable_hash.clone(),
                    canary_hash.clone(),
                ));
                // Created again under its recorded name after an interruption: one object.
                if !self
                    .experiments
                    .iter()
                    .any(|experiment| experiment.name == *name)
                {
                    self.experiments.push(ExperimentState {
                        name: name.clone(),
                        phase: None,
                        message: String::new(),
                        hash: canary_hash.clone(),
                        created: Some(self.now),
                        terminated: false,
                        templates: Vec::new(),
                    });
                }
            }
            Effect::DeleteExperiment { name } => {
                self.experiments
                    .retain(|experiment| experiment.name != *name);
            }
            Effect::TerminateExperiment { name } => {
                // As the experiment controller does: a terminated experiment ends
                // Successful unless an analysis failed first.
                if let Some(experiment) = self.experiments.iter_mut().find(|e| e.name == *name) {
                    experiment.terminated = true;
                    if !experiment.phase.is_some_and(AnalysisPhase::is_completed) {
                        experiment.phase = Some(AnalysisPhase::Successful);
                    }
                }
            }
            _ => {}
        }
    }

    fn replica_set_mut(&mut self, name: &str) -> &mut ReplicaSetView {
        self.replica_sets
            .iter_mut()
            .find(|rs| rs.name == name)
            .expect("RS exists")
    }

    fn create_replica_set(
        &mut self,
        hash: &str,
        revision: u64,
        pod_metadata: Option<PodMetadata>,
        avoids: Option<String>,
    ) {
        self.replica_sets.push(ReplicaSetView {
            name: format!("{NAME}-{hash}"),
            hash: hash.to_owned(),
            revision,
            spec: 0,
            replicas: 0,
            ready: 0,
            available: 0,
            scale_down_deadline: None,
            pod_metadata,
            avoids,
        });
    }

    /// As the executor: the listed pods get `desired` and lose what `previous` added that
    /// `desired` lacks; the ReplicaSet records `desired`.
    fn set_pod_metadata(
        &mut self,
        name: &str,
        previous: Option<&PodMetadata>,
        desired: Option<&PodMetadata>,
        pods: &[String],
    ) {
        self.replica_set_mut(name).pod_metadata = desired.cloned();
        let empty = PodMetadata::default();
        let (previous, desired) = (previous.unwrap_or(&empty), desired.unwrap_or(&empty));
        for pod in self.pods.iter_mut().filter(|pod| pods.contains(&pod.name)) {
            let meta = &mut pod.metadata;
            meta.labels.retain(|key, _| {
                !previous.labels.contains_key(key) || desired.labels.contains_key(key)
            });
            meta.annotations.retain(|key, _| {
                !previous.annotations.contains_key(key) || desired.annotations.contains_key(key)
            });
            meta.labels.extend(desired.labels.clone());
            meta.annotations.extend(desired.annotations.clone());
        }
        self.metadata_writes.push(name.to_owned());
    }

    /// Whether any analysis run ended Failed or Error.
    pub fn any_analysis_failed(&self) -> bool {
        let failed = |phase| matches!(phase, AnalysisPhase::Failed | AnalysisPhase::Error);
        self.runs.iter().any(|run| failed(run.phase))
            || self
                .experiments
                .iter()
                .any(|experiment| experiment.phase.is_some_and(failed))
    }

    /// Drives an update to its end the way a person would: each new analysis run or
    /// experiment gets the next of `outcomes`, every pause is promoted, otherwise an hour
    /// passes. Runs `check`
    /// after every settle. Returns how the update ended, or an error if it never did.
    pub fn drive_to_end(
        &mut self,
        outcomes: impl IntoIterator<Item = AnalysisPhase>,
        mut check: impl FnMut(&Sim) -> Result<(), TestCaseError>,
    ) -> Result<Ended, TestCaseError> {
        let mut outcomes = outcomes.into_iter();
        let mut decided = 0;
        let mut decided_experiments = 0;
        for _ in 0..100 {
            self.settle();
            check(self)?;
            if self.state.stable_hash.as_deref() == Some(self.pod_hash.as_str())
                && self.phase() == Phase::Healthy
            {
                return Ok(Ended::Promoted);
            }
            if self.phase() == Phase::Degraded {
                return Ok(Ended::Degraded);
            }
            if self.runs.len() > decided {
                let outcome = outcomes.next().expect("one outcome per analysis");
                self.set_run_phase(outcome, "decided by the test");
                decided += 1;
            } else if self.experiments.len() > decided_experiments {
                let outcome = outcomes.next().expect("one outcome per experiment");
                let experiment = self.experiments.last_mut().expect("an experiment");
                experiment.phase = Some(outcome);
                decided_experiments += 1;
            } else if self.phase() == Phase::Paused {
                self.state = crate::engine::promote(&self.plan, &self.state);
            } else {
                self.advance(600);
            }
        }
        Err(TestCaseError::fail(format!(
            "never finished: {:#?}",
            self.state
        )))
    }

    /// Reconciles until a pass changes nothing (Events aside) and asks for no immediate requeue.
    pub fn settle(&mut self) {
        for _ in 0..500 {
            let before = self.state.clone();
            let decision = self.reconcile();
            let immediate = decision.requeue_after == Some(Duration::ZERO);
            // Asking stuck routers again changes nothing.
            let only_events = decision.effects.iter().all(|effect| {
                matches!(effect, Effect::Event(_))
                    || (self.routers_stuck && matches!(effect, Effect::SetTraffic(_)))
            });
            if only_events && !immediate && before == self.state {
                return;
            }
        }
        panic!("the engine did not settle: {:#?}", self.state);
    }
}
