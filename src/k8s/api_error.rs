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
