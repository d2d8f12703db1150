//! The files a render reads: a listing of a source directory (from a Git tree or the file
//! system) and their contents, without following anything out of the directory.
//!
//! In: a directory (or one file named on its own). Out: [`Entry`]s with paths relative to
//! it (`/`-separated) and bytes on demand, so sizes are checked before anything is read.

use std::io;
use std::path::{Component, Path, PathBuf};

/// What a path in the directory is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file of this many bytes.
    File {
        /// Its size in bytes.
        size: u64,
    },
    /// A symbolic link with this target, as written in the link.
    Symlink {
        /// The link's target.
        target: String,
    },
}

/// One file or link under the source directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the source directory, `/`-separated.
    pub path: String,
    /// File or link.
    pub kind: EntryKind,
}

/// A directory tree to render: a Git tree at a commit, or a directory on disk.
pub trait Files {
    /// Every file and link under the directory, recursively (directories themselves omitted).
    fn entries(&self) -> io::Result<Vec<Entry>>;
    /// The contents of the file at `path` (an [`Entry::path`] of a [`EntryKind::File`]).
    fn read(&self, path: &str) -> io::Result<Vec<u8>>;
}

/// A directory on disk (`tidegate lint <dir>`, `file://` sources' tests). Links are reported,
/// never followed.
#[derive(Clone, Debug)]
pub struct DirFiles {
    root: PathBuf,
}

impl DirFiles {
    /// The tree under `root`.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> io::Result<()> {
        for item in std::fs::read_dir(dir)? {
            let item = item?;
            let name = item.file_name();
            let Some(name) = name.to_str() else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: file name is not UTF-8", item.path().display()),
                ));
            };
            if name == ".git" {
                continue;
            }
            let path = if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}/{name}")
            };
            let meta = item.path().symlink_metadata()?;
            if meta.is_symlink() {
                let target = std::fs::read_link(item.path())?;
                out.push(Entry {
                    path,
                    kind: EntryKind::Symlink {
                        target: target.to_string_lossy().into_owned(),
                    },
                });
            } else if meta.is_dir() {
                Self::walk(&item.path(), &path, out)?;
            } else if meta.is_file() {
                out.push(Entry {
                    path,
                    kind: EntryKind::File { size: meta.len() },
                });
            }
        }
        Ok(())
    }
}

impl Files for DirFiles {
    fn entries(&self) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        Self::walk(&self.root, "", &mut out)?;
        Ok(out)
    }

    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.root.join(path))
    }
}

/// One file named on its own (`tidegate lint FILE`): its path as given is its name; a link is
/// followed, since the file was named explicitly.
#[derive(Clone, Debug)]
pub struct OneFile {
    path: PathBuf,
}

impl OneFile {
    /// The file at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The name its problems are reported under: the path as given.
    #[must_use]
    pub fn name(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }
}

impl Files for OneFile {
    fn entries(&self) -> io::Result<Vec<Entry>> {
        let meta = std::fs::metadata(&self.path)?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a file"));
        }
        Ok(vec![Entry {
            path: self.name(),
            kind: EntryKind::File { size: meta.len() },
        }])
    }

    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        if path != self.name() {
            return Err(io::ErrorKind::NotFound.into());
        }
        std::fs::read(&self.path)
    }
}

/// Texts a renderer printed, each under the name of the file it came from, in order.
#[derive(Clone, Debug)]
pub struct Texts {
    texts: Vec<(String, String)>,
}

impl Texts {
    /// From (name, text) pairs.
    #[must_use]
    pub fn new(texts: Vec<(String, String)>) -> Self {
        Self { texts }
    }

    /// Each text as a render source: (name, name, size), in their order.
    #[must_use]
    pub fn sources(&self) -> Vec<(String, String, u64)> {
        self.texts
            .iter()
            .map(|(name, text)| (name.clone(), name.clone(), text.len() as u64))
            .collect()
    }
}

impl Files for Texts {
    fn entries(&self) -> io::Result<Vec<Entry>> {
        Ok(self
            .texts
            .iter()
            .map(|(name, text)| Entry {
                path: name.clone(),
                kind: EntryKind::File {
                    size: text.len() as u64,
                },
            })
            .collect())
    }

    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        self.texts
            .iter()
            .find(|(name, _)| name == path)
            .map(|(_, text)| text.clone().into_bytes())
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }
}

/// Where the link at `link` (relative to the source directory) points, relative to the same
/// directory — or `None` when it leaves the directory (absolute, or too many `..`).
#[must_use]
pub fn resolve_link(link: &str, target: &str) -> Option<String> {
    let target = Path::new(target);
    if target.is_absolute() {
        return None;
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for component in target.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_directory_only() {
        assert_eq!(
            resolve_link("a/b.yaml", "c.yaml").as_deref(),
            Some("a/c.yaml")
        );
        assert_eq!(
            resolve_link("a/b.yaml", "../c.yaml").as_deref(),
            Some("c.yaml")
        );
        assert_eq!(
            resolve_link("a/b.yaml", "./d/../c.yaml").as_deref(),
            Some("a/c.yaml")
        );
        assert_eq!(resolve_link("b.yaml", "../c.yaml"), None);
        assert_eq!(resolve_link("a/b.yaml", "../../etc/passwd"), None);
        assert_eq!(resolve_link("a/b.yaml", "/etc/passwd"), None);
    }
}
