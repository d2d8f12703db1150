//! Questions every adapter asks of a failed Kubernetes API call.

/// The object to create is already there (an earlier, interrupted reconcile made it).
#[must_use]
pub fn already_exists(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_already_exists())
}

/// Retrying later may succeed: the apiserver was unreachable or overloaded, or an object
/// changed under us (a conflict). Refusals of the request itself (invalid, forbidden, not
/// found) are permanent.
#[must_use]
pub fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => {
            status.is_conflict() || status.code == 429 || status.code >= 500
        }
        _ => true,
    }
}

/// An error and its causes on one line; an API refusal is told by the apiserver's message
/// rather than the whole status object.
#[must_use]
pub fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        if let Some(kube::Error::Api(status)) = cause.downcast_ref::<kube::Error>() {
            parts.push(status.message.clone());
            break;
        }
        parts.push(cause.to_string());
        next = cause.source();
    }
    parts.join(": ")
}

/// The write lost a race with another writer (optimistic concurrency): retry, nothing wrong.
#[must_use]
pub fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_conflict())
}
