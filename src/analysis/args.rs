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
    /// namespace (each read once), `fieldRef` from the run's own metadata.
    pub async fn resolve(client: &Client, run: &AnalysisRun) -> Result<Self, ArgsError> {
        let namespace = run.namespace().unwrap_or_default();
        let api = Api::<Secret>::namespaced(client.clone(), &namespace);
        let mut secrets = BTreeMap::new();
        for name in secret_names(run) {
            let read = api.get(&name).await.map_err(|error| {
                let message = format!("read Secret {name}: {}", crate::k8s::describe_error(&error));
                if crate::k8s::is_transient(&error) {
                    ArgsError::Unavailable(message)
                } else {
                    ArgsError::Invalid(message)
                }
            });
            secrets.insert(name, read);
        }
        Self::assemble(run, &secrets)
    }

    /// `run`'s arguments in order, given the outcome of reading each Secret they name: the
    /// first argument that has no value is the error.
    pub(super) fn assemble(
        run: &AnalysisRun,
        secrets: &BTreeMap<String, Result<Secret, ArgsError>>,
    ) -> Result<Self, ArgsError> {
        let mut args = Self::default();
        for argument in &run.spec.args {
            let value = value_of(run, argument, secrets, &mut args.secrets)?;
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

/// The names of the Secrets `run`'s arguments read.
fn secret_names(run: &AnalysisRun) -> std::collections::BTreeSet<String> {
    run.spec
        .args
        .iter()
        .filter(|argument| argument.value.is_none())
        .filter_map(|argument| argument.value_from.as_ref()?.secret_key_ref.as_ref())
        .map(|reference| reference.name.clone())
        .collect()
}

/// One argument's value; a value read from a Secret is also added to `secret_values`.
fn value_of(
    run: &AnalysisRun,
    argument: &Argument,
    secrets: &BTreeMap<String, Result<Secret, ArgsError>>,
    secret_values: &mut Vec<String>,
) -> Result<String, ArgsError> {
    let name = &argument.name;
    if let Some(value) = &argument.value {
        return Ok(value.clone());
    }
    let no_value = || ArgsError::Invalid(format!("argument {name:?} has no value"));
    let source = argument.value_from.as_ref().ok_or_else(no_value)?;
    if let Some(reference) = &source.secret_key_ref {
        let secret = match secrets.get(&reference.name) {
            Some(Ok(secret)) => secret,
            Some(Err(ArgsError::Invalid(message))) => {
                return Err(ArgsError::Invalid(format!("argument {name:?}: {message}")));
            }
            Some(Err(ArgsError::Unavailable(message))) => {
                return Err(ArgsError::Unavailable(format!(
                    "argument {name:?}: {message}"
                )));
            }
            None => {
                return Err(ArgsError::Unavailable(format!(
                    "argument {name:?}: Secret {} was not read",
                    reference.name
                )));
            }
        };
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
        secret_values.push(value.clone());
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
    Err(no_value())
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

    fn run_with(args: &serde_json::Value) -> AnalysisRun {
        serde_json::from_value(json!({
            "apiVersion": "tidegate.dev/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": "web-7d9f-3-1", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"metrics": [], "args": args},
        }))
        .unwrap()
    }

    fn secret(data: &serde_json::Value) -> Secret {
        serde_json::from_value(json!({"metadata": {"name": "s"}, "data": data})).unwrap()
    }

    fn from_secret(name: &str, key: &str) -> serde_json::Value {
        json!({"name": name, "valueFrom": {"secretKeyRef": {"name": "creds", "key": key}}})
    }

    #[test]
    fn values_secrets_and_fields_are_resolved_in_order() {
        let run = run_with(&json!([
            {"name": "service", "value": "web"},
            from_secret("token", "token"),
            {"name": "app", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "run", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ]));
        assert_eq!(
            secret_names(&run).into_iter().collect::<Vec<_>>(),
            ["creds"],
            "only the Secrets the arguments name"
        );
        // "s3cr3t" in base64.
        let secrets = BTreeMap::from([(
            "creds".to_owned(),
            Ok(secret(&json!({"token": "czNjcjN0"}))),
        )]);
        let args = Args::assemble(&run, &secrets).unwrap();
        assert_eq!(
            args.values,
            BTreeMap::from([
                ("app".to_owned(), "web".to_owned()),
                ("run".to_owned(), "web-7d9f-3-1".to_owned()),
                ("service".to_owned(), "web".to_owned()),
                ("token".to_owned(), "s3cr3t".to_owned()),
            ])
        );
        assert_eq!(args.secrets, ["s3cr3t"], "a Secret's value is redacted");
        assert_eq!(args.redact("Bearer s3cr3t"), "Bearer *****");
    }

    #[test]
    fn an_argument_without_a_value_is_named() {
        for (argument, expected) in [
            (
                json!({"name": "service"}),
                "argument \"service\" has no value",
            ),
            (
                json!({"name": "service", "valueFrom": {}}),
                "argument \"service\" has no value",
            ),
            (
                json!({"name": "service", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['team']"}}}),
                "argument \"service\": fieldRef \"metadata.labels['team']\" names no field of the run",
            ),
            (
                from_secret("service", "missing"),
                "argument \"service\": Secret creds has no key \"missing\"",
            ),
            (
                from_secret("service", "binary"),
                "argument \"service\": Secret creds key \"binary\" is not UTF-8",
            ),
        ] {
            let run = run_with(&json!([{"name": "first", "value": "1"}, argument]));
            // 0xff 0xfe: not UTF-8.
            let secrets =
                BTreeMap::from([("creds".to_owned(), Ok(secret(&json!({"binary": "//4="}))))]);
            assert_eq!(
                Args::assemble(&run, &secrets).unwrap_err(),
                ArgsError::Invalid(expected.to_owned())
            );
        }
    }

    #[test]
    fn a_secret_that_could_not_be_read_keeps_its_kind_of_error() {
        let run = run_with(&json!([from_secret("token", "token")]));
        for read in [
            ArgsError::Unavailable("read Secret creds: timed out".to_owned()),
            ArgsError::Invalid("read Secret creds: not found".to_owned()),
        ] {
            let expected = match &read {
                ArgsError::Unavailable(message) => {
                    ArgsError::Unavailable(format!("argument \"token\": {message}"))
                }
                ArgsError::Invalid(message) => {
                    ArgsError::Invalid(format!("argument \"token\": {message}"))
                }
            };
            let secrets = BTreeMap::from([("creds".to_owned(), Err(read))]);
            assert_eq!(Args::assemble(&run, &secrets).unwrap_err(), expected);
        }
        assert!(
            matches!(
                Args::assemble(&run, &BTreeMap::new()),
                Err(ArgsError::Unavailable(_))
            ),
            "a Secret not read yet is retried, never taken as missing"
        );
    }

    #[test]
    fn a_plain_value_wins_over_value_from() {
        let run = run_with(&json!([
            {"name": "service", "value": "web", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}},
        ]));
        assert!(secret_names(&run).is_empty(), "no Secret is read for it");
        let args = Args::assemble(&run, &BTreeMap::new()).unwrap();
        assert_eq!(args.values["service"], "web");
        assert!(args.secrets.is_empty());
    }

    #[test]
    fn a_secret_is_redacted_as_is_url_encoded_and_json_escaped() {
        let args = Args {
            values: BTreeMap::new(),
            secrets: vec!["p@ss \"w/rd\"~-_.".into(), String::new()],
        };
        assert_eq!(
            args.redact(r#"as is p@ss "w/rd"~-_. in a URL p%40ss%20%22w%2Frd%22~-_. in JSON p@ss \"w/rd\"~-_."#),
            "as is ***** in a URL ***** in JSON *****",
            "an empty secret redacts nothing"
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
