//! The Deployment a Rollout's `workloadRef` names: read it (its template is the Rollout's),
//! and set its replicas as `scaleDown` decides. Thin I/O; the decisions are
//! `RolloutSpec::with_workload` and the engine's.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use super::ROLLOUT_FIELD_MANAGER;

/// The Deployment `name` in `namespace`, or `None` when there is none.
pub async fn read(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<Deployment>, kube::Error> {
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
}

/// Sets the Deployment's `spec.replicas`; the Rollout controller's field manager then owns
/// them, and sync leaves them alone (`sync::workload`).
pub async fn scale(
    client: &Client,
    namespace: &str,
    name: &str,
    replicas: i32,
) -> Result<(), kube::Error> {
    let params = PatchParams {
        field_manager: Some(ROLLOUT_FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .patch(
            name,
            &params,
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .map(drop)
}

/// The replicas a Deployment asks for (Kubernetes' default, 1, when unset).
#[must_use]
pub fn replicas(deployment: &Deployment) -> i32 {
    deployment.spec.replicas.unwrap_or(1)
}
