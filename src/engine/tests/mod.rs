//! Engine tests: whole canary and blue-green rollouts against a simulated cluster.

mod bluegreen;
mod canary;
mod safety;
mod sim;
