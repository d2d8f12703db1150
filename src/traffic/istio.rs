//! Istio, as Argo drives it (`rollout/trafficrouting/istio`): the weights of the canary and
//! stable destinations in named (or the only) HTTP routes, TLS routes (by port and SNI hosts)
//! and TCP routes (by port) of each VirtualService. A destination is the canary's when its
//! host is the canary Service (`web-canary`, `web-canary.shop`, or a cluster-local name) or
//! its subset is the canary subset. With a DestinationRule (subset-level routing) the canary
//! and stable subsets select the revisions by pod-template hash. Header and mirror routes are
//! HTTP routes named after the managed route, placed before all others in `managedRoutes`
//! order.
//!
//! While an experiment step runs, its weighted templates' Services are destinations of each
//! of those routes too (`host` only, as in Argo), taking their weights from the stable's; the
//! record of the write names them, so they go again once the experiment stops running.
//!
//! Unlike Argo, other destinations of a route and other subsets of the DestinationRule are
//! kept, not deleted (argo-rollouts#3125); and no DestinationRule subsets are added for
//! experiment Services (Argo adds them, but its destinations name the Services, not them).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::json;
use super::split::{Destination, Splits};
use super::{Context, Kind, Lookup, Notice, Objects, Read, Shape, Target, Write};
use crate::k8s::labels;
use crate::model::{
    AdditionalDestination, HeaderRoute, Istio as Config, IstioVirtualService, MirrorRoute, Router,
    RouterReading, RouterState, StringMatch, TrafficIntent,
};

const APIS: &[&str] = &[
    "networking.istio.io/v1",
    "networking.istio.io/v1beta1",
    "networking.istio.io/v1alpha3",
];
pub const VIRTUAL_SERVICE: Kind = Kind {
    apis: APIS,
    kind: "VirtualService",
    plural: "virtualservices",
};
pub const DESTINATION_RULE: Kind = Kind {
    apis: APIS,
    kind: "DestinationRule",
    plural: "destinationrules",
};
pub const KINDS: [Kind; 2] = [VIRTUAL_SERVICE, DESTINATION_RULE];

/// The Istio router of one Rollout.
pub struct Istio<'a>(pub &'a Config);

/// The DestinationRule read, if any.
fn destination_rule(read: &Objects) -> Option<&Read> {
    read.iter()
        .find(|read| read.target.kind == DESTINATION_RULE)
}

impl Istio<'_> {
    fn virtual_service(&self, target: &Target, context: &Context) -> Option<&IstioVirtualService> {
        self.0.virtual_services.iter().find(|vs| {
            vs.name == target.name
                && vs.namespace.as_deref().unwrap_or(&context.namespace) == target.namespace
        })
    }

    /// Who is who among destinations.
    fn roles<'c>(&'c self, context: &'c Context) -> Roles<'c> {
        let rule = self.0.destination_rule.as_ref();
        Roles {
            canary_service: &context.canary_service,
            stable_service: &context.stable_service,
            canary_subset: rule.map(|rule| rule.canary_subset.as_str()),
            stable_subset: rule.map(|rule| rule.stable_subset.as_str()),
        }
    }
}

struct Roles<'a> {
    canary_service: &'a str,
    stable_service: &'a str,
    canary_subset: Option<&'a str>,
    stable_subset: Option<&'a str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Canary,
    Stable,
}

