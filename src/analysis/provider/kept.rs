//! What providers fetch to authenticate (OAuth2 tokens, STS's temporary credentials), kept
//! until shortly before it expires. Keyed by a SHA-256 of everything that asked for it —
//! secrets included, never stored as such — so a rotated secret asks again. In memory only:
//! a new leader asks again.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

/// The digest that keys a kept value: of `parts`, each ended by a NUL.
pub fn key<'a>(parts: impl IntoIterator<Item = &'a str>) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    digest.finalize().into()
}

/// Values kept until their time.
pub struct Kept<V>(Mutex<HashMap<[u8; 32], (V, Timestamp)>>);

impl<V> Default for Kept<V> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<V: Clone> Kept<V> {
    /// The value kept under `key`, while `now` is before its time.
    pub fn get(&self, key: &[u8; 32], now: Timestamp) -> Option<V> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (value, until) = kept.get(key)?;
        (now < *until).then(|| value.clone())
    }

    /// Keeps `value` under `key` until `until` (nothing when that is not after `now`), and
    /// drops what is past its time.
    pub fn keep(&self, key: [u8; 32], value: &V, (until, now): (Timestamp, Timestamp)) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.retain(|_, (_, kept_until)| *kept_until > now);
        if until > now {
            kept.insert(key, (value.clone(), until));
        }
    }
}
