//! The job provider: a Kubernetes Job made from the metric's template, owned by the run (so it
//! goes when the run goes). Complete → Successful, Failed → Failed, a pod that cannot pull
//! its image → Inconclusive; otherwise Running, looked at again after `sqrt(2·elapsed)`
//! seconds, as Argo does. Creating is idempotent: a restarted controller finds its Job.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Resource, ResourceExt};

use super::{Context, Outcome, Provider};
use crate::k8s::crd::{Measurement, Metric};
use crate::model::{AnalysisPhase, steps_hash};

/// Labels on the Jobs of a run.
const RUN_LABEL: &str = "tidegate.dev/analysis-run";
const METRIC_LABEL: &str = "tidegate.dev/metric";
/// Where the measurement remembers its Job.
const JOB_NAME: &str = "job-name";

/// Measures with a Job.
pub struct JobProvider;

impl Provider for JobProvider {
    fn name(&self) -> &'static str {
        "job"
    }

    fn measure<'a>(
        &'a self,
        context: &'a Context<'a>,
        metric: &'a Metric,
        index: usize,
        in_flight: Option<&'a Measurement>,
    ) -> BoxFuture<'a, Result<Outcome, String>> {
        Box::pin(async move {
            let namespace = context.run.namespace().unwrap_or_default();
            let jobs: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
            let name = match in_flight.and_then(|measurement| measurement.metadata.get(JOB_NAME)) {
                Some(name) => name.clone(),
                None => create(context, &jobs, metric, index).await?,
            };
            let Some(job) = jobs.get_opt(&name).await.map_err(|error| {
                format!("read Job {name}: {}", crate::k8s::describe_error(&error))
            })?
            else {
                return Err(format!("Job {name} disappeared"));
            };
            let metadata = BTreeMap::from([(JOB_NAME.to_owned(), name.clone())]);
            let verdict = |phase, message: String, resume_after| Outcome::Verdict {
                phase,
                value: String::new(),
                message,
                metadata: metadata.clone(),
                resume_after,
            };
            if let Some((phase, message)) = finished(&job) {
                return Ok(verdict(phase, message, None));
            }
            if let Some(reason) = image_trouble(context, &namespace, &name).await {
                return Ok(verdict(
                    AnalysisPhase::Inconclusive,
                    format!("Job {name}: {reason}"),
                    None,
                ));
            }
            let started = job
                .creation_timestamp()
                .map_or(jiff::Timestamp::now(), |time| time.0);
            let resume_after = next_look(jiff::Timestamp::now().duration_since(started));
            Ok(verdict(
                AnalysisPhase::Running,
                String::new(),
                Some(resume_after),
            ))
        })
    }

    fn terminate<'a>(
        &'a self,
        context: &'a Context<'a>,
        _metric: &'a Metric,
        measurement: &'a Measurement,
    ) -> BoxFuture<'a, Measurement> {
        Box::pin(async move {
            if let Some(name) = measurement.metadata.get(JOB_NAME) {
                let jobs: Api<Job> = Api::namespaced(
                    context.client.clone(),
                    &context.run.namespace().unwrap_or_default(),
                );
                if let Err(error) = jobs.delete(name, &DeleteParams::background()).await
                    && !matches!(&error, kube::Error::Api(status) if status.code == 404)
                {
                    tracing::warn!(job = %name, error = %crate::k8s::describe_error(&error), "cannot delete a terminated measurement's Job");
                }
            }
            terminated(measurement, jiff::Timestamp::now())
        })
    }
}

/// The verdict of a Job that ended: Complete → Successful, Failed → Failed (with the Job's
/// message); `None` while it runs.
fn finished(job: &Job) -> Option<(AnalysisPhase, String)> {
    let name = job.name_any();
    let condition = |kind: &str| {
        job.status
            .as_ref()
            .and_then(|status| status.conditions.as_ref())
            .and_then(|conditions| {
                conditions
                    .iter()
                    .find(|condition| condition.type_ == kind && condition.status == "True")
                    .map(|condition| condition.message.clone().unwrap_or_default())
            })
    };
    if condition("Complete").is_some() {
        return Some((AnalysisPhase::Successful, String::new()));
    }
    condition("Failed").map(|message| {
        (
            AnalysisPhase::Failed,
            format!("Job {name} failed: {message}"),
        )
    })
}

