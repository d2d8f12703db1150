use std::collections::BTreeMap;
use std::io;

use super::*;

/// An in-memory tree: files by path, links by path.
#[derive(Default)]
struct Tree {
    files: BTreeMap<String, Vec<u8>>,
    links: BTreeMap<String, String>,
    /// Sizes to report instead of the real ones (a "huge" file that is never read).
    claimed_sizes: BTreeMap<String, u64>,
}

impl Tree {
    fn file(mut self, path: &str, text: &str) -> Self {
        self.files.insert(path.to_owned(), text.as_bytes().to_vec());
        self
    }
    fn bytes(mut self, path: &str, bytes: &[u8]) -> Self {
        self.files.insert(path.to_owned(), bytes.to_vec());
        self
    }
    fn link(mut self, path: &str, target: &str) -> Self {
        self.links.insert(path.to_owned(), target.to_owned());
        self
    }
    fn huge(mut self, path: &str, size: u64) -> Self {
        self.files.insert(path.to_owned(), Vec::new());
        self.claimed_sizes.insert(path.to_owned(), size);
        self
    }
    fn render(&self) -> Result<Vec<Manifest>, Problems> {
        render(self, &Limits::default())
    }
    fn problems(&self) -> Vec<String> {
        self.render()
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}

impl Files for Tree {
    fn entries(&self) -> io::Result<Vec<Entry>> {
        let files = self.files.iter().map(|(path, bytes)| Entry {
            path: path.clone(),
            kind: EntryKind::File {
                size: self
                    .claimed_sizes
                    .get(path)
                    .copied()
                    .unwrap_or(bytes.len() as u64),
            },
        });
        let links = self.links.iter().map(|(path, target)| Entry {
            path: path.clone(),
            kind: EntryKind::Symlink {
                target: target.clone(),
            },
        });
        Ok(files.chain(links).collect())
    }
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        assert!(
            !self.claimed_sizes.contains_key(path),
            "{path} is over the limit and must not be read"
        );
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }
}

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: \"fast\"\n";

fn rollout(steps: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1
  strategy:
    canary:
      steps:
{steps}"
    )
}

fn names(manifests: &[Manifest]) -> Vec<String> {
    manifests
        .iter()
        .map(|manifest| format!("{} @ {}", manifest.key, manifest.origin))
        .collect()
}

#[test]
fn files_are_read_sorted_recursively_and_by_document() {
    let tree = Tree::default()
        .file("b/service.yml", "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n")
        .file("a.yaml", &format!("---\n{CONFIG_MAP}---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: shop}}\n"))
        .file("README.md", "not yaml: [")
        .file(".tidegate/approvals/web.yaml", "not: an object: at all: [")
        .file("apps/.tidegate/x.yaml", "kind: [");
    assert_eq!(
        names(&tree.render().unwrap()),
        [
            "ConfigMap settings @ a.yaml:2",
            "Namespace shop @ a.yaml:10",
            "Service shop/web @ b/service.yml:1"
        ]
    );
}

#[test]
fn argo_kinds_move_to_tidegate_and_others_stay() {
    let tree = Tree::default().file("web.yaml", &rollout("      - setWeight: 20\n"));
    let manifests = tree.render().unwrap();
    assert_eq!(manifests[0].api_version, "tidegate.dev/v1alpha1");
    assert_eq!(manifests[0].object["apiVersion"], "tidegate.dev/v1alpha1");
    assert_eq!(
        manifests[0].key.to_string(),
        "Rollout.tidegate.dev shop/web"
    );
}

#[test]
fn an_unknown_rollout_field_is_named_with_file_and_line() {
    let tree = Tree::default().file("ok.yaml", CONFIG_MAP).file(
        "web.yaml",
        &rollout("      - setWeight: 20\n      - setWeigth: 40\n"),
    );
    assert_eq!(
        tree.problems(),
        [
            "web.yaml:20: spec.strategy.canary.steps[1].setWeigth: unknown field (did you mean \"setWeight\"?)"
        ]
    );
}

