//! Write-back end to end: outcome records on the status branch of a real `git http-backend`
//! (a moved branch, an outage), rollback to Git after failed analysis, and the real Gitea:
//! commit statuses through a canary, promotion pull requests merged or closed, revert pull
//! requests.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use tidegate::config::AuthConfig;
use tidegate::k8s::crd::Rollout;
use tidegate::k8s::labels;
use tidegate::sync::{Records, SyncResult};
use tidegate::writeback::{Author, Change, Edit, GitWriter, Written};

use crate::support::daemon::Daemon;
use crate::support::git::{GitServer, Repo, TempDir};
use crate::support::gitea::Gitea;
use crate::support::http::{HttpServer, Response};
use crate::support::rollout::{act, rollout_notes};
use crate::support::{TIMEOUT, TestNamespace, healthy_on, install_crds, wait_for, wait_for_object};

const CREDENTIALS: &str = "tidegate:s3cret-token";

/// A token file for `CREDENTIALS`' password.
fn password_file(dir: &TempDir) -> std::path::PathBuf {
    let path = dir.path().join("git-password");
    std::fs::write(&path, "s3cret-token\n").expect("write the password file");
    path
}

fn writer(cache: &Path, url: &str, password: &Path) -> GitWriter {
    let auth: AuthConfig = serde_saphyr::from_str(&format!(
        "username: tidegate\npassword: {{file: {}}}\n",
        password.display()
    ))
    .expect("auth");
    GitWriter::new(
        cache,
        url,
        Some(&auth),
        Author {
            name: "tidegate".into(),
            email: "tidegate@example.com".into(),
        },
    )
}

fn file(path: &str, content: &str) -> Change {
    Change {
        path: path.into(),
        content: Some(content.as_bytes().to_vec()),
    }
}

#[test]
fn a_push_rejected_because_the_branch_moved_is_applied_again_on_the_new_tip() {
    let server = GitServer::start(Some(CREDENTIALS));
    let repo = server.repo("records");
    repo.write("README.md", "records\n").commit("initial");
    let dir = TempDir::new("writer");
    let password = password_file(&dir);
    let ours = writer(&dir.path().join("ours"), &server.url("records"), &password);
    let theirs = writer(
        &dir.path().join("theirs"),
        &server.url("records"),
        &password,
    );
    let branch = "tidegate/status";

    let first = ours
        .commit(branch, None, &mut |_| {
            Ok(Edit {
                message: "web: promoted".into(),
                changes: vec![file("rollouts/shop/web.yaml", "outcome: promoted\n")],
            })
        })
        .expect("first record");
    assert!(matches!(first, Written::Committed { .. }), "{first:?}");

    // Another writer pushes between our fetch and our push: ours is rejected, fetched again
    // and re-applied on top of theirs.
    let attempts = AtomicUsize::new(0);
    let written = ours
        .commit(branch, None, &mut |_| {
            if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                theirs
                    .commit(branch, None, &mut |_| {
                        Ok(Edit {
                            message: "api: promoted".into(),
                            changes: vec![file("rollouts/shop/api.yaml", "outcome: promoted\n")],
                        })
                    })
                    .expect("the other writer pushes");
            }
            Ok(Edit {
                message: "checkout: aborted".into(),
                changes: vec![file("rollouts/shop/checkout.yaml", "outcome: aborted\n")],
            })
        })
        .expect("second record");
    assert!(matches!(written, Written::Committed { .. }), "{written:?}");
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        2,
        "the edit ran again on the new tip"
    );
    assert_eq!(
        server.log("records", branch, "%s"),
        ["checkout: aborted", "api: promoted", "web: promoted"],
        "nothing was lost and nothing forced"
    );
    for path in ["web", "api", "checkout"] {
        assert!(
            server
                .show("records", branch, &format!("rollouts/shop/{path}.yaml"))
                .is_some(),
            "{path}.yaml is on the branch"
        );
    }

    // Writing what the branch already holds commits nothing.
    let again = ours
        .commit(branch, None, &mut |_| {
            Ok(Edit {
                message: "checkout: aborted".into(),
                changes: vec![file("rollouts/shop/checkout.yaml", "outcome: aborted\n")],
            })
        })
        .expect("a repeated record");
    assert!(matches!(again, Written::AlreadyThere { .. }), "{again:?}");
    assert_eq!(server.log("records", branch, "%s").len(), 3);
}

/// A canary Rollout manifest for Git: `image`, then `steps`.
fn rollout(image: &str, steps: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n  strategy:\n    canary:\n      steps:\n{steps}"
    )
}

const QUICK_STEPS: &str = "      - setWeight: 50\n      - pause: {duration: 1}\n";
const APPROVAL_STEPS: &str = "      - setWeight: 50\n      - pause: {}\n";
const ANALYSIS_STEPS: &str = "      - setWeight: 50\n      - analysis:\n          templates:\n          - templateName: error-rate\n";

