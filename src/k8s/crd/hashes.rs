//! The hashes that identify a Rollout's revision and steps, computed from its spec.

use super::RolloutSpec;
use crate::model::{pod_template_hash, steps_hash};

impl RolloutSpec {
    /// The pod-template hash of the current template; `collision_count` is
    /// `status.collisionCount`. `None` without a template.
    #[must_use]
    pub fn pod_template_hash(&self, collision_count: Option<i32>) -> Option<String> {
        let template = self.template.as_ref()?;
        let bytes = serde_json::to_vec(template).expect("a pod template always serialises to JSON");
        Some(pod_template_hash(&bytes, collision_count))
    }

    /// The hash of the canary steps (of nothing for blue-green): a change restarts the steps.
    #[must_use]
    pub fn steps_hash(&self) -> String {
        let steps = self.strategy.canary.as_ref().map(|canary| &canary.steps);
        let bytes = serde_json::to_vec(&steps).expect("steps always serialise to JSON");
        steps_hash(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(image: &str, weight: i32) -> RolloutSpec {
        serde_saphyr::from_str(&format!(
            "template:
  metadata: {{labels: {{app: web}}}}
  spec: {{containers: [{{name: web, image: '{image}'}}]}}
strategy:
  canary: {{steps: [{{setWeight: {weight}}}]}}"
        ))
        .unwrap()
    }

    #[test]
    fn the_template_decides_the_pod_hash() {
        let base = spec("web:1", 20).pod_template_hash(None);
        assert_eq!(
            base,
            spec("web:1", 50).pod_template_hash(None),
            "steps do not matter"
        );
        assert_ne!(base, spec("web:2", 20).pod_template_hash(None));
        assert_ne!(base, spec("web:1", 20).pod_template_hash(Some(1)));
    }

    #[test]
    fn the_steps_decide_the_steps_hash() {
        assert_eq!(
            spec("web:1", 20).steps_hash(),
            spec("web:2", 20).steps_hash()
        );
        assert_ne!(
            spec("web:1", 20).steps_hash(),
            spec("web:1", 50).steps_hash()
        );
    }
}
