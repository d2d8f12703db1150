//! The analysis custom resources: `AnalysisTemplate`, `ClusterAnalysisTemplate` and
//! `AnalysisRun`, with Argo Rollouts' `v1alpha1` field names, under group `tidegate.dev`.
//!
//! Every Argo metric provider's spec is typed (the hosted ones in
//! [`providers`](super::providers)) but plugins', kept as an opaque object so manifests are
//! stored unchanged.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::JobSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Opaque, is_false, is_zero, undocumented};
pub use crate::model::AnalysisPhase;

/// Metrics and arguments from which AnalysisRuns are made, in one namespace.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "tidegate.dev",
    version = "v1alpha1",
    kind = "AnalysisTemplate",
    doc = "Metrics and arguments from which AnalysisRuns are made, in one namespace.",
    namespaced,
    shortname = "at",
    category = "tidegate",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplateSpec {
    /// The metrics to measure (at least one, here or in the templates it includes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// Arguments the metrics refer to as `{{args.<name>}}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Argument>,
    /// Metrics whose results are recorded but never fail the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRun>,
    /// How many measurements to keep per metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<MeasurementRetention>,
    /// Other templates whose metrics, arguments, dry-run and retention settings this one
    /// includes (Argo's template composition).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<super::RolloutAnalysisTemplate>,
}

/// The same as an AnalysisTemplate, usable from every namespace.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "tidegate.dev",
    version = "v1alpha1",
    kind = "ClusterAnalysisTemplate",
    doc = "Metrics and arguments from which AnalysisRuns are made, usable from every namespace.",
    shortname = "cat",
    category = "tidegate",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
pub struct ClusterAnalysisTemplateSpec {
    /// The template, as in an AnalysisTemplate.
    #[serde(flatten)]
    pub template: AnalysisTemplateSpec,
}

/// One analysis in progress or finished: the metrics of its templates with arguments resolved.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "tidegate.dev",
    version = "v1alpha1",
    kind = "AnalysisRun",
    doc = "One analysis in progress or finished: its metrics, arguments and measurements.",
    namespaced,
    status = "AnalysisRunStatus",
    shortname = "ar",
    category = "tidegate",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.phase","description":"AnalysisRun status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunSpec {
    /// The metrics to measure (at least one).
    #[schemars(length(min = 1))]
    pub metrics: Vec<Metric>,
    /// The arguments, with their values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Argument>,
    /// Stop measuring (the rollout no longer needs the result).
    #[serde(default, skip_serializing_if = "is_false")]
    pub terminate: bool,
    /// Metrics whose results are recorded but never fail the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRun>,
    /// How many measurements to keep per metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<MeasurementRetention>,
    /// When a finished run is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_strategy: Option<TtlStrategy>,
}

/// A metric: what to measure, how often, and what counts as success.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    /// Name of the metric, unique within the run.
    pub name: String,
    /// Time between measurements (`30s`, `5m`, `1h`); absent means a single measurement.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interval: String,
    /// Time to wait after the run starts before the first measurement.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub initial_delay: String,
    /// Number of measurements; with only `interval` set the metric runs until terminated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<IntOrString>,
    /// Expression over `result` that makes a measurement Successful.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub success_condition: String,
    /// Expression over `result` that makes a measurement Failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub failure_condition: String,
    /// Failed measurements tolerated before the metric fails; defaults to 0; -1 disables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_limit: Option<IntOrString>,
    /// Inconclusive measurements tolerated before the metric is Inconclusive; defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive_limit: Option<IntOrString>,
    /// Consecutive errors tolerated before the metric is Error; defaults to 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_error_limit: Option<IntOrString>,
    /// Consecutive successes after which the metric is Successful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_success_limit: Option<IntOrString>,
    /// Where the measurement comes from; exactly one provider.
    pub provider: MetricProvider,
}

