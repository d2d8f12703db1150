//! Charts from chart repositories end to end: a real HTTP chart repository (`helm package` +
//! `helm repo index`, served with basic auth) and a real OCI registry (distribution, charts
//! pushed by `helm push`). Git holds the values and the version constraint; the daemon picks
//! the newest allowed version, checks the archive's digest, keeps it by digest, and renders
//! it with the real `helm`. What the repository gets wrong applies nothing and is retried.

use tidegate::k8s::ConfigMap;
use tidegate::render::chart::archive::Digest;
use tidegate::sync::SyncResult;

use crate::support::charts::{HttpRepository, PASSWORD, Registry, USER, package};
use crate::support::daemon::{Daemon, wait_for_sync};
use crate::support::git::{GitServer, TempDir};
use crate::support::{TIMEOUT, TestNamespace, wait_for};

/// The `chart` and `mode` of ConfigMap `web`.
async fn web(ns: &TestNamespace) -> Option<(String, String)> {
    let data = ns.api::<ConfigMap>().get_opt("web").await.ok()??.data?;
    Some((data.get("chart")?.clone(), data.get("mode")?.clone()))
}

async fn wait_for_web(ns: &TestNamespace, chart: &str, mode: &str) {
    let expected = Some((chart.to_owned(), mode.to_owned()));
    wait_for(&format!("web from chart {chart}"), TIMEOUT, || async {
        (web(ns).await == expected).then_some(())
    })
    .await;
}

/// A source rendering chart `web` from `repository` with `version`, values from Git.
fn chart_source(
    ns: &TestNamespace,
    git: &str,
    repository: &str,
    version: &str,
    extra: &str,
) -> String {
    format!(
        "- name: web
  url: {git}
  path: deploy
  namespace: {ns}
  interval: 1s
  prune: true
  helm:
    releaseName: web
    valueFiles: [values.yaml]
    chart:
      repository: {repository}
      name: web
      version: '{version}'
{extra}",
        ns = ns.name()
    )
}

/// The password in a file, as a secret reference reads it.
fn password_file(dir: &TempDir, password: &str) -> String {
    let path = dir.path().join("chart-password");
    std::fs::write(&path, format!("{password}\n")).expect("password file");
    path.display().to_string()
}

/// An HTTP chart repository behind basic auth: a wrong password is refused and applies
/// nothing, and fixing the secret (no commit) lets the same commit through; the newest version
/// the constraint allows is applied with Git's values and kept by the index's digest; an
/// archive whose digest is not the index's is refused, and the commit goes out once the
/// repository serves the right one.
#[tokio::test]
async fn a_chart_from_an_http_repository_is_verified_and_retried() {
    let ns = TestNamespace::create("chart-http").await;
    let charts = HttpRepository::start();
    for version in ["1.0.0", "1.0.1", "1.1.0", "2.0.0-rc.1"] {
        charts.publish("web", version);
    }
    let server = GitServer::start(None);
    let repo = server.repo("deploy");
    let first = repo
        .write("deploy/values.yaml", "mode: from-git\n")
        .commit("web ~1.0");
    let secrets = TempDir::new("chart-secrets");
    let password = password_file(&secrets, "wrong-password");
    let sources = chart_source(
        &ns,
        &server.url("deploy"),
        &charts.url(),
        "~1.0",
        &format!("      auth:\n        username: {USER}\n        password: {{file: {password}}}\n"),
    );
    let daemon = Daemon::start(&ns, &sources, "");

    let refused = wait_for_sync(&ns, "web", &first, SyncResult::Failed).await;
    assert!(
        refused.message.contains("refused the credentials"),
        "{}",
        refused.message
    );
    assert_eq!(web(&ns).await, None);
    password_file(&secrets, PASSWORD);
    wait_for_sync(&ns, "web", &first, SyncResult::Applied).await;
    wait_for_web(&ns, "1.0.1", "from-git").await;
    let archive = std::fs::read(charts.dir().join("web-1.0.1.tgz")).expect("archive");
    let kept = daemon
        .cache_dir()
        .join(".charts/sha256")
        .join(format!("{}.tgz", sha256_hex(&archive)));
    assert_eq!(std::fs::read(&kept).expect("kept by digest"), archive);

    // 1.0.2 is published, but the repository serves 1.0.0's bytes under its name.
    let published = charts.publish("web", "1.0.2");
    let good = std::fs::read(&published).expect("1.0.2");
    std::fs::copy(charts.dir().join("web-1.0.0.tgz"), &published).expect("swap");
    let second = repo
        .write("deploy/values.yaml", "mode: second\n")
        .commit("second values");
    let failed = wait_for_sync(&ns, "web", &second, SyncResult::Failed).await;
    assert!(
        failed.message.contains("the archive's digest is sha256:"),
        "{}",
        failed.message
    );
    assert_eq!(web(&ns).await, Some(("1.0.1".into(), "from-git".into())));
    std::fs::write(&published, good).expect("restore");
    wait_for_sync(&ns, "web", &second, SyncResult::Applied).await;
    wait_for_web(&ns, "1.0.2", "second").await;
    daemon.stop().await;
}

