//! Leader election between replicas: one writes to the cluster, Git and the forge; the others
//! fetch and serve reads, and take over when the leader's lease runs out.
//!
//! In: a Lease (kube-lease-manager acquires and renews it). Out: a `leading` signal for the
//! daemon's writers, and a [`Fence`]: every mutating request of the daemon's Kubernetes client
//! passes through it (and Git pushes and forge writes check it too), and it is open only
//! until the last renewal seen plus the renew deadline. A leader that stops renewing —
//! stalled, partitioned, SIGSTOPped — stops writing at that deadline, before another replica
//! may take the lease (at the lease duration), and makes no write after waking up: the fence
//! is checked against the clock when each request is handed to the client (the margin between
//! the two durations covers clock skew and the time a request takes to leave).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::watch;

use crate::config::LeaderElectionConfig;

/// Until when this process may write (milliseconds since the Unix epoch), and what it did.
#[derive(Debug, Default)]
pub struct Fence {
    open_until_ms: AtomicI64,
    sent: Counter,
    refused: Counter,
}

impl Fence {
    /// A closed fence counting into `metrics`.
    #[must_use]
    pub fn new(metrics: &crate::metrics::Metrics) -> Self {
        let count = |result| {
            metrics
                .kube_writes
                .get_or_create(&crate::metrics::WriteLabels { result })
                .clone()
        };
        Self {
            open_until_ms: AtomicI64::new(0),
            sent: count("sent"),
            refused: count("refused"),
        }
    }

    /// Opens the fence for good (leader election off: one replica).
    pub fn open_for_good(&self) {
        self.open_until_ms.store(i64::MAX, Ordering::Release);
    }

    /// Whether writes may pass now.
    #[must_use]
    pub fn is_open(&self) -> bool {
        now_ms() < self.open_until_ms.load(Ordering::Acquire)
    }

    /// Opens the fence until `until_ms`, or closes it (`0`).
    fn open_until(&self, until_ms: i64) {
        self.open_until_ms.store(until_ms, Ordering::Release);
    }

    /// Mutating requests sent, and refused by the fence, since the start.
    #[must_use]
    pub fn counts(&self) -> (u64, u64) {
        (self.sent.get(), self.refused.get())
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Whether this replica may write now: checked right before each Git push and forge write
/// (the Kubernetes client checks the fence itself).
pub type WriteGuard = Arc<dyn Fn() -> bool + Send + Sync>;

impl Fence {
    /// The fence as a [`WriteGuard`] for Git and forge writers.
    #[must_use]
    pub fn guard(self: &Arc<Self>) -> WriteGuard {
        let fence = self.clone();
        Arc::new(move || fence.is_open())
    }
}

/// The request was a write and this process is not (or no longer) the leader.
#[derive(Debug, thiserror::Error)]
#[error("not the leader: this replica does not write to the cluster")]
pub struct NotLeader;

/// `client`, whose mutating requests (anything but GET, HEAD, OPTIONS) pass only while
/// `fence` is open.
#[must_use]
pub fn fenced(client: Client, fence: Arc<Fence>) -> Client {
    let namespace = client.default_namespace().to_owned();
    Client::new(FencedService { client, fence }, namespace)
}

#[derive(Clone)]
struct FencedService {
    client: Client,
    fence: Arc<Fence>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Reply = http::Response<kube::client::Body>;

impl tower::Service<http::Request<kube::client::Body>> for FencedService {
    type Response = Reply;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Reply, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<kube::client::Body>) -> Self::Future {
        let reads = matches!(
            *request.method(),
            http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
        );
        if !reads {
            if !self.fence.is_open() {
                self.fence.refused.inc();
                return Box::pin(std::future::ready(Err(NotLeader.into())));
            }
            self.fence.sent.inc();
        }
        let client = self.client.clone();
        Box::pin(async move { client.send(request).await.map_err(Into::into) })
    }
}

/// A failed election step.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    /// The lease manager could not start.
    #[error("start leader election on Lease {namespace}/{name}")]
    Start {
        /// Namespace.
        namespace: String,
        /// Lease.
        name: String,
        /// Why.
        #[source]
        source: kube_lease_manager::LeaseManagerError,
    },
    /// The lease manager stopped (it gives up on API errors).
    #[error("the lease manager stopped")]
    Stopped,
}

/// This replica's identity in the Lease: the pod name (`HOSTNAME`) and the process id.
#[must_use]
pub fn identity() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "tidegate".to_owned());
    format!("{host}-{}", std::process::id())
}

