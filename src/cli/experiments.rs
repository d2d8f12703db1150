//! Commands on Experiments: `get experiment`, `list experiments`, `terminate experiment`,
//! and their text views (pure: objects in, text out).

use std::fmt::Write as _;

use anyhow::Context;
use kube::{Api, ResourceExt};

use super::render::aligned;
use crate::k8s::crd::Experiment;
use crate::k8s::{self, ListParams};

/// Field manager of `terminate experiment`.
const CLI_FIELD_MANAGER: &str = "tidegate-cli";

/// Experiment `name`.
pub async fn get(client: &k8s::Client, namespace: &str, name: &str) -> anyhow::Result<Experiment> {
    Api::<Experiment>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .with_context(|| format!("get Experiment {namespace}/{name}"))
}

/// The experiments of `namespace`, or of every namespace, by namespace and name.
pub async fn list(client: k8s::Client, namespace: Option<&str>) -> anyhow::Result<Vec<Experiment>> {
    let api: Api<Experiment> = match namespace {
        Some(namespace) => Api::namespaced(client, namespace),
        None => Api::all(client),
    };
    let mut experiments = api
        .list(&ListParams::default())
        .await
        .context("list Experiments")?
        .items;
    experiments.sort_by_key(|experiment| (experiment.namespace(), experiment.name_any()));
    Ok(experiments)
}

/// Sets the experiment's `spec.terminate`, as Argo's CLI does: its templates scale down and
/// its analyses stop.
pub async fn terminate(client: k8s::Client, namespace: &str, name: &str) -> anyhow::Result<()> {
    let patch = serde_json::json!({ "spec": { "terminate": true } });
    let params = kube::api::PatchParams {
        field_manager: Some(CLI_FIELD_MANAGER.to_owned()),
        ..Default::default()
    };
    Api::<Experiment>::namespaced(client, namespace)
        .patch(name, &params, &kube::api::Patch::Merge(&patch))
        .await
        .with_context(|| format!("terminate Experiment {namespace}/{name}"))?;
    Ok(())
}

fn or_dash(value: &str) -> String {
    if value.is_empty() {
        "-".to_owned()
    } else {
        value.to_owned()
    }
}

fn phase_of(experiment: &Experiment) -> String {
    experiment
        .status
        .as_ref()
        .and_then(|status| status.phase)
        .map_or_else(|| "-".to_owned(), |phase| phase.to_string())
}

/// One experiment: its phase, its templates and its analyses.
#[must_use]
pub fn detail(experiment: &Experiment) -> String {
    let status = experiment.status.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "Name:       {}", experiment.name_any());
    let _ = writeln!(
        out,
        "Namespace:  {}",
        experiment.namespace().unwrap_or_default()
    );
    let _ = writeln!(out, "Status:     {}", phase_of(experiment));
    if !status.message.is_empty() {
        let _ = writeln!(out, "Message:    {}", status.message);
    }
    let _ = writeln!(out, "Duration:   {}", or_dash(&experiment.spec.duration));
    let available = status
        .available_at
        .as_ref()
        .map_or_else(|| "-".to_owned(), |time| time.0.to_string());
    let _ = writeln!(out, "Available:  {available}");
    let mut templates = vec![
        [
            "TEMPLATE",
            "STATUS",
            "AVAILABLE",
            "HASH",
            "SERVICE",
            "MESSAGE",
        ]
        .map(str::to_owned),
    ];
    for template in &experiment.spec.templates {
        let found = status
            .template_statuses
            .iter()
            .find(|status| status.name == template.name)
            .cloned()
            .unwrap_or_default();
        templates.push([
            template.name.clone(),
            found
                .status
                .map_or_else(|| "-".to_owned(), |phase| phase.to_string()),
            format!(
                "{}/{}",
                found.available_replicas,
                template.replicas.unwrap_or(1)
            ),
            or_dash(&found.pod_template_hash),
            or_dash(&found.service_name),
            found.message,
        ]);
    }
    out.push('\n');
    out.push_str(&aligned(&templates));
    if !experiment.spec.analyses.is_empty() {
        let mut analyses =
            vec![["ANALYSIS", "RUN", "STATUS", "REQUIRED", "MESSAGE"].map(str::to_owned)];
        for analysis in &experiment.spec.analyses {
            let found = status
                .analysis_runs
                .iter()
                .find(|run| run.name == analysis.name)
                .cloned()
                .unwrap_or_default();
            analyses.push([
                analysis.name.clone(),
                or_dash(&found.analysis_run),
                found
                    .phase
                    .map_or_else(|| "-".to_owned(), |phase| phase.to_string()),
                if analysis.required_for_completion {
                    "yes"
                } else {
                    "no"
                }
                .to_owned(),
                found.message,
            ]);
        }
        out.push('\n');
        out.push_str(&aligned(&analyses));
    }
    out
}

/// Experiments as a table.
#[must_use]
pub fn table(experiments: &[Experiment]) -> String {
    let mut rows = vec![
        [
            "NAMESPACE",
            "NAME",
            "STATUS",
            "TEMPLATES",
            "ANALYSES",
            "MESSAGE",
        ]
        .map(str::to_owned),
    ];
    for experiment in experiments {
        let status = experiment.status.clone().unwrap_or_default();
        rows.push([
            experiment.namespace().unwrap_or_default(),
            experiment.name_any(),
            phase_of(experiment),
            experiment.spec.templates.len().to_string(),
            experiment.spec.analyses.len().to_string(),
            status.message,
        ]);
    }
    aligned(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment() -> Experiment {
        serde_saphyr::from_str(
            "apiVersion: tidegate.dev/v1alpha1
kind: Experiment
metadata: {name: ab, namespace: shop}
spec:
  duration: 10m
  templates:
  - name: baseline
    replicas: 2
    selector: {matchLabels: {app: demo}}
    template: {metadata: {labels: {app: demo}}, spec: {containers: [{name: demo, image: demo}]}}
  analyses:
  - {name: compare, templateName: compare, requiredForCompletion: true}
status:
  phase: Failed
  message: error rate too high
  templateStatuses:
  - {name: baseline, status: Running, availableReplicas: 2, podTemplateHash: 5d8f, serviceName: ab-baseline}
  analysisRuns:
  - {name: compare, analysisRun: ab-compare, phase: Failed, message: error rate too high}
",
        )
        .unwrap()
    }

    #[test]
    fn the_detail_shows_templates_and_analyses() {
        let text = detail(&experiment());
        assert!(text.contains("Status:     Failed\n"), "{text}");
        assert!(text.contains("Message:    error rate too high\n"), "{text}");
        assert!(
            text.contains("baseline  Running  2/2        5d8f  ab-baseline"),
            "{text}"
        );
        assert!(
            text.contains("compare   ab-compare  Failed  yes       error rate too high"),
            "{text}"
        );
    }

    #[test]
    fn the_table_has_a_row_per_experiment() {
        let text = table(&[experiment()]);
        assert_eq!(
            text.lines().nth(1),
            Some("shop       ab    Failed  1          1         error rate too high")
        );
    }
}
