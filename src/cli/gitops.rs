//! The CLI actions that change a Rollout through Git (`promote`, `pause`, `set image`, `undo`): the
//! Rollout from the cluster tells its source and file (stamped by the sync), the
//! configuration tells the source's repository, and one commit on the tracked branch carries
//! the change. The daemon acts when it syncs that commit, so Git stays the truth.
//!
//! In: the Rollout's name, the cluster, the configuration. Out: one commit (or none when the
//! branch already holds the change).

use std::path::Path;

use anyhow::Context;
use kube::{Api, ResourceExt};
use serde_json::Value;

use super::cluster::ClusterArgs;
use crate::config::{Config, SourceConfig};
use crate::k8s::crd::Rollout;
use crate::k8s::labels;
use crate::manifest::path::FieldPath;
use crate::writeback::manifest_edit::{self, Object};
use crate::writeback::{Author, Change, Edit, GitWriter, Tip, WriteError, Written};

/// A Rollout applied from Git, with where it came from.
pub struct Applied {
    /// The Rollout as the cluster has it.
    pub rollout: Rollout,
    /// Its namespace.
    pub namespace: String,
    /// The cluster it is in.
    pub client: kube::Client,
    /// Its source.
    pub source: SourceConfig,
    /// Its file, from the repository root, as the sync stamped it (when it did).
    pub file: Option<String>,
    /// Where the CLI keeps its clone of the source's repository.
    cache: std::path::PathBuf,
}

impl Applied {
    /// Reads Rollout `name` and finds its source in the configuration at `config`.
    pub async fn find(name: &str, cluster: &ClusterArgs, config: &Path) -> anyhow::Result<Self> {
        let (client, namespace) = cluster.connect().await?;
        let rollout = match Api::<Rollout>::namespaced(client.clone(), &namespace)
            .get(name)
            .await
        {
            Ok(rollout) => rollout,
            Err(error) => {
                let error =
                    anyhow::Error::from(error).context(format!("get Rollout {namespace}/{name}"));
                return Err(
                    super::cluster::explain_missing(&client, &namespace, name, error).await,
                );
            }
        };
        let config = Config::load(config)?;
        let source_name = rollout
            .labels()
            .get(labels::SOURCE)
            .cloned()
            .with_context(|| {
                format!(
                    "Rollout {namespace}/{name} was not applied from Git (no {} label): \
                     change its manifest where it lives (promote: use --direct)",
                    labels::SOURCE
                )
            })?;
        let source = config
            .sources
            .iter()
            .find(|source| source.name == source_name)
            .cloned()
            .with_context(|| {
                format!("the configuration has no source {source_name:?} (the Rollout's source)")
            })?;
        let file = rollout.annotations().get(labels::FILE).cloned();
        let cache = config.state.cache_dir().join(".cli").join(&source.name);
        Ok(Self {
            rollout,
            namespace,
            client,
            source,
            file,
            cache,
        })
    }

    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.rollout.name_any())
    }

    /// The Rollout's file, or why it is not known.
    pub fn file(&self) -> anyhow::Result<&str> {
        self.file.as_deref().with_context(|| {
            format!(
                "Rollout {} has no {} annotation: the daemon stamps it when it syncs the Rollout",
                self.id(),
                labels::FILE
            )
        })
    }

    /// Commits what `edit` makes of the branch's tip, as `by`, to the tracked branch.
    pub async fn commit(
        &self,
        by: &str,
        mut edit: impl FnMut(&Tip) -> Result<Edit, WriteError> + Send + 'static,
    ) -> anyhow::Result<Written> {
        let writer = GitWriter::new(
            &self.cache,
            &self.source.url,
            self.source.auth.as_ref(),
            Author {
                name: by.to_owned(),
                email: format!("{by}@tidegate.invalid"),
            },
        );
        let branch = self.source.reference.clone();
        let written =
            tokio::task::spawn_blocking(move || writer.commit(&branch, None, &mut edit)).await??;
        Ok(written)
    }

    /// What edits the Rollout's own manifest, or why it cannot be found.
    pub fn manifest(&self) -> anyhow::Result<Manifest> {
        Ok(Manifest {
            file: self.file()?.to_owned(),
            name: self.rollout.name_any(),
        })
    }
}

/// The Rollout's manifest on the branch: its file and its name there.
#[derive(Clone, Debug)]
pub struct Manifest {
    file: String,
    name: String,
}

impl Manifest {
    /// The change setting the fields `fields_of` picks (from the Rollout's document on `tip`)
    /// to their values; `None` when the file already holds them.
    pub fn change(
        &self,
        tip: &Tip,
        fields_of: impl FnOnce(&Value) -> Result<Vec<(FieldPath, Value)>, String>,
    ) -> Result<Option<Change>, WriteError> {
        let file = &self.file;
        let text = read_text(tip, None, file)?
            .ok_or_else(|| WriteError::Conflict(format!("{file} is not on the branch any more")))?;
        let object = Object {
            file,
            kind: "Rollout",
            name: &self.name,
        };
        let conflict = |error: manifest_edit::EditError| WriteError::Conflict(error.to_string());
        let document = manifest_edit::get(&text, object, &FieldPath::default())
            .map_err(conflict)?
            .unwrap_or_default();
        let fields = fields_of(&document)
            .map_err(|message| WriteError::Conflict(format!("{file}: {message}")))?;
        let mut edited = text.clone();
        for (path, value) in &fields {
            edited = manifest_edit::set(&edited, object, path, value).map_err(conflict)?;
        }
        Ok((edited != text).then(|| Change {
            path: file.clone(),
            content: Some(edited.into_bytes()),
        }))
    }

    /// The change putting back the block at `path` as the Rollout's file had it in `commit`;
    /// `None` when the file already holds it.
    pub fn restore(
        &self,
        tip: &Tip,
        commit: &str,
        path: &FieldPath,
    ) -> Result<Option<Change>, WriteError> {
        let file = &self.file;
        let text = read_text(tip, None, file)?
            .ok_or_else(|| WriteError::Conflict(format!("{file} is not on the branch any more")))?;
        let earlier = read_text(tip, Some(commit), file)?.ok_or_else(|| {
            WriteError::Conflict(format!(
                "{file} is not in commit {commit}: the Rollout's file moved since"
            ))
        })?;
        let object = Object {
            file,
            kind: "Rollout",
            name: &self.name,
        };
        let edited =
            manifest_edit::copy_block(&text, object, path, &earlier, &format!("{file}@{commit}"))
                .map_err(|error| WriteError::Conflict(error.to_string()))?;
        Ok((edited != text).then(|| Change {
            path: file.clone(),
            content: Some(edited.into_bytes()),
        }))
    }
}

/// The text of `file` at `commit` (the tip when `None`), if it is there.
fn read_text(tip: &Tip, commit: Option<&str>, file: &str) -> Result<Option<String>, WriteError> {
    let bytes = match commit {
        None => tip.read(file)?,
        Some(commit) => {
            let id = gix::ObjectId::from_hex(commit.as_bytes())
                .map_err(|_| WriteError::Conflict(format!("{commit:?} is not a commit id")))?;
            crate::writeback::git::read_at(tip.repo, id, file)?
        }
    };
    bytes
        .map(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| WriteError::Conflict(format!("{file} is not UTF-8 text")))
        })
        .transpose()
}
