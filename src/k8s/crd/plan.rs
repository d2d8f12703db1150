//! Reads a `Rollout` spec into the engine's [`RolloutPlan`]: defaults applied, values parsed,
//! and every problem reported at its field path. The rules are Argo Rollouts' validation
//! (`pkg/apis/rollouts/validation`), plus a clear refusal of the Argo features tidegate does
//! not execute yet — a spec is never half-understood.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{
    AnalysisRunArgument, BlueGreenStrategy, CanaryStep, CanaryStrategy, PodTemplateHashValue,
    PodTemplateMetadata, ReplicaProgressThreshold, RolloutAnalysis, RolloutSpec, RolloutStrategy,
};
use crate::k8s::labels;
use crate::model::{
    Amount, AnalysisArg, AnalysisPlan, AntiAffinity, ArgValue, BackgroundAnalysis, BlueGreenPlan,
    CanaryPlan, PodMetadata, ProgressThreshold, RoleMetadata, RolloutPlan, SpecError, SpecErrors,
    Step, Strategy, TemplateRef, parse_pause_seconds,
};

mod experiment;
mod traffic;
mod workload;

const NOT_SUPPORTED: &str = "is not supported by tidegate yet";
const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;
const DEFAULT_RUN_HISTORY_LIMIT: i32 = 5;
const DEFAULT_SCALE_DOWN_DELAY_SECONDS: i32 = 30;
const DEFAULT_FENCEPOST: Amount = Amount::Percent(25);

/// Metadata fields an analysis argument may take its value from (Kubernetes' downward API).
impl RolloutSpec {
    /// The plan this spec describes, or everything wrong with it (paths start at `spec`).
    pub fn plan(&self) -> Result<RolloutPlan, SpecErrors> {
        let mut check = Check::default();
        let plan = read_rollout(self, &mut check);
        match plan {
            Some(plan) if check.errors.is_empty() => Ok(plan),
            _ => Err(SpecErrors(check.errors)),
        }
    }
}

/// Collects the problems found while reading.
#[derive(Default)]
struct Check {
    errors: Vec<SpecError>,
}

