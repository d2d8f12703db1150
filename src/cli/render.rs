//! Text views of Rollouts for the terminal: the detail of one (`get rollout`, a tree like
//! Argo's, coloured on a terminal, with what its traffic routers were read back carrying) and a
//! table of many (`list rollouts`). Pure: objects in, text out.

use std::fmt::Write;

use kube::ResourceExt;

use crate::k8s::crd::{Rollout, RolloutStatus};
use crate::k8s::{Pod, ReplicaSet, labels};
use crate::model::RouterReading;

/// ANSI colours, or none (not a terminal, or `NO_COLOR` set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paint(pub bool);

impl Paint {
    fn paint(self, text: &str, code: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn phase(self, phase: &str) -> String {
        match phase {
            "Healthy" => self.paint(phase, "32"),
            "Degraded" => self.paint(phase, "31"),
            "Paused" => self.paint(phase, "33"),
            "Progressing" => self.paint(phase, "36"),
            _ => phase.to_owned(),
        }
    }
}

/// The detail of one Rollout: status, steps, and its revisions with their ReplicaSets and pods.
#[must_use]
pub fn rollout_detail(
    rollout: &Rollout,
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    routers: &[RouterReading],
    paint: Paint,
) -> String {
    let status = rollout.status.clone().unwrap_or_default();
    let mut out = String::new();
    header(&mut out, rollout, &status, paint);
    steps(&mut out, rollout, &status, paint);
    traffic(&mut out, &status, routers, paint);
    revisions(&mut out, &status, replica_sets, pods);
    out
}

/// The split the routers were asked for, and what each router object was read back carrying.
fn traffic(out: &mut String, status: &RolloutStatus, routers: &[RouterReading], paint: Paint) {
    let asked = status
        .canary
        .as_ref()
        .and_then(|canary| canary.weights.as_ref())
        .filter(|weights| weights.verified.is_some());
    if routers.is_empty() && asked.is_none() {
        return;
    }
    out.push_str("\nTraffic:\n");
    if let Some(weights) = asked {
        let seen = if weights.verified == Some(true) {
            paint.paint("read back", "32")
        } else {
            paint.paint("not read back yet", "33")
        };
        let experiments = weights
            .additional
            .iter()
            .fold(String::new(), |mut text, dest| {
                let _ = write!(text, ", experiment {} ({})", dest.weight, dest.service_name);
                text
            });
        let _ = writeln!(
            out,
            "  asked     canary {} ({}), stable {} ({}){experiments}: {seen}",
            weights.canary.weight,
            non_empty_or(&weights.canary.service_name, "-"),
            weights.stable.weight,
            non_empty_or(&weights.stable.service_name, "-"),
        );
    }
    for reading in routers {
        let carried = match &reading.state {
            Ok(state) => {
                let weight = state
                    .canary_weight
                    .map_or_else(|| "no single weight".to_owned(), |w| format!("canary {w}"));
                let managed = if state.routes.is_empty() {
                    String::new()
                } else {
                    let names: Vec<&str> = state.routes.iter().map(String::as_str).collect();
                    format!(", routes {}", names.join(", "))
                };
                let experiments = state.additional.iter().flatten().fold(
                    String::new(),
                    |mut text, (service, weight)| {
                        let _ = write!(text, ", experiment {weight} ({service})");
                        text
                    },
                );
                format!("{weight}{experiments}{managed}")
            }
            Err(error) => paint.paint(error, "31"),
        };
        let _ = writeln!(out, "  {}: {carried}", reading.object);
    }
}

fn non_empty_or<'a>(text: &'a str, instead: &'a str) -> &'a str {
    if text.is_empty() { instead } else { text }
}

fn header(out: &mut String, rollout: &Rollout, status: &RolloutStatus, paint: Paint) {
    let phase = status
        .phase
        .map_or_else(|| "Unknown".to_owned(), |phase| format!("{phase:?}"));
    let message = if status.message.is_empty() {
        String::new()
    } else {
        format!(" ({})", status.message)
    };
    line(out, "Name", &rollout.name_any());
    line(out, "Namespace", &rollout.namespace().unwrap_or_default());
    line(out, "Status", &format!("{}{message}", paint.phase(&phase)));
    if let Some(canary) = &rollout.spec.strategy.canary {
        line(out, "Strategy", "Canary");
        let index = status
            .current_step_index
            .and_then(|index| usize::try_from(index).ok());
        if let Some(index) = index.filter(|_| !canary.steps.is_empty()) {
            line(
                out,
                "  Step",
                &format!("{}/{}", index.min(canary.steps.len()), canary.steps.len()),
            );
        }
        let weight = status
            .canary
            .as_ref()
            .and_then(|canary| canary.weights.as_ref())
            .map(|w| w.canary.weight);
        line(out, "  Weight", &weight.unwrap_or(0).to_string());
    } else if rollout.spec.strategy.blue_green.is_some() {
        line(out, "Strategy", "BlueGreen");
    }
    let desired = rollout.spec.replicas.unwrap_or(1);
    let replicas = format!(
        "desired {desired}, current {}, updated {}, ready {}, available {}",
        status.replicas, status.updated_replicas, status.ready_replicas, status.available_replicas
    );
    line(out, "Replicas", &replicas);
}

fn steps(out: &mut String, rollout: &Rollout, status: &RolloutStatus, paint: Paint) {
    let steps = rollout.spec.canary_steps();
    if steps.is_empty() {
        return;
    }
    out.push_str("\nSteps:\n");
    let current = status
        .current_step_index
        .and_then(|index| usize::try_from(index).ok())
        .unwrap_or(0);
    for (index, step) in steps.iter().enumerate() {
        let marker = match index.cmp(&current) {
            std::cmp::Ordering::Less => paint.paint("✔", "32"),
            std::cmp::Ordering::Equal => paint.paint("▶", "33"),
            std::cmp::Ordering::Greater => "○".to_owned(),
        };
        let _ = writeln!(out, "  {marker} {}. {}", index + 1, step.summary());
    }
}

fn revisions(out: &mut String, status: &RolloutStatus, replica_sets: &[ReplicaSet], pods: &[Pod]) {
    out.push_str("\nRevisions:\n");
    let mut sets: Vec<&ReplicaSet> = replica_sets.iter().collect();
    sets.sort_by_key(|rs| std::cmp::Reverse(revision(rs)));
    if sets.is_empty() {
        out.push_str("  (no ReplicaSets yet)\n");
    }
    for rs in sets {
        let hash = rs
            .labels()
            .get(labels::POD_TEMPLATE_HASH)
            .cloned()
            .unwrap_or_default();
        let role = if hash == status.stable_rs {
            " (stable)"
        } else if hash == status.current_pod_hash {
            " (canary)"
        } else {
            ""
        };
        let available = rs
            .status
            .as_ref()
            .and_then(|status| status.available_replicas)
            .unwrap_or(0);
        let images = crate::k8s::crd::images(rs.spec.template.as_ref()).join(", ");
        let _ = writeln!(out, "  revision {} {hash}{role}", revision(rs));
        let desired = rs.spec.replicas.unwrap_or(0);
        let _ = writeln!(
            out,
            "    ReplicaSet {}  {available}/{desired} available  {images}",
            rs.name_any()
        );
        let mut owned: Vec<&Pod> = pods
            .iter()
            .filter(|pod| pod.labels().get(labels::POD_TEMPLATE_HASH) == Some(&hash))
            .collect();
        owned.sort_by_key(|pod| pod.name_any());
        for pod in owned {
            let pod_status = pod.status.clone().unwrap_or_default();
            let ready = pod_status
                .conditions
                .iter()
                .flatten()
                .any(|condition| condition.type_ == "Ready" && condition.status == "True");
            let phase = pod_status.phase.unwrap_or_else(|| "Pending".to_owned());
            let _ = writeln!(
                out,
                "      Pod {}  {phase}{}",
                pod.name_any(),
                if ready { ", ready" } else { "" }
            );
        }
    }
}

/// A table of Rollouts.
#[must_use]
pub fn rollout_table(rollouts: &[Rollout]) -> String {
    let mut rows = vec![
        [
            "NAMESPACE",
            "NAME",
            "PHASE",
            "STEP",
            "WEIGHT",
            "DESIRED",
            "AVAILABLE",
            "MESSAGE",
        ]
        .map(str::to_owned),
    ];
    for rollout in rollouts {
        let status = rollout.status.clone().unwrap_or_default();
        let steps = rollout
            .spec
            .strategy
            .canary
            .as_ref()
            .map_or(0, |canary| canary.steps.len());
        let step = status
            .current_step_index
            .filter(|_| steps > 0)
            .map_or_else(|| "-".to_owned(), |index| format!("{index}/{steps}"));
        let weight = status
            .canary
            .as_ref()
            .and_then(|canary| canary.weights.as_ref())
            .map(|w| w.canary.weight);
        rows.push([
            rollout.namespace().unwrap_or_default(),
            rollout.name_any(),
            status
                .phase
                .map_or_else(|| "-".to_owned(), |phase| format!("{phase:?}")),
            step,
            weight.map_or_else(|| "-".to_owned(), |weight| weight.to_string()),
            rollout.spec.replicas.unwrap_or(1).to_string(),
            status.available_replicas.to_string(),
            status.message,
        ]);
    }
    aligned(&rows)
}

/// Rows as columns, each as wide as its widest cell, two spaces apart.
pub(super) fn aligned<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn line(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "{:<11}{value}", format!("{label}:"));
}

