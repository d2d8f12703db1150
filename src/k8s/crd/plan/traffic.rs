//! Reads a canary's `trafficRouting` and its routing steps (`setCanaryScale`,
//! `setHeaderRoute`, `setMirrorRoute`) into the engine's [`TrafficPlan`] and steps, with Argo
//! Rollouts' validation rules (`pkg/apis/rollouts/validation`). Router blocks are stored in the
//! CRD as given; their fields are read here, and a misspelt or mistyped field is reported at
//! its path. Routers tidegate does not drive (other plugins) are refused by name.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Check, DEFAULT_SCALE_DOWN_DELAY_SECONDS, non_empty};
use crate::k8s::crd::{CanaryStrategy, Opaque, RolloutTrafficRouting, SetCanaryScale};
use crate::model::{
    Alb, Ambassador, Apisix, AppMesh, CanaryScale, GatewayApi, GatewayRoute, HeaderMatch,
    HeaderRoute, Istio, IstioDestinationRule, IstioTlsRoute, IstioVirtualService, MirrorMatch,
    MirrorRoute, Nginx, PingPong, RouteKind, Router, Smi, Step, StringMatch, Traefik, TrafficPlan,
};

/// The plugin name under which Argo manifests configure Gateway API routing.
pub(super) const GATEWAY_API_PLUGIN: &str = "argoproj-labs/gatewayAPI";
const DEFAULT_MAX_WEIGHT: i32 = 100;
const DEFAULT_NGINX_PREFIX: &str = "nginx.ingress.kubernetes.io";
const DEFAULT_ALB_PREFIX: &str = "alb.ingress.kubernetes.io";
const DEFAULT_IN_PROGRESS_LABEL: (&str, &str) =
    ("rollouts.argoproj.io/gatewayapi-canary", "in-progress");

/// Reads `trafficRouting` and the knobs that only mean something with it.
pub(super) fn read_traffic(canary: &CanaryStrategy, check: &mut Check) -> Option<TrafficPlan> {
    let path = "spec.strategy.canary";
    let Some(routing) = &canary.traffic_routing else {
        // As in Argo: these only mean something with a traffic router.
        refuse_routing_knobs(canary, path, check);
        if canary.ping_pong.is_some() {
            check.fail(
                format!("{path}.pingPong"),
                "requires trafficRouting with the ALB or Istio router",
            );
        }
        return None;
    };
    let routing_path = format!("{path}.trafficRouting");
    Some(read_routing_with(canary, routing, &routing_path, check))
}

/// Fails the knobs that only mean something with traffic routing when there is none.
fn refuse_routing_knobs(canary: &CanaryStrategy, path: &str, check: &mut Check) {
    for (field, set) in [
        (
            "scaleDownDelaySeconds",
            canary.scale_down_delay_seconds.is_some(),
        ),
        ("dynamicStableScale", canary.dynamic_stable_scale),
        (
            "abortScaleDownDelaySeconds",
            canary.abort_scale_down_delay_seconds.is_some(),
        ),
        (
            "scaleDownDelayRevisionLimit",
            canary.scale_down_delay_revision_limit.is_some(),
        ),
        (
            "minPodsPerReplicaSet",
            canary.min_pods_per_replica_set.is_some(),
        ),
    ] {
        if set {
            check.fail(
                format!("{path}.{field}"),
                "can only be used with traffic routing",
            );
        }
    }
}