impl Check {
    fn fail(&mut self, path: impl Display, message: impl Into<String>) {
        self.errors.push(SpecError {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn unsupported(&mut self, path: impl Display, present: bool) {
        if present {
            self.fail(path, NOT_SUPPORTED);
        }
    }

    /// A count that must not be negative; `default` when absent.
    fn non_negative(&mut self, path: &str, value: Option<i32>, default: i32) -> i32 {
        let value = value.unwrap_or(default);
        if value < 0 {
            self.fail(path, format!("must not be negative, got {value}"));
        }
        value
    }

    fn seconds(&mut self, path: &str, value: Option<i32>, default: i32) -> Duration {
        let seconds = self.non_negative(path, value, default);
        Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
    }

    fn amount(&mut self, path: &str, value: Option<&IntOrString>) -> Amount {
        match value {
            None => DEFAULT_FENCEPOST,
            Some(IntOrString::Int(count)) => {
                if *count < 0 {
                    self.fail(path, format!("must not be negative, got {count}"));
                }
                Amount::Count(*count)
            }
            Some(IntOrString::String(text)) => match Amount::parse(text) {
                Ok(Amount::Percent(percent)) if percent < 0 => {
                    self.fail(path, format!("must not be negative, got {text:?}"));
                    DEFAULT_FENCEPOST
                }
                Ok(amount) => amount,
                Err(error) => {
                    self.fail(path, error.to_string());
                    DEFAULT_FENCEPOST
                }
            },
        }
    }
}

fn read_rollout(spec: &RolloutSpec, check: &mut Check) -> Option<RolloutPlan> {
    let replicas = check.non_negative("spec.replicas", spec.replicas, 1);
    let workload = workload::read_workload(spec, check);
    check_selector_and_template(spec, check);

    let min_ready_seconds = check.non_negative("spec.minReadySeconds", spec.min_ready_seconds, 0);
    let revision_history_limit = check.non_negative(
        "spec.revisionHistoryLimit",
        spec.revision_history_limit,
        DEFAULT_REVISION_HISTORY_LIMIT,
    );
    let deadline_path = "spec.progressDeadlineSeconds";
    let deadline = spec
        .progress_deadline_seconds
        .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS);
    let progress_deadline = check.seconds(deadline_path, Some(deadline), 0);
    if deadline <= min_ready_seconds {
        check.fail(
            deadline_path,
            format!("must be greater than minReadySeconds ({min_ready_seconds})"),
        );
    }
    let history = spec.analysis.clone().unwrap_or_default();
    let successful_run_history_limit = check.non_negative(
        "spec.analysis.successfulRunHistoryLimit",
        history.successful_run_history_limit,
        DEFAULT_RUN_HISTORY_LIMIT,
    );
    let unsuccessful_run_history_limit = check.non_negative(
        "spec.analysis.unsuccessfulRunHistoryLimit",
        history.unsuccessful_run_history_limit,
        DEFAULT_RUN_HISTORY_LIMIT,
    );
    let role_metadata = read_role_metadata(spec, check);
    let anti_affinity = read_anti_affinity(&spec.strategy, check);
    let strategy = read_strategy(&spec.strategy, revision_history_limit, check)?;
    Some(RolloutPlan {
        replicas,
        min_ready_seconds,
        revision_history_limit,
        progress_deadline,
        progress_deadline_abort: spec.progress_deadline_abort,
        paused: spec.paused,
        restart_at: spec.restart_at.as_ref().map(|time| time.0),
        successful_run_history_limit,
        unsuccessful_run_history_limit,
        strategy,
        role_metadata,
        anti_affinity,
        // As Argo: a window of no revisions (or fewer) is none.
        rollback_window: spec
            .rollback_window
            .as_ref()
            .and_then(|window| window.revisions)
            .and_then(|revisions| u32::try_from(revisions).ok())
            .filter(|revisions| *revisions > 0),
        workload,
    })
}

/// `replicaProgressThreshold`: `type` `Pod` or `Percent`, as Argo names them.
fn read_progress_threshold(
    threshold: &ReplicaProgressThreshold,
    path: &str,
    check: &mut Check,
) -> Option<ProgressThreshold> {
    match threshold.kind.as_str() {
        "Pod" => Some(ProgressThreshold::Pods(threshold.value)),
        "Percent" => Some(ProgressThreshold::Percent(threshold.value)),
        other => {
            check.fail(
                format!("{path}.type"),
                format!("must be Pod or Percent, got {other:?}"),
            );
            None
        }
    }
}

/// `antiAffinity`, as Argo validates it: exactly one rule; a preferred one weighs 1 to 100.
fn read_anti_affinity(strategy: &RolloutStrategy, check: &mut Check) -> Option<AntiAffinity> {
    let (path, anti_affinity) = match (&strategy.canary, &strategy.blue_green) {
        (Some(canary), None) => ("spec.strategy.canary.antiAffinity", &canary.anti_affinity),
        (None, Some(blue_green)) => (
            "spec.strategy.blueGreen.antiAffinity",
            &blue_green.anti_affinity,
        ),
        _ => return None,
    };
    let anti_affinity = anti_affinity.as_ref()?;
    match (
        &anti_affinity.preferred_during_scheduling_ignored_during_execution,
        &anti_affinity.required_during_scheduling_ignored_during_execution,
    ) {
        (Some(preferred), None) => {
            let weight = preferred.weight;
            if !(1..=100).contains(&weight) {
                check.fail(
                    format!("{path}.preferredDuringSchedulingIgnoredDuringExecution.weight"),
                    format!("must be between 1 and 100, got {weight}"),
                );
            }
            Some(AntiAffinity::Preferred { weight })
        }
        (None, Some(_)) => Some(AntiAffinity::Required),
        _ => {
            check.fail(
                path,
                "needs exactly one of preferredDuringSchedulingIgnoredDuringExecution and \
                 requiredDuringSchedulingIgnoredDuringExecution",
            );
            None
        }
    }
}

/// `canaryMetadata`/`stableMetadata` or `previewMetadata`/`activeMetadata`. Their labels
/// must leave alone the ones that tie a pod to its ReplicaSet — the selector's keys and the
/// pod-template hash — or a pod given them would be orphaned and replaced.
fn read_role_metadata(spec: &RolloutSpec, check: &mut Check) -> RoleMetadata {
    let strategy = &spec.strategy;
    let (path, updated, stable) = match (&strategy.canary, &strategy.blue_green) {
        (Some(canary), None) => (
            [
                "spec.strategy.canary.canaryMetadata",
                "spec.strategy.canary.stableMetadata",
            ],
            canary.canary_metadata.as_ref(),
            canary.stable_metadata.as_ref(),
        ),
        (None, Some(blue_green)) => (
            [
                "spec.strategy.blueGreen.previewMetadata",
                "spec.strategy.blueGreen.activeMetadata",
            ],
            blue_green.preview_metadata.as_ref(),
            blue_green.active_metadata.as_ref(),
        ),
        _ => return RoleMetadata::default(),
    };
    let selector_keys: Vec<&String> = spec
        .selector
        .iter()
        .flat_map(|selector| {
            let labels = selector.match_labels.iter().flat_map(BTreeMap::keys);
            let expressions = selector
                .match_expressions
                .iter()
                .flatten()
                .map(|expression| &expression.key);
            labels.chain(expressions)
        })
        .collect();
    let mut read = |path: &str, metadata: Option<&PodTemplateMetadata>| {
        let metadata = metadata?;
        for key in metadata.labels.keys() {
            if key == labels::POD_TEMPLATE_HASH || selector_keys.contains(&key) {
                check.fail(
                    format!("{path}.labels.{key}"),
                    "is a key of spec.selector or the pod-template hash: pods given it would leave their ReplicaSet",
                );
            }
        }
        Some(PodMetadata {
            labels: metadata.labels.clone(),
            annotations: metadata.annotations.clone(),
        })
    };
    RoleMetadata {
        updated: read(path[0], updated),
        stable: read(path[1], stable),
    }
}

fn check_selector_and_template(spec: &RolloutSpec, check: &mut Check) {
    // Until the controller reads the Deployment, a workloadRef's Rollout has no template,
    // and a selector only if it names its own (else the Deployment's is taken).
    let pending = workload::template_pending(spec);
    let Some(selector) = &spec.selector else {
        if !pending {
            check.fail("spec.selector", "is required");
        }
        return;
    };
    let expressions = selector.match_expressions.as_deref().unwrap_or_default();
    if selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && expressions.is_empty()
    {
        check.fail(
            "spec.selector",
            "must not be empty: it would select every pod",
        );
        return;
    }
    let Some(template) = spec.template.as_ref().filter(|_| !pending) else {
        if !pending {
            check.fail("spec.template", "is required");
        }
        return;
    };
    let labels = template
        .metadata
        .as_ref()
        .and_then(|meta| meta.labels.clone())
        .unwrap_or_default();
    match selector_matches(selector, &labels) {
        Ok(true) => {}
        Ok(false) => check.fail(
            "spec.template.metadata.labels",
            "do not match spec.selector",
        ),
        Err(message) => check.fail("spec.selector.matchExpressions", message),
    }
    if template
        .spec
        .as_ref()
        .is_none_or(|pod| pod.containers.is_empty())
    {
        check.fail(
            "spec.template.spec.containers",
            "must list at least one container",
        );
    }
}

/// Whether `labels` satisfy `selector`: Kubernetes' rules, as kube implements them, after
/// the checks the apiserver makes (`In`/`NotIn` need values, `Exists`/`DoesNotExist` take
/// none).
pub(super) fn selector_matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> Result<bool, String> {
    use kube::core::SelectorExt;

    for expression in selector.match_expressions.iter().flatten() {
        let values = expression.values.as_deref().unwrap_or_default();
        match expression.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!(
                    "{} needs values for key {:?}",
                    expression.operator, expression.key
                ));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(format!(
                    "{} takes no values (key {:?})",
                    expression.operator, expression.key
                ));
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => return Err(format!("unknown operator {other:?}")),
        }
    }
    let selector = kube::core::Selector::try_from(selector.clone()).map_err(|error| error.0)?;
    Ok(selector.matches(labels))
}

