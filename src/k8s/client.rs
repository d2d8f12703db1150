//! Builds a [`kube::Client`] from an explicit kubeconfig file or the ambient configuration
//! (`$KUBECONFIG`, `~/.kube/config`, in-cluster service account).

use std::path::{Path, PathBuf};

use kube::config::{InferConfigError, KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};

/// Connecting to a cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The kubeconfig file could not be read or did not describe a usable context.
    #[error("cannot use kubeconfig {}", path.display())]
    LoadKubeconfig {
        /// The file that was read.
        path: PathBuf,
        /// Why it was refused.
        #[source]
        source: KubeconfigError,
    },
    /// Neither `$KUBECONFIG`, `~/.kube/config` nor an in-cluster service account was usable.
    #[error("no kubeconfig given and none could be inferred")]
    InferConfig(#[source] InferConfigError),
    /// The configuration was read but no client could be built from it (TLS material, proxy).
    #[error("cannot build a Kubernetes client")]
    BuildClient(#[source] kube::Error),
}

impl ConnectError {
    /// Configuration errors do not heal by retrying; all of these are permanent.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        false
    }
}

/// Connects with the kubeconfig at `kubeconfig`, or infers the configuration when `None`.
pub async fn connect(kubeconfig: Option<&Path>) -> Result<Client, ConnectError> {
    let config = match kubeconfig {
        Some(path) => {
            let load_error = |source| ConnectError::LoadKubeconfig {
                path: path.to_owned(),
                source,
            };
            let file = Kubeconfig::read_from(path).map_err(load_error)?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(load_error)?
        }
        None => Config::infer().await.map_err(ConnectError::InferConfig)?,
    };
    Client::try_from(config).map_err(ConnectError::BuildClient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_kubeconfig_names_the_file() {
        let Err(error) = connect(Some(Path::new("/nonexistent/kubeconfig"))).await else {
            panic!("a missing kubeconfig must not connect");
        };
        assert!(
            error.to_string().contains("/nonexistent/kubeconfig"),
            "{error}"
        );
        assert!(matches!(error, ConnectError::LoadKubeconfig { .. }));
    }
}
