//! Reads what the engine needs to see around a Rollout: its ReplicaSets, the Services it
//! names, and its AnalysisRuns.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use std::collections::BTreeMap;

use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};

use super::crd::{AnalysisRun, Experiment, PodTemplateMetadata, Rollout};
use super::{Pod, ReplicaSet, Service, labels};
use crate::model::{
    AnalysisPhase, AnalysisRunState, ExperimentState, ExperimentTemplateState, PodMetadata,
    PodView, ReplicaSetView,
};

/// Reading the objects around a Rollout failed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// Listing the Rollout's ReplicaSets failed.
    #[error("list ReplicaSets of Rollout {namespace}/{rollout}")]
    ListReplicaSets {
        /// Namespace of the Rollout.
        namespace: String,
        /// The Rollout.
        rollout: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Reading a Service the Rollout names failed.
    #[error("get Service {namespace}/{service}")]
    GetService {
        /// Namespace of the Service.
        namespace: String,
        /// The Service.
        service: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Listing the pods of the Rollout's ReplicaSets failed.
    #[error("list pods of Rollout {namespace}/{rollout}")]
    ListPods {
        /// Namespace of the Rollout.
        namespace: String,
        /// The Rollout.
        rollout: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Listing the Rollout's AnalysisRuns failed.
    #[error("list AnalysisRuns of Rollout {namespace}/{rollout}")]
    ListAnalysisRuns {
        /// Namespace of the Rollout.
        namespace: String,
        /// The Rollout.
        rollout: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Listing the Rollout's Experiments failed.
    #[error("list Experiments of Rollout {namespace}/{rollout}")]
    ListExperiments {
        /// Namespace of the Rollout.
        namespace: String,
        /// The Rollout.
        rollout: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// What was observed around a Rollout, owned (the engine borrows it).
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// ReplicaSets the Rollout owns.
    pub replica_sets: Vec<ReplicaSetView>,
    /// Services the Rollout names that exist, with the hash their selector pins.
    pub services: BTreeMap<String, Option<String>>,
    /// AnalysisRuns the Rollout started.
    pub analysis_runs: Vec<AnalysisRunState>,
    /// Recorded AnalysisRun names held by runs that are not the Rollout's.
    pub foreign_runs: Vec<String>,
    /// Experiments the Rollout started.
    pub experiments: Vec<ExperimentState>,
    /// The name of the current revision's ReplicaSet is held by one that is not the
    /// Rollout's.
    pub replica_set_name_taken: bool,
}

/// What the engine needs looked up besides the Rollout's own objects: the AnalysisRun names
/// its status records, and the pod-template hash of its current revision.
#[derive(Clone, Copy, Debug)]
pub struct Lookups<'a> {
    /// The Services the Rollout names.
    pub services: &'a [&'a str],
    /// Names of the AnalysisRuns the status records.
    pub recorded_runs: &'a [&'a str],
    /// The current revision's pod-template hash.
    pub pod_hash: &'a str,
}

/// Reads the ReplicaSets and AnalysisRuns of `rollout`, the Services it names, and who holds
/// the names it needs that none of its own objects has.
pub async fn observe(
    client: &Client,
    rollout: &Rollout,
    lookups: &Lookups<'_>,
) -> Result<Observed, ObserveError> {
    let services = lookups.services;
    let namespace = rollout.namespace().unwrap_or_default();
    let name = rollout.name_any();
    let owned = ListParams::default().labels(&format!("{}={name}", labels::ROLLOUT));
    let is_ours = |owners: &[OwnerReference]| controlled_by(rollout, owners);

    let list_replica_sets = |source| ObserveError::ListReplicaSets {
        namespace: namespace.clone(),
        rollout: name.clone(),
        source,
    };
    let replica_set_api = Api::<ReplicaSet>::namespaced(client.clone(), &namespace);
    let replica_sets: Vec<ReplicaSetView> = replica_set_api
        .list(&owned)
        .await
        .map_err(list_replica_sets)?
        .items
        .iter()
        .filter(|rs| is_ours(rs.owner_references()))
        .filter_map(replica_set_view)
        .collect();
    let replica_set_name_taken = if replica_sets.iter().any(|rs| rs.hash == lookups.pod_hash) {
        false
    } else {
        let wanted = format!("{name}-{}", lookups.pod_hash);
        replica_set_api
            .get_opt(&wanted)
            .await
            .map_err(list_replica_sets)?
            .is_some_and(|rs| !is_ours(rs.owner_references()))
    };

    let mut observed_services = BTreeMap::new();
    let service_api = Api::<Service>::namespaced(client.clone(), &namespace);
    for &service in services {
        let found =
            service_api
                .get_opt(service)
                .await
                .map_err(|source| ObserveError::GetService {
                    namespace: namespace.clone(),
                    service: service.to_owned(),
                    source,
                })?;
        if let Some(found) = found {
            let selector = found
                .spec
                .and_then(|spec| spec.selector)
                .unwrap_or_default();
            observed_services.insert(
                service.to_owned(),
                selector.get(labels::POD_TEMPLATE_HASH).cloned(),
            );
        }
    }

    let list_runs = |source| ObserveError::ListAnalysisRuns {
        namespace: namespace.clone(),
        rollout: name.clone(),
        source,
    };
    let run_api = Api::<AnalysisRun>::namespaced(client.clone(), &namespace);
    let mut analysis_runs: Vec<AnalysisRunState> = run_api
        .list(&owned)
        .await
        .map_err(list_runs)?
        .items
        .iter()
        .filter(|run| is_ours(run.owner_references()))
        .map(run_view)
        .collect();
    // A recorded run missing from the list is either gone, someone else's, or ours without
    // our label (edited by hand): only a read tells.
    let mut foreign_runs = Vec::new();
    for &recorded in lookups.recorded_runs {
        if analysis_runs.iter().any(|run| run.name == recorded) {
            continue;
        }
        match run_api.get_opt(recorded).await.map_err(list_runs)? {
            Some(found) if is_ours(found.owner_references()) => {
                analysis_runs.push(run_view(&found));
            }
            Some(_) => foreign_runs.push(recorded.to_owned()),
            None => {}
        }
    }

    let experiments = observe_experiments(client, rollout, &owned).await?;
    Ok(Observed {
        replica_sets,
        services: observed_services,
        analysis_runs,
        foreign_runs,
        experiments,
        replica_set_name_taken,
    })
}

/// Whether `owners` name `rollout` as their controller.
fn controlled_by(rollout: &Rollout, owners: &[OwnerReference]) -> bool {
    let uid = rollout.uid();
    owners
        .iter()
        .any(|owner| Some(&owner.uid) == uid.as_ref() && owner.controller == Some(true))
}

/// The Experiments `rollout` owns (those labelled `owned` and owned by it).
async fn observe_experiments(
    client: &Client,
    rollout: &Rollout,
    owned: &ListParams,
) -> Result<Vec<ExperimentState>, ObserveError> {
    let namespace = rollout.namespace().unwrap_or_default();
    let listed = Api::<Experiment>::namespaced(client.clone(), &namespace)
        .list(owned)
        .await
        .map_err(|source| ObserveError::ListExperiments {
            namespace: namespace.clone(),
            rollout: rollout.name_any(),
            source,
        })?;
    Ok(listed
        .items
        .iter()
        .filter(|experiment| controlled_by(rollout, experiment.owner_references()))
        .map(|experiment| {
            let status = experiment.status.clone().unwrap_or_default();
            ExperimentState {
                name: experiment.name_any(),
                phase: status.phase,
                message: status.message,
                hash: pod_hash_label(experiment),
                created: experiment.creation_timestamp().map(|time| time.0),
                terminated: experiment.spec.terminate,
                templates: status
                    .template_statuses
                    .iter()
                    .map(|template| ExperimentTemplateState {
                        name: template.name.clone(),
                        service: template.service_name.clone(),
                        hash: template.pod_template_hash.clone(),
                    })
                    .collect(),
            }
        })
        .collect())
}

/// The revision an AnalysisRun or Experiment was made for (empty when unlabelled).
fn pod_hash_label(object: &impl ResourceExt) -> String {
    object
        .labels()
        .get(labels::POD_TEMPLATE_HASH)
        .cloned()
        .unwrap_or_default()
}

/// The engine's view of an AnalysisRun.
fn run_view(run: &AnalysisRun) -> AnalysisRunState {
    let status = run.status.as_ref();
    AnalysisRunState {
        name: run.name_any(),
        phase: status.map_or(AnalysisPhase::Pending, |status| status.phase),
        message: status
            .map(|status| status.message.clone())
            .unwrap_or_default(),
        hash: pod_hash_label(run),
        created: run.creation_timestamp().map(|time| time.0),
        terminated: run.spec.terminate,
        expected_by: run.expected_by(),
    }
}

/// The pods of `replica_sets` (by their pod-template hashes); needed only while a restart is
/// pending or a role has metadata for its pods.
pub async fn observe_pods(
    client: &Client,
    rollout: &Rollout,
    replica_sets: &[ReplicaSetView],
) -> Result<Vec<PodView>, ObserveError> {
    if replica_sets.is_empty() {
        return Ok(Vec::new());
    }
    let namespace = rollout.namespace().unwrap_or_default();
    let hashes: Vec<&str> = replica_sets.iter().map(|rs| rs.hash.as_str()).collect();
    let selector = format!("{} in ({})", labels::POD_TEMPLATE_HASH, hashes.join(","));
    let pods = Api::<Pod>::namespaced(client.clone(), &namespace)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| ObserveError::ListPods {
            namespace,
            rollout: rollout.name_any(),
            source,
        })?;
    Ok(pods
        .items
        .iter()
        .filter_map(|pod| {
            Some(PodView {
                name: pod.name_any(),
                hash: pod.labels().get(labels::POD_TEMPLATE_HASH)?.clone(),
                created: pod.metadata.creation_timestamp.as_ref()?.0,
                terminating: pod.metadata.deletion_timestamp.is_some(),
                metadata: PodMetadata {
                    labels: pod.labels().clone(),
                    annotations: pod.annotations().clone(),
                },
            })
        })
        .collect())
}

