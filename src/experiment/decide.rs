//! One reconcile of an Experiment as a pure function: from its spec, its recorded status and
//! what was observed, the next status and what to do — Argo's `experimentContext.reconcile`
//! (templates, then analyses, then the phase), without I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::k8s::crd::{
    Argument, DEFAULT_SCALE_DOWN_DELAY_SECONDS, ExperimentAnalysis, ExperimentAnalysisRunStatus,
    ExperimentCondition, ExperimentSpec, ExperimentStatus, ExperimentTemplate, TemplatePhase,
    TemplateStatus,
};
use crate::model::AnalysisPhase;

/// A template's ReplicaSet as observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedReplicaSet {
    /// Its pod-template hash label.
    pub hash: String,
    /// `spec.replicas`.
    pub desired: i32,
    /// `status.replicas`.
    pub replicas: i32,
    /// `status.readyReplicas`.
    pub ready: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// Its `scale-down-deadline` annotation.
    pub scale_down_deadline: Option<Timestamp>,
}

/// An analysis's AnalysisRun as observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedRun {
    /// Its phase (Pending before its first status).
    pub phase: AnalysisPhase,
    /// Its message.
    pub message: String,
    /// Whether `spec.terminate` is set.
    pub terminating: bool,
}

/// What a reconcile sees besides the Experiment.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The time of the reconcile.
    pub now: Timestamp,
    /// Template ReplicaSets owned by the experiment, by template name.
    pub replica_sets: BTreeMap<String, ObservedReplicaSet>,
    /// Template Services owned by the experiment, by template name (their names).
    pub services: BTreeMap<String, String>,
    /// AnalysisRuns owned by the experiment, by analysis name.
    pub runs: BTreeMap<String, ObservedRun>,
    /// Analyses whose templates cannot be read, with why.
    pub unreadable_templates: BTreeMap<String, String>,
}

/// Something to do, after the status is written.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Create the template's ReplicaSet with 0 replicas.
    CreateReplicaSet {
        /// The template.
        template: String,
    },
    /// Set the replicas of a template's ReplicaSet.
    ScaleReplicaSet {
        /// The template.
        template: String,
        /// The replicas.
        replicas: i32,
    },
    /// Annotate a template's ReplicaSet with the time to scale it down.
    SetScaleDownDeadline {
        /// The template.
        template: String,
        /// When.
        deadline: Timestamp,
    },
    /// Create the template's Service.
    CreateService {
        /// The template.
        template: String,
        /// The Service's name.
        name: String,
    },
    /// Delete the template's Service.
    DeleteService {
        /// The Service's name.
        name: String,
    },
    /// Create the analysis's AnalysisRun with these arguments (templates' merged first).
    CreateRun {
        /// The analysis.
        analysis: String,
        /// The run's name.
        name: String,
        /// The analysis's arguments, resolved.
        args: Vec<Argument>,
    },
    /// Set `spec.terminate` on a run.
    TerminateRun {
        /// The run.
        name: String,
    },
}

/// An Event to record on the Experiment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Its reason.
    pub reason: String,
    /// Its message.
    pub message: String,
    /// Whether it is a Warning.
    pub warning: bool,
}

/// The outcome of one reconcile.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write.
    pub status: ExperimentStatus,
    /// What to do once it is written.
    pub actions: Vec<Action>,
    /// Events to record.
    pub notes: Vec<Note>,
    /// When to look again at the latest (besides changes of owned objects).
    pub requeue: Option<Duration>,
}

/// The name of a template's ReplicaSet.
#[must_use]
pub fn replica_set_name(experiment: &str, template: &str) -> String {
    format!("{experiment}-{template}")
}

/// The name of an analysis's AnalysisRun.
#[must_use]
pub fn run_name(experiment: &str, analysis: &str) -> String {
    format!("{experiment}-{analysis}")
}

/// The name of a template's Service.
#[must_use]
pub fn service_name(experiment: &str, template: &ExperimentTemplate) -> String {
    template
        .service
        .as_ref()
        .filter(|service| !service.name.is_empty())
        .map_or_else(
            || replica_set_name(experiment, &template.name),
            |service| service.name.clone(),
        )
}

