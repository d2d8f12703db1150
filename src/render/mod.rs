//! Rendering a source: a plain directory of YAML, a Kustomize kustomization or a Helm chart,
//! into validated manifests.
//!
//! In: the source's directory and, on demand, its whole repository (bases and values files
//! may sit beside it), the source's options, limits and the renderer programs. Out: the
//! manifests, through the same validation as plain YAML, or every problem (file, line,
//! field). Kustomize and Helm run as child processes on a private copy of the repository,
//! fenced in (clean environment, deadline, output cap, own process group): references out of
//! the repository, remote bases from hosts the source does not allow, Kustomize charts from
//! the network and values files outside the repository are refused before they run. A chart
//! from a chart repository is fetched by tidegate itself (`chart`), never by Helm.

pub mod chart;
mod checkout;
mod commit;
pub mod helm;
pub mod kustomize;
mod local;
pub mod options;
mod process;
pub mod tools;

use std::io;
use std::path::Path;
use std::time::Duration;

pub use commit::render_commit;
pub use local::render_dir;
pub use options::{
    ChartAuth, ChartReference, ChartRepository, HelmOptions, KustomizeOptions, Renderers,
};

use crate::manifest::{self, Entry, Files, Limits, Manifest, Problem, Problems};
use checkout::WorkDir;
use kustomize::Listing;
use process::Run;

/// How a source's directory is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Its YAML files, as written.
    Directory,
    /// `kustomize build`.
    Kustomize,
    /// `helm template`.
    Helm,
}

impl Kind {
    /// Its name in messages and `tidegate render`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Directory => "directory",
            Self::Kustomize => "kustomize",
            Self::Helm => "helm",
        }
    }
}

/// Why a source did not render.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderFailure {
    /// What Git holds is wrong: only a new commit fixes it.
    #[error("invalid manifests:\n{0}")]
    Invalid(Problems),
    /// Something outside Git (a chart repository) could not be reached, refused or answered
    /// wrongly: the same commit may render later.
    #[error("{0}")]
    Unavailable(String),
}

impl From<Problems> for RenderFailure {
    fn from(problems: Problems) -> Self {
        Self::Invalid(problems)
    }
}

impl RenderFailure {
    /// Every problem, an unavailable chart as one.
    #[must_use]
    pub fn into_problems(self) -> Problems {
        match self {
            Self::Invalid(problems) => problems,
            Self::Unavailable(message) => Problems(vec![problem("", message)]),
        }
    }
}

/// One source, as rendering needs it.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// Its name (a Helm release's default name).
    pub name: &'a str,
    /// Its directory in the repository (`""` or `.` for the root).
    pub path: &'a str,
    /// Its namespace for objects that name none.
    pub namespace: &'a str,
    /// Set: a Helm chart.
    pub helm: Option<&'a HelmOptions>,
    /// Set: a kustomization.
    pub kustomize: Option<&'a KustomizeOptions>,
}

/// Opens the whole repository the source's directory is in.
pub type OpenRepository<'a> = &'a dyn Fn() -> io::Result<Box<dyn Files>>;

/// How `dir` (the source's directory) is rendered: as its options say, else as Argo CD
/// detects it (a kustomization, else a `Chart.yaml`, else plain YAML).
pub fn detect(entries: &[Entry], source: &Source<'_>) -> Result<Kind, Problem> {
    let has = |name: &str| entries.iter().any(|entry| entry.path == name);
    let kustomization = kustomize::FILE_NAMES.iter().any(|name| has(name));
    let chart = has("Chart.yaml");
    let refuse = |message: String| Problem {
        file: String::new(),
        line: None,
        field: None,
        message,
    };
    match (source.helm, source.kustomize) {
        (Some(_), Some(_)) => Err(refuse(
            "the source sets both helm and kustomize; choose one".into(),
        )),
        (Some(helm), None) if helm.chart.is_some() && chart => Err(refuse(format!(
            "the source names a chart in helm.chart, and {} holds a Chart.yaml too; choose one",
            shown(source.path)
        ))),
        (Some(helm), None) if helm.chart.is_some() => Ok(Kind::Helm),
        (Some(_), None) if !chart => Err(refuse(format!(
            "the source sets helm, but {} has no Chart.yaml (or name one in helm.chart)",
            shown(source.path)
        ))),
        (Some(_), None) => Ok(Kind::Helm),
        (None, Some(_)) if !kustomization => Err(refuse(format!(
            "the source sets kustomize, but {} has no kustomization.yaml",
            shown(source.path)
        ))),
        (None, Some(_)) => Ok(Kind::Kustomize),
        (None, None) if kustomization && chart => Err(refuse(format!(
            "{} has both a kustomization and a Chart.yaml; set helm or kustomize on the source to choose",
            shown(source.path)
        ))),
        (None, None) if kustomization => Ok(Kind::Kustomize),
        (None, None) if chart => Ok(Kind::Helm),
        (None, None) => Ok(Kind::Directory),
    }
}

