//! Sync: desired objects from Git made live with server-side apply, pruned when gone from Git,
//! and compared with the cluster to report drift.
//!
//! In: a source's rendered [`Manifest`]s. Out: objects applied under field manager
//! `tidegate-sync` and labelled with their source, an inventory, and [`DriftReport`]s.
//!
//! A revision is applied all or nothing as far as the apiserver can tell beforehand: every
//! object is dry-run first, and one refusal means nothing is applied. Objects that cannot be
//! dry-run yet — in a Namespace or of a kind this same revision creates — are dry-run once the
//! revision's Namespaces and CRDs are applied, and refusals then stop the rest.

mod cluster;
mod normalize;
mod order;
mod pins;
mod record;
mod report;
mod workload;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use futures::{FutureExt, StreamExt, TryStreamExt, stream};
use kube::api::DynamicObject;
use serde_json::Value;

pub use cluster::{Kind, Resolver};
pub use normalize::normalize;
pub use order::rank;
pub use record::{
    Identity, InventoryItem, RecordError, Records, SourceStatus, SyncResult, record_name,
};
pub use report::{Difference, DriftReport, DriftedObject, diff_objects};

use crate::k8s::{Api, Client, CustomResourceDefinition, Namespace, labels};
use crate::manifest::{Manifest, ObjectKey, Origin, Problem};

/// The annotation that lets prune delete a Namespace or CustomResourceDefinition.
pub const PRUNE_ANNOTATION: &str = "tidegate.dev/prune";

/// How many apiserver calls a sync keeps in flight.
const CONCURRENCY: usize = 8;

/// Applies of a pinned Service tried before a Rollout that keeps switching it wins the race.
const PIN_ATTEMPTS: usize = 5;

/// One object to apply: identity with its namespace settled, where Git defines it, and the
/// object with tidegate's source label.
#[derive(Clone, Debug)]
pub struct Desired {
    /// Identity, namespace resolved.
    pub key: ObjectKey,
    /// Where Git defines it.
    pub origin: Origin,
    /// `apiVersion`.
    pub api_version: String,
    /// The object to apply.
    pub object: Value,
    /// The API serving it (`None` until a CRD of this revision is applied).
    pub kind: Option<Kind>,
    /// Its namespace is created by this revision and does not exist yet.
    pub new_namespace: bool,
}

impl Desired {
    /// The inventory entry for this object.
    #[must_use]
    pub fn inventory_item(&self) -> InventoryItem {
        InventoryItem {
            api_version: self.api_version.clone(),
            kind: self.key.kind.clone(),
            namespace: self.key.namespace.clone(),
            name: self.key.name.clone(),
        }
    }

    fn deferred(&self) -> bool {
        self.kind.is_none() || self.new_namespace
    }

    fn is_structure(&self) -> bool {
        (self.key.group.is_empty() && self.key.kind == "Namespace")
            || (self.key.group == "apiextensions.k8s.io"
                && self.key.kind == "CustomResourceDefinition")
    }
}

/// Why a revision was not (fully) applied.
#[derive(Debug)]
pub struct SyncFailure {
    /// Rejected (nothing applied, or only Namespaces and CRDs) or Failed (part applied).
    pub result: SyncResult,
    /// Every problem, each naming the file and line of its object.
    pub problems: Vec<Problem>,
}

/// Applies sources' objects and compares them with the cluster.
pub struct Syncer {
    client: Client,
    resolver: tokio::sync::Mutex<Resolver>,
}

