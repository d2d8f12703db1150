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

use tokio::sync::{Notify, RwLock, watch};

use crate::config::{Config, OnAbort, SourceConfig};
use crate::controller::{self, Scope};
use crate::k8s::Client;
use crate::leader;
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
/// With leader election on, only the leader syncs, runs the controllers and writes back; the
/// others fetch and serve reads.
pub async fn run(
    config: Config,
    client: Client,
    scope: Option<Scope>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    // Every replica may create the state namespace (it holds the Lease too): the create is
    // idempotent.
    Records::new(client.clone(), &config.state.namespace)
        .ensure_namespace(&client)
        .await?;
    let metrics = Arc::new(Metrics::default());
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let (fence, leading) = elect(&config, &client, &metrics, &stopped, &mut tasks);
    let client = leader::fenced(client, fence.clone());
    let records = Records::new(client.clone(), &config.state.namespace);
    let views = Arc::new(RwLock::new(BTreeMap::new()));
    let syncer = Arc::new(Syncer::new(client.clone()));
    let recorder = crate::k8s::events::Publisher::new(client.clone(), "tidegate");
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
        api_token: config.server.api_token.clone(),
        views: views.clone(),
        ready: ready.clone(),
    };
    let server = serve(&config, state, stopped.clone()).await?;

    let mut outlets = Vec::new();
    for (source, wake) in sources {
        let cache = Arc::new(GitCache::new(
            config.state.cache_dir().join(&source.name),
            source.url.clone(),
        ));
        if reports(&source) {
            outlets.push(outlet(&config, &source, cache.clone(), &fence.guard())?);
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
            renderers: config.renderers(),
            recorder: recorder.clone(),
            looked_once: looked_once.clone(),
            leading: leading.clone(),
        };
        tasks.push(tokio::spawn(source_loop.run(stopped.clone())));
    }
    let term = Term {
        client,
        scope,
        outlets,
        recorder,
        metrics,
        analysis: config.analysis.guard(),
        namespace: config.state.namespace.clone(),
    };
    tasks.push(tokio::spawn(
        term.run_while_leading(leading, stopped.clone()),
    ));
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

/// Starts leader election (when on); returns the write fence and the `leading` signal.
fn elect(
    config: &Config,
    client: &Client,
    metrics: &Metrics,
    stopped: &watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> (Arc<leader::Fence>, watch::Receiver<bool>) {
    let fence = Arc::new(leader::Fence::new(metrics));
    if !config.leader_election.enabled {
        fence.open_for_good();
        let (always, leading) = watch::channel(true);
        // Kept for the daemon's lifetime: a dropped sender would end the followers' waits.
        tasks.push(tokio::spawn(async move {
            always.closed().await;
        }));
        return (fence, leading);
    }
    let (sender, leading) = watch::channel(false);
    let (client, namespace, election, fence_for_election, mut stopped) = (
        client.clone(),
        config.state.namespace.clone(),
        config.leader_election.clone(),
        fence.clone(),
        stopped.clone(),
    );
    tasks.push(tokio::spawn(async move {
        let identity = leader::identity();
        let mut failures = 0;
        loop {
            let term = leader::run(
                client.clone(),
                &namespace,
                &election,
                &identity,
                fence_for_election.clone(),
                &sender,
                stopped.clone(),
            );
            let Err(error) = term.await else { return };
            failures += 1;
            let wait = crate::source::next_retry(Duration::from_secs(60), failures);
            tracing::error!(error = %crate::k8s::describe_error(&error), ?wait, "leader election failed; this replica does not write until it leads again");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopped.changed() => return,
            }
        }
    }));
    (fence, leading)
}

/// What runs only while this replica leads: the controllers, the reporter and the write
/// loops. Started at the beginning of each term, stopped at its end.
struct Term {
    client: Client,
    scope: Option<Scope>,
    outlets: Vec<reporter::Outlet>,
    recorder: crate::k8s::events::Publisher,
    metrics: Arc<Metrics>,
    analysis: crate::analysis::guard::HostGuard,
    /// The state namespace, where analysis providers' Secrets are read.
    namespace: String,
}

impl Term {
    async fn run_while_leading(
        self,
        mut leading: watch::Receiver<bool>,
        mut stopped: watch::Receiver<bool>,
    ) {
        loop {
            while !*leading.borrow_and_update() {
                tokio::select! {
                    changed = leading.changed() => if changed.is_err() { return },
                    _ = stopped.changed() => return,
                }
            }
            self.metrics.leader.set(1);
            let (end, ended) = watch::channel(false);
            let tasks = self.start(&ended);
            let daemon_stops = loop {
                tokio::select! {
                    changed = leading.changed() => {
                        if changed.is_err() || !*leading.borrow_and_update() {
                            break false;
                        }
                    }
                    _ = stopped.changed() => break true,
                }
            };
            tracing::info!("leadership ended: stopping the controllers and write-back");
            let _ = end.send(true);
            for task in tasks {
                let _ = task.await;
            }
            self.metrics.leader.set(0);
            if daemon_stops {
                return;
            }
        }
    }

    fn start(&self, ended: &watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        if !self.outlets.is_empty() {
            let (done, done_received) = tokio::sync::mpsc::unbounded_channel();
            for outlet in &self.outlets {
                match outlet.queue.drop_records() {
                    Ok(0) => {}
                    Ok(dropped) => {
                        tracing::info!(source = %outlet.config.name, dropped, "records queued in an earlier term dropped; the reporter writes the current ones");
                    }
                    Err(error) => {
                        tracing::warn!(source = %outlet.config.name, %error, "cannot tidy the write-back queue");
                    }
                }
                tasks.push(spawn_write_loop(
                    outlet,
                    done.clone(),
                    self.metrics.clone(),
                    ended.clone(),
                ));
            }
            let reporter = reporter::Reporter::new(
                self.client.clone(),
                self.scope.clone().unwrap_or(Scope::Cluster),
                self.outlets.clone(),
                self.recorder.clone(),
            );
            tasks.push(tokio::spawn(reporter.run(done_received, ended.clone())));
        }
        if let Some(scope) = self.scope.clone() {
            let mut controller_stop = ended.clone();
            let analysis = crate::analysis::controller::Settings {
                guard: self.analysis.clone(),
                metrics: self.metrics.clone(),
                namespace: self.namespace.clone(),
            };
            tasks.push(tokio::spawn(controller::run_all(
                self.client.clone(),
                scope,
                analysis,
                async move {
                    let _ = controller_stop.changed().await;
                },
            )));
        }
        tasks
    }
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
    may_write: &leader::WriteGuard,
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
    )
    .with_guard(may_write.clone());
    Ok(reporter::Outlet {
        config: source.clone(),
        source_cache,
        writer: Arc::new(std::sync::Mutex::new(writer)),
        queue: Arc::new(queue),
        wake: Arc::new(Notify::new()),
        forge: source.forge.as_ref().map(|forge| {
            Arc::new(crate::forge::Forge::for_config(forge).with_guard(may_write.clone()))
        }),
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
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(error) = axum::serve(listener, service)
            .with_graceful_shutdown(graceful)
            .await
        {
            tracing::error!(%error, "HTTP server failed");
        }
    }))
}
