//! AWS App Mesh, as Argo drives it (`rollout/trafficrouting/appmesh`): the VirtualService
//! names a VirtualRouter, whose routes (the named ones, or all) send to the canary and the
//! stable VirtualNode with their weights; each VirtualNode selects its revision's pods by
//! pod-template hash. Two nodes may not select the same pods, so while the canary is the
//! stable the canary node selects the placeholder `canary-hash`.

use serde_json::{Value, json};

use super::json;
use super::{Context, Kind, Lookup, Objects, Read, Shape, Target, Write};
use crate::k8s::labels;
use crate::model::{AppMesh as Config, Router, RouterReading, RouterState, TrafficIntent};

const API: &[&str] = &["appmesh.k8s.aws/v1beta2"];
pub const VIRTUAL_SERVICE: Kind = Kind {
    apis: API,
    kind: "VirtualService",
    plural: "virtualservices",
};
pub const VIRTUAL_ROUTER: Kind = Kind {
    apis: API,
    kind: "VirtualRouter",
    plural: "virtualrouters",
};
pub const VIRTUAL_NODE: Kind = Kind {
    apis: API,
    kind: "VirtualNode",
    plural: "virtualnodes",
};
pub const KINDS: [Kind; 3] = [VIRTUAL_SERVICE, VIRTUAL_ROUTER, VIRTUAL_NODE];
const CANARY_PLACEHOLDER: &str = "canary-hash";
const STABLE_PLACEHOLDER: &str = "stable-hash";
const ROUTE_TYPES: [&str; 4] = ["httpRoute", "tcpRoute", "http2Route", "grpcRoute"];

/// The App Mesh router of one Rollout.
pub struct AppMesh<'a>(pub &'a Config);

fn find<'r>(read: &'r Objects, kind: Kind, name: &str) -> Option<&'r Read> {
    read.iter()
        .find(|read| read.target.kind == kind && read.target.name == name)
}

/// The VirtualNode a weighted target names, if it is in the Rollout's namespace.
fn node_of<'v>(target: &'v Value, context: &Context) -> Option<&'v str> {
    let reference = target.get("virtualNodeRef")?;
    let namespace = reference
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(&context.namespace);
    (namespace == context.namespace).then(|| json::text(reference, "/name"))
}

impl AppMesh<'_> {
    /// The VirtualRouter the VirtualService names, once the VirtualService was read.
    fn router_target(&self, read: &Objects, context: &Context) -> Result<Target, String> {
        let service = find(read, VIRTUAL_SERVICE, &self.0.virtual_service)
            .ok_or("the VirtualService was not read")?;
        let live = service
            .live
            .as_ref()
            .ok_or_else(|| service.target.missing())?;
        let reference = live
            .pointer("/spec/provider/virtualRouter/virtualRouterRef")
            .ok_or_else(|| format!("{} names no VirtualRouter", service.target.describe()))?;
        let namespace = reference
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or(&context.namespace);
        Ok(Target::new(
            VIRTUAL_ROUTER,
            namespace,
            json::text(reference, "/name"),
        ))
    }

    fn routes<'v>(&self, router: &'v Value) -> Vec<&'v Value> {
        json::items(router, "/spec/routes")
            .iter()
            .filter(|route| {
                self.0.routes.is_empty()
                    || self
                        .0
                        .routes
                        .iter()
                        .any(|name| name == json::text(route, "/name"))
            })
            .collect()
    }
}

