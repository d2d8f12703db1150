//! Sources: Git repositories tidegate keeps the cluster in sync with.
//!
//! In: a source's configuration and triggers (the polling interval, webhooks, file-system
//! events). Out: the newest commit of its reference and the tree of its directory there.

mod git;
mod schedule;
mod watch;

pub use git::{Credentials, FETCH_DEADLINE, Fetched, GitCache, GitError, GitTree};
pub use schedule::{next_poll, next_retry, random};
pub use watch::{Watch, watch};
