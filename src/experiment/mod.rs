//! Experiments: pod templates run side by side as ReplicaSets for a while, with analyses over
//! them, with Argo Rollouts' semantics.
//!
//! In: Experiments (applied from Git or made by hand). Out: their ReplicaSets, Services and
//! AnalysisRuns, and their status. [`decide`] is the pure reconcile, [`objects`] the objects
//! it creates; [`controller`] observes and acts.

pub mod controller;
#[cfg(test)]
mod coverage;
pub mod decide;
pub mod objects;
