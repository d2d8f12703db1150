//! Manifests: a source directory's YAML files turned into validated Kubernetes objects.
//!
//! In: a [`Files`] tree (a Git tree at a commit, or a directory on disk) and [`Limits`].
//! Out: every object in path order with where it came from, or every problem found, each
//! naming its file, line and field. A render is all or nothing: one problem and no object is
//! returned, so a broken commit can never be half-applied.
//!
//! Every `*.yaml`/`*.yml` file is read (recursively, sorted, multi-document, empty documents
//! skipped); paths under `.tidegate/` are tidegate's own records and never rendered. Links
//! may point at YAML files inside the directory, nowhere else. Argo Rollouts' kinds in
//! `argoproj.io/v1alpha1` become `tidegate.dev/v1alpha1`, and tidegate's kinds are validated
//! strictly here rather than left to the apiserver, and the Services a Rollout names must
//! select its pods.

mod files;
mod owned;
pub(crate) mod path;
mod references;
pub(crate) mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde_json::Value;

use files::OneFile;
pub use files::{DirFiles, Entry, EntryKind, Files, resolve_link};
pub use path::{FieldPath, Segment, line_of};
pub use references::workload_warnings;

use crate::k8s::crd;

/// Bounds on what a render reads, against huge files and YAML bombs.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Limits {
    /// Largest file read, in bytes.
    pub max_file_bytes: u64,
    /// Most bytes read from one source directory in total.
    pub max_total_bytes: u64,
    /// Most documents in one source directory.
    pub max_documents: usize,
    /// Most aliases (and anchors) in one file.
    pub max_aliases: usize,
    /// Most YAML events aliases may replay in one file (what a YAML bomb inflates).
    pub max_alias_expansion: usize,
    /// How long `helm` or `kustomize` may run for one render, in seconds.
    pub render_timeout_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 2 << 20,
            max_total_bytes: 64 << 20,
            max_documents: 10_000,
            max_aliases: 1_000,
            max_alias_expansion: 100_000,
            render_timeout_seconds: 120,
        }
    }
}

/// Where an object was written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// The file, relative to the source directory.
    pub file: String,
    /// The line its document starts on (1-based).
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// What identifies an object in a cluster: group, kind, namespace (as written; `None` when
/// the manifest leaves it to the source's default or the kind is cluster-scoped) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// API group (`""` for the core group).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace, if any.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        };
        match &self.namespace {
            Some(namespace) => write!(f, "{kind} {namespace}/{}", self.name),
            None => write!(f, "{kind} {}", self.name),
        }
    }
}

/// One object read from a source, ready to apply.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// Where it was written.
    pub origin: Origin,
    /// Its identity.
    pub key: ObjectKey,
    /// `apiVersion`, after translation of Argo's kinds.
    pub api_version: String,
    /// The object as written (with the translated `apiVersion`).
    pub object: Value,
}

/// One thing wrong with a source directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the source directory (empty when the directory itself failed).
    pub file: String,
    /// The line (1-based), when known.
    pub line: Option<usize>,
    /// The field path inside the document, when the problem is one field.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.file.is_empty() {
            "<source>"
        } else {
            &self.file
        })?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything wrong with a render (never empty).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Reads every manifest under `files`, or says everything that is wrong with them.
pub fn render(files: &dyn Files, limits: &Limits) -> Result<Vec<Manifest>, Problems> {
    let mut problems = Vec::new();
    let entries = match files.entries() {
        Ok(entries) => entries,
        Err(error) => return Err(Problems(vec![problem("", None, None, error.to_string())])),
    };
    let sources = yaml_sources(&entries, &mut problems);
    render_sources(files, sources, limits, problems)
}

/// Reads one file named on its own (`tidegate lint FILE`) as YAML whatever its extension, so
/// a JSON manifest too, with the same validation as a directory.
pub fn render_file(path: &Path, limits: &Limits) -> Result<Vec<Manifest>, Problems> {
    let file = OneFile::new(path);
    let entries = match file.entries() {
        Ok(entries) => entries,
        Err(error) => {
            return Err(Problems(vec![problem(
                &file.name(),
                None,
                None,
                error.to_string(),
            )]));
        }
    };
    let sources = entries
        .into_iter()
        .filter_map(|entry| match entry.kind {
            EntryKind::File { size } => Some((entry.path.clone(), entry.path, size)),
            EntryKind::Symlink { .. } => None,
        })
        .collect();
    render_sources(&file, sources, limits, Vec::new())
}

