//! The Experiment of a canary `experiment` step (Argo's `GetExperimentFromTemplate`): its
//! templates are the stable and canary ReplicaSets' pod templates with the step's metadata,
//! its analyses get the Rollout's arguments resolved, and it is owned by the Rollout.

use std::collections::BTreeMap;

use kube::ResourceExt;
use kube::api::{Patch, PostParams};
use serde_json::json;

use super::{ExecuteError, Executor};
use crate::k8s::crd::{
    Argument, Experiment, ExperimentAnalysis, ExperimentSpec, ExperimentTemplate,
    RolloutExperimentStep, SpecRef, TemplateService,
};
use crate::k8s::{self, ObjectMeta, ReplicaSet, labels};
use crate::model::{ExperimentPlan, Step, Strategy};

impl Executor<'_> {
    /// Creates the Experiment `name` of canary step `step`; one already there counts if
    /// the Rollout owns it.
    pub(super) async fn create_experiment(
        &self,
        name: &str,
        step: usize,
        stable_hash: &str,
        canary_hash: &str,
    ) -> Result<(), ExecuteError> {
        let rollout = self.rollout.name_any();
        let incomplete = |missing| ExecuteError::Incomplete {
            rollout: rollout.clone(),
            missing,
        };
        let spec_step = self
            .rollout
            .spec
            .strategy
            .canary
            .as_ref()
            .and_then(|canary| canary.steps.get(step))
            .and_then(|step| step.experiment.as_ref())
            .ok_or_else(|| incomplete("the experiment step"))?;
        let plan = self
            .rollout
            .spec
            .plan()
            .ok()
            .and_then(|plan| match plan.strategy {
                Strategy::Canary(canary) => canary.steps.into_iter().nth(step),
                Strategy::BlueGreen(_) => None,
            })
            .and_then(|step| match step.gate() {
                Step::Experiment(plan) => Some(plan.clone()),
                _ => None,
            })
            .ok_or_else(|| incomplete("the experiment step"))?;
        let stable = self.replica_set(stable_hash).await?;
        let canary = self.replica_set(canary_hash).await?;
        let args = self.experiment_args(name, &plan)?;
        let mut experiment = experiment_for(
            spec_step,
            name,
            self.rollout.spec.progress_deadline_seconds,
            &stable,
            &canary,
            args,
        );
        let mut experiment_labels = self.rollout.labels().clone();
        experiment_labels.extend(self.owner_labels(canary_hash));
        let mut metadata = self.owned_metadata(name.to_owned(), experiment_labels);
        let revision = canary
            .annotations()
            .get(labels::REVISION)
            .cloned()
            .unwrap_or_default();
        metadata.annotations = Some(BTreeMap::from([(labels::REVISION.to_owned(), revision)]));
        experiment.metadata = metadata;
        let api = self.api::<Experiment>();
        let failed = |action, source| ExecuteError::Experiment {
            action,
            name: name.to_owned(),
            source,
        };
        match api.create(&PostParams::default(), &experiment).await {
            Ok(_) => Ok(()),
            Err(error) if k8s::already_exists(&error) => match api.get_opt(name).await {
                Ok(Some(existing)) if !self.owns(existing.owner_references()) => {
                    Err(ExecuteError::NameTaken {
                        kind: "Experiment",
                        name: name.to_owned(),
                        rollout,
                    })
                }
                Ok(_) => Ok(()),
                Err(source) => Err(failed("read", source)),
            },
            Err(source) => Err(failed("create", source)),
        }
    }

    /// Sets an Experiment's `spec.terminate` (one already gone is fine).
    pub(super) async fn terminate_experiment(&self, name: &str) -> Result<(), ExecuteError> {
        let patch = json!({ "spec": { "terminate": true } });
        match self
            .api::<Experiment>()
            .patch(name, &super::rollout_patch(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
            Err(source) => Err(ExecuteError::Experiment {
                action: "terminate",
                name: name.to_owned(),
                source,
            }),
        }
    }

    /// Deletes an Experiment (one already gone is fine); its ReplicaSets, Services and
    /// AnalysisRuns are owned by it and go with it.
    pub(super) async fn delete_experiment(&self, name: &str) -> Result<(), ExecuteError> {
        self.delete::<Experiment>(name)
            .await
            .map_err(|source| ExecuteError::Experiment {
                action: "delete",
                name: name.to_owned(),
                source,
            })
    }

    async fn replica_set(&self, hash: &str) -> Result<ReplicaSet, ExecuteError> {
        let name = format!("{}-{hash}", self.rollout.name_any());
        self.api::<ReplicaSet>()
            .get(&name)
            .await
            .map_err(|source| ExecuteError::Experiment {
                action: "read the ReplicaSet for",
                name,
                source,
            })
    }

    /// Each analysis's arguments with the Rollout's values resolved; literal values (which may
    /// hold the experiment's `{{…}}` variables) go as they are.
    fn experiment_args(
        &self,
        name: &str,
        plan: &ExperimentPlan,
    ) -> Result<Vec<Vec<Argument>>, ExecuteError> {
        plan.analysis_args
            .iter()
            .map(|args| {
                args.iter()
                    .map(|arg| {
                        let value = self.resolve(&arg.value).map_err(|reason| {
                            ExecuteError::ArgumentField {
                                run: name.to_owned(),
                                argument: arg.name.clone(),
                                reason,
                            }
                        })?;
                        Ok(Argument {
                            name: arg.name.clone(),
                            value: Some(value),
                            value_from: None,
                        })
                    })
                    .collect()
            })
            .collect()
    }
}

