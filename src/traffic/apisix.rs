//! Apache APISIX, as Argo drives it (`rollout/trafficrouting/apisix`): the weights of the
//! canary and stable backends in the named HTTP rules of an ApisixRoute (the rule named like
//! the route when none are named). A header route is an ApisixRoute of its own, named after
//! the managed route and owned by the Rollout: a copy of the main route with priority one
//! higher, its rules sending only to the canary and matching the route's headers.

use serde_json::{Value, json};

use super::json;
use super::{Context, Kind, Lookup, Objects, Read, Shape, Target, Write};
use crate::model::{
    Apisix as Config, HeaderRoute, Router, RouterReading, RouterState, StringMatch, TrafficIntent,
};

pub const APISIX_ROUTE: Kind = Kind {
    apis: &["apisix.apache.org/v2"],
    kind: "ApisixRoute",
    plural: "apisixroutes",
};

/// The APISIX router of one Rollout.
pub struct Apisix<'a>(pub &'a Config);

impl Apisix<'_> {
    fn rules(&self) -> Vec<&str> {
        if self.0.rules.is_empty() {
            vec![self.0.route.as_str()]
        } else {
            self.0.rules.iter().map(String::as_str).collect()
        }
    }

    fn main<'r>(&self, read: &'r Objects) -> Option<&'r Read> {
        read.iter().find(|read| read.target.name == self.0.route)
    }

    /// The main route with the canary and stable backend weights of its split rules set.
    fn weighed(
        &self,
        target: &Target,
        live: &Value,
        context: &Context,
        intent: &TrafficIntent,
    ) -> Result<Value, String> {
        let mut shaped = live.clone();
        for rule in self.rules() {
            let found = shaped
                .pointer_mut("/spec/http")
                .and_then(Value::as_array_mut)
                .and_then(|rules| {
                    rules
                        .iter_mut()
                        .find(|candidate| json::text(candidate, "/name") == rule)
                })
                .ok_or_else(|| format!("{} has no HTTP rule {rule:?}", target.describe()))?;
            let backends = found
                .get_mut("backends")
                .and_then(Value::as_array_mut)
                .ok_or_else(|| format!("{} rule {rule:?} has no backends", target.describe()))?;
            for (service, weight) in [
                (&context.canary_service, intent.canary_weight),
                (&context.stable_service, intent.stable_weight()),
            ] {
                let backend = backends
                    .iter_mut()
                    .find(|backend| json::text(backend, "/serviceName") == service.as_str())
                    .ok_or_else(|| {
                        format!(
                            "{} rule {rule:?} has no backend {service}",
                            target.describe()
                        )
                    })?;
                backend["weight"] = json!(weight);
            }
        }
        Ok(shaped)
    }

    /// A header route's ApisixRoute spec: the main route's, its split rules sending only to
    /// the canary, when the headers match.
    fn header_spec(&self, main: &Value, route: &HeaderRoute, context: &Context) -> Value {
        let mut spec = main.get("spec").cloned().unwrap_or_else(|| json!({}));
        let rules = self.rules();
        if let Some(http) = spec.get_mut("http").and_then(Value::as_array_mut) {
            http.retain(|rule| rules.contains(&json::text(rule, "/name")));
            for rule in http {
                let priority = rule.get("priority").and_then(Value::as_i64).unwrap_or(0);
                rule["priority"] = json!(priority + 1);
                if let Some(backends) = rule.get_mut("backends").and_then(Value::as_array_mut) {
                    backends.retain(|backend| {
                        json::text(backend, "/serviceName") == context.canary_service
                    });
                    for backend in backends.iter_mut() {
                        backend["weight"] = json!(100);
                    }
                }
                let exprs: Vec<Value> = route
                    .matches
                    .iter()
                    .map(|header| {
                        let (op, value) = match &header.value {
                            StringMatch::Exact(value) => ("Equal", value.clone()),
                            StringMatch::Regex(value) => ("RegexMatch", value.clone()),
                            StringMatch::Prefix(prefix) => ("RegexMatch", format!("^{}.*", regex_escape(prefix))),
                        };
                        json!({"subject": {"scope": "Header", "name": header.header}, "op": op, "value": value})
                    })
                    .collect();
                if !rule.get("match").is_some_and(Value::is_object) {
                    rule["match"] = json!({});
                }
                rule["match"]["exprs"] = Value::Array(exprs);
            }
        }
        spec
    }
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|character| {
            let escape = "\\.+*?()|[]{}^$".contains(character);
            escape
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(character))
        })
        .collect()
}

