//! The reporter: watches the Rollouts that sources applied and tells Git and the forge what
//! they do — commit statuses on the source commit, outcome records on the status branch,
//! reverts after failed analysis, promotion pull requests at approval pauses — and releases
//! a pause when an approval record for exactly that revision and step is in Git.
//!
//! In: Rollout changes (a watch), results of write jobs, a tick for retries and pull-request
//! polling. Out: jobs on each source's write queue, forge calls, promotions and aborts
//! recorded in Rollout status. Nothing here blocks a rollout: a forge or Git outage delays
//! reports, it never stops the controller. What a decision needs is read where any replica
//! finds it: the record on the status branch (a Rollout whose record cannot be read yet is
//! not tracked with a fresh one, which would overwrite it), the commits of the revisions from
//! their ReplicaSets. What could not be queued stays undone and is tried again on the tick.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::k8s::events::{Note, Publisher};
use futures::StreamExt;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use tokio::sync::{Notify, mpsc, watch};

use super::write_loop::Done;
use crate::config::{OnAbort, SourceConfig};
use crate::controller::Scope;
use crate::engine;
use crate::forge::{CommitStatus, Forge, Pull, PullState};
use crate::k8s::crd::{AnalysisRun, Rollout};
use crate::k8s::{self, Client, ListParams, labels};
use crate::source::GitCache;
use crate::writeback::approval::Approval;
use crate::writeback::progress::{self, Snapshot};
use crate::writeback::record::{Approver, OutcomeRecord, Revision, RolloutRef, SourceRef};
use crate::writeback::revert::{RevertJob, short};
use crate::writeback::{FileWrite, GitWriter, Job, Outcome, PromotionJob, Queue};

/// How often failed statuses are retried and open promotion pull requests are polled.
const TICK: Duration = Duration::from_secs(5);

/// The longest the reporter's loop waits on Git or the forge for something it could do
/// without (an earlier record, the name of a merger): an outage must not hold up the others.
const PATIENCE: Duration = Duration::from_secs(10);

/// What the reporter can reach for one source.
#[derive(Clone)]
pub struct Outlet {
    /// The source.
    pub config: SourceConfig,
    /// The source's own Git cache (approval records are read from the synced commit).
    pub source_cache: Arc<GitCache>,
    /// The write-back writer (also reads existing records).
    pub writer: Arc<Mutex<GitWriter>>,
    /// The source's write queue.
    pub queue: Arc<Queue>,
    /// Rings the write loop.
    pub wake: Arc<Notify>,
    /// The forge, when configured.
    pub forge: Option<Arc<Forge>>,
}

/// A pull request opened for a Rollout.
#[derive(Clone, Debug)]
struct Proposal {
    /// The revision and step it approves.
    hash: String,
    step: usize,
    /// The pull request, once open.
    pull: Option<Pull>,
}

/// What the reporter knows about one Rollout.
struct Tracked {
    source: String,
    rollout: Rollout,
    snapshot: Option<Snapshot>,
    record: OutcomeRecord,
    /// The status last accepted by the forge, and one in flight.
    status_sent: Option<(String, CommitStatus)>,
    status_in_flight: bool,
    revert_queued: bool,
    /// The record changed but could not be queued: queued again on the next tick.
    record_unqueued: bool,
    promotion: Option<Proposal>,
    /// Person actions already recorded (annotation values), by annotation.
    actions_seen: HashMap<&'static str, String>,
}

/// Results of forge calls made in the background.
enum Reply {
    StatusSent {
        key: String,
        commit: String,
        status: CommitStatus,
        ok: bool,
    },
    PullPolled {
        key: String,
        pull: Pull,
    },
}

/// The reporter.
pub struct Reporter {
    client: Client,
    scope: Scope,
    outlets: HashMap<String, Outlet>,
    recorder: Publisher,
    tracked: HashMap<String, Tracked>,
    /// Rollouts whose record on the status branch could not be read yet, by key: tracking
    /// them with a fresh record would overwrite the branch's (timeline and approvals lost).
    unread: HashMap<String, Rollout>,
    replies: (mpsc::UnboundedSender<Reply>, mpsc::UnboundedReceiver<Reply>),
}