/// An AnalysisTemplate reading `{"rate": …}` from `url`; below 0.1 passes.
fn error_rate_template(url: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: error-rate\nspec:\n  metrics:\n  - name: error-rate\n    successCondition: result < 0.1\n    provider:\n      web:\n        url: {url}\n        jsonPath: \"{{$.rate}}\"\n"
    )
}

/// A source entry for the daemon's configuration.
fn source(ns: &TestNamespace, url: &str, password: &Path, extra: &str) -> String {
    format!(
        "- name: apps\n  url: {url}\n  namespace: {}\n  interval: 1s\n  auth:\n    username: tidegate\n    password: {{file: {}}}\n{extra}",
        ns.name(),
        password.display()
    )
}

const ANALYSIS_ON_LOOPBACK: &str = "analysis:\n  allowedHosts: [127.0.0.1/32]\n";

fn record_of(text: &str) -> tidegate::writeback::OutcomeRecord {
    tidegate::writeback::OutcomeRecord::from_yaml(text)
        .unwrap_or_else(|| panic!("not an outcome record:\n{text}"))
}

#[tokio::test]
async fn outcome_records_reach_the_status_branch_even_through_an_outage() {
    let ns = TestNamespace::create("records").await;
    install_crds(&ns.client()).await;
    let mut server = GitServer::start(Some(CREDENTIALS));
    let repo = server.repo("deploy");
    let first = repo
        .write("web.yaml", rollout("web:1", QUICK_STEPS))
        .commit("web 1");
    let secrets = TempDir::new("secrets");
    let password = password_file(&secrets);
    let daemon = Daemon::start_controlling(
        &ns,
        &source(&ns, &server.url("deploy"), &password, "  writeBack: {}\n"),
        "",
    );
    let rollouts = ns.api::<Rollout>();
    let record_path = format!("rollouts/{}/web.yaml", ns.name());
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:1")).await;
    let promoted = wait_for("the first record", TIMEOUT, || async {
        server.show("deploy", "tidegate/status", &record_path)
    })
    .await;
    let promoted = record_of(&promoted);
    assert_eq!(promoted.source.commit, first);
    assert_eq!(
        promoted.outcome,
        Some(tidegate::writeback::Outcome::Promoted)
    );
    assert_eq!(promoted.revision.images, ["web:1"]);

    let second = repo
        .write("web.yaml", rollout("web:2", QUICK_STEPS))
        .commit("web 2");
    wait_for_object(&rollouts, "web", TIMEOUT, |rollout: Option<&Rollout>| {
        rollout.is_some_and(|rollout| {
            rollout.annotations_commit() == Some(second.as_str())
                && rollout
                    .status
                    .as_ref()
                    .is_some_and(|status| status.current_step_index.is_some())
        })
    })
    .await;
    // The remote goes down while the canary finishes: the record waits in the queue.
    server.stop();
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:2")).await;
    let queue = daemon.cache_dir().join(".writeback/apps/queue");
    wait_for("the record queued on disk", TIMEOUT, || async {
        std::fs::read_dir(&queue)
            .ok()?
            .filter_map(Result::ok)
            .any(|entry| entry.file_name().to_string_lossy().ends_with(".json"))
            .then_some(())
    })
    .await;
    assert_eq!(
        record_of(
            &server
                .show("deploy", "tidegate/status", &record_path)
                .expect("the first record")
        )
        .source
        .commit,
        first,
        "nothing reached the remote while it was down"
    );
    server.resume();
    let record = wait_for("the queued record pushed", TIMEOUT, || async {
        let text = server.show("deploy", "tidegate/status", &record_path)?;
        let record = record_of(&text);
        (record.source.commit == second).then_some(record)
    })
    .await;
    assert_eq!(record.outcome, Some(tidegate::writeback::Outcome::Promoted));
    assert_eq!(record.steps, 2);
    assert!(
        record
            .timeline
            .iter()
            .any(|entry| entry.event.starts_with("step 2/2 done")),
        "{:#?}",
        record.timeline
    );
    let subjects = server.log("deploy", "tidegate/status", "%s %an");
    assert_eq!(
        subjects[0],
        format!(
            "web: promoted {} to 100% after 2 steps tidegate",
            &second[..7]
        )
    );
    assert_eq!(
        server.log("deploy", "main", "%H")[0],
        second,
        "records never touch the tracked branch"
    );
    daemon.stop().await;
}

/// `tidegate.dev/commit` of a Rollout.
trait Stamped {
    fn annotations_commit(&self) -> Option<&str>;
}

impl Stamped for Rollout {
    fn annotations_commit(&self) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()?
            .get(labels::COMMIT)
            .map(String::as_str)
    }
}

/// A web endpoint answering `{"rate": <rate>}`.
async fn error_rate(rate: f64) -> HttpServer {
    HttpServer::start(move |_| Response::ok(format!("{{\"rate\": {rate}}}"))).await
}

