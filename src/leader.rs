//! Leader election between replicas: one writes to the cluster, Git and the forge; the others
//! fetch and serve reads, and take over when the leader stops renewing its Lease.
//!
//! In: a Lease. Out: a `leading` signal for the daemon's writers, and a [`Fence`]: every
//! mutating request of the daemon's Kubernetes client passes through it (and Git pushes and
//! forge writes check it too), and it is open only until the last successful renewal's start
//! plus the renew deadline, on this process's monotonic clock. A leader that stops renewing —
//! stalled, partitioned, SIGSTOPped — stops writing at that deadline, before another replica
//! may take the lease, and makes no write after waking up.
//!
//! The election is client-go's: every Lease write carries the resourceVersion it was decided
//! on (two replicas cannot both win a takeover, a renewal or a release), and a follower takes
//! over only when the Lease record has not changed for a whole lease duration *as measured by
//! its own monotonic clock* — never by comparing another machine's `renewTime` with its own
//! wall clock, so clock skew between nodes cannot make two leaders. [`decide`] is the pure
//! decision; [`run`] does the reading and writing.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::PostParams;
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

    /// How long writes may still pass, if they may now (at most a day: "for good" is long).
    fn remaining(&self) -> Option<Duration> {
        let left = self
            .open_until_ms
            .load(Ordering::Acquire)
            .saturating_sub(now_ms());
        let left = u64::try_from(left).ok().filter(|left| *left > 0)?;
        Some(Duration::from_millis(left.min(86_400_000)))
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

/// Milliseconds on this process's monotonic clock (wall-clock jumps do not move the fence).
fn now_ms() -> i64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    millis(START.get_or_init(Instant::now).elapsed())
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
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

/// The write fence closed while a write was waiting for its answer: it was given up, and may
/// or may not have been applied.
#[derive(Debug, thiserror::Error)]
#[error("not the leader any more: the write fence closed while the request was in flight")]
pub struct FenceClosedInFlight;

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
        let client = self.client.clone();
        if reads {
            return Box::pin(async move { client.send(request).await.map_err(Into::into) });
        }
        if !self.fence.is_open() {
            self.fence.refused.inc();
            return Box::pin(std::future::ready(Err(NotLeader.into())));
        }
        let fence = self.fence.clone();
        Box::pin(async move {
            #[cfg(feature = "failpoints")]
            crate::failpoints::write_in_flight().await;
            // Checked again as the request leaves (it may have waited for a connection), and
            // given up at the deadline: no write leaves this process after it.
            let Some(remaining) = fence.remaining() else {
                fence.refused.inc();
                return Err(NotLeader.into());
            };
            fence.sent.inc();
            match tokio::time::timeout(remaining, client.send(request)).await {
                Ok(answer) => answer.map_err(Into::into),
                Err(_) => Err(FenceClosedInFlight.into()),
            }
        })
    }
}

/// A failed election step.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    /// The Lease could not be read or written.
    #[error("leader election on Lease {namespace}/{name}")]
    Lease {
        /// Namespace.
        namespace: String,
        /// Lease.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// This replica's identity in the Lease: the pod name (`HOSTNAME`) and the process id.
#[must_use]
pub fn identity() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "tidegate".to_owned());
    format!("{host}-{}", std::process::id())
}

/// What the election looks at in a Lease: who holds it, and what changes on every renewal.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Record {
    holder: Option<String>,
    renewed: Option<String>,
    transitions: i32,
}

impl Record {
    fn of(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        Self {
            holder: spec.holder_identity.filter(|holder| !holder.is_empty()),
            renewed: spec.renew_time.map(|time| time.0.to_string()),
            transitions: spec.lease_transitions.unwrap_or(0),
        }
    }
}

/// What to do after a look at the Lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// There is none: create it, holding it.
    Create,
    /// This replica holds it: renew.
    Renew,
    /// Nobody holds it, or its holder has not renewed for a lease duration: take it.
    Acquire,
    /// Another replica holds it and renews.
    Follow,
}

/// The decision, from the Lease as read (`None`: there is none) and how long its record has
/// stood unchanged on this replica's monotonic clock.
fn decide(
    record: Option<&Record>,
    me: &str,
    unchanged_for: Duration,
    lease_duration: Duration,
) -> Step {
    match record {
        None => Step::Create,
        Some(record) => match record.holder.as_deref() {
            Some(holder) if holder == me => Step::Renew,
            None => Step::Acquire,
            Some(_) if unchanged_for >= lease_duration => Step::Acquire,
            Some(_) => Step::Follow,
        },
    }
}

/// The record last seen, and since when (monotonic) it has not changed.
struct Observed {
    record: Record,
    since: Instant,
}

