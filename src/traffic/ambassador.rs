//! Ambassador / Emissary, as Argo drives it (`rollout/trafficrouting/ambassador`): for each
//! Mapping, a canary copy `<mapping>-canary` the Rollout owns, sending to the canary Service
//! with the canary's `weight` (Ambassador gives the rest to the base Mapping, which must not
//! have a weight). The copy exists only while the canary has traffic: at weight 0 it is
//! deleted. The base's `service` keeps its scheme, namespace and port in the copy (Argo drops
//! them: argo-rollouts#3593, #1417).

use serde_json::json;

use super::json;
use super::{Context, Kind, Lookup, Notice, Objects, Read, Shape, Target, Write};
use crate::model::{Ambassador as Config, Router, RouterReading, RouterState, TrafficIntent};

pub const MAPPING: Kind = Kind {
    apis: &["getambassador.io/v3alpha1", "getambassador.io/v2"],
    kind: "Mapping",
    plural: "mappings",
};
const MAX_BASE: usize = 246;

/// The Ambassador router of one Rollout.
pub struct Ambassador<'a>(pub &'a Config);

/// The canary copy's name.
pub fn canary_name(mapping: &str) -> String {
    let mut base = mapping.to_owned();
    base.truncate(MAX_BASE);
    format!("{base}-canary")
}

/// The base Mapping's `service` with the Service's name replaced: `[scheme://]name[.ns][:port]`.
fn canary_service(base: &str, canary: &str) -> String {
    let (scheme, rest) = base
        .split_once("://")
        .map_or(("", base), |(scheme, rest)| (scheme, rest));
    let cut = rest.find(['.', ':']).unwrap_or(rest.len());
    let scheme = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    format!("{scheme}{canary}{}", &rest[cut..])
}

fn find<'a>(read: &'a Objects, name: &str) -> Option<&'a Read> {
    read.iter().find(|read| read.target.name == name)
}

impl Shape for Ambassador<'_> {
    fn lookups(&self, context: &Context) -> Vec<Lookup> {
        self.0
            .mappings
            .iter()
            .flat_map(|mapping| {
                [
                    Lookup::Named(Target::new(MAPPING, &context.namespace, mapping)),
                    Lookup::Named(Target::new(
                        MAPPING,
                        &context.namespace,
                        &canary_name(mapping),
                    )),
                ]
            })
            .collect()
    }

    fn writes(
        &self,
        context: &Context,
        read: &Objects,
        intent: &TrafficIntent,
    ) -> Result<Vec<Write>, String> {
        let router = Router::Ambassador(self.0.clone());
        let mut writes = Vec::new();
        for mapping in &self.0.mappings {
            let base =
                find(read, mapping).ok_or_else(|| format!("Mapping {mapping} was not read"))?;
            let Some(base_live) = &base.live else {
                return Err(base.target.missing());
            };
            if json::weight(base_live.pointer("/spec/weight")).is_some_and(|weight| weight != 0) {
                return Err(format!("{} must not have a weight", base.target.describe()));
            }
            let name = canary_name(mapping);
            let canary = find(read, &name).ok_or_else(|| format!("Mapping {name} was not read"))?;
            if let Some(live) = &canary.live
                && !json::owned_by(live, &context.owner)
                && !context.owner.is_null()
            {
                return Err(format!(
                    "{} exists but does not belong to Rollout {}",
                    canary.target.describe(),
                    context.rollout
                ));
            }
            if intent.canary_weight == 0 {
                if canary.live.is_some() {
                    writes.push(Write::Delete(canary.target.clone()));
                }
                continue;
            }
            let mut spec = base_live.get("spec").cloned().unwrap_or_else(|| json!({}));
            let service = json::text(base_live, "/spec/service");
            spec["service"] = json!(canary_service(service, &context.canary_service));
            spec["weight"] = json!(intent.canary_weight);
            match &canary.live {
                None => {
                    let object = json::owned(
                        json::text(base_live, "/apiVersion"),
                        "Mapping",
                        &context.namespace,
                        &name,
                        &context.owner,
                        spec,
                    );
                    writes.push(Write::Create(
                        canary.target.clone(),
                        super::record(object, &router, context, intent),
                    ));
                }
                Some(live) => {
                    let mut shaped = live.clone();
                    shaped["spec"] = spec;
                    super::replace_changed(
                        &mut writes,
                        &canary.target,
                        live,
                        shaped,
                        (&router, context, intent),
                    );
                }
            }
        }
        Ok(writes)
    }

    /// One Notice per canary Mapping written; [`super::io::apply`] announces each message once.
    fn notices(
        &self,
        _write: &Write,
        previous: Option<&TrafficIntent>,
        intent: &TrafficIntent,
    ) -> Vec<Notice> {
        if !super::weight_moves(previous, intent) {
            return Vec::new();
        }
        vec![Notice::new(
            "CanaryMappingWeightUpdate",
            format!("Set canary mapping weight to {}", intent.canary_weight),
        )]
    }

    fn readings(&self, context: &Context, read: &Objects) -> Vec<RouterReading> {
        self.0
            .mappings
            .iter()
            .map(|mapping| {
                let object = format!("Mapping {}/{mapping}", context.namespace);
                let base = find(read, mapping).and_then(|read| read.live.as_ref());
                let canary = find(read, &canary_name(mapping)).and_then(|read| read.live.as_ref());
                let state = match (base, canary) {
                    (None, _) => Err(format!("{object} does not exist")),
                    // No copy: the base Mapping gets everything.
                    (Some(_), None) => Ok(RouterState {
                        canary_weight: Some(0),
                        ..RouterState::default()
                    }),
                    (Some(_), Some(canary)) => Ok(RouterState {
                        canary_weight: json::weight(canary.pointer("/spec/weight")),
                        ..RouterState::default()
                    }),
                };
                RouterReading { object, state }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
