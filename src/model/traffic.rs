//! Traffic routing of a canary: the routers a Rollout names and how they are configured, the
//! routing steps, what the engine wants of the routers ([`TrafficIntent`]) and what they were
//! seen to carry ([`RouterReading`]). Pure data: the routers' objects are shaped in
//! `crate::traffic` and written by the executor.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Two Services that swap the stable and canary roles at every promotion (`pingPong`): the
/// canary's is pointed at the new pods, and once promoted it is the stable one, so no Service
/// ever switches under traffic at a promotion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PingPong {
    /// The ping Service.
    pub ping: String,
    /// The pong Service.
    pub pong: String,
}

/// Which of the ping-pong Services is the stable one (`status.canary.stablePingPong`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PingPongSide {
    /// The ping Service.
    Ping,
    /// The pong Service.
    Pong,
}

impl PingPong {
    /// The (stable, canary) Services while `stable` is the stable side (pong when none is
    /// recorded, as in Argo).
    #[must_use]
    pub fn roles(&self, stable: Option<PingPongSide>) -> (&str, &str) {
        match stable {
            Some(PingPongSide::Ping) => (&self.ping, &self.pong),
            Some(PingPongSide::Pong) | None => (&self.pong, &self.ping),
        }
    }

    /// The side that is stable after a promotion from `stable`.
    #[must_use]
    pub fn flipped(stable: Option<PingPongSide>) -> PingPongSide {
        match stable {
            Some(PingPongSide::Ping) => PingPongSide::Pong,
            Some(PingPongSide::Pong) | None => PingPongSide::Ping,
        }
    }
}

/// How a canary's traffic is split: by the routers, not by replica counts.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficPlan {
    /// The routers, in the order they are driven.
    pub routers: Vec<Router>,
    /// Routes that header and mirror steps may set, in order of precedence.
    pub managed_routes: Vec<String>,
    /// The weight that means "all traffic" (`maxTrafficWeight`, default 100).
    pub max_weight: i32,
    /// Scale the stable down as traffic leaves it, and back up before traffic returns.
    pub dynamic_stable_scale: bool,
    /// How long a revision that stopped being stable keeps its pods (`scaleDownDelaySeconds`).
    pub scale_down_delay: Duration,
    /// How many old revisions may wait for their scale-down delay at once.
    pub scale_down_delay_revision_limit: Option<i32>,
    /// How long an aborted canary keeps its pods once the stable serves again; `None` keeps
    /// them (`abortScaleDownDelaySeconds: 0`).
    pub abort_scale_down_delay: Option<Duration>,
    /// Whether `abortScaleDownDelaySeconds` was given (with `dynamicStableScale`, an aborted
    /// canary follows the weight down unless it was).
    pub abort_scale_down_delay_given: bool,
    /// The fewest pods a canary or stable ReplicaSet with any pods has.
    pub min_pods_per_replica_set: Option<i32>,
    /// Ping-pong Services, which take the stable and canary roles in turn.
    pub ping_pong: Option<PingPong>,
}

/// One traffic router and the objects it drives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Router {
    /// Gateway API routes (`plugins["argoproj-labs/gatewayAPI"]`).
    GatewayApi(GatewayApi),
    /// Istio VirtualServices, optionally with a DestinationRule.
    Istio(Istio),
    /// NGINX Ingress canaries.
    Nginx(Nginx),
    /// AWS Load Balancer Controller actions on Ingresses.
    Alb(Alb),
    /// An SMI TrafficSplit.
    Smi(Smi),
    /// A weighted TraefikService.
    Traefik(Traefik),
    /// Ambassador / Emissary canary Mappings.
    Ambassador(Ambassador),
    /// An Apache APISIX ApisixRoute.
    Apisix(Apisix),
    /// An AWS App Mesh VirtualRouter and its VirtualNodes.
    AppMesh(AppMesh),
}

