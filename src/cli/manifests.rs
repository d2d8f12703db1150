//! `tidegate render SOURCE|DIR`: prints the objects a source renders to — plain YAML, a
//! kustomization or a Helm chart — after the daemon's own validation, each under a comment
//! naming where it came from (what Argo CD users get from `argocd app manifests`). A source
//! is fetched from Git at its newest commit; a directory is read from disk.

use std::io::Write;
use std::path::PathBuf;

use crate::config::Config;
use crate::manifest::Manifest;
use crate::render::Kind;

/// Arguments of `tidegate render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A source named in the configuration file, or a directory.
    #[arg(value_name = "SOURCE|DIR")]
    target: String,
    /// The configuration file (for a source).
    #[arg(long, short, value_name = "FILE", default_value = "tidegate.yaml")]
    config: PathBuf,
}

/// Renders the source or directory and prints its objects as YAML documents.
pub fn run(args: &Args, out: &mut impl Write) -> anyhow::Result<()> {
    let directory = PathBuf::from(&args.target);
    let (what, rendered) = if directory.is_dir() {
        let config = if args.config.is_file() {
            Some(Config::load(&args.config)?)
        } else {
            None
        };
        let config = config.unwrap_or_default();
        let (limits, renderers) = (config.limits.clone(), config.renderers());
        (
            format!("directory {}", directory.display()),
            crate::render::render_dir(&directory, &limits, &renderers),
        )
    } else {
        let config = Config::load(&args.config)?;
        let Some(source) = config
            .sources
            .iter()
            .find(|source| source.name == args.target)
        else {
            anyhow::bail!(
                "{} is neither a directory nor a source in {}",
                args.target,
                args.config.display()
            );
        };
        let (commit, rendered) =
            super::cluster::block_on(super::diff::fetch_and_render(&config, source))?;
        (format!("source {} at {commit}", source.name), rendered)
    };
    match rendered {
        Ok((kind, manifests)) => write_manifests(&what, kind, &manifests, out),
        Err(failure) => anyhow::bail!("{what} does not render: {failure}"),
    }
}

fn write_manifests(
    what: &str,
    kind: Kind,
    manifests: &[Manifest],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "# {what}: {} objects ({} render)",
        manifests.len(),
        kind.name()
    )?;
    for manifest in manifests {
        writeln!(out, "---\n# Source: {}", manifest.origin)?;
        write!(out, "{}", serde_saphyr::to_string(&manifest.object)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_directory_renders_its_objects_with_their_origin() {
        let dir = std::env::temp_dir().join(format!("tidegate-render-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n",
        )
        .unwrap();
        let mut out = Vec::new();
        let args = Args {
            target: dir.to_string_lossy().into_owned(),
            config: dir.join("absent.yaml"),
        };
        run(&args, &mut out).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("1 objects (directory render)"), "{out}");
        assert!(
            out.contains("---\n# Source: cm.yaml:1\napiVersion: v1\n"),
            "{out}"
        );
        let parsed: serde_json::Value =
            serde_saphyr::from_str(out.split("# Source: cm.yaml:1\n").nth(1).unwrap()).unwrap();
        assert_eq!(parsed["data"]["k"], "v");
    }

    #[test]
    fn an_unknown_target_is_named() {
        let dir = std::env::temp_dir();
        let config = dir.join(format!("tidegate-render-cli-{}.yaml", std::process::id()));
        std::fs::write(&config, "sources: []\n").unwrap();
        let args = Args {
            target: "nope".into(),
            config: config.clone(),
        };
        let error = run(&args, &mut Vec::new()).unwrap_err().to_string();
        std::fs::remove_file(&config).unwrap();
        assert!(
            error.contains("nope is neither a directory nor a source"),
            "{error}"
        );
    }
}
