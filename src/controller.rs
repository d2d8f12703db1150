//! The Rollout controller: watches Rollouts, the ReplicaSets, AnalysisRuns and Experiments
//! they own, the Services they name and the Deployments their `workloadRef` names; for each
//! Rollout it fills in a `workloadRef`'s template, reads the plan, observes, asks the engine,
//! records the decision in the status and then carries it out. Reconciles of one Rollout
//! never overlap (kube-runtime serialises them).
//!
//! The decision is recorded before anything is done about it: the status write carries the
//! resourceVersion that was read, so a change made meanwhile (`tidegate abort`, say) makes it
//! fail, and then nothing is done — no Service switches, no scaling — and the Rollout is
//! reconciled again with the change. Only once the write succeeded are the effects carried
//! out, on the Rollout as written; every effect is derived from the status and what is
//! observed, so a daemon stopped between the write and the effects repeats them on resume.
//! The decision's Events are recorded with it in the status and published after the
//! effects, each under a name of its own, so none is lost or doubled by a restart.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::api::PostParams;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use tracing::Instrument;

use crate::engine::{self, Effect, Observation};
use crate::executor::{ExecuteError, Executor};
use crate::k8s::crd::{AnalysisRun, Experiment, PendingEvent, Rollout};
use crate::k8s::events::{Note, Publisher};
use crate::k8s::{self, Deployment, Lookups, ObserveError, ReplicaSet, Service, labels};
use crate::metrics::{Metrics, ReconcileLabels};
use crate::model::{RolloutPlan, RolloutState, Strategy};

/// How soon to look again when the engine asks for "now": a floor against hot loops (a
/// status write wakes the watch anyway).
const MIN_REQUEUE: Duration = Duration::from_millis(500);
/// How often to look at a Rollout that asked for nothing: the safety net for missed events.
const RESYNC: Duration = Duration::from_secs(300);

pub use crate::k8s::Scope;

/// A reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The Rollout was not read from the API (no namespace).
    #[error("Rollout {0} has no namespace")]
    NoNamespace(String),
    /// Observing the Rollout's objects failed.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// Reading the Deployment a `workloadRef` names failed.
    #[error("read Deployment {name}, the Rollout's workloadRef")]
    ReadWorkload {
        /// The Deployment.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Carrying out an effect failed.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    /// Recording the status failed (a conflict means it changed meanwhile).
    #[error("write status of Rollout {rollout}")]
    WriteStatus {
        /// The Rollout.
        rollout: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

impl ReconcileError {
    /// Whether retrying soon may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::NoNamespace(_) => false,
            Self::Observe(_) => true,
            Self::Execute(error) => error.is_transient(),
            Self::ReadWorkload { source, .. } | Self::WriteStatus { source, .. } => {
                k8s::is_transient(source)
            }
        }
    }
}

struct Context {
    client: Client,
    events: Publisher,
    /// Sequence numbers of the pending Events known to be published, by Rollout uid: saves
    /// publishing them again on every reconcile. Only an optimisation — after a restart they
    /// are published again, and the apiserver says they exist.
    published: std::sync::Mutex<HashMap<String, BTreeSet<u64>>>,
    metrics: Arc<Metrics>,
}