fn read_routing_with(
    canary: &CanaryStrategy,
    routing: &RolloutTrafficRouting,
    routing_path: &str,
    check: &mut Check,
) -> TrafficPlan {
    let path = "spec.strategy.canary";
    let routing_path = routing_path.to_owned();
    let routers = read_routers(routing, &routing_path, check);
    if routers.is_empty() {
        check.fail(
            &routing_path,
            "names no router: set one of istio, nginx, alb, smi, traefik, ambassador, apisix, \
             appMesh or plugins[\"argoproj-labs/gatewayAPI\"]",
        );
    }
    let subset_level = routers
        .iter()
        .any(|router| matches!(router, Router::Istio(istio) if istio.destination_rule.is_some()));
    let canary_service = non_empty(&canary.canary_service);
    let stable_service = non_empty(&canary.stable_service);
    let ping_pong = read_ping_pong(canary, &routers, check);
    if (canary_service.is_none() || stable_service.is_none())
        && !(subset_level && routers.len() == 1)
        && ping_pong.is_none()
    {
        check.fail(
            path,
            "canaryService and stableService must both be set to use traffic routing",
        );
    }
    let max_weight = routing.max_traffic_weight.unwrap_or(DEFAULT_MAX_WEIGHT);
    if max_weight < 1 {
        check.fail(
            format!("{routing_path}.maxTrafficWeight"),
            format!("must be at least 1, got {max_weight}"),
        );
    }
    let mut managed_routes: Vec<String> = Vec::new();
    for (index, route) in routing.managed_routes.iter().enumerate() {
        let route_path = format!("{routing_path}.managedRoutes[{index}].name");
        if route.name.is_empty() {
            check.fail(route_path, "is required");
        } else if managed_routes.contains(&route.name) {
            check.fail(route_path, format!("{:?} is listed twice", route.name));
        } else {
            managed_routes.push(route.name.clone());
        }
    }
    if canary.dynamic_stable_scale && canary.scale_down_delay_seconds.is_some() {
        check.fail(
            format!("{path}.dynamicStableScale"),
            "cannot be used with scaleDownDelaySeconds",
        );
    }
    let scale_down_delay = check.seconds(
        &format!("{path}.scaleDownDelaySeconds"),
        canary.scale_down_delay_seconds,
        DEFAULT_SCALE_DOWN_DELAY_SECONDS,
    );
    let abort_delay = check.seconds(
        &format!("{path}.abortScaleDownDelaySeconds"),
        canary.abort_scale_down_delay_seconds,
        DEFAULT_SCALE_DOWN_DELAY_SECONDS,
    );
    let scale_down_delay_revision_limit = canary.scale_down_delay_revision_limit.map(|limit| {
        check.non_negative(
            &format!("{path}.scaleDownDelayRevisionLimit"),
            Some(limit),
            0,
        )
    });
    let min_pods_per_replica_set = canary.min_pods_per_replica_set.map(|pods| {
        let pods = check.non_negative(&format!("{path}.minPodsPerReplicaSet"), Some(pods), 0);
        if pods == 0 {
            check.fail(format!("{path}.minPodsPerReplicaSet"), "must be at least 1");
        }
        pods
    });
    TrafficPlan {
        routers,
        managed_routes,
        max_weight,
        dynamic_stable_scale: canary.dynamic_stable_scale,
        scale_down_delay,
        scale_down_delay_revision_limit,
        abort_scale_down_delay: (!abort_delay.is_zero()).then_some(abort_delay),
        abort_scale_down_delay_given: canary.abort_scale_down_delay_seconds.is_some(),
        min_pods_per_replica_set,
        ping_pong,
    }
}

/// Reads `pingPong`: two distinct Services, with the ALB or Istio router (ALB also needs its
/// `rootService`, as in Argo).
fn read_ping_pong(
    canary: &CanaryStrategy,
    routers: &[Router],
    check: &mut Check,
) -> Option<PingPong> {
    let path = "spec.strategy.canary.pingPong";
    let spec = canary.ping_pong.as_ref()?;
    for (field, value) in [
        ("pingService", &spec.ping_service),
        ("pongService", &spec.pong_service),
    ] {
        if value.is_empty() {
            check.fail(format!("{path}.{field}"), "is required");
        }
    }
    if !spec.ping_service.is_empty() && spec.ping_service == spec.pong_service {
        check.fail(
            format!("{path}.pongService"),
            "must differ from pingService: the two Services select different pods",
        );
    }
    if !routers
        .iter()
        .any(|router| matches!(router, Router::Alb(_) | Router::Istio(_)))
    {
        check.fail(path, "works with the ALB and Istio routers only");
    }
    let alb_without_root = routers
        .iter()
        .any(|router| matches!(router, Router::Alb(alb) if alb.root_service.is_none()));
    if alb_without_root {
        check.fail(
            "spec.strategy.canary.trafficRouting.alb.rootService",
            "is required with pingPong",
        );
    }
    Some(PingPong {
        ping: spec.ping_service.clone(),
        pong: spec.pong_service.clone(),
    })
}

