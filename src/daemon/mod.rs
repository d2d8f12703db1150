//! `tidegate run`: the whole daemon in one process — a loop per Git source, the Rollout
//! controller, and the HTTP server — stopped together on shutdown.
//!
//! In: the configuration and a cluster client. Out: the cluster kept in sync with Git.

mod reporter;
mod source_loop;
mod write_loop;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kube::runtime::events::{Recorder, Reporter};
use tokio::sync::{Notify, RwLock, watch};

use crate::config::{Config, OnAbort, SourceConfig};
use crate::controller::{self, Scope};
use crate::k8s::Client;
use crate::metrics::Metrics;
use crate::server::{self, AppState};
use crate::source::GitCache;
use crate::sync::{Records, Syncer};
use crate::writeback::{Author, GitWriter, Queue};
use source_loop::SourceLoop;

/// The daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The state namespace could not be created.
    #[error(transparent)]
    State(#[from] crate::sync::RecordError),
    /// The write-back queue could not be opened.
    #[error("open the write-back queue in {}", dir.display())]
    Queue {
        /// Its directory.
        dir: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server could not listen.
    #[error("listen on {address}")]
    Listen {
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Runs every source, the controller (when `scope` is given) and the server until `shutdown`.
pub async fn run(
    config: Config,
    client: Client,
    scope: Option<Scope>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let records = Records::new(client.clone(), &config.state.namespace);
    records.ensure_namespace(&client).await?;
    let metrics = Arc::new(Metrics::default());
    let views = Arc::new(RwLock::new(BTreeMap::new()));
    let syncer = Arc::new(Syncer::new(client.clone()));
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "tidegate".into(),
            instance: std::env::var("HOSTNAME").ok(),
        },
    );
    let (stop, stopped) = watch::channel(false);
    let sources: Vec<_> = config
        .sources
        .iter()
        .map(|source| (source.clone(), Arc::new(Notify::new())))
        .collect();
    let looked_once = Arc::new(AtomicUsize::new(0));
    let ready = Arc::new(AtomicBool::new(config.sources.is_empty()));

    let state = AppState {
        metrics: metrics.clone(),
        sources: Arc::new(sources.clone()),
        webhook_secret: config.webhook.secret.clone(),
        views: views.clone(),
        ready: ready.clone(),
    };
    let server = serve(&config, state, stopped.clone()).await?;

    let mut tasks = Vec::new();
    let (done, done_received) = tokio::sync::mpsc::unbounded_channel();
    let mut outlets = Vec::new();
    for (source, wake) in sources {
        let cache = Arc::new(GitCache::new(
            config.state.cache_dir().join(&source.name),
            source.url.clone(),
        ));
        if reports(&source) {
            let outlet = outlet(&config, &source, cache.clone())?;
            tasks.push(spawn_write_loop(
                &outlet,
                done.clone(),
                metrics.clone(),
                stopped.clone(),
            ));
            outlets.push(outlet);
        }
        let source_loop = SourceLoop {
            config: source,
            cache,
            syncer: syncer.clone(),
            records: records.clone(),
            metrics: metrics.clone(),
            views: views.clone(),
            wake,
            limits: config.limits.clone(),
            recorder: recorder.clone(),
            looked_once: looked_once.clone(),
        };
        tasks.push(tokio::spawn(source_loop.run(stopped.clone())));
    }
    if !outlets.is_empty() {
        let reporter = reporter::Reporter::new(
            client.clone(),
            scope.clone().unwrap_or(Scope::Cluster),
            outlets,
            recorder.clone(),
        );
        tasks.push(tokio::spawn(reporter.run(done_received, stopped.clone())));
    }
    if let Some(scope) = scope {
        let mut controller_stop = stopped.clone();
        let analysis = crate::analysis::controller::Settings {
            guard: config.analysis.guard(),
            metrics: metrics.clone(),
        };
        tasks.push(tokio::spawn(controller::run_all(
            client,
            scope,
            analysis,
            async move {
                let _ = controller_stop.changed().await;
            },
        )));
    }
    let readiness = spawn_readiness(looked_once, config.sources.len(), ready);

    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop.send(true);
    readiness.abort();
    for task in tasks {
        let _ = task.await;
    }
    let _ = server.await;
    Ok(())
}

/// Marks the daemon ready once each of `sources` sources has looked at its remote once.
fn spawn_readiness(
    looked_once: Arc<AtomicUsize>,
    sources: usize,
    ready: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while looked_once.load(Ordering::Acquire) < sources {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ready.store(true, Ordering::Release);
    })
}

/// Whether `source` reports to Git or a forge.
fn reports(source: &SourceConfig) -> bool {
    source.write_back.is_some() || source.forge.is_some() || source.on_abort != OnAbort::None
}

/// Starts the loop that carries out `outlet`'s queued writes.
fn spawn_write_loop(
    outlet: &reporter::Outlet,
    done: tokio::sync::mpsc::UnboundedSender<write_loop::Done>,
    metrics: Arc<Metrics>,
    stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let write_loop = write_loop::WriteLoop {
        source: outlet.config.name.clone(),
        queue: outlet.queue.clone(),
        writer: outlet.writer.clone(),
        forge: outlet.forge.clone(),
        wake: outlet.wake.clone(),
        done,
        metrics,
    };
    tokio::spawn(write_loop.run(stopped))
}

/// The write-back queue, writer and forge of `source`, kept under the cache directory.
fn outlet(
    config: &Config,
    source: &SourceConfig,
    source_cache: Arc<GitCache>,
) -> Result<reporter::Outlet, DaemonError> {
    let dir = config
        .state
        .cache_dir()
        .join(".writeback")
        .join(&source.name);
    let queue = Queue::open(&dir.join("queue")).map_err(|source| DaemonError::Queue {
        dir: dir.clone(),
        source,
    })?;
    let write_back = source.write_back.clone().unwrap_or_default();
    let writer = GitWriter::new(
        &dir.join("git"),
        &source.url,
        source.auth.as_ref(),
        Author {
            name: write_back.author_name,
            email: write_back.author_email,
        },
    );
    Ok(reporter::Outlet {
        config: source.clone(),
        source_cache,
        writer: Arc::new(std::sync::Mutex::new(writer)),
        queue: Arc::new(queue),
        wake: Arc::new(Notify::new()),
        forge: source.forge.as_ref().map(|forge| Arc::new(forge.client())),
    })
}

/// Binds the HTTP server's address (failing now if it cannot) and serves until `stopped`.
async fn serve(
    config: &Config,
    state: AppState,
    mut stopped: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, DaemonError> {
    let listen: SocketAddr = config
        .server
        .listen
        .parse()
        .expect("validated when the configuration was loaded");
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| DaemonError::Listen {
            address: config.server.listen.clone(),
            source,
        })?;
    tracing::info!(address = %listener.local_addr().map_or(config.server.listen.clone(), |address| address.to_string()), "HTTP server listening");
    let router = server::router(state, config.webhook.max_body_bytes);
    Ok(tokio::spawn(async move {
        let graceful = async move {
            let _ = stopped.changed().await;
        };
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(graceful)
            .await
        {
            tracing::error!(%error, "HTTP server failed");
        }
    }))
}
