use serde_json::json;

use super::*;

const FILE: &str = "\
# The shop's front end.
apiVersion: v1
kind: Service
metadata:
  name: web
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web   # café
spec:
  # how many
  replicas: 3
  template:
    spec:
      containers:
        - name: sidecar
          image: \"envoy:1.30\"
        - name: web
          image: nginx:1.25 # pinned
";

fn web() -> Object<'static> {
    Object {
        file: "apps/web.yaml",
        kind: "Rollout",
        name: "web",
    }
}

fn path(text: &str) -> FieldPath {
    FieldPath::parse(text)
}

#[test]
fn a_plain_value_is_replaced_and_every_other_byte_kept() {
    let edited = set(
        FILE,
        web(),
        &path("spec.template.spec.containers[1].image"),
        &json!("nginx:1.27"),
    )
    .expect("edited");
    assert_eq!(
        edited,
        FILE.replace("nginx:1.25 # pinned", "nginx:1.27 # pinned")
    );
}

#[test]
fn a_quoted_value_stays_quoted() {
    let edited = set(
        FILE,
        web(),
        &path("spec.template.spec.containers[0].image"),
        &json!("envoy:1.31"),
    )
    .expect("edited");
    assert_eq!(edited, FILE.replace("\"envoy:1.30\"", "\"envoy:1.31\""));
}

#[test]
fn a_value_yaml_would_read_otherwise_is_quoted() {
    for (value, written) in [
        ("1.5", "\"1.5\""),
        ("yes", "\"yes\""),
        ("a b", "\"a b\""),
        ("x\ny", "\"x\\ny\""),
    ] {
        let edited = set(
            FILE,
            web(),
            &path("spec.template.spec.containers[1].image"),
            &json!(value),
        )
        .expect("edited");
        assert!(
            edited.contains(&format!("image: {written} # pinned")),
            "{value:?}: {edited}"
        );
    }
}

#[test]
fn a_missing_key_is_added_as_the_first_line_of_its_mapping() {
    let edited = set(FILE, web(), &path("spec.paused"), &json!(true)).expect("edited");
    assert_eq!(
        edited,
        FILE.replace("  # how many\n", "  # how many\n  paused: true\n"),
        "{edited}"
    );
    let again = set(&edited, web(), &path("spec.paused"), &json!(false)).expect("edited");
    assert_eq!(
        again,
        FILE.replace("  # how many\n", "  # how many\n  paused: false\n")
    );
}

#[test]
fn a_value_already_there_changes_nothing() {
    let edited = set(
        FILE,
        web(),
        &path("spec.template.spec.containers[1].image"),
        &json!("nginx:1.25"),
    )
    .expect("edited");
    assert_eq!(edited, FILE);
}

#[test]
fn the_object_must_be_in_the_file_once() {
    let missing = set(
        FILE,
        Object {
            name: "shop",
            ..web()
        },
        &path("spec.paused"),
        &json!(true),
    );
    assert!(
        matches!(&missing, Err(EditError::Object { count: 0, .. })),
        "{missing:?}"
    );
    let twice = format!(
        "{FILE}---\n{}",
        &FILE[FILE.find("apiVersion: argoproj").expect("a Rollout")..]
    );
    let error =
        set(&twice, web(), &path("spec.paused"), &json!(true)).expect_err("two Rollouts web");
    assert_eq!(
        error.to_string(),
        "apps/web.yaml holds 2 Rollout named \"web\" (expected exactly one)"
    );
}

#[test]
fn fields_that_cannot_be_edited_are_refused_with_their_line() {
    let cases = [
        (
            "spec.template",
            "apps/web.yaml:14: spec.template is a mapping or a list, not a value",
        ),
        (
            "spec.strategy.canary",
            "apps/web.yaml:11: spec.strategy is not in the document",
        ),
        (
            "spec.replicas.count",
            "apps/web.yaml:13: spec.replicas is a value, not a mapping",
        ),
    ];
    for (field, message) in cases {
        let error = set(FILE, web(), &path(field), &json!(true)).expect_err(field);
        assert_eq!(error.to_string(), message);
    }
    let flow = "kind: Rollout\nmetadata: {name: web}\nspec: {replicas: 1}\n";
    let error = set(flow, web(), &path("spec.paused"), &json!(true)).expect_err("flow style");
    assert_eq!(
        error.to_string(),
        "apps/web.yaml:3: spec is an empty or flow-style mapping: add paused by hand"
    );
    let broken = set("kind: [", web(), &path("spec.paused"), &json!(true)).expect_err("broken");
    assert!(matches!(broken, EditError::Parse { .. }), "{broken:?}");
}

