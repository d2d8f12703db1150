//! The specs of Argo's hosted metric providers — Datadog, New Relic, CloudWatch, Graphite,
//! InfluxDB, Wavefront, Kayenta, SkyWalking — with Argo's field names, so their manifests are
//! accepted unchanged. `docs/analysis.md` says how each is measured.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::is_false;

/// A Datadog query (`/api/v1/query`) or queries with a formula (`/api/v2/query/scalar`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatadogMetric {
    /// How far back the query looks (`5m` by default).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interval: String,
    /// The query (v1 or v2).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// Named queries for `formula` (v2 only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub queries: BTreeMap<String, String>,
    /// A formula over `queries` (`a / b`; v2 only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub formula: String,
    /// `v1` (default) or `v2`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// How v2 reduces each series to one value: `last` (default), `avg`, `min`, `max`, `sum`,
    /// `mean`, `l2norm`, `area`, `percentile`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub aggregator: String,
    /// The Secret with `api-key`, `app-key` and optionally `address` (default: `datadog` in
    /// the daemon's namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<ProviderSecretRef>,
}

/// Which Secret holds a provider's credentials.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderSecretRef {
    /// The Secret's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Read it from the AnalysisRun's namespace instead of the daemon's.
    #[serde(default, skip_serializing_if = "is_false")]
    pub namespaced: bool,
}

/// A New Relic NRQL query over NerdGraph.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NewRelicMetric {
    /// The Secret with the account's settings (default `newrelic`, in the daemon's namespace).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// The NRQL query.
    #[serde(default)]
    pub query: String,
}

/// Amazon CloudWatch `GetMetricData` queries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchMetric {
    /// How far back the queries look (`5m` by default).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interval: String,
    /// The queries, as `GetMetricData` takes them.
    #[serde(default)]
    pub metric_data_queries: Vec<CloudWatchMetricDataQuery>,
}

/// One `MetricDataQuery`: a metric (`metricStat`) or an expression over others.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchMetricDataQuery {
    /// The query's id (a lower-case letter, then letters, digits and `_`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// A metric math or Metrics Insights expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// A label for the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A metric and how to aggregate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<CloudWatchMetricStat>,
    /// The period in seconds of an expression's points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<IntOrString>,
    /// Whether the result is returned (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_data: Option<bool>,
}

/// A metric with its statistic, period and unit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchMetricStat {
    /// The metric.
    #[serde(default)]
    pub metric: CloudWatchMetricStatMetric,
    /// The period in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<IntOrString>,
    /// The statistic (`Sum`, `Average`, `p99`, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stat: String,
    /// The unit (`Count`, `Seconds`, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
}

/// A CloudWatch metric: namespace, name, dimensions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchMetricStatMetric {
    /// The dimensions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<CloudWatchMetricStatMetricDimension>,
    /// The metric's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metric_name: String,
    /// The metric's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A dimension of a CloudWatch metric.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CloudWatchMetricStatMetricDimension {
    /// The dimension's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// A Graphite render API query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GraphiteMetric {
    /// Base URL of graphite-web (or another render API).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// The render query string: `target=…&from=-5min`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
}

/// An InfluxDB v2 Flux query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InfluxdbMetric {
    /// The Secret with `address`, `authToken` and `org` (default `influxdb`, in the daemon's
    /// namespace).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// The Flux query.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
}

/// A Wavefront (VMware Aria Operations for Applications) query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WavefrontMetric {
    /// The Wavefront host (`example.wavefront.com`); its token is the key of that name in the
    /// `wavefront-api-tokens` Secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// The WQL query.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
}

/// An Apache SkyWalking GraphQL query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SkyWalkingMetric {
    /// Base URL of the OAP server (`http://skywalking-oap.skywalking:12800`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// The GraphQL query; it receives `$duration: Duration!`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// How far back `$duration` starts (`5m`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interval: String,
}

/// A Kayenta canary analysis: a canary config judged over control and experiment scopes.
/// Every field is required, as in Argo's CRD.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KayentaMetric {
    /// Base URL of Kayenta.
    pub address: String,
    /// The application the canary config belongs to.
    pub application: String,
    /// The canary config's name.
    pub canary_config_name: String,
    /// Kayenta's metrics account.
    pub metrics_account_name: String,
    /// Kayenta's configuration account.
    pub configuration_account_name: String,
    /// Kayenta's storage account.
    pub storage_account_name: String,
    /// The scores that pass and that are marginal.
    pub threshold: KayentaThreshold,
    /// The scopes to compare.
    pub scopes: Vec<KayentaScope>,
}

/// Kayenta's score thresholds (0–100).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KayentaThreshold {
    /// A score at least this passes.
    pub pass: i64,
    /// A score at least this (and below `pass`) is Inconclusive; below it, Failed.
    pub marginal: i64,
}

/// A named pair of scopes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KayentaScope {
    /// The scope's name (`default`).
    pub name: String,
    /// The baseline.
    pub control_scope: ScopeDetail,
    /// The canary.
    pub experiment_scope: ScopeDetail,
}

/// One side of a Kayenta scope.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScopeDetail {
    /// The scope expression (`app=web and rollouts-pod-template-hash=…`).
    pub scope: String,
    /// The region (or location).
    pub region: String,
    /// The step in seconds.
    pub step: i64,
    /// When the scope starts (RFC 3339).
    pub start: String,
    /// When it ends (RFC 3339).
    pub end: String,
}