#[tokio::test]
async fn failed_analysis_reverts_the_change_in_git_and_the_cluster_agrees() {
    let ns = TestNamespace::create("revert").await;
    install_crds(&ns.client()).await;
    let server = GitServer::start(Some(CREDENTIALS));
    let metrics = error_rate(0.5).await;
    let repo = server.repo("deploy");
    let good = repo
        .write("apps/web/rollout.yaml", rollout("web:1", ANALYSIS_STEPS))
        .write(
            "apps/web/analysis.yaml",
            error_rate_template(&metrics.url("/rate")),
        )
        .write("README.md", "deploy\n")
        .commit("web 1");
    let secrets = TempDir::new("secrets");
    let password = password_file(&secrets);
    let daemon = Daemon::start_controlling(
        &ns,
        &source(
            &ns,
            &server.url("deploy"),
            &password,
            "  path: apps\n  onAbort: revert\n  writeBack: {}\n",
        ),
        ANALYSIS_ON_LOOPBACK,
    );
    let rollouts = ns.api::<Rollout>();
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:1")).await;

    let bad = repo
        .write("apps/web/rollout.yaml", rollout("web:2", ANALYSIS_STEPS))
        .commit("web 2");
    // The revert lands on main, is synced, and the Rollout is back on web:1.
    let revert = wait_for("the revert commit on main", TIMEOUT, || async {
        let log = server.log("deploy", "main", "%H%n%B%n--");
        (log[0] != bad).then(|| log.join("\n"))
    })
    .await;
    assert!(revert.contains("Revert \"web 2\""), "{revert}");
    assert!(
        revert.contains(&format!("This reverts commit {bad}.")),
        "{revert}"
    );
    assert!(
        revert.contains(&format!("Tidegate-Revert: {bad}")),
        "{revert}"
    );
    assert_eq!(
        server.show("deploy", "main", "apps/web/rollout.yaml"),
        server.show("deploy", &good, "apps/web/rollout.yaml"),
        "the Rollout's file is back to the good version"
    );
    let revert_commit = server.log("deploy", "main", "%H")[0].clone();
    let back = wait_for_object(&rollouts, "web", TIMEOUT, |rollout: Option<&Rollout>| {
        rollout.is_some_and(|rollout| {
            rollout.annotations_commit() == Some(revert_commit.as_str())
                && healthy_on("web:1")(Some(rollout))
        })
    })
    .await
    .expect("the Rollout exists");
    let status = back.status.expect("status");
    assert_eq!(
        status.stable_rs, status.current_pod_hash,
        "the cluster runs web:1 again"
    );
    assert!(!status.abort, "the revert is a plain update back to stable");

    let records = Records::new(ns.client(), ns.name());
    let synced = records
        .status("apps")
        .await
        .expect("read the source status");
    assert_eq!(
        synced.applied_revision.as_deref(),
        Some(revert_commit.as_str())
    );
    assert_eq!(
        synced.result,
        SyncResult::Applied,
        "Git and the cluster agree"
    );
    assert_aborted_record(&server, &ns, &bad, &revert_commit).await;
    assert_eq!(
        server.log("deploy", "main", "%H").len(),
        3,
        "exactly one revert: tidegate does not revert its own revert"
    );
    daemon.stop().await;
}

/// The status branch holds the aborted record of `bad`, reverted by `revert`, with the
/// failed analysis and its measured value.
async fn assert_aborted_record(server: &GitServer, ns: &TestNamespace, bad: &str, revert: &str) {
    // The branch's file moves on to the next revision (the revert's own, promoted at once);
    // the aborted record is the commit that says so.
    let subject = format!("web: aborted {}, reverted in {}", &bad[..7], &revert[..7]);
    let record_commit = wait_for("the aborted record with its revert", TIMEOUT, || async {
        server
            .log("deploy", "tidegate/status", "%H %s")
            .into_iter()
            .find_map(|line| {
                let (commit, found) = line.split_once(' ')?;
                found.starts_with(&subject).then(|| commit.to_owned())
            })
    })
    .await;
    let record = record_of(
        &server
            .show(
                "deploy",
                &record_commit,
                &format!("rollouts/{}/web.yaml", ns.name()),
            )
            .expect("the record file"),
    );
    assert_eq!(record.source.commit, bad);
    assert_eq!(record.outcome, Some(tidegate::writeback::Outcome::Aborted));
    assert_eq!(record.reverted_by.as_deref(), Some(revert));
    assert!(
        record.analysis.iter().any(|run| run.phase == "Failed"
            && run
                .metrics
                .iter()
                .any(|metric| metric.name == "error-rate" && metric.values == ["0.5"])),
        "{:#?}",
        record.analysis
    );
}

/// Gitea: a repository with a push webhook to the daemon, and the daemon's source for it.
struct GiteaSetup {
    gitea: Gitea,
    name: String,
    repo: Repo,
    daemon: Daemon,
    _secrets: TempDir,
}