/// Runs the election until `stopped`, keeping `fence` and `leading` current; releases the
/// lease on the way out so another replica takes over at once.
pub async fn run(
    client: Client,
    namespace: &str,
    config: &LeaderElectionConfig,
    fence: Arc<Fence>,
    leading: &watch::Sender<bool>,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), ElectionError> {
    let (lease_duration, renew_deadline, retry_period) = config.durations();
    let identity = identity();
    let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &config.lease_name)
        .with_namespace(namespace)
        .with_identity(&identity)
        .with_duration(lease_duration.as_secs())
        // The manager renews `grace` before expiry: that is every retry period.
        .with_grace(lease_duration.saturating_sub(retry_period).as_secs().max(1))
        .build()
        .await
        .map_err(|source| ElectionError::Start {
            namespace: namespace.to_owned(),
            name: config.lease_name.clone(),
            source,
        })?;
    let (mut lock, task) = manager.watch().await;
    let leases: Api<Lease> = Api::namespaced(client, namespace);
    let mut tick = tokio::time::interval(retry_period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(%identity, lease = %config.lease_name, "leader election started");
    let mut outcome = Ok(());
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            changed = lock.changed() => {
                if changed.is_err() {
                    tracing::error!("the lease manager stopped; this replica stops writing");
                    outcome = Err(ElectionError::Stopped);
                    break;
                }
                if !*lock.borrow_and_update() {
                    fence.open_until(0);
                }
            }
            _ = tick.tick() => {}
        }
        // Bounded: a stuck read must not keep `leading` true past the fence's deadline.
        let read = refresh(
            &leases,
            &config.lease_name,
            &identity,
            renew_deadline,
            &fence,
        );
        if tokio::time::timeout(retry_period, read).await.is_err() {
            tracing::warn!("reading the lease timed out");
        }
        let now_leading = fence.is_open();
        leading.send_if_modified(|was| {
            if *was == now_leading {
                return false;
            }
            tracing::info!(%identity, leading = now_leading, "leadership changed");
            *was = now_leading;
            true
        });
    }
    fence.open_until(0);
    leading.send_replace(false);
    drop(lock);
    if let Ok(Ok(manager)) = task.await
        && let Err(error) = manager.release().await
    {
        tracing::warn!(%error, "cannot release the lease; another replica takes over when it expires");
    }
    outcome
}

/// Reads the Lease: while it names this replica, the fence stays open until its renew time
/// plus the renew deadline; otherwise it closes.
async fn refresh(
    leases: &Api<Lease>,
    name: &str,
    identity: &str,
    renew_deadline: Duration,
    fence: &Fence,
) {
    match leases.get_opt(name).await {
        Ok(lease) => {
            let spec = lease.and_then(|lease| lease.spec);
            let renewed = spec
                .as_ref()
                .filter(|spec| spec.holder_identity.as_deref() == Some(identity))
                .and_then(|spec| spec.renew_time.as_ref())
                .map(|time| time.0.as_millisecond());
            let deadline_ms = i64::try_from(renew_deadline.as_millis()).unwrap_or(i64::MAX);
            fence.open_until(renewed.map_or(0, |at| at.saturating_add(deadline_ms)));
        }
        Err(error) => {
            // Unknown: the fence keeps its deadline, which only runs out.
            tracing::warn!(%error, "cannot read the lease");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_is_open_only_until_its_deadline() {
        let fence = Fence::default();
        assert!(!fence.is_open(), "closed until a renewal is seen");
        fence.open_until(now_ms() + 60_000);
        assert!(fence.is_open());
        fence.open_until(now_ms() - 1);
        assert!(!fence.is_open(), "a deadline in the past is closed");
        fence.open_for_good();
        assert!(fence.is_open());
    }
}
