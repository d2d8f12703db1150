//! The order objects are applied in: what others depend on first (Namespaces, CRDs, then
//! accounts and policies, configuration, Services), workloads after, tidegate's Rollouts
//! last so their templates, Services and analysis templates exist when they start.

use crate::manifest::ObjectKey;

/// Kinds in apply order; anything unlisted goes between the listed workloads and Rollouts.
const ORDER: [&str; 31] = [
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
];

/// Where `key` goes in the apply order (lower first).
#[must_use]
pub fn rank(key: &ObjectKey) -> usize {
    let tidegate = key.group == crate::k8s::crd::GROUP;
    match key.kind.as_str() {
        "AnalysisTemplate" | "ClusterAnalysisTemplate" if tidegate => ORDER.len() + 1,
        "Rollout" if tidegate => ORDER.len() + 2,
        kind => ORDER
            .iter()
            .position(|known| *known == kind)
            .unwrap_or(ORDER.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(group: &str, kind: &str) -> ObjectKey {
        ObjectKey {
            group: group.into(),
            kind: kind.into(),
            namespace: None,
            name: "x".into(),
        }
    }

    #[test]
    fn dependencies_come_first_and_rollouts_last() {
        let mut keys = [
            key("tidegate.dev", "Rollout"),
            key("apps", "Deployment"),
            key("example.com", "Widget"),
            key("tidegate.dev", "AnalysisTemplate"),
            key("", "Service"),
            key("apiextensions.k8s.io", "CustomResourceDefinition"),
            key("", "ConfigMap"),
            key("", "Namespace"),
        ];
        keys.sort_by_key(rank);
        let kinds: Vec<&str> = keys.iter().map(|key| key.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "ConfigMap",
                "CustomResourceDefinition",
                "Service",
                "Deployment",
                "Widget",
                "AnalysisTemplate",
                "Rollout"
            ]
        );
    }
}