async fn gitea_setup(
    ns: &TestNamespace,
    repo_name: &str,
    files: &[(&str, String)],
    extra: &str,
) -> (GiteaSetup, String) {
    let gitea = Gitea::from_env();
    let name = format!("{repo_name}-{}", ns.name());
    gitea.create_repo(&name).await;
    let repo = Repo::pushing_to(&gitea.push_url(&name));
    for (path, content) in files {
        repo.write(path, content);
    }
    let first = repo.commit("initial");
    let secrets = TempDir::new("secrets");
    let hook_secret = secrets.path().join("webhook");
    std::fs::write(&hook_secret, "hook-secret").expect("write the webhook secret");
    let sources = format!(
        "- name: apps\n  url: {url}\n  namespace: {ns}\n  interval: 1h\n  auth:\n    username: {user}\n    password: {{file: {token}}}\n  writeBack: {{}}\n  forge:\n    type: gitea\n    url: {gitea}\n    repository: {full}\n    token: {{file: {token}}}\n{extra}",
        url = gitea.clone_url(&name),
        ns = ns.name(),
        user = gitea.user,
        token = gitea.token_file.display(),
        gitea = gitea.url,
        full = gitea.full_name(&name),
    );
    let daemon = Daemon::start_controlling(
        ns,
        &sources,
        &format!(
            "webhook:\n  secret: {{file: {}}}\n{ANALYSIS_ON_LOOPBACK}",
            hook_secret.display()
        ),
    );
    gitea
        .add_push_hook(&name, &daemon.url("/hooks/git"), "hook-secret")
        .await;
    (
        GiteaSetup {
            gitea,
            name,
            repo,
            daemon,
            _secrets: secrets,
        },
        first,
    )
}

/// Waits until commit `sha` has a status of `context` in `state` whose description contains
/// `text`; returns the description.
async fn status_of(
    setup: &GiteaSetup,
    sha: &str,
    context: &str,
    state: &str,
    text: &str,
) -> String {
    wait_for(
        &format!("status {state} ({text}) on {sha}"),
        TIMEOUT,
        || async {
            setup
                .gitea
                .statuses(&setup.name, sha)
                .await
                .into_iter()
                .find(|(found, _, _)| found == context)
                .filter(|(_, found, description)| found == state && description.contains(text))
                .map(|(_, _, description)| description)
        },
    )
    .await
}

/// Waits for an open pull request whose branch starts with `prefix`; returns (number, head).
async fn open_pull(setup: &GiteaSetup, prefix: &str) -> (u64, String) {
    wait_for(
        &format!("an open pull request from {prefix}…"),
        TIMEOUT,
        || async {
            setup
                .gitea
                .pulls(&setup.name, "open")
                .await
                .into_iter()
                .find_map(|pull| {
                    let head = pull["head"]["ref"].as_str()?.to_owned();
                    head.starts_with(prefix)
                        .then(|| (pull["number"].as_u64().expect("a number"), head))
                })
        },
    )
    .await
}

#[tokio::test]
async fn gitea_statuses_and_promotion_pull_requests_drive_a_canary() {
    let ns = TestNamespace::create("gitea").await;
    install_crds(&ns.client()).await;
    let (setup, first) = gitea_setup(
        &ns,
        "approvals",
        &[("web.yaml", rollout("web:1", APPROVAL_STEPS))],
        "",
    )
    .await;
    let context = format!("tidegate/{}/web", ns.name());
    let rollouts = ns.api::<Rollout>();
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:1")).await;
    status_of(&setup, &first, &context, "success", "promoted").await;

    // A new image: pending at the pause, and a promotion pull request to approve it.
    let second = setup
        .repo
        .write("web.yaml", rollout("web:2", APPROVAL_STEPS))
        .commit("web 2");
    let waiting = status_of(&setup, &second, &context, "pending", "waiting for approval").await;
    assert_eq!(waiting, "step 2/2: weight 50%: waiting for approval");
    let (number, head) = open_pull(&setup, "tidegate/promote/").await;
    let diff = setup.gitea.diff(&setup.name, number).await;
    assert!(
        diff.contains(&format!(".tidegate/approvals/{}/web.yaml", ns.name())),
        "{diff}"
    );
    assert!(
        rollouts
            .get("web")
            .await
            .expect("get")
            .status
            .expect("status")
            .current_step_index
            == Some(1),
        "still paused before the merge"
    );
    // Merging releases the pause (the push webhook triggers the sync).
    setup.gitea.merge(&setup.name, number).await;
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:2")).await;
    let promoted = status_of(&setup, &second, &context, "success", "").await;
    assert_eq!(promoted, "promoted to 100% after 2 steps");
    assert!(
        head.starts_with(&format!("tidegate/promote/{}-web-", ns.name())),
        "{head}"
    );
    let record = wait_for("the promoted record with its approver", TIMEOUT, || async {
        let text = setup
            .gitea
            .raw(
                &setup.name,
                "tidegate/status",
                &format!("rollouts/{}/web.yaml", ns.name()),
            )
            .await?;
        let record = record_of(&text);
        (record.source.commit == second
            && record.outcome == Some(tidegate::writeback::Outcome::Promoted))
        .then_some(record)
    })
    .await;
    assert_eq!(record.approvals.len(), 1, "{:#?}", record.approvals);
    assert_eq!(
        record.approvals[0].by, setup.gitea.user,
        "the merger approved"
    );
    assert_eq!(record.approvals[0].via, "pull-request");

    // A rejected promotion: closing the pull request aborts the rollout.
    setup.repo.pull();
    let third = setup
        .repo
        .write("web.yaml", rollout("web:3", APPROVAL_STEPS))
        .commit("web 3");
    let (number, _) = open_pull(&setup, "tidegate/promote/").await;
    setup.gitea.close(&setup.name, number).await;
    wait_for_object(&rollouts, "web", TIMEOUT, |rollout: Option<&Rollout>| {
        rollout
            .and_then(|rollout| rollout.status.as_ref())
            .is_some_and(|status| status.abort)
    })
    .await;
    status_of(&setup, &third, &context, "failure", "aborted").await;
    setup.daemon.stop().await;
}