struct Context<'a> {
    name: &'a str,
    spec: &'a ExperimentSpec,
    recorded: &'a ExperimentStatus,
    observed: &'a Observed,
    terminating: bool,
    duration_passed: bool,
    actions: Vec<Action>,
    notes: Vec<Note>,
    wake: Vec<Timestamp>,
}

/// Decides the next step of Experiment `name`.
#[must_use]
pub fn decide(
    name: &str,
    spec: &ExperimentSpec,
    recorded: &ExperimentStatus,
    observed: &Observed,
) -> Decision {
    let mut status = recorded.clone();
    let problems = spec.problems();
    if !problems.is_empty() {
        let message = problems
            .iter()
            .map(|(field, problem)| format!("{field}: {problem}"))
            .collect::<Vec<_>>()
            .join("; ");
        set_condition(
            &mut status,
            "InvalidSpec",
            "True",
            "InvalidSpec",
            &message,
            observed.now,
        );
        status.message = message;
        return Decision {
            status,
            actions: Vec::new(),
            notes: Vec::new(),
            requeue: None,
        };
    }
    let finished_at = finished_at(spec, recorded);
    let mut context = Context {
        name,
        spec,
        recorded,
        observed,
        terminating: is_terminating(spec, recorded),
        duration_passed: finished_at.is_some_and(|end| observed.now > end),
        actions: Vec::new(),
        notes: Vec::new(),
        wake: Vec::new(),
    };
    if let Some(end) = finished_at.filter(|_| !context.duration_passed) {
        context.wake.push(end);
    }
    status.template_statuses = spec
        .templates
        .iter()
        .map(|template| context.template(template))
        .collect();
    status.analysis_runs = spec
        .analyses
        .iter()
        .map(|analysis| context.analysis(analysis, &status.template_statuses))
        .collect();
    let before = recorded.phase;
    assess(&mut status, spec, observed.now);
    progressing_condition(
        &mut status,
        recorded,
        name,
        observed.now,
        context.duration_passed,
    );
    if status.phase != before
        && let Some(phase) = status.phase
    {
        context.notes.push(Note {
            reason: format!("Experiment{phase}"),
            message: format!(
                "Experiment transitioned from {} -> {phase}",
                before.map(|phase| phase.to_string()).unwrap_or_default()
            ),
            warning: phase.is_unsuccessful(),
        });
    }
    let requeue = if status.phase == recorded.phase {
        context
            .wake
            .iter()
            .min()
            .map(|at| at.duration_since(observed.now).unsigned_abs())
    } else {
        // The next reconcile acts on the new phase (a finished experiment scales down).
        Some(Duration::ZERO)
    };
    Decision {
        status,
        actions: context.actions,
        notes: context.notes,
        requeue,
    }
}

/// `availableAt + duration`, once available with a duration.
fn finished_at(spec: &ExperimentSpec, status: &ExperimentStatus) -> Option<Timestamp> {
    let available = status.available_at.as_ref()?.0;
    let duration = jiff::SignedDuration::try_from(spec.duration()?).ok()?;
    available.checked_add(duration).ok()
}

/// Argo's `IsTerminating`, on the recorded status: asked to stop, finished, a template that
/// failed, an analysis that did not succeed, or every required analysis done.
fn is_terminating(spec: &ExperimentSpec, status: &ExperimentStatus) -> bool {
    spec.terminate
        || status.phase.is_some_and(AnalysisPhase::is_completed)
        || status.template_statuses.iter().any(|template| {
            matches!(
                template.status,
                Some(TemplatePhase::Failed | TemplatePhase::Error)
            )
        })
        || status
            .analysis_runs
            .iter()
            .any(|run| run.phase.is_some_and(AnalysisPhase::is_unsuccessful))
        || required_runs_successful(spec, status)
}

