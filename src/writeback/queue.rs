//! The durable queue of writes waiting to be pushed: one JSON file per job in a directory,
//! named by a sequence number so jobs run in the order they were queued.
//!
//! In: jobs from the reporter. Out: the oldest job, until the writer removes it after a push.
//! A job is on disk (written to a temporary name, synced, renamed) before `push` returns, and
//! leaves only after its write landed: a crash in between repeats the write, which finds the
//! branch already holding it and commits nothing. An unreadable job is moved aside, not lost.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One file of a [`Job::Files`] write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWrite {
    /// Path in the repository.
    pub path: String,
    /// New content, or `None` to delete.
    pub content: Option<String>,
}

/// A write to Git.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Job {
    /// Write files to a branch in one commit.
    Files {
        /// The branch.
        branch: String,
        /// The commit message.
        message: String,
        /// The files.
        files: Vec<FileWrite>,
    },
    /// Revert the change that brought a Rollout's failed revision, on the tracked branch.
    Revert(crate::writeback::revert::RevertJob),
    /// Open a pull request whose merge approves a paused Rollout.
    Promotion(PromotionJob),
}

/// A queued promotion pull request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionJob {
    /// `namespace/name` of the Rollout.
    pub rollout: String,
    /// The pull request's branch.
    pub branch: String,
    /// The tracked branch it merges into.
    pub base: String,
    /// The approval record it adds.
    pub approval: crate::writeback::approval::Approval,
    /// Title.
    pub title: String,
    /// Description.
    pub body: String,
}

/// A directory of queued jobs.
#[derive(Debug)]
pub struct Queue {
    dir: PathBuf,
    next: Mutex<u64>,
}

impl Queue {
    /// The queue in `dir` (created if missing), continuing after the jobs already there.
    pub fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let last = Self::ids(dir)?.last().copied().unwrap_or(0);
        Ok(Self {
            dir: dir.to_path_buf(),
            next: Mutex::new(last + 1),
        })
    }

    fn ids(dir: &Path) -> io::Result<Vec<u64>> {
        let mut ids: Vec<u64> = fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name();
                let name = name.to_str()?;
                name.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.json"))
    }

    /// Adds `job` at the end; it is on disk when this returns.
    pub fn push(&self, job: &Job) -> io::Result<u64> {
        let mut next = self.next.lock().expect("the queue lock is never poisoned");
        let id = *next;
        let temporary = self.dir.join(format!(".{id:020}.tmp"));
        let mut file = fs::File::create(&temporary)?;
        file.write_all(&serde_json::to_vec(job).map_err(io::Error::other)?)?;
        file.sync_all()?;
        fs::rename(&temporary, self.path(id))?;
        fs::File::open(&self.dir)?.sync_all()?;
        *next = id + 1;
        Ok(id)
    }

    /// The oldest job. A job that cannot be read is moved to `unreadable/` and skipped.
    pub fn oldest(&self) -> io::Result<Option<(u64, Job)>> {
        for id in Self::ids(&self.dir)? {
            let path = self.path(id);
            let parsed = fs::read(&path).and_then(|bytes| {
                serde_json::from_slice(&bytes)
                    .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
            });
            match parsed {
                Ok(job) => return Ok(Some((id, job))),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    let aside = self.dir.join("unreadable");
                    fs::create_dir_all(&aside)?;
                    tracing::error!(job = %path.display(), %error, "unreadable write-back job moved aside");
                    // Named by the time too: job numbers start again in an empty queue.
                    let stamp = jiff::Timestamp::now().as_nanosecond();
                    fs::rename(&path, aside.join(format!("{id:020}-{stamp}.json")))?;
                }
            }
        }
        Ok(None)
    }

    /// Drops the queued outcome records, keeping reverts and promotions. Called when a term as
    /// leader begins: records queued in an earlier term may be older than what another leader
    /// wrote since, and the reporter rewrites the current ones from what it observes.
    pub fn drop_records(&self) -> io::Result<usize> {
        let mut dropped = 0;
        for id in Self::ids(&self.dir)? {
            let record = fs::read(self.path(id))
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Job>(&bytes).ok())
                .is_some_and(|job| matches!(job, Job::Files { .. }));
            if record {
                self.remove(id)?;
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// Removes job `id` (done, or given up).
    pub fn remove(&self, id: u64) -> io::Result<()> {
        match fs::remove_file(self.path(id)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    /// Jobs waiting.
    #[must_use]
    pub fn len(&self) -> usize {
        Self::ids(&self.dir).map_or(0, |ids| ids.len())
    }

    /// Whether no job waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(message: &str) -> Job {
        Job::Files {
            branch: "tidegate/status".into(),
            message: message.into(),
            files: vec![FileWrite {
                path: "rollouts/shop/web.yaml".into(),
                content: Some("outcome: promoted\n".into()),
            }],
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tidegate-queue-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn jobs_come_out_in_order_and_survive_reopening() {
        let dir = temp_dir("order");
        let queue = Queue::open(&dir).expect("open");
        let first = queue.push(&job("one")).expect("push");
        queue.push(&job("two")).expect("push");
        drop(queue);

        let queue = Queue::open(&dir).expect("reopen");
        assert_eq!(queue.len(), 2);
        let (id, oldest) = queue.oldest().expect("read").expect("a job");
        assert_eq!((id, oldest), (first, job("one")));
        queue.remove(id).expect("remove");
        let third = queue.push(&job("three")).expect("push");
        assert!(third > first + 1, "numbers are never reused");
        assert_eq!(queue.oldest().expect("read").expect("a job").1, job("two"));
        fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn a_new_term_drops_old_records_but_keeps_reverts() {
        let dir = temp_dir("term");
        let queue = Queue::open(&dir).expect("open");
        queue.push(&job("old record")).expect("push");
        let revert = Job::Revert(crate::writeback::revert::RevertJob {
            source: "apps".into(),
            branch: "main".into(),
            path: ".".into(),
            rollout: "shop/web".into(),
            deployed: "a".repeat(40),
            file: "web.yaml".into(),
            reason: "failed".into(),
            since: None,
            pull_request: false,
        });
        queue.push(&revert).expect("push");
        assert_eq!(queue.drop_records().expect("drop"), 1);
        assert_eq!(queue.oldest().expect("read").expect("a job").1, revert);
        assert_eq!(queue.len(), 1);
        fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn an_unreadable_job_is_moved_aside() {
        let dir = temp_dir("unreadable");
        fs::create_dir_all(&dir).expect("create");
        fs::write(dir.join(format!("{:020}.json", 1)), b"{not json").expect("write");
        let queue = Queue::open(&dir).expect("open");
        queue.push(&job("good")).expect("push");
        assert_eq!(queue.oldest().expect("read").expect("a job").1, job("good"));
        let aside: Vec<_> = fs::read_dir(dir.join("unreadable"))
            .expect("moved aside")
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            aside.len() == 1 && aside[0].starts_with(&format!("{:020}-", 1)),
            "{aside:?}"
        );
        fs::remove_dir_all(dir).expect("clean up");
    }
}
