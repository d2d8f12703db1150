//! AWS ALB Ingresses: given an Ingress and an intent, the exact action, conditions and
//! managed-annotations annotations and paths to write, and what they are read to carry.

use serde_json::{Value, json};

use super::*;
use crate::traffic::tests::{
    context, header, intent, mirror, read, routed_without_record, with_experiment,
};

const ACTION: &str = "alb.ingress.kubernetes.io/actions.web-stable";

fn config() -> Config {
    Config {
        ingresses: vec!["web".into()],
        service_port: 80,
        root_service: None,
        annotation_prefix: "alb.ingress.kubernetes.io".into(),
        stickiness: None,
    }
}

fn path(service: &str) -> Value {
    json!({"path": "/*", "pathType": "ImplementationSpecific",
           "backend": {"service": {"name": service, "port": {"name": "use-annotation"}}}})
}

fn ingress(annotations: Value, paths: Value) -> Value {
    let mut ingress = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "9"},
        "spec": {"rules": [{"host": "web.example.com", "http": {}}]},
        "status": {"loadBalancer": {"ingress": [{"hostname": "k8s-shop-web.elb.amazonaws.com"}]}},
    });
    ingress["metadata"]["annotations"] = annotations;
    ingress["spec"]["rules"][0]["http"]["paths"] = paths;
    ingress
}

fn git_annotations() -> Value {
    json!({"kubernetes.io/ingress.class": "alb", "alb.ingress.kubernetes.io/scheme": "internet-facing"})
}

/// The forward action at `canary` / `stable`, as the ALB controller reads it.
fn forward(canary: i64, stable: i64) -> String {
    json!({"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"ServiceName": "web-canary", "ServicePort": "80", "Weight": canary},
        {"ServiceName": "web-stable", "ServicePort": "80", "Weight": stable},
    ]}})
    .to_string()
}

fn the_write(config: &Config, live: Value, asked: &TrafficIntent) -> Value {
    let writes = Alb(config)
        .writes(&context(), &read(INGRESS, live), asked)
        .unwrap();
    match writes.as_slice() {
        [Write::Replace(target, object)] => {
            assert_eq!(target.describe(), "Ingress shop/web");
            routed_without_record(object)
        }
        other => panic!("one replace expected, got {other:?}"),
    }
}

/// The Ingress as written for `intent(30)` without header routes.
fn weighted() -> Value {
    let mut annotations = git_annotations();
    annotations[ACTION] = json!(forward(30, 70));
    annotations["rollouts.argoproj.io/managed-alb-annotations"] =
        json!(json!({"web": [ACTION]}).to_string());
    let mut expected = ingress(annotations, json!([path("web-stable")]));
    expected.as_object_mut().unwrap().remove("status");
    expected
}

#[test]
fn each_ingress_is_looked_up() {
    let mut config = config();
    config.ingresses.push("api".into());
    assert_eq!(
        Alb(&config).lookups(&context()),
        [
            Lookup::Named(Target::new(INGRESS, "shop", "web")),
            Lookup::Named(Target::new(INGRESS, "shop", "api")),
        ]
    );
}

#[test]
fn the_forward_action_carries_the_weights_and_the_rollout_lists_it_as_its_own() {
    let live = ingress(git_annotations(), json!([path("web-stable")]));
    assert_eq!(the_write(&config(), live, &intent(30)), weighted());
}

#[test]
fn an_experiment_s_service_is_a_target_group_while_it_runs_and_goes_after() {
    let running = the_write(&config(), weighted(), &with_experiment(30, 20));
    let action: Value =
        serde_json::from_str(running["metadata"]["annotations"][ACTION].as_str().unwrap()).unwrap();
    assert_eq!(
        action,
        json!({"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"ServiceName": "web-canary", "ServicePort": "80", "Weight": 30},
            {"ServiceName": "web-stable", "ServicePort": "80", "Weight": 50},
            {"ServiceName": "web-exp-canary", "ServicePort": "80", "Weight": 20},
        ]}})
    );
    let readings = Alb(&config()).readings(&context(), &read(INGRESS, running.clone()));
    assert!(readings[0].carries(&with_experiment(30, 20)));
    assert!(
        !readings[0].carries(&with_experiment(30, 10)),
        "its weight is read"
    );
    assert!(!readings[0].carries(&intent(30)), "it is still there");
    assert_eq!(the_write(&config(), running, &intent(30)), weighted());
}

#[test]
fn an_ingress_that_carries_the_intent_is_not_written() {
    let live = crate::traffic::record(weighted(), &Router::Alb(config()), &context(), &intent(30));
    let writes = Alb(&config()).writes(&context(), &read(INGRESS, live.clone()), &intent(30));
    assert_eq!(writes, Ok(Vec::new()));
    let readings = Alb(&config()).readings(&context(), &read(INGRESS, live));
    assert_eq!(readings[0].object, "Ingress shop/web");
    assert!(readings[0].carries(&intent(30)));
    assert!(!readings[0].carries(&intent(40)));
    let mut mirrored = intent(30);
    mirrored.mirror_routes = vec![mirror("mirror", 50)];
    assert!(readings[0].carries(&mirrored), "ALB takes no mirror routes");
}

