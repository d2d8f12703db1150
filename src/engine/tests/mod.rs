//! Engine tests: whole canary and blue-green rollouts against a simulated cluster.

mod anti_affinity;
mod bluegreen;
mod canary;
mod experiment;
mod pod_metadata;
mod rollback_window;
mod routing;
mod safety;
mod sim;
mod workload;
