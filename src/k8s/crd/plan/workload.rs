//! `spec.workloadRef`: a Rollout whose pod template (and, unless it names its own, selector)
//! is a Deployment's. The reference is checked here; the controller reads the Deployment and
//! fills in the template ([`RolloutSpec::with_workload`]) before the template is checked.

use super::Check;
use crate::k8s::crd::RolloutSpec;
use crate::model::{ScaleDown, WorkloadPlan};

/// The only kind a Rollout may reference.
const KIND: &str = "Deployment";
/// Its API version.
const API_VERSION: &str = "apps/v1";

/// The Deployment `spec.workloadRef` names, or `None` (with the problems in `check`).
pub(super) fn read_workload(spec: &RolloutSpec, check: &mut Check) -> Option<WorkloadPlan> {
    let reference = spec.workload_ref.as_ref()?;
    if spec.template.is_some() && !spec.template_from_workload {
        check.fail(
            "spec.template",
            "must be empty when spec.workloadRef is set: the pod template is the referenced \
             Deployment's",
        );
    }
    if reference.kind != KIND || reference.api_version != API_VERSION {
        check.fail(
            "spec.workloadRef",
            format!(
                "must reference an {API_VERSION} {KIND}, not {:?} {:?} (the only kind tidegate \
                 takes a template from)",
                reference.api_version, reference.kind
            ),
        );
    }
    if reference.name.is_empty() {
        check.fail("spec.workloadRef.name", "is required");
    }
    let scale_down = match reference.scale_down.as_str() {
        "" | "never" => ScaleDown::Never,
        "onsuccess" => ScaleDown::OnSuccess,
        "progressively" => ScaleDown::Progressively,
        other => {
            check.fail(
                "spec.workloadRef.scaleDown",
                format!("must be never, onsuccess or progressively, got {other:?}"),
            );
            ScaleDown::Never
        }
    };
    Some(WorkloadPlan {
        name: reference.name.clone(),
        scale_down,
    })
}

/// Whether the template (and the selector, when absent) are still to come from a Deployment:
/// a spec as written in Git, not yet resolved by the controller.
pub(super) fn template_pending(spec: &RolloutSpec) -> bool {
    spec.workload_ref.is_some() && !spec.template_from_workload
}