impl Shape for AppMesh<'_> {
    fn lookups(&self, context: &Context) -> Vec<Lookup> {
        [
            Target::new(VIRTUAL_SERVICE, &context.namespace, &self.0.virtual_service),
            Target::new(
                VIRTUAL_NODE,
                &context.namespace,
                &self.0.canary_virtual_node,
            ),
            Target::new(
                VIRTUAL_NODE,
                &context.namespace,
                &self.0.stable_virtual_node,
            ),
        ]
        .into_iter()
        .map(Lookup::Named)
        .collect()
    }

    fn follow(&self, context: &Context, read: &Objects) -> Vec<Lookup> {
        match self.router_target(read, context) {
            Ok(target) if !read.iter().any(|read| read.target == target) => {
                vec![Lookup::Named(target)]
            }
            _ => Vec::new(),
        }
    }

    fn writes(
        &self,
        context: &Context,
        read: &Objects,
        intent: &TrafficIntent,
    ) -> Result<Vec<Write>, String> {
        let router = Router::AppMesh(self.0.clone());
        // Everything was read, or (when sync keeps what the router wrote in one object from
        // Git) only that object: then it alone is shaped.
        let whole = find(read, VIRTUAL_SERVICE, &self.0.virtual_service).is_some();
        // The nodes first: they select the revisions before weights move.
        let mut writes = self.node_writes(context, read, intent, whole)?;
        let target = if whole {
            self.router_target(read, context)?
        } else {
            match read.iter().find(|read| read.target.kind == VIRTUAL_ROUTER) {
                Some(found) => found.target.clone(),
                None => return Ok(writes),
            }
        };
        let virtual_router = read
            .iter()
            .find(|read| read.target == target)
            .and_then(|read| read.live.as_ref())
            .ok_or_else(|| target.missing())?;
        let shaped = self.weighed(&target, virtual_router, context, intent)?;
        super::replace_changed(
            &mut writes,
            &target,
            virtual_router,
            shaped,
            (&router, context, intent),
        );
        Ok(writes)
    }

    fn readings(&self, context: &Context, read: &Objects) -> Vec<RouterReading> {
        let state = (|| {
            let target = self.router_target(read, context)?;
            let virtual_router = read
                .iter()
                .find(|read| read.target == target)
                .and_then(|read| read.live.as_ref())
                .ok_or_else(|| target.missing())?;
            let weights = self
                .routes(virtual_router)
                .into_iter()
                .flat_map(|route| {
                    ROUTE_TYPES
                        .into_iter()
                        .find_map(|kind| route.pointer(&format!("/{kind}/action/weightedTargets")))
                        .and_then(Value::as_array)
                        .map_or(&[][..], Vec::as_slice)
                })
                .filter_map(|weighted| {
                    let weight = json::weight(weighted.get("weight"));
                    match node_of(weighted, context) {
                        Some(node) if node == self.0.canary_virtual_node => Some(weight),
                        Some(node) if node == self.0.stable_virtual_node => {
                            Some(weight.map(|weight| context.max_weight - weight))
                        }
                        _ => None,
                    }
                })
                .collect::<Vec<_>>();
            let hash = |node: &str| -> Result<String, String> {
                let read = find(read, VIRTUAL_NODE, node).ok_or("a VirtualNode was not read")?;
                let live = read.live.as_ref().ok_or_else(|| read.target.missing())?;
                Ok(json::text(
                    live,
                    &format!(
                        "/spec/podSelector/matchLabels/{}",
                        labels::POD_TEMPLATE_HASH
                    ),
                )
                .to_owned())
            };
            let stable = hash(&self.0.stable_virtual_node)?;
            let mut canary = hash(&self.0.canary_virtual_node)?;
            if canary == CANARY_PLACEHOLDER {
                // While the canary is the stable, its node selects nothing of its own.
                canary.clone_from(&stable);
            }
            Ok(RouterState {
                canary_weight: json::agreed(weights),
                hashes: Some((canary, stable)),
                ..RouterState::default()
            })
        })();
        vec![RouterReading {
            object: format!(
                "VirtualService {}/{}",
                context.namespace, self.0.virtual_service
            ),
            state,
        }]
    }
}