impl Router {
    /// The router's name as Argo's docs and events spell it.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::GatewayApi(_) => "GatewayAPI",
            Self::Istio(_) => "Istio",
            Self::Nginx(_) => "Nginx",
            Self::Alb(_) => "ALB",
            Self::Smi(_) => "SMI",
            Self::Traefik(_) => "Traefik",
            Self::Ambassador(_) => "Ambassador",
            Self::Apisix(_) => "Apisix",
            Self::AppMesh(_) => "AppMesh",
        }
    }

    /// Whether the router can carry header routes.
    #[must_use]
    pub fn routes_headers(&self) -> bool {
        matches!(
            self,
            Self::GatewayApi(_) | Self::Istio(_) | Self::Alb(_) | Self::Apisix(_)
        )
    }

    /// Whether the router can carry mirror routes.
    #[must_use]
    pub fn mirrors(&self) -> bool {
        matches!(self, Self::GatewayApi(_) | Self::Istio(_))
    }

    /// Whether the router can send traffic to an experiment's Services besides the canary
    /// and the stable (an experiment template's `weight`): Argo's SMI, ALB and Istio routers
    /// can; the others leave those destinations out.
    #[must_use]
    pub fn carries_additional(&self) -> bool {
        matches!(self, Self::Istio(_) | Self::Alb(_) | Self::Smi(_))
    }
}

/// The kinds of Gateway API route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RouteKind {
    /// `HTTPRoute`.
    Http,
    /// `GRPCRoute`.
    Grpc,
    /// `TCPRoute`.
    Tcp,
    /// `TLSRoute`.
    Tls,
}

impl RouteKind {
    /// The Kubernetes kind.
    #[must_use]
    pub fn kind(self) -> &'static str {
        match self {
            Self::Http => "HTTPRoute",
            Self::Grpc => "GRPCRoute",
            Self::Tcp => "TCPRoute",
            Self::Tls => "TLSRoute",
        }
    }
}

/// Gateway API routes, as the `argoproj-labs/gatewayAPI` plugin is configured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayApi {
    /// Namespace of the routes; the Rollout's when `None`.
    pub namespace: Option<String>,
    /// Routes named in the configuration.
    pub routes: Vec<GatewayRoute>,
    /// Routes found by label selector (Kubernetes selector syntax), per kind; they never
    /// carry header routes.
    pub selectors: Vec<(RouteKind, String)>,
    /// The label put on a route while it sends traffic to a canary; `None` when disabled.
    pub in_progress_label: Option<(String, String)>,
}

/// One Gateway API route named in the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRoute {
    /// Its kind.
    pub kind: RouteKind,
    /// Its name.
    pub name: String,
    /// Whether header routes are added to it (HTTP and gRPC only).
    pub header_routes: bool,
}

/// Istio routing: host-level (VirtualService destinations are the canary and stable Services)
/// or subset-level (with a DestinationRule whose subsets select the two revisions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Istio {
    /// The VirtualServices.
    pub virtual_services: Vec<IstioVirtualService>,
    /// The DestinationRule, for subset-level routing.
    pub destination_rule: Option<IstioDestinationRule>,
}

/// A VirtualService and the routes of it that carry the split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioVirtualService {
    /// Its name.
    pub name: String,
    /// Its namespace (`name.namespace`); the Rollout's when `None`.
    pub namespace: Option<String>,
    /// Names of its HTTP routes; empty means its only route.
    pub http_routes: Vec<String>,
    /// Its TLS routes, by port and SNI hosts.
    pub tls_routes: Vec<IstioTlsRoute>,
    /// Its TCP routes, by port.
    pub tcp_routes: Vec<i64>,
}

/// A TLS route of a VirtualService, found by its port and SNI hosts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioTlsRoute {
    /// The port its matches name (0: none).
    pub port: i64,
    /// Its SNI hosts, in any order.
    pub sni_hosts: Vec<String>,
}

/// The DestinationRule whose subsets select the canary and stable revisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioDestinationRule {
    /// Its name (in the Rollout's namespace).
    pub name: String,
    /// The subset that selects the canary.
    pub canary_subset: String,
    /// The subset that selects the stable.
    pub stable_subset: String,
}

/// NGINX: a canary Ingress beside each stable Ingress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Nginx {
    /// The stable Ingresses.
    pub stable_ingresses: Vec<String>,
    /// The annotation prefix (default `nginx.ingress.kubernetes.io`).
    pub annotation_prefix: String,
    /// Annotations added to each canary Ingress, prefixed.
    pub additional_annotations: BTreeMap<String, String>,
    /// Annotations added to each canary Ingress as given.
    pub canary_annotations: BTreeMap<String, String>,
}

