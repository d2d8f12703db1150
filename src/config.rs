//! The daemon's configuration file (`tidegate.yaml`): the Git sources to sync, where state and
//! caches live, the HTTP server and webhook secret, and render limits.
//!
//! In: YAML text. Out: a [`Config`] whose every value has been checked, or every problem with
//! the line and field it is about. Secrets are never in the file: only where to read them
//! (a file or an environment variable), read when used and redacted from `Debug`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::{FieldPath, Limits, Problem, Problems, line_of};
use crate::model::parse_go_duration;
use crate::render::{HelmOptions, KustomizeOptions, Renderers};
pub use crate::secret::{Secret, SecretError, SecretRef};

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The Git sources to sync, each independently.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Where tidegate keeps its state.
    #[serde(default)]
    pub state: StateConfig,
    /// The HTTP server (metrics, health, webhooks).
    #[serde(default)]
    pub server: ServerConfig,
    /// Push webhooks from GitHub, Gitea and GitLab.
    #[serde(default)]
    pub webhook: WebhookConfig,
    /// Bounds on what one render of a source may read.
    #[serde(default)]
    pub limits: Limits,
    /// The `helm` and `kustomize` programs that render Helm and Kustomize sources.
    #[serde(default)]
    pub renderers: Renderers,
    /// Analysis settings.
    #[serde(default)]
    pub analysis: AnalysisConfig,
    /// Leader election between replicas.
    #[serde(default)]
    pub leader_election: LeaderElectionConfig,
    /// Logs.
    #[serde(default)]
    pub logging: LoggingConfig,
}

/// Logs on stderr.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoggingConfig {
    /// `text` for people, `json` (one object per line) for log pipelines.
    #[serde(default)]
    pub format: LogFormat,
    /// A level (`info`) or a filter (`info,tidegate::sync=debug`); `RUST_LOG` overrides it.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: default_log_level(),
        }
    }
}

fn default_log_level() -> String {
    "info".to_owned()
}

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Leader election: one replica writes to the cluster, Git and the forge; the others fetch
/// and serve reads, and take over when the leader's lease runs out.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaderElectionConfig {
    /// Elect a leader (off: this process always writes; run one replica only).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The Lease, in `state.namespace`.
    #[serde(default = "default_lease_name")]
    pub lease_name: String,
    /// How long a lease lasts after its last renewal; another replica takes over after it.
    #[serde(default = "default_lease_duration")]
    pub lease_duration: String,
    /// The leader stops writing this long after its last renewal unless it renewed again;
    /// less than `leaseDuration` (the difference covers clock skew between nodes).
    #[serde(default = "default_renew_deadline")]
    pub renew_deadline: String,
    /// How often the leader renews the lease (and every replica reads it to keep the write
    /// fence current).
    #[serde(default = "default_retry_period")]
    pub retry_period: String,
}

impl Default for LeaderElectionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            lease_name: default_lease_name(),
            lease_duration: default_lease_duration(),
            renew_deadline: default_renew_deadline(),
            retry_period: default_retry_period(),
        }
    }
}

fn default_lease_name() -> String {
    "tidegate-leader".to_owned()
}

fn default_lease_duration() -> String {
    "15s".to_owned()
}

fn default_renew_deadline() -> String {
    "10s".to_owned()
}

fn default_retry_period() -> String {
    "2s".to_owned()
}

impl LeaderElectionConfig {
    /// (lease duration, renew deadline, retry period), validated on load.
    #[must_use]
    pub fn durations(&self) -> (Duration, Duration, Duration) {
        let parse = |text: &str| parse_go_duration(text).unwrap_or(Duration::from_secs(1));
        (
            parse(&self.lease_duration),
            parse(&self.renew_deadline),
            parse(&self.retry_period),
        )
    }
}

/// Analysis settings.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Hosts Prometheus and web metrics may reach: names, `*.suffix` or IP networks
    /// (`10.0.0.0/8`). Default: in-cluster Services only (`*.svc`, `*.svc.cluster.local`,
    /// `*.cluster.local`).
    #[serde(default = "default_allowed_hosts")]
    pub allowed_hosts: Vec<String>,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            allowed_hosts: default_allowed_hosts(),
        }
    }
}

fn default_allowed_hosts() -> Vec<String> {
    crate::analysis::guard::DEFAULT_ALLOWED_HOSTS
        .iter()
        .map(|host| (*host).to_owned())
        .collect()
}

impl AnalysisConfig {
    /// The guard these settings describe (validated on load).
    #[must_use]
    pub fn guard(&self) -> crate::analysis::guard::HostGuard {
        crate::analysis::guard::HostGuard::new(&self.allowed_hosts).unwrap_or_default()
    }
}

