//! Engine throughput: how many reconciles per second the pure engine decides, for a Rollout
//! mid-canary with several old ReplicaSets. Prints the figures; asserts nothing.
//!
//! Run with `cargo bench --bench engine`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tidegate::engine::{Observation, reconcile};
use tidegate::model::{
    Amount, CanaryPlan, ReplicaSetView, RoleMetadata, RolloutPlan, RolloutState, Step, Strategy,
};

fn plan(steps: usize) -> RolloutPlan {
    let steps = (0..steps)
        .map(|index| {
            if index % 2 == 0 {
                Step::SetWeight(10 + 5 * i32::try_from(index).unwrap_or(0))
            } else {
                Step::Pause(None)
            }
        })
        .collect();
    RolloutPlan {
        replicas: 20,
        min_ready_seconds: 0,
        revision_history_limit: 10,
        progress_deadline: Duration::from_secs(600),
        progress_deadline_abort: false,
        paused: false,
        restart_at: None,
        successful_run_history_limit: 5,
        unsuccessful_run_history_limit: 5,
        strategy: Strategy::Canary(CanaryPlan {
            steps,
            max_surge: Amount::Percent(25),
            max_unavailable: Amount::Percent(25),
            canary_service: Some("web-canary".into()),
            stable_service: Some("web-stable".into()),
            background_analysis: None,
            traffic: None,
            progress_threshold: None,
        }),
        role_metadata: RoleMetadata::default(),
        anti_affinity: None,
        rollback_window: None,
        workload: None,
    }
}

fn replica_set(hash: &str, revision: u64, replicas: i32) -> ReplicaSetView {
    ReplicaSetView {
        name: format!("web-{hash}"),
        hash: hash.into(),
        revision,
        spec: replicas,
        replicas,
        ready: replicas,
        available: replicas,
        scale_down_deadline: None,
        pod_metadata: None,
        avoids: None,
    }
}

fn main() {
    let plan = plan(10);
    let now = Timestamp::from_second(1_800_000_000).expect("a valid time");
    let state = RolloutState {
        observed_generation: Some(1),
        current_pod_hash: Some("v9".into()),
        current_step_hash: Some("steps".into()),
        current_step_index: Some(2),
        stable_hash: Some("v8".into()),
        ..RolloutState::default()
    };
    let mut replica_sets: Vec<_> = (1..=7)
        .map(|revision| replica_set(&format!("v{revision}"), revision, 0))
        .collect();
    replica_sets.push(replica_set("v8", 8, 17));
    replica_sets.push(replica_set("v9", 9, 3));
    let services = BTreeMap::from([
        ("web-canary".to_owned(), Some("v9".to_owned())),
        ("web-stable".to_owned(), Some("v8".to_owned())),
    ]);
    let observation = Observation {
        name: "web",
        generation: 1,
        pod_hash: "v9",
        steps_hash: "steps",
        replica_sets: &replica_sets,
        services: &services,
        analysis_runs: &[],
        foreign_runs: &[],
        experiments: &[],
        replica_set_name_taken: false,
        pods: &[],
        traffic: &[],
        workload_replicas: None,
    };

    for _ in 0..10_000 {
        black_box(reconcile(&plan, &state, &observation, now));
    }
    let rounds = 200_000_u32;
    let started = Instant::now();
    for _ in 0..rounds {
        black_box(reconcile(
            black_box(&plan),
            black_box(&state),
            black_box(&observation),
            now,
        ));
    }
    let elapsed = started.elapsed();
    let per_reconcile = elapsed / rounds;
    println!(
        "engine reconcile (10 steps, 9 ReplicaSets, mid-canary): {per_reconcile:?} each, {:.0} reconciles/s on one core",
        f64::from(rounds) / elapsed.as_secs_f64()
    );
}
