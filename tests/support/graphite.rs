//! A real Graphite: Debian's carbon-cache (`graphite-carbon`) receiving carbon's plaintext
//! protocol, and graphite-web (`graphite-web`, Django's `runserver`) answering `/render`
//! from carbon's whisper files and, through carbonlink, its unflushed cache. Both packages are
//! installed by `scripts/ensure-tools`; their scripts run Debian's `/usr/bin/python3`.
//! Everything lives in a temporary directory, every port is a free loopback one, and both
//! processes are killed when it is dropped.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::git::TempDir;
use super::{TIMEOUT, wait_for};

/// carbon-cache and graphite-web, running.
pub struct Graphite {
    carbon: Child,
    web: Child,
    line_port: u16,
    web_port: u16,
    dir: TempDir,
}

/// `count` distinct free loopback ports (held together while picked, so they differ).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("address").port())
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
}

fn log(path: &Path) -> std::fs::File {
    std::fs::File::create(path).expect("create a log")
}

/// Writes carbon's and graphite-web's configuration for data directory `d` into `conf`.
fn configure(conf: &Path, d: &str, line_port: u16, pickle_port: u16, query_port: u16) {
    // Every path and port is set, so nothing under /var or on a default port is touched.
    // USER empty: no _graphite user. ENABLE_TAGS off: carbon would post each new
    // series to a tag database on 127.0.0.1:80.
    write(
        &conf.join("carbon.conf"),
        &format!(
            "[cache]
STORAGE_DIR = {d}/storage/
LOCAL_DATA_DIR = {d}/storage/whisper/
WHITELISTS_DIR = {d}/storage/lists/
LOG_DIR = {d}/log/
PID_DIR = {d}/
USER =
ENABLE_TAGS = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 10000
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {line_port}
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pickle_port}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {query_port}
LOG_UPDATES = False
WHISPER_FALLOCATE_CREATE = False
CARBON_METRIC_INTERVAL = 0
"
        ),
    );
    // One point a second for 6 hours: whisper snaps times to the step and drops points
    // older than the retention or in the future.
    write(
        &conf.join("storage-schemas.conf"),
        "[default]\npattern = .*\nretentions = 1s:6h\n",
    );
    // graphite-web's settings (Debian's default module is /etc/graphite/local_settings.py).
    // No MEMCACHE_HOSTS: renders are not cached.
    write(
        &conf.join("graphite_test_settings.py"),
        &format!(
            "SECRET_KEY = 'test-only'
TIME_ZONE = 'UTC'
DEBUG = False
STORAGE_DIR = '{d}/storage'
WHISPER_DIR = '{d}/storage/whisper/'
STANDARD_DIRS = [WHISPER_DIR]
LOG_DIR = '{d}/log/webapp'
INDEX_FILE = '{d}/storage/index'
CARBONLINK_HOSTS = ['127.0.0.1:{query_port}:a']
DATABASES = {{'default': {{'ENGINE': 'django.db.backends.sqlite3', 'NAME': '{d}/storage/graphite.db'}}}}
"
        ),
    );
}

impl Graphite {
    /// Starts carbon-cache and graphite-web and waits until the render API answers `[]` for
    /// an unknown target and carbon's line receiver accepts connections.
    pub async fn start() -> Self {
        let dir = TempDir::new("graphite");
        let d = dir.path().display().to_string();
        let [line_port, pickle_port, query_port, web_port] = free_ports(4)[..] else {
            unreachable!("four ports")
        };
        for sub in ["conf", "storage/whisper", "storage/lists", "log/webapp"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create Graphite's directories");
        }
        let conf = dir.path().join("conf");
        configure(&conf, &d, line_port, pickle_port, query_port);

        let carbon = Command::new("carbon-cache")
            .arg(format!("--config={}", conf.join("carbon.conf").display()))
            .arg(format!("--pidfile={d}/carbon.pid"))
            .args(["--nodaemon", "start"])
            .stdout(log(&dir.path().join("carbon.out")))
            .stderr(log(&dir.path().join("carbon.err")))
            .spawn()
            .expect("start carbon-cache (scripts/ensure-tools installs Debian's graphite-carbon)");

        let manage = || {
            let mut command = Command::new("graphite-manage");
            command
                .env("PYTHONPATH", &conf)
                .env("DJANGO_SETTINGS_MODULE", "graphite.settings")
                .env("GRAPHITE_SETTINGS_MODULE", "graphite_test_settings");
            command
        };
        // The sqlite schema graphite-web needs (2-4 s).
        let mut migrate = manage();
        migrate.args(["migrate", "--run-syncdb", "-v0"]);
        let migrated = tokio::task::spawn_blocking(move || migrate.output())
            .await
            .expect("graphite-manage ran")
            .expect("run graphite-manage (scripts/ensure-tools installs Debian's graphite-web)");
        assert!(
            migrated.status.success(),
            "graphite-manage migrate: {}",
            String::from_utf8_lossy(&migrated.stderr)
        );
        let web = manage()
            .args(["runserver", "--noreload", &format!("127.0.0.1:{web_port}")])
            .stdin(Stdio::null())
            .stdout(log(&dir.path().join("web.out")))
            .stderr(log(&dir.path().join("web.err")))
            .spawn()
            .expect("start graphite-web");

        let graphite = Self {
            carbon,
            web,
            line_port,
            web_port,
            dir,
        };
        let render = graphite.render_url("graphite.test.nothing");
        wait_for("graphite-web to answer a render", TIMEOUT, || async {
            let body = reqwest::get(&render).await.ok()?.text().await.ok()?;
            (body.trim() == "[]").then_some(())
        })
        .await;
        wait_for("carbon's line receiver to accept", TIMEOUT, || async {
            TcpStream::connect(("127.0.0.1", line_port)).ok().map(drop)
        })
        .await;
        graphite
    }

    /// graphite-web's base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.web_port)
    }

    /// The directory of its configuration, data and logs (`carbon.err`, `web.err`, …).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn render_url(&self, path: &str) -> String {
        format!(
            "{}/render?target={path}&from=-10min&format=json",
            self.url()
        )
    }

    /// Writes one point with carbon's plaintext protocol: `<path> <value> <timestamp>\n`
    /// (seconds since the epoch; whisper drops points in the future).
    pub fn send(&self, path: &str, value: f64, timestamp: i64) {
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.line_port)).expect("connect to carbon");
        stream
            .write_all(format!("{path} {value} {timestamp}\n").as_bytes())
            .expect("write to carbon");
    }

    /// The non-null values of `path` over the last 10 minutes, oldest first, or `None`
    /// when graphite-web does not answer.
    pub async fn values(&self, path: &str) -> Option<Vec<f64>> {
        let body = reqwest::get(self.render_url(path))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let series: serde_json::Value = serde_json::from_str(&body).ok()?;
        Some(
            series[0]["datapoints"]
                .as_array()
                .map(|points| {
                    points
                        .iter()
                        .filter_map(|point| point[0].as_f64())
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// Waits until the render of `path` shows exactly the non-null `values` (carbon creates
    /// a series' file asynchronously, and graphite-web only finds series with a file).
    pub async fn wait_for_series(&self, path: &str, values: &[f64]) {
        wait_for(
            &format!("Graphite to render {path} as {values:?}"),
            TIMEOUT,
            || async { (self.values(path).await? == values).then_some(()) },
        )
        .await;
    }
}

impl Drop for Graphite {
    fn drop(&mut self) {
        for child in [&mut self.web, &mut self.carbon] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
