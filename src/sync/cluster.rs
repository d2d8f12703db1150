//! The cluster side of sync: which API serves each kind, and server-side apply (real or dry
//! run), reads and deletes of arbitrary objects.
//!
//! In: objects as JSON with their API resource. Out: what the apiserver returned.

use std::collections::HashMap;

use kube::api::{
    ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, ValidationDirective,
};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, Scope};
use serde_json::Value;

use crate::k8s::{self, Api, Client, SYNC_FIELD_MANAGER};

/// How to reach one kind.
#[derive(Clone, Debug)]
pub struct Kind {
    /// The API resource.
    pub resource: ApiResource,
    /// Whether objects of the kind live in a namespace.
    pub namespaced: bool,
}

/// Finds the API resource of each kind, remembering answers (and forgetting them when a
/// kind may have appeared, after CRDs are applied).
#[derive(Clone, Default)]
pub struct Resolver {
    known: HashMap<(String, String), Kind>,
}

impl Resolver {
    /// The kind `kind` of `api_version`, or `Ok(None)` when the cluster does not serve it.
    pub async fn resolve(
        &mut self,
        client: &Client,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<Kind>, kube::Error> {
        let cache_key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self.known.get(&cache_key) {
            return Ok(Some(found.clone()));
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        match kube::discovery::pinned_kind(client, &gvk).await {
            Ok((resource, capabilities)) => {
                let found = Kind {
                    resource,
                    namespaced: is_namespaced(&capabilities),
                };
                self.known.insert(cache_key, found.clone());
                Ok(Some(found))
            }
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(kube::Error::Discovery(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Forgets what the cluster did not serve (new CRDs may serve it now).
    pub fn refresh(&mut self) {
        self.known.clear();
    }
}

fn is_namespaced(capabilities: &ApiCapabilities) -> bool {
    matches!(capabilities.scope, Scope::Namespaced)
}

/// The API for objects of `kind` in `namespace`.
#[must_use]
pub fn api(client: &Client, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
    match (kind.namespaced, namespace) {
        (true, Some(namespace)) => Api::namespaced_with(client.clone(), namespace, &kind.resource),
        _ => Api::all_with(client.clone(), &kind.resource),
    }
}

/// Server-side applies `object` as tidegate-sync, taking over fields others changed (Git
/// wins), refusing unknown fields; `dry_run` only asks the apiserver what it would store.
pub async fn apply(
    api: &Api<DynamicObject>,
    name: &str,
    object: &Value,
    dry_run: bool,
) -> Result<DynamicObject, kube::Error> {
    let mut params = PatchParams::apply(SYNC_FIELD_MANAGER).force();
    params.dry_run = dry_run;
    params.field_validation = Some(ValidationDirective::Strict);
    api.patch(name, &params, &Patch::Apply(object)).await
}

/// The live object, if it exists.
pub async fn get(
    api: &Api<DynamicObject>,
    name: &str,
) -> Result<Option<DynamicObject>, kube::Error> {
    api.get_opt(name).await
}

/// Deletes the object (in the background: dependents follow via garbage collection).
pub async fn delete(api: &Api<DynamicObject>, name: &str) -> Result<(), kube::Error> {
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}

/// Whether the apiserver refused the object itself (so trying again cannot help), rather than
/// being busy or unreachable. Server-side apply reports an object that does not fit its
/// schema as a 500 "failed to create typed patch object": that is a refusal too.
#[must_use]
pub fn is_refusal(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) if status.code == 500 => status
            .message
            .contains("failed to create typed patch object"),
        error => !k8s::is_transient(error),
    }
}

/// The apiserver's words for a refusal, without the transport's wrapping.
#[must_use]
pub fn refusal(error: &kube::Error) -> String {
    k8s::describe_error(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            message: message.into(),
            ..kube::core::Status::default()
        }))
    }

    #[test]
    fn refusals_are_told_from_trouble() {
        assert!(is_refusal(&api_error(422, "Service \"bad\" is invalid")));
        assert!(is_refusal(&api_error(
            500,
            "failed to create typed patch object (x): .spec.size: expected numeric"
        )));
        assert!(!is_refusal(&api_error(
            500,
            "etcdserver: request timed out"
        )));
        assert!(!is_refusal(&api_error(429, "too many requests")));
        let conflict = kube::Error::Api(Box::new(kube::core::Status {
            code: 409,
            reason: "Conflict".into(),
            ..kube::core::Status::default()
        }));
        assert!(!is_refusal(&conflict));
    }
}