/// There is a required analysis, and every one has succeeded.
fn required_runs_successful(spec: &ExperimentSpec, status: &ExperimentStatus) -> bool {
    let mut required = spec
        .analyses
        .iter()
        .filter(|analysis| analysis.required_for_completion)
        .peekable();
    required.peek().is_some()
        && required.all(|analysis| {
            status.analysis_runs.iter().any(|run| {
                run.name == analysis.name && run.phase == Some(AnalysisPhase::Successful)
            })
        })
}

impl Context<'_> {
    /// Argo's `reconcileTemplate`.
    fn template(&mut self, template: &ExperimentTemplate) -> TemplateStatus {
        let now = self.observed.now;
        let previous = self
            .recorded
            .template_statuses
            .iter()
            .find(|status| status.name == template.name)
            .cloned()
            .unwrap_or_else(|| TemplateStatus {
                name: template.name.clone(),
                ..TemplateStatus::default()
            });
        let mut status = previous.clone();
        let completed = previous.status.is_some_and(TemplatePhase::is_completed);
        let desired = if self.terminating || completed {
            0
        } else {
            template.replicas.unwrap_or(1)
        };
        let name = template.name.clone();
        match self.observed.replica_sets.get(&template.name) {
            None => {
                if desired > 0 {
                    self.actions.push(Action::CreateReplicaSet {
                        template: name.clone(),
                    });
                    status.last_transition_time = Some(Time(now));
                }
                status.replicas = 0;
                status.updated_replicas = 0;
                status.ready_replicas = 0;
                status.available_replicas = 0;
            }
            Some(replica_set) => {
                self.service(template, replica_set, desired, &mut status);
                if replica_set.desired != desired && self.scale(&name, replica_set, desired) {
                    status.last_transition_time = Some(Time(now));
                }
                status.pod_template_hash.clone_from(&replica_set.hash);
                status.replicas = replica_set.replicas;
                status.updated_replicas = replica_set.replicas;
                status.ready_replicas = replica_set.ready;
                status.available_replicas = replica_set.available;
            }
        }
        let counters = |status: &TemplateStatus| {
            (
                status.replicas,
                status.updated_replicas,
                status.ready_replicas,
                status.available_replicas,
            )
        };
        if counters(&previous) != counters(&status) {
            status.last_transition_time = Some(Time(now));
        }
        if !completed {
            self.template_phase(template, desired, &mut status);
        }
        if previous.status != status.status
            && let Some(phase) = status.status
        {
            let from = previous
                .status
                .map(|phase| phase.to_string())
                .unwrap_or_default();
            let mut message = format!(
                "Template '{}' transitioned from {from} -> {phase}",
                template.name
            );
            if !status.message.is_empty() {
                message = format!("{message}: {}", status.message);
            }
            self.notes.push(Note {
                reason: format!("Template{phase}"),
                message,
                warning: matches!(phase, TemplatePhase::Failed | TemplatePhase::Error),
            });
        }
        status
    }

    /// Running once every pod is available (Successful once the duration passed or the
    /// experiment is terminating); Failed when it made no progress for the deadline.
    fn template_phase(
        &mut self,
        template: &ExperimentTemplate,
        desired: i32,
        status: &mut TemplateStatus,
    ) {
        let now = self.observed.now;
        if status.available_replicas == desired {
            status.status = Some(if self.duration_passed || self.terminating {
                TemplatePhase::Successful
            } else {
                TemplatePhase::Running
            });
            return;
        }
        let from = status
            .last_transition_time
            .as_ref()
            .map_or(now, |time| time.0);
        let seconds = self.spec.progress_deadline();
        let deadline = from
            .checked_add(jiff::SignedDuration::from_secs(i64::from(seconds)))
            .unwrap_or(now);
        if now > deadline {
            status.status = Some(TemplatePhase::Failed);
            status.message = format!(
                "Template '{}' exceeded its progressDeadlineSeconds ({seconds})",
                template.name
            );
        } else if self.terminating {
            status.status = Some(TemplatePhase::Successful);
        } else {
            status.status = Some(TemplatePhase::Progressing);
            self.wake.push(deadline);
        }
    }

    /// The template's Service: there while the template runs, gone once its pods are.
    fn service(
        &mut self,
        template: &ExperimentTemplate,
        replica_set: &ObservedReplicaSet,
        desired: i32,
        status: &mut TemplateStatus,
    ) {
        let existing = self.observed.services.get(&template.name);
        if template.service.is_some() && desired != 0 {
            let name = service_name(self.name, template);
            if existing.is_none() {
                self.actions.push(Action::CreateService {
                    template: template.name.clone(),
                    name: name.clone(),
                });
            }
            status.service_name = name;
        } else if template.service.is_none() || replica_set.available == 0 {
            if let Some(name) = existing {
                self.actions
                    .push(Action::DeleteService { name: name.clone() });
            }
            status.service_name.clear();
        }
    }

    /// Scales a ReplicaSet, down to 0 only once its scale-down deadline passed (setting it
    /// first); whether anything was done.
    fn scale(&mut self, template: &str, replica_set: &ObservedReplicaSet, desired: i32) -> bool {
        let now = self.observed.now;
        let delay = self
            .spec
            .scale_down_delay_seconds
            .unwrap_or(DEFAULT_SCALE_DOWN_DELAY_SECONDS);
        if desired == 0 && delay > 0 {
            match replica_set.scale_down_deadline {
                None => {
                    let deadline = now
                        .checked_add(jiff::SignedDuration::from_secs(i64::from(delay)))
                        .unwrap_or(now);
                    self.actions.push(Action::SetScaleDownDeadline {
                        template: template.to_owned(),
                        deadline,
                    });
                    self.wake.push(deadline);
                    return true;
                }
                Some(deadline) if deadline > now => {
                    self.wake.push(deadline);
                    return false;
                }
                Some(_) => {}
            }
        }
        self.actions.push(Action::ScaleReplicaSet {
            template: template.to_owned(),
            replicas: desired,
        });
        true
    }

    /// Argo's `reconcileAnalysisRun`: runs start once every template was available.
    fn analysis(
        &mut self,
        analysis: &ExperimentAnalysis,
        templates: &[TemplateStatus],
    ) -> ExperimentAnalysisRunStatus {
        let previous = self
            .recorded
            .analysis_runs
            .iter()
            .find(|run| run.name == analysis.name)
            .cloned()
            .unwrap_or_else(|| ExperimentAnalysisRunStatus {
                name: analysis.name.clone(),
                ..ExperimentAnalysisRunStatus::default()
            });
        let mut status = previous.clone();
        let unreadable = self.observed.unreadable_templates.get(&analysis.name);
        if self.recorded.available_at.is_none() {
            if let Some(why) = unreadable {
                status.phase = Some(AnalysisPhase::Error);
                status.message = format!(
                    "AnalysisTemplate verification failed for analysis '{}': {why}",
                    analysis.name
                );
            }
        } else if previous.analysis_run.is_empty() {
            if !self.terminating {
                self.start_run(analysis, templates, &mut status);
            }
        } else if !previous.phase.is_some_and(AnalysisPhase::is_completed) {
            match self.observed.runs.get(&analysis.name) {
                Some(run) => {
                    status.phase = Some(run.phase);
                    status.message.clone_from(&run.message);
                    if self.terminating && !run.terminating && !run.phase.is_completed() {
                        self.actions.push(Action::TerminateRun {
                            name: previous.analysis_run.clone(),
                        });
                    }
                }
                // Recorded but not there: the daemon stopped between writing the status and
                // creating the run. Create it now.
                None if !self.terminating => self.start_run(analysis, templates, &mut status),
                None => {}
            }
        }
        if previous.phase != status.phase
            && let Some(phase) = status.phase
        {
            let from = previous
                .phase
                .map(|phase| phase.to_string())
                .unwrap_or_default();
            let mut message = format!(
                "AnalysisRun '{}' transitioned from {from} -> {phase}",
                analysis.name
            );
            if !status.message.is_empty() {
                message = format!("{message}: {}", status.message);
            }
            self.notes.push(Note {
                reason: format!("AnalysisRun{phase}"),
                message,
                warning: phase.is_unsuccessful(),
            });
        }
        status
    }

    fn start_run(
        &mut self,
        analysis: &ExperimentAnalysis,
        templates: &[TemplateStatus],
        status: &mut ExperimentAnalysisRunStatus,
    ) {
        let fail = |status: &mut ExperimentAnalysisRunStatus, why: &str| {
            status.phase = Some(AnalysisPhase::Error);
            status.message = format!(
                "Failed to create AnalysisRun for analysis '{}': {why}",
                analysis.name
            );
        };
        if let Some(why) = self.observed.unreadable_templates.get(&analysis.name) {
            fail(status, why);
            return;
        }
        let variables = variables(self.name, self.spec, self.recorded, templates);
        let mut args = Vec::new();
        for arg in &analysis.args {
            let value = match arg
                .value
                .as_deref()
                .map(|value| substitute(value, &variables))
            {
                Some(Err(why)) => return fail(status, &why),
                Some(Ok(value)) => Some(value),
                None => None,
            };
            args.push(Argument {
                value,
                ..arg.clone()
            });
        }
        let name = run_name(self.name, &analysis.name);
        self.actions.push(Action::CreateRun {
            analysis: analysis.name.clone(),
            name: name.clone(),
            args,
        });
        status.analysis_run = name;
        status.phase = Some(AnalysisPhase::Pending);
        status.message.clear();
    }
}