impl Roles<'_> {
    /// Who `destination` is in the split: the canary, the stable, or one of the
    /// `experiments`' Services; `None` for any other (left alone).
    fn destination<'v>(
        &self,
        destination: &'v Value,
        experiments: &BTreeSet<String>,
    ) -> Option<Destination<'v>> {
        match self.of(destination) {
            Some(Role::Canary) => Some(Destination::Canary),
            Some(Role::Stable) => Some(Destination::Stable),
            None => {
                let host = json::text(destination, "/destination/host");
                let service = host.split('.').next().unwrap_or("");
                experiments
                    .contains(service)
                    .then_some(Destination::Other(service))
            }
        }
    }

    fn of(&self, destination: &Value) -> Option<Role> {
        let host = json::text(destination, "/destination/host");
        let subset = destination
            .pointer("/destination/subset")
            .and_then(Value::as_str);
        // `web-canary`, `web-canary.shop`, `web-canary.shop.svc.cluster.local` all name it.
        let service = host.split('.').next().unwrap_or("");
        if let (Some(subset), Some(canary), Some(stable)) =
            (subset, self.canary_subset, self.stable_subset)
        {
            return if subset == canary {
                Some(Role::Canary)
            } else if subset == stable {
                Some(Role::Stable)
            } else {
                None
            };
        }
        if !self.canary_service.is_empty() && service == self.canary_service {
            Some(Role::Canary)
        } else if !self.stable_service.is_empty() && service == self.stable_service {
            Some(Role::Stable)
        } else {
            None
        }
    }
}

