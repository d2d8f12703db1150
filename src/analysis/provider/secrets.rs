//! Provider credentials from Kubernetes Secrets, read when a measurement is taken (a rotated
//! key is used at the next one) and never kept: the Datadog, New Relic, InfluxDB and Wavefront
//! Secrets Argo reads from its own namespace are read from the daemon's.
//!
//! Values never reach a message: errors name the Secret and the key, not what they hold.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

/// The keys of one Secret, as text.
pub type Keys = BTreeMap<String, String>;

/// Where Secrets are read from.
pub trait SecretSource: Send + Sync {
    /// The keys of Secret `name` in `namespace`, or why they cannot be read.
    fn read<'a>(&'a self, namespace: &'a str, name: &'a str)
    -> BoxFuture<'a, Result<Keys, String>>;
}

/// The cluster's Secrets.
pub struct ClusterSecrets(pub kube::Client);

impl SecretSource for ClusterSecrets {
    fn read<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Keys, String>> {
        Box::pin(async move {
            let api = Api::<Secret>::namespaced(self.0.clone(), namespace);
            let secret = api.get(name).await.map_err(|error| {
                format!(
                    "read Secret {namespace}/{name}: {}",
                    crate::k8s::describe_error(&error)
                )
            })?;
            Ok(keys_of(&secret))
        })
    }
}

/// A Secret's keys whose values are UTF-8 (`stringData` is merged into `data` by the
/// apiserver; a client-side object may still carry it).
fn keys_of(secret: &Secret) -> Keys {
    let mut keys: Keys = secret
        .data
        .iter()
        .flatten()
        .filter_map(|(key, value)| {
            String::from_utf8(value.0.clone())
                .ok()
                .map(|text| (key.clone(), text))
        })
        .collect();
    keys.extend(secret.string_data.clone().unwrap_or_default());
    keys
}

/// The value of `key`, trimmed, if it is set and not blank.
#[must_use]
pub fn value<'a>(keys: &'a Keys, key: &str) -> Option<&'a str> {
    keys.get(key)
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
}

/// The value of `key` of Secret `secret`, or an error naming both.
pub fn required<'a>(keys: &'a Keys, key: &str, secret: &str) -> Result<&'a str, String> {
    value(keys, key).ok_or_else(|| format!("Secret {secret} has no key {key:?}"))
}

/// Secrets held in memory, for unit tests.
#[cfg(test)]
#[derive(Default)]
pub struct Fixed(pub BTreeMap<(String, String), Keys>);

#[cfg(test)]
impl Fixed {
    /// With Secret `namespace/name` holding `keys`.
    #[must_use]
    pub fn with(mut self, namespace: &str, name: &str, keys: &[(&str, &str)]) -> Self {
        self.0.insert(
            (namespace.to_owned(), name.to_owned()),
            keys.iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
        );
        self
    }
}

#[cfg(test)]
impl SecretSource for Fixed {
    fn read<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Keys, String>> {
        let found = self
            .0
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| format!("read Secret {namespace}/{name}: not found"));
        Box::pin(async move { found })
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;

    use super::*;

    #[test]
    fn keys_are_read_as_text_and_blank_ones_count_as_unset() {
        let secret = Secret {
            data: Some(BTreeMap::from([
                ("api-key".to_owned(), ByteString(b" k1 \n".to_vec())),
                ("binary".to_owned(), ByteString(vec![0xff, 0xfe])),
                ("blank".to_owned(), ByteString(b"  ".to_vec())),
            ])),
            string_data: Some(BTreeMap::from([("app-key".to_owned(), "k2".to_owned())])),
            ..Secret::default()
        };
        let keys = keys_of(&secret);
        assert_eq!(value(&keys, "api-key"), Some("k1"));
        assert_eq!(value(&keys, "app-key"), Some("k2"));
        assert_eq!(value(&keys, "binary"), None);
        assert_eq!(value(&keys, "blank"), None);
        assert_eq!(
            required(&keys, "blank", "datadog"),
            Err("Secret datadog has no key \"blank\"".to_owned())
        );
    }
}
