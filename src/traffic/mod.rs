//! Traffic routers: which objects each router drives, what they must hold for a
//! [`TrafficIntent`], and what they were seen to hold ([`RouterReading`]).
//!
//! Shaped like `crate::forge`: each router is a [`Shape`] — pure functions from the objects
//! read to the writes to make and the readings to report, table-tested without a cluster — and
//! [`io`] is the thin part that reads and writes them through the API. A router only ever
//! changes the parts of an object the Rollout owns (weights, its managed routes, its canary
//! copies); every write records the intent it applied in the [`INTENT_ANNOTATION`], which is
//! how sync keeps those parts when it applies the object from Git again ([`carry`]).

mod alb;
mod ambassador;
mod apisix;
mod appmesh;
mod gateway;
pub mod io;
mod istio;
mod json;
mod nginx;
mod smi;
mod split;
mod traefik;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Router, RouterReading, RouterState, TrafficIntent};

/// Annotation on every object a router wrote: the Rollout, the router and the intent applied.
pub const INTENT_ANNOTATION: &str = "tidegate.dev/traffic";

/// A kind of object routers read and write, with the API versions that serve it, most
/// preferred first (the first one the cluster serves is used).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind {
    /// `group/version` strings (`v1` for the core group), most preferred first.
    pub apis: &'static [&'static str],
    /// The kind.
    pub kind: &'static str,
    /// Its plural resource name.
    pub plural: &'static str,
}

/// One object a router addresses.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// Its kind.
    pub kind: Kind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl Target {
    fn new(kind: Kind, namespace: &str, name: &str) -> Self {
        Self {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// `HTTPRoute shop/web`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("{} {}/{}", self.kind.kind, self.namespace, self.name)
    }

    /// `HTTPRoute shop/web does not exist`.
    fn missing(&self) -> String {
        format!("{} does not exist", self.describe())
    }
}

/// Objects to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// One object by name (it may not exist).
    Named(Target),
    /// Every object of a kind in a namespace whose labels match a selector.
    Selected {
        /// The kind.
        kind: Kind,
        /// The namespace.
        namespace: String,
        /// A label selector in Kubernetes' string form.
        selector: String,
    },
}

/// One object read for a router.
#[derive(Clone, Debug, PartialEq)]
pub struct Read {
    /// What was read.
    pub target: Target,
    /// The `apiVersion` the cluster serves its kind under (objects are created under it).
    pub api_version: &'static str,
    /// The object, `None` if it does not exist.
    pub live: Option<Value>,
}

/// The objects read for a router. Objects found by a selector are listed by name.
pub type Objects = Vec<Read>;

/// One change to make.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Create the object (it is the Rollout's: owned by it).
    Create(Target, Value),
    /// Replace the object as read (the write fails if it changed since).
    Replace(Target, Value),
    /// Delete the object (one the Rollout created).
    Delete(Target),
}

impl Write {
    /// The object written.
    #[must_use]
    pub fn target(&self) -> &Target {
        match self {
            Self::Create(target, _) | Self::Replace(target, _) | Self::Delete(target) => target,
        }
    }
}

/// What a router needs to know about the Rollout besides the intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The Rollout's namespace.
    pub namespace: String,
    /// The Rollout.
    pub rollout: String,
    /// Its canary Service.
    pub canary_service: String,
    /// Its stable Service.
    pub stable_service: String,
    /// Every managed route name.
    pub managed_routes: Vec<String>,
    /// The weight that means all traffic.
    pub max_weight: i32,
    /// The owner reference naming the Rollout as controller, for objects it creates.
    pub owner: Value,
    /// The ping-pong Services as (stable, canary), when the canary has them.
    pub ping_pong: Option<(String, String)>,
}

impl Context {
    /// This context as `router` sees it: with ping-pong Services, ALB splits between them
    /// (as in Argo), and so does every router when the canary names no canary and stable
    /// Services.
    #[must_use]
    pub fn for_router(&self, router: &Router) -> Self {
        let mut context = self.clone();
        if let Some((stable, canary)) = &self.ping_pong {
            let unnamed = self.canary_service.is_empty() && self.stable_service.is_empty();
            if matches!(router, Router::Alb(_)) || unnamed {
                context.stable_service.clone_from(stable);
                context.canary_service.clone_from(canary);
            }
        }
        context
    }