#[test]
fn an_invalid_rollout_spec_is_named_with_file_and_line() {
    let tree = Tree::default().file("web.yaml", &rollout("      - setWeight: 120\n"));
    let problems = tree.problems();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("web.yaml:19: spec.strategy.canary.steps[0].setWeight: "),
        "{problems:?}"
    );
}

#[test]
fn an_invalid_experiment_is_named_with_file_line_and_field() {
    let experiment = "apiVersion: argoproj.io/v1alpha1
kind: Experiment
metadata: {name: ab}
spec:
  templates:
  - name: purple
    selector: {matchLabels: {app: demo}}
    template:
      metadata: {labels: {app: other}}
      spec: {containers: [{name: demo, image: demo}]}
  - name: purple
    selector: {}
    template: {spec: {containers: [{name: demo, image: demo}]}}
";
    let tree = Tree::default().file("ab.yaml", experiment);
    assert_eq!(
        tree.problems(),
        [
            "ab.yaml:7: spec.templates[0].selector: does not match the labels of the template's pods",
            "ab.yaml:11: spec.templates[1].name: template name 'purple' is repeated",
            "ab.yaml:12: spec.templates[1].selector: this template selects all pods: a non-empty selector is required",
        ]
    );
}

#[test]
fn bad_yaml_names_its_line_and_nothing_renders() {
    let tree = Tree::default()
        .file("a.yaml", CONFIG_MAP)
        .file("b.yaml", "apiVersion: v1\nkind: [\n");
    let problems = tree.problems();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("b.yaml:"), "{problems:?}");
}

#[test]
fn documents_must_be_objects_with_identity() {
    let tree = Tree::default()
        .file("list.yaml", "- a\n- b\n")
        .file(
            "anon.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
        )
        .file("kindless.yaml", "apiVersion: v1\nmetadata: {name: x}\n")
        .file(
            "numbered.yaml",
            "apiVersion: v1\nkind: 7\nmetadata: {name: x}\n",
        );
    assert_eq!(
        tree.problems(),
        [
            "anon.yaml:1: metadata.name: metadata.name is required",
            "kindless.yaml:1: kind: kind is required",
            "list.yaml:1: a document must be a mapping (a Kubernetes object)",
            "numbered.yaml:2: kind: kind must be a non-empty string",
        ]
    );
}

#[test]
fn the_same_object_twice_is_a_problem() {
    let tree = Tree::default()
        .file("a.yaml", CONFIG_MAP)
        .file("b.yaml", CONFIG_MAP);
    assert_eq!(
        tree.problems(),
        ["b.yaml:1: ConfigMap settings is also defined at a.yaml:1"]
    );
}

#[test]
fn links_out_of_the_directory_are_refused() {
    let tree = Tree::default()
        .file("a.yaml", CONFIG_MAP)
        .link("passwd.yaml", "/etc/passwd")
        .link("up.yaml", "../../secrets.yaml")
        .link("notes", "/etc");
    assert_eq!(
        tree.problems(),
        [
            "notes: symbolic link to \"/etc\" leaves the source directory",
            "passwd.yaml: symbolic link to \"/etc/passwd\" leaves the source directory",
            "up.yaml: symbolic link to \"../../secrets.yaml\" leaves the source directory",
        ]
    );
}

#[test]
fn links_inside_the_directory_read_their_target() {
    let tree = Tree::default()
        .file("base/settings.yaml", CONFIG_MAP)
        .link("prod/settings.yaml", "../base/settings.yaml")
        .link("prod/missing.yaml", "nowhere.yaml");
    assert_eq!(
        tree.problems(),
        [
            "prod/missing.yaml: symbolic link to \"nowhere.yaml\" does not point at a file in the source directory",
            "prod/settings.yaml:1: ConfigMap settings is also defined at base/settings.yaml:1",
        ]
    );
}

#[test]
fn huge_files_are_refused_without_reading_them() {
    let tree = Tree::default()
        .file("a.yaml", CONFIG_MAP)
        .huge("big.yaml", 100 << 20);
    assert_eq!(
        tree.problems(),
        ["big.yaml: file is 104857600 bytes; the limit is 2097152 (limits.maxFileBytes)"]
    );
}

