//! GitOps throughput: rendering and diffing 1,000 objects, and polling a 10,000-commit
//! repository that has not changed (file:// and smart HTTP through `git http-backend`).
//! Prints the figures; asserts nothing.
//!
//! Run with `cargo bench --bench sync` (needs `git` and `python3`).

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tidegate::manifest::{self, DirFiles, Limits};
use tidegate::source::GitCache;
use tidegate::sync::{diff_objects, normalize};

const OBJECTS: usize = 1_000;
const COMMITS: usize = 10_000;

fn main() {
    let work = std::env::temp_dir().join(format!("tidegate-bench-sync-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("create the work directory");
    render(&work.join("manifests"));
    diff();
    poll(&work);
    std::fs::remove_dir_all(&work).expect("remove the work directory");
    println!("peak memory (VmHWM): {}", peak_memory());
}

/// Median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn deployment(index: usize) -> String {
    format!(
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{index}\n  labels: {{app: app-{index}, tier: web}}\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {{app: app-{index}}}\n  template:\n    metadata:\n      labels: {{app: app-{index}}}\n    spec:\n      containers:\n      - name: app\n        image: registry.example.com/app:{index}\n        ports: [{{containerPort: 8080}}]\n        env:\n        - {{name: MODE, value: fast}}\n        resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}\n"
    )
}

fn render(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create the manifest directory");
    for file in 0..OBJECTS / 10 {
        let text: String = (0..10).map(|index| deployment(file * 10 + index)).collect();
        std::fs::write(dir.join(format!("apps-{file:03}.yaml")), text).expect("write a manifest");
    }
    let files = DirFiles::new(dir);
    let limits = Limits::default();
    let time = median(11, || {
        black_box(manifest::render(&files, &limits).expect("the manifests are valid"));
    });
    println!(
        "render {OBJECTS} objects in {} files: {time:?}",
        OBJECTS / 10
    );
}

fn live(index: usize) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("app-{index}"), "namespace": "bench", "uid": "0000", "resourceVersion": "12",
                     "generation": 3, "labels": {"app": format!("app-{index}"), "tidegate.dev/source": "bench"},
                     "managedFields": [{"manager": "tidegate-rollout", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
        "spec": {"replicas": 5, "selector": {"matchLabels": {"app": format!("app-{index}")}},
                 "template": {"metadata": {"labels": {"app": format!("app-{index}")}},
                              "spec": {"containers": [{"name": "app", "image": format!("registry.example.com/app:{index}"),
                                                       "env": [{"name": "MODE", "value": "fast"}]}]}}},
        "status": {"replicas": 5, "readyReplicas": 5}
    })
}

fn diff() {
    let pairs: Vec<(Value, Value)> = (0..OBJECTS)
        .map(|index| {
            let live = live(index);
            let mut desired = live.clone();
            if index % 10 == 0 {
                desired["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] =
                    json!("slow");
            }
            (live, desired)
        })
        .collect();
    let mut differing = 0;
    let time = median(11, || {
        differing = 0;
        for (index, (live, desired)) in pairs.iter().enumerate() {
            let managed = &live["metadata"]["managedFields"];
            let diff = diff_objects(
                &format!("Deployment bench/app-{index}"),
                &normalize(live, managed),
                &normalize(desired, managed),
            );
            differing += usize::from(black_box(diff).is_some());
        }
    });
    println!("normalize and diff {OBJECTS} objects ({differing} differ): {time:?}");
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .expect("run git");
    assert!(status.success(), "git {args:?}");
}

/// A bare repository of `COMMITS` commits, each changing one of 100 files.
fn history(dir: &Path) {
    git(
        dir.parent().expect("has a parent"),
        &[
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            dir.to_str().expect("UTF-8"),
        ],
    );
    let mut import = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("run git fast-import");
    let mut stream = std::io::BufWriter::new(import.stdin.take().expect("stdin is piped"));
    for commit in 0..COMMITS {
        let content = deployment(commit);
        write!(
            stream,
            "commit refs/heads/main\ncommitter Bench <bench@example.com> {} +0000\ndata 8\nchange {:>1}\n",
            1_700_000_000 + commit,
            commit % 10
        )
        .expect("write to fast-import");
        write!(
            stream,
            "M 100644 inline apps/app-{:02}.yaml\ndata {}\n{content}\n",
            commit % 100,
            content.len()
        )
        .expect("write to fast-import");
    }
    drop(stream);
    assert!(import.wait().expect("fast-import finishes").success());
}

fn poll(work: &Path) {
    let repo = work.join("history.git");
    let started = Instant::now();
    history(&repo);
    println!(
        "create a {COMMITS}-commit repository: {:?}",
        started.elapsed()
    );
    poll_url(
        &work.join("cache-file"),
        &format!("file://{}", repo.display()),
        "file://",
    );

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/git-http-server.py");
    let mut server = Command::new("python3")
        .arg(script)
        .arg(work)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the git server");
    let mut port = String::new();
    BufReader::new(server.stdout.take().expect("stdout is piped"))
        .read_line(&mut port)
        .expect("read the port");
    poll_url(
        &work.join("cache-http"),
        &format!("http://127.0.0.1:{}/history.git", port.trim()),
        "http (git http-backend)",
    );
    let _ = server.kill();
    let _ = server.wait();
}

fn poll_url(cache_dir: &Path, url: &str, label: &str) {
    let cache = GitCache::new(cache_dir.to_owned(), url.to_owned());
    let started = Instant::now();
    let first = cache.fetch("main", None).expect("the first fetch succeeds");
    println!(
        "{label}: first fetch of {COMMITS} commits: {:?} (pack received: {})",
        started.elapsed(),
        first.received_pack
    );
    let mut received = false;
    let time = median(11, || {
        received |= cache
            .fetch("main", None)
            .expect("fetch succeeds")
            .received_pack;
    });
    println!("{label}: no-change poll: {time:?} (pack received: {received})");
    let started = Instant::now();
    let tree = cache.tree(&first.commit, "apps").expect("read the tree");
    black_box(manifest::render(&tree, &Limits::default()).expect("the manifests are valid"));
    println!(
        "{label}: read and render the tree at the tip (100 files): {:?}",
        started.elapsed()
    );
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .map(|line| line["VmHWM:".len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
