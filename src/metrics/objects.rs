//! Argo Rollouts' per-object families: `rollout_info`, `rollout_info_replicas_*`, the
//! deprecated `rollout_phase`, `analysis_run_info`, the deprecated `analysis_run_phase`,
//! `analysis_run_metric_type`, `analysis_run_metric_phase`, `experiment_info` and the
//! deprecated `experiment_phase`, with Argo's names and labels.
//!
//! They are computed at each scrape from the controllers' caches, as Argo's collectors are:
//! this module keeps no state of its own. What each object contributes is pure
//! ([`rollout_facts`], [`run_facts`]); [`Caches`] only reads the stores and encodes.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, RwLock};

use kube::ResourceExt;
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::k8s::crd::{AnalysisRun, Experiment, Metric, Rollout};
use crate::model::AnalysisPhase;

/// Argo's phases of a Rollout in `rollout_info` and `rollout_phase`.
pub const ROLLOUT_PHASES: [&str; 7] = [
    "Completed",
    "Progressing",
    "Paused",
    "Timeout",
    "Error",
    "Abort",
    "InvalidSpec",
];

/// Argo's phases of an AnalysisRun and of its metrics in the deprecated families.
const RUN_PHASES: [AnalysisPhase; 6] = [
    AnalysisPhase::Pending,
    AnalysisPhase::Error,
    AnalysisPhase::Failed,
    AnalysisPhase::Successful,
    AnalysisPhase::Running,
    AnalysisPhase::Inconclusive,
];

/// What one Rollout contributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutFacts {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `canary`, `blueGreen` or `none`.
    pub strategy: &'static str,
    /// Argo's name of the traffic router (`Istio`, `Nginx`, …), empty without one.
    pub traffic_router: &'static str,
    /// One of [`ROLLOUT_PHASES`].
    pub phase: &'static str,
    /// `status.availableReplicas`.
    pub available: i64,
    /// `status.replicas` less the available ones.
    pub unavailable: i64,
    /// `spec.replicas` (1 when unset).
    pub desired: i64,
    /// `status.updatedReplicas`.
    pub updated: i64,
}

/// Argo's phase of a Rollout, read from its conditions as Argo reads them: the Progressing
/// condition's reason, overridden by a true InvalidSpec condition.
#[must_use]
pub fn rollout_phase(rollout: &Rollout) -> &'static str {
    let conditions = rollout
        .status
        .as_ref()
        .map(|status| status.conditions.as_slice())
        .unwrap_or_default();
    if conditions
        .iter()
        .any(|condition| condition.kind == "InvalidSpec" && condition.status == "True")
    {
        return "InvalidSpec";
    }
    let reason = conditions
        .iter()
        .find(|condition| condition.kind == "Progressing")
        .map(|condition| condition.reason.as_str());
    match reason {
        Some("NewReplicaSetAvailable") => "Completed",
        Some("RolloutPaused") => "Paused",
        Some("ReplicaSetCreateError") => "Error",
        Some("ProgressDeadlineExceeded") => "Timeout",
        Some("RolloutAborted") => "Abort",
        _ => "Progressing",
    }
}

/// The strategy and, for a routed canary, Argo's name of its traffic router (Argo names
/// these six; any other router, as in Argo, leaves the label empty).
fn strategy_and_router(rollout: &Rollout) -> (&'static str, &'static str) {
    let strategy = &rollout.spec.strategy;
    if strategy.blue_green.is_some() {
        return ("blueGreen", "");
    }
    let Some(canary) = &strategy.canary else {
        return ("none", "");
    };
    let Some(routing) = &canary.traffic_routing else {
        return ("canary", "");
    };
    // Argo's order: the last one set wins.
    let router = [
        ("AppMesh", routing.app_mesh.is_some()),
        ("SMI", routing.smi.is_some()),
        ("Nginx", routing.nginx.is_some()),
        ("Istio", routing.istio.is_some()),
        ("Ambassador", routing.ambassador.is_some()),
        ("ALB", routing.alb.is_some()),
    ]
    .into_iter()
    .find_map(|(name, set)| set.then_some(name))
    .unwrap_or_default();
    ("canary", router)
}

