//! Rollback to Git: the commit that brought a failed revision, reverted on the tracked branch
//! (directly or on a branch for a pull request), so Git matches the cluster again.
//!
//! In: the deployed commit and the file of the Rollout (both stamped on the Rollout by the
//! sync), the source's path. Out: the changes of a revert commit on the current tip, or why
//! there is none. The offending commit is the newest one, up to the deployed commit, that
//! changed the Rollout's file; the revert touches only the files that commit changed under the
//! source's path, and only if none of them changed since — otherwise it does not apply cleanly
//! and nothing is written. A commit carrying the [`TRAILER`] is tidegate's own revert: it is
//! never reverted again (no loops), and finding one for the offending commit on the tip means
//! the work is done (no repeats after a crash).

use std::collections::BTreeMap;

use gix::bstr::ByteSlice;
use serde::{Deserialize, Serialize};

use super::git::{Change, Tip, WriteError, objects};

/// The trailer naming the commit a revert undoes.
pub const TRAILER: &str = "Tidegate-Revert";

/// How far back the offending commit and an earlier revert are looked for.
const HISTORY_LIMIT: usize = 1000;

/// A queued revert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertJob {
    /// The source (its name: statuses, logs).
    pub source: String,
    /// The tracked branch.
    pub branch: String,
    /// The source's directory in the repository (`.` for the root).
    pub path: String,
    /// `namespace/name` of the Rollout.
    pub rollout: String,
    /// The commit that brought the failed revision (as its ReplicaSet recorded it; else the
    /// commit the Rollout was applied from).
    pub deployed: String,
    /// The Rollout's file, relative to the repository root.
    pub file: String,
    /// The commit of the revision before (the last good one), when known: the revert then
    /// refuses to guess when more than one commit since changed the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Why the rollout aborted.
    pub reason: String,
    /// Open a pull request instead of committing to the tracked branch.
    pub pull_request: bool,
}

impl RevertJob {
    /// The branch a `revert-pr` revert goes to.
    #[must_use]
    pub fn pull_request_branch(&self) -> String {
        format!(
            "tidegate/revert/{}-{}",
            self.rollout.replace('/', "-"),
            short(&self.deployed)
        )
    }
}

/// The revert to make, found before writing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The commit to revert.
    pub offending: String,
    /// Its first line.
    pub subject: String,
    /// The commit message of the revert.
    pub message: String,
}

/// Why there is nothing to revert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// The offending commit is tidegate's own revert.
    OwnRevert(String),
    /// The tip already carries the revert of the offending commit.
    AlreadyReverted(String),
}

fn id(hex: &str) -> Result<gix::ObjectId, WriteError> {
    gix::ObjectId::from_hex(hex.as_bytes())
        .map_err(|error| objects(format!("commit id {hex}"))(error.into()))
}

/// The commit to revert for `job`, on `tip`'s history (which must reach the deployed commit).
pub fn plan(tip: &Tip, job: &RevertJob) -> Result<Result<Plan, Skip>, WriteError> {
    let repo = tip.repo;
    let deployed = id(&job.deployed)?;
    if !reaches(repo, tip.commit, deployed)? {
        // Not on the branch (rewritten history, or a commit of another branch): nothing
        // tidegate may revert there.
        return Err(WriteError::Conflict(format!(
            "the deployed commit {} is not on {}",
            short(&job.deployed),
            job.branch
        )));
    }
    let since = job.since.as_deref().map(id).transpose()?;
    let offending = offending_commit(repo, deployed, &job.file, since)?;
    let commit = repo
        .find_commit(offending)
        .map_err(|error| objects(format!("read commit {offending}"))(error.into()))?;
    let message = commit
        .message_raw()
        .map_err(|error| objects(format!("read commit {offending}"))(error.into()))?
        .to_str_lossy()
        .into_owned();
    if reverted_by_trailer(&message).is_some() {
        return Ok(Err(Skip::OwnRevert(offending.to_string())));
    }
    let subject = message.lines().next().unwrap_or_default().trim().to_owned();
    Ok(Ok(Plan {
        offending: offending.to_string(),
        message: super::messages::revert_commit(
            &subject,
            &job.rollout,
            &job.reason,
            &offending.to_string(),
            TRAILER,
        ),
        subject,
    }))
}

