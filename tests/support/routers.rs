//! Traffic routers on the real control plane: their projects' CRDs (fetched by
//! `scripts/testenv build` into `TIDEGATE_TEST_ROUTER_CRDS`, plus the stand-ins in
//! `tests/fixtures/crds` for the two whose modules are not served here), and their objects,
//! applied and read as JSON.

use std::path::PathBuf;

use kube::api::{ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use serde_json::Value;
use tidegate::k8s;
use tidegate::k8s::crd::RolloutStatus;
use tokio::sync::OnceCell;

use super::{TIMEOUT, TestNamespace, wait_for, wait_for_object};

/// Where `scripts/testenv env` says the routers' CRDs are.
pub const ROUTER_CRDS_ENV: &str = "TIDEGATE_TEST_ROUTER_CRDS";

static INSTALLED: OnceCell<()> = OnceCell::const_new();

fn crd_files() -> Vec<PathBuf> {
    let fetched = std::env::var_os(ROUTER_CRDS_ENV).unwrap_or_else(|| {
        panic!("{ROUTER_CRDS_ENV} is not set: run the tests with scripts/test, or eval \"$(scripts/testenv env)\"")
    });
    let stand_ins = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crds");
    let mut files = Vec::new();
    for dir in [PathBuf::from(fetched), stand_ins] {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("read {}: {error}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_some_and(|ext| ext == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Installs every router's CRDs once per test run, and waits until they are served.
pub async fn install_router_crds(client: &k8s::Client) {
    INSTALLED
        .get_or_init(|| async {
            let definitions: k8s::Api<k8s::CustomResourceDefinition> =
                k8s::Api::all(client.clone());
            let params = k8s::PatchParams::apply("tidegate-tests").force();
            for file in crd_files() {
                let text = std::fs::read_to_string(&file).expect("read a CRD file");
                let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
                    .unwrap_or_else(|error| panic!("parse {}: {error}", file.display()));
                for document in documents {
                    if document["kind"] != "CustomResourceDefinition" {
                        continue;
                    }
                    let name = document["metadata"]["name"]
                        .as_str()
                        .expect("a CRD has a name")
                        .to_owned();
                    definitions
                        .patch(&name, &params, &k8s::Patch::Apply(&document))
                        .await
                        .unwrap_or_else(|error| panic!("apply CRD {name}: {error}"));
                    wait_for_object(
                        &definitions,
                        &name,
                        TIMEOUT,
                        kube::runtime::wait::conditions::is_crd_established(),
                    )
                    .await;
                }
            }
        })
        .await;
}

/// The API of `api_version` `kind` objects in the test's namespace.
pub async fn api(
    namespace: &TestNamespace,
    api_version: &str,
    kind: &str,
) -> k8s::Api<DynamicObject> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let client = namespace.client();
    let resource: ApiResource = wait_for(
        &format!("{api_version} {kind} to be served"),
        TIMEOUT,
        || {
            let (client, gvk) = (client.clone(), gvk.clone());
            async move {
                kube::discovery::pinned_kind(&client, &gvk)
                    .await
                    .ok()
                    .map(|(resource, _)| resource)
            }
        },
    )
    .await;
    k8s::Api::namespaced_with(client, namespace.name(), &resource)
}

/// Applies `object` (server-side, as Git's sync would) in the test's namespace.
pub async fn apply(namespace: &TestNamespace, object: &Value) {
    let api_version = object["apiVersion"].as_str().expect("apiVersion");
    let kind = object["kind"].as_str().expect("kind");
    let name = object["metadata"]["name"].as_str().expect("a name");
    api(namespace, api_version, kind)
        .await
        .patch(
            name,
            &k8s::PatchParams::apply(k8s::SYNC_FIELD_MANAGER).force(),
            &k8s::Patch::Apply(object),
        )
        .await
        .unwrap_or_else(|error| panic!("apply {kind} {name}: {error}"));
}

/// The live `api_version` `kind` `name`, as JSON.
pub async fn get(
    namespace: &TestNamespace,
    api_version: &str,
    kind: &str,
    name: &str,
) -> Option<Value> {
    api(namespace, api_version, kind)
        .await
        .get_opt(name)
        .await
        .unwrap_or_else(|error| panic!("get {kind} {name}: {error}"))
        .map(|object| serde_json::to_value(object).expect("objects are JSON"))
}

/// Waits until `check` holds for the live object (or its absence), and returns it.
pub async fn wait_for_router_object(
    namespace: &TestNamespace,
    (api_version, kind, name): (&str, &str, &str),
    what: &str,
    check: impl Fn(Option<&Value>) -> bool,
) -> Option<Value> {
    wait_for(what, TIMEOUT, || async {
        let live = get(namespace, api_version, kind, name).await;
        check(live.as_ref()).then_some(live)
    })
    .await
}

/// Whether the Rollout's status says its routers were read back carrying `weight` for the canary.
pub fn carries(status: &RolloutStatus, weight: i32) -> bool {
    status
        .canary
        .as_ref()
        .and_then(|canary| canary.weights.as_ref())
        .is_some_and(|weights| weights.canary.weight == weight && weights.verified == Some(true))
}
