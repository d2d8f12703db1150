//! Labels and annotations tidegate puts on the objects it manages — from Git, and for a
//! Rollout, with Argo Rollouts' names where Argo has one, so tools that know Argo read them too.

/// The source (in tidegate's configuration) an object was applied from: the inventory.
pub const SOURCE: &str = "tidegate.dev/source";

/// On a Rollout: the commit its spec was last applied from (set by the sync). On a
/// revision's ReplicaSet: the Rollout's commit when the revision was created — the commit
/// that brought the revision, kept in the cluster so any replica finds it.
pub const COMMIT: &str = "tidegate.dev/commit";

/// On a Rollout: its file in the repository, from the repository root (set by the sync).
pub const FILE: &str = "tidegate.dev/file";

/// On a Rollout: a break-glass promotion that bypassed Git (`tidegate promote --direct`):
/// `<who> <revision> <time>`.
pub const DIRECT_PROMOTION: &str = "tidegate.dev/direct-promotion";

/// On a Rollout: who aborted it with `tidegate abort`: `<who> <revision> <time>`.
pub const ABORTED_BY: &str = "tidegate.dev/aborted-by";

/// The pod-template hash of a revision, on its ReplicaSet, selector and pods.
pub const POD_TEMPLATE_HASH: &str = "rollouts-pod-template-hash";

/// The Rollout a ReplicaSet or AnalysisRun belongs to.
pub const ROLLOUT: &str = "tidegate.dev/rollout";

/// The revision number of a ReplicaSet.
pub const REVISION: &str = "rollout.argoproj.io/revision";

/// When an old ReplicaSet is to be scaled down (RFC 3339), as Argo writes it.
pub const SCALE_DOWN_DEADLINE: &str = "scale-down-deadline";

/// The role metadata (JSON `{"labels":…,"annotations":…}`) a ReplicaSet's template and
/// pods were given, as Argo records it, so that what was added can be taken away again.
pub const EPHEMERAL_METADATA: &str = "rollout.argoproj.io/ephemeral-metadata";

/// Which Rollout manages a Service's selector.
pub const MANAGED_BY: &str = "argo-rollouts.argoproj.io/managed-by-rollouts";

/// How an AnalysisRun was started (`Step`, `Background`, `PrePromotion`, `PostPromotion`).
pub const ROLLOUT_TYPE: &str = "rollout-type";

/// The canary step that started an AnalysisRun.
pub const STEP_INDEX: &str = "step-index";

/// A label selector in the string form of `kubectl -l` and of the scale subresource's
/// `status.selector`: `app=web,tier in (back,front),!canary` (kube's rendering; empty for a
/// selector the apiserver would refuse).
#[must_use]
pub fn selector_string(
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> String {
    kube::core::Selector::try_from(selector.clone())
        .map(|selector| selector.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_render_like_kubectl() {
        let selector = serde_saphyr::from_str(
            "matchLabels: {app: web}
matchExpressions:
- {key: tier, operator: In, values: [front, back]}
- {key: canary, operator: DoesNotExist}
- {key: zone, operator: Exists}
- {key: env, operator: NotIn, values: [dev]}",
        )
        .unwrap();
        assert_eq!(
            selector_string(&selector),
            "app=web,tier in (back,front),!canary,zone,env notin (dev)"
        );
    }
}
