//! Sending a chart fetch's requests: blocking, every answer capped in size, the whole fetch
//! bounded by one deadline. Credentials go to the repository's own origin only, as a basic
//! header or exchanged for a registry's bearer token when its challenge asks for one.

use std::io::Read;
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::blocking::{Client, Response};
use reqwest::header::{ACCEPT, LINK, WWW_AUTHENTICATE};

use super::oci::{self, Challenge};
use crate::secret::Secret;

/// Largest token service answer read.
const MAX_TOKEN_BYTES: u64 = 64 * 1024;

/// A body and the header that pages it.
pub struct Answer {
    /// The body.
    pub body: Vec<u8>,
    /// Its `Link` header.
    pub link: Option<String>,
}

/// The requests of one fetch.
pub struct Sender {
    client: Client,
    deadline: Instant,
    origin: reqwest::Url,
    credentials: Option<(String, Secret)>,
    bearer: Option<String>,
    pull_scope: String,
}

impl Sender {
    /// Requests to `origin`'s host carry `credentials`; `timeout` bounds them all.
    pub fn new(
        origin: &Url,
        credentials: Option<(String, Secret)>,
        timeout: Duration,
        pull_scope: String,
    ) -> Result<Self, String> {
        let client = Client::builder()
            .user_agent(concat!("tidegate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| format!("cannot make an HTTP client: {error}"))?;
        Ok(Self {
            client,
            deadline: Instant::now() + timeout,
            origin: origin.clone(),
            credentials,
            bearer: None,
            pull_scope,
        })
    }

    /// GETs `url`, answering a registry's bearer challenge once; at most `max_bytes`.
    pub fn get(
        &mut self,
        url: &Url,
        accept: Option<&str>,
        max_bytes: u64,
    ) -> Result<Answer, String> {
        let response = self.send(url, accept)?;
        let response = if response.status() == reqwest::StatusCode::UNAUTHORIZED
            && self.bearer.is_none()
            && let Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|value| value.to_str().ok())
                .and_then(oci::challenge)
        {
            let token_url = oci::token_url(
                &realm,
                service.as_deref(),
                scope.as_deref(),
                &self.pull_scope,
            );
            self.bearer = Some(self.token(&token_url)?);
            self.send(url, accept)?
        } else {
            response
        };
        let link = response
            .headers()
            .get(LINK)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = read(
            checked(url, response, self.credentials.is_some())?,
            max_bytes,
            url,
        )?;
        Ok(Answer { body, link })
    }

    fn send(&self, url: &Url, accept: Option<&str>) -> Result<Response, String> {
        let remaining = self
            .deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| {
                format!("{url}: the fetch ran out of time (limits.renderTimeoutSeconds)")
            })?;
        let mut request = self.client.get(url.clone()).timeout(remaining);
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        if url.origin() == self.origin.origin() {
            if let Some(token) = &self.bearer {
                request = request.bearer_auth(token);
            } else if let Some((user, password)) = &self.credentials {
                request = request.basic_auth(user, Some(password.expose()));
            }
        }
        request
            .send()
            .map_err(|error| crate::k8s::describe_error(&error))
    }

    /// A bearer token from the registry's token service (with the credentials, if any).
    fn token(&self, url: &Url) -> Result<String, String> {
        let mut request = self.client.get(url.clone());
        if let Some((user, password)) = &self.credentials {
            request = request.basic_auth(user, Some(password.expose()));
        }
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let response = request
            .timeout(remaining.max(Duration::from_millis(1)))
            .send()
            .map_err(|error| crate::k8s::describe_error(&error))?;
        let body = read(
            checked(url, response, self.credentials.is_some())?,
            MAX_TOKEN_BYTES,
            url,
        )?;
        oci::token(&body)
    }
}

/// The response when it succeeded; else what went wrong, in words.
fn checked(url: &Url, response: Response, has_credentials: bool) -> Result<Response, String> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let why = match status.as_u16() {
        401 if has_credentials => "refused the credentials (auth)".to_owned(),
        401 => "needs credentials (auth)".to_owned(),
        403 => "refused access".to_owned(),
        404 => "has no such file".to_owned(),
        _ => format!("answered {status}"),
    };
    Err(format!("{url} {why}"))
}

/// The body, refused once it is longer than `max_bytes`.
fn read(response: Response, max_bytes: u64, url: &Url) -> Result<Vec<u8>, String> {
    if response
        .content_length()
        .is_some_and(|length| length > max_bytes)
    {
        return Err(too_big(url, max_bytes));
    }
    let mut body = Vec::new();
    response
        .take(max_bytes + 1)
        .read_to_end(&mut body)
        .map_err(|error| format!("{url}: {error}"))?;
    if body.len() as u64 > max_bytes {
        return Err(too_big(url, max_bytes));
    }
    Ok(body)
}

