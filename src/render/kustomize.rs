//! Kustomize, pure: which kustomization references would leave the repository or reach the
//! network (refused before `kustomize` runs), the `kustomize edit` commands for a source's
//! overrides, the `kustomize build` arguments, and the rendered output split by the file
//! each object came from.

use std::collections::BTreeSet;

use serde_json::Value;

use super::options::KustomizeOptions;
use crate::manifest::{FieldPath, Limits, Problem, line_of, yaml};

/// The names `kustomize` reads as a kustomization, in its order of preference.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The annotation `buildMetadata: [originAnnotations]` writes: where an object came from.
pub const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";

/// Fields that list other kustomizations or files by path, each entry one reference.
const REFERENCE_LISTS: [&str; 6] = [
    "resources",
    "bases",
    "components",
    "generators",
    "transformers",
    "validators",
];

/// The repository as the checks see it: its files (and links) and the directories they imply.
#[derive(Debug, Default)]
pub struct Listing {
    files: BTreeSet<String>,
    dirs: BTreeSet<String>,
    leaving: BTreeSet<String>,
}

impl Listing {
    /// From the repository's paths (`/`-separated, relative to its root).
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let mut listing = Self::default();
        listing.dirs.insert(String::new());
        for path in paths {
            let mut parent = path;
            while let Some((dir, _)) = parent.rsplit_once('/') {
                listing.dirs.insert(dir.to_owned());
                parent = dir;
            }
            listing.files.insert(path.to_owned());
        }
        listing
    }

    /// Marks links whose targets leave the repository: they are not in it.
    #[must_use]
    pub fn with_links_leaving(mut self, links: impl IntoIterator<Item = String>) -> Self {
        for link in links {
            self.files.remove(&link);
            self.leaving.insert(link);
        }
        self
    }

    /// Whether `path` is a link whose target leaves the repository.
    #[must_use]
    pub fn leaves(&self, path: &str) -> bool {
        self.leaving.contains(path)
    }

    /// Whether `path` is a file (or link) in the repository.
    #[must_use]
    pub fn is_file(&self, path: &str) -> bool {
        self.files.contains(path)
    }

    /// Whether `path` is a directory in the repository.
    #[must_use]
    pub fn is_dir(&self, path: &str) -> bool {
        self.dirs.contains(path)
    }

    /// The kustomization file in `dir`, if it has one.
    #[must_use]
    pub fn kustomization_in(&self, dir: &str) -> Option<String> {
        FILE_NAMES
            .iter()
            .map(|name| join(dir, name))
            .find(|path| self.is_file(path))
    }
}

/// `path` (relative to directory `dir`, both inside the repository) resolved lexically, or
/// `None` when it leaves the repository or is absolute.
#[must_use]
pub fn resolve(dir: &str, path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|part| !part.is_empty()).collect();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// What checking one kustomization found.
#[derive(Debug, Default)]
pub struct Checked {
    /// What is wrong with it.
    pub problems: Vec<Problem>,
    /// The kustomization files it refers to (to check next).
    pub refers_to: Vec<String>,
}