impl AppMesh<'_> {
    /// Each VirtualNode selecting its revision's pods: the canary's first, so that the two
    /// never select the same pods (App Mesh refuses that) — not even at a promotion, when the
    /// canary's node gives up the new pods to the stable's. Nodes not read are left alone
    /// unless everything was read (`whole`): then they must exist.
    fn node_writes(
        &self,
        context: &Context,
        read: &Objects,
        intent: &TrafficIntent,
        whole: bool,
    ) -> Result<Vec<Write>, String> {
        let router = Router::AppMesh(self.0.clone());
        let canary_hash =
            if intent.canary_hash.is_empty() || intent.canary_hash == intent.stable_hash {
                CANARY_PLACEHOLDER
            } else {
                intent.canary_hash.as_str()
            };
        let stable_hash = if intent.stable_hash.is_empty() {
            STABLE_PLACEHOLDER
        } else {
            intent.stable_hash.as_str()
        };
        let mut writes = Vec::new();
        for (node, hash) in [
            (&self.0.canary_virtual_node, canary_hash),
            (&self.0.stable_virtual_node, stable_hash),
        ] {
            let Some(read) = find(read, VIRTUAL_NODE, node) else {
                if whole {
                    return Err(format!("VirtualNode {node} was not read"));
                }
                continue;
            };
            let live = read.live.as_ref().ok_or_else(|| read.target.missing())?;
            let mut shaped = live.clone();
            if !shaped
                .pointer("/spec/podSelector/matchLabels")
                .is_some_and(Value::is_object)
            {
                shaped["spec"]["podSelector"]["matchLabels"] = json!({});
            }
            shaped["spec"]["podSelector"]["matchLabels"][labels::POD_TEMPLATE_HASH] = json!(hash);
            super::replace_changed(
                &mut writes,
                &read.target,
                live,
                shaped,
                (&router, context, intent),
            );
        }
        Ok(writes)
    }

    /// The VirtualRouter with the weights of the canary and stable targets of its routes set.
    fn weighed(
        &self,
        target: &Target,
        virtual_router: &Value,
        context: &Context,
        intent: &TrafficIntent,
    ) -> Result<Value, String> {
        let selected: Vec<String> = self
            .routes(virtual_router)
            .iter()
            .map(|route| json::text(route, "/name").to_owned())
            .collect();
        if selected.is_empty() {
            return Err(format!(
                "{} has none of the routes configured",
                target.describe()
            ));
        }
        let mut shaped = virtual_router.clone();
        let all = shaped
            .pointer_mut("/spec/routes")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| format!("{} has no routes", target.describe()))?;
        for route in all.iter_mut().filter(|route| {
            selected
                .iter()
                .any(|name| name == json::text(route, "/name"))
        }) {
            let name = json::text(route, "/name").to_owned();
            let kind = ROUTE_TYPES
                .into_iter()
                .find(|kind| route.get(*kind).is_some())
                .ok_or_else(|| {
                    format!("{} route {name:?} has no supported type", target.describe())
                })?;
            let targets = route
                .pointer_mut(&format!("/{kind}/action/weightedTargets"))
                .and_then(Value::as_array_mut)
                .ok_or_else(|| {
                    format!(
                        "{} route {name:?} has no weighted targets",
                        target.describe()
                    )
                })?;
            let (mut canary, mut stable) = (false, false);
            for weighted in targets.iter_mut() {
                let node = node_of(weighted, context).map(str::to_owned);
                if node.as_deref() == Some(self.0.canary_virtual_node.as_str()) {
                    weighted["weight"] = json!(intent.canary_weight);
                    canary = true;
                } else if node.as_deref() == Some(self.0.stable_virtual_node.as_str()) {
                    weighted["weight"] = json!(intent.stable_weight());
                    stable = true;
                }
            }
            if !(canary && stable) {
                return Err(format!(
                    "{} route {name:?} needs both the canary and the stable VirtualNode as targets",
                    target.describe()
                ));
            }
        }
        Ok(shaped)
    }
}

#[cfg(test)]
mod tests;