fn too_big(url: &Url, max_bytes: u64) -> String {
    format!("{url} answered more than {max_bytes} bytes (limits.maxTotalBytes)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::Recorder;

    fn sender(origin: &str) -> Sender {
        let password = crate::secret::SecretRef {
            file: None,
            env: Some("PATH".into()),
        }
        .read()
        .expect("a secret");
        Sender::new(
            &Url::parse(origin).expect("origin"),
            Some(("deploy".into(), password)),
            Duration::from_secs(10),
            "repository:charts/web:pull".into(),
        )
        .expect("sender")
    }

    fn basic(seen: &crate::recorder::Seen) -> bool {
        seen.header("authorization")
            .first()
            .is_some_and(|value| value.starts_with("Basic "))
    }

    /// A registry's bearer challenge: a token from its token service (with the credentials),
    /// then the same request with the token; a page too big is refused.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_bearer_challenge_is_answered_with_a_token() {
        let (tokens, token_url) = Recorder::start(vec![(200, vec![], r#"{"token":"T1"}"#)]).await;
        let challenge = format!(r#"Bearer realm="{token_url}/token",service="registry""#);
        let (registry, registry_url) = Recorder::start(vec![
            (401, vec![("www-authenticate", challenge)], String::new()),
            (200, vec![], r#"{"tags":["1.0.0"]}"#.to_owned()),
            (200, vec![], "x".repeat(100)),
        ])
        .await;
        let (tags, too_big) = tokio::task::spawn_blocking(move || {
            let mut sender = sender(&registry_url);
            let url = Url::parse(&format!("{registry_url}/v2/charts/web/tags/list")).expect("url");
            let tags = sender.get(&url, None, 1000).map(|answer| answer.body);
            let too_big = sender.get(&url, None, 99).map(|answer| answer.body);
            (tags, too_big)
        })
        .await
        .expect("joined");
        assert_eq!(tags.expect("tags"), br#"{"tags":["1.0.0"]}"#);
        assert!(too_big.expect_err("too big").contains("more than 99 bytes"));
        let seen = registry.take();
        assert!(basic(&seen[0]), "the first request carries the credentials");
        assert_eq!(seen[1].header("authorization"), ["Bearer T1"]);
        assert_eq!(seen[2].header("authorization"), ["Bearer T1"]);
        let asked = tokens.take();
        assert_eq!(
            asked[0].uri,
            "/token?service=registry&scope=repository%3Acharts%2Fweb%3Apull"
        );
        assert!(basic(&asked[0]), "the token service gets the credentials");
    }

    /// One deadline bounds the whole fetch: once it has passed, no request is sent.
    #[test]
    fn a_passed_deadline_sends_nothing() {
        let origin = Url::parse("http://127.0.0.1:9/").expect("origin");
        let mut sender = Sender::new(&origin, None, Duration::ZERO, String::new()).expect("sender");
        let error = sender
            .get(&origin.join("index.yaml").expect("url"), None, 10)
            .err()
            .expect("out of time");
        assert!(
            error.ends_with("the fetch ran out of time (limits.renderTimeoutSeconds)"),
            "{error}"
        );
    }

    /// Credentials go to the repository's origin only: a chart archive elsewhere (a CDN)
    /// gets none; failures say what the server answered.
    #[tokio::test(flavor = "multi_thread")]
    async fn credentials_stay_on_the_repository_origin() {
        let (cdn, cdn_url) = Recorder::start(vec![
            (200, vec![], "archive"),
            (401, vec![], ""),
            (404, vec![], ""),
            (503, vec![], ""),
        ])
        .await;
        let answers = tokio::task::spawn_blocking(move || {
            let mut sender = sender("https://charts.example.com/");
            let url = Url::parse(&format!("{cdn_url}/web-1.0.0.tgz")).expect("url");
            (0..4)
                .map(|_| sender.get(&url, None, 1000).map(|answer| answer.body))
                .collect::<Vec<_>>()
        })
        .await
        .expect("joined");
        assert_eq!(answers[0].as_deref().expect("archive"), b"archive");
        let errors: Vec<String> = answers[1..]
            .iter()
            .map(|answer| answer.clone().expect_err("fails"))
            .collect();
        assert!(
            errors[0].ends_with("refused the credentials (auth)"),
            "{errors:?}"
        );
        assert!(errors[1].ends_with("has no such file"), "{errors:?}");
        assert!(
            errors[2].ends_with("answered 503 Service Unavailable"),
            "{errors:?}"
        );
        assert!(
            cdn.take()
                .iter()
                .all(|seen| seen.header("authorization").is_empty())
        );
    }
}