#[tokio::test]
async fn revert_pr_opens_a_pull_request_that_reverts_the_bad_commit() {
    let ns = TestNamespace::create("revert-pr").await;
    install_crds(&ns.client()).await;
    let metrics = error_rate(0.5).await;
    let (setup, _) = gitea_setup(
        &ns,
        "revert-pr",
        &[
            ("web.yaml", rollout("web:1", ANALYSIS_STEPS)),
            ("analysis.yaml", error_rate_template(&metrics.url("/rate"))),
        ],
        "  onAbort: revert-pr\n",
    )
    .await;
    let rollouts = ns.api::<Rollout>();
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:1")).await;
    let bad = setup
        .repo
        .write("web.yaml", rollout("web:2", ANALYSIS_STEPS))
        .commit("web 2");
    let (number, head) = open_pull(&setup, "tidegate/revert/").await;
    assert!(head.ends_with(&bad[..7]), "{head}");
    let diff = setup.gitea.diff(&setup.name, number).await;
    assert!(diff.contains("-        image: web:2"), "{diff}");
    assert!(diff.contains("+        image: web:1"), "{diff}");
    let aborted = rollouts
        .get("web")
        .await
        .expect("get")
        .status
        .expect("status");
    assert!(aborted.abort, "the analysis failure aborted the rollout");
    setup.daemon.stop().await;
}

/// Files under `dir` whose path has a `queue` directory: write-back jobs waiting on disk.
fn queued_jobs(dir: &Path) -> usize {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.components().any(|part| part.as_os_str() == "queue")
                && path
                    .extension()
                    .is_some_and(|extension| extension == "json")
            {
                count += 1;
            }
        }
    }
    count
}

/// A replica that takes over between the abort and the revert (the first one's queue lost
/// with its disk) reverts what the first would have: the commit that brought the failed
/// revision, as its ReplicaSet recorded it — never a later, harmless edit of the Rollout's
/// file that happens to be the newest commit. Here that commit cannot be reverted cleanly
/// (the later edit changed the same file), so nothing is reverted and the Rollout says why.
#[tokio::test]
async fn a_replica_taking_over_between_abort_and_revert_never_reverts_a_later_edit() {
    let ns = TestNamespace::create("revert-takeover").await;
    install_crds(&ns.client()).await;
    let mut server = GitServer::start(Some(CREDENTIALS));
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let metrics = {
        let failing = failing.clone();
        HttpServer::start(move |_| {
            let rate = if failing.load(Ordering::SeqCst) {
                0.5
            } else {
                0.0
            };
            Response::ok(format!("{{\"rate\": {rate}}}"))
        })
        .await
    };
    // Measured every second for long: the analysis step runs until the rate turns bad.
    let template = error_rate_template(&metrics.url("/rate")).replace(
        "    successCondition:",
        "    count: 1000\n    interval: 1s\n    successCondition:",
    );
    let repo = server.repo("deploy");
    let good = repo
        .write("apps/web/rollout.yaml", rollout("web:1", ANALYSIS_STEPS))
        .write("apps/web/analysis.yaml", template)
        .commit("web 1");
    let secrets = TempDir::new("secrets");
    let password = password_file(&secrets);
    let config = source(
        &ns,
        &server.url("deploy"),
        &password,
        "  path: apps\n  onAbort: revert\n",
    );
    let first = Daemon::start_controlling(&ns, &config, ANALYSIS_ON_LOOPBACK);
    let rollouts = ns.api::<Rollout>();
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:1")).await;

    let bad = repo
        .write("apps/web/rollout.yaml", rollout("web:2", ANALYSIS_STEPS))
        .commit("web 2");
    let measuring = |commit: String| {
        move |rollout: Option<&Rollout>| {
            rollout.is_some_and(|rollout| {
                rollout.annotations_commit() == Some(commit.as_str())
                    && rollout.status.as_ref().is_some_and(|status| {
                        status
                            .canary
                            .as_ref()
                            .is_some_and(|canary| canary.current_step_analysis_run_status.is_some())
                    })
            })
        }
    };
    wait_for_object(&rollouts, "web", TIMEOUT, measuring(bad.clone())).await;
    // A later edit of the Rollout's file that changes no pod template: no new revision.
    let later = repo
        .write(
            "apps/web/rollout.yaml",
            rollout("web:2", ANALYSIS_STEPS).replace(
                "  name: web\n",
                "  name: web\n  annotations: {team: payments}\n",
            ),
        )
        .commit("web: name the owning team");
    wait_for_object(&rollouts, "web", TIMEOUT, measuring(later.clone())).await;

    // Git goes down, the analysis fails, the first replica queues the revert and dies.
    server.stop();
    failing.store(true, Ordering::SeqCst);
    wait_for_object(&rollouts, "web", TIMEOUT, |rollout: Option<&Rollout>| {
        rollout.is_some_and(|rollout| rollout.status.as_ref().is_some_and(|status| status.abort))
    })
    .await;
    wait_for(
        "the revert queued by the first replica",
        TIMEOUT,
        || async { (queued_jobs(first.cache_dir()) > 0).then_some(()) },
    )
    .await;
    first.stop().await;

    server.resume();
    let second = Daemon::start_controlling(&ns, &config, ANALYSIS_ON_LOOPBACK);
    let refusal = wait_for(
        "the second replica's answer about the revert",
        TIMEOUT,
        || async {
            rollout_notes(&ns)
                .await
                .into_iter()
                .find(|note| note.contains("does not apply cleanly"))
        },
    )
    .await;
    assert!(refusal.contains(revert_short(&bad)), "{refusal}");
    assert_eq!(
        server.log("deploy", "main", "%H"),
        [later.clone(), bad, good],
        "nothing reverted: not the later edit, and not a revert that does not apply"
    );
    second.stop().await;
}

