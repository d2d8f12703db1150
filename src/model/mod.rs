//! Pure domain types of progressive delivery, free of Kubernetes and Git types: what the
//! engine reasons about once a Rollout's spec has been read and checked.

mod amount;

pub use amount::{Amount, AmountError};
