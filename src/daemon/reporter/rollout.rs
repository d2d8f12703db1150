//! The reporter of one Rollout, a task of its own: it keeps the Rollout's outcome record,
//! sets commit statuses, queues record writes and the revert after failed analysis, and
//! handles approval pauses ([`super::approval`]).
//!
//! In: the Rollout's changes and its finished write jobs (from the dispatcher), answers of
//! forge calls it made in the background, a tick for retries and pull-request polling. Out:
//! jobs on the source's write queue, forge calls, promotions and aborts recorded in Rollout
//! status, Events. What a decision needs is read where any replica finds it: the record on
//! the status branch (a Rollout whose record cannot be read yet is not tracked with a fresh
//! one, which would overwrite it), the commits of the revisions from their ReplicaSets.
//! What could not be queued stays undone and is tried again on the tick.

use std::sync::Arc;
use std::time::Duration;

use kube::{Api, Resource, ResourceExt};
use tokio::sync::mpsc;

use super::tracked::Tracked;
use super::{Context, Outlet, reads};
use crate::config::OnAbort;
use crate::daemon::write_loop::Done;
use crate::forge::{CommitStatus, Pull};
use crate::k8s::crd::Rollout;
use crate::k8s::events::Note;
use crate::k8s::{self, labels};
use crate::writeback::progress::{self, Snapshot};
use crate::writeback::record::OutcomeRecord;
use crate::writeback::revert::{RevertJob, short};
use crate::writeback::{FileWrite, Job, Outcome};

/// How often failed statuses are retried and open promotion pull requests are polled.
const TICK: Duration = Duration::from_secs(5);

/// How long a record read may take before the Rollout says its reports are delayed.
const PATIENCE: Duration = Duration::from_secs(10);

/// What the dispatcher hands a Rollout's task.
pub(super) enum Message {
    /// The Rollout as the watch saw it.
    Changed(Box<Rollout>),
    /// A write job of this Rollout finished.
    Finished(Done),
    /// Read the Rollout from the cluster (the task that had it failed).
    Reread,
}

/// Results of forge calls made in the background.
pub(super) enum Reply {
    StatusSent {
        commit: String,
        status: CommitStatus,
        ok: bool,
    },
    PullPolled(Pull),
}

/// The reporter of one Rollout.
pub(super) struct RolloutReporter {
    pub(super) context: Arc<Context>,
    /// `namespace/name`.
    pub(super) key: String,
    /// The source that applied it.
    pub(super) source: String,
    /// Known once its record on the status branch has been read.
    pub(super) tracked: Option<Tracked>,
    /// The latest change, while the record cannot be read.
    unread: Option<Rollout>,
    /// The Rollout must be read from the cluster first.
    reread: bool,
    /// The delay has been announced as an Event (once per delay).
    delay_announced: bool,
    pub(super) replies: (mpsc::UnboundedSender<Reply>, mpsc::UnboundedReceiver<Reply>),
}

impl RolloutReporter {
    pub(super) fn new(context: Arc<Context>, key: String, source: String) -> Self {
        Self {
            context,
            key,
            source,
            tracked: None,
            unread: None,
            reread: false,
            delay_announced: false,
            replies: mpsc::unbounded_channel(),
        }
    }

    /// The outlet of its source.
    pub(super) fn outlet(&self) -> &Outlet {
        &self.context.outlets[&self.source]
    }

