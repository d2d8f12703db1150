//! The installation manifests against the real apiserver: both kustomize variants and the
//! Helm chart (linted, rendered for both RBAC scopes) pass a server-side dry run, carry the
//! same objects, and hold a configuration tidegate accepts.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(program: &str, args: &[&str], input: Option<&str>) -> String {
    let mut child = Command::new(program)
        .args(args)
        .env("KUBECONFIG", crate::support::kubeconfig())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("run {program} (in the testenv's PATH): {error}"));
    if let Some(input) = input {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// Applies `manifests` with a server-side dry run (their namespaces created for real first:
/// a dry run cannot create the namespace its other objects go to).
fn dry_run(manifests: &str) {
    let namespaces = "apiVersion: v1\nkind: Namespace\nmetadata: {name: tidegate-system}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n";
    run(
        "kubectl",
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "tidegate-test",
            "-f",
            "-",
        ],
        Some(namespaces),
    );
    run(
        "kubectl",
        &[
            "apply",
            "--server-side",
            "--dry-run=server",
            "--field-manager",
            "tidegate-test",
            "-f",
            "-",
        ],
        Some(manifests),
    );
}

/// (kind, namespace, name) of every object, sorted.
fn objects(manifests: &str) -> Vec<(String, String, String)> {
    let mut found: Vec<_> = manifests
        .split("\n---")
        .filter_map(|document| {
            let value: serde_json::Value = serde_saphyr::from_str(document).ok()?;
            let text = |pointer: &str| value.pointer(pointer)?.as_str().map(str::to_owned);
            Some((
                text("/kind")?,
                text("/metadata/namespace").unwrap_or_default(),
                text("/metadata/name")?,
            ))
        })
        .collect();
    found.sort();
    found
}

/// The `tidegate.yaml` of the ConfigMap in `manifests`, checked by tidegate's own parser.
fn check_config(manifests: &str) {
    let config = manifests
        .split("\n---")
        .filter_map(|document| serde_saphyr::from_str::<serde_json::Value>(document).ok())
        .find(|value| value["kind"] == "ConfigMap")
        .and_then(|value| value["data"]["tidegate.yaml"].as_str().map(str::to_owned))
        .expect("a ConfigMap with tidegate.yaml");
    let parsed = tidegate::config::Config::parse(&config, "tidegate.yaml")
        .unwrap_or_else(|problems| panic!("{problems}\n{config}"));
    assert!(
        parsed.leader_election.enabled,
        "two replicas need leader election"
    );
}

#[test]
fn kustomize_and_helm_manifests_pass_a_server_side_dry_run() {
    let cluster = run("kubectl", &["kustomize", "deploy"], None);
    let namespaced = run("kubectl", &["kustomize", "deploy/namespaced"], None);
    for manifests in [&cluster, &namespaced] {
        dry_run(manifests);
        check_config(manifests);
    }
    assert!(cluster.contains("kind: CustomResourceDefinition"));
    assert!(
        objects(&cluster).contains(&(
            "NetworkPolicy".to_owned(),
            "tidegate-system".to_owned(),
            "tidegate".to_owned()
        )),
        "who may reach the port is limited"
    );
    assert!(
        !objects(&namespaced).contains(&(
            "ClusterRole".to_owned(),
            String::new(),
            "tidegate-controller".to_owned()
        )),
        "the namespaced variant grants nothing cluster-wide but reading its namespace"
    );

    run("helm", &["lint", "--strict", "deploy/helm/tidegate"], None);
    let template = |scope: &str| {
        run(
            "helm",
            &[
                "template",
                "tidegate",
                "deploy/helm/tidegate",
                "--namespace",
                "tidegate-system",
                "--kube-version",
                "1.36.3",
                "--include-crds",
                "--set",
                &format!("rbac.scope={scope}"),
            ],
            None,
        )
    };
    let helm_cluster = template("cluster");
    let helm_namespaced = template("namespace");
    dry_run(&helm_cluster);
    dry_run(&helm_namespaced);
    check_config(&helm_cluster);
    // The chart holds what kustomize does (Helm leaves the namespace to --create-namespace).
    let without_namespace = |manifests: &str| {
        objects(manifests)
            .into_iter()
            .filter(|(kind, _, _)| kind != "Namespace")
            .collect::<Vec<_>>()
    };
    assert_eq!(
        without_namespace(&helm_cluster),
        without_namespace(&cluster)
    );
    let crds = |manifests: &str| {
        objects(manifests)
            .into_iter()
            .filter(|(kind, _, _)| kind != "Namespace" && kind != "CustomResourceDefinition")
            .collect::<Vec<_>>()
    };
    assert_eq!(crds(&helm_namespaced), crds(&namespaced));
}
