//! AWS Load Balancer Controller, as Argo drives it (`rollout/trafficrouting/alb`): on each
//! Ingress, the forward action annotation `<prefix>/actions.<root or stable Service>` sends
//! the canary and the stable target groups their weights (and, while an experiment step runs,
//! its weighted templates' Services theirs); the Ingress's rules must name that
//! Service with port `use-annotation`. Header routes are a forward action to the canary and a
//! conditions annotation named after the route, and a path `/*` for it first in every rule.
//! `rollouts.argoproj.io/managed-alb-annotations` lists the annotations the Rollout owns.
//!
//! Argo's target-group verification (reading weights back from the AWS API) is not done:
//! the weights read back are the Ingress's own.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::json;
use super::nginx::INGRESS;
use super::split::Splits;
use super::{Context, Lookup, Notice, Objects, Read, Shape, Target, Write};
use crate::model::{
    Alb as Config, HeaderRoute, Router, RouterReading, RouterState, StringMatch, TrafficIntent,
};

const MANAGED_ANNOTATIONS: &str = "rollouts.argoproj.io/managed-alb-annotations";

/// The ALB router of one Rollout.
pub struct Alb<'a>(pub &'a Config);

impl Alb<'_> {
    fn action_service<'c>(&'c self, context: &'c Context) -> &'c str {
        self.0
            .root_service
            .as_deref()
            .unwrap_or(&context.stable_service)
    }

    fn action_key(&self, service: &str) -> String {
        format!("{}/actions.{service}", self.0.annotation_prefix)
    }

    fn conditions_key(&self, route: &str) -> String {
        format!("{}/conditions.{route}", self.0.annotation_prefix)
    }

    fn port(&self) -> String {
        self.0.service_port.to_string()
    }

    fn forward(&self, context: &Context, intent: &TrafficIntent) -> String {
        let group = |service: &str, weight: i32| json!({"ServiceName": service, "ServicePort": self.port(), "Weight": weight});
        let mut groups = vec![
            group(&context.canary_service, intent.canary_weight),
            group(&context.stable_service, intent.stable_weight()),
        ];
        groups.extend(
            intent
                .additional
                .iter()
                .map(|dest| group(&dest.service, dest.weight)),
        );
        let mut forward = json!({"TargetGroups": groups});
        if let Some(seconds) = self.0.stickiness {
            forward["TargetGroupStickinessConfig"] =
                json!({"Enabled": true, "DurationSeconds": seconds});
        }
        json!({"Type": "forward", "ForwardConfig": forward}).to_string()
    }

    fn header_action(&self, context: &Context) -> String {
        json!({"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"ServiceName": context.canary_service, "ServicePort": self.port()}
        ]}})
        .to_string()
    }
}

