//! Analysis: AnalysisRuns measured with Argo Rollouts' providers (Prometheus, web endpoints,
//! Kubernetes Jobs, hosted metrics APIs) and judged with Argo Rollouts' semantics.
//!
//! In: AnalysisRun specs. Out: measurements, metric and run phases in the run's status, which
//! the rollout engine reads.

pub mod args;
pub mod assess;
pub mod condition;
pub mod controller;
pub mod guard;
pub mod provider;
pub mod round;
pub mod summary;
pub mod templates;
pub mod trial;
pub mod ttl;

pub use condition::{Condition, MetricValue, evaluate};