/// The Experiment of `step` (without metadata): each template the stable or canary
/// ReplicaSet's pod template and `minReadySeconds`, with the step's labels (also added to
/// its selector, the ReplicaSet's unless the step gives one) and annotations, and a Service
/// when the step asks for one or a weight.
#[must_use]
pub fn experiment_for(
    step: &RolloutExperimentStep,
    name: &str,
    progress_deadline_seconds: Option<i32>,
    stable: &ReplicaSet,
    canary: &ReplicaSet,
    args: Vec<Vec<Argument>>,
) -> Experiment {
    let templates = step
        .templates
        .iter()
        .map(|template| {
            let source = match template.spec_ref {
                SpecRef::Stable => stable,
                SpecRef::Canary => canary,
            };
            let mut pods = source.spec.template.clone().unwrap_or_default();
            let mut selector = template
                .selector
                .clone()
                .unwrap_or_else(|| source.spec.selector.clone());
            if let Some(metadata) = &template.metadata {
                let pod_metadata = pods.metadata.get_or_insert_with(ObjectMeta::default);
                pod_metadata
                    .labels
                    .get_or_insert_with(BTreeMap::new)
                    .extend(metadata.labels.clone());
                selector
                    .match_labels
                    .get_or_insert_with(BTreeMap::new)
                    .extend(metadata.labels.clone());
                if !metadata.annotations.is_empty() {
                    pod_metadata
                        .annotations
                        .get_or_insert_with(BTreeMap::new)
                        .extend(metadata.annotations.clone());
                }
            }
            let service = (template.weight.is_some() || template.service.is_some()).then(|| {
                TemplateService {
                    name: template
                        .service
                        .as_ref()
                        .map(|service| service.name.clone())
                        .unwrap_or_default(),
                }
            });
            ExperimentTemplate {
                name: template.name.clone(),
                replicas: template.replicas,
                min_ready_seconds: source.spec.min_ready_seconds,
                selector,
                template: pods,
                service,
            }
        })
        .collect();
    let analyses = step
        .analyses
        .iter()
        .zip(args.into_iter().chain(std::iter::repeat_with(Vec::new)))
        .map(|(analysis, args)| ExperimentAnalysis {
            name: analysis.name.clone(),
            template_name: analysis.template_name.clone(),
            cluster_scope: analysis.cluster_scope,
            args,
            required_for_completion: analysis.required_for_completion,
        })
        .collect();
    Experiment::new(
        name,
        ExperimentSpec {
            templates,
            duration: step.duration.clone(),
            progress_deadline_seconds,
            terminate: false,
            analyses,
            dry_run: step.dry_run.clone(),
            measurement_retention: Vec::new(),
            scale_down_delay_seconds: step.scale_down_delay_seconds,
            analysis_run_metadata: step.analysis_run_metadata.clone(),
        },
    )
}

#[cfg(test)]
mod tests;
