//! Reading the analysis templates a run is made from: AnalysisTemplates and
//! ClusterAnalysisTemplates, with the templates they include (Argo's composition), each once.

use kube::{Api, Client};

use crate::k8s::crd::{
    AnalysisRunSpec, AnalysisTemplate, AnalysisTemplateSpec, Argument, ClusterAnalysisTemplate,
};
use crate::model::TemplateRef;

/// A template could not be read.
#[derive(Debug, thiserror::Error)]
#[error("get {kind} {name}")]
pub struct TemplateError {
    /// AnalysisTemplate or ClusterAnalysisTemplate.
    pub kind: &'static str,
    /// The template.
    pub name: String,
    /// Why.
    #[source]
    pub source: kube::Error,
}

/// The templates `refs` name, then those they include, depth first, each once.
pub async fn fetch(
    client: &Client,
    namespace: &str,
    refs: &[TemplateRef],
) -> Result<Vec<AnalysisTemplateSpec>, TemplateError> {
    let mut pending: Vec<TemplateRef> = refs.iter().rev().cloned().collect();
    let mut seen = Vec::new();
    let mut found = Vec::new();
    while let Some(next) = pending.pop() {
        if seen.contains(&next) {
            continue;
        }
        let template = fetch_one(client, namespace, &next).await?;
        seen.push(next);
        pending.extend(template.templates.iter().rev().map(|included| TemplateRef {
            name: included.template_name.clone(),
            cluster_scope: included.cluster_scope,
        }));
        found.push(template);
    }
    Ok(found)
}

async fn fetch_one(
    client: &Client,
    namespace: &str,
    template: &TemplateRef,
) -> Result<AnalysisTemplateSpec, TemplateError> {
    let name = template.name.clone();
    if template.cluster_scope {
        Api::<ClusterAnalysisTemplate>::all(client.clone())
            .get(&name)
            .await
            .map(|found| found.spec.template)
            .map_err(|source| TemplateError {
                kind: "ClusterAnalysisTemplate",
                name,
                source,
            })
    } else {
        Api::<AnalysisTemplate>::namespaced(client.clone(), namespace)
            .get(&name)
            .await
            .map(|found| found.spec)
            .map_err(|source| TemplateError {
                kind: "AnalysisTemplate",
                name,
                source,
            })
    }
}

/// The run spec the templates make together: their metrics, arguments, dry-run and retention
/// settings, in order.
#[must_use]
pub fn combined(templates: Vec<AnalysisTemplateSpec>) -> AnalysisRunSpec {
    let mut spec = AnalysisRunSpec::default();
    for template in templates {
        let AnalysisTemplateSpec {
            metrics,
            args,
            dry_run,
            measurement_retention,
            templates: _,
        } = template;
        spec.metrics.extend(metrics);
        merge_args(&mut spec.args, args);
        spec.dry_run.extend(dry_run);
        spec.measurement_retention.extend(measurement_retention);
    }
    spec
}

/// Adds `extra` to `args`: a supplied value replaces the argument of the same name, one
/// without a value leaves it as it is.
pub fn merge_args(args: &mut Vec<Argument>, extra: Vec<Argument>) {
    for arg in extra {
        match args.iter_mut().find(|existing| existing.name == arg.name) {
            Some(existing) if arg.value.is_some() || arg.value_from.is_some() => *existing = arg,
            Some(_) => {}
            None => args.push(arg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supplied_arguments_fill_template_arguments() {
        let arg = |name: &str, value: Option<&str>| Argument {
            name: name.into(),
            value: value.map(Into::into),
            value_from: None,
        };
        let mut args = vec![arg("service", None), arg("threshold", Some("0.95"))];
        merge_args(
            &mut args,
            vec![arg("service", Some("web-canary")), arg("extra", Some("1"))],
        );
        merge_args(&mut args, vec![arg("threshold", None)]);
        assert_eq!(
            args,
            [
                arg("service", Some("web-canary")),
                arg("threshold", Some("0.95")),
                arg("extra", Some("1"))
            ]
        );
    }
}
