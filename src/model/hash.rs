//! The pod-template hash that names a Rollout's ReplicaSets and pins Service selectors, in
//! Argo Rollouts' scheme: FNV-1a (32 bit) over the serialised template, optionally followed by
//! the collision count, written in decimal with each digit mapped to a letter or digit that
//! cannot form words (`0`→`4` … `9`→`f`).
//!
//! The input is tidegate's JSON serialisation of the template, not Go's, so the hashes differ
//! from those Argo Rollouts computes for the same template (see docs/rollouts.md).

/// FNV-1a 32-bit offset basis and prime.
const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// The hash of a pod template's serialised form; `collision_count` (the Rollout's
/// `status.collisionCount`) changes it when a ReplicaSet name is already taken.
#[must_use]
pub fn pod_template_hash(serialized_template: &[u8], collision_count: Option<i32>) -> String {
    let mut hash = fnv1a(FNV_OFFSET, serialized_template);
    if let Some(count) = collision_count {
        // As Argo: the count as a little-endian uint32, then four zero bytes.
        hash = fnv1a(hash, &count.cast_unsigned().to_le_bytes());
        hash = fnv1a(hash, &[0; 4]);
    }
    safe_encode(hash)
}

/// The hash of a canary's serialised steps: a change restarts the steps.
#[must_use]
pub fn steps_hash(serialized_steps: &[u8]) -> String {
    safe_encode(fnv1a(FNV_OFFSET, serialized_steps))
}

fn fnv1a(mut hash: u32, bytes: &[u8]) -> u32 {
    for &byte in bytes {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// The decimal form with each digit replaced as Kubernetes' `rand.SafeEncodeString` does.
fn safe_encode(hash: u32) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string()
        .bytes()
        .map(|digit| char::from(ALPHANUMS[usize::from(digit) % ALPHANUMS.len()]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0x811c_9dc5);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn digits_map_to_unambiguous_characters() {
        assert_eq!(safe_encode(1_234_567_890), "56789bcdf4");
        assert_eq!(safe_encode(0), "4");
        // 0x811c9dc5 = 2166136261
        assert_eq!(steps_hash(b""), "65bb57b6b5");
    }

    #[test]
    fn collision_count_changes_the_hash() {
        let template = br#"{"metadata":{"labels":{"app":"web"}}}"#;
        let plain = pod_template_hash(template, None);
        let first = pod_template_hash(template, Some(1));
        let second = pod_template_hash(template, Some(2));
        assert_ne!(plain, first);
        assert_ne!(first, second);
        assert_eq!(first, pod_template_hash(template, Some(1)));
    }

    #[test]
    fn different_templates_hash_differently() {
        let a = pod_template_hash(br#"{"image":"web:1"}"#, None);
        let b = pod_template_hash(br#"{"image":"web:2"}"#, None);
        assert_ne!(a, b);
    }
}
