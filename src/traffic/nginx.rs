//! NGINX Ingress, as Argo drives it (`rollout/trafficrouting/nginx`): beside each stable
//! Ingress, a canary Ingress the Rollout owns, named `<rollout>-<ingress>-canary`, copying
//! the stable Ingress's rules that send to the stable Service (sending them to the canary
//! Service instead), its TLS and its class, and annotated `canary: "true"` and
//! `canary-weight` (with `canary-weight-total` when `maxTrafficWeight` is not 100). It stays
//! at weight 0 between updates.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::json;
use super::{Context, Kind, Lookup, Notice, Objects, Read, Shape, Target, Write};
use crate::model::{Nginx as Config, Router, RouterReading, RouterState, TrafficIntent};

pub const INGRESS: Kind = Kind {
    apis: &["networking.k8s.io/v1"],
    kind: "Ingress",
    plural: "ingresses",
};
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// The longest name a canary Ingress may have.
const MAX_NAME: usize = 253;

/// The NGINX router of one Rollout.
pub struct Nginx<'a>(pub &'a Config);

/// The canary Ingress's name for a stable Ingress.
pub fn canary_name(rollout: &str, stable: &str) -> String {
    let mut prefix = format!("{rollout}-{stable}");
    prefix.truncate(MAX_NAME - "-canary".len());
    format!("{prefix}-canary")
}

impl Nginx<'_> {
    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.0.annotation_prefix)
    }

    /// The annotations the canary Ingress has for `weight`.
    fn annotations(
        &self,
        stable: &Value,
        weight: i32,
        context: &Context,
    ) -> BTreeMap<String, String> {
        let mut annotations = BTreeMap::new();
        if let Some(class) = json::annotation(stable, CLASS_ANNOTATION) {
            annotations.insert(CLASS_ANNOTATION.to_owned(), class.to_owned());
        }
        for (key, value) in &self.0.additional_annotations {
            let key = if key.starts_with(&self.0.annotation_prefix) {
                key.clone()
            } else {
                self.key(key)
            };
            annotations.insert(key, value.clone());
        }
        for (key, value) in &self.0.canary_annotations {
            annotations.insert(key.clone(), value.clone());
        }
        annotations.insert(self.key("canary"), "true".to_owned());
        annotations.insert(self.key("canary-weight"), weight.to_string());
        if context.max_weight == 100 {
            annotations.remove(&self.key("canary-weight-total"));
        } else {
            annotations.insert(
                self.key("canary-weight-total"),
                context.max_weight.to_string(),
            );
        }
        annotations
    }
}

/// The canary Ingress's spec: the stable's rules that send to the stable Service, sent to the
/// canary Service; its TLS and class.
fn canary_spec(target: &Target, stable: &Value, context: &Context) -> Result<Value, String> {
    let mut rules = Vec::new();
    for rule in json::items(stable, "/spec/rules") {
        let mut rule = rule.clone();
        let mut sends_to_stable = false;
        if let Some(paths) = rule
            .pointer_mut("/http/paths")
            .and_then(Value::as_array_mut)
        {
            for path in paths {
                if let Some(service) = path.pointer_mut("/backend/service/name")
                    && service.as_str() == Some(context.stable_service.as_str())
                {
                    *service = json!(context.canary_service);
                    sends_to_stable = true;
                }
            }
        }
        if sends_to_stable {
            rules.push(rule);
        }
    }
    if rules.is_empty() {
        return Err(format!(
            "{} has no rule that sends traffic to {}",
            target.describe(),
            context.stable_service
        ));
    }
    let mut spec = Map::new();
    if let Some(class) = stable.pointer("/spec/ingressClassName") {
        spec.insert("ingressClassName".into(), class.clone());
    }
    if let Some(tls) = stable.pointer("/spec/tls") {
        spec.insert("tls".into(), tls.clone());
    }
    spec.insert("rules".into(), Value::Array(rules));
    Ok(Value::Object(spec))
}

