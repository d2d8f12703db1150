//! One source's write loop: takes queued jobs in order and carries them out — outcome records
//! committed to the status branch, reverts on the tracked branch (or on a branch with a pull
//! request), promotion pull requests — then reports back to the reporter.
//!
//! In: the queue, woken when a job is added. Out: commits, pull requests, [`Done`] messages.
//! A job that may succeed later (remote or forge down) stays first in the queue and is retried
//! with backoff, so later jobs never overtake it; one that never can is dropped with an error.

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc, watch};

use crate::forge::{Forge, NewPull, Pull};
use crate::metrics::Metrics;
use crate::source::next_retry;
use crate::writeback::revert::{self, RevertJob, Skip};
use crate::writeback::{Change, Edit, GitWriter, Job, PromotionJob, Queue, WriteError, Written};

/// What a finished job tells the reporter.
#[derive(Debug)]
pub enum Done {
    /// The offending change is reverted on the tracked branch (`commit`: the revert).
    Reverted {
        /// `namespace/name`.
        rollout: String,
        /// The commit the failed revision was applied from.
        deployed: String,
        /// The revert commit.
        commit: String,
    },
    /// A pull request with the revert is open.
    RevertProposed {
        /// `namespace/name`.
        rollout: String,
        /// The pull request.
        pull: Pull,
    },
    /// A promotion pull request is open.
    PromotionProposed {
        /// `namespace/name`.
        rollout: String,
        /// The revision and step it approves.
        revision: String,
        /// The step.
        step: Option<usize>,
        /// The pull request.
        pull: Pull,
    },
    /// A job ended without doing what it was for.
    Failed {
        /// `namespace/name`.
        rollout: String,
        /// Why.
        reason: String,
    },
}

/// Everything a write loop needs.
pub struct WriteLoop {
    /// The source's name (logs).
    pub source: String,
    /// Jobs.
    pub queue: Arc<Queue>,
    /// Commits and pushes (one Git operation at a time).
    pub writer: Arc<Mutex<GitWriter>>,
    /// The forge, when configured.
    pub forge: Option<Arc<Forge>>,
    /// Rings when a job is queued.
    pub wake: Arc<Notify>,
    /// Where results go.
    pub done: mpsc::UnboundedSender<Done>,
    /// Queue length and failures.
    pub metrics: Arc<Metrics>,
}

