//! A hosted provider's request as plain data, shaped by pure functions, and [`exchange`], which
//! sends it: the allow-list checked first, 429 and 5xx asked again within the measurement's
//! deadline ([`retry`](super::retry)), the body read with the size cap. Credential headers are
//! marked sensitive so they never show in a debug print.

use reqwest::{Method, StatusCode, Url};
use tokio::time::Instant;

use super::Context;

/// An HTTP request to a metrics API. Its debug form hides the credential headers' values.
#[derive(Clone, PartialEq)]
pub struct Request {
    /// GET or POST.
    pub method: Method,
    /// Where.
    pub url: Url,
    /// Headers; those named in [`SENSITIVE`] carry credentials.
    pub headers: Vec<(&'static str, String)>,
    /// The body, if any.
    pub body: Option<String>,
}

/// Headers whose values are credentials.
const SENSITIVE: &[&str] = &[
    "authorization",
    "dd-api-key",
    "dd-application-key",
    "api-key",
    "x-amz-security-token",
];

impl std::fmt::Debug for Request {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = if SENSITIVE.contains(name) {
                    "<redacted>"
                } else {
                    value.as_str()
                };
                (*name, shown)
            })
            .collect();
        formatter
            .debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
    }
}

impl Request {
    /// A GET of `url`.
    #[must_use]
    pub fn get(url: Url) -> Self {
        Self {
            method: Method::GET,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    /// A POST of `body` as JSON to `url`.
    #[must_use]
    pub fn post_json(url: Url, body: &serde_json::Value) -> Self {
        Self {
            method: Method::POST,
            url,
            headers: vec![("content-type", "application/json".to_owned())],
            body: Some(body.to_string()),
        }
    }

    /// With header `name` (lower case) set to `value`.
    #[must_use]
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The value of header `name`, if set.
    #[must_use]
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    fn build(&self, http: &reqwest::Client) -> Result<reqwest::RequestBuilder, String> {
        let mut request = http.request(self.method.clone(), self.url.clone());
        for (name, value) in &self.headers {
            let mut value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| format!("header {name} holds characters HTTP does not allow"))?;
            value.set_sensitive(SENSITIVE.contains(name));
            request = request.header(*name, value);
        }
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        Ok(request)
    }
}

/// An answer: its status and body.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body as text.
    pub body: String,
}

/// Sends `request` (after the allow-list) with certificates verified, asking again while it
/// is rate-limited or failing until `deadline`; returns the final answer.
pub async fn exchange(
    context: &Context<'_>,
    request: &Request,
    deadline: Instant,
) -> Result<Answer, String> {
    context.guard.check(request.url.as_str())?;
    let host = request.url.host_str().unwrap_or_default().to_owned();
    let builder = request.build(context.http)?;
    let response = super::retry::send(builder, &host, deadline).await?;
    let status = response.status();
    let body = super::read_body(response, &host).await?;
    Ok(Answer { status, body })
}

/// `base` (an address from a spec or a Secret) joined with `path`, refusing what is not an
/// `http(s)` URL; a trailing `/` on `base` is dropped.
pub fn url(base: &str, path: &str) -> Result<Url, String> {
    let base = base.trim().trim_end_matches('/');
    let url = Url::parse(&format!("{base}{path}"))
        .map_err(|error| format!("address {base:?} is not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("address {base:?} is not an http(s) URL"));
    }
    Ok(url)
}

/// The `message`s of GraphQL's `errors` in `body` (an item without one as its JSON), joined
/// and cut for a message, if there are any.
#[must_use]
pub fn graphql_errors(body: &serde_json::Value) -> Option<String> {
    let errors: Vec<String> = body
        .get("errors")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .map(
            |error| match error.get("message").and_then(serde_json::Value::as_str) {
                Some(message) => message.to_owned(),
                None => error.to_string(),
            },
        )
        .collect();
    (!errors.is_empty()).then(|| excerpt(&errors.join("; "), 300))
}

/// The first `limit` characters of `text`, on one line, for a message.
#[must_use]
pub fn excerpt(text: &str, limit: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(limit) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_must_be_http_urls() {
        assert_eq!(
            url("https://api.datadoghq.com/", "/api/v1/query").map(String::from),
            Ok("https://api.datadoghq.com/api/v1/query".to_owned())
        );
        assert_eq!(
            url("://wrong", "/x"),
            Err("address \"://wrong\" is not a URL: relative URL without a base".to_owned())
        );
        assert_eq!(
            url("ftp://host", "/x"),
            Err("address \"ftp://host\" is not an http(s) URL".to_owned())
        );
    }

    #[test]
    fn excerpts_are_one_line_and_cut() {
        assert_eq!(excerpt("a\n  b\tc", 10), "a b c");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("abc", 3), "abc");
    }

    #[test]
    fn credential_headers_are_hidden_from_debug_prints() {
        let request = Request::get(Url::parse("http://127.0.0.1:9/q").expect("a URL"))
            .header("dd-api-key", "k1")
            .header("accept", "application/json");
        let built = request
            .build(&reqwest::Client::new())
            .and_then(|builder| builder.build().map_err(|error| error.to_string()))
            .expect("a request");
        let printed = format!("{:?}", built.headers());
        assert!(!printed.contains("k1"), "{printed}");
        assert!(printed.contains("application/json"), "{printed}");
        let ours = format!("{request:?}");
        assert!(!ours.contains("k1"), "{ours}");
        assert!(ours.contains("(\"dd-api-key\", \"<redacted>\")"), "{ours}");
        assert!(ours.contains("application/json"), "{ours}");
        assert_eq!(request.header_value("accept"), Some("application/json"));
    }
}
