//! Approval pauses of one Rollout: release the pause when Git holds an approval for exactly
//! this revision and step, propose one as a promotion pull request (once per pause), abort
//! when that pull request is closed unmerged. Each decision is checked again against the
//! Rollout as written when it is acted on.

use std::time::Duration;

use kube::{Resource, ResourceExt};

use super::reads;
use super::rollout::RolloutReporter;
use super::tracked::Proposal;
use crate::engine;
use crate::forge::{Pull, PullState};
use crate::k8s::events::Note;
use crate::k8s::{self, labels};
use crate::writeback::approval::Approval;
use crate::writeback::messages;
use crate::writeback::progress::{self, Snapshot};
use crate::writeback::record::Approver;
use crate::writeback::{Job, PromotionJob};

/// The longest a release waits on the forge for the name of the pull request's merger.
const PATIENCE: Duration = Duration::from_secs(10);

impl RolloutReporter {
    /// At an approval pause: release it when Git holds an approval for this revision and
    /// step; otherwise propose one as a pull request (once) when a forge is configured.
    pub(super) async fn approval(&mut self, snapshot: &Snapshot) {
        let Some(tracked) = &self.tracked else {
            return;
        };
        let outlet = self.outlet();
        let namespace = tracked.rollout.namespace().unwrap_or_default();
        let name = tracked.rollout.name_any();
        let synced = tracked
            .rollout
            .annotations()
            .get(labels::COMMIT)
            .cloned()
            .unwrap_or_default();
        if let Some(approval) = reads::approval(outlet, &synced, &namespace, &name).await
            && approval.approves(&namespace, &name, &snapshot.hash, snapshot.step)
        {
            self.release(snapshot, &approval, &synced).await;
            return;
        }
        let wants_pull = outlet
            .config
            .forge
            .as_ref()
            .is_some_and(|forge| forge.promotion_pull_requests);
        let proposed = tracked.promotion.as_ref().is_some_and(|proposal| {
            proposal.hash == snapshot.hash && proposal.step == snapshot.step
        });
        if !wants_pull || proposed {
            return;
        }
        let branch = format!(
            "tidegate/promote/{namespace}-{name}-{}-{}",
            snapshot.hash, snapshot.step
        );
        let record = Approval::path(&namespace, &name);
        let (title, body) = messages::promotion_pull(&messages::Pause {
            namespace: &namespace,
            name: &name,
            revision: &snapshot.hash,
            images: &snapshot.images,
            step: snapshot.step,
            steps: snapshot.steps,
            record: &record,
        });
        let job = Job::Promotion(PromotionJob {
            rollout: self.key.clone(),
            branch,
            base: outlet.config.reference.clone(),
            approval: Approval {
                namespace,
                rollout: name,
                revision: snapshot.hash.clone(),
                step: Some(snapshot.step),
                approved_by: String::new(),
                reason: String::new(),
            },
            title,
            body,
        });
        if !self.queue(&job) {
            return;
        }
        self.tracked.as_mut().expect("tracked").promotion = Some(Proposal {
            hash: snapshot.hash.clone(),
            step: snapshot.step,
            pull: None,
        });
    }