impl Shape for Apisix<'_> {
    fn lookups(&self, context: &Context) -> Vec<Lookup> {
        let main = Lookup::Named(Target::new(APISIX_ROUTE, &context.namespace, &self.0.route));
        let managed = context
            .managed_routes
            .iter()
            .map(|name| Lookup::Named(Target::new(APISIX_ROUTE, &context.namespace, name)));
        std::iter::once(main).chain(managed).collect()
    }

    fn writes(
        &self,
        context: &Context,
        read: &Objects,
        intent: &TrafficIntent,
    ) -> Result<Vec<Write>, String> {
        let router = Router::Apisix(self.0.clone());
        let main = self
            .main(read)
            .ok_or_else(|| format!("ApisixRoute {} was not read", self.0.route))?;
        let Some(main_live) = &main.live else {
            return Err(main.target.missing());
        };
        let mut writes = Vec::new();
        let shaped = self.weighed(&main.target, main_live, context, intent)?;
        super::replace_changed(
            &mut writes,
            &main.target,
            main_live,
            shaped,
            (&router, context, intent),
        );
        for managed in read.iter().filter(|read| read.target.name != self.0.route) {
            let route = intent
                .header_routes
                .iter()
                .find(|route| route.name == managed.target.name);
            if let Some(live) = &managed.live
                && !json::owned_by(live, &context.owner)
                && !context.owner.is_null()
            {
                return Err(format!(
                    "{} exists but does not belong to Rollout {}",
                    managed.target.describe(),
                    context.rollout
                ));
            }
            match (route, &managed.live) {
                (None, None) => {}
                (None, Some(_)) => writes.push(Write::Delete(managed.target.clone())),
                (Some(route), None) => {
                    let spec = self.header_spec(main_live, route, context);
                    let object = json::owned(
                        managed.api_version,
                        "ApisixRoute",
                        &context.namespace,
                        &route.name,
                        &context.owner,
                        spec,
                    );
                    writes.push(Write::Create(
                        managed.target.clone(),
                        super::record(object, &router, context, intent),
                    ));
                }
                (Some(route), Some(live)) => {
                    let mut shaped = live.clone();
                    shaped["spec"] = self.header_spec(main_live, route, context);
                    super::replace_changed(
                        &mut writes,
                        &managed.target,
                        live,
                        shaped,
                        (&router, context, intent),
                    );
                }
            }
        }
        Ok(writes)
    }

    fn readings(&self, context: &Context, read: &Objects) -> Vec<RouterReading> {
        let Some(main) = self.main(read) else {
            return Vec::new();
        };
        let state = match &main.live {
            None => Err(main.target.missing()),
            Some(live) => {
                let rules = self.rules();
                let weights = json::items(live, "/spec/http")
                    .iter()
                    .filter(|rule| rules.contains(&json::text(rule, "/name")))
                    .flat_map(|rule| json::items(rule, "/backends"))
                    .filter_map(|backend| {
                        let weight = json::weight(backend.get("weight"));
                        context.as_canary_weight(json::text(backend, "/serviceName"), weight)
                    })
                    .collect::<Vec<_>>();
                let routes = read
                    .iter()
                    .filter(|read| read.target.name != self.0.route)
                    .filter(|read| {
                        read.live.as_ref().is_some_and(|live| {
                            context.owner.is_null() || json::owned_by(live, &context.owner)
                        })
                    })
                    .map(|read| read.target.name.clone())
                    .collect();
                Ok(RouterState {
                    canary_weight: json::agreed(weights),
                    routes,
                    takes_header_routes: true,
                    takes_mirror_routes: false,
                    hashes: None,
                    additional: None,
                })
            }
        };
        vec![RouterReading {
            object: main.target.describe(),
            state,
        }]
    }
}

#[cfg(test)]
mod tests;