/// One Git repository path to keep the cluster in sync with.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name (a DNS label: lower-case letters, digits, `-`); labels the objects it applies.
    pub name: String,
    /// The repository: `https://`, `http://`, `file://` or `ssh://` (or `user@host:path`).
    pub url: String,
    /// A branch, a tag (`refs/tags/v1` or `v1` when no branch has that name) or a full commit id.
    #[serde(rename = "ref", default = "default_ref")]
    pub reference: String,
    /// The directory inside the repository to render (default: its root).
    #[serde(default = "default_path")]
    pub path: String,
    /// How often to poll (a Go duration such as `1m`, `30s`); webhooks and file watches are
    /// faster, polling is the safety net.
    #[serde(default = "default_interval")]
    pub interval: String,
    /// Namespace for namespaced objects that do not name one.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Delete objects this source applied earlier and that are no longer in Git.
    #[serde(default)]
    pub prune: bool,
    /// Re-apply when the cluster drifts from Git.
    #[serde(default)]
    pub self_heal: bool,
    /// Credentials for `http(s)` URLs (also used to push write-backs).
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Write outcome records of this source's Rollouts to a status branch (absent: off).
    #[serde(default)]
    pub write_back: Option<WriteBackConfig>,
    /// What to do in Git when a Rollout aborts because its analysis failed.
    #[serde(default)]
    pub on_abort: OnAbort,
    /// The forge hosting the repository: commit statuses and pull requests.
    #[serde(default)]
    pub forge: Option<ForgeConfig>,
    /// Render `path` as a Helm chart (detected from its `Chart.yaml` when absent).
    #[serde(default)]
    pub helm: Option<HelmOptions>,
    /// Render `path` with Kustomize (detected from its kustomization when absent).
    #[serde(default)]
    pub kustomize: Option<KustomizeOptions>,
}

impl SourceConfig {
    /// The source as rendering needs it.
    #[must_use]
    pub fn render_source(&self) -> crate::render::Source<'_> {
        crate::render::Source {
            name: &self.name,
            path: &self.path,
            namespace: self.namespace.as_deref().unwrap_or("default"),
            helm: self.helm.as_ref(),
            kustomize: self.kustomize.as_ref(),
        }
    }
}

/// Outcome records on a status branch.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteBackConfig {
    /// The branch the records go to (one file per Rollout; never the tracked branch).
    #[serde(default = "default_status_branch")]
    pub branch: String,
    /// Commit author name.
    #[serde(default = "default_author_name")]
    pub author_name: String,
    /// Commit author e-mail address.
    #[serde(default = "default_author_email")]
    pub author_email: String,
    /// Also commit when a step completes, not only on promotion, abort and supersession.
    #[serde(default)]
    pub every_step: bool,
}

impl Default for WriteBackConfig {
    fn default() -> Self {
        Self {
            branch: default_status_branch(),
            author_name: default_author_name(),
            author_email: default_author_email(),
            every_step: false,
        }
    }
}

fn default_status_branch() -> String {
    "tidegate/status".to_owned()
}

fn default_author_name() -> String {
    "tidegate".to_owned()
}

fn default_author_email() -> String {
    "tidegate@localhost".to_owned()
}

/// What happens in Git when analysis fails and a Rollout aborts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnAbort {
    /// Nothing: the cluster runs the stable revision, Git still names the failed one.
    #[default]
    None,
    /// Commit a revert of the offending change to the tracked branch.
    Revert,
    /// Open a pull request with the revert (needs a forge).
    RevertPr,
}

/// The forge hosting a source's repository.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForgeConfig {
    /// `github`, `gitea` or `gitlab`.
    #[serde(rename = "type")]
    pub kind: ForgeKind,
    /// The forge's web address (`https://github.com`, `https://gitea.example.com`).
    pub url: String,
    /// The repository: `owner/name` (a GitLab project's full path).
    pub repository: String,
    /// Where to read the API token.
    pub token: SecretRef,
    /// Open a "Promote <rollout>" pull request when a Rollout waits for approval; merging it
    /// releases the pause, closing it aborts.
    #[serde(default = "default_true")]
    pub promotion_pull_requests: bool,
}

fn default_true() -> bool {
    true
}

/// Which forge a repository lives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// github.com or GitHub Enterprise Server.
    GitHub,
    /// Gitea or Forgejo.
    Gitea,
    /// gitlab.com or a self-managed GitLab.
    GitLab,
}

