//! Gateway API routes (`HTTPRoute`, `GRPCRoute`, `TCPRoute`, `TLSRoute`), as Argo's
//! `argoproj-labs/gatewayAPI` plugin drives them: in every rule that sends traffic to both the
//! canary and the stable Service, their `backendRefs` weights carry the split; header routes
//! (HTTP and gRPC) and mirror routes (HTTP) are added as rules named after the managed route
//! (`<name>`, `<name>-1`, … one per weighted rule), each copying its source rule's matches
//! and filters; the in-progress label marks a route while it sends the canary traffic.
//!
//! `rules` and `backendRefs` are atomic lists: the route is written whole, with the
//! resourceVersion it was read at.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::json;
use super::{Context, Kind, Lookup, Objects, Read, Shape, Target, Write};
use crate::model::{
    GatewayApi as Config, HeaderRoute, MirrorMatch, MirrorRoute, RouteKind, RouterReading,
    RouterState, StringMatch, TrafficIntent,
};

pub const HTTP_ROUTE: Kind = Kind {
    apis: &[
        "gateway.networking.k8s.io/v1",
        "gateway.networking.k8s.io/v1beta1",
    ],
    kind: "HTTPRoute",
    plural: "httproutes",
};
pub const GRPC_ROUTE: Kind = Kind {
    apis: &["gateway.networking.k8s.io/v1"],
    kind: "GRPCRoute",
    plural: "grpcroutes",
};
pub const TCP_ROUTE: Kind = Kind {
    apis: &[
        "gateway.networking.k8s.io/v1",
        "gateway.networking.k8s.io/v1alpha2",
    ],
    kind: "TCPRoute",
    plural: "tcproutes",
};
pub const TLS_ROUTE: Kind = Kind {
    apis: &[
        "gateway.networking.k8s.io/v1",
        "gateway.networking.k8s.io/v1alpha3",
        "gateway.networking.k8s.io/v1alpha2",
    ],
    kind: "TLSRoute",
    plural: "tlsroutes",
};
pub const KINDS: [Kind; 4] = [HTTP_ROUTE, GRPC_ROUTE, TCP_ROUTE, TLS_ROUTE];

fn kind_of(route: RouteKind) -> Kind {
    match route {
        RouteKind::Http => HTTP_ROUTE,
        RouteKind::Grpc => GRPC_ROUTE,
        RouteKind::Tcp => TCP_ROUTE,
        RouteKind::Tls => TLS_ROUTE,
    }
}

fn route_kind(kind: Kind) -> RouteKind {
    match kind.kind {
        "HTTPRoute" => RouteKind::Http,
        "GRPCRoute" => RouteKind::Grpc,
        "TCPRoute" => RouteKind::Tcp,
        _ => RouteKind::Tls,
    }
}

/// The Gateway API router of one Rollout.
pub struct GatewayApi<'a>(pub &'a Config);

impl GatewayApi<'_> {
    fn namespace<'n>(&'n self, context: &'n Context) -> &'n str {
        self.0.namespace.as_deref().unwrap_or(&context.namespace)
    }

    /// Whether managed routes go into this route: only routes named with header routes on.
    fn takes_managed_routes(&self, target: &Target) -> bool {
        let kind = route_kind(target.kind);
        self.0
            .routes
            .iter()
            .any(|route| route.kind == kind && route.name == target.name && route.header_routes)
    }
}

impl Shape for GatewayApi<'_> {
    fn lookups(&self, context: &Context) -> Vec<Lookup> {
        let namespace = self.namespace(context);
        let named =
            self.0.routes.iter().map(|route| {
                Lookup::Named(Target::new(kind_of(route.kind), namespace, &route.name))
            });
        let selected = self
            .0
            .selectors
            .iter()
            .map(|(kind, selector)| Lookup::Selected {
                kind: kind_of(*kind),
                namespace: namespace.to_owned(),
                selector: selector.clone(),
            });
        named.chain(selected).collect()
    }

    fn writes(
        &self,
        context: &Context,
        read: &Objects,
        intent: &TrafficIntent,
    ) -> Result<Vec<Write>, String> {
        let mut writes = Vec::new();
        for Read { target, live, .. } in read {
            let Some(live) = live else {
                return Err(target.missing());
            };
            let managed = self.takes_managed_routes(target);
            let mut shaped = shape_route(target, live, managed, intent, context)?;
            if let Some((key, value)) = &self.0.in_progress_label {
                let value = (intent.canary_weight > 0).then_some(value.as_str());
                json::set_label(&mut shaped, key, value);
            }
            let router = crate::model::Router::GatewayApi(self.0.clone());
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
        super::per_object(read, |target, live| {
            let takes_managed = self.takes_managed_routes(target);
            Ok(read_route(target, live, takes_managed, context))
        })
    }
}

/// Whether a rule's name is that of a managed route, or one of its numbered copies.
fn managed_rule(rule: &Value, managed: &[String]) -> Option<String> {
    let name = rule.get("name")?.as_str()?;
    managed
        .iter()
        .find(|managed| {
            name == managed.as_str()
                || name
                    .strip_prefix(managed.as_str())
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|number| {
                        !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
                    })
        })
        .cloned()
}

