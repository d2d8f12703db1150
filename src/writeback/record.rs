//! The outcome record of a Rollout revision, as committed to the status branch: one YAML file
//! per Rollout (`rollouts/<namespace>/<name>.yaml`), rewritten as the revision progresses; Git
//! history keeps the earlier revisions.
//!
//! In: what the reporter saw. Out: the file's content and the commit message that says what
//! happened ("checkout: promoted a1b2c3d to 100% after 5 steps"). Pure.

use serde::{Deserialize, Serialize};

use super::revert::short;

/// How a revision ended, or that it has not yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Still on its way.
    Progressing,
    /// Fully promoted.
    Promoted,
    /// Aborted (analysis failed, a person aborted, a rejection).
    Aborted,
    /// A newer revision replaced it before it finished.
    Superseded,
}

impl Outcome {
    /// Whether the revision is finished.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        self != Self::Progressing
    }
}

/// The Rollout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// Where the revision came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// The source's name.
    pub name: String,
    /// The commit applied.
    pub commit: String,
}

/// The revision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// Its pod-template hash.
    pub pod_template_hash: String,
    /// Its container images.
    pub images: Vec<String>,
}

/// One moment of the revision's progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// When (RFC 3339).
    pub at: String,
    /// What happened.
    pub event: String,
}

/// One metric of an analysis run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricVerdict {
    /// The metric.
    pub name: String,
    /// Its phase (Successful, Failed, Inconclusive, Error, Running).
    pub phase: String,
    /// The last measured values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Why, when it did not succeed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// One analysis run of the revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisVerdict {
    /// The AnalysisRun.
    pub run: String,
    /// The canary step that started it, counted from 1 (none: background or blue-green).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// Its phase.
    pub phase: String,
    /// Each metric.
    pub metrics: Vec<MetricVerdict>,
}

/// Who approved a pause, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approver {
    /// The person: the pull request's merger, or the approval record's `approvedBy`.
    pub by: String,
    /// `commit`, `pull-request` or `direct` (break-glass, not through Git).
    pub via: String,
    /// Where: a commit id or a pull request's address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
}

/// The record of one revision of one Rollout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeRecord {
    /// The Rollout.
    pub rollout: RolloutRef,
    /// Where the revision came from.
    pub source: SourceRef,
    /// The revision.
    pub revision: Revision,
    /// How it ended (or `progressing`).
    pub outcome: Option<Outcome>,
    /// The Rollout's message at the end (why it aborted).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Canary steps in the plan (0 for blue-green).
    pub steps: usize,
    /// Steps completed.
    pub steps_completed: usize,
    /// What happened, in order.
    pub timeline: Vec<Entry>,
    /// Analysis runs and their verdicts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analysis: Vec<AnalysisVerdict>,
    /// Who released pauses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approver>,
    /// The revert commit written after an abort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_by: Option<String>,
    /// Why the revert asked for could not be written (it does not apply cleanly, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_error: Option<String>,
}

impl OutcomeRecord {
    /// The file on the status branch.
    #[must_use]
    pub fn path(&self) -> String {
        format!(
            "rollouts/{}/{}.yaml",
            self.rollout.namespace, self.rollout.name
        )
    }

    /// Adds `event` at `at` (RFC 3339) to the timeline.
    pub fn note(&mut self, at: &str, event: impl Into<String>) {
        self.timeline.push(Entry {
            at: at.to_owned(),
            event: event.into(),
        });
    }

