//! `tidegate pause NAME`, `tidegate set image NAME CONTAINER=IMAGE...` and `tidegate undo NAME
//! [--to-revision N]`: Argo's kubectl plugin patches these into the cluster, where a GitOps
//! sync would take them back. tidegate commits them to the Rollout's file on its source's
//! tracked branch (`spec.paused: true`; the container's `image:` value; `spec.template` as the
//! commit that deployed revision N had it), and the daemon acts when it syncs the commit.
//! `tidegate promote` lifts such a pause the same way.
//!
//! In: the command line, the Rollout (and for `undo` its ReplicaSets), its file on the branch.
//! Out: one commit.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use kube::ResourceExt;
use serde_json::Value;

use super::cluster::{ClusterArgs, block_on};
use super::gitops::Applied;
use crate::escape;
use crate::k8s::{self, ListParams, ReplicaSet, labels};
use crate::manifest::path::FieldPath;
use crate::writeback::{Edit, Written};

/// Who commits, and where the Rollout's source is configured.
#[derive(Debug, clap::Args)]
struct Committer {
    /// Who makes the change (default: $USER).
    #[arg(long = "as", value_name = "NAME")]
    by: Option<String>,
    /// The configuration file naming the Rollout's source.
    #[arg(long, short, value_name = "FILE", default_value = "tidegate.yaml")]
    config: PathBuf,
}

/// `tidegate pause NAME`.
#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    /// The Rollout.
    name: String,
    #[command(flatten)]
    committer: Committer,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// `tidegate set ...`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    #[command(subcommand)]
    what: Set,
}

#[derive(Debug, clap::Subcommand)]
enum Set {
    /// Set container images of a Rollout's pod template, in its file in Git: a new revision
    /// once tidegate syncs the commit.
    Image(SetImageArgs),
}

#[derive(Debug, clap::Args)]
struct SetImageArgs {
    /// The Rollout.
    name: String,
    /// `CONTAINER=IMAGE` (containers and init containers; `*=IMAGE` sets every one).
    #[arg(required = true, value_name = "CONTAINER=IMAGE")]
    images: Vec<String>,
    #[command(flatten)]
    committer: Committer,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// `tidegate undo NAME`.
#[derive(Debug, clap::Args)]
pub struct UndoArgs {
    /// The Rollout.
    name: String,
    /// The revision to go back to (default: the one before the current).
    #[arg(long, value_name = "N")]
    to_revision: Option<u64>,
    #[command(flatten)]
    committer: Committer,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// One revision of a Rollout, as its ReplicaSet records it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Revision {
    number: u64,
    hash: String,
    /// The commit that brought it (`tidegate.dev/commit`).
    commit: Option<String>,
}

/// Runs `tidegate undo`: commits the pod template of an earlier revision, as the commit that
/// brought that revision had it.
pub fn undo(args: &UndoArgs, out: &mut impl Write) -> anyhow::Result<()> {
    block_on(async {
        let by = super::approve::approver(args.committer.by.as_deref());
        let applied = Applied::find(&args.name, &args.cluster, &args.committer.config).await?;
        let id = applied.id();
        let owned = ListParams::default().labels(&format!("{}={}", labels::ROLLOUT, args.name));
        let revisions: Vec<Revision> =
            k8s::Api::<ReplicaSet>::namespaced(applied.client.clone(), &applied.namespace)
                .list(&owned)
                .await
                .with_context(|| format!("list the ReplicaSets of Rollout {id}"))?
                .items
                .iter()
                .filter_map(revision_of)
                .collect();
        let current = applied
            .rollout
            .status
            .as_ref()
            .map(|status| status.current_pod_hash.clone())
            .unwrap_or_default();
        let target = pick(&revisions, &current, args.to_revision)
            .map_err(|message| anyhow::anyhow!("Rollout {id}: {message}"))?;
        let commit = target.commit.clone().with_context(|| {
            format!(
                "Rollout {id}: revision {} has no {} annotation, so its commit is not known",
                target.number,
                labels::COMMIT
            )
        })?;
        // It comes from the cluster and goes into a commit message: a commit id, or nothing.
        anyhow::ensure!(
            is_commit_id(&commit),
            "Rollout {id}: revision {} names {:?} as its commit, which is not a commit id",
            target.number,
            escape::one_line(&commit, 80)
        );
        let manifest = applied.manifest()?;
        let message = format!(
            "Undo {} to revision {}\n\nThe pod template as commit {commit} had it.\n\nBy {} with tidegate undo.\n",
            escape::one_line(&id, 200),
            target.number,
            escape::one_line(&by, 200)
        );
        let template = FieldPath::parse("spec.template");
        let deployed = commit.clone();
        let written = applied
            .commit(&by, move |tip| {
                Ok(Edit {
                    message: message.clone(),
                    changes: manifest
                        .restore(tip, &deployed, &template)?
                        .into_iter()
                        .collect(),
                })
            })
            .await?;
        let branch = &applied.source.reference;
        match written {
            Written::Committed { commit: undone } => writeln!(
                out,
                "undo of {id} to revision {} (the pod template of {commit}) committed to {branch} as {undone}; tidegate applies it when it syncs the commit",
                target.number
            )?,
            Written::AlreadyThere { .. } => writeln!(
                out,
                "{branch} already holds the pod template of revision {} for {id}; nothing to commit",
                target.number
            )?,
        }
        Ok(())
    })
}

/// Whether `text` is a full SHA-1 or SHA-256 commit id.
fn is_commit_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.chars().all(|c| c.is_ascii_hexdigit())
}

