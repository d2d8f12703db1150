//! Strict validation of the kinds tidegate owns (`Rollout`, `AnalysisTemplate`,
//! `ClusterAnalysisTemplate`, `AnalysisRun`): every field must be one the CRD schema knows,
//! every value must read into the Rust type, and a Rollout's spec must make a plan.
//!
//! In: one document already moved to `tidegate.dev/v1alpha1`. Out: each problem with the path of
//! its field.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::path::FieldPath;
use crate::analysis::args::Args;
use crate::analysis::assess::MetricPlan;
use crate::analysis::provider;
use crate::k8s::crd::{
    self, AnalysisRun, AnalysisTemplate, AnalysisTemplateSpec, Argument, ClusterAnalysisTemplate,
    Experiment, Metric, Rollout,
};

/// Everything wrong with a document of an owned `kind`, in document order.
#[must_use]
pub fn validate(kind: &str, document: &Value) -> Vec<(FieldPath, String)> {
    let mut problems = Vec::new();
    if let Some(schema) = schemas().get(kind) {
        unknown_fields(document, schema, &FieldPath::default(), &mut problems);
    }
    if !problems.is_empty() {
        return problems;
    }
    match kind {
        "Rollout" => {
            if let Some(rollout) = typed::<Rollout>(document, &mut problems)
                && let Err(errors) = rollout.spec.plan()
            {
                problems.extend(
                    errors
                        .0
                        .into_iter()
                        .map(|error| (FieldPath::parse(&error.path), error.message)),
                );
            }
        }
        "AnalysisTemplate" => {
            if let Some(template) = typed::<AnalysisTemplate>(document, &mut problems) {
                template_problems(&template.spec, &mut problems);
            }
        }
        "ClusterAnalysisTemplate" => {
            if let Some(template) = typed::<ClusterAnalysisTemplate>(document, &mut problems) {
                template_problems(&template.spec.template, &mut problems);
            }
        }
        "Experiment" => {
            if let Some(experiment) = typed::<Experiment>(document, &mut problems) {
                problems.extend(
                    experiment
                        .spec
                        .problems()
                        .into_iter()
                        .map(|(field, problem)| (FieldPath::parse(&field), problem)),
                );
            }
        }
        "AnalysisRun" => {
            if let Some(run) = typed::<AnalysisRun>(document, &mut problems) {
                metric_problems(&run.spec.metrics, &run.spec.args, &mut problems);
                problems.extend(
                    run.spec
                        .unmatched_rules()
                        .into_iter()
                        .map(|(field, problem)| (FieldPath::parse(&field), problem)),
                );
            }
        }
        _ => {}
    }
    problems
}

/// A template's metrics, which may all come from the templates it includes.
fn template_problems(template: &AnalysisTemplateSpec, problems: &mut Vec<(FieldPath, String)>) {
    if template.metrics.is_empty() && !template.templates.is_empty() {
        return;
    }
    metric_problems(&template.metrics, &template.args, problems);
}

/// What an AnalysisRun would refuse: bad durations, counts and limits, conditions that do not
/// compile, no provider or an unsupported one. Arguments without a value here (supplied by the
/// Rollout or a Secret) are checked as `0`.
fn metric_problems(
    metrics: &[Metric],
    arguments: &[Argument],
    problems: &mut Vec<(FieldPath, String)>,
) {
    let known = arguments.iter().map(|argument| {
        (
            argument.name.clone(),
            argument.value.clone().unwrap_or_else(|| "0".to_owned()),
        )
    });
    let mut args: Vec<(String, String)> = known.collect();
    if metrics.is_empty() {
        problems.push((
            FieldPath::default().key("spec").key("metrics"),
            "at least one metric is required".to_owned(),
        ));
    }
    for (index, metric) in metrics.iter().enumerate() {
        let at = FieldPath::default().key("spec").key("metrics").index(index);
        let text = serde_json::to_string(metric).expect("metrics serialize");
        for name in argument_names(&text) {
            if !args.iter().any(|(known, _)| *known == name) {
                args.push((name, "0".to_owned()));
            }
        }
        let substituted = match Args::from_values(args.clone()).substitute(metric) {
            Ok(metric) => metric,
            Err(problem) => {
                problems.push((at, problem));
                continue;
            }
        };
        if let Err(found) = MetricPlan::read(&substituted, false, None) {
            problems.extend(found.into_iter().map(|problem| (at.clone(), problem)));
        }
        if let Err(problem) = provider::for_metric(&substituted) {
            problems.push((at.key("provider"), problem));
        }
    }
}

/// The `name`s of every `{{args.name}}` in `text`.
fn argument_names(text: &str) -> Vec<String> {
    text.split("{{args.")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(name, _)| name.to_owned()))
        .collect()
}

