//! End-to-end tests against the real control plane (`scripts/testenv up`): etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler and kwok-managed nodes.

#[path = "../support/mod.rs"]
mod support;

mod analysis;
mod charts;
mod cluster;
mod crds;
mod dashboard;
mod deploy;
mod experiment_traffic;
mod experiments;
mod gitops;
mod ha;
mod render;
mod requests;
mod rollouts;
mod safety;
mod traffic;
mod workload;
mod writeback;