/// The system a metric is measured in. Exactly one field is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricProvider {
    /// A PromQL query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusMetric>,
    /// An HTTP endpoint whose JSON answer is the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebMetric>,
    /// A Kubernetes Job whose success or failure is the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobMetric>,
    /// Kayenta canary analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kayenta: Option<super::providers::KayentaMetric>,
    /// Datadog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datadog: Option<super::providers::DatadogMetric>,
    /// Wavefront.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wavefront: Option<super::providers::WavefrontMetric>,
    /// New Relic NRQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_relic: Option<super::providers::NewRelicMetric>,
    /// Amazon CloudWatch `GetMetricData`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch: Option<super::providers::CloudWatchMetric>,
    /// Graphite's render API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphite: Option<super::providers::GraphiteMetric>,
    /// InfluxDB v2 Flux.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub influxdb: Option<super::providers::InfluxdbMetric>,
    /// Apache SkyWalking GraphQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skywalking: Option<super::providers::SkyWalkingMetric>,
    /// A metric provider plugin (refused: tidegate runs no plugin binaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<Opaque>,
}

/// A Prometheus instant query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusMetric {
    /// Base URL of the Prometheus server.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// The PromQL query; `{{args.<name>}}` is replaced by the argument.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// How to authenticate to the server: `oauth2` (client credentials); `sigv4` is not
    /// supported by tidegate yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    /// Query timeout in seconds; defaults to 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Skip TLS verification of the server.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// Extra HTTP headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<WebMetricHeader>,
    /// Query a range instead of an instant: every sample in the range becomes `result`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_query: Option<PrometheusRangeQuery>,
}

/// A Prometheus range query: `start` and `end` are expr-lang expressions giving times
/// (`now() - duration("5m")`, `now()`), `step` a duration (`30s`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PrometheusRangeQuery {
    /// When the range starts.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start: String,
    /// When the range ends.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub end: String,
    /// The resolution.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub step: String,
}

/// An HTTP request whose answer is the measurement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebMetric {
    /// GET (default), POST or PUT.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// The URL to request.
    pub url: String,
    /// Extra HTTP headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<WebMetricHeader>,
    /// Request body (POST and PUT).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Timeout in seconds; defaults to 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// JSONPath into the answer that selects the result; defaults to `{$}`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub json_path: String,
    /// Skip TLS verification of the server.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// Request body as a JSON object (POST and PUT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_body: Option<Opaque>,
    /// How to authenticate to the server: `oauth2` (client credentials); `sigv4` is not
    /// supported by tidegate yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
}

/// A provider's authentication to its server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Authentication {
    /// OAuth2 client credentials: a token is fetched from `tokenUrl` for each measurement and
    /// sent as `Authorization: Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2Config>,
    /// AWS Signature Version 4 (Amazon Managed Prometheus): Prometheus requests are signed
    /// with the daemon's AWS credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigv4: Option<SigV4Config>,
}

/// AWS SigV4 settings, as Argo's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigV4Config {
    /// The AWS region (default: `AWS_REGION`, then `AWS_DEFAULT_REGION`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// The profile of the shared credentials file (default: `AWS_PROFILE`, then `default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// A role to assume (STS `AssumeRole`, with the daemon's credentials) for the queries.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role_arn: String,
}

/// OAuth2 client-credentials settings (RFC 6749, section 4.4).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2Config {
    /// The authorization server's token endpoint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_url: String,
    /// The client's identifier.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_id: String,
    /// The client's secret; use an argument from a Secret (`{{args.client-secret}}`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_secret: String,
    /// Scopes to ask for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// Never shows the secret.
impl std::fmt::Debug for OAuth2Config {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OAuth2Config")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// An HTTP header of a web or Prometheus request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WebMetricHeader {
    /// Header name.
    pub key: String,
    /// Header value.
    pub value: String,
}

/// A Job that is the measurement: Complete is Successful, Failed is Failed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobMetric {
    /// Labels and annotations of the Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "undocumented::<Option<ObjectMeta>>")]
    pub metadata: Option<ObjectMeta>,
    /// The Job's spec.
    #[schemars(schema_with = "undocumented::<JobSpec>")]
    pub spec: JobSpec,
}

/// A metric run in dry-run mode.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    /// Name of the metric, or `*` for all.
    pub metric_name: String,
}

/// How many measurements of a metric to keep.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeasurementRetention {
    /// Name of the metric, or `*` for all.
    pub metric_name: String,
    /// Measurements to keep.
    pub limit: i32,
}

