//! Rendering a source at a commit of its Git cache (the daemon, `tidegate diff` and
//! `tidegate render` all go through here, so they render alike). Blocking.

use super::{Kind, RenderFailure, Renderers, Source};
use crate::manifest::{Files, Limits, Manifest, Problem, Problems};
use crate::source::{GitCache, GitError};

/// The source's manifests at `commit`, or every problem.
pub fn render_commit(
    cache: &GitCache,
    commit: &str,
    source: &Source<'_>,
    limits: &Limits,
    renderers: &Renderers,
) -> Result<(Kind, Vec<Manifest>), RenderFailure> {
    let unreadable = |error: &GitError| {
        RenderFailure::Invalid(Problems(vec![Problem {
            file: String::new(),
            line: None,
            field: None,
            message: crate::k8s::describe_error(error),
        }]))
    };
    let dir = cache
        .tree(commit, source.path)
        .map_err(|error| unreadable(&error))?;
    let repository = || -> std::io::Result<Box<dyn Files>> {
        cache
            .tree(commit, "")
            .map(|tree| Box::new(tree) as Box<dyn Files>)
            .map_err(|error| std::io::Error::other(crate::k8s::describe_error(&error)))
    };
    super::render(&dir, &repository, source, limits, renderers)
}