fn default_ref() -> String {
    "main".to_owned()
}

fn default_path() -> String {
    ".".to_owned()
}

fn default_interval() -> String {
    "1m".to_owned()
}

/// HTTP basic credentials (a token is a password; forges accept any user name with it).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthConfig {
    /// User name (default `git`).
    #[serde(default = "default_username")]
    pub username: String,
    /// Where to read the password or token.
    pub password: SecretRef,
}

fn default_username() -> String {
    "git".to_owned()
}

/// Where tidegate keeps its state.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateConfig {
    /// Namespace of the ConfigMaps that record each source's sync status and inventory.
    #[serde(default = "default_state_namespace")]
    pub namespace: String,
    /// Directory for the bare Git caches (default: `$XDG_CACHE_HOME/tidegate` or
    /// `~/.cache/tidegate`; in a container, an `emptyDir`).
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            namespace: default_state_namespace(),
            cache_dir: None,
        }
    }
}

fn default_state_namespace() -> String {
    "tidegate-system".to_owned()
}

impl StateConfig {
    /// The cache directory, with the default filled in.
    #[must_use]
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(dir) = &self.cache_dir {
            return dir.clone();
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("tidegate").join("sources")
    }
}

/// The HTTP server.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The bearer token the read API (`/api/`) requires. Without one, the read API answers
    /// requests from loopback only (it shows live objects' diffs).
    #[serde(default)]
    pub api_token: Option<SecretRef>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            api_token: None,
        }
    }
}

fn default_listen() -> String {
    "0.0.0.0:8080".to_owned()
}

/// Push webhooks.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookConfig {
    /// The shared secret: the HMAC key for GitHub and Gitea, the token for GitLab. Without it
    /// `POST /hooks/git` refuses every request.
    #[serde(default)]
    pub secret: Option<SecretRef>,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

fn default_max_body() -> usize {
    1 << 20
}

/// A source's URL, by how it is fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `http://` or `https://`.
    Http,
    /// `file://` (a local repository: watched for changes).
    File(PathBuf),
    /// `ssh://` or `user@host:path` (keys from the ssh configuration).
    Ssh,
}

impl SourceConfig {
    /// How the URL is fetched, or why it cannot be.
    pub fn transport(&self) -> Result<Transport, String> {
        let url = self.url.as_str();
        if url.starts_with("https://") || url.starts_with("http://") {
            Ok(Transport::Http)
        } else if let Some(path) = url.strip_prefix("file://") {
            if Path::new(path).is_absolute() {
                Ok(Transport::File(PathBuf::from(path)))
            } else {
                Err("a file:// URL needs an absolute path (file:///srv/repo)".to_owned())
            }
        } else if url.starts_with("ssh://")
            || (url.contains('@') && url.contains(':') && !url.contains("://"))
        {
            Ok(Transport::Ssh)
        } else {
            Err("the URL must start with https://, http://, file:// or ssh:// (or be user@host:path)".to_owned())
        }
    }

    /// The polling interval (validated on load).
    #[must_use]
    pub fn interval(&self) -> Duration {
        parse_go_duration(&self.interval).unwrap_or(Duration::from_secs(60))
    }
}

/// The configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{0}")]
    Invalid(Problems),
}