/// The variables an experiment's analysis arguments may use.
fn variables(
    name: &str,
    spec: &ExperimentSpec,
    status: &ExperimentStatus,
    templates: &[TemplateStatus],
) -> BTreeMap<String, String> {
    let mut variables = BTreeMap::new();
    for template in templates {
        variables.insert(
            format!("templates.{}.podTemplateHash", template.name),
            template.pod_template_hash.clone(),
        );
        variables.insert(
            format!("templates.{}.replicaset.name", template.name),
            replica_set_name(name, &template.name),
        );
    }
    if let Some(available) = &status.available_at {
        variables.insert("experiment.availableAt".to_owned(), rfc3339(available.0));
    }
    if let Some(end) = finished_at(spec, status) {
        variables.insert("experiment.finishedAt".to_owned(), rfc3339(end));
    }
    variables
}

fn rfc3339(time: Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `value` with each `{{name}}` replaced; an unknown name is an error, as in Argo.
fn substitute(value: &str, variables: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start..].find("}}") else {
            break;
        };
        let key = rest[start + 2..start + length].trim();
        let found = variables
            .get(key)
            .ok_or_else(|| format!("failed to resolve {{{{{key}}}}}"))?;
        out.push_str(&rest[..start]);
        out.push_str(found);
        rest = &rest[start + length + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Argo's `calculateStatus`: the phase from the worst template and the worst analysis.
fn assess(status: &mut ExperimentStatus, spec: &ExperimentSpec, now: Timestamp) {
    match status.phase {
        None => {
            status.phase = Some(AnalysisPhase::Pending);
            return;
        }
        Some(AnalysisPhase::Pending | AnalysisPhase::Running) => {}
        Some(_) => return,
    }
    let (templates, template_message) = assess_templates(spec, status);
    let (analyses, analysis_message) = assess_analyses(spec, status);
    if templates == AnalysisPhase::Running && status.available_at.is_none() {
        status.available_at = Some(Time(now));
    }
    let use_analyses = if templates.is_completed() {
        templates == AnalysisPhase::Successful
            && (analyses.is_completed()
                || spec
                    .analyses
                    .iter()
                    .any(|analysis| analysis.required_for_completion))
    } else {
        analyses.is_unsuccessful() || required_runs_successful(spec, status)
    };
    let (phase, message) = if use_analyses {
        (analyses, analysis_message)
    } else {
        (templates, template_message)
    };
    status.phase = Some(phase);
    status.message = message;
}

/// The worst template, as an analysis phase: Progressing (or none yet) is Pending.
fn assess_templates(spec: &ExperimentSpec, status: &ExperimentStatus) -> (AnalysisPhase, String) {
    let rank = |phase: TemplatePhase| match phase {
        TemplatePhase::Successful => 0,
        TemplatePhase::Running => 1,
        TemplatePhase::Progressing => 2,
        TemplatePhase::Error => 3,
        TemplatePhase::Failed => 4,
    };
    let mut worst = (TemplatePhase::Successful, String::new());
    for template in &spec.templates {
        let found = status
            .template_statuses
            .iter()
            .find(|status| status.name == template.name);
        let (phase, message) =
            match found.and_then(|status| status.status.map(|phase| (phase, status))) {
                Some((phase, status)) => (phase, status.message.clone()),
                None => (TemplatePhase::Progressing, worst.1.clone()),
            };
        if rank(phase) > rank(worst.0) {
            worst = (phase, message);
        }
    }
    let phase = match worst.0 {
        TemplatePhase::Progressing => AnalysisPhase::Pending,
        TemplatePhase::Running => AnalysisPhase::Running,
        TemplatePhase::Successful => AnalysisPhase::Successful,
        TemplatePhase::Failed => AnalysisPhase::Failed,
        TemplatePhase::Error => AnalysisPhase::Error,
    };
    (phase, worst.1)
}

/// The worst analysis (Argo's order: Successful, Running, Pending, Inconclusive, Error,
/// Failed); Pending reads as Running; every required one successful reads as Successful.
fn assess_analyses(spec: &ExperimentSpec, status: &ExperimentStatus) -> (AnalysisPhase, String) {
    let rank = crate::analysis::assess::severity;
    let mut worst = (AnalysisPhase::Successful, String::new());
    for analysis in &spec.analyses {
        let run = status
            .analysis_runs
            .iter()
            .find(|run| run.name == analysis.name);
        // An analysis not started yet ranks as Argo's empty phase: with Successful.
        if let Some((phase, run)) = run.and_then(|run| run.phase.map(|phase| (phase, run)))
            && rank(phase) > rank(worst.0)
        {
            worst = (phase, run.message.clone());
        }
    }
    if required_runs_successful(spec, status) && rank(worst.0) < rank(AnalysisPhase::Running) {
        return (
            AnalysisPhase::Successful,
            "Required AnalysisRuns completed".to_owned(),
        );
    }
    if worst.0 == AnalysisPhase::Pending {
        worst.0 = AnalysisPhase::Running;
    }
    worst
}

/// Argo's `Progressing` condition.
fn progressing_condition(
    status: &mut ExperimentStatus,
    recorded: &ExperimentStatus,
    name: &str,
    now: Timestamp,
    duration_passed: bool,
) {
    let moved = status
        .template_statuses
        .iter()
        .zip(&recorded.template_statuses)
        .any(|(new, old)| new.last_transition_time != old.last_transition_time)
        || status.template_statuses.len() != recorded.template_statuses.len();
    if status.phase == Some(AnalysisPhase::Successful) {
        let message = format!("Experiment \"{name}\" has successfully ran and completed.");
        set_condition(
            status,
            "Progressing",
            "False",
            "ExperimentCompleted",
            &message,
            now,
        );
    } else if moved {
        let message = format!("Experiment \"{name}\" is progressing.");
        set_condition(
            status,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &message,
            now,
        );
    } else if status.available_at.is_some() && !duration_passed {
        let message = format!("Experiment \"{name}\" is running.");
        set_condition(
            status,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &message,
            now,
        );
    }
}

fn set_condition(
    status: &mut ExperimentStatus,
    kind: &str,
    value: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let index = if let Some(index) = status
        .conditions
        .iter()
        .position(|condition| condition.kind == kind)
    {
        index
    } else {
        status.conditions.push(ExperimentCondition {
            kind: kind.to_owned(),
            ..ExperimentCondition::default()
        });
        status.conditions.len() - 1
    };
    let condition = &mut status.conditions[index];
    if condition.status != value {
        condition.last_transition_time = Some(Time(now));
    }
    if condition.status != value || condition.reason != reason || condition.message != message {
        condition.last_update_time = Some(Time(now));
    }
    value.clone_into(&mut condition.status);
    reason.clone_into(&mut condition.reason);
    message.clone_into(&mut condition.message);
}

#[cfg(test)]
mod tests;
