//! Reading an `experiment` step (Argo's `RolloutExperimentStep`, and the checks of Argo's
//! `ValidateRolloutStrategyCanary` for it).

use std::collections::BTreeSet;

use super::{Check, read_argument};
use crate::k8s::crd::RolloutExperimentStep;
use crate::model::ExperimentPlan;

/// The step's plan: its analyses' arguments as the Rollout supplies them. Refuses what the
/// experiment could not run: no templates, names missing or repeated, a duration that does
/// not parse, and `weight` (experiment traffic through a router is not supported yet).
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
        check.unsupported(format!("{at}.weight"), template.weight.is_some());
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
    ExperimentPlan { analysis_args }
}
