//! Support for tests that run against the real control plane started by `scripts/testenv`.
//!
//! In: `TIDEGATE_TEST_KUBECONFIG` (set by `scripts/test`, or `eval "$(scripts/testenv env)"`).
//! Out: a client, a namespace of the test's own that is deleted when it goes out of scope,
//! and helpers that wait on conditions rather than for fixed times.

#![allow(dead_code)] // Each test binary uses a different part of the support code.

pub mod charts;
pub mod daemon;
pub mod git;
pub mod gitea;
pub mod graphite;
pub mod http;
pub mod influxdb;
pub mod prometheus;
pub mod rollout;
pub mod routers;
pub mod traffic;

use std::ffi::OsString;
use std::fmt::Debug;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use kube::runtime::wait::{Condition, await_condition, conditions};
use serde::de::DeserializeOwned;
use tidegate::k8s;

/// The environment variable that points the tests at the control plane.
pub const KUBECONFIG_ENV: &str = "TIDEGATE_TEST_KUBECONFIG";

/// A generous default for waits on the control plane: 2 cores may be busy compiling.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Label put on every namespace a test creates, so leftovers can be found.
pub const TEST_LABEL: &str = "tidegate.dev/test";

/// The kubeconfig path from the variable's value, or instructions for starting the cluster.
pub fn kubeconfig_from(value: Option<OsString>) -> Result<PathBuf, String> {
    match value {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(format!(
            "{KUBECONFIG_ENV} is not set: this test needs the local control plane.\n\
             Run the whole suite with `scripts/test`, or start the cluster yourself:\n\
             \n    scripts/testenv up && eval \"$(scripts/testenv env)\"\n\
             \nthen run `cargo test --test e2e`. See docs/testing.md."
        )),
    }
}

/// The testenv kubeconfig; panics with instructions when the control plane is not configured.
pub fn kubeconfig() -> PathBuf {
    kubeconfig_from(std::env::var_os(KUBECONFIG_ENV)).unwrap_or_else(|message| panic!("{message}"))
}

/// A client for the testenv cluster.
pub async fn client() -> k8s::Client {
    let path = kubeconfig();
    k8s::connect(Some(&path))
        .await
        .unwrap_or_else(|error| panic!("cannot connect with {}: {error:?}", path.display()))
}

/// A namespace owned by one test, deleted (with everything in it) when dropped.
pub struct TestNamespace {
    name: String,
    client: k8s::Client,
}

