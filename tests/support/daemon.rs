//! `tidegate run`'s code in this process, on the test's namespace and configuration.

use tidegate::config::Config;
use tidegate::sync::{Records, SourceStatus, SyncResult};
use tokio::sync::oneshot;

use super::git::TempDir;
use super::{TIMEOUT, TestNamespace};

/// A daemon running in this process, stopped when dropped.
pub struct Daemon {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    port: u16,
    cache: TempDir,
}

impl Daemon {
    /// Starts the daemon with `sources` (YAML list items, indented by two) recording in `ns`;
    /// it syncs only (no Rollout controller).
    pub fn start(ns: &TestNamespace, sources: &str, extra: &str) -> Self {
        Self::run(ns, sources, extra, None)
    }

    /// Like [`Daemon::start`], also running the controllers for `ns`: `tidegate run` whole.
    pub fn start_controlling(ns: &TestNamespace, sources: &str, extra: &str) -> Self {
        Self::run(
            ns,
            sources,
            extra,
            Some(tidegate::controller::Scope::Namespace(ns.name().to_owned())),
        )
    }

    fn run(
        ns: &TestNamespace,
        sources: &str,
        extra: &str,
        scope: Option<tidegate::controller::Scope>,
    ) -> Self {
        // TIDEGATE_TEST_LOG=tidegate=debug shows the daemon's logs with the test's output.
        if let Ok(filter) = std::env::var("TIDEGATE_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let cache = TempDir::new("daemon-cache");
        let port = free_port();
        let text = format!(
            "sources:\n{sources}\nstate:\n  namespace: {}\n  cacheDir: {}\nserver:\n  listen: 127.0.0.1:{port}\n{extra}",
            ns.name(),
            cache.path().display()
        );
        let config = Config::parse(&text, "tidegate.yaml")
            .unwrap_or_else(|problems| panic!("{problems}\n{text}"));
        let (stop, stopped) = oneshot::channel();
        let client = ns.client();
        let task = tokio::spawn(async move {
            tidegate::daemon::run(config, client, scope, async {
                let _ = stopped.await;
            })
            .await
            .expect("the daemon runs");
        });
        Self {
            stop: Some(stop),
            task,
            port,
            cache,
        }
    }

    /// Its cache directory (Git caches, write-back queues).
    pub fn cache_dir(&self) -> &std::path::Path {
        self.cache.path()
    }

    /// Stops the daemon and waits for it to finish.
    pub async fn stop(mut self) {
        let _ = self.stop.take().expect("stopped once").send(());
        (&mut self.task).await.expect("the daemon stops cleanly");
    }

    /// Its HTTP server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address of `path` on its HTTP server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Its `/metrics` page; `None` while it does not answer.
    pub async fn scrape(&self) -> Option<String> {
        reqwest::get(self.url("/metrics"))
            .await
            .ok()?
            .text()
            .await
            .ok()
    }

    /// The value of the first metric line starting with `line_prefix`.
    pub async fn metric(&self, line_prefix: &str) -> Option<f64> {
        let text = self.scrape().await?;
        text.lines().find_map(|line| {
            line.strip_prefix(line_prefix)?
                .strip_prefix(' ')?
                .parse()
                .ok()
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port nobody listens on (now), drawn at random below the kernel's ephemeral range: one
/// the kernel could hand to an outgoing connection of a test running beside might be taken
/// before the daemon binds it (as scripts/lib/ports.sh).
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768)
        .max(10001);
    loop {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let span = u64::from(ephemeral_low - 10000);
        let port = 10000 + u16::try_from(random % span).expect("below the range's start");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Waits until source `source`, recording in `ns`, has `result` at `commit`.
pub async fn wait_for_sync(
    ns: &TestNamespace,
    source: &str,
    commit: &str,
    result: SyncResult,
) -> SourceStatus {
    let records = Records::new(ns.client(), ns.name());
    let mut last = None;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if let Ok(status) = records.status(source).await {
            if status.revision.as_deref() == Some(commit) && status.result == result {
                return status;
            }
            last = Some(status);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!(
        "timed out after {TIMEOUT:?} waiting for {source} at {commit}: {result:?}; last status: {last:#?}"
    )
}

/// The sources setting of one Git source `apps` at `url`, applied to `ns`, polled every second.
pub fn apps_source(url: &str, ns: &TestNamespace) -> String {
    format!(
        "- name: apps\n  url: {url}\n  namespace: {}\n  interval: 1s\n",
        ns.name()
    )
}