fn typed<T: DeserializeOwned>(
    document: &Value,
    problems: &mut Vec<(FieldPath, String)>,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(document) {
        Ok(value) => Some(value),
        Err(error) => {
            problems.push((
                FieldPath::from_serde(error.path()),
                error.inner().to_string(),
            ));
            None
        }
    }
}

/// The `openAPIV3Schema` of each owned kind, from the generated CRDs.
fn schemas() -> &'static HashMap<String, Value> {
    static SCHEMAS: OnceLock<HashMap<String, Value>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        crd::definitions()
            .into_iter()
            .filter_map(|definition| {
                let version = definition.spec.versions.first()?;
                let schema = version.schema.as_ref()?.open_api_v3_schema.as_ref()?;
                Some((
                    definition.spec.names.kind.clone(),
                    serde_json::to_value(schema).ok()?,
                ))
            })
            .collect()
    })
}

/// Reports every key of `value` its structural `schema` does not declare, as the apiserver's
/// strict field validation would (metadata is the apiserver's own business).
fn unknown_fields(
    value: &Value,
    schema: &Value,
    path: &FieldPath,
    problems: &mut Vec<(FieldPath, String)>,
) {
    if schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true) {
        return;
    }
    match value {
        Value::Object(fields) => {
            let properties = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            for (key, child) in fields {
                if path.0.is_empty() && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                match properties.and_then(|properties| properties.get(key)) {
                    Some(child_schema) => {
                        unknown_fields(child, child_schema, &path.key(key), problems);
                    }
                    None if additional.is_object() => {
                        unknown_fields(child, additional, &path.key(key), problems);
                    }
                    None if properties.is_some() => {
                        let known: Vec<&str> = properties
                            .map(|properties| properties.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        problems.push((path.key(key), unknown_message(key, &known)));
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (index, item) in items.iter().enumerate() {
                unknown_fields(item, &schema["items"], &path.index(index), problems);
            }
        }
        _ => {}
    }
}

/// "unknown field", with the closest known name when one is close enough to be a typo.
fn unknown_message(key: &str, known: &[&str]) -> String {
    match crate::hint::closest(key, known.iter().copied()) {
        Some(candidate) => format!("unknown field (did you mean \"{candidate}\"?)"),
        None => "unknown field".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rollout(strategy: &Value) -> Value {
        json!({
            "apiVersion": "tidegate.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "web", "annotations": {"any": "thing"}},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}
                },
                "strategy": strategy
            }
        })
    }

    fn problems(kind: &str, document: &Value) -> Vec<String> {
        validate(kind, document)
            .into_iter()
            .map(|(path, message)| format!("{path}: {message}"))
            .collect()
    }

    #[test]
    fn a_valid_rollout_has_no_problems() {
        let document = rollout(&json!({"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}));
        assert_eq!(problems("Rollout", &document), Vec::<String>::new());
    }

    #[test]
    fn unknown_fields_are_named_with_a_hint() {
        let document =
            rollout(&json!({"canary": {"steps": [{"setWeight": 20}, {"setWeigth": 40}]}}));
        assert_eq!(
            problems("Rollout", &document),
            [
                "spec.strategy.canary.steps[1].setWeigth: unknown field (did you mean \"setWeight\"?)"
            ]
        );
    }

    #[test]
    fn wrong_types_are_named_by_path() {
        let document = rollout(&json!({"canary": {"steps": [{"setWeight": "twenty"}]}}));
        let found = problems("Rollout", &document);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("spec.strategy.canary.steps[0].setWeight: "),
            "{found:?}"
        );
    }

    #[test]
    fn invalid_plans_are_named_by_path() {
        let document = rollout(&json!({"canary": {"steps": [{"setWeight": 120}]}}));
        let found = problems("Rollout", &document);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("spec.strategy.canary.steps[0].setWeight"),
            "{found:?}"
        );
    }

    #[test]
    fn pod_templates_are_checked_like_the_apiserver_checks_them() {
        let mut document = rollout(&json!({"canary": {}}));
        document["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        assert_eq!(problems("Rollout", &document), Vec::<String>::new());
        document["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = json!("Always");
        assert_eq!(
            problems("Rollout", &document),
            [
                "spec.template.spec.containers[0].imagePulPolicy: unknown field (did you mean \"imagePullPolicy\"?)"
            ]
        );
    }

    #[test]
    fn a_template_may_take_all_its_metrics_from_the_templates_it_includes() {
        let template = |spec: Value| {
            json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisTemplate",
                   "metadata": {"name": "composed"}, "spec": spec})
        };
        let composed = template(json!({"templates": [{"templateName": "base"},
                                                     {"templateName": "shared", "clusterScope": true}]}));
        assert_eq!(
            problems("AnalysisTemplate", &composed),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(
                "AnalysisTemplate",
                &template(json!({"args": [{"name": "a"}]}))
            ),
            ["spec.metrics: at least one metric is required"]
        );
    }

    #[test]
    fn oauth2_and_sigv4_are_linted_clean_and_what_cannot_run_is_refused() {
        let template = |authentication: Value| {
            json!({
                "apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "t"},
                "spec": {"args": [{"name": "secret"}], "metrics": [{"name": "errors", "successCondition": "result[0] < 1",
                    "provider": {"prometheus": {"address": "http://prometheus.svc", "query": "q",
                        "authentication": authentication}}}]}
            })
        };
        let oauth2 = json!({"oauth2": {"tokenUrl": "https://auth.svc/token", "clientId": "tidegate",
                                       "clientSecret": "{{args.secret}}", "scopes": ["read"]}});
        assert_eq!(
            problems("AnalysisTemplate", &template(oauth2)),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(
                "AnalysisTemplate",
                &template(json!({"sigv4": {"region": "eu-west-1", "profile": "prod"}}))
            ),
            Vec::<String>::new()
        );
        let role = json!({"sigv4": {"region": "eu-west-1", "roleArn": "arn:aws:iam::1:role/r"}});
        assert_eq!(
            problems("AnalysisTemplate", &template(role)),
            Vec::<String>::new()
        );
        let not_arn = json!({"sigv4": {"roleArn": "prometheus"}});
        let refused = problems("AnalysisTemplate", &template(not_arn));
        assert_eq!(refused.len(), 1);
        assert!(
            refused[0].contains("roleArn \"prometheus\" is not an ARN"),
            "{refused:?}"
        );
        let both = json!({"sigv4": {}, "oauth2": {"tokenUrl": "https://auth.svc/token",
                                                   "clientId": "c", "clientSecret": "s"}});
        assert_eq!(
            problems("AnalysisTemplate", &template(both)),
            [
                "spec.metrics[0].provider: metric \"errors\": authentication: oauth2 and sigv4 cannot both be set"
            ]
        );
        let web = json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "w"},
            "spec": {"metrics": [{"name": "health", "provider": {"web": {"url": "http://web.svc",
                "authentication": {"sigv4": {"region": "eu-west-1"}}}}}]}});
        assert_eq!(
            problems("AnalysisTemplate", &web),
            [
                "spec.metrics[0].provider: metric \"health\": authentication.sigv4 signs Prometheus queries only"
            ]
        );
        assert_eq!(
            problems(
                "AnalysisTemplate",
                &template(json!({"oauth2": {"tokenUrl": "https://auth.svc/token"}}))
            ),
            [
                "spec.metrics[0].provider: metric \"errors\": authentication.oauth2 needs clientId, clientSecret"
            ]
        );
    }

    #[test]
    fn a_run_s_rules_must_each_match_a_metric() {
        let run = json!({"apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": "r"},
            "spec": {"metrics": [{"name": "errors", "provider": {"web": {"url": "http://web.svc"}}}],
                     "dryRun": [{"metricName": "latency"}],
                     "measurementRetention": [{"metricName": "err", "limit": 3}]}});
        assert_eq!(
            problems("AnalysisRun", &run),
            ["spec.dryRun[0].metricName: dryRun[0]: Rule didn't match any metric name(s)"]
        );
    }

    #[test]
    fn analysis_templates_are_checked_like_runs() {
        let template = |metric: Value| {
            json!({
                "apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "t"},
                "spec": {"args": [{"name": "service"}], "metrics": [metric]}
            })
        };
        let good = template(
            json!({"name": "errors", "successCondition": "result[0] < {{args.threshold}}", "interval": "1m", "count": 3,
                                   "provider": {"prometheus": {"address": "http://prometheus.svc", "query": "q{s=\"{{args.service}}\"}"}}}),
        );
        assert_eq!(problems("AnalysisTemplate", &good), Vec::<String>::new());
        let bad = template(
            json!({"name": "errors", "successCondition": "result[0] <", "count": 3,
                                  "provider": {"plugin": {"argoproj-labs/metric-plugin": {}}}}),
        );
        let found = problems("AnalysisTemplate", &bad);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[0].starts_with("spec.metrics[0]: metric \"errors\": successCondition: "),
            "{found:?}"
        );
        assert_eq!(
            found[1],
            "spec.metrics[0]: metric \"errors\": count must be 1 or less when interval is not set"
        );
        assert_eq!(
            found[2],
            "spec.metrics[0].provider: metric \"errors\": provider \"plugin\" is not supported by tidegate: it runs no plugin binaries"
        );
    }

    #[test]
    fn typos_are_hinted_only_when_close() {
        assert_eq!(
            unknown_message("colour", &["weight", "pause"]),
            "unknown field"
        );
        assert_eq!(
            unknown_message("stepps", &["steps", "pause"]),
            "unknown field (did you mean \"steps\"?)"
        );
    }
}