/// Runs the controller until `shutdown` completes.
pub async fn run(
    client: Client,
    scope: Scope,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let (rollouts, replica_sets, runs, services, deployments) = match &scope {
        Scope::Cluster => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::<Deployment>::all(client.clone()),
        ),
        Scope::Namespace(namespace) => (
            Api::namespaced(client.clone(), namespace),
            Api::namespaced(client.clone(), namespace),
            Api::namespaced(client.clone(), namespace),
            Api::namespaced(client.clone(), namespace),
            Api::<Deployment>::namespaced(client.clone(), namespace),
        ),
    };
    let experiments: Api<Experiment> = match &scope {
        Scope::Cluster => Api::all(client.clone()),
        Scope::Namespace(namespace) => Api::namespaced(client.clone(), namespace),
    };
    let owned = watcher::Config::default().labels(labels::ROLLOUT);
    let context = Arc::new(Context {
        client: client.clone(),
        events: Publisher::new(client, "tidegate"),
        published: std::sync::Mutex::default(),
        metrics,
    });
    let controller = Controller::<Rollout>::new(rollouts, watcher::Config::default());
    // A Service change (or a missing Service appearing) wakes the Rollouts that name it.
    let naming = waking::<Service>(controller.store(), |rollout: &Rollout, service: &str| {
        names_service(rollout, service)
    });
    // A change of a Deployment (its template is a new revision; its appearance ends a
    // "not found") wakes the Rollouts whose workloadRef names it.
    let referencing =
        waking::<Deployment>(controller.store(), |rollout: &Rollout, deployment: &str| {
            rollout
                .spec
                .workload_ref
                .as_ref()
                .is_some_and(|reference| reference.name == deployment)
        });
    let caches = context.metrics.argo.caches.clone();
    caches.watch_rollouts(Some(controller.store()));
    let controller = controller
        .owns::<ReplicaSet>(replica_sets, owned.clone())
        .owns::<AnalysisRun>(runs, owned.clone())
        .owns::<Experiment>(experiments, owned)
        .watches(services, watcher::Config::default(), naming)
        .watches(deployments, watcher::Config::default(), referencing);
    k8s::shutdown::run_until_shutdown(controller, shutdown, |controller| {
        controller.run(reconcile, error_policy, context)
    })
    .await;
    caches.watch_rollouts(None);
}

/// Runs the Rollout, Experiment and AnalysisRun controllers together until `shutdown`.
pub async fn run_all(
    client: Client,
    scope: Scope,
    analysis: crate::analysis::controller::Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stopped_signal = |mut receiver: tokio::sync::watch::Receiver<bool>| async move {
        let _ = receiver.changed().await;
    };
    tokio::join!(
        run(
            client.clone(),
            scope.clone(),
            analysis.metrics.clone(),
            stopped_signal(stopped.clone())
        ),
        crate::experiment::controller::run(
            client.clone(),
            scope.clone(),
            analysis.metrics.argo.caches.clone(),
            stopped_signal(stopped.clone())
        ),
        crate::analysis::controller::run(client, scope, analysis, stopped_signal(stopped)),
        async move {
            shutdown.await;
            let _ = stop.send(true);
        },
    );
}

/// A watch mapper: a change of an object wakes the known Rollouts of its namespace that
/// `names` it (by the object's name).
fn waking<K: Resource>(
    known: kube::runtime::reflector::Store<Rollout>,
    names: impl Fn(&Rollout, &str) -> bool,
) -> impl Fn(K) -> Vec<ObjectRef<Rollout>> {
    move |object: K| {
        let (namespace, name) = (object.namespace(), object.name_any());
        known
            .state()
            .into_iter()
            .filter(|rollout| rollout.namespace() == namespace && names(rollout, &name))
            .map(|rollout| ObjectRef::from_obj(&*rollout))
            .collect()
    }
}

/// Whether `rollout` names Service `service` in its strategy.
fn names_service(rollout: &Rollout, service: &str) -> bool {
    let strategy = &rollout.spec.strategy;
    let ping_pong = strategy
        .canary
        .iter()
        .filter_map(|canary| canary.ping_pong.as_ref())
        .flat_map(|ping_pong| [&ping_pong.ping_service, &ping_pong.pong_service]);
    let canary = strategy
        .canary
        .iter()
        .flat_map(|canary| [&canary.canary_service, &canary.stable_service])
        .chain(ping_pong);
    let blue_green = strategy
        .blue_green
        .iter()
        .flat_map(|blue_green| [&blue_green.active_service, &blue_green.preview_service]);
    canary.chain(blue_green).any(|name| name == service)
}