/// When to look at a running Job again: after `sqrt(2 × elapsed)` seconds, at least one.
fn next_look(elapsed: jiff::SignedDuration) -> Duration {
    let elapsed = elapsed.as_secs_f64().max(0.0);
    Duration::from_secs_f64((2.0 * elapsed).sqrt().max(1.0))
}

/// A measurement stopped by a terminated run: Inconclusive, "Metric Terminated", finished.
pub(super) fn terminated(measurement: &Measurement, now: jiff::Timestamp) -> Measurement {
    Measurement {
        phase: AnalysisPhase::Inconclusive,
        message: "Metric Terminated".to_owned(),
        finished_at: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now)),
        resume_at: None,
        ..measurement.clone()
    }
}

/// Creates the measurement's Job (or finds it, after a restart) and returns its name.
async fn create(
    context: &Context<'_>,
    jobs: &Api<Job>,
    metric: &Metric,
    index: usize,
) -> Result<String, String> {
    let spec = metric
        .provider
        .job
        .as_ref()
        .ok_or_else(|| "not a job metric".to_owned())?;
    let run = context.run;
    let name = job_name(&run.name_any(), &metric.name, index);
    let mut metadata = spec.metadata.clone().unwrap_or_default();
    metadata.name = Some(name.clone());
    metadata.namespace = run.namespace();
    metadata.labels.get_or_insert_default().extend([
        (RUN_LABEL.to_owned(), run.name_any()),
        (METRIC_LABEL.to_owned(), label_value(&metric.name)),
    ]);
    // A run in the cluster owns its Jobs (they go with it); `tidegate analysis test`'s run
    // exists only in memory (no uid) and deletes its Jobs itself.
    metadata.owner_references = run.controller_owner_ref(&()).map(|owner| vec![owner]);
    let job = Job {
        metadata,
        spec: Some(spec.spec.clone()),
        status: None,
    };
    match jobs.create(&PostParams::default(), &job).await {
        Ok(_) => Ok(name),
        Err(error) if crate::k8s::already_exists(&error) => {
            // Ours only if this run owns it (a restarted controller finding its Job).
            let existing = jobs.get(&name).await.map_err(|error| {
                format!("read Job {name}: {}", crate::k8s::describe_error(&error))
            })?;
            let ours = existing
                .owner_references()
                .iter()
                .any(|owner| Some(&owner.uid) == run.metadata.uid.as_ref());
            if ours {
                Ok(name)
            } else {
                Err(format!(
                    "Job {name} already exists and does not belong to this run"
                ))
            }
        }
        Err(error) => Err(format!(
            "create Job {name}: {}",
            crate::k8s::describe_error(&error)
        )),
    }
}

/// `<run>-<metric>-<index>`, shortened with a hash to fit a label value (63 characters).
fn job_name(run: &str, metric: &str, index: usize) -> String {
    let name = format!("{run}-{metric}-{index}")
        .to_ascii_lowercase()
        .replace(|c: char| !(c.is_ascii_alphanumeric() || c == '-'), "-");
    if name.len() <= 63 {
        return name;
    }
    let hash = steps_hash(name.as_bytes());
    format!("{}-{hash}", name[..62 - hash.len()].trim_end_matches('-'))
}

