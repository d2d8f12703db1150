//! Command-line interface: clap definitions in, an exit code out.
//!
//! Each subcommand lives in its own module and returns `anyhow::Result`; this module only
//! dispatches and turns errors into a message on stderr and a failing exit code.

mod crd;
mod version;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// GitOps-native progressive delivery: sync from Git, canary and blue-green Rollouts,
/// automated analysis, outcomes written back to Git.
#[derive(Debug, Parser)]
#[command(name = "tidegate", version = version::VERSION, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions of tidegate's kinds (or write them to a directory).
    Crd(crd::Args),
    /// Print version and build information.
    Version(version::Args),
}

impl Cli {
    /// Runs the selected subcommand.
    #[must_use]
    pub fn run(self) -> ExitCode {
        let result = match self.command {
            Command::Crd(args) => crd::run(&args, &mut std::io::stdout().lock()),
            Command::Version(args) => version::run(&args, &mut std::io::stdout().lock()),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommand_is_required() {
        assert!(Cli::try_parse_from(["tidegate"]).is_err());
    }
}
