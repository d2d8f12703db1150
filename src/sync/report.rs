//! Drift reports: which objects differ between Git and the cluster, and how, as text (a
//! unified diff), JSON (for the API and the status record) and markdown (for forge comments).
//!
//! Pure: normalized objects in, a report out.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::escape;
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

    /// A markdown report for a pull-request comment or the dashboard. Names, origins and
    /// diffs come from Git and the cluster: each is escaped for its place ([`escape`]), so
    /// none can break the table, close a code block or mention anyone.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### Drift: {} at {}\n",
            escape::code(&self.source),
            escape::code(short(&self.revision))
        );
        let _ = writeln!(out, "{}\n", escape::prose(&self.summary()));
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
                "| {} | {} | {state} |",
                escape::code(&object.object),
                object
                    .origin
                    .as_deref()
                    .map_or("—".to_owned(), escape::code)
            );
        }
        for object in &self.objects {
            if let Difference::Modified { diff } = &object.difference {
                let _ = write!(
                    out,
                    "\n<details><summary><code>{}</code></summary>\n\n{}\n</details>\n",
                    escape::html(&escape::one_line(&object.object, usize::MAX)),
                    escape::block(diff, "diff")
                );
            }
        }
        out
    }

    /// This report within `max_bytes` of JSON (a ConfigMap holds 1 MiB): long diffs are cut
    /// to their first lines, and if that is not enough, diffs are left out (`tidegate diff`
    /// shows them in full).
    #[must_use]
    pub fn bounded(&self, max_bytes: usize) -> Self {
        let size =
            |report: &Self| serde_json::to_string(report).map_or(usize::MAX, |text| text.len());
        if size(self) <= max_bytes {
            return self.clone();
        }
        let per_diff = max_bytes / (2 * self.objects.len().max(1));
        let mut bounded = self.clone();
        for object in &mut bounded.objects {
            if let Difference::Modified { diff } = &mut object.difference
                && diff.len() > per_diff
            {
                let mut cut = per_diff;
                while !diff.is_char_boundary(cut) {
                    cut -= 1;
                }
                let cut = diff[..cut].rfind('\n').map_or(0, |end| end + 1);
                let omitted = diff.len() - cut;
                diff.truncate(cut);
                let _ = writeln!(diff, "... ({omitted} more bytes: run tidegate diff)");
            }
        }
        if size(&bounded) > max_bytes {
            for object in &mut bounded.objects {
                if let Difference::Modified { diff } = &mut object.difference {
                    "(diff left out: the report is too large; run tidegate diff)\n"
                        .clone_into(diff);
                }
            }
        }
        bounded
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
    fn hostile_names_and_diffs_keep_the_markdown_shape() {
        for hostile in crate::escape::tests::HOSTILE {
            let mut report = report();
            for object in &mut report.objects {
                object.object = format!("ConfigMap shop/{hostile}");
                object.origin = Some(format!("{hostile}.yaml:1"));
            }
            report.objects[0].difference = Difference::Modified {
                diff: format!("--- live\n+++ git\n-{hostile}\n+{hostile}\n"),
            };
            let markdown = report.to_markdown();
            let rows = markdown
                .lines()
                .filter(|line| line.starts_with("| `"))
                .count();
            assert_eq!(rows, report.objects.len(), "{hostile:?}:\n{markdown}");
            let rendered = crate::escape::tests::outside_code(&markdown);
            for markup in ["<img", "<script", "@admin", "\n# injected", "](https"] {
                assert!(
                    !rendered.contains(markup),
                    "{hostile:?} keeps {markup:?}:\n{markdown}"
                );
            }
            assert_eq!(markdown.matches("</details>").count(), 1, "{markdown}");
        }
    }

    #[test]
    fn large_reports_are_cut_to_fit_a_config_map() {
        let mut large = report();
        let live = json!({"data": (0..2000).map(|n| (format!("key{n}"), json!("old"))).collect::<serde_json::Map<_, _>>()});
        let desired = json!({"data": (0..2000).map(|n| (format!("key{n}"), json!("new"))).collect::<serde_json::Map<_, _>>()});
        large.objects[0].difference = Difference::Modified {
            diff: diff_objects("ConfigMap big", &live, &desired).unwrap(),
        };
        let full = serde_json::to_string(&large).unwrap().len();
        let bounded = large.bounded(8 * 1024);
        let size = serde_json::to_string(&bounded).unwrap().len();
        assert!(full > 8 * 1024 && size <= 8 * 1024, "{full} -> {size}");
        let Difference::Modified { diff } = &bounded.objects[0].difference else {
            panic!()
        };
        assert!(diff.starts_with("--- live/ConfigMap big\n"), "{diff}");
        assert!(diff.ends_with("more bytes: run tidegate diff)\n"), "{diff}");
        assert_eq!(report().bounded(1 << 20), report());
        let Difference::Modified { diff } = &large.bounded(1).objects[0].difference else {
            panic!()
        };
        assert_eq!(
            diff,
            "(diff left out: the report is too large; run tidegate diff)\n"
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