fn read_strategy(
    strategy: &RolloutStrategy,
    history_limit: i32,
    check: &mut Check,
) -> Option<Strategy> {
    match (&strategy.canary, &strategy.blue_green) {
        (Some(canary), None) => Some(Strategy::Canary(read_canary(canary, check))),
        (None, Some(blue_green)) => Some(Strategy::BlueGreen(read_blue_green(
            blue_green,
            history_limit,
            check,
        ))),
        (None, None) => {
            check.fail("spec.strategy", "needs canary or blueGreen");
            None
        }
        (Some(_), Some(_)) => {
            check.fail(
                "spec.strategy",
                "must have only one of canary and blueGreen",
            );
            None
        }
    }
}

fn read_canary(canary: &CanaryStrategy, check: &mut Check) -> CanaryPlan {
    let path = "spec.strategy.canary";
    let progress_threshold = canary
        .replica_progress_threshold
        .as_ref()
        .and_then(|threshold| {
            read_progress_threshold(
                threshold,
                &format!("{path}.replicaProgressThreshold"),
                check,
            )
        });
    let traffic = traffic::read_traffic(canary, check);
    let max_weight = traffic.as_ref().map_or(100, |traffic| traffic.max_weight);

    let max_surge = check.amount(&format!("{path}.maxSurge"), canary.max_surge.as_ref());
    let max_unavailable = check.amount(
        &format!("{path}.maxUnavailable"),
        canary.max_unavailable.as_ref(),
    );
    if is_zero(max_surge) && is_zero(max_unavailable) {
        check.fail(
            format!("{path}.maxSurge"),
            "maxSurge and maxUnavailable cannot both be 0",
        );
    }
    let canary_service = non_empty(&canary.canary_service);
    let stable_service = non_empty(&canary.stable_service);
    if canary_service.is_some() && canary_service == stable_service {
        check.fail(
            format!("{path}.stableService"),
            "must differ from canaryService: the two Services select different pods",
        );
    }

    let steps: Vec<Step> = canary
        .steps
        .iter()
        .enumerate()
        .filter_map(|(index, step)| {
            read_step(step, &format!("{path}.steps[{index}]"), max_weight, check)
        })
        .collect();
    traffic::check_steps(&steps, traffic.as_ref(), path, check);
    experiment::check_weights(canary, traffic.as_ref(), path, check);
    let background_analysis = canary.analysis.as_ref().map(|background| {
        let analysis_path = format!("{path}.analysis");
        let starting_step = background.starting_step.unwrap_or(0);
        let in_range = usize::try_from(starting_step)
            .ok()
            .filter(|step| *step <= canary.steps.len());
        if in_range.is_none() {
            let steps = canary.steps.len();
            check.fail(
                format!("{analysis_path}.startingStep"),
                format!("must be between 0 and {steps}"),
            );
        }
        BackgroundAnalysis {
            analysis: read_analysis(&background.analysis, &analysis_path, check),
            starting_step: in_range.unwrap_or(0),
        }
    });
    CanaryPlan {
        steps,
        max_surge,
        max_unavailable,
        canary_service,
        stable_service,
        background_analysis,
        traffic,
        progress_threshold,
    }
}