impl Reporter {
    /// A reporter for the Rollouts of `outlets` within `scope`.
    #[must_use]
    pub fn new(client: Client, scope: Scope, outlets: Vec<Outlet>, recorder: Publisher) -> Self {
        Self {
            client,
            scope,
            outlets: outlets
                .into_iter()
                .map(|outlet| (outlet.config.name.clone(), outlet))
                .collect(),
            recorder,
            tracked: HashMap::new(),
            unread: HashMap::new(),
            replies: mpsc::unbounded_channel(),
        }
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(
        mut self,
        mut done: mpsc::UnboundedReceiver<Done>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let api: Api<Rollout> = match &self.scope {
            Scope::Cluster => Api::all(self.client.clone()),
            Scope::Namespace(namespace) => Api::namespaced(self.client.clone(), namespace),
        };
        let mut rollouts = watcher(api, watcher::Config::default().labels(labels::SOURCE))
            .default_backoff()
            .applied_objects()
            .boxed();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                item = rollouts.next() => match item {
                    Some(Ok(rollout)) => Box::pin(self.observe(rollout)).await,
                    Some(Err(error)) => tracing::warn!(%error, "watching Rollouts for reports failed; retrying"),
                    None => return,
                },
                Some(finished) = done.recv() => self.finished(finished).await,
                Some(reply) = self.replies.1.recv() => self.replied(reply).await,
                _ = tick.tick() => Box::pin(self.tick()).await,
            }
        }
    }

    /// A Rollout changed.
    async fn observe(&mut self, rollout: Rollout) {
        let Some(source) = rollout.labels().get(labels::SOURCE).cloned() else {
            return;
        };
        if !self.outlets.contains_key(&source) {
            return;
        }
        let Some(snapshot) = progress::snapshot(&rollout) else {
            return;
        };
        let key = key_of(&rollout);
        if !self.tracked.contains_key(&key) {
            let Ok(record) = self.existing_record(&source, &rollout).await else {
                let reference = rollout.object_ref(&());
                if self.unread.insert(key.clone(), rollout).is_none() {
                    let note = Note {
                        warning: true,
                        reason: "WriteBackDelayed",
                        message: "the outcome record on the status branch cannot be read yet; reports wait until it can",
                        action: "WriteBack",
                    };
                    if let Err(error) = self.recorder.publish(&reference, &note).await {
                        tracing::debug!(rollout = %key, %error, "cannot publish the delay as an Event");
                    }
                }
                return;
            };
            self.unread.remove(&key);
            self.tracked.insert(
                key.clone(),
                Tracked {
                    source: source.clone(),
                    rollout: rollout.clone(),
                    snapshot: None,
                    record: record.unwrap_or_default(),
                    status_sent: None,
                    status_in_flight: false,
                    revert_queued: false,
                    record_unqueued: false,
                    promotion: None,
                    actions_seen: PERSON_ACTIONS
                        .iter()
                        .filter_map(|(annotation, _)| {
                            Some((*annotation, rollout.annotations().get(*annotation)?.clone()))
                        })
                        .collect(),
                },
            );
        }
        self.update(&key, rollout, snapshot).await;
        self.send_status(&key);
        self.react(&key).await;
    }

    /// Brings the record up to date with `snapshot`, queueing record writes.
    async fn update(&mut self, key: &str, rollout: Rollout, snapshot: Snapshot) {
        let now = jiff::Timestamp::now().to_string();
        let commit = rollout
            .annotations()
            .get(labels::COMMIT)
            .cloned()
            .unwrap_or_default();
        let tracked = self.tracked.get_mut(key).expect("tracked above");
        let outlet = &self.outlets[&tracked.source];
        let previous = tracked.snapshot.clone();
        let same_revision = tracked.record.revision.pod_template_hash == snapshot.hash;
        let mut writes = Vec::new();
        if !same_revision {
            if tracked.record.outcome() == Outcome::Aborted
                && tracked.record.reverted_by.is_none()
                && reverts(&outlet.source_cache, &commit).await.as_deref()
                    == Some(tracked.record.source.commit.as_str())
            {
                tracked.record.reverted_by = Some(commit.clone());
                tracked
                    .record
                    .note(&now, format!("reverted in Git by {}", short(&commit)));
                writes.push(tracked.record.clone());
            }
            writes.extend(begin_revision(tracked, &rollout, &snapshot, commit, &now));
        }
        let before = tracked.record.outcome();
        let events = snapshot.events_since(previous.as_ref(), &rollout);
        // A record read back from the status branch already holds what happened before.
        let fresh_events: Vec<String> = events
            .into_iter()
            .filter(|event| {
                !(previous.is_none()
                    && tracked
                        .record
                        .timeline
                        .iter()
                        .any(|entry| &entry.event == event))
            })
            .collect();
        for event in &fresh_events {
            tracing::info!(rollout = key, source = %tracked.source, "{event}");
            tracked.record.note(&now, event.clone());
        }
        note_person_actions(tracked, &rollout, &now);
        let outcome = snapshot.outcome();
        tracked.record.outcome = Some(outcome);
        tracked.record.steps = snapshot.steps;
        tracked.record.steps_completed = snapshot.step;
        tracked.record.message = if outcome == Outcome::Aborted {
            snapshot.message.clone()
        } else {
            String::new()
        };
        tracked.snapshot = Some(snapshot);
        tracked.rollout = rollout;
        let every_step = outlet
            .config
            .write_back
            .as_ref()
            .is_some_and(|write_back| write_back.every_step);
        let finished = outcome.is_terminal() && outcome != before;
        if finished || (every_step && !fresh_events.is_empty()) {
            if outcome.is_terminal() {
                let verdicts = self.verdicts(key).await;
                let tracked = self.tracked.get_mut(key).expect("tracked above");
                tracked.record.analysis = verdicts;
            }
            let tracked = &self.tracked[key];
            writes.push(tracked.record.clone());
        }
        let source = self.tracked[key].source.clone();
        if !writes.is_empty() {
            let queued = writes
                .iter()
                .all(|record| self.queue_record(&source, record));
            self.tracked
                .get_mut(key)
                .expect("tracked above")
                .record_unqueued = !queued;
        }
    }

    /// Queues `record` on the status branch of `source` (when write-back is on); false if it
    /// could not be queued.
    fn queue_record(&self, source: &str, record: &OutcomeRecord) -> bool {
        let outlet = &self.outlets[source];
        let Some(write_back) = &outlet.config.write_back else {
            return true;
        };
        let job = Job::Files {
            branch: write_back.branch.clone(),
            message: record.commit_message(),
            files: vec![FileWrite {
                path: record.path(),
                content: Some(record.to_yaml()),
            }],
        };
        self.queue(source, &job)
    }

    /// Queues `job` on the write queue of `source`; false (logged) if it could not be: the
    /// caller keeps it as not done, to try again.
    fn queue(&self, source: &str, job: &Job) -> bool {
        let outlet = &self.outlets[source];
        match outlet.queue.push(job) {
            Ok(_) => {
                outlet.wake.notify_one();
                true
            }
            Err(error) => {
                tracing::error!(source, %error, "cannot queue a write-back job; trying again");
                false
            }
        }
    }

    /// The verdicts of the analysis runs of the tracked revision.
    async fn verdicts(&self, key: &str) -> Vec<crate::writeback::record::AnalysisVerdict> {
        let tracked = &self.tracked[key];
        let namespace = tracked.rollout.namespace().unwrap_or_default();
        let selector = format!(
            "{}={},{}={}",
            labels::ROLLOUT,
            tracked.rollout.name_any(),
            labels::POD_TEMPLATE_HASH,
            tracked.record.revision.pod_template_hash
        );
        let api: Api<AnalysisRun> = Api::namespaced(self.client.clone(), &namespace);
        match api.list(&ListParams::default().labels(&selector)).await {
            Ok(runs) => progress::verdicts(&runs.items),
            Err(error) => {
                tracing::warn!(rollout = key, %error, "cannot read analysis runs for the record");
                Vec::new()
            }
        }
    }

    /// The record of this Rollout on the status branch, if write-back is on and it has one;
    /// `Err` when the branch cannot be read now (slow or failing).
    async fn existing_record(
        &self,
        source: &str,
        rollout: &Rollout,
    ) -> Result<Option<OutcomeRecord>, ()> {
        let outlet = &self.outlets[source];
        let Some(write_back) = outlet.config.write_back.as_ref() else {
            return Ok(None);
        };
        let branch = write_back.branch.clone();
        let path = format!(
            "rollouts/{}/{}.yaml",
            rollout.namespace().unwrap_or_default(),
            rollout.name_any()
        );
        let writer = outlet.writer.clone();
        let read = tokio::task::spawn_blocking(move || {
            writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .read(&branch, &path)
        });
        match tokio::time::timeout(PATIENCE, read).await {
            Ok(Ok(Ok(Some(bytes)))) => {
                Ok(OutcomeRecord::from_yaml(&String::from_utf8_lossy(&bytes)))
            }
            Ok(Ok(Ok(None))) => Ok(None),
            Ok(Ok(Err(error))) => {
                tracing::warn!(source, error = %k8s::describe_error(&error), "cannot read the status branch; trying again");
                Err(())
            }
            Ok(Err(panicked)) => std::panic::resume_unwind(panicked.into_panic()),
            Err(_) => {
                tracing::warn!(source, "reading the status branch is slow; trying again");
                Err(())
            }
        }
    }

    /// Sends the commit status the Rollout's snapshot calls for, unless the forge has it.
    fn send_status(&mut self, key: &str) {
        let Some(tracked) = self.tracked.get_mut(key) else {
            return;
        };
        let Some(forge) = self.outlets[&tracked.source].forge.clone() else {
            return;
        };
        let (Some(snapshot), commit) = (&tracked.snapshot, tracked.record.source.commit.clone())
        else {
            return;
        };
        if commit.is_empty() || tracked.status_in_flight {
            return;
        }
        let mut status = snapshot.commit_status(&progress::status_context(&tracked.rollout));
        if tracked.record.outcome() == Outcome::Aborted {
            if let Some(revert) = &tracked.record.reverted_by {
                status.description =
                    format!("{}; reverted in {}", status.description, short(revert));
            } else if let Some(error) = &tracked.record.revert_error {
                status.description = format!("aborted; not reverted in Git: {error}");
            }
        }
        if tracked.status_sent.as_ref() == Some(&(commit.clone(), status.clone())) {
            return;
        }
        tracked.status_in_flight = true;
        tracing::debug!(rollout = key, %commit, state = ?status.state, description = %status.description, "setting the commit status");
        let replies = self.replies.0.clone();
        let key = key.to_owned();
        tokio::spawn(async move {
            let result = forge.set_status(&commit, &status).await;
            if let Err(error) = &result {
                tracing::warn!(rollout = %key, %commit, error = %k8s::describe_error(error), "cannot set the commit status; will retry");
            }
            let _ = replies.send(Reply::StatusSent {
                key,
                commit,
                status,
                ok: result.is_ok(),
            });
        });
    }

    /// Acts on the Rollout's state: reverts after failed analysis, approvals at pauses.
    async fn react(&mut self, key: &str) {
        self.revert(key).await;
        let Some(snapshot) = self
            .tracked
            .get(key)
            .and_then(|tracked| tracked.snapshot.clone())
        else {
            return;
        };
        if snapshot.awaiting_approval {
            self.approval(key, &snapshot).await;
        }
    }

    /// After failed analysis: queues, once, the revert of the commit that brought the
    /// revision. That commit and the last good revision's are read from the revisions'
    /// ReplicaSets, not from memory, so a replica that took over between the abort and the
    /// revert reverts the same commit. Not queued now (the cluster or the queue failing) is
    /// tried again on the next tick.
    async fn revert(&mut self, key: &str) {
        let Some(tracked) = self.tracked.get(key) else {
            return;
        };
        let Some(snapshot) = &tracked.snapshot else {
            return;
        };
        let outlet = &self.outlets[&tracked.source];
        if !snapshot.analysis_failed
            || outlet.config.on_abort == OnAbort::None
            || tracked.revert_queued
            || tracked.record.reverted_by.is_some()
        {
            return;
        }
        let Some(file) = tracked.rollout.annotations().get(labels::FILE).cloned() else {
            return;
        };
        let Some(commits) = revision_commits(&self.client, &tracked.rollout, &snapshot.hash).await
        else {
            return;
        };
        let job = Job::Revert(RevertJob {
            source: tracked.source.clone(),
            branch: outlet.config.reference.clone(),
            path: outlet.config.path.clone(),
            rollout: key.to_owned(),
            deployed: commits
                .brought
                .unwrap_or_else(|| tracked.record.source.commit.clone()),
            since: commits.last_good,
            file,
            reason: snapshot.message.clone(),
            pull_request: outlet.config.on_abort == OnAbort::RevertPr,
        });
        let source = tracked.source.clone();
        let queued = self.queue(&source, &job);
        self.tracked.get_mut(key).expect("tracked").revert_queued = queued;
    }

    /// At an approval pause: release it when Git holds an approval for this revision and
    /// step; otherwise propose one as a pull request (once) when a forge is configured.
    async fn approval(&mut self, key: &str, snapshot: &Snapshot) {
        let tracked = &self.tracked[key];
        let outlet = &self.outlets[&tracked.source];
        let namespace = tracked.rollout.namespace().unwrap_or_default();
        let name = tracked.rollout.name_any();
        let synced = tracked
            .rollout
            .annotations()
            .get(labels::COMMIT)
            .cloned()
            .unwrap_or_default();
        if let Some(approval) = read_approval(outlet, &synced, &namespace, &name).await
            && approval.approves(&namespace, &name, &snapshot.hash, snapshot.step)
        {
            self.release(key, snapshot, &approval, &synced).await;
            return;
        }
        let wants_pull = outlet
            .config
            .forge
            .as_ref()
            .is_some_and(|forge| forge.promotion_pull_requests);
        let proposed = tracked.promotion.as_ref().is_some_and(|proposal| {
            proposal.hash == snapshot.hash && proposal.step == snapshot.step
        });
        if !wants_pull || proposed {
            return;
        }
        let branch = format!(
            "tidegate/promote/{namespace}-{name}-{}-{}",
            snapshot.hash, snapshot.step
        );
        let record = Approval::path(&namespace, &name);
        let (title, body) =
            crate::writeback::messages::promotion_pull(&crate::writeback::messages::Pause {
                namespace: &namespace,
                name: &name,
                revision: &snapshot.hash,
                images: &snapshot.images,
                step: snapshot.step,
                steps: snapshot.steps,
                record: &record,
            });
        let job = Job::Promotion(PromotionJob {
            rollout: key.to_owned(),
            branch,
            base: outlet.config.reference.clone(),
            approval: Approval {
                namespace: namespace.clone(),
                rollout: name.clone(),
                revision: snapshot.hash.clone(),
                step: Some(snapshot.step),
                approved_by: String::new(),
                reason: String::new(),
            },
            title,
            body,
        });
        let source = tracked.source.clone();
        if !self.queue(&source, &job) {
            return;
        }
        self.tracked.get_mut(key).expect("tracked").promotion = Some(Proposal {
            hash: snapshot.hash.clone(),
            step: snapshot.step,
            pull: None,
        });
    }

    /// Promotes past the pause `approval` releases, and records who approved.
    async fn release(&mut self, key: &str, snapshot: &Snapshot, approval: &Approval, synced: &str) {
        let tracked = &self.tracked[key];
        let namespace = tracked.rollout.namespace().unwrap_or_default();
        let name = tracked.rollout.name_any();
        let (hash, step) = (snapshot.hash.clone(), snapshot.step);
        let promoted = k8s::act(&self.client, &namespace, &name, move |rollout, state| {
            let now = progress::snapshot(rollout).ok_or("not observed yet")?;
            if !now.awaiting_approval || now.hash != hash || now.step != step {
                return Err("no longer waiting at this pause".to_owned());
            }
            let plan = rollout
                .spec
                .plan()
                .map_err(|errors| format!("its spec is invalid: {errors}"))?;
            Ok(engine::promote(&plan, state))
        })
        .await;
        if let Err(error) = promoted {
            tracing::warn!(rollout = key, error = %k8s::describe_error(&error), "cannot release the approved pause");
            return;
        }
        let outlet = &self.outlets[&tracked.source];
        let pull = tracked
            .promotion
            .as_ref()
            .and_then(|proposal| proposal.pull.clone());
        let merged_by = match (&outlet.forge, &pull) {
            (Some(forge), Some(pull)) => tokio::time::timeout(PATIENCE, forge.pull(pull.number))
                .await
                .ok()
                .and_then(Result::ok)
                .and_then(|pull| pull.merged_by),
            _ => None,
        };
        let (by, via, reference) = match (merged_by, pull) {
            (Some(by), Some(pull)) => (by, "pull-request", pull.url),
            _ if !approval.approved_by.is_empty() => {
                (approval.approved_by.clone(), "commit", synced.to_owned())
            }
            _ => ("unknown".to_owned(), "commit", synced.to_owned()),
        };
        tracing::info!(rollout = key, approver = %by, via, "approved pause released");
        let tracked = self.tracked.get_mut(key).expect("tracked");
        tracked.record.approvals.push(Approver {
            by: by.clone(),
            via: via.to_owned(),
            reference,
        });
        tracked.record.note(
            &jiff::Timestamp::now().to_string(),
            format!("approved by {by} ({via})"),
        );
        if let (Some(forge), Some(pull)) = (
            self.outlets[&tracked.source].forge.clone(),
            tracked
                .promotion
                .as_ref()
                .and_then(|proposal| proposal.pull.clone()),
        ) {
            let note = crate::writeback::messages::released(key, step, &by);
            tokio::spawn(async move {
                if let Err(error) = forge.comment(pull.number, &note).await {
                    tracing::debug!(pull = pull.number, %error, "cannot comment on the promotion pull request");
                }
            });
        }
        let message = format!(
            "pause at step {} released: approved by {by} ({via})",
            step + 1
        );
        let event = Note {
            warning: false,
            reason: "RolloutApproved",
            message: &message,
            action: "Promote",
        };
        let reference = tracked.rollout.object_ref(&());
        if let Err(error) = self.recorder.publish(&reference, &event).await {
            tracing::warn!(rollout = key, %error, "cannot record the approval Event");
        }
    }

    /// A write job finished.
    async fn finished(&mut self, done: Done) {
        let (key, event, reason, warning) = match done {
            Done::Reverted {
                rollout,
                deployed,
                commit,
            } => {
                let Some(tracked) = self
                    .tracked
                    .get_mut(&rollout)
                    .filter(|tracked| {
                        tracked.revert_queued || tracked.record.source.commit == deployed
                    })
                    .filter(|tracked| tracked.record.reverted_by.is_none())
                else {
                    // The sync of the revert got here first and recorded it already.
                    return;
                };
                tracked.record.reverted_by = Some(commit.clone());
                (
                    rollout,
                    format!("reverted in Git by {}", short(&commit)),
                    "RolloutReverted",
                    false,
                )
            }
            Done::RevertProposed { rollout, pull } => (
                rollout,
                format!(
                    "revert proposed in pull request #{} {}",
                    pull.number, pull.url
                ),
                "RevertProposed",
                false,
            ),
            Done::PromotionProposed {
                rollout,
                revision,
                step,
                pull,
            } => {
                let number = pull.number;
                let url = pull.url.clone();
                // Only for the pause it was opened for: a late answer about an earlier pause
                // must not stand for the current one.
                if let Some(proposal) = self
                    .tracked
                    .get_mut(&rollout)
                    .and_then(|tracked| tracked.promotion.as_mut())
                    .filter(|proposal| proposal.hash == revision && Some(proposal.step) == step)
                {
                    proposal.pull = Some(pull);
                }
                (
                    rollout,
                    format!("promotion pull request #{number} opened: {url}"),
                    "PromotionProposed",
                    false,
                )
            }
            Done::Failed { rollout, reason } => {
                if let Some(tracked) = self.tracked.get_mut(&rollout)
                    && tracked.revert_queued
                    && tracked.record.outcome() == Outcome::Aborted
                {
                    tracked.record.revert_error = Some(reason.clone());
                }
                (rollout, reason, "WriteBackFailed", true)
            }
        };
        let Some(tracked) = self.tracked.get_mut(&key) else {
            return;
        };
        tracked
            .record
            .note(&jiff::Timestamp::now().to_string(), event.clone());
        let record = tracked.record.clone();
        let source = tracked.source.clone();
        let reference = tracked.rollout.object_ref(&());
        let queued = self.queue_record(&source, &record);
        if let Some(tracked) = self.tracked.get_mut(&key) {
            tracked.record_unqueued |= !queued;
        }
        let kube_event = Note {
            warning,
            reason,
            message: &event,
            action: "WriteBack",
        };
        if let Err(error) = self.recorder.publish(&reference, &kube_event).await {
            tracing::warn!(rollout = %key, %error, "cannot record a write-back Event");
        }
        self.send_status(&key);
    }

    async fn replied(&mut self, reply: Reply) {
        match reply {
            Reply::StatusSent {
                key,
                commit,
                status,
                ok,
            } => {
                if let Some(tracked) = self.tracked.get_mut(&key) {
                    tracked.status_in_flight = false;
                    if ok {
                        tracked.status_sent = Some((commit, status));
                    }
                }
                self.send_status(&key);
            }
            Reply::PullPolled { key, pull } => self.polled(&key, pull).await,
        }
    }

    /// A promotion pull request's state: closed unmerged means rejected, so abort.
    async fn polled(&mut self, key: &str, pull: Pull) {
        let Some(tracked) = self.tracked.get_mut(key) else {
            return;
        };
        let Some(proposal) = tracked.promotion.as_mut().filter(|proposal| {
            proposal
                .pull
                .as_ref()
                .is_some_and(|open| open.number == pull.number)
        }) else {
            return;
        };
        proposal.pull = Some(pull.clone());
        if pull.state != PullState::Closed
            || !tracked.snapshot.as_ref().is_some_and(|snapshot| {
                snapshot.awaiting_approval
                    && snapshot.hash == proposal.hash
                    && snapshot.step == proposal.step
            })
        {
            return;
        }
        let namespace = tracked.rollout.namespace().unwrap_or_default();
        let name = tracked.rollout.name_any();
        let (hash, step) = (proposal.hash.clone(), proposal.step);
        // The same checks against the Rollout as written now: a pause released meanwhile (by
        // `tidegate promote`, say) is not aborted by a pull request closed as redundant.
        let aborted = k8s::act(&self.client, &namespace, &name, move |rollout, state| {
            let now = progress::snapshot(rollout).ok_or("not observed yet")?;
            if !now.awaiting_approval || now.hash != hash || now.step != step {
                return Err("no longer waiting at this pause".to_owned());
            }
            Ok(engine::abort(state))
        })
        .await;
        match aborted {
            Ok(_) => {
                tracing::info!(
                    rollout = key,
                    pull = pull.number,
                    "promotion pull request closed unmerged: aborted"
                );
                let tracked = self.tracked.get_mut(key).expect("tracked");
                tracked.record.approvals.push(Approver {
                    by: "rejected".to_owned(),
                    via: "pull-request".to_owned(),
                    reference: pull.url.clone(),
                });
                tracked.record.note(
                    &jiff::Timestamp::now().to_string(),
                    format!(
                        "rejected: promotion pull request #{} closed without merging",
                        pull.number
                    ),
                );
                tracked.promotion = None;
            }
            Err(error) => {
                tracing::warn!(rollout = key, error = %k8s::describe_error(&error), "cannot abort after a rejected promotion");
            }
        }
    }

    /// Retries what could not be done when it was due — reading a record, queueing a record
    /// or a revert, a commit status — and polls open promotion pull requests.
    async fn tick(&mut self) {
        let unread: Vec<Rollout> = self.unread.values().cloned().collect();
        for rollout in unread {
            Box::pin(self.observe(rollout)).await;
        }
        let keys: Vec<String> = self.tracked.keys().cloned().collect();
        for key in keys {
            let tracked = &self.tracked[&key];
            if tracked.record_unqueued {
                let (source, record) = (tracked.source.clone(), tracked.record.clone());
                let queued = self.queue_record(&source, &record);
                self.tracked.get_mut(&key).expect("tracked").record_unqueued = !queued;
            }
            self.revert(&key).await;
            self.send_status(&key);
            let tracked = &self.tracked[&key];
            let Some(forge) = self.outlets[&tracked.source].forge.clone() else {
                continue;
            };
            let Some(number) = tracked
                .promotion
                .as_ref()
                .and_then(|proposal| proposal.pull.as_ref())
                .filter(|pull| pull.state == PullState::Open)
                .map(|pull| pull.number)
            else {
                continue;
            };
            let replies = self.replies.0.clone();
            tokio::spawn(async move {
                match forge.pull(number).await {
                    Ok(pull) => {
                        let _ = replies.send(Reply::PullPolled { key, pull });
                    }
                    Err(error) => {
                        tracing::debug!(rollout = %key, pull = number, %error, "cannot read the promotion pull request");
                    }
                }
            });
        }
    }
}