impl Observed {
    /// Notes `record` as seen now; returns how long it has stood unchanged.
    fn see(observed: &mut Option<Self>, record: &Record) -> Duration {
        match observed {
            Some(seen) if seen.record == *record => seen.since.elapsed(),
            _ => {
                *observed = Some(Self {
                    record: record.clone(),
                    since: Instant::now(),
                });
                Duration::ZERO
            }
        }
    }
}

/// `lease` (as read, with its resourceVersion) held by `me`: renewed now, or taken over.
fn held(lease: &Lease, me: &str, lease_duration: Duration, take_over: bool) -> Lease {
    let now = MicroTime(jiff::Timestamp::now());
    let mut next = lease.clone();
    let spec = next.spec.get_or_insert_with(LeaseSpec::default);
    if take_over {
        spec.holder_identity = Some(me.to_owned());
        spec.acquire_time = Some(now.clone());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.lease_duration_seconds = Some(i32::try_from(lease_duration.as_secs()).unwrap_or(i32::MAX));
    spec.renew_time = Some(now);
    next
}

/// Runs the election as `identity` until `stopped`, keeping `fence` and `leading` current;
/// releases the lease on the way out so another replica takes over at once.
pub async fn run(
    client: Client,
    namespace: &str,
    config: &LeaderElectionConfig,
    identity: &str,
    fence: Arc<Fence>,
    leading: &watch::Sender<bool>,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), ElectionError> {
    let (lease_duration, renew_deadline, retry_period) = config.durations();
    let leases: Api<Lease> = Api::namespaced(client, namespace);
    let name = config.lease_name.as_str();
    let failed = |source| ElectionError::Lease {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        source,
    };
    let mut observed = None;
    let mut tick = tokio::time::interval(retry_period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(%identity, lease = %name, "leader election started");
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            _ = tick.tick() => {}
        }
        // Bounded: a stuck request must not keep `leading` true past the fence's deadline.
        let look = take_a_look(
            &leases,
            name,
            identity,
            lease_duration,
            renew_deadline,
            &fence,
            &mut observed,
        );
        match tokio::time::timeout(retry_period, look).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) if crate::k8s::is_transient(&error) => {
                tracing::warn!(error = %crate::k8s::describe_error(&error), "cannot reach the lease");
            }
            Ok(Err(error)) => {
                fence.open_until(0);
                leading.send_replace(false);
                return Err(failed(error));
            }
            Err(_) => tracing::warn!("reaching the lease timed out"),
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
    let release = release(&leases, name, identity);
    match tokio::time::timeout(retry_period, release).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(error = %crate::k8s::describe_error(&error), "cannot release the lease; another replica takes over when it expires");
        }
        Err(_) => tracing::warn!(
            "releasing the lease timed out; another replica takes over when it expires"
        ),
    }
    Ok(())
}