/// Checks the routing steps against the routers: each needs a router that can carry it, and
/// its route must be a managed one.
pub(super) fn check_steps(
    steps: &[Step],
    traffic: Option<&TrafficPlan>,
    path: &str,
    check: &mut Check,
) {
    for (index, step) in steps.iter().enumerate() {
        let step_path = format!("{path}.steps[{index}]");
        for part in step.parts() {
            check_step(part, traffic, &step_path, check);
        }
    }
}

fn check_step(step: &Step, traffic: Option<&TrafficPlan>, path: &str, check: &mut Check) {
    let (field, route, capable): (&str, Option<&str>, fn(&Router) -> bool) = match step {
        Step::SetCanaryScale(_) => ("setCanaryScale", None, |_| true),
        Step::SetHeaderRoute(route) => {
            ("setHeaderRoute", Some(&route.name), Router::routes_headers)
        }
        Step::SetMirrorRoute(route) => ("setMirrorRoute", Some(&route.name), Router::mirrors),
        Step::SetWeight(_)
        | Step::Pause(_)
        | Step::Analysis(_)
        | Step::Experiment(_)
        | Step::Combined(_) => return,
    };
    let field_path = format!("{path}.{field}");
    let Some(traffic) = traffic else {
        check.fail(field_path, "requires trafficRouting");
        return;
    };
    if let Some(router) = traffic.routers.iter().find(|router| !capable(router)) {
        check.fail(
            &field_path,
            format!("is not supported by the {} router", router.kind()),
        );
    }
    if let Step::SetHeaderRoute(route) = step
        && traffic
            .routers
            .iter()
            .any(|router| matches!(router, Router::Alb(_)))
        && route
            .matches
            .iter()
            .any(|header| !matches!(header.value, StringMatch::Exact(_)))
    {
        check.fail(
            format!("{field_path}.match"),
            "the ALB router matches header values exactly only",
        );
    }
    if let Some(route) = route
        && !traffic.managed_routes.iter().any(|name| name == route)
    {
        check.fail(
            format!("{field_path}.name"),
            format!("{route:?} is not listed in spec.strategy.canary.trafficRouting.managedRoutes"),
        );
    }
}

/// Reads the routing parts of one step: `setCanaryScale`, `setHeaderRoute`, `setMirrorRoute`.
/// A `setCanaryScale.weight` is on the same scale as `setWeight`: 0 to `max_weight`.
pub(super) fn read_routing_parts(
    step: &crate::k8s::crd::CanaryStep,
    path: &str,
    max_weight: i32,
    check: &mut Check,
) -> Vec<Step> {
    let mut parts = Vec::new();
    if let Some(scale) = &step.set_canary_scale {
        parts.extend(read_canary_scale(
            scale,
            &format!("{path}.setCanaryScale"),
            max_weight,
            check,
        ));
    }
    if let Some(route) = &step.set_header_route {
        let route_path = format!("{path}.setHeaderRoute");
        if let Some(route) = parse::<WireHeaderRoute>(route, &route_path, check) {
            parts.push(Step::SetHeaderRoute(read_header_route(
                route,
                &route_path,
                check,
            )));
        }
    }
    if let Some(route) = &step.set_mirror_route {
        let route_path = format!("{path}.setMirrorRoute");
        if let Some(route) = parse::<WireMirrorRoute>(route, &route_path, check) {
            parts.push(Step::SetMirrorRoute(read_mirror_route(
                route,
                &route_path,
                check,
            )));
        }
    }
    parts
}

fn read_canary_scale(
    scale: &SetCanaryScale,
    path: &str,
    max_weight: i32,
    check: &mut Check,
) -> Option<Step> {
    let chosen = [
        scale.replicas.is_some(),
        scale.weight.is_some(),
        scale.match_traffic_weight,
    ];
    if chosen.iter().filter(|set| **set).count() != 1 {
        check.fail(
            path,
            "needs exactly one of replicas, weight and matchTrafficWeight",
        );
        return None;
    }
    let scale = if let Some(replicas) = scale.replicas {
        CanaryScale::Replicas(check.non_negative(&format!("{path}.replicas"), Some(replicas), 0))
    } else if let Some(weight) = scale.weight {
        if !(0..=max_weight).contains(&weight) {
            check.fail(
                format!("{path}.weight"),
                format!("must be between 0 and {max_weight}, got {weight}"),
            );
        }
        CanaryScale::Weight(weight)
    } else {
        CanaryScale::MatchTrafficWeight
    };
    Some(Step::SetCanaryScale(scale))
}

