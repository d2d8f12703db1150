//! What a Rollout's reporter reads to decide: its record on the status branch, the commits
//! its revisions came from, the analysis verdicts, approval records and revert trailers in
//! the source's Git cache. Each read answers for one Rollout; none changes anything.

use std::sync::Arc;
use std::time::Duration;

use kube::{Api, ResourceExt};

use super::Outlet;
use crate::k8s::crd::{AnalysisRun, Rollout};
use crate::k8s::{self, Client, ListParams, labels};
use crate::source::GitCache;
use crate::writeback::approval::Approval;
use crate::writeback::progress;
use crate::writeback::record::{AnalysisVerdict, OutcomeRecord};

/// The longest a read of the cluster waits for something the reporter could do without now
/// (it tries again on its next tick).
const PATIENCE: Duration = Duration::from_secs(10);

/// The record of `rollout` (`key`) on the status branch of `outlet`, if write-back is on and
/// it has one; `Err` when the branch cannot be read (the remote failing). It waits as long
/// as the fetch does (that has its own deadline): only this Rollout waits.
pub(super) async fn existing_record(
    outlet: &Outlet,
    key: &str,
    rollout: &Rollout,
) -> Result<Option<OutcomeRecord>, ()> {
    let Some(write_back) = outlet.config.write_back.as_ref() else {
        return Ok(None);
    };
    #[cfg(feature = "failpoints")]
    crate::failpoints::record_read(key).await;
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
    let source = &outlet.config.name;
    match read.await {
        Ok(Ok(Some(bytes))) => Ok(OutcomeRecord::from_yaml(&String::from_utf8_lossy(&bytes))),
        Ok(Ok(None)) => Ok(None),
        Ok(Err(error)) => {
            tracing::warn!(%source, rollout = key, error = %k8s::describe_error(&error), "cannot read the status branch; trying again");
            Err(())
        }
        Err(failed) => {
            tracing::error!(%source, rollout = key, error = %failed, "reading the status branch failed; trying again");
            Err(())
        }
    }
}

/// The verdicts of the analysis runs of revision `hash` of `rollout`; none when the cluster
/// cannot answer (logged).
pub(super) async fn verdicts(
    client: &Client,
    rollout: &Rollout,
    hash: &str,
) -> Vec<AnalysisVerdict> {
    let selector = format!(
        "{}={},{}={hash}",
        labels::ROLLOUT,
        rollout.name_any(),
        labels::POD_TEMPLATE_HASH,
    );
    let api: Api<AnalysisRun> =
        Api::namespaced(client.clone(), &rollout.namespace().unwrap_or_default());
    let params = ListParams::default().labels(&selector);
    match tokio::time::timeout(PATIENCE, api.list(&params)).await {
        Ok(Ok(runs)) => progress::verdicts(&runs.items),
        Ok(Err(error)) => {
            tracing::warn!(rollout = %rollout.name_any(), %error, "cannot read analysis runs for the record");
            Vec::new()
        }
        Err(_) => {
            tracing::warn!(rollout = %rollout.name_any(), "reading analysis runs for the record is slow; recorded without");
            Vec::new()
        }
    }
}

/// The commits of a Rollout's revisions, as their ReplicaSets recorded them at creation.
pub(super) struct RevisionCommits {
    /// The commit that brought revision `hash`.
    pub brought: Option<String>,
    /// The commit of the stable (last good) revision.
    pub last_good: Option<String>,
}

/// Reads [`RevisionCommits`] for revision `hash` of `rollout`; `None` if the cluster cannot
/// answer now. A ReplicaSet without the annotation (made before tidegate recorded it) gives
/// no commit.
pub(super) async fn revision_commits(
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

/// The commit `commit` reverts, when it is one of tidegate's reverts (read from the
/// source's cache, which holds every synced commit).
pub(super) async fn reverts(cache: &Arc<GitCache>, commit: &str) -> Option<String> {
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
pub(super) async fn approval(
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