#[test]
fn the_total_size_is_bounded() {
    let limits = Limits {
        max_total_bytes: 100,
        ..Limits::default()
    };
    let tree = Tree::default()
        .file("a.yaml", CONFIG_MAP)
        .file("b.yaml", CONFIG_MAP);
    let problems = render(&tree, &limits).unwrap_err();
    assert_eq!(problems.0.len(), 1);
    assert!(
        problems.0[0].message.contains("limits.maxTotalBytes"),
        "{problems}"
    );
}

#[test]
fn the_document_count_is_bounded() {
    let limits = Limits {
        max_documents: 2,
        ..Limits::default()
    };
    let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c0}\n\
                ---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1}\n";
    let tree = Tree::default()
        .file("a.yaml", CONFIG_MAP)
        .file("b.yaml", text);
    let problems = render(&tree, &limits).unwrap_err();
    assert!(
        problems.0[0].message.contains("limits.maxDocuments"),
        "{problems}"
    );
}

#[test]
fn non_utf8_is_refused_with_its_line() {
    let tree = Tree::default().bytes(
        "a.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \xff}\n",
    );
    assert_eq!(tree.problems(), ["a.yaml:3: file is not valid UTF-8"]);
}

#[test]
fn yaml_bombs_are_refused() {
    let bomb = include_str!("../../tests/fixtures/bad-input/bomb.yaml");
    let problems = Tree::default().file("bomb.yaml", bomb).problems();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("bomb.yaml:10: alias replay limit exceeded"),
        "{problems:?}"
    );
}

#[test]
fn a_directory_on_disk_reports_links_without_following_them() {
    let root = std::env::temp_dir().join(format!("tidegate-manifest-{}", std::process::id()));
    std::fs::create_dir_all(root.join("apps")).unwrap();
    std::fs::write(root.join("apps/settings.yaml"), CONFIG_MAP).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("passwd.yaml")).unwrap();
    let result = render(&DirFiles::new(&root), &Limits::default());
    std::fs::remove_dir_all(&root).unwrap();
    let problems = result.unwrap_err();
    assert_eq!(
        problems.to_string(),
        "passwd.yaml: symbolic link to \"/etc/passwd\" leaves the source directory"
    );
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;
    use crate::arbitrary;

    const KINDS: &[&str] = &[
        "Rollout",
        "AnalysisTemplate",
        "ClusterAnalysisTemplate",
        "AnalysisRun",
        "ConfigMap",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn on_arbitrary_bytes(bytes in arbitrary::bytes()) {
            let _ = Tree::default().bytes("a.yaml", &bytes).render();
        }

        #[test]
        fn on_arbitrary_yaml_text(text in arbitrary::text()) {
            let _ = Tree::default().file("a.yaml", &text).render();
        }

        #[test]
        fn on_arbitrary_documents_of_every_kind(document in arbitrary::document(KINDS)) {
            let text = serde_json::to_string(&document).unwrap();
            let _ = Tree::default().file("a.yaml", &text).render();
        }
    }
}

fn service(name: &str, namespace: &str, selector: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
         spec:\n  selector: {selector}\n  ports: [{{port: 80}}]\n"
    )
}

const SERVICES: &str =
    "      - setWeight: 20\n      canaryService: web-canary\n      stableService: web-stable\n";

