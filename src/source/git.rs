//! Git access with gix: fetch one reference of a remote into a bare cache, and read the tree
//! of a commit without a worktree. Blocking: call from `spawn_blocking`.
//!
//! In: a cache directory, a URL, a reference and optional credentials. Out: the commit the
//! reference points at, and a [`GitTree`] of a directory at that commit for the renderer.
//! Fetches are incremental: the cache keeps what it fetched under `refs/tidegate/`, so an
//! unchanged remote costs one reference advertisement and no pack.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gix::bstr::ByteSlice;
use gix::remote::Direction;

use crate::config::Secret;
use crate::manifest::{Entry, EntryKind, Files};

/// A Git operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The cache could not be created or opened.
    #[error("open the Git cache {}", dir.display())]
    OpenCache {
        /// The cache directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The remote could not be reached or refused to talk.
    #[error("fetch {url}")]
    Fetch {
        /// The remote.
        url: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The remote has no such branch or tag.
    #[error("{url} has no branch or tag {reference:?}")]
    RefNotFound {
        /// The remote.
        url: String,
        /// The reference asked for.
        reference: String,
    },
    /// Reading objects from the cache failed.
    #[error("read {what} from the Git cache")]
    Read {
        /// What was being read.
        what: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The source directory is not in the commit.
    #[error("commit {commit} has no directory {path:?}")]
    NoSuchPath {
        /// The commit.
        commit: String,
        /// The directory asked for.
        path: String,
    },
}

fn read_error(
    what: impl Into<String>,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> GitError {
    let what = what.into();
    move |source| GitError::Read { what, source }
}

/// What a fetch found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The commit the reference points at (full hex id).
    pub commit: String,
    /// Whether a pack was received (false: nothing new on the remote).
    pub received_pack: bool,
}

/// Credentials for an http(s) remote.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: Secret,
}

/// A bare repository caching one remote.
#[derive(Debug)]
pub struct GitCache {
    dir: PathBuf,
    url: String,
}

impl GitCache {
    /// The cache for `url` in `dir` (created on first fetch).
    #[must_use]
    pub fn new(dir: PathBuf, url: String) -> Self {
        Self { dir, url }
    }

    /// The cache directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache's repository (created empty when missing or unreadable).
    pub fn open(&self) -> Result<gix::Repository, GitError> {
        let open_error = |source: Box<dyn std::error::Error + Send + Sync>| GitError::OpenCache {
            dir: self.dir.clone(),
            source,
        };
        if self.dir.join("HEAD").exists() {
            match gix::open_opts(&self.dir, gix::open::Options::isolated()) {
                Ok(repo) => return Ok(repo),
                Err(error) => {
                    tracing::warn!(dir = %self.dir.display(), %error, "Git cache is unreadable; starting a new one");
                    std::fs::remove_dir_all(&self.dir).map_err(|error| open_error(error.into()))?;
                }
            }
        }
        std::fs::create_dir_all(&self.dir).map_err(|error| open_error(error.into()))?;
        gix::init_bare(&self.dir).map_err(|error| open_error(error.into()))?;
        gix::open_opts(&self.dir, gix::open::Options::isolated())
            .map_err(|error| open_error(error.into()))
    }

    /// Fetches `reference` (branch, tag, `refs/...` name or full commit id) and returns the
    /// commit it points at.
    pub fn fetch(
        &self,
        reference: &str,
        credentials: Option<&Credentials>,
    ) -> Result<Fetched, GitError> {
        let repo = self.open()?;
        let is_commit_id =
            reference.len() == 40 && reference.bytes().all(|byte| byte.is_ascii_hexdigit());
        if is_commit_id && let Some(commit) = local_commit(&repo, reference) {
            return Ok(Fetched {
                commit,
                received_pack: false,
            });
        }
        let specs = refspecs(reference, is_commit_id);
        let fetch_error = |source: Box<dyn std::error::Error + Send + Sync>| GitError::Fetch {
            url: self.url.clone(),
            source,
        };
        let remote = repo
            .remote_at(self.url.as_str())
            .map_err(|error| fetch_error(error.into()))?
            .with_fetch_tags(gix::remote::fetch::Tags::None)
            .with_refspecs(specs.iter().map(String::as_str), Direction::Fetch)
            .map_err(|error| fetch_error(error.into()))?;
        let connection = remote
            .connect(Direction::Fetch)
            .map_err(|error| fetch_error(error.into()))?;
        // Always answer credential requests ourselves: gix would otherwise prompt on a tty.
        let account = credentials.map(|credentials| gix::sec::identity::Account {
            username: credentials.username.clone(),
            password: credentials.password.expose().to_owned(),
            oauth_refresh_token: None,
        });
        // Credentials go to the configured remote only, never to a host it redirects to.
        let origin = origin_of(&self.url);
        let connection = connection.with_credentials(move |action| match (action, &account) {
            (gix::credentials::helper::Action::Get(context), Some(account))
                if origin.is_some() && requested_origin(&context) == origin =>
            {
                Ok(Some(gix::credentials::protocol::Outcome {
                    identity: account.clone(),
                    next: context.into(),
                }))
            }
            _ => Ok(None),
        });
        let prepared = connection
            .prepare_fetch(
                gix::progress::Discard,
                gix::remote::ref_map::Options::default(),
            )
            .map_err(|error| fetch_error(error.into()))?;
        if prepared.ref_map().mappings.is_empty() {
            return Err(GitError::RefNotFound {
                url: self.url.clone(),
                reference: reference.to_owned(),
            });
        }
        let interrupt = Deadline::start(FETCH_DEADLINE);
        let outcome = prepared
            .receive(gix::progress::Discard, &interrupt.flag)
            .map_err(|error| fetch_error(error.into()))?;
        let received_pack = matches!(outcome.status, gix::remote::fetch::Status::Change { .. });
        if is_commit_id {
            return local_commit(&repo, reference)
                .map(|commit| Fetched {
                    commit,
                    received_pack,
                })
                .ok_or_else(|| GitError::RefNotFound {
                    url: self.url.clone(),
                    reference: reference.to_owned(),
                });
        }
        let target = outcome
            .ref_map
            .mappings
            .iter()
            .filter(|mapping| mapping.remote.as_id().is_some())
            .min_by_key(|mapping| match mapping.spec_index {
                gix::remote::fetch::refmap::SpecIndex::ExplicitInRemote(index)
                | gix::remote::fetch::refmap::SpecIndex::Implicit(index) => index,
            })
            .and_then(|mapping| mapping.remote.as_id().map(ToOwned::to_owned))
            .ok_or_else(|| GitError::RefNotFound {
                url: self.url.clone(),
                reference: reference.to_owned(),
            })?;
        let commit = repo
            .find_object(target)
            .map_err(|error| read_error(format!("object {target}"))(error.into()))?
            .peel_to_commit()
            .map_err(|error| read_error(format!("commit of {target}"))(error.into()))?;
        Ok(Fetched {
            commit: commit.id.to_string(),
            received_pack,
        })
    }

    /// The directory `path` of `commit`, for rendering.
    pub fn tree(&self, commit: &str, path: &str) -> Result<GitTree, GitError> {
        let repo = self.open()?;
        let (entries, ids) = list(&repo, commit, path)?;
        Ok(GitTree {
            repo: repo.into_sync(),
            entries,
            ids,
        })
    }
}

type Listing = (Vec<Entry>, HashMap<String, gix::ObjectId>);

/// Every file and link under `path` at `commit`, with their object ids.
fn list(repo: &gix::Repository, commit: &str, path: &str) -> Result<Listing, GitError> {
    let id = gix::ObjectId::from_hex(commit.as_bytes())
        .map_err(|error| read_error(format!("commit {commit}"))(error.into()))?;
    let root = repo
        .find_commit(id)
        .map_err(|error| read_error(format!("commit {commit}"))(error.into()))?
        .tree()
        .map_err(|error| read_error(format!("tree of {commit}"))(error.into()))?;
    let trimmed = path.trim_matches('/');
    let tree = if trimmed.is_empty() || trimmed == "." {
        root
    } else {
        let no_such_path = || GitError::NoSuchPath {
            commit: commit.to_owned(),
            path: path.to_owned(),
        };
        let entry = root
            .lookup_entry_by_path(trimmed)
            .map_err(|error| read_error(format!("{path} in {commit}"))(error.into()))?
            .ok_or_else(no_such_path)?;
        if !entry.mode().is_tree() {
            return Err(no_such_path());
        }
        entry
            .object()
            .map_err(|error| read_error(format!("{path} in {commit}"))(error.into()))?
            .into_tree()
    };
    let mut recorder = gix::traverse::tree::Recorder::default();
    tree.traverse()
        .breadthfirst(&mut recorder)
        .map_err(|error| read_error(format!("tree {path} of {commit}"))(error.into()))?;
    let mut entries = Vec::new();
    let mut ids = HashMap::new();
    for record in recorder.records {
        let file = record.filepath.to_str_lossy().into_owned();
        let kind = if record.mode.is_link() {
            let target = repo
                .find_object(record.oid)
                .map_err(|error| read_error(file.clone())(error.into()))?;
            EntryKind::Symlink {
                target: target.data.to_str_lossy().into_owned(),
            }
        } else if record.mode.is_blob() {
            let header = repo
                .find_header(record.oid)
                .map_err(|error| read_error(file.clone())(error.into()))?;
            EntryKind::File {
                size: header.size(),
            }
        } else {
            continue;
        };
        ids.insert(file.clone(), record.oid);
        entries.push(Entry { path: file, kind });
    }
    Ok((entries, ids))
}

/// (scheme, host, port) of an http(s) URL.
fn origin_of(url: &str) -> Option<(String, String, Option<u16>)> {
    let url = reqwest::Url::parse(url).ok()?;
    Some((
        url.scheme().to_owned(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default(),
    ))
}

/// The origin a credential request is for.
fn requested_origin(
    context: &gix::credentials::protocol::Context,
) -> Option<(String, String, Option<u16>)> {
    let mut context = context.clone();
    context.destructure_url_in_place(false).ok()?;
    let protocol = context.protocol?;
    origin_of(&format!("{protocol}://{}/", context.host?))
}

/// The refspecs that fetch `reference` into the cache's own namespace.
fn refspecs(reference: &str, is_commit_id: bool) -> Vec<String> {
    if is_commit_id {
        vec![
            "+refs/heads/*:refs/tidegate/heads/*".to_owned(),
            "+refs/tags/*:refs/tidegate/tags/*".to_owned(),
        ]
    } else if let Some(name) = reference.strip_prefix("refs/") {
        vec![format!("+refs/{name}:refs/tidegate/{name}")]
    } else {
        vec![
            format!("+refs/heads/{reference}:refs/tidegate/heads/{reference}"),
            format!("+refs/tags/{reference}:refs/tidegate/tags/{reference}"),
        ]
    }
}

fn local_commit(repo: &gix::Repository, id: &str) -> Option<String> {
    let id = gix::ObjectId::from_hex(id.as_bytes()).ok()?;
    let commit = repo.find_commit(id).ok()?;
    Some(commit.id.to_string())
}

/// A directory of a commit, listed once; file contents read on demand.
pub struct GitTree {
    repo: gix::ThreadSafeRepository,
    entries: Vec<Entry>,
    ids: HashMap<String, gix::ObjectId>,
}

impl Files for GitTree {
    fn entries(&self) -> io::Result<Vec<Entry>> {
        Ok(self.entries.clone())
    }

    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        let id = self
            .ids
            .get(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, path.to_owned()))?;
        let repo = self.repo.to_thread_local();
        let object = repo.find_object(*id).map_err(io::Error::other)?;
        Ok(object.detach().data)
    }
}

