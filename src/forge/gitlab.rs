//! GitLab's REST API under `/api/v4`: commit statuses, merge requests, notes.

use reqwest::header::HeaderName;
use serde_json::{Value, json};

use super::{Call, CommitStatus, Dialect, NewPull, Pull, PullState, StatusState};
use crate::config::Secret;

/// GitLab, for one project.
pub struct GitLab {
    project: String,
}

impl GitLab {
    /// The project's full path (`group/subgroup/name`).
    pub fn new(repository: &str) -> Self {
        Self {
            project: format!("/projects/{}", super::encode_segment(repository)),
        }
    }
}

impl Dialect for GitLab {
    fn api_base(&self, web_url: &str) -> String {
        format!("{web_url}/api/v4")
    }

    fn headers(&self, token: &Secret) -> Vec<(HeaderName, String)> {
        vec![(
            HeaderName::from_static("private-token"),
            token.expose().to_owned(),
        )]
    }

    fn set_status(&self, sha: &str, status: &CommitStatus) -> Call {
        let state = match status.state {
            StatusState::Pending => "running",
            StatusState::Success => "success",
            StatusState::Failure => "failed",
        };
        Call::post(
            format!("{}/statuses/{sha}", self.project),
            json!({
                "state": state,
                "name": status.context,
                "description": super::short_description(&status.description),
            }),
        )
    }

    fn open_pull(&self, pull: &NewPull) -> Call {
        Call::post(
            format!("{}/merge_requests", self.project),
            json!({
                "title": pull.title,
                "source_branch": pull.head,
                "target_branch": pull.base,
                "description": pull.body,
                "remove_source_branch": true,
            }),
        )
    }

    fn open_pulls_from(&self, head: &str) -> Call {
        Call::get(format!("{}/merge_requests", self.project))
            .with_query("state", "opened")
            .with_query("source_branch", head)
    }

    fn get_pull(&self, number: u64) -> Call {
        Call::get(format!("{}/merge_requests/{number}", self.project))
    }

    fn comment(&self, number: u64, body: &str) -> Call {
        Call::post(
            format!("{}/merge_requests/{number}/notes", self.project),
            json!({ "body": body }),
        )
    }

    fn parse_pull(&self, value: &Value) -> Option<Pull> {
        Some(Pull {
            number: value["iid"].as_u64()?,
            url: value["web_url"].as_str().unwrap_or_default().to_owned(),
            state: match value["state"].as_str()? {
                "opened" | "locked" => PullState::Open,
                "merged" => PullState::Merged,
                _ => PullState::Closed,
            },
            head: value["source_branch"].as_str()?.to_owned(),
            merged_by: value["merged_by"]["username"]
                .as_str()
                .or_else(|| value["merge_user"]["username"].as_str())
                .map(str::to_owned),
        })
    }
}