/// Reads what a renderer printed, as (file it came from, its documents' text) in order, with
/// the same limits and validation as files; lines count within each file's rendered text.
pub fn render_texts(
    texts: Vec<(String, String)>,
    limits: &Limits,
) -> Result<Vec<Manifest>, Problems> {
    let texts = files::Texts::new(texts);
    let sources = texts.sources();
    render_sources(&texts, sources, limits, Vec::new())
}

/// Reads `sources` — (path, path to read the bytes from, size) — after the `problems` already
/// found in listing them.
fn render_sources(
    files: &dyn Files,
    sources: Vec<(String, String, u64)>,
    limits: &Limits,
    mut problems: Vec<Problem>,
) -> Result<Vec<Manifest>, Problems> {
    let mut manifests = Vec::new();
    let mut total_bytes = 0_u64;
    let mut documents = 0_usize;
    for (path, read_from, size) in sources {
        if size > limits.max_file_bytes {
            problems.push(problem(
                &path,
                None,
                None,
                format!(
                    "file is {size} bytes; the limit is {} (limits.maxFileBytes)",
                    limits.max_file_bytes
                ),
            ));
            continue;
        }
        total_bytes += size;
        if total_bytes > limits.max_total_bytes {
            problems.push(problem(
                &path,
                None,
                None,
                format!(
                    "the source's YAML files exceed {} bytes in total (limits.maxTotalBytes); stopped reading here",
                    limits.max_total_bytes
                ),
            ));
            break;
        }
        let text = match read_text(files, &path, &read_from) {
            Ok(text) => text,
            Err(failure) => {
                problems.push(failure);
                continue;
            }
        };
        match yaml::documents(&text, limits) {
            Ok(parsed) => {
                documents += parsed.len();
                if documents > limits.max_documents {
                    problems.push(problem(
                        &path,
                        None,
                        None,
                        format!(
                            "more than {} documents in the source (limits.maxDocuments)",
                            limits.max_documents
                        ),
                    ));
                    break;
                }
                for (line, document) in parsed {
                    read_document(&path, &text, line, document, &mut manifests, &mut problems);
                }
            }
            Err(failure) => problems.push(problem(&path, failure.line, None, failure.message)),
        }
    }
    duplicates(&manifests, &mut problems);
    references::service_selectors(&manifests, &mut problems);
    if problems.is_empty() {
        Ok(manifests)
    } else {
        Err(Problems(problems))
    }
}

/// The YAML files to read, sorted by path: (path, path to read the bytes from, size). Links
/// out of the directory are problems; links to YAML files inside it read their target.
fn yaml_sources(entries: &[Entry], problems: &mut Vec<Problem>) -> Vec<(String, String, u64)> {
    let sizes: HashMap<&str, u64> = entries
        .iter()
        .filter_map(|entry| match entry.kind {
            EntryKind::File { size } => Some((entry.path.as_str(), size)),
            EntryKind::Symlink { .. } => None,
        })
        .collect();
    let mut sources = BTreeMap::new();
    for entry in entries {
        if entry.path.split('/').any(|part| part == ".tidegate") {
            continue;
        }
        let is_yaml = Path::new(&entry.path).extension().is_some_and(|extension| {
            extension.eq_ignore_ascii_case("yaml") || extension.eq_ignore_ascii_case("yml")
        });
        match &entry.kind {
            EntryKind::File { size } if is_yaml => {
                sources.insert(entry.path.clone(), (entry.path.clone(), *size));
            }
            EntryKind::File { .. } => {}
            EntryKind::Symlink { target } => match resolve_link(&entry.path, target) {
                None => problems.push(problem(
                    &entry.path,
                    None,
                    None,
                    format!("symbolic link to {target:?} leaves the source directory"),
                )),
                Some(resolved) if is_yaml => match sizes.get(resolved.as_str()) {
                    Some(size) => {
                        sources.insert(entry.path.clone(), (resolved, *size));
                    }
                    None => problems.push(problem(
                        &entry.path,
                        None,
                        None,
                        format!("symbolic link to {target:?} does not point at a file in the source directory"),
                    )),
                },
                Some(_) => {}
            },
        }
    }
    sources
        .into_iter()
        .map(|(path, (read_from, size))| (path, read_from, size))
        .collect()
}