fn refs_named<'a>(rule: &'a Value, service: &str) -> impl Iterator<Item = &'a Value> {
    json::items(rule, "/backendRefs")
        .iter()
        .filter(move |reference| reference.get("name").and_then(Value::as_str) == Some(service))
}

/// A rule that sends traffic to both the canary and the stable Service.
fn weighted(rule: &Value, context: &Context) -> bool {
    refs_named(rule, &context.canary_service).next().is_some()
        && refs_named(rule, &context.stable_service).next().is_some()
}

fn shape_route(
    target: &Target,
    live: &Value,
    takes_managed: bool,
    intent: &TrafficIntent,
    context: &Context,
) -> Result<Value, String> {
    let kind = route_kind(target.kind);
    let rules = live
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{} has no spec.rules", target.describe()))?;
    let mut kept: Vec<Value> = rules
        .iter()
        .filter(|rule| managed_rule(rule, &context.managed_routes).is_none())
        .cloned()
        .collect();
    let mut sources = Vec::new();
    for rule in &mut kept {
        if !weighted(rule, context) {
            continue;
        }
        set_weights(rule, context, intent);
        sources.push(rule.clone());
    }
    if sources.is_empty() {
        return Err(format!(
            "{} has no rule that sends traffic to both {} and {}",
            target.describe(),
            context.canary_service,
            context.stable_service
        ));
    }
    if takes_managed {
        for name in &intent.managed_routes {
            if let Some(route) = intent
                .header_routes
                .iter()
                .find(|route| &route.name == name)
                && matches!(kind, RouteKind::Http | RouteKind::Grpc)
            {
                for (index, source) in sources.iter().enumerate() {
                    kept.push(header_rule(kind, route, index, source, context));
                }
            }
            if let Some(route) = intent
                .mirror_routes
                .iter()
                .find(|route| &route.name == name)
                && kind == RouteKind::Http
            {
                for (index, source) in sources.iter().enumerate() {
                    kept.push(mirror_rule(route, index, source, context)?);
                }
            }
        }
    }
    let mut shaped = live.clone();
    if let Some(spec) = shaped.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("rules".into(), Value::Array(kept));
    }
    Ok(shaped)
}

fn set_weights(rule: &mut Value, context: &Context, intent: &TrafficIntent) {
    let Some(references) = rule.get_mut("backendRefs").and_then(Value::as_array_mut) else {
        return;
    };
    for reference in references {
        let name = reference.get("name").and_then(Value::as_str).unwrap_or("");
        let weight = if name == context.canary_service {
            intent.canary_weight
        } else if name == context.stable_service {
            intent.stable_weight()
        } else {
            continue;
        };
        reference["weight"] = json!(weight);
    }
}

fn numbered(name: &str, index: usize) -> String {
    if index == 0 {
        name.to_owned()
    } else {
        format!("{name}-{index}")
    }
}

/// The canary's backendRef of `source`, sending all of the rule's traffic.
fn canary_ref(source: &Value, context: &Context) -> Value {
    let mut reference = refs_named(source, &context.canary_service)
        .next()
        .cloned()
        .unwrap_or_else(|| json!({"name": context.canary_service}));
    reference["weight"] = json!(1);
    reference
}

/// A header route: the source rule's matches, each also requiring the route's headers, sent
/// to the canary alone.
fn header_rule(
    kind: RouteKind,
    route: &HeaderRoute,
    index: usize,
    source: &Value,
    context: &Context,
) -> Value {
    let headers: Vec<Value> = route
        .matches
        .iter()
        .map(|header| {
            let (kind, value) = regex_or_exact(&header.value);
            json!({"type": kind, "name": header.header, "value": value})
        })
        .collect();
    let names: BTreeSet<String> = route
        .matches
        .iter()
        .map(|header| header.header.to_ascii_lowercase())
        .collect();
    let source_matches = json::items(source, "/matches");
    let matches: Vec<Value> = if source_matches.is_empty() {
        let mut only = Map::new();
        if kind == RouteKind::Http {
            only.insert("path".into(), json!({"type": "PathPrefix", "value": "/"}));
        }
        only.insert("headers".into(), Value::Array(headers));
        vec![Value::Object(only)]
    } else {
        source_matches
            .iter()
            .map(|source_match| {
                let mut combined = source_match.clone();
                let mut all: Vec<Value> = json::items(source_match, "/headers")
                    .iter()
                    .filter(|header| {
                        let name = header.get("name").and_then(Value::as_str).unwrap_or("");
                        !names.contains(&name.to_ascii_lowercase())
                    })
                    .cloned()
                    .collect();
                all.extend(headers.iter().cloned());
                combined["headers"] = Value::Array(all);
                combined
            })
            .collect()
    };
    let mut rule = Map::new();
    rule.insert("name".into(), json!(numbered(&route.name, index)));
    rule.insert("matches".into(), Value::Array(matches));
    if let Some(filters) = source.get("filters") {
        rule.insert("filters".into(), filters.clone());
    }
    rule.insert(
        "backendRefs".into(),
        Value::Array(vec![canary_ref(source, context)]),
    );
    Value::Object(rule)
}