#[test]
fn other_rollouts_managed_annotations_are_kept() {
    let mut annotations = git_annotations();
    annotations["rollouts.argoproj.io/managed-alb-annotations"] =
        json!(r#"{"api":["alb.ingress.kubernetes.io/actions.api-stable"]}"#);
    let written = the_write(
        &config(),
        ingress(annotations, json!([path("web-stable")])),
        &intent(30),
    );
    let managed =
        json::annotation(&written, "rollouts.argoproj.io/managed-alb-annotations").unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(managed).unwrap(),
        json!({"api": ["alb.ingress.kubernetes.io/actions.api-stable"], "web": [ACTION]})
    );
}

#[test]
fn stickiness_and_a_root_service_shape_the_action() {
    let mut config = config();
    config.stickiness = Some(3600);
    config.root_service = Some("web-root".into());
    let live = ingress(git_annotations(), json!([path("web-root")]));
    let written = the_write(&config, live, &intent(10));
    let action = json::annotation(&written, "alb.ingress.kubernetes.io/actions.web-root").unwrap();
    let expected = json!({"Type": "forward", "ForwardConfig": {
        "TargetGroups": [
            {"ServiceName": "web-canary", "ServicePort": "80", "Weight": 10},
            {"ServiceName": "web-stable", "ServicePort": "80", "Weight": 90},
        ],
        "TargetGroupStickinessConfig": {"Enabled": true, "DurationSeconds": 3600},
    }});
    assert_eq!(action, expected.to_string());
    assert_eq!(json::annotation(&written, ACTION), None);
    let readings = Alb(&config).readings(&context(), &read(INGRESS, written));
    assert!(readings[0].carries(&intent(10)));
}

#[test]
fn a_header_route_is_an_action_conditions_and_a_first_path_removed_when_not_asked() {
    let live = ingress(git_annotations(), json!([path("web-stable")]));
    let mut asked = intent(30);
    asked.header_routes = vec![header("header", StringMatch::Exact("yes".into()))];
    let written = the_write(&config(), live, &asked);
    let mut expected = weighted();
    let annotations = &mut expected["metadata"]["annotations"];
    annotations["alb.ingress.kubernetes.io/actions.header"] = json!(
        json!({"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"ServiceName": "web-canary", "ServicePort": "80"},
        ]}})
        .to_string()
    );
    annotations["alb.ingress.kubernetes.io/conditions.header"] = json!(
        json!([{"Field": "http-header",
                "HttpHeaderConfig": {"HttpHeaderName": "X-Canary", "Values": ["yes"]}}])
        .to_string()
    );
    let owned = [
        ACTION,
        "alb.ingress.kubernetes.io/actions.header",
        "alb.ingress.kubernetes.io/conditions.header",
    ];
    annotations["rollouts.argoproj.io/managed-alb-annotations"] =
        json!(json!({"web": owned}).to_string());
    expected["spec"]["rules"][0]["http"]["paths"] = json!([path("header"), path("web-stable")]);
    assert_eq!(written, expected);

    let readings = Alb(&config()).readings(&context(), &read(INGRESS, written.clone()));
    assert_eq!(
        readings[0].state.as_ref().unwrap().routes,
        ["header".to_owned()].into()
    );
    assert!(readings[0].carries(&asked));
    assert!(!readings[0].carries(&intent(30)));
    assert_eq!(
        the_write(&config(), written, &intent(30)),
        weighted(),
        "all of it goes"
    );
}

#[test]
fn ingresses_and_header_routes_that_cannot_carry_the_split_are_errors() {
    let elsewhere = ingress(git_annotations(), json!([path("admin")]));
    assert_eq!(
        Alb(&config())
            .writes(&context(), &read(INGRESS, elsewhere), &intent(10))
            .unwrap_err(),
        "Ingress shop/web has no rule that sends traffic to web-stable"
    );
    let mut missing = read(INGRESS, ingress(git_annotations(), json!([])));
    missing[0].live = None;
    assert_eq!(
        Alb(&config())
            .writes(&context(), &missing, &intent(10))
            .unwrap_err(),
        "Ingress shop/web does not exist"
    );
    assert_eq!(
        Alb(&config()).readings(&context(), &missing)[0].state,
        Err("Ingress shop/web does not exist".to_owned())
    );
    let mut asked = intent(10);
    asked.header_routes = vec![header("header", StringMatch::Prefix("beta".into()))];
    let live = ingress(git_annotations(), json!([path("web-stable")]));
    assert_eq!(
        Alb(&config())
            .writes(&context(), &read(INGRESS, live), &asked)
            .unwrap_err(),
        "the ALB router matches header values exactly; prefix \"beta\" cannot be routed"
    );
}

#[test]
fn writes_are_announced_as_argo_announces_them() {
    let config = config();
    let alb = Alb(&config);
    let write = Write::Replace(Target::new(INGRESS, "shop", "web"), json!({}));
    let patching = |message: &str| vec![Notice::new("PatchingALBIngress", message.to_owned())];
    assert_eq!(
        alb.notices(&write, Some(&intent(0)), &intent(30)),
        patching("Updating Ingress `web` to desiredWeight '30'")
    );
    let mut routed = intent(30);
    routed.header_routes = vec![header("header", StringMatch::Exact("1".into()))];
    assert!(alb.notices(&write, Some(&intent(30)), &routed).is_empty());
    assert_eq!(
        alb.notices(&write, Some(&routed), &intent(30)),
        patching("Updating Ingress `web` removing managed routes")
    );
}
