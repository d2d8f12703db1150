//! What a Rollout keeps of earlier revisions: scaled-down ReplicaSets within
//! `revisionHistoryLimit`, and finished AnalysisRuns and Experiments within
//! `successfulRunHistoryLimit` / `unsuccessfulRunHistoryLimit` (Argo's
//! `FilterAnalysisRunsToDelete` and `FilterExperimentsToDelete`). A finished run or
//! Experiment goes with its revision's ReplicaSet. Nothing of the current revision is a
//! candidate: its verdicts may still be read.

use jiff::Timestamp;

use super::effect::Effect;
use super::pass::Pass;
use crate::model::AnalysisPhase;

/// A finished AnalysisRun or Experiment of an earlier revision.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Finished<'a> {
    name: &'a str,
    created: Option<Timestamp>,
    successful: bool,
    /// Its revision's ReplicaSet no longer exists.
    orphaned: bool,
}

/// The names of `finished` to delete: the orphaned, then — newest first — the successful
/// beyond `successful_limit` and the unsuccessful beyond `unsuccessful_limit`.
fn beyond_limits(
    mut finished: Vec<Finished<'_>>,
    successful_limit: i32,
    unsuccessful_limit: i32,
) -> Vec<String> {
    finished.sort_by_key(|item| std::cmp::Reverse(item.created));
    let (orphaned, kept): (Vec<_>, Vec<_>) = finished.into_iter().partition(|item| item.orphaned);
    let (successful, unsuccessful): (Vec<_>, Vec<_>) =
        kept.into_iter().partition(|item| item.successful);
    let over = |items: Vec<Finished<'_>>, limit: i32| -> Vec<String> {
        let keep = usize::try_from(limit).unwrap_or(0);
        items
            .into_iter()
            .skip(keep)
            .map(|item| item.name.to_owned())
            .collect()
    };
    orphaned
        .into_iter()
        .map(|item| item.name.to_owned())
        .chain(over(successful, successful_limit))
        .chain(over(unsuccessful, unsuccessful_limit))
        .collect()
}

impl Pass<'_> {
    /// Deletes the oldest scaled-down ReplicaSets beyond `revisionHistoryLimit`; the current
    /// and stable revisions are never candidates.
    pub(super) fn trim_history(&mut self) {
        let mut idle: Vec<_> = self
            .other_replica_sets()
            .into_iter()
            .filter(|rs| rs.spec == 0 && rs.replicas == 0)
            .collect();
        let limit = usize::try_from(self.plan.revision_history_limit).unwrap_or(0);
        idle.sort_by_key(|rs| rs.revision);
        let excess = idle.len().saturating_sub(limit);
        for rs in idle.into_iter().take(excess) {
            self.effects.push(Effect::DeleteReplicaSet {
                name: rs.name.clone(),
            });
        }
    }

    /// Deletes finished AnalysisRuns and Experiments of earlier revisions beyond the run
    /// history limits, or whose revision is gone.
    pub(super) fn trim_run_history(&mut self) {
        let runs = self.observed.analysis_runs.iter().filter_map(|run| {
            self.finished(
                &run.name,
                &run.hash,
                run.created,
                Some(run.phase).filter(|phase| phase.is_completed()),
            )
        });
        for name in self.beyond_limits(runs.collect()) {
            self.effects.push(Effect::DeleteAnalysisRun { name });
        }
        let experiments = self.observed.experiments.iter().filter_map(|experiment| {
            self.finished(
                &experiment.name,
                &experiment.hash,
                experiment.created,
                experiment.phase.filter(|phase| phase.is_completed()),
            )
        });
        for name in self.beyond_limits(experiments.collect()) {
            self.effects.push(Effect::DeleteExperiment { name });
        }
    }

    fn beyond_limits(&self, finished: Vec<Finished<'_>>) -> Vec<String> {
        beyond_limits(
            finished,
            self.plan.successful_run_history_limit,
            self.plan.unsuccessful_run_history_limit,
        )
    }

    /// A candidate for deletion: a run or Experiment that ended (`completed` is its phase
    /// then) and belongs to a known revision other than the current one.
    fn finished<'n>(
        &self,
        name: &'n str,
        hash: &str,
        created: Option<Timestamp>,
        completed: Option<AnalysisPhase>,
    ) -> Option<Finished<'n>> {
        let phase = completed?;
        if hash.is_empty() || hash == self.observed.pod_hash {
            return None;
        }
        Some(Finished {
            name,
            created,
            successful: phase == AnalysisPhase::Successful,
            orphaned: !self.observed.replica_sets.iter().any(|rs| rs.hash == hash),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).expect("a time")
    }

    fn item(name: &str, second: i64, successful: bool, orphaned: bool) -> Finished<'_> {
        Finished {
            name,
            created: Some(at(second)),
            successful,
            orphaned,
        }
    }

    #[test]
    fn the_newest_of_each_kind_are_kept_within_their_limits() {
        let finished = vec![
            item("s1", 1, true, false),
            item("u1", 2, false, false),
            item("s3", 3, true, false),
            item("s2", 2, true, false),
            item("u2", 4, false, false),
        ];
        assert_eq!(beyond_limits(finished.clone(), 2, 1), ["s1", "u1"]);
        assert_eq!(
            beyond_limits(finished.clone(), 0, 0),
            ["s3", "s2", "s1", "u2", "u1"]
        );
        assert!(beyond_limits(finished.clone(), 3, 2).is_empty());
        assert_eq!(
            beyond_limits(finished, -1, 5),
            ["s3", "s2", "s1"],
            "negative keeps none"
        );
    }

    #[test]
    fn an_orphan_goes_whatever_the_limits() {
        let finished = vec![item("kept", 1, true, false), item("orphan", 2, false, true)];
        assert_eq!(beyond_limits(finished, 5, 5), ["orphan"]);
    }
}
