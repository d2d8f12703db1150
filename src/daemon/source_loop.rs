//! One source's loop: wait for a trigger (interval, webhook, file change), fetch, and when the
//! commit is new render and apply it; then check drift, record everything, and heal if asked.
//!
//! In: the source's configuration and wake-ups. Out: the cluster in sync with Git, the
//! source's status record, drift report, metrics and Events.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kube::Resource;
use tokio::sync::{Notify, RwLock, watch};

use crate::config::{SourceConfig, Transport};
use crate::manifest::{self, Limits, Manifest, Problems};
use crate::metrics::{Metrics, SyncLabels};
use crate::render::RenderFailure;
use crate::server::SourceView;
use crate::source::{self, Credentials, GitCache, GitError};
use crate::sync::{
    self, Desired, Records, SourceStatus, SyncFailure, SyncResult, Syncer, next_inventory,
};

/// Everything one source's loop needs.
pub struct SourceLoop {
    /// The source.
    pub config: SourceConfig,
    /// Its Git cache.
    pub cache: Arc<GitCache>,
    /// Applies and compares objects.
    pub syncer: Arc<Syncer>,
    /// Status records.
    pub records: Records,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// What the HTTP server shows.
    pub views: Arc<RwLock<std::collections::BTreeMap<String, SourceView>>>,
    /// Wake-ups from webhooks and file watches.
    pub wake: Arc<Notify>,
    /// Render limits.
    pub limits: Limits,
    /// The programs that render Helm and Kustomize sources.
    pub renderers: crate::render::Renderers,
    /// Publishes Events on drifted objects.
    pub recorder: crate::k8s::events::Publisher,
    /// Counts sources that finished their first look (readiness).
    pub looked_once: Arc<AtomicUsize>,
    /// Whether this replica leads: only the leader syncs; a follower fetches (keeping its
    /// cache warm) and takes over from the recorded status when it becomes the leader.
    pub leading: watch::Receiver<bool>,
}

/// What the loop remembers between passes (the durable part is in the status record).
#[derive(Default)]
struct Memory {
    status: SourceStatus,
    /// The commit last attempted by this process.
    attempted: Option<String>,
    /// The objects of the applied revision, for drift checks.
    applied: Option<(String, Vec<Desired>)>,
    /// The result and message a fetch failure replaced, restored when fetching works again
    /// and the commit has not changed.
    before_fetch_failure: Option<(SyncResult, String)>,
    /// Consecutive failed fetches, and consecutive failed syncs, for backoff.
    fetch_failures: u32,
    sync_failures: u32,
    /// The diff last announced by an Event, per object, so Events are not repeated.
    announced: HashMap<String, String>,
}

