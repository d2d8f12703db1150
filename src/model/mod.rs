//! Pure domain types of progressive delivery, free of Kubernetes and Git types: what the
//! engine reasons about once a Rollout's spec has been read and checked.

mod amount;
mod duration;
mod hash;
mod plan;
mod status;
mod traffic;

pub use amount::{Amount, AmountError};
pub use duration::{DurationError, parse_go_duration, parse_pause_seconds};
pub use hash::{pod_template_hash, steps_hash};
pub use plan::{
    AnalysisArg, AnalysisPlan, AntiAffinity, ArgValue, AvoidRevision, BackgroundAnalysis,
    BlueGreenPlan, CanaryPlan, ExperimentPlan, PodMetadata, ProgressThreshold, RoleMetadata,
    RolloutPlan, ScaleDown, SpecError, SpecErrors, Step, Strategy, TemplateRef, TemplateWeight,
    WorkloadPlan,
};
pub use status::{
    AnalysisPhase, AnalysisRunState, Condition, ConditionKind, ConditionStatus, ExperimentState,
    ExperimentTemplateState, PauseCondition, PauseReason, Phase, PodCounts, PodView,
    ReplicaSetView, RolloutState, TrafficStatus, until,
};
pub use traffic::{
    AdditionalDestination, Alb, Ambassador, Apisix, AppMesh, CanaryScale, GatewayApi, GatewayRoute,
    HeaderMatch, HeaderRoute, Istio, IstioDestinationRule, IstioTlsRoute, IstioVirtualService,
    MirrorMatch, MirrorRoute, Nginx, PingPong, PingPongSide, RouteKind, Router, RouterReading,
    RouterState, Smi, StringMatch, Traefik, TrafficIntent, TrafficPlan,
};