fn shown(path: &str) -> &str {
    if trimmed(path).is_empty() {
        "the repository's root"
    } else {
        path
    }
}

/// A source's `path` as a repository-relative directory (`""` for the root).
fn trimmed(path: &str) -> &str {
    let path = path.trim_matches('/');
    let path = path.strip_prefix("./").unwrap_or(path);
    if path == "." { "" } else { path }
}

/// Renders a source: its manifests and how they were rendered, or every problem.
pub fn render(
    dir: &dyn Files,
    repository: OpenRepository<'_>,
    source: &Source<'_>,
    limits: &Limits,
    renderers: &Renderers,
) -> Result<(Kind, Vec<Manifest>), RenderFailure> {
    let entries = dir.entries().map_err(|error| unreadable(&error))?;
    let kind = detect(&entries, source).map_err(|problem| Problems(vec![problem]))?;
    let manifests = match kind {
        Kind::Directory => manifest::render(dir, limits)?,
        Kind::Kustomize => Rendering::new(repository, source, limits, renderers)?
            .kustomize()
            .map_err(Problems)?,
        Kind::Helm => Rendering::new(repository, source, limits, renderers)?.helm()?,
    };
    Ok((kind, manifests))
}

/// A Kustomize or Helm render in progress: the repository copied to a private directory.
struct Rendering<'a> {
    work: WorkDir,
    listing: Listing,
    source: &'a Source<'a>,
    path: String,
    limits: &'a Limits,
    renderers: &'a Renderers,
}

impl<'a> Rendering<'a> {
    fn new(
        repository: OpenRepository<'_>,
        source: &'a Source<'a>,
        limits: &'a Limits,
        renderers: &'a Renderers,
    ) -> Result<Self, Problems> {
        let path = trimmed(source.path).to_owned();
        let repository = repository().map_err(|error| unreadable(&error))?;
        let entries = repository.entries().map_err(|error| unreadable(&error))?;
        let work = WorkDir::new().map_err(|error| unreadable(&error))?;
        let left_out = checkout::write(repository.as_ref(), &work.path().join("repo"), limits)
            .map_err(|problems| Problems(relative(&path, problems)))?;
        let listing = Listing::new(entries.iter().map(|entry| entry.path.as_str()))
            .with_links_leaving(left_out);
        Ok(Self {
            work,
            listing,
            source,
            path,
            limits,
            renderers,
        })
    }

    /// The source's directory in the copy.
    fn dir(&self) -> std::path::PathBuf {
        self.work.path().join("repo").join(&self.path)
    }

    fn kustomize(&self) -> Result<Vec<Manifest>, Vec<Problem>> {
        let options = self.source.kustomize.cloned().unwrap_or_default();
        let root = self
            .listing
            .kustomization_in(&self.path)
            .ok_or_else(|| vec![problem("", "no kustomization.yaml".into())])?;
        let root_text = self.checked_kustomizations(&root, &options)?;
        // A kustomize failure is reported at the source's kustomization.
        let failed_at = relative_path(&self.path, &root);
        let kustomize = tools::locate(&self.renderers.kustomize)
            .map_err(|message| vec![problem("", message)])?;
        let records_origin = kustomize::records_origin(&root_text);
        for edit in kustomize::edits(&options, records_origin) {
            self.run_tool(&kustomize, edit, &self.dir(), Kind::Kustomize, &failed_at)?;
        }
        let helm = if options.enable_helm {
            Some(
                tools::locate(&self.renderers.helm)
                    .map_err(|message| vec![problem("", message)])?,
            )
        } else {
            None
        };
        let helm = helm.as_deref().map(|helm| helm.to_string_lossy());
        let output = self.run_tool(
            &kustomize,
            kustomize::build_args(helm.as_deref()),
            &self.dir(),
            Kind::Kustomize,
            &failed_at,
        )?;
        let mut manifests = self.manifests(kustomize::split_by_origin(&output))?;
        if !records_origin {
            for manifest in &mut manifests {
                kustomize::strip_origin(&mut manifest.object);
            }
        }
        Ok(manifests)
    }