fn revert_short(commit: &str) -> &str {
    tidegate::writeback::revert::short(commit)
}

/// A replica that cannot read the status branch when it starts does not track the Rollout
/// with a fresh record (which would overwrite the branch's timeline): it says so and waits,
/// and the record it writes later continues the one the first replica wrote.
#[tokio::test]
async fn an_unreadable_status_branch_never_replaces_the_record() {
    let ns = TestNamespace::create("record-unread").await;
    install_crds(&ns.client()).await;
    let mut server = GitServer::start(Some(CREDENTIALS));
    let repo = server.repo("deploy");
    repo.write("web.yaml", rollout("web:1", APPROVAL_STEPS))
        .commit("web 1");
    let secrets = TempDir::new("secrets");
    let password = password_file(&secrets);
    let config = source(
        &ns,
        &server.url("deploy"),
        &password,
        "  writeBack: {everyStep: true}\n",
    );
    let first = Daemon::start_controlling(&ns, &config, "");
    let rollouts = ns.api::<Rollout>();
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:1")).await;
    let second = repo
        .write("web.yaml", rollout("web:2", APPROVAL_STEPS))
        .commit("web 2");
    let record_path = format!("rollouts/{}/web.yaml", ns.name());
    let paused = wait_for("the record of the pause", TIMEOUT, || async {
        let record = record_of(&server.show("deploy", "tidegate/status", &record_path)?);
        (record.source.commit == second
            && record
                .timeline
                .iter()
                .any(|entry| entry.event.contains("paused")))
        .then_some(record)
    })
    .await;
    first.stop().await;

    server.stop();
    let second_replica = Daemon::start_controlling(&ns, &config, "");
    wait_for("the delay announced", TIMEOUT, || async {
        rollout_notes(&ns)
            .await
            .iter()
            .any(|note| note.contains("cannot be read yet"))
            .then_some(())
    })
    .await;
    assert_eq!(
        queued_jobs(second_replica.cache_dir()),
        0,
        "nothing queued from a record that could not be read"
    );
    server.resume();
    act(&ns, |rollout, state| {
        tidegate::engine::promote(&rollout.spec.plan().unwrap(), state)
    })
    .await;
    let promoted = wait_for("the record of the promotion", TIMEOUT, || async {
        let record = record_of(&server.show("deploy", "tidegate/status", &record_path)?);
        (record.outcome == Some(tidegate::writeback::Outcome::Promoted)).then_some(record)
    })
    .await;
    assert_eq!(
        promoted.timeline[..paused.timeline.len()],
        paused.timeline[..],
        "the record continues the first replica's"
    );
    second_replica.stop().await;
}