/// What `rollout` contributes to the Rollout families.
#[must_use]
pub fn rollout_facts(rollout: &Rollout) -> RolloutFacts {
    let (strategy, traffic_router) = strategy_and_router(rollout);
    let status = rollout.status.clone().unwrap_or_default();
    RolloutFacts {
        namespace: rollout.namespace().unwrap_or_default(),
        name: rollout.name_any(),
        strategy,
        traffic_router,
        phase: rollout_phase(rollout),
        available: status.available_replicas.into(),
        unavailable: i64::from(status.replicas) - i64::from(status.available_replicas),
        desired: rollout.spec.replicas.unwrap_or(1).into(),
        updated: status.updated_replicas.into(),
    }
}

/// What one metric of a run contributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricFacts {
    /// Its name.
    pub name: String,
    /// Argo's provider type (`Prometheus`, `WebMetric`, `Job`, …).
    pub kind: &'static str,
    /// Listed in the run's `dryRun`.
    pub dry_run: bool,
    /// Its result's phase; `None` before it has one.
    pub phase: Option<AnalysisPhase>,
}

/// What one AnalysisRun contributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunFacts {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `None` before the run has a status (Argo's empty phase).
    pub phase: Option<AnalysisPhase>,
    /// Its metrics, in the order of its spec.
    pub metrics: Vec<MetricFacts>,
}

/// Argo's type name of a metric's provider.
#[must_use]
pub fn metric_kind(metric: &Metric) -> &'static str {
    let provider = &metric.provider;
    [
        ("Prometheus", provider.prometheus.is_some()),
        ("Job", provider.job.is_some()),
        ("Kayenta", provider.kayenta.is_some()),
        ("WebMetric", provider.web.is_some()),
        ("Datadog", provider.datadog.is_some()),
        ("Wavefront", provider.wavefront.is_some()),
        ("NewRelic", provider.new_relic.is_some()),
        ("CloudWatch", provider.cloud_watch.is_some()),
        ("Graphite", provider.graphite.is_some()),
        ("Influxdb", provider.influxdb.is_some()),
        ("SkyWalking", provider.skywalking.is_some()),
        ("RPCPlugin", provider.plugin.is_some()),
    ]
    .into_iter()
    .find_map(|(name, set)| set.then_some(name))
    .unwrap_or("Unknown Provider")
}

/// What `run` contributes to the AnalysisRun families.
#[must_use]
pub fn run_facts(run: &AnalysisRun) -> RunFacts {
    let results = run
        .status
        .as_ref()
        .map(|status| status.metric_results.as_slice())
        .unwrap_or_default();
    let metrics = run
        .spec
        .metrics
        .iter()
        .map(|metric| MetricFacts {
            name: metric.name.clone(),
            kind: metric_kind(metric),
            dry_run: run.spec.is_dry_run(&metric.name),
            phase: results
                .iter()
                .find(|result| result.name == metric.name)
                .map(|result| result.phase),
        })
        .collect();
    RunFacts {
        namespace: run.namespace().unwrap_or_default(),
        name: run.name_any(),
        phase: run.status.as_ref().map(|status| status.phase),
        metrics,
    }
}

/// Argo's phases of an Experiment in the deprecated `experiment_phase` (Failed is not one).
const EXPERIMENT_PHASES: [AnalysisPhase; 5] = [
    AnalysisPhase::Pending,
    AnalysisPhase::Error,
    AnalysisPhase::Successful,
    AnalysisPhase::Running,
    AnalysisPhase::Inconclusive,
];

/// What one Experiment contributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExperimentFacts {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `None` before its first reconcile (Argo's empty phase).
    pub phase: Option<AnalysisPhase>,
}

/// What `experiment` contributes.
#[must_use]
pub fn experiment_facts(experiment: &Experiment) -> ExperimentFacts {
    ExperimentFacts {
        namespace: experiment.namespace().unwrap_or_default(),
        name: experiment.name_any(),
        phase: experiment.status.as_ref().and_then(|status| status.phase),
    }
}

