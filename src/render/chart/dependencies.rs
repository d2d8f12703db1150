//! A chart's dependencies, pure: which ones `Chart.yaml` names that `charts/` does not hold
//! yet, where each comes from (a chart repository, or a directory in the Git repository for
//! `file://`) and which version — the one `Chart.lock` pins, else the newest the constraint
//! allows — as `helm dependency build` decides.

use serde::Deserialize;

/// A dependency to put in `charts/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needed {
    /// The chart's name.
    pub name: String,
    /// Where it comes from.
    pub from: From,
    /// The version constraint (a locked version is an exact one).
    pub version: Option<String>,
}

/// Where a dependency comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// A chart repository (`https://`, `http://`, `oci://`).
    Repository(String),
    /// A directory, relative to the chart's (`file://../common`).
    Directory(String),
}

#[derive(Deserialize)]
struct ChartFile {
    #[serde(default)]
    dependencies: Vec<Dependency>,
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    repository: Option<String>,
}

/// The dependencies `chart_yaml` names that `vendored` (the names of what `charts/` holds:
/// directories, and archives as `name-version.tgz`) does not provide, with `lock`'s versions.
pub fn needed(
    chart_yaml: &str,
    lock: Option<&str>,
    vendored: &[String],
) -> Result<Vec<Needed>, String> {
    let chart: ChartFile = serde_saphyr::from_str(chart_yaml)
        .map_err(|error| format!("Chart.yaml: dependencies: {error}"))?;
    let locked: Vec<Dependency> = match lock {
        Some(text) => {
            serde_saphyr::from_str::<ChartFile>(text)
                .map_err(|error| format!("Chart.lock: {error}"))?
                .dependencies
        }
        None => Vec::new(),
    };
    let mut needed = Vec::new();
    for dependency in chart.dependencies {
        let Some(repository) = dependency
            .repository
            .as_deref()
            .map(str::trim)
            .filter(|repository| !repository.is_empty())
        else {
            // No repository: it must be in charts/ already, which Helm checks.
            continue;
        };
        if is_vendored(&dependency.name, vendored) {
            continue;
        }
        let from = if let Some(path) = repository.strip_prefix("file://") {
            From::Directory(path.to_owned())
        } else if ["https://", "http://", "oci://"]
            .iter()
            .any(|scheme| repository.starts_with(scheme))
        {
            From::Repository(repository.trim_end_matches('/').to_owned())
        } else {
            return Err(format!(
                "Chart.yaml: dependency {:?} names repository {repository:?}; write its URL (https://, oci:// or file://): tidegate knows no `helm repo add` names",
                dependency.name
            ));
        };
        let version = locked
            .iter()
            .find(|lock| {
                lock.name == dependency.name
                    && lock.repository.as_deref().map(|r| r.trim_end_matches('/'))
                        == Some(repository.trim_end_matches('/'))
            })
            .and_then(|lock| lock.version.clone())
            .or(dependency.version);
        needed.push(Needed {
            name: dependency.name,
            from,
            version,
        });
    }
    Ok(needed)
}

/// Whether `charts/` holds chart `name` (a directory, or `name-<version>.tgz`).
fn is_vendored(name: &str, vendored: &[String]) -> bool {
    vendored.iter().any(|entry| {
        entry == name
            || entry
                .strip_suffix(".tgz")
                .and_then(|stem| stem.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHART: &str = "apiVersion: v2
name: shop
version: 0.1.0
dependencies:
  - name: web
    version: ~1.0
    repository: https://charts.example.com/stable/
  - name: cache
    version: '>=7'
    repository: oci://registry.example.com/charts
    alias: redis
  - name: common
    version: 0.1.0
    repository: file://../common
  - name: vendored
    version: 1.0.0
    repository: https://charts.example.com/stable
  - name: packed
    version: 2.0.0
    repository: https://charts.example.com/stable
  - name: local-only
    version: 1.0.0
";

    #[test]
    fn what_charts_lacks_with_the_locked_versions() {
        let lock = "dependencies:
- name: web
  repository: https://charts.example.com/stable
  version: 1.0.3
- name: cache
  repository: oci://other.example.com/charts
  version: 7.9.9
digest: sha256:00
";
        let vendored = [
            "vendored".to_owned(),
            "packed-2.0.0.tgz".to_owned(),
            "packed-extra".to_owned(),
        ];
        let needed = needed(CHART, Some(lock), &vendored).expect("needed");
        assert_eq!(
            needed,
            [
                Needed {
                    name: "web".into(),
                    from: From::Repository("https://charts.example.com/stable".into()),
                    version: Some("1.0.3".into()),
                },
                Needed {
                    name: "cache".into(),
                    from: From::Repository("oci://registry.example.com/charts".into()),
                    version: Some(">=7".into()),
                },
                Needed {
                    name: "common".into(),
                    from: From::Directory("../common".into()),
                    version: Some("0.1.0".into()),
                },
            ]
        );
        let unlocked = super::needed(CHART, None, &[]).expect("needed");
        assert_eq!(unlocked[0].version.as_deref(), Some("~1.0"));
        assert_eq!(unlocked.len(), 5);
    }

    #[test]
    fn names_from_helm_repo_add_and_bad_files_are_refused() {
        let aliased = "dependencies:\n- name: web\n  version: 1.0.0\n  repository: '@stable'\n";
        let error = needed(aliased, None, &[]).expect_err("alias");
        assert!(error.contains("no `helm repo add` names"), "{error}");
        assert!(needed("dependencies: 3", None, &[]).is_err());
        assert!(needed(CHART, Some("dependencies: {"), &[]).is_err());
        assert!(needed("name: plain\n", None, &[]).expect("none").is_empty());
    }
}
