use super::*;
use crate::manifest::EntryKind;

fn entries(paths: &[&str]) -> Vec<Entry> {
    paths
        .iter()
        .map(|path| Entry {
            path: (*path).to_owned(),
            kind: EntryKind::File { size: 1 },
        })
        .collect()
}

fn source<'a>(
    helm: Option<&'a HelmOptions>,
    kustomize: Option<&'a KustomizeOptions>,
) -> Source<'a> {
    Source {
        name: "shop",
        path: "deploy",
        namespace: "default",
        helm,
        kustomize,
    }
}

#[test]
fn a_directory_is_detected_as_argo_cd_detects_it() {
    let plain = source(None, None);
    assert_eq!(detect(&entries(&["a.yaml"]), &plain), Ok(Kind::Directory));
    assert_eq!(
        detect(&entries(&["kustomization.yaml", "a.yaml"]), &plain),
        Ok(Kind::Kustomize)
    );
    assert_eq!(
        detect(&entries(&["Kustomization"]), &plain),
        Ok(Kind::Kustomize)
    );
    assert_eq!(
        detect(&entries(&["Chart.yaml", "templates/a.yaml"]), &plain),
        Ok(Kind::Helm)
    );
    // Only the directory itself counts, not a chart further down.
    assert_eq!(
        detect(&entries(&["charts/web/Chart.yaml"]), &plain),
        Ok(Kind::Directory)
    );
    let both = detect(&entries(&["Chart.yaml", "kustomization.yml"]), &plain).unwrap_err();
    assert!(both.message.contains("set helm or kustomize"), "{both}");
}

#[test]
fn a_source_saying_its_kind_must_hold_it() {
    let helm = HelmOptions::default();
    let kustomize = KustomizeOptions::default();
    assert_eq!(
        detect(
            &entries(&["Chart.yaml", "kustomization.yaml"]),
            &source(Some(&helm), None)
        ),
        Ok(Kind::Helm)
    );
    let missing = detect(&entries(&["a.yaml"]), &source(Some(&helm), None)).unwrap_err();
    assert_eq!(
        missing.message,
        "the source sets helm, but deploy has no Chart.yaml (or name one in helm.chart)"
    );
    let from_repository = HelmOptions {
        chart: Some(crate::render::ChartReference {
            repository: "https://charts.example.com".into(),
            name: "web".into(),
            version: None,
            auth: None,
            plain_http: false,
        }),
        ..HelmOptions::default()
    };
    assert_eq!(
        detect(
            &entries(&["values.yaml"]),
            &source(Some(&from_repository), None)
        ),
        Ok(Kind::Helm)
    );
    let both = detect(
        &entries(&["Chart.yaml"]),
        &source(Some(&from_repository), None),
    )
    .unwrap_err();
    assert!(
        both.message.contains("holds a Chart.yaml too"),
        "{}",
        both.message
    );
    assert_eq!(
        detect(
            &entries(&["Chart.yaml", "kustomization.yaml"]),
            &source(None, Some(&kustomize))
        ),
        Ok(Kind::Kustomize)
    );
    let missing = detect(&entries(&["Chart.yaml"]), &source(None, Some(&kustomize))).unwrap_err();
    assert!(
        missing.message.contains("no kustomization.yaml"),
        "{missing}"
    );
    let both = detect(
        &entries(&["Chart.yaml"]),
        &source(Some(&helm), Some(&kustomize)),
    );
    assert!(
        both.unwrap_err()
            .message
            .contains("both helm and kustomize")
    );
}

#[test]
fn a_stream_splits_at_document_markers_only() {
    let stream = "---\n# Source: a\nkind: A\n---\n\n---\nkind: B\ntext: |\n  ---x\n--- \nkind: C\n";
    assert_eq!(
        documents(stream),
        [
            "# Source: a\nkind: A\n",
            "kind: B\ntext: |\n  ---x\n",
            "kind: C\n"
        ]
    );
    assert!(documents("# only a comment\n---\n").is_empty());
}

#[test]
fn problem_paths_are_shown_from_the_source_directory() {
    assert_eq!(
        relative_path("overlays/prod", "overlays/prod/kustomization.yaml"),
        "kustomization.yaml"
    );
    assert_eq!(
        relative_path("overlays/prod", "base/kustomization.yaml"),
        "../../base/kustomization.yaml"
    );
    assert_eq!(relative_path("", "base/a.yaml"), "base/a.yaml");
    assert_eq!(relative_path("a/b", "a/c"), "../c");
}

#[test]
fn a_source_path_names_a_directory_of_the_repository() {
    assert_eq!(trimmed("."), "");
    assert_eq!(trimmed(""), "");
    assert_eq!(trimmed("./overlays/prod/"), "overlays/prod");
    assert_eq!(trimmed(".config/app"), ".config/app");
}
