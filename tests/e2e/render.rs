//! Kustomize and Helm sources end to end: the real `kustomize` and `helm` (the testenv's
//! pinned builds) render commits served by `git http-backend`; the daemon applies them to the
//! real apiserver; a values change in a chart goes out as a canary; every bad render is
//! refused naming its file, and applies and prunes nothing.

use tidegate::k8s::crd::Rollout;
use tidegate::k8s::{ConfigMap, Deployment};
use tidegate::model::Phase;
use tidegate::sync::SyncResult;

use crate::support::daemon::{Daemon, wait_for_sync};
use crate::support::git::{GitServer, Repo, TempDir};
use crate::support::{TIMEOUT, TestNamespace, healthy_on, install_crds, wait_for, wait_for_object};

fn config_map(name: &str, mode: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  mode: {mode}\n")
}

async fn mode(ns: &TestNamespace, name: &str) -> Option<String> {
    let map = ns.api::<ConfigMap>().get_opt(name).await.ok()??;
    map.data?.get("mode").cloned()
}

fn source(name: &str, url: &str, ns: &TestNamespace, path: &str, extra: &str) -> String {
    format!(
        "- name: {name}\n  url: {url}\n  path: {path}\n  namespace: {}\n  interval: 1s\n{extra}",
        ns.name()
    )
}

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: registry.example/web:1\n";

/// A Kustomize base and two overlays, synced as two sources from one repository; the second
/// with Argo CD's overrides (image, labels) set on the source. `tidegate render` prints what
/// the daemon applied.
#[tokio::test]
async fn kustomize_overlays_sync_as_two_sources_with_their_overrides() {
    let ns = TestNamespace::create("render-kustomize").await;
    let server = GitServer::start(None);
    let repo = server.repo("deploy");
    repo.write(
        "base/kustomization.yaml",
        "resources:\n- settings.yaml\n- deployment.yaml\n",
    )
    .write("base/settings.yaml", config_map("settings", "base"))
    .write("base/deployment.yaml", DEPLOYMENT)
    .write(
        "overlays/staging/kustomization.yaml",
        "namePrefix: staging-\nresources:\n- ../../base\npatches:\n- path: settings.yaml\n",
    )
    .write(
        "overlays/staging/settings.yaml",
        config_map("settings", "staging"),
    )
    .write(
        "overlays/prod/kustomization.yaml",
        "namePrefix: prod-\nresources:\n- ../../base\n",
    );
    let commit = repo.commit("base and two overlays");
    let url = server.url("deploy");
    let sources = format!(
        "{}{}",
        source("staging", &url, &ns, "overlays/staging", ""),
        source(
            "prod",
            &url,
            &ns,
            "overlays/prod",
            "  kustomize:\n    images: [registry.example/web=registry.example/web:2]\n    commonLabels: {tier: prod}\n"
        ),
    );
    let daemon = Daemon::start(&ns, &sources, "");
    wait_for_sync(&ns, "staging", &commit, SyncResult::Applied).await;
    wait_for_sync(&ns, "prod", &commit, SyncResult::Applied).await;
    assert_eq!(
        mode(&ns, "staging-settings").await.as_deref(),
        Some("staging")
    );
    assert_eq!(mode(&ns, "prod-settings").await.as_deref(), Some("base"));
    let image = |deployment: &Deployment| {
        deployment
            .spec
            .template
            .spec
            .as_ref()
            .and_then(|spec| spec.containers[0].image.clone())
    };
    let deployments = ns.api::<Deployment>();
    let staging = deployments.get("staging-web").await.expect("staging-web");
    let prod = deployments.get("prod-web").await.expect("prod-web");
    assert_eq!(image(&staging).as_deref(), Some("registry.example/web:1"));
    assert_eq!(image(&prod).as_deref(), Some("registry.example/web:2"));
    let labels = prod.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("tier").map(String::as_str), Some("prod"));
    // The origin annotation tidegate asks kustomize for never reaches the cluster.
    let annotations = staging.metadata.annotations.unwrap_or_default();
    assert!(
        !annotations.contains_key("config.kubernetes.io/origin"),
        "{annotations:?}"
    );

    // `tidegate render` renders the source as the daemon did, naming each object's file.
    let dir = TempDir::new("render-config");
    let config = dir.path().join("tidegate.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n{sources}state:\n  cacheDir: {}\n",
            dir.path().join("cache").display()
        ),
    )
    .expect("write the configuration");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tidegate"))
        .args(["render", "prod", "--config"])
        .arg(&config)
        .output()
        .expect("run tidegate render");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains(&format!(
            "# source prod at {commit}: 2 objects (kustomize render)"
        )),
        "{printed}"
    );
    assert!(
        printed.contains("# Source: ../../base/deployment.yaml:1\n"),
        "{printed}"
    );
    assert!(
        printed.contains("image: registry.example/web:2"),
        "{printed}"
    );
    daemon.stop().await;
}

