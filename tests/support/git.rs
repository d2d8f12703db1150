//! Git for the tests: repositories made with the `git` binary, served over smart HTTP by
//! `git http-backend` on loopback (`tests/git-http-server.py`), with or without basic auth.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory under the system's temporary directory.
    pub fn new(prefix: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tidegate-{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The port a test server prints on its first line of stdout once it listens.
pub fn read_port(child: &mut Child, what: &str) -> u16 {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut line)
        .unwrap_or_else(|error| panic!("read the {what}'s port: {error}"));
    line.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{what} printed {line:?}, not a port"))
}

/// `git http-backend` serving every bare repository under its root.
pub struct GitServer {
    child: Option<Child>,
    port: u16,
    root: TempDir,
    credentials: Option<String>,
}

impl GitServer {
    /// Starts a server; with `credentials` (`user:password`) every request needs basic auth.
    pub fn start(credentials: Option<&str>) -> Self {
        let root = TempDir::new("git-server");
        let (child, port) = Self::spawn(root.path(), credentials, 0);
        Self {
            child: Some(child),
            port,
            root,
            credentials: credentials.map(str::to_owned),
        }
    }

    fn spawn(root: &Path, credentials: Option<&str>, port: u16) -> (Child, u16) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/git-http-server.py");
        let mut command = Command::new("python3");
        command
            .arg(script)
            .arg(root)
            .env("GIT_HTTP_PORT", port.to_string())
            .stdout(Stdio::piped());
        if let Some(credentials) = credentials {
            command.arg(credentials);
        }
        let mut child = command.spawn().expect("start tests/git-http-server.py");
        let port = read_port(&mut child, "git server");
        (child, port)
    }

    /// Stops serving (the repositories stay): the remote is down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Serves again on the same port.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        let (child, _) = Self::spawn(self.root.path(), self.credentials.as_deref(), self.port);
        self.child = Some(child);
    }

    /// `git show BRANCH:PATH` in repository `name` on the server, if it exists.
    pub fn show(&self, name: &str, branch: &str, path: &str) -> Option<String> {
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(self.root.path().join(format!("{name}.git")))
            .args(["show", &format!("{branch}:{path}")])
            .output()
            .expect("run git");
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `git log --format=FORMAT BRANCH` in repository `name` on the server, newest first.
    pub fn log(&self, name: &str, branch: &str, format: &str) -> Vec<String> {
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(self.root.path().join(format!("{name}.git")))
            .args(["log", &format!("--format={format}"), branch])
            .output()
            .expect("run git");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// A new bare repository `name` on the server, and a working copy that pushes to it.
    pub fn repo(&self, name: &str) -> Repo {
        let bare = self.root.path().join(format!("{name}.git"));
        git(
            self.root.path(),
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                bare.to_str().expect("UTF-8 path"),
            ],
        );
        Repo::new(Some(bare))
    }

    /// The URL of repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}.git", self.port)
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A working copy: write files, commit, and push to its bare repository (if any).
pub struct Repo {
    work: TempDir,
    bare: Option<PathBuf>,
}

impl Repo {
    /// A working copy pushing to `url` (credentials may be in it: this is the test's git).
    pub fn pushing_to(url: &str) -> Self {
        Self::new(Some(PathBuf::from(url)))
    }

    /// A repository without a server (for `file://` sources: its URL is [`Repo::file_url`]).
    pub fn local() -> Self {
        Self::new(None)
    }

    fn new(bare: Option<PathBuf>) -> Self {
        let work = TempDir::new("git-work");
        git(work.path(), &["init", "--quiet", "--initial-branch=main"]);
        Self { work, bare }
    }

    /// `file://` URL of the working copy.
    pub fn file_url(&self) -> String {
        format!("file://{}", self.work.path().display())
    }

    /// The working copy's directory.
    pub fn dir(&self) -> &Path {
        self.work.path()
    }

    /// Writes `path` (creating directories).
    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> &Self {
        let file = self.work.path().join(path);
        std::fs::create_dir_all(file.parent().expect("files have a parent"))
            .expect("create directories");
        std::fs::write(file, contents).expect("write a file");
        self
    }

    /// Creates a symbolic link `path` → `target`.
    pub fn symlink(&self, path: &str, target: &str) -> &Self {
        std::os::unix::fs::symlink(target, self.work.path().join(path)).expect("create a link");
        self
    }

    /// Removes `path`.
    pub fn remove(&self, path: &str) -> &Self {
        std::fs::remove_file(self.work.path().join(path)).expect("remove a file");
        self
    }

    /// Takes the server's `main` (which tidegate may have pushed to) into the working copy.
    pub fn pull(&self) -> &Self {
        let bare = self.bare.as_ref().expect("a repository on a server");
        let dir = self.work.path();
        git(
            dir,
            &[
                "fetch",
                "--quiet",
                bare.to_str().expect("UTF-8 path"),
                "main",
            ],
        );
        git(dir, &["reset", "--quiet", "--hard", "FETCH_HEAD"]);
        self
    }

    /// Commits everything (pushing when there is a server) and returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        let dir = self.work.path();
        git(dir, &["add", "--all"]);
        git(
            dir,
            &[
                "-c",
                "user.name=Test",
                "-c",
                "user.email=test@example.com",
                "commit",
                "--quiet",
                "--allow-empty",
                "-m",
                message,
            ],
        );
        if let Some(bare) = &self.bare {
            git(
                dir,
                &[
                    "push",
                    "--quiet",
                    bare.to_str().expect("UTF-8 path"),
                    "main",
                ],
            );
        }
        String::from_utf8(git(dir, &["rev-parse", "HEAD"]))
            .expect("hex")
            .trim()
            .to_owned()
    }
}

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
