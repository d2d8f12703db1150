//! `docs/cli.md`, generated from the command line's own definition (`tidegate reference`), so
//! the reference cannot drift from the binary: a unit test compares the two.

use std::fmt::Write as _;
use std::io::Write;

use clap::CommandFactory;

/// Arguments of the hidden `tidegate reference`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// What the reference says before the commands.
const PREAMBLE: &str = "# CLI reference

Generated from the command line's definition: `cargo run -q -- reference > docs/cli.md`
(a unit test fails when this file is stale).

## Exit codes

| Code | Meaning |
|---|---|
| 0 | Success; for `tidegate diff`, the cluster matches Git. |
| 1 | The command failed (the message says why); for `tidegate diff`, something differs. |
| 2 | `tidegate diff` could not compare (bad configuration, Git or cluster unreachable); also usage errors (unknown flags, missing arguments). |

Commands that name a Rollout that does not exist say which Rollouts the namespace has, and
the closest name when it looks like a typo. `--output table|json|yaml` on `get` and `list`;
the table view is coloured on a terminal unless `NO_COLOR` is set.
";

/// The whole reference.
#[must_use]
pub fn markdown() -> String {
    let mut command = super::Cli::command();
    command.build();
    let mut out = String::from(PREAMBLE);
    section(&mut out, &mut command, "tidegate");
    out
}

fn section(out: &mut String, command: &mut clap::Command, path: &str) {
    if command.is_hide_set() {
        return;
    }
    let help = command.render_long_help().to_string();
    let _ = write!(out, "\n## `{path}`\n\n```text\n{}\n```\n", help.trim_end());
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in names {
        if name == "help" {
            continue;
        }
        if let Some(sub) = command.find_subcommand_mut(&name) {
            section(out, sub, &format!("{path} {name}"));
        }
    }
}

/// Prints the reference.
pub fn run(_: &Args, out: &mut impl Write) -> anyhow::Result<()> {
    Ok(write!(out, "{}", markdown())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_cli_md_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md");
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            written == markdown(),
            "docs/cli.md is stale: run `cargo run -q -- reference > docs/cli.md`"
        );
    }
}
