//! `tidegate config check|schema`: validate a configuration file, or print its JSON schema
//! (for editors and CI).

use std::io::Write;
use std::path::PathBuf;

use crate::config::Config;

/// Arguments of `tidegate config`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Check a configuration file; print every problem with its line.
    Check {
        /// The configuration file.
        #[arg(long, short, value_name = "FILE", default_value = "tidegate.yaml")]
        config: PathBuf,
    },
    /// Print the JSON schema of the configuration file.
    Schema,
}

/// Runs the subcommand.
pub fn run(args: &Args, out: &mut impl Write) -> anyhow::Result<()> {
    match &args.command {
        Command::Check { config } => {
            let loaded = Config::load(config)?;
            writeln!(
                out,
                "{}: valid, {} source(s)",
                config.display(),
                loaded.sources.len()
            )?;
        }
        Command::Schema => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&Config::json_schema())?
        )?,
    }
    Ok(())
}