/// Whether `commit` is `tip` or one of its ancestors within [`HISTORY_LIMIT`] commits.
fn reaches(
    repo: &gix::Repository,
    tip: Option<gix::ObjectId>,
    commit: gix::ObjectId,
) -> Result<bool, WriteError> {
    let Some(tip) = tip else {
        return Ok(false);
    };
    let walk = repo
        .rev_walk([tip])
        .all()
        .map_err(|error| objects(format!("walk the history of {tip}"))(error.into()))?;
    for info in walk.take(HISTORY_LIMIT) {
        let info =
            info.map_err(|error| objects(format!("walk the history of {tip}"))(error.into()))?;
        if info.id == commit {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The changes reverting `plan` on `tip`, limited to `path`; or the skip reason when the tip
/// already holds the revert.
pub fn changes(
    tip: &Tip,
    plan: &Plan,
    path: &str,
) -> Result<Result<Vec<Change>, Skip>, WriteError> {
    let repo = tip.repo;
    let offending = id(&plan.offending)?;
    if let Some(tip_commit) = tip.commit
        && let Some(revert) = find_revert(repo, tip_commit, offending)?
    {
        return Ok(Err(Skip::AlreadyReverted(revert)));
    }
    let commit = repo
        .find_commit(offending)
        .map_err(|error| objects(format!("read commit {offending}"))(error.into()))?;
    let parent = commit.parent_ids().next().map(gix::Id::detach);
    let after = files_under(repo, Some(offending), path)?;
    let before = files_under(repo, parent, path)?;
    let now = files_under(repo, tip.commit, path)?;
    let mut changes = Vec::new();
    let mut moved = Vec::new();
    let paths: std::collections::BTreeSet<&String> = after.keys().chain(before.keys()).collect();
    for file in paths {
        let (was, became) = (before.get(file), after.get(file));
        if was == became {
            continue;
        }
        if now.get(file) != became {
            moved.push(file.clone());
            continue;
        }
        let content = match was {
            Some(blob) => Some(
                repo.find_object(*blob)
                    .map_err(|error| objects(format!("read {file}"))(error.into()))?
                    .detach()
                    .data,
            ),
            None => None,
        };
        changes.push(Change {
            path: file.clone(),
            content,
        });
    }
    if !moved.is_empty() {
        return Err(WriteError::Conflict(format!(
            "the revert of {} does not apply cleanly: {} changed since",
            short(&plan.offending),
            moved.join(", ")
        )));
    }
    Ok(Ok(changes))
}

/// The commit to revert: from `start` back along first parents, the one whose `file` differs
/// from its parent's. With `since` (the last good revision's commit), every such commit after
/// it counts, and more than one is refused — which of them broke the release is not
/// tidegate's to guess. Without it, the newest such commit.
fn offending_commit(
    repo: &gix::Repository,
    start: gix::ObjectId,
    file: &str,
    since: Option<gix::ObjectId>,
) -> Result<gix::ObjectId, WriteError> {
    let mut changed = Vec::new();
    let mut current = start;
    for _ in 0..HISTORY_LIMIT {
        if Some(current) == since {
            break;
        }
        let commit = repo
            .find_commit(current)
            .map_err(|error| objects(format!("read commit {current}"))(error.into()))?;
        let parent = commit.parent_ids().next().map(gix::Id::detach);
        let blob_here = blob_of(repo, Some(current), file)?;
        if blob_of(repo, parent, file)? != blob_here {
            changed.push(current);
            if since.is_none() {
                break;
            }
        }
        match parent {
            Some(parent) => current = parent,
            None => break,
        }
    }
    match changed[..] {
        [one] => Ok(one),
        [] => Err(WriteError::Conflict(format!(
            "no commit up to {} changed {file}",
            short(&start.to_string())
        ))),
        _ => Err(WriteError::Conflict(format!(
            "{} commits changed {file} since the last good revision ({}): revert by hand",
            changed.len(),
            changed
                .iter()
                .map(|commit| short(&commit.to_string()).to_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A commit from `tip` back (first parents) that reverts `offending`, stopping at `offending`.
fn find_revert(
    repo: &gix::Repository,
    tip: gix::ObjectId,
    offending: gix::ObjectId,
) -> Result<Option<String>, WriteError> {
    let mut current = Some(tip);
    for _ in 0..HISTORY_LIMIT {
        let Some(id) = current.filter(|id| *id != offending) else {
            return Ok(None);
        };
        let commit = repo
            .find_commit(id)
            .map_err(|error| objects(format!("read commit {id}"))(error.into()))?;
        let message = commit
            .message_raw()
            .map_err(|error| objects(format!("read commit {id}"))(error.into()))?;
        if reverted_by_trailer(&message.to_str_lossy()) == Some(offending.to_string()) {
            return Ok(Some(id.to_string()));
        }
        current = commit.parent_ids().next().map(gix::Id::detach);
    }
    Ok(None)
}

/// The commit a message's [`TRAILER`] names.
#[must_use]
pub fn reverted_by_trailer(message: &str) -> Option<String> {
    message.lines().rev().find_map(|line| {
        let value = line.strip_prefix(TRAILER)?.strip_prefix(':')?.trim();
        (value.len() == 40 && value.bytes().all(|byte| byte.is_ascii_hexdigit()))
            .then(|| value.to_owned())
    })
}

fn blob_of(
    repo: &gix::Repository,
    commit: Option<gix::ObjectId>,
    file: &str,
) -> Result<Option<gix::ObjectId>, WriteError> {
    let Some(commit) = commit else {
        return Ok(None);
    };
    let tree = repo
        .find_commit(commit)
        .map_err(|error| objects(format!("read commit {commit}"))(error.into()))?
        .tree()
        .map_err(|error| objects(format!("read the tree of {commit}"))(error.into()))?;
    Ok(tree
        .lookup_entry_by_path(file)
        .map_err(|error| objects(format!("find {file} in {commit}"))(error.into()))?
        .filter(|entry| entry.mode().is_blob())
        .map(|entry| entry.object_id()))
}

/// Every file under `path` in `commit` (paths from the repository root) and its blob.
fn files_under(
    repo: &gix::Repository,
    commit: Option<gix::ObjectId>,
    path: &str,
) -> Result<BTreeMap<String, gix::ObjectId>, WriteError> {
    let mut files = BTreeMap::new();
    let Some(commit) = commit else {
        return Ok(files);
    };
    let root = repo
        .find_commit(commit)
        .map_err(|error| objects(format!("read commit {commit}"))(error.into()))?
        .tree()
        .map_err(|error| objects(format!("read the tree of {commit}"))(error.into()))?;
    let prefix = path.trim_matches('/');
    let (tree, prefix) = if prefix.is_empty() || prefix == "." {
        (root, String::new())
    } else {
        let Some(entry) = root
            .lookup_entry_by_path(prefix)
            .map_err(|error| objects(format!("find {prefix} in {commit}"))(error.into()))?
            .filter(|entry| entry.mode().is_tree())
        else {
            return Ok(files);
        };
        let tree = entry
            .object()
            .map_err(|error| objects(format!("read {prefix} in {commit}"))(error.into()))?
            .into_tree();
        (tree, format!("{prefix}/"))
    };
    let mut recorder = gix::traverse::tree::Recorder::default();
    tree.traverse()
        .breadthfirst(&mut recorder)
        .map_err(|error| objects(format!("list {path} in {commit}"))(error.into()))?;
    for record in recorder.records {
        if record.mode.is_blob() || record.mode.is_link() {
            files.insert(
                format!("{prefix}{}", record.filepath.to_str_lossy()),
                record.oid,
            );
        }
    }
    Ok(files)
}

/// The first seven characters of a commit id.
#[must_use]
pub fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository where `web.yaml` changes in each of `changes` commits after a first one;
    /// returns it and the commit ids, oldest first.
    fn history(name: &str, changes: &[&str]) -> (std::path::PathBuf, Vec<gix::ObjectId>) {
        let dir =
            std::env::temp_dir().join(format!("tidegate-revert-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create");
        let git = |args: &[&str]| {
            let output = std::process::Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .current_dir(&dir)
                .output()
                .expect("run git");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        };
        git(&["init", "--quiet", "--initial-branch=main"]);
        let mut commits = Vec::new();
        for (index, content) in std::iter::once(&"image: web:1").chain(changes).enumerate() {
            std::fs::write(dir.join("web.yaml"), content).expect("write");
            std::fs::write(dir.join("README.md"), format!("{index}")).expect("write");
            git(&["add", "--all"]);
            git(&["commit", "--quiet", "-m", &format!("commit {index}")]);
            commits
                .push(gix::ObjectId::from_hex(git(&["rev-parse", "HEAD"]).as_bytes()).expect("id"));
        }
        (dir, commits)
    }

    #[test]
    fn the_offending_commit_is_the_one_that_changed_the_file_since_the_last_good_one() {
        let (dir, commits) = history("one", &["image: web:2", "image: web:2"]);
        let repo = gix::open(&dir).expect("open");
        // The last commit changed only the README: the file's change is the one before it.
        assert_eq!(
            offending_commit(&repo, commits[2], "web.yaml", Some(commits[0])).expect("found"),
            commits[1]
        );
        assert_eq!(
            offending_commit(&repo, commits[2], "web.yaml", None).expect("found"),
            commits[1]
        );
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn two_changes_since_the_last_good_revision_are_not_guessed_between() {
        let (dir, commits) = history("two", &["image: web:2", "image: web:2\nreplicas: 3"]);
        let repo = gix::open(&dir).expect("open");
        let refused = offending_commit(&repo, commits[2], "web.yaml", Some(commits[0]))
            .expect_err("two candidates");
        assert!(
            refused.to_string().contains("2 commits changed web.yaml"),
            "{refused}"
        );
        assert!(!refused.is_transient());
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn a_deployed_commit_the_branch_does_not_reach_is_not_reverted() {
        let (dir, commits) = history("reach", &["image: web:2", "image: web:3"]);
        let repo = gix::open(&dir).expect("open");
        let job = |deployed: gix::ObjectId| RevertJob {
            source: "apps".into(),
            branch: "main".into(),
            path: ".".into(),
            rollout: "apps/web".into(),
            deployed: deployed.to_string(),
            file: "web.yaml".into(),
            since: Some(commits[0].to_string()),
            reason: "failed".into(),
            pull_request: false,
        };
        // The branch's tip is the second commit: the third is in the repository, not on it.
        let tip = Tip {
            repo: &repo,
            commit: Some(commits[1]),
        };
        let refused = plan(&tip, &job(commits[2])).expect_err("not on the branch");
        assert!(refused.to_string().contains("is not on main"), "{refused}");
        let planned = plan(&tip, &job(commits[1]))
            .expect("on the branch")
            .expect("a plan");
        assert_eq!(planned.offending, commits[1].to_string());
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn the_trailer_names_a_full_commit_id() {
        let id = "a".repeat(40);
        assert_eq!(
            reverted_by_trailer(&format!("Revert \"x\"\n\nbody\n\n{TRAILER}: {id}\n")),
            Some(id.clone())
        );
        assert_eq!(reverted_by_trailer(&format!("{TRAILER}: abc")), None);
        assert_eq!(reverted_by_trailer("Revert \"x\""), None);
    }
}