fn revision_of(rs: &ReplicaSet) -> Option<Revision> {
    Some(Revision {
        number: rs.annotations().get(labels::REVISION)?.parse().ok()?,
        hash: rs.labels().get(labels::POD_TEMPLATE_HASH)?.clone(),
        commit: rs.annotations().get(labels::COMMIT).cloned(),
    })
}

/// The revision to go back to: `to` if given, else the newest one older than the current.
fn pick<'r>(
    revisions: &'r [Revision],
    current: &str,
    to: Option<u64>,
) -> Result<&'r Revision, String> {
    let current = revisions
        .iter()
        .find(|revision| revision.hash == current)
        .map_or(0, |revision| revision.number);
    let known = || {
        let mut numbers: Vec<u64> = revisions.iter().map(|revision| revision.number).collect();
        numbers.sort_unstable();
        numbers
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match to {
        Some(number) if number == current => Err(format!("revision {number} is the current one")),
        Some(number) => revisions
            .iter()
            .find(|revision| revision.number == number)
            .ok_or_else(|| format!("no revision {number} (its ReplicaSets have {})", known())),
        None => revisions
            .iter()
            .filter(|revision| revision.number < current)
            .max_by_key(|revision| revision.number)
            .ok_or_else(|| "no earlier revision to go back to".to_owned()),
    }
}

/// Runs `tidegate pause`: commits `spec.paused: true`.
pub fn pause(args: &PauseArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let field = (FieldPath::parse("spec.paused"), Value::Bool(true));
    block_on(commit(
        &args.name,
        &args.committer,
        &args.cluster,
        "Pause",
        "pause",
        move |_| Ok(vec![field.clone()]),
        out,
    ))
}

/// Runs `tidegate set image`: commits each container's new image.
pub fn set(args: &SetArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let Set::Image(args) = &args.what;
    let wanted = args
        .images
        .iter()
        .map(|pair| parse_image(pair))
        .collect::<Result<Vec<_>, _>>()?;
    let summary = wanted
        .iter()
        .map(|(container, image)| format!("{container}={image}"))
        .collect::<Vec<_>>()
        .join(", ");
    block_on(commit(
        &args.name,
        &args.committer,
        &args.cluster,
        &format!("Set image {summary} of"),
        "set image",
        move |document| image_fields(document, &wanted),
        out,
    ))
}

