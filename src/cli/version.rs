//! `tidegate version`: the crate version, the Kubernetes API level it was built against and
//! the `helm` and `kustomize` it renders with (against the versions it is tested with).

use std::io::Write;

use crate::render::tools;

/// The crate version, as shown by `tidegate --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Arguments of `tidegate version`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Writes the version report to `out`.
pub fn run(args: &Args, out: &mut impl Write) -> anyhow::Result<()> {
    let kubernetes = crate::k8s::API_VERSION;
    let renderers = crate::render::Renderers::default();
    let found: Vec<(&str, serde_json::Value)> = tools::pinned(&renderers)
        .into_iter()
        .map(|(program, pin)| (pin.name, renderer(program, pin)))
        .collect();
    if args.json {
        let mut report = serde_json::json!({
            "version": VERSION,
            "kubernetesApi": kubernetes,
        });
        for (name, value) in found {
            report[name] = value;
        }
        writeln!(out, "{report}")?;
    } else {
        writeln!(out, "tidegate {VERSION}")?;
        writeln!(out, "kubernetes api {kubernetes}")?;
        for (name, value) in &found {
            writeln!(out, "{name} {}", shown(value))?;
        }
    }
    Ok(())
}

/// A renderer's version and the pinned one, as found on `PATH`.
fn renderer(program: &str, pin: tools::Pin) -> serde_json::Value {
    match tools::version(program, pin) {
        Ok(found) => serde_json::json!({ "version": found, "pinned": pin.pinned }),
        Err(error) => serde_json::json!({ "error": error, "pinned": pin.pinned }),
    }
}

fn shown(report: &serde_json::Value) -> String {
    let pinned = report["pinned"].as_str().unwrap_or_default();
    match report["version"].as_str() {
        Some(found) if found == pinned => found.to_owned(),
        Some(found) => format!("{found} (tested with {pinned})"),
        None => format!(
            "not available: {} (tested with {pinned})",
            report["error"].as_str().unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(json: bool) -> String {
        let mut out = Vec::new();
        run(&Args { json }, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_names_crate_and_api_versions() {
        let text = render(false);
        assert!(text.starts_with(&format!("tidegate {VERSION}\n")));
        assert!(text.contains(&format!("kubernetes api {}", crate::k8s::API_VERSION)));
    }

    #[test]
    fn json_is_parseable() {
        let report: serde_json::Value = serde_json::from_str(&render(true)).unwrap();
        assert_eq!(report["version"], VERSION);
        assert_eq!(report["kubernetesApi"], crate::k8s::API_VERSION);
    }
}