fn label_value(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// Why the Job's pod cannot start, if it is stuck pulling its image.
async fn image_trouble(context: &Context<'_>, namespace: &str, job: &str) -> Option<String> {
    let pods: Api<Pod> = Api::namespaced(context.client.clone(), namespace);
    let list = pods
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .ok()?;
    list.items.iter().find_map(|pod| {
        pod.status
            .as_ref()?
            .container_statuses
            .as_ref()?
            .iter()
            .find_map(|status| {
                let waiting = status.state.as_ref()?.waiting.as_ref()?;
                let reason = waiting.reason.as_deref()?;
                matches!(
                    reason,
                    "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName"
                )
                .then(|| format!("container {} is waiting: {reason}", status.name))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_fit_kubernetes() {
        assert_eq!(
            job_name("web-abc-1", "Smoke Test", 0),
            "web-abc-1-smoke-test-0"
        );
        let long = job_name(&"r".repeat(60), "metric", 3);
        assert!(long.len() <= 63, "{long}");
        assert_ne!(long, job_name(&"r".repeat(60), "metric", 4));
        assert_eq!(label_value("Smoke Test!"), "Smoke-Test");
        assert_eq!(JobProvider.name(), "job");
    }

    fn job(conditions: &[(&str, &str, &str)]) -> Job {
        let conditions: Vec<_> = conditions
            .iter()
            .map(|(kind, status, message)| {
                serde_json::json!({"type": kind, "status": status, "message": message})
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "smoke-0"},
            "status": {"conditions": conditions}
        }))
        .unwrap()
    }

    #[test]
    fn a_job_decides_only_once_it_completed_or_failed() {
        assert_eq!(finished(&job(&[])), None);
        assert_eq!(
            finished(&job(&[("Complete", "True", "")])),
            Some((AnalysisPhase::Successful, String::new()))
        );
        assert_eq!(
            finished(&job(&[("Failed", "True", "BackoffLimitExceeded")])),
            Some((
                AnalysisPhase::Failed,
                "Job smoke-0 failed: BackoffLimitExceeded".to_owned()
            ))
        );
        // A condition that is not True decides nothing.
        assert_eq!(finished(&job(&[("Complete", "False", "")])), None);
        assert_eq!(finished(&job(&[("Failed", "False", "x")])), None);
        assert_eq!(finished(&job(&[("Suspended", "True", "")])), None);
    }

    #[test]
    fn a_running_job_is_looked_at_after_the_square_root_of_twice_its_age() {
        assert_eq!(
            next_look(jiff::SignedDuration::from_secs(0)),
            Duration::from_secs(1)
        );
        assert_eq!(
            next_look(jiff::SignedDuration::from_secs(-5)),
            Duration::from_secs(1)
        );
        assert_eq!(
            next_look(jiff::SignedDuration::from_secs(50)),
            Duration::from_secs(10)
        );
        assert_eq!(
            next_look(jiff::SignedDuration::from_secs(200)),
            Duration::from_secs(20)
        );
    }

    #[test]
    fn a_terminated_measurement_is_inconclusive_and_finished() {
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let running = Measurement {
            phase: AnalysisPhase::Running,
            resume_at: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now)),
            metadata: BTreeMap::from([(JOB_NAME.to_owned(), "smoke-0".to_owned())]),
            ..Measurement::default()
        };
        let stopped = terminated(&running, now);
        assert_eq!(stopped.phase, AnalysisPhase::Inconclusive);
        assert_eq!(stopped.message, "Metric Terminated");
        assert_eq!(stopped.finished_at.map(|time| time.0), Some(now));
        assert_eq!(stopped.metadata, running.metadata);
        assert_eq!(
            stopped.resume_at, None,
            "a stopped measurement is not looked at again"
        );
    }

    #[test]
    fn a_name_of_exactly_63_characters_is_kept_and_a_longer_one_hashed_to_63() {
        // "<run>-m-0": the run's length decides the total.
        let fits = job_name(&"r".repeat(59), "m", 0);
        assert_eq!(fits, format!("{}-m-0", "r".repeat(59)));
        assert_eq!(fits.len(), 63);
        let hashed = job_name(&"r".repeat(60), "m", 0);
        assert_eq!(hashed.len(), 63, "{hashed}");
        assert!(hashed.starts_with(&"r".repeat(40)), "{hashed}");
        assert_ne!(hashed, format!("{}-m-0", "r".repeat(60))[..63]);
    }
}