/// A Git server that does not answer one Rollout's record read holds up that Rollout only:
/// another Rollout of the same source is still approved through Git and recorded, and the
/// held one is recorded once its read answers.
#[cfg(feature = "failpoints")]
#[tokio::test]
async fn a_record_read_that_never_answers_never_holds_up_another_rollouts_approval() {
    let ns = TestNamespace::create("record-held").await;
    install_crds(&ns.client()).await;
    let server = GitServer::start(Some(CREDENTIALS));
    let repo = server.repo("deploy");
    let held = rollout("web:1", QUICK_STEPS).replace("name: web\n", "name: held\n");
    repo.write("held.yaml", &held)
        .write("web.yaml", rollout("web:1", APPROVAL_STEPS))
        .commit("held and web 1");
    let held_key = format!("{}/held", ns.name());
    tidegate::failpoints::configure("reporter-record-read", &format!("return({held_key})"))
        .expect("configure the failpoint");
    let secrets = TempDir::new("secrets");
    let password = password_file(&secrets);
    let config = source(
        &ns,
        &server.url("deploy"),
        &password,
        "  writeBack: {everyStep: true}\n",
    );
    let daemon = Daemon::start_controlling(&ns, &config, "");
    let rollouts = ns.api::<Rollout>();
    wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:1")).await;
    wait_for_object(&rollouts, "held", TIMEOUT, healthy_on("web:1")).await;
    repo.write("web.yaml", rollout("web:2", APPROVAL_STEPS))
        .commit("web 2");
    let paused = wait_for_object(&rollouts, "web", TIMEOUT, |rollout: Option<&Rollout>| {
        rollout
            .and_then(|rollout| rollout.status.as_ref())
            .is_some_and(|status| {
                status.current_step_index == Some(1) && status.pause_conditions.len() == 1
            })
    })
    .await
    .expect("web is paused");
    let hash = paused.status.expect("a status").current_pod_hash;
    let approval = tidegate::writeback::approval::Approval {
        namespace: ns.name().to_owned(),
        rollout: "web".to_owned(),
        revision: hash.clone(),
        step: Some(1),
        approved_by: "alice".to_owned(),
        reason: String::new(),
    };
    repo.write(
        &tidegate::writeback::approval::Approval::path(ns.name(), "web"),
        approval.to_yaml(),
    )
    .commit("approve web 2");
    let web_path = format!("rollouts/{}/web.yaml", ns.name());
    let approved = wait_for("web's approval in its record", TIMEOUT, || async {
        let record = record_of(&server.show("deploy", "tidegate/status", &web_path)?);
        (record.revision.pod_template_hash == hash && !record.approvals.is_empty())
            .then_some(record)
    })
    .await;
    assert_eq!(approved.approvals[0].by, "alice");
    let held_path = format!("rollouts/{}/held.yaml", ns.name());
    assert_eq!(
        server.show("deploy", "tidegate/status", &held_path),
        None,
        "the held Rollout is not recorded while its read does not answer"
    );
    tidegate::failpoints::configure("reporter-record-read", "off").expect("release the read");
    wait_for("the held Rollout's record", TIMEOUT, || async {
        let record = record_of(&server.show("deploy", "tidegate/status", &held_path)?);
        (record.outcome == Some(tidegate::writeback::Outcome::Promoted)).then_some(())
    })
    .await;
    daemon.stop().await;
}

/// Runs the `tidegate` binary against `ns` with the configuration `config`.
fn cli(ns: &TestNamespace, config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tidegate"))
        .args(args)
        .arg("--config")
        .arg(config)
        .args(["--namespace", ns.name(), "--kubeconfig"])
        .arg(crate::support::kubeconfig())
        .output()
        .expect("run tidegate")
}

fn succeeded(output: &std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    text
}

/// A daemon syncing `original` as `apps/web/rollout.yaml` from a Git server, with the Rollout
/// healthy, and a configuration file naming the same source for the CLI.
struct CliSetup {
    ns: TestNamespace,
    server: GitServer,
    daemon: Daemon,
    config: std::path::PathBuf,
    _secrets: TempDir,
}

async fn cli_setup(original: &str) -> CliSetup {
    let ns = TestNamespace::create("cli-git").await;
    install_crds(&ns.client()).await;
    let server = GitServer::start(Some(CREDENTIALS));
    server
        .repo("deploy")
        .write("apps/web/rollout.yaml", original)
        .commit("web 1");
    let secrets = TempDir::new("secrets");
    let password = password_file(&secrets);
    let sources = source(
        &ns,
        &server.url("deploy"),
        &password,
        "  path: apps\n  writeBack: {}\n",
    );
    let daemon = Daemon::start_controlling(&ns, &sources, "");
    wait_for_object(&ns.api::<Rollout>(), "web", TIMEOUT, healthy_on("web:1")).await;
    let config = secrets.path().join("tidegate.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n{sources}state:\n  namespace: {}\n  cacheDir: {}\n",
            ns.name(),
            secrets.path().join("cli-cache").display()
        ),
    )
    .expect("write the CLI's configuration");
    CliSetup {
        ns,
        server,
        daemon,
        config,
        _secrets: secrets,
    }
}

