//! The control plane does what later tests rely on: controllers reconcile, the scheduler
//! binds pods to kwok nodes, kwok runs them, and server-side apply records field managers.

use std::collections::BTreeMap;

use serde_json::json;
use tidegate::k8s;

use crate::support::{TIMEOUT, TestNamespace, wait_for, wait_for_object};

fn labels(app: &str) -> BTreeMap<String, String> {
    [("app".to_owned(), app.to_owned())].into()
}

fn replica_set(name: &str, replicas: i32) -> k8s::ReplicaSet {
    k8s::ReplicaSet {
        metadata: k8s::ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        spec: k8s::ReplicaSetSpec {
            replicas: Some(replicas),
            selector: k8s::LabelSelector {
                match_labels: Some(labels(name)),
                ..Default::default()
            },
            template: Some(k8s::PodTemplateSpec {
                metadata: Some(k8s::ObjectMeta {
                    labels: Some(labels(name)),
                    ..Default::default()
                }),
                spec: Some(k8s::PodSpec {
                    containers: vec![k8s::Container {
                        name: "app".to_owned(),
                        image: Some("registry.invalid/tidegate/app:1".to_owned()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn replica_set_pods_are_scheduled_to_kwok_nodes_and_become_available() {
    let namespace = TestNamespace::create("replicaset").await;
    let replica_sets = namespace.api::<k8s::ReplicaSet>();
    replica_sets
        .create(&k8s::PostParams::default(), &replica_set("web", 3))
        .await
        .expect("create ReplicaSet");

    wait_for_object(
        &replica_sets,
        "web",
        TIMEOUT,
        |rs: Option<&k8s::ReplicaSet>| {
            rs.and_then(|rs| rs.status.as_ref())
                .and_then(|status| status.available_replicas)
                == Some(3)
        },
    )
    .await;

    let pods = namespace
        .api::<k8s::Pod>()
        .list(&k8s::ListParams::default().labels("app=web"))
        .await;
    let pods = pods.expect("list pods").items;
    assert_eq!(pods.len(), 3);
    for pod in &pods {
        let node = pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref());
        assert!(
            node.is_some_and(|node| node.starts_with("kwok-node-")),
            "bound to {node:?}"
        );
        let phase = pod
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref());
        assert_eq!(phase, Some("Running"));
    }
}

#[tokio::test]
async fn server_side_apply_records_the_field_manager_and_detects_conflicts() {
    let namespace = TestNamespace::create("ssa").await;
    let config_maps = namespace.api::<k8s::ConfigMap>();
    let settings = |greeting: &str| {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": "settings" },
            "data": { "greeting": greeting },
        })
    };

    let applied = config_maps
        .patch(
            "settings",
            &k8s::PatchParams::apply(k8s::SYNC_FIELD_MANAGER),
            &k8s::Patch::Apply(&settings("hello")),
        )
        .await
        .expect("server-side apply");

    let managed = applied
        .metadata
        .managed_fields
        .expect("managedFields are returned");
    let entry = managed
        .iter()
        .find(|entry| entry.manager.as_deref() == Some(k8s::SYNC_FIELD_MANAGER))
        .unwrap_or_else(|| panic!("no {} entry in {managed:#?}", k8s::SYNC_FIELD_MANAGER));
    assert_eq!(entry.operation.as_deref(), Some("Apply"));
    let fields = &entry.fields_v1.as_ref().expect("fieldsV1").0;
    assert!(
        fields["f:data"].get("f:greeting").is_some(),
        "owned fields: {fields}"
    );

    // Another manager changing an owned field must conflict unless it forces.
    let conflict = config_maps
        .patch(
            "settings",
            &k8s::PatchParams::apply("someone-else"),
            &k8s::Patch::Apply(&settings("changed")),
        )
        .await
        .expect_err("a second manager must conflict");
    assert!(
        matches!(&conflict, kube::Error::Api(status) if status.code == 409),
        "{conflict:?}"
    );

    let read_back = config_maps.get("settings").await.expect("get ConfigMap");
    let greeting = read_back
        .data
        .as_ref()
        .and_then(|data| data.get("greeting"));
    assert_eq!(greeting.map(String::as_str), Some("hello"));
}

#[tokio::test]
async fn test_namespace_is_deleted_when_dropped() {
    let namespace = TestNamespace::create("cleanup").await;
    let name = namespace.name().to_owned();
    let namespaces: k8s::Api<k8s::Namespace> = k8s::Api::all(namespace.client());
    drop(namespace);

    wait_for(
        &format!("namespace {name} to be deleted"),
        TIMEOUT,
        || async {
            let found = namespaces.get_opt(&name).await.expect("get namespace");
            found
                .is_none_or(|ns| ns.metadata.deletion_timestamp.is_some())
                .then_some(())
        },
    )
    .await;
}
