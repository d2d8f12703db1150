//! `tidegate lint <path>...`: renders directories (as a source's `path`: plain YAML, a
//! kustomization or a Helm chart, detected as the daemon detects them) and files offline with
//! the daemon's own validation and prints every problem (file, line, field); fails when there
//! is any. A file named on its own is read as YAML whatever its extension, so JSON manifests
//! too (`-f FILE`, as `kubectl argo rollouts lint -f`). It also warns, without failing, where
//! a metric's conditions leave a NaN or empty result unhandled — where tidegate's verdict
//! (Inconclusive) differs from Argo's.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::analysis::condition::lint_warnings;
use crate::manifest::{self, Limits, Manifest, Problems};
use crate::render::Renderers;

/// Arguments of `tidegate lint`.
#[derive(Debug, clap::Args)]
#[command(
    group = clap::ArgGroup::new("input").required(true).multiple(true),
    override_usage = "tidegate lint [PATH]... [-f FILE]..."
)]
pub struct Args {
    /// Directories to check (as a source's `path` would be rendered) or files.
    #[arg(value_name = "PATH", group = "input")]
    paths: Vec<PathBuf>,
    /// A file to check, YAML or JSON (as `kubectl argo rollouts lint -f`); repeatable.
    #[arg(short = 'f', long = "filename", value_name = "FILE", group = "input")]
    files: Vec<PathBuf>,
}

/// Lints every path; an error when any has problems.
pub fn run(args: &Args, out: &mut impl Write) -> anyhow::Result<()> {
    let mut problems = 0;
    for path in args.paths.iter().chain(&args.files) {
        let is_dir = path.is_dir();
        if is_dir && args.files.contains(path) {
            anyhow::bail!("{} is a directory: name it without -f", path.display());
        }
        if !is_dir && !path.is_file() {
            anyhow::bail!("{} is neither a directory nor a file", path.display());
        }
        let (rendered, prefix) = if is_dir {
            let rendered =
                crate::render::render_dir(path, &Limits::default(), &Renderers::default())
                    .map(|(_, manifests)| manifests)
                    .map_err(crate::render::RenderFailure::into_problems);
            (rendered, format!("{}/", path.display()))
        } else {
            // A file's problems already carry its path.
            (
                manifest::render_file(path, &Limits::default()),
                String::new(),
            )
        };
        problems += report(path, &prefix, rendered, out)?;
    }
    if problems > 0 {
        anyhow::bail!("{problems} problem(s) found");
    }
    Ok(())
}

/// Prints a render's warnings and summary, or its problems (each after `prefix`); the number
/// of problems.
fn report(
    path: &Path,
    prefix: &str,
    rendered: Result<Vec<Manifest>, Problems>,
    out: &mut impl Write,
) -> anyhow::Result<usize> {
    match rendered {
        Ok(manifests) => {
            let across = crate::manifest::workload_warnings(&manifests);
            for warning in manifests.iter().flat_map(warnings).chain(across) {
                writeln!(out, "{prefix}{warning}")?;
            }
            let objects = manifests.len();
            writeln!(out, "{}: {objects} objects, no problems", path.display())?;
            Ok(0)
        }
        Err(found) => {
            for problem in &found.0 {
                writeln!(out, "{prefix}{problem}")?;
            }
            Ok(found.0.len())
        }
    }
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
                paths: vec![dir.clone()],
                files: Vec::new(),
            },
            &mut out,
        );
        std::fs::write(dir.join("bad.yaml"), "apiVersion: v1\nkind: [\n").unwrap();
        let mut bad_out = Vec::new();
        let bad = run(
            &Args {
                paths: vec![dir.clone()],
                files: Vec::new(),
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
                paths: vec![dir.clone()],
                files: Vec::new(),
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

    #[test]
    fn files_are_linted_on_their_own_json_included_while_directories_read_yaml_only() {
        let dir = std::env::temp_dir().join(format!("tidegate-lint-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("web.json");
        let bad = dir.join("bad.json");
        std::fs::write(
            &good,
            r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}"#,
        )
        .unwrap();
        std::fs::write(&bad, r#"{"apiVersion": "v1", "metadata": {"name": "b"}}"#).unwrap();
        let lint = |paths: &[&PathBuf], files: &[&PathBuf]| {
            let mut out = Vec::new();
            let args = Args {
                paths: paths.iter().map(|p| (*p).clone()).collect(),
                files: files.iter().map(|p| (*p).clone()).collect(),
            };
            let result = run(&args, &mut out).map_err(|e| e.to_string());
            (result, String::from_utf8(out).unwrap())
        };
        let by_flag = lint(&[], &[&good]);
        let by_path = lint(&[&bad], &[]);
        let both = lint(&[&bad], &[&good]);
        let directory = lint(&[&dir], &[]);
        let directory_by_flag = lint(&[], &[&dir]);
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(by_flag.0, Ok(()));
        assert_eq!(
            by_flag.1,
            format!("{}: 1 objects, no problems\n", good.display())
        );
        assert_eq!(by_path.0, Err("1 problem(s) found".to_owned()));
        assert_eq!(
            by_path.1,
            format!("{}:1: kind: kind is required\n", bad.display())
        );
        assert_eq!(both.0, Err("1 problem(s) found".to_owned()));
        assert!(both.1.ends_with(": 1 objects, no problems\n"), "{}", both.1);
        assert_eq!(
            directory.0,
            Ok(()),
            "a directory renders as a sync does: YAML files only"
        );
        assert!(
            directory.1.ends_with(": 0 objects, no problems\n"),
            "{}",
            directory.1
        );
        assert!(directory_by_flag.0.unwrap_err().contains("is a directory"));
    }
}