/// Checks one kustomization file (`path`, relative to the repository): every reference to
/// another kustomization or file must stay inside the repository and exist there, or be
/// remote on a host the source allows; `helmCharts` needs `enableHelm` and its charts in the
/// repository.
#[must_use]
pub fn check(
    path: &str,
    text: &str,
    listing: &Listing,
    options: &KustomizeOptions,
    limits: &Limits,
) -> Checked {
    let at = |line: Option<usize>, field: Option<&FieldPath>, message: String| Problem {
        file: path.to_owned(),
        line,
        field: field.map(ToString::to_string),
        message,
    };
    let failed = |problem| Checked {
        problems: vec![problem],
        refers_to: Vec::new(),
    };
    let documents = match yaml::documents(text, limits) {
        Ok(documents) => documents,
        Err(failure) => return failed(at(failure.line, None, failure.message)),
    };
    let Some((start, Value::Object(fields))) = documents.into_iter().next() else {
        return failed(at(None, None, "a kustomization must be a mapping".into()));
    };
    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut problems = Vec::new();
    let mut refers_to = Vec::new();
    for list in REFERENCE_LISTS {
        let Some(Value::Array(entries)) = fields.get(list) else {
            continue;
        };
        for (index, entry) in entries.iter().enumerate() {
            // Inline configurations (generators, transformers) are YAML, not paths.
            let Some(reference) = entry.as_str().filter(|text| !text.contains('\n')) else {
                continue;
            };
            let field = FieldPath::default().key(list).index(index);
            let line = line_of(text, start, &field);
            match reference_problem(dir, reference, listing, &options.allow_remote_hosts) {
                Some(message) => problems.push(at(line, Some(&field), message)),
                None => refers_to.extend(
                    resolve(dir, reference).and_then(|target| listing.kustomization_in(&target)),
                ),
            }
        }
    }
    if let Some(Value::Array(charts)) = fields.get("helmCharts") {
        let field = FieldPath::default().key("helmCharts");
        if options.enable_helm {
            let home = fields
                .get("helmGlobals")
                .and_then(|globals| globals.get("chartHome"))
                .and_then(Value::as_str)
                .unwrap_or("charts");
            for (index, chart) in charts.iter().enumerate() {
                let name = chart
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let local = resolve(dir, &format!("{home}/{name}"));
                if name.is_empty() || !local.as_deref().is_some_and(|local| listing.is_dir(local)) {
                    let field = field.index(index);
                    problems.push(at(
                        line_of(text, start, &field),
                        Some(&field),
                        format!(
                            "chart {name:?} is not in the repository under {home}/; charts are \
                             never downloaded from a chart repository here"
                        ),
                    ));
                }
            }
        } else {
            problems.push(at(
                line_of(text, start, &field),
                Some(&field),
                "helmCharts needs kustomize.enableHelm on the source".into(),
            ));
        }
    }
    Checked {
        problems,
        refers_to,
    }
}

/// What is wrong with one `resources`-like entry written in directory `dir`, if anything.
/// A remote one passes only when its host is one of `allowed`.
fn reference_problem(
    dir: &str,
    reference: &str,
    listing: &Listing,
    allowed: &[String],
) -> Option<String> {
    let is_allowed = |host: &str| allowed.iter().any(|name| name.eq_ignore_ascii_case(host));
    if let Some(host) = remote_host(reference) {
        return (!is_allowed(&host)).then(|| {
            format!(
                "{reference:?} is a remote resource on {host}; remote resources are refused \
                 unless the source lists their host in kustomize.allowRemoteHosts"
            )
        });
    }
    let Some(resolved) = resolve(dir, reference) else {
        return Some(format!("{reference:?} leaves the repository"));
    };
    if listing.leaves(&resolved) {
        return Some(format!(
            "{reference:?} is a symbolic link that leaves the repository"
        ));
    }
    if listing.is_file(&resolved) || listing.is_dir(&resolved) {
        return None;
    }
    // kustomize reads what is not a local path as a remote one (`github.com/org/repo//dir`).
    let implied = reference
        .split('/')
        .next()
        .filter(|first| first.contains('.') && !first.starts_with('.'));
    if implied.is_some_and(is_allowed) {
        return None;
    }
    Some(format!(
        "{reference:?} is neither a file nor a directory in the repository (remote resources \
         are refused unless the source lists their host in kustomize.allowRemoteHosts)"
    ))
}

/// The host of a reference written as a URL (`https://host/…`, `git::https://…`) or an scp-like
/// address (`git@host:org/repo`); `None` for anything else.
#[must_use]
pub fn remote_host(reference: &str) -> Option<String> {
    let reference = reference.strip_prefix("git::").unwrap_or(reference);
    let authority = if let Some((_, rest)) = reference.split_once("://") {
        rest.split('/').next().unwrap_or(rest)
    } else if let Some(rest) = reference.strip_prefix("git@") {
        rest.split(':').next().unwrap_or(rest)
    } else {
        return None;
    };
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    Some(host.to_ascii_lowercase())
}

