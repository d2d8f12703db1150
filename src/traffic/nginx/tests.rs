//! NGINX canary Ingresses: given the stable Ingress and the canary one (or none), the exact
//! canary Ingress to create or replace, and what it is read to carry.

use serde_json::{Value, json};

use super::*;
use crate::traffic::tests::{context, intent, read, routed_without_record};

fn config() -> Config {
    Config {
        stable_ingresses: vec!["web".into()],
        annotation_prefix: "nginx.ingress.kubernetes.io".into(),
        additional_annotations: [
            ("canary-by-header".to_owned(), "X-Canary".to_owned()),
            (
                "nginx.ingress.kubernetes.io/canary-by-cookie".to_owned(),
                "beta".to_owned(),
            ),
        ]
        .into(),
        canary_annotations: [("example.com/team".to_owned(), "shop".to_owned())].into(),
    }
}

fn path(service: &str) -> Value {
    json!({"path": "/", "pathType": "Prefix",
           "backend": {"service": {"name": service, "port": {"number": 80}}}})
}

fn stable_ingress() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "12",
                     "annotations": {"kubernetes.io/ingress.class": "nginx",
                                     "nginx.ingress.kubernetes.io/rewrite-target": "/"}},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
            "rules": [
                {"host": "web.example.com", "http": {"paths": [path("web-stable")]}},
                {"host": "admin.example.com", "http": {"paths": [path("admin")]}},
            ],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}},
    })
}

/// The canary Ingress's annotations at `weight`.
fn annotations(weight: &str) -> Value {
    json!({
        "kubernetes.io/ingress.class": "nginx",
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": weight,
        "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
        "nginx.ingress.kubernetes.io/canary-by-cookie": "beta",
        "example.com/team": "shop",
    })
}

/// The canary Ingress as created at `weight`.
fn canary_ingress(weight: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web-web-canary", "namespace": "shop",
                     "ownerReferences": [context().owner], "annotations": annotations(weight)},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
            "rules": [{"host": "web.example.com", "http": {"paths": [path("web-canary")]}}],
        },
    })
}

/// The stable Ingress and the canary one (`None`: it does not exist).
fn objects(stable: Value, canary: Option<Value>) -> Objects {
    let mut objects = read(INGRESS, stable);
    objects.push(Read {
        target: Target::new(INGRESS, "shop", "web-web-canary"),
        api_version: "networking.k8s.io/v1",
        live: canary,
    });
    objects
}

fn writes(
    context: &Context,
    objects: &Objects,
    asked: &TrafficIntent,
) -> Result<Vec<Write>, String> {
    Nginx(&config()).writes(context, objects, asked)
}

#[test]
fn the_stable_ingress_and_its_canary_are_looked_up() {
    assert_eq!(
        Nginx(&config()).lookups(&context()),
        [
            Lookup::Named(Target::new(INGRESS, "shop", "web")),
            Lookup::Named(Target::new(INGRESS, "shop", "web-web-canary")),
        ]
    );
}

#[test]
fn a_canary_ingress_is_created_owned_by_the_rollout_with_the_stable_backends_rules() {
    let writes = writes(&context(), &objects(stable_ingress(), None), &intent(30)).unwrap();
    let [Write::Create(target, created)] = writes.as_slice() else {
        panic!("one create expected, got {writes:?}")
    };
    assert_eq!(target.describe(), "Ingress shop/web-web-canary");
    assert_eq!(routed_without_record(created), canary_ingress("30"));
}

#[test]
fn a_canary_ingress_that_carries_the_intent_is_not_written() {
    let mut live = canary_ingress("30");
    live["metadata"]["resourceVersion"] = json!("5");
    live["status"] = json!({"loadBalancer": {}});
    let live = crate::traffic::record(live, &Router::Nginx(config()), &context(), &intent(30));
    let read = objects(stable_ingress(), Some(live.clone()));
    assert_eq!(writes(&context(), &read, &intent(30)), Ok(Vec::new()));
    let readings = Nginx(&config()).readings(&context(), &read);
    assert_eq!(readings[0].object, "Ingress shop/web-web-canary");
    assert!(readings[0].carries(&intent(30)));
    assert!(!readings[0].carries(&intent(40)));

    let idle = writes(&context(), &read, &intent(0)).unwrap();
    let [Write::Replace(_, replaced)] = idle.as_slice() else {
        panic!("one replace expected, got {idle:?}")
    };
    let mut expected = canary_ingress("0");
    expected["metadata"]["resourceVersion"] = json!("5");
    assert_eq!(
        routed_without_record(replaced),
        expected,
        "at weight 0 it stays, without status"
    );
}

