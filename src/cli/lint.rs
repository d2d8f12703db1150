//! `tidegate lint <dir>...`: renders directories offline with the daemon's own validation and
//! prints every problem (file, line, field); fails when there is any.

use std::io::Write;
use std::path::PathBuf;

use crate::manifest::{self, DirFiles, Limits};

/// Arguments of `tidegate lint`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directories to check (as a source's `path` would be rendered).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

/// Lints every directory; an error when any has problems.
pub fn run(args: &Args, out: &mut impl Write) -> anyhow::Result<()> {
    let mut problems = 0;
    for dir in &args.dirs {
        if !dir.is_dir() {
            anyhow::bail!("{} is not a directory", dir.display());
        }
        match manifest::render(&DirFiles::new(dir), &Limits::default()) {
            Ok(manifests) => writeln!(
                out,
                "{}: {} objects, no problems",
                dir.display(),
                manifests.len()
            )?,
            Err(found) => {
                for problem in &found.0 {
                    writeln!(out, "{}/{problem}", dir.display())?;
                }
                problems += found.0.len();
            }
        }
    }
    if problems > 0 {
        anyhow::bail!("{problems} problem(s) found");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_fail_the_command_and_are_printed() {
        let dir = std::env::temp_dir().join(format!("tidegate-lint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("good.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        )
        .unwrap();
        let mut out = Vec::new();
        let ok = run(
            &Args {
                dirs: vec![dir.clone()],
            },
            &mut out,
        );
        std::fs::write(dir.join("bad.yaml"), "apiVersion: v1\nkind: [\n").unwrap();
        let mut bad_out = Vec::new();
        let bad = run(
            &Args {
                dirs: vec![dir.clone()],
            },
            &mut bad_out,
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(ok.is_ok());
        assert!(
            String::from_utf8(out)
                .unwrap()
                .ends_with(": 1 objects, no problems\n")
        );
        assert_eq!(bad.unwrap_err().to_string(), "1 problem(s) found");
        assert!(String::from_utf8(bad_out).unwrap().contains("/bad.yaml:"));
    }
}
