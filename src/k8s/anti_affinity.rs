//! The pod anti-affinity rule a ReplicaSet's template gets against the stable revision's
//! pods, written and read as Argo writes it (a `rollouts-pod-template-hash In (<stable>)`
//! term on `kubernetes.io/hostname`), beside whatever affinity the Rollout's template has.
//! Pure shaping; the executor sends it.

use k8s_openapi::api::core::v1::{
    Affinity, PodAffinityTerm, PodAntiAffinity, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::labels;
use crate::model::{AntiAffinity, AvoidRevision};

/// Pods of the same revision on one node count as sharing it.
const TOPOLOGY_KEY: &str = "kubernetes.io/hostname";

/// `template`'s affinity (the Rollout's) with the rule `avoid` added: the ReplicaSet
/// template's affinity.
#[must_use]
pub fn with_rule(template: Option<&Affinity>, avoid: &AvoidRevision, namespace: &str) -> Affinity {
    let mut affinity = template.cloned().unwrap_or_default();
    let anti = affinity
        .pod_anti_affinity
        .get_or_insert_with(PodAntiAffinity::default);
    let term = PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: labels::POD_TEMPLATE_HASH.to_owned(),
                operator: "In".to_owned(),
                values: Some(vec![avoid.hash.clone()]),
            }]),
            match_labels: None,
        }),
        namespaces: Some(vec![namespace.to_owned()]),
        topology_key: TOPOLOGY_KEY.to_owned(),
        ..PodAffinityTerm::default()
    };
    match avoid.rule {
        AntiAffinity::Preferred { weight } => anti
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: term,
            }),
        AntiAffinity::Required => anti
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(term),
    }
    affinity
}

/// The revision an injected rule in `affinity` avoids, if it has one.
#[must_use]
pub fn avoided(affinity: Option<&Affinity>) -> Option<String> {
    let anti = affinity?.pod_anti_affinity.as_ref()?;
    let preferred = anti
        .preferred_during_scheduling_ignored_during_execution
        .iter()
        .flatten()
        .map(|weighted| &weighted.pod_affinity_term);
    let required = anti
        .required_during_scheduling_ignored_during_execution
        .iter()
        .flatten();
    preferred
        .chain(required)
        .filter_map(|term| term.label_selector.as_ref()?.match_expressions.as_ref())
        .flatten()
        .find(|requirement| requirement.key == labels::POD_TEMPLATE_HASH)
        .and_then(|requirement| requirement.values.as_ref()?.first().cloned())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::NodeAffinity;

    use super::*;

    fn avoid(rule: AntiAffinity, hash: &str) -> AvoidRevision {
        AvoidRevision {
            rule,
            hash: hash.to_owned(),
        }
    }

    #[test]
    fn a_preferred_rule_is_written_as_argo_writes_it() {
        let affinity = with_rule(
            None,
            &avoid(AntiAffinity::Preferred { weight: 40 }, "v1"),
            "shop",
        );
        assert_eq!(
            serde_json::to_value(&affinity).unwrap(),
            serde_json::json!({ "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{
                    "weight": 40,
                    "podAffinityTerm": {
                        "labelSelector": { "matchExpressions": [{
                            "key": "rollouts-pod-template-hash",
                            "operator": "In",
                            "values": ["v1"],
                        }]},
                        "namespaces": ["shop"],
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }],
            }})
        );
        assert_eq!(avoided(Some(&affinity)).as_deref(), Some("v1"));
    }

    #[test]
    fn a_required_rule_joins_the_templates_own_affinity() {
        let own = Affinity {
            node_affinity: Some(NodeAffinity::default()),
            pod_anti_affinity: Some(PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                    topology_key: "zone".into(),
                    ..PodAffinityTerm::default()
                }]),
                ..PodAntiAffinity::default()
            }),
            ..Affinity::default()
        };
        let affinity = with_rule(Some(&own), &avoid(AntiAffinity::Required, "v2"), "shop");
        assert!(affinity.node_affinity.is_some(), "kept");
        let terms = affinity
            .pod_anti_affinity
            .as_ref()
            .and_then(|anti| {
                anti.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .unwrap();
        assert_eq!(terms.len(), 2);
        assert_eq!(
            terms[0].topology_key, "zone",
            "the template's own term first"
        );
        assert_eq!(avoided(Some(&affinity)).as_deref(), Some("v2"));
        assert_eq!(
            avoided(Some(&own)),
            None,
            "a term without the hash is not ours"
        );
        assert_eq!(avoided(None), None);
    }
}