impl Shape for Nginx<'_> {
    fn lookups(&self, context: &Context) -> Vec<Lookup> {
        self.0
            .stable_ingresses
            .iter()
            .flat_map(|stable| {
                let canary = canary_name(&context.rollout, stable);
                [
                    Lookup::Named(Target::new(INGRESS, &context.namespace, stable)),
                    Lookup::Named(Target::new(INGRESS, &context.namespace, &canary)),
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
        let router = Router::Nginx(self.0.clone());
        let mut writes = Vec::new();
        for stable_name in &self.0.stable_ingresses {
            let stable = find(read, stable_name).ok_or_else(|| {
                format!("Ingress {}/{stable_name} was not read", context.namespace)
            })?;
            let Some(stable_live) = &stable.live else {
                return Err(stable.target.missing());
            };
            let canary_name = canary_name(&context.rollout, stable_name);
            let canary = find(read, &canary_name).ok_or_else(|| {
                format!("Ingress {}/{canary_name} was not read", context.namespace)
            })?;
            let spec = canary_spec(&stable.target, stable_live, context)?;
            let annotations = self.annotations(stable_live, intent.canary_weight, context);
            let annotations: Map<String, Value> = annotations
                .into_iter()
                .map(|(key, value)| (key, Value::String(value)))
                .collect();
            match &canary.live {
                None => {
                    let mut object = json::owned(
                        canary.api_version,
                        "Ingress",
                        &context.namespace,
                        &canary_name,
                        &context.owner,
                        spec,
                    );
                    object["metadata"]["annotations"] = Value::Object(annotations);
                    let object = super::record(object, &router, context, intent);
                    writes.push(Write::Create(canary.target.clone(), object));
                }
                Some(live) => {
                    if !json::owned_by(live, &context.owner) {
                        return Err(format!(
                            "{} exists but does not belong to Rollout {}",
                            canary.target.describe(),
                            context.rollout
                        ));
                    }
                    let mut shaped = live.clone();
                    shaped["spec"] = spec;
                    shaped["metadata"]["annotations"] = Value::Object(annotations);
                    let shaped = super::record(shaped, &router, context, intent);
                    if without_record(&shaped) != without_record(live) {
                        writes.push(Write::Replace(
                            canary.target.clone(),
                            json::for_replace(shaped),
                        ));
                    }
                }
            }
        }
        Ok(writes)
    }

    fn notices(
        &self,
        write: &Write,
        previous: Option<&TrafficIntent>,
        intent: &TrafficIntent,
    ) -> Vec<Notice> {
        let weight = intent.canary_weight;
        match write {
            Write::Create(target, _) => vec![Notice::new(
                "CreatingCanaryIngress",
                format!(
                    "Creating canary ingress `{}` with weight `{weight}`",
                    target.name
                ),
            )],
            Write::Replace(target, _) if super::weight_moves(previous, intent) => {
                vec![Notice::new(
                    "PatchingCanaryIngress",
                    format!(
                        "Updating Ingress `{}` to desiredWeight '{weight}'",
                        target.name
                    ),
                )]
            }
            _ => Vec::new(),
        }
    }

    fn readings(&self, context: &Context, read: &Objects) -> Vec<RouterReading> {
        self.0
            .stable_ingresses
            .iter()
            .map(|stable| {
                let name = canary_name(&context.rollout, stable);
                let object = format!("Ingress {}/{name}", context.namespace);
                let state = match find(read, &name).and_then(|read| read.live.as_ref()) {
                    None => Err(format!("{object} does not exist yet")),
                    Some(live) => Ok(self.read_canary(live, context)),
                };
                RouterReading { object, state }
            })
            .collect()
    }
}

impl Nginx<'_> {
    fn read_canary(&self, live: &Value, context: &Context) -> RouterState {
        let enabled = json::annotation(live, &self.key("canary")) == Some("true");
        let total = json::annotation(live, &self.key("canary-weight-total"))
            .map_or(Some(100), |total| total.parse().ok());
        let weight =
            json::annotation(live, &self.key("canary-weight")).and_then(|w| w.parse().ok());
        RouterState {
            canary_weight: weight.filter(|_| enabled && total == Some(context.max_weight)),
            ..RouterState::default()
        }
    }
}

fn find<'a>(read: &'a Objects, name: &str) -> Option<&'a Read> {
    read.iter().find(|read| read.target.name == name)
}

/// An object without its recorded intent, to tell whether anything else changed.
fn without_record(object: &Value) -> Value {
    let mut object = object.clone();
    json::set_annotation(&mut object, super::INTENT_ANNOTATION, None);
    object
}

#[cfg(test)]
mod tests;