    /// The outcome, `progressing` when unset.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        self.outcome.unwrap_or(Outcome::Progressing)
    }

    /// The file's content.
    #[must_use]
    pub fn to_yaml(&self) -> String {
        let mut text =
            String::from("# Written by tidegate: the outcome of this Rollout's latest revision.\n");
        text.push_str(&serde_saphyr::to_string(self).expect("records serialize"));
        text
    }

    /// A record read back from the status branch (`None` if it is not one).
    #[must_use]
    pub fn from_yaml(text: &str) -> Option<Self> {
        serde_saphyr::from_str(text).ok()
    }

    /// The commit message saying what happened.
    #[must_use]
    pub fn commit_message(&self) -> String {
        let name = &self.rollout.name;
        let commit = short(&self.source.commit);
        let subject = match self.outcome() {
            Outcome::Promoted if self.steps > 0 => format!(
                "{name}: promoted {commit} to 100% after {} steps",
                self.steps
            ),
            Outcome::Promoted => format!("{name}: promoted {commit}"),
            Outcome::Aborted => format!(
                "{name}: aborted {commit}{}{}",
                self.reverted_by
                    .as_deref()
                    .map(|revert| format!(", reverted in {}", short(revert)))
                    .unwrap_or_default(),
                if self.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", crate::escape::one_line(&self.message, 400))
                }
            ),
            Outcome::Superseded => format!("{name}: {commit} superseded by a newer revision"),
            Outcome::Progressing => format!(
                "{name}: {commit} {}",
                crate::escape::one_line(
                    self.timeline
                        .last()
                        .map_or("progressing", |entry| entry.event.as_str()),
                    400
                )
            ),
        };
        format!(
            "{subject}\n\nRollout {}/{name}, revision {} ({}), source {} at {}.\n",
            self.rollout.namespace,
            self.revision.pod_template_hash,
            crate::escape::one_line(&self.revision.images.join(", "), 400),
            self.source.name,
            self.source.commit,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: Outcome) -> OutcomeRecord {
        OutcomeRecord {
            rollout: RolloutRef {
                namespace: "shop".into(),
                name: "checkout".into(),
            },
            source: SourceRef {
                name: "apps".into(),
                commit: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678".into(),
            },
            revision: Revision {
                pod_template_hash: "6d4f8b9c7".into(),
                images: vec!["shop/checkout:1.2.0".into()],
            },
            outcome: Some(outcome),
            message: "RolloutAborted: metric \"error-rate\" assessed Failed".into(),
            steps: 5,
            steps_completed: 5,
            timeline: vec![Entry {
                at: "2026-11-26T10:00:00Z".into(),
                event: "step 1/5: setWeight: 20".into(),
            }],
            analysis: vec![AnalysisVerdict {
                run: "checkout-6d4f8b9c7-2".into(),
                step: Some(2),
                phase: "Successful".into(),
                metrics: vec![MetricVerdict {
                    name: "error-rate".into(),
                    phase: "Successful".into(),
                    values: vec!["0.01".into()],
                    message: String::new(),
                }],
            }],
            approvals: vec![Approver {
                by: "alice".into(),
                via: "pull-request".into(),
                reference: "http://gitea/shop/pulls/3".into(),
            }],
            reverted_by: None,
            revert_error: None,
        }
    }

    #[test]
    fn hostile_messages_add_no_line_to_a_commit() {
        for hostile in crate::escape::tests::HOSTILE {
            let mut aborted = record(Outcome::Aborted);
            aborted.message = (*hostile).to_owned();
            aborted.revision.images = vec![(*hostile).to_owned()];
            let mut progressing = record(Outcome::Progressing);
            progressing.note("2027-01-01T00:00:00Z", *hostile);
            for message in [aborted.commit_message(), progressing.commit_message()] {
                assert_eq!(message.lines().count(), 3, "{hostile:?}:\n{message}");
                assert_eq!(
                    crate::writeback::revert::reverted_by_trailer(&message),
                    None
                );
            }
        }
    }

    #[test]
    fn messages_say_what_happened() {
        assert_eq!(
            record(Outcome::Promoted).commit_message().lines().next(),
            Some("checkout: promoted a1b2c3d to 100% after 5 steps")
        );
        assert_eq!(
            record(Outcome::Aborted).commit_message().lines().next(),
            Some(
                "checkout: aborted a1b2c3d: RolloutAborted: metric \"error-rate\" assessed Failed"
            )
        );
        assert_eq!(
            record(Outcome::Progressing).commit_message().lines().next(),
            Some("checkout: a1b2c3d step 1/5: setWeight: 20")
        );
    }

    #[test]
    fn records_read_back_what_was_written() {
        let record = record(Outcome::Promoted);
        let text = record.to_yaml();
        assert!(text.contains("outcome: promoted"), "{text}");
        assert!(text.contains("podTemplateHash: 6d4f8b9c7"), "{text}");
        assert_eq!(OutcomeRecord::from_yaml(&text), Some(record));
        assert_eq!(OutcomeRecord::from_yaml("- not a record"), None);
    }
}
