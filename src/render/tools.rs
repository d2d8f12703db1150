//! The renderer programs: found on tidegate's `PATH` (or at a configured path), their
//! versions against the pinned ones, and the only environment they run with.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::Run;

/// The Helm release tidegate is built and tested with (`scripts/testenv`, `Dockerfile`).
pub const PINNED_HELM: &str = "v3.22.0";
/// The Kustomize release tidegate is built and tested with.
pub const PINNED_KUSTOMIZE: &str = "v5.8.2";

/// The `PATH` a renderer sees: the system's directories only.
const CHILD_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Where `program` is: itself when it is a path, else the first match on `PATH`.
pub fn locate(program: &str) -> Result<PathBuf, String> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{program} is not installed (renderers in tidegate.yaml)"
            ))
        };
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            format!("{program} is not installed: it is not on PATH (renderers in tidegate.yaml)")
        })
}

/// The whole environment of a renderer working in `work`: no variable of tidegate's own
/// (credentials, proxies, kubeconfig), Helm's directories and plugins inside `work`, and
/// Helm plugins off.
#[must_use]
pub fn environment(work: &Path) -> Vec<(String, String)> {
    let at = |name: &str| work.join(name).to_string_lossy().into_owned();
    vec![
        ("PATH".into(), CHILD_PATH.into()),
        ("HOME".into(), at("home")),
        ("XDG_CONFIG_HOME".into(), at("home/.config")),
        ("XDG_CACHE_HOME".into(), at("home/.cache")),
        ("HELM_CACHE_HOME".into(), at("helm/cache")),
        ("HELM_CONFIG_HOME".into(), at("helm/config")),
        ("HELM_DATA_HOME".into(), at("helm/data")),
        ("HELM_PLUGINS".into(), at("helm/plugins")),
        ("HELM_NO_PLUGINS".into(), "1".into()),
        ("KUSTOMIZE_PLUGIN_HOME".into(), at("kustomize/plugins")),
    ]
}

/// A renderer and the release tidegate is tested with.
#[derive(Clone, Copy, Debug)]
pub struct Pin {
    /// Its name (`helm`).
    pub name: &'static str,
    /// The release tidegate is tested with.
    pub pinned: &'static str,
    /// The arguments that make it print its version first.
    version_args: &'static [&'static str],
}

/// Helm, as pinned.
pub const HELM: Pin = Pin {
    name: "helm",
    pinned: PINNED_HELM,
    version_args: &["version", "--short"],
};

/// Kustomize, as pinned.
pub const KUSTOMIZE: Pin = Pin {
    name: "kustomize",
    pinned: PINNED_KUSTOMIZE,
    version_args: &["version"],
};

/// Each configured renderer program with its pin.
#[must_use]
pub fn pinned(renderers: &super::Renderers) -> [(&str, Pin); 2] {
    [(&renderers.helm, HELM), (&renderers.kustomize, KUSTOMIZE)]
}

/// What `program` (the renderer `pin` describes) reports as its version (`v3.22.0`), or why
/// it cannot say.
pub fn version(program: &str, pin: Pin) -> Result<String, String> {
    let path = locate(program)?;
    let args = pin
        .version_args
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect();
    let work = std::env::temp_dir();
    let output = Run {
        program: &path,
        args,
        dir: &work,
        env: vec![
            ("PATH".into(), CHILD_PATH.into()),
            ("HELM_NO_PLUGINS".into(), "1".into()),
        ],
        timeout: Duration::from_secs(20),
        max_output: 4096,
    }
    .output()
    .map_err(|error| error.to_string())?;
    Ok(parse_version(&String::from_utf8_lossy(&output)))
}

/// Checks the renderers at start-up: each one's version is logged, with a warning when it is
/// not the pinned one or cannot run (its sources then fail to render, naming it).
pub fn log_versions(renderers: &super::Renderers) {
    for (program, pin) in pinned(renderers) {
        let pinned = pin.pinned;
        match version(program, pin) {
            Ok(found) if found == pinned => tracing::info!(program, version = %found, "renderer"),
            Ok(found) => {
                tracing::warn!(program, version = %found, pinned, "renderer is not the version tidegate is tested with");
            }
            Err(error) => {
                tracing::warn!(program, %error, "renderer unavailable: its sources cannot render");
            }
        }
    }
}

/// `v3.22.0` from `v3.22.0+g1234567` (Helm) or `v5.8.2` (Kustomize).
fn parse_version(output: &str) -> String {
    let word = output.split_whitespace().next().unwrap_or_default();
    word.split('+').next().unwrap_or(word).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_without_build_metadata() {
        assert_eq!(parse_version("v3.22.0+g5fbd4a4\n"), "v3.22.0");
        assert_eq!(parse_version("v5.8.2\n"), "v5.8.2");
    }

    #[test]
    fn the_environment_holds_no_variable_of_tidegates() {
        let env = environment(Path::new("/w"));
        let names: Vec<&str> = env.iter().map(|(name, _)| name.as_str()).collect();
        assert!(
            !names
                .iter()
                .any(|name| name.contains("KUBE") || name.contains("TOKEN"))
        );
        assert!(env.contains(&("HELM_PLUGINS".into(), "/w/helm/plugins".into())));
        assert!(env.contains(&("PATH".into(), CHILD_PATH.into())));
    }

    #[test]
    fn a_program_is_found_on_path_or_named_missing() {
        assert!(locate("sh").is_ok());
        let missing = locate("tidegate-no-such-renderer").unwrap_err();
        assert!(missing.contains("not installed"), "{missing}");
        assert!(locate("/nonexistent/helm").is_err());
    }
}