fn revision(rs: &ReplicaSet) -> u64 {
    rs.annotations()
        .get(labels::REVISION)
        .and_then(|revision| revision.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout() -> Rollout {
        serde_saphyr::from_str(
            "apiVersion: tidegate.dev/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: 'web:2'}]}}
  strategy:
    canary:
      steps: [{setWeight: 34}, {pause: {duration: 2}}, {setWeight: 67}, {pause: {}}]
status:
  phase: Paused
  message: CanaryPauseStep
  currentStepIndex: 3
  stableRS: v1hash
  currentPodHash: v2hash
  replicas: 3
  updatedReplicas: 2
  readyReplicas: 3
  availableReplicas: 3
  canary: {weights: {canary: {weight: 67}, stable: {weight: 33}}}
",
        )
        .unwrap()
    }

    fn replica_set(hash: &str, revision: u64, replicas: i32, image: &str) -> ReplicaSet {
        serde_saphyr::from_str(&format!(
            "metadata:
  name: web-{hash}
  labels: {{rollouts-pod-template-hash: {hash}}}
  annotations: {{rollout.argoproj.io/revision: '{revision}'}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template: {{spec: {{containers: [{{name: web, image: '{image}'}}]}}}}
status: {{replicas: {replicas}, availableReplicas: {replicas}}}
"
        ))
        .unwrap()
    }

    fn pod(name: &str, hash: &str) -> Pod {
        serde_saphyr::from_str(&format!(
            "metadata: {{name: {name}, labels: {{rollouts-pod-template-hash: {hash}}}}}
status: {{phase: Running, conditions: [{{type: Ready, status: 'True'}}]}}
"
        ))
        .unwrap()
    }

    #[test]
    fn detail_shows_status_steps_and_revisions() {
        let sets = [
            replica_set("v1hash", 1, 1, "web:1"),
            replica_set("v2hash", 2, 2, "web:2"),
        ];
        let pods = [
            pod("web-v2hash-b", "v2hash"),
            pod("web-v2hash-a", "v2hash"),
            pod("web-v1hash-a", "v1hash"),
        ];
        let expected = "\
Name:      web
Namespace: shop
Status:    Paused (CanaryPauseStep)
Strategy:  Canary
  Step:    3/4
  Weight:  67
Replicas:  desired 3, current 3, updated 2, ready 3, available 3

Steps:
  ✔ 1. setWeight: 34
  ✔ 2. pause: 2s
  ✔ 3. setWeight: 67
  ▶ 4. pause (until promoted)

Revisions:
  revision 2 v2hash (canary)
    ReplicaSet web-v2hash  2/2 available  web:2
      Pod web-v2hash-a  Running, ready
      Pod web-v2hash-b  Running, ready
  revision 1 v1hash (stable)
    ReplicaSet web-v1hash  1/1 available  web:1
      Pod web-v1hash-a  Running, ready
";
        assert_eq!(
            rollout_detail(&rollout(), &sets, &pods, &[], Paint(false)),
            expected
        );
        let coloured = rollout_detail(&rollout(), &sets, &pods, &[], Paint(true));
        assert!(coloured.contains("\x1b[3"), "{coloured}");
        assert_eq!(
            strip_ansi(&coloured),
            expected,
            "colour changes nothing but colour"
        );
    }

    #[test]
    fn detail_shows_the_split_asked_for_and_what_each_router_carries() {
        use crate::model::RouterState;

        let mut routed = rollout();
        let status = routed.status.as_mut().expect("a status");
        status.canary = Some(crate::k8s::crd::CanaryStatus {
            weights: serde_json::from_value(serde_json::json!({
                "canary": {"weight": 20, "serviceName": "web-canary", "podTemplateHash": "v2hash"},
                "stable": {"weight": 70, "serviceName": "web-stable", "podTemplateHash": "v1hash"},
                "additional": [{"weight": 10, "serviceName": "web-exp", "podTemplateHash": "e"}],
                "verified": false,
            }))
            .expect("weights"),
            ..crate::k8s::crd::CanaryStatus::default()
        });
        let routers = [
            RouterReading {
                object: "HTTPRoute shop/web".into(),
                state: Ok(RouterState {
                    canary_weight: Some(20),
                    routes: ["beta".to_owned()].into(),
                    additional: Some([("web-exp".to_owned(), 10)].into()),
                    ..RouterState::default()
                }),
            },
            RouterReading {
                object: "VirtualService shop/web".into(),
                state: Err("VirtualService shop/web does not exist".into()),
            },
        ];
        let detail = rollout_detail(&routed, &[], &[], &routers, Paint(false));
        assert!(
            detail.contains(
                "\nTraffic:\n  asked     canary 20 (web-canary), stable 70 (web-stable), experiment 10 (web-exp): not read back yet\n  HTTPRoute shop/web: canary 20, experiment 10 (web-exp), routes beta\n  VirtualService shop/web: VirtualService shop/web does not exist\n"
            ),
            "{detail}"
        );
        assert!(
            !rollout_detail(&rollout(), &[], &[], &[], Paint(false)).contains("Traffic:"),
            "nothing about routers for a canary without them"
        );
    }

    #[test]
    fn table_aligns_columns() {
        let expected = "\
NAMESPACE  NAME  PHASE   STEP  WEIGHT  DESIRED  AVAILABLE  MESSAGE
shop       web   Paused  3/4   67      3        3          CanaryPauseStep
";
        assert_eq!(rollout_table(&[rollout()]), expected);
    }

    fn strip_ansi(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