/// The `kustomize edit` invocations (arguments after `kustomize`) that apply a source's
/// overrides to its kustomization, as Argo CD applies an Application's, then the one that
/// records every object's origin (unless the kustomization already asks for it).
#[must_use]
pub fn edits(options: &KustomizeOptions, records_origin: bool) -> Vec<Vec<String>> {
    let owned = |parts: &[&str]| parts.iter().map(|part| (*part).to_owned()).collect();
    let mut edits: Vec<Vec<String>> = Vec::new();
    if let Some(prefix) = &options.name_prefix {
        edits.push(owned(&["edit", "set", "nameprefix", "--", prefix]));
    }
    if let Some(suffix) = &options.name_suffix {
        edits.push(owned(&["edit", "set", "namesuffix", "--", suffix]));
    }
    if !options.images.is_empty() {
        let mut edit = owned(&["edit", "set", "image"]);
        edit.extend(options.images.iter().cloned());
        edits.push(edit);
    }
    for (verb, pairs) in [
        ("label", &options.common_labels),
        ("annotation", &options.common_annotations),
    ] {
        if !pairs.is_empty() {
            let mut edit = owned(&["edit", "add", verb, "--force"]);
            edit.push(
                pairs
                    .iter()
                    .map(|(key, value)| format!("{key}:{value}"))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            edits.push(edit);
        }
    }
    if let Some(namespace) = &options.namespace {
        edits.push(owned(&["edit", "set", "namespace", "--", namespace]));
    }
    if !records_origin {
        edits.push(owned(&[
            "edit",
            "add",
            "buildmetadata",
            "originAnnotations",
        ]));
    }
    edits
}

/// Whether a kustomization already asks for origin annotations (then they are the user's and
/// stay on the objects).
#[must_use]
pub fn records_origin(text: &str) -> bool {
    serde_saphyr::from_str::<Value>(text)
        .ok()
        .and_then(|value| value.get("buildMetadata").cloned())
        .and_then(|value| value.as_array().cloned())
        .is_some_and(|list| list.iter().any(|item| item == "originAnnotations"))
}

/// `kustomize build` arguments for the kustomization in the working directory.
#[must_use]
pub fn build_args(helm_command: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "build".to_owned(),
        ".".to_owned(),
        "--load-restrictor".to_owned(),
        "LoadRestrictionsRootOnly".to_owned(),
    ];
    if let Some(helm) = helm_command {
        args.extend(["--enable-helm".to_owned(), "--helm-command".to_owned()]);
        args.push(helm.to_owned());
    }
    args
}

/// `kustomize build` output split into documents grouped by the file each came from (its
/// origin annotation's `path`, or `configuredIn` for generated objects), in first-seen order:
/// (file, its documents' text).
#[must_use]
pub fn split_by_origin(output: &str) -> Vec<(String, String)> {
    super::group_documents(output, |document| {
        origin_path(document).unwrap_or_else(|| "(kustomize build)".to_owned())
    })
}

/// The `path:` (or `configuredIn:`) of a document's origin annotation, as kustomize prints it
/// (a literal block under the annotation).
fn origin_path(document: &str) -> Option<String> {
    let mut lines = document.lines();
    lines.find(|line| line.trim_start().starts_with(ORIGIN_ANNOTATION))?;
    for line in lines.take(8) {
        let line = line.trim();
        for key in ["path:", "configuredIn:"] {
            if let Some(value) = line.strip_prefix(key) {
                return Some(value.trim().trim_matches('"').to_owned());
            }
        }
    }
    None
}

