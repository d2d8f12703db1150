//! Checks across the objects of one render: every Service a Rollout names (canary, stable,
//! ping, pong, active, preview) must select the Rollout's pods — each key of its selector,
//! except the pod-template hash the controller pins, is a label of the pod template with the
//! same value, as `kubectl argo rollouts lint` checks referenced Services. Such a Service
//! would otherwise send its traffic to no pod, or to someone else's. The pod template of a
//! Rollout with a `workloadRef` is its Deployment's, when the render has it. Services and
//! Deployments in another source cannot be seen here and are not checked.

use serde_json::Value;

use super::path::FieldPath;
use super::{Manifest, Problem, problem};
use crate::k8s::{crd, labels};

/// Where, under `spec.strategy`, a Rollout names a Service it manages.
const SERVICE_FIELDS: [&[&str]; 6] = [
    &["canary", "canaryService"],
    &["canary", "stableService"],
    &["canary", "pingPong", "pingService"],
    &["canary", "pingPong", "pongService"],
    &["blueGreen", "activeService"],
    &["blueGreen", "previewService"],
];

/// Adds a problem for each selector key of a referenced Service the pod template does not
/// carry with that value.
pub(super) fn service_selectors(manifests: &[Manifest], problems: &mut Vec<Problem>) {
    for rollout in manifests.iter().filter(|m| is(m, crd::GROUP, "Rollout")) {
        let Some(pod_labels) = pod_template(manifests, rollout)["metadata"]["labels"].as_object()
        else {
            continue;
        };
        for (field, service_name) in referenced_services(&rollout.object) {
            let found = manifests.iter().find(|m| {
                is(m, "", "Service")
                    && m.key.namespace == rollout.key.namespace
                    && m.key.name == service_name
            });
            let Some(service) = found else { continue };
            let selector = service.object["spec"]["selector"].as_object();
            for (key, wanted) in selector.into_iter().flatten() {
                if key == labels::POD_TEMPLATE_HASH || pod_labels.get(key) == Some(wanted) {
                    continue;
                }
                let has = match pod_labels.get(key) {
                    Some(value) => format!("has {key}={}", shown(value)),
                    None => format!("has no label {key:?}"),
                };
                let at = FieldPath::default().key("spec").key("selector").key(key);
                problems.push(problem(
                    &service.origin.file,
                    Some(service.origin.line),
                    Some(&at),
                    format!(
                        "Service {service_name:?} selects {key}={}, but the pod template of \
                         Rollout {:?} ({}), whose {field} it is, {has}: the Service would not \
                         select the Rollout's pods",
                        shown(wanted),
                        rollout.key.name,
                        rollout.origin,
                    ),
                ));
            }
        }
    }
}

/// The Rollout's pod template: its own, or that of the Deployment its `workloadRef` names
/// when that is in the render (`null` otherwise).
fn pod_template<'m>(manifests: &'m [Manifest], rollout: &'m Manifest) -> &'m Value {
    let reference = &rollout.object["spec"]["workloadRef"];
    let Some(name) = reference["name"].as_str() else {
        return &rollout.object["spec"]["template"];
    };
    manifests
        .iter()
        .find(|m| {
            is(m, "apps", "Deployment")
                && m.key.namespace == rollout.key.namespace
                && m.key.name == name
        })
        .map_or(
            &Value::Null,
            |deployment| &deployment.object["spec"]["template"],
        )
}

/// `file:line: field: warning: message` for each Deployment that is a Rollout's pod template
/// (`workloadRef`) and keeps pods of its own while the Rollout leaves it alone
/// (`scaleDown: never`, the default): the Deployment's own rolling update would serve every
/// new template to users, past the Rollout's steps and analysis.
#[must_use]
pub fn workload_warnings(manifests: &[Manifest]) -> Vec<String> {
    let mut found = Vec::new();
    for rollout in manifests.iter().filter(|m| is(m, crd::GROUP, "Rollout")) {
        let reference = &rollout.object["spec"]["workloadRef"];
        let (Some(name), scale_down) = (
            reference["name"].as_str(),
            reference["scaleDown"].as_str().unwrap_or_default(),
        ) else {
            continue;
        };
        if !matches!(scale_down, "" | "never") {
            continue;
        }
        let deployment = manifests.iter().find(|m| {
            is(m, "apps", "Deployment")
                && m.key.namespace == rollout.key.namespace
                && m.key.name == name
        });
        let Some(deployment) = deployment else {
            continue;
        };
        // Kubernetes' default is 1.
        let replicas = deployment.object["spec"]["replicas"].as_i64().unwrap_or(1);
        if replicas > 0 {
            found.push(format!(
                "{}:{}: spec.replicas: warning: Deployment {name:?} is the pod template of \
                 Rollout {:?} ({}), which never scales it down, yet it runs {replicas} \
                 replica(s) of its own: its rolling update would serve every new template to \
                 users past the Rollout's steps and analysis; set replicas: 0, or \
                 workloadRef.scaleDown: progressively or onsuccess",
                deployment.origin.file, deployment.origin.line, rollout.key.name, rollout.origin,
            ));
        }
    }
    found
}

fn is(manifest: &Manifest, group: &str, kind: &str) -> bool {
    manifest.key.group == group && manifest.key.kind == kind
}

/// (field, Service name) of each Service the Rollout's strategy names.
fn referenced_services(rollout: &Value) -> Vec<(String, String)> {
    let strategy = &rollout["spec"]["strategy"];
    SERVICE_FIELDS
        .iter()
        .filter_map(|segments| {
            let named = segments.iter().fold(strategy, |value, key| &value[*key]);
            let name = named.as_str().filter(|name| !name.is_empty())?;
            Some((
                format!("spec.strategy.{}", segments.join(".")),
                name.to_owned(),
            ))
        })
        .collect()
}

fn shown(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), ToOwned::to_owned)
}
