use std::time::Duration;

use super::*;
use crate::k8s::crd::Rollout;

/// A valid spec's common part; each test adds a strategy (indented under `strategy:`).
const BASE: &str = "
replicas: 4
selector:
  matchLabels: {app: web}
template:
  metadata:
    labels: {app: web, tier: front}
  spec:
    containers: [{name: web, image: web:1}]
";

fn spec(strategy: &str) -> RolloutSpec {
    let yaml = format!("{BASE}strategy:\n{strategy}");
    serde_saphyr::from_str(&yaml).unwrap_or_else(|error| panic!("{error}\n{yaml}"))
}

fn errors(spec: &RolloutSpec) -> Vec<String> {
    match spec.plan() {
        Ok(plan) => panic!("expected errors, got {plan:#?}"),
        Err(SpecErrors(errors)) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn canary(plan: &RolloutPlan) -> &CanaryPlan {
    match &plan.strategy {
        Strategy::Canary(canary) => canary,
        Strategy::BlueGreen(_) => panic!("not a canary"),
    }
}

#[test]
fn defaults_are_applied() {
    let plan = spec("  canary: {}\n").plan().unwrap();
    assert_eq!(plan.replicas, 4);
    assert_eq!(plan.revision_history_limit, 10);
    assert_eq!(plan.progress_deadline, Duration::from_secs(600));
    assert_eq!(plan.successful_run_history_limit, 5);
    let canary = canary(&plan);
    assert_eq!(canary.max_surge, Amount::Percent(25));
    assert_eq!(canary.max_unavailable, Amount::Percent(25));
    assert!(canary.steps.is_empty());
}

#[test]
fn canary_steps_are_read() {
    let plan = spec(
        "  canary:
    canaryService: web-canary
    stableService: web-stable
    maxSurge: 1
    maxUnavailable: '0'
    steps:
    - setWeight: 20
    - pause: {duration: 90}
    - pause: {duration: '1h'}
    - pause: {}
    - analysis:
        templates: [{templateName: success-rate}]
        args:
        - {name: service, value: web-canary}
        - name: hash
          valueFrom: {podTemplateHashValue: Latest}
        - name: app
          valueFrom: {fieldRef: {fieldPath: \"metadata.labels['app']\"}}
        - name: version
          valueFrom: {fieldRef: {fieldPath: spec.template.metadata.labels.tier}}
        - name: unset
",
    )
    .plan()
    .unwrap();
    let canary = canary(&plan);
    assert_eq!(canary.max_surge, Amount::Count(1));
    assert_eq!(canary.max_unavailable, Amount::Percent(0));
    assert_eq!(canary.canary_service.as_deref(), Some("web-canary"));
    assert_eq!(canary.steps[0], Step::SetWeight(20));
    assert_eq!(canary.steps[1], Step::Pause(Some(Duration::from_secs(90))));
    assert_eq!(
        canary.steps[2],
        Step::Pause(Some(Duration::from_secs(3600)))
    );
    assert_eq!(canary.steps[3], Step::Pause(None));
    let Step::Analysis(analysis) = &canary.steps[4] else {
        panic!("not an analysis step")
    };
    assert_eq!(
        analysis.templates,
        [TemplateRef {
            name: "success-rate".into(),
            cluster_scope: false
        }]
    );
    let values: Vec<_> = analysis.args.iter().map(|arg| arg.value.clone()).collect();
    assert_eq!(
        values,
        [
            ArgValue::Literal("web-canary".into()),
            ArgValue::LatestHash,
            ArgValue::Field("metadata.labels['app']".into()),
            ArgValue::Field("spec.template.metadata.labels.tier".into()),
            // As Argo: an argument without a value is the empty string.
            ArgValue::Literal(String::new()),
        ]
    );
}

#[test]
fn blue_green_is_read_with_defaults() {
    let plan = spec(
        "  blueGreen:
    activeService: web-active
    previewService: web-preview
    autoPromotionEnabled: false
    abortScaleDownDelaySeconds: 0
    prePromotionAnalysis:
      templates: [{templateName: smoke, clusterScope: true}]
",
    )
    .plan()
    .unwrap();
    let Strategy::BlueGreen(blue_green) = plan.strategy else {
        panic!("not blue-green")
    };
    assert_eq!(blue_green.active_service, "web-active");
    assert!(!blue_green.auto_promotion_enabled);
    assert_eq!(blue_green.scale_down_delay, Duration::from_secs(30));
    assert_eq!(
        blue_green.abort_scale_down_delay, None,
        "0 keeps the preview"
    );
    assert!(blue_green.pre_promotion_analysis.unwrap().templates[0].cluster_scope);
}

#[test]
fn every_problem_is_reported_at_its_path() {
    let found = errors(&spec(
        "  canary:
    canaryService: web
    stableService: web
    maxSurge: 0
    maxUnavailable: 0%
    steps:
    - setWeight: 120
    - pause: {duration: soon}
    - {}
    - {setWeight: 10, pause: {}}
    - analysis: {templates: []}
    - analysis:
        templates: [{templateName: t}]
        args:
        - {name: a}
        - {name: b, value: x, valueFrom: {podTemplateHashValue: Stable}}
        - name: c
          valueFrom: {fieldRef: {fieldPath: metadata.generation}}
",
    ));
    let expected = [
        "spec.strategy.canary.maxSurge: maxSurge and maxUnavailable cannot both be 0",
        "spec.strategy.canary.stableService: must differ from canaryService",
        "spec.strategy.canary.steps[0].setWeight: must be between 0 and 100, got 120",
        "spec.strategy.canary.steps[1].pause.duration: \"soon\" is not a duration",
        "spec.strategy.canary.steps[2]: needs one of setWeight, pause, analysis",
        "spec.strategy.canary.steps[3]: must have at most one of setWeight, pause, analysis",
        "spec.strategy.canary.steps[4].analysis.templates: must name at least one template",
        "spec.strategy.canary.steps[5].analysis.args[1]: needs exactly one of value and valueFrom",
        "spec.strategy.canary.steps[5].analysis.args[2].valueFrom.fieldRef.fieldPath: \"metadata.generation\"",
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (found, expected) in found.iter().zip(expected) {
        assert!(
            found.starts_with(expected),
            "{found:?} should start with {expected:?}"
        );
    }
}

#[test]
fn selector_and_template_must_agree() {
    let mut mismatched = spec("  canary: {}\n");
    mismatched.selector = serde_saphyr::from_str("matchLabels: {app: api}").unwrap();
    assert_eq!(
        errors(&mismatched),
        ["spec.template.metadata.labels: do not match spec.selector"]
    );

    let mut expressions = spec("  canary: {}\n");
    expressions.selector = serde_saphyr::from_str(
        "matchExpressions:
- {key: tier, operator: In, values: [front, back]}
- {key: canary, operator: DoesNotExist}",
    )
    .unwrap();
    assert!(expressions.plan().is_ok());

    let mut empty = spec("  canary: {}\n");
    empty.selector = Some(LabelSelector::default());
    assert_eq!(
        errors(&empty),
        ["spec.selector: must not be empty: it would select every pod"]
    );

    let mut bad_operator = spec("  canary: {}\n");
    bad_operator.selector =
        serde_saphyr::from_str("matchExpressions: [{key: app, operator: Like, values: [w]}]")
            .unwrap();
    assert_eq!(
        errors(&bad_operator),
        ["spec.selector.matchExpressions: unknown operator \"Like\""]
    );

    let mut no_template = spec("  canary: {}\n");
    no_template.template = None;
    assert_eq!(errors(&no_template), ["spec.template: is required"]);
}

#[test]
fn strategy_must_be_exactly_one() {
    assert_eq!(
        errors(&spec("  {}\n")),
        ["spec.strategy: needs canary or blueGreen"]
    );
    let both = spec("  canary: {}\n  blueGreen: {activeService: a}\n");
    assert_eq!(
        errors(&both),
        ["spec.strategy: must have only one of canary and blueGreen"]
    );
}

#[test]
fn deadline_must_exceed_min_ready_seconds() {
    let mut slow = spec("  canary: {}\n");
    slow.min_ready_seconds = Some(600);
    assert_eq!(
        errors(&slow),
        ["spec.progressDeadlineSeconds: must be greater than minReadySeconds (600)"]
    );
}

#[test]
fn blue_green_problems_are_reported() {
    let found = errors(&spec(
        "  blueGreen:
    activeService: web
    previewService: web
    previewReplicaCount: -1
    scaleDownDelayRevisionLimit: 11
",
    ));
    assert_eq!(
        found,
        [
            "spec.strategy.blueGreen.previewService: must differ from activeService: the two \
             Services select different pods",
            "spec.strategy.blueGreen.previewReplicaCount: must not be negative, got -1",
            "spec.strategy.blueGreen.scaleDownDelayRevisionLimit: must not exceed \
             revisionHistoryLimit (10)",
        ]
    );
}

#[test]
fn argo_features_tidegate_does_not_run_are_refused_by_name() {
    let found = errors(&spec(
        "  canary:
    canaryService: web-canary
    stableService: web-stable
    trafficRouting:
      plugins: {argoproj-labs/openshift: {routes: [web]}}
    steps:
    - setWeight: 20
",
    ));
    assert_eq!(
        found,
        [
            "spec.strategy.canary.trafficRouting.plugins[\"argoproj-labs/openshift\"]: traffic \
             router plugins are not supported by tidegate; it drives \"argoproj-labs/gatewayAPI\" \
             itself",
            "spec.strategy.canary.trafficRouting: names no router: set one of istio, nginx, alb, \
             smi, traefik, ambassador, apisix, appMesh or plugins[\"argoproj-labs/gatewayAPI\"]",
        ]
    );
}

#[test]
fn experiment_template_weights_need_a_router_that_carries_them_and_leave_the_stable_a_share() {
    let steps = "    steps:
    - setWeight: 20
    - experiment:
        templates:
        - {name: baseline, specRef: stable, weight: 10}
        - {name: canary, specRef: canary}
        - {name: other, specRef: canary, weight: 5}
";
    let with = |routing: &str, steps: &str| spec(&format!("  canary:\n{routing}{steps}"));
    let routed_steps = |router: &str, steps: &str| {
        let routing = format!(
            "    canaryService: web-canary\n    stableService: web-stable\n    \
             trafficRouting:\n      {router}\n"
        );
        with(&routing, steps)
    };
    let routed = |router: &str| routed_steps(router, steps);
    let at = "spec.strategy.canary.steps[1].experiment.templates";
    assert_eq!(
        errors(&with("", steps)),
        [
            format!(
                "{at}[0].weight: Experiment template weight cannot be set unless TrafficRouting is enabled"
            ),
            format!(
                "{at}[2].weight: Experiment template weight cannot be set unless TrafficRouting is enabled"
            ),
        ]
    );
    let nginx = errors(&routed("nginx: {stableIngress: web}"));
    assert_eq!(nginx.len(), 2, "{nginx:?}");
    assert!(nginx.iter().all(|error| error.ends_with(
        "Experiment template weight is only available for TrafficRouting with SMI, ALB, and \
         Istio at this time"
    )));
    for router in [
        "smi: {}",
        "alb: {ingress: web, servicePort: 80}",
        "istio: {virtualService: {name: web}}",
        "istio: {virtualService: {name: web}}\n      nginx: {stableIngress: web}",
    ] {
        let plan = routed(router)
            .plan()
            .unwrap_or_else(|e| panic!("{router}: {e}"));
        let Step::Experiment(experiment) = &canary(&plan).steps[1] else {
            panic!("an experiment step")
        };
        let weights: Vec<(&str, i32)> = experiment
            .weights
            .iter()
            .map(|weighted| (weighted.template.as_str(), weighted.weight))
            .collect();
        assert_eq!(weights, [("baseline", 10), ("other", 5)], "{router}");
    }

    let too_much = routed_steps("smi: {}", &steps.replace("setWeight: 20", "setWeight: 90"));
    assert_eq!(
        errors(&too_much),
        [format!(
            "{at}: the templates' weights (15) and the canary's weight at this step (90) exceed \
             100, leaving the stable a negative weight"
        )]
    );
    let all = routed_steps("smi: {}", &steps.replace("setWeight: 20", "setWeight: 85"));
    assert!(
        all.plan().is_ok(),
        "the templates may take all the stable leaves"
    );
    let zero = routed_steps("smi: {}", &steps.replace("weight: 5", "weight: 0"));
    assert!(zero.plan().is_ok(), "a weight of 0 is one");
    let negative = routed_steps("smi: {}", &steps.replace("weight: 5", "weight: -5"));
    assert_eq!(
        errors(&negative),
        [format!("{at}[2].weight: must not be negative")]
    );
}

#[test]
fn an_experiment_step_is_checked_and_carries_its_analyses_arguments() {
    let plan = spec(
        "  canary:
    steps:
    - experiment:
        duration: 1h
        scaleDownDelaySeconds: 0
        templates:
        - {name: baseline, specRef: stable, replicas: 0}
        - {name: canary, specRef: canary}
        analyses:
        - name: compare
          templateName: mann-whitney
          args:
          - {name: baseline-hash, value: '{{templates.baseline.podTemplateHash}}'}
          - {name: stable, valueFrom: {podTemplateHashValue: Stable}}
",
    )
    .plan()
    .expect("a valid experiment step: no scale-down delay and no replicas are allowed");
    let Step::Experiment(experiment) = &canary(&plan).steps[0] else {
        panic!("{:?}", canary(&plan).steps[0])
    };
    assert_eq!(
        experiment.analysis_args,
        [vec![
            AnalysisArg {
                name: "baseline-hash".into(),
                value: ArgValue::Literal("{{templates.baseline.podTemplateHash}}".into()),
            },
            AnalysisArg {
                name: "stable".into(),
                value: ArgValue::StableHash,
            },
        ]]
    );
    let found = errors(&spec(
        "  canary:
    steps:
    - experiment:
        duration: soon
        scaleDownDelaySeconds: -1
        templates:
        - {name: canary, specRef: canary, replicas: -1, selector: {}}
        - {name: canary, specRef: stable}
        analyses:
        - {name: a, templateName: ''}
        - {name: a, templateName: t}
",
    ));
    assert_eq!(
        found,
        [
            "spec.strategy.canary.steps[0].experiment.duration: \"soon\" is not a duration: \
             unknown unit (write e.g. \"30s\", \"5m\", \"1h30m\")",
            "spec.strategy.canary.steps[0].experiment.scaleDownDelaySeconds: must not be negative",
            "spec.strategy.canary.steps[0].experiment.templates[0].replicas: must not be negative",
            "spec.strategy.canary.steps[0].experiment.templates[0].selector: selects all pods: a \
             non-empty selector is required",
            "spec.strategy.canary.steps[0].experiment.templates[1].name: template name 'canary' \
             is repeated",
            "spec.strategy.canary.steps[0].experiment.analyses[0].templateName: is required",
            "spec.strategy.canary.steps[0].experiment.analyses[1].name: analysis name 'a' is \
             repeated",
        ]
    );
}

#[test]
fn role_metadata_is_read_for_both_strategies() {
    let plan = spec(
        "  canary:
    canaryMetadata: {labels: {role: canary}, annotations: {note: trial}}
    stableMetadata: {labels: {role: stable}}
",
    )
    .plan()
    .unwrap();
    let updated = plan.role_metadata.updated.as_ref().unwrap();
    assert_eq!(updated.labels["role"], "canary");
    assert_eq!(updated.annotations["note"], "trial");
    assert_eq!(
        plan.role_metadata.stable.as_ref().unwrap().labels["role"],
        "stable"
    );

    let plan = spec(
        "  blueGreen:
    activeService: web-active
    previewMetadata: {labels: {role: preview}}
",
    )
    .plan()
    .unwrap();
    let preview = plan.role_metadata.updated.as_ref().unwrap();
    assert_eq!(preview.labels["role"], "preview");
    assert_eq!(plan.role_metadata.stable, None);
}

#[test]
fn role_metadata_must_not_move_a_pod_out_of_its_replica_set() {
    let found = errors(&spec(
        "  canary:
    canaryMetadata: {labels: {app: other, role: canary}}
    stableMetadata: {labels: {rollouts-pod-template-hash: abc}}
",
    ));
    assert_eq!(
        found,
        [
            "spec.strategy.canary.canaryMetadata.labels.app: is a key of spec.selector or the \
             pod-template hash: pods given it would leave their ReplicaSet",
            "spec.strategy.canary.stableMetadata.labels.rollouts-pod-template-hash: is a key of \
             spec.selector or the pod-template hash: pods given it would leave their ReplicaSet",
        ]
    );
}

#[test]
fn routing_knobs_and_steps_need_a_router() {
    let found = errors(&spec(
        "  canary:
    scaleDownDelaySeconds: 30
    dynamicStableScale: true
    steps:
    - setCanaryScale: {replicas: 2}
    - setHeaderRoute: {name: beta, match: [{headerName: x-beta, headerValue: {exact: 'yes'}}]}
",
    ));
    assert_eq!(
        found,
        [
            "spec.strategy.canary.scaleDownDelaySeconds: can only be used with traffic routing",
            "spec.strategy.canary.dynamicStableScale: can only be used with traffic routing",
            "spec.strategy.canary.steps[0].setCanaryScale: requires trafficRouting",
            "spec.strategy.canary.steps[1].setHeaderRoute: requires trafficRouting",
        ]
    );
}

#[test]
fn the_argo_fixtures_plan() {
    for fixture in ["rollout-bluegreen.yaml", "rollout-canary.yaml"] {
        let path = format!(
            "{}/tests/fixtures/argo/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        );
        let rollout: Rollout =
            serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let planned = rollout.spec.plan();
        assert!(planned.is_ok(), "{fixture}: {planned:?}");
    }
}

#[test]
fn a_rollback_window_of_no_revisions_is_none() {
    for (written, expected) in [("2", Some(2)), ("0", None), ("-1", None)] {
        let mut rollout = spec("  canary: {}\n");
        rollout.rollback_window = Some(super::super::RollbackWindowSpec {
            revisions: written.parse().ok(),
        });
        assert_eq!(
            rollout.plan().unwrap().rollback_window,
            expected,
            "{written}"
        );
    }
    assert_eq!(spec("  canary: {}\n").plan().unwrap().rollback_window, None);
}

#[test]
fn replica_progress_threshold_is_read_by_its_type() {
    for (written, expected) in [
        ("{type: Pod, value: 3}", ProgressThreshold::Pods(3)),
        ("{type: Percent, value: 70}", ProgressThreshold::Percent(70)),
    ] {
        let plan = spec(&format!(
            "  canary:\n    replicaProgressThreshold: {written}\n"
        ))
        .plan()
        .unwrap();
        assert_eq!(
            canary(&plan).progress_threshold,
            Some(expected),
            "{written}"
        );
    }
    assert_eq!(
        errors(&spec(
            "  canary:\n    replicaProgressThreshold: {type: Pods, value: 3}\n"
        )),
        [
            "spec.strategy.canary.replicaProgressThreshold.type: must be Pod or Percent, got \"Pods\""
        ]
    );
}

#[test]
fn anti_affinity_is_read_as_argo_validates_it() {
    let plan = spec(
        "  canary:
    antiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: {weight: 40}}
",
    )
    .plan()
    .unwrap();
    assert_eq!(
        plan.anti_affinity,
        Some(AntiAffinity::Preferred { weight: 40 })
    );
    let plan = spec(
        "  blueGreen:
    activeService: web-active
    antiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {}}
",
    )
    .plan()
    .unwrap();
    assert_eq!(plan.anti_affinity, Some(AntiAffinity::Required));
    assert_eq!(spec("  canary: {}\n").plan().unwrap().anti_affinity, None);

    let found = errors(&spec(
        "  canary:
    antiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: {weight: 0}}
",
    ));
    assert_eq!(
        found,
        [
            "spec.strategy.canary.antiAffinity.preferredDuringSchedulingIgnoredDuringExecution.weight: \
          must be between 1 and 100, got 0"
        ]
    );
    for both_or_none in [
        "{}",
        "{preferredDuringSchedulingIgnoredDuringExecution: {weight: 1}, \
          requiredDuringSchedulingIgnoredDuringExecution: {}}",
    ] {
        let found = errors(&spec(&format!(
            "  blueGreen:\n    activeService: web-active\n    antiAffinity: {both_or_none}\n"
        )));
        assert_eq!(
            found,
            [
                "spec.strategy.blueGreen.antiAffinity: needs exactly one of \
              preferredDuringSchedulingIgnoredDuringExecution and \
              requiredDuringSchedulingIgnoredDuringExecution"
            ],
            "{both_or_none}"
        );
    }
}

#[test]
fn argument_fields_follow_the_downward_api_or_name_a_path_in_the_rollout() {
    for valid in [
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "metadata.labels['a']",
        "metadata.annotations['b/c']",
        "spec.replicas",
        "spec.template.metadata.labels.version",
        "spec.template.spec.containers[0].image",
    ] {
        assert!(is_argument_field(valid), "{valid}");
    }
    for invalid in [
        "metadata.labels",
        "metadata.labels['']",
        "metadata.generation",
        "spec..replicas",
        "",
    ] {
        assert!(!is_argument_field(invalid), "{invalid}");
    }
}

#[test]
fn routers_and_routing_steps_are_read_with_their_defaults() {
    let plan = spec(
        "  canary:
    canaryService: web-canary
    stableService: web-stable
    dynamicStableScale: true
    trafficRouting:
      managedRoutes: [{name: beta}]
      istio: {virtualService: {name: web.edge}}
      plugins:
        argoproj-labs/gatewayAPI: {httpRoute: web, namespace: edge}
    steps:
    - setCanaryScale: {replicas: 2}
    - {setHeaderRoute: {name: beta, match: [{headerName: x-beta, headerValue: {prefix: 'yes'}}]}, pause: {}}
    - setWeight: 40
",
    )
    .plan()
    .expect("a valid routed canary");
    let canary = canary(&plan);
    let traffic = canary.traffic.as_ref().expect("routers");
    assert_eq!(
        traffic
            .routers
            .iter()
            .map(crate::model::Router::kind)
            .collect::<Vec<_>>(),
        ["Istio", "GatewayAPI"],
        "several routers, driven in turn"
    );
    assert_eq!(traffic.max_weight, 100);
    assert_eq!(traffic.scale_down_delay, std::time::Duration::from_secs(30));
    assert!(traffic.dynamic_stable_scale);
    match &canary.steps[1] {
        crate::model::Step::Combined(parts) => {
            assert!(
                matches!(parts[0], crate::model::Step::Pause(None)),
                "the pause decides"
            );
            assert!(matches!(parts[1], crate::model::Step::SetHeaderRoute(_)));
        }
        other => panic!("a combined step, got {other:?}"),
    }
}

#[test]
fn a_canary_scale_weight_is_read_on_the_max_traffic_weight_scale() {
    let routed = |weight: i32| {
        spec(&format!(
            "  canary:
    canaryService: web-canary
    stableService: web-stable
    trafficRouting:
      maxTrafficWeight: 1000
      nginx: {{stableIngress: web}}
    steps:
    - setCanaryScale: {{weight: {weight}}}
"
        ))
    };
    let plan = routed(1000).plan().expect("the whole scale is valid");
    assert!(matches!(
        canary(&plan).steps[0],
        crate::model::Step::SetCanaryScale(crate::model::CanaryScale::Weight(1000))
    ));
    assert_eq!(
        errors(&routed(1001)),
        [
            "spec.strategy.canary.steps[0].setCanaryScale.weight: must be between 0 and 1000, got 1001"
        ]
    );
}

#[test]
fn routing_problems_are_reported_at_their_paths() {
    let found = errors(&spec(
        "  canary:
    canaryService: web-canary
    stableService: web-stable
    pingPong: {pingService: web-ping, pongService: web-ping}
    trafficRouting:
      maxTrafficWeight: 0
      managedRoutes: [{name: beta}, {name: beta}]
      nginx: {stableIngress: web}
      alb: {ingress: web, servicePort: 80}
      istio: {virtualService: {name: web, rotues: [primary]}}
    steps:
    - setWeight: 20
    - setHeaderRoute: {name: gamma, match: [{headerName: x, headerValue: {regex: '.*'}}]}
    - setMirrorRoute: {name: beta, match: [{method: {exact: GET, prefix: G}}]}
",
    ));
    assert_eq!(
        found,
        [
            "spec.strategy.canary.trafficRouting.istio.virtualService.rotues: unknown field `rotues`, expected one of `name`, `routes`, `tlsRoutes`, `tcpRoutes`",
            "spec.strategy.canary.pingPong.pongService: must differ from pingService: the two Services select different pods",
            "spec.strategy.canary.trafficRouting.alb.rootService: is required with pingPong",
            "spec.strategy.canary.trafficRouting.maxTrafficWeight: must be at least 1, got 0",
            "spec.strategy.canary.trafficRouting.managedRoutes[1].name: \"beta\" is listed twice",
            "spec.strategy.canary.steps[0].setWeight: must be between 0 and 0, got 20",
            "spec.strategy.canary.steps[2].setMirrorRoute.match[0].method: needs exactly one of exact, prefix and regex",
            "spec.strategy.canary.steps[1].setHeaderRoute: is not supported by the Nginx router",
            "spec.strategy.canary.steps[1].setHeaderRoute.match: the ALB router matches header values exactly only",
            "spec.strategy.canary.steps[1].setHeaderRoute.name: \"gamma\" is not listed in spec.strategy.canary.trafficRouting.managedRoutes",
            "spec.strategy.canary.steps[2].setMirrorRoute: is not supported by the Nginx router",
        ]
    );
}