impl Shape for Istio<'_> {
    fn lookups(&self, context: &Context) -> Vec<Lookup> {
        let services = self.0.virtual_services.iter().map(|vs| {
            let namespace = vs.namespace.as_deref().unwrap_or(&context.namespace);
            Lookup::Named(Target::new(VIRTUAL_SERVICE, namespace, &vs.name))
        });
        let rule = self.0.destination_rule.iter().map(|rule| {
            Lookup::Named(Target::new(
                DESTINATION_RULE,
                &context.namespace,
                &rule.name,
            ))
        });
        rule.chain(services).collect()
    }

    fn writes(
        &self,
        context: &Context,
        read: &Objects,
        intent: &TrafficIntent,
    ) -> Result<Vec<Write>, String> {
        let router = Router::Istio(self.0.clone());
        let mut writes = Vec::new();
        // The DestinationRule first: subsets select the revisions before weights move.
        if let (Some(config), Some(rule)) = (&self.0.destination_rule, destination_rule(read)) {
            let Some(live) = &rule.live else {
                return Err(format!("{} does not exist", rule.target.describe()));
            };
            let mut shaped = live.clone();
            for (subset, hash) in [
                (&config.canary_subset, &intent.canary_hash),
                (&config.stable_subset, &intent.stable_hash),
            ] {
                let subsets = shaped
                    .pointer_mut("/spec/subsets")
                    .and_then(Value::as_array_mut)
                    .ok_or_else(|| format!("{} has no subsets", rule.target.describe()))?;
                let found = subsets
                    .iter_mut()
                    .find(|candidate| json::text(candidate, "/name") == subset.as_str())
                    .ok_or_else(|| {
                        format!("{} has no subset {subset:?}", rule.target.describe())
                    })?;
                if !found.get("labels").is_some_and(Value::is_object) {
                    found["labels"] = json!({});
                }
                found["labels"][labels::POD_TEMPLATE_HASH] = json!(hash);
            }
            json::set_annotation(&mut shaped, labels::MANAGED_BY, Some(&context.rollout));
            if &shaped != live {
                let recorded = super::record(shaped, &router, context, intent);
                writes.push(Write::Replace(
                    rule.target.clone(),
                    json::for_replace(recorded),
                ));
            }
        }
        for read in read
            .iter()
            .filter(|read| read.target.kind == VIRTUAL_SERVICE)
        {
            let Some(live) = &read.live else {
                return Err(format!("{} does not exist", read.target.describe()));
            };
            let config = self
                .virtual_service(&read.target, context)
                .ok_or_else(|| format!("{} is not configured", read.target.describe()))?;
            let shaped = self.shape_service(&read.target, live, config, context, intent)?;
            if &shaped != live {
                let recorded = super::record(shaped, &router, context, intent);
                writes.push(Write::Replace(
                    read.target.clone(),
                    json::for_replace(recorded),
                ));
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
        let Write::Replace(target, _) = write else {
            return Vec::new();
        };
        let name = &target.name;
        if target.kind == DESTINATION_RULE {
            return self
                .0
                .destination_rule
                .iter()
                .map(|rule| {
                    Notice::new(
                        "UpdatedDestinationRule",
                        format!(
                            "DestinationRule {name} subset updated ({}: {}, {}: {})",
                            rule.canary_subset,
                            intent.canary_hash,
                            rule.stable_subset,
                            intent.stable_hash
                        ),
                    )
                })
                .collect();
        }
        let updated = |message: String| Notice::new("Updated VirtualService", message);
        let mut notices = Vec::new();
        if super::weight_moves(previous, intent) {
            notices.push(updated(format!(
                "VirtualService `{name}` set to desiredWeight '{}'",
                intent.canary_weight
            )));
        }
        let carried = |route: &str| {
            previous.is_some_and(|previous| {
                previous.header_routes.iter().any(|r| r.name == route)
                    || previous.mirror_routes.iter().any(|r| r.name == route)
            })
        };
        for route in intent.header_routes.iter().filter(|r| !carried(&r.name)) {
            notices.push(updated(format!(
                "VirtualService `{name}` set headerRoute '{}'",
                route.name
            )));
        }
        for route in intent.mirror_routes.iter().filter(|r| !carried(&r.name)) {
            notices.push(updated(format!(
                "VirtualService `{name}` set mirrorRoute '{}'",
                route.name
            )));
        }
        let had_routes = previous.is_some_and(|previous| {
            !previous.header_routes.is_empty() || !previous.mirror_routes.is_empty()
        });
        if had_routes && intent.header_routes.is_empty() && intent.mirror_routes.is_empty() {
            notices.push(updated(format!(
                "VirtualService `{name}` removed all managed routes."
            )));
        }
        notices
    }

    fn readings(&self, context: &Context, read: &Objects) -> Vec<RouterReading> {
        let hashes = match (&self.0.destination_rule, destination_rule(read)) {
            (Some(config), Some(rule)) => match &rule.live {
                None => Some(Err(format!("{} does not exist", rule.target.describe()))),
                Some(live) => Some(Ok(subset_hashes(
                    live,
                    &config.canary_subset,
                    &config.stable_subset,
                ))),
            },
            _ => None,
        };
        read.iter()
            .filter(|read| read.target.kind == VIRTUAL_SERVICE)
            .map(|read| {
                let state = match (&read.live, &hashes) {
                    (None, _) => Err(format!("{} does not exist", read.target.describe())),
                    (_, Some(Err(error))) => Err(error.clone()),
                    (Some(live), hashes) => self
                        .virtual_service(&read.target, context)
                        .ok_or_else(|| format!("{} is not configured", read.target.describe()))
                        .and_then(|config| {
                            let mut state =
                                self.read_service(&read.target, live, config, context)?;
                            state.hashes = hashes.clone().and_then(Result::ok);
                            Ok(state)
                        }),
                };
                RouterReading {
                    object: read.target.describe(),
                    state,
                }
            })
            .collect()
    }
}

/// Whether header and mirror routes go into the VirtualService: not into one that splits
/// only TLS or TCP routes (a header route means nothing there).
fn takes_managed_routes(config: &IstioVirtualService) -> bool {
    !config.http_routes.is_empty() || (config.tls_routes.is_empty() && config.tcp_routes.is_empty())
}

/// Indexes of the HTTP routes that carry the split: those named, or the only unmanaged one.
fn http_routes(
    target: &Target,
    live: &Value,
    config: &IstioVirtualService,
    context: &Context,
) -> Result<Vec<usize>, String> {
    let http = json::items(live, "/spec/http");
    if !config.http_routes.is_empty() {
        return config
            .http_routes
            .iter()
            .map(|name| {
                http.iter()
                    .position(|route| json::text(route, "/name") == name)
                    .ok_or_else(|| format!("{} has no HTTP route {name:?}", target.describe()))
            })
            .collect();
    }
    if !config.tls_routes.is_empty() || !config.tcp_routes.is_empty() {
        return Ok(Vec::new());
    }
    let unmanaged: Vec<usize> = http
        .iter()
        .enumerate()
        .filter(|(_, route)| {
            !context
                .managed_routes
                .iter()
                .any(|name| name == json::text(route, "/name"))
        })
        .map(|(index, _)| index)
        .collect();
    match unmanaged.as_slice() {
        [only] => Ok(vec![*only]),
        [] => Err(format!("{} has no HTTP route", target.describe())),
        _ => Err(format!(
            "{} has {} HTTP routes: name the ones to split in virtualService.routes",
            target.describe(),
            unmanaged.len()
        )),
    }
}

/// Indexes of the TLS routes whose matches give exactly the port and SNI hosts configured.
fn tls_routes(
    target: &Target,
    live: &Value,
    config: &IstioVirtualService,
) -> Result<Vec<usize>, String> {
    let tls = json::items(live, "/spec/tls");
    let mut found = Vec::new();
    for wanted in &config.tls_routes {
        let mut sni: Vec<&str> = wanted.sni_hosts.iter().map(String::as_str).collect();
        sni.sort_unstable();
        let matching: Vec<usize> = tls
            .iter()
            .enumerate()
            .filter(|(_, route)| {
                let matches = json::items(route, "/match");
                let mut ports: Vec<i64> = matches
                    .iter()
                    .map(|m| m.get("port").and_then(Value::as_i64).unwrap_or(0))
                    .collect();
                ports.dedup();
                let mut hosts: Vec<&str> = matches
                    .iter()
                    .flat_map(|m| json::items(m, "/sniHosts"))
                    .filter_map(Value::as_str)
                    .collect();
                hosts.sort_unstable();
                hosts.dedup();
                ports.len() <= 1
                    && ports.first().copied().unwrap_or(0) == wanted.port
                    && hosts == sni
            })
            .map(|(index, _)| index)
            .collect();
        if matching.is_empty() {
            return Err(format!(
                "{} has no TLS route for port {} and SNI hosts {:?}",
                target.describe(),
                wanted.port,
                wanted.sni_hosts
            ));
        }
        found.extend(matching);
    }
    Ok(found)
}

/// Indexes of the TCP routes whose matches give exactly the port configured.
fn tcp_routes(
    target: &Target,
    live: &Value,
    config: &IstioVirtualService,
) -> Result<Vec<usize>, String> {
    let tcp = json::items(live, "/spec/tcp");
    let mut found = Vec::new();
    for port in &config.tcp_routes {
        let matching: Vec<usize> = tcp
            .iter()
            .enumerate()
            .filter(|(_, route)| {
                let ports: Vec<i64> = json::items(route, "/match")
                    .iter()
                    .map(|m| m.get("port").and_then(Value::as_i64).unwrap_or(0))
                    .collect();
                ports.first().copied().unwrap_or(0) == *port && ports.iter().all(|p| p == port)
            })
            .map(|(index, _)| index)
            .collect();
        if matching.is_empty() {
            return Err(format!(
                "{} has no TCP route for port {port}",
                target.describe()
            ));
        }
        found.extend(matching);
    }
    Ok(found)
}

impl Istio<'_> {
    fn shape_service(
        &self,
        target: &Target,
        live: &Value,
        config: &IstioVirtualService,
        context: &Context,
        intent: &TrafficIntent,
    ) -> Result<Value, String> {
        let roles = self.roles(context);
        let experiments = experiment_services(live);
        let mut shaped = live.clone();
        // Managed routes are rebuilt from scratch below.
        let managed = |route: &Value| {
            context
                .managed_routes
                .iter()
                .any(|name| name == json::text(route, "/name"))
        };
        let http: Vec<Value> = json::items(live, "/spec/http")
            .iter()
            .filter(|route| !managed(route))
            .cloned()
            .collect();
        let mut unmanaged = live.clone();
        unmanaged["spec"]["http"] = Value::Array(http);
        let selected = [
            ("http", http_routes(target, &unmanaged, config, context)?),
            ("tls", tls_routes(target, live, config)?),
            ("tcp", tcp_routes(target, live, config)?),
        ];
        let mut primary = None;
        for (section, indexes) in selected {
            for index in indexes {
                let route = &mut unmanaged["spec"][section][index];
                set_weights(target, route, (&roles, &experiments), intent)?;
                if section == "http" && primary.is_none() {
                    primary = Some(route.clone());
                }
            }
        }
        let mut http: Vec<Value> = json::items(&unmanaged, "/spec/http").to_vec();
        let mut first: Vec<Value> = Vec::new();
        let managed_names = if takes_managed_routes(config) {
            intent.managed_routes.as_slice()
        } else {
            &[]
        };
        for name in managed_names {
            if let Some(route) = intent
                .header_routes
                .iter()
                .find(|route| &route.name == name)
            {
                first.push(header_route(route, &roles, primary.as_ref()));
            }
            if let Some(route) = intent
                .mirror_routes
                .iter()
                .find(|route| &route.name == name)
            {
                let primary = primary
                    .as_ref()
                    .ok_or_else(|| format!("{} has no HTTP route to mirror", target.describe()))?;
                first.push(mirror_route(route, &roles, primary)?);
            }
        }
        first.append(&mut http);
        let spec = shaped
            .get_mut("spec")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("{} has no spec", target.describe()))?;
        for section in ["tls", "tcp"] {
            if let Some(routes) = unmanaged["spec"].get(section) {
                spec.insert(section.into(), routes.clone());
            }
        }
        if !first.is_empty() || spec.contains_key("http") {
            spec.insert("http".into(), Value::Array(first));
        }
        Ok(shaped)
    }

    fn read_service(
        &self,
        target: &Target,
        live: &Value,
        config: &IstioVirtualService,
        context: &Context,
    ) -> Result<RouterState, String> {
        let roles = self.roles(context);
        let experiments = experiment_services(live);
        let managed: Vec<&str> = json::items(live, "/spec/http")
            .iter()
            .map(|route| json::text(route, "/name"))
            .filter(|name| context.managed_routes.iter().any(|managed| managed == name))
            .collect();
        let mut unmanaged = live.clone();
        let http: Vec<Value> = json::items(live, "/spec/http")
            .iter()
            .filter(|route| !managed.contains(&json::text(route, "/name")))
            .cloned()
            .collect();
        unmanaged["spec"]["http"] = Value::Array(http);
        let selected = [
            ("http", http_routes(target, &unmanaged, config, context)?),
            ("tls", tls_routes(target, live, config)?),
            ("tcp", tcp_routes(target, live, config)?),
        ];
        let mut splits = Splits::default();
        for (section, indexes) in selected {
            for index in indexes {
                let destinations = json::items(&unmanaged["spec"][section][index], "/route");
                splits.add(
                    context.max_weight,
                    destinations.iter().filter_map(|destination| {
                        let weight = json::weight(destination.get("weight"));
                        Some((roles.destination(destination, &experiments)?, weight))
                    }),
                );
            }
        }
        let (canary_weight, additional) = splits.read();
        Ok(RouterState {
            canary_weight,
            additional: Some(additional),
            routes: managed.into_iter().map(str::to_owned).collect(),
            takes_header_routes: takes_managed_routes(config),
            takes_mirror_routes: takes_managed_routes(config),
            hashes: None,
        })
    }
}

