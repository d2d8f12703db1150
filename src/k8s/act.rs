//! A person's action on a Rollout (promote, abort, retry) recorded in its status: read,
//! change, write with the resourceVersion read, and again when someone else wrote first.

use kube::api::PostParams;
use kube::{Api, Client};

use super::crd::Rollout;
use crate::model::RolloutState;

/// Attempts before giving up on a Rollout that keeps changing under us.
const ATTEMPTS: usize = 10;

/// Recording an action failed.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// Reading the Rollout failed (or it does not exist).
    #[error("get Rollout {namespace}/{name}")]
    Get {
        /// Namespace.
        namespace: String,
        /// Rollout.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The action does not apply to the Rollout as it is.
    #[error("Rollout {namespace}/{name}: {reason}")]
    Refused {
        /// Namespace.
        namespace: String,
        /// Rollout.
        name: String,
        /// Why not.
        reason: String,
    },
    /// Writing the status failed.
    #[error("write status of Rollout {namespace}/{name}")]
    Write {
        /// Namespace.
        namespace: String,
        /// Rollout.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// Applies `change` to the state of Rollout `namespace/name` and records the result; returns
/// the recorded state. `change` may refuse with a reason.
pub async fn act(
    client: &Client,
    namespace: &str,
    name: &str,
    change: impl Fn(&Rollout, &RolloutState) -> Result<RolloutState, String>,
) -> Result<RolloutState, ActError> {
    let api = Api::<Rollout>::namespaced(client.clone(), namespace);
    let located = |source| ActError::Get {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        source,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut rollout = api.get(name).await.map_err(located)?;
        let status = rollout.status.clone().unwrap_or_default();
        let next = change(&rollout, &status.to_state()).map_err(|reason| ActError::Refused {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            reason,
        })?;
        rollout.status = Some(status.with_state(&next, &status.selector));
        match api
            .replace_status(name, &PostParams::default(), &rollout)
            .await
        {
            Ok(_) => return Ok(next),
            Err(kube::Error::Api(status)) if status.is_conflict() && attempt < ATTEMPTS => {}
            Err(source) => {
                return Err(ActError::Write {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    source,
                });
            }
        }
    }
}
