//! The one way tidegate writes to Git: edit files on a branch, commit, push.
//!
//! In: a branch, a message and an edit computed from the branch's tip. Out: a commit on the
//! remote branch, or the knowledge that the tip already holds the edit. gix fetches and writes
//! objects in a bare cache of the writer's own; the `git` binary pushes (gix cannot push). A
//! push rejected because the branch moved is fetched again, the edit re-applied to the new tip
//! and pushed again, with backoff. Never forced. Blocking: call from `spawn_blocking`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::source::{Credentials, GitCache, GitError};

/// Who commits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    /// Name.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

/// One file to write (`Some`) or delete (`None`), relative to the repository root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Path with `/` separators.
    pub path: String,
    /// New content, or `None` to delete.
    pub content: Option<Vec<u8>>,
}

/// A commit to make: its message and file changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// The commit message.
    pub message: String,
    /// The changes (none: nothing to commit).
    pub changes: Vec<Change>,
}

/// What a write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// A new commit is on the remote branch.
    Committed {
        /// The commit.
        commit: String,
    },
    /// The branch already held the edit; nothing was pushed.
    AlreadyThere {
        /// The branch's tip (`None`: the branch does not exist and the edit is empty).
        tip: Option<String>,
    },
}

/// A write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Fetching the branch failed.
    #[error("fetch the branch to write to")]
    Fetch(#[source] GitError),
    /// Reading or writing objects in the writer's cache failed.
    #[error("{what}")]
    Objects {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The edit cannot be made on this tip (a revert that does not apply, a bad path).
    #[error("{0}")]
    Conflict(String),
    /// The credentials could not be read.
    #[error("read the Git credentials")]
    Credentials(#[source] crate::config::SecretError),
    /// `git push` could not run or failed for a reason other than a moved branch.
    #[error("push to {url}: {message}")]
    Push {
        /// The remote.
        url: String,
        /// git's explanation.
        message: String,
        /// Whether the remote refused for good (a hook, a protected branch).
        refused: bool,
    },
    /// The branch kept moving under every attempt.
    #[error("the branch {branch} moved during each of {attempts} attempts to push")]
    KeptMoving {
        /// The branch.
        branch: String,
        /// Attempts made.
        attempts: u32,
    },
}

impl WriteError {
    /// Whether trying again later may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Fetch(_) | Self::Objects { .. } | Self::KeptMoving { .. } => true,
            Self::Push { refused, .. } => !refused,
            Self::Conflict(_) | Self::Credentials(_) => false,
        }
    }
}

/// Maps an object-database error to [`WriteError::Objects`] saying what was being done.
pub(super) fn objects(
    what: impl Into<String>,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> WriteError {
    let what = what.into();
    move |source| WriteError::Objects { what, source }
}

/// The tip an edit is computed from.
pub struct Tip<'a> {
    /// The cache holding the tip's objects.
    pub repo: &'a gix::Repository,
    /// The branch's commit (`None`: the branch does not exist yet).
    pub commit: Option<gix::ObjectId>,
}

impl Tip<'_> {
    /// The content of `path` at the tip, if it is a file there.
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, WriteError> {
        let Some(commit) = self.commit else {
            return Ok(None);
        };
        read_at(self.repo, commit, path)
    }
}

/// The content of `path` in `commit`, if it is a file there.
pub fn read_at(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    path: &str,
) -> Result<Option<Vec<u8>>, WriteError> {
    let tree = repo
        .find_commit(commit)
        .map_err(|error| objects(format!("read commit {commit}"))(error.into()))?
        .tree()
        .map_err(|error| objects(format!("read the tree of {commit}"))(error.into()))?;
    let Some(entry) = tree
        .lookup_entry_by_path(path)
        .map_err(|error| objects(format!("find {path} in {commit}"))(error.into()))?
    else {
        return Ok(None);
    };
    if !entry.mode().is_blob() {
        return Ok(None);
    }
    let object = entry
        .object()
        .map_err(|error| objects(format!("read {path} in {commit}"))(error.into()))?;
    Ok(Some(object.detach().data))
}

/// Writes to branches of one repository.
pub struct GitWriter {
    cache: GitCache,
    url: String,
    username: String,
    password: Option<crate::config::SecretRef>,
    author: Author,
    attempts: u32,
    first_wait: Duration,
    may_write: crate::leader::WriteGuard,
    push_deadline: Duration,
}