/// One reconcile, timed and counted, in a span naming the Rollout (every log line of it
/// carries the namespace and name).
async fn reconcile(rollout: Arc<Rollout>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    let span = tracing::info_span!(
        "reconcile",
        namespace = rollout.namespace().unwrap_or_default(),
        rollout = rollout.name_any()
    );
    let started = std::time::Instant::now();
    let (namespace, name) = (rollout.namespace().unwrap_or_default(), rollout.name_any());
    // Boxed: a reconcile's future is large (observation, decision, effects).
    let result = Box::pin(reconcile_rollout(rollout, context.clone()).instrument(span)).await;
    let labels = ReconcileLabels {
        controller: "rollout",
        result: if result.is_ok() { "ok" } else { "error" },
    };
    let seconds = started.elapsed().as_secs_f64();
    let metrics = &context.metrics;
    metrics.reconciles.get_or_create(&labels).inc();
    metrics
        .reconcile_duration
        .get_or_create(&labels)
        .observe(seconds);
    metrics
        .argo
        .observe_reconcile(&namespace, &name, seconds, result.is_err());
    result
}

async fn reconcile_rollout(
    rollout: Arc<Rollout>,
    context: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let name = rollout.name_any();
    let namespace = rollout
        .namespace()
        .ok_or_else(|| ReconcileError::NoNamespace(name.clone()))?;
    let state = rollout.status.clone().unwrap_or_default().to_state();
    let now = Timestamp::now();

    let (rollout, workload_replicas) =
        match with_workload(&context.client, &namespace, &rollout).await? {
            Ok(resolved) => resolved,
            Err(missing) => {
                return record_invalid(&context, &namespace, &rollout, &state, &missing, now).await;
            }
        };
    let plan = match rollout.spec.plan() {
        Ok(plan) => plan,
        Err(errors) => {
            let message = errors.to_string();
            return record_invalid(&context, &namespace, &rollout, &state, &message, now).await;
        }
    };
    let pod_hash = rollout
        .spec
        .pod_template_hash(state.collision_count)
        .expect("a valid plan has a template");
    let steps_hash = rollout.spec.steps_hash();
    let (observed, pods) = observe(&context.client, &rollout, &plan, &state, &pod_hash).await?;
    let readings = crate::traffic::io::read_rollout(&context.client, &rollout, &plan).await;
    let observation = Observation {
        name: &name,
        generation: rollout.metadata.generation.unwrap_or(0),
        pod_hash: &pod_hash,
        steps_hash: &steps_hash,
        replica_sets: &observed.replica_sets,
        services: &observed.services,
        analysis_runs: &observed.analysis_runs,
        foreign_runs: &observed.foreign_runs,
        experiments: &observed.experiments,
        replica_set_name_taken: observed.replica_set_name_taken,
        pods: &pods,
        traffic: &readings,
        workload_replicas,
    };
    let decision = engine::reconcile(&plan, &state, &observation, now);
    announce_unverifiable_routers(&context, &rollout, &readings).await;
    let selectors = blue_green_selectors(&plan, &decision, &observed.services);
    carry_out(&context, &namespace, &rollout, &state, &decision, selectors).await?;
    context
        .metrics
        .observe_rollout(&namespace, &name, &decision.state);
    Ok(Action::requeue(
        decision
            .requeue_after
            .map_or(RESYNC, |after| after.max(MIN_REQUEUE)),
    ))
}

/// Records that the Rollout cannot be run, and why; waits for a change.
async fn record_invalid(
    context: &Context,
    namespace: &str,
    rollout: &Rollout,
    state: &RolloutState,
    message: &str,
    now: Timestamp,
) -> Result<Action, ReconcileError> {
    let next = engine::invalid_spec(state, message, now);
    let written = Written {
        state: &next,
        events: &[],
        selectors: None,
    };
    record(context, namespace, rollout, &written, false).await?;
    Ok(Action::await_change())
}

/// A Rollout ready to plan: its `workloadRef`'s template filled in, and that Deployment's
/// replicas (`None` without a reference).
type Resolved = (Arc<Rollout>, Option<i32>);