impl Syncer {
    /// A syncer talking to `client`.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self {
            client,
            resolver: tokio::sync::Mutex::new(Resolver::default()),
        }
    }

    /// Settles each manifest's API, namespace (`default_namespace` for namespaced kinds that
    /// name none) and source label, in apply order; or says which kinds the cluster does not
    /// serve.
    pub async fn prepare(
        &self,
        source: &str,
        default_namespace: &str,
        manifests: Vec<Manifest>,
    ) -> Result<Vec<Desired>, SyncFailure> {
        let new_kinds = crd_kinds(&manifests);
        let mut problems = Vec::new();
        let mut desired = Vec::new();
        let mut resolver = self.resolver.lock().await;
        for manifest in manifests {
            let kind_name = manifest.key.kind.clone();
            let kind = match resolver
                .resolve(&self.client, &manifest.api_version, &kind_name)
                .await
            {
                Ok(kind) => kind,
                Err(error) => {
                    return Err(failed(
                        &manifest.origin,
                        &manifest.key,
                        &error,
                        SyncResult::Failed,
                    ));
                }
            };
            let declared = new_kinds
                .iter()
                .find(|(group, kind, _)| *group == manifest.key.group && *kind == kind_name)
                .map(|(_, _, namespaced)| *namespaced);
            let Some(namespaced) = kind.as_ref().map(|kind| kind.namespaced).or(declared) else {
                problems.push(Problem {
                    file: manifest.origin.file.clone(),
                    line: Some(manifest.origin.line),
                    field: Some("kind".to_owned()),
                    message: format!(
                        "the cluster serves no kind {kind_name} in {}",
                        manifest.api_version
                    ),
                });
                continue;
            };
            let mut key = manifest.key;
            let mut object = manifest.object;
            key.namespace = if namespaced {
                Some(
                    key.namespace
                        .unwrap_or_else(|| default_namespace.to_owned()),
                )
            } else {
                None
            };
            set_identity(&mut object, key.namespace.as_deref(), source);
            desired.push(Desired {
                key,
                origin: manifest.origin,
                api_version: manifest.api_version,
                object,
                kind,
                new_namespace: false,
            });
        }
        drop(resolver);
        // With namespaces settled, one object may now be written twice (once with the
        // source's namespace, once without).
        let mut seen: HashMap<&ObjectKey, &Origin> = HashMap::new();
        for object in &desired {
            if let Some(first) = seen.insert(&object.key, &object.origin) {
                problems.push(problem(
                    &object.origin,
                    &object.key,
                    &format!("also defined at {first}"),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(SyncFailure {
                result: SyncResult::Rejected,
                problems,
            });
        }
        self.mark_new_namespaces(&mut desired)
            .await
            .map_err(|(error, desired)| {
                failed(&desired.origin, &desired.key, &error, SyncResult::Failed)
            })?;
        desired.sort_by_key(|desired| rank(&desired.key));
        Ok(desired)
    }

    async fn mark_new_namespaces(
        &self,
        desired: &mut [Desired],
    ) -> Result<(), (kube::Error, Desired)> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let mut missing = HashSet::new();
        for namespace in desired
            .iter()
            .filter(|desired| desired.key.group.is_empty() && desired.key.kind == "Namespace")
        {
            match api.get_opt(&namespace.key.name).await {
                Ok(None) => {
                    missing.insert(namespace.key.name.clone());
                }
                Ok(Some(_)) => {}
                Err(error) => return Err((error, namespace.clone())),
            }
        }
        for object in desired.iter_mut() {
            object.new_namespace = object
                .key
                .namespace
                .as_ref()
                .is_some_and(|namespace| missing.contains(namespace));
        }
        Ok(())
    }

    /// Applies `desired` (from [`Self::prepare`]) after dry-running all of it.
    pub async fn apply(&self, desired: &mut [Desired]) -> Result<(), SyncFailure> {
        let ready: Vec<&Desired> = desired.iter().filter(|object| !object.deferred()).collect();
        let (checked, transient) = self.dry_run(ready).await;
        if !checked.is_empty() {
            return Err(SyncFailure {
                result: refused_or_failed(transient),
                problems: checked,
            });
        }
        let mut applied = vec![false; desired.len()];
        if desired.iter().any(Desired::deferred) {
            for (index, object) in desired.iter().enumerate() {
                if object.is_structure() && !object.deferred() {
                    self.apply_one(object)
                        .await
                        .map_err(|problem| SyncFailure {
                            result: SyncResult::Failed,
                            problems: vec![problem],
                        })?;
                    applied[index] = true;
                }
            }
            self.wait_for_crds(desired).await;
            self.resolve_new_kinds(desired).await;
            for object in desired.iter_mut() {
                object.new_namespace = false;
            }
            let mut problems: Vec<Problem> = desired
                .iter()
                .filter(|object| object.kind.is_none())
                .map(|object| {
                    problem(
                        &object.origin,
                        &object.key,
                        "its CustomResourceDefinition is applied but the kind is not served",
                    )
                })
                .collect();
            let rest: Vec<&Desired> = desired
                .iter()
                .zip(&applied)
                .filter(|(_, done)| !**done)
                .map(|(object, _)| object)
                .collect();
            let (refused, transient) = self.dry_run(rest).await;
            problems.extend(refused);
            if !problems.is_empty() {
                return Err(SyncFailure {
                    result: refused_or_failed(transient),
                    problems,
                });
            }
        }
        let mut problems = Vec::new();
        for (object, done) in desired.iter().zip(applied) {
            if !done && let Err(problem) = self.apply_one(object).await {
                problems.push(problem);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SyncFailure {
                result: SyncResult::Failed,
                problems,
            })
        }
    }

    /// Dry-runs `objects`: every refusal, and whether any failure was transient (the
    /// apiserver busy or unreachable, rather than refusing the object).
    async fn dry_run(&self, objects: Vec<&Desired>) -> (Vec<Problem>, bool) {
        let mut checks = Vec::with_capacity(objects.len());
        for object in objects {
            checks.push(self.dry_run_one(object).boxed());
        }
        let found: Vec<Option<(Problem, bool)>> =
            stream::iter(checks).buffered(CONCURRENCY).collect().await;
        let transient = found.iter().flatten().any(|(_, transient)| *transient);
        (
            found
                .into_iter()
                .flatten()
                .map(|(problem, _)| problem)
                .collect(),
            transient,
        )
    }

    async fn dry_run_one(&self, object: &Desired) -> Option<(Problem, bool)> {
        let kind = object.kind.as_ref()?;
        let api = cluster::api(&self.client, kind, object.key.namespace.as_deref());
        let dry_run = match self.with_pins(&api, object).await {
            Ok(applied) => cluster::apply(&api, &object.key.name, &applied, true).await,
            Err(error) => Err(error),
        };
        dry_run.err().map(|error| {
            (
                problem(&object.origin, &object.key, &cluster::refusal(&error)),
                !cluster::is_refusal(&error),
            )
        })
    }

    async fn apply_one(&self, object: &Desired) -> Result<DynamicObject, Problem> {
        let Some(kind) = &object.kind else {
            return Err(problem(
                &object.origin,
                &object.key,
                "the cluster does not serve this kind",
            ));
        };
        let api = cluster::api(&self.client, kind, object.key.namespace.as_deref());
        let failed =
            |error: &kube::Error| problem(&object.origin, &object.key, &cluster::refusal(error));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let applied = self
                .with_pins(&api, object)
                .await
                .map_err(|error| failed(&error))?;
            match cluster::apply(&api, &object.key.name, &applied, false).await {
                // The Rollout switched the Service between the read and the apply: read the
                // new pin and apply again, rather than undo the switch.
                Err(error) if crate::k8s::is_conflict(&error) && attempt < PIN_ATTEMPTS => {}
                result => return result.map_err(|error| failed(&error)),
            }
        }
    }

    /// What to apply for `object`: Git's object, plus what a Rollout owns in its live copy —
    /// the pin of a Service it manages ([`pins`]), the weights and managed routes its traffic
    /// router wrote ([`crate::traffic::carry`]) — on the condition that the object did not
    /// change since it was read.
    async fn with_pins<'o>(
        &self,
        api: &Api<DynamicObject>,
        object: &'o Desired,
    ) -> Result<Cow<'o, Value>, kube::Error> {
        if !may_be_owned_by_a_rollout(&object.api_version, &object.key.kind) {
            return Ok(Cow::Borrowed(&object.object));
        }
        let Some(live) = cluster::get(api, &object.key.name).await? else {
            return Ok(Cow::Borrowed(&object.object));
        };
        let live = serde_json::to_value(&live).expect("objects serialize to JSON");
        Ok(carry_rollout_parts(&object.object, &live)
            .map_or(Cow::Borrowed(&object.object), Cow::Owned))
    }

    /// Finds the API of kinds whose CRDs were just applied. Discovery can lag behind a CRD's
    /// Established condition by a moment, so this asks again for up to half a minute.
    async fn resolve_new_kinds(&self, desired: &mut [Desired]) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let mut resolver = self.resolver.lock().await;
            resolver.refresh();
            for object in desired.iter_mut().filter(|object| object.kind.is_none()) {
                object.kind = resolver
                    .resolve(&self.client, &object.api_version, &object.key.kind)
                    .await
                    .ok()
                    .flatten();
            }
            drop(resolver);
            if desired.iter().all(|object| object.kind.is_some())
                || tokio::time::Instant::now() > deadline
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Waits (up to a minute) until the revision's CRDs are established.
    async fn wait_for_crds(&self, desired: &[Desired]) {
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let names: Vec<&str> = desired
            .iter()
            .filter(|object| object.key.kind == "CustomResourceDefinition")
            .map(|object| object.key.name.as_str())
            .collect();
        for name in names {
            let established = kube::runtime::wait::await_condition(
                api.clone(),
                name,
                kube::runtime::wait::conditions::is_crd_established(),
            );
            if tokio::time::timeout(Duration::from_secs(60), established)
                .await
                .is_err()
            {
                tracing::warn!(
                    crd = name,
                    "CustomResourceDefinition not established after 60s"
                );
            }
        }
    }

    /// Deletes objects of `inventory` that are not `desired` any more and still carry this
    /// source's label. Returns what left the inventory (deleted, already gone, or relabelled
    /// by someone else and so no longer this source's) and what could not be deleted.
    pub async fn prune(
        &self,
        source: &str,
        inventory: &[InventoryItem],
        desired: &[Desired],
    ) -> (Vec<InventoryItem>, Vec<String>) {
        let keep: HashSet<Identity> = desired
            .iter()
            .map(|object| object.inventory_item().identity())
            .collect();
        let mut gone: Vec<&InventoryItem> = inventory
            .iter()
            .filter(|item| !keep.contains(&item.identity()))
            .collect();
        gone.sort_by_key(|item| std::cmp::Reverse(item_rank(item)));
        let mut pruned = Vec::new();
        let mut errors = Vec::new();
        for item in gone {
            match self.prune_one(source, item).await {
                Ok(true) => pruned.push(item.clone()),
                Ok(false) => {}
                Err(error) => {
                    errors.push(format!("prune {} {}: {error}", item.kind, item_name(item)));
                }
            }
        }
        (pruned, errors)
    }

    /// Whether `item` left the inventory (deleted, gone, or no longer this source's). A
    /// Namespace or CRD is deleted only when its live object says
    /// `tidegate.dev/prune: allow`: deleting one deletes everything in it.
    async fn prune_one(&self, source: &str, item: &InventoryItem) -> Result<bool, String> {
        let Some((api, live)) = self
            .live_item(item)
            .await
            .map_err(|error| cluster::refusal(&error))?
        else {
            return Ok(true);
        };
        if !labelled_as(&live, source) {
            tracing::info!(source, object = %item_name(item), "not pruned: no longer labelled as this source's");
            return Ok(true);
        }
        let (group, kind, _, _) = item.identity();
        let cascades = (group.is_empty() && kind == "Namespace")
            || (group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition");
        let allowed = live
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(PRUNE_ANNOTATION))
            .is_some_and(|value| value == "allow");
        if cascades && !allowed {
            tracing::warn!(source, kind = %item.kind, object = %item_name(item), "not pruned: deleting a {kind} deletes everything in it; annotate it {PRUNE_ANNOTATION}=allow to let prune delete it");
            return Ok(false);
        }
        cluster::delete(&api, &item.name)
            .await
            .map_err(|error| cluster::refusal(&error))?;
        tracing::info!(source, kind = %item.kind, object = %item_name(item), "pruned");
        Ok(true)
    }

    /// The live object of an inventory item (none when gone or its kind is no longer served).
    async fn live_item(
        &self,
        item: &InventoryItem,
    ) -> Result<Option<(Api<DynamicObject>, DynamicObject)>, kube::Error> {
        let kind = self
            .resolver
            .lock()
            .await
            .resolve(&self.client, &item.api_version, &item.kind)
            .await?;
        let Some(kind) = kind else { return Ok(None) };
        let api = cluster::api(&self.client, &kind, item.namespace.as_deref());
        Ok(cluster::get(&api, &item.name)
            .await?
            .map(|live| (api, live)))
    }

    /// Compares `desired` with the cluster: each object's server-side dry run against the live
    /// object, both normalized; `inventory` objects no longer desired but still present and
    /// labelled are reported as extra. The live objects that differ come back too, for Events.
    pub async fn drift(
        &self,
        source: &str,
        revision: &str,
        desired: &[Desired],
        inventory: &[InventoryItem],
    ) -> Result<Drift, kube::Error> {
        let mut comparisons = Vec::with_capacity(desired.len());
        for object in desired {
            comparisons.push(self.compare(object).boxed());
        }
        let compared: Vec<Compared> = stream::iter(comparisons)
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut report = DriftReport {
            source: source.to_owned(),
            revision: revision.to_owned(),
            time: jiff::Timestamp::now().to_string(),
            compared: desired.len(),
            objects: Vec::new(),
        };
        let mut drifted = Vec::new();
        for (object, found) in desired.iter().zip(compared) {
            let entry = |difference| DriftedObject {
                object: object.key.to_string(),
                origin: Some(object.origin.to_string()),
                difference,
            };
            match found {
                Compared::Same => {}
                Compared::Missing => {
                    report.objects.push(entry(Difference::Missing));
                    drifted.push(DriftedLive {
                        desired: object.clone(),
                        live: None,
                    });
                }
                Compared::Modified { diff, live } => {
                    report.objects.push(entry(Difference::Modified { diff }));
                    drifted.push(DriftedLive {
                        desired: object.clone(),
                        live: Some(live),
                    });
                }
            }
        }
        let wanted: HashSet<Identity> = desired
            .iter()
            .map(|object| object.inventory_item().identity())
            .collect();
        for item in inventory
            .iter()
            .filter(|item| !wanted.contains(&item.identity()))
        {
            if self.still_labelled(source, item).await {
                report.objects.push(DriftedObject {
                    object: format!("{} {}", item.kind, item_name(item)),
                    origin: None,
                    difference: Difference::Extra,
                });
            }
        }
        Ok(Drift { report, drifted })
    }

    async fn compare(&self, object: &Desired) -> Result<Compared, kube::Error> {
        let Some(kind) = &object.kind else {
            return Ok(Compared::Missing);
        };
        let api = cluster::api(&self.client, kind, object.key.namespace.as_deref());
        let Some(live) = cluster::get(&api, &object.key.name).await? else {
            return Ok(Compared::Missing);
        };
        let live_value = serde_json::to_value(&live).expect("objects serialize to JSON");
        let applied = carry_rollout_parts(&object.object, &live_value);
        let applied = applied.as_ref().unwrap_or(&object.object);
        let dry = cluster::apply(&api, &object.key.name, applied, true).await?;
        let managed = live_value["metadata"]["managedFields"].clone();
        let want = normalize(
            &serde_json::to_value(&dry).expect("objects serialize to JSON"),
            &managed,
        );
        let have = normalize(&live_value, &managed);
        Ok(match diff_objects(&object.key.to_string(), &have, &want) {
            None => Compared::Same,
            Some(diff) => Compared::Modified {
                diff,
                live: Box::new(live),
            },
        })
    }

    async fn still_labelled(&self, source: &str, item: &InventoryItem) -> bool {
        matches!(self.live_item(item).await, Ok(Some((_, live))) if labelled_as(&live, source))
    }

    /// Re-applies drifted objects (self-heal). Returns the problems of those that failed.
    pub async fn heal(&self, drifted: &[DriftedLive]) -> Vec<Problem> {
        let mut problems = Vec::new();
        for object in drifted {
            if let Err(problem) = self.apply_one(&object.desired).await {
                problems.push(problem);
            }
        }
        problems
    }

    /// The Kubernetes client.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Whether a Rollout may own part of objects of this kind: the Services it pins, the objects