fn set_weights(
    target: &Target,
    route: &mut Value,
    (roles, previous_experiments): (&Roles<'_>, &BTreeSet<String>),
    intent: &TrafficIntent,
) -> Result<(), String> {
    let name = json::text(route, "/name").to_owned();
    let destinations = route
        .get_mut("route")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format!("{} route {name:?} has no destinations", target.describe()))?;
    let (mut canary, mut stable) = (false, false);
    let mut missing: Vec<&AdditionalDestination> = intent.additional.iter().collect();
    // An experiment Service the route was last given that the intent no longer names goes;
    // those it names now are added. Other destinations are kept.
    let experiments: BTreeSet<String> = previous_experiments
        .iter()
        .cloned()
        .chain(intent.additional.iter().map(|dest| dest.service.clone()))
        .collect();
    destinations.retain_mut(
        |destination| match roles.destination(destination, &experiments) {
            Some(Destination::Canary) => {
                destination["weight"] = json!(intent.canary_weight);
                canary = true;
                true
            }
            Some(Destination::Stable) => {
                destination["weight"] = json!(intent.stable_weight());
                stable = true;
                true
            }
            Some(Destination::Other(service)) => {
                let Some(position) = missing.iter().position(|dest| dest.service == service) else {
                    return false;
                };
                destination["weight"] = json!(missing.remove(position).weight);
                true
            }
            None => true,
        },
    );
    destinations.extend(
        missing
            .into_iter()
            .map(|dest| json!({"destination": {"host": dest.service}, "weight": dest.weight})),
    );
    if !(canary && stable) {
        return Err(format!(
            "{} route {name:?} needs both a canary and a stable destination",
            target.describe()
        ));
    }
    Ok(())
}

