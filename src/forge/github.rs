//! GitHub's REST API (github.com and Enterprise Server): statuses, pulls, issue comments.

use reqwest::header::{AUTHORIZATION, HeaderName};
use serde_json::{Value, json};

use super::{Call, CommitStatus, Dialect, NewPull, Pull, PullState, StatusState};
use crate::config::Secret;

/// GitHub, for one repository.
pub struct GitHub {
    repo: String,
    owner: String,
}

impl GitHub {
    /// `owner/name`.
    pub fn new(repository: &str) -> Self {
        Self {
            repo: format!("/repos/{repository}"),
            owner: repository.split('/').next().unwrap_or_default().to_owned(),
        }
    }
}

impl Dialect for GitHub {
    fn api_base(&self, web_url: &str) -> String {
        if web_url == "https://github.com" || web_url == "https://api.github.com" {
            "https://api.github.com".to_owned()
        } else {
            format!("{web_url}/api/v3")
        }
    }

    fn headers(&self, token: &Secret) -> Vec<(HeaderName, String)> {
        vec![
            (AUTHORIZATION, format!("Bearer {}", token.expose())),
            (
                HeaderName::from_static("accept"),
                "application/vnd.github+json".to_owned(),
            ),
            (
                HeaderName::from_static("x-github-api-version"),
                "2022-11-28".to_owned(),
            ),
        ]
    }

    fn set_status(&self, sha: &str, status: &CommitStatus) -> Call {
        set_status(&self.repo, sha, status)
    }

    fn open_pull(&self, pull: &NewPull) -> Call {
        open_pull(&self.repo, pull)
    }

    fn open_pulls_from(&self, head: &str) -> Call {
        Call::get(format!("{}/pulls", self.repo))
            .with_query("state", "open")
            .with_query("head", format!("{}:{head}", self.owner))
    }

    fn get_pull(&self, number: u64) -> Call {
        get_pull(&self.repo, number)
    }

    fn comment(&self, number: u64, body: &str) -> Call {
        comment(&self.repo, number, body)
    }

    fn parse_pull(&self, value: &Value) -> Option<Pull> {
        parse_pull(value)
    }
}

// Gitea's API copies GitHub's for these calls: both dialects use the functions below.

/// `POST {repo}/statuses/{sha}`.
pub(super) fn set_status(repo: &str, sha: &str, status: &CommitStatus) -> Call {
    let state = match status.state {
        StatusState::Pending => "pending",
        StatusState::Success => "success",
        StatusState::Failure => "failure",
    };
    Call::post(
        format!("{repo}/statuses/{sha}"),
        json!({
            "state": state,
            "context": status.context,
            "description": super::short_description(&status.description),
        }),
    )
}

/// `POST {repo}/pulls`.
pub(super) fn open_pull(repo: &str, pull: &NewPull) -> Call {
    Call::post(
        format!("{repo}/pulls"),
        json!({"title": pull.title, "head": pull.head, "base": pull.base, "body": pull.body}),
    )
}

/// `GET {repo}/pulls/{number}`.
pub(super) fn get_pull(repo: &str, number: u64) -> Call {
    Call::get(format!("{repo}/pulls/{number}"))
}

/// `POST {repo}/issues/{number}/comments`: pull requests are issues for comments.
pub(super) fn comment(repo: &str, number: u64, body: &str) -> Call {
    Call::post(
        format!("{repo}/issues/{number}/comments"),
        json!({ "body": body }),
    )
}

/// A pull request as both APIs describe it (`merged`, or GitHub's `merged_at` in lists).
pub(super) fn parse_pull(value: &Value) -> Option<Pull> {
    let merged = value["merged"].as_bool().unwrap_or(false) || !value["merged_at"].is_null();
    Some(Pull {
        number: value["number"].as_u64()?,
        url: value["html_url"].as_str().unwrap_or_default().to_owned(),
        state: match (value["state"].as_str()?, merged) {
            (_, true) => PullState::Merged,
            ("open", false) => PullState::Open,
            _ => PullState::Closed,
        },
        head: value["head"]["ref"].as_str()?.to_owned(),
        merged_by: value["merged_by"]["login"].as_str().map(str::to_owned),
    })
}
