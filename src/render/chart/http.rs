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
        request.send().map_err(|error| describe(&error))
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
            .map_err(|error| describe(&error))?;
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

/// A request error and its causes (addresses never hold credentials: those go in headers).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
