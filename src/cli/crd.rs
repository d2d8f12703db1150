//! `tidegate crd`: the CustomResourceDefinitions of tidegate's kinds, generated from the Rust
//! types, as multi-document YAML on stdout or one file per CRD in a directory.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::k8s::crd;

/// Arguments of `tidegate crd`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write `<crd name>.yaml` files into this directory instead of printing.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
}

/// Prints the CRDs, or writes them into `--output-dir`.
pub fn run(args: &Args, out: &mut impl Write) -> anyhow::Result<()> {
    for definition in crd::definitions() {
        let name = definition.metadata.name.as_deref().unwrap_or_default();
        let yaml = crd::to_yaml(&definition).with_context(|| format!("render CRD {name}"))?;
        match &args.output_dir {
            Some(dir) => {
                let path = dir.join(format!("{name}.yaml"));
                std::fs::write(&path, yaml).with_context(|| format!("write {}", path.display()))?;
                writeln!(out, "wrote {}", path.display())?;
            }
            None => write!(out, "---\n{yaml}")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_one_document_per_kind() {
        let mut out = Vec::new();
        run(&Args { output_dir: None }, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let separators = text.lines().filter(|line| *line == "---").count();
        assert_eq!(separators, crd::KINDS.len());
        for kind in crd::KINDS {
            assert!(text.contains(&format!("kind: {kind}\n")), "{kind} missing");
        }
    }

    #[test]
    fn writes_one_file_per_kind() {
        let dir = std::env::temp_dir().join(format!("tidegate-crd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        run(
            &Args {
                output_dir: Some(dir.clone()),
            },
            &mut Vec::new(),
        )
        .unwrap();
        let written = std::fs::read_to_string(dir.join("rollouts.tidegate.dev.yaml")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(written.contains("kind: CustomResourceDefinition"));
    }
}