/// How long one `git push` may take before it is stopped.
const PUSH_DEADLINE: Duration = Duration::from_secs(120);

impl std::fmt::Debug for GitWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitWriter")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl GitWriter {
    /// A writer to `url` keeping its objects in `cache_dir`, committing as `author`, with
    /// http credentials (`username`, `password`) when given.
    #[must_use]
    pub fn new(
        cache_dir: &Path,
        url: &str,
        auth: Option<&crate::config::AuthConfig>,
        author: Author,
    ) -> Self {
        Self {
            cache: GitCache::new(cache_dir.to_path_buf(), url.to_owned()),
            url: url.to_owned(),
            username: auth.map(|auth| auth.username.clone()).unwrap_or_default(),
            password: auth.map(|auth| auth.password.clone()),
            author,
            attempts: 6,
            first_wait: Duration::from_millis(200),
            may_write: std::sync::Arc::new(|| true),
            push_deadline: PUSH_DEADLINE,
        }
    }

    /// The same writer, stopping a push that takes longer than `deadline`.
    #[must_use]
    pub fn with_push_deadline(mut self, deadline: Duration) -> Self {
        self.push_deadline = deadline;
        self
    }

    /// The same writer, pushing only while `may_write` says so (the leader fence).
    #[must_use]
    pub fn with_guard(mut self, may_write: crate::leader::WriteGuard) -> Self {
        self.may_write = may_write;
        self
    }

    /// Commits the edit `edit` computes from the tip of `branch` and pushes. A missing
    /// branch starts from the tip of `base` (or from nothing). `edit` runs again on the new
    /// tip when the branch moved in the meantime.
    pub fn commit(
        &self,
        branch: &str,
        base: Option<&str>,
        edit: &mut dyn FnMut(&Tip) -> Result<Edit, WriteError>,
    ) -> Result<Written, WriteError> {
        let credentials = self.credentials()?;
        for attempt in 1..=self.attempts {
            let mut tip = self.tip(branch, credentials.as_ref())?;
            if tip.is_none()
                && let Some(base) = base
            {
                tip = self.tip(base, credentials.as_ref())?;
            }
            let repo = self.cache.open().map_err(WriteError::Fetch)?;
            let edit = edit(&Tip {
                repo: &repo,
                commit: tip,
            })?;
            let Some(commit) = self.commit_on(&repo, tip, &edit.changes, &edit.message)? else {
                return Ok(Written::AlreadyThere {
                    tip: tip.map(|tip| tip.to_string()),
                });
            };
            match self.push(&commit, branch, credentials.as_ref()) {
                Ok(()) => return Ok(Written::Committed { commit }),
                Err(Pushed::Moved) => {
                    let wait = self.first_wait.saturating_mul(1 << (attempt - 1).min(10));
                    tracing::info!(%branch, attempt, ?wait, "the branch moved; fetching and trying again");
                    std::thread::sleep(wait);
                }
                Err(Pushed::Failed(error)) => return Err(error),
            }
        }
        Err(WriteError::KeptMoving {
            branch: branch.to_owned(),
            attempts: self.attempts,
        })
    }

    /// The content of `path` on the remote's `branch`, fetched now (`None`: no such branch or
    /// file).
    pub fn read(&self, branch: &str, path: &str) -> Result<Option<Vec<u8>>, WriteError> {
        let credentials = self.credentials()?;
        let Some(tip) = self.tip(branch, credentials.as_ref())? else {
            return Ok(None);
        };
        let repo = self.cache.open().map_err(WriteError::Fetch)?;
        read_at(&repo, tip, path)
    }

    /// Fetches `branch` and returns its commit, or `None` if the remote has no such branch.
    fn tip(
        &self,
        branch: &str,
        credentials: Option<&Credentials>,
    ) -> Result<Option<gix::ObjectId>, WriteError> {
        match self.cache.fetch(branch, credentials) {
            Ok(fetched) => gix::ObjectId::from_hex(fetched.commit.as_bytes())
                .map(Some)
                .map_err(|error| objects("read the fetched commit id")(error.into())),
            Err(GitError::RefNotFound { .. }) => Ok(None),
            Err(error) => Err(WriteError::Fetch(error)),
        }
    }

    fn credentials(&self) -> Result<Option<Credentials>, WriteError> {
        self.password
            .as_ref()
            .map(|password| {
                password.read().map(|password| Credentials {
                    username: self.username.clone(),
                    password,
                })
            })
            .transpose()
            .map_err(WriteError::Credentials)
    }

    /// Writes the commit applying `changes` to `tip`; `None` when the tree would not change.
    fn commit_on(
        &self,
        repo: &gix::Repository,
        tip: Option<gix::ObjectId>,
        changes: &[Change],
        message: &str,
    ) -> Result<Option<String>, WriteError> {
        let base = match tip {
            Some(tip) => repo
                .find_commit(tip)
                .map_err(|error| objects(format!("read commit {tip}"))(error.into()))?
                .tree_id()
                .map_err(|error| objects(format!("read the tree of {tip}"))(error.into()))?
                .detach(),
            None => gix::ObjectId::empty_tree(repo.object_hash()),
        };
        let mut editor = repo
            .edit_tree(base)
            .map_err(|error| objects("edit the tree")(error.into()))?;
        for change in changes {
            if change
                .path
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
            {
                return Err(WriteError::Conflict(format!(
                    "refusing to write path {:?}",
                    change.path
                )));
            }
            match &change.content {
                Some(content) => {
                    let blob = repo
                        .write_blob(content)
                        .map_err(|error| objects(format!("write {}", change.path))(error.into()))?;
                    editor
                        .upsert(
                            change.path.as_str(),
                            gix::object::tree::EntryKind::Blob,
                            blob,
                        )
                        .map_err(|error| objects(format!("write {}", change.path))(error.into()))?;
                }
                None => {
                    editor.remove(change.path.as_str()).map_err(|error| {
                        objects(format!("delete {}", change.path))(error.into())
                    })?;
                }
            }
        }
        let tree = editor
            .write()
            .map_err(|error| objects("write the tree")(error.into()))?
            .detach();
        if tree == base {
            return Ok(None);
        }
        let now = jiff::Timestamp::now().as_second();
        let signature = gix::actor::Signature {
            name: self.author.name.as_str().into(),
            email: self.author.email.as_str().into(),
            time: gix::date::Time::new(now, 0),
        };
        let (mut author_time, mut committer_time) = (
            gix::date::parse::TimeBuf::default(),
            gix::date::parse::TimeBuf::default(),
        );
        let commit = repo
            .new_commit_as(
                signature.to_ref(&mut committer_time),
                signature.to_ref(&mut author_time),
                message,
                tree,
                tip,
            )
            .map_err(|error| objects("write the commit")(error.into()))?;
        Ok(Some(commit.id.to_string()))
    }

    /// `git push` of `commit` to `branch`, never forced, with credentials from a helper
    /// ([`push_command`]).
    fn push(
        &self,
        commit: &str,
        branch: &str,
        credentials: Option<&Credentials>,
    ) -> Result<(), Pushed> {
        if !(self.may_write)() {
            return Err(Pushed::Failed(WriteError::Push {
                url: self.url.clone(),
                message: "not the leader: this replica does not push".to_owned(),
                refused: false,
            }));
        }
        // Read now only to fail early (a missing or empty secret); the helper reads it again.
        let _ = credentials;
        let mut command = push_command(
            self.cache.dir(),
            &self.url,
            &format!("{commit}:refs/heads/{branch}"),
            self.password
                .as_ref()
                .map(|password| (self.username.as_str(), password)),
        )
        .map_err(|message| {
            Pushed::Failed(WriteError::Push {
                url: self.url.clone(),
                message,
                refused: false,
            })
        })?;
        let failed = |message: String, refused: bool| {
            Pushed::Failed(WriteError::Push {
                url: self.url.clone(),
                message,
                refused,
            })
        };
        let output = run_bounded(&mut command, self.push_deadline, &*self.may_write)
            .map_err(|message| failed(message, false))?;
        if output.status.success() {
            return Ok(());
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        match push_verdict(&stdout) {
            Verdict::Moved => Err(Pushed::Moved),
            Verdict::Refused(reason) => Err(failed(reason, true)),
            Verdict::Unknown => Err(failed(
                stderr
                    .lines()
                    .last()
                    .unwrap_or("git push failed")
                    .trim()
                    .to_owned(),
                false,
            )),
        }
    }
}