/// The experiment Services a router write last gave the object's routes (as its record says).
fn experiment_services(live: &Value) -> BTreeSet<String> {
    super::recorded(live)
        .map(|recorded| recorded.intent.additional)
        .unwrap_or_default()
        .into_iter()
        .map(|dest| dest.service)
        .collect()
}

/// Where the canary is: the canary destination of the primary route as it is (its Service,
/// or the DestinationRule's host and the canary subset, with its port); the canary Service
/// when there is no primary HTTP route to copy it from.
fn canary_destination(roles: &Roles<'_>, primary: Option<&Value>) -> Value {
    primary
        .into_iter()
        .flat_map(|route| json::items(route, "/route"))
        .find(|destination| roles.of(destination) == Some(Role::Canary))
        .and_then(|destination| destination.get("destination").cloned())
        .unwrap_or_else(|| json!({"host": roles.canary_service}))
}

fn string_match(value: &StringMatch) -> Value {
    match value {
        StringMatch::Exact(exact) => json!({"exact": exact}),
        StringMatch::Prefix(prefix) => json!({"prefix": prefix}),
        StringMatch::Regex(regex) => json!({"regex": regex}),
    }
}

/// A header route: each header match sends a request to the canary alone.
fn header_route(route: &HeaderRoute, roles: &Roles<'_>, primary: Option<&Value>) -> Value {
    let matches: Vec<Value> = route
        .matches
        .iter()
        .map(|header| json!({"headers": {header.header.clone(): string_match(&header.value)}}))
        .collect();
    json!({
        "name": route.name,
        "match": matches,
        "route": [{"destination": canary_destination(roles, primary), "weight": 100}],
    })
}