/// An OCI registry (distribution, htpasswd): the chart pushed by `helm push` is pulled by its
/// manifest's chart layer, verified and applied; the newest version the constraint allows is
/// taken from the registry's tags; without credentials nothing is applied.
#[tokio::test]
async fn a_chart_from_an_oci_registry_is_pulled_by_digest() {
    let ns = TestNamespace::create("chart-oci").await;
    let registry = Registry::start().await;
    for version in ["1.0.0", "1.4.2", "2.0.0"] {
        registry.publish("web", version);
    }
    let server = GitServer::start(None);
    let repo = server.repo("deploy");
    repo.write("deploy/values.yaml", "mode: from-git\n");
    let commit = repo.commit("web ^1");
    let secrets = TempDir::new("registry-secrets");
    let password = password_file(&secrets, PASSWORD);
    let oci = format!("oci://{}/charts", registry.host());
    let anonymous = chart_source(
        &ns,
        &server.url("deploy"),
        &oci,
        "^1",
        "      plainHttp: true\n",
    );
    let daemon = Daemon::start(&ns, &anonymous, "");
    let refused = wait_for_sync(&ns, "web", &commit, SyncResult::Failed).await;
    assert!(
        refused.message.contains("needs credentials"),
        "{}",
        refused.message
    );
    assert_eq!(web(&ns).await, None);
    daemon.stop().await;

    let sources = chart_source(
        &ns,
        &server.url("deploy"),
        &oci,
        "^1",
        &format!(
            "      plainHttp: true\n      auth:\n        username: {USER}\n        password: {{file: {password}}}\n"
        ),
    );
    let daemon = Daemon::start(&ns, &sources, "");
    wait_for_sync(&ns, "web", &commit, SyncResult::Applied).await;
    wait_for_web(&ns, "1.4.2", "from-git").await;
    // The archive kept is the one `helm package` wrote (the registry's layer, unchanged).
    let again = TempDir::new("chart-again");
    let archive = std::fs::read(package("web", "1.4.2", again.path())).expect("archive");
    let kept: Vec<_> = std::fs::read_dir(daemon.cache_dir().join(".charts/sha256"))
        .expect("cache")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let kept_bytes = std::fs::read(&kept[0]).expect("kept");
    assert_eq!(
        kept[0].file_stem().and_then(|stem| stem.to_str()),
        Some(sha256_hex(&kept_bytes).as_str())
    );
    assert_eq!(
        helm_chart_yaml(&kept_bytes),
        helm_chart_yaml(&archive),
        "the kept archive is chart web 1.4.2"
    );
    daemon.stop().await;
}

fn sha256_hex(bytes: &[u8]) -> String {
    Digest::of(bytes).hex().to_owned()
}

/// `web/Chart.yaml` in a chart archive.
fn helm_chart_yaml(archive: &[u8]) -> String {
    use std::io::Read;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in tar.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        if entry.path().expect("path").to_string_lossy() == "web/Chart.yaml" {
            let mut text = String::new();
            entry.read_to_string(&mut text).expect("read");
            return text;
        }
    }
    panic!("no web/Chart.yaml in the archive")
}