impl WriteLoop {
    /// Runs until `shutdown` turns true; the job in progress finishes first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut failures = 0;
        loop {
            if *shutdown.borrow() {
                return;
            }
            self.metrics
                .writeback_queue
                .get_or_create(&Metrics::source(&self.source))
                .set(i64::try_from(self.queue.len()).unwrap_or(i64::MAX));
            let wait = match self.queue.oldest() {
                Ok(Some((id, job))) => match self.execute(job).await {
                    Ok(done) => {
                        failures = 0;
                        self.remove(id);
                        if let Some(done) = done {
                            let _ = self.done.send(done);
                        }
                        continue;
                    }
                    Err((error, _)) if error.is_transient() => {
                        self.failed();
                        failures += 1;
                        let wait = next_retry(std::time::Duration::from_secs(300), failures);
                        tracing::warn!(source = %self.source, error = %crate::k8s::describe_error(&error), ?wait, "write-back failed; will retry in order");
                        Some(wait)
                    }
                    Err((error, rollout)) => {
                        self.failed();
                        failures = 0;
                        let reason = crate::k8s::describe_error(&error);
                        tracing::error!(source = %self.source, %reason, "write-back job cannot succeed; dropped");
                        self.remove(id);
                        if let Some(rollout) = rollout {
                            let _ = self.done.send(Done::Failed { rollout, reason });
                        }
                        continue;
                    }
                },
                Ok(None) => None,
                Err(error) => {
                    tracing::error!(source = %self.source, %error, "cannot read the write-back queue");
                    Some(std::time::Duration::from_secs(10))
                }
            };
            let wake = self.wake.notified();
            tokio::select! {
                () = wake => {}
                () = async { tokio::time::sleep(wait.unwrap_or(std::time::Duration::MAX)).await }, if wait.is_some() => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    fn failed(&self) {
        self.metrics
            .writeback_errors
            .get_or_create(&Metrics::source(&self.source))
            .inc();
    }

    fn remove(&self, id: u64) {
        if let Err(error) = self.queue.remove(id) {
            tracing::error!(source = %self.source, %error, "cannot remove a finished write-back job");
        }
    }

    /// Carries out `job`; on failure also says which Rollout it was for.
    async fn execute(&self, job: Job) -> Result<Option<Done>, (JobError, Option<String>)> {
        match job {
            Job::Files {
                branch,
                message,
                files,
            } => {
                let changes: Vec<Change> = files
                    .into_iter()
                    .map(|file| Change {
                        path: file.path,
                        content: file.content.map(String::into_bytes),
                    })
                    .collect();
                let written = self
                    .blocking(move |writer| {
                        writer.commit(&branch, None, &mut |_| {
                            Ok(Edit {
                                message: message.clone(),
                                changes: changes.clone(),
                            })
                        })
                    })
                    .await
                    .map_err(|error| (JobError::Git(error), None))?;
                if let Written::Committed { commit } = written {
                    tracing::info!(source = %self.source, %commit, "outcome record committed");
                }
                Ok(None)
            }
            Job::Revert(job) => {
                let rollout = job.rollout.clone();
                self.revert(job)
                    .await
                    .map_err(|error| (error, Some(rollout)))
            }
            Job::Promotion(job) => {
                let rollout = job.rollout.clone();
                self.promotion(job)
                    .await
                    .map(Some)
                    .map_err(|error| (error, Some(rollout)))
            }
        }
    }

    async fn revert(&self, job: RevertJob) -> Result<Option<Done>, JobError> {
        let branch = if job.pull_request {
            job.pull_request_branch()
        } else {
            job.branch.clone()
        };
        let base = job.pull_request.then(|| job.branch.clone());
        let revert_job = job.clone();
        let (written, skipped, plan) = self
            .blocking(move |writer| {
                let mut skipped = None;
                let mut planned = None;
                let written = writer.commit(&branch, base.as_deref(), &mut |tip| {
                    let plan = match revert::plan(tip, &revert_job)? {
                        Ok(plan) => plan,
                        Err(skip) => {
                            skipped = Some(skip);
                            return Ok(Edit {
                                message: String::new(),
                                changes: Vec::new(),
                            });
                        }
                    };
                    let changes = match revert::changes(tip, &plan, &revert_job.path)? {
                        Ok(changes) => changes,
                        Err(skip) => {
                            skipped = Some(skip);
                            Vec::new()
                        }
                    };
                    let message = plan.message.clone();
                    planned = Some(plan);
                    Ok(Edit { message, changes })
                })?;
                Ok((written, skipped, planned))
            })
            .await
            .map_err(JobError::Git)?;
        match (written, skipped) {
            (_, Some(Skip::OwnRevert(commit))) => {
                tracing::warn!(source = %self.source, rollout = %job.rollout, %commit, "the failed change is tidegate's own revert: not reverting it again");
                Ok(Some(Done::Failed {
                    rollout: job.rollout,
                    reason: format!(
                        "the failed change {} is itself a revert by tidegate; not reverting it",
                        revert::short(&commit)
                    ),
                }))
            }
            (_, Some(Skip::AlreadyReverted(commit))) if !job.pull_request => {
                Ok(Some(Done::Reverted {
                    rollout: job.rollout,
                    deployed: job.deployed,
                    commit,
                }))
            }
            (Written::Committed { commit }, None) if !job.pull_request => {
                tracing::info!(source = %self.source, rollout = %job.rollout, %commit, "reverted the failed change");
                Ok(Some(Done::Reverted {
                    rollout: job.rollout,
                    deployed: job.deployed,
                    commit,
                }))
            }
            (Written::AlreadyThere { .. }, None) if !job.pull_request => Ok(Some(Done::Failed {
                rollout: job.rollout,
                reason: "the revert changes nothing: the tracked branch already matches".to_owned(),
            })),
            _ => {
                let forge = self.forge.as_ref().ok_or(JobError::NoForge)?;
                let subject = plan.map(|plan| plan.subject).unwrap_or_default();
                let (title, body) =
                    crate::writeback::messages::revert_pull(&subject, &job.rollout, &job.reason);
                let pull = forge
                    .open_pull(&NewPull {
                        title,
                        head: job.pull_request_branch(),
                        base: job.branch.clone(),
                        body,
                    })
                    .await
                    .map_err(JobError::Forge)?;
                Ok(Some(Done::RevertProposed {
                    rollout: job.rollout,
                    pull,
                }))
            }
        }
    }

    async fn promotion(&self, job: PromotionJob) -> Result<Done, JobError> {
        let forge = self.forge.clone().ok_or(JobError::NoForge)?;
        let path = crate::writeback::approval::Approval::path(
            &job.approval.namespace,
            &job.approval.rollout,
        );
        let content = job.approval.to_yaml().into_bytes();
        let (branch, base, title) = (job.branch.clone(), job.base.clone(), job.title.clone());
        self.blocking(move |writer| {
            writer.commit(&branch, Some(&base), &mut |_| {
                Ok(Edit {
                    message: title.clone(),
                    changes: vec![Change {
                        path: path.clone(),
                        content: Some(content.clone()),
                    }],
                })
            })
        })
        .await
        .map_err(JobError::Git)?;
        let pull = forge
            .open_pull(&NewPull {
                title: job.title,
                head: job.branch,
                base: job.base,
                body: job.body,
            })
            .await
            .map_err(JobError::Forge)?;
        Ok(Done::PromotionProposed {
            rollout: job.rollout,
            revision: job.approval.revision,
            step: job.approval.step,
            pull,
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&GitWriter) -> Result<T, WriteError> + Send + 'static,
    ) -> Result<T, WriteError> {
        let writer = self.writer.clone();
        crate::blocking::run("the Git write", move || {
            // A panic in an earlier write poisons the lock; the writer holds no state a
            // half-done write could have broken (each write fetches the tip again).
            let writer = writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            work(&writer)
        })
        .await
        .unwrap_or_else(|panicked| {
            Err(WriteError::Objects {
                what: "write to Git".to_owned(),
                source: Box::new(panicked),
            })
        })
    }
}

/// A job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Writing to Git failed.
    #[error(transparent)]
    Git(#[from] WriteError),
    /// Calling the forge failed.
    #[error(transparent)]
    Forge(#[from] crate::forge::ForgeError),
    /// The job needs a forge and none is configured.
    #[error("no forge is configured for this source")]
    NoForge,
}

impl JobError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Git(error) => error.is_transient(),
            Self::Forge(error) => error.is_transient(),
            Self::NoForge => false,
        }
    }
}