#[test]
fn an_edit_that_would_change_more_than_its_field_is_refused() {
    let anchored = "\
kind: Rollout
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: &image nginx:1.25
        - name: copy
          image: *image
";
    let error = set(
        anchored,
        web(),
        &path("spec.template.spec.containers[0].image"),
        &json!("nginx:1.27"),
    )
    .expect_err("the anchor is used twice");
    assert!(
        error.to_string().starts_with("apps/web.yaml:9: "),
        "{error}"
    );
    let alias = set(
        anchored,
        web(),
        &path("spec.template.spec.containers[1].image"),
        &json!("nginx:1.27"),
    )
    .expect_err("an alias");
    assert_eq!(
        alias.to_string(),
        "apps/web.yaml:11: spec.template.spec.containers[1].image is an alias: edit its anchor by hand"
    );
}

#[test]
fn get_reads_a_field() {
    assert_eq!(
        get(FILE, web(), &path("spec.replicas")).expect("read"),
        Some(json!(3))
    );
    assert_eq!(get(FILE, web(), &path("spec.paused")).expect("read"), None);
}

const EARLIER: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
    name: web
spec:
    replicas: 2
    template:
        spec:
            containers:
            -   name: web
                image: nginx:1.24   # the old one
";

#[test]
fn a_block_is_copied_from_an_earlier_file_shifted_to_its_key() {
    let edited = copy_block(
        FILE,
        web(),
        &path("spec.template"),
        EARLIER,
        "apps/web.yaml@abc",
    )
    .expect("copied");
    let expected = FILE.replace(
        "    spec:
      containers:
        - name: sidecar
          image: \"envoy:1.30\"
        - name: web
          image: nginx:1.25 # pinned
",
        "      spec:
          containers:
          -   name: web
              image: nginx:1.24   # the old one
",
    );
    assert_eq!(edited, expected);
    let template = get(&edited, web(), &path("spec.template")).expect("read");
    assert_eq!(
        template,
        get(EARLIER, web(), &path("spec.template")).expect("read")
    );
    assert_eq!(
        get(&edited, web(), &path("spec.replicas")).expect("read"),
        Some(json!(3)),
        "everything else is today's"
    );
}

#[test]
fn a_block_already_equal_changes_nothing_and_odd_blocks_are_refused() {
    let same = copy_block(
        FILE,
        web(),
        &path("spec.template"),
        FILE,
        "apps/web.yaml@abc",
    )
    .expect("nothing to do");
    assert_eq!(same, FILE);
    let flow =
        "kind: Rollout\nmetadata:\n  name: web\nspec:\n  template: {spec: {containers: []}}\n";
    let error = copy_block(
        FILE,
        web(),
        &path("spec.template"),
        flow,
        "apps/web.yaml@abc",
    )
    .expect_err("flow style");
    assert_eq!(
        error.to_string(),
        "apps/web.yaml@abc:5: spec.template is not a block-style mapping or list"
    );
    let without = "kind: Rollout\nmetadata:\n  name: web\nspec:\n  replicas: 1\n";
    let error = copy_block(
        FILE,
        web(),
        &path("spec.template"),
        without,
        "apps/web.yaml@abc",
    )
    .expect_err("no template");
    assert_eq!(
        error.to_string(),
        "apps/web.yaml@abc:1: spec.template is not there"
    );
}

#[test]
fn reindent_moves_lines_both_ways_and_refuses_what_cannot_move() {
    assert_eq!(
        reindent("  a:\n    b: 1\n\n", 2, 4).as_deref(),
        Some("    a:\n      b: 1\n\n")
    );
    assert_eq!(
        reindent("    a:\n      b: 1\n", 4, 2).as_deref(),
        Some("  a:\n    b: 1\n")
    );
    assert_eq!(reindent("    a:\n b: 1\n", 4, 2), None);
}