/// `CONTAINER=IMAGE` read, or why not.
fn parse_image(pair: &str) -> anyhow::Result<(String, String)> {
    let (container, image) = pair
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("{pair:?}: expected CONTAINER=IMAGE"))?;
    anyhow::ensure!(
        !container.is_empty(),
        "{pair:?}: the container name is empty"
    );
    anyhow::ensure!(
        !image.is_empty() && !image.chars().any(|c| c.is_whitespace() || c.is_control()),
        "{pair:?}: the image must be a non-empty reference without spaces"
    );
    Ok((container.to_owned(), image.to_owned()))
}

/// The `image` fields of the Rollout document's containers and init containers named in
/// `wanted` (`*`: all), with their new values; an error names a container not there.
fn image_fields(
    document: &Value,
    wanted: &[(String, String)],
) -> Result<Vec<(FieldPath, Value)>, String> {
    let Some(pod) = document.pointer("/spec/template/spec") else {
        return Err(match document.pointer("/spec/workloadRef/name") {
            Some(name) => format!(
                "the Rollout's pod template is in Deployment {name}: set the image in its manifest"
            ),
            None => "the Rollout has no spec.template.spec".to_owned(),
        });
    };
    let mut fields = Vec::new();
    let mut present = Vec::new();
    for list in ["containers", "initContainers"] {
        let containers = pod
            .get(list)
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (index, container) in containers.iter().enumerate() {
            let name = container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            present.push(name.to_owned());
            // The last pair naming a container wins (as kubectl's does).
            if let Some((_, image)) = wanted
                .iter()
                .rev()
                .find(|(wanted, _)| wanted == name || wanted == "*")
            {
                let path = FieldPath::parse("spec.template.spec")
                    .key(list)
                    .index(index)
                    .key("image");
                fields.push((path, Value::String(image.clone())));
            }
        }
    }
    let missing: Vec<&str> = wanted
        .iter()
        .map(|(container, _)| container.as_str())
        .filter(|container| *container != "*" && !present.iter().any(|name| name == container))
        .collect();
    if missing.is_empty() {
        Ok(fields)
    } else {
        Err(format!(
            "no container {} in the Rollout's pod template (it has {})",
            missing.join(", "),
            present.join(", ")
        ))
    }
}