impl Config {
    /// The renderers, with the chart cache's default (`.charts` in the state cache) filled in.
    #[must_use]
    pub fn renderers(&self) -> Renderers {
        let mut renderers = self.renderers.clone();
        renderers
            .chart_cache
            .get_or_insert_with(|| self.state.cache_dir().join(".charts"));
        renderers
    }

    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string()).map_err(ConfigError::Invalid)
    }

    /// Parses and checks `text`; problems name `file`.
    pub fn parse(text: &str, file: &str) -> Result<Self, Problems> {
        let problem = |line, field: Option<&FieldPath>, message: String| Problem {
            file: file.to_owned(),
            line,
            field: field.map(ToString::to_string),
            message,
        };
        let config: Self = if text.trim().is_empty() {
            Self::default()
        } else {
            serde_saphyr::from_str(text).map_err(|error| {
                let line = error
                    .location()
                    .and_then(|location| usize::try_from(location.line()).ok());
                let message = error.to_string();
                Problems(vec![problem(
                    line,
                    None,
                    message.lines().next().unwrap_or_default().to_owned(),
                )])
            })?
        };
        let found: Vec<Problem> = config
            .problems()
            .into_iter()
            .map(|(field, message)| {
                let root_line = text
                    .lines()
                    .position(|line| {
                        !line.trim().is_empty()
                            && !line.trim_start().starts_with('#')
                            && line != "---"
                    })
                    .map_or(1, |index| index + 1);
                problem(line_of(text, root_line, &field), Some(&field), message)
            })
            .collect();
        if found.is_empty() {
            Ok(config)
        } else {
            Err(Problems(found))
        }
    }

    /// Everything wrong with the values, by field.
    fn problems(&self) -> Vec<(FieldPath, String)> {
        let mut problems = Vec::new();
        let mut names = HashSet::new();
        for (index, source) in self.sources.iter().enumerate() {
            source_problems(index, source, &mut names, &mut problems);
        }
        leader_election_problems(&self.leader_election, &mut problems);
        if !is_dns_label(&self.state.namespace) {
            problems.push((
                FieldPath::default().key("state").key("namespace"),
                "must be a namespace name (a DNS label)".to_owned(),
            ));
        }
        if self.server.listen.parse::<SocketAddr>().is_err() {
            problems.push((
                FieldPath::default().key("server").key("listen"),
                "must be an address and port such as 0.0.0.0:8080".to_owned(),
            ));
        }
        for (index, pattern) in self.analysis.allowed_hosts.iter().enumerate() {
            if let Err(problem) = crate::analysis::guard::HostGuard::new(&[pattern]) {
                problems.push((
                    FieldPath::default()
                        .key("analysis")
                        .key("allowedHosts")
                        .index(index),
                    problem,
                ));
            }
        }
        if let Some(secret) = &self.webhook.secret {
            secret_problems(
                secret,
                &FieldPath::default().key("webhook").key("secret"),
                &mut problems,
            );
        }
        for (index, repository) in self.renderers.chart_repositories.iter().enumerate() {
            chart_repository_problems(
                (&repository.url, "url"),
                repository.auth.as_ref(),
                repository.plain_http,
                &FieldPath::default()
                    .key("renderers")
                    .key("chartRepositories")
                    .index(index),
                &mut problems,
            );
        }
        problems
    }

    /// The source called `name`.
    #[must_use]
    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|source| source.name == name)
    }

    /// The JSON schema of the file, for editors and `tidegate config schema`.
    #[must_use]
    pub fn json_schema() -> schemars::Schema {
        schemars::schema_for!(Config)
    }
}

/// Everything wrong with one source (`names` collects the names seen so far).
fn source_problems<'a>(
    index: usize,
    source: &'a SourceConfig,
    names: &mut HashSet<&'a str>,
    problems: &mut Vec<(FieldPath, String)>,
) {
    let at = FieldPath::default().key("sources").index(index);
    if !is_dns_label(&source.name) {
        problems.push((at.key("name"), "must be a DNS label: 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit".to_owned()));
    }
    if !names.insert(source.name.as_str()) {
        problems.push((
            at.key("name"),
            format!("another source is already named {:?}", source.name),
        ));
    }
    match source.transport() {
        Err(message) => problems.push((at.key("url"), message)),
        Ok(Transport::Http) if source.auth.is_some() && !sends_credentials_safely(&source.url) => {
            problems.push((
                at.key("auth"),
                "credentials are sent over https only (or http to a loopback address)".to_owned(),
            ));
        }
        Ok(Transport::Http) => {}
        Ok(_) if source.auth.is_some() => problems.push((
            at.key("auth"),
            "credentials apply to http(s) URLs only (ssh uses the ssh configuration's keys)"
                .to_owned(),
        )),
        Ok(_) => {}
    }
    let has_userinfo = (source.url.starts_with("https://") || source.url.starts_with("http://"))
        && reqwest::Url::parse(&source.url)
            .is_ok_and(|url| !url.username().is_empty() || url.password().is_some());
    if has_userinfo {
        problems.push((
            at.key("url"),
            "credentials must not be written in the URL: use auth".to_owned(),
        ));
    }
    if source.reference.trim().is_empty() {
        problems.push((
            at.key("ref"),
            "must name a branch, a tag or a commit".to_owned(),
        ));
    }
    if Path::new(&source.path).is_absolute() || source.path.split('/').any(|part| part == "..") {
        problems.push((
            at.key("path"),
            "must be a relative path inside the repository, without '..'".to_owned(),
        ));
    }
    if source.helm.is_some() && source.kustomize.is_some() {
        problems.push((
            at.key("kustomize"),
            "a source is rendered by helm or kustomize, not both".to_owned(),
        ));
    }
    if let Some(chart) = source.helm.as_ref().and_then(|helm| helm.chart.as_ref()) {
        chart_problems(chart, &at.key("helm").key("chart"), problems);
    }
    match parse_go_duration(&source.interval) {
        Ok(interval) if interval >= Duration::from_secs(1) => {}
        Ok(_) => problems.push((at.key("interval"), "must be at least 1s".to_owned())),
        Err(error) => problems.push((at.key("interval"), error.to_string())),
    }
    if let Some(namespace) = &source.namespace
        && !is_dns_label(namespace)
    {
        problems.push((
            at.key("namespace"),
            "must be a namespace name (a DNS label)".to_owned(),
        ));
    }
    if let Some(auth) = &source.auth {
        secret_problems(&auth.password, &at.key("auth").key("password"), problems);
    }
    write_back_problems(&at, source, problems);
}

