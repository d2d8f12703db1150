//! The Experiment controller: observes each Experiment's ReplicaSets, Services and
//! AnalysisRuns, asks [`super::decide`] for the next status, writes it (with the
//! resourceVersion read, so a `terminate` written meanwhile makes it fail and nothing is
//! done), then carries out the actions and records the Events.
//!
//! Every action is derived from the spec, the status and what is observed, so a controller
//! stopped between the status write and the actions repeats them on resume: creations that
//! find their object already there (owned by the experiment) succeed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::decide::{self, Action, Observed, ObservedReplicaSet, ObservedRun};
use super::objects::{self, EXPERIMENT_LABEL, TEMPLATE_ANNOTATION};
use crate::analysis::templates;
use crate::k8s::crd::{AnalysisRun, Experiment, ExperimentTemplate};
use crate::k8s::{self, ReplicaSet, Scope, Service, labels};
use crate::model::TemplateRef;

/// The field manager of the controller's writes.
const FIELD_MANAGER: &str = "tidegate-experiment";
/// The least time between two looks at one experiment.
const MIN_REQUEUE: Duration = Duration::from_millis(500);
/// How often to look at an experiment that asked for nothing.
const RESYNC: Duration = Duration::from_secs(300);

struct Shared {
    client: Client,
    recorder: k8s::events::Publisher,
}