/// Parses an opaque block of the spec as `T`, reporting a wrong field at its path.
fn parse<T: DeserializeOwned>(value: &Opaque, path: &str, check: &mut Check) -> Option<T> {
    let value = serde_json::Value::Object(value.0.clone());
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(parsed) => Some(parsed),
        Err(error) => {
            let inner = error.path().to_string();
            let at = if inner == "." {
                path.to_owned()
            } else {
                format!("{path}.{inner}")
            };
            check.fail(at, error.into_inner().to_string());
            None
        }
    }
}

fn read_routers(routing: &RolloutTrafficRouting, path: &str, check: &mut Check) -> Vec<Router> {
    let mut routers = Vec::new();
    if let Some(istio) = &routing.istio {
        let at = format!("{path}.istio");
        routers.extend(
            parse::<WireIstio>(istio, &at, check).and_then(|istio| read_istio(istio, &at, check)),
        );
    }
    if let Some(nginx) = &routing.nginx {
        let at = format!("{path}.nginx");
        routers.extend(
            parse::<WireNginx>(nginx, &at, check).and_then(|nginx| read_nginx(nginx, &at, check)),
        );
    }
    if let Some(alb) = &routing.alb {
        let at = format!("{path}.alb");
        routers.extend(parse::<WireAlb>(alb, &at, check).and_then(|alb| read_alb(alb, &at, check)));
    }
    if let Some(smi) = &routing.smi {
        let at = format!("{path}.smi");
        routers.extend(parse::<WireSmi>(smi, &at, check).map(|smi| {
            Router::Smi(Smi {
                root_service: non_empty(&smi.root_service),
                traffic_split_name: non_empty(&smi.traffic_split_name),
            })
        }));
    }
    if let Some(ambassador) = &routing.ambassador {
        let at = format!("{path}.ambassador");
        if let Some(ambassador) = parse::<WireAmbassador>(ambassador, &at, check) {
            if ambassador.mappings.is_empty() {
                check.fail(format!("{at}.mappings"), "must name at least one Mapping");
            }
            routers.push(Router::Ambassador(Ambassador {
                mappings: ambassador.mappings,
            }));
        }
    }
    if let Some(app_mesh) = &routing.app_mesh {
        let at = format!("{path}.appMesh");
        routers.extend(
            parse::<WireAppMesh>(app_mesh, &at, check)
                .and_then(|app_mesh| read_app_mesh(app_mesh, &at, check)),
        );
    }
    if let Some(traefik) = &routing.traefik {
        let at = format!("{path}.traefik");
        if let Some(traefik) = parse::<WireTraefik>(traefik, &at, check) {
            if traefik.weighted_traefik_service_name.is_empty() {
                check.fail(format!("{at}.weightedTraefikServiceName"), "is required");
            }
            routers.push(Router::Traefik(Traefik {
                weighted_traefik_service_name: traefik.weighted_traefik_service_name,
            }));
        }
    }
    if let Some(apisix) = &routing.apisix {
        let at = format!("{path}.apisix");
        if let Some(apisix) = parse::<WireApisix>(apisix, &at, check) {
            if apisix.route.name.is_empty() {
                check.fail(format!("{at}.route.name"), "is required");
            }
            routers.push(Router::Apisix(Apisix {
                route: apisix.route.name,
                rules: apisix.route.rules,
            }));
        }
    }
    if let Some(plugins) = &routing.plugins {
        for (name, config) in &plugins.0 {
            let at = format!("{path}.plugins[{name:?}]");
            if name != GATEWAY_API_PLUGIN {
                check.fail(
                    at,
                    format!(
                        "traffic router plugins are not supported by tidegate; it drives \
                         {GATEWAY_API_PLUGIN:?} itself"
                    ),
                );
                continue;
            }
            let serde_json::Value::Object(config) = config else {
                check.fail(at, "must be an object");
                continue;
            };
            let config = Opaque(config.clone());
            routers.extend(
                parse::<WireGatewayApi>(&config, &at, check)
                    .and_then(|gateway| read_gateway_api(&gateway, &at, check)),
            );
        }
    }
    routers
}

