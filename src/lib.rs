//! tidegate: GitOps-native progressive delivery.
//!
//! Git commits flow in through `source`, become validated objects in `manifest`, reach the
//! cluster through `sync`, and `Rollout`s are driven step by step by the pure `engine`. This
//! crate is the library behind the `tidegate` binary; see `docs/` for the architecture.

pub mod analysis;
#[cfg(test)]
mod arbitrary;
pub mod blocking;
pub mod cli;
pub mod config;
pub mod controller;
pub mod daemon;
pub mod engine;
pub mod escape;
pub mod executor;
pub mod experiment;
#[cfg(feature = "failpoints")]
pub mod failpoints;
pub mod forge;
pub mod hint;
pub mod k8s;
pub mod leader;
pub mod manifest;
pub mod metrics;
pub mod model;
#[cfg(test)]
mod recorder;
pub mod render;
pub mod secret;
pub mod server;
pub mod source;
pub mod sync;
pub mod telemetry;
pub mod traffic;
pub mod writeback;
