//! Prometheus metrics of the daemon, served on `/metrics` in the text exposition format:
//! tidegate's own families (prefixed `tidegate_`) and Argo Rollouts' ([`argo`]).
//!
//! Label sets are bounded: per source (from the configuration), per result, per Rollout
//! and AnalysisRun in the cluster — never per revision or pod.

pub mod argo;
pub mod objects;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

/// Labels of per-source metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// The source's name.
    pub source: String,
}

/// Labels of the daemon's mutating Kubernetes requests: `sent`, or `refused` by the
/// leader-election fence.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    /// `sent` or `refused`.
    pub result: &'static str,
}

/// Labels of reconciles: which controller, and whether it succeeded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// `rollout` or `analysisrun`.
    pub controller: &'static str,
    /// `ok` or `error`.
    pub result: &'static str,
}

/// Labels of one Rollout.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RolloutLabels {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub rollout: String,
}

/// Labels of one Rollout's phase.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RolloutPhaseLabels {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub rollout: String,
    /// `Healthy`, `Progressing`, `Paused` or `Degraded`.
    pub phase: &'static str,
}

/// Labels of sync outcomes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SyncLabels {
    /// The source's name.
    pub source: String,
    /// applied, invalid, rejected, failed, fetch-failed.
    pub result: String,
}

/// Labels of webhook requests.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// accepted, unauthorized, invalid, disabled.
    pub result: String,
}

/// Labels of analysis runs.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnalysisLabels {
    /// Successful, Failed, Error, Inconclusive.
    pub phase: String,
}

/// Labels of measurements.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MeasurementLabels {
    /// prometheus, web, job.
    pub provider: String,
}

type SecondsHistogram = Family<SourceLabels, Histogram, fn() -> Histogram>;

fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Every metric family of the daemon.
pub struct Metrics {
    registry: Registry,
    /// Sync attempts by source and result.
    pub syncs: Family<SyncLabels, Counter>,
    /// Whether each source's latest sync attempt succeeded (1) or not (0).
    pub sync_ok: Family<SourceLabels, Gauge>,
    /// When each source was last applied completely (Unix seconds).
    pub last_applied: Family<SourceLabels, Gauge>,
    /// How long a sync (render, dry run, apply, prune) took.
    pub sync_duration: SecondsHistogram,
    /// How long fetching a source took.
    pub fetch_duration: SecondsHistogram,
    /// Failed fetches by source.
    pub fetch_errors: Family<SourceLabels, Counter>,
    /// Objects that differ from Git, by source, at the latest drift check.
    pub drifted_objects: Family<SourceLabels, Gauge>,
    /// Objects deleted because they left Git.
    pub pruned_objects: Family<SourceLabels, Counter>,
    /// Objects re-applied by self-heal.
    pub healed_objects: Family<SourceLabels, Counter>,
    /// Webhook requests by result.
    pub webhooks: Family<WebhookLabels, Counter>,
    /// Completed analysis runs by phase.
    pub analysis_runs: Family<AnalysisLabels, Counter>,
    /// How long measurements take, by provider.
    pub measurement_duration: Family<MeasurementLabels, Histogram, fn() -> Histogram>,
    /// Write-back jobs waiting to be pushed, by source.
    pub writeback_queue: Family<SourceLabels, Gauge>,
    /// Write-back attempts that failed (retried or dropped), by source.
    pub writeback_errors: Family<SourceLabels, Counter>,
    /// Reconciles by controller and result.
    pub reconciles: Family<ReconcileLabels, Counter>,
    /// How long reconciles take, by controller and result.
    pub reconcile_duration: Family<ReconcileLabels, Histogram, fn() -> Histogram>,
    /// 1 for each Rollout's current phase (`count by (phase)` gives Rollouts by phase).
    pub rollout_phase: Family<RolloutPhaseLabels, Gauge>,
    /// Each Rollout's current canary step index.
    pub rollout_step: Family<RolloutLabels, Gauge>,
    /// Each Rollout's canary weight.
    pub rollout_weight: Family<RolloutLabels, Gauge>,
    /// 1 while this replica is the leader.
    pub leader: Gauge,
    /// Mutating Kubernetes requests, sent or refused by the leader fence.
    pub kube_writes: Family<WriteLabels, Counter>,
    /// Argo Rollouts' families.
    pub argo: argo::ArgoMetrics,
}

