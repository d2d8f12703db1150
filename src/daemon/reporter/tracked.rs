//! What the reporter knows about one Rollout, and the bookkeeping on it that needs no I/O:
//! starting a revision's record, noting person actions, which events the record lacks.

use std::collections::HashMap;

use kube::ResourceExt;

use crate::forge::{CommitStatus, Pull};
use crate::k8s::crd::Rollout;
use crate::k8s::labels;
use crate::writeback::Outcome;
use crate::writeback::progress::Snapshot;
use crate::writeback::record::{Approver, OutcomeRecord, Revision, RolloutRef, SourceRef};

/// A pull request opened for a Rollout.
#[derive(Clone, Debug)]
pub(super) struct Proposal {
    /// The revision and step it approves.
    pub hash: String,
    pub step: usize,
    /// The pull request, once open.
    pub pull: Option<Pull>,
}

/// What the reporter knows about one Rollout whose record it has read.
pub(super) struct Tracked {
    pub rollout: Rollout,
    pub snapshot: Option<Snapshot>,
    pub record: OutcomeRecord,
    /// The status last accepted by the forge, and one in flight.
    pub status_sent: Option<(String, CommitStatus)>,
    pub status_in_flight: bool,
    pub revert_queued: bool,
    /// The record changed but could not be queued: queued again on the next tick.
    pub record_unqueued: bool,
    pub promotion: Option<Proposal>,
    /// Person actions already recorded (annotation values), by annotation.
    actions_seen: HashMap<&'static str, String>,
}

impl Tracked {
    /// Tracking `rollout` from `record`, its record read from the status branch (default:
    /// none yet). The person actions its annotations show are in that record already.
    pub fn new(rollout: Rollout, record: OutcomeRecord) -> Self {
        let actions_seen = PERSON_ACTIONS
            .iter()
            .filter_map(|(annotation, _)| {
                Some((*annotation, rollout.annotations().get(*annotation)?.clone()))
            })
            .collect();
        Self {
            rollout,
            snapshot: None,
            record,
            status_sent: None,
            status_in_flight: false,
            revert_queued: false,
            record_unqueued: false,
            promotion: None,
            actions_seen,
        }
    }

    /// Starts the record of a new revision from `source` at `commit`; returns the previous
    /// record if that revision was superseded before it ended.
    pub fn begin_revision(
        &mut self,
        source: &str,
        rollout: &Rollout,
        snapshot: &Snapshot,
        commit: String,
        now: &str,
    ) -> Option<OutcomeRecord> {
        let mut superseded = None;
        if !self.record.revision.pod_template_hash.is_empty()
            && !self.record.outcome().is_terminal()
        {
            self.record.outcome = Some(Outcome::Superseded);
            self.record
                .note(now, format!("superseded by revision {}", snapshot.hash));
            superseded = Some(self.record.clone());
        }
        self.record = OutcomeRecord {
            rollout: RolloutRef {
                namespace: rollout.namespace().unwrap_or_default(),
                name: rollout.name_any(),
            },
            source: SourceRef {
                name: source.to_owned(),
                commit,
            },
            revision: Revision {
                pod_template_hash: snapshot.hash.clone(),
                images: snapshot.images.clone(),
            },
            steps: snapshot.steps,
            ..OutcomeRecord::default()
        };
        self.revert_queued = false;
        self.promotion = None;
        superseded
    }

    /// Of `events`, those the record lacks: on the first snapshot after reading a record
    /// back from the status branch, what its timeline holds already happened.
    pub fn fresh_events(&self, first_snapshot: bool, events: Vec<String>) -> Vec<String> {
        events
            .into_iter()
            .filter(|event| {
                !(first_snapshot
                    && self
                        .record
                        .timeline
                        .iter()
                        .any(|entry| &entry.event == event))
            })
            .collect()
    }

    /// Records each new person action (`tidegate promote --direct`, `tidegate abort`) that
    /// `rollout`'s annotations show, once.
    pub fn note_person_actions(&mut self, rollout: &Rollout, now: &str) {
        for (annotation, text) in PERSON_ACTIONS {
            let Some(value) = rollout.annotations().get(annotation) else {
                continue;
            };
            if self.actions_seen.get(annotation) == Some(value) {
                continue;
            }
            self.actions_seen.insert(annotation, value.clone());
            let by = value
                .split_whitespace()
                .next()
                .unwrap_or("unknown")
                .to_owned();
            self.record.approvals.push(Approver {
                by: by.clone(),
                via: if annotation == labels::ABORTED_BY {
                    "rejected (tidegate abort)".to_owned()
                } else {
                    "direct".to_owned()
                },
                reference: String::new(),
            });
            self.record.note(now, text.replace("{}", &by));
        }
    }
}