#[tokio::test]
async fn set_image_pause_promote_and_undo_are_commits_the_daemon_then_applies() {
    let original = format!(
        "# The shop's front end.\n{}",
        rollout("web:1", APPROVAL_STEPS)
    );
    let CliSetup {
        ns,
        server,
        daemon,
        config,
        _secrets,
    } = cli_setup(&original).await;
    let rollouts = ns.api::<Rollout>();
    let first = rollouts.get("web").await.expect("the Rollout");
    let first_hash = first.status.expect("status").current_pod_hash;
    let file = |commit: &str| {
        server
            .show("deploy", commit, "apps/web/rollout.yaml")
            .expect("the Rollout's file")
    };
    let last = || server.log("deploy", "main", "%an|%s")[0].clone();

    // set image: one line of the file changes, and the canary of web:2 waits at its pause.
    let said = succeeded(&cli(
        &ns,
        &config,
        &["set", "image", "web", "web=web:2", "--as", "alice"],
    ));
    assert!(said.contains("committed to main"), "{said}");
    assert_eq!(
        file("main"),
        original.replace("image: web:1", "image: web:2")
    );
    assert_eq!(
        last(),
        format!("alice|Set image web=web:2 of {}/web", ns.name())
    );
    let at_pause = wait_for_object(&rollouts, "web", TIMEOUT, |rollout: Option<&Rollout>| {
        rollout
            .and_then(|rollout| rollout.status.as_ref())
            .is_some_and(|status| {
                status.current_step_index == Some(1) && !status.pause_conditions.is_empty()
            })
    })
    .await
    .expect("the Rollout");
    let canary = at_pause.status.expect("status").current_pod_hash;

    // pause: `paused: true` joins the file; the cluster's Rollout is paused by its spec.
    succeeded(&cli(&ns, &config, &["pause", "web", "--as", "alice"]));
    assert_eq!(
        file("main"),
        original
            .replace("image: web:1", "image: web:2")
            .replace("spec:\n  replicas", "spec:\n  paused: true\n  replicas")
    );
    assert_eq!(last(), format!("alice|Pause {}/web", ns.name()));
    wait_for_object(&rollouts, "web", TIMEOUT, |rollout: Option<&Rollout>| {
        rollout.is_some_and(|rollout| {
            rollout.spec.paused
                && rollout.status.as_ref().is_some_and(|status| {
                    status.observed_generation
                        == rollout.metadata.generation.unwrap_or(0).to_string()
                        && status.message == "manually paused"
                })
        })
    })
    .await;
    // A break-glass promotion cannot lift a pause that Git holds.
    let direct = cli(&ns, &config, &["promote", "--direct", "web"]);
    assert!(!direct.status.success());
    assert!(
        String::from_utf8_lossy(&direct.stderr).contains("spec.paused is true in Git"),
        "{direct:?}"
    );

    // promote: one commit lifts the pause and approves the step; web:2 becomes stable.
    let said = succeeded(&cli(&ns, &config, &["promote", "web", "--as", "bob"]));
    assert!(
        said.contains("spec.paused: false and the approval"),
        "{said}"
    );
    assert_eq!(
        last(),
        format!(
            "bob|Resume and approve {}/web revision {canary} at step 2/2",
            ns.name()
        )
    );
    assert!(file("main").contains("  paused: false\n"));
    let promoted = wait_for_object(&rollouts, "web", TIMEOUT, healthy_on("web:2"))
        .await
        .expect("the Rollout");
    assert!(!promoted.spec.paused);
    assert_eq!(
        server.log("deploy", "main", "%H").len(),
        4,
        "web 1, set image, pause, promote"
    );

    undo_to_the_first_revision(&ns, &server, &config, &original, &first_hash).await;
    daemon.stop().await;
}

/// `tidegate undo` after the test above: revision 1's pod template, as "web 1" had it, comes
/// back through Git; a revision that does not exist, or a container, changes nothing.
async fn undo_to_the_first_revision(
    ns: &TestNamespace,
    server: &GitServer,
    config: &Path,
    original: &str,
    first_hash: &str,
) {
    let rollouts = ns.api::<Rollout>();
    let file = |commit: &str| {
        server
            .show("deploy", commit, "apps/web/rollout.yaml")
            .expect("the Rollout's file")
    };
    let last = || server.log("deploy", "main", "%an|%s")[0].clone();
    let said = succeeded(&cli(ns, config, &["undo", "web", "--as", "carol"]));
    assert!(said.contains("to revision 1"), "{said}");
    assert_eq!(
        last(),
        format!("carol|Undo {}/web to revision 1", ns.name())
    );
    assert_eq!(
        file("main"),
        original.replace("spec:\n  replicas", "spec:\n  paused: false\n  replicas")
    );
    wait_for_object(&rollouts, "web", TIMEOUT, |rollout: Option<&Rollout>| {
        rollout
            .and_then(|rollout| rollout.status.as_ref())
            .is_some_and(|status| status.current_pod_hash == first_hash)
    })
    .await;
    let nowhere = cli(ns, config, &["undo", "web", "--to-revision", "9"]);
    assert!(
        String::from_utf8_lossy(&nowhere.stderr).contains("no revision 9"),
        "{nowhere:?}"
    );

    // A container that is not there changes nothing.
    let wrong = cli(ns, config, &["set", "image", "web", "api=web:3"]);
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr)
            .contains("no container api in the Rollout's pod template (it has web)"),
        "{wrong:?}"
    );
    assert_eq!(server.log("deploy", "main", "%H").len(), 5);
}