    /// Promotes past the pause `approval` releases, and records who approved.
    async fn release(&mut self, snapshot: &Snapshot, approval: &Approval, synced: &str) {
        let Some(tracked) = &self.tracked else {
            return;
        };
        let namespace = tracked.rollout.namespace().unwrap_or_default();
        let name = tracked.rollout.name_any();
        let (hash, step) = (snapshot.hash.clone(), snapshot.step);
        let promoted = k8s::act(
            &self.context.client,
            &namespace,
            &name,
            move |rollout, state| {
                still_waiting_at(rollout, &hash, step)?;
                let plan = rollout
                    .spec
                    .plan()
                    .map_err(|errors| format!("its spec is invalid: {errors}"))?;
                Ok(engine::promote(&plan, state))
            },
        )
        .await;
        if let Err(error) = promoted {
            tracing::warn!(rollout = %self.key, error = %k8s::describe_error(&error), "cannot release the approved pause");
            return;
        }
        let forge = self.outlet().forge.clone();
        let pull = tracked
            .promotion
            .as_ref()
            .and_then(|proposal| proposal.pull.clone());
        let merged_by = match (&forge, &pull) {
            (Some(forge), Some(pull)) => tokio::time::timeout(PATIENCE, forge.pull(pull.number))
                .await
                .ok()
                .and_then(Result::ok)
                .and_then(|pull| pull.merged_by),
            _ => None,
        };
        let (by, via, reference) = match (merged_by, pull.clone()) {
            (Some(by), Some(pull)) => (by, "pull-request", pull.url),
            _ if !approval.approved_by.is_empty() => {
                (approval.approved_by.clone(), "commit", synced.to_owned())
            }
            _ => ("unknown".to_owned(), "commit", synced.to_owned()),
        };
        tracing::info!(rollout = %self.key, approver = %by, via, "approved pause released");
        let tracked = self.tracked.as_mut().expect("tracked");
        tracked.record.approvals.push(Approver {
            by: by.clone(),
            via: via.to_owned(),
            reference,
        });
        tracked.record.note(
            &jiff::Timestamp::now().to_string(),
            format!("approved by {by} ({via})"),
        );
        if let (Some(forge), Some(pull)) = (forge, pull) {
            let note = messages::released(&self.key, step, &by);
            tokio::spawn(async move {
                if let Err(error) = forge.comment(pull.number, &note).await {
                    tracing::debug!(pull = pull.number, %error, "cannot comment on the promotion pull request");
                }
            });
        }
        let message = format!(
            "pause at step {} released: approved by {by} ({via})",
            step + 1
        );
        let event = Note {
            warning: false,
            reason: "RolloutApproved",
            message: &message,
            action: "Promote",
        };
        let reference = tracked.rollout.object_ref(&());
        if let Err(error) = self.context.recorder.publish(&reference, &event).await {
            tracing::warn!(rollout = %self.key, %error, "cannot record the approval Event");
        }
    }

    /// A promotion pull request's state: closed unmerged means rejected, so abort.
    pub(super) async fn polled(&mut self, pull: Pull) {
        let Some(tracked) = self.tracked.as_mut() else {
            return;
        };
        let Some(proposal) = tracked.promotion.as_mut().filter(|proposal| {
            proposal
                .pull
                .as_ref()
                .is_some_and(|open| open.number == pull.number)
        }) else {
            return;
        };
        proposal.pull = Some(pull.clone());
        if pull.state != PullState::Closed
            || !tracked.snapshot.as_ref().is_some_and(|snapshot| {
                snapshot.awaiting_approval
                    && snapshot.hash == proposal.hash
                    && snapshot.step == proposal.step
            })
        {
            return;
        }
        let namespace = tracked.rollout.namespace().unwrap_or_default();
        let name = tracked.rollout.name_any();
        let (hash, step) = (proposal.hash.clone(), proposal.step);
        // The same checks against the Rollout as written now: a pause released meanwhile (by
        // `tidegate promote`, say) is not aborted by a pull request closed as redundant.
        let aborted = k8s::act(
            &self.context.client,
            &namespace,
            &name,
            move |rollout, state| {
                still_waiting_at(rollout, &hash, step)?;
                Ok(engine::abort(state))
            },
        )
        .await;
        if let Err(error) = aborted {
            tracing::warn!(rollout = %self.key, error = %k8s::describe_error(&error), "cannot abort after a rejected promotion");
            return;
        }
        tracing::info!(
            rollout = %self.key,
            pull = pull.number,
            "promotion pull request closed unmerged: aborted"
        );
        let tracked = self.tracked.as_mut().expect("tracked");
        tracked.record.approvals.push(Approver {
            by: "rejected".to_owned(),
            via: "pull-request".to_owned(),
            reference: pull.url.clone(),
        });
        tracked.record.note(
            &jiff::Timestamp::now().to_string(),
            format!(
                "rejected: promotion pull request #{} closed without merging",
                pull.number
            ),
        );
        tracked.promotion = None;
    }
}

/// `Ok` while `rollout`, as written now, still waits for approval at revision `hash`, step
/// `step`: an approval or a rejection decided on an older read acts only then.
fn still_waiting_at(
    rollout: &crate::k8s::crd::Rollout,
    hash: &str,
    step: usize,
) -> Result<(), String> {
    let now = progress::snapshot(rollout).ok_or("not observed yet")?;
    if !now.awaiting_approval || now.hash != hash || now.step != step {
        return Err("no longer waiting at this pause".to_owned());
    }
    Ok(())
}
