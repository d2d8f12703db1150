//! The installation manifests against the real apiserver: both kustomize variants and the
//! Helm chart (linted, rendered for both RBAC scopes) pass a server-side dry run, carry the
//! same objects with the same rights, and hold a configuration tidegate accepts; the RBAC,
//! applied for real, grants Secrets and Jobs only in the namespaces named.

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

/// Creates the namespaces the manifests go to, for real (a dry run cannot create the
/// namespace its other objects go to).
fn create_namespaces() {
    let namespaces = "apiVersion: v1\nkind: Namespace\nmetadata: {name: tidegate-system}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n";
    apply(namespaces, false);
}

/// Server-side applies `manifests`, as a dry run if `dry_run`.
fn apply(manifests: &str, dry_run: bool) {
    let mut args = vec![
        "apply",
        "--server-side",
        "--field-manager",
        "tidegate-test",
        "-f",
        "-",
    ];
    if dry_run {
        args.push("--dry-run=server");
    }
    run("kubectl", &args, Some(manifests));
}

/// Applies `manifests` with a server-side dry run, their namespaces created first.
fn dry_run(manifests: &str) {
    create_namespaces();
    apply(manifests, true);
}

/// The RBAC objects of `manifests` as (kind, namespace, name, what they grant), sorted.
fn grants(manifests: &str) -> Vec<(String, String, String, String)> {
    let mut found: Vec<_> = manifests
        .split("\n---")
        .filter_map(|document| serde_saphyr::from_str::<serde_json::Value>(document).ok())
        .filter(|value| value["apiVersion"] == "rbac.authorization.k8s.io/v1")
        .map(|value| {
            let text = |pointer: &str| {
                value
                    .pointer(pointer)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let granted = serde_json::json!([value["rules"], value["roleRef"], value["subjects"]]);
            (
                text("/kind"),
                text("/metadata/namespace"),
                text("/metadata/name"),
                granted.to_string(),
            )
        })
        .collect();
    found.sort();
    found
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
    // ...and grants the same rights.
    assert_eq!(grants(&helm_cluster), grants(&cluster));
    assert_eq!(grants(&helm_namespaced), grants(&namespaced));
}

/// Whether tidegate's ServiceAccount may `verb` `resource` in `namespace` (`None`: in every
/// namespace at once), as the apiserver's authorizer answers.
fn may(verb: &str, resource: &str, namespace: Option<&str>) -> bool {
    let mut args = vec![
        "auth",
        "can-i",
        verb,
        resource,
        "--as",
        "system:serviceaccount:tidegate-system:tidegate",
    ];
    match namespace {
        Some(namespace) => args.extend(["--namespace", namespace]),
        None => args.push("--all-namespaces"),
    }
    let output = Command::new("kubectl")
        .args(&args)
        .env("KUBECONFIG", crate::support::kubeconfig())
        .output()
        .expect("run kubectl auth can-i");
    match String::from_utf8_lossy(&output.stdout).trim() {
        "yes" => true,
        "no" => false,
        other => panic!(
            "kubectl {args:?}: {other} {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// The confused deputy: whoever may create AnalysisTemplates in one namespace must not read
/// Secrets or run Jobs in another through tidegate. The RBAC shipped is applied for real and
/// the apiserver asked what the ServiceAccount may do.
#[test]
fn the_service_account_reads_secrets_and_runs_jobs_only_where_granted() {
    let cluster = run("kubectl", &["kustomize", "deploy"], None);
    let rbac: Vec<&str> = cluster
        .split("\n---")
        .filter(|document| document.contains("apiVersion: rbac.authorization.k8s.io/v1"))
        .collect();
    create_namespaces();
    apply(&rbac.join("\n---\n"), false);
    for (verb, resource) in [
        ("get", "secrets"),
        ("create", "jobs"),
        ("create", "secrets"),
    ] {
        assert!(
            may(verb, resource, Some("apps")),
            "{verb} {resource} in apps"
        );
        assert!(
            !may(verb, resource, Some("kube-system")),
            "{verb} {resource} outside the granted namespaces"
        );
        assert!(
            !may(verb, resource, None),
            "{verb} {resource} in every namespace"
        );
    }
    // What the controllers need everywhere stays granted everywhere.
    for (verb, resource) in [
        ("watch", "jobs"),
        ("create", "replicasets"),
        ("patch", "services"),
        ("patch", "rollouts.tidegate.dev"),
    ] {
        assert!(
            may(verb, resource, None),
            "{verb} {resource} in every namespace"
        );
    }
}