/// The phase label of an optional phase: Argo's empty string before there is one.
fn phase_label(phase: Option<AnalysisPhase>) -> String {
    phase.map(|phase| phase.to_string()).unwrap_or_default()
}

/// 1 for the series of `phase` among the deprecated per-phase series; "no phase yet" counts
/// as Pending, as in Argo.
fn is_phase(current: Option<AnalysisPhase>, phase: AnalysisPhase) -> i64 {
    i64::from(current.unwrap_or(AnalysisPhase::Pending) == phase)
}

/// The controllers' caches, read at each scrape; empty while this replica runs no
/// controllers (a standby reports no objects, as Argo's does).
#[derive(Clone, Default)]
pub struct Caches {
    rollouts: Arc<RwLock<Option<Store<Rollout>>>>,
    runs: Arc<RwLock<Option<Store<AnalysisRun>>>>,
    experiments: Arc<RwLock<Option<Store<Experiment>>>>,
}

impl fmt::Debug for Caches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caches").finish_non_exhaustive()
    }
}

impl Caches {
    /// Reads Rollouts from `store` from now on (`None`: the controller stopped).
    pub fn watch_rollouts(&self, store: Option<Store<Rollout>>) {
        *self
            .rollouts
            .write()
            .expect("the caches lock is never poisoned") = store;
    }

    /// Reads AnalysisRuns from `store` from now on (`None`: the controller stopped).
    pub fn watch_runs(&self, store: Option<Store<AnalysisRun>>) {
        *self
            .runs
            .write()
            .expect("the caches lock is never poisoned") = store;
    }

    /// Reads Experiments from `store` from now on (`None`: the controller stopped).
    pub fn watch_experiments(&self, store: Option<Store<Experiment>>) {
        *self
            .experiments
            .write()
            .expect("the caches lock is never poisoned") = store;
    }

    /// The Rollouts in the cache, by namespace and name — `None` until the cache is watched
    /// and has listed them once (an empty cache then says nothing about what exists).
    pub(super) fn rollout_keys(&self) -> Option<BTreeSet<(String, String)>> {
        let cache = self
            .rollouts
            .read()
            .expect("the caches lock is never poisoned");
        let store = cache.as_ref()?;
        futures::FutureExt::now_or_never(store.wait_until_ready())?.ok()?;
        Some(
            store
                .state()
                .iter()
                .map(|rollout| (rollout.namespace().unwrap_or_default(), rollout.name_any()))
                .collect(),
        )
    }

    fn rollouts(&self) -> Vec<RolloutFacts> {
        facts_of(&self.rollouts, rollout_facts)
    }

    fn runs(&self) -> Vec<RunFacts> {
        facts_of(&self.runs, run_facts)
    }

    fn experiments(&self) -> Vec<ExperimentFacts> {
        facts_of(&self.experiments, experiment_facts)
    }
}

/// What each object in `cache` contributes, by namespace and name (nothing without a cache).
fn facts_of<K, F>(cache: &RwLock<Option<Store<K>>>, facts: fn(&K) -> F) -> Vec<F>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let cache = cache.read().expect("the caches lock is never poisoned");
    let mut objects: Vec<_> = cache.iter().flat_map(Store::state).collect();
    objects.sort_by_cached_key(|object| (object.namespace(), object.name_any()));
    objects.iter().map(|object| facts(object)).collect()
}

/// Encodes one gauge family: its descriptor, then one sample per `(labels, value)`.
fn gauges<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Vec<(&'a str, String)>, i64)>,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in samples {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// The namespace and name labels of an object.
fn object(namespace: &str, name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("namespace", namespace.to_owned()),
        ("name", name.to_owned()),
    ]
}

