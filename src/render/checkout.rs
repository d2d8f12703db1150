//! A repository's files written to a private directory for a renderer to read, links kept
//! only where they stay inside the repository; removed again when dropped.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::problem;
use crate::manifest::{EntryKind, Files, Limits, Problem, resolve_link};

/// A directory of our own under the system's temporary directory, removed on drop.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    /// Creates a fresh, empty directory only this process uses.
    pub fn new() -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("tidegate-render-{}-{n}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Its path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Writes every file and link of `repository` under `into`, except links whose target leaves
/// the repository: those are left out, and their paths returned (a render that reaches one
/// names it). Going over `limits` is a problem.
pub fn write(
    repository: &dyn Files,
    into: &Path,
    limits: &Limits,
) -> Result<Vec<String>, Vec<Problem>> {
    let entries = repository
        .entries()
        .map_err(|error| vec![problem("", format!("cannot list the repository: {error}"))])?;
    let mut problems = Vec::new();
    let mut left_out = Vec::new();
    let mut total = 0_u64;
    for entry in &entries {
        let path = into.join(&entry.path);
        let written = match &entry.kind {
            EntryKind::File { size } => {
                if *size > limits.max_file_bytes {
                    problems.push(problem(
                        &entry.path,
                        format!(
                            "file is {size} bytes; the limit is {} (limits.maxFileBytes)",
                            limits.max_file_bytes
                        ),
                    ));
                    continue;
                }
                total += size;
                if total > limits.max_total_bytes {
                    problems.push(problem(
                        &entry.path,
                        format!(
                            "the repository's files exceed {} bytes in total (limits.maxTotalBytes); stopped here",
                            limits.max_total_bytes
                        ),
                    ));
                    break;
                }
                repository
                    .read(&entry.path)
                    .and_then(|bytes| create_parent(&path).and_then(|()| fs::write(&path, bytes)))
            }
            EntryKind::Symlink { target } => {
                if resolve_link(&entry.path, target).is_none() {
                    left_out.push(entry.path.clone());
                    continue;
                }
                create_parent(&path).and_then(|()| std::os::unix::fs::symlink(target, &path))
            }
        };
        if let Err(error) = written {
            problems.push(problem(
                &entry.path,
                format!("cannot write a copy: {error}"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(left_out)
    } else {
        Err(problems)
    }
}

fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => fs::create_dir_all(parent),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::DirFiles;

    fn repository(files: &[(&str, &str)], links: &[(&str, &str)]) -> WorkDir {
        let dir = WorkDir::new().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            create_parent(&path).unwrap();
            fs::write(path, text).unwrap();
        }
        for (path, target) in links {
            std::os::unix::fs::symlink(target, dir.path().join(path)).unwrap();
        }
        dir
    }

    #[test]
    fn files_and_inner_links_are_copied() {
        let source = repository(&[("base/a.yaml", "a: 1\n")], &[("b.yaml", "base/a.yaml")]);
        let copy = WorkDir::new().unwrap();
        write(
            &DirFiles::new(source.path()),
            copy.path(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(copy.path().join("base/a.yaml")).unwrap(),
            "a: 1\n"
        );
        assert_eq!(
            fs::read_to_string(copy.path().join("b.yaml")).unwrap(),
            "a: 1\n"
        );
    }

    #[test]
    fn a_link_out_of_the_repository_is_left_out_and_named() {
        let source = repository(
            &[("a", "a")],
            &[("base", "/etc"), ("up", "../x"), ("in", "a")],
        );
        let copy = WorkDir::new().unwrap();
        let mut left_out = write(
            &DirFiles::new(source.path()),
            copy.path(),
            &Limits::default(),
        )
        .unwrap();
        left_out.sort_unstable();
        assert_eq!(left_out, ["base", "up"]);
        assert!(copy.path().join("base").symlink_metadata().is_err());
        assert!(copy.path().join("up").symlink_metadata().is_err());
        assert!(copy.path().join("in").symlink_metadata().is_ok());
    }

    #[test]
    fn the_limits_hold() {
        let source = repository(&[("a", "12345"), ("b", "12345")], &[]);
        let copy = WorkDir::new().unwrap();
        let limits = Limits {
            max_file_bytes: 4,
            ..Limits::default()
        };
        let problems = write(&DirFiles::new(source.path()), copy.path(), &limits).unwrap_err();
        assert_eq!(problems.len(), 2);
        let limits = Limits {
            max_total_bytes: 8,
            ..Limits::default()
        };
        let problems = write(&DirFiles::new(source.path()), copy.path(), &limits).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("maxTotalBytes"));
        // Exactly at the limits is within them.
        let limits = Limits {
            max_file_bytes: 5,
            max_total_bytes: 10,
            ..Limits::default()
        };
        write(&DirFiles::new(source.path()), copy.path(), &limits).unwrap();
    }

    #[test]
    fn a_work_dir_is_removed_when_dropped() {
        let dir = WorkDir::new().unwrap();
        let path = dir.path().to_owned();
        fs::write(path.join("x"), "x").unwrap();
        drop(dir);
        assert!(!path.exists());
    }
}