/// The commits of a Rollout's revisions, as their ReplicaSets recorded them at creation.
struct RevisionCommits {
    /// The commit that brought revision `hash`.
    brought: Option<String>,
    /// The commit of the stable (last good) revision.
    last_good: Option<String>,
}

/// Reads [`RevisionCommits`] for revision `hash` of `rollout`; `None` if the cluster cannot
/// answer now. A ReplicaSet without the annotation (made before tidegate recorded it) gives
/// no commit.
async fn revision_commits(
    client: &Client,
    rollout: &Rollout,
    hash: &str,
) -> Option<RevisionCommits> {
    let api: Api<k8s::ReplicaSet> =
        Api::namespaced(client.clone(), &rollout.namespace().unwrap_or_default());
    let name = rollout.name_any();
    let stable = rollout
        .status
        .as_ref()
        .map(|status| status.stable_rs.clone())
        .filter(|stable| !stable.is_empty() && stable != hash);
    let commit_of = async |hash: &str| -> Result<Option<String>, ()> {
        let replica_set = format!("{name}-{hash}");
        match tokio::time::timeout(PATIENCE, api.get_opt(&replica_set)).await {
            Ok(Ok(replica_set)) => Ok(replica_set
                .and_then(|replica_set| replica_set.annotations().get(labels::COMMIT).cloned())),
            Ok(Err(error)) => {
                tracing::warn!(rollout = %name, error = %k8s::describe_error(&error), "cannot read a revision's ReplicaSet; trying again");
                Err(())
            }
            Err(_) => Err(()),
        }
    };
    let brought = commit_of(hash).await.ok()?;
    let last_good = match &stable {
        Some(stable) => commit_of(stable).await.ok()?,
        None => None,
    };
    Some(RevisionCommits { brought, last_good })
}

