//! `tidegate analysis test FILE`: measure each metric of an AnalysisTemplate once, without a
//! Rollout, and print each value and verdict — the step before a template gates production.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use super::cluster::{ClusterArgs, block_on};
use crate::analysis::guard::HostGuard;
use crate::analysis::trial::{self, Setup, Verdict};
use crate::k8s::crd::{AnalysisPhase, AnalysisTemplateSpec};

/// Arguments of `tidegate analysis`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Measure each metric of an AnalysisTemplate once and print each value and verdict.
    #[command(
        after_help = "The metrics are prepared as a run's: arguments (from --arg, the template's values, Secrets), provider checks and the allow-list — the daemon's (--config) or --allowed-host. A Job metric's Job is created in --namespace and waited for (--timeout). Exit codes: 0 when every metric is Successful, 1 otherwise, 2 when the template cannot be measured."
    )]
    Test(TestArgs),
}

/// Arguments of `tidegate analysis test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// A file holding an AnalysisTemplate or ClusterAnalysisTemplate (Argo's or tidegate's).
    file: PathBuf,
    /// The template in FILE to measure, when it holds several.
    #[arg(long, value_name = "NAME")]
    template: Option<String>,
    /// An argument's value (`--arg service=web`); repeatable. Replaces the template's value
    /// or Secret reference.
    #[arg(long = "arg", value_name = "NAME=VALUE", value_parser = name_value)]
    args: Vec<(String, String)>,
    /// The daemon's configuration: its analysis.allowedHosts and state namespace (where
    /// provider Secrets are read) apply.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A host metrics may reach (`name`, `*.suffix`, `10.0.0.0/8`); repeatable; added to the
    /// configuration's (default: in-cluster Services only).
    #[arg(long = "allowed-host", value_name = "PATTERN")]
    allowed_hosts: Vec<String>,
    /// How long a metric may take (a Job's) before it is stopped.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration)]
    timeout: Duration,
    /// Print a table or JSON.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// How results print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// One line per metric.
    Table,
    /// The measurements as JSON.
    Json,
}

fn name_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{text:?} is not NAME=VALUE"))
}

fn duration(text: &str) -> Result<Duration, String> {
    crate::model::parse_go_duration(text).map_err(|error| error.to_string())
}

/// Runs `tidegate analysis …`.
pub fn run(args: &Args, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    match &args.command {
        Command::Test(test) => run_test(test, out),
    }
}