/// AWS ALB: a forward action annotation on each Ingress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alb {
    /// The Ingresses.
    pub ingresses: Vec<String>,
    /// The Service port the action forwards to.
    pub service_port: i32,
    /// The Service the Ingress rules name (default: the stable Service).
    pub root_service: Option<String>,
    /// The annotation prefix (default `alb.ingress.kubernetes.io`).
    pub annotation_prefix: String,
    /// Target group stickiness, in seconds, when enabled.
    pub stickiness: Option<i64>,
}

/// SMI: a TrafficSplit the Rollout owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Smi {
    /// The root Service (default: the stable Service).
    pub root_service: Option<String>,
    /// The TrafficSplit's name (default: the Rollout's).
    pub traffic_split_name: Option<String>,
}

/// Traefik: a weighted TraefikService.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Traefik {
    /// Its name.
    pub weighted_traefik_service_name: String,
}

/// Ambassador / Emissary: a canary copy of each Mapping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ambassador {
    /// The Mappings to copy.
    pub mappings: Vec<String>,
}

/// Apache APISIX: backend weights of an ApisixRoute's rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Apisix {
    /// The ApisixRoute.
    pub route: String,
    /// Names of its HTTP rules that carry the split; empty means the rule named like the route.
    pub rules: Vec<String>,
}

/// AWS App Mesh: weighted targets of a VirtualRouter and the pod selectors of two VirtualNodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppMesh {
    /// The VirtualService whose VirtualRouter carries the split.
    pub virtual_service: String,
    /// Names of the router's routes that carry it; empty means all.
    pub routes: Vec<String>,
    /// The VirtualNode of the canary.
    pub canary_virtual_node: String,
    /// The VirtualNode of the stable.
    pub stable_virtual_node: String,
}

/// How a `setCanaryScale` step sizes the canary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanaryScale {
    /// This many pods.
    Replicas(i32),
    /// This weight of `replicas`, on the `maxTrafficWeight` scale (like `setWeight`).
    Weight(i32),
    /// As many as its traffic weight asks for again.
    MatchTrafficWeight,
}

/// A string match of a header, method or path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StringMatch {
    /// Equal to the value.
    Exact(String),
    /// Starting with the value.
    Prefix(String),
    /// Matching the regular expression.
    Regex(String),
}

impl fmt::Display for StringMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(value) => write!(f, "exact {value:?}"),
            Self::Prefix(value) => write!(f, "prefix {value:?}"),
            Self::Regex(value) => write!(f, "regex {value:?}"),
        }
    }
}

/// A managed route sending requests with matching headers to the canary (`setHeaderRoute`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderRoute {
    /// Its name (listed in `managedRoutes`).
    pub name: String,
    /// Its matches, any of which sends a request to the canary; none removes the route.
    pub matches: Vec<HeaderMatch>,
}

/// One header a request must carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderMatch {
    /// The header's name.
    pub header: String,
    /// Its value.
    pub value: StringMatch,
}

/// A managed route copying matching requests to the canary (`setMirrorRoute`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorRoute {
    /// Its name (listed in `managedRoutes`).
    pub name: String,
    /// Its matches, any of which mirrors a request; none removes the route.
    pub matches: Vec<MirrorMatch>,
    /// The share of matching requests mirrored, in percent (default 100).
    pub percentage: Option<i32>,
}

/// What a mirrored request matches: all of the given parts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorMatch {
    /// The method.
    pub method: Option<StringMatch>,
    /// The path.
    pub path: Option<StringMatch>,
    /// Headers, by name.
    pub headers: BTreeMap<String, StringMatch>,
}

/// A destination besides the canary and the stable: the Service of an experiment template
/// with a `weight`, while its Experiment runs (`status.canary.weights.additional`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalDestination {
    /// The template's Service.
    pub service: String,
    /// The pod-template hash of the template's pods.
    pub hash: String,
    /// Its weight, taken from the stable's.
    pub weight: i32,
}

/// What the routers are to carry now: decided by the engine, shaped per router by
/// `crate::traffic`, written by the executor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficIntent {
    /// The Rollout.
    pub rollout: String,
    /// Weight of the canary.
    pub canary_weight: i32,
    /// The weight that means "all traffic"; the stable carries the rest.
    pub max_weight: i32,
    /// The canary Service.
    pub canary_service: String,
    /// The stable Service.
    pub stable_service: String,
    /// The canary's pod-template hash (for routers that select pods by hash).
    pub canary_hash: String,
    /// The stable's pod-template hash.
    pub stable_hash: String,
    /// The header routes in place, in `managedRoutes` order.
    pub header_routes: Vec<HeaderRoute>,
    /// The mirror routes in place, in `managedRoutes` order.
    pub mirror_routes: Vec<MirrorRoute>,
    /// Every route name header and mirror steps may set: those not in place are removed.
    pub managed_routes: Vec<String>,
    /// Experiment Services that take their share of the stable's weight, for routers that
    /// [carry them](Router::carries_additional).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional: Vec<AdditionalDestination>,
}