/// Everything wrong with one source's write-back, rollback and forge settings.
fn write_back_problems(
    at: &FieldPath,
    source: &SourceConfig,
    problems: &mut Vec<(FieldPath, String)>,
) {
    if let Some(write_back) = &source.write_back {
        let branch = write_back.branch.trim_start_matches("refs/heads/");
        if branch.is_empty() || branch.contains("..") || branch.contains(char::is_whitespace) {
            problems.push((
                at.key("writeBack").key("branch"),
                "must be a branch name".to_owned(),
            ));
        } else if branch == source.reference.trim_start_matches("refs/heads/") {
            problems.push((
                at.key("writeBack").key("branch"),
                "must not be the tracked branch (records would trigger syncs)".to_owned(),
            ));
        }
    }
    let tracks_commit = source.reference.len() == 40
        && source
            .reference
            .bytes()
            .all(|byte| byte.is_ascii_hexdigit());
    if source.on_abort != OnAbort::None
        && (tracks_commit || source.reference.starts_with("refs/tags/"))
    {
        problems.push((
            at.key("onAbort"),
            "reverts are committed to the tracked branch: ref must name a branch".to_owned(),
        ));
    }
    if source.on_abort == OnAbort::RevertPr && source.forge.is_none() {
        problems.push((
            at.key("onAbort"),
            "revert-pr opens pull requests: configure forge".to_owned(),
        ));
    }
    if let Some(forge) = &source.forge {
        let at = at.key("forge");
        if !(forge.url.starts_with("https://") || forge.url.starts_with("http://")) {
            problems.push((at.key("url"), "must be an http(s) address".to_owned()));
        } else if !sends_credentials_safely(&forge.url) {
            problems.push((
                at.key("url"),
                "the token is sent over https only (or http to a loopback address)".to_owned(),
            ));
        }
        let parts: Vec<&str> = forge.repository.split('/').collect();
        if parts.len() < 2 || parts.iter().any(|part| part.is_empty() || *part == "..") {
            problems.push((at.key("repository"), "must be owner/name".to_owned()));
        }
        secret_problems(&forge.token, &at.key("token"), problems);
    }
}

fn leader_election_problems(
    election: &LeaderElectionConfig,
    problems: &mut Vec<(FieldPath, String)>,
) {
    let at = FieldPath::default().key("leaderElection");
    let mut parsed = Vec::new();
    for (field, text) in [
        ("leaseDuration", &election.lease_duration),
        ("renewDeadline", &election.renew_deadline),
        ("retryPeriod", &election.retry_period),
    ] {
        match parse_go_duration(text) {
            Ok(value) if value >= Duration::from_secs(1) && value.subsec_nanos() == 0 => {
                parsed.push(value);
            }
            Ok(_) => problems.push((
                at.key(field),
                "must be whole seconds, at least 1s".to_owned(),
            )),
            Err(error) => problems.push((at.key(field), error.to_string())),
        }
    }
    if let [lease, renew, retry] = parsed[..]
        && !(retry < renew && renew < lease)
    {
        problems.push((
            at.key("renewDeadline"),
            "needs retryPeriod < renewDeadline < leaseDuration".to_owned(),
        ));
    }
    if !is_dns_label(&election.lease_name) {
        problems.push((at.key("leaseName"), "must be a DNS label".to_owned()));
    }
}