    /// Runs until the dispatcher drops its inbox (or aborts it).
    pub(super) async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Message>) {
        // The first tick waits a period: a task replacing a failed one does not retry at once.
        let start = tokio::time::Instant::now() + TICK;
        let mut tick = tokio::time::interval_at(start, TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = inbox.recv() => match message {
                    Some(Message::Changed(rollout)) => Box::pin(self.observe(*rollout)).await,
                    Some(Message::Finished(done)) => self.finished(done).await,
                    Some(Message::Reread) => self.reread = true,
                    None => return,
                },
                Some(reply) = self.replies.1.recv() => self.replied(reply).await,
                _ = tick.tick() => Box::pin(self.tick()).await,
            }
        }
    }

    /// The Rollout changed.
    async fn observe(&mut self, rollout: Rollout) {
        let Some(snapshot) = progress::snapshot(&rollout) else {
            return;
        };
        if self.tracked.is_none() {
            let Ok(record) = self.read_record(&rollout).await else {
                self.unread = Some(rollout);
                return;
            };
            self.unread = None;
            self.delay_announced = false;
            self.tracked = Some(Tracked::new(rollout.clone(), record.unwrap_or_default()));
        }
        self.update(rollout, snapshot).await;
        self.send_status();
        self.react().await;
    }

    /// The record on the status branch, announcing a delay (once) when reading it is slow
    /// or fails.
    async fn read_record(&mut self, rollout: &Rollout) -> Result<Option<OutcomeRecord>, ()> {
        let (outlet, key) = (self.outlet().clone(), self.key.clone());
        let read = reads::existing_record(&outlet, &key, rollout);
        tokio::pin!(read);
        let read = tokio::select! {
            read = &mut read => read,
            () = tokio::time::sleep(PATIENCE) => {
                tracing::warn!(source = %outlet.config.name, rollout = %key, "reading the status branch is slow; reports of this Rollout wait");
                self.announce_delay(rollout).await;
                read.await
            }
        };
        if read.is_err() {
            self.announce_delay(rollout).await;
        }
        read
    }

    /// Says, once per delay, that this Rollout's reports wait for its record.
    async fn announce_delay(&mut self, rollout: &Rollout) {
        if self.delay_announced {
            return;
        }
        self.delay_announced = true;
        let note = Note {
            warning: true,
            reason: "WriteBackDelayed",
            message: "the outcome record on the status branch cannot be read yet; reports wait until it can",
            action: "WriteBack",
        };
        let reference = rollout.object_ref(&());
        if let Err(error) = self.context.recorder.publish(&reference, &note).await {
            tracing::debug!(rollout = %self.key, %error, "cannot publish the delay as an Event");
        }
    }

    /// Brings the record up to date with `snapshot`, queueing record writes.
    async fn update(&mut self, rollout: Rollout, snapshot: Snapshot) {
        let now = jiff::Timestamp::now().to_string();
        let commit = rollout
            .annotations()
            .get(labels::COMMIT)
            .cloned()
            .unwrap_or_default();
        let source_cache = self.outlet().source_cache.clone();
        let every_step = self
            .outlet()
            .config
            .write_back
            .as_ref()
            .is_some_and(|write_back| write_back.every_step);
        let source = self.source.clone();
        let tracked = self.tracked.as_mut().expect("tracked above");
        let previous = tracked.snapshot.clone();
        let mut writes = Vec::new();
        if tracked.record.revision.pod_template_hash != snapshot.hash {
            if tracked.record.outcome() == Outcome::Aborted
                && tracked.record.reverted_by.is_none()
                && reads::reverts(&source_cache, &commit).await.as_deref()
                    == Some(tracked.record.source.commit.as_str())
            {
                tracked.record.reverted_by = Some(commit.clone());
                tracked
                    .record
                    .note(&now, format!("reverted in Git by {}", short(&commit)));
                writes.push(tracked.record.clone());
            }
            writes.extend(tracked.begin_revision(&source, &rollout, &snapshot, commit, &now));
        }
        let before = tracked.record.outcome();
        let events = snapshot.events_since(previous.as_ref(), &rollout);
        let fresh_events = tracked.fresh_events(previous.is_none(), events);
        for event in &fresh_events {
            tracing::info!(rollout = %self.key, %source, "{event}");
            tracked.record.note(&now, event.clone());
        }
        tracked.note_person_actions(&rollout, &now);
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
        let finished = outcome.is_terminal() && outcome != before;
        if finished || (every_step && !fresh_events.is_empty()) {
            if outcome.is_terminal() {
                let hash = tracked.record.revision.pod_template_hash.clone();
                tracked.record.analysis =
                    reads::verdicts(&self.context.client, &tracked.rollout, &hash).await;
            }
            writes.push(tracked.record.clone());
        }
        if !writes.is_empty() {
            let queued = writes.iter().all(|record| self.queue_record(record));
            self.tracked
                .as_mut()
                .expect("tracked above")
                .record_unqueued = !queued;
        }
    }

    /// Queues `record` on the status branch (when write-back is on); false if it could not
    /// be queued.
    pub(super) fn queue_record(&self, record: &OutcomeRecord) -> bool {
        let Some(write_back) = &self.outlet().config.write_back else {
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
        self.queue(&job)
    }

    /// Queues `job` on the source's write queue; false (logged) if it could not be: the
    /// caller keeps it as not done, to try again.
    pub(super) fn queue(&self, job: &Job) -> bool {
        let outlet = self.outlet();
        match outlet.queue.push(job) {
            Ok(_) => {
                outlet.wake.notify_one();
                true
            }
            Err(error) => {
                tracing::error!(source = %self.source, rollout = %self.key, %error, "cannot queue a write-back job; trying again");
                false
            }
        }
    }

    /// Sends the commit status the Rollout's snapshot calls for, unless the forge has it.
    /// The forge call runs in the background: a slow forge holds up nothing else.
    pub(super) fn send_status(&mut self) {
        let Some(forge) = self.outlet().forge.clone() else {
            return;
        };
        let Some(tracked) = self.tracked.as_mut() else {
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
        tracing::debug!(rollout = %self.key, %commit, state = ?status.state, description = %status.description, "setting the commit status");
        let replies = self.replies.0.clone();
        let key = self.key.clone();
        tokio::spawn(async move {
            let result = forge.set_status(&commit, &status).await;
            if let Err(error) = &result {
                tracing::warn!(rollout = %key, %commit, error = %k8s::describe_error(error), "cannot set the commit status; will retry");
            }
            let _ = replies.send(Reply::StatusSent {
                commit,
                status,
                ok: result.is_ok(),
            });
        });
    }

    /// Acts on the Rollout's state: reverts after failed analysis, approvals at pauses.
    async fn react(&mut self) {
        self.revert().await;
        let Some(snapshot) = self
            .tracked
            .as_ref()
            .and_then(|tracked| tracked.snapshot.clone())
        else {
            return;
        };
        if snapshot.awaiting_approval {
            self.approval(&snapshot).await;
        }
    }

    /// After failed analysis: queues, once, the revert of the commit that brought the
    /// revision. That commit and the last good revision's are read from the revisions'
    /// ReplicaSets, not from memory, so a replica that took over between the abort and the
    /// revert reverts the same commit. Not queued now (the cluster or the queue failing) is
    /// tried again on the next tick.
    async fn revert(&mut self) {
        let Some(tracked) = &self.tracked else {
            return;
        };
        let Some(snapshot) = &tracked.snapshot else {
            return;
        };
        let config = &self.outlet().config;
        if !snapshot.analysis_failed
            || config.on_abort == OnAbort::None
            || tracked.revert_queued
            || tracked.record.reverted_by.is_some()
        {
            return;
        }
        let Some(file) = tracked.rollout.annotations().get(labels::FILE).cloned() else {
            return;
        };
        let Some(commits) =
            reads::revision_commits(&self.context.client, &tracked.rollout, &snapshot.hash).await
        else {
            return;
        };
        let job = Job::Revert(RevertJob {
            source: self.source.clone(),
            branch: config.reference.clone(),
            path: config.path.clone(),
            rollout: self.key.clone(),
            deployed: commits
                .brought
                .unwrap_or_else(|| tracked.record.source.commit.clone()),
            since: commits.last_good,
            file,
            reason: snapshot.message.clone(),
            pull_request: config.on_abort == OnAbort::RevertPr,
        });
        let queued = self.queue(&job);
        self.tracked.as_mut().expect("tracked").revert_queued = queued;
    }

    /// A write job finished.
    async fn finished(&mut self, done: Done) {
        let Some(tracked) = self.tracked.as_mut() else {
            // Not tracked yet (its record unread): there is no record to note it in.
            return;
        };
        let (event, reason, warning) = match done {
            Done::Reverted {
                deployed, commit, ..
            } => {
                if !(tracked.revert_queued || tracked.record.source.commit == deployed)
                    || tracked.record.reverted_by.is_some()
                {
                    // The sync of the revert got here first and recorded it already.
                    return;
                }
                tracked.record.reverted_by = Some(commit.clone());
                (
                    format!("reverted in Git by {}", short(&commit)),
                    "RolloutReverted",
                    false,
                )
            }
            Done::RevertProposed { pull, .. } => (
                format!(
                    "revert proposed in pull request #{} {}",
                    pull.number, pull.url
                ),
                "RevertProposed",
                false,
            ),
            Done::PromotionProposed {
                revision,
                step,
                pull,
                ..
            } => {
                let text = format!(
                    "promotion pull request #{} opened: {}",
                    pull.number, pull.url
                );
                // Only for the pause it was opened for: a late answer about an earlier pause
                // must not stand for the current one.
                if let Some(proposal) = tracked
                    .promotion
                    .as_mut()
                    .filter(|proposal| proposal.hash == revision && Some(proposal.step) == step)
                {
                    proposal.pull = Some(pull);
                }
                (text, "PromotionProposed", false)
            }
            Done::Failed { reason, .. } => {
                if tracked.revert_queued && tracked.record.outcome() == Outcome::Aborted {
                    tracked.record.revert_error = Some(reason.clone());
                }
                (reason, "WriteBackFailed", true)
            }
        };
        tracked
            .record
            .note(&jiff::Timestamp::now().to_string(), event.clone());
        let record = tracked.record.clone();
        let reference = tracked.rollout.object_ref(&());
        let queued = self.queue_record(&record);
        if let Some(tracked) = self.tracked.as_mut() {
            tracked.record_unqueued |= !queued;
        }
        let kube_event = Note {
            warning,
            reason,
            message: &event,
            action: "WriteBack",
        };
        if let Err(error) = self.context.recorder.publish(&reference, &kube_event).await {
            tracing::warn!(rollout = %self.key, %error, "cannot record a write-back Event");
        }
        self.send_status();
    }

    /// A forge call made in the background answered.
    async fn replied(&mut self, reply: Reply) {
        match reply {
            Reply::StatusSent { commit, status, ok } => {
                if let Some(tracked) = self.tracked.as_mut() {
                    tracked.status_in_flight = false;
                    if ok {
                        tracked.status_sent = Some((commit, status));
                    }
                }
                self.send_status();
            }
            Reply::PullPolled(pull) => self.polled(pull).await,
        }
    }

    /// Retries what could not be done when it was due — reading the Rollout or its record,
    /// queueing a record or a revert, a commit status — and polls an open promotion pull
    /// request.
    async fn tick(&mut self) {
        if self.reread {
            Box::pin(self.read_rollout()).await;
            return;
        }
        if let Some(rollout) = self.unread.take() {
            Box::pin(self.observe(rollout)).await;
            return;
        }
        let Some(tracked) = &self.tracked else {
            return;
        };
        if tracked.record_unqueued {
            let record = tracked.record.clone();
            let queued = self.queue_record(&record);
            self.tracked.as_mut().expect("tracked").record_unqueued = !queued;
        }
        self.revert().await;
        self.send_status();
        self.poll_pull();
    }

    /// Reads the Rollout from the cluster and observes it; tried again on the next tick if
    /// the cluster cannot answer.
    async fn read_rollout(&mut self) {
        let Some((namespace, name)) = self.key.split_once('/') else {
            return;
        };
        let api: Api<Rollout> = Api::namespaced(self.context.client.clone(), namespace);
        match api.get_opt(name).await {
            Ok(found) => {
                self.reread = false;
                if let Some(rollout) = found {
                    Box::pin(self.observe(rollout)).await;
                }
            }
            Err(error) => {
                tracing::warn!(rollout = %self.key, error = %k8s::describe_error(&error), "cannot read the Rollout to report on it; trying again");
            }
        }
    }

    /// Asks the forge, in the background, about the open promotion pull request.
    fn poll_pull(&self) {
        let Some(forge) = self.outlet().forge.clone() else {
            return;
        };
        let Some(number) = self
            .tracked
            .as_ref()
            .and_then(|tracked| tracked.promotion.as_ref())
            .and_then(|proposal| proposal.pull.as_ref())
            .filter(|pull| pull.state == crate::forge::PullState::Open)
            .map(|pull| pull.number)
        else {
            return;
        };
        let (replies, key) = (self.replies.0.clone(), self.key.clone());
        tokio::spawn(async move {
            match forge.pull(number).await {
                Ok(pull) => {
                    let _ = replies.send(Reply::PullPolled(pull));
                }
                Err(error) => {
                    tracing::debug!(rollout = %key, pull = number, %error, "cannot read the promotion pull request");
                }
            }
        });
    }
}
