//! `tidegate lint <dir>...`: renders directories offline with the daemon's own validation and
//! prints every problem (file, line, field); fails when there is any. It also warns, without
//! failing, where a metric's conditions leave a NaN or empty result unhandled — where
//! tidegate's verdict (Inconclusive) differs from Argo's.

use std::io::Write;
use std::path::PathBuf;

use crate::analysis::condition::lint_warnings;
use crate::manifest::{self, DirFiles, Limits, Manifest};

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
            Ok(manifests) => {
                for warning in manifests.iter().flat_map(warnings) {
                    writeln!(out, "{}/{warning}", dir.display())?;
                }
                writeln!(
                    out,
                    "{}: {} objects, no problems",
                    dir.display(),
                    manifests.len()
                )?;
            }
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

/// `file:line: field: warning: message` for each metric whose conditions leave NaN or an
/// empty result unhandled.
fn warnings(manifest: &Manifest) -> Vec<String> {
    let analysis_kinds = ["AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun"];
    if manifest.key.group != crate::k8s::crd::GROUP
        || !analysis_kinds.contains(&manifest.key.kind.as_str())
    {
        return Vec::new();
    }
    let metrics = manifest.object["spec"]["metrics"].as_array();
    let mut found = Vec::new();
    for (index, metric) in metrics.into_iter().flatten().enumerate() {
        let text = |field: &str| metric[field].as_str().unwrap_or_default().to_owned();
        let provider = &metric["provider"];
        let value_provider = provider.get("prometheus").is_some() || provider.get("web").is_some();
        for (field, message) in lint_warnings(
            &text("successCondition"),
            &text("failureCondition"),
            value_provider,
        ) {
            found.push(format!(
                "{}:{}: spec.metrics[{index}].{field}: warning: {message}",
                manifest.origin.file, manifest.origin.line
            ));
        }
    }
    found
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

    #[test]
    fn unhandled_nan_and_empty_results_are_warned_about_without_failing() {
        let dir = std::env::temp_dir().join(format!("tidegate-lint-nan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("template.yaml"),
            "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: errors}\n\
             spec:\n  metrics:\n  - name: ok\n    successCondition: isNaN(result) || result < 0.1\n\
             \x20   provider: {web: {url: 'http://x.svc'}}\n  - name: trap\n\
             \x20   failureCondition: result > 0.1\n    provider: {web: {url: 'http://x.svc'}}\n",
        )
        .unwrap();
        let mut out = Vec::new();
        let result = run(
            &Args {
                dirs: vec![dir.clone()],
            },
            &mut out,
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(result.is_ok(), "{out}");
        assert!(
            out.contains("/template.yaml:1: spec.metrics[1].failureCondition: warning: only a failureCondition, and it does not handle NaN"),
            "{out}"
        );
        assert!(!out.contains("spec.metrics[0]"), "{out}");
    }
}
