//! File-system notification for `file://` sources: a commit (or any change) in the local
//! repository wakes the source without waiting for its polling interval.
//!
//! In: the repository's directory. Out: a debounced wake-up on a [`Notify`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_mini::notify::RecursiveMode;
use notify_debouncer_mini::{Debouncer, new_debouncer};
use tokio::sync::Notify;

/// Events closer together than this wake the source once.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// A running watch; dropping it stops watching.
pub struct Watch {
    _debouncer: Debouncer<notify_debouncer_mini::notify::RecommendedWatcher>,
}

/// Watches `dir` recursively and wakes `wake` after changes settle.
pub fn watch(dir: &Path, wake: Arc<Notify>) -> Result<Watch, notify_debouncer_mini::notify::Error> {
    let mut debouncer = new_debouncer(
        DEBOUNCE,
        move |events: notify_debouncer_mini::DebounceEventResult| match events {
            Ok(events) if !events.is_empty() => wake.notify_one(),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "file watch error"),
        },
    )?;
    debouncer.watcher().watch(dir, RecursiveMode::Recursive)?;
    Ok(Watch {
        _debouncer: debouncer,
    })
}
