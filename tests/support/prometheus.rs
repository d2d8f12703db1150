//! Debian's Prometheus (`/usr/bin/prometheus`, installed by `scripts/ensure-tools`) on a free
//! loopback port, scraping the test's targets every second, with its data in a temporary
//! directory. Stopped when dropped.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::git::TempDir;
use super::http::{HttpServer, Response};
use super::{TIMEOUT, wait_for};

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    port: u16,
    _data: TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`127.0.0.1:port`) as job `demo`, and waits until
    /// it is ready.
    pub async fn start(targets: &[String]) -> Self {
        Self::start_job("demo", targets).await
    }

    /// Like [`Prometheus::start`], the targets scraped as job `job`.
    pub async fn start_job(job: &str, targets: &[String]) -> Self {
        let data = TempDir::new("prometheus");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("address")
            .port();
        let targets = targets
            .iter()
            .map(|target| format!("'{target}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let config = data.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: {job}\n  static_configs:\n  - targets: [{targets}]\n"),
        )
        .expect("write the Prometheus configuration");
        let log =
            std::fs::File::create(data.path().join("prometheus.log")).expect("create the log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                data.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus (scripts/ensure-tools installs Debian's package)");
        let prometheus = Self {
            child,
            port,
            _data: data,
        };
        let ready = prometheus.url("/-/ready");
        wait_for("Prometheus ready", TIMEOUT, || async {
            reqwest::get(&ready)
                .await
                .ok()?
                .status()
                .is_success()
                .then_some(())
        })
        .await;
        prometheus
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits until `query` returns a single sample equal to `value` (NaN included).
    pub async fn wait_for_value(&self, query: &str, value: f64) {
        self.wait_for_sample(query, &format!("== {value}"), |sample| {
            (sample - value).abs() < 1e-9 || (value.is_nan() && sample.is_nan())
        })
        .await;
    }

    /// Waits until `query` returns a single sample of at least `minimum`.
    pub async fn wait_for_at_least(&self, query: &str, minimum: f64) {
        self.wait_for_sample(query, &format!(">= {minimum}"), |sample| sample >= minimum)
            .await;
    }

    async fn wait_for_sample(&self, query: &str, what: &str, accept: impl Fn(f64) -> bool) {
        let mut url = reqwest::Url::parse(&self.url("/api/v1/query")).expect("a valid URL");
        url.query_pairs_mut().append_pair("query", query);
        wait_for(&format!("Prometheus: {query} {what}"), TIMEOUT, || async {
            let body = reqwest::get(url.clone()).await.ok()?.text().await.ok()?;
            let response: serde_json::Value = serde_json::from_str(&body).ok()?;
            let sample = response["data"]["result"][0]["value"][1]
                .as_str()?
                .parse::<f64>()
                .ok()?;
            accept(sample).then_some(())
        })
        .await;
    }

    /// The result of instant query `query` (an empty list when it matches nothing), or
    /// `None` when Prometheus cannot answer it.
    pub async fn query(&self, query: &str) -> Option<Vec<serde_json::Value>> {
        let mut url = reqwest::Url::parse(&self.url("/api/v1/query")).expect("a valid URL");
        url.query_pairs_mut().append_pair("query", query);
        let body = reqwest::get(url).await.ok()?.text().await.ok()?;
        let response: serde_json::Value = serde_json::from_str(&body).ok()?;
        if response["status"] != "success" {
            return None;
        }
        response["data"]["result"].as_array().cloned()
    }

    /// Stops it (to test a Prometheus outage).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Prometheus scraping an endpoint whose `demo_error_rate` the test sets.
pub struct ErrorRate {
    rate: Arc<AtomicU64>,
    /// The Prometheus scraping it.
    pub prometheus: Prometheus,
    _endpoint: HttpServer,
}

impl ErrorRate {
    /// Starts both, with the rate at 1 %, and waits until Prometheus has scraped it.
    pub async fn start() -> Self {
        let rate = Arc::new(AtomicU64::new(0.01_f64.to_bits()));
        let shared = rate.clone();
        let endpoint = HttpServer::start(move |_| {
            Response::ok(format!(
                "# TYPE demo_error_rate gauge\ndemo_error_rate {}\n",
                f64::from_bits(shared.load(Ordering::SeqCst))
            ))
        })
        .await;
        let prometheus = Prometheus::start(&[format!("127.0.0.1:{}", endpoint.port())]).await;
        let error_rate = Self {
            rate,
            prometheus,
            _endpoint: endpoint,
        };
        error_rate.set(0.01).await;
        error_rate
    }

    /// Sets the rate and waits until Prometheus answers it.
    pub async fn set(&self, rate: f64) {
        self.rate.store(rate.to_bits(), Ordering::SeqCst);
        self.prometheus
            .wait_for_value("demo_error_rate{job=\"demo\"}", rate)
            .await;
    }
}