/// Reads one step. Argo allows at most one of `setWeight`, `pause`, `analysis` and
/// `experiment` in a step, beside any of the routing parts (`setCanaryScale`,
/// `setHeaderRoute`, `setMirrorRoute`); the step completes as the first of those present does,
/// in that order.
fn read_step(step: &CanaryStep, path: &str, max_weight: i32, check: &mut Check) -> Option<Step> {
    let deciding = [
        step.set_weight.is_some(),
        step.pause.is_some(),
        step.analysis.is_some(),
        step.experiment.is_some(),
    ];
    let routing = [
        step.set_canary_scale.is_some(),
        step.set_header_route.is_some(),
        step.set_mirror_route.is_some(),
    ];
    let deciding_count = deciding.iter().filter(|set| **set).count();
    if deciding_count + routing.iter().filter(|set| **set).count() == 0 && step.plugin.is_none() {
        check.fail(
            path,
            "needs one of setWeight, pause, analysis, setCanaryScale, setHeaderRoute, setMirrorRoute",
        );
        return None;
    }
    if deciding_count > 1 {
        check.fail(
            path,
            "must have at most one of setWeight, pause, analysis and experiment",
        );
        return None;
    }
    check.unsupported(format!("{path}.plugin"), step.plugin.is_some());
    let mut parts: Vec<Step> = read_deciding_part(step, path, max_weight, check)
        .into_iter()
        .collect();
    parts.extend(traffic::read_routing_parts(step, path, max_weight, check));
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Step::Combined(parts)),
    }
}