/// its traffic routers write, the Deployments it scales down.
fn may_be_owned_by_a_rollout(api_version: &str, kind: &str) -> bool {
    pins::may_be_pinned(api_version, kind)
        || crate::traffic::may_be_routed(api_version, kind)
        || workload::may_be_scaled(api_version, kind)
}

/// `desired` with what a Rollout owns in `live` kept; `None` when it owns nothing there.
fn carry_rollout_parts(desired: &Value, live: &Value) -> Option<Value> {
    pins::carry(desired, live)
        .or_else(|| crate::traffic::carry(desired, live))
        .or_else(|| workload::carry(desired, live))
}

enum Compared {
    Same,
    Missing,
    Modified {
        diff: String,
        live: Box<DynamicObject>,
    },
}

/// A drift check: the report, and each drifted object with its live state.
#[derive(Debug)]
pub struct Drift {
    /// The report.
    pub report: DriftReport,
    /// Objects that differ (live is `None` when missing).
    pub drifted: Vec<DriftedLive>,
}

/// An object that differs from Git.
#[derive(Debug)]
pub struct DriftedLive {
    /// What Git wants.
    pub desired: Desired,
    /// What the cluster has, if anything.
    pub live: Option<Box<DynamicObject>>,
}

/// The inventory after a sync: what is desired now, plus what earlier revisions applied and
/// was not pruned (it is still ours, and prune may remove it later).
#[must_use]
pub fn next_inventory(
    previous: &[InventoryItem],
    desired: &[Desired],
    pruned: &[InventoryItem],
) -> Vec<InventoryItem> {
    let pruned: HashSet<Identity> = pruned.iter().map(InventoryItem::identity).collect();
    let mut items: BTreeMap<Identity, InventoryItem> = previous
        .iter()
        .filter(|item| !pruned.contains(&item.identity()))
        .map(|item| (item.identity(), item.clone()))
        .collect();
    // A desired object replaces an earlier entry of the same identity (a new apiVersion).
    items.extend(desired.iter().map(|object| {
        let item = object.inventory_item();
        (item.identity(), item)
    }));
    items.into_values().collect()
}