/// One look at the Lease and the step it calls for. The fence opens, until the start of a
/// successful renewal plus the renew deadline, only after that write; a write that lost a
/// race (conflict) closes it; anything else leaves its deadline to run out.
async fn take_a_look(
    leases: &Api<Lease>,
    name: &str,
    me: &str,
    lease_duration: Duration,
    renew_deadline: Duration,
    fence: &Fence,
    observed: &mut Option<Observed>,
) -> Result<(), kube::Error> {
    let lease = leases.get_opt(name).await?;
    let record = lease.as_ref().map(Record::of);
    let unchanged_for = record
        .as_ref()
        .map_or(Duration::ZERO, |record| Observed::see(observed, record));
    let step = decide(record.as_ref(), me, unchanged_for, lease_duration);
    let started = now_ms();
    let written = match (step, &lease) {
        (Step::Follow, _) => {
            fence.open_until(0);
            return Ok(());
        }
        (Step::Create, _) => {
            let fresh = Lease {
                metadata: kube::api::ObjectMeta {
                    name: Some(name.to_owned()),
                    ..kube::api::ObjectMeta::default()
                },
                spec: None,
            };
            leases
                .create(
                    &PostParams::default(),
                    &held(&fresh, me, lease_duration, true),
                )
                .await
        }
        (Step::Renew | Step::Acquire, Some(lease)) => {
            write_held(leases, lease, me, lease_duration, step == Step::Acquire).await
        }
        (Step::Renew | Step::Acquire, None) => unreachable!("decided on a Lease that exists"),
    };
    match written {
        Ok(lease) => {
            if step != Step::Renew {
                tracing::info!(%me, lease = %name, "took the lease");
            }
            *observed = Some(Observed {
                record: Record::of(&lease),
                since: Instant::now(),
            });
            fence.open_until(started.saturating_add(millis(renew_deadline)));
            Ok(())
        }
        Err(error) if crate::k8s::is_conflict(&error) || crate::k8s::already_exists(&error) => {
            // Another replica wrote first: it leads, or will tell on the next look.
            fence.open_until(0);
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// Writes `lease`, as read, held by `me` (renewed, or taken over when `take_over`). The
/// resourceVersion read travels with the write, so it fails with a conflict if the Lease
/// changed since — another replica renewed, took or released it: of two replicas deciding
/// on the same read, one wins.
pub async fn write_held(
    leases: &Api<Lease>,
    lease: &Lease,
    me: &str,
    lease_duration: Duration,
    take_over: bool,
) -> Result<Lease, kube::Error> {
    let next = held(lease, me, lease_duration, take_over);
    let name = lease.metadata.name.as_deref().unwrap_or_default();
    leases.replace(name, &PostParams::default(), &next).await
}

/// Gives the lease up, if this replica still holds it (under the resourceVersion read).
async fn release(leases: &Api<Lease>, name: &str, me: &str) -> Result<(), kube::Error> {
    let Some(mut lease) = leases.get_opt(name).await? else {
        return Ok(());
    };
    if Record::of(&lease).holder.as_deref() != Some(me) {
        return Ok(());
    }
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = None;
    spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
    match leases.replace(name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(error) if crate::k8s::is_conflict(&error) => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(15);

    fn held_by(holder: Option<&str>) -> Record {
        Record {
            holder: holder.map(str::to_owned),
            renewed: Some("2026-12-02T00:00:00Z".to_owned()),
            transitions: 1,
        }
    }

    #[test]
    fn a_replica_takes_over_only_a_lease_unchanged_for_a_whole_duration_on_its_own_clock() {
        let other = held_by(Some("other"));
        assert_eq!(
            decide(Some(&other), "me", Duration::ZERO, LEASE),
            Step::Follow
        );
        assert_eq!(
            decide(Some(&other), "me", Duration::from_millis(14_999), LEASE),
            Step::Follow,
            "not a moment before the lease duration has passed here"
        );
        assert_eq!(decide(Some(&other), "me", LEASE, LEASE), Step::Acquire);
        assert_eq!(
            decide(Some(&held_by(Some("me"))), "me", LEASE * 10, LEASE),
            Step::Renew
        );
        assert_eq!(
            decide(Some(&held_by(None)), "me", Duration::ZERO, LEASE),
            Step::Acquire
        );
        assert_eq!(decide(None, "me", Duration::ZERO, LEASE), Step::Create);
    }

    #[test]
    fn the_time_unchanged_restarts_with_every_renewal_seen() {
        let mut observed = None;
        let first = held_by(Some("other"));
        assert_eq!(Observed::see(&mut observed, &first), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(20));
        assert!(Observed::see(&mut observed, &first) >= Duration::from_millis(20));
        let renewed = Record {
            renewed: Some("2026-12-02T00:00:02Z".to_owned()),
            ..first
        };
        assert_eq!(
            Observed::see(&mut observed, &renewed),
            Duration::ZERO,
            "a renewal, whatever its timestamp says, starts the count again"
        );
    }

    #[test]
    fn a_takeover_and_a_renewal_keep_the_resource_version_read() {
        let mut lease = Lease::default();
        lease.metadata.name = Some("tidegate-leader".to_owned());
        lease.metadata.resource_version = Some("42".to_owned());
        lease.spec = Some(LeaseSpec {
            holder_identity: Some("other".to_owned()),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        });
        let taken = held(&lease, "me", LEASE, true);
        assert_eq!(taken.metadata.resource_version.as_deref(), Some("42"));
        let spec = taken.spec.expect("a spec");
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_transitions, Some(4));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert!(spec.renew_time.is_some() && spec.acquire_time.is_some());
        let renewed = held(&lease, "other", LEASE, false);
        let spec = renewed.spec.expect("a spec");
        assert_eq!(spec.holder_identity.as_deref(), Some("other"));
        assert_eq!(spec.lease_transitions, Some(3));
    }

    #[test]
    fn a_write_may_wait_for_its_answer_only_until_the_deadline() {
        let fence = Fence::default();
        assert_eq!(fence.remaining(), None, "closed");
        fence.open_until(now_ms() + 60_000);
        let left = fence.remaining().expect("open");
        assert!(
            left > Duration::from_secs(59) && left <= Duration::from_secs(60),
            "{left:?}"
        );
        fence.open_until(now_ms());
        assert_eq!(fence.remaining(), None, "a deadline now is closed");
        fence.open_until(now_ms() - 1);
        assert_eq!(fence.remaining(), None, "a deadline in the past is closed");
        fence.open_for_good();
        assert_eq!(fence.remaining(), Some(Duration::from_secs(86_400)));
    }

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