fn read_deciding_part(
    step: &CanaryStep,
    path: &str,
    max_weight: i32,
    check: &mut Check,
) -> Option<Step> {
    if let Some(weight) = step.set_weight {
        if !(0..=max_weight).contains(&weight) {
            check.fail(
                format!("{path}.setWeight"),
                format!("must be between 0 and {max_weight}, got {weight}"),
            );
        }
        return Some(Step::SetWeight(weight));
    }
    if let Some(pause) = &step.pause {
        let duration = pause.duration.as_ref().and_then(|duration| {
            let text = match duration {
                IntOrString::Int(seconds) => seconds.to_string(),
                IntOrString::String(text) => text.clone(),
            };
            parse_pause_seconds(&text)
                .map_err(|error| check.fail(format!("{path}.pause.duration"), error.to_string()))
                .ok()
        });
        return Some(Step::Pause(duration));
    }
    if let Some(experiment) = &step.experiment {
        let plan = experiment::read_experiment(experiment, &format!("{path}.experiment"), check);
        return Some(Step::Experiment(plan));
    }
    step.analysis
        .as_ref()
        .map(|analysis| Step::Analysis(read_analysis(analysis, &format!("{path}.analysis"), check)))
}

fn read_analysis(analysis: &RolloutAnalysis, path: &str, check: &mut Check) -> AnalysisPlan {
    if analysis.templates.is_empty() {
        check.fail(
            format!("{path}.templates"),
            "must name at least one template",
        );
    }
    let templates = analysis
        .templates
        .iter()
        .enumerate()
        .map(|(index, template)| {
            if template.template_name.is_empty() {
                check.fail(
                    format!("{path}.templates[{index}].templateName"),
                    "is required",
                );
            }
            TemplateRef {
                name: template.template_name.clone(),
                cluster_scope: template.cluster_scope,
            }
        })
        .collect();
    let args = analysis
        .args
        .iter()
        .enumerate()
        .filter_map(|(index, arg)| read_argument(arg, &format!("{path}.args[{index}]"), check))
        .collect();
    let metadata = analysis.analysis_run_metadata.clone().unwrap_or_default();
    AnalysisPlan {
        templates,
        args,
        dry_run: analysis
            .dry_run
            .iter()
            .map(|dry_run| dry_run.metric_name.clone())
            .collect(),
        measurement_retention: analysis
            .measurement_retention
            .iter()
            .map(|retention| (retention.metric_name.clone(), retention.limit))
            .collect(),
        run_labels: metadata.labels,
        run_annotations: metadata.annotations,
    }
}