fn read_text(files: &dyn Files, path: &str, read_from: &str) -> Result<String, Problem> {
    let bytes = files
        .read(read_from)
        .map_err(|error| problem(path, None, None, format!("cannot read: {error}")))?;
    String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let line = valid.split(|byte| *byte == b'\n').count();
        problem(path, Some(line), None, "file is not valid UTF-8".to_owned())
    })
}

/// Checks one document and adds it (or its problems).
fn read_document(
    path: &str,
    text: &str,
    line: usize,
    mut document: Value,
    manifests: &mut Vec<Manifest>,
    problems: &mut Vec<Problem>,
) {
    let at = |field: &FieldPath| line_of(text, line, field);
    let root = FieldPath::default();
    let Some(fields) = document.as_object() else {
        problems.push(problem(
            path,
            at(&root),
            None,
            "a document must be a mapping (a Kubernetes object)".into(),
        ));
        return;
    };
    let generated = fields_at(fields, &root.key("metadata").key("generateName")).is_some();
    let mut required = |name: &str, field: FieldPath| -> Option<String> {
        match fields_at(fields, &field) {
            Some(Value::String(value)) if !value.is_empty() => Some(value.clone()),
            Some(_) => {
                problems.push(problem(
                    path,
                    at(&field),
                    Some(&field),
                    format!("{name} must be a non-empty string"),
                ));
                None
            }
            None => {
                let message = if name == "metadata.name" && generated {
                    "metadata.name is required: metadata.generateName makes a new object on every \
                     apply, so Git could never say which object it describes; give it a name"
                        .to_owned()
                } else {
                    format!("{name} is required")
                };
                problems.push(problem(path, at(&root), Some(&field), message));
                None
            }
        }
    };
    let api_version = required("apiVersion", root.key("apiVersion"));
    let kind = required("kind", root.key("kind"));
    let name = required("metadata.name", root.key("metadata").key("name"));
    let namespace_field = root.key("metadata").key("namespace");
    let namespace = match fields_at(fields, &namespace_field) {
        None | Some(Value::Null) => None,
        Some(Value::String(namespace)) if !namespace.is_empty() => Some(namespace.clone()),
        Some(_) => {
            problems.push(problem(
                path,
                at(&namespace_field),
                Some(&namespace_field),
                "metadata.namespace must be a non-empty string".into(),
            ));
            return;
        }
    };
    let (Some(api_version), Some(kind), Some(name)) = (api_version, kind, name) else {
        return;
    };
    let api_version = crd::translated_api_version(&api_version, &kind).to_owned();
    document["apiVersion"] = Value::String(api_version.clone());
    let group = api_version
        .rsplit_once('/')
        .map_or("", |(group, _)| group)
        .to_owned();
    if group == crd::GROUP && crd::KINDS.contains(&kind.as_str()) {
        let found = owned::validate(&kind, &document);
        if !found.is_empty() {
            for (field, message) in found {
                problems.push(problem(path, at(&field), Some(&field), message));
            }
            return;
        }
    }
    manifests.push(Manifest {
        origin: Origin {
            file: path.to_owned(),
            line,
        },
        key: ObjectKey {
            group,
            kind,
            namespace,
            name,
        },
        api_version,
        object: document,
    });
}

fn fields_at<'a>(
    fields: &'a serde_json::Map<String, Value>,
    path: &FieldPath,
) -> Option<&'a Value> {
    let mut segments = path.0.iter();
    let Some(Segment::Key(first)) = segments.next() else {
        return None;
    };
    let mut value = fields.get(first)?;
    for segment in segments {
        value = match segment {
            Segment::Key(key) => value.get(key)?,
            Segment::Index(index) => value.get(index)?,
        };
    }
    Some(value)
}

/// The same object written twice is a problem at its second place.
fn duplicates(manifests: &[Manifest], problems: &mut Vec<Problem>) {
    let mut seen: HashMap<&ObjectKey, &Origin> = HashMap::new();
    for manifest in manifests {
        if let Some(first) = seen.insert(&manifest.key, &manifest.origin) {
            problems.push(problem(
                &manifest.origin.file,
                Some(manifest.origin.line),
                None,
                format!("{} is also defined at {first}", manifest.key),
            ));
        }
    }
}

fn problem(file: &str, line: Option<usize>, field: Option<&FieldPath>, message: String) -> Problem {
    Problem {
        file: file.to_owned(),
        line,
        field: field.map(ToString::to_string),
        message,
    }
}

#[cfg(test)]
mod tests;
