//! Real requests through the testenv's gateway (Traefik, started by `scripts/testenv up
//! --traffic`) to pods that answer (`tests/pod-responder.py`): counts of answers by the
//! version that gave them, and a bounded load for analyses to measure.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Where `scripts/testenv env` says the gateway's web entry point is.
pub const GATEWAY_ENV: &str = "TIDEGATE_TEST_GATEWAY_URL";
/// Where it says the gateway's Prometheus metrics are (`host:port`).
pub const GATEWAY_METRICS_ENV: &str = "TIDEGATE_TEST_GATEWAY_METRICS";
/// The shared Gateway every test's HTTPRoute attaches to.
pub const GATEWAY: (&str, &str) = ("tidegate-testenv", "gateway");

/// The gateway's base URL; panics with instructions when the testenv runs without traffic.
pub fn gateway_url() -> String {
    std::env::var(GATEWAY_ENV).unwrap_or_else(|_| {
        panic!(
            "{GATEWAY_ENV} is not set: this test needs the gateway and the pod responder.\n\
             Run the suite with scripts/test, or: scripts/testenv up --traffic && eval \"$(scripts/testenv env)\""
        )
    })
}

/// The gateway's metrics address (`host:port`) for Prometheus to scrape.
pub fn gateway_metrics() -> String {
    std::env::var(GATEWAY_METRICS_ENV)
        .unwrap_or_else(|_| panic!("{GATEWAY_METRICS_ENV} is not set"))
}

/// What answered a batch of requests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Answers {
    /// Answers by `X-Version` (the answering pod's image tag), 5xx included.
    pub by_version: BTreeMap<String, usize>,
    /// Answers with a 5xx status, by version.
    pub errors: BTreeMap<String, usize>,
    /// Requests that got no answer from a pod (the gateway's own errors, refused connections).
    pub unanswered: usize,
}

impl Answers {
    /// Adds the counts of `more`.
    pub fn add(&mut self, more: &Self) {
        for (version, count) in &more.by_version {
            *self.by_version.entry(version.clone()).or_default() += count;
        }
        for (version, count) in &more.errors {
            *self.errors.entry(version.clone()).or_default() += count;
        }
        self.unanswered += more.unanswered;
    }

    /// The share of answered requests that `version` answered.
    #[must_use]
    pub fn share(&self, version: &str) -> f64 {
        let total: usize = self.by_version.values().sum();
        if total == 0 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)] // counts are far below 2^52
        let share = self.by_version.get(version).copied().unwrap_or(0) as f64 / total as f64;
        share
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

/// Sends `count` GET requests for host `host` through the gateway, `parallel` at a time,
/// with `headers`, and counts who answered.
pub async fn send(host: &str, count: usize, headers: &[(&str, &str)]) -> Answers {
    const PARALLEL: usize = 16;
    let client = client();
    let url = format!("{}/", gateway_url());
    let mut answers = Answers::default();
    let mut sent = 0;
    while sent < count {
        let batch = PARALLEL.min(count - sent);
        let requests = (0..batch).map(|_| {
            let mut request = client.get(&url).header("Host", host);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.send()
        });
        for result in futures::future::join_all(requests).await {
            match result {
                Ok(response) => {
                    let version = response
                        .headers()
                        .get("X-Version")
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned);
                    match version {
                        Some(version) => {
                            *answers.by_version.entry(version.clone()).or_default() += 1;
                            if response.status().is_server_error() {
                                *answers.errors.entry(version).or_default() += 1;
                            }
                        }
                        None => answers.unanswered += 1,
                    }
                }
                Err(_) => answers.unanswered += 1,
            }
        }
        sent += batch;
    }
    answers
}

/// Requests sent to a host through the gateway in the background, at about `per_second`,
/// until dropped: the load an analysis measures.
pub struct Load {
    running: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    /// Starts sending.
    pub fn start(host: &str, per_second: u32) -> Self {
        let running = Arc::new(AtomicBool::new(true));
        let (flag, host) = (running.clone(), host.to_owned());
        let task = tokio::spawn(async move {
            let pause = Duration::from_secs(1) / per_second.max(1);
            while flag.load(Ordering::Relaxed) {
                let _ = send(&host, 1, &[]).await;
                tokio::time::sleep(pause).await;
            }
        });
        Self { running, task }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        self.task.abort();
    }
}
