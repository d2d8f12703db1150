//! Running a kube-runtime controller until a shutdown signal, including a signal that comes
//! before its cache is filled.
//!
//! kube-runtime's graceful shutdown stops the watches and waits for the running reconciles.
//! But the runner starts only once its store has the first full list. After the signal nobody
//! polls the watch that would bring that list, so a runner still waiting for it never ends and
//! the controller never returns (kube-runtime 5.0). In that case no reconcile can have started,
//! so the controller is dropped at once. Otherwise the graceful shutdown runs as usual.

use std::future::Future;

use futures::{FutureExt, Stream, StreamExt};
use kube::Resource;
use kube::runtime::Controller;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};

/// Runs `controller` (as `run` starts it) with a graceful shutdown on `shutdown`, logging
/// each failed reconcile at debug (the reconcilers log their own errors). The shutdown is
/// immediate when the store was not ready yet.
pub async fn run_until_shutdown<K, S, E>(
    controller: Controller<K>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    run: impl FnOnce(Controller<K>) -> S,
) where
    K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
    S: Stream<Item = Result<(ObjectRef<K>, Action), E>>,
    E: std::fmt::Display,
{
    let shutdown = shutdown.boxed().shared();
    let store = controller.store();
    let running =
        run(controller.graceful_shutdown_on(shutdown.clone())).for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "controller event");
            }
        });
    tokio::select! {
        () = running => {}
        () = stopped_before_ready(shutdown, &store) => {
            tracing::debug!("shut down before the controller's cache was filled");
        }
    }
}

/// Completes when `shutdown` has completed while `store` had not been filled; never otherwise.
async fn stopped_before_ready<K>(shutdown: impl Future<Output = ()>, store: &Store<K>)
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    shutdown.await;
    // Readiness only ever goes from "not yet" to "ready": once ready, the graceful path ends.
    if store.wait_until_ready().now_or_never().is_none() {
        return;
    }
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::watcher;
    use kube::{Api, Client};
    use tokio::sync::{Notify, mpsc, oneshot};

    use super::*;

    /// Long enough for a stuck controller to show; a test waits no longer than it needs.
    const STUCK: Duration = Duration::from_secs(10);

    /// A client whose apiserver answers a list of ConfigMaps with one object when `answers`,
    /// and otherwise (and every watch) never answers.
    fn client(answers: bool) -> Client {
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            let watch = request
                .uri()
                .query()
                .is_some_and(|query| query.contains("watch=true"));
            async move {
                if watch || !answers {
                    std::future::pending::<()>().await;
                }
                let list = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMapList",
                    "metadata": {"resourceVersion": "1"},
                    "items": [{"metadata": {"name": "one", "namespace": "default", "resourceVersion": "1"}}]});
                Ok::<_, std::convert::Infallible>(http::Response::new(kube::client::Body::from(
                    serde_json::to_vec(&list).expect("JSON"),
                )))
            }
        });
        Client::new(service, "default")
    }

    fn controller(answers: bool) -> Controller<ConfigMap> {
        Controller::new(
            Api::<ConfigMap>::namespaced(client(answers), "default"),
            watcher::Config::default(),
        )
    }

    type Reconciled = Result<
        (ObjectRef<ConfigMap>, Action),
        kube::runtime::controller::Error<std::io::Error, watcher::Error>,
    >;

    fn drive(controller: Controller<ConfigMap>) -> impl Stream<Item = Reconciled> {
        controller.run(
            |_: Arc<ConfigMap>, _: Arc<()>| async {
                Ok::<_, std::io::Error>(Action::await_change())
            },
            |_, _, _| Action::await_change(),
            Arc::new(()),
        )
    }

    fn signal() -> (
        oneshot::Sender<()>,
        impl Future<Output = ()> + Send + Sync + 'static,
    ) {
        let (stop, stopped) = oneshot::channel::<()>();
        (stop, async move {
            let _ = stopped.await;
        })
    }

    #[tokio::test]
    async fn a_shutdown_before_the_cache_is_filled_stops_the_controller() {
        let (stop, shutdown) = signal();
        let running = tokio::spawn(run_until_shutdown(controller(false), shutdown, drive));
        stop.send(()).expect("the controller listens");
        tokio::time::timeout(STUCK, running)
            .await
            .expect("the controller stops")
            .expect("the controller task");
    }

    #[tokio::test]
    async fn kube_runtime_alone_never_stops_such_a_controller() {
        // The reason for this module: should kube-runtime fix it, this test says so.
        let (stop, shutdown) = signal();
        let running = tokio::spawn(
            drive(controller(false).graceful_shutdown_on(shutdown)).for_each(|_| async {}),
        );
        stop.send(()).expect("the controller listens");
        assert!(
            tokio::time::timeout(Duration::from_millis(500), running)
                .await
                .is_err(),
            "kube-runtime's graceful shutdown now ends before the cache is filled: run_until_shutdown may go"
        );
    }

    #[tokio::test]
    async fn once_the_cache_is_filled_a_running_reconcile_is_waited_for() {
        let (started, mut reconciling) = mpsc::unbounded_channel();
        let release = Arc::new(Notify::new());
        let finished = Arc::new(AtomicBool::new(false));
        let reconciler = {
            let (release, finished) = (release.clone(), finished.clone());
            move |_: Arc<ConfigMap>, _: Arc<()>| {
                let (started, release, finished) =
                    (started.clone(), release.clone(), finished.clone());
                async move {
                    let _ = started.send(());
                    release.notified().await;
                    finished.store(true, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(Action::await_change())
                }
            }
        };
        let (stop, shutdown) = signal();
        let mut running = tokio::spawn(run_until_shutdown(
            controller(true),
            shutdown,
            |controller| controller.run(reconciler, |_, _, _| Action::await_change(), Arc::new(())),
        ));
        reconciling.recv().await.expect("a reconcile starts");
        stop.send(()).expect("the controller listens");
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut running)
                .await
                .is_err(),
            "the controller stopped in the middle of a reconcile"
        );
        release.notify_one();
        tokio::time::timeout(STUCK, running)
            .await
            .expect("the controller stops")
            .expect("the controller task");
        assert!(
            finished.load(Ordering::SeqCst),
            "the reconcile ran to its end"
        );
    }
}