/// How long a fetch may receive before gix is asked to stop.
pub const FETCH_DEADLINE: Duration = Duration::from_secs(300);

/// An interrupt flag for gix that a watchdog raises once `deadline` has passed, unless the
/// work it guards finished first (dropping it).
struct Deadline {
    flag: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
}

impl Deadline {
    fn start(deadline: Duration) -> Self {
        let flag = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let (raise, finished) = (flag.clone(), done.clone());
        std::thread::spawn(move || {
            let until = std::time::Instant::now() + deadline;
            while !finished.load(Ordering::Relaxed) {
                if std::time::Instant::now() >= until {
                    raise.store(true, Ordering::Relaxed);
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Self { flag, done }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_raises_its_flag_only_once_passed() {
        let raised = Deadline::start(Duration::from_millis(50));
        let flag = raised.flag.clone();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !flag.load(Ordering::Relaxed) {
            assert!(std::time::Instant::now() < deadline, "never raised");
            std::thread::sleep(Duration::from_millis(10));
        }
        let finished = Deadline::start(Duration::from_millis(150));
        let flag = finished.flag.clone();
        drop(finished);
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !flag.load(Ordering::Relaxed),
            "work that finished in time is not interrupted"
        );
    }

    #[test]
    fn credentials_are_for_the_configured_origin_only() {
        let ask = |url: &str| {
            let context = gix::credentials::protocol::Context {
                url: Some(url.into()),
                ..Default::default()
            };
            requested_origin(&context)
        };
        let origin = origin_of("https://git.example.com/acme/deploy.git");
        assert_eq!(ask("https://git.example.com/acme/deploy.git"), origin);
        assert_eq!(ask("https://GIT.example.com:443/other.git"), origin);
        assert_ne!(ask("https://evil.example.com/acme/deploy.git"), origin);
        assert_ne!(ask("http://git.example.com/acme/deploy.git"), origin);
        assert_eq!(
            origin_of("http://127.0.0.1:8080/x.git"),
            Some(("http".into(), "127.0.0.1".into(), Some(8080)))
        );
    }

    #[test]
    fn references_fetch_into_tidegates_namespace() {
        assert_eq!(
            refspecs("main", false),
            [
                "+refs/heads/main:refs/tidegate/heads/main",
                "+refs/tags/main:refs/tidegate/tags/main"
            ]
        );
        assert_eq!(
            refspecs("refs/tags/v1", false),
            ["+refs/tags/v1:refs/tidegate/tags/v1"]
        );
        assert_eq!(refspecs(&"a".repeat(40), true).len(), 2);
    }
}
