//! The reporter: watches the Rollouts that sources applied and tells Git and the forge what
//! they do — commit statuses on the source commit, outcome records on the status branch,
//! reverts after failed analysis, promotion pull requests at approval pauses — and releases
//! a pause when an approval record for exactly that revision and step is in Git.
//!
//! This module is the dispatcher: one task per Rollout ([`rollout`]) does that Rollout's
//! work, and the dispatcher only hands each its changes and finished write jobs. A slow or
//! failing Git server or forge holds up the Rollout waiting on it, never another Rollout's
//! statuses or approvals. A task that panics is reported and replaced by a fresh one, which
//! reads the Rollout and its record on the status branch again.

mod approval;
mod reads;
mod rollout;
mod tracked;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;

use super::write_loop::Done;
use crate::config::SourceConfig;
use crate::controller::Scope;
use crate::forge::Forge;
use crate::k8s::crd::Rollout;
use crate::k8s::events::Publisher;
use crate::k8s::{Client, labels};
use crate::source::GitCache;
use crate::writeback::{GitWriter, Queue};
use rollout::{Message, RolloutReporter};

/// What the reporter can reach for one source.
#[derive(Clone)]
pub struct Outlet {
    /// The source.
    pub config: SourceConfig,
    /// The source's own Git cache (approval records are read from the synced commit).
    pub source_cache: Arc<GitCache>,
    /// The write-back writer (also reads existing records).
    pub writer: Arc<Mutex<GitWriter>>,
    /// The source's write queue.
    pub queue: Arc<Queue>,
    /// Rings the write loop.
    pub wake: Arc<Notify>,
    /// The forge, when configured.
    pub forge: Option<Arc<Forge>>,
}

/// What every Rollout's task reaches: the cluster, the sources' outlets, the Event publisher.
struct Context {
    client: Client,
    outlets: HashMap<String, Outlet>,
    recorder: Publisher,
}

/// The reporter.
pub struct Reporter {
    scope: Scope,
    context: Arc<Context>,
}

/// The running Rollout tasks: each one's inbox by Rollout key, and which key a task serves.
#[derive(Default)]
struct Tasks {
    inboxes: HashMap<String, mpsc::UnboundedSender<Message>>,
    /// The Rollout key and source each task serves.
    serves: HashMap<tokio::task::Id, (String, String)>,
    running: JoinSet<()>,
}

impl Reporter {
    /// A reporter for the Rollouts of `outlets` within `scope`.
    #[must_use]
    pub fn new(client: Client, scope: Scope, outlets: Vec<Outlet>, recorder: Publisher) -> Self {
        let outlets = outlets
            .into_iter()
            .map(|outlet| (outlet.config.name.clone(), outlet))
            .collect();
        Self {
            scope,
            context: Arc::new(Context {
                client,
                outlets,
                recorder,
            }),
        }
    }

    /// Runs until `shutdown` turns true; the Rollout tasks stop with it.
    pub async fn run(
        self,
        mut done: mpsc::UnboundedReceiver<Done>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let client = self.context.client.clone();
        let api: Api<Rollout> = match &self.scope {
            Scope::Cluster => Api::all(client),
            Scope::Namespace(namespace) => Api::namespaced(client, namespace),
        };
        let mut rollouts = watcher(api, watcher::Config::default().labels(labels::SOURCE))
            .default_backoff()
            .applied_objects()
            .boxed();
        let mut tasks = Tasks::default();
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                item = rollouts.next() => match item {
                    Some(Ok(rollout)) => self.changed(&mut tasks, rollout),
                    Some(Err(error)) => tracing::warn!(%error, "watching Rollouts for reports failed; retrying"),
                    None => break,
                },
                Some(finished) = done.recv() => tasks.finished(finished),
                Some(joined) = tasks.running.join_next_with_id() => tasks.ended(&self.context, joined),
            }
        }
        tasks.running.shutdown().await;
    }

    /// Hands a changed Rollout to its task, starting one on first sight.
    fn changed(&self, tasks: &mut Tasks, rollout: Rollout) {
        let Some(source) = rollout.labels().get(labels::SOURCE).cloned() else {
            return;
        };
        if !self.context.outlets.contains_key(&source) {
            return;
        }
        let key = key_of(&rollout);
        let message = Message::Changed(Box::new(rollout));
        let message = match tasks.inboxes.get(&key) {
            Some(inbox) => match inbox.send(message) {
                Ok(()) => return,
                Err(unsent) => unsent.0,
            },
            None => message,
        };
        tasks.start(&self.context, key, source, message);
    }
}

impl Tasks {
    /// Hands a finished write job to the task of its Rollout; one nobody tracks is dropped
    /// (its Rollout is gone, or was never reported on).
    fn finished(&self, done: Done) {
        let rollout = match &done {
            Done::Reverted { rollout, .. }
            | Done::RevertProposed { rollout, .. }
            | Done::PromotionProposed { rollout, .. }
            | Done::Failed { rollout, .. } => rollout.clone(),
        };
        if let Some(inbox) = self.inboxes.get(&rollout) {
            let _ = inbox.send(Message::Finished(done));
        }
    }

    /// Starts the task of Rollout `key` of `source`, handing it `first`.
    fn start(&mut self, context: &Arc<Context>, key: String, source: String, first: Message) {
        let (inbox, received) = mpsc::unbounded_channel();
        let _ = inbox.send(first);
        let task = RolloutReporter::new(context.clone(), key.clone(), source.clone());
        let handle = self.running.spawn(task.run(received));
        self.serves.insert(handle.id(), (key.clone(), source));
        self.inboxes.insert(key, inbox);
    }

    /// A task ended: only a panic ends one early. A fresh task takes over at once; it reads
    /// the Rollout and its record again.
    fn ended(
        &mut self,
        context: &Arc<Context>,
        joined: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
    ) {
        let id = match &joined {
            Ok((id, ())) => *id,
            Err(error) => error.id(),
        };
        let Some((key, source)) = self.serves.remove(&id) else {
            return;
        };
        self.inboxes.remove(&key);
        if let Err(error) = joined {
            tracing::error!(rollout = %key, %error, "the reporter of this Rollout failed; a fresh one takes over");
            self.start(context, key, source, Message::Reread);
        }
    }
}

/// `namespace/name`.
fn key_of(rollout: &Rollout) -> String {
    format!(
        "{}/{}",
        rollout.namespace().unwrap_or_default(),
        rollout.name_any()
    )
}