/// `labels` with `more` appended.
fn with(
    mut labels: Vec<(&'static str, String)>,
    more: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    labels.extend(more.iter().map(|(key, value)| (*key, (*value).to_owned())));
    labels
}

/// A replica-count family: its name, its help, the count of a Rollout.
type ReplicaFamily = (&'static str, &'static str, fn(&RolloutFacts) -> i64);

fn encode_rollouts(encoder: &mut DescriptorEncoder, rollouts: &[RolloutFacts]) -> fmt::Result {
    gauges(
        encoder,
        "rollout_info",
        "Information about rollout.",
        rollouts.iter().map(|r| {
            let labels = with(
                object(&r.namespace, &r.name),
                &[
                    ("strategy", r.strategy),
                    ("traffic_router", r.traffic_router),
                    ("phase", r.phase),
                ],
            );
            (labels, 1)
        }),
    )?;
    let replicas: [ReplicaFamily; 4] = [
        (
            "rollout_info_replicas_available",
            "The number of available replicas per rollout.",
            |r| r.available,
        ),
        (
            "rollout_info_replicas_unavailable",
            "The number of unavailable replicas per rollout.",
            |r| r.unavailable,
        ),
        (
            "rollout_info_replicas_desired",
            "The number of desired replicas per rollout.",
            |r| r.desired,
        ),
        (
            "rollout_info_replicas_updated",
            "The number of updated replicas per rollout.",
            |r| r.updated,
        ),
    ];
    for (name, help, value) in replicas {
        gauges(
            encoder,
            name,
            help,
            rollouts
                .iter()
                .map(|r| (object(&r.namespace, &r.name), value(r))),
        )?;
    }
    gauges(
        encoder,
        "rollout_phase",
        "Information on the state of the rollout (DEPRECATED - use rollout_info)",
        rollouts.iter().flat_map(|r| {
            ROLLOUT_PHASES.iter().map(|phase| {
                let labels = with(
                    object(&r.namespace, &r.name),
                    &[("strategy", r.strategy), ("phase", phase)],
                );
                (labels, i64::from(r.phase == *phase))
            })
        }),
    )
}

fn encode_runs(encoder: &mut DescriptorEncoder, runs: &[RunFacts]) -> fmt::Result {
    gauges(
        encoder,
        "analysis_run_info",
        "Information about analysis run.",
        runs.iter().map(|run| {
            let phase = phase_label(run.phase);
            (
                with(object(&run.namespace, &run.name), &[("phase", &phase)]),
                1,
            )
        }),
    )?;
    gauges(
        encoder,
        "analysis_run_phase",
        "Information on the state of the Analysis Run (DEPRECATED - use analysis_run_info)",
        runs.iter().flat_map(|run| {
            RUN_PHASES.iter().map(|phase| {
                let label = phase.to_string();
                let labels = with(object(&run.namespace, &run.name), &[("phase", &label)]);
                (labels, is_phase(run.phase, *phase))
            })
        }),
    )?;
    gauges(
        encoder,
        "analysis_run_metric_type",
        "Information on the type of a specific metric in the Analysis Runs",
        runs.iter().flat_map(|run| {
            run.metrics.iter().map(|metric| {
                let labels = with(
                    object(&run.namespace, &run.name),
                    &[("metric", &metric.name), ("type", metric.kind)],
                );
                (labels, 1)
            })
        }),
    )?;
    gauges(
        encoder,
        "analysis_run_metric_phase",
        "Information on the duration of a specific metric in the Analysis Run",
        runs.iter().flat_map(|run| {
            run.metrics.iter().flat_map(|metric| {
                RUN_PHASES.iter().map(|phase| {
                    let (dry_run, label) = (metric.dry_run.to_string(), phase.to_string());
                    let labels = with(
                        object(&run.namespace, &run.name),
                        &[
                            ("metric", &metric.name),
                            ("type", metric.kind),
                            ("dry_run", &dry_run),
                            ("phase", &label),
                        ],
                    );
                    (labels, is_phase(metric.phase, *phase))
                })
            })
        }),
    )
}

impl Collector for Caches {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        encode_rollouts(&mut encoder, &self.rollouts())?;
        encode_runs(&mut encoder, &self.runs())?;
        encode_experiments(&mut encoder, &self.experiments())
    }
}

