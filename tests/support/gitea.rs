//! The testenv's Gitea (`scripts/testenv up` starts it): repositories, statuses, pull
//! requests and webhooks through its REST API, as the tests' own client.

use serde_json::{Value, json};

/// The Gitea of the testenv.
pub struct Gitea {
    /// Its web address.
    pub url: String,
    /// The admin user.
    pub user: String,
    /// The file holding the admin token.
    pub token_file: std::path::PathBuf,
    token: String,
    http: reqwest::Client,
}

impl Gitea {
    /// From `TIDEGATE_TEST_GITEA_*` (set by `scripts/testenv env`).
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: run the tests through scripts/test (or eval \"$(scripts/testenv env)\")")
            })
        };
        let token_file = std::path::PathBuf::from(var("TIDEGATE_TEST_GITEA_TOKEN_FILE"));
        let token = std::fs::read_to_string(&token_file)
            .expect("read the Gitea token")
            .trim()
            .to_owned();
        Self {
            url: var("TIDEGATE_TEST_GITEA_URL"),
            user: var("TIDEGATE_TEST_GITEA_USER"),
            token_file,
            token,
            http: reqwest::Client::new(),
        }
    }

    /// Calls the API; panics unless it answers 2xx.
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_api(method.clone(), path, body)
            .await
            .unwrap_or_else(|failure| panic!("{method} {path}: {failure}"))
    }

    /// Calls the API; the answer, or what went wrong.
    pub async fn try_api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}/api/v1{path}", self.url))
            .header("authorization", format!("token {}", self.token));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|error| error.to_string())?;
        let status = response.status();
        let text = response.text().await.map_err(|error| error.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A new empty repository `name` of the admin user.
    pub async fn create_repo(&self, name: &str) {
        self.api(
            reqwest::Method::POST,
            "/user/repos",
            Some(json!({"name": name, "default_branch": "main", "private": true})),
        )
        .await;
    }

    /// The clone URL of `name` (no credentials).
    pub fn clone_url(&self, name: &str) -> String {
        format!("{}/{}/{name}.git", self.url, self.user)
    }

    /// The clone URL of `name` with the admin token in it (for the test's own git only).
    pub fn push_url(&self, name: &str) -> String {
        self.clone_url(name)
            .replacen("://", &format!("://{}:{}@", self.user, self.token), 1)
    }

    /// `owner/name`.
    pub fn full_name(&self, name: &str) -> String {
        format!("{}/{name}", self.user)
    }

    /// The latest status of each context on commit `sha`: (context, state, description).
    pub async fn statuses(&self, repo: &str, sha: &str) -> Vec<(String, String, String)> {
        let combined = self
            .api(
                reqwest::Method::GET,
                &format!("/repos/{}/{repo}/commits/{sha}/status", self.user),
                None,
            )
            .await;
        combined["statuses"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|status| {
                let text = |key: &str| status[key].as_str().unwrap_or_default().to_owned();
                (text("context"), text("status"), text("description"))
            })
            .collect()
    }

    /// Pull requests of `repo` in `state` (`open`, `closed`, `all`); none while Gitea still
    /// processes the repository's first push (it answers 404 until then).
    pub async fn pulls(&self, repo: &str, state: &str) -> Vec<Value> {
        self.try_api(
            reqwest::Method::GET,
            &format!("/repos/{}/{repo}/pulls?state={state}", self.user),
            None,
        )
        .await
        .ok()
        .and_then(|list| list.as_array().cloned())
        .unwrap_or_default()
    }

    /// Merges pull request `number`.
    pub async fn merge(&self, repo: &str, number: u64) {
        self.api(
            reqwest::Method::POST,
            &format!("/repos/{}/{repo}/pulls/{number}/merge", self.user),
            Some(json!({"Do": "merge"})),
        )
        .await;
    }

    /// Closes pull request `number` without merging.
    pub async fn close(&self, repo: &str, number: u64) {
        self.api(
            reqwest::Method::PATCH,
            &format!("/repos/{}/{repo}/pulls/{number}", self.user),
            Some(json!({"state": "closed"})),
        )
        .await;
    }

    /// A push webhook to `url` signed with `secret`.
    pub async fn add_push_hook(&self, repo: &str, url: &str, secret: &str) {
        self.api(
            reqwest::Method::POST,
            &format!("/repos/{}/{repo}/hooks", self.user),
            Some(json!({"type": "gitea", "active": true, "events": ["push"],
                "config": {"url": url, "content_type": "json", "secret": secret}})),
        )
        .await;
    }

    /// The content of `path` on `branch`, if it exists.
    pub async fn raw(&self, repo: &str, branch: &str, path: &str) -> Option<String> {
        let response = self
            .http
            .get(format!(
                "{}/api/v1/repos/{}/{repo}/raw/{path}?ref={}",
                self.url,
                self.user,
                branch.replace('/', "%2F")
            ))
            .header("authorization", format!("token {}", self.token))
            .send()
            .await
            .expect("Gitea answers");
        if !response.status().is_success() {
            return None;
        }
        response.text().await.ok()
    }

    /// The changes of a pull request as `git diff` text, once Gitea has computed them.
    pub async fn diff(&self, repo: &str, number: u64) -> String {
        let url = format!(
            "{}/api/v1/repos/{}/{repo}/pulls/{number}.diff",
            self.url, self.user
        );
        super::wait_for(
            &format!("the diff of pull request {number}"),
            super::TIMEOUT,
            || async {
                let response = self
                    .http
                    .get(&url)
                    .header("authorization", format!("token {}", self.token))
                    .send()
                    .await
                    .ok()?;
                if !response.status().is_success() {
                    return None;
                }
                response.text().await.ok()
            },
        )
        .await
    }
}