impl SourceLoop {
    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let name = self.config.name.clone();
        let _watch = match self.config.transport() {
            Ok(Transport::File(dir)) => match source::watch(&dir, self.wake.clone()) {
                Ok(watch) => Some(watch),
                Err(error) => {
                    tracing::warn!(source = %name, %error, dir = %dir.display(), "cannot watch the repository; polling only");
                    None
                }
            },
            _ => None,
        };
        let mut memory = None;
        let mut first = true;
        let mut leading = self.leading.clone();
        let mut election_alive = true;
        loop {
            let wait = if *leading.borrow_and_update() {
                // The record holds the inventory: syncing without it would forget what to
                // prune. Read afresh on each new term: the previous leader wrote it.
                if memory.is_none() {
                    match self.records.status(&name).await {
                        Ok(status) => {
                            memory = Some(Memory {
                                status,
                                ..Memory::default()
                            });
                        }
                        Err(error) => {
                            tracing::warn!(source = %name, error = %crate::k8s::describe_error(&error), "cannot read the status record; retrying");
                        }
                    }
                }
                match memory.as_mut() {
                    Some(memory) => self.pass(memory).await,
                    None => source::next_retry(Duration::from_secs(60), 1),
                }
            } else {
                memory = None;
                self.follow().await
            };
            if first {
                self.looked_once.fetch_add(1, Ordering::AcqRel);
                first = false;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => tracing::debug!(source = %name, "woken"),
                changed = leading.changed(), if election_alive => {
                    election_alive = changed.is_ok();
                }
                _ = shutdown.changed() => break,
            }
        }
    }

    /// A follower's look: fetch only, so the cache is warm when this replica takes over.
    async fn follow(&self) -> Duration {
        let interval = self.config.interval();
        match self.fetch().await {
            Ok(_) => source::next_poll(interval, source::random()),
            Err(error) => {
                tracing::warn!(source = %self.config.name, error = %crate::k8s::describe_error(&error), "fetch failed (following)");
                self.metrics
                    .fetch_errors
                    .get_or_create(&Metrics::source(&self.config.name))
                    .inc();
                source::next_retry(interval, 1)
            }
        }
    }

    /// One look at the source; returns how long to wait before the next.
    async fn pass(&self, memory: &mut Memory) -> Duration {
        let name = self.config.name.as_str();
        let interval = self.config.interval();
        let commit = match self.fetch().await {
            Ok(commit) => {
                memory.fetch_failures = 0;
                commit
            }
            Err(error) => {
                memory.fetch_failures += 1;
                if memory.status.result != SyncResult::FetchFailed {
                    memory.before_fetch_failure =
                        Some((memory.status.result, memory.status.message.clone()));
                }
                let message = format!(
                    "fetch failed; keeping {}: {}",
                    memory
                        .status
                        .applied_revision
                        .as_deref()
                        .unwrap_or("nothing applied yet"),
                    crate::k8s::describe_error(&error)
                );
                tracing::warn!(source = name, failures = memory.fetch_failures, "{message}");
                self.metrics
                    .fetch_errors
                    .get_or_create(&Metrics::source(name))
                    .inc();
                self.finish(memory, SyncResult::FetchFailed, message, None)
                    .await;
                return source::next_retry(interval, memory.fetch_failures);
            }
        };
        let restored = memory.before_fetch_failure.take();
        if memory.attempted.as_deref() != Some(commit.as_str())
            || memory.status.result == SyncResult::Failed
        {
            memory.attempted = Some(commit.clone());
            self.sync(memory, &commit).await;
        } else if let Some((result, message)) = restored {
            // Fetching works again and nothing changed: the last outcome stands.
            self.finish(memory, result, message, None).await;
        }
        if memory.applied.is_none()
            && let Some(applied) = memory.status.applied_revision.clone()
        {
            // Restarted on a refused commit: compare the cluster with the last good one.
            if let Ok(manifests) = self.render(&applied).await
                && let Ok(desired) = self.prepare(manifests, &applied).await
            {
                memory.applied = Some((applied, desired));
            }
        }
        self.check_drift(memory).await;
        if memory.status.result == SyncResult::Failed {
            memory.sync_failures += 1;
            return source::next_retry(interval, memory.sync_failures);
        }
        memory.sync_failures = 0;
        source::next_poll(interval, source::random())
    }

    async fn fetch(&self) -> Result<String, GitError> {
        let started = Instant::now();
        let cache = self.cache.clone();
        let reference = self.config.reference.clone();
        let credentials = match &self.config.auth {
            Some(auth) => Some(Credentials {
                username: auth.username.clone(),
                password: auth.password.read().map_err(|error| GitError::Fetch {
                    url: self.config.url.clone(),
                    source: Box::new(error),
                })?,
            }),
            None => None,
        };
        let url = self.config.url.clone();
        let fetching = crate::blocking::run("the fetch", move || {
            cache.fetch(&reference, credentials.as_ref())
        });
        // gix is asked to stop receiving at its deadline; this one also covers a remote that
        // never answers the handshake.
        let patience = crate::source::FETCH_DEADLINE + std::time::Duration::from_secs(30);
        let fetched = match tokio::time::timeout(patience, fetching).await {
            Ok(Ok(fetched)) => fetched,
            Ok(Err(panicked)) => Err(GitError::Fetch {
                url,
                source: Box::new(panicked),
            }),
            Err(_) => Err(GitError::Fetch {
                url,
                source: format!("no answer within {}s", patience.as_secs()).into(),
            }),
        };
        self.metrics
            .fetch_duration
            .get_or_create(&Metrics::source(&self.config.name))
            .observe(started.elapsed().as_secs_f64());
        let fetched = fetched?;
        if fetched.received_pack {
            tracing::info!(source = %self.config.name, commit = %fetched.commit, "fetched new objects");
        }
        Ok(fetched.commit)
    }

    async fn render(&self, commit: &str) -> Result<Vec<Manifest>, RenderFailure> {
        let cache = self.cache.clone();
        let commit = commit.to_owned();
        let config = self.config.clone();
        let limits = self.limits.clone();
        let renderers = self.renderers.clone();
        crate::blocking::run("the render", move || {
            let source = config.render_source();
            crate::render::render_commit(&cache, &commit, &source, &limits, &renderers)
                .map(|(_, manifests)| manifests)
        })
        .await
        .unwrap_or_else(|panicked| {
            Err(RenderFailure::Invalid(Problems(vec![manifest::Problem {
                file: String::new(),
                line: None,
                field: None,
                message: panicked.to_string(),
            }])))
        })
    }

    async fn prepare(
        &self,
        manifests: Vec<Manifest>,
        commit: &str,
    ) -> Result<Vec<Desired>, SyncFailure> {
        let namespace = self.config.namespace.as_deref().unwrap_or("default");
        let mut desired = self
            .syncer
            .prepare(&self.config.name, namespace, manifests)
            .await?;
        sync::stamp_origin(&mut desired, commit, &self.config.path);
        Ok(desired)
    }

    /// Renders, applies and prunes `commit`, recording the outcome.
    async fn sync(&self, memory: &mut Memory, commit: &str) {
        let name = self.config.name.as_str();
        let started = Instant::now();
        tracing::info!(source = name, commit, "syncing");
        let manifests = match self.render(commit).await {
            Ok(manifests) => manifests,
            Err(failure) => {
                // An unreachable chart repository is retried at the next poll; invalid
                // manifests wait for a new commit.
                let result = match failure {
                    RenderFailure::Invalid(_) => SyncResult::Invalid,
                    RenderFailure::Unavailable(_) => SyncResult::Failed,
                };
                let message = format!("commit {commit} not applied: {failure}");
                tracing::error!(source = name, "{message}");
                self.finish(memory, result, message, Some(commit)).await;
                return;
            }
        };
        let mut desired = match self.prepare(manifests, commit).await {
            Ok(desired) => desired,
            Err(failure) => return self.refused(memory, commit, failure).await,
        };
        // Recorded before applying: a daemon killed mid-apply still knows what may be live.
        // Nothing is applied unless that record was written (fail closed): an object applied
        // but missing from the inventory would never be pruned.
        let previous = memory.status.inventory.clone();
        memory.status.inventory = next_inventory(&previous, &desired, &[]);
        if let Err(error) = self.records.write_status(&memory.status).await {
            memory.status.inventory = previous;
            let message = format!(
                "commit {commit} not applied: its inventory cannot be recorded: {}",
                crate::k8s::describe_error(&error)
            );
            tracing::error!(source = name, "{message}");
            self.finish(memory, SyncResult::Failed, message, Some(commit))
                .await;
            return;
        }
        if let Err(failure) = self.syncer.apply(&mut desired).await {
            return self.refused(memory, commit, failure).await;
        }
        let (pruned, prune_errors) = if !self.config.prune {
            (Vec::new(), Vec::new())
        } else if desired.is_empty() {
            tracing::warn!(source = name, "render is empty: nothing pruned");
            (Vec::new(), Vec::new())
        } else {
            self.syncer.prune(name, &previous, &desired).await
        };
        self.metrics
            .pruned_objects
            .get_or_create(&Metrics::source(name))
            .inc_by(pruned.len() as u64);
        memory.status.inventory = next_inventory(&previous, &desired, &pruned);
        let mut message = format!("applied {} objects from {commit}", desired.len());
        if !pruned.is_empty() {
            let _ = write!(message, ", pruned {}", pruned.len());
        }
        if desired.is_empty() {
            message.push_str(" (the render is empty: nothing pruned)");
        }
        let result = if prune_errors.is_empty() {
            SyncResult::Applied
        } else {
            let _ = write!(message, "; prune failed:\n{}", prune_errors.join("\n"));
            SyncResult::Failed
        };
        tracing::info!(source = name, "{message}");
        memory.status.applied_revision = Some(commit.to_owned());
        memory.status.applied_time = Some(jiff::Timestamp::now().to_string());
        memory.applied = Some((commit.to_owned(), desired));
        self.metrics
            .sync_duration
            .get_or_create(&Metrics::source(name))
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .last_applied
            .get_or_create(&Metrics::source(name))
            .set(jiff::Timestamp::now().as_second());
        self.finish(memory, result, message, Some(commit)).await;
    }

    async fn refused(&self, memory: &mut Memory, commit: &str, failure: SyncFailure) {
        let reason = match failure.result {
            SyncResult::Rejected => "refused by the apiserver",
            _ => "failed to apply",
        };
        let message = format!("commit {commit} {reason}:\n{}", Problems(failure.problems));
        tracing::error!(source = %self.config.name, "{message}");
        self.finish(memory, failure.result, message, Some(commit))
            .await;
    }

    /// Records the outcome of a pass in the status, metrics and the server's view.
    async fn finish(
        &self,
        memory: &mut Memory,
        result: SyncResult,
        message: String,
        commit: Option<&str>,
    ) {
        let name = self.config.name.as_str();
        let status = &mut memory.status;
        name.clone_into(&mut status.source);
        if let Some(commit) = commit {
            status.revision = Some(commit.to_owned());
        }
        status.result = result;
        status.message = message;
        status.time = jiff::Timestamp::now().to_string();
        self.metrics
            .syncs
            .get_or_create(&SyncLabels {
                source: name.to_owned(),
                result: result.as_str().to_owned(),
            })
            .inc();
        self.metrics
            .sync_ok
            .get_or_create(&Metrics::source(name))
            .set(i64::from(result == SyncResult::Applied));
        if let Err(error) = self.records.write_status(status).await {
            tracing::warn!(source = name, error = %crate::k8s::describe_error(&error), "cannot write the status record");
        }
        self.views
            .write()
            .await
            .entry(name.to_owned())
            .or_default()
            .status = status.clone();
    }

    /// Compares the applied revision with the cluster; reports, announces and heals drift.
    async fn check_drift(&self, memory: &mut Memory) {
        let name = self.config.name.as_str();
        let Some((revision, desired)) = &memory.applied else {
            return;
        };
        let mut drift = match self
            .syncer
            .drift(name, revision, desired, &memory.status.inventory)
            .await
        {
            Ok(drift) => drift,
            Err(error) => {
                tracing::warn!(source = name, error = %crate::k8s::describe_error(&error), "drift check failed");
                return;
            }
        };
        // While a newer commit is half applied, the applied revision is not what Git wants:
        // healing back to it would undo the newer commit's objects.
        let heal = self.config.self_heal && memory.status.result != SyncResult::Failed;
        if heal && !drift.drifted.is_empty() {
            let problems = self.syncer.heal(&drift.drifted).await;
            let healed = drift.drifted.len() - problems.len();
            tracing::info!(
                source = name,
                healed,
                failed = problems.len(),
                "self-heal re-applied drifted objects"
            );
            self.metrics
                .healed_objects
                .get_or_create(&Metrics::source(name))
                .inc_by(healed as u64);
            for problem in problems {
                tracing::warn!(source = name, %problem, "self-heal failed");
            }
            for object in &drift.drifted {
                self.announce(object, "DriftHealed", "re-applied from Git (selfHeal)")
                    .await;
            }
            match self
                .syncer
                .drift(name, revision, desired, &memory.status.inventory)
                .await
            {
                Ok(after) => drift = after,
                Err(error) => {
                    tracing::warn!(source = name, error = %crate::k8s::describe_error(&error), "drift check after self-heal failed");
                }
            }
        } else {
            let mut current = HashMap::new();
            for object in &drift.drifted {
                let key = object.desired.key.to_string();
                let diff = drift
                    .report
                    .objects
                    .iter()
                    .find(|entry| entry.object == key)
                    .map(|entry| format!("{:?}", entry.difference))
                    .unwrap_or_default();
                if memory.announced.get(&key) != Some(&diff) {
                    self.announce(
                        object,
                        "DriftDetected",
                        &format!(
                            "differs from Git ({} at {})",
                            self.config.name, object.desired.origin
                        ),
                    )
                    .await;
                }
                current.insert(key, diff);
            }
            memory.announced = current;
        }
        let drifted = drift.report.objects.len();
        if drifted > 0 {
            tracing::warn!(source = name, drifted, "the cluster differs from Git");
        }
        self.metrics
            .drifted_objects
            .get_or_create(&Metrics::source(name))
            .set(i64::try_from(drifted).unwrap_or(i64::MAX));
        if let Err(error) = self.records.write_drift(&drift.report).await {
            tracing::warn!(source = name, error = %crate::k8s::describe_error(&error), "cannot write the drift report");
        }
        self.views
            .write()
            .await
            .entry(name.to_owned())
            .or_default()
            .drift = Some(drift.report);
    }

    /// A Warning Event on the drifted object (nothing to attach it to when it is missing).
    async fn announce(&self, object: &crate::sync::DriftedLive, reason: &str, note: &str) {
        let (Some(live), Some(kind)) = (&object.live, &object.desired.kind) else {
            return;
        };
        let reference = live.object_ref(&kind.resource);
        let event = crate::k8s::events::Note {
            warning: true,
            reason,
            message: note,
            action: "Sync",
        };
        if let Err(error) = self.recorder.publish(&reference, &event).await {
            tracing::warn!(object = %object.desired.key, %error, "cannot publish Event");
        }
    }
}
