//! `tidegate promote NAME` through Git: commits an approval record for the Rollout's current
//! revision and step to its source's tracked branch, and `spec.paused: false` in the
//! Rollout's file when Git paused it (`tidegate pause`); the daemon releases the pause when it
//! syncs that commit. The approval is a reviewed, attributed change in Git like any other.
//!
//! In: the Rollout (from the cluster) and the configuration naming its source. Out: one commit.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use kube::ResourceExt;

use super::cluster::ClusterArgs;
use super::gitops::Applied;
use crate::escape;
use crate::manifest::path::FieldPath;
use crate::writeback::approval::Approval;
use crate::writeback::progress;
use crate::writeback::{Change, Edit, Written};

/// Who approves: `--as`, else `$USER`, else `tidegate-cli`.
pub fn approver(given: Option<&str>) -> String {
    given
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok().filter(|user| !user.is_empty()))
        .unwrap_or_else(|| "tidegate-cli".to_owned())
}

/// Commits the approval of `name`'s current pause, and lifts a pause set in Git
/// (`spec.paused: false`, as Argo's promote does) in the same commit; prints the commit.
pub async fn commit_approval(
    name: &str,
    cluster: &ClusterArgs,
    config: &Path,
    by: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let applied = Applied::find(name, cluster, config).await?;
    let id = applied.id();
    let snapshot = progress::snapshot(&applied.rollout)
        .with_context(|| format!("Rollout {id} has not been observed by the controller yet"))?;
    let paused = applied.rollout.spec.paused;
    anyhow::ensure!(
        snapshot.awaiting_approval || paused,
        "Rollout {id} is not paused waiting for approval (use --direct to promote it anyway)"
    );
    let approval = snapshot.awaiting_approval.then(|| Approval {
        namespace: applied.namespace.clone(),
        rollout: applied.rollout.name_any(),
        revision: snapshot.hash.clone(),
        step: Some(snapshot.step),
        approved_by: by.to_owned(),
        reason: String::new(),
    });
    let id_text = escape::one_line(&id, 200);
    let at_step = format!(
        "{id_text} revision {} at step {}/{}",
        snapshot.hash,
        snapshot.step + 1,
        snapshot.steps.max(1)
    );
    let (what, done) = match (&approval, paused) {
        (Some(_), false) => (format!("Approve {at_step}"), "Approved"),
        (Some(_), true) => (
            format!("Resume and approve {at_step}"),
            "Resumed and approved",
        ),
        (None, _) => (format!("Resume {id_text}"), "Resumed"),
    };
    let message = format!(
        "{what}\n\n{done} by {} with tidegate promote.\n",
        escape::one_line(by, 200)
    );
    let record = approval.as_ref().map(|approval| {
        (
            Approval::path(&approval.namespace, &approval.rollout),
            approval.to_yaml().into_bytes(),
        )
    });
    let unpause = paused
        .then(|| applied.manifest())
        .transpose()?
        .map(|manifest| {
            (
                manifest,
                FieldPath::parse("spec.paused"),
                serde_json::Value::Bool(false),
            )
        });
    let written = applied
        .commit(by, move |tip| {
            let mut changes: Vec<Change> = Vec::new();
            if let Some((path, content)) = &record {
                changes.push(Change {
                    path: path.clone(),
                    content: Some(content.clone()),
                });
            }
            if let Some((manifest, path, value)) = &unpause {
                changes.extend(manifest.change(tip, |_| Ok(vec![(path.clone(), value.clone())]))?);
            }
            Ok(Edit {
                message: message.clone(),
                changes,
            })
        })
        .await?;
    let branch = &applied.source.reference;
    let done = match (&approval, paused) {
        (Some(_), false) => format!("the approval of {id} revision {}", snapshot.hash),
        (Some(_), true) => format!(
            "spec.paused: false and the approval of {id} revision {}",
            snapshot.hash
        ),
        (None, _) => format!("spec.paused: false for {id}"),
    };
    match written {
        Written::Committed { commit } => writeln!(
            out,
            "{done} committed to {branch} as {commit}; the pause is released when tidegate syncs it"
        )?,
        Written::AlreadyThere { .. } => writeln!(
            out,
            "{branch} already holds {done}; the pause is released when tidegate syncs it"
        )?,
    }
    Ok(())
}
