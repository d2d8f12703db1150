//! Commit statuses, pull requests and comments on GitHub, Gitea and GitLab, over plain HTTP.
//!
//! In: a forge's kind, web address, repository and token. Out: statuses on commits, pull
//! requests opened (at most one per head branch), their state, comments. Each forge is a
//! [`Dialect`] that only shapes requests and reads answers (pure, unit-tested); [`Forge`] sends
//! them, retrying rate limits, 5xx and network errors with backoff. Callers treat every error
//! as "try again later": a forge outage never blocks a rollout.

mod gitea;
mod github;
mod gitlab;

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{Secret, SecretError, SecretRef};

/// Which forge a repository lives on (a setting of the configuration).
pub use crate::config::ForgeKind as Kind;

/// The state of a commit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    /// Still running.
    Pending,
    /// Promoted.
    Success,
    /// Aborted.
    Failure,
}

/// A status to put on a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitStatus {
    /// Its state.
    pub state: StatusState,
    /// Groups statuses: `tidegate/<namespace>/<rollout>`.
    pub context: String,
    /// One line shown next to the commit (forges cut it at 140 characters).
    pub description: String,
}

/// A pull request to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPull {
    /// Title.
    pub title: String,
    /// The branch with the change.
    pub head: String,
    /// The branch it goes into.
    pub base: String,
    /// Description (markdown).
    pub body: String,
}

/// Where a pull request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullState {
    /// Open.
    Open,
    /// Merged.
    Merged,
    /// Closed without merging.
    Closed,
}

/// A pull request (a merge request on GitLab).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pull {
    /// Its number (`iid` on GitLab).
    pub number: u64,
    /// Its web page.
    pub url: String,
    /// Open, merged or closed.
    pub state: PullState,
    /// The branch with the change.
    pub head: String,
    /// Who merged it.
    pub merged_by: Option<String>,
}

/// One HTTP request a dialect asks for, relative to the API base.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// Method.
    pub method: Method,
    /// Path below the API base, already percent-encoded.
    pub path: String,
    /// Query parameters.
    pub query: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: Option<Value>,
}