impl TestNamespace {
    /// Creates `tg-<prefix>-<random>` and waits until pods can be created in it (the
    /// controller-manager has made its `default` ServiceAccount).
    pub async fn create(prefix: &str) -> Self {
        let client = client().await;
        let namespaces: k8s::Api<k8s::Namespace> = k8s::Api::all(client.clone());
        let request = k8s::Namespace {
            metadata: k8s::ObjectMeta {
                generate_name: Some(format!("tg-{prefix}-")),
                labels: Some([(TEST_LABEL.to_owned(), "true".to_owned())].into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let created = namespaces
            .create(&k8s::PostParams::default(), &request)
            .await
            .expect("create test namespace");
        let name = created
            .metadata
            .name
            .expect("the apiserver names generated namespaces");
        let namespace = Self { name, client };
        let accounts: k8s::Api<k8s::ServiceAccount> = namespace.api();
        wait_for_object(
            &accounts,
            "default",
            TIMEOUT,
            |account: Option<&k8s::ServiceAccount>| account.is_some(),
        )
        .await;
        namespace
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A client for the cluster.
    pub fn client(&self) -> k8s::Client {
        self.client.clone()
    }

    /// An API handle for namespaced resources of type `K` in this namespace.
    pub fn api<K>(&self) -> k8s::Api<K>
    where
        K: k8s::Resource<Scope = k8s::NamespaceResourceScope>,
        <K as k8s::Resource>::DynamicType: Default,
    {
        k8s::Api::namespaced(self.client.clone(), &self.name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be single-threaded and busy running
        // this very drop: delete from a runtime of our own on another thread.
        let name = self.name.clone();
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("build cleanup runtime");
            runtime.block_on(async move {
                let namespaces: k8s::Api<k8s::Namespace> = k8s::Api::all(client().await);
                namespaces
                    .delete(&name, &k8s::DeleteParams::background())
                    .await
                    .map(drop)
            })
        })
        .join();
        if let Ok(Err(error)) = deleted {
            eprintln!(
                "warning: could not delete test namespace {}: {error}",
                self.name
            );
        }
    }
}

/// Applies tidegate's CRDs (server-side, field manager `tidegate-sync`) and waits until the
/// apiserver serves them. Idempotent, so every test that needs them can call it.
pub async fn install_crds(client: &k8s::Client) {
    let definitions: k8s::Api<k8s::CustomResourceDefinition> = k8s::Api::all(client.clone());
    for definition in k8s::crd::definitions() {
        let name = definition
            .metadata
            .name
            .clone()
            .expect("generated CRDs are named");
        let params = k8s::PatchParams::apply(k8s::SYNC_FIELD_MANAGER).force();
        definitions
            .patch(&name, &params, &k8s::Patch::Apply(&definition))
            .await
            .unwrap_or_else(|error| panic!("apply CRD {name}: {error}"));
        wait_for_object(
            &definitions,
            &name,
            TIMEOUT,
            conditions::is_crd_established(),
        )
        .await;
    }
}

/// Polls `check` until it yields `Some`, backing off from 50 ms to 1 s between attempts;
/// panics naming `what` when `timeout` passes first.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(50);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// Watches object `name` until `condition` holds, without polling; on timeout panics with
/// the object as last seen, so the failure shows why the condition never held.
pub async fn wait_for_object<K>(
    api: &k8s::Api<K>,
    name: &str,
    timeout: Duration,
    condition: impl Condition<K>,
) -> Option<K>
where
    K: k8s::Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    // A watch the apiserver ends (410 Expired under load) is started again.
    let condition = std::sync::Arc::new(condition);
    let watching = async {
        loop {
            let condition = condition.clone();
            let matches = move |object: Option<&K>| condition.matches_object(object);
            // Boxed: watch futures of large resources (a Rollout) would make every caller's
            // large.
            match Box::pin(await_condition(api.clone(), name, matches)).await {
                Ok(object) => return object,
                Err(error) => {
                    eprintln!("watching {name} again after: {error}");
                    // Not a wait for the condition: a pause before the next watch.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    };
    match tokio::time::timeout(timeout, watching).await {
        Ok(object) => object,
        Err(_elapsed) => {
            let last = api.get_opt(name).await;
            panic!("timed out after {timeout:?} waiting for {name}; last seen: {last:#?}")
        }
    }
}

/// Healthy with the stable ReplicaSet at the hash of `image`'s template (a status written
/// before the new spec was seen does not count).
pub fn healthy_on(image: &'static str) -> impl Fn(Option<&tidegate::k8s::crd::Rollout>) -> bool {
    move |rollout: Option<&tidegate::k8s::crd::Rollout>| {
        rollout.is_some_and(|rollout| {
            let image_now = rollout
                .spec
                .template
                .as_ref()
                .and_then(|template| template.spec.as_ref())
                .is_some_and(|spec| spec.containers[0].image.as_deref() == Some(image));
            rollout.status.as_ref().is_some_and(|status| {
                image_now
                    && status.phase == Some(tidegate::model::Phase::Healthy)
                    && !status.abort
                    && rollout
                        .spec
                        .pod_template_hash(status.collision_count)
                        .as_deref()
                        == Some(status.stable_rs.as_str())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_kubeconfig_explains_how_to_start_the_cluster() {
        for value in [None, Some(OsString::new())] {
            let message = kubeconfig_from(value).unwrap_err();
            assert!(message.contains("scripts/testenv up"), "{message}");
            assert!(message.contains(KUBECONFIG_ENV), "{message}");
        }
    }

    #[test]
    fn kubeconfig_path_is_taken_as_given() {
        let path = kubeconfig_from(Some("/tmp/kc".into())).unwrap();
        assert_eq!(path, PathBuf::from("/tmp/kc"));
    }
}