/// An argument of a template or run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Argument {
    /// Name, referred to as `{{args.<name>}}`.
    pub name: String,
    /// The value; absent in a template means the Rollout must supply it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where the value comes from instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ArgumentSource>,
}

/// Where an argument of a template gets its value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArgumentSource {
    /// A key of a Secret in the run's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeyRef>,
    /// A field of the Rollout, such as `metadata.labels['app']`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<FieldRef>,
}

/// A key of a Secret.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretKeyRef {
    /// Name of the Secret.
    pub name: String,
    /// Key within the Secret.
    pub key: String,
}

/// A field path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldRef {
    /// Path of the field, such as `metadata.name`.
    pub field_path: String,
}

/// An argument passed by a Rollout to an AnalysisRun.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunArgument {
    /// Name of the template argument.
    pub name: String,
    /// A literal value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Where the value comes from instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<RolloutArgumentSource>,
}

/// Where an argument passed by a Rollout gets its value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutArgumentSource {
    /// The pod-template hash of the `Stable` or `Latest` ReplicaSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template_hash_value: Option<PodTemplateHashValue>,
    /// A field of the Rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<FieldRef>,
}

/// Which ReplicaSet's pod-template hash an argument takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PodTemplateHashValue {
    /// The stable ReplicaSet.
    Stable,
    /// The newest ReplicaSet (the canary or preview).
    Latest,
}

/// Outcome of an AnalysisRun so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunStatus {
    /// Pending, Running, Successful, Failed, Error or Inconclusive.
    pub phase: AnalysisPhase,
    /// Why the run is in its phase.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Per-metric results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_results: Vec<MetricResult>,
    /// When the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
    /// Totals over the metrics that count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_summary: Option<RunSummary>,
    /// Totals over the dry-run metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run_summary: Option<RunSummary>,
}

/// How long a finished run is kept, by how it ended (Argo's `ttlStrategy`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TtlStrategy {
    /// Seconds after it finished, whatever its phase (unless a rule below applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_after_completion: Option<i32>,
    /// Seconds after it Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_after_failure: Option<i32>,
    /// Seconds after it was Successful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_after_success: Option<i32>,
}

/// Metric totals of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunSummary {
    /// Metrics measured.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: i32,
    /// Metrics Successful.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub successful: i32,
    /// Metrics Failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: i32,
    /// Metrics Inconclusive.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inconclusive: i32,
    /// Metrics in Error.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error: i32,
}

/// The measurements of one metric and their counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricResult {
    /// Name of the metric.
    pub name: String,
    /// The metric's phase.
    pub phase: AnalysisPhase,
    /// The most recent measurements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measurement>,
    /// Why the metric is in its phase.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Measurements without error (Successful + Failed + Inconclusive).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: i32,
    /// Successful measurements.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub successful: i32,
    /// Failed measurements.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: i32,
    /// Inconclusive measurements.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inconclusive: i32,
    /// Measurements that errored.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error: i32,
    /// Errors in a row; reset by any other outcome.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consecutive_error: i32,
    /// Successes in a row; reset by any other outcome.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consecutive_success: i32,
    /// The metric runs in dry-run mode.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
    /// Provider data, such as the resolved query.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// One measurement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    /// Outcome of the measurement.
    pub phase: AnalysisPhase,
    /// Detail, such as an error message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When the measurement started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the value was collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// The measured value, as text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Provider data, such as a Job name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// When a running measurement should be checked again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_at: Option<Time>,
}

/// The state of an AnalysisRun as the Rollout records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RolloutAnalysisRunStatus {
    /// Name of the AnalysisRun.
    pub name: String,
    /// Its phase.
    pub status: AnalysisPhase,
    /// Its message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// How long after an errored measurement the next one is taken (Argo's default).
pub const MEASUREMENT_ERROR_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

impl AnalysisRunSpec {
    /// Whether metric `name` is a dry run: a `dryRun` rule's `metricName` matches it.
    #[must_use]
    pub fn is_dry_run(&self, name: &str) -> bool {
        self.dry_run
            .iter()
            .any(|dry| rule_matches(&dry.metric_name, name))
    }