fn chart_problems(
    chart: &crate::render::ChartReference,
    at: &FieldPath,
    problems: &mut Vec<(FieldPath, String)>,
) {
    use crate::render::chart::{oci, version::Constraint};
    let oci = chart.repository.starts_with("oci://");
    if oci {
        if let Err(why) = oci::Chart::new(&chart.repository, &chart.name, chart.plain_http) {
            problems.push((at.key("repository"), why));
        }
    } else {
        chart_repository_problems(
            (&chart.repository, "repository"),
            chart.auth.as_ref(),
            chart.plain_http,
            at,
            problems,
        );
    }
    if chart.name.is_empty() || chart.name.contains(['/', '?', '#', ' ']) {
        problems.push((
            at.key("name"),
            "must be a chart's name (no '/', '?', '#' or spaces)".to_owned(),
        ));
    }
    if let Some(version) = chart.version.as_deref().filter(|v| !v.trim().is_empty())
        && let Err(why) = Constraint::parse(version)
    {
        problems.push((at.key("version"), why));
    }
    if oci {
        chart_auth_problems(
            &chart.repository,
            chart.auth.as_ref(),
            chart.plain_http,
            at,
            problems,
        );
    }
}

/// A chart repository's URL (`url_field` under `at`), credentials and plainHttp.
fn chart_repository_problems(
    (url, url_field): (&str, &str),
    auth: Option<&crate::render::ChartAuth>,
    plain_http: bool,
    at: &FieldPath,
    problems: &mut Vec<(FieldPath, String)>,
) {
    use crate::render::chart::{index, oci};
    let checked = if url.starts_with("oci://") {
        oci::Chart::new(url, "chart", plain_http).map(|_| ())
    } else if plain_http {
        Err("plainHttp is for oci:// registries (an HTTP repository says http://)".to_owned())
    } else {
        index::base(url).and_then(|parsed| {
            if parsed.username().is_empty() && parsed.password().is_none() {
                Ok(())
            } else {
                Err("credentials must not be written in the URL: use auth".to_owned())
            }
        })
    };
    if let Err(why) = checked {
        problems.push((at.key(url_field), why));
    }
    chart_auth_problems(url, auth, plain_http, at, problems);
}

/// Credentials for the repository at `url`: readable, and never sent in the clear.
fn chart_auth_problems(
    url: &str,
    auth: Option<&crate::render::ChartAuth>,
    plain_http: bool,
    at: &FieldPath,
    problems: &mut Vec<(FieldPath, String)>,
) {
    if let Some(auth) = auth {
        secret_problems(&auth.password, &at.key("auth").key("password"), problems);
        let sent_to = match url.strip_prefix("oci://") {
            Some(rest) if plain_http => format!("http://{rest}"),
            Some(rest) => format!("https://{rest}"),
            None => url.to_owned(),
        };
        if !sends_credentials_safely(&sent_to) {
            problems.push((
                at.key("auth"),
                "credentials are sent over https only (or http to a loopback address)".to_owned(),
            ));
        }
    }
}

fn secret_problems(secret: &SecretRef, at: &FieldPath, problems: &mut Vec<(FieldPath, String)>) {
    if secret.file.is_some() == secret.env.is_some() {
        problems.push((at.clone(), "needs exactly one of file or env".to_owned()));
    }
}

