//! Carries out the engine's effects on the cluster: creates and scales ReplicaSets, pins
//! Service selectors, starts and stops AnalysisRuns and Experiments. Every effect is
//! idempotent (creating what the Rollout already owns is fine, scaling sets an absolute
//! count), so repeating a reconcile after a crash repeats nothing that matters. A name held by
//! an object that is not the Rollout's is an error, never taken for the Rollout's own; the
//! next observation tells the engine, which picks another name. (Events are published by the
//! controller.)

mod experiment;

use std::collections::BTreeMap;

use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use crate::analysis::templates;
use crate::engine::{AnalysisKind, Effect};
use crate::k8s::crd::{AnalysisRun, Argument, DryRun, MeasurementRetention, Rollout};
use crate::k8s::{self, ObjectMeta, ReplicaSet, ReplicaSetSpec, Service, labels};
use crate::model::{AnalysisPlan, ArgValue, AvoidRevision, PodMetadata};

/// An effect could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The Rollout has no namespace or no template (it was not read from the API).
    #[error("Rollout {rollout} has no {missing}")]
    Incomplete {
        /// The Rollout.
        rollout: String,
        /// What is missing.
        missing: &'static str,
    },
    /// Creating a ReplicaSet failed.
    #[error("create ReplicaSet {name}")]
    CreateReplicaSet {
        /// The ReplicaSet.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Scaling a ReplicaSet failed.
    #[error("scale ReplicaSet {name} to {replicas}")]
    ScaleReplicaSet {
        /// The ReplicaSet.
        name: String,
        /// The replicas asked for.
        replicas: i32,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Setting the replicas of the Deployment a `workloadRef` names failed.
    #[error("scale Deployment {name} to {replicas}")]
    ScaleWorkload {
        /// The Deployment.
        name: String,
        /// The replicas asked for.
        replicas: i32,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Giving a ReplicaSet's pods and template their role metadata failed.
    #[error("set the role metadata of ReplicaSet {name} and its pods")]
    SetPodMetadata {
        /// The ReplicaSet.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Pointing a ReplicaSet's anti-affinity rule at the stable revision failed.
    #[error("set the anti-affinity rule of ReplicaSet {name}")]
    SetAntiAffinity {
        /// The ReplicaSet.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Recording a ReplicaSet's scale-down deadline failed.
    #[error("set the scale-down deadline of ReplicaSet {name}")]
    SetScaleDownDeadline {
        /// The ReplicaSet.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Evicting a pod for a restart failed (a PodDisruptionBudget may forbid it for now).
    #[error("evict pod {name}")]
    EvictPod {
        /// The pod.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Deleting an old ReplicaSet failed.
    #[error("delete ReplicaSet {name}")]
    DeleteReplicaSet {
        /// The ReplicaSet.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Pinning a Service's selector failed.
    #[error("point Service {service} at pods {hash}")]
    SetServiceSelector {
        /// The Service.
        service: String,
        /// The pod-template hash.
        hash: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Reading an analysis template failed.
    #[error("get {kind} {name}")]
    GetTemplate {
        /// AnalysisTemplate or ClusterAnalysisTemplate.
        kind: &'static str,
        /// The template.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The name of an object to create is held by one that is not the Rollout's.
    #[error("{kind} {name} exists but does not belong to Rollout {rollout}")]
    NameTaken {
        /// ReplicaSet or AnalysisRun.
        kind: &'static str,
        /// The name.
        name: String,
        /// The Rollout.
        rollout: String,
    },
    /// Making the traffic routers carry a split failed.
    #[error("route traffic of Rollout {rollout}")]
    Route {
        /// The Rollout.
        rollout: String,
        /// Why.
        #[source]
        source: Box<crate::traffic::io::TrafficError>,
    },
    /// An analysis argument's `fieldRef` names nothing in the Rollout.
    #[error("AnalysisRun {run}: argument {argument:?}: {reason}")]
    ArgumentField {
        /// The run that was to be created.
        run: String,
        /// The argument.
        argument: String,
        /// Why it has no value.
        reason: String,
    },
    /// Creating or terminating an Experiment (or reading what it is made of) failed.
    #[error("{action} Experiment {name}")]
    Experiment {
        /// `create`, `terminate`, ...
        action: &'static str,
        /// The Experiment.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Creating or terminating an AnalysisRun failed.
    #[error("{action} AnalysisRun {name}")]
    AnalysisRun {
        /// `create` or `terminate`.
        action: &'static str,
        /// The run.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

impl ExecuteError {
    /// The reason of the Warning Event that announces the failure (Argo's): a router that
    /// cannot be written is a `TrafficRoutingError`, anything else a `ReconciliationError`.
    #[must_use]
    pub fn event_reason(&self) -> &'static str {
        match self {
            Self::Route { .. } => "TrafficRoutingError",
            Self::CreateReplicaSet { .. } => "ReplicaSetCreateError",
            _ => "ReconciliationError",
        }
    }

    /// Argo's message for a new ReplicaSet that could not be created, if that is what failed.
    #[must_use]
    pub fn replica_set_create_failure(&self) -> Option<String> {
        match self {
            Self::CreateReplicaSet { name, source } => Some(format!(
                "Failed to create new replica set {name:?}: {}",
                k8s::describe_error(source)
            )),
            _ => None,
        }
    }

    /// Whether retrying later may succeed (the API was unavailable, or an object changed).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        let source = match self {
            // Until the Rollout changes.
            Self::Incomplete { .. } | Self::ArgumentField { .. } => return false,
            Self::Route { source, .. } => return source.is_transient(),
            // The next observation shows the engine, which picks another name: soon.
            Self::NameTaken { .. } => return true,
            Self::CreateReplicaSet { source, .. }
            | Self::ScaleReplicaSet { source, .. }
            | Self::ScaleWorkload { source, .. }
            | Self::DeleteReplicaSet { source, .. }
            | Self::SetScaleDownDeadline { source, .. }
            | Self::SetPodMetadata { source, .. }
            | Self::SetAntiAffinity { source, .. }
            | Self::EvictPod { source, .. }
            | Self::SetServiceSelector { source, .. }
            | Self::GetTemplate { source, .. }
            | Self::AnalysisRun { source, .. }
            | Self::Experiment { source, .. } => source,
        };
        k8s::is_transient(source)
    }
}

/// Carries out effects for one Rollout.
pub struct Executor<'a> {
    client: &'a Client,
    rollout: &'a Rollout,
    namespace: String,
    /// The router writes done, to announce once the effects are carried out.
    announced: std::sync::Mutex<Vec<crate::traffic::io::Announcement>>,
}

/// What a new ReplicaSet's template gets beyond the Rollout's.
#[derive(Clone, Copy)]
struct TemplateExtras<'a> {
    /// Role metadata.
    pod_metadata: Option<&'a PodMetadata>,
    /// An anti-affinity rule against the stable revision.
    avoid: Option<&'a AvoidRevision>,
}

impl<'a> Executor<'a> {
    /// An executor for `rollout` as its status was last written, which must have been read
    /// from the API (it has a namespace).
    pub fn new(client: &'a Client, rollout: &'a Rollout) -> Result<Self, ExecuteError> {
        let namespace = rollout
            .namespace()
            .ok_or_else(|| ExecuteError::Incomplete {
                rollout: rollout.name_any(),
                missing: "namespace",
            })?;
        Ok(Self {
            client,
            rollout,
            namespace,
            announced: std::sync::Mutex::default(),
        })
    }

    /// Carries out `effects` in order, stopping at the first failure. Events are not
    /// effects here: the controller publishes them.
    pub async fn execute(&self, effects: &[&Effect]) -> Result<(), ExecuteError> {
        for (done, effect) in effects.iter().enumerate() {
            match effect {
                Effect::CreateReplicaSet {
                    hash,
                    revision,
                    pod_metadata,
                    avoid,
                } => {
                    let extras = TemplateExtras {
                        pod_metadata: pod_metadata.as_ref(),
                        avoid: avoid.as_ref(),
                    };
                    self.create_replica_set(hash, *revision, extras).await?;
                }
                Effect::SetAntiAffinity { name, avoid } => {
                    self.set_anti_affinity(name, avoid).await?;
                }
                Effect::SetPodMetadata {
                    name,
                    previous,
                    desired,
                    pods,
                } => {
                    self.set_pod_metadata(name, previous.as_ref(), desired.as_ref(), pods)
                        .await?;
                }
                Effect::ScaleReplicaSet { name, replicas } => self.scale(name, *replicas).await?,
                Effect::ScaleWorkload { name, replicas } => {
                    k8s::workload::scale(self.client, &self.namespace, name, *replicas)
                        .await
                        .map_err(|source| ExecuteError::ScaleWorkload {
                            name: name.clone(),
                            replicas: *replicas,
                            source,
                        })?;
                }
                Effect::DeleteReplicaSet { name } => self.delete_replica_set(name).await?,
                Effect::EvictPod { name } => self.evict(name).await?,
                Effect::SetScaleDownDeadline { name, deadline } => {
                    self.set_scale_down_deadline(name, *deadline).await?;
                }
                Effect::SetServiceSelector { service, hash } => self.point(service, hash).await?,
                Effect::CreateAnalysisRun {
                    name,
                    hash,
                    analysis,
                    kind,
                } => {
                    self.create_analysis_run(name, hash, analysis, *kind)
                        .await?;
                }
                Effect::TerminateAnalysisRun { name } => self.terminate_analysis_run(name).await?,
                Effect::CreateExperiment {
                    name,
                    step,
                    stable_hash,
                    canary_hash,
                } => {
                    self.create_experiment(name, *step, stable_hash, canary_hash)
                        .await?;
                }
                Effect::TerminateExperiment { name } => self.terminate_experiment(name).await?,
                Effect::DeleteExperiment { name } => self.delete_experiment(name).await?,
                Effect::DeleteAnalysisRun { name } => self.delete_analysis_run(name).await?,
                Effect::SetTraffic(intent) => self.route(intent).await?,
                Effect::Event(_) => {}
            }
            #[cfg(feature = "failpoints")]
            crate::failpoints::between_effects(&self.rollout.name_any(), done + 1, effects.len());
            #[cfg(not(feature = "failpoints"))]
            let _ = done;
        }
        Ok(())
    }

    /// Whether `owners` name this Rollout as their controller.
    fn owns(
        &self,
        owners: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference],
    ) -> bool {
        let uid = self.rollout.uid();
        owners
            .iter()
            .any(|owner| Some(&owner.uid) == uid.as_ref() && owner.controller == Some(true))
    }

    fn owner_labels(&self, hash: &str) -> BTreeMap<String, String> {
        [
            (labels::ROLLOUT.to_owned(), self.rollout.name_any()),
            (labels::POD_TEMPLATE_HASH.to_owned(), hash.to_owned()),
        ]
        .into()
    }

    fn owned_metadata(&self, name: String, labels: BTreeMap<String, String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels),
            owner_references: self
                .rollout
                .controller_owner_ref(&())
                .map(|owner| vec![owner]),
            ..ObjectMeta::default()
        }
    }

    /// The ReplicaSet of a revision: the Rollout's template and selector, both narrowed to
    /// the revision by its pod-template hash, at 0 replicas, owned by the Rollout; its
    /// template carries the `extras` besides.
    async fn create_replica_set(
        &self,
        hash: &str,
        revision: u64,
        extras: TemplateExtras<'_>,
    ) -> Result<(), ExecuteError> {
        let pod_metadata = extras.pod_metadata;
        let rollout = self.rollout.name_any();
        let incomplete = |missing| ExecuteError::Incomplete {
            rollout: rollout.clone(),
            missing,
        };
        let mut template = self
            .rollout
            .spec
            .template
            .clone()
            .ok_or_else(|| incomplete("template"))?;
        let mut selector = self
            .rollout
            .spec
            .selector
            .clone()
            .ok_or_else(|| incomplete("selector"))?;
        let hash_label = (labels::POD_TEMPLATE_HASH.to_owned(), hash.to_owned());
        let metadata = template.metadata.get_or_insert_with(ObjectMeta::default);
        if let Some(role) = pod_metadata {
            metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .extend(role.labels.clone());
            metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .extend(role.annotations.clone());
        }
        metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .extend([hash_label.clone()]);
        if let (Some(avoid), Some(pod)) = (extras.avoid, template.spec.as_mut()) {
            pod.affinity = Some(k8s::anti_affinity::with_rule(
                pod.affinity.as_ref(),
                avoid,
                &self.namespace,
            ));
        }
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .extend([hash_label]);

        let name = format!("{rollout}-{hash}");
        let mut labels = metadata.labels.clone().unwrap_or_default();
        labels.extend(self.owner_labels(hash));
        let mut metadata = self.owned_metadata(name.clone(), labels);
        let mut annotations = BTreeMap::from([(labels::REVISION.to_owned(), revision.to_string())]);
        if let Some(commit) = self.rollout.annotations().get(labels::COMMIT) {
            annotations.insert(labels::COMMIT.to_owned(), commit.clone());
        }
        if let Some(recorded) = k8s::pod_metadata::record(pod_metadata) {
            annotations.insert(labels::EPHEMERAL_METADATA.to_owned(), recorded);
        }
        metadata.annotations = Some(annotations);
        let replica_set = ReplicaSet {
            metadata,
            spec: ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: self.rollout.spec.min_ready_seconds,
                selector,
                template: Some(template),
            },
            status: None,
        };
        let params = PostParams {
            field_manager: Some(k8s::ROLLOUT_FIELD_MANAGER.to_owned()),
            ..PostParams::default()
        };
        let api = self.api::<ReplicaSet>();
        match api.create(&params, &replica_set).await {
            Ok(_) => Ok(()),
            Err(error) if k8s::already_exists(&error) => {
                let existing =
                    api.get_opt(&name)
                        .await
                        .map_err(|source| ExecuteError::CreateReplicaSet {
                            name: name.clone(),
                            source,
                        })?;
                match existing {
                    Some(existing) if !self.owns(existing.owner_references()) => {
                        Err(ExecuteError::NameTaken {
                            kind: "ReplicaSet",
                            name,
                            rollout,
                        })
                    }
                    _ => Ok(()),
                }
            }
            Err(source) => Err(ExecuteError::CreateReplicaSet { name, source }),
        }
    }

    async fn scale(&self, name: &str, replicas: i32) -> Result<(), ExecuteError> {
        let patch = json!({ "spec": { "replicas": replicas } });
        self.patch_replica_set(name, &patch)
            .await
            .map_err(|source| ExecuteError::ScaleReplicaSet {
                name: name.to_owned(),
                replicas,
                source,
            })
    }

    async fn set_scale_down_deadline(
        &self,
        name: &str,
        deadline: Option<jiff::Timestamp>,
    ) -> Result<(), ExecuteError> {
        let value = deadline.map(|deadline| deadline.to_string());
        let patch =
            json!({ "metadata": { "annotations": { labels::SCALE_DOWN_DEADLINE: value } } });
        self.patch_replica_set(name, &patch)
            .await
            .map_err(|source| ExecuteError::SetScaleDownDeadline {
                name: name.to_owned(),
                source,
            })
    }

    /// The template's affinity becomes the Rollout's with `avoid` added (a merge patch
    /// replaces the rule lists whole, dropping the rule it had).
    async fn set_anti_affinity(
        &self,
        name: &str,
        avoid: &AvoidRevision,
    ) -> Result<(), ExecuteError> {
        let own = self
            .rollout
            .spec
            .template
            .as_ref()
            .and_then(|template| template.spec.as_ref())
            .and_then(|pod| pod.affinity.as_ref());
        let affinity = k8s::anti_affinity::with_rule(own, avoid, &self.namespace);
        let patch = json!({ "spec": { "template": { "spec": { "affinity": affinity } } } });
        match self.patch_replica_set(name, &patch).await {
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
            result => result.map_err(|source| ExecuteError::SetAntiAffinity {
                name: name.to_owned(),
                source,
            }),
        }
    }

    /// Pods first, then the ReplicaSet's template and record: until the record changes, a
    /// pass stopped half-way is repeated whole, since what to take away is read from it.
    /// A pod or ReplicaSet gone meanwhile needs nothing.
    async fn set_pod_metadata(
        &self,
        name: &str,
        previous: Option<&PodMetadata>,
        desired: Option<&PodMetadata>,
        pods: &[String],
    ) -> Result<(), ExecuteError> {
        let failed = |source| ExecuteError::SetPodMetadata {
            name: name.to_owned(),
            source,
        };
        let pod_patch = k8s::pod_metadata::pod_patch(previous, desired);
        let pod_api = self.api::<k8s::Pod>();
        for pod in pods {
            match pod_api
                .patch(pod, &rollout_patch(), &Patch::Merge(&pod_patch))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.is_not_found() => {}
                Err(source) => return Err(failed(source)),
            }
        }
        let patch = k8s::pod_metadata::replica_set_patch(previous, desired);
        match self.patch_replica_set(name, &patch).await {
            Ok(()) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
            Err(source) => Err(failed(source)),
        }
    }

    /// A merge patch under field manager `tidegate-rollout`.
    async fn patch_replica_set(
        &self,
        name: &str,
        patch: &serde_json::Value,
    ) -> Result<(), kube::Error> {
        self.api::<ReplicaSet>()
            .patch(name, &rollout_patch(), &Patch::Merge(patch))
            .await
            .map(drop)
    }

    /// Evicts a pod through the Eviction API, so PodDisruptionBudgets are respected.
    async fn evict(&self, name: &str) -> Result<(), ExecuteError> {
        match self
            .api::<k8s::Pod>()
            .evict(name, &kube::api::EvictParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
            Err(source) => Err(ExecuteError::EvictPod {
                name: name.to_owned(),
                source,
            }),
        }
    }

    async fn delete_replica_set(&self, name: &str) -> Result<(), ExecuteError> {
        match self
            .api::<ReplicaSet>()
            .delete(name, &kube::api::DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
            Err(source) => Err(ExecuteError::DeleteReplicaSet {
                name: name.to_owned(),
                source,
            }),
        }
    }

    /// Makes the Rollout's routers carry `intent`, as its spec configures them.
    async fn route(&self, intent: &crate::model::TrafficIntent) -> Result<(), ExecuteError> {
        let plan = self
            .rollout
            .spec
            .plan()
            .map_err(|_| ExecuteError::Incomplete {
                rollout: self.rollout.name_any(),
                missing: "valid spec",
            })?;
        let crate::model::Strategy::Canary(canary) = &plan.strategy else {
            return Ok(());
        };
        let Some((traffic, context)) = crate::traffic::io::context(self.rollout, canary) else {
            return Ok(());
        };
        let mut announced = Vec::new();
        let applied =
            crate::traffic::io::apply(self.client, traffic, &context, intent, &mut announced)
                .await
                .map_err(|source| ExecuteError::Route {
                    rollout: self.rollout.name_any(),
                    source: Box::new(source),
                });
        self.announced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(announced);
        applied
    }

    /// The router writes done so far, with the Normal Events Argo announces them with.
    pub fn take_announced(&self) -> Vec<crate::traffic::io::Announcement> {
        std::mem::take(
            &mut self
                .announced
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    async fn point(&self, service: &str, hash: &str) -> Result<(), ExecuteError> {
        let patch = json!({
            "metadata": { "annotations": { labels::MANAGED_BY: self.rollout.name_any() } },
            "spec": { "selector": { labels::POD_TEMPLATE_HASH: hash } },
        });
        self.api::<Service>()
            .patch(service, &rollout_patch(), &Patch::Merge(&patch))
            .await
            .map(drop)
            .map_err(|source| ExecuteError::SetServiceSelector {
                service: service.to_owned(),
                hash: hash.to_owned(),
                source,
            })
    }

    /// An AnalysisRun with the metrics of the plan's templates and the arguments resolved.
    async fn create_analysis_run(
        &self,
        name: &str,
        hash: &str,
        plan: &AnalysisPlan,
        kind: AnalysisKind,
    ) -> Result<(), ExecuteError> {
        let templates = templates::fetch(self.client, &self.namespace, &plan.templates)
            .await
            .map_err(|error| ExecuteError::GetTemplate {
                kind: error.kind,
                name: error.name,
                source: error.source,
            })?;
        let mut spec = templates::combined(templates);
        let mut supplied = Vec::new();
        for arg in &plan.args {
            let value = self
                .resolve(&arg.value)
                .map_err(|reason| ExecuteError::ArgumentField {
                    run: name.to_owned(),
                    argument: arg.name.clone(),
                    reason,
                })?;
            supplied.push(Argument {
                name: arg.name.clone(),
                value: Some(value),
                value_from: None,
            });
        }
        templates::merge_args(&mut spec.args, supplied);
        spec.dry_run
            .extend(plan.dry_run.iter().map(|metric| DryRun {
                metric_name: metric.clone(),
            }));
        spec.measurement_retention
            .extend(plan.measurement_retention.iter().map(|(metric, limit)| {
                MeasurementRetention {
                    metric_name: metric.clone(),
                    limit: *limit,
                }
            }));

        let mut labels = self.owner_labels(hash);
        labels.extend(plan.run_labels.clone());
        labels.insert(labels::ROLLOUT_TYPE.to_owned(), kind.label().to_owned());
        if let AnalysisKind::Step(step) = kind {
            labels.insert(labels::STEP_INDEX.to_owned(), step.to_string());
        }
        let mut metadata = self.owned_metadata(name.to_owned(), labels);
        metadata.annotations = Some(plan.run_annotations.clone());
        let run = AnalysisRun {
            metadata,
            spec,
            status: None,
        };
        let api = self.api::<AnalysisRun>();
        let failed = |source| ExecuteError::AnalysisRun {
            action: "create",
            name: name.to_owned(),
            source,
        };
        match api.create(&PostParams::default(), &run).await {
            Ok(_) => Ok(()),
            Err(error) if k8s::already_exists(&error) => match api.get_opt(name).await {
                Ok(Some(existing)) if !self.owns(existing.owner_references()) => {
                    Err(ExecuteError::NameTaken {
                        kind: "AnalysisRun",
                        name: name.to_owned(),
                        rollout: self.rollout.name_any(),
                    })
                }
                Ok(_) => Ok(()),
                Err(source) => Err(failed(source)),
            },
            Err(source) => Err(failed(source)),
        }
    }

    /// The templates `refs` name and, depth first, those they include (`spec.templates`),
    /// each once: a template included twice, or in a cycle, counts once.
    /// The value of a Rollout-supplied argument: metadata fields as the downward API reads
    /// them (a missing label is empty), any other path into the Rollout as Argo reads it (a
    /// path that names nothing is an error, and the run is not created).
    fn resolve(&self, value: &ArgValue) -> Result<String, String> {
        let status = self.rollout.status.as_ref();
        Ok(match value {
            ArgValue::Literal(value) => value.clone(),
            ArgValue::StableHash => status
                .map(|status| status.stable_rs.clone())
                .unwrap_or_default(),
            ArgValue::LatestHash => status
                .map(|status| status.current_pod_hash.clone())
                .unwrap_or_default(),
            ArgValue::Field(path) if path.starts_with("metadata") => {
                k8s::downward::resolve(&self.rollout.metadata, path).unwrap_or_default()
            }
            ArgValue::Field(path) => {
                let rollout =
                    serde_json::to_value(self.rollout).map_err(|error| error.to_string())?;
                k8s::field_path::resolve(&rollout, path)?
            }
        })
    }

    async fn terminate_analysis_run(&self, name: &str) -> Result<(), ExecuteError> {
        let patch = json!({ "spec": { "terminate": true } });
        match self
            .api::<AnalysisRun>()
            .patch(name, &rollout_patch(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
            Err(source) => Err(ExecuteError::AnalysisRun {
                action: "terminate",
                name: name.to_owned(),
                source,
            }),
        }
    }

    async fn delete_analysis_run(&self, name: &str) -> Result<(), ExecuteError> {
        self.delete::<AnalysisRun>(name)
            .await
            .map_err(|source| ExecuteError::AnalysisRun {
                action: "delete",
                name: name.to_owned(),
                source,
            })
    }

    /// Deletes `name` (what it owns goes with it); one already gone is fine.
    async fn delete<K>(&self, name: &str) -> Result<(), kube::Error>
    where
        K: Resource<Scope = k8s::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        <K as Resource>::DynamicType: Default,
    {
        match self
            .api::<K>()
            .delete(name, &k8s::DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
            Err(source) => Err(source),
        }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }
}

fn rollout_patch() -> PatchParams {
    PatchParams {
        field_manager: Some(k8s::ROLLOUT_FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_router_that_cannot_be_written_is_a_traffic_routing_error() {
        let route = ExecuteError::Route {
            rollout: "web".into(),
            source: Box::new(crate::traffic::io::TrafficError::NotServed {
                kind: "HTTPRoute",
                apis: "gateway.networking.k8s.io/v1".into(),
            }),
        };
        assert_eq!(route.event_reason(), "TrafficRoutingError");
        let taken = ExecuteError::NameTaken {
            kind: "ReplicaSet",
            name: "web-1".into(),
            rollout: "web".into(),
        };
        assert_eq!(taken.event_reason(), "ReconciliationError");
        assert_eq!(taken.replica_set_create_failure(), None);
    }

    #[test]
    fn a_replica_set_that_cannot_be_created_is_argo_s_replica_set_create_error() {
        let refused = ExecuteError::CreateReplicaSet {
            name: "web-6f7d9c".into(),
            source: kube::Error::Api(Box::new(kube::core::Status::failure(
                "exceeded quota: rs, requested: count/replicasets.apps=1",
                "Forbidden",
            ))),
        };
        assert_eq!(refused.event_reason(), "ReplicaSetCreateError");
        let message = refused.replica_set_create_failure().expect("a message");
        assert!(
            message.starts_with("Failed to create new replica set \"web-6f7d9c\": ")
                && message.contains("exceeded quota"),
            "{message}"
        );
    }
}