/// Commits the Rollout's fields that `fields_of` picks, with the subject `<what> <ns/name>`.
async fn commit(
    name: &str,
    committer: &Committer,
    cluster: &ClusterArgs,
    what: &str,
    command: &str,
    fields_of: impl Fn(&Value) -> Result<Vec<(FieldPath, Value)>, String> + Send + 'static,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let by = super::approve::approver(committer.by.as_deref());
    let applied = Applied::find(name, cluster, &committer.config).await?;
    let id = applied.id();
    let manifest = applied.manifest()?;
    let message = format!(
        "{} {}\n\nBy {} with tidegate {command}.\n",
        escape::one_line(what, 400),
        escape::one_line(&id, 200),
        escape::one_line(&by, 200)
    );
    let written = applied
        .commit(&by, move |tip| {
            Ok(Edit {
                message: message.clone(),
                changes: manifest.change(tip, &fields_of)?.into_iter().collect(),
            })
        })
        .await?;
    let branch = &applied.source.reference;
    match written {
        Written::Committed { commit } => writeln!(
            out,
            "{command} of {id} committed to {branch} as {commit}; tidegate applies it when it syncs the commit"
        )?,
        Written::AlreadyThere { .. } => {
            writeln!(
                out,
                "{branch} already holds this for {id}; nothing to commit"
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn revisions() -> Vec<Revision> {
        [(1, "aaa"), (3, "ccc"), (2, "bbb")]
            .into_iter()
            .map(|(number, hash)| Revision {
                number,
                hash: hash.to_owned(),
                commit: Some(format!("commit-{hash}")),
            })
            .collect()
    }

    #[test]
    fn only_a_full_commit_id_is_taken_from_a_replica_set() {
        assert!(is_commit_id(&"a1".repeat(20)));
        assert!(is_commit_id(&"0f".repeat(32)));
        for bad in [
            "",
            "abc123",
            &"g1".repeat(20),
            &format!("{}\nTidegate-Revert: x", "a".repeat(40)),
        ] {
            assert!(!is_commit_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn undo_goes_to_the_newest_older_revision_or_the_one_named() {
        let all = revisions();
        assert_eq!(pick(&all, "ccc", None).map(|r| r.number), Ok(2));
        assert_eq!(pick(&all, "bbb", None).map(|r| r.number), Ok(1));
        assert_eq!(pick(&all, "ccc", Some(1)).map(|r| r.number), Ok(1));
        assert_eq!(pick(&all, "aaa", Some(3)).map(|r| r.number), Ok(3));
        assert_eq!(
            pick(&all, "aaa", None),
            Err("no earlier revision to go back to".to_owned())
        );
        assert_eq!(
            pick(&all, "ccc", Some(3)),
            Err("revision 3 is the current one".to_owned())
        );
        assert_eq!(
            pick(&all, "ccc", Some(7)),
            Err("no revision 7 (its ReplicaSets have 1, 2, 3)".to_owned())
        );
    }

    fn document() -> Value {
        json!({"spec": {"template": {"spec": {
            "initContainers": [{"name": "migrate", "image": "shop:1"}],
            "containers": [{"name": "web", "image": "shop:1"}, {"name": "proxy", "image": "envoy:1"}],
        }}}})
    }

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(container, image)| ((*container).to_owned(), (*image).to_owned()))
            .collect()
    }

    fn shown(fields: &[(FieldPath, Value)]) -> Vec<String> {
        fields
            .iter()
            .map(|(path, value)| format!("{path}={value}"))
            .collect()
    }

    #[test]
    fn named_containers_and_init_containers_get_their_images() {
        let fields = image_fields(
            &document(),
            &pairs(&[("web", "shop:2"), ("migrate", "shop:2")]),
        )
        .expect("both exist");
        assert_eq!(
            shown(&fields),
            [
                "spec.template.spec.containers[0].image=\"shop:2\"",
                "spec.template.spec.initContainers[0].image=\"shop:2\""
            ]
        );
    }

    #[test]
    fn a_star_sets_every_container_and_a_later_pair_wins() {
        let fields = image_fields(&document(), &pairs(&[("*", "all:1"), ("proxy", "envoy:2")]))
            .expect("valid");
        assert_eq!(
            shown(&fields),
            [
                "spec.template.spec.containers[0].image=\"all:1\"",
                "spec.template.spec.containers[1].image=\"envoy:2\"",
                "spec.template.spec.initContainers[0].image=\"all:1\""
            ]
        );
    }

    #[test]
    fn a_container_not_there_is_named_with_those_that_are() {
        let error = image_fields(&document(), &pairs(&[("api", "shop:2")])).expect_err("no api");
        assert_eq!(
            error,
            "no container api in the Rollout's pod template (it has web, proxy, migrate)"
        );
        let referenced = json!({"spec": {"workloadRef": {"kind": "Deployment", "name": "web"}}});
        let error =
            image_fields(&referenced, &pairs(&[("web", "shop:2")])).expect_err("no template");
        assert!(error.contains("Deployment \"web\""), "{error}");
    }

    #[test]
    fn image_pairs_are_checked() {
        assert_eq!(
            parse_image("web=reg.example:5000/shop@sha256:ab").expect("valid"),
            (
                "web".to_owned(),
                "reg.example:5000/shop@sha256:ab".to_owned()
            )
        );
        for bad in ["web", "=shop:1", "web=", "web=shop 1", "web=shop\n1"] {
            assert!(parse_image(bad).is_err(), "{bad:?}");
        }
    }
}
