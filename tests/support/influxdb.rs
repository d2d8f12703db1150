//! A real InfluxDB: OSS 1.8.10's `influxd` (built by `scripts/testenv build`, found through
//! `TIDEGATE_TEST_INFLUXD_BIN`) with Flux enabled, so it answers the v2 API's Flux queries
//! (`POST /api/v2/query`) and line-protocol writes (`POST /api/v2/write`). Authentication is
//! off: it ignores the token and the organisation. Everything lives in a temporary directory,
//! both ports are free loopback ones, and the process is killed when it is dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::git::TempDir;
use super::{TIMEOUT, wait_for};

/// The database the tests write to, and so the Flux bucket (`"<db>"` is its default
/// retention policy) they query.
pub const DATABASE: &str = "tidegate";

/// `influxd`, running, with database [`DATABASE`].
pub struct Influxdb {
    child: Child,
    http_port: u16,
    dir: TempDir,
}

/// `count` distinct free loopback ports (held together while picked, so they differ).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("address").port())
        .collect()
}

/// influxd's configuration for data directory `d`: only the two loopback ports listen (the
/// UDP, Graphite, OpenTSDB and collectd inputs are off by default), no usage reporting, no
/// `_internal` monitoring database.
fn configuration(d: &str, http_port: u16, rpc_port: u16) -> String {
    format!(
        "reporting-disabled = true
bind-address = \"127.0.0.1:{rpc_port}\"
[meta]
  dir = \"{d}/meta\"
[data]
  dir = \"{d}/data\"
  wal-dir = \"{d}/wal\"
  query-log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[http]
  bind-address = \"127.0.0.1:{http_port}\"
  flux-enabled = true
  log-enabled = false
[logging]
  level = \"warn\"
"
    )
}

impl Influxdb {
    /// Starts influxd, waits until `/ping` answers 204 and creates [`DATABASE`] (the v2
    /// write API answers 404 "database not found" for a bucket whose database is missing).
    pub async fn start() -> Self {
        let binary = std::env::var_os("TIDEGATE_TEST_INFLUXD_BIN")
            .expect("TIDEGATE_TEST_INFLUXD_BIN (scripts/testenv env)");
        let dir = TempDir::new("influxdb");
        let d = dir.path().display().to_string();
        let [http_port, rpc_port] = free_ports(2)[..] else {
            unreachable!("two ports")
        };
        let config = dir.path().join("influxdb.conf");
        std::fs::write(&config, configuration(&d, http_port, rpc_port))
            .expect("write influxd's configuration");
        let child = Command::new(&binary)
            .arg("run")
            .arg("-config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log(&dir.path().join("influxd.out")))
            .stderr(log(&dir.path().join("influxd.err")))
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", binary.to_string_lossy()));
        let influxdb = Self {
            child,
            http_port,
            dir,
        };
        let client = reqwest::Client::new();
        let ping = format!("{}/ping", influxdb.url());
        wait_for("influxd to answer /ping", TIMEOUT, || async {
            let answer = client.get(&ping).send().await.ok()?;
            (answer.status() == reqwest::StatusCode::NO_CONTENT).then_some(())
        })
        .await;
        let created = client
            .post(format!("{}/query", influxdb.url()))
            .form(&[("q", format!("CREATE DATABASE {DATABASE}"))])
            .send()
            .await
            .expect("ask influxd to create the database");
        let status = created.status();
        let body = created.text().await.unwrap_or_default();
        assert!(
            status.is_success() && !body.contains("\"error\""),
            "CREATE DATABASE: {status} {body}"
        );
        influxdb
    }

    /// Its HTTP API's base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The directory of its configuration, data and logs (`influxd.err`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `lines` of line protocol (timestamps in seconds) to [`DATABASE`] through the
    /// v2 write API; a write InfluxDB accepted (204) is visible to the next query.
    pub async fn write(&self, lines: &str) {
        let answer = reqwest::Client::new()
            .post(format!(
                "{}/api/v2/write?org=any&bucket={DATABASE}&precision=s",
                self.url()
            ))
            .header("authorization", "Token ignored")
            .body(lines.to_owned())
            .send()
            .await
            .expect("write to influxd");
        let status = answer.status();
        assert_eq!(
            status,
            reqwest::StatusCode::NO_CONTENT,
            "write {lines:?}: {}",
            answer.text().await.unwrap_or_default()
        );
    }
}

fn log(path: &Path) -> std::fs::File {
    std::fs::File::create(path).expect("create a log")
}

impl Drop for Influxdb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