/// The `git push` of `refspec` to `url` from the repository at `git_dir`: never forced, no
/// redirects followed (credentials go to the configured origin only), no configuration but
/// this. With `auth`, git asks a credential helper given here, which prints the username and
/// reads the password where the configuration keeps it — the secret's file, or the daemon's
/// own variable — when git needs it: the secret is never in the push's arguments or
/// environment, where `/proc` would show it.
pub(crate) fn push_command(
    git_dir: &Path,
    url: &str,
    refspec: &str,
    auth: Option<(&str, &crate::config::SecretRef)>,
) -> Result<Command, String> {
    let mut config = vec![
        ("http.followRedirects".to_owned(), "false".to_owned()),
        ("credential.helper".to_owned(), String::new()),
    ];
    let mut command = Command::new("git");
    if let Some((username, password)) = auth {
        config.push(("credential.helper".to_owned(), credential_helper(password)?));
        command.env(HELPER_USERNAME, username);
    }
    command
        .arg("--git-dir")
        .arg(git_dir)
        .args(["push", "--porcelain", "--quiet", url, refspec])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .env("GIT_CONFIG_COUNT", config.len().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (index, (key, value)) in config.iter().enumerate() {
        command
            .env(format!("GIT_CONFIG_KEY_{index}"), key)
            .env(format!("GIT_CONFIG_VALUE_{index}"), value);
    }
    Ok(command)
}

/// The variable the credential helper takes the username from (not a secret).
const HELPER_USERNAME: &str = "TIDEGATE_GIT_USERNAME";

/// A shell credential helper answering `get` with the username and the password read from
/// `password`'s file or variable at that moment (trailing newlines dropped, as tidegate
/// reads it), and ignoring `store` and `erase`.
fn credential_helper(password: &crate::config::SecretRef) -> Result<String, String> {
    let value = match (&password.file, &password.env) {
        (Some(path), None) => {
            let path = path
                .to_str()
                .ok_or("the password file's path is not UTF-8")?;
            format!("\"$(cat -- '{}')\"", path.replace('\'', r"'\''"))
        }
        (None, Some(name)) => {
            let valid = name
                .chars()
                .next()
                .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("{name:?} is not an environment variable name"));
            }
            format!("\"${name}\"")
        }
        _ => return Err("a secret needs exactly one of file or env".to_owned()),
    };
    Ok(format!(
        "!f() {{ test \"$1\" = get || exit 0; printf 'username=%s\\npassword=%s\\n' \"${HELPER_USERNAME}\" {value}; }}; f"
    ))
}

