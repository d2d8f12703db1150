//! Gitea's (and Forgejo's) REST API under `/api/v1`: statuses, pulls, issue comments.

use reqwest::header::{AUTHORIZATION, HeaderName};
use serde_json::Value;

use super::{Call, CommitStatus, Dialect, NewPull, Pull, github};
use crate::config::Secret;

/// Gitea, for one repository.
pub struct Gitea {
    repo: String,
}

impl Gitea {
    /// `owner/name`.
    pub fn new(repository: &str) -> Self {
        Self {
            repo: format!("/repos/{repository}"),
        }
    }
}

impl Dialect for Gitea {
    fn api_base(&self, web_url: &str) -> String {
        format!("{web_url}/api/v1")
    }

    fn headers(&self, token: &Secret) -> Vec<(HeaderName, String)> {
        vec![(AUTHORIZATION, format!("token {}", token.expose()))]
    }

    fn set_status(&self, sha: &str, status: &CommitStatus) -> Call {
        github::set_status(&self.repo, sha, status)
    }

    fn open_pull(&self, pull: &NewPull) -> Call {
        github::open_pull(&self.repo, pull)
    }

    /// Gitea cannot filter by head branch: list open ones (newest first) and let the caller
    /// pick.
    fn open_pulls_from(&self, _head: &str) -> Call {
        Call::get(format!("{}/pulls", self.repo))
            .with_query("state", "open")
            .with_query("sort", "recentupdate")
            .with_query("limit", "50")
    }

    fn get_pull(&self, number: u64) -> Call {
        github::get_pull(&self.repo, number)
    }

    fn comment(&self, number: u64, body: &str) -> Call {
        github::comment(&self.repo, number, body)
    }

    fn parse_pull(&self, value: &Value) -> Option<Pull> {
        github::parse_pull(value)
    }
}