fn read_istio(istio: WireIstio, path: &str, check: &mut Check) -> Option<Router> {
    let virtual_services = match (istio.virtual_service, istio.virtual_services) {
        (Some(single), None) => vec![(format!("{path}.virtualService"), single)],
        (None, Some(list)) => list
            .into_iter()
            .enumerate()
            .map(|(index, vs)| (format!("{path}.virtualServices[{index}]"), vs))
            .collect(),
        (Some(_), Some(_)) => {
            check.fail(
                path,
                "must set only one of virtualService and virtualServices",
            );
            return None;
        }
        (None, None) => {
            check.fail(path, "needs virtualService or virtualServices");
            return None;
        }
    };
    let virtual_services = virtual_services
        .into_iter()
        .map(|(at, vs)| {
            if vs.name.is_empty() {
                check.fail(format!("{at}.name"), "is required");
            }
            // `name.namespace`, as Argo reads it: everything after the first dot.
            let (name, namespace) = match vs.name.split_once('.') {
                Some((name, namespace)) => (name.to_owned(), Some(namespace.to_owned())),
                None => (vs.name.clone(), None),
            };
            IstioVirtualService {
                name,
                namespace,
                http_routes: vs.routes,
                tls_routes: vs
                    .tls_routes
                    .into_iter()
                    .map(|route| IstioTlsRoute {
                        port: route.port,
                        sni_hosts: route.sni_hosts,
                    })
                    .collect(),
                tcp_routes: vs.tcp_routes.into_iter().map(|route| route.port).collect(),
            }
        })
        .collect();
    let destination_rule = istio.destination_rule.map(|rule| {
        for (field, value) in [
            ("name", &rule.name),
            ("canarySubsetName", &rule.canary_subset_name),
            ("stableSubsetName", &rule.stable_subset_name),
        ] {
            if value.is_empty() {
                check.fail(format!("{path}.destinationRule.{field}"), "is required");
            }
        }
        IstioDestinationRule {
            name: rule.name,
            canary_subset: rule.canary_subset_name,
            stable_subset: rule.stable_subset_name,
        }
    });
    Some(Router::Istio(Istio {
        virtual_services,
        destination_rule,
    }))
}

fn read_nginx(nginx: WireNginx, path: &str, check: &mut Check) -> Option<Router> {
    let stable_ingresses = match (non_empty(&nginx.stable_ingress), nginx.stable_ingresses) {
        (Some(single), None) => vec![single],
        (None, Some(list)) if !list.is_empty() => list,
        (Some(_), Some(_)) => {
            check.fail(
                path,
                "must set only one of stableIngress and stableIngresses",
            );
            return None;
        }
        _ => {
            check.fail(path, "needs stableIngress or stableIngresses");
            return None;
        }
    };
    let annotation_prefix =
        non_empty(&nginx.annotation_prefix).unwrap_or_else(|| DEFAULT_NGINX_PREFIX.to_owned());
    Some(Router::Nginx(Nginx {
        stable_ingresses,
        annotation_prefix,
        additional_annotations: nginx.additional_ingress_annotations,
        canary_annotations: nginx.canary_ingress_annotations,
    }))
}