impl Default for Metrics {
    // One registration per family, in one list: splitting it would only scatter the list.
    #[allow(clippy::too_many_lines)]
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tidegate");
        let syncs = registered(
            &mut registry,
            "syncs",
            "Sync attempts by source and result",
            Family::<SyncLabels, Counter>::default(),
        );
        let sync_ok = registered(
            &mut registry,
            "source_sync_ok",
            "1 when the source's latest sync attempt succeeded",
            Family::<SourceLabels, Gauge>::default(),
        );
        let last_applied = registered(
            &mut registry,
            "source_last_applied_timestamp_seconds",
            "When the source was last applied completely",
            Family::<SourceLabels, Gauge>::default(),
        );
        let sync_duration: SecondsHistogram = Family::new_with_constructor(seconds_histogram);
        let sync_duration = registered(
            &mut registry,
            "sync_duration_seconds",
            "Duration of a sync: render, dry run, apply and prune",
            sync_duration,
        );
        let fetch_duration: SecondsHistogram = Family::new_with_constructor(seconds_histogram);
        let fetch_duration = registered(
            &mut registry,
            "git_fetch_duration_seconds",
            "Duration of a Git fetch",
            fetch_duration,
        );
        let fetch_errors = registered(
            &mut registry,
            "git_fetch_errors",
            "Failed Git fetches",
            Family::<SourceLabels, Counter>::default(),
        );
        let drifted_objects = registered(
            &mut registry,
            "drifted_objects",
            "Objects that differ from Git at the latest drift check",
            Family::<SourceLabels, Gauge>::default(),
        );
        let pruned_objects = registered(
            &mut registry,
            "pruned_objects",
            "Objects deleted because they left Git",
            Family::<SourceLabels, Counter>::default(),
        );
        let healed_objects = registered(
            &mut registry,
            "healed_objects",
            "Objects re-applied by self-heal",
            Family::<SourceLabels, Counter>::default(),
        );
        let webhooks = registered(
            &mut registry,
            "webhook_requests",
            "Webhook requests by result",
            Family::<WebhookLabels, Counter>::default(),
        );
        let analysis_runs = registered(
            &mut registry,
            "analysis_runs",
            "Completed analysis runs by phase",
            Family::<AnalysisLabels, Counter>::default(),
        );
        let measurement_duration: Family<MeasurementLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(seconds_histogram);
        let measurement_duration = registered(
            &mut registry,
            "analysis_measurement_duration_seconds",
            "Duration of analysis measurements by provider",
            measurement_duration,
        );
        let writeback_queue = registered(
            &mut registry,
            "writeback_queue_length",
            "Write-back jobs waiting to be pushed",
            Family::<SourceLabels, Gauge>::default(),
        );
        let writeback_errors = registered(
            &mut registry,
            "writeback_errors",
            "Failed write-back attempts (retried, or dropped when they cannot succeed)",
            Family::<SourceLabels, Counter>::default(),
        );
        let reconciles = registered(
            &mut registry,
            "reconciles",
            "Reconciles by controller and result",
            Family::<ReconcileLabels, Counter>::default(),
        );
        let reconcile_duration: Family<ReconcileLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(seconds_histogram);
        let reconcile_duration = registered(
            &mut registry,
            "reconcile_duration_seconds",
            "Duration of reconciles by controller and result",
            reconcile_duration,
        );
        let rollout_phase = registered(
            &mut registry,
            "rollout_phase",
            "1 for each Rollout's current phase",
            Family::<RolloutPhaseLabels, Gauge>::default(),
        );
        let rollout_step = registered(
            &mut registry,
            "rollout_step",
            "Each Rollout's current canary step index",
            Family::<RolloutLabels, Gauge>::default(),
        );
        let rollout_weight = registered(
            &mut registry,
            "rollout_canary_weight",
            "Each Rollout's canary weight (percent)",
            Family::<RolloutLabels, Gauge>::default(),
        );
        let leader = registered(
            &mut registry,
            "leader",
            "1 while this replica is the leader (writes to the cluster, Git and forges)",
            Gauge::default(),
        );
        let kube_writes = registered(
            &mut registry,
            "kube_write_requests",
            "Mutating Kubernetes requests: sent, or refused because this replica does not lead",
            Family::<WriteLabels, Counter>::default(),
        );
        Self {
            registry,
            syncs,
            sync_ok,
            last_applied,
            sync_duration,
            fetch_duration,
            fetch_errors,
            drifted_objects,
            pruned_objects,
            healed_objects,
            webhooks,
            analysis_runs,
            measurement_duration,
            writeback_queue,
            writeback_errors,
            reconciles,
            reconcile_duration,
            rollout_phase,
            rollout_step,
            rollout_weight,
            leader,
            kube_writes,
            argo: argo::ArgoMetrics::default(),
        }
    }
}

