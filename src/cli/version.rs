//! `tidegate version`: the crate version and the Kubernetes API level it was built against.

use std::io::Write;

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
    if args.json {
        let report = serde_json::json!({ "version": VERSION, "kubernetesApi": kubernetes });
        writeln!(out, "{report}")?;
    } else {
        writeln!(out, "tidegate {VERSION}")?;
        writeln!(out, "kubernetes api {kubernetes}")?;
    }
    Ok(())
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
