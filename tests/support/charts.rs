//! Chart repositories for the tests, both real: an HTTP chart repository (the files `helm
//! package` and `helm repo index` write, served by `tests/chart-repo-server.py`) and an OCI
//! registry (the testenv's build of distribution, with htpasswd auth), charts pushed to it by
//! the real `helm push`. Both on loopback, behind basic auth.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::daemon::free_port;
use super::git::{TempDir, read_port};

/// The user name and password both repositories ask for.
pub const USER: &str = "charts";
/// Its password.
pub const PASSWORD: &str = "s3cret-chart-password";

/// A chart `name` at `version`: one ConfigMap named `name` whose `mode` is `.Values.mode`
/// (default `version`) and `chart` its version, packaged by `helm package` into `out`; the
/// archive's path.
pub fn package(name: &str, version: &str, out: &Path) -> PathBuf {
    let work = TempDir::new("chart-src");
    let dir = work.path().join(name);
    std::fs::create_dir_all(dir.join("templates")).expect("chart dir");
    std::fs::write(
        dir.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: {version}\n"),
    )
    .expect("Chart.yaml");
    std::fs::write(dir.join("values.yaml"), format!("mode: \"{version}\"\n")).expect("values");
    std::fs::write(
        dir.join("templates/config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\ndata:\n  mode: {{ .Values.mode | quote }}\n  chart: {{ .Chart.Version | quote }}\n",
    )
    .expect("template");
    helm(
        &[
            "package",
            &dir.to_string_lossy(),
            "--destination",
            &out.to_string_lossy(),
        ],
        &[],
    );
    out.join(format!("{name}-{version}.tgz"))
}

/// Runs the testenv's `helm` with `env`; panics with its output when it fails.
pub fn helm(args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut command = Command::new("helm");
    command.args(args).stdin(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run helm (scripts/testenv env puts it on PATH)");
    if args.contains(&"--password-stdin") {
        writeln!(child.stdin.take().expect("stdin"), "{PASSWORD}").expect("password");
    }
    let output = child.wait_with_output().expect("helm finishes");
    assert!(
        output.status.success(),
        "helm {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// An HTTP chart repository: a directory of archives and its `index.yaml`, served with basic
/// auth.
pub struct HttpRepository {
    child: Child,
    port: u16,
    root: TempDir,
}

impl HttpRepository {
    /// Starts serving an empty repository.
    pub fn start() -> Self {
        let root = TempDir::new("chart-repo");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chart-repo-server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(root.path())
            .arg(format!("{USER}:{PASSWORD}"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start tests/chart-repo-server.py");
        let port = read_port(&mut child, "chart server");
        Self { child, port, root }
    }

    /// Its address.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its directory (what it serves).
    pub fn dir(&self) -> &Path {
        self.root.path()
    }

    /// Packages chart `name` at `version` into it and indexes it again, as `helm repo index`
    /// does; the archive's path.
    pub fn publish(&self, name: &str, version: &str) -> PathBuf {
        let archive = package(name, version, self.dir());
        helm(
            &[
                "repo",
                "index",
                &self.dir().to_string_lossy(),
                "--url",
                &self.url(),
            ],
            &[],
        );
        archive
    }
}

impl Drop for HttpRepository {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The distribution registry on loopback (plain HTTP), with htpasswd basic auth.
pub struct Registry {
    child: Child,
    port: u16,
    work: TempDir,
}

impl Registry {
    /// Starts an empty registry and waits until it answers.
    pub async fn start() -> Self {
        let bin = PathBuf::from(
            std::env::var("TIDEGATE_TEST_REGISTRY_BIN")
                .expect("TIDEGATE_TEST_REGISTRY_BIN (scripts/testenv env)"),
        );
        let work = TempDir::new("registry");
        let mut hash = Command::new(bin.join("bcrypt-htpasswd"))
            .arg(USER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run bcrypt-htpasswd");
        writeln!(hash.stdin.take().expect("stdin"), "{PASSWORD}").expect("password");
        let line = hash.wait_with_output().expect("bcrypt-htpasswd finishes");
        std::fs::write(work.path().join("htpasswd"), line.stdout).expect("htpasswd");
        let port = free_port();
        let config = work.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {0}/storage\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: tidegate-test\n    path: {0}/htpasswd\n",
                work.path().display()
            ),
        )
        .expect("config");
        let log = std::fs::File::create(work.path().join("registry.log")).expect("log");
        let child = Command::new(bin.join("registry"))
            .arg("serve")
            .arg(&config)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the registry");
        let registry = Self { child, port, work };
        let url = format!("http://127.0.0.1:{port}/v2/");
        super::wait_for("the registry to answer", super::TIMEOUT, || async {
            let status = reqwest::get(&url).await.ok()?.status();
            (status == reqwest::StatusCode::UNAUTHORIZED).then_some(())
        })
        .await;
        registry
    }

    /// `host:port`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Pushes chart `name` at `version` to `oci://host/charts` with `helm push`, logged in
    /// with `helm registry login`.
    pub fn publish(&self, name: &str, version: &str) {
        let out = TempDir::new("chart-push");
        let archive = package(name, version, out.path());
        let config = self.work.path().join("helm-registry.json");
        let env = [("HELM_REGISTRY_CONFIG", config.as_path())];
        helm(
            &[
                "registry",
                "login",
                &self.host(),
                "--username",
                USER,
                "--password-stdin",
                "--plain-http",
            ],
            &env,
        );
        helm(
            &[
                "push",
                &archive.to_string_lossy(),
                &format!("oci://{}/charts", self.host()),
                "--plain-http",
            ],
            &env,
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