fn encode_experiments(
    encoder: &mut DescriptorEncoder,
    experiments: &[ExperimentFacts],
) -> fmt::Result {
    gauges(
        encoder,
        "experiment_info",
        "Information about Experiment.",
        experiments.iter().map(|experiment| {
            let phase = phase_label(experiment.phase);
            (
                with(
                    object(&experiment.namespace, &experiment.name),
                    &[("phase", &phase)],
                ),
                1,
            )
        }),
    )?;
    gauges(
        encoder,
        "experiment_phase",
        "Information on the state of the experiment (DEPRECATED - use experiment_info)",
        experiments.iter().flat_map(|experiment| {
            EXPERIMENT_PHASES.iter().map(|phase| {
                let label = phase.to_string();
                let labels = with(
                    object(&experiment.namespace, &experiment.name),
                    &[("phase", &label)],
                );
                (labels, is_phase(experiment.phase, *phase))
            })
        }),
    )
}

#[cfg(test)]
mod tests {
    use kube::runtime::{reflector, watcher};
    use serde_json::json;

    use super::*;

    fn rollout(strategy: &serde_json::Value, status: &serde_json::Value) -> Rollout {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "web:1"}]}},
                "strategy": strategy},
            "status": status
        }))
        .expect("a valid Rollout")
    }

    fn condition(kind: &str, status: &str, reason: &str) -> serde_json::Value {
        json!({"type": kind, "status": status, "reason": reason, "message": "",
            "lastUpdateTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"})
    }

    fn with_conditions(conditions: &[serde_json::Value]) -> Rollout {
        rollout(&json!({"canary": {}}), &json!({"conditions": conditions}))
    }

    #[test]
    fn phases_are_read_from_the_conditions_as_argo_reads_them() {
        let progressing = |reason| [condition("Progressing", "True", reason)];
        let cases = [
            ("NewReplicaSetAvailable", "Completed"),
            ("RolloutPaused", "Paused"),
            ("ReplicaSetCreateError", "Error"),
            ("ProgressDeadlineExceeded", "Timeout"),
            ("RolloutAborted", "Abort"),
            ("ReplicaSetUpdated", "Progressing"),
            ("RolloutResumed", "Progressing"),
        ];
        for (reason, phase) in cases {
            assert_eq!(rollout_phase(&with_conditions(&progressing(reason))), phase);
        }
        assert_eq!(rollout_phase(&with_conditions(&[])), "Progressing");
        let invalid = [
            condition("Progressing", "True", "NewReplicaSetAvailable"),
            condition("InvalidSpec", "True", "InvalidSpec"),
        ];
        assert_eq!(rollout_phase(&with_conditions(&invalid)), "InvalidSpec");
        let resolved = [
            condition("Progressing", "True", "NewReplicaSetAvailable"),
            condition("InvalidSpec", "False", "InvalidSpec"),
        ];
        assert_eq!(rollout_phase(&with_conditions(&resolved)), "Completed");
        // Only the Progressing condition's reason counts.
        let paused_elsewhere = [
            condition("Paused", "True", "RolloutPaused"),
            condition("Progressing", "True", "ReplicaSetUpdated"),
        ];
        assert_eq!(
            rollout_phase(&with_conditions(&paused_elsewhere)),
            "Progressing"
        );
    }

    #[test]
    fn strategy_router_and_replicas_are_argo_s() {
        let status = json!({"replicas": 4, "availableReplicas": 3, "updatedReplicas": 1});
        let istio =
            json!({"canary": {"trafficRouting": {"istio": {"virtualService": {"name": "vs"}}}}});
        assert_eq!(
            rollout_facts(&rollout(&istio, &status)),
            RolloutFacts {
                namespace: "shop".into(),
                name: "web".into(),
                strategy: "canary",
                traffic_router: "Istio",
                phase: "Progressing",
                available: 3,
                unavailable: 1,
                desired: 3,
                updated: 1,
            }
        );
        let both = json!({"canary": {"trafficRouting": {"alb": {}, "smi": {}}}});
        assert_eq!(
            rollout_facts(&rollout(&both, &json!({}))).traffic_router,
            "SMI"
        );
        let nginx = json!({"canary": {"trafficRouting": {"nginx": {"stableIngress": "web"}}}});
        assert_eq!(
            rollout_facts(&rollout(&nginx, &json!({}))).traffic_router,
            "Nginx"
        );
        let plugin = json!({"canary": {"trafficRouting": {"plugins": {"x/y": {}}}}});
        assert_eq!(
            rollout_facts(&rollout(&plugin, &json!({}))).traffic_router,
            ""
        );
        let blue_green = json!({"blueGreen": {"activeService": "web"}});
        let facts = rollout_facts(&rollout(&blue_green, &json!({})));
        assert_eq!((facts.strategy, facts.traffic_router), ("blueGreen", ""));
        assert_eq!(
            (facts.available, facts.unavailable, facts.updated),
            (0, 0, 0)
        );
        assert_eq!(
            rollout_facts(&rollout(&json!({}), &json!({}))).strategy,
            "none"
        );
        let mut unset = rollout(&json!({"canary": {}}), &json!({}));
        unset.spec.replicas = None;
        assert_eq!(rollout_facts(&unset).desired, 1);
    }

    fn run(status: Option<serde_json::Value>) -> AnalysisRun {
        let mut run = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": "web-abc-2", "namespace": "shop"},
            "spec": {"dryRun": [{"metricName": "latency"}], "metrics": [
                {"name": "error-rate", "provider": {"prometheus": {"address": "http://p", "query": "q"}}},
                {"name": "latency", "provider": {"web": {"url": "http://w"}}},
                {"name": "smoke", "provider": {"job": {"spec": {"template": {"spec": {"containers": []}}}}}}]}
        });
        if let Some(status) = status {
            run["status"] = status;
        }
        serde_json::from_value(run).expect("a valid AnalysisRun")
    }

    #[test]
    fn runs_give_their_phase_and_each_metric_s_type_dry_run_and_phase() {
        let fresh = run_facts(&run(None));
        assert_eq!(fresh.phase, None);
        let kinds: Vec<_> = fresh.metrics.iter().map(|metric| metric.kind).collect();
        assert_eq!(kinds, ["Prometheus", "WebMetric", "Job"]);
        let dry: Vec<_> = fresh.metrics.iter().map(|metric| metric.dry_run).collect();
        assert_eq!(dry, [false, true, false]);
        assert!(fresh.metrics.iter().all(|metric| metric.phase.is_none()));

        let running = run_facts(&run(Some(json!({"phase": "Running", "metricResults": [
            {"name": "latency", "phase": "Failed"}, {"name": "error-rate", "phase": "Successful"}]}))));
        assert_eq!(running.phase, Some(AnalysisPhase::Running));
        let phases: Vec<_> = running.metrics.iter().map(|metric| metric.phase).collect();
        assert_eq!(
            phases,
            [
                Some(AnalysisPhase::Successful),
                Some(AnalysisPhase::Failed),
                None
            ]
        );
        assert_eq!(phase_label(None), "");
        assert_eq!(
            phase_label(Some(AnalysisPhase::Inconclusive)),
            "Inconclusive"
        );
        assert_eq!(is_phase(None, AnalysisPhase::Pending), 1);
        assert_eq!(is_phase(None, AnalysisPhase::Running), 0);
        assert_eq!(
            is_phase(Some(AnalysisPhase::Error), AnalysisPhase::Error),
            1
        );
        assert_eq!(
            is_phase(Some(AnalysisPhase::Error), AnalysisPhase::Pending),
            0
        );
    }

    /// A store holding `objects`.
    fn store<K>(objects: Vec<K>) -> Store<K>
    where
        K: kube::Resource + Clone + 'static,
        K::DynamicType: Eq + std::hash::Hash + Clone + Default,
    {
        let (reader, mut writer) = reflector::store();
        for object in objects {
            writer.apply_watcher_event(&watcher::Event::Apply(object));
        }
        reader
    }

    #[test]
    fn the_families_are_encoded_with_argo_s_names_and_labels_from_the_caches() {
        let metrics = crate::metrics::Metrics::default();
        let paused = rollout(
            &json!({"canary": {"trafficRouting": {"istio": {}}}}),
            &json!({"replicas": 4, "availableReplicas": 3, "conditions": [condition("Progressing", "Unknown", "RolloutPaused")]}),
        );
        let before = metrics.encode();
        assert!(
            !before.contains("rollout_info{"),
            "no caches, no objects: {before}"
        );
        metrics
            .argo
            .caches
            .watch_rollouts(Some(store(vec![paused])));
        metrics.argo.caches.watch_runs(Some(store(vec![run(Some(
            json!({"phase": "Running", "metricResults": [{"name": "error-rate", "phase": "Running"}]}),
        ))])));
        let text = metrics.encode();
        let object = r#"namespace="shop",name="web""#;
        let run = r#"namespace="shop",name="web-abc-2""#;
        for line in [
            format!(
                r#"rollout_info{{{object},strategy="canary",traffic_router="Istio",phase="Paused"}} 1"#
            ),
            format!("rollout_info_replicas_available{{{object}}} 3"),
            format!("rollout_info_replicas_unavailable{{{object}}} 1"),
            format!("rollout_info_replicas_desired{{{object}}} 3"),
            format!("rollout_info_replicas_updated{{{object}}} 0"),
            format!(r#"rollout_phase{{{object},strategy="canary",phase="Paused"}} 1"#),
            format!(r#"rollout_phase{{{object},strategy="canary",phase="Completed"}} 0"#),
            format!(r#"analysis_run_info{{{run},phase="Running"}} 1"#),
            format!(r#"analysis_run_phase{{{run},phase="Running"}} 1"#),
            format!(r#"analysis_run_phase{{{run},phase="Pending"}} 0"#),
            format!(r#"analysis_run_metric_type{{{run},metric="latency",type="WebMetric"}} 1"#),
            format!(
                r#"analysis_run_metric_phase{{{run},metric="error-rate",type="Prometheus",dry_run="false",phase="Running"}} 1"#
            ),
            format!(
                r#"analysis_run_metric_phase{{{run},metric="latency",type="WebMetric",dry_run="true",phase="Pending"}} 1"#
            ),
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line}\n{text}");
        }
        assert_eq!(text.matches("rollout_phase{").count(), ROLLOUT_PHASES.len());
        assert_eq!(text.matches("analysis_run_metric_phase{").count(), 3 * 6);
        assert!(
            text.ends_with("# EOF\n") && text.matches("# EOF").count() == 1,
            "{text}"
        );

        metrics.argo.caches.watch_rollouts(None);
        metrics.argo.caches.watch_runs(None);
        let after = metrics.encode();
        assert!(!after.contains("rollout_info{") && !after.contains("analysis_run_info{"));
    }

    #[test]
    fn experiments_are_encoded_as_argo_s_experiment_families() {
        let experiment = |name: &str, phase: Option<&str>| -> Experiment {
            serde_json::from_value(json!({
                "apiVersion": "tidegate.dev/v1alpha1", "kind": "Experiment",
                "metadata": {"name": name, "namespace": "shop"},
                "spec": {"templates": []},
                "status": phase.map(|phase| json!({"phase": phase})),
            }))
            .expect("a valid Experiment")
        };
        let metrics = crate::metrics::Metrics::default();
        metrics.argo.caches.watch_experiments(Some(store(vec![
            experiment("ab", Some("Failed")),
            experiment("new", None),
        ])));
        let text = metrics.encode();
        for line in [
            r#"experiment_info{namespace="shop",name="ab",phase="Failed"} 1"#,
            r#"experiment_info{namespace="shop",name="new",phase=""} 1"#,
            r#"experiment_phase{namespace="shop",name="new",phase="Pending"} 1"#,
            r#"experiment_phase{namespace="shop",name="ab",phase="Running"} 0"#,
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line}\n{text}");
        }
        assert_eq!(
            text.matches("experiment_phase{").count(),
            2 * EXPERIMENT_PHASES.len()
        );
        metrics.argo.caches.watch_experiments(None);
        assert!(!metrics.encode().contains("experiment_info{"));
    }
}
