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
mod helm_render;
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