fn read_alb(alb: WireAlb, path: &str, check: &mut Check) -> Option<Router> {
    let ingresses = match (non_empty(&alb.ingress), alb.ingresses) {
        (Some(single), None) => vec![single],
        (None, Some(list)) if !list.is_empty() => list,
        (Some(_), Some(_)) => {
            check.fail(path, "must set only one of ingress and ingresses");
            return None;
        }
        _ => {
            check.fail(path, "needs ingress or ingresses");
            return None;
        }
    };
    if alb.service_port <= 0 {
        check.fail(format!("{path}.servicePort"), "is required");
    }
    let stickiness = alb
        .stickiness_config
        .filter(|sticky| sticky.enabled)
        .map(|sticky| {
            if !(1..=604_800).contains(&sticky.duration_seconds) {
                check.fail(
                    format!("{path}.stickinessConfig.durationSeconds"),
                    "must be between 1 and 604800",
                );
            }
            sticky.duration_seconds
        });
    Some(Router::Alb(Alb {
        ingresses,
        service_port: alb.service_port,
        root_service: non_empty(&alb.root_service),
        annotation_prefix: non_empty(&alb.annotation_prefix)
            .unwrap_or_else(|| DEFAULT_ALB_PREFIX.to_owned()),
        stickiness,
    }))
}

fn read_app_mesh(app_mesh: WireAppMesh, path: &str, check: &mut Check) -> Option<Router> {
    let Some(virtual_service) = app_mesh.virtual_service else {
        check.fail(format!("{path}.virtualService"), "is required");
        return None;
    };
    let Some(group) = app_mesh.virtual_node_group else {
        check.fail(format!("{path}.virtualNodeGroup"), "is required");
        return None;
    };
    for (field, value) in [
        ("virtualService.name", &virtual_service.name),
        (
            "virtualNodeGroup.canaryVirtualNodeRef.name",
            &group.canary_virtual_node_ref.name,
        ),
        (
            "virtualNodeGroup.stableVirtualNodeRef.name",
            &group.stable_virtual_node_ref.name,
        ),
    ] {
        if value.is_empty() {
            check.fail(format!("{path}.{field}"), "is required");
        }
    }
    Some(Router::AppMesh(AppMesh {
        virtual_service: virtual_service.name,
        routes: virtual_service.routes,
        canary_virtual_node: group.canary_virtual_node_ref.name,
        stable_virtual_node: group.stable_virtual_node_ref.name,
    }))
}

fn read_gateway_api(gateway: &WireGatewayApi, path: &str, check: &mut Check) -> Option<Router> {
    let mut routes = Vec::new();
    let singles = [
        (RouteKind::Http, &gateway.http_route),
        (RouteKind::Grpc, &gateway.grpc_route),
        (RouteKind::Tcp, &gateway.tcp_route),
        (RouteKind::Tls, &gateway.tls_route),
    ];
    for (kind, name) in singles {
        if let Some(name) = non_empty(name) {
            routes.push(GatewayRoute {
                kind,
                name,
                header_routes: matches!(kind, RouteKind::Http | RouteKind::Grpc),
            });
        }
    }
    let lists = [
        (RouteKind::Http, "httpRoutes", &gateway.http_routes),
        (RouteKind::Grpc, "grpcRoutes", &gateway.grpc_routes),
        (RouteKind::Tcp, "tcpRoutes", &gateway.tcp_routes),
        (RouteKind::Tls, "tlsRoutes", &gateway.tls_routes),
    ];
    for (kind, field, list) in lists {
        for (index, route) in list.iter().enumerate() {
            if route.name.is_empty() {
                check.fail(format!("{path}.{field}[{index}].name"), "is required");
            }
            if route.use_header_routes && matches!(kind, RouteKind::Tcp | RouteKind::Tls) {
                check.fail(
                    format!("{path}.{field}[{index}].useHeaderRoutes"),
                    "TCP and TLS routes cannot carry header routes",
                );
            }
            routes.push(GatewayRoute {
                kind,
                name: route.name.clone(),
                header_routes: route.use_header_routes,
            });
        }
    }
    let mut selectors = Vec::new();
    let selector_fields = [
        (
            RouteKind::Http,
            "httpRouteSelector",
            &gateway.http_route_selector,
        ),
        (
            RouteKind::Grpc,
            "grpcRouteSelector",
            &gateway.grpc_route_selector,
        ),
        (
            RouteKind::Tcp,
            "tcpRouteSelector",
            &gateway.tcp_route_selector,
        ),
        (
            RouteKind::Tls,
            "tlsRouteSelector",
            &gateway.tls_route_selector,
        ),
    ];
    for (kind, field, selector) in selector_fields {
        let Some(selector) = selector else { continue };
        let text = crate::k8s::labels::selector_string(selector);
        if text.is_empty() {
            check.fail(
                format!("{path}.{field}"),
                "must not be empty: it would select every route",
            );
            continue;
        }
        selectors.push((kind, text));
    }
    if routes.is_empty() && selectors.is_empty() {
        check.fail(
            path,
            "names no route: set httpRoute(s), grpcRoute(s), tcpRoute(s), tlsRoute(s) or a route selector",
        );
        return None;
    }
    let in_progress_label = (!gateway.disable_in_progress_label).then(|| {
        (
            non_empty(&gateway.in_progress_label_key)
                .unwrap_or_else(|| DEFAULT_IN_PROGRESS_LABEL.0.to_owned()),
            non_empty(&gateway.in_progress_label_value)
                .unwrap_or_else(|| DEFAULT_IN_PROGRESS_LABEL.1.to_owned()),
        )
    });
    Some(Router::GatewayApi(GatewayApi {
        namespace: non_empty(&gateway.namespace),
        routes,
        selectors,
        in_progress_label,
    }))
}