/// Runs `command` to its end, unless it takes longer than `deadline` or `may_go_on` turns
/// false (the leader's term ended): then the child is killed, so no write happens after the
/// term or hangs the writer.
fn run_bounded(
    command: &mut Command,
    deadline: Duration,
    may_go_on: &(dyn Fn() -> bool + Send + Sync),
) -> Result<std::process::Output, String> {
    use std::io::Read;

    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot run git: {error}"))?;
    // The pipes are drained while the child runs, so a chatty child cannot block on them.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(error) => return Err(format!("cannot wait for git: {error}")),
        }
        let stop = if !may_go_on() {
            Some("stopped: this replica's leadership ended".to_owned())
        } else if started.elapsed() > deadline {
            Some(format!("stopped: no answer within {}s", deadline.as_secs()))
        } else {
            None
        };
        if let Some(why) = stop {
            let _ = child.kill();
            let _ = child.wait();
            return Err(why);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

enum Pushed {
    /// The branch moved since the fetch.
    Moved,
    Failed(WriteError),
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Moved,
    Refused(String),
    Unknown,
}

/// Reads `git push --porcelain` output: a `!` line is a rejected ref; `[rejected]` means the
/// branch moved (fetch first, non-fast-forward), `[remote rejected]` a refusal for good.
fn push_verdict(porcelain: &str) -> Verdict {
    for line in porcelain.lines() {
        let mut fields = line.split('\t');
        if fields.next() != Some("!") {
            continue;
        }
        let summary = fields.nth(1).unwrap_or_default();
        return if summary.starts_with("[rejected]") {
            Verdict::Moved
        } else {
            Verdict::Refused(summary.to_owned())
        };
    }
    Verdict::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `git` would run for the helper's `get`: the snippet with the action appended.
    fn helper_answer(command: &Command, envs: &[(&str, &str)]) -> String {
        let helper = command
            .get_envs()
            .filter_map(|(_, value)| value?.to_str())
            .find_map(|value| value.strip_prefix('!'))
            .expect("a shell credential helper");
        let mut shell = Command::new("sh");
        shell.arg("-c").arg(format!("{helper} get"));
        for (key, value) in command.get_envs() {
            if let (Some(key), Some(value)) = (key.to_str(), value.and_then(|v| v.to_str())) {
                shell.env(key, value);
            }
        }
        shell.envs(envs.iter().copied());
        let output = shell.output().expect("run sh");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).expect("UTF-8")
    }

    #[test]
    fn the_push_credential_is_never_in_its_arguments_or_environment() {
        let dir = std::env::temp_dir().join(format!("tidegate-helper-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create");
        let file = dir.join("it's a token");
        std::fs::write(&file, "s3cret-t0ken\n").expect("write");
        let from_file = crate::config::SecretRef {
            file: Some(file),
            env: None,
        };
        let from_env = crate::config::SecretRef {
            file: None,
            env: Some("TIDEGATE_TEST_PUSH_TOKEN".to_owned()),
        };
        for (password, envs) in [
            (&from_file, vec![]),
            (
                &from_env,
                vec![("TIDEGATE_TEST_PUSH_TOKEN", "s3cret-t0ken")],
            ),
        ] {
            let command = push_command(
                &dir,
                "https://git.example/deploy.git",
                "abc:refs/heads/main",
                Some(("tidegate", password)),
            )
            .expect("a command");
            let shown: Vec<String> = command
                .get_args()
                .chain(command.get_envs().filter_map(|(_, value)| value))
                .map(|text| text.to_string_lossy().into_owned())
                .collect();
            for text in &shown {
                assert!(!text.contains("s3cret"), "the secret in {text:?}");
                assert!(
                    !text.contains("czNjcmV0"),
                    "the secret, base64, in {text:?}"
                );
            }
            assert_eq!(
                helper_answer(&command, &envs),
                "username=tidegate\npassword=s3cret-t0ken\n"
            );
        }
        let odd = crate::config::SecretRef {
            file: None,
            env: Some("X; rm -rf /".to_owned()),
        };
        assert!(push_command(&dir, "u", "r", Some(("t", &odd))).is_err());
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn porcelain_tells_a_moved_branch_from_a_refusal() {
        let moved = "To http://x/r.git\n!\t0123:refs/heads/main\t[rejected] (fetch first)\nDone\n";
        assert_eq!(push_verdict(moved), Verdict::Moved);
        let behind = "!\tabc:refs/heads/main\t[rejected] (non-fast-forward)\n";
        assert_eq!(push_verdict(behind), Verdict::Moved);
        let hook = "!\tabc:refs/heads/main\t[remote rejected] (pre-receive hook declined)\n";
        assert_eq!(
            push_verdict(hook),
            Verdict::Refused("[remote rejected] (pre-receive hook declined)".into())
        );
        assert_eq!(push_verdict("fatal: unable to access\n"), Verdict::Unknown);
    }

    #[test]
    fn a_child_that_hangs_is_stopped_at_its_deadline() {
        let mut command = Command::new("sleep");
        command
            .arg("30")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = std::time::Instant::now();
        let stopped = run_bounded(&mut command, Duration::from_millis(200), &|| true);
        assert_eq!(stopped.unwrap_err(), "stopped: no answer within 0s");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_child_is_stopped_when_the_term_ends() {
        let until = std::time::Instant::now() + Duration::from_millis(200);
        let mut command = Command::new("sleep");
        command
            .arg("30")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let stopped = run_bounded(&mut command, Duration::from_secs(60), &move || {
            std::time::Instant::now() < until
        });
        assert_eq!(
            stopped.unwrap_err(),
            "stopped: this replica's leadership ended"
        );
    }

    #[test]
    fn a_child_that_finishes_gives_its_output() {
        let mut command = Command::new("sh");
        command
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = run_bounded(&mut command, Duration::from_secs(60), &|| true).unwrap();
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");
    }
}
