//! Helm, pure: where a source's values files are (inside the repository only), the
//! `helm template` arguments, the rendered output split by template, and the template file
//! and line a Helm error names.

use super::kustomize::{Listing, resolve};
use super::options::HelmOptions;

/// A values file named by a source, checked: its path in the repository.
///
/// `chart` is the chart's directory in the repository; `file` is relative to it, as Argo CD
/// reads `helm.valueFiles`. URLs, absolute paths, paths out of the repository and paths that
/// are not files in it are refused.
pub fn values_file(chart: &str, file: &str, listing: &Listing) -> Result<String, String> {
    if file.contains("://") {
        return Err(format!(
            "values file {file:?} is a URL; values files must be in the repository"
        ));
    }
    let Some(resolved) = resolve(chart, file) else {
        return Err(format!("values file {file:?} leaves the repository"));
    };
    if listing.leaves(&resolved) {
        return Err(format!(
            "values file {file:?} is a symbolic link that leaves the repository"
        ));
    }
    if listing.is_file(&resolved) {
        Ok(resolved)
    } else {
        Err(format!(
            "values file {file:?} is not a file in the repository"
        ))
    }
}

/// `helm template` arguments, run in the chart's directory: `values` are the values files'
/// paths on disk in order (the source's files, then its inline values).
///
/// Hooks are left out (`--no-hooks`): tidegate applies a chart's objects and runs no hook
/// phases. CRDs are included, as Argo CD includes them. Without `--dry-run=server`, `lookup`
/// finds nothing and no cluster is contacted.
#[must_use]
pub fn template_args(release: &str, namespace: &str, values: &[String]) -> Vec<String> {
    let mut args = vec![
        "template".to_owned(),
        release.to_owned(),
        ".".to_owned(),
        "--namespace".to_owned(),
        namespace.to_owned(),
        "--include-crds".to_owned(),
        "--no-hooks".to_owned(),
    ];
    for file in values {
        args.push("--values".to_owned());
        args.push(file.clone());
    }
    args
}

/// The release name: the source's `helm.releaseName`, else the source's name.
#[must_use]
pub fn release_name<'a>(options: &'a HelmOptions, source: &'a str) -> &'a str {
    options.release_name.as_deref().unwrap_or(source)
}

/// `helm template` output split into documents grouped by template (its `# Source:` line,
/// relative to the chart's directory), in first-seen order: (file, its documents' text).
#[must_use]
pub fn split_by_template(output: &str) -> Vec<(String, String)> {
    super::group_documents(output, |document| {
        document
            .lines()
            .find_map(|line| line.strip_prefix("# Source: "))
            .map_or_else(
                || "(helm template)".to_owned(),
                |path| in_chart(path.trim()),
            )
    })
}

/// A path as Helm prints it (`<chart name>/templates/x.yaml`) relative to the chart's
/// directory (`templates/x.yaml`).
fn in_chart(path: &str) -> String {
    path.split_once('/')
        .map_or(path, |(_, rest)| rest)
        .to_owned()
}

/// The template file (relative to the chart's directory) and line a Helm error names, as in
/// `template: web/templates/x.yaml:12:3: executing …` or
/// `YAML parse error on web/templates/x.yaml: … line 5: …`.
#[must_use]
pub fn error_location(stderr: &str) -> Option<(String, Option<usize>)> {
    if let Some(rest) = stderr.split("template: ").nth(1) {
        let mut parts = rest.splitn(3, ':');
        let (Some(path), Some(line)) = (parts.next(), parts.next()) else {
            return None;
        };
        if path.contains('/') {
            return Some((in_chart(path), line.trim().parse().ok()));
        }
    }
    let rest = stderr.split("YAML parse error on ").nth(1)?;
    let (path, detail) = rest.split_once(':')?;
    let line = detail
        .split("line ")
        .nth(1)
        .and_then(|tail| tail.split(':').next())
        .and_then(|number| number.trim().parse().ok());
    Some((in_chart(path.trim()), line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing() -> Listing {
        Listing::new([
            "charts/web/Chart.yaml",
            "charts/web/values.yaml",
            "env/prod.yaml",
            "env/passwd.yaml",
        ])
        .with_links_leaving(["env/passwd.yaml".to_owned()])
    }

    #[test]
    fn values_files_inside_the_repository_are_accepted() {
        assert_eq!(
            values_file("charts/web", "../../env/prod.yaml", &listing()).as_deref(),
            Ok("env/prod.yaml")
        );
        assert_eq!(
            values_file("charts/web", "values.yaml", &listing()).as_deref(),
            Ok("charts/web/values.yaml")
        );
    }

    #[test]
    fn values_files_out_of_the_repository_are_refused() {
        for (file, says) in [
            ("../../../etc/passwd", "leaves the repository"),
            ("/etc/passwd", "leaves the repository"),
            ("https://example.com/values.yaml", "is a URL"),
            ("missing.yaml", "is not a file in the repository"),
            ("../../env", "is not a file in the repository"),
            (
                "../../env/passwd.yaml",
                "symbolic link that leaves the repository",
            ),
        ] {
            let error = values_file("charts/web", file, &listing()).unwrap_err();
            assert!(error.contains(says), "{file}: {error}");
        }
    }

    #[test]
    fn template_arguments_leave_hooks_out_and_keep_values_in_order() {
        let args = template_args("web", "prod", &["/w/a.yaml".into(), "/w/b.yaml".into()]);
        assert_eq!(
            args.join(" "),
            "template web . --namespace prod --include-crds --no-hooks --values /w/a.yaml --values /w/b.yaml"
        );
    }

    #[test]
    fn the_release_is_named_after_the_source_unless_set() {
        let mut options = HelmOptions::default();
        assert_eq!(release_name(&options, "shop"), "shop");
        options.release_name = Some("web".into());
        assert_eq!(release_name(&options, "shop"), "web");
    }

    #[test]
    fn output_is_grouped_by_template() {
        let output = "---\n# Source: web/templates/service.yaml\napiVersion: v1\nkind: Service\n---\n# Source: web/templates/rollout.yaml\nkind: Rollout\n---\n# Source: web/templates/service.yaml\nkind: Service\n";
        let groups = split_by_template(output);
        let files: Vec<&str> = groups.iter().map(|(file, _)| file.as_str()).collect();
        assert_eq!(files, ["templates/service.yaml", "templates/rollout.yaml"]);
        assert_eq!(groups[0].1.matches("kind: Service").count(), 2);
    }

    #[test]
    fn helm_errors_name_the_template_and_line() {
        assert_eq!(
            error_location(
                "Error: template: web/templates/rollout.yaml:12:3: executing \"x\" at <.Values.a.b>: nil pointer"
            ),
            Some(("templates/rollout.yaml".into(), Some(12)))
        );
        assert_eq!(
            error_location(
                "Error: YAML parse error on web/templates/svc.yaml: error converting YAML to JSON: yaml: line 5: did not find expected key"
            ),
            Some(("templates/svc.yaml".into(), Some(5)))
        );
        assert_eq!(error_location("Error: Chart.yaml file is missing"), None);
    }
}
