//! Blocking work (gix, `git`, rendering) on tokio's blocking threads, with a panic turned
//! into an error the caller reports and recovers from, rather than a dead loop task.

/// The blocking work panicked.
#[derive(Debug, thiserror::Error)]
#[error("{what} panicked: {message}")]
pub struct Panicked {
    /// What was being done.
    pub what: &'static str,
    /// The panic's message, when it had one.
    pub message: String,
}

/// Runs `work` on a blocking thread; a panic in it is logged and returned as [`Panicked`].
pub async fn run<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Panicked> {
    tokio::task::spawn_blocking(work).await.map_err(|error| {
        let message = match error.try_into_panic() {
            Ok(panic) => panic
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_owned()),
            Err(error) => error.to_string(),
        };
        tracing::error!(what, %message, "blocking work panicked; carrying on");
        Panicked { what, message }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_an_error_and_the_caller_carries_on() {
        let panicked = run("the fetch", || -> u32 { panic!("gix went wrong") })
            .await
            .unwrap_err();
        assert_eq!(panicked.to_string(), "the fetch panicked: gix went wrong");
        let formatted = run("the render", || -> u32 { panic!("{} bad", 2) }).await;
        assert_eq!(formatted.unwrap_err().message, "2 bad");
        assert_eq!(run("work", || 7).await.unwrap(), 7);
    }
}