/// The (group, kind, namespaced) of every CRD among `manifests`.
fn crd_kinds(manifests: &[Manifest]) -> Vec<(String, String, bool)> {
    manifests
        .iter()
        .filter(|manifest| {
            manifest.key.group == "apiextensions.k8s.io"
                && manifest.key.kind == "CustomResourceDefinition"
        })
        .filter_map(|manifest| {
            let spec = &manifest.object["spec"];
            Some((
                spec["group"].as_str()?.to_owned(),
                spec["names"]["kind"].as_str()?.to_owned(),
                spec["scope"] != "Cluster",
            ))
        })
        .collect()
}

/// Stamps each Rollout with the commit it is applied from and its file in the repository
/// (`path` is the source's directory): what write-back needs to report on the right commit
/// and to find the change to revert.
pub fn stamp_origin(desired: &mut [Desired], commit: &str, path: &str) {
    let directory = path.trim_matches('/');
    for object in desired.iter_mut().filter(|object| {
        object.key.kind == "Rollout"
            && matches!(object.key.group.as_str(), "tidegate.dev" | "argoproj.io")
    }) {
        let file = if directory.is_empty() || directory == "." {
            object.origin.file.clone()
        } else {
            format!("{directory}/{}", object.origin.file)
        };
        let Some(metadata) = object
            .object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(labels::COMMIT.to_owned(), Value::String(commit.to_owned()));
            annotations.insert(labels::FILE.to_owned(), Value::String(file));
        }
    }
}