/// A reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// Reading the experiment's objects failed.
    #[error("read the {what} of Experiment {experiment}")]
    Observe {
        /// ReplicaSets, Services or AnalysisRuns.
        what: &'static str,
        /// The experiment.
        experiment: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Writing the status failed (a conflict means the experiment changed meanwhile).
    #[error("write status of Experiment {experiment}")]
    WriteStatus {
        /// The experiment.
        experiment: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// An action failed.
    #[error("{action} for Experiment {experiment}")]
    Act {
        /// What was being done.
        action: String,
        /// The experiment.
        experiment: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// An object to create exists and belongs to someone else.
    #[error("{kind} {name} exists but does not belong to Experiment {experiment}")]
    NameTaken {
        /// Its kind.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The experiment.
        experiment: String,
    },
}

/// Runs the controller until `shutdown` completes; `caches` reads its Experiments for the
/// metrics meanwhile.
pub async fn run(
    client: Client,
    scope: Scope,
    caches: crate::metrics::objects::Caches,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let (experiments, replica_sets, runs, services) = match &scope {
        Scope::Cluster => (
            Api::<Experiment>::all(client.clone()),
            Api::<ReplicaSet>::all(client.clone()),
            Api::<AnalysisRun>::all(client.clone()),
            Api::<Service>::all(client.clone()),
        ),
        Scope::Namespace(namespace) => (
            Api::namespaced(client.clone(), namespace),
            Api::namespaced(client.clone(), namespace),
            Api::namespaced(client.clone(), namespace),
            Api::namespaced(client.clone(), namespace),
        ),
    };
    let shared = Arc::new(Shared {
        recorder: k8s::events::Publisher::new(client.clone(), "tidegate-experiment"),
        client,
    });
    let owned = || watcher::Config::default().labels(EXPERIMENT_LABEL);
    let controller = Controller::new(experiments, watcher::Config::default());
    caches.watch_experiments(Some(controller.store()));
    let controller = controller
        .owns(replica_sets, owned())
        .owns(runs, owned())
        .owns(services, owned());
    k8s::shutdown::run_until_shutdown(controller, shutdown, |controller| {
        controller.run(reconcile, error_policy, shared)
    })
    .await;
    caches.watch_experiments(None);
}

#[allow(clippy::needless_pass_by_value)] // the signature kube-runtime's Controller::run wants
fn error_policy(experiment: Arc<Experiment>, error: &ExperimentError, _: Arc<Shared>) -> Requeue {
    tracing::warn!(experiment = %experiment.name_any(), error = %k8s::describe_error(error), "experiment reconcile failed");
    Requeue::requeue(Duration::from_secs(2))
}

async fn reconcile(
    experiment: Arc<Experiment>,
    shared: Arc<Shared>,
) -> Result<Requeue, ExperimentError> {
    let io = Io::new(&shared, &experiment);
    let recorded = experiment.status.clone().unwrap_or_default();
    let observed = io.observe().await?;
    let decision = decide::decide(
        &experiment.name_any(),
        &experiment.spec,
        &recorded,
        &observed,
    );
    // A pass with anything to do writes even an unchanged status: the write's resourceVersion
    // proves the view current (a `terminate` written meanwhile fails it, and nothing is done).
    #[cfg(feature = "failpoints")]
    crate::failpoints::before_recording_a_run(
        &experiment.name_any(),
        decision
            .actions
            .iter()
            .any(|action| matches!(action, decide::Action::CreateRun { .. })),
    )
    .await;
    if decision.status != recorded || !decision.actions.is_empty() {
        io.write_status(decision.status.clone()).await?;
    }
    for action in &decision.actions {
        io.act(action).await?;
    }
    for note in &decision.notes {
        let event = k8s::events::Note {
            warning: note.warning,
            reason: &note.reason,
            message: &note.message,
            action: "Experiment",
        };
        if let Err(error) = shared
            .recorder
            .publish(&experiment.object_ref(&()), &event)
            .await
        {
            tracing::debug!(%error, "cannot publish Event");
        }
    }
    if decision.status.phase != recorded.phase {
        tracing::info!(experiment = %experiment.name_any(), namespace = %io.namespace, phase = ?decision.status.phase, message = %decision.status.message, "experiment phase changed");
    }
    Ok(decision.requeue.map_or(Requeue::requeue(RESYNC), |after| {
        Requeue::requeue(after.max(MIN_REQUEUE))
    }))
}

/// The reads and writes of one reconcile.
struct Io<'a> {
    client: &'a Client,
    experiment: &'a Experiment,
    name: String,
    namespace: String,
}

impl<'a> Io<'a> {
    fn new(shared: &'a Shared, experiment: &'a Experiment) -> Self {
        Self {
            client: &shared.client,
            experiment,
            name: experiment.name_any(),
            namespace: experiment.namespace().unwrap_or_default(),
        }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn owns(&self, object: &impl Resource) -> bool {
        let uid = self.experiment.uid();
        object
            .meta()
            .owner_references
            .iter()
            .flatten()
            .any(|owner| Some(&owner.uid) == uid.as_ref() && owner.controller == Some(true))
    }

    /// The experiment's objects, by template or analysis name.
    async fn observe(&self) -> Result<Observed, ExperimentError> {
        let params = ListParams::default().labels(&format!("{EXPERIMENT_LABEL}={}", self.name));
        let failed = |what| {
            move |source| ExperimentError::Observe {
                what,
                experiment: self.name.clone(),
                source,
            }
        };
        let mut observed = Observed {
            now: Timestamp::now(),
            ..Observed::default()
        };
        let replica_sets = self
            .api::<ReplicaSet>()
            .list(&params)
            .await
            .map_err(failed("ReplicaSets"))?;
        for replica_set in replica_sets.items.iter().filter(|rs| self.owns(*rs)) {
            let Some(template) = replica_set.annotations().get(TEMPLATE_ANNOTATION) else {
                continue;
            };
            let status = replica_set.status.as_ref();
            observed.replica_sets.insert(
                template.clone(),
                ObservedReplicaSet {
                    hash: replica_set
                        .labels()
                        .get(labels::POD_TEMPLATE_HASH)
                        .cloned()
                        .unwrap_or_default(),
                    desired: replica_set.spec.replicas.unwrap_or(1),
                    replicas: status.map_or(0, |status| status.replicas),
                    ready: status.and_then(|status| status.ready_replicas).unwrap_or(0),
                    available: status
                        .and_then(|status| status.available_replicas)
                        .unwrap_or(0),
                    scale_down_deadline: replica_set
                        .annotations()
                        .get(labels::SCALE_DOWN_DEADLINE)
                        .and_then(|deadline| deadline.parse().ok()),
                },
            );
        }
        let services = self
            .api::<Service>()
            .list(&params)
            .await
            .map_err(failed("Services"))?;
        for service in services.items.iter().filter(|service| self.owns(*service)) {
            if let Some(template) = service.annotations().get(TEMPLATE_ANNOTATION) {
                observed
                    .services
                    .insert(template.clone(), service.name_any());
            }
        }
        let runs = self
            .api::<AnalysisRun>()
            .list(&params)
            .await
            .map_err(failed("AnalysisRuns"))?;
        for analysis in &self.experiment.spec.analyses {
            let name = decide::run_name(&self.name, &analysis.name);
            if let Some(run) = runs
                .items
                .iter()
                .find(|run| run.name_any() == name && self.owns(*run))
            {
                let status = run.status.clone().unwrap_or_default();
                observed.runs.insert(
                    analysis.name.clone(),
                    ObservedRun {
                        phase: status.phase,
                        message: status.message,
                        terminating: run.spec.terminate,
                    },
                );
            }
        }
        observed.unreadable_templates = self.unreadable_templates(&observed.runs).await;
        Ok(observed)
    }

    /// The analyses whose templates cannot be read, with why — of those still to start (a
    /// run that exists needs its templates no more) while the experiment runs.
    async fn unreadable_templates(
        &self,
        runs: &BTreeMap<String, ObservedRun>,
    ) -> BTreeMap<String, String> {
        let mut unreadable = BTreeMap::new();
        let finished = self
            .experiment
            .status
            .as_ref()
            .and_then(|status| status.phase)
            .is_some_and(crate::model::AnalysisPhase::is_completed);
        if finished {
            return unreadable;
        }
        let to_start = self
            .experiment
            .spec
            .analyses
            .iter()
            .filter(|analysis| !runs.contains_key(&analysis.name));
        for analysis in to_start {
            if let Err(error) = self.run_spec(analysis).await {
                unreadable.insert(analysis.name.clone(), k8s::describe_error(&error));
            }
        }
        unreadable
    }

    async fn run_spec(
        &self,
        analysis: &crate::k8s::crd::ExperimentAnalysis,
    ) -> Result<crate::k8s::crd::AnalysisRunSpec, templates::TemplateError> {
        let refs = [TemplateRef {
            name: analysis.template_name.clone(),
            cluster_scope: analysis.cluster_scope.unwrap_or(false),
        }];
        let found = templates::fetch(self.client, &self.namespace, &refs).await?;
        Ok(templates::combined(found))
    }

    async fn write_status(
        &self,
        status: crate::k8s::crd::ExperimentStatus,
    ) -> Result<(), ExperimentError> {
        let mut updated = self.experiment.clone();
        updated.status = Some(status);
        self.api::<Experiment>()
            .replace_status(&self.name, &PostParams::default(), &updated)
            .await
            .map(drop)
            .map_err(|source| ExperimentError::WriteStatus {
                experiment: self.name.clone(),
                source,
            })
    }

    fn template(&self, name: &str) -> &ExperimentTemplate {
        self.experiment
            .spec
            .templates
            .iter()
            .find(|template| template.name == name)
            .expect("actions name the spec's templates")
    }

    fn failed(&self, action: String) -> impl FnOnce(kube::Error) -> ExperimentError + '_ {
        move |source| ExperimentError::Act {
            action,
            experiment: self.name.clone(),
            source,
        }
    }

    async fn act(&self, action: &Action) -> Result<(), ExperimentError> {
        let patch_params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        match action {
            Action::CreateReplicaSet { template } => {
                let replica_set = objects::replica_set(self.experiment, self.template(template));
                self.create(replica_set, "ReplicaSet").await
            }
            Action::ScaleReplicaSet { template, replicas } => {
                let name = decide::replica_set_name(&self.name, template);
                let patch = json!({ "spec": { "replicas": replicas } });
                self.api::<ReplicaSet>()
                    .patch(&name, &patch_params, &Patch::Merge(&patch))
                    .await
                    .map(drop)
                    .map_err(self.failed(format!("scale ReplicaSet {name} to {replicas}")))
            }
            Action::SetScaleDownDeadline { template, deadline } => {
                let name = decide::replica_set_name(&self.name, template);
                let patch = json!({ "metadata": { "annotations": {
                    labels::SCALE_DOWN_DEADLINE: deadline.to_string()
                } } });
                self.api::<ReplicaSet>()
                    .patch(&name, &patch_params, &Patch::Merge(&patch))
                    .await
                    .map(drop)
                    .map_err(self.failed(format!("set the scale-down deadline of {name}")))
            }
            Action::CreateService { template, name } => {
                let service = objects::service(self.experiment, self.template(template), name);
                self.create(service, "Service").await
            }
            Action::DeleteService { name } => {
                match self
                    .api::<Service>()
                    .delete(name, &k8s::DeleteParams::background())
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
                    Err(source) => Err(self.failed(format!("delete Service {name}"))(source)),
                }
            }
            Action::CreateRun {
                analysis,
                name,
                args,
            } => {
                let run = self.run(analysis, name, args).await?;
                self.create(run, "AnalysisRun").await
            }
            Action::TerminateRun { name } => {
                let patch = json!({ "spec": { "terminate": true } });
                match self
                    .api::<AnalysisRun>()
                    .patch(name, &patch_params, &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
                    Err(source) => {
                        Err(self.failed(format!("terminate AnalysisRun {name}"))(source))
                    }
                }
            }
        }
    }

    /// Creates `object`; one already there counts if the experiment owns it.
    async fn create<K>(&self, object: K, kind: &'static str) -> Result<(), ExperimentError>
    where
        K: Resource<Scope = k8s::NamespaceResourceScope>
            + Clone
            + serde::Serialize
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        <K as Resource>::DynamicType: Default,
    {
        let name = object.name_any();
        let api = self.api::<K>();
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => Ok(()),
            Err(error) if k8s::already_exists(&error) => match api.get(&name).await {
                Ok(existing) if self.owns(&existing) => Ok(()),
                Ok(_) => Err(ExperimentError::NameTaken {
                    kind,
                    name,
                    experiment: self.name.clone(),
                }),
                Err(source) => Err(self.failed(format!("read {kind} {name}"))(source)),
            },
            Err(source) => Err(self.failed(format!("create {kind} {name}"))(source)),
        }
    }

    /// An analysis's run: its templates' metrics (read now) with the analysis's arguments.
    async fn run(
        &self,
        analysis: &str,
        name: &str,
        args: &[crate::k8s::crd::Argument],
    ) -> Result<AnalysisRun, ExperimentError> {
        let analysis = self
            .experiment
            .spec
            .analyses
            .iter()
            .find(|candidate| candidate.name == analysis)
            .expect("actions name the spec's analyses");
        let run_spec = self.run_spec(analysis).await.map_err(|error| {
            let TemplateErrorParts { action, source } = error.into();
            self.failed(action)(source)
        })?;
        Ok(objects::run(self.experiment, name, args, run_spec))
    }
}

struct TemplateErrorParts {
    action: String,
    source: kube::Error,
}

impl From<templates::TemplateError> for TemplateErrorParts {
    fn from(error: templates::TemplateError) -> Self {
        Self {
            action: format!("get {} {}", error.kind, error.name),
            source: error.source,
        }
    }
}