/// An umbrella chart in Git, as `helm dependency build` would assemble it: `web` from the
/// HTTP repository at the version `Chart.lock` pins (not the newest), `api` from the OCI
/// registry at the newest its constraint allows, `common` copied from the Git repository
/// (`file://`), credentials from `renderers.chartRepositories`. A dependency reaching out
/// of the repository is refused naming Chart.yaml, and prunes nothing.
#[tokio::test]
async fn an_umbrella_chart_in_git_gets_its_dependencies_as_helm_would() {
    let ns = TestNamespace::create("chart-deps").await;
    let charts = HttpRepository::start();
    for version in ["1.0.0", "1.0.1"] {
        charts.publish("web", version);
    }
    let registry = Registry::start().await;
    for version in ["2.0.0", "2.1.0", "3.0.0"] {
        registry.publish("api", version);
    }
    let oci = format!("oci://{}/charts", registry.host());
    let server = GitServer::start(None);
    let repo = server.repo("deploy");
    let chart_yaml = |extra: &str| {
        format!(
            "apiVersion: v2\nname: shop\nversion: 0.1.0\ndependencies:\n- name: web\n  version: ~1.0\n  repository: {}\n- name: api\n  version: ^2\n  repository: {oci}\n- name: common\n  version: 0.1.0\n  repository: file://../common\n{extra}",
            charts.url()
        )
    };
    repo.write("deploy/Chart.yaml", chart_yaml(""))
        .write(
            "deploy/Chart.lock",
            format!(
                "dependencies:\n- name: web\n  repository: {}\n  version: 1.0.0\ndigest: sha256:0\ngenerated: \"2026-12-01T00:00:00Z\"\n",
                charts.url()
            ),
        )
        .write("deploy/values.yaml", "web:\n  mode: umbrella\n")
        .write("common/Chart.yaml", "apiVersion: v2\nname: common\nversion: 0.1.0\n")
        .write(
            "common/templates/config.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: common\ndata:\n  mode: common\n  chart: \"0.1.0\"\n",
        );
    let good = repo.commit("shop with three dependencies");
    let secrets = TempDir::new("deps-secrets");
    let password = password_file(&secrets, PASSWORD);
    let auth = format!("    auth:\n      username: {USER}\n      password: {{file: {password}}}\n");
    let renderers = format!(
        "renderers:\n  chartRepositories:\n  - url: {}\n{auth}  - url: oci://{}\n    plainHttp: true\n{auth}",
        charts.url(),
        registry.host()
    );
    let source = format!(
        "- name: shop\n  url: {}\n  path: deploy\n  namespace: {}\n  interval: 1s\n  prune: true\n  helm: {{releaseName: shop}}\n",
        server.url("deploy"),
        ns.name()
    );
    let daemon = Daemon::start(&ns, &source, &renderers);
    wait_for_sync(&ns, "shop", &good, SyncResult::Applied).await;
    wait_for_web(&ns, "1.0.0", "umbrella").await;
    let config = |name: &str| {
        let ns = &ns;
        let name = name.to_owned();
        async move {
            let data = ns.api::<ConfigMap>().get_opt(&name).await.ok()??.data?;
            Some((data.get("chart")?.clone(), data.get("mode")?.clone()))
        }
    };
    assert_eq!(config("api").await, Some(("2.1.0".into(), "2.1.0".into())));
    assert_eq!(
        config("common").await,
        Some(("0.1.0".into(), "common".into()))
    );

    let escaping = repo
        .write(
            "deploy/Chart.yaml",
            chart_yaml("- name: outside\n  version: 0.1.0\n  repository: file://../../outside\n"),
        )
        .commit("a dependency out of the repository");
    let refused = wait_for_sync(&ns, "shop", &escaping, SyncResult::Invalid).await;
    assert!(
        refused.message.contains(
            "Chart.yaml:16: dependencies: dependency outside (file://../../outside) leaves the repository"
        ),
        "{}",
        refused.message
    );
    for name in ["web", "api", "common"] {
        assert!(config(name).await.is_some(), "{name} pruned");
    }
    daemon.stop().await;
}