/// A mirror route: requests matching the route keep going where the source rule sends them
/// (with its weights), and a copy of `percentage` of them goes to the canary.
fn mirror_rule(
    route: &MirrorRoute,
    index: usize,
    source: &Value,
    context: &Context,
) -> Result<Value, String> {
    let matches = route
        .matches
        .iter()
        .map(mirror_match)
        .collect::<Result<Vec<Value>, String>>()?;
    let canary = canary_ref(source, context);
    let mut backend = Map::new();
    backend.insert("group".into(), json!(""));
    backend.insert("kind".into(), json!("Service"));
    backend.insert("name".into(), json!(context.canary_service));
    if let Some(port) = canary.get("port") {
        backend.insert("port".into(), port.clone());
    }
    let mut mirror = Map::new();
    mirror.insert("backendRef".into(), Value::Object(backend));
    if let Some(percent) = route.percentage.filter(|percent| *percent != 100) {
        mirror.insert("percent".into(), json!(percent));
    }
    let mut filters: Vec<Value> = json::items(source, "/filters").to_vec();
    filters.push(json!({"type": "RequestMirror", "requestMirror": Value::Object(mirror)}));
    let mut rule = Map::new();
    rule.insert("name".into(), json!(numbered(&route.name, index)));
    rule.insert("matches".into(), Value::Array(matches));
    rule.insert("filters".into(), Value::Array(filters));
    rule.insert(
        "backendRefs".into(),
        source.get("backendRefs").cloned().unwrap_or(json!([])),
    );
    Ok(Value::Object(rule))
}

fn mirror_match(mirror: &MirrorMatch) -> Result<Value, String> {
    let mut matched = Map::new();
    let path = match &mirror.path {
        None => json!({"type": "PathPrefix", "value": "/"}),
        Some(StringMatch::Exact(path)) => json!({"type": "Exact", "value": path}),
        Some(StringMatch::Prefix(path)) => json!({"type": "PathPrefix", "value": path}),
        Some(StringMatch::Regex(path)) => json!({"type": "RegularExpression", "value": path}),
    };
    matched.insert("path".into(), path);
    match &mirror.method {
        None => {}
        Some(StringMatch::Exact(method)) => {
            matched.insert("method".into(), json!(method.to_ascii_uppercase()));
        }
        Some(other) => {
            return Err(format!(
                "Gateway API matches a method exactly; {other} cannot be routed"
            ));
        }
    }
    if !mirror.headers.is_empty() {
        let headers: Vec<Value> = mirror
            .headers
            .iter()
            .map(|(name, value)| {
                let (kind, value) = regex_or_exact(value);
                json!({"type": kind, "name": name, "value": value})
            })
            .collect();
        matched.insert("headers".into(), Value::Array(headers));
    }
    Ok(Value::Object(matched))
}

/// A string match as Gateway API's header matches express it: exact, or a regular
/// expression (a prefix is the escaped prefix followed by anything).
fn regex_or_exact(value: &StringMatch) -> (&'static str, String) {
    match value {
        StringMatch::Exact(exact) => ("Exact", exact.clone()),
        StringMatch::Prefix(prefix) => ("RegularExpression", format!("{}.*", escape_regex(prefix))),
        StringMatch::Regex(regex) => ("RegularExpression", regex.clone()),
    }
}

fn escape_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if "\\.+*?()|[]{}^$".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// What a route carries: the canary's weight if every weighted rule agrees (and gives the
/// stable the rest), and the managed routes among its rules.
fn read_route(
    target: &Target,
    live: &Value,
    takes_managed: bool,
    context: &Context,
) -> RouterState {
    let kind = route_kind(target.kind);
    let rules = json::items(live, "/spec/rules");
    let weights = rules
        .iter()
        .filter(|rule| managed_rule(rule, &context.managed_routes).is_none())
        .filter(|rule| weighted(rule, context))
        .flat_map(|rule| {
            let canary = refs_named(rule, &context.canary_service).map(backend_weight);
            let stable = refs_named(rule, &context.stable_service)
                .map(backend_weight)
                .map(|stable| stable.map(|weight| context.max_weight - weight));
            canary.chain(stable).collect::<Vec<_>>()
        });
    let routes = rules
        .iter()
        .filter_map(|rule| managed_rule(rule, &context.managed_routes))
        .collect();
    RouterState {
        canary_weight: json::agreed(weights),
        routes,
        takes_header_routes: takes_managed && matches!(kind, RouteKind::Http | RouteKind::Grpc),
        takes_mirror_routes: takes_managed && kind == RouteKind::Http,
        hashes: None,
        additional: None,
    }
}

/// A backendRef's weight; Gateway API's default is 1.
fn backend_weight(reference: &Value) -> Option<i32> {
    match reference.get("weight") {
        None => Some(1),
        weight => json::weight(weight),
    }
}

#[cfg(test)]
mod tests;