fn read_argument(arg: &AnalysisRunArgument, path: &str, check: &mut Check) -> Option<AnalysisArg> {
    if arg.name.is_empty() {
        check.fail(format!("{path}.name"), "is required");
    }
    let source = arg.value_from.as_ref();
    let value = match (arg.value.is_empty(), source) {
        // As Argo, an argument without a value is the empty string.
        (_, None) => ArgValue::Literal(arg.value.clone()),
        (true, Some(source)) => match (source.pod_template_hash_value, &source.field_ref) {
            (Some(PodTemplateHashValue::Stable), None) => ArgValue::StableHash,
            (Some(PodTemplateHashValue::Latest), None) => ArgValue::LatestHash,
            (None, Some(field)) if is_argument_field(&field.field_path) => {
                ArgValue::Field(field.field_path.clone())
            }
            (None, Some(field)) => {
                let message = format!(
                    "{:?} is not a field tidegate can read: a metadata field (metadata.name, \
                     metadata.namespace, metadata.uid, metadata.labels['key'], \
                     metadata.annotations['key']) or a path into the Rollout such as \
                     spec.template.metadata.labels.version",
                    field.field_path
                );
                check.fail(format!("{path}.valueFrom.fieldRef.fieldPath"), message);
                return None;
            }
            _ => {
                check.fail(
                    format!("{path}.valueFrom"),
                    "needs exactly one of podTemplateHashValue and fieldRef",
                );
                return None;
            }
        },
        _ => {
            check.fail(path, "needs exactly one of value and valueFrom");
            return None;
        }
    };
    Some(AnalysisArg {
        name: arg.name.clone(),
        value,
    })
}

/// A metadata field of the downward API, or (as Argo reads any other path) a path into the
/// Rollout object.
fn is_argument_field(path: &str) -> bool {
    if path.starts_with("metadata") {
        crate::k8s::downward::parse(path).is_some()
    } else {
        crate::k8s::field_path::is_valid(path)
    }
}

fn read_blue_green(
    blue_green: &BlueGreenStrategy,
    history_limit: i32,
    check: &mut Check,
) -> BlueGreenPlan {
    let path = "spec.strategy.blueGreen";
    if blue_green.active_service.is_empty() {
        check.fail(format!("{path}.activeService"), "is required");
    }
    let preview_service = non_empty(&blue_green.preview_service);
    if preview_service.as_deref() == Some(blue_green.active_service.as_str()) {
        check.fail(
            format!("{path}.previewService"),
            "must differ from activeService: the two Services select different pods",
        );
    }
    let preview_replica_count = blue_green
        .preview_replica_count
        .map(|count| check.non_negative(&format!("{path}.previewReplicaCount"), Some(count), 0));
    let limit_path = format!("{path}.scaleDownDelayRevisionLimit");
    let scale_down_delay_revision_limit = blue_green.scale_down_delay_revision_limit.map(|limit| {
        let limit = check.non_negative(&limit_path, Some(limit), 0);
        if limit > history_limit {
            check.fail(
                &limit_path,
                format!("must not exceed revisionHistoryLimit ({history_limit})"),
            );
        }
        limit
    });
    let abort_path = format!("{path}.abortScaleDownDelaySeconds");
    let abort_delay = check.seconds(
        &abort_path,
        blue_green.abort_scale_down_delay_seconds,
        DEFAULT_SCALE_DOWN_DELAY_SECONDS,
    );
    BlueGreenPlan {
        active_service: blue_green.active_service.clone(),
        preview_service,
        preview_replica_count,
        auto_promotion_enabled: blue_green.auto_promotion_enabled.unwrap_or(true),
        auto_promotion_delay: check.seconds(
            &format!("{path}.autoPromotionSeconds"),
            blue_green.auto_promotion_seconds,
            0,
        ),
        max_unavailable: check.amount(
            &format!("{path}.maxUnavailable"),
            blue_green.max_unavailable.as_ref(),
        ),
        scale_down_delay: check.seconds(
            &format!("{path}.scaleDownDelaySeconds"),
            blue_green.scale_down_delay_seconds,
            DEFAULT_SCALE_DOWN_DELAY_SECONDS,
        ),
        scale_down_delay_revision_limit,
        abort_scale_down_delay: (!abort_delay.is_zero()).then_some(abort_delay),
        pre_promotion_analysis: blue_green.pre_promotion_analysis.as_ref().map(|analysis| {
            read_analysis(analysis, &format!("{path}.prePromotionAnalysis"), check)
        }),
        post_promotion_analysis: blue_green.post_promotion_analysis.as_ref().map(|analysis| {
            read_analysis(analysis, &format!("{path}.postPromotionAnalysis"), check)
        }),
    }
}

fn is_zero(amount: Amount) -> bool {
    matches!(amount, Amount::Count(0) | Amount::Percent(0))
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests;
