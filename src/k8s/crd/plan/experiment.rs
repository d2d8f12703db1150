//! Reading an `experiment` step (Argo's `RolloutExperimentStep`, and the checks of Argo's
//! `ValidateRolloutStrategyCanary` for it).

use std::collections::BTreeSet;

use super::{Check, read_argument};
use crate::k8s::crd::{CanaryStrategy, RolloutExperimentStep};
use crate::model::{ExperimentPlan, Router, TemplateWeight, TrafficPlan};

/// The step's plan: its analyses' arguments as the Rollout supplies them, and the templates'
/// traffic weights. Refuses what the experiment could not run: no templates, names missing or
/// repeated, a duration that does not parse, a negative weight. (Whether the routers can
/// carry the weights is checked with the routers: [`check_weights`].)
pub(super) fn read_experiment(
    step: &RolloutExperimentStep,
    path: &str,
    check: &mut Check,
) -> ExperimentPlan {
    if step.templates.is_empty() {
        check.fail(
            format!("{path}.templates"),
            "must list at least one template",
        );
    }
    if !step.duration.is_empty()
        && let Err(error) = crate::model::parse_go_duration(&step.duration)
    {
        check.fail(format!("{path}.duration"), error.to_string());
    }
    if step.scale_down_delay_seconds.is_some_and(|delay| delay < 0) {
        check.fail(
            format!("{path}.scaleDownDelaySeconds"),
            "must not be negative",
        );
    }
    let mut names = BTreeSet::new();
    let mut weights = Vec::new();
    for (index, template) in step.templates.iter().enumerate() {
        let at = format!("{path}.templates[{index}]");
        if template.name.is_empty() {
            check.fail(format!("{at}.name"), "is required");
        } else if !names.insert(template.name.as_str()) {
            check.fail(
                format!("{at}.name"),
                format!("template name '{}' is repeated", template.name),
            );
        }
        if template.replicas.is_some_and(|replicas| replicas < 0) {
            check.fail(format!("{at}.replicas"), "must not be negative");
        }
        if let Some(weight) = template.weight {
            if weight < 0 {
                check.fail(format!("{at}.weight"), "must not be negative");
            }
            weights.push(TemplateWeight {
                template: template.name.clone(),
                weight,
            });
        }
        if template
            .selector
            .as_ref()
            .is_some_and(super::super::experiment::selects_everything)
        {
            check.fail(
                format!("{at}.selector"),
                "selects all pods: a non-empty selector is required",
            );
        }
    }
    let mut analyses = BTreeSet::new();
    let analysis_args = step
        .analyses
        .iter()
        .enumerate()
        .map(|(index, analysis)| {
            let at = format!("{path}.analyses[{index}]");
            if analysis.name.is_empty() {
                check.fail(format!("{at}.name"), "is required");
            } else if !analyses.insert(analysis.name.as_str()) {
                check.fail(
                    format!("{at}.name"),
                    format!("analysis name '{}' is repeated", analysis.name),
                );
            }
            if analysis.template_name.is_empty() {
                check.fail(format!("{at}.templateName"), "is required");
            }
            analysis
                .args
                .iter()
                .enumerate()
                .filter_map(|(arg, argument)| {
                    read_argument(argument, &format!("{at}.args[{arg}]"), check)
                })
                .collect()
        })
        .collect();
    ExperimentPlan {
        analysis_args,
        weights,
    }
}

/// Argo's rule for an experiment template's `weight`: it needs traffic routing by SMI, ALB or
/// Istio (other routers cannot send traffic to a third Service). And, beyond Argo, the
/// weights and the canary's weight at that step must leave the stable a share: more would
/// give the stable a negative weight, which no router accepts.
pub(super) fn check_weights(
    canary: &CanaryStrategy,
    traffic: Option<&TrafficPlan>,
    path: &str,
    check: &mut Check,
) {
    let mut canary_weight = 0;
    for (index, step) in canary.steps.iter().enumerate() {
        if let Some(weight) = step.set_weight {
            canary_weight = weight;
        }
        let Some(experiment) = &step.experiment else {
            continue;
        };
        let at = format!("{path}.steps[{index}].experiment.templates");
        let mut total = 0;
        let weighted = experiment
            .templates
            .iter()
            .enumerate()
            .filter_map(|(position, template)| Some((position, template.weight?)));
        for (position, weight) in weighted {
            total += weight.max(0);
            let field = format!("{at}[{position}].weight");
            match traffic {
                None => check.fail(
                    field,
                    "Experiment template weight cannot be set unless TrafficRouting is enabled",
                ),
                Some(traffic) if !traffic.routers.iter().any(Router::carries_additional) => check
                    .fail(
                        field,
                        "Experiment template weight is only available for TrafficRouting with \
                         SMI, ALB, and Istio at this time",
                    ),
                Some(_) => {}
            }
        }
        let max_weight = traffic.map_or(100, |traffic| traffic.max_weight);
        if total > 0 && canary_weight + total > max_weight {
            check.fail(
                at,
                format!(
                    "the templates' weights ({total}) and the canary's weight at this step \
                     ({canary_weight}) exceed {max_weight}, leaving the stable a negative weight"
                ),
            );
        }
    }
}
