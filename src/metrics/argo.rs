//! Argo Rollouts' metric families, unprefixed and with Argo's names, labels and buckets, so
//! Argo's dashboards and alerts read tidegate unchanged: the per-object families of
//! [`objects`](super::objects), reconcile timings and errors per Rollout, Events per reason,
//! and `process_start_time_seconds`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use super::objects::Caches;

/// Per Rollout (namespace, name), the (type, reason) of each Event counted.
type Written = BTreeMap<(String, String), BTreeSet<(&'static str, String)>>;

/// Labels of one object, as Argo names them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectLabels {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// Labels of a Rollout's Events.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `Normal` or `Warning`.
    pub r#type: &'static str,
    /// The Event's reason.
    pub reason: String,
}

/// A count exported under its exact name, as Argo's Go client exports it. OpenMetrics names
/// every counter `…_total`, so this one is typed gauge; PromQL's `rate` and `increase` read
/// it all the same (a daemon restart starts it at zero, like any counter).
#[derive(Clone, Debug, Default)]
pub struct ExactCounter(Counter);

impl ExactCounter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.inc();
    }
}

impl TypedMetric for ExactCounter {
    const TYPE: MetricType = MetricType::Gauge;
}

impl EncodeMetric for ExactCounter {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&self.0.get())
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// Argo's reconcile buckets (seconds).
const RECONCILE_BUCKETS: [f64; 5] = [0.01, 0.15, 0.25, 0.5, 1.0];

fn reconcile_histogram() -> Histogram {
    Histogram::new(RECONCILE_BUCKETS)
}

/// The Argo families and their registry.
pub struct ArgoMetrics {
    pub(super) registry: Registry,
    /// The caches the per-object families are read from.
    pub caches: Caches,
    /// How long each Rollout's reconciles take.
    pub rollout_reconcile: Family<ObjectLabels, Histogram, fn() -> Histogram>,
    /// Failed reconciles per Rollout.
    pub rollout_reconcile_error: Family<ObjectLabels, ExactCounter>,
    /// Events published per Rollout, type and reason.
    pub rollout_events: Family<EventLabels, Counter>,
    /// Every Rollout a series was written for, with the (type, reason) of its Events: what
    /// to remove once the Rollout is gone.
    written: Mutex<Written>,
}

impl Default for ArgoMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let caches = Caches::default();
        registry.register_collector(Box::new(caches.clone()));
        let rollout_reconcile: Family<ObjectLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(reconcile_histogram);
        registry.register(
            "rollout_reconcile",
            "Rollout reconciliation performance.",
            rollout_reconcile.clone(),
        );
        let rollout_reconcile_error = Family::<ObjectLabels, ExactCounter>::default();
        registry.register(
            "rollout_reconcile_error",
            "Error occurring during the rollout",
            rollout_reconcile_error.clone(),
        );
        let rollout_events = Family::<EventLabels, Counter>::default();
        registry.register(
            "rollout_events",
            "Count of rollout events",
            rollout_events.clone(),
        );
        let started = Gauge::<f64, AtomicU64>::default();
        started.set(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |since| since.as_secs_f64()),
        );
        registry.register(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            started,
        );
        Self {
            registry,
            caches,
            rollout_reconcile,
            rollout_reconcile_error,
            rollout_events,
            written: Mutex::default(),
        }
    }
}

impl ArgoMetrics {
    /// The labels of a Rollout.
    #[must_use]
    pub fn object(namespace: &str, name: &str) -> ObjectLabels {
        ObjectLabels {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Counts an Event of Rollout `name`.
    pub fn count_event(&self, namespace: &str, name: &str, warning: bool, reason: &str) {
        let labels = EventLabels {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            r#type: if warning { "Warning" } else { "Normal" },
            reason: reason.to_owned(),
        };
        self.written()
            .entry((labels.namespace.clone(), labels.name.clone()))
            .or_default()
            .insert((labels.r#type, labels.reason.clone()));
        self.rollout_events.get_or_create(&labels).inc();
    }

    /// Records how long a reconcile of Rollout `name` took, and whether it failed.
    pub fn observe_reconcile(&self, namespace: &str, name: &str, seconds: f64, failed: bool) {
        self.track(namespace, name);
        let object = Self::object(namespace, name);
        self.rollout_reconcile
            .get_or_create(&object)
            .observe(seconds);
        if failed {
            self.rollout_reconcile_error.get_or_create(&object).inc();
        }
    }

    /// Notes that a series of Rollout `name` was written.
    pub(super) fn track(&self, namespace: &str, name: &str) {
        self.written()
            .entry((namespace.to_owned(), name.to_owned()))
            .or_default();
    }

    /// Removes the series of every Rollout no longer in the cache, and returns those
    /// Rollouts (namespace, name). Nothing while the cache cannot say.
    pub(super) fn forget_deleted(&self) -> Vec<(String, String)> {
        let Some(present) = self.caches.rollout_keys() else {
            return Vec::new();
        };
        let mut written = self.written();
        let gone: Vec<(String, String)> = written
            .keys()
            .filter(|key| !present.contains(*key))
            .cloned()
            .collect();
        for key in &gone {
            let (namespace, name) = key;
            let object = Self::object(namespace, name);
            self.rollout_reconcile.remove(&object);
            self.rollout_reconcile_error.remove(&object);
            for (r#type, reason) in written.remove(key).unwrap_or_default() {
                self.rollout_events.remove(&EventLabels {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    r#type,
                    reason,
                });
            }
        }
        gone
    }

    fn written(&self) -> std::sync::MutexGuard<'_, Written> {
        self.written
            .lock()
            .expect("the series lock is never poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_errors_events_and_the_start_time_have_argo_s_names() {
        let metrics = crate::metrics::Metrics::default();
        let web = ArgoMetrics::object("shop", "web");
        metrics
            .argo
            .rollout_reconcile
            .get_or_create(&web)
            .observe(0.2);
        metrics
            .argo
            .rollout_reconcile_error
            .get_or_create(&web)
            .inc();
        metrics
            .argo
            .rollout_reconcile_error
            .get_or_create(&web)
            .inc();
        metrics
            .argo
            .count_event("shop", "web", false, "RolloutStepCompleted");
        metrics
            .argo
            .count_event("shop", "web", true, "RolloutAborted");
        let text = metrics.encode();
        let object = r#"namespace="shop",name="web""#;
        for line in [
            format!(r#"rollout_reconcile_bucket{{le="0.15",{object}}} 0"#),
            format!(r#"rollout_reconcile_bucket{{le="0.25",{object}}} 1"#),
            format!(r#"rollout_reconcile_bucket{{le="+Inf",{object}}} 1"#),
            format!("rollout_reconcile_count{{{object}}} 1"),
            "# TYPE rollout_reconcile_error gauge".to_owned(),
            format!("rollout_reconcile_error{{{object}}} 2"),
            format!(
                r#"rollout_events_total{{{object},type="Normal",reason="RolloutStepCompleted"}} 1"#
            ),
            format!(r#"rollout_events_total{{{object},type="Warning",reason="RolloutAborted"}} 1"#),
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line}\n{text}");
        }
        let buckets = text.matches("rollout_reconcile_bucket{").count();
        assert_eq!(buckets, RECONCILE_BUCKETS.len() + 1, "{text}");
        let started: f64 = text
            .lines()
            .find_map(|line| line.strip_prefix("process_start_time_seconds "))
            .expect("the start time")
            .parse()
            .expect("a number");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64();
        assert!(started > 1.7e9 && started <= now, "{started}");
    }
}