/// Starts the record of a new revision; returns the previous one if it was superseded.
fn begin_revision(
    tracked: &mut Tracked,
    rollout: &Rollout,
    snapshot: &Snapshot,
    commit: String,
    now: &str,
) -> Option<OutcomeRecord> {
    let mut superseded = None;
    if !tracked.record.revision.pod_template_hash.is_empty()
        && !tracked.record.outcome().is_terminal()
    {
        tracked.record.outcome = Some(Outcome::Superseded);
        tracked
            .record
            .note(now, format!("superseded by revision {}", snapshot.hash));
        superseded = Some(tracked.record.clone());
    }
    tracked.record = OutcomeRecord {
        rollout: RolloutRef {
            namespace: rollout.namespace().unwrap_or_default(),
            name: rollout.name_any(),
        },
        source: SourceRef {
            name: tracked.source.clone(),
            commit,
        },
        revision: Revision {
            pod_template_hash: snapshot.hash.clone(),
            images: snapshot.images.clone(),
        },
        steps: snapshot.steps,
        ..OutcomeRecord::default()
    };
    tracked.revert_queued = false;
    tracked.promotion = None;
    superseded
}

/// The annotations the CLI leaves for actions that bypass Git, and how the record says so.
const PERSON_ACTIONS: [(&str, &str); 2] = [
    (
        labels::DIRECT_PROMOTION,
        "promoted directly by {} (break-glass, not through Git)",
    ),
    (labels::ABORTED_BY, "aborted by {} (tidegate abort)"),
];

