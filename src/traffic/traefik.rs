//! Traefik, as Argo drives it (`rollout/trafficrouting/traefik`): the weights of the canary
//! and the stable Service among the `spec.weighted.services` of a TraefikService. Both API
//! groups are served: `traefik.io` (Traefik v3, and v2.10 on) and `traefik.containo.us`
//! (older; Argo only knows this one, argo-rollouts#4568).

use serde_json::{Value, json};

use super::json;
use super::{Context, Kind, Lookup, Objects, Read, Shape, Target, Write};
use crate::model::{Router, RouterReading, RouterState, Traefik as Config, TrafficIntent};

pub const TRAEFIK_SERVICE: Kind = Kind {
    apis: &["traefik.io/v1alpha1", "traefik.containo.us/v1alpha1"],
    kind: "TraefikService",
    plural: "traefikservices",
};

/// The Traefik router of one Rollout.
pub struct Traefik<'a>(pub &'a Config);

impl Shape for Traefik<'_> {
    fn lookups(&self, context: &Context) -> Vec<Lookup> {
        vec![Lookup::Named(Target::new(
            TRAEFIK_SERVICE,
            &context.namespace,
            &self.0.weighted_traefik_service_name,
        ))]
    }

    fn writes(
        &self,
        context: &Context,
        read: &Objects,
        intent: &TrafficIntent,
    ) -> Result<Vec<Write>, String> {
        let router = Router::Traefik(self.0.clone());
        let mut writes = Vec::new();
        for Read { target, live, .. } in read {
            let Some(live) = live else {
                return Err(target.missing());
            };
            let mut shaped = live.clone();
            let services = shaped
                .pointer_mut("/spec/weighted/services")
                .and_then(Value::as_array_mut)
                .ok_or_else(|| format!("{} has no spec.weighted.services", target.describe()))?;
            for (service, weight) in [
                (&context.canary_service, intent.canary_weight),
                (&context.stable_service, intent.stable_weight()),
            ] {
                let entry = services
                    .iter_mut()
                    .find(|entry| json::text(entry, "/name") == service.as_str())
                    .ok_or_else(|| {
                        format!("{} does not weigh Service {service}", target.describe())
                    })?;
                entry["weight"] = json!(weight);
            }
            super::replace_changed(
                &mut writes,
                target,
                live,
                shaped,
                (&router, context, intent),
            );
        }
        Ok(writes)
    }

    fn readings(&self, context: &Context, read: &Objects) -> Vec<RouterReading> {
        super::per_object(read, |_, live| {
            let weights = json::items(live, "/spec/weighted/services")
                .iter()
                .filter_map(|entry| {
                    let weight = json::weight(entry.get("weight"));
                    context.as_canary_weight(json::text(entry, "/name"), weight)
                });
            Ok(RouterState {
                canary_weight: json::agreed(weights),
                ..RouterState::default()
            })
        })
    }
}

#[cfg(test)]
mod tests;
