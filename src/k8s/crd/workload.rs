//! A `workloadRef` Rollout completed from its Deployment: the Deployment's pod template
//! becomes the Rollout's, verbatim (so the revision is the Deployment's template), and its
//! selector too unless the Rollout names one. Nothing of it is ever written back: the
//! Rollout in the API keeps only the reference.

use k8s_openapi::api::apps::v1::Deployment;

use super::RolloutSpec;

impl RolloutSpec {
    /// This spec with the pod template (and, when absent, the selector) of `deployment`.
    #[must_use]
    pub fn with_workload(&self, deployment: &Deployment) -> Self {
        let mut resolved = self.clone();
        let spec = &deployment.spec;
        resolved.template = Some(spec.template.clone());
        if resolved.selector.is_none() {
            resolved.selector = Some(spec.selector.clone());
        }
        resolved.template_from_workload = true;
        resolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ScaleDown;

    fn rollout(extra: &str) -> RolloutSpec {
        serde_saphyr::from_str(&format!(
            "replicas: 3\n\
             workloadRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}\n\
             strategy: {{canary: {{steps: [{{setWeight: 20}}]}}}}\n{extra}"
        ))
        .unwrap()
    }

    fn deployment(labels: &str, image: &str) -> Deployment {
        serde_saphyr::from_str(&format!(
            "metadata: {{name: web}}\n\
             spec:\n  \
               replicas: 4\n  \
               selector: {{matchLabels: {{app: web}}}}\n  \
               template:\n    \
                 metadata: {{labels: {labels}}}\n    \
                 spec: {{containers: [{{name: web, image: '{image}'}}]}}\n"
        ))
        .unwrap()
    }

    #[test]
    fn a_reference_without_template_or_selector_plans_until_the_deployment_is_read() {
        let plan = rollout("")
            .plan()
            .expect("a workloadRef Rollout is valid as written");
        let workload = plan.workload.expect("the plan names the Deployment");
        assert_eq!(workload.name, "web");
        assert_eq!(workload.scale_down, ScaleDown::Never);
        assert_eq!(rollout("").pod_template_hash(None), None);
    }

    #[test]
    fn the_deployment_gives_the_template_and_selector_and_its_revision() {
        let spec = rollout("");
        let resolved = spec.with_workload(&deployment("{app: web}", "web:1"));
        assert!(resolved.plan().is_ok(), "{:?}", resolved.plan());
        let selector = resolved.selector.as_ref().unwrap().match_labels.clone();
        assert_eq!(selector.unwrap()["app"], "web");
        let first = resolved.pod_template_hash(None).unwrap();
        let same = spec.with_workload(&deployment("{app: web}", "web:1"));
        let next = spec.with_workload(&deployment("{app: web}", "web:2"));
        assert_eq!(same.pod_template_hash(None).unwrap(), first);
        assert_ne!(next.pod_template_hash(None).unwrap(), first);
        // Nothing resolved reaches the API.
        let written = serde_json::to_value(&resolved).unwrap();
        assert!(written.get("templateFromWorkload").is_none(), "{written}");
    }

    #[test]
    fn a_selector_of_the_rollout_wins_and_must_match_the_deployments_labels() {
        let own = rollout("selector: {matchLabels: {app: web, track: main}}\n");
        let resolved = own.with_workload(&deployment("{app: web, track: main}", "web:1"));
        let labels = resolved.selector.as_ref().unwrap().match_labels.clone();
        assert_eq!(labels.unwrap().len(), 2);
        assert!(resolved.plan().is_ok());
        let mismatch = own.with_workload(&deployment("{app: web}", "web:1"));
        let errors = mismatch.plan().unwrap_err().to_string();
        assert!(
            errors.contains("spec.template.metadata.labels: do not match spec.selector"),
            "{errors}"
        );
    }

    #[test]
    fn bad_references_are_refused_at_their_field() {
        let both = rollout(
            "template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: x}]}}\n",
        );
        let errors = both.plan().unwrap_err().to_string();
        assert!(
            errors.contains("spec.template: must be empty when spec.workloadRef is set"),
            "{errors}"
        );
        let reference = |text: &str| -> String {
            let spec: RolloutSpec = serde_saphyr::from_str(&format!(
                "workloadRef: {text}\nstrategy: {{canary: {{}}}}\n"
            ))
            .unwrap();
            spec.plan().unwrap_err().to_string()
        };
        let kind = reference("{apiVersion: apps/v1, kind: StatefulSet, name: web}");
        assert!(
            kind.contains("spec.workloadRef: must reference an apps/v1 Deployment"),
            "{kind}"
        );
        let name = reference("{apiVersion: apps/v1, kind: Deployment}");
        assert!(
            name.contains("spec.workloadRef.name: is required"),
            "{name}"
        );
        let scale =
            reference("{apiVersion: apps/v1, kind: Deployment, name: web, scaleDown: always}");
        assert!(
            scale.contains("spec.workloadRef.scaleDown: must be never, onsuccess or progressively"),
            "{scale}"
        );
        for (text, wanted) in [
            ("onsuccess", ScaleDown::OnSuccess),
            ("progressively", ScaleDown::Progressively),
            ("never", ScaleDown::Never),
        ] {
            let spec = rollout("").with_workload(&deployment("{app: web}", "web:1"));
            let mut spec = spec;
            spec.workload_ref.as_mut().unwrap().scale_down = text.to_owned();
            assert_eq!(spec.plan().unwrap().workload.unwrap().scale_down, wanted);
        }
    }
}
