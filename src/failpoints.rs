//! Failpoints for kill tests — compiled in only with the `failpoints` feature, which the test
//! script turns on and a release build never has. Each stops the process as a kill would, at
//! a moment when a crash is dangerous, once the `fail` crate's `FAILPOINTS` variable enables
//! it (`FAILPOINTS=rollout-boundary=return`). The kill tests restart the process each time
//! and check that the outcome is that of an uninterrupted run.

use crate::model::RolloutState;

/// The exit status of a process stopped by a failpoint (that of a process killed by SIGKILL).
pub const KILLED: i32 = 137;

/// Reads `FAILPOINTS`; the returned guard keeps the configuration for the process's life.
#[must_use]
pub fn setup() -> fail::FailScenario<'static> {
    fail::FailScenario::setup()
}

fn kill(name: &str, detail: &str) -> ! {
    eprintln!("failpoint {name}: stopping the process {detail}");
    std::process::exit(KILLED)
}

/// `rollout-boundary`: right after a status write that moved the Rollout across a step
/// boundary, before any effect of that pass (a Service switch, a scale, a run created). Each
/// process life crosses one boundary and dies.
pub fn boundary_written(rollout: &str, before: &RolloutState, after: &RolloutState) {
    if fail::eval("rollout-boundary", |_| ()).is_some() && boundary(before) != boundary(after) {
        kill(
            "rollout-boundary",
            &format!("after recording {rollout} at {}", boundary(after)),
        );
    }
}

/// `rollout-between-effects`: after the first effect of a pass that has more.
pub fn between_effects(rollout: &str, done: usize, total: usize) {
    if done == 1 && total > 1 && fail::eval("rollout-between-effects", |_| ()).is_some() {
        kill(
            "rollout-between-effects",
            &format!("after effect 1 of {total} for {rollout}"),
        );
    }
}

/// What marks a step boundary: the revision, step, stable revision, abort and full
/// promotion, pauses, the preview checkpoint, the analysis runs with their phases and the
/// step's Experiment.
fn boundary(state: &RolloutState) -> String {
    let mut pauses: Vec<String> = state
        .pause_conditions
        .iter()
        .map(|pause| pause.reason.to_string())
        .collect();
    pauses.sort();
    let runs: Vec<String> = [
        &state.step_analysis,
        &state.background_analysis,
        &state.pre_promotion_analysis,
        &state.post_promotion_analysis,
    ]
    .into_iter()
    .flatten()
    .map(|run| format!("{}={}", run.name, run.phase))
    .collect();
    format!(
        "revision {} step {:?} stable {} abort {} full {} pauses [{}] checkpoint {} runs [{}] experiment {}",
        state.current_pod_hash.as_deref().unwrap_or("-"),
        state.current_step_index,
        state.stable_hash.as_deref().unwrap_or("-"),
        state.abort,
        state.promote_full,
        pauses.join(","),
        state.preview_checkpoint,
        runs.join(","),
        state.step_experiment.as_deref().unwrap_or("-"),
    )
}

/// `rollout-slow-switch=return(<ms>)`: waits that long before recording a decision that
/// switches a Service, saying so on stderr — the window in which a person's abort lands
/// between the read a decision was made on and its status write.
pub async fn before_recording_a_switch(rollout: &str, switches: bool) {
    if switches {
        hold(
            "rollout-slow-switch",
            &format!("{rollout} decided a switch"),
        )
        .await;
    }
}

/// `experiment-slow-run=return(<ms>)`: waits that long before recording a pass that starts
/// an Experiment's AnalysisRun, saying so on stderr before and after — the window in which a
/// person's `terminate` lands between the read the pass decided on and its status write.
pub async fn before_recording_a_run(experiment: &str, starts_run: bool) {
    if starts_run {
        hold(
            "experiment-slow-run",
            &format!("{experiment} decided to start a run"),
        )
        .await;
        eprintln!("failpoint experiment-slow-run: {experiment} goes on");
    }
}

/// Waits as long as failpoint `name` says (`return(<ms>)`), saying `what` on stderr.
async fn hold(name: &str, what: &str) {
    let Some(Some(millis)) = fail::eval(name, |arg| arg.and_then(|arg| arg.parse::<u64>().ok()))
    else {
        return;
    };
    eprintln!("failpoint {name}: {what}; waiting {millis} ms");
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

/// `kube-write-in-flight`: a mutating request that passed the write fence waits
/// `return(<ms>)` before it is sent — a request built before the leader's deadline and sent
/// after it.
pub async fn write_in_flight() {
    hold("kube-write-in-flight", "holding a write").await;
}

/// `reporter-record-read=return(<namespace/name>)`: the read of that Rollout's record on the
/// status branch waits for as long as the failpoint names it — a Git server that does not
/// answer, for one Rollout.
pub async fn record_read(rollout: &str) {
    let held = || {
        fail::eval("reporter-record-read", |arg| {
            arg.as_deref() == Some(rollout)
        })
    };
    if held() != Some(true) {
        return;
    }
    eprintln!("failpoint reporter-record-read: holding the record read of {rollout}");
    while held() == Some(true) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Configures failpoint `name` with `actions` (the `fail` crate's syntax), for tests that run
/// tidegate's code in their own process.
pub fn configure(name: &str, actions: &str) -> Result<(), String> {
    fail::cfg(name, actions)
}