/// The engine's view of a ReplicaSet; `None` without a pod-template-hash label.
fn replica_set_view(rs: &ReplicaSet) -> Option<ReplicaSetView> {
    let hash = rs.labels().get(labels::POD_TEMPLATE_HASH)?.clone();
    let revision = rs
        .annotations()
        .get(labels::REVISION)
        .and_then(|revision| revision.parse().ok())
        .unwrap_or(0);
    let status = rs.status.clone().unwrap_or_default();
    Some(ReplicaSetView {
        name: rs.name_any(),
        hash,
        revision,
        spec: rs.spec.replicas.unwrap_or(1),
        replicas: status.replicas,
        ready: status.ready_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
        scale_down_deadline: rs
            .annotations()
            .get(labels::SCALE_DOWN_DEADLINE)
            .and_then(|deadline| deadline.parse().ok()),
        pod_metadata: rs
            .annotations()
            .get(labels::EPHEMERAL_METADATA)
            .and_then(|recorded| serde_json::from_str::<PodTemplateMetadata>(recorded).ok())
            .map(|recorded| PodMetadata {
                labels: recorded.labels,
                annotations: recorded.annotations,
            }),
        avoids: super::anti_affinity::avoided(
            rs.spec
                .template
                .as_ref()
                .and_then(|template| template.spec.as_ref())
                .and_then(|pod| pod.affinity.as_ref()),
        ),
    })
}
