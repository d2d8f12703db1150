//! `tidegate promote NAME` through Git: commits an approval record for the Rollout's current
//! revision and step to its source's tracked branch; the daemon releases the pause when it
//! syncs that commit. The approval is a reviewed, attributed change in Git like any other.
//!
//! In: the Rollout (from the cluster) and the configuration naming its source. Out: one commit.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use kube::{Api, ResourceExt};

use super::cluster::ClusterArgs;
use crate::config::Config;
use crate::k8s::crd::Rollout;
use crate::k8s::labels;
use crate::writeback::approval::Approval;
use crate::writeback::progress;
use crate::writeback::{Author, Change, Edit, GitWriter, Written};

/// Who approves: `--as`, else `$USER`, else `tidegate-cli`.
pub fn approver(given: Option<&str>) -> String {
    given
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok().filter(|user| !user.is_empty()))
        .unwrap_or_else(|| "tidegate-cli".to_owned())
}

/// Commits the approval of `name`'s current pause; prints the commit.
pub async fn commit_approval(
    name: &str,
    cluster: &ClusterArgs,
    config: &Path,
    by: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let (client, namespace) = cluster.connect().await?;
    let rollout = match Api::<Rollout>::namespaced(client.clone(), &namespace)
        .get(name)
        .await
    {
        Ok(rollout) => rollout,
        Err(error) => {
            let error =
                anyhow::Error::from(error).context(format!("get Rollout {namespace}/{name}"));
            return Err(super::cluster::explain_missing(&client, &namespace, name, error).await);
        }
    };
    let config = Config::load(config)?;
    let source_name = rollout
        .labels()
        .get(labels::SOURCE)
        .cloned()
        .with_context(|| {
            format!(
                "Rollout {namespace}/{name} was not applied from Git (no {} label): use --direct",
                labels::SOURCE
            )
        })?;
    let source = config
        .sources
        .iter()
        .find(|source| source.name == source_name)
        .with_context(|| {
            format!("the configuration has no source {source_name:?} (the Rollout's source)")
        })?;
    let snapshot = progress::snapshot(&rollout).with_context(|| {
        format!("Rollout {namespace}/{name} has not been observed by the controller yet")
    })?;
    anyhow::ensure!(
        snapshot.awaiting_approval,
        "Rollout {namespace}/{name} is not paused waiting for approval (use --direct to promote it anyway)"
    );
    let approval = Approval {
        namespace: namespace.clone(),
        rollout: rollout.name_any(),
        revision: snapshot.hash.clone(),
        step: Some(snapshot.step),
        approved_by: by.to_owned(),
        reason: String::new(),
    };
    let message = format!(
        "Approve {namespace}/{name} revision {} at step {}/{}\n\nApproved by {by} with tidegate promote.\n",
        snapshot.hash,
        snapshot.step + 1,
        snapshot.steps.max(1)
    );
    let cache = config.state.cache_dir().join(".cli").join(&source.name);
    let writer = GitWriter::new(
        &cache,
        &source.url,
        source.auth.as_ref(),
        Author {
            name: by.to_owned(),
            email: format!("{by}@tidegate.invalid"),
        },
    );
    let branch = source.reference.clone();
    let path = Approval::path(&namespace, name);
    let content = approval.to_yaml().into_bytes();
    let written = tokio::task::spawn_blocking(move || {
        writer.commit(&branch, None, &mut |_| {
            Ok(Edit {
                message: message.clone(),
                changes: vec![Change {
                    path: path.clone(),
                    content: Some(content.clone()),
                }],
            })
        })
    })
    .await??;
    match written {
        Written::Committed { commit } => writeln!(
            out,
            "approval of {namespace}/{name} revision {} committed to {} as {commit}; the pause is released when tidegate syncs it",
            snapshot.hash, source.reference
        )?,
        Written::AlreadyThere { .. } => writeln!(
            out,
            "{} already approves {namespace}/{name} revision {}; the pause is released when tidegate syncs it",
            source.reference, snapshot.hash
        )?,
    }
    Ok(())
}