    /// Who the destination (a backend, a target group) named `name` is.
    fn destination<'a>(&self, name: &'a str) -> split::Destination<'a> {
        if name == self.canary_service {
            split::Destination::Canary
        } else if name == self.stable_service {
            split::Destination::Stable
        } else {
            split::Destination::Other(name)
        }
    }

    /// A weight read off a destination (a backend, a target group) named `name`, as the
    /// canary's weight: the canary's as it is, the stable's as what it leaves the canary;
    /// `None` for any other destination.
    #[allow(clippy::option_option)] // None: not the split's; Some(None): its, but unreadable
    fn as_canary_weight(&self, name: &str, weight: Option<i32>) -> Option<Option<i32>> {
        if name == self.canary_service {
            Some(weight)
        } else if name == self.stable_service {
            Some(weight.map(|weight| self.max_weight - weight))
        } else {
            None
        }
    }
}

/// Adds the replace of `target` by `shaped`, with the write recorded, unless it is `live`.
fn replace_changed(
    writes: &mut Vec<Write>,
    target: &Target,
    live: &Value,
    shaped: Value,
    (router, context, intent): (&Router, &Context, &TrafficIntent),
) {
    if &shaped != live {
        let recorded = record(shaped, router, context, intent);
        writes.push(Write::Replace(target.clone(), json::for_replace(recorded)));
    }
}

/// One reading per object read, from `state` of the live object (a missing one is an error).
fn per_object(
    read: &Objects,
    state: impl Fn(&Target, &Value) -> Result<RouterState, String>,
) -> Vec<RouterReading> {
    read.iter()
        .map(|Read { target, live, .. }| RouterReading {
            object: target.describe(),
            state: live
                .as_ref()
                .ok_or_else(|| target.missing())
                .and_then(|live| state(target, live)),
        })
        .collect()
}

/// A router shaped for one Rollout: pure decisions about its objects.
pub trait Shape {
    /// The objects to read first.
    fn lookups(&self, context: &Context) -> Vec<Lookup>;

    /// More objects to read, named by those read (App Mesh's VirtualRouter); none by default.
    fn follow(&self, _context: &Context, _read: &Objects) -> Vec<Lookup> {
        Vec::new()
    }

    /// The writes that make the objects carry `intent`; none when they do. An object that
    /// cannot carry it (a route without the canary's backend, say) is an error naming it.
    fn writes(
        &self,
        context: &Context,
        read: &Objects,
        intent: &TrafficIntent,
    ) -> Result<Vec<Write>, String>;

    /// What each object carries.
    fn readings(&self, context: &Context, read: &Objects) -> Vec<RouterReading>;

    /// The Normal Events Argo's router announces `write` with, given what the object was last
    /// asked to carry (`previous`, from its record; `None` before a router wrote it). None by
    /// default: Argo's Gateway API, Traefik, APISIX and App Mesh routers announce no writes.
    fn notices(
        &self,
        _write: &Write,
        _previous: Option<&TrafficIntent>,
        _intent: &TrafficIntent,
    ) -> Vec<Notice> {
        Vec::new()
    }
}

/// A Normal Event announcing a router write, with the reason and message Argo gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Argo's reason (`PatchingCanaryIngress`, `Updated VirtualService`, …).
    pub reason: &'static str,
    /// What was written.
    pub message: String,
}

impl Notice {
    fn new(reason: &'static str, message: String) -> Self {
        Self { reason, message }
    }
}

/// What `target` was last asked to carry, from the record on its object in `read`.
#[must_use]
pub fn previous_intent(read: &Objects, target: &Target) -> Option<TrafficIntent> {
    let live = read
        .iter()
        .find(|read| &read.target == target)?
        .live
        .as_ref()?;
    recorded(live).map(|recorded| recorded.intent)
}

/// Whether a write moves the canary weight from what the object last carried.
fn weight_moves(previous: Option<&TrafficIntent>, intent: &TrafficIntent) -> bool {
    previous.is_none_or(|previous| previous.canary_weight != intent.canary_weight)
}

/// The shape of `router`.
#[must_use]
pub fn shape(router: &Router) -> Box<dyn Shape + Send + Sync + '_> {
    match router {
        Router::GatewayApi(config) => Box::new(gateway::GatewayApi(config)),
        Router::Istio(config) => Box::new(istio::Istio(config)),
        Router::Nginx(config) => Box::new(nginx::Nginx(config)),
        Router::Alb(config) => Box::new(alb::Alb(config)),
        Router::Smi(config) => Box::new(smi::Smi(config)),
        Router::Traefik(config) => Box::new(traefik::Traefik(config)),
        Router::Ambassador(config) => Box::new(ambassador::Ambassador(config)),
        Router::Apisix(config) => Box::new(apisix::Apisix(config)),
        Router::AppMesh(config) => Box::new(appmesh::AppMesh(config)),
    }
}

/// What a written object records of the write, in its [`INTENT_ANNOTATION`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// The router, as the Rollout configures it.
    pub router: Router,
    /// The Rollout's context.
    pub context: RecordedContext,
    /// What the router was asked to carry.
    pub intent: TrafficIntent,
}