impl TrafficIntent {
    /// Weight of the stable: what the canary and the additional destinations leave.
    #[must_use]
    pub fn stable_weight(&self) -> i32 {
        let additional: i32 = self.additional.iter().map(|dest| dest.weight).sum();
        self.max_weight - self.canary_weight - additional
    }

    /// The intent as `router` carries it: without the additional destinations when it cannot
    /// send traffic to them (the stable keeps their share there, as in Argo).
    #[must_use]
    pub fn for_router(&self, router: &Router) -> Self {
        let mut intent = self.clone();
        if !router.carries_additional() {
            intent.additional.clear();
        }
        intent
    }

    /// The additional destinations' weights, by Service.
    #[must_use]
    pub fn additional_weights(&self) -> BTreeMap<String, i32> {
        self.additional
            .iter()
            .map(|dest| (dest.service.clone(), dest.weight))
            .collect()
    }

    /// Names of the managed routes in place.
    #[must_use]
    pub fn route_names(&self) -> BTreeSet<String> {
        let headers = self.header_routes.iter().map(|route| route.name.clone());
        let mirrors = self.mirror_routes.iter().map(|route| route.name.clone());
        headers.chain(mirrors).collect()
    }
}

/// What one router object was seen to carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterReading {
    /// The object, for messages: `HTTPRoute web`.
    pub object: String,
    /// What it carries, or why that cannot be told.
    pub state: Result<RouterState, String>,
}

/// The part of a router object that the Rollout drives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouterState {
    /// The canary's weight; `None` when the object's parts disagree or carry none.
    pub canary_weight: Option<i32>,
    /// The managed routes it carries.
    pub routes: BTreeSet<String>,
    /// Whether it carries header routes (a TCP route, say, does not).
    pub takes_header_routes: bool,
    /// Whether it carries mirror routes.
    pub takes_mirror_routes: bool,
    /// The pod-template hashes it selects (canary, stable), for routers that select by hash.
    pub hashes: Option<(String, String)>,
    /// The weights of destinations besides the canary and the stable, by Service; `None`
    /// for routers that do not [carry them](Router::carries_additional).
    pub additional: Option<BTreeMap<String, i32>>,
}

impl RouterReading {
    /// Why the weight the object carries cannot be verified, as the message of a
    /// `WeightVerifyError` Warning; `None` when it was read.
    #[must_use]
    pub fn verify_error(&self) -> Option<String> {
        let error = self.state.as_ref().err()?;
        Some(format!("Failed to verify weight: {}: {error}", self.object))
    }

    /// Whether the object carries exactly what `intent` asks for.
    #[must_use]
    pub fn carries(&self, intent: &TrafficIntent) -> bool {
        let Ok(state) = &self.state else {
            return false;
        };
        let hashes_match = state.hashes.as_ref().is_none_or(|(canary, stable)| {
            *canary == intent.canary_hash && *stable == intent.stable_hash
        });
        let headers = intent
            .header_routes
            .iter()
            .filter(|_| state.takes_header_routes)
            .map(|route| route.name.clone());
        let mirrors = intent
            .mirror_routes
            .iter()
            .filter(|_| state.takes_mirror_routes)
            .map(|route| route.name.clone());
        let expected: BTreeSet<String> = headers.chain(mirrors).collect();
        let additional_match = state
            .additional
            .as_ref()
            .is_none_or(|additional| *additional == intent.additional_weights());
        state.canary_weight == Some(intent.canary_weight)
            && state.routes == expected
            && hashes_match
            && additional_match
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_object_that_cannot_be_read_fails_verification() {
        let unreadable = RouterReading {
            object: "HTTPRoute web".into(),
            state: Err("not found".into()),
        };
        assert_eq!(
            unreadable.verify_error().as_deref(),
            Some("Failed to verify weight: HTTPRoute web: not found")
        );
        let read = RouterReading {
            object: "HTTPRoute web".into(),
            state: Ok(RouterState::default()),
        };
        assert_eq!(read.verify_error(), None);
    }
}