/// The template named `wanted` (or the only one) among `text`'s documents.
fn template_in(text: &str, wanted: Option<&str>) -> anyhow::Result<AnalysisTemplateSpec> {
    let documents = crate::manifest::yaml::documents(text, &crate::manifest::Limits::default())
        .map_err(|failure| {
            anyhow::anyhow!("line {}: {}", failure.line.unwrap_or(1), failure.message)
        })?;
    let mut found = Vec::new();
    for (line, document) in documents {
        let kind = document["kind"].as_str().unwrap_or_default();
        let group = document["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default();
        let ours = matches!(group, "argoproj.io" | "tidegate.dev");
        if !ours || !matches!(kind, "AnalysisTemplate" | "ClusterAnalysisTemplate") {
            continue;
        }
        let name = document["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if wanted.is_some_and(|wanted| wanted != name) {
            continue;
        }
        let spec: AnalysisTemplateSpec = serde_path_to_error::deserialize(&document["spec"])
            .map_err(|error| {
                anyhow::anyhow!(
                    "line {line}: {kind} {name}: spec.{}: {}",
                    error.path(),
                    error.inner()
                )
            })?;
        found.push((name, spec));
    }
    match (found.len(), wanted) {
        (1, _) => Ok(found.remove(0).1),
        (0, Some(wanted)) => anyhow::bail!("no AnalysisTemplate named {wanted:?}"),
        (0, None) => anyhow::bail!("no AnalysisTemplate or ClusterAnalysisTemplate"),
        _ => anyhow::bail!(
            "several templates ({}): pick one with --template",
            found
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn run_test(args: &TestArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("read {}", args.file.display()))?;
    let template = template_in(&text, args.template.as_deref())
        .with_context(|| args.file.display().to_string())?;
    if !template.templates.is_empty() {
        anyhow::bail!(
            "{}: the template includes other templates (spec.templates); test each of them",
            args.file.display()
        );
    }
    let config = match &args.config {
        Some(path) => crate::config::Config::load(path)?,
        None => crate::config::Config::default(),
    };
    let mut patterns = config.analysis.allowed_hosts.clone();
    patterns.extend(args.allowed_hosts.iter().cloned());
    let guard = HostGuard::new(&patterns).map_err(anyhow::Error::msg)?;
    crate::telemetry::init(&crate::config::LoggingConfig::default());
    let verdicts = block_on(async {
        let (client, namespace) = args.cluster.connect().await?;
        let name = format!("tidegate-test-{}", jiff::Timestamp::now().as_second());
        let run =
            trial::run_of(&template, &args.args, &name, &namespace).map_err(anyhow::Error::msg)?;
        let setup = Setup {
            client,
            namespace,
            secrets_namespace: config.state.namespace.clone(),
            guard,
            timeout: args.timeout,
        };
        trial::measure(&setup, &run)
            .await
            .map_err(anyhow::Error::msg)
    })?;
    match args.output {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&verdicts)?)?,
        Format::Table => write!(out, "{}", table(&verdicts))?,
    }
    let passed = verdicts
        .iter()
        .all(|verdict| verdict.measurement.phase == AnalysisPhase::Successful);
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line per metric: name, provider, phase, value, and the message when there is one.
fn table(verdicts: &[Verdict]) -> String {
    use std::fmt::Write as _;
    let rows: Vec<[String; 4]> = verdicts
        .iter()
        .map(|verdict| {
            [
                verdict.metric.clone(),
                verdict.provider.to_owned(),
                verdict.measurement.phase.to_string(),
                verdict.measurement.value.clone(),
            ]
        })
        .collect();
    let header = [
        "METRIC".to_owned(),
        "PROVIDER".to_owned(),
        "PHASE".to_owned(),
        "VALUE".to_owned(),
    ];
    let widths: Vec<usize> = (0..4)
        .map(|column| {
            rows.iter()
                .chain(std::iter::once(&header))
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for (row, verdict) in std::iter::once(&header)
        .chain(&rows)
        .zip(std::iter::once(None).chain(verdicts.iter().map(Some)))
    {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
        if let Some(verdict) = verdict
            && !verdict.measurement.message.is_empty()
        {
            let _ = writeln!(text, "  {}", verdict.measurement.message);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATES: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: other}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: errors}
spec:
  args: [{name: service}]
  metrics:
  - name: errors
    successCondition: result[0] < 0.01
    provider:
      prometheus: {address: 'http://prometheus.svc:9090', query: 'q'}
---
apiVersion: tidegate.dev/v1alpha1
kind: ClusterAnalysisTemplate
metadata: {name: latency}
spec:
  metrics:
  - name: latency
    provider:
      web: {url: 'http://web.svc/latency'}
";

    #[test]
    fn the_template_is_found_by_name_or_alone() {
        let errors = template_in(TEMPLATES, Some("errors")).expect("a template");
        assert_eq!(errors.metrics[0].name, "errors");
        assert_eq!(errors.args[0].name, "service");
        let latency = template_in(TEMPLATES, Some("latency")).expect("a template");
        assert_eq!(latency.metrics[0].name, "latency");
        assert_eq!(
            template_in(TEMPLATES, None)
                .map_err(|error| error.to_string())
                .err(),
            Some("several templates (errors, latency): pick one with --template".to_owned())
        );
        assert_eq!(
            template_in(TEMPLATES, Some("nope"))
                .map_err(|error| error.to_string())
                .err(),
            Some("no AnalysisTemplate named \"nope\"".to_owned())
        );
        let bad = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: x}\nspec:\n  metrics: 3\n";
        let error = template_in(bad, None).expect_err("refused").to_string();
        assert!(
            error.starts_with("line 1: AnalysisTemplate x: spec.metrics: "),
            "{error}"
        );
    }

    #[test]
    fn arguments_are_name_equals_value() {
        assert_eq!(
            name_value("service=web=1"),
            Ok(("service".to_owned(), "web=1".to_owned()))
        );
        assert_eq!(
            name_value("=web"),
            Err("\"=web\" is not NAME=VALUE".to_owned())
        );
        assert_eq!(
            name_value("web"),
            Err("\"web\" is not NAME=VALUE".to_owned())
        );
    }

    #[test]
    fn the_table_shows_each_metric_with_its_message_below() {
        let verdict = |metric: &str, phase, value: &str, message: &str| Verdict {
            metric: metric.to_owned(),
            provider: "prometheus",
            measurement: crate::k8s::crd::Measurement {
                phase,
                value: value.to_owned(),
                message: message.to_owned(),
                ..Default::default()
            },
        };
        let text = table(&[
            verdict("errors", AnalysisPhase::Successful, "[0.002]", ""),
            verdict("latency-p99", AnalysisPhase::Error, "", "query timed out"),
        ]);
        assert_eq!(
            text,
            "METRIC       PROVIDER    PHASE       VALUE\n\
             errors       prometheus  Successful  [0.002]\n\
             latency-p99  prometheus  Error\n  query timed out\n"
        );
    }
}
