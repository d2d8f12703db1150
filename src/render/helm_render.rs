//! A Helm render: the values (files checked inside the repository, inline values), the chart
//! (the source's directory, or one fetched from a chart repository), its dependencies put
//! in `charts/` as `helm dependency build` would, then `helm template`.

use std::io;
use std::path::{Path, PathBuf};

use super::{
    ChartReference, Kind, RenderFailure, Rendering, chart, helm, kustomize, problem, tools,
};
use crate::manifest::{Manifest, Problem, Problems};

impl Rendering<'_> {
    pub(super) fn helm(&self) -> Result<Vec<Manifest>, RenderFailure> {
        let options = self.source.helm.cloned().unwrap_or_default();
        let mut values = Vec::new();
        let mut problems = Vec::new();
        for file in &options.value_files {
            match helm::values_file(&self.path, file, &self.listing) {
                Ok(path) => values.push(self.work.path().join("repo").join(path)),
                Err(message) => problems.push(problem("", message)),
            }
        }
        for (name, text) in [
            ("values.yaml", options.values.clone()),
            (
                "values-object.yaml",
                options
                    .values_object
                    .as_ref()
                    .map(|object| serde_json::Value::Object(object.clone()).to_string()),
            ),
        ] {
            if let Some(text) = text {
                let path = self.work.path().join(name);
                std::fs::write(&path, text).map_err(|error| {
                    Problems(vec![problem("", format!("cannot write {name}: {error}"))])
                })?;
                values.push(path);
            }
        }
        if !problems.is_empty() {
            return Err(Problems(problems).into());
        }
        let helm = tools::locate(&self.renderers.helm)
            .map_err(|message| Problems(vec![problem("", message)]))?;
        let chart_dir = match &options.chart {
            Some(reference) => self.fetch_chart(reference, &self.work.path().join("chart"))?,
            None => self.dir(),
        };
        self.vendor_dependencies(&chart_dir, options.chart.is_none())?;
        let namespace = options
            .namespace
            .as_deref()
            .unwrap_or(self.source.namespace);
        let values: Vec<String> = values
            .iter()
            .map(|path| path.to_string_lossy().into_owned())
            .collect();
        let args = helm::template_args(
            helm::release_name(&options, self.source.name),
            namespace,
            &values,
        );
        let output = self
            .run_tool(&helm, args, &chart_dir, Kind::Helm, "")
            .map_err(Problems)?;
        Ok(self
            .manifests(helm::split_by_template(&output))
            .map_err(Problems)?)
    }

    /// Puts the dependencies the chart in `chart_dir` names, and its `charts/` lacks, there:
    /// fetched from their repositories, or copied from the Git repository (`file://`, for a
    /// chart in Git only), as `helm dependency build` would.
    fn vendor_dependencies(&self, chart_dir: &Path, in_git: bool) -> Result<(), RenderFailure> {
        let invalid = |message: String| {
            let file = if in_git { "Chart.yaml" } else { "" };
            RenderFailure::Invalid(Problems(vec![problem(file, message)]))
        };
        let chart_yaml = std::fs::read_to_string(chart_dir.join("Chart.yaml"))
            .map_err(|error| invalid(format!("cannot read Chart.yaml: {error}")))?;
        let lock = std::fs::read_to_string(chart_dir.join("Chart.lock")).ok();
        let charts = chart_dir.join("charts");
        let vendored: Vec<String> = std::fs::read_dir(&charts)
            .map(|entries| {
                entries
                    .filter_map(|entry| {
                        Some(entry.ok()?.file_name().to_string_lossy().into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let needed = chart::dependencies::needed(&chart_yaml, lock.as_deref(), &vendored)
            .map_err(invalid)?;
        for dependency in needed {
            match &dependency.from {
                chart::dependencies::From::Repository(repository) => {
                    let reference = ChartReference {
                        repository: repository.clone(),
                        name: dependency.name.clone(),
                        version: dependency.version.clone(),
                        auth: None,
                        plain_http: false,
                    };
                    self.fetch_chart(&reference, &charts)?;
                }
                chart::dependencies::From::Directory(path) if in_git => {
                    self.copy_dependency(&dependency.name, path, &charts)
                        .map_err(|message| {
                            let written = format!("file://{path}");
                            RenderFailure::Invalid(Problems(vec![Problem {
                                file: "Chart.yaml".into(),
                                line: chart_yaml
                                    .lines()
                                    .position(|line| line.contains(&written))
                                    .map(|index| index + 1),
                                field: Some("dependencies".into()),
                                message,
                            }]))
                        })?;
                }
                chart::dependencies::From::Directory(path) => {
                    return Err(RenderFailure::Unavailable(format!(
                        "the chart's dependency {} is file://{path}, which a chart from a repository cannot reach",
                        dependency.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// Copies the chart at `path` (relative to the source's chart, inside the repository) to
    /// `charts/<name>`.
    fn copy_dependency(&self, name: &str, path: &str, charts: &Path) -> Result<(), String> {
        let shown = format!("dependency {name} (file://{path})");
        let resolved =
            kustomize::resolve(&self.path, path).ok_or(format!("{shown} leaves the repository"))?;
        if self.listing.leaves(&resolved) {
            return Err(format!(
                "{shown} is a symbolic link that leaves the repository"
            ));
        }
        if !self
            .listing
            .is_file(format!("{resolved}/Chart.yaml").trim_start_matches('/'))
        {
            return Err(format!("{shown} is not a chart in the repository"));
        }
        copy_tree(
            &self.work.path().join("repo").join(&resolved),
            &charts.join(name),
        )
        .map_err(|error| format!("cannot copy {shown}: {error}"))
    }

    /// The chart `reference` names (with the settings of its `chartRepositories` entry),
    /// fetched and unpacked under `into`.
    fn fetch_chart(
        &self,
        reference: &ChartReference,
        into: &Path,
    ) -> Result<PathBuf, RenderFailure> {
        let reference = &self.renderers.with_repository_settings(reference);
        let fetched = chart::fetch(
            reference,
            self.renderers.chart_cache.as_deref(),
            into,
            self.limits,
        )
        .map_err(|why| {
            RenderFailure::Unavailable(format!(
                "chart {} from {}: {why}",
                reference.name, reference.repository
            ))
        })?;
        tracing::info!(
            source = self.source.name,
            chart = %reference.name,
            version = %fetched.version,
            digest = %fetched.digest.oci(),
            cached = fetched.cached,
            "chart fetched"
        );
        Ok(fetched.dir)
    }
}

/// Copies the files and directories under `from` to `to`.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
