//! A run's arguments: plain values, values read from Secrets when measuring (never stored),
//! and `{{args.name}}` substituted into a metric. Secret values are also what [`Args::redact`]
//! removes from every message before it reaches the status, an Event or a log.

use std::collections::BTreeMap;
use std::fmt::Write;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt};

use crate::k8s::crd::{AnalysisRun, Argument, Metric};

/// An argument could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// The run is wrong (no value, no such Secret or key): it cannot be measured.
    #[error("{0}")]
    Invalid(String),
    /// The apiserver could not answer now; try again.
    #[error("{0}")]
    Unavailable(String),
}

/// Arguments with their values.
#[derive(Clone, Debug, Default)]
pub struct Args {
    values: BTreeMap<String, String>,
    secrets: Vec<String>,
}

impl Args {
    /// Arguments from plain values only (tests, and runs without secrets).
    #[must_use]
    pub fn from_values(values: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            values: values.into_iter().collect(),
            secrets: Vec::new(),
        }
    }

    /// Resolves `run`'s arguments: values as given, `secretKeyRef` from Secrets in the run's
    /// namespace, `fieldRef` from the run's own metadata.
    pub async fn resolve(client: &Client, run: &AnalysisRun) -> Result<Self, ArgsError> {
        let mut args = Self::default();
        let namespace = run.namespace().unwrap_or_default();
        for argument in &run.spec.args {
            let value = resolve_one(client, &namespace, run, argument, &mut args.secrets).await?;
            args.values.insert(argument.name.clone(), value);
        }
        Ok(args)
    }

    /// `metric` with every `{{args.name}}` replaced, or the first argument it names that has
    /// no value.
    pub fn substitute(&self, metric: &Metric) -> Result<Metric, String> {
        let text = serde_json::to_string(metric).expect("metrics serialize");
        // One pass over the original text: a value that itself contains `{{args.x}}` stays
        // as it is rather than expanding (into a secret, say).
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find("{{args.") {
            out.push_str(&rest[..start]);
            let after = &rest[start + "{{args.".len()..];
            let Some(end) = after.find("}}") else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            let value = self.values.get(name).ok_or_else(|| {
                format!(
                    "metric {:?} uses argument {name:?}, which the run does not define",
                    metric.name
                )
            })?;
            let escaped = serde_json::to_string(value).expect("strings serialize");
            out.push_str(&escaped[1..escaped.len() - 1]);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        serde_json::from_str(&out).map_err(|error| {
            format!(
                "metric {:?} after substituting arguments: {error}",
                metric.name
            )
        })
    }

    /// `text` with every secret value — as is, percent-encoded (in a URL) and JSON-escaped —
    /// replaced by `*****`.
    #[must_use]
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in self.secrets.iter().filter(|secret| !secret.is_empty()) {
            let escaped = serde_json::to_string(secret).expect("strings serialize");
            for form in [
                secret.clone(),
                percent_encoded(secret),
                escaped[1..escaped.len() - 1].to_owned(),
            ] {
                text = text.replace(&form, "*****");
            }
        }
        text
    }
}

/// `text` as a URL carries it: every byte but the unreserved ones as `%XX`.
fn percent_encoded(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

async fn resolve_one(
    client: &Client,
    namespace: &str,
    run: &AnalysisRun,
    argument: &Argument,
    secrets: &mut Vec<String>,
) -> Result<String, ArgsError> {
    let name = &argument.name;
    if let Some(value) = &argument.value {
        return Ok(value.clone());
    }
    let Some(source) = &argument.value_from else {
        return Err(ArgsError::Invalid(format!(
            "argument {name:?} has no value"
        )));
    };
    if let Some(reference) = &source.secret_key_ref {
        let secret = Api::<Secret>::namespaced(client.clone(), namespace)
            .get(&reference.name)
            .await
            .map_err(|error| {
                let message = format!(
                    "argument {name:?}: read Secret {}: {}",
                    reference.name,
                    crate::k8s::describe_error(&error)
                );
                if crate::k8s::is_transient(&error) {
                    ArgsError::Unavailable(message)
                } else {
                    ArgsError::Invalid(message)
                }
            })?;
        let bytes = secret
            .data
            .as_ref()
            .and_then(|data| data.get(&reference.key))
            .map(|bytes| bytes.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|data| data.get(&reference.key))
                    .map(|text| text.clone().into_bytes())
            })
            .ok_or_else(|| {
                ArgsError::Invalid(format!(
                    "argument {name:?}: Secret {} has no key {:?}",
                    reference.name, reference.key
                ))
            })?;
        let value = String::from_utf8(bytes).map_err(|_| {
            ArgsError::Invalid(format!(
                "argument {name:?}: Secret {} key {:?} is not UTF-8",
                reference.name, reference.key
            ))
        })?;
        secrets.push(value.clone());
        return Ok(value);
    }
    if let Some(field) = &source.field_ref {
        return crate::k8s::downward::resolve(&run.metadata, &field.field_path).ok_or_else(|| {
            ArgsError::Invalid(format!(
                "argument {name:?}: fieldRef {:?} names no field of the run",
                field.field_path
            ))
        });
    }
    Err(ArgsError::Invalid(format!(
        "argument {name:?} has no value"
    )))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn metric() -> Metric {
        serde_json::from_value(json!({
            "name": "errors",
            "successCondition": "result[0] < {{args.threshold}}",
            "provider": {"prometheus": {"address": "http://prometheus.svc", "query": "rate(errors{service=\"{{args.service}}\"}[1m])",
                                         "headers": [{"key": "Authorization", "value": "Bearer {{args.token}}"}]}}
        }))
        .unwrap()
    }

    #[test]
    fn arguments_are_substituted_with_escaping() {
        let args = Args::from_values([
            ("threshold".into(), "0.05".into()),
            ("service".into(), "we\"b".into()),
            ("token".into(), "t0k".into()),
        ]);
        let metric = args.substitute(&metric()).unwrap();
        assert_eq!(metric.success_condition, "result[0] < 0.05");
        let prometheus = metric.provider.prometheus.unwrap();
        assert_eq!(prometheus.query, r#"rate(errors{service="we"b"}[1m])"#);
        assert_eq!(prometheus.headers[0].value, "Bearer t0k");
    }

    #[test]
    fn values_are_not_expanded_again() {
        let args = Args::from_values([
            ("threshold".into(), "{{args.token}}".into()),
            ("service".into(), "web".into()),
            ("token".into(), "t0k".into()),
        ]);
        let metric = args.substitute(&metric()).unwrap();
        assert_eq!(metric.success_condition, "result[0] < {{args.token}}");
    }

    #[test]
    fn a_missing_argument_is_named() {
        let args = Args::from_values([("threshold".into(), "0.05".into())]);
        assert_eq!(
            args.substitute(&metric()).unwrap_err(),
            "metric \"errors\" uses argument \"service\", which the run does not define"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let args = Args {
            values: BTreeMap::new(),
            secrets: vec!["hunter2".into()],
        };
        assert_eq!(
            args.redact("401 for token hunter2 at hunter2"),
            "401 for token ***** at *****"
        );
    }
}