impl Call {
    fn get(path: String) -> Self {
        Self {
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    fn post(path: String, body: Value) -> Self {
        Self {
            method: Method::POST,
            path,
            query: Vec::new(),
            body: Some(body),
        }
    }

    fn with_query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }
}

/// How one forge's API spells things.
pub trait Dialect: Send + Sync {
    /// The API base for the forge at `web_url` (`https://github.com` → `https://api.github.com`).
    fn api_base(&self, web_url: &str) -> String;
    /// Headers carrying the token, and any the forge requires.
    fn headers(&self, token: &Secret) -> Vec<(HeaderName, String)>;
    /// Puts `status` on commit `sha`.
    fn set_status(&self, sha: &str, status: &CommitStatus) -> Call;
    /// Opens a pull request.
    fn open_pull(&self, pull: &NewPull) -> Call;
    /// Lists the open pull requests from branch `head`.
    fn open_pulls_from(&self, head: &str) -> Call;
    /// Reads pull request `number`.
    fn get_pull(&self, number: u64) -> Call;
    /// Comments on pull request `number`.
    fn comment(&self, number: u64, body: &str) -> Call;
    /// Reads a pull request from an answer.
    fn parse_pull(&self, value: &Value) -> Option<Pull>;
}

/// A forge call failed.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// The token could not be read.
    #[error("read the forge token")]
    Token(#[source] SecretError),
    /// The request could not be sent or its answer read.
    #[error("{operation}: {url}")]
    Send {
        /// What was being done.
        operation: &'static str,
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The forge answered with an error status.
    #[error("{operation}: the forge answered {status}: {message}")]
    Status {
        /// What was being done.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of the answer.
        message: String,
    },
    /// This replica does not lead: it writes nothing to the forge.
    #[error("{operation}: not the leader")]
    NotLeader {
        /// What was being done.
        operation: &'static str,
    },
    /// The answer was not what the API documents.
    #[error("{operation}: unexpected answer: {message}")]
    Decode {
        /// What was being done.
        operation: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl ForgeError {
    /// Whether trying again later may succeed (network errors, rate limits, 5xx).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            // Network errors pass; the leader does the work and this replica may lead again.
            Self::Send { .. } | Self::NotLeader { .. } => true,
            Self::Status { status, .. } => retryable(*status),
            Self::Token(_) | Self::Decode { .. } => false,
        }
    }
}

fn retryable(status: u16) -> bool {
    status == 429 || status >= 500
}

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The first wait; each next one doubles.
    pub first_wait: Duration,
    /// No single wait (including a forge's `Retry-After`) is longer.
    pub max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// How often a write waiting to retry looks at the write fence.
const FENCE_POLL: Duration = Duration::from_millis(100);

/// A repository on a forge.
pub struct Forge {
    dialect: Box<dyn Dialect>,
    api_base: String,
    token: SecretRef,
    http: reqwest::Client,
    retry: Retry,
    may_write: crate::leader::WriteGuard,
}

impl std::fmt::Debug for Forge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forge")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl Forge {
    /// The repository `repository` (`owner/name`, or a GitLab group path) on the forge of
    /// `kind` at `web_url`, authenticated with the token read from `token` on every call.
    #[must_use]
    pub fn new(kind: Kind, web_url: &str, repository: &str, token: SecretRef) -> Self {
        let dialect: Box<dyn Dialect> = match kind {
            Kind::GitHub => Box::new(github::GitHub::new(repository)),
            Kind::Gitea => Box::new(gitea::Gitea::new(repository)),
            Kind::GitLab => Box::new(gitlab::GitLab::new(repository)),
        };
        let api_base = dialect.api_base(web_url.trim_end_matches('/'));
        let http = reqwest::Client::builder()
            .user_agent(concat!("tidegate/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client with these settings always builds");
        Self {
            dialect,
            api_base,
            token,
            http,
            retry: Retry::default(),
            may_write: Arc::new(|| true),
        }
    }

    /// The client for the forge `config` describes.
    #[must_use]
    pub fn for_config(config: &crate::config::ForgeConfig) -> Self {
        Self::new(
            config.kind,
            &config.url,
            &config.repository,
            config.token.clone(),
        )
    }

    /// The same forge, writing (statuses, pull requests, comments) only while `may_write`
    /// says so: a replica that lost its leadership stops at once.
    #[must_use]
    pub fn with_guard(mut self, may_write: crate::leader::WriteGuard) -> Self {
        self.may_write = may_write;
        self
    }

    /// The same forge with another retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Puts `status` on commit `sha` (the forge keeps the latest per context).
    pub async fn set_status(&self, sha: &str, status: &CommitStatus) -> Result<(), ForgeError> {
        self.send("set commit status", self.dialect.set_status(sha, status))
            .await
            .map(drop)
    }

    /// The open pull request from `pull.head`, or a new one: never two for one branch.
    pub async fn open_pull(&self, pull: &NewPull) -> Result<Pull, ForgeError> {
        if let Some(open) = self.open_pull_from(&pull.head).await? {
            return Ok(open);
        }
        match self
            .send("open pull request", self.dialect.open_pull(pull))
            .await
        {
            Ok(answer) => self.pull_from("open pull request", &answer),
            // A lost answer may hide a created pull request: look before failing (and
            // before the job is retried, which would open a second one).
            Err(error) => match self.open_pull_from(&pull.head).await {
                Ok(Some(open)) => Ok(open),
                _ => Err(error),
            },
        }
    }

    /// The open pull request from branch `head`, if any.
    pub async fn open_pull_from(&self, head: &str) -> Result<Option<Pull>, ForgeError> {
        let answer = self
            .send("list pull requests", self.dialect.open_pulls_from(head))
            .await?;
        let Value::Array(items) = answer else {
            return Err(ForgeError::Decode {
                operation: "list pull requests",
                message: "not a list".into(),
            });
        };
        Ok(items
            .iter()
            .filter_map(|item| self.dialect.parse_pull(item))
            .find(|pull| pull.head == head && pull.state == PullState::Open))
    }

    /// Pull request `number` as it stands now.
    pub async fn pull(&self, number: u64) -> Result<Pull, ForgeError> {
        let answer = self
            .send("read pull request", self.dialect.get_pull(number))
            .await?;
        self.pull_from("read pull request", &answer)
    }

    /// Comments on pull request `number`.
    pub async fn comment(&self, number: u64, body: &str) -> Result<(), ForgeError> {
        self.send("comment", self.dialect.comment(number, body))
            .await
            .map(drop)
    }

    fn pull_from(&self, operation: &'static str, answer: &Value) -> Result<Pull, ForgeError> {
        self.dialect
            .parse_pull(answer)
            .ok_or_else(|| ForgeError::Decode {
                operation,
                message: "no pull request in the answer".into(),
            })
    }

    /// Sends `call`, retrying what may succeed later; returns the JSON answer (`null` if empty).
    async fn send(&self, operation: &'static str, call: Call) -> Result<Value, ForgeError> {
        let writes = call.method != Method::GET;
        let leading = || !writes || (self.may_write)();
        let token = self.token.read().map_err(ForgeError::Token)?;
        let url = format!("{}{}", self.api_base, call.path);
        let mut target = reqwest::Url::parse(&url).map_err(|error| ForgeError::Decode {
            operation,
            message: format!("bad URL {url}: {error}"),
        })?;
        if !call.query.is_empty() {
            target
                .query_pairs_mut()
                .extend_pairs(call.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let unsent = |source| {
            (
                ForgeError::Send {
                    operation,
                    url: url.clone(),
                    source,
                },
                None,
            )
        };
        let mut attempt = 1;
        loop {
            // Before every attempt: a write never leaves a replica whose term ended.
            if !leading() {
                return Err(ForgeError::NotLeader { operation });
            }
            let mut request = self.http.request(call.method.clone(), target.clone());
            for (name, value) in self.dialect.headers(&token) {
                request = request.header(name, value);
            }
            if let Some(body) = &call.body {
                request = request
                    .header("content-type", "application/json")
                    .body(body.to_string());
            }
            let (error, asked) = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let wait = wait_asked(response.headers(), status);
                    match response.bytes().await {
                        Ok(body) if (200..300).contains(&status) => {
                            return decode(operation, &body);
                        }
                        Ok(body) => (
                            ForgeError::Status {
                                operation,
                                status,
                                message: excerpt(&body),
                            },
                            wait,
                        ),
                        Err(source) => unsent(source),
                    }
                }
                Err(source) => unsent(source),
            };
            let rate_limited = asked.is_some();
            if attempt >= self.retry.attempts || !(error.is_transient() || rate_limited) {
                return Err(error);
            }
            let wait = asked
                .unwrap_or_else(|| {
                    self.retry
                        .first_wait
                        .saturating_mul(1 << (attempt - 1).min(16))
                })
                .min(self.retry.max_wait);
            tracing::debug!(operation, attempt, ?wait, %error, "forge call failed; retrying");
            // The wait ends early when the term does: no retry after it.
            let until = tokio::time::Instant::now() + wait;
            while tokio::time::Instant::now() < until {
                if !leading() {
                    return Err(ForgeError::NotLeader { operation });
                }
                tokio::time::sleep_until(until.min(tokio::time::Instant::now() + FENCE_POLL)).await;
            }
            attempt += 1;
        }
    }
}

/// The wait a forge asks for: `Retry-After`, or GitHub's exhausted rate limit (403/429 with
/// `x-ratelimit-remaining: 0`, retried at `x-ratelimit-reset`).
fn wait_asked(headers: &HeaderMap, status: u16) -> Option<Duration> {
    if status != 429 && status != 403 && status < 500 {
        return None;
    }
    let number = |value: Option<&HeaderValue>| {
        value
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.trim().parse::<u64>().ok())
    };
    if let Some(seconds) = number(headers.get(RETRY_AFTER)) {
        return Some(Duration::from_secs(seconds));
    }
    if number(headers.get("x-ratelimit-remaining")) == Some(0) {
        let reset = number(headers.get("x-ratelimit-reset"))?;
        let now = jiff::Timestamp::now().as_second().max(0).cast_unsigned();
        return Some(Duration::from_secs(reset.saturating_sub(now).max(1)));
    }
    None
}

fn decode(operation: &'static str, body: &[u8]) -> Result<Value, ForgeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|error| ForgeError::Decode {
        operation,
        message: error.to_string(),
    })
}

/// The start of an error answer.
fn excerpt(body: &[u8]) -> String {
    cut(String::from_utf8_lossy(body).trim(), 300)
}

/// A description cut to what forges keep (GitHub refuses more than 140 characters).
#[must_use]
pub fn short_description(text: &str) -> String {
    cut(text, 140)
}

/// `text` in at most `limit` characters, an ellipsis marking a cut.
fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit - 1) {
        Some((end, _)) if text.chars().count() > limit => format!("{}…", &text[..end]),
        _ => text.to_owned(),
    }
}

/// `owner/name` as one percent-encoded path segment (GitLab project ids).
fn encode_segment(text: &str) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("a valid URL");
    url.path_segments_mut()
        .expect("http URLs have paths")
        .push(text);
    url.path()[1..].to_owned()
}

#[cfg(test)]
mod tests;