/// A mirror route: matching requests go where the primary route sends them, and a copy of
/// `percentage` of them to the canary.
fn mirror_route(route: &MirrorRoute, roles: &Roles<'_>, primary: &Value) -> Result<Value, String> {
    let matches: Vec<Value> = route
        .matches
        .iter()
        .map(|mirror| {
            let mut matched = Map::new();
            if let Some(method) = &mirror.method {
                matched.insert("method".into(), string_match(method));
            }
            if let Some(path) = &mirror.path {
                matched.insert("uri".into(), string_match(path));
            }
            if !mirror.headers.is_empty() {
                let headers: Map<String, Value> = mirror
                    .headers
                    .iter()
                    .map(|(name, value)| (name.clone(), string_match(value)))
                    .collect();
                matched.insert("headers".into(), Value::Object(headers));
            }
            Value::Object(matched)
        })
        .collect();
    let destinations = primary
        .get("route")
        .filter(|route| route.as_array().is_some_and(|route| !route.is_empty()))
        .cloned()
        .ok_or("the primary HTTP route has no destinations to keep sending to")?;
    let mirror = canary_destination(roles, Some(primary));
    Ok(json!({
        "name": route.name,
        "match": matches,
        "route": destinations,
        "mirror": mirror,
        // An integer: the API gives the double back as one, so a float would never compare
        // equal and the route would be written again every time.
        "mirrorPercentage": {"value": route.percentage.unwrap_or(100)},
    }))
}

/// The pod-template hashes the canary and stable subsets select.
fn subset_hashes(live: &Value, canary: &str, stable: &str) -> (String, String) {
    let hash = |subset: &str| {
        json::items(live, "/spec/subsets")
            .iter()
            .find(|candidate| json::text(candidate, "/name") == subset)
            .and_then(|found| found.pointer(&format!("/labels/{}", labels::POD_TEMPLATE_HASH)))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    (hash(canary), hash(stable))
}

#[cfg(test)]
mod tests;
