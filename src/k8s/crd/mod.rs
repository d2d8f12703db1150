//! tidegate's custom resources — `Rollout`, `AnalysisTemplate`, `ClusterAnalysisTemplate`,
//! `AnalysisRun`, `Experiment` in `tidegate.dev/v1alpha1` — and their CustomResourceDefinitions.
//!
//! In: nothing (the types are the source of truth). Out: the CRDs as objects or YAML (what
//! `tidegate crd` prints and `deploy/crds/` holds), and the rewrite of Argo Rollouts'
//! `argoproj.io/v1alpha1` manifests of the same kinds into tidegate's group.

mod analysis;
#[cfg(test)]
pub(crate) mod coverage;
mod experiment;
mod hashes;
mod plan;
mod providers;
mod rollout;
mod status;
mod workload;

use std::borrow::Cow;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

pub use analysis::{
    AnalysisPhase, AnalysisRun, AnalysisRunArgument, AnalysisRunSpec, AnalysisRunStatus,
    AnalysisTemplate, AnalysisTemplateSpec, Argument, ArgumentSource, Authentication,
    ClusterAnalysisTemplate, ClusterAnalysisTemplateSpec, DryRun, FieldRef, JobMetric,
    MEASUREMENT_ERROR_RETRY, Measurement, MeasurementRetention, Metric, MetricProvider,
    MetricResult, OAuth2Config, PodTemplateHashValue, PrometheusMetric, PrometheusRangeQuery,
    RolloutAnalysisRunStatus, RolloutArgumentSource, RunSummary, SecretKeyRef, SigV4Config,
    TtlStrategy, WebMetric, WebMetricHeader,
};
pub use experiment::{
    DEFAULT_PROGRESS_DEADLINE_SECONDS, DEFAULT_SCALE_DOWN_DELAY_SECONDS, Experiment,
    ExperimentAnalysis, ExperimentAnalysisRunStatus, ExperimentCondition, ExperimentSpec,
    ExperimentStatus, ExperimentTemplate, TemplatePhase, TemplateService, TemplateStatus,
};
pub use providers::{
    CloudWatchMetric, CloudWatchMetricDataQuery, CloudWatchMetricStat, CloudWatchMetricStatMetric,
    CloudWatchMetricStatMetricDimension, DatadogMetric, GraphiteMetric, InfluxdbMetric,
    KayentaMetric, KayentaScope, KayentaThreshold, NewRelicMetric, ProviderSecretRef, ScopeDetail,
    SkyWalkingMetric, WavefrontMetric,
};
pub use rollout::{
    AnalysisRunStrategy, AntiAffinity, BlueGreenStatus, BlueGreenStrategy, CanaryStatus,
    CanaryStep, CanaryStrategy, ManagedRoute, ObjectRef, PauseCondition, PauseReason, PendingEvent,
    Phase, PingPongSpec, PodTemplateMetadata, PreferredAntiAffinity, ReplicaProgressThreshold,
    RequiredAntiAffinity, RollbackWindowSpec, Rollout, RolloutAnalysis, RolloutAnalysisBackground,
    RolloutAnalysisTemplate, RolloutCondition, RolloutExperimentAnalysis, RolloutExperimentStep,
    RolloutExperimentTemplate, RolloutPause, RolloutSpec, RolloutStatus, RolloutStrategy,
    RolloutTrafficRouting, SetCanaryScale, SpecRef, TrafficWeights, WeightDestination, images,
};

/// The API group of tidegate's resources.
pub const GROUP: &str = "tidegate.dev";

/// The API version of tidegate's resources, `tidegate.dev/v1alpha1`.
pub const API_VERSION: &str = "tidegate.dev/v1alpha1";

/// The Argo Rollouts API version whose manifests tidegate accepts unchanged.
pub const ARGO_API_VERSION: &str = "argoproj.io/v1alpha1";

/// The kinds tidegate owns, in both groups.
pub const KINDS: [&str; 5] = [
    "Rollout",
    "AnalysisTemplate",
    "ClusterAnalysisTemplate",
    "AnalysisRun",
    "Experiment",
];

/// The CustomResourceDefinitions of every kind tidegate owns, in [`KINDS`] order.
#[must_use]
pub fn definitions() -> Vec<CustomResourceDefinition> {
    vec![
        Rollout::crd(),
        AnalysisTemplate::crd(),
        ClusterAnalysisTemplate::crd(),
        AnalysisRun::crd(),
        Experiment::crd(),
    ]
}

/// A CRD as the YAML document `deploy/crds/<name>.yaml` holds.
pub fn to_yaml(definition: &CustomResourceDefinition) -> Result<String, serde_saphyr::ser::Error> {
    serde_saphyr::to_string(definition)
}

/// The `apiVersion` tidegate stores an object of `kind` under: Argo Rollouts' kinds move from
/// `argoproj.io/v1alpha1` to `tidegate.dev/v1alpha1`; everything else keeps its own.
#[must_use]
pub fn translated_api_version<'a>(api_version: &'a str, kind: &str) -> &'a str {
    if api_version == ARGO_API_VERSION && KINDS.contains(&kind) {
        API_VERSION
    } else {
        api_version
    }
}

/// A part of an Argo spec that tidegate stores as given but does not interpret (traffic routers,
/// providers and step types it does not implement yet). Any JSON object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Opaque(pub serde_json::Map<String, serde_json::Value>);

impl JsonSchema for Opaque {
    fn schema_name() -> Cow<'static, str> {
        "Opaque".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
    }
}

/// The schema of an embedded Kubernetes type (a pod template, a Job spec) without its
/// descriptions: they are Kubernetes' own documentation, and would make each CRD five times
/// larger. Our own fields keep theirs, for `kubectl explain`.
fn undocumented<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                // A property named "description" is an object, not a string: keep it.
                map.retain(|key, value| key != "description" || !value.is_string());
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::Value::from(generator.subschema_for::<T>());
    strip(&mut value);
    Schema::try_from(value).expect("a schema stays a JSON object when descriptions are removed")
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(value: &bool) -> bool {
    !*value
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(value: &i32) -> bool {
    *value == 0
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

#[cfg(test)]
mod tests;
