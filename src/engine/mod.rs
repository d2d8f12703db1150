//! The rollout engine: pure decisions about Rollouts, without I/O or clocks. Everything it
//! needs arrives as arguments; what it wants done leaves as values for the executor.

pub mod replicas;
