//! The objects an Experiment is made of, as pure functions of it: each template's
//! ReplicaSet and Service, and each analysis's AnalysisRun (from its templates' spec).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};
use kube::{Resource, ResourceExt};

use super::decide;
use crate::analysis::templates;
use crate::k8s::crd::{AnalysisRun, AnalysisRunSpec, Argument, Experiment, ExperimentTemplate};
use crate::k8s::{ObjectMeta, ReplicaSet, ReplicaSetSpec, Service, labels};

/// Label on every object an experiment creates: the experiment's name.
pub const EXPERIMENT_LABEL: &str = "tidegate.dev/experiment";
/// Argo's annotation naming the experiment, on its ReplicaSets and Services.
pub const NAME_ANNOTATION: &str = "experiment.argoproj.io/name";
/// Argo's annotation naming the template, on its ReplicaSets and Services.
pub const TEMPLATE_ANNOTATION: &str = "experiment.argoproj.io/template-name";
fn metadata(
    experiment: &Experiment,
    name: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: experiment.namespace(),
        labels: Some(labels),
        annotations: Some(annotations),
        owner_references: experiment
            .controller_owner_ref(&())
            .map(|owner| vec![owner]),
        ..ObjectMeta::default()
    }
}

fn annotations(experiment: &Experiment, template: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME_ANNOTATION.to_owned(), experiment.name_any()),
        (TEMPLATE_ANNOTATION.to_owned(), template.to_owned()),
    ])
}

/// A template's ReplicaSet, at 0 replicas: its pods labelled with the pod-template hash,
/// its selector narrowed by it.
#[must_use]
pub fn replica_set(experiment: &Experiment, template: &ExperimentTemplate) -> ReplicaSet {
    let name = experiment.name_any();
    let hash = pod_template_hash(template);
    let mut pods = template.template.clone();
    let pod_metadata = pods.metadata.get_or_insert_with(ObjectMeta::default);
    let pod_labels = pod_metadata.labels.get_or_insert_with(BTreeMap::new);
    pod_labels.insert(labels::POD_TEMPLATE_HASH.to_owned(), hash.clone());
    let mut replica_set_labels = pod_labels.clone();
    replica_set_labels.insert(EXPERIMENT_LABEL.to_owned(), name.clone());
    let mut selector = template.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(labels::POD_TEMPLATE_HASH.to_owned(), hash);
    ReplicaSet {
        metadata: metadata(
            experiment,
            decide::replica_set_name(&name, &template.name),
            replica_set_labels,
            annotations(experiment, &template.name),
        ),
        spec: ReplicaSetSpec {
            replicas: Some(0),
            min_ready_seconds: template.min_ready_seconds,
            selector,
            template: Some(pods),
        },
        status: None,
    }
}

/// A template's Service: its pods by their labels and hash, a port per container port.
#[must_use]
pub fn service(experiment: &Experiment, template: &ExperimentTemplate, name: &str) -> Service {
    let mut selector = template
        .template
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.labels.clone())
        .unwrap_or_default();
    selector.insert(
        labels::POD_TEMPLATE_HASH.to_owned(),
        pod_template_hash(template),
    );
    let ports = template
        .template
        .spec
        .iter()
        .flat_map(|pod| &pod.containers)
        .flat_map(|container| container.ports.iter().flatten())
        .map(|port| ServicePort {
            name: port.name.clone(),
            protocol: port.protocol.clone(),
            port: port.container_port,
            target_port: Some(
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(port.container_port),
            ),
            ..ServicePort::default()
        })
        .collect();
    let service_labels = BTreeMap::from([(EXPERIMENT_LABEL.to_owned(), experiment.name_any())]);
    Service {
        metadata: metadata(
            experiment,
            name.to_owned(),
            service_labels,
            annotations(experiment, &template.name),
        ),
        spec: Some(ServiceSpec {
            selector: Some(selector),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// An analysis's run `name`: `run_spec` (its templates' metrics, arguments, dry-run and
/// retention settings) with the analysis's arguments, the experiment's dry-run and retention
/// settings and run metadata, owned by the experiment.
#[must_use]
pub fn run(
    experiment: &Experiment,
    name: &str,
    args: &[Argument],
    mut run_spec: AnalysisRunSpec,
) -> AnalysisRun {
    let spec = &experiment.spec;
    templates::merge_args(&mut run_spec.args, args.to_vec());
    run_spec.dry_run.extend(spec.dry_run.iter().cloned());
    run_spec
        .measurement_retention
        .extend(spec.measurement_retention.iter().cloned());
    let run_metadata = spec.analysis_run_metadata.clone().unwrap_or_default();
    let mut run_labels = run_metadata.labels;
    run_labels.insert(EXPERIMENT_LABEL.to_owned(), experiment.name_any());
    let mut run_metadata = metadata(
        experiment,
        name.to_owned(),
        run_labels,
        run_metadata.annotations,
    );
    if run_metadata
        .annotations
        .as_ref()
        .is_some_and(BTreeMap::is_empty)
    {
        run_metadata.annotations = None;
    }
    AnalysisRun {
        metadata: run_metadata,
        spec: run_spec,
        status: None,
    }
}

/// Argo's pod-template hash of a template (its pods' template, as given).
fn pod_template_hash(template: &ExperimentTemplate) -> String {
    let bytes = serde_json::to_vec(&template.template).expect("a pod template serialises");
    crate::model::pod_template_hash(&bytes, None)
}