#[test]
fn services_a_rollout_names_must_select_its_pods() {
    let matching = Tree::default()
        .file("web.yaml", &rollout(SERVICES))
        .file(
            "canary.yaml",
            &service(
                "web-canary",
                "shop",
                "{app: web, rollouts-pod-template-hash: abc}",
            ),
        )
        .file("stable.yaml", &service("web-stable", "shop", "{app: web}"))
        .file(
            "a-elsewhere.yaml",
            &service("web-canary", "elsewhere", "{app: other}"),
        );
    assert_eq!(matching.render().unwrap().len(), 4);

    let mismatched = Tree::default()
        .file("web.yaml", &rollout(SERVICES))
        .file(
            "canary.yaml",
            &service("web-canary", "shop", "{app: web, tier: front}"),
        )
        .file("stable.yaml", &service("web-stable", "shop", "{app: shop}"));
    assert_eq!(
        mismatched.problems(),
        [
            "canary.yaml:1: spec.selector.tier: Service \"web-canary\" selects tier=front, but the \
             pod template of Rollout \"web\" (web.yaml:1), whose spec.strategy.canary.canaryService \
             it is, has no label \"tier\": the Service would not select the Rollout's pods",
            "stable.yaml:1: spec.selector.app: Service \"web-stable\" selects app=shop, but the \
             pod template of Rollout \"web\" (web.yaml:1), whose spec.strategy.canary.stableService \
             it is, has app=web: the Service would not select the Rollout's pods",
        ]
    );
}

#[test]
fn blue_green_and_ping_pong_services_are_checked_too() {
    let blue_green = rollout("      - setWeight: 20\n").replace(
        "    canary:\n      steps:\n      - setWeight: 20\n",
        "    blueGreen: {activeService: web-active, previewService: web-preview}\n",
    );
    let tree = Tree::default()
        .file("web.yaml", &blue_green)
        .file("active.yaml", &service("web-active", "shop", "{app: web}"))
        .file(
            "preview.yaml",
            &service("web-preview", "shop", "{app: webb}"),
        );
    let problems = tree.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("preview.yaml:1: spec.selector.app: Service \"web-preview\"")
            && problems[0].contains("spec.strategy.blueGreen.previewService"),
        "{problems:?}"
    );

    let ping_pong = "      - setWeight: 20\n      pingPong: {pingService: web-ping, pongService: web-pong}\n      \
         trafficRouting: {alb: {ingress: web, servicePort: 80, rootService: web}}\n";
    let tree = Tree::default()
        .file("web.yaml", &rollout(ping_pong))
        .file("ping.yaml", &service("web-ping", "shop", "{app: web}"))
        .file("pong.yaml", &service("web-pong", "shop", "{version: v2}"));
    let problems = tree.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("spec.strategy.canary.pingPong.pongService"),
        "{problems:?}"
    );
}

#[test]
fn a_generated_name_is_refused_with_the_reason() {
    let tree = Tree::default().file(
        "job.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-}\n",
    );
    assert_eq!(
        tree.problems(),
        [
            "job.yaml:1: metadata.name: metadata.name is required: metadata.generateName makes a \
          new object on every apply, so Git could never say which object it describes; give it \
          a name"
        ]
    );
}

#[test]
fn services_of_a_workload_ref_rollout_must_select_its_deployments_pods() {
    let rollout = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\n\
        metadata: {name: web, namespace: shop}\n\
        spec:\n  replicas: 2\n  \
        workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  \
        strategy:\n    canary:\n      steps:\n      - setWeight: 20\n      \
        canaryService: web-canary\n      stableService: web-stable\n";
    let deployment = "apiVersion: apps/v1\nkind: Deployment\n\
        metadata: {name: web, namespace: shop}\n\
        spec:\n  replicas: 0\n  selector: {matchLabels: {app: web}}\n  \
        template:\n    metadata: {labels: {app: web}}\n    \
        spec: {containers: [{name: web, image: web:1}]}\n";
    let tree = Tree::default()
        .file("web.yaml", rollout)
        .file("deployment.yaml", deployment)
        .file("canary.yaml", &service("web-canary", "shop", "{app: web}"))
        .file("stable.yaml", &service("web-stable", "shop", "{app: shop}"));
    let problems = tree.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(
            "stable.yaml:1: spec.selector.app: Service \"web-stable\" selects app=shop"
        ) && problems[0].contains("has app=web"),
        "{problems:?}"
    );
    // Without the Deployment in the render, nothing can be checked — and nothing is refused.
    let alone = Tree::default()
        .file("web.yaml", rollout)
        .file("stable.yaml", &service("web-stable", "shop", "{app: shop}"));
    assert_eq!(
        alone.render().map(|manifests| manifests.len()).ok(),
        Some(2)
    );
}