fn header_conditions(route: &HeaderRoute) -> Result<String, String> {
    let conditions = route
        .matches
        .iter()
        .map(|header| match &header.value {
            StringMatch::Exact(value) => Ok(json!({
                "Field": "http-header",
                "HttpHeaderConfig": {"HttpHeaderName": header.header, "Values": [value]},
            })),
            other => Err(format!(
                "the ALB router matches header values exactly; {other} cannot be routed"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Array(conditions).to_string())
}

/// Whether any rule of the Ingress sends to `service`.
fn names_service(ingress: &Value, service: &str) -> bool {
    json::items(ingress, "/spec/rules").iter().any(|rule| {
        json::items(rule, "/http/paths")
            .iter()
            .any(|path| json::text(path, "/backend/service/name") == service)
    })
}

impl Shape for Alb<'_> {
    fn lookups(&self, context: &Context) -> Vec<Lookup> {
        self.0
            .ingresses
            .iter()
            .map(|name| Lookup::Named(Target::new(INGRESS, &context.namespace, name)))
            .collect()
    }

    fn writes(
        &self,
        context: &Context,
        read: &Objects,
        intent: &TrafficIntent,
    ) -> Result<Vec<Write>, String> {
        let router = Router::Alb(self.0.clone());
        let service = self.action_service(context);
        let mut writes = Vec::new();
        for Read { target, live, .. } in read {
            let Some(live) = live else {
                return Err(target.missing());
            };
            if !names_service(live, service) {
                return Err(format!(
                    "{} has no rule that sends traffic to {service}",
                    target.describe()
                ));
            }
            let mut shaped = live.clone();
            let mut owned = vec![self.action_key(service)];
            json::set_annotation(
                &mut shaped,
                &self.action_key(service),
                Some(&self.forward(context, intent)),
            );
            for name in &context.managed_routes {
                let route = intent
                    .header_routes
                    .iter()
                    .find(|route| &route.name == name);
                let (action, conditions) = match route {
                    Some(route) => (
                        Some(self.header_action(context)),
                        Some(header_conditions(route)?),
                    ),
                    None => (None, None),
                };
                json::set_annotation(&mut shaped, &self.action_key(name), action.as_deref());
                json::set_annotation(
                    &mut shaped,
                    &self.conditions_key(name),
                    conditions.as_deref(),
                );
                set_header_path(&mut shaped, name, route.is_some());
                if route.is_some() {
                    owned.push(self.action_key(name));
                    owned.push(self.conditions_key(name));
                }
            }
            let mut managed: BTreeMap<String, Vec<String>> =
                json::annotation(live, MANAGED_ANNOTATIONS)
                    .and_then(|text| serde_json::from_str(text).ok())
                    .unwrap_or_default();
            managed.insert(context.rollout.clone(), owned);
            let managed = serde_json::to_string(&managed).expect("a map of lists serialises");
            json::set_annotation(&mut shaped, MANAGED_ANNOTATIONS, Some(&managed));
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

    fn notices(
        &self,
        write: &Write,
        previous: Option<&TrafficIntent>,
        intent: &TrafficIntent,
    ) -> Vec<Notice> {
        let Write::Replace(target, _) = write else {
            return Vec::new();
        };
        let patching = |message: String| vec![Notice::new("PatchingALBIngress", message)];
        let had_routes = previous.is_some_and(|previous| !previous.header_routes.is_empty());
        if super::weight_moves(previous, intent) {
            patching(format!(
                "Updating Ingress `{}` to desiredWeight '{}'",
                target.name, intent.canary_weight
            ))
        } else if had_routes && intent.header_routes.is_empty() {
            patching(format!(
                "Updating Ingress `{}` removing managed routes",
                target.name
            ))
        } else {
            Vec::new()
        }
    }

    fn readings(&self, context: &Context, read: &Objects) -> Vec<RouterReading> {
        super::per_object(read, |_, live| Ok(self.read_ingress(live, context)))
    }
}

impl Alb<'_> {
    fn read_ingress(&self, live: &Value, context: &Context) -> RouterState {
        let action: Option<Value> =
            json::annotation(live, &self.action_key(self.action_service(context)))
                .and_then(|text| serde_json::from_str(text).ok());
        let mut splits = Splits::default();
        if let Some(action) = &action {
            splits.add(
                context.max_weight,
                json::items(action, "/ForwardConfig/TargetGroups")
                    .iter()
                    .map(|group| {
                        let weight = json::weight(group.get("Weight"));
                        (
                            context.destination(json::text(group, "/ServiceName")),
                            weight,
                        )
                    }),
            );
        }
        let (canary_weight, additional) = splits.read();
        let routes = context
            .managed_routes
            .iter()
            .filter(|name| {
                json::annotation(live, &self.conditions_key(name)).is_some()
                    && json::annotation(live, &self.action_key(name)).is_some()
            })
            .cloned()
            .collect();
        RouterState {
            canary_weight,
            routes,
            takes_header_routes: true,
            takes_mirror_routes: false,
            hashes: None,
            additional: Some(additional),
        }
    }
}

/// Puts (or removes) the path `/*` that sends to the header route's action first in every rule.
fn set_header_path(ingress: &mut Value, route: &str, present: bool) {
    let Some(rules) = ingress
        .pointer_mut("/spec/rules")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for rule in rules {
        let Some(paths) = rule
            .pointer_mut("/http/paths")
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        paths.retain(|path| json::text(path, "/backend/service/name") != route);
        if present {
            paths.insert(
                0,
                json!({
                    "path": "/*",
                    "pathType": "ImplementationSpecific",
                    "backend": {"service": {"name": route, "port": {"name": "use-annotation"}}},
                }),
            );
        }
    }
}

#[cfg(test)]
mod tests;