/// Sets the namespace (or removes it for cluster-scoped kinds) and the source label.
fn set_identity(object: &mut Value, namespace: Option<&str>, source: &str) {
    let metadata = object
        .as_object_mut()
        .expect("manifests are objects")
        .entry("metadata")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    match namespace {
        Some(namespace) => {
            metadata.insert("namespace".to_owned(), Value::String(namespace.to_owned()));
        }
        None => {
            metadata.remove("namespace");
        }
    }
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !labels.is_object() {
        *labels = Value::Object(serde_json::Map::new());
    }
    labels
        .as_object_mut()
        .expect("labels were just made an object")
        .insert(labels::SOURCE.to_owned(), Value::String(source.to_owned()));
}

/// A dry run that failed for a transient reason is retried (Failed); a refusal is final for
/// the commit (Rejected).
fn refused_or_failed(transient: bool) -> SyncResult {
    if transient {
        SyncResult::Failed
    } else {
        SyncResult::Rejected
    }
}

fn labelled_as(live: &DynamicObject, source: &str) -> bool {
    live.metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(labels::SOURCE))
        .map(String::as_str)
        == Some(source)
}

fn item_rank(item: &InventoryItem) -> usize {
    let group = item
        .api_version
        .rsplit_once('/')
        .map_or("", |(group, _)| group);
    rank(&ObjectKey {
        group: group.to_owned(),
        kind: item.kind.clone(),
        namespace: None,
        name: String::new(),
    })
}