/// The Rollout with the template of the Deployment its `workloadRef` names filled in (the
/// spec in the API keeps only the reference), and that Deployment's replicas; the Rollout as
/// it is when it names none. `Err` inside: the Deployment does not exist (the Rollout stays
/// Degraded until it does — its creation wakes the Rollout).
async fn with_workload(
    client: &Client,
    namespace: &str,
    rollout: &Arc<Rollout>,
) -> Result<Result<Resolved, String>, ReconcileError> {
    let Some(reference) = &rollout.spec.workload_ref else {
        return Ok(Ok((rollout.clone(), None)));
    };
    if rollout.spec.plan().is_err() {
        // A reference that is itself invalid is reported as the spec's problem.
        return Ok(Ok((rollout.clone(), None)));
    }
    let name = &reference.name;
    let Some(deployment) =
        k8s::workload::read(client, namespace, name)
            .await
            .map_err(|source| ReconcileError::ReadWorkload {
                name: name.clone(),
                source,
            })?
    else {
        return Ok(Err(format!(
            "spec.workloadRef: Deployment {name:?} not found"
        )));
    };
    let mut resolved = (**rollout).clone();
    resolved.spec = rollout.spec.with_workload(&deployment);
    let replicas = k8s::workload::replicas(&deployment);
    Ok(Ok((Arc::new(resolved), Some(replicas))))
}

/// What the engine needs to see around the Rollout: its objects, who holds the names it
/// needs, and its pods while a restart is pending.
async fn observe(
    client: &Client,
    rollout: &Rollout,
    plan: &crate::model::RolloutPlan,
    state: &RolloutState,
    pod_hash: &str,
) -> Result<(k8s::Observed, Vec<crate::model::PodView>), ReconcileError> {
    let services = plan.services();
    let recorded_runs: Vec<&str> = [
        &state.step_analysis,
        &state.background_analysis,
        &state.pre_promotion_analysis,
        &state.post_promotion_analysis,
    ]
    .into_iter()
    .flatten()
    .map(|run| run.name.as_str())
    .collect();
    let lookups = Lookups {
        services: &services,
        recorded_runs: &recorded_runs,
        pod_hash,
    };
    let observed = k8s::observe(client, rollout, &lookups).await?;
    let restart_pending = plan
        .restart_at
        .is_some_and(|at| state.restarted_at != Some(at));
    // Role metadata is watched on pods while a role has some, or a ReplicaSet records some
    // that a changed spec no longer wants.
    let role_metadata = plan.role_metadata.is_configured()
        || observed
            .replica_sets
            .iter()
            .any(|rs| rs.pod_metadata.is_some());
    let pods = if restart_pending || role_metadata {
        k8s::observe_pods(client, rollout, &observed.replica_sets).await?
    } else {
        Vec::new()
    };
    Ok((observed, pods))
}

/// Records the decision, then — only if that succeeded — carries out its effects on the
/// Rollout as written, then publishes its Events. An effect that failed is also announced
/// (a Warning `TrafficRoutingError` for a router that cannot be written, as in Argo, else
/// `ReconciliationError`), so a stuck Rollout says why.
async fn carry_out(
    context: &Context,
    namespace: &str,
    rollout: &Rollout,
    state: &RolloutState,
    decision: &engine::Decision,
    selectors: Option<BlueGreenSelectors>,
) -> Result<(), ReconcileError> {
    let (events, actions): (Vec<&Effect>, Vec<&Effect>) = decision
        .effects
        .iter()
        .partition(|effect| matches!(effect, Effect::Event(_)));
    let events: Vec<&engine::Event> = events
        .into_iter()
        .filter_map(|effect| match effect {
            Effect::Event(event) => Some(event),
            _ => None,
        })
        .collect();
    let acting = !actions.is_empty();
    #[cfg(feature = "failpoints")]
    crate::failpoints::before_recording_a_switch(
        &rollout.name_any(),
        actions
            .iter()
            .any(|effect| matches!(effect, Effect::SetServiceSelector { .. })),
    )
    .await;
    let written = Written {
        state: &decision.state,
        events: &events,
        selectors,
    };
    let mut written = record(context, namespace, rollout, &written, acting).await?;
    // The status write answers with the spec as stored, without a workloadRef's template;
    // it is the spec that was read (the write was conditional on it), so resolve it alike.
    written.spec = rollout.spec.clone();
    #[cfg(feature = "failpoints")]
    crate::failpoints::boundary_written(&rollout.name_any(), state, &decision.state);
    #[cfg(not(feature = "failpoints"))]
    let _ = state;
    let executed = match Executor::new(&context.client, &written) {
        Ok(executor) => {
            let executed = executor.execute(&actions).await;
            announce_router_writes(context, &written, executor.take_announced()).await;
            executed
        }
        Err(error) => Err(error),
    };
    publish_pending(context, &written).await;
    if let Err(error) = &executed {
        warn(
            context,
            &written,
            error.event_reason(),
            &k8s::describe_error(error),
        )
        .await;
        if let Some(message) = error.replica_set_create_failure() {
            let failed =
                engine::replica_set_create_failed(&decision.state, &message, Timestamp::now());
            let failed = Written {
                state: &failed,
                events: &[],
                selectors: None,
            };
            if let Err(error) = record(context, namespace, &written, &failed, false).await {
                tracing::debug!(%error, "cannot record ReplicaSetCreateError; the retry will");
            }
        }
    }
    Ok(executed?)
}

