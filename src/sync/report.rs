//! Drift reports: which objects differ between Git and the cluster, and how, as text (a
//! unified diff), JSON (for the API and the status record) and markdown (for forge comments).
//!
//! Pure: normalized objects in, a report out.

use std::fmt::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How one object differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum Difference {
    /// In Git, not in the cluster.
    Missing,
    /// In both, different: a unified diff from the cluster (`-`) to Git (`+`).
    Modified {
        /// The diff.
        diff: String,
    },
    /// Applied from this source earlier, no longer in Git (pruned when prune is on).
    Extra,
}

/// One object that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftedObject {
    /// `Kind[.group] [namespace/]name`.
    pub object: String,
    /// Where Git defines it (`file:line`), when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// How it differs.
    #[serde(flatten)]
    pub difference: Difference,
}

/// The drift of one source at one revision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    /// The source.
    pub source: String,
    /// The Git commit compared.
    pub revision: String,
    /// When (RFC 3339).
    pub time: String,
    /// How many objects were compared.
    pub compared: usize,
    /// Those that differ, in apply order.
    pub objects: Vec<DriftedObject>,
}

impl DriftReport {
    /// Whether Git and the cluster agree.
    #[must_use]
    pub fn in_sync(&self) -> bool {
        self.objects.is_empty()
    }

    /// A terminal report: a summary line, then each object's diff.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.summary());
        for object in &self.objects {
            let origin = object
                .origin
                .as_deref()
                .map(|origin| format!(" ({origin})"))
                .unwrap_or_default();
            match &object.difference {
                Difference::Missing => {
                    let _ = writeln!(out, "\n{}{origin}: missing from the cluster", object.object);
                }
                Difference::Extra => {
                    let _ = writeln!(out, "\n{}: in the cluster, no longer in Git", object.object);
                }
                Difference::Modified { diff } => {
                    let _ = writeln!(out, "\n{}{origin}: differs", object.object);
                    out.push_str(diff);
                }
            }
        }
        out
    }

    /// A markdown report for a pull-request comment or the dashboard.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### Drift: `{}` at `{}`\n",
            self.source,
            short(&self.revision)
        );
        let _ = writeln!(out, "{}\n", self.summary());
        if self.objects.is_empty() {
            return out;
        }
        out.push_str("| Object | Defined in | State |\n|---|---|---|\n");
        for object in &self.objects {
            let state = match object.difference {
                Difference::Missing => "missing",
                Difference::Extra => "not in Git",
                Difference::Modified { .. } => "modified",
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {state} |",
                object.object,
                object
                    .origin
                    .as_deref()
                    .map_or("—".to_owned(), |origin| format!("`{origin}`"))
            );
        }
        for object in &self.objects {
            if let Difference::Modified { diff } = &object.difference {
                let _ = write!(
                    out,
                    "\n<details><summary><code>{}</code></summary>\n\n```diff\n{diff}```\n\n</details>\n",
                    object.object
                );
            }
        }
        out
    }

    fn summary(&self) -> String {
        if self.in_sync() {
            format!(
                "source {}: {} objects in sync with {}",
                self.source,
                self.compared,
                short(&self.revision)
            )
        } else {
            format!(
                "source {}: {} of {} objects differ from {}",
                self.source,
                self.objects.len(),
                self.compared,
                short(&self.revision)
            )
        }
    }
}

fn short(revision: &str) -> &str {
    revision.get(..12).unwrap_or(revision)
}

/// A unified diff from `live` to `desired` (both normalized), or `None` when they are equal.
#[must_use]
pub fn diff_objects(object: &str, live: &Value, desired: &Value) -> Option<String> {
    if live == desired {
        return None;
    }
    let live_text = serde_saphyr::to_string(live).unwrap_or_else(|_| live.to_string());
    let desired_text = serde_saphyr::to_string(desired).unwrap_or_else(|_| desired.to_string());
    let diff = similar::TextDiff::from_lines(&live_text, &desired_text);
    Some(
        diff.unified_diff()
            .context_radius(3)
            .header(&format!("live/{object}"), &format!("git/{object}"))
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report() -> DriftReport {
        let live = json!({"kind": "ConfigMap", "data": {"a": "1", "b": "2"}});
        let desired = json!({"kind": "ConfigMap", "data": {"a": "1", "b": "3"}});
        DriftReport {
            source: "shop".into(),
            revision: "0123456789abcdef0123".into(),
            time: "2026-11-26T12:00:00Z".into(),
            compared: 3,
            objects: vec![
                DriftedObject {
                    object: "ConfigMap shop/settings".into(),
                    origin: Some("apps/settings.yaml:1".into()),
                    difference: Difference::Modified {
                        diff: diff_objects("ConfigMap shop/settings", &live, &desired).unwrap(),
                    },
                },
                DriftedObject {
                    object: "Service shop/web".into(),
                    origin: Some("apps/web.yaml:3".into()),
                    difference: Difference::Missing,
                },
            ],
        }
    }

    #[test]
    fn equal_objects_have_no_diff() {
        let object = json!({"a": [1, 2]});
        assert_eq!(diff_objects("x", &object, &object), None);
    }

    #[test]
    fn text_reports_show_the_changed_field() {
        let text = report().to_text();
        assert!(
            text.starts_with("source shop: 2 of 3 objects differ from 0123456789ab\n"),
            "{text}"
        );
        assert!(
            text.contains("--- live/ConfigMap shop/settings\n+++ git/ConfigMap shop/settings\n"),
            "{text}"
        );
        assert!(
            text.contains("\n-  b: '2'\n+  b: '3'\n")
                || text.contains("\n-  b: \"2\"\n+  b: \"3\"\n"),
            "{text}"
        );
        assert!(
            text.contains("Service shop/web (apps/web.yaml:3): missing from the cluster"),
            "{text}"
        );
    }

    #[test]
    fn markdown_reports_table_and_fold_diffs() {
        let markdown = report().to_markdown();
        assert!(
            markdown.contains("| `Service shop/web` | `apps/web.yaml:3` | missing |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("```diff\n--- live/ConfigMap shop/settings"),
            "{markdown}"
        );
    }

    #[test]
    fn json_reports_round_trip() {
        let report = report();
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["objects"][1],
            json!({"object": "Service shop/web", "origin": "apps/web.yaml:3", "state": "missing"})
        );
        assert_eq!(serde_json::from_value::<DriftReport>(json).unwrap(), report);
    }
}
