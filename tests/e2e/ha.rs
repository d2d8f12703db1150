//! Two `tidegate run` processes against one control plane: exactly one leads; killing it hands
//! the rollout to the other within the lease; a leader stopped past its lease makes no write
//! when it wakes; SIGTERM releases the lease and a restarted daemon repeats no step.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use serde_json::json;
use tidegate::k8s::crd::Rollout;
use tidegate::k8s::{self};

use crate::support::daemon::free_port;
use crate::support::git::TempDir;
use crate::support::{TIMEOUT, TestNamespace, healthy_on, install_crds, wait_for, wait_for_object};

/// `tidegate run` as its own process, controlling the test namespace.
struct Process {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Process {
    fn start(ns: &TestNamespace, name: &str) -> Self {
        let dir = TempDir::new(name);
        let port = free_port();
        let config = dir.path().join("tidegate.yaml");
        std::fs::write(
            &config,
            format!(
                "state:\n  namespace: {ns}\n  cacheDir: {cache}\nserver:\n  listen: 127.0.0.1:{port}\nleaderElection:\n  leaseDuration: 4s\n  renewDeadline: 3s\n  retryPeriod: 1s\n",
                ns = ns.name(),
                cache = dir.path().join("cache").display()
            ),
        )
        .expect("write the configuration");
        let log = std::fs::File::create(dir.path().join("log")).expect("create the log");
        let child = Command::new(env!("CARGO_BIN_EXE_tidegate"))
            .args(["run", "--config"])
            .arg(&config)
            .args(["--namespace", ns.name(), "--kubeconfig"])
            .arg(crate::support::kubeconfig())
            .env("HOSTNAME", name)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tidegate run");
        Self { child, port, dir }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// The metrics page, if the process answers.
    async fn metrics(&self) -> Option<String> {
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/metrics", self.port))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()
    }

    /// The value of metric line `name` (exact, labels included) on a metrics page.
    fn value<T: std::str::FromStr>(page: &str, name: &str) -> Option<T> {
        page.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    async fn leads(&self) -> Option<bool> {
        Self::value::<u8>(&self.metrics().await?, "tidegate_leader").map(|value| value == 1)
    }

    /// Mutating requests this process sent (the counter is absent until the first).
    async fn writes_sent(&self) -> Option<u64> {
        let page = self.metrics().await?;
        Some(Self::value(&page, "tidegate_kube_write_requests_total{result=\"sent\"}").unwrap_or(0))
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal}");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until exactly one of `processes` leads; returns its index.
async fn leader_of(processes: &[&Process]) -> usize {
    wait_for("exactly one leader", TIMEOUT, || async {
        let mut leaders = Vec::new();
        for (index, process) in processes.iter().enumerate() {
            if process.leads().await? {
                leaders.push(index);
            }
        }
        (leaders.len() == 1).then(|| leaders[0])
    })
    .await
}

async fn apply(ns: &TestNamespace, image: &str) {
    let manifest = json!({
        "apiVersion": "tidegate.dev/v1alpha1", "kind": "Rollout", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}},
                 "strategy": {"canary": {"steps": [
                     {"setWeight": 25}, {"pause": {"duration": 2}},
                     {"setWeight": 50}, {"pause": {"duration": 2}},
                     {"setWeight": 75}, {"pause": {"duration": 2}}]}}}
    });
    ns.api::<Rollout>()
        .patch(
            "web",
            &k8s::PatchParams::apply("ha-test"),
            &k8s::Patch::Apply(&manifest),
        )
        .await
        .expect("apply the Rollout");
}

async fn step_index(ns: &TestNamespace) -> Option<i32> {
    ns.api::<Rollout>()
        .get("web")
        .await
        .ok()?
        .status?
        .current_step_index
}

#[tokio::test]
async fn one_of_two_daemons_leads_and_the_other_takes_over_when_it_dies() {
    let ns = TestNamespace::create("ha").await;
    install_crds(&ns.client()).await;
    let first = Process::start(&ns, "first");
    let second = Process::start(&ns, "second");
    let processes = [&first, &second];
    let leader = leader_of(&processes).await;
    apply(&ns, "web:1").await;
    let rollouts = ns.api::<Rollout>();
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:1")).await;
    assert_eq!(
        processes[1 - leader].writes_sent().await,
        Some(0),
        "the follower wrote nothing"
    );

    apply(&ns, "web:2").await;
    wait_for("the canary under way", TIMEOUT, || async {
        (step_index(&ns).await? >= 1).then_some(())
    })
    .await;
    let processes = [first, second];
    processes[leader].signal("KILL");
    let survivor = &processes[1 - leader];
    wait_for("the survivor to lead", Duration::from_secs(20), || async {
        survivor.leads().await?.then_some(())
    })
    .await;
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:2")).await;
}

#[tokio::test]
async fn a_leader_stopped_past_its_lease_makes_no_write_when_it_wakes() {
    let ns = TestNamespace::create("ha-stop").await;
    install_crds(&ns.client()).await;
    let first = Process::start(&ns, "first");
    let second = Process::start(&ns, "second");
    let leader = leader_of(&[&first, &second]).await;
    let (old, new) = if leader == 0 {
        (&first, &second)
    } else {
        (&second, &first)
    };
    apply(&ns, "web:1").await;
    let rollouts = ns.api::<Rollout>();
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:1")).await;
    // Idle: the count of the leader's writes stands still.
    let before = wait_for("the leader idle", TIMEOUT, || async {
        let first = old.writes_sent().await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        (old.writes_sent().await? == first).then_some(first)
    })
    .await;
    assert!(before > 0, "the leader wrote the Rollout's status");

    old.signal("STOP");
    wait_for(
        "the other replica to lead",
        Duration::from_secs(30),
        || async { new.leads().await?.then_some(()) },
    )
    .await;
    // Work for the new leader — and for the old one's stale watches when it wakes.
    apply(&ns, "web:2").await;
    wait_for("the new leader to start the canary", TIMEOUT, || async {
        (step_index(&ns).await? >= 1).then_some(())
    })
    .await;
    old.signal("CONT");
    wait_for("the old leader to see it lost", TIMEOUT, || async {
        (!old.leads().await?).then_some(())
    })
    .await;
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:2")).await;
    assert_eq!(
        old.writes_sent().await,
        Some(before),
        "the old leader made no write after losing its lease (log: {})",
        old.log().display()
    );
}

#[tokio::test]
async fn sigterm_releases_the_lease_and_a_restarted_daemon_repeats_no_step() {
    let ns = TestNamespace::create("ha-term").await;
    install_crds(&ns.client()).await;
    let first = Process::start(&ns, "first");
    leader_of(&[&first]).await;
    apply(&ns, "web:1").await;
    let rollouts = ns.api::<Rollout>();
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:1")).await;
    apply(&ns, "web:2").await;
    wait_for("the canary at its second pause", TIMEOUT, || async {
        (step_index(&ns).await? >= 3).then_some(())
    })
    .await;
    first.signal("TERM");
    let mut first = first;
    let exited = wait_for("the daemon to exit", TIMEOUT, || {
        std::future::ready(
            first
                .child
                .try_wait()
                .expect("wait")
                .map(|status| status.success()),
        )
    })
    .await;
    assert!(exited, "SIGTERM is a clean exit");
    let lease = ns
        .api::<Lease>()
        .get("tidegate-leader")
        .await
        .expect("the Lease");
    let holder = lease
        .spec
        .and_then(|spec| spec.holder_identity)
        .unwrap_or_default();
    assert!(
        holder.is_empty(),
        "the lease was released, not left to expire: {holder}"
    );

    let second = Process::start(&ns, "second");
    leader_of(&[&second]).await;
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:2")).await;
    let events = ns
        .api::<Event>()
        .list(&k8s::ListParams::default())
        .await
        .expect("list Events");
    let mut completed: Vec<String> = events
        .items
        .iter()
        .filter(|event| event.reason.as_deref() == Some("RolloutStepCompleted"))
        .filter_map(|event| event.note.clone())
        .collect();
    completed.sort();
    let unique = {
        let mut unique = completed.clone();
        unique.dedup();
        unique
    };
    assert_eq!(completed, unique, "no step completed twice: {completed:#?}");
}

/// An election in this process, as `identity`, with `settings` (the leaderElection YAML);
/// the write fence it keeps, whether it leads, and its task (abort it to stop renewing).
type Election = (
    std::sync::Arc<tidegate::leader::Fence>,
    tokio::sync::watch::Receiver<bool>,
    tokio::task::JoinHandle<Result<(), tidegate::leader::ElectionError>>,
);

fn start_election(ns: &TestNamespace, identity: &'static str, settings: &str) -> Election {
    let metrics = tidegate::metrics::Metrics::default();
    let fence = std::sync::Arc::new(tidegate::leader::Fence::new(&metrics));
    let config: tidegate::config::LeaderElectionConfig =
        serde_saphyr::from_str(settings).expect("election settings");
    let (sender, leading) = tokio::sync::watch::channel(false);
    let (client, namespace, election_fence) = (ns.client(), ns.name().to_owned(), fence.clone());
    let task = tokio::spawn(async move {
        // Never stopped: the test aborts the task.
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        tidegate::leader::run(
            client,
            &namespace,
            &config,
            identity,
            election_fence,
            &sender,
            stopped,
        )
        .await
    });
    (fence, leading, task)
}

/// Waits until the election of `leading` leads.
async fn wait_to_lead(leading: &mut tokio::sync::watch::Receiver<bool>) {
    wait_for("leadership", TIMEOUT, || {
        std::future::ready((*leading.borrow_and_update()).then_some(()))
    })
    .await;
}

#[tokio::test]
async fn the_write_fence_closes_at_the_renew_deadline_before_the_lease_can_be_taken() {
    let ns = TestNamespace::create("fence").await;
    let (fence, mut leading, election) = start_election(
        &ns,
        "fence-test",
        "leaseDuration: 8s\nrenewDeadline: 2s\nretryPeriod: 1s\n",
    );
    wait_to_lead(&mut leading).await;
    let fenced = tidegate::leader::fenced(ns.client(), fence.clone());
    let maps = k8s::Api::<k8s::ConfigMap>::namespaced(fenced, ns.name());
    let map = |name: &str| -> k8s::ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("a ConfigMap")
    };
    maps.create(&k8s::PostParams::default(), &map("while-leading"))
        .await
        .expect("the leader writes");

