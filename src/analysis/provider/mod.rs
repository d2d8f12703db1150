//! Metric providers behind one trait: Prometheus queries, web endpoints, Kubernetes Jobs and
//! hosted metrics APIs (Datadog, New Relic, CloudWatch, InfluxDB, SkyWalking, Wavefront,
//! Graphite, Kayenta).
//!
//! In: a metric with its arguments substituted. Out: a value to judge with the metric's
//! conditions (Prometheus, web), or a verdict of its own (a Job). Every call has a timeout;
//! every URL passes the [`HostGuard`](super::guard::HostGuard) first.

mod cloudwatch;
mod datadog;
mod graphite;
mod influxdb;
mod job;
mod kayenta;
mod kept;
mod newrelic;
mod oauth2;
mod prometheus;
pub mod request;
pub mod retry;
pub mod secrets;
mod sigv4;
mod skywalking;
mod wavefront;
mod web;

pub use oauth2::TokenCache;
pub use sigv4::StsCache;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;

pub use cloudwatch::CloudWatchProvider;
pub use datadog::DatadogProvider;
pub use graphite::GraphiteProvider;
pub use influxdb::InfluxdbProvider;
pub use job::JobProvider;
pub use kayenta::KayentaProvider;
pub use newrelic::NewRelicProvider;
pub use prometheus::{PrometheusProvider, parse_response};
pub use skywalking::SkyWalkingProvider;
pub use wavefront::WavefrontProvider;
pub use web::{WebProvider, extract};

use super::condition::MetricValue;
use super::guard::HostGuard;
use crate::k8s::crd::{AnalysisRun, Measurement, Metric};
use crate::model::AnalysisPhase;

/// What a provider found.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A value for the metric's conditions to judge.
    Value(MetricValue),
    /// The provider's own verdict (a Job, a Kayenta judgement): Running means look again
    /// after `resume_after`.
    Verdict {
        /// The measurement's phase.
        phase: AnalysisPhase,
        /// What was measured (Kayenta's score), if anything.
        value: String,
        /// Why.
        message: String,
        /// What to remember between looks (the Job's name).
        metadata: BTreeMap<String, String>,
        /// When to look again, while Running.
        resume_after: Option<Duration>,
    },
}

/// What providers may use.
pub struct Context<'a> {
    /// The cluster.
    pub client: &'a kube::Client,
    /// The run being measured.
    pub run: &'a AnalysisRun,
    /// Which hosts may be reached.
    pub guard: &'a HostGuard,
    /// An HTTP client (TLS verification on).
    pub http: &'a reqwest::Client,
    /// An HTTP client that skips TLS verification, for metrics that say `insecure: true`.
    pub insecure_http: &'a reqwest::Client,
    /// OAuth2 tokens fetched and still valid.
    pub tokens: &'a oauth2::TokenCache,
    /// Temporary AWS credentials from STS, still valid.
    pub sts: &'a sigv4::StsCache,
    /// Where provider credentials (Datadog's, New Relic's, …) are read.
    pub secrets: &'a dyn secrets::SecretSource,
    /// The daemon's namespace, where those Secrets are unless a metric says otherwise.
    pub namespace: &'a str,
}

impl Context<'_> {
    /// The HTTP client for a metric: certificates verified unless it says `insecure`.
    #[must_use]
    pub fn http_client(&self, insecure: bool) -> &reqwest::Client {
        if insecure {
            self.insecure_http
        } else {
            self.http
        }
    }
}

/// A timeout in seconds from a metric, or `default` when absent or not positive.
#[must_use]
pub fn seconds_or(seconds: Option<i64>, default: Duration) -> Duration {
    seconds
        .and_then(|seconds| u64::try_from(seconds).ok())
        .filter(|seconds| *seconds > 0)
        .map_or(default, Duration::from_secs)
}

/// A metric provider.
pub trait Provider: Send + Sync {
    /// The provider's name, for metrics labels.
    fn name(&self) -> &'static str;

    /// Takes a measurement of `metric` (its `index`th), or continues `in_flight`.
    fn measure<'a>(
        &'a self,
        context: &'a Context<'a>,
        metric: &'a Metric,
        index: usize,
        in_flight: Option<&'a Measurement>,
    ) -> BoxFuture<'a, Result<Outcome, String>>;

    /// Stops an in-flight measurement (deletes its Job); returns its final form.
    fn terminate<'a>(
        &'a self,
        _context: &'a Context<'a>,
        _metric: &'a Metric,
        measurement: &'a Measurement,
    ) -> BoxFuture<'a, Measurement> {
        Box::pin(async move { measurement.clone() })
    }
}