/// The part of a [`Context`] a recorded write keeps (no owner: sync never creates objects).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedContext {
    /// The Rollout.
    pub rollout: String,
    /// Its canary Service.
    pub canary_service: String,
    /// Its stable Service.
    pub stable_service: String,
    /// Every managed route name.
    pub managed_routes: Vec<String>,
    /// The weight that means all traffic.
    pub max_weight: i32,
}

/// `object` with the write recorded in its annotations.
#[must_use]
pub fn record(
    mut object: Value,
    router: &Router,
    context: &Context,
    intent: &TrafficIntent,
) -> Value {
    let recorded = Recorded {
        router: router.clone(),
        context: RecordedContext {
            rollout: context.rollout.clone(),
            canary_service: context.canary_service.clone(),
            stable_service: context.stable_service.clone(),
            managed_routes: context.managed_routes.clone(),
            max_weight: context.max_weight,
        },
        intent: intent.clone(),
    };
    let text = serde_json::to_string(&recorded).expect("a recorded intent serialises");
    json::set_annotation(&mut object, INTENT_ANNOTATION, Some(&text));
    object
}

/// What `live` records of the last router write, if a router wrote it.
#[must_use]
pub fn recorded(live: &Value) -> Option<Recorded> {
    let text = live
        .pointer("/metadata/annotations")?
        .get(INTENT_ANNOTATION)?
        .as_str()?;
    serde_json::from_str(text).ok()
}

/// `desired` (an object from Git) with the parts a Rollout's router owns in `live` applied
/// again, as the router would write them: the weights, the managed routes, the labels. `None`
/// when no router wrote `live` (nothing to keep), or when the router cannot shape `desired`
/// (then Git's object goes in as it is, and the router writes its parts again next).
#[must_use]
pub fn carry(desired: &Value, live: &Value) -> Option<Value> {
    let recorded = recorded(live)?;
    let namespace = live.pointer("/metadata/namespace")?.as_str()?.to_owned();
    let name = live.pointer("/metadata/name")?.as_str()?;
    let context = Context {
        namespace: namespace.clone(),
        rollout: recorded.context.rollout.clone(),
        canary_service: recorded.context.canary_service.clone(),
        stable_service: recorded.context.stable_service.clone(),
        managed_routes: recorded.context.managed_routes.clone(),
        max_weight: recorded.context.max_weight,
        owner: Value::Null,
        ping_pong: None,
    };
    let shape = shape(&recorded.router);
    let api_version = desired.get("apiVersion")?.as_str()?;
    let kind = desired.get("kind")?.as_str()?;
    let target = all_kinds()
        .into_iter()
        .find(|known| known.kind == kind && known.apis.contains(&api_version))
        .map(|kind| Target::new(kind, &namespace, name))?;
    let mut candidate = desired.clone();
    json::set_annotation(
        &mut candidate,
        INTENT_ANNOTATION,
        live.pointer("/metadata/annotations")
            .and_then(|annotations| annotations.get(INTENT_ANNOTATION))
            .and_then(Value::as_str),
    );
    let read: Objects = vec![Read {
        target: target.clone(),
        api_version: target.kind.apis.iter().find(|api| **api == api_version)?,
        live: Some(candidate.clone()),
    }];
    let writes = shape.writes(&context, &read, &recorded.intent).ok()?;
    let carried = writes.into_iter().find_map(|write| match write {
        Write::Replace(written, object) if written == target => Some(object),
        _ => None,
    });
    let mut carried = carried.unwrap_or(candidate);
    // On the condition that the router did not write the object since it was read.
    let version = live.pointer("/metadata/resourceVersion")?.clone();
    carried["metadata"]["resourceVersion"] = version;
    Some(carried)
}

/// Every kind a router writes that may also come from Git.
fn all_kinds() -> Vec<Kind> {
    [
        gateway::KINDS.as_slice(),
        istio::KINDS.as_slice(),
        &[nginx::INGRESS],
        &[smi::TRAFFIC_SPLIT],
        &[traefik::TRAEFIK_SERVICE],
        &[ambassador::MAPPING],
        &[apisix::APISIX_ROUTE],
        appmesh::KINDS.as_slice(),
    ]
    .concat()
}

/// Whether an object of this apiVersion and kind may be written by a router (sync asks
/// before reading its live copy for [`carry`]).
#[must_use]
pub fn may_be_routed(api_version: &str, kind: &str) -> bool {
    all_kinds()
        .iter()
        .any(|known| known.kind == kind && known.apis.contains(&api_version))
}

#[cfg(test)]
pub(crate) mod tests;