    /// How many measurements of metric `name` to keep: the limit of the last
    /// `measurementRetention` rule matching it, as Argo takes it.
    #[must_use]
    pub fn retention_of(&self, name: &str) -> Option<i32> {
        self.measurement_retention
            .iter()
            .rfind(|retention| rule_matches(&retention.metric_name, name))
            .map(|retention| retention.limit)
    }

    /// Argo's refusal of rules that match no metric (`dryRun[0]: Rule didn't match any metric
    /// name(s)`), with each rule's field: a run with one is an Error, as in Argo.
    #[must_use]
    pub fn unmatched_rules(&self) -> Vec<(String, String)> {
        let names: Vec<&str> = self
            .metrics
            .iter()
            .map(|metric| metric.name.as_str())
            .collect();
        let unmatched = |field: &str, rules: Vec<&str>| -> Vec<(String, String)> {
            rules
                .into_iter()
                .enumerate()
                .filter(|(_, rule)| !names.iter().any(|name| rule_matches(rule, name)))
                .map(|(index, _)| {
                    (
                        format!("spec.{field}[{index}].metricName"),
                        format!("{field}[{index}]: Rule didn't match any metric name(s)"),
                    )
                })
                .collect()
        };
        let dry_run = self
            .dry_run
            .iter()
            .map(|rule| rule.metric_name.as_str())
            .collect();
        let retention = self
            .measurement_retention
            .iter()
            .map(|rule| rule.metric_name.as_str())
            .collect();
        let mut found = unmatched("dryRun", dry_run);
        found.extend(unmatched("measurementRetention", retention));
        found
    }
}

/// Whether a `dryRun` or `measurementRetention` rule's `metricName` matches metric `name`: as
/// in Argo, a regular expression found anywhere in the name (`.*`, `^error-`, `latency`);
/// tidegate also takes `*` for every metric. A rule that is not a valid expression matches
/// its exact name only.
fn rule_matches(rule: &str, name: &str) -> bool {
    rule == "*"
        || rule == name
        || regex::Regex::new(rule).is_ok_and(|expression| expression.is_match(name))
}

impl AnalysisRun {
    /// By when the analysis controller should next write to this run, or `None` once it
    /// completed or when that cannot be told (an interval given by an argument): the run's
    /// creation until it started, then the earliest due measurement of its metrics — after
    /// the initial delay, after the interval (10 s after an error), or when an in-flight
    /// measurement is to be looked at again. A run far past this time has stalled.
    #[must_use]
    pub fn expected_by(&self) -> Option<jiff::Timestamp> {
        let status = self.status.as_ref();
        if status.is_some_and(|status| status.phase.is_completed()) {
            return None;
        }
        let Some(started) = status.and_then(|status| status.started_at.as_ref()) else {
            return self.metadata.creation_timestamp.as_ref().map(|time| time.0);
        };
        let duration = |text: &str| -> Option<std::time::Duration> {
            if text.is_empty() {
                Some(std::time::Duration::ZERO)
            } else {
                crate::model::parse_go_duration(text).ok()
            }
        };
        let results = status
            .map(|status| status.metric_results.as_slice())
            .unwrap_or_default();
        self.spec
            .metrics
            .iter()
            .filter_map(|metric| {
                let result = results.iter().find(|result| result.name == metric.name);
                if result.is_some_and(|result| result.phase.is_completed()) {
                    return None;
                }
                let Some(last) = result.and_then(|result| result.measurements.last()) else {
                    return Some(started.0 + duration(&metric.initial_delay)?);
                };
                if last.phase == AnalysisPhase::Running {
                    return last
                        .resume_at
                        .as_ref()
                        .or(last.started_at.as_ref())
                        .map(|time| time.0);
                }
                let finished = last.finished_at.as_ref().or(last.started_at.as_ref())?.0;
                let wait = if last.phase == AnalysisPhase::Error {
                    MEASUREMENT_ERROR_RETRY
                } else {
                    duration(&metric.interval)?
                };
                Some(finished + wait)
            })
            .min()
    }
}
