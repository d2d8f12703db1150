//! Secrets: where one is read from (a file or an environment variable, never the
//! configuration file itself), read at each use so rotation needs no restart, and a value
//! type whose `Debug` never shows it.

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a secret is read from: exactly one of a file or an environment variable.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// A file holding the secret (trailing newlines are dropped).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// An environment variable holding the secret.
    #[serde(default)]
    pub env: Option<String>,
}

/// A secret value: its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that sends it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file could not be read.
    #[error("read secret file {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The secret is empty (an empty key or password would let anyone in).
    #[error("the secret in {0} is empty")]
    Empty(String),
    /// The variable is unset or not Unicode.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// Neither or both places were given (prevented by validation).
    #[error("a secret needs exactly one of file or env")]
    Unspecified,
}

impl SecretRef {
    /// Reads the secret now (files may be rotated: read on every use).
    pub fn read(&self) -> Result<Secret, SecretError> {
        let (secret, place) = match (&self.file, &self.env) {
            (Some(path), None) => (
                std::fs::read_to_string(path)
                    .map(|text| Secret(text.trim_end_matches(['\n', '\r']).to_owned()))
                    .map_err(|source| SecretError::ReadFile {
                        path: path.clone(),
                        source,
                    })?,
                path.display().to_string(),
            ),
            (None, Some(name)) => (
                std::env::var(name)
                    .map(Secret)
                    .map_err(|_| SecretError::MissingEnv(name.clone()))?,
                format!("${name}"),
            ),
            _ => return Err(SecretError::Unspecified),
        };
        if secret.0.is_empty() {
            return Err(SecretError::Empty(place));
        }
        Ok(secret)
    }
}