#[test]
fn the_weight_total_is_written_and_read_only_when_max_weight_is_not_100() {
    let mut context = context();
    context.max_weight = 1000;
    let mut asked = intent(300);
    asked.max_weight = 1000;
    let writes = writes(&context, &objects(stable_ingress(), None), &asked).unwrap();
    let [Write::Create(_, created)] = writes.as_slice() else {
        panic!("one create expected, got {writes:?}")
    };
    let mut expected = annotations("300");
    expected["nginx.ingress.kubernetes.io/canary-weight-total"] = json!("1000");
    assert_eq!(
        routed_without_record(created)["metadata"]["annotations"],
        expected
    );
    let read = objects(stable_ingress(), Some(created.clone()));
    assert!(Nginx(&config()).readings(&context, &read)[0].carries(&asked));

    let without_total = objects(stable_ingress(), Some(canary_ingress("300")));
    let readings = Nginx(&config()).readings(&context, &without_total);
    assert_eq!(
        readings[0].state.as_ref().unwrap().canary_weight,
        None,
        "300 out of 100 is not 300 out of 1000"
    );
}

#[test]
fn the_class_annotation_is_copied_only_when_the_stable_ingress_has_it() {
    let mut stable = stable_ingress();
    stable["metadata"]["annotations"] = json!({"nginx.ingress.kubernetes.io/rewrite-target": "/"});
    stable["spec"]
        .as_object_mut()
        .unwrap()
        .remove("ingressClassName");
    stable["spec"].as_object_mut().unwrap().remove("tls");
    let writes = writes(&context(), &objects(stable, None), &intent(10)).unwrap();
    let [Write::Create(_, created)] = writes.as_slice() else {
        panic!("one create expected, got {writes:?}")
    };
    let created = routed_without_record(created);
    let mut expected = annotations("10");
    expected
        .as_object_mut()
        .unwrap()
        .remove("kubernetes.io/ingress.class");
    assert_eq!(created["metadata"]["annotations"], expected);
    assert_eq!(
        created["spec"],
        json!({"rules": [{"host": "web.example.com", "http": {"paths": [path("web-canary")]}}]})
    );
}

#[test]
fn ingresses_that_cannot_carry_the_split_are_errors_naming_them() {
    let mut elsewhere = stable_ingress();
    elsewhere["spec"]["rules"] = json!([{"http": {"paths": [path("admin")]}}]);
    assert_eq!(
        writes(&context(), &objects(elsewhere, None), &intent(10)).unwrap_err(),
        "Ingress shop/web has no rule that sends traffic to web-stable"
    );
    let mut missing = objects(stable_ingress(), None);
    missing[0].live = None;
    assert_eq!(
        writes(&context(), &missing, &intent(10)).unwrap_err(),
        "Ingress shop/web does not exist"
    );
    assert_eq!(
        writes(&context(), &read(INGRESS, stable_ingress()), &intent(10)).unwrap_err(),
        "Ingress shop/web-web-canary was not read"
    );
    let mut foreign = canary_ingress("10");
    foreign["metadata"]["ownerReferences"][0]["uid"] = json!("someone-else");
    assert_eq!(
        writes(
            &context(),
            &objects(stable_ingress(), Some(foreign)),
            &intent(10)
        )
        .unwrap_err(),
        "Ingress shop/web-web-canary exists but does not belong to Rollout web"
    );
    let readings = Nginx(&config()).readings(&context(), &objects(stable_ingress(), None));
    assert_eq!(
        readings[0].state,
        Err("Ingress shop/web-web-canary does not exist yet".to_owned())
    );
}

#[test]
fn a_canary_without_the_canary_annotation_carries_no_weight() {
    let mut live = canary_ingress("30");
    live["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"] = json!("false");
    let readings = Nginx(&config()).readings(&context(), &objects(stable_ingress(), Some(live)));
    assert_eq!(readings[0].state.as_ref().unwrap().canary_weight, None);
}

#[test]
fn long_canary_names_are_cut_to_253_characters() {
    assert_eq!(canary_name("web", "api"), "web-api-canary");
    let name = canary_name(&"r".repeat(200), &"i".repeat(100));
    assert_eq!(
        name,
        format!("{}-{}-canary", "r".repeat(200), "i".repeat(45))
    );
    assert_eq!(name.len(), 253);
}

#[test]
fn writes_are_announced_as_argo_announces_them() {
    let config = config();
    let nginx = Nginx(&config);
    let target = Target::new(INGRESS, "shop", "web-web-canary");
    let created = Write::Create(target.clone(), json!({}));
    assert_eq!(
        nginx.notices(&created, None, &intent(20)),
        [Notice::new(
            "CreatingCanaryIngress",
            "Creating canary ingress `web-web-canary` with weight `20`".to_owned()
        )]
    );
    let replaced = Write::Replace(target, json!({}));
    assert_eq!(
        nginx.notices(&replaced, Some(&intent(20)), &intent(40)),
        [Notice::new(
            "PatchingCanaryIngress",
            "Updating Ingress `web-web-canary` to desiredWeight '40'".to_owned()
        )]
    );
    assert!(
        nginx
            .notices(&replaced, Some(&intent(40)), &intent(40))
            .is_empty()
    );
}
