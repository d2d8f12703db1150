//! The `tidegate` binary: parses the command line and hands over to [`tidegate::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    #[cfg(feature = "failpoints")]
    let _failpoints = tidegate::failpoints::setup();
    tidegate::cli::Cli::parse().run()
}