    let renewed = ns
        .api::<Lease>()
        .get("tidegate-leader")
        .await
        .expect("the Lease")
        .spec
        .and_then(|spec| spec.renew_time)
        .expect("a renewed lease")
        .0;
    // The election stops renewing (it may release the lease or not: the fence must not care).
    election.abort();
    wait_for("the fence to close", TIMEOUT, || {
        std::future::ready((!fence.is_open()).then_some(()))
    })
    .await;
    let closed_at = jiff::Timestamp::now();
    let refused = maps
        .create(&k8s::PostParams::default(), &map("after-the-deadline"))
        .await
        .expect_err("no write once the renew deadline passed");
    assert!(
        k8s::describe_error(&refused).contains("not the leader"),
        "{refused}"
    );
    maps.get("while-leading").await.expect("reads still pass");
    let expires = renewed + jiff::SignedDuration::from_secs(8);
    assert!(
        closed_at < expires,
        "the fence closed ({closed_at}) before the lease renewed at {renewed} or later could expire ({expires} or later)"
    );
    assert!(
        maps.get_opt("after-the-deadline")
            .await
            .expect("read")
            .is_none()
    );
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_readyz_waits_for_the_first_look() {
    let ns = TestNamespace::create("observe").await;
    install_crds(&ns.client()).await;
    // A remote that takes three seconds to answer (and then answers nonsense): the daemon is
    // not ready until it has looked once.
    let slow = crate::support::http::HttpServer::start(|_| crate::support::http::Response {
        status: 404,
        body: String::new(),
        delay: Duration::from_secs(3),
    })
    .await;
    let daemon = crate::support::daemon::Daemon::start_controlling(
        &ns,
        &format!(
            "- name: slow\n  url: {}\n  namespace: {}\n  interval: 1h\n  writeBack: {{}}\n",
            slow.url("/repo.git"),
            ns.name()
        ),
        "",
    );
    let status = |path: &'static str| {
        let url = daemon.url(path);
        async move { Some(reqwest::get(url).await.ok()?.status().as_u16()) }
    };
    let not_ready = wait_for("the server to answer", TIMEOUT, || status("/healthz")).await;
    assert_eq!(not_ready, 200, "alive at once");
    assert_eq!(
        status("/readyz").await,
        Some(503),
        "not ready before the first look"
    );
    wait_for("ready after the first look", TIMEOUT, || async {
        (status("/readyz").await? == 200).then_some(())
    })
    .await;

