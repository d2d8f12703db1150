//! `tidegate completion SHELL`: the shell completion script, generated from the command line's
//! definition (`source <(tidegate completion bash)`).

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

/// Arguments of `tidegate completion`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell.
    shell: Shell,
}

/// Prints the script.
pub fn run(args: &Args, out: &mut impl Write) {
    let mut command = super::Cli::command();
    clap_complete::generate(args.shell, &mut command, "tidegate", out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_name_the_subcommands() {
        let mut out = Vec::new();
        run(&Args { shell: Shell::Bash }, &mut out);
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains("_tidegate()"), "{}", &script[..200]);
        assert!(script.contains("promote"));
    }
}
