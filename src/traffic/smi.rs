//! SMI, as Argo drives it (`rollout/trafficrouting/smi`): a TrafficSplit the Rollout owns
//! (named after it unless `trafficSplitName` says otherwise) whose root Service (the stable
//! Service unless `rootService` says otherwise) goes to the canary and the stable Service
//! with their weights — quantities (`"5"`) in `v1alpha1`, integers from `v1alpha2` on. The
//! version is the newest the cluster serves (Argo takes it from a controller flag). While an
//! experiment step runs, its weighted templates' Services are backends too, taking their
//! weights from the stable's. A TrafficSplit of that name that is not the Rollout's is an
//! error.

use serde_json::{Value, json};

use super::json;
use super::split::Splits;
use super::{Context, Kind, Lookup, Notice, Objects, Read, Shape, Target, Write};
use crate::model::{Router, RouterReading, RouterState, Smi as Config, TrafficIntent};

pub const TRAFFIC_SPLIT: Kind = Kind {
    apis: &[
        "split.smi-spec.io/v1alpha4",
        "split.smi-spec.io/v1alpha3",
        "split.smi-spec.io/v1alpha2",
        "split.smi-spec.io/v1alpha1",
    ],
    kind: "TrafficSplit",
    plural: "trafficsplits",
};

/// The SMI router of one Rollout.
pub struct Smi<'a>(pub &'a Config);

impl Smi<'_> {
    fn name<'n>(&'n self, context: &'n Context) -> &'n str {
        self.0
            .traffic_split_name
            .as_deref()
            .unwrap_or(&context.rollout)
    }

    fn spec(&self, api_version: &str, context: &Context, intent: &TrafficIntent) -> Value {
        let weight = |weight: i32| {
            if api_version.ends_with("/v1alpha1") {
                json!(weight.to_string())
            } else {
                json!(weight)
            }
        };
        let mut backends = vec![
            json!({"service": context.canary_service, "weight": weight(intent.canary_weight)}),
            json!({"service": context.stable_service, "weight": weight(intent.stable_weight())}),
        ];
        backends.extend(
            intent
                .additional
                .iter()
                .map(|dest| json!({"service": dest.service, "weight": weight(dest.weight)})),
        );
        json!({
            "service": self.0.root_service.as_deref().unwrap_or(&context.stable_service),
            "backends": backends,
        })
    }
}

impl Shape for Smi<'_> {
    fn lookups(&self, context: &Context) -> Vec<Lookup> {
        vec![Lookup::Named(Target::new(
            TRAFFIC_SPLIT,
            &context.namespace,
            self.name(context),
        ))]
    }

    fn writes(
        &self,
        context: &Context,
        read: &Objects,
        intent: &TrafficIntent,
    ) -> Result<Vec<Write>, String> {
        let router = Router::Smi(self.0.clone());
        let mut writes = Vec::new();
        for Read {
            target,
            api_version,
            live,
        } in read
        {
            match live {
                None => {
                    let spec = self.spec(api_version, context, intent);
                    let object = json::owned(
                        api_version,
                        "TrafficSplit",
                        &target.namespace,
                        &target.name,
                        &context.owner,
                        spec,
                    );
                    writes.push(Write::Create(
                        target.clone(),
                        super::record(object, &router, context, intent),
                    ));
                }
                Some(live) => {
                    if !json::owned_by(live, &context.owner) && !context.owner.is_null() {
                        return Err(format!(
                            "{} exists but does not belong to Rollout {}",
                            target.describe(),
                            context.rollout
                        ));
                    }
                    let live_version = json::text(live, "/apiVersion");
                    let mut shaped = live.clone();
                    shaped["spec"] = self.spec(live_version, context, intent);
                    super::replace_changed(
                        &mut writes,
                        target,
                        live,
                        shaped,
                        (&router, context, intent),
                    );
                }
            }
        }
        Ok(writes)
    }

    fn notices(
        &self,
        write: &Write,
        _previous: Option<&TrafficIntent>,
        _intent: &TrafficIntent,
    ) -> Vec<Notice> {
        match write {
            Write::Create(target, _) => vec![Notice::new(
                "TrafficSplitCreated",
                format!("TrafficSplit `{}` created", target.name),
            )],
            _ => Vec::new(),
        }
    }

    fn readings(&self, context: &Context, read: &Objects) -> Vec<RouterReading> {
        // A split not yet created is missing, and created by the first write.
        super::per_object(read, |_, live| {
            let mut splits = Splits::default();
            splits.add(
                context.max_weight,
                json::items(live, "/spec/backends").iter().map(|backend| {
                    let weight = json::weight(backend.get("weight"));
                    (context.destination(json::text(backend, "/service")), weight)
                }),
            );
            let (canary_weight, additional) = splits.read();
            Ok(RouterState {
                canary_weight,
                additional: Some(additional),
                ..RouterState::default()
            })
        })
    }
}

#[cfg(test)]
mod tests;