fn read_header_route(route: WireHeaderRoute, path: &str, check: &mut Check) -> HeaderRoute {
    if route.name.is_empty() {
        check.fail(format!("{path}.name"), "is required");
    }
    let matches = route
        .matches
        .into_iter()
        .enumerate()
        .filter_map(|(index, header)| {
            let at = format!("{path}.match[{index}]");
            if header.header_name.is_empty() {
                check.fail(format!("{at}.headerName"), "is required");
            }
            let value = read_string_match(
                header.header_value.as_ref(),
                &format!("{at}.headerValue"),
                check,
            )?;
            Some(HeaderMatch {
                header: header.header_name,
                value,
            })
        })
        .collect();
    HeaderRoute {
        name: route.name,
        matches,
    }
}

fn read_mirror_route(route: WireMirrorRoute, path: &str, check: &mut Check) -> MirrorRoute {
    if route.name.is_empty() {
        check.fail(format!("{path}.name"), "is required");
    }
    if let Some(percentage) = route.percentage
        && !(0..=100).contains(&percentage)
    {
        check.fail(
            format!("{path}.percentage"),
            format!("must be between 0 and 100, got {percentage}"),
        );
    }
    let matches = route
        .matches
        .into_iter()
        .enumerate()
        .map(|(index, mirror)| {
            let at = format!("{path}.match[{index}]");
            let method = mirror
                .method
                .as_ref()
                .and_then(|method| read_string_match(Some(method), &format!("{at}.method"), check));
            let path_match = mirror
                .path
                .as_ref()
                .and_then(|value| read_string_match(Some(value), &format!("{at}.path"), check));
            let headers = mirror
                .headers
                .iter()
                .filter_map(|(name, value)| {
                    let value =
                        read_string_match(Some(value), &format!("{at}.headers[{name:?}]"), check)?;
                    Some((name.clone(), value))
                })
                .collect();
            MirrorMatch {
                method,
                path: path_match,
                headers,
            }
        })
        .collect();
    MirrorRoute {
        name: route.name,
        matches,
        percentage: route.percentage,
    }
}