/// Removes the origin annotation tidegate asked for (and `annotations` if it leaves it empty).
pub fn strip_origin(object: &mut Value) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let emptied = match metadata
        .get_mut("annotations")
        .and_then(Value::as_object_mut)
    {
        Some(annotations) => {
            annotations.remove(ORIGIN_ANNOTATION);
            annotations.is_empty()
        }
        None => false,
    };
    if emptied {
        metadata.remove("annotations");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn listing() -> Listing {
        Listing::new([
            "base/kustomization.yaml",
            "base/deployment.yaml",
            "overlays/prod/kustomization.yaml",
            "overlays/prod/charts/web/Chart.yaml",
            "overlays/prod/etc",
        ])
        .with_links_leaving(["overlays/prod/etc".to_owned()])
    }

    fn problems(path: &str, text: &str, enable_helm: bool) -> Vec<String> {
        let options = KustomizeOptions {
            enable_helm,
            ..KustomizeOptions::default()
        };
        check(path, text, &listing(), &options, &Limits::default())
            .problems
            .into_iter()
            .map(|problem| problem.to_string())
            .collect()
    }

    #[test]
    fn references_inside_the_repository_pass() {
        let text = "resources:\n- ../../base\n- ../../base/deployment.yaml\n";
        assert!(problems("overlays/prod/kustomization.yaml", text, false).is_empty());
        let checked = check(
            "overlays/prod/kustomization.yaml",
            text,
            &listing(),
            &KustomizeOptions::default(),
            &Limits::default(),
        );
        assert_eq!(checked.refers_to, ["base/kustomization.yaml"]);
    }

    #[test]
    fn references_out_of_the_repository_or_remote_are_refused_with_their_line() {
        let text = "resources:\n- ../../base\n- ../../../etc\n- https://github.com/x/y//base?ref=v1\n\
                    - github.com/x/y/base\ncomponents:\n- /etc/kustomize\n- etc\n";
        assert_eq!(
            problems("overlays/prod/kustomization.yaml", text, false),
            [
                "overlays/prod/kustomization.yaml:3: resources[1]: \"../../../etc\" leaves the repository",
                "overlays/prod/kustomization.yaml:4: resources[2]: \"https://github.com/x/y//base?ref=v1\" is a remote resource on github.com; remote resources are refused unless the source lists their host in kustomize.allowRemoteHosts",
                "overlays/prod/kustomization.yaml:5: resources[3]: \"github.com/x/y/base\" is neither a file nor a directory in the repository (remote resources are refused unless the source lists their host in kustomize.allowRemoteHosts)",
                "overlays/prod/kustomization.yaml:7: components[0]: \"/etc/kustomize\" leaves the repository",
                "overlays/prod/kustomization.yaml:8: components[1]: \"etc\" is a symbolic link that leaves the repository",
            ]
        );
    }

    #[test]
    fn remote_resources_pass_only_from_allowed_hosts() {
        let text = "resources:\n- https://GitHub.com/x/y//base?ref=v1\n- github.com/x/y/base\n\
                    - git@github.com:x/y.git\n- git::http://user@127.0.0.1:3000/x.git//base\n";
        let allowing = |hosts: &[&str]| {
            let options = KustomizeOptions {
                allow_remote_hosts: hosts.iter().map(|host| (*host).to_owned()).collect(),
                ..KustomizeOptions::default()
            };
            check("k.yaml", text, &listing(), &options, &Limits::default())
                .problems
                .len()
        };
        assert_eq!(allowing(&[]), 4);
        assert_eq!(allowing(&["github.com"]), 1);
        assert_eq!(allowing(&["github.com", "127.0.0.1"]), 0);
        assert_eq!(allowing(&["gitlab.com"]), 4);
    }

    #[test]
    fn remote_hosts_are_read_from_urls_and_scp_addresses() {
        assert_eq!(
            remote_host("https://github.com/x//y").as_deref(),
            Some("github.com")
        );
        assert_eq!(
            remote_host("git::https://u:p@Git.example:8443/x").as_deref(),
            Some("git.example")
        );
        assert_eq!(
            remote_host("git@github.com:x/y.git").as_deref(),
            Some("github.com")
        );
        assert_eq!(remote_host("../base"), None);
        assert_eq!(remote_host("github.com/x/y"), None);
    }

    #[test]
    fn inline_transformer_configurations_are_not_paths() {
        let text = "transformers:\n- |\n  apiVersion: builtin\n  kind: LabelTransformer\n";
        assert!(problems("base/kustomization.yaml", text, false).is_empty());
    }

    #[test]
    fn helm_charts_need_enabling_and_a_chart_in_the_repository() {
        let text = "helmCharts:\n- name: web\n- name: redis\n  repo: https://charts.example\n";
        let found = problems("overlays/prod/kustomization.yaml", text, false);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("kustomize.enableHelm"), "{found:?}");
        let found = problems("overlays/prod/kustomization.yaml", text, true);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("\"redis\""), "{found:?}");
    }

    #[test]
    fn overrides_become_kustomize_edits_in_argo_cds_order() {
        let options = KustomizeOptions {
            name_prefix: Some("prod-".into()),
            images: vec!["web=registry.example/web:2".into()],
            common_labels: BTreeMap::from([("team".into(), "a".into())]),
            namespace: Some("prod".into()),
            ..KustomizeOptions::default()
        };
        let edits: Vec<String> = edits(&options, false)
            .iter()
            .map(|edit| edit.join(" "))
            .collect();
        assert_eq!(
            edits,
            [
                "edit set nameprefix -- prod-",
                "edit set image web=registry.example/web:2",
                "edit add label --force team:a",
                "edit set namespace -- prod",
                "edit add buildmetadata originAnnotations",
            ]
        );
        assert!(super::edits(&KustomizeOptions::default(), true).is_empty());
    }

    #[test]
    fn the_build_restricts_loads_to_the_root_and_names_helm_only_when_enabled() {
        assert_eq!(
            build_args(None).join(" "),
            "build . --load-restrictor LoadRestrictionsRootOnly"
        );
        assert_eq!(
            build_args(Some("/usr/local/bin/helm")).join(" "),
            "build . --load-restrictor LoadRestrictionsRootOnly --enable-helm --helm-command /usr/local/bin/helm"
        );
    }

    #[test]
    fn output_is_grouped_by_origin() {
        let output = "apiVersion: v1\nkind: Service\nmetadata:\n  annotations:\n    config.kubernetes.io/origin: |\n      path: ../../base/service.yaml\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    config.kubernetes.io/origin: |\n      configuredIn: kustomization.yaml\n      configuredBy:\n        kind: ConfigMapGenerator\n  name: b\n---\napiVersion: v1\nkind: Service\nmetadata:\n  annotations:\n    config.kubernetes.io/origin: |\n      path: ../../base/service.yaml\n  name: c\n";
        let groups = split_by_origin(output);
        let files: Vec<&str> = groups.iter().map(|(file, _)| file.as_str()).collect();
        assert_eq!(files, ["../../base/service.yaml", "kustomization.yaml"]);
        assert!(groups[0].1.contains("name: a") && groups[0].1.contains("name: c"));
        assert!(groups[0].1.contains("---\n"));
    }

    #[test]
    fn the_origin_annotation_is_removed_with_annotations_it_empties() {
        let mut object =
            serde_json::json!({"metadata": {"annotations": {ORIGIN_ANNOTATION: "path: a"}}});
        strip_origin(&mut object);
        assert_eq!(object, serde_json::json!({"metadata": {}}));
        let mut object =
            serde_json::json!({"metadata": {"annotations": {ORIGIN_ANNOTATION: "x", "a": "b"}}});
        strip_origin(&mut object);
        assert_eq!(
            object,
            serde_json::json!({"metadata": {"annotations": {"a": "b"}}})
        );
    }

    #[test]
    fn a_kustomization_asking_for_origins_keeps_them() {
        assert!(records_origin("buildMetadata: [originAnnotations]\n"));
        assert!(!records_origin("buildMetadata: [managedByLabel]\n"));
        assert!(!records_origin("resources: []\n"));
    }

    #[test]
    fn paths_resolve_lexically_inside_the_repository() {
        assert_eq!(resolve("a/b", "../c").as_deref(), Some("a/c"));
        assert_eq!(resolve("a/b", "./../../c").as_deref(), Some("c"));
        assert_eq!(resolve("a", "../../c"), None);
        assert_eq!(resolve("a", "/c"), None);
        assert_eq!(resolve("", "x/").as_deref(), Some("x"));
    }
}