/// Whether credentials for `url` are safe from eavesdroppers: https, or http on loopback.
fn sends_credentials_safely(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return url.starts_with("https://");
    };
    let host = rest.split('/').next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(host, _)| host);
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A DNS-1123 label: what Kubernetes accepts as a namespace name and a label value's shape.
fn is_dns_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        Config::parse(text, "tidegate.yaml")
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_full_config_reads_with_defaults() {
        let config = Config::parse(
            "sources:
- name: shop
  url: https://git.example.com/org/shop.git
  path: apps/shop
  auth:
    password: {env: SHOP_TOKEN}
- name: local
  url: file:///srv/repo
  ref: refs/tags/v1
  interval: 10s
  prune: true
  selfHeal: true
  namespace: demo
",
            "tidegate.yaml",
        )
        .unwrap();
        let shop = config.source("shop").unwrap();
        assert_eq!(
            (shop.reference.as_str(), shop.interval()),
            ("main", Duration::from_secs(60))
        );
        assert_eq!(shop.auth.as_ref().unwrap().username, "git");
        assert!(!shop.prune && !shop.self_heal);
        let local = config.source("local").unwrap();
        assert_eq!(
            local.transport(),
            Ok(Transport::File(PathBuf::from("/srv/repo")))
        );
        assert_eq!(local.interval(), Duration::from_secs(10));
        assert_eq!(config.state.namespace, "tidegate-system");
        assert_eq!(config.limits, Limits::default());
    }

    #[test]
    fn chart_references_are_checked_with_their_line() {
        let found = problems(
            "sources:
- name: a
  url: file:///r
  helm:
    chart: {repository: ftp://charts.example.com, name: web}
- name: b
  url: file:///r
  helm:
    chart:
      repository: oci://ghcr.io/Org
      name: web/api
      version: '>=banana'
      plainHttp: true
      auth: {username: u, password: {env: T}}
- name: c
  url: file:///r
  helm:
    chart:
      repository: http://charts.example.com
      name: web
      auth: {username: u, password: {env: T}}
- name: d
  url: file:///r
  helm:
    chart:
      repository: http://charts.example.com
      name: web
      plainHttp: true
- name: e
  url: file:///r
  helm:
    chart: {repository: 'https://u:p@charts.example.com', name: web}
renderers:
  chartRepositories:
  - url: https://charts.example.com
    plainHttp: true
  - url: oci://10.0.0.1:5000
    plainHttp: true
    auth: {username: u, password: {env: T}}
",
        );
        let expected = [
            "tidegate.yaml:5: sources[0].helm.chart.repository: chart repository \"ftp://charts.example.com\": an HTTP repository is http:// or https:// (an OCI registry is oci://)",
            "tidegate.yaml:10: sources[1].helm.chart.repository: chart \"web/api\" in \"oci://ghcr.io/Org\": \"Org/web/api\" is not a registry repository name",
            "tidegate.yaml:11: sources[1].helm.chart.name: must be a chart's name (no '/', '?', '#' or spaces)",
            "tidegate.yaml:12: sources[1].helm.chart.version: version constraint \">=banana\": \"banana\": unexpected character 'b' while parsing major version number",
            "tidegate.yaml:14: sources[1].helm.chart.auth: credentials are sent over https only (or http to a loopback address)",
            "tidegate.yaml:21: sources[2].helm.chart.auth: credentials are sent over https only (or http to a loopback address)",
            "tidegate.yaml:26: sources[3].helm.chart.repository: plainHttp is for oci:// registries (an HTTP repository says http://)",
            "tidegate.yaml:32: sources[4].helm.chart.repository: credentials must not be written in the URL: use auth",
            "tidegate.yaml:35: renderers.chartRepositories[0].url: plainHttp is for oci:// registries (an HTTP repository says http://)",
            "tidegate.yaml:39: renderers.chartRepositories[1].auth: credentials are sent over https only (or http to a loopback address)",
        ];
        assert_eq!(found, expected);
        let fine = "sources:
- name: a
  url: file:///r
  helm:
    chart:
      repository: oci://127.0.0.1:5000/charts
      name: web
      version: ~1.2
      plainHttp: true
      auth: {username: u, password: {env: T}}
";
        let config = Config::parse(fine, "tidegate.yaml").expect("valid");
        assert_eq!(
            config.renderers().chart_cache,
            Some(config.state.cache_dir().join(".charts"))
        );
    }

    #[test]
    fn unknown_fields_name_their_line() {
        let found = problems("sources:\n- name: a\n  url: file:///r\n  prun: true\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("tidegate.yaml:4"), "{found:?}");
        assert!(found[0].contains("prun"), "{found:?}");
    }

    #[test]
    fn invalid_values_name_their_line_and_field() {
        let found = problems(
            "sources:
- name: Shop
  url: ftp://example.com/repo
  path: ../etc
  interval: soon
- name: b
  url: file:///repo
  auth:
    password: {file: /run/secret, env: TOKEN}
- name: b
  url: https://example.com/b.git
server:
  listen: everywhere
",
        );
        assert_eq!(
            found,
            [
                "tidegate.yaml:2: sources[0].name: must be a DNS label: 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit",
                "tidegate.yaml:3: sources[0].url: the URL must start with https://, http://, file:// or ssh:// (or be user@host:path)",
                "tidegate.yaml:4: sources[0].path: must be a relative path inside the repository, without '..'",
                &format!(
                    "tidegate.yaml:5: sources[0].interval: {}",
                    parse_go_duration("soon").unwrap_err()
                ),
                "tidegate.yaml:8: sources[1].auth: credentials apply to http(s) URLs only (ssh uses the ssh configuration's keys)",
                "tidegate.yaml:9: sources[1].auth.password: needs exactly one of file or env",
                "tidegate.yaml:10: sources[2].name: another source is already named \"b\"",
                "tidegate.yaml:13: server.listen: must be an address and port such as 0.0.0.0:8080",
            ]
        );
    }

    #[test]
    fn credentials_travel_over_https_or_loopback_only() {
        let with_auth = |url: &str| {
            format!("sources:\n- name: a\n  url: {url}\n  auth:\n    password: {{env: T}}\n")
        };
        assert!(Config::parse(&with_auth("https://example.com/a.git"), "t").is_ok());
        assert!(Config::parse(&with_auth("http://127.0.0.1:3000/a.git"), "t").is_ok());
        assert!(Config::parse(&with_auth("http://localhost/a.git"), "t").is_ok());
        assert_eq!(
            problems(&with_auth("http://example.com/a.git")),
            [
                "tidegate.yaml:4: sources[0].auth: credentials are sent over https only (or http to a loopback address)"
            ]
        );
    }

    #[test]
    fn empty_secrets_are_refused() {
        let path =
            std::env::temp_dir().join(format!("tidegate-empty-secret-{}", std::process::id()));
        std::fs::write(&path, "\n").unwrap();
        let read = SecretRef {
            file: Some(path.clone()),
            env: None,
        }
        .read();
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(read, Err(SecretError::Empty(_))));
    }

    #[test]
    fn credentials_in_the_url_are_refused() {
        let found = problems("sources:\n- name: a\n  url: https://me:hunter2@example.com/a.git\n");
        assert_eq!(
            found,
            [
                "tidegate.yaml:3: sources[0].url: credentials must not be written in the URL: use auth"
            ]
        );
    }

    #[test]
    fn secrets_are_read_when_used_and_never_shown() {
        let path = std::env::temp_dir().join(format!("tidegate-secret-{}", std::process::id()));
        std::fs::write(&path, "s3cret\n").unwrap();
        let secret = SecretRef {
            file: Some(path.clone()),
            env: None,
        }
        .read()
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        let missing = SecretRef {
            file: None,
            env: Some("TIDEGATE_TEST_UNSET_VARIABLE".into()),
        };
        assert_eq!(
            missing.read().unwrap_err().to_string(),
            "environment variable TIDEGATE_TEST_UNSET_VARIABLE is not set"
        );
    }

    #[test]
    fn the_schema_names_every_section() {
        let schema = serde_json::to_value(Config::json_schema()).unwrap();
        for section in [
            "sources", "state", "server", "webhook", "limits", "analysis",
        ] {
            assert!(schema["properties"][section].is_object(), "{section}");
        }
    }

    #[test]
    fn write_back_rollback_and_forge_settings_are_checked() {
        let text = "sources:
- name: shop
  url: https://git.example.com/shop.git
  writeBack:
    branch: main
  onAbort: revert-pr
- name: tagged
  url: https://git.example.com/shop.git
  ref: refs/tags/v1
  onAbort: revert
  forge:
    type: gitea
    url: http://gitea.example.com
    repository: shop
    token: {}
";
        assert_eq!(
            problems(text),
            [
                "tidegate.yaml:5: sources[0].writeBack.branch: must not be the tracked branch (records would trigger syncs)",
                "tidegate.yaml:6: sources[0].onAbort: revert-pr opens pull requests: configure forge",
                "tidegate.yaml:10: sources[1].onAbort: reverts are committed to the tracked branch: ref must name a branch",
                "tidegate.yaml:13: sources[1].forge.url: the token is sent over https only (or http to a loopback address)",
                "tidegate.yaml:14: sources[1].forge.repository: must be owner/name",
                "tidegate.yaml:15: sources[1].forge.token: needs exactly one of file or env",
            ]
        );
        let good = "sources:
- name: shop
  url: http://127.0.0.1:3000/acme/shop.git
  writeBack: {}
  onAbort: revert-pr
  forge: {type: gitea, url: 'http://127.0.0.1:3000', repository: acme/shop, token: {env: GITEA_TOKEN}}
";
        let config = Config::parse(good, "tidegate.yaml").expect("valid");
        let source = &config.sources[0];
        assert_eq!(
            source.write_back.as_ref().map(|w| w.branch.as_str()),
            Some("tidegate/status")
        );
        assert_eq!(source.on_abort, OnAbort::RevertPr);
        assert!(
            source
                .forge
                .as_ref()
                .is_some_and(|forge| forge.promotion_pull_requests)
        );
    }
}

#[cfg(test)]
mod never_panics {
    use proptest::prelude::*;

    use super::Config;
    use crate::arbitrary;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn on_arbitrary_text(text in arbitrary::text()) {
            let _ = Config::parse(&text, "tidegate.yaml");
        }

        #[test]
        fn on_arbitrary_bytes(bytes in arbitrary::bytes()) {
            let _ = Config::parse(&String::from_utf8_lossy(&bytes), "tidegate.yaml");
        }

        #[test]
        fn on_arbitrary_documents(value in arbitrary::value()) {
            let text = serde_json::to_string(&serde_json::json!({"sources": value})).unwrap();
            let _ = Config::parse(&text, "tidegate.yaml");
        }
    }
}
