//! Engine tests: whole canary and blue-green rollouts against a simulated cluster.

mod bluegreen;
mod canary;
mod routing;
mod safety;
mod sim;
