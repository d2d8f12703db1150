//! `tidegate diff` (what syncing now would change, as a unified diff; exit 1 when anything
//! differs) and `tidegate status` (each source's recorded sync status and drift).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::{Config, SourceConfig};
use crate::manifest;
use crate::source::{Credentials, GitCache};
use crate::sync::{DriftReport, Records, Syncer};

use super::cluster::block_on;

/// Report formats.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// For programs.
    Json,
    /// For pull-request comments.
    Markdown,
}

/// Arguments of `tidegate diff` and `tidegate status`.
#[derive(Debug, clap::Args)]
pub struct SourcesArgs {
    /// The configuration file.
    #[arg(long, short, value_name = "FILE", default_value = "tidegate.yaml")]
    config: PathBuf,
    /// Only this source (default: all).
    #[arg(long)]
    source: Option<String>,
    /// Output format (for `status`, `markdown` prints the drift reports).
    #[arg(long, short, value_enum, default_value_t)]
    output: Format,
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the in-cluster account).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
}

impl SourcesArgs {
    async fn connect(&self) -> anyhow::Result<crate::k8s::Client> {
        crate::k8s::connect(self.kubeconfig.as_deref())
            .await
            .context("connect to the cluster")
    }
}

/// Fetches the source's newest commit and renders it as the daemon would: the commit and
/// the render (its kind and manifests) or its problems.
pub(super) async fn fetch_and_render(
    config: &Config,
    source: &SourceConfig,
) -> anyhow::Result<(
    String,
    Result<(crate::render::Kind, Vec<crate::manifest::Manifest>), crate::render::RenderFailure>,
)> {
    let cache = GitCache::new(
        config.state.cache_dir().join(&source.name),
        source.url.clone(),
    );
    let credentials = match &source.auth {
        Some(auth) => Some(Credentials {
            username: auth.username.clone(),
            password: auth.password.read()?,
        }),
        None => None,
    };
    let (owned, limits, renderers) = (source.clone(), config.limits.clone(), config.renderers());
    tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let fetched = cache.fetch(&owned.reference, credentials.as_ref())?;
        let rendered = crate::render::render_commit(
            &cache,
            &fetched.commit,
            &owned.render_source(),
            &limits,
            &renderers,
        );
        Ok((fetched.commit, rendered))
    })
    .await?
}

/// Fetches and renders each source's newest commit and compares it with the cluster. Exit
/// code 0: in sync; 1: something differs; errors are the caller's (exit 2).
pub fn diff(args: &SourcesArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let sources = selected(&config, args.source.as_deref())?;
    block_on(async {
        let client = args.connect().await?;
        let records = Records::new(client.clone(), &config.state.namespace);
        let syncer = Syncer::new(client);
        let mut differs = false;
        for source in sources {
            let report = source_diff(&config, source, &syncer, &records).await?;
            differs |= !report.in_sync();
            match args.output {
                Format::Text => write!(out, "{}", report.to_text())?,
                Format::Markdown => write!(out, "{}", report.to_markdown())?,
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
            }
        }
        Ok(if differs {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}

async fn source_diff(
    config: &Config,
    source: &SourceConfig,
    syncer: &Syncer,
    records: &Records,
) -> anyhow::Result<DriftReport> {
    let (commit, rendered) = fetch_and_render(config, source).await?;
    let rendered = rendered.map(|(_, manifests)| manifests);
    let manifests = rendered.map_err(|failure| {
        anyhow::anyhow!(
            "source {} at {commit} does not render: {failure}",
            source.name
        )
    })?;
    let namespace = source.namespace.as_deref().unwrap_or("default");
    let mut desired = syncer
        .prepare(&source.name, namespace, manifests)
        .await
        .map_err(|failure| {
            anyhow::anyhow!(
                "source {} at {commit}:\n{}",
                source.name,
                manifest::Problems(failure.problems)
            )
        })?;
    crate::sync::stamp_origin(&mut desired, &commit, &source.path);
    let inventory = records
        .status(&source.name)
        .await
        .map(|status| status.inventory)
        .unwrap_or_default();
    let drift = syncer
        .drift(&source.name, &commit, &desired, &inventory)
        .await
        .context("compare with the cluster")?;
    Ok(drift.report)
}

fn selected<'a>(config: &'a Config, name: Option<&str>) -> anyhow::Result<Vec<&'a SourceConfig>> {
    match name {
        Some(name) => config
            .source(name)
            .map(|source| vec![source])
            .ok_or_else(|| {
                let names: Vec<&str> = config
                    .sources
                    .iter()
                    .map(|source| source.name.as_str())
                    .collect();
                anyhow::anyhow!(
                    "no source named {name:?} in the configuration (sources: {})",
                    names.join(", ")
                )
            }),
        None => Ok(config.sources.iter().collect()),
    }
}

/// Prints each source's recorded status (and drift).
pub fn status(args: &SourcesArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let sources = selected(&config, args.source.as_deref())?;
    block_on(async {
        let client = args.connect().await?;
        let records = Records::new(client, &config.state.namespace);
        let mut rows = Vec::new();
        for source in sources {
            let status = records.status(&source.name).await?;
            let drift = records.drift(&source.name).await?;
            rows.push((status, drift));
        }
        match args.output {
            Format::Json => {
                let items: Vec<_> = rows
                    .iter()
                    .map(|(status, drift)| serde_json::json!({"status": status, "drift": drift}))
                    .collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
            }
            Format::Markdown => {
                for (_, drift) in &rows {
                    if let Some(drift) = drift {
                        writeln!(out, "{}", drift.to_markdown())?;
                    }
                }
            }
            Format::Text => {
                writeln!(
                    out,
                    "{:<16} {:<13} {:<13} {:<8} {:<26} MESSAGE",
                    "SOURCE", "RESULT", "APPLIED", "DRIFTED", "TIME"
                )?;
                for (status, drift) in &rows {
                    let applied = status
                        .applied_revision
                        .as_deref()
                        .map_or("-", |revision| revision.get(..12).unwrap_or(revision));
                    let drifted = drift
                        .as_ref()
                        .map_or("-".to_owned(), |drift| drift.objects.len().to_string());
                    let message = status.message.lines().next().unwrap_or_default();
                    writeln!(
                        out,
                        "{:<16} {:<13} {:<13} {:<8} {:<26} {message}",
                        status.source,
                        status.result.as_str(),
                        applied,
                        drifted,
                        status.time
                    )?;
                    for line in status.message.lines().skip(1) {
                        writeln!(out, "{:>16} {line}", "")?;
                    }
                }
            }
        }
        Ok(())
    })
}
