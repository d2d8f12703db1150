//! Writing outcomes back to Git: outcome records on the status branch, reverts of failed
//! changes on the tracked branch, approval records — through a durable queue, committed with
//! gix and pushed with `git`, never forced.
//!
//! In: Rollout snapshots from the reporter. Out: commits. The pure parts ([`record`],
//! [`progress`], [`approval`], [`messages`]) decide what to write; [`git`] and [`queue`] do the I/O.

pub mod approval;
pub mod git;
pub mod manifest_edit;
pub mod messages;
pub mod progress;
pub mod queue;
pub mod record;
pub mod revert;

pub use git::{Author, Change, Edit, GitWriter, Tip, WriteError, Written};
pub use queue::{FileWrite, Job, PromotionJob, Queue};
pub use record::{Outcome, OutcomeRecord};