/// The annotations the CLI leaves for actions that bypass Git, and how the record says so.
const PERSON_ACTIONS: [(&str, &str); 2] = [
    (
        labels::DIRECT_PROMOTION,
        "promoted directly by {} (break-glass, not through Git)",
    ),
    (labels::ABORTED_BY, "aborted by {} (tidegate abort)"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(annotations: &str) -> Rollout {
        serde_json::from_str(&format!(
            r#"{{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                "metadata": {{"name": "web", "namespace": "shop", "annotations": {{{annotations}}}}},
                "spec": {{"selector": {{"matchLabels": {{"app": "web"}}}},
                         "template": {{"metadata": {{"labels": {{"app": "web"}}}},
                                      "spec": {{"containers": [{{"name": "web", "image": "web:2"}}]}}}},
                         "strategy": {{"canary": {{"steps": [{{"pause": {{}}}}]}}}}}}}}"#
        ))
        .expect("a valid Rollout")
    }

    fn snapshot(hash: &str) -> Snapshot {
        Snapshot {
            hash: hash.to_owned(),
            stable: String::new(),
            images: vec!["web:2".to_owned()],
            step: 0,
            steps: 1,
            weight: 0,
            phase: None,
            aborted: false,
            message: String::new(),
            awaiting_approval: false,
            analysis: None,
            analysis_failed: false,
        }
    }

    fn aborted_by(who: &str) -> String {
        format!(r#""{}": "{who} at noon""#, labels::ABORTED_BY)
    }

    #[test]
    fn a_revision_replacing_one_still_under_way_supersedes_its_record() {
        let web = rollout("");
        let mut tracked = Tracked::new(web.clone(), OutcomeRecord::default());
        assert_eq!(
            tracked.begin_revision("apps", &web, &snapshot("one"), "c1".to_owned(), "t1"),
            None,
            "the first revision supersedes nothing"
        );
        tracked.revert_queued = true;
        let superseded = tracked
            .begin_revision("apps", &web, &snapshot("two"), "c2".to_owned(), "t2")
            .expect("the unfinished revision is superseded");
        assert_eq!(superseded.outcome, Some(Outcome::Superseded));
        assert_eq!(superseded.revision.pod_template_hash, "one");
        assert!(
            superseded.timeline[0]
                .event
                .contains("superseded by revision two")
        );
        assert_eq!(tracked.record.revision.pod_template_hash, "two");
        assert_eq!(tracked.record.source.commit, "c2");
        assert_eq!(tracked.record.source.name, "apps");
        assert!(
            !tracked.revert_queued,
            "a new revision has no revert queued"
        );
    }

    #[test]
    fn a_finished_revision_is_not_superseded() {
        let web = rollout("");
        let mut tracked = Tracked::new(web.clone(), OutcomeRecord::default());
        tracked.begin_revision("apps", &web, &snapshot("one"), "c1".to_owned(), "t1");
        tracked.record.outcome = Some(Outcome::Aborted);
        assert_eq!(
            tracked.begin_revision("apps", &web, &snapshot("two"), "c2".to_owned(), "t2"),
            None
        );
    }

    #[test]
    fn events_a_record_read_back_holds_are_not_noted_twice() {
        let mut record = OutcomeRecord::default();
        record.note("t1", "paused at step 1");
        let tracked = Tracked::new(rollout(""), record);
        let events = vec!["paused at step 1".to_owned(), "promoted".to_owned()];
        assert_eq!(tracked.fresh_events(true, events.clone()), ["promoted"]);
        assert_eq!(
            tracked.fresh_events(false, events.clone()),
            events,
            "after the first snapshot every event is new"
        );
    }

    #[test]
    fn a_person_action_is_recorded_once_and_not_again_after_a_read_back() {
        let mut tracked = Tracked::new(rollout(""), OutcomeRecord::default());
        let aborted = rollout(&aborted_by("alice"));
        tracked.note_person_actions(&aborted, "t1");
        tracked.note_person_actions(&aborted, "t2");
        assert_eq!(tracked.record.approvals.len(), 1);
        assert_eq!(tracked.record.approvals[0].by, "alice");
        assert_eq!(tracked.record.approvals[0].via, "rejected (tidegate abort)");
        assert_eq!(tracked.record.timeline.len(), 1);
        tracked.note_person_actions(&rollout(&aborted_by("bob")), "t3");
        assert_eq!(
            tracked.record.approvals.len(),
            2,
            "a new action is recorded"
        );

        let mut read_back = Tracked::new(aborted.clone(), OutcomeRecord::default());
        read_back.note_person_actions(&aborted, "t4");
        assert!(
            read_back.record.approvals.is_empty(),
            "what the Rollout showed when tracking began is in the record read back"
        );
    }
}