/// Records each new person action (`tidegate promote --direct`, `tidegate abort`) once.
fn note_person_actions(tracked: &mut Tracked, rollout: &Rollout, now: &str) {
    for (annotation, text) in PERSON_ACTIONS {
        let Some(value) = rollout.annotations().get(annotation) else {
            continue;
        };
        if tracked.actions_seen.get(annotation) == Some(value) {
            continue;
        }
        tracked.actions_seen.insert(annotation, value.clone());
        let by = value
            .split_whitespace()
            .next()
            .unwrap_or("unknown")
            .to_owned();
        tracked.record.approvals.push(Approver {
            by: by.clone(),
            via: if annotation == labels::ABORTED_BY {
                "rejected (tidegate abort)".to_owned()
            } else {
                "direct".to_owned()
            },
            reference: String::new(),
        });
        tracked.record.note(now, text.replace("{}", &by));
    }
}

/// `namespace/name`.
fn key_of(rollout: &Rollout) -> String {
    format!(
        "{}/{}",
        rollout.namespace().unwrap_or_default(),
        rollout.name_any()
    )
}

/// The commit `commit` reverts, when it is one of tidegate's reverts (read from the
/// source's cache, which holds every synced commit).
async fn reverts(cache: &Arc<GitCache>, commit: &str) -> Option<String> {
    let (cache, commit) = (cache.clone(), commit.to_owned());
    tokio::task::spawn_blocking(move || {
        let repo = cache.open().ok()?;
        let id = gix::ObjectId::from_hex(commit.as_bytes()).ok()?;
        let message = repo.find_commit(id).ok()?.message_raw().ok()?.to_string();
        crate::writeback::revert::reverted_by_trailer(&message)
    })
    .await
    .ok()
    .flatten()
}

/// The approval record of `namespace/name` in the synced commit, if any.
async fn read_approval(
    outlet: &Outlet,
    commit: &str,
    namespace: &str,
    name: &str,
) -> Option<Approval> {
    if commit.is_empty() {
        return None;
    }
    let cache = outlet.source_cache.clone();
    let (commit, path) = (commit.to_owned(), Approval::path(namespace, name));
    let text = tokio::task::spawn_blocking(move || {
        let repo = cache.open().ok()?;
        let id = gix::ObjectId::from_hex(commit.as_bytes()).ok()?;
        crate::writeback::git::read_at(&repo, id, &path)
            .ok()
            .flatten()
    })
    .await
    .ok()
    .flatten()?;
    let approval = Approval::from_yaml(&String::from_utf8_lossy(&text));
    if approval.is_none() {
        tracing::warn!(%namespace, rollout = %name, "the approval record is not valid YAML of an approval; ignored");
    }
    approval
}
