//! The Rollout controller: watches Rollouts, the ReplicaSets and AnalysisRuns they own, and
//! the Services they name; for each Rollout it reads the plan, observes, asks the engine,
//! carries out the effects and records the new status. Reconciles of one Rollout never overlap (kube-runtime serialises
//! them), and the status is written with optimistic concurrency, so a change made meanwhile
//! (by `tidegate promote`, say) is never overwritten: the write fails and the reconcile runs
//! again with it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use kube::api::PostParams;
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, ResourceExt};

use tracing::Instrument;

use crate::engine::{self, Observation};
use crate::executor::{ExecuteError, Executor};
use crate::k8s::crd::{AnalysisRun, Rollout, RolloutStatus};
use crate::k8s::{self, ObserveError, ReplicaSet, Service, labels};
use crate::metrics::{Metrics, ReconcileLabels};
use crate::model::RolloutState;

/// How soon to look again when the engine asks for "now": a floor against hot loops (a
/// status write wakes the watch anyway).
const MIN_REQUEUE: Duration = Duration::from_millis(500);
/// How often to look at a Rollout that asked for nothing: the safety net for missed events.
const RESYNC: Duration = Duration::from_secs(300);

/// Which Rollouts the controller manages.
#[derive(Clone, Debug)]
pub enum Scope {
    /// Every namespace.
    Cluster,
    /// One namespace.
    Namespace(String),
}

/// A reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The Rollout was not read from the API (no namespace).
    #[error("Rollout {0} has no namespace")]
    NoNamespace(String),
    /// Observing the Rollout's objects failed.
    #[error(transparent)]
    Observe(#[from] ObserveError),
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
            Self::WriteStatus { source, .. } => k8s::is_transient(source),
        }
    }
}

struct Context {
    client: Client,
    recorder: Recorder,
    metrics: Arc<Metrics>,
}

/// Runs the controller until `shutdown` completes.
pub async fn run(
    client: Client,
    scope: Scope,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let (rollouts, replica_sets, runs, services) = match &scope {
        Scope::Cluster => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
        ),
        Scope::Namespace(namespace) => (
            Api::namespaced(client.clone(), namespace),
            Api::namespaced(client.clone(), namespace),
            Api::namespaced(client.clone(), namespace),
            Api::namespaced(client.clone(), namespace),
        ),
    };
    let owned = watcher::Config::default().labels(labels::ROLLOUT);
    let reporter = Reporter {
        controller: "tidegate".to_owned(),
        instance: None,
    };
    let context = Arc::new(Context {
        client: client.clone(),
        recorder: Recorder::new(client, reporter),
        metrics,
    });
    let controller = Controller::<Rollout>::new(rollouts, watcher::Config::default());
    // A Service change (or a missing Service appearing) wakes the Rollouts that name it.
    let known = controller.store();
    let naming = move |service: Service| {
        let (namespace, name) = (service.namespace(), service.name_any());
        known
            .state()
            .into_iter()
            .filter(|rollout| rollout.namespace() == namespace && names_service(rollout, &name))
            .map(|rollout| ObjectRef::from_obj(&*rollout))
            .collect::<Vec<_>>()
    };
    controller
        .owns::<ReplicaSet>(replica_sets, owned.clone())
        .owns::<AnalysisRun>(runs, owned)
        .watches(services, watcher::Config::default(), naming)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "controller event");
            }
        })
        .await;
}

/// Runs the Rollout controller and the AnalysisRun controller together until `shutdown`.
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
        crate::analysis::controller::run(client, scope, analysis, stopped_signal(stopped)),
        async move {
            shutdown.await;
            let _ = stop.send(true);
        },
    );
}

/// Whether `rollout` names Service `service` in its strategy.
fn names_service(rollout: &Rollout, service: &str) -> bool {
    let strategy = &rollout.spec.strategy;
    let canary = strategy
        .canary
        .iter()
        .flat_map(|canary| [&canary.canary_service, &canary.stable_service]);
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
    let result = reconcile_rollout(rollout, context.clone())
        .instrument(span)
        .await;
    let labels = ReconcileLabels {
        controller: "rollout",
        result: if result.is_ok() { "ok" } else { "error" },
    };
    context.metrics.reconciles.get_or_create(&labels).inc();
    context
        .metrics
        .reconcile_duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
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
    let client = &context.client;
    let status = rollout.status.clone().unwrap_or_default();
    let state = status.to_state();
    let now = Timestamp::now();

    let plan = match rollout.spec.plan() {
        Ok(plan) => plan,
        Err(errors) => {
            let next = engine::invalid_spec(&state, &errors.to_string(), now);
            write_status(client, &namespace, &rollout, &status, &next).await?;
            return Ok(Action::await_change());
        }
    };
    let pod_hash = rollout
        .spec
        .pod_template_hash(status.collision_count)
        .expect("a valid plan has a template");
    let steps_hash = rollout.spec.steps_hash();
    let services = plan.services();
    let observed = k8s::observe(client, &rollout, &services).await?;
    let restart_pending = plan
        .restart_at
        .is_some_and(|at| state.restarted_at != Some(at));
    let pods = if restart_pending {
        k8s::observe_pods(client, &rollout, &observed.replica_sets).await?
    } else {
        Vec::new()
    };
    let observation = Observation {
        name: &name,
        generation: rollout.metadata.generation.unwrap_or(0),
        pod_hash: &pod_hash,
        steps_hash: &steps_hash,
        replica_sets: &observed.replica_sets,
        services: &observed.services,
        analysis_runs: &observed.analysis_runs,
        pods: &pods,
    };
    let decision = engine::reconcile(&plan, &state, &observation, now);
    Executor::new(client, &context.recorder, &rollout)?
        .execute(&decision.effects)
        .await?;
    write_status(client, &namespace, &rollout, &status, &decision.state).await?;
    context
        .metrics
        .observe_rollout(&namespace, &name, &decision.state);
    Ok(Action::requeue(
        decision
            .requeue_after
            .map_or(RESYNC, |after| after.max(MIN_REQUEUE)),
    ))
}

/// Records `state` as the Rollout's status unless nothing changed. The write carries the
/// resourceVersion that was read, so it fails if the Rollout changed meanwhile.
async fn write_status(
    client: &Client,
    namespace: &str,
    rollout: &Rollout,
    current: &RolloutStatus,
    state: &RolloutState,
) -> Result<(), ReconcileError> {
    let selector = rollout
        .spec
        .selector
        .as_ref()
        .map(labels::selector_string)
        .unwrap_or_default();
    let mut next = RolloutStatus::from_state(state, &selector);
    next.collision_count = current.collision_count;
    if rollout.status.as_ref() == Some(&next) {
        return Ok(());
    }
    let mut updated = rollout.clone();
    updated.status = Some(next);
    let api = Api::<Rollout>::namespaced(client.clone(), namespace);
    api.replace_status(&rollout.name_any(), &PostParams::default(), &updated)
        .await
        .map(drop)
        .map_err(|source| ReconcileError::WriteStatus {
            rollout: rollout.name_any(),
            source,
        })
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
