//! Rendering a directory on disk (`tidegate lint DIR`, `tidegate render DIR`) the way the
//! daemon renders a source at that path: its repository is the nearest enclosing Git work
//! tree (bases and values files may sit beside the directory), else the directory itself.

use std::io;
use std::path::{Path, PathBuf};

use super::{Kind, RenderFailure, Renderers, Source};
use crate::manifest::{DirFiles, Files, Limits, Manifest};

/// Renders `dir` with the kind detected from its files, as a source named after it.
pub fn render_dir(
    dir: &Path,
    limits: &Limits,
    renderers: &Renderers,
) -> Result<(Kind, Vec<Manifest>), RenderFailure> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    let root = repository_root(&dir);
    let path = dir
        .strip_prefix(&root)
        .unwrap_or(Path::new(""))
        .to_string_lossy()
        .into_owned();
    let name = dir.file_name().map_or_else(
        || "release".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    let source = Source {
        name: &name,
        path: &path,
        namespace: "default",
        helm: None,
        kustomize: None,
    };
    let repository = || -> io::Result<Box<dyn Files>> { Ok(Box::new(DirFiles::new(&root))) };
    super::render(
        &DirFiles::new(&dir),
        &repository,
        &source,
        limits,
        renderers,
    )
}

/// The nearest directory at or above `dir` holding `.git`, else `dir`.
fn repository_root(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|ancestor| ancestor.join(".git").exists())
        .unwrap_or(dir)
        .to_owned()
}