/// A kustomization inflating a chart kept in the repository (`helmCharts`): rendered by
/// kustomize running the pinned helm when the source enables it, refused when it does not.
#[tokio::test]
async fn helm_charts_in_a_kustomization_inflate_only_when_enabled() {
    let ns = TestNamespace::create("render-inflate").await;
    let server = GitServer::start(None);
    let repo = server.repo("inflate");
    repo.write(
        "app/kustomization.yaml",
        "helmCharts:\n- name: web\n  releaseName: web\n  valuesInline: {mode: inflated}\nresources:\n- extra.yaml\n",
    )
    .write("app/extra.yaml", config_map("extra", "plain"))
    .write("app/charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
    .write("app/charts/web/values.yaml", "mode: default\n")
    .write(
        "app/charts/web/templates/settings.yaml",
        config_map("{{ .Release.Name }}-settings", "{{ .Values.mode }}"),
    );
    let commit = repo.commit("a chart inflated by kustomize");
    let url = server.url("inflate");
    let sources = format!(
        "{}{}",
        source(
            "inflated",
            &url,
            &ns,
            "app",
            "  kustomize: {enableHelm: true}\n"
        ),
        source("refused", &url, &ns, "app", ""),
    );
    let daemon = Daemon::start(&ns, &sources, "");
    wait_for_sync(&ns, "inflated", &commit, SyncResult::Applied).await;
    assert_eq!(mode(&ns, "web-settings").await.as_deref(), Some("inflated"));
    assert_eq!(mode(&ns, "extra").await.as_deref(), Some("plain"));
    let refused = wait_for_sync(&ns, "refused", &commit, SyncResult::Invalid).await;
    assert!(
        refused
            .message
            .contains("kustomization.yaml:1: helmCharts: helmCharts needs kustomize.enableHelm"),
        "{}",
        refused.message
    );
    daemon.stop().await;
}

/// A remote base on a host the source allows is fetched by kustomize (from `git
/// http-backend`); the same kustomization in a source that allows no host is refused.
#[tokio::test]
async fn remote_bases_come_only_from_hosts_the_source_allows() {
    let ns = TestNamespace::create("render-remote").await;
    let server = GitServer::start(None);
    let bases = server.repo("bases");
    bases
        .write("base/kustomization.yaml", "resources:\n- settings.yaml\n")
        .write("base/settings.yaml", config_map("settings", "remote"));
    bases.commit("a base");
    let repo = server.repo("deploy");
    let remote = format!("{}//base?ref=main", server.url("bases"));
    repo.write(
        "app/kustomization.yaml",
        format!("namePrefix: app-\nresources:\n- {remote}\n"),
    );
    let commit = repo.commit("an overlay of a remote base");
    let url = server.url("deploy");
    let sources = format!(
        "{}{}",
        source(
            "open",
            &url,
            &ns,
            "app",
            "  kustomize: {allowRemoteHosts: [127.0.0.1]}\n"
        ),
        source("closed", &url, &ns, "app", ""),
    );
    let daemon = Daemon::start(&ns, &sources, "");
    wait_for_sync(&ns, "open", &commit, SyncResult::Applied).await;
    assert_eq!(mode(&ns, "app-settings").await.as_deref(), Some("remote"));
    let closed = wait_for_sync(&ns, "closed", &commit, SyncResult::Invalid).await;
    assert!(
        closed
            .message
            .contains("is a remote resource on 127.0.0.1; remote resources are refused"),
        "{}",
        closed.message
    );
    daemon.stop().await;
}

const CHART: &str = "apiVersion: v2\nname: shop\nversion: 0.1.0\n";

const ROLLOUT_TEMPLATE: &str = r"apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
  labels:
    release: {{ .Release.Name | quote }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: {{ .Values.image | quote }}
  strategy:
    canary:
      steps:
      - setWeight: 50
      - pause: {}
";

/// A Helm chart whose values file (beside the chart, as environments keep them) changes the
/// image: the new values go out as a canary through the Rollout in the chart.
#[tokio::test]
async fn a_values_change_in_a_helm_chart_goes_out_as_a_canary() {
    let ns = TestNamespace::create("render-helm").await;
    install_crds(&ns.client()).await;
    let server = GitServer::start(None);
    let repo = server.repo("shop");
    repo.write("chart/Chart.yaml", CHART)
        .write(
            "chart/values.yaml",
            "image: registry.example/web:0\nreplicas: 1\n",
        )
        .write("chart/templates/rollout.yaml", ROLLOUT_TEMPLATE)
        .write("env/prod.yaml", "image: registry.example/web:1\n");
    let first = repo.commit("the chart, on 1");
    let daemon = Daemon::start_controlling(
        &ns,
        &source(
            "shop",
            &server.url("shop"),
            &ns,
            "chart",
            "  helm:\n    valueFiles: [../env/prod.yaml]\n    valuesObject: {replicas: 2}\n",
        ),
        "",
    );
    wait_for_sync(&ns, "shop", &first, SyncResult::Applied).await;
    let rollouts = ns.api::<Rollout>();
    let rollout = wait_for_object(
        &rollouts,
        "web",
        TIMEOUT,
        healthy_on("registry.example/web:1"),
    )
    .await
    .expect("the Rollout");
    assert_eq!(
        rollout.spec.replicas,
        Some(2),
        "valuesObject applies after the files"
    );
    let labels = rollout.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("release").map(String::as_str), Some("shop"));

    repo.write("env/prod.yaml", "image: registry.example/web:2\n");
    let second = repo.commit("prod on 2");
    wait_for_sync(&ns, "shop", &second, SyncResult::Applied).await;
    let paused = wait_for_object(&rollouts, "web", TIMEOUT, |rollout: Option<&Rollout>| {
        rollout
            .and_then(|rollout| rollout.status.as_ref())
            .is_some_and(|status| {
                status.phase == Some(Phase::Paused) && status.current_step_index == Some(1)
            })
    })
    .await
    .expect("the Rollout");
    let status = paused.status.expect("a status");
    assert_ne!(
        status.current_pod_hash, status.stable_rs,
        "a canary of the new values"
    );
    daemon.stop().await;
}

/// Bad rounds: the kustomization's resources and what the source says of them, a chart
/// template and what the chart source says of it.
const BAD_ROUNDS: [(&str, &str, &str, &str); 4] = [
    (
        "- a.yaml\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0\n",
        "kustomization.yaml:3: resources[1]: \"https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0\" is a remote resource",
        "{{ range $i := until 100000 }}{{ range $j := until 100000 }}{{ end }}{{ end }}",
        "did not finish within 5s (limits.renderTimeoutSeconds); killed",
    ),
    (
        "- a.yaml\n- outside\n",
        "kustomization.yaml:3: resources[1]: \"outside\" is a symbolic link that leaves the repository",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e\ndata:\n{{- range $i := until 3000 }}\n  k{{ $i }}: {{ \"x\" | repeat 1000 | quote }}\n{{- end }}\n",
        "printed more than 1000000 bytes (limits.maxTotalBytes); killed",
    ),
    (
        "- a.yaml\npatches:\n- path: missing.yaml\n",
        "kustomization.yaml: kustomize failed",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e\ndata:\n  mode: {{ .Values.missing.field }}\n",
        "templates/e.yaml:6: helm failed",
    ),
    (
        "- a.yaml\n- ../../../etc\n",
        "kustomization.yaml:3: resources[1]: \"../../../etc\" leaves the repository",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e\n  namespace: [\n",
        "templates/e.yaml",
    ),
];

/// The bad-input test's good revision: a Kustomize app (a, b), a chart (c, d) and a chart
/// whose template renders nothing.
fn write_good_revision(repo: &Repo) {
    repo.write("app/a.yaml", config_map("a", "one"))
        .write("app/b.yaml", config_map("b", "one"))
        .write(
            "app/kustomization.yaml",
            kustomization("- a.yaml\n- b.yaml\n"),
        )
        .write("chart/Chart.yaml", CHART)
        .write("chart/values.yaml", "mode: one\n")
        .write(
            "chart/templates/c.yaml",
            config_map("c", "{{ .Values.mode }}"),
        )
        .write(
            "chart/templates/d.yaml",
            config_map("d", "{{ .Values.mode }}"),
        )
        .write("empty/Chart.yaml", CHART)
        .write(
            "empty/templates/off.yaml",
            format!(
                "{{{{- if .Values.on }}}}\n{}{{{{- end }}}}\n",
                config_map("off", "on")
            ),
        );
}

fn kustomization(resources: &str) -> String {
    format!("resources:\n{resources}")
}

/// The bad-input corpus for renderers: each bad commit (or source) is refused with a problem
/// naming its file, applies nothing and prunes nothing — and the good commit after them does
/// prune, so the assertions could fail.
#[tokio::test]
async fn bad_renders_are_refused_naming_the_file_and_prune_nothing() {
    let ns = TestNamespace::create("render-bad").await;
    let server = GitServer::start(None);
    let repo = server.repo("bad");
    write_good_revision(&repo);
    let good = repo.commit("good");
    let url = server.url("bad");
    let sources = format!(
        "{}{}{}{}",
        source("empty", &url, &ns, "empty", "  prune: true\n"),
        source("kust", &url, &ns, "app", "  prune: true\n"),
        source("chart", &url, &ns, "chart", "  prune: true\n  helm: {}\n"),
        source(
            "passwd",
            &url,
            &ns,
            "chart",
            "  helm:\n    valueFiles: [../../etc/passwd]\n    releaseName: other\n"
        ),
    );
    let daemon = Daemon::start(
        &ns,
        &sources,
        "limits:\n  renderTimeoutSeconds: 5\n  maxTotalBytes: 1000000\n",
    );
    wait_for_sync(&ns, "kust", &good, SyncResult::Applied).await;
    wait_for_sync(&ns, "chart", &good, SyncResult::Applied).await;
    let empty = wait_for_sync(&ns, "empty", &good, SyncResult::Invalid).await;
    assert!(
        empty.message.contains("the render produced no objects"),
        "{}",
        empty.message
    );
    let passwd = wait_for_sync(&ns, "passwd", &good, SyncResult::Invalid).await;
    assert!(
        passwd
            .message
            .contains("values file \"../../etc/passwd\" leaves the repository"),
        "{}",
        passwd.message
    );

    // Each round leaves b and d out of Git, with something a renderer must refuse.
    repo.symlink("app/outside", "/etc");
    repo.remove("app/b.yaml").remove("chart/templates/d.yaml");
    for (index, (resources, kust_says, template, chart_says)) in BAD_ROUNDS.into_iter().enumerate()
    {
        repo.write("app/kustomization.yaml", kustomization(resources))
            .write("chart/templates/e.yaml", template);
        let bad = repo.commit(&format!("bad round {index}"));
        let kust = wait_for_sync(&ns, "kust", &bad, SyncResult::Invalid).await;
        assert!(
            kust.message.contains(kust_says),
            "round {index}: {}",
            kust.message
        );
        let chart = wait_for_sync(&ns, "chart", &bad, SyncResult::Invalid).await;
        assert!(
            chart.message.contains(chart_says),
            "round {index}: {}",
            chart.message
        );
        for name in ["b", "d"] {
            assert_eq!(
                mode(&ns, name).await.as_deref(),
                Some("one"),
                "round {index}: {name} pruned"
            );
        }
        assert!(mode(&ns, "e").await.is_none(), "round {index}: e applied");
    }

    repo.write("app/kustomization.yaml", kustomization("- a.yaml\n"))
        .remove("chart/templates/e.yaml")
        .remove("app/outside");
    let fixed = repo.commit("b and d gone, nothing bad");
    let kust = wait_for_sync(&ns, "kust", &fixed, SyncResult::Applied).await;
    assert!(kust.message.contains("pruned 1"), "{}", kust.message);
    let chart = wait_for_sync(&ns, "chart", &fixed, SyncResult::Applied).await;
    assert!(chart.message.contains("pruned 1"), "{}", chart.message);
    wait_for("b and d pruned", TIMEOUT, || async {
        (mode(&ns, "b").await.is_none() && mode(&ns, "d").await.is_none()).then_some(())
    })
    .await;
    daemon.stop().await;
}

/// Argo Rollouts' own `examples/helm-blue-green`, unchanged, renders and lints clean.
#[tokio::test]
async fn argos_helm_blue_green_example_renders_and_lints_clean() {
    let examples = std::env::var("TIDEGATE_TEST_ARGO_EXAMPLES")
        .expect("TIDEGATE_TEST_ARGO_EXAMPLES (scripts/testenv env)");
    let chart = std::path::Path::new(&examples).join("examples/helm-blue-green");
    let run = |command: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tidegate"))
            .arg(command)
            .arg(&chart)
            .output()
            .expect("run tidegate");
        let printed = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "tidegate {command}: {printed}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        printed
    };
    let linted = run("lint");
    assert!(linted.ends_with("3 objects, no problems\n"), "{linted}");
    let rendered = run("render");
    assert!(rendered.contains("3 objects (helm render)"), "{rendered}");
    assert!(
        rendered.contains(
            "# Source: templates/rollout.yaml:2\napiVersion: tidegate.dev/v1alpha1\nkind: Rollout\n"
        ),
        "{rendered}"
    );
    assert!(
        rendered.contains("previewService: helm-blue-green-helm-guestbook-preview"),
        "{rendered}"
    );
}
