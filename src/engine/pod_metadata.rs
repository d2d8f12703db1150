//! Role metadata (Argo's ephemeral metadata): the labels and annotations that mark the pods
//! of the revision being rolled out (`canaryMetadata`, `previewMetadata`) and of the stable
//! one (`stableMetadata`, `activeMetadata`). They change without a new revision, and move
//! from one role to the other when the update is promoted.

use std::collections::BTreeMap;

use super::effect::Effect;
use super::pass::Pass;
use crate::model::{PodMetadata, PodView, ReplicaSetView};

/// Labels or annotations, by key.
type Keyed = BTreeMap<String, String>;

impl Pass<'_> {
    /// Gives the current and the stable ReplicaSet — template and pods — the metadata of
    /// their role, and takes it away from every other ReplicaSet's template. A ReplicaSet
    /// whose template is right but whose pods are not (a pod created meanwhile, an earlier
    /// pass stopped half-way) is asked for again.
    pub(super) fn sync_pod_metadata(&mut self) {
        let stable = self.next.stable_hash.as_deref();
        let mut effects = Vec::new();
        for rs in self.observed.replica_sets {
            let (desired, with_pods) = if rs.hash == self.observed.pod_hash {
                (self.new_pod_metadata(), true)
            } else if stable == Some(rs.hash.as_str()) {
                (non_empty(self.plan.role_metadata.stable.as_ref()), true)
            } else {
                // As Argo: old revisions only lose it from their template; their pods are
                // on their way out.
                (None, false)
            };
            let pods: Vec<String> = if with_pods {
                stale_pods(self.observed.pods, rs, desired.as_ref())
            } else {
                Vec::new()
            };
            if rs.pod_metadata != desired || !pods.is_empty() {
                effects.push(Effect::SetPodMetadata {
                    name: rs.name.clone(),
                    previous: rs.pod_metadata.clone(),
                    desired,
                    pods,
                });
            }
        }
        self.effects.extend(effects);
    }

    /// The metadata of the current revision's role: the stable one once it is stable (or
    /// the first), else the updated one.
    pub(super) fn new_pod_metadata(&self) -> Option<PodMetadata> {
        let roles = &self.plan.role_metadata;
        let role = if self.next.stable_hash.is_none() || self.is_stable_current() {
            &roles.stable
        } else {
            &roles.updated
        };
        non_empty(role.as_ref())
    }
}

fn non_empty(metadata: Option<&PodMetadata>) -> Option<PodMetadata> {
    metadata.filter(|metadata| !metadata.is_empty()).cloned()
}

/// The live pods of `rs` that lack part of `desired`, or still carry a key that the
/// ReplicaSet's recorded metadata gave them and `desired` does not.
fn stale_pods(pods: &[PodView], rs: &ReplicaSetView, desired: Option<&PodMetadata>) -> Vec<String> {
    let empty = PodMetadata::default();
    let desired = desired.unwrap_or(&empty);
    let previous = rs.pod_metadata.as_ref().unwrap_or(&empty);
    pods.iter()
        .filter(|pod| pod.hash == rs.hash && !pod.terminating)
        .filter(|pod| {
            !carries(&pod.metadata, desired)
                || carries_any_removed(&pod.metadata, previous, desired)
        })
        .map(|pod| pod.name.clone())
        .collect()
}

/// Whether `pod` has every label and annotation of `wanted`, with its value.
fn carries(pod: &PodMetadata, wanted: &PodMetadata) -> bool {
    let has_all =
        |have: &Keyed, want: &Keyed| want.iter().all(|(key, value)| have.get(key) == Some(value));
    has_all(&pod.labels, &wanted.labels) && has_all(&pod.annotations, &wanted.annotations)
}

/// Whether `pod` still has a key that `previous` added and `desired` no longer wants.
fn carries_any_removed(pod: &PodMetadata, previous: &PodMetadata, desired: &PodMetadata) -> bool {
    let removed = |have: &Keyed, before: &Keyed, now: &Keyed| {
        before
            .keys()
            .any(|key| !now.contains_key(key) && have.contains_key(key))
    };
    removed(&pod.labels, &previous.labels, &desired.labels)
        || removed(
            &pod.annotations,
            &previous.annotations,
            &desired.annotations,
        )
}