/// The provider of `metric`, or why it cannot be measured.
pub fn for_metric(metric: &Metric) -> Result<Box<dyn Provider>, String> {
    let provider = &metric.provider;
    let set = [
        ("prometheus", provider.prometheus.is_some()),
        ("web", provider.web.is_some()),
        ("job", provider.job.is_some()),
        ("kayenta", provider.kayenta.is_some()),
        ("datadog", provider.datadog.is_some()),
        ("wavefront", provider.wavefront.is_some()),
        ("newRelic", provider.new_relic.is_some()),
        ("cloudWatch", provider.cloud_watch.is_some()),
        ("graphite", provider.graphite.is_some()),
        ("influxdb", provider.influxdb.is_some()),
        ("skywalking", provider.skywalking.is_some()),
        ("plugin", provider.plugin.is_some()),
    ];
    let named: Vec<&str> = set
        .iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect();
    check_authentication(provider)
        .map_err(|problem| format!("metric {:?}: {problem}", metric.name))?;
    match named.as_slice() {
        ["prometheus"] => Ok(Box::new(PrometheusProvider)),
        ["web"] => Ok(Box::new(WebProvider)),
        ["job"] => Ok(Box::new(JobProvider)),
        ["datadog"] => checked(
            metric,
            provider.datadog.as_ref(),
            datadog::check,
            DatadogProvider,
        ),
        ["cloudWatch"] => checked(
            metric,
            provider.cloud_watch.as_ref(),
            cloudwatch::check,
            CloudWatchProvider,
        ),
        ["influxdb"] => checked(
            metric,
            provider.influxdb.as_ref(),
            influxdb::check,
            InfluxdbProvider,
        ),
        ["newRelic"] => checked(
            metric,
            provider.new_relic.as_ref(),
            newrelic::check,
            NewRelicProvider,
        ),
        ["skywalking"] => checked(
            metric,
            provider.skywalking.as_ref(),
            skywalking::check,
            SkyWalkingProvider,
        ),
        ["kayenta"] => checked(
            metric,
            provider.kayenta.as_ref(),
            kayenta::check,
            KayentaProvider,
        ),
        ["wavefront"] => checked(
            metric,
            provider.wavefront.as_ref(),
            wavefront::check,
            WavefrontProvider,
        ),
        ["graphite"] => checked(
            metric,
            provider.graphite.as_ref(),
            graphite::check,
            GraphiteProvider,
        ),
        [] => Err(format!("metric {:?} has no provider", metric.name)),
        ["plugin"] => Err(format!(
            "metric {:?}: provider \"plugin\" is not supported by tidegate: it runs no plugin binaries",
            metric.name
        )),
        [other] => Err(format!(
            "metric {:?}: provider {other:?} is not supported by tidegate yet",
            metric.name
        )),
        several => Err(format!(
            "metric {:?} has more than one provider: {}",
            metric.name,
            several.join(", ")
        )),
    }
}

/// `provider` for `metric` once `check` accepts its `spec`, else the problem, naming the metric.
fn checked<S>(
    metric: &Metric,
    spec: Option<&S>,
    check: fn(&S) -> Result<(), String>,
    provider: impl Provider + 'static,
) -> Result<Box<dyn Provider>, String> {
    let spec = spec.expect("the provider named is set");
    check(spec).map_err(|problem| format!("metric {:?}: {problem}", metric.name))?;
    Ok(Box::new(provider))
}

/// Why a provider's `authentication` cannot be used, if it cannot: OAuth2 for Prometheus and
/// web, SigV4 for Prometheus only, never both.
fn check_authentication(provider: &crate::k8s::crd::MetricProvider) -> Result<(), String> {
    let prometheus = provider
        .prometheus
        .as_ref()
        .and_then(|prometheus| prometheus.authentication.as_ref());
    let web = provider
        .web
        .as_ref()
        .and_then(|web| web.authentication.as_ref());
    if web.is_some_and(|web| web.sigv4.is_some()) {
        return Err("authentication.sigv4 signs Prometheus queries only".to_owned());
    }
    if let Some(authentication) = prometheus {
        if authentication.oauth2.is_some() && authentication.sigv4.is_some() {
            return Err("authentication: oauth2 and sigv4 cannot both be set".to_owned());
        }
        if let Some(sigv4) = &authentication.sigv4 {
            sigv4::check(sigv4)?;
        }
    }
    oauth2::check(prometheus.or(web))
}

/// The host of `url` for messages (never the whole URL, which may carry credentials), empty
/// when it has none.
#[must_use]
pub fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(ToOwned::to_owned))
        .unwrap_or_default()
}

/// Largest response body a provider reads.
const MAX_BODY_BYTES: usize = 4 << 20;

