//! Command-line interface: clap definitions in, an exit code out.
//!
//! Each subcommand lives in its own module and returns `anyhow::Result`; this module only
//! dispatches and turns errors into a message on stderr and a failing exit code.

mod analysis;
mod approve;
mod change;
mod cluster;
mod completion;
mod config;
mod controller;
mod crd;
mod diff;
mod experiments;
mod gitops;
mod lint;
mod manifests;
mod reference;
mod render;
mod rollouts;
mod run;
mod version;
mod wait;

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
    /// Run the daemon: sync every Git source, drive Rollouts, serve metrics and webhooks.
    Run(run::Args),
    /// Show what syncing the sources now would change (exit 1 when anything differs).
    #[command(
        after_help = "Exit codes: 0 when the cluster matches Git, 1 when anything differs, 2 on errors."
    )]
    Diff(diff::SourcesArgs),
    /// Show each source's sync status and drift, as recorded in the cluster.
    Status(diff::SourcesArgs),
    /// Check manifests offline with the same validation as a sync.
    Lint(lint::Args),
    /// Print the objects a source or directory renders to (plain YAML, Kustomize or Helm).
    Render(manifests::Args),
    /// Check the configuration file, or print its JSON schema.
    Config(config::Args),
    /// Run the Rollout and AnalysisRun controllers only (no Git sync).
    Controller(controller::Args),
    /// Try AnalysisTemplates without a Rollout (`analysis test FILE`).
    Analysis(analysis::Args),
    /// Print the CustomResourceDefinitions of tidegate's kinds (or write them to a directory).
    Crd(crd::Args),
    /// Show one object in detail.
    Get(rollouts::GetArgs),
    /// List objects.
    List(rollouts::ListArgs),
    /// Move a Rollout past its current pause or step (`--full`: past all of them).
    Promote(rollouts::PromoteArgs),
    /// Pause a Rollout, through Git: commits `spec.paused: true` to its file (`promote` lifts it).
    Pause(change::PauseArgs),
    /// Change a Rollout's desired state through Git (`set image`).
    Set(change::SetArgs),
    /// Go back to an earlier revision through Git: commits its pod template to the Rollout's file.
    Undo(change::UndoArgs),
    /// Abort a Rollout's update: the stable revision takes everything back.
    Abort(rollouts::TargetArgs),
    /// Retry an aborted update from its first step.
    Retry(rollouts::TargetArgs),
    /// Replace every pod of a Rollout, as many at a time as availability allows.
    Restart(rollouts::TargetArgs),
    /// Wait until a Rollout is Healthy (exit 0) or Degraded (exit 1), printing each change;
    /// Argo's `kubectl argo rollouts status`.
    #[command(
        after_help = "Named `wait`, not `status`: `tidegate status` reports the Git sources. A status written before the latest spec was observed never ends the wait (it prints \"Progressing - waiting for rollout spec update to be observed\"). Exit 1 on Degraded or when --timeout passes. `tidegate get rollout NAME` prints the status once."
    )]
    Wait(wait::Args),
    /// Stop an AnalysisRun: it measures no more, and a gate waiting on it never passes.
    Terminate(rollouts::TerminateArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(completion::Args),
    /// Print version and build information.
    Version(version::Args),
    /// Print the CLI reference as markdown (docs/cli.md).
    #[command(hide = true)]
    Reference(reference::Args),
}

impl Cli {
    /// Runs the selected subcommand.
    #[must_use]
    pub fn run(self) -> ExitCode {
        let out = &mut std::io::stdout().lock();
        let result = match self.command {
            Command::Diff(args) => {
                return diff::diff(&args, out).unwrap_or_else(|error| {
                    eprintln!("error: {}", describe(&error));
                    ExitCode::from(2)
                });
            }
            Command::Analysis(args) => {
                return analysis::run(&args, out).unwrap_or_else(|error| {
                    eprintln!("error: {}", describe(&error));
                    ExitCode::from(2)
                });
            }
            Command::Run(args) => run::run(&args),
            Command::Status(args) => diff::status(&args, out),
            Command::Lint(args) => lint::run(&args, out),
            Command::Render(args) => manifests::run(&args, out),
            Command::Config(args) => config::run(&args, out),
            Command::Controller(args) => controller::run(&args),
            Command::Crd(args) => crd::run(&args, out),
            Command::Get(args) => rollouts::get(&args, out),
            Command::List(args) => rollouts::list(&args, out),
            Command::Promote(args) => rollouts::promote(&args, out),
            Command::Pause(args) => change::pause(&args, out),
            Command::Set(args) => change::set(&args, out),
            Command::Undo(args) => change::undo(&args, out),
            Command::Abort(args) => rollouts::abort(&args, out),
            Command::Retry(args) => rollouts::retry(&args, out),
            Command::Restart(args) => rollouts::restart(&args, out),
            Command::Wait(args) => wait::run(&args, out),
            Command::Terminate(args) => rollouts::terminate(&args, out),
            Command::Completion(args) => {
                completion::run(&args, out);
                Ok(())
            }
            Command::Version(args) => version::run(&args, out),
            Command::Reference(args) => reference::run(&args, out),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {}", describe(&error));
                ExitCode::FAILURE
            }
        }
    }
}

/// The error and its causes on one line, API refusals by the apiserver's message.
fn describe(error: &anyhow::Error) -> String {
    crate::k8s::describe_error(error.as_ref())
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
    fn api_refusals_are_told_by_their_message() {
        let status = kube::core::Status {
            code: 404,
            message: "rollouts.tidegate.dev \"web\" not found".into(),
            reason: "NotFound".into(),
            ..kube::core::Status::default()
        };
        let error =
            anyhow::Error::new(kube::Error::Api(Box::new(status))).context("get Rollout shop/web");
        assert_eq!(
            describe(&error),
            "get Rollout shop/web: rollouts.tidegate.dev \"web\" not found"
        );
    }

    #[test]
    fn subcommand_is_required() {
        assert!(Cli::try_parse_from(["tidegate"]).is_err());
    }
}