    apply(&ns, "web:1").await;
    wait_for_object(&ns.api::<Rollout>(), "web", TIMEOUT, healthy_on("web:1")).await;
    let page = wait_for("the Rollout's metrics", TIMEOUT, || async {
        let page = daemon.scrape().await?;
        page.contains("tidegate_rollout_phase{").then_some(page)
    })
    .await;
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool (Debian's prometheus package)");
    std::io::Write::write_all(&mut check.stdin.take().expect("stdin"), page.as_bytes())
        .expect("feed promtool");
    let checked = check.wait_with_output().expect("promtool ends");
    // Exit 1 is a parse error; 3 only lint remarks: promtool reads the classic text format,
    // where OpenMetrics counters (HELP on `x`, samples on `x_total`) look unexplained.
    assert!(
        matches!(checked.status.code(), Some(0 | 3)),
        "promtool could not parse /metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    for family in [
        "tidegate_reconciles_total{controller=\"rollout\",result=\"ok\"}",
        "tidegate_reconcile_duration_seconds_bucket{",
        &format!(
            "tidegate_rollout_phase{{namespace=\"{}\",rollout=\"web\",phase=\"Healthy\"}} 1",
            ns.name()
        ),
        "tidegate_rollout_step{",
        "tidegate_rollout_canary_weight{",
        "tidegate_git_fetch_duration_seconds_count{source=\"slow\"} ",
        "tidegate_git_fetch_errors_total{source=\"slow\"} ",
        "tidegate_writeback_queue_length{source=\"slow\"} 0",
        "tidegate_leader 1",
        "tidegate_kube_write_requests_total{result=\"sent\"} ",
    ] {
        assert!(page.contains(family), "{family} missing from:\n{page}");
    }
    for unbounded in ["pod=", "revision=", "hash="] {
        assert!(
            !page.contains(unbounded),
            "a per-{unbounded} label in:\n{page}"
        );
    }
    daemon.stop().await;
}

/// Two replicas start together on an abandoned Lease whose renewTime an hour-behind clock
/// wrote: one takes it (once), after a lease duration of its own clock, and their fences are
/// never seen open together. (That two writes decided on one read cannot both win is
/// `of_two_takeovers_decided_on_the_same_read_only_one_is_written`.)
#[tokio::test]
async fn two_replicas_racing_for_an_abandoned_lease_never_both_lead() {
    let ns = TestNamespace::create("lease-race").await;
    let abandoned: Lease = serde_json::from_value(json!({
        "metadata": {"name": "tidegate-leader"},
        "spec": {
            "holderIdentity": "a-replica-that-died",
            "leaseDurationSeconds": 2,
            // Written by a clock an hour behind: it must not matter.
            "renewTime": (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1)).to_string(),
        },
    }))
    .expect("a Lease");
    ns.api::<Lease>()
        .create(&k8s::PostParams::default(), &abandoned)
        .await
        .expect("create the Lease");
    let replicas: Vec<(&'static str, Election)> = ["left", "right"]
        .into_iter()
        .map(|identity| {
            let settings = "leaseDuration: 2s\nrenewDeadline: 1s\nretryPeriod: 200ms\n";
            (identity, start_election(&ns, identity, settings))
        })
        .collect();
    let fences: Vec<(&'static str, std::sync::Arc<tidegate::leader::Fence>)> = replicas
        .iter()
        .map(|(identity, (fence, _, _))| (*identity, fence.clone()))
        .collect();
    let open = || {
        fences
            .iter()
            .filter(|(_, fence)| fence.is_open())
            .map(|(identity, _)| *identity)
            .collect::<Vec<_>>()
    };
    // Sampled often, through the takeover and a few renewals after it.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let mut led_since = None;
    loop {
        let leaders = open();
        assert!(leaders.len() < 2, "two leaders at once: {leaders:?}");
        match (leaders.first(), led_since) {
            (Some(_), None) => led_since = Some(tokio::time::Instant::now()),
            (Some(_), Some(since)) if since.elapsed() > Duration::from_secs(3) => break,
            (None, _) => led_since = None,
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nobody took the lease"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let leader = open()[0];
    let spec = ns
        .api::<Lease>()
        .get("tidegate-leader")
        .await
        .expect("the Lease")
        .spec
        .expect("a spec");
    assert_eq!(spec.holder_identity.as_deref(), Some(leader));
    assert_eq!(spec.lease_transitions, Some(1), "one takeover, not two");
    for (_, (_, _, task)) in replicas {
        task.abort();
    }
}

/// Two replicas that decided on the same read of a Lease both write it: the resourceVersion
/// the write carries lets only the first through.
#[tokio::test]
async fn of_two_takeovers_decided_on_the_same_read_only_one_is_written() {
    let ns = TestNamespace::create("lease-precondition").await;
    let leases = ns.api::<Lease>();
    let abandoned: Lease = serde_json::from_value(json!({
        "metadata": {"name": "tidegate-leader"},
        "spec": {"holderIdentity": "a-replica-that-died", "leaseDurationSeconds": 2},
    }))
    .expect("a Lease");
    leases
        .create(&k8s::PostParams::default(), &abandoned)
        .await
        .expect("create the Lease");
    let read = leases.get("tidegate-leader").await.expect("read the Lease");
    let lease_duration = Duration::from_secs(2);
    let left = tidegate::leader::write_held(&leases, &read, "left", lease_duration, true).await;
    let right = tidegate::leader::write_held(&leases, &read, "right", lease_duration, true).await;
    assert!(left.is_ok(), "{left:?}");
    let lost = right.expect_err("the second takeover on the same read");
    assert!(k8s::is_conflict(&lost), "{lost}");
    let spec = leases
        .get("tidegate-leader")
        .await
        .expect("the Lease")
        .spec
        .expect("a spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("left"));
    assert_eq!(spec.lease_transitions, Some(1));
}

/// A write that passed the fence while this replica led but is sent only after the renew
/// deadline (held at the `kube-write-in-flight` failpoint, as a request waiting for a
/// connection would be) is not sent: the fence is checked again as it leaves.
#[cfg(feature = "failpoints")]
#[tokio::test]
async fn a_write_in_flight_when_the_leader_stops_renewing_is_not_sent() {
    let ns = TestNamespace::create("fence-in-flight").await;
    let (fence, mut leading, election) = start_election(
        &ns,
        "in-flight-test",
        "leaseDuration: 8s\nrenewDeadline: 2s\nretryPeriod: 1s\n",
    );
    wait_to_lead(&mut leading).await;
    let maps = k8s::Api::<k8s::ConfigMap>::namespaced(
        tidegate::leader::fenced(ns.client(), fence.clone()),
        ns.name(),
    );
    let map: k8s::ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "sent-too-late"}})).expect("a map");
    // The write passes the fence now and is held past the renew deadline; the election stops
    // renewing meanwhile.
    tidegate::failpoints::configure("kube-write-in-flight", "1*return(4000)")
        .expect("configure the failpoint");
    let write = tokio::spawn(async move { maps.create(&k8s::PostParams::default(), &map).await });
    election.abort();
    let refused = write
        .await
        .expect("the write task")
        .expect_err("no write leaves after the deadline");
    tidegate::failpoints::configure("kube-write-in-flight", "off").expect("turn it off");
    assert!(
        k8s::describe_error(&refused).contains("not the leader"),
        "{refused}"
    );
    assert!(
        ns.api::<k8s::ConfigMap>()
            .get_opt("sent-too-late")
            .await
            .expect("read")
            .is_none(),
        "the write reached the apiserver"
    );
}