    /// Checks the source's kustomization and every one it reaches; the source's own text.
    fn checked_kustomizations(
        &self,
        root: &str,
        options: &KustomizeOptions,
    ) -> Result<String, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut pending = vec![root.to_owned()];
        let mut seen = std::collections::BTreeSet::new();
        let mut root_text = String::new();
        while let Some(file) = pending.pop() {
            if !seen.insert(file.clone()) {
                continue;
            }
            let text = std::fs::read_to_string(self.work.path().join("repo").join(&file))
                .map_err(|error| vec![problem(&file, format!("cannot read: {error}"))])?;
            let checked = kustomize::check(&file, &text, &self.listing, options, self.limits);
            problems.extend(checked.problems);
            pending.extend(checked.refers_to);
            if file == root {
                root_text = text;
            }
        }
        if problems.is_empty() {
            Ok(root_text)
        } else {
            Err(relative(&self.path, problems))
        }
    }

    fn helm(&self) -> Result<Vec<Manifest>, RenderFailure> {
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
    ) -> Result<std::path::PathBuf, RenderFailure> {
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

    /// Runs a renderer in `dir`; its stdout as text. A failure
    /// is a problem at `failed_at` (unless Helm names its template).
    fn run_tool(
        &self,
        program: &Path,
        args: Vec<String>,
        dir: &Path,
        kind: Kind,
        failed_at: &str,
    ) -> Result<String, Vec<Problem>> {
        let output = Run {
            program,
            args,
            dir,
            env: tools::environment(self.work.path()),
            timeout: Duration::from_secs(self.limits.render_timeout_seconds),
            max_output: self.limits.max_total_bytes,
        }
        .output()
        .map_err(|error| vec![tool_problem(kind, &error, self.work.path(), failed_at)])?;
        String::from_utf8(output).map_err(|_| {
            vec![problem(
                "",
                format!("{} printed text that is not UTF-8", kind.name()),
            )]
        })
    }

    /// The rendered documents, grouped by the file each came from, through the manifest
    /// pipeline.
    fn manifests(&self, texts: Vec<(String, String)>) -> Result<Vec<Manifest>, Vec<Problem>> {
        if texts.is_empty() {
            return Err(vec![problem(
                "",
                "the render produced no objects; nothing is applied or pruned".into(),
            )]);
        }
        manifest::render_texts(texts, self.limits).map_err(|problems| problems.0)
    }
}

/// A renderer's failure at `failed_at`, its work directory left out of the message; for
/// Helm at the template and line it names, when it names them.
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

fn tool_problem(kind: Kind, error: &process::RunError, work: &Path, failed_at: &str) -> Problem {
    let copy = format!("{}/", work.join("repo").display());
    let mut found = problem(
        failed_at,
        error
            .to_string()
            .replace(&copy, "")
            .replace(&*work.to_string_lossy(), "<work>"),
    );
    if let (Kind::Helm, process::RunError::Failed { stderr, .. }) = (kind, error)
        && let Some((file, line)) = helm::error_location(stderr)
    {
        found.file = file;
        found.line = line;
    }
    found
}

/// The documents of a YAML stream as printed by a renderer (split at `---` lines), blank ones
/// left out.
fn documents(output: &str) -> Vec<&str> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in output.split_inclusive('\n') {
        if line.trim_end() == "---" {
            documents.push(&output[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    documents.push(&output[start..]);
    documents
        .into_iter()
        .filter(|document| {
            document
                .lines()
                .any(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        })
        .collect()
}

/// The documents of a renderer's output grouped by the file `file_of` names for each, in
/// first-seen order: (file, its documents joined as one YAML stream).
fn group_documents(output: &str, file_of: impl Fn(&str) -> String) -> Vec<(String, String)> {
    let mut groups: Vec<(String, String)> = Vec::new();
    for document in documents(output) {
        let file = file_of(document);
        match groups.iter_mut().find(|(name, _)| *name == file) {
            Some((_, text)) => {
                text.push_str("---\n");
                text.push_str(document);
            }
            None => groups.push((file, document.to_owned())),
        }
    }
    groups
}

/// Problems' files, relative to the repository, made relative to the source's directory.
fn relative(source: &str, problems: Vec<Problem>) -> Vec<Problem> {
    problems
        .into_iter()
        .map(|mut problem| {
            if !problem.file.is_empty() {
                problem.file = relative_path(source, &problem.file);
            }
            problem
        })
        .collect()
}

/// `path` (relative to the repository) as seen from directory `from` (also relative to it).
fn relative_path(from: &str, path: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|part| !part.is_empty()).collect();
    let to: Vec<&str> = path.split('/').collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

fn unreadable(error: &io::Error) -> Problems {
    Problems(vec![problem("", error.to_string())])
}

fn problem(file: &str, message: String) -> Problem {
    Problem {
        file: file.to_owned(),
        line: None,
        field: None,
        message,
    }
}

#[cfg(test)]
mod tests;
