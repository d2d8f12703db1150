//! The one facade for Kubernetes types and clients: the rest of tidegate writes
//! `use crate::k8s;` and then `k8s::ReplicaSet`, `k8s::Client`, never `k8s_openapi::...`.
//!
//! In: a kubeconfig (file or in-cluster). Out: a [`Client`], the API types tidegate uses,
//! tidegate's own custom resources ([`crd`]) and what is observed around a Rollout.

mod act;
pub mod anti_affinity;
mod api_error;
mod client;
pub mod crd;
pub mod downward;
pub mod events;
pub mod field_path;
pub mod labels;
mod observe;
pub mod pod_metadata;
pub mod shutdown;
pub mod workload;

pub use act::{ActError, act};
pub use api_error::{already_exists, describe_error, is_conflict, is_transient};
pub use client::{ConnectError, connect};
pub use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec, ReplicaSetStatus};
pub use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, Node, Pod, PodSpec, PodTemplateSpec, Service, ServiceAccount,
    ServicePort, ServiceSpec,
};
pub use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
pub use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
pub use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
pub use kube::{Api, Client, Config, Resource, ResourceExt};
pub use observe::{Lookups, ObserveError, Observed, observe, observe_pods};

/// Which namespaces a controller manages.
#[derive(Clone, Debug)]
pub enum Scope {
    /// Every namespace.
    Cluster,
    /// One namespace.
    Namespace(String),
}

/// Field manager for objects applied from Git with server-side apply.
pub const SYNC_FIELD_MANAGER: &str = "tidegate-sync";

/// Field manager for the fields the rollout engine drives (replicas, selectors, weights).
pub const ROLLOUT_FIELD_MANAGER: &str = "tidegate-rollout";

k8s_openapi::k8s_if_1_33! { /// Kubernetes API level of the compiled-in types.
pub const API_VERSION: &str = "1.33"; }
k8s_openapi::k8s_if_1_34! { /// Kubernetes API level of the compiled-in types.
pub const API_VERSION: &str = "1.34"; }
k8s_openapi::k8s_if_1_35! { /// Kubernetes API level of the compiled-in types.
pub const API_VERSION: &str = "1.35"; }
k8s_openapi::k8s_if_1_36! { /// Kubernetes API level of the compiled-in types.
pub const API_VERSION: &str = "1.36"; }
k8s_openapi::k8s_if_1_37! { /// Kubernetes API level of the compiled-in types.
pub const API_VERSION: &str = "1.37"; }
