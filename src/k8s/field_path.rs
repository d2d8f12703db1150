//! Field paths into a whole object — `spec.template.metadata.labels.version`,
//! `spec.template.spec.containers[0].image` — for analysis arguments whose `fieldRef` does
//! not name metadata, read as Argo Rollouts reads them: the path is cut at `.`, `[` and `]`,
//! walked through maps by key and through lists by index, and must end at a string, number
//! or boolean.
//!
//! Pure: a path and a JSON value in, a value or the reason out.

use serde_json::Value;

/// Whether `path` is one this module reads: not empty, no empty key between two dots.
#[must_use]
pub fn is_valid(path: &str) -> bool {
    !sections(path).is_empty() && !path.starts_with('.') && !path.contains("..")
}

/// The value at `path` in `object`, as text.
///
/// # Errors
/// When a step of the path is missing, indexes a list with something other than a number in
/// range, or the path ends at a map or a list.
pub fn resolve(object: &Value, path: &str) -> Result<String, String> {
    let mut at = object;
    for section in sections(path) {
        at = match at {
            Value::Array(items) => {
                let index: usize = section
                    .parse()
                    .map_err(|_| format!("invalid index {section:?} in {path:?}"))?;
                items
                    .get(index)
                    .ok_or_else(|| format!("index {index} out of range in {path:?}"))?
            }
            Value::Object(fields) => fields
                .get(section)
                .ok_or_else(|| format!("{path:?} names nothing in the Rollout"))?,
            _ => return Err(format!("{path:?} names nothing in the Rollout")),
        };
    }
    match at {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Null => Err(format!("{path:?} names nothing in the Rollout")),
        Value::Array(_) | Value::Object(_) => Err(format!(
            "{path:?} must end at a string, number or boolean, not a list or map"
        )),
    }
}

fn sections(path: &str) -> Vec<&str> {
    path.split(['.', '[', ']'])
        .filter(|section| !section.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rollout() -> Value {
        json!({ "spec": {
            "replicas": 5,
            "paused": false,
            "template": {
                "metadata": { "labels": { "version": "v2" } },
                "spec": { "containers": [{ "name": "web", "image": "web:2" }] },
            },
        }})
    }

    #[test]
    fn paths_walk_maps_and_lists_to_a_primitive() {
        let rollout = rollout();
        for (path, value) in [
            ("spec.template.metadata.labels.version", "v2"),
            ("spec.template.spec.containers[0].image", "web:2"),
            ("spec.template.spec.containers.0.name", "web"),
            ("spec.replicas", "5"),
            ("spec.paused", "false"),
        ] {
            assert_eq!(resolve(&rollout, path).as_deref(), Ok(value), "{path}");
        }
    }

    #[test]
    fn what_names_nothing_or_no_primitive_is_an_error() {
        let rollout = rollout();
        for (path, reason) in [
            ("spec.template.metadata.labels.track", "names nothing"),
            ("spec.template.spec.containers[1].image", "out of range"),
            ("spec.template.spec.containers[first]", "invalid index"),
            ("spec.template.metadata", "must end at a string"),
            ("spec.replicas.count", "names nothing"),
        ] {
            let error = resolve(&rollout, path).unwrap_err();
            assert!(error.contains(reason), "{path}: {error}");
        }
    }

    #[test]
    fn a_path_needs_keys() {
        assert!(is_valid("spec.template.metadata.labels.version"));
        assert!(is_valid("spec.containers[0].image"));
        for invalid in ["", ".", "spec..replicas", ".spec"] {
            assert!(!is_valid(invalid), "{invalid:?}");
        }
    }
}