/// Announces router writes with the Normal Events Argo's routers give them
/// (`PatchingCanaryIngress`, `Updated VirtualService`, …), each write once.
async fn announce_router_writes(
    context: &Context,
    rollout: &Rollout,
    announced: Vec<crate::traffic::io::Announcement>,
) {
    for announcement in announced {
        let note = Note {
            warning: false,
            reason: announcement.notice.reason,
            message: &announcement.notice.message,
            action: "Route",
        };
        if let Err(error) = context
            .events
            .publish_keyed(&rollout.object_ref(&()), &announcement.key, &note)
            .await
        {
            tracing::debug!(%error, reason = note.reason, "cannot publish a router Event");
        }
    }
}

/// Announces each router object whose weight cannot be read back (a Warning
/// `WeightVerifyError`, Argo's reason). The Event is named by its message, so an object that
/// stays unreadable is announced once, not on every pass.
async fn announce_unverifiable_routers(
    context: &Context,
    rollout: &Rollout,
    readings: &[crate::model::RouterReading],
) {
    for message in readings
        .iter()
        .filter_map(crate::model::RouterReading::verify_error)
    {
        warn(context, rollout, "WeightVerifyError", &message).await;
    }
}

/// Publishes a Warning about the Rollout, once per reason and message; a failure to publish
/// is only logged.
async fn warn(context: &Context, rollout: &Rollout, reason: &str, message: &str) {
    let note = Note {
        warning: true,
        reason,
        message,
        action: "Reconcile",
    };
    if let Err(error) = context
        .events
        .publish(&rollout.object_ref(&()), &note)
        .await
    {
        tracing::debug!(%error, reason, "cannot publish a Warning Event");
    }
}

/// What a pass records in a Rollout's status.
struct Written<'a> {
    /// The engine's state.
    state: &'a RolloutState,
    /// Events to publish.
    events: &'a [&'a engine::Event],
    /// For blue-green, the revisions its Services select once the pass is carried out.
    selectors: Option<BlueGreenSelectors>,
}

/// The revisions a blue-green Rollout's active and preview Services select, for Argo's
/// `status.blueGreen.activeSelector`/`previewSelector`.
struct BlueGreenSelectors {
    active: Option<String>,
    preview: Option<String>,
}

/// What the Services of a blue-green Rollout select once `decision` is carried out (as
/// decided: the status is written before the effects, like every decision).
fn blue_green_selectors(
    plan: &RolloutPlan,
    decision: &engine::Decision,
    observed: &BTreeMap<String, Option<String>>,
) -> Option<BlueGreenSelectors> {
    let Strategy::BlueGreen(blue_green) = &plan.strategy else {
        return None;
    };
    let pin = |service: &str| decision.pin_of(service, observed).map(str::to_owned);
    Some(BlueGreenSelectors {
        active: pin(&blue_green.active_service),
        preview: blue_green.preview_service.as_deref().and_then(pin),
    })
}