fn read_string_match(
    value: Option<&WireStringMatch>,
    path: &str,
    check: &mut Check,
) -> Option<StringMatch> {
    let Some(value) = value else {
        check.fail(path, "is required: one of exact, prefix and regex");
        return None;
    };
    let set: Vec<StringMatch> = [
        value.exact.clone().map(StringMatch::Exact),
        value.prefix.clone().map(StringMatch::Prefix),
        value.regex.clone().map(StringMatch::Regex),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Ok([only]) = <[StringMatch; 1]>::try_from(set) {
        Some(only)
    } else {
        check.fail(path, "needs exactly one of exact, prefix and regex");
        None
    }
}

// The router blocks as Argo's Go types spell them (`pkg/apis/rollouts/v1alpha1/types.go` and
// the Gateway API plugin's configuration). Unknown fields are refused: a misspelt field would
// otherwise be ignored silently.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireIstio {
    virtual_service: Option<WireVirtualService>,
    virtual_services: Option<Vec<WireVirtualService>>,
    destination_rule: Option<WireDestinationRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireVirtualService {
    #[serde(default)]
    name: String,
    #[serde(default)]
    routes: Vec<String>,
    #[serde(default)]
    tls_routes: Vec<WireTlsRoute>,
    #[serde(default)]
    tcp_routes: Vec<WireTcpRoute>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireTlsRoute {
    #[serde(default)]
    port: i64,
    #[serde(default)]
    sni_hosts: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireTcpRoute {
    #[serde(default)]
    port: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireDestinationRule {
    #[serde(default)]
    name: String,
    #[serde(default)]
    canary_subset_name: String,
    #[serde(default)]
    stable_subset_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireNginx {
    #[serde(default)]
    stable_ingress: String,
    stable_ingresses: Option<Vec<String>>,
    #[serde(default)]
    annotation_prefix: String,
    #[serde(default)]
    additional_ingress_annotations: BTreeMap<String, String>,
    #[serde(default)]
    canary_ingress_annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireAlb {
    #[serde(default)]
    ingress: String,
    ingresses: Option<Vec<String>>,
    #[serde(default)]
    service_port: i32,
    #[serde(default)]
    root_service: String,
    #[serde(default)]
    annotation_prefix: String,
    stickiness_config: Option<WireStickiness>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireStickiness {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    duration_seconds: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireSmi {
    #[serde(default)]
    root_service: String,
    #[serde(default)]
    traffic_split_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireAmbassador {
    #[serde(default)]
    mappings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireAppMesh {
    virtual_service: Option<WireAppMeshService>,
    virtual_node_group: Option<WireVirtualNodeGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireAppMeshService {
    #[serde(default)]
    name: String,
    #[serde(default)]
    routes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireVirtualNodeGroup {
    canary_virtual_node_ref: WireNameRef,
    stable_virtual_node_ref: WireNameRef,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireNameRef {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireTraefik {
    #[serde(default)]
    weighted_traefik_service_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireApisix {
    route: WireApisixRoute,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireApisixRoute {
    #[serde(default)]
    name: String,
    #[serde(default)]
    rules: Vec<String>,
}

/// The Gateway API plugin's configuration. Its `configMap` (where old plugin versions kept
/// their bookkeeping) and `useHeaderRoutes` at the top level (which the plugin ignores) are
/// accepted and mean nothing here.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireGatewayApi {
    #[serde(default)]
    http_route: String,
    #[serde(default)]
    grpc_route: String,
    #[serde(default)]
    tcp_route: String,
    #[serde(default)]
    tls_route: String,
    #[serde(default)]
    http_routes: Vec<WireGatewayRoute>,
    #[serde(default)]
    grpc_routes: Vec<WireGatewayRoute>,
    #[serde(default)]
    tcp_routes: Vec<WireGatewayRoute>,
    #[serde(default)]
    tls_routes: Vec<WireGatewayRoute>,
    http_route_selector: Option<crate::k8s::LabelSelector>,
    grpc_route_selector: Option<crate::k8s::LabelSelector>,
    tcp_route_selector: Option<crate::k8s::LabelSelector>,
    tls_route_selector: Option<crate::k8s::LabelSelector>,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    in_progress_label_key: String,
    #[serde(default)]
    in_progress_label_value: String,
    #[serde(default)]
    disable_in_progress_label: bool,
    #[serde(default, rename = "configMap")]
    _config_map: String,
    #[serde(default, rename = "useHeaderRoutes")]
    _use_header_routes: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireGatewayRoute {
    #[serde(default)]
    name: String,
    #[serde(default)]
    use_header_routes: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireHeaderRoute {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "match")]
    matches: Vec<WireHeaderMatch>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireHeaderMatch {
    #[serde(default)]
    header_name: String,
    header_value: Option<WireStringMatch>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireMirrorRoute {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "match")]
    matches: Vec<WireMirrorMatch>,
    percentage: Option<i32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireMirrorMatch {
    method: Option<WireStringMatch>,
    path: Option<WireStringMatch>,
    #[serde(default)]
    headers: BTreeMap<String, WireStringMatch>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireStringMatch {
    exact: Option<String>,
    prefix: Option<String>,
    regex: Option<String>,
}
