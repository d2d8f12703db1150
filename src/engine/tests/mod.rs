//! Engine tests: whole canary rollouts against a simulated cluster.

mod canary;
mod sim;