fn item_name(item: &InventoryItem) -> String {
    match &item.namespace {
        Some(namespace) => format!("{namespace}/{}", item.name),
        None => item.name.clone(),
    }
}

fn problem(origin: &Origin, key: &ObjectKey, message: &str) -> Problem {
    Problem {
        file: origin.file.clone(),
        line: Some(origin.line),
        field: None,
        message: format!("{key}: {message}"),
    }
}

fn failed(
    origin: &Origin,
    key: &ObjectKey,
    error: &kube::Error,
    result: SyncResult,
) -> SyncFailure {
    SyncFailure {
        result,
        problems: vec![problem(origin, key, &cluster::refusal(error))],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn identity_sets_namespace_and_label() {
        let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"app": "x"}}});
        set_identity(&mut object, Some("shop"), "main");
        assert_eq!(
            object["metadata"],
            json!({"name": "a", "namespace": "shop", "labels": {"app": "x", "tidegate.dev/source": "main"}})
        );
        let mut cluster_scoped =
            json!({"kind": "Namespace", "metadata": {"name": "shop", "namespace": "ignored"}});
        set_identity(&mut cluster_scoped, None, "main");
        assert_eq!(
            cluster_scoped["metadata"],
            json!({"name": "shop", "labels": {"tidegate.dev/source": "main"}})
        );
    }

    #[test]
    fn the_inventory_keeps_what_was_not_pruned() {
        let item = |name: &str| InventoryItem {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("shop".into()),
            name: name.into(),
        };
        let desired = Desired {
            key: ObjectKey {
                group: String::new(),
                kind: "ConfigMap".into(),
                namespace: Some("shop".into()),
                name: "c".into(),
            },
            origin: Origin {
                file: "c.yaml".into(),
                line: 1,
            },
            api_version: "v1".into(),
            object: json!({}),
            kind: None,
            new_namespace: false,
        };
        let next = next_inventory(&[item("a"), item("b")], &[desired], &[item("a")]);
        assert_eq!(next, [item("b"), item("c")]);
    }

    #[test]
    fn a_new_api_version_is_the_same_object() {
        let old = InventoryItem {
            api_version: "policy/v1beta1".into(),
            kind: "PodDisruptionBudget".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        };
        let desired = Desired {
            key: ObjectKey {
                group: "policy".into(),
                kind: "PodDisruptionBudget".into(),
                namespace: Some("shop".into()),
                name: "web".into(),
            },
            origin: Origin {
                file: "pdb.yaml".into(),
                line: 1,
            },
            api_version: "policy/v1".into(),
            object: json!({}),
            kind: None,
            new_namespace: false,
        };
        assert_eq!(old.identity(), desired.inventory_item().identity());
        let next = next_inventory(
            std::slice::from_ref(&old),
            std::slice::from_ref(&desired),
            &[],
        );
        assert_eq!(next, [desired.inventory_item()]);
    }

    #[test]
    fn crds_of_a_revision_declare_their_kinds() {
        let manifest = Manifest {
            origin: Origin {
                file: "crd.yaml".into(),
                line: 1,
            },
            key: ObjectKey {
                group: "apiextensions.k8s.io".into(),
                kind: "CustomResourceDefinition".into(),
                namespace: None,
                name: "widgets.example.com".into(),
            },
            api_version: "apiextensions.k8s.io/v1".into(),
            object: json!({"spec": {"group": "example.com", "names": {"kind": "Widget"}, "scope": "Namespaced"}}),
        };
        assert_eq!(
            crd_kinds(&[manifest]),
            [("example.com".to_owned(), "Widget".to_owned(), true)]
        );
    }
}