/// The body of `response` as text, refusing more than [`MAX_BODY_BYTES`].
pub async fn read_body(mut response: reqwest::Response, host: &str) -> Result<String, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| format!("read the response of {host}: {}", error.without_url()))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(format!(
                "the response of {host} is larger than {MAX_BODY_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| format!("the response of {host} is not UTF-8"))
}

/// Runs `future` for at most `timeout`.
pub async fn with_timeout<T>(
    timeout: Duration,
    what: &str,
    future: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(timeout, future)
        .await
        .unwrap_or_else(|_| Err(format!("{what} timed out after {}s", timeout.as_secs())))
}

/// What a provider's unit test needs for a [`Context`]: loopback (`127.0.0.1`) allowed, a
/// cluster client that is never reached.
#[cfg(test)]
pub(super) struct Harness {
    client: kube::Client,
    run: AnalysisRun,
    guard: HostGuard,
    http: reqwest::Client,
    insecure_http: reqwest::Client,
    tokens: oauth2::TokenCache,
    sts: sigv4::StsCache,
    pub(super) secrets: secrets::Fixed,
}

#[cfg(test)]
impl Harness {
    /// Must be called in a Tokio runtime.
    pub(super) fn new() -> Self {
        let config = kube::Config::new("http://127.0.0.1:1".parse().expect("a URL"));
        Self {
            client: kube::Client::try_from(config).expect("a client"),
            run: serde_json::from_value(serde_json::json!({
                "metadata": {"name": "r"}, "spec": {"metrics": []}
            }))
            .expect("a run"),
            guard: HostGuard::new(&["127.0.0.1/32"]).expect("a guard"),
            http: reqwest::Client::new(),
            insecure_http: reqwest::Client::new(),
            tokens: oauth2::TokenCache::default(),
            sts: sigv4::StsCache::default(),
            secrets: secrets::Fixed::default(),
        }
    }

    pub(super) fn context(&self) -> Context<'_> {
        Context {
            client: &self.client,
            run: &self.run,
            guard: &self.guard,
            http: &self.http,
            insecure_http: &self.insecure_http,
            tokens: &self.tokens,
            sts: &self.sts,
            secrets: &self.secrets,
            namespace: HARNESS_NAMESPACE,
        }
    }
}

/// The daemon's namespace in a [`Harness`].
#[cfg(test)]
pub(super) const HARNESS_NAMESPACE: &str = "tidegate-system";

/// A metric from its JSON form.
#[cfg(test)]
pub(super) fn metric(json: serde_json::Value) -> Metric {
    serde_json::from_value(json).expect("a valid metric")
}

#[cfg(test)]
mod coverage;

#[cfg(test)]
mod guarantees;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_host_only() {
        assert_eq!(
            host_of("https://user:pw@metrics.test:9090/q?token=x"),
            "metrics.test"
        );
        assert_eq!(host_of("not a url"), "");
    }

    #[test]
    fn timeouts_fall_back_unless_positive() {
        let default = Duration::from_secs(30);
        assert_eq!(seconds_or(None, default), default);
        assert_eq!(seconds_or(Some(0), default), default);
        assert_eq!(seconds_or(Some(-5), default), default);
        assert_eq!(seconds_or(Some(1), default), Duration::from_secs(1));
        assert_eq!(seconds_or(Some(90), default), Duration::from_secs(90));
    }

    #[test]
    fn providers_are_named_for_their_metrics_labels() {
        let names: Vec<&str> = [
            &PrometheusProvider as &dyn Provider,
            &WebProvider,
            &JobProvider,
            &DatadogProvider,
            &NewRelicProvider,
            &CloudWatchProvider,
            &InfluxdbProvider,
            &SkyWalkingProvider,
            &WavefrontProvider,
            &GraphiteProvider,
            &KayentaProvider,
        ]
        .iter()
        .map(|provider| provider.name())
        .collect();
        assert_eq!(
            names,
            [
                "prometheus",
                "web",
                "job",
                "datadog",
                "newRelic",
                "cloudWatch",
                "influxdb",
                "skywalking",
                "wavefront",
                "graphite",
                "kayenta"
            ]
        );
    }

    #[tokio::test]
    async fn only_an_insecure_metric_gets_the_client_that_skips_tls_verification() {
        let harness = Harness::new();
        let context = harness.context();
        assert!(std::ptr::eq(
            context.http_client(false),
            &raw const harness.http
        ));
        assert!(std::ptr::eq(
            context.http_client(true),
            &raw const harness.insecure_http
        ));
    }

    fn response(length: usize) -> reqwest::Response {
        reqwest::Response::from(http::Response::new(vec![b'a'; length]))
    }

    #[tokio::test]
    async fn bodies_up_to_the_limit_are_read_and_larger_ones_refused() {
        assert_eq!(MAX_BODY_BYTES, 4 * 1024 * 1024);
        let at_limit = read_body(response(MAX_BODY_BYTES), "metrics.test").await;
        assert_eq!(at_limit.map(|body| body.len()), Ok(MAX_BODY_BYTES));
        assert_eq!(
            read_body(response(MAX_BODY_BYTES + 1), "metrics.test").await,
            Err(format!(
                "the response of metrics.test is larger than {MAX_BODY_BYTES} bytes"
            ))
        );
        let not_text = reqwest::Response::from(http::Response::new(vec![0xff, 0xfe]));
        assert_eq!(
            read_body(not_text, "metrics.test").await,
            Err("the response of metrics.test is not UTF-8".to_owned())
        );
    }
}
