//! Kubernetes Events (`events.k8s.io/v1`) with names of our own choosing.
//!
//! kube-runtime's `Recorder` keys an Event by its object, reason and action but not its note,
//! so a second Event of the same reason within minutes only raises the first one's count and
//! its message is lost. Here each Event is named after the object it is about and a key —
//! its reason and note, unless the caller names an occurrence itself (a sequence number) —
//! so every distinct message is its own Event, and publishing the same Event again (after a
//! restart, or a retry) is harmless: the apiserver says it exists.
//!
//! In: the object an Event is about and what to say. Out: Event objects.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as KubeEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::PostParams;
use kube::{Api, Client};

use super::ObjectMeta;

/// The longest note the apiserver accepts (bytes).
const MAX_NOTE_BYTES: usize = 1024;
/// Names are DNS subdomains: 253 characters at most; the object's name part is cut to leave
/// room for the key.
const MAX_NAME_PREFIX: usize = 200;

/// One Event to publish.
#[derive(Clone, Copy, Debug)]
pub struct Note<'a> {
    /// A Warning rather than a Normal event.
    pub warning: bool,
    /// Machine-readable reason (`RolloutStepCompleted`).
    pub reason: &'a str,
    /// What happened, for people.
    pub message: &'a str,
    /// What was done (`Reconcile`, `Sync`).
    pub action: &'a str,
}

/// Publishes Events as one controller (`reportingController`) of one replica
/// (`reportingInstance`).
#[derive(Clone)]
pub struct Publisher {
    client: Client,
    controller: String,
    instance: String,
}

impl Publisher {
    /// A publisher for `controller`, naming this replica by `$HOSTNAME` (the pod's name).
    #[must_use]
    pub fn new(client: Client, controller: &str) -> Self {
        let instance = std::env::var("HOSTNAME")
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "tidegate".to_owned());
        Self {
            client,
            controller: controller.to_owned(),
            instance: truncate(&instance, 128).to_owned(),
        }
    }

    /// Publishes `note` about `regarding`, once per distinct reason and message.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        note: &Note<'_>,
    ) -> Result<(), kube::Error> {
        let key = format!("{}\n{}", note.reason, note.message);
        self.publish_keyed(regarding, &key, note).await
    }

    /// Publishes `note` about `regarding` as the occurrence named `key`: the same key is
    /// the same Event, whatever its message.
    pub async fn publish_keyed(
        &self,
        regarding: &ObjectReference,
        key: &str,
        note: &Note<'_>,
    ) -> Result<(), kube::Error> {
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let event = KubeEvent {
            metadata: ObjectMeta {
                name: Some(event_name(regarding, key)),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(jiff::Timestamp::now())),
            action: Some(truncate(note.action, 128).to_owned()),
            reason: Some(truncate(note.reason, 128).to_owned()),
            note: Some(truncate(note.message, MAX_NOTE_BYTES).to_owned()),
            type_: Some(if note.warning { "Warning" } else { "Normal" }.to_owned()),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..KubeEvent::default()
        };
        let api = Api::<KubeEvent>::namespaced(self.client.clone(), &namespace);
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => Ok(()),
            Err(error) if super::already_exists(&error) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

/// `<object>.<16 hex digits>`: the digits are a hash of the object's uid (or name) and `key`,
/// so one occurrence has one name, and names of different objects do not meet.
#[must_use]
pub fn event_name(regarding: &ObjectReference, key: &str) -> String {
    let object = regarding.name.as_deref().unwrap_or("object");
    let identity = regarding.uid.as_deref().unwrap_or(object);
    let digest = fnv1a64(&[identity.as_bytes(), b"\n", key.as_bytes()]);
    let prefix = truncate(object, MAX_NAME_PREFIX).trim_end_matches(['.', '-']);
    format!("{prefix}.{digest:016x}")
}

fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|part| part.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(name: &str, uid: &str) -> ObjectReference {
        ObjectReference {
            name: Some(name.into()),
            uid: Some(uid.into()),
            namespace: Some("shop".into()),
            ..ObjectReference::default()
        }
    }

    #[test]
    fn one_occurrence_has_one_name_and_others_have_others() {
        let web = rollout("web", "u-1");
        let first = event_name(&web, "RolloutStepCompleted\nRollout step 1/3 completed");
        assert_eq!(
            first,
            event_name(&web, "RolloutStepCompleted\nRollout step 1/3 completed")
        );
        assert_ne!(
            first,
            event_name(&web, "RolloutStepCompleted\nRollout step 2/3 completed")
        );
        assert_ne!(
            first,
            event_name(
                &rollout("web", "u-2"),
                "RolloutStepCompleted\nRollout step 1/3 completed"
            ),
            "a Rollout of the same name created again is another object"
        );
        assert!(first.starts_with("web."), "{first}");
    }

    #[test]
    fn names_stay_valid_for_long_object_names() {
        let long = "a".repeat(250);
        let name = event_name(&rollout(&long, "u"), "k");
        assert!(name.len() <= 253, "{}", name.len());
        let dashed = format!("{}-{}", "a".repeat(199), "b");
        let name = event_name(&rollout(&dashed, "u"), "k");
        assert!(!name.contains("-."), "{name}");
    }

    #[test]
    fn notes_are_cut_at_a_character_boundary() {
        let text = "é".repeat(600);
        let cut = truncate(&text, MAX_NOTE_BYTES);
        assert!(cut.len() <= MAX_NOTE_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