/// `metric`, registered as `name` with `help`.
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl Metrics {
    /// The labels of `source`.
    #[must_use]
    pub fn source(source: &str) -> SourceLabels {
        SourceLabels {
            source: source.to_owned(),
        }
    }

    /// Records a Rollout's phase, step and weight.
    pub fn observe_rollout(
        &self,
        namespace: &str,
        rollout: &str,
        state: &crate::model::RolloutState,
    ) {
        use crate::model::Phase;
        self.argo.track(namespace, rollout);
        let labels = RolloutLabels {
            namespace: namespace.to_owned(),
            rollout: rollout.to_owned(),
        };
        let step = state.current_step_index.unwrap_or(0);
        self.rollout_step
            .get_or_create(&labels)
            .set(i64::try_from(step).unwrap_or(i64::MAX));
        self.rollout_weight
            .get_or_create(&labels)
            .set(i64::from(state.weight));
        for (phase, name) in [
            (Phase::Healthy, "Healthy"),
            (Phase::Progressing, "Progressing"),
            (Phase::Paused, "Paused"),
            (Phase::Degraded, "Degraded"),
        ] {
            let labels = RolloutPhaseLabels {
                namespace: namespace.to_owned(),
                rollout: rollout.to_owned(),
                phase: name,
            };
            if state.phase == Some(phase) {
                self.rollout_phase.get_or_create(&labels).set(1);
            } else {
                self.rollout_phase.remove(&labels);
            }
        }
    }

    /// Everything, in the Prometheus text format — without the series of Rollouts deleted
    /// since (labels stay bounded by the Rollouts that exist).
    #[must_use]
    pub fn encode(&self) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        for (namespace, rollout) in self.argo.forget_deleted() {
            let labels = RolloutLabels { namespace, rollout };
            self.rollout_step.remove(&labels);
            self.rollout_weight.remove(&labels);
            for phase in ["Healthy", "Progressing", "Paused", "Degraded"] {
                self.rollout_phase.remove(&RolloutPhaseLabels {
                    namespace: labels.namespace.clone(),
                    rollout: labels.rollout.clone(),
                    phase,
                });
            }
        }
        let mut out = String::new();
        encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, &self.argo.registry))
            .and_then(|()| encode_eof(&mut out))
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_exposed_with_their_labels() {
        let metrics = Metrics::default();
        metrics
            .drifted_objects
            .get_or_create(&Metrics::source("shop"))
            .set(2);
        metrics
            .syncs
            .get_or_create(&SyncLabels {
                source: "shop".into(),
                result: "applied".into(),
            })
            .inc();
        metrics
            .fetch_duration
            .get_or_create(&Metrics::source("shop"))
            .observe(0.02);
        let text = metrics.encode();
        assert!(
            text.contains("tidegate_drifted_objects{source=\"shop\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("tidegate_syncs_total{source=\"shop\",result=\"applied\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "tidegate_git_fetch_duration_seconds_bucket{le=\"0.02\",source=\"shop\"} 0\n"
            ) || text.contains("tidegate_git_fetch_duration_seconds_count{source=\"shop\"} 1\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    /// A Rollout `name` in namespace `shop`.
    fn rollout(name: &str) -> crate::k8s::crd::Rollout {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": name}}, "strategy": {}}
        }))
        .expect("a Rollout")
    }

    /// Writes every per-Rollout series of `name`.
    fn write_series(metrics: &Metrics, name: &str) {
        let state = crate::model::RolloutState {
            phase: Some(crate::model::Phase::Paused),
            ..crate::model::RolloutState::default()
        };
        metrics.observe_rollout("shop", name, &state);
        metrics.argo.observe_reconcile("shop", name, 0.1, true);
        metrics
            .argo
            .count_event("shop", name, true, "RolloutAborted");
    }

    /// How many lines of `text` carry Rollout `name`'s labels.
    fn lines_of(text: &str, name: &str) -> usize {
        let ours = format!("rollout=\"{name}\"");
        let argo = format!("name=\"{name}\"");
        text.lines()
            .filter(|line| line.contains(&ours) || line.contains(&argo))
            .count()
    }

    #[test]
    fn the_series_of_a_deleted_rollout_go_once_the_cache_has_listed_the_rollouts() {
        use kube::runtime::{reflector, watcher};
        let metrics = Metrics::default();
        write_series(&metrics, "web");
        write_series(&metrics, "gone");
        assert!(lines_of(&metrics.encode(), "gone") > 0, "no cache: kept");

        let (store, mut writer) = reflector::store();
        metrics.argo.caches.watch_rollouts(Some(store));
        assert!(
            lines_of(&metrics.encode(), "gone") > 0,
            "a cache that has not listed yet says nothing: kept"
        );
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitApply(rollout("web")));
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let text = metrics.encode();
        assert_eq!(lines_of(&text, "gone"), 0, "{text}");
        // step, weight, phase, 7 reconcile lines (buckets, sum, count), the error, the event;
        // Argo's own rollout_info families come from the cache.
        assert!(lines_of(&text, "web") >= 12, "{text}");
        for family in [
            "tidegate_rollout_step{",
            "tidegate_rollout_canary_weight{",
            "tidegate_rollout_phase{",
            "rollout_reconcile_error{",
            "rollout_events_total{",
        ] {
            assert!(
                text.lines()
                    .any(|line| line.starts_with(family) && lines_of(line, "web") == 1),
                "{family}: {text}"
            );
        }
    }
}