/// Records `state` and `events` as the Rollout's status, with the resourceVersion that was
/// read, so the write fails if the Rollout changed meanwhile; returns the Rollout as written.
/// Nothing is written when nothing changed, unless the pass is about to act (`acting`): then
/// the write — even of an unchanged status — proves that the view acted on is current.
async fn record(
    context: &Context,
    namespace: &str,
    rollout: &Rollout,
    written: &Written<'_>,
    acting: bool,
) -> Result<Rollout, ReconcileError> {
    let Written {
        state,
        events,
        selectors,
    } = written;
    let current = rollout.status.clone().unwrap_or_default();
    let selector = rollout
        .spec
        .selector
        .as_ref()
        .map(labels::selector_string)
        .unwrap_or_default();
    let mut next = current.with_state(state, &selector);
    if let Some(selectors) = selectors {
        next = next
            .with_blue_green_selectors(selectors.active.as_deref(), selectors.preview.as_deref());
    }
    let published = context.published_of(&rollout.uid().unwrap_or_default());
    next.pending_events
        .retain(|event| !published.contains(&event.sequence));
    for event in *events {
        next.event_sequence += 1;
        next.pending_events.push(PendingEvent {
            sequence: next.event_sequence,
            warning: event.warning,
            reason: event.reason.to_owned(),
            message: event.message.clone(),
        });
    }
    let changed = rollout.status.as_ref() != Some(&next);
    if !changed && !acting {
        return Ok(rollout.clone());
    }
    let mut updated = rollout.clone();
    updated.status = Some(next);
    let api = Api::<Rollout>::namespaced(context.client.clone(), namespace);
    api.replace_status(&rollout.name_any(), &PostParams::default(), &updated)
        .await
        .map_err(|source| ReconcileError::WriteStatus {
            rollout: rollout.name_any(),
            source,
        })
}

/// Publishes the Events the status records as pending (this pass's, and any an interrupted
/// pass left), each under a name made of the Rollout's uid and its sequence number.
async fn publish_pending(context: &Context, rollout: &Rollout) {
    let uid = rollout.uid().unwrap_or_default();
    let pending = rollout
        .status
        .as_ref()
        .map(|status| status.pending_events.as_slice())
        .unwrap_or_default();
    let known = context.published_of(&uid);
    let reference = rollout.object_ref(&());
    let mut published = BTreeSet::new();
    for event in pending {
        if known.contains(&event.sequence) {
            published.insert(event.sequence);
            continue;
        }
        let note = Note {
            warning: event.warning,
            reason: &event.reason,
            message: &event.message,
            action: "Reconcile",
        };
        match context
            .events
            .publish_keyed(&reference, &event.sequence.to_string(), &note)
            .await
        {
            Ok(()) => {
                published.insert(event.sequence);
                context.metrics.argo.count_event(
                    &rollout.namespace().unwrap_or_default(),
                    &rollout.name_any(),
                    event.warning,
                    &event.reason,
                );
            }
            Err(error) => {
                tracing::warn!(rollout = %rollout.name_any(), %error, "could not publish an Event; it stays pending");
            }
        }
    }
    context
        .published
        .lock()
        .expect("the published-events lock is never poisoned")
        .insert(uid, published);
}

impl Context {
    fn published_of(&self, uid: &str) -> BTreeSet<u64> {
        self.published
            .lock()
            .expect("the published-events lock is never poisoned")
            .get(uid)
            .cloned()
            .unwrap_or_default()
    }
}

#[allow(clippy::needless_pass_by_value)] // kube-runtime's error-policy signature
fn error_policy(rollout: Arc<Rollout>, error: &ReconcileError, _: Arc<Context>) -> Action {
    let name = rollout.name_any();
    if let ReconcileError::WriteStatus { source, .. } = error
        && k8s::is_conflict(source)
    {
        // The Rollout changed since it was read (a person acted, or the cache lagged).
        tracing::debug!(rollout = %name, "status changed meanwhile; reconciling again");
        return Action::requeue(Duration::from_millis(200));
    }
    let transient = error.is_transient();
    tracing::warn!(rollout = %name, transient, error = %k8s::describe_error(error), "reconcile failed");
    Action::requeue(if transient {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(60)
    })
}
