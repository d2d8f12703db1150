//! A provider's `authentication`: OAuth2 client credentials (RFC 6749, section 4.4). Before
//! each measurement a token is asked of `tokenUrl` — the client authenticating with HTTP
//! Basic, and, if the server refuses that, with its credentials in the form, as Go's
//! `oauth2` package does for Argo — and sent as `Authorization: Bearer`. The token endpoint
//! must pass the analysis host allow-list like the metric's own server. Neither the client
//! secret nor a token ever appears in a message.
//!
//! The request shaping and the answer's reading are pure; [`bearer`] sends.

use reqwest::StatusCode;
use serde::Deserialize;

use super::kept::{Kept, key};
use super::{Context, read_body};
use crate::k8s::crd::{Authentication, OAuth2Config};

/// Why an `authentication` cannot be used, if it cannot: checked when a run starts and by
/// `tidegate lint`.
pub fn check(authentication: Option<&Authentication>) -> Result<(), String> {
    let Some(authentication) = authentication else {
        return Ok(());
    };
    let Some(oauth2) = &authentication.oauth2 else {
        return Ok(());
    };
    let missing: Vec<&str> = [
        ("tokenUrl", oauth2.token_url.is_empty()),
        ("clientId", oauth2.client_id.is_empty()),
        ("clientSecret", oauth2.client_secret.is_empty()),
    ]
    .into_iter()
    .filter_map(|(field, empty)| empty.then_some(field))
    .collect();
    if !missing.is_empty() {
        return Err(format!(
            "authentication.oauth2 needs {}",
            missing.join(", ")
        ));
    }
    reqwest::Url::parse(&oauth2.token_url)
        .map(drop)
        .map_err(|error| format!("authentication.oauth2.tokenUrl: {error}"))
}

/// Where the client's credentials go in the token request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientAuth {
    /// `Authorization: Basic` (RFC 6749, section 2.3.1: servers must support it).
    Basic,
    /// `client_id` and `client_secret` in the form.
    Form,
}

/// The form of a client-credentials token request.
fn form(config: &OAuth2Config, style: ClientAuth) -> Vec<(&'static str, String)> {
    let mut form = vec![("grant_type", "client_credentials".to_owned())];
    if !config.scopes.is_empty() {
        form.push(("scope", config.scopes.join(" ")));
    }
    if style == ClientAuth::Form {
        form.push(("client_id", config.client_id.clone()));
        form.push(("client_secret", config.client_secret.clone()));
    }
    form
}

/// A token endpoint's answer (RFC 6749, sections 5.1 and 5.2).
#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    error: String,
}

/// A token is used until this long before it expires (Go's oauth2 `expiryDelta`).
const EXPIRY_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);

/// Tokens fetched, reused until `EXPIRY_MARGIN` before they expire, as Go's oauth2 reuses
/// them; one without `expires_in` is not kept. Keyed by the token endpoint, the client, its
/// secret and the scopes, so a changed secret fetches a new token.
pub type TokenCache = Kept<String>;

fn token_key(config: &OAuth2Config) -> [u8; 32] {
    let client = [&config.token_url, &config.client_id, &config.client_secret];
    key(client.into_iter().chain(&config.scopes).map(String::as_str))
}

/// The bearer token of a successful answer and its lifetime in seconds, or why there is none
/// (never quoting the body, which may hold a token).
fn read_token(status: StatusCode, body: &str) -> Result<(String, Option<u64>), String> {
    let answer: Option<TokenAnswer> = serde_json::from_str(body).ok();
    if !status.is_success() {
        let error = answer
            .map(|answer| answer.error)
            .filter(|error| !error.is_empty())
            .map_or_else(String::new, |error| format!(" ({error})"));
        return Err(format!("the token endpoint answered {status}{error}"));
    }
    let answer = answer.ok_or("the token endpoint's answer is not JSON")?;
    if answer.access_token.is_empty() {
        return Err("the token endpoint's answer has no access_token".to_owned());
    }
    if !answer.token_type.is_empty() && !answer.token_type.eq_ignore_ascii_case("bearer") {
        return Err(format!(
            "the token endpoint gave a {:?} token, not a bearer token",
            answer.token_type
        ));
    }
    Ok((answer.access_token, answer.expires_in))
}

/// The bearer token to send, or `None` without OAuth2.
pub async fn bearer(
    context: &Context<'_>,
    authentication: Option<&Authentication>,
    insecure: bool,
) -> Result<Option<String>, String> {
    check(authentication)?;
    let Some(config) = authentication.and_then(|auth| auth.oauth2.as_ref()) else {
        return Ok(None);
    };
    context.guard.check(&config.token_url)?;
    let key = token_key(config);
    let now = jiff::Timestamp::now();
    if let Some(token) = context.tokens.get(&key, now) {
        return Ok(Some(token));
    }
    let host = super::host_of(&config.token_url);
    let http = context.http_client(insecure);
    let mut last = String::new();
    for style in [ClientAuth::Basic, ClientAuth::Form] {
        let mut request = http.post(&config.token_url).form(&form(config, style));
        if style == ClientAuth::Basic {
            request = request.basic_auth(&config.client_id, Some(&config.client_secret));
        }
        let response = request.send().await.map_err(|error| {
            format!(
                "ask {host} for a token: {}",
                crate::k8s::describe_error(&error.without_url())
            )
        })?;
        let status = response.status();
        let body = read_body(response, &host).await?;
        match read_token(status, &body) {
            Ok((token, expires_in)) => {
                let lifetime = expires_in.and_then(|seconds| i64::try_from(seconds).ok());
                let until = lifetime
                    .map(jiff::SignedDuration::from_secs)
                    .and_then(|lifetime| now.checked_add(lifetime - EXPIRY_MARGIN).ok());
                if let Some(until) = until {
                    context.tokens.keep(key, &token, (until, now));
                }
                return Ok(Some(token));
            }
            // Refused Basic: try the form, as Go's oauth2 package does.
            Err(error)
                if style == ClientAuth::Basic
                    && matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED) =>
            {
                last = error;
            }
            Err(error) => return Err(format!("OAuth2 token from {host}: {error}")),
        }
    }
    Err(format!("OAuth2 token from {host}: {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::Recorder;

    fn config() -> OAuth2Config {
        OAuth2Config {
            token_url: "https://auth.test/token".into(),
            client_id: "tidegate".into(),
            client_secret: "s3cret".into(),
            scopes: vec!["metrics:read".into(), "openid".into()],
        }
    }

    #[test]
    fn the_form_asks_for_client_credentials_with_the_scopes() {
        assert_eq!(
            form(&config(), ClientAuth::Basic),
            [
                ("grant_type", "client_credentials".to_owned()),
                ("scope", "metrics:read openid".to_owned()),
            ]
        );
        let in_form = form(&config(), ClientAuth::Form);
        assert_eq!(in_form[2], ("client_id", "tidegate".to_owned()));
        assert_eq!(in_form[3], ("client_secret", "s3cret".to_owned()));
        let unscoped = OAuth2Config {
            scopes: Vec::new(),
            ..config()
        };
        assert_eq!(form(&unscoped, ClientAuth::Basic).len(), 1);
    }

    #[test]
    fn answers_give_a_bearer_token_or_a_reason_without_secrets() {
        let ok = r#"{"access_token":"t0k3n","token_type":"Bearer","expires_in":3600}"#;
        assert_eq!(
            read_token(StatusCode::OK, ok),
            Ok(("t0k3n".to_owned(), Some(3600)))
        );
        assert_eq!(
            read_token(StatusCode::OK, r#"{"access_token":"t0k3n"}"#),
            Ok(("t0k3n".to_owned(), None))
        );
        let mac = r#"{"access_token":"t0k3n","token_type":"mac"}"#;
        let refused = read_token(StatusCode::OK, mac).unwrap_err();
        assert!(
            refused.contains("\"mac\" token") && !refused.contains("t0k3n"),
            "{refused}"
        );
        assert_eq!(
            read_token(StatusCode::UNAUTHORIZED, r#"{"error":"invalid_client"}"#),
            Err("the token endpoint answered 401 Unauthorized (invalid_client)".to_owned())
        );
        assert_eq!(
            read_token(StatusCode::BAD_GATEWAY, "<html>t0k3n</html>"),
            Err("the token endpoint answered 502 Bad Gateway".to_owned())
        );
        assert!(read_token(StatusCode::OK, "{}").is_err());
        assert!(read_token(StatusCode::OK, "t0k3n").is_err());
    }

    #[test]
    fn settings_are_checked() {
        let with = |oauth2: Option<OAuth2Config>, sigv4: bool| Authentication {
            oauth2,
            sigv4: sigv4.then(Default::default),
        };
        assert_eq!(check(None), Ok(()));
        assert_eq!(check(Some(&with(Some(config()), false))), Ok(()));
        assert_eq!(
            check(Some(&with(None, true))),
            Ok(()),
            "sigv4 is not oauth2's"
        );
        let empty = OAuth2Config::default();
        assert_eq!(
            check(Some(&with(Some(empty), false))),
            Err("authentication.oauth2 needs tokenUrl, clientId, clientSecret".to_owned())
        );
        let relative = OAuth2Config {
            token_url: "/token".into(),
            ..config()
        };
        assert!(check(Some(&with(Some(relative), false))).is_err());
        assert!(!format!("{:?}", config()).contains("s3cret"));
    }

    /// OAuth2 settings with the token endpoint at `url`.
    fn at(url: &str) -> Authentication {
        Authentication {
            oauth2: Some(OAuth2Config {
                token_url: format!("{url}/token"),
                ..config()
            }),
            sigv4: None,
        }
    }

    const FORM: &str = "grant_type=client_credentials&scope=metrics%3Aread+openid";

    fn token() -> serde_json::Value {
        serde_json::json!({"access_token": "t0k3n", "token_type": "Bearer"})
    }

    #[tokio::test]
    async fn the_client_authenticates_with_basic_first() {
        let harness = super::super::Harness::new();
        let (recorder, url) = Recorder::start(vec![(200, vec![], token())]).await;
        let got = bearer(&harness.context(), Some(&at(&url)), false).await;
        assert_eq!(got, Ok(Some("t0k3n".to_owned())));
        let seen = recorder.take();
        assert_eq!(seen.len(), 1, "{seen:#?}");
        assert_eq!(
            (seen[0].method.as_str(), seen[0].uri.as_str()),
            ("POST", "/token")
        );
        assert_eq!(
            seen[0].header("authorization"),
            ["Basic dGlkZWdhdGU6czNjcmV0"],
            "tidegate:s3cret"
        );
        assert_eq!(
            seen[0].header("content-type"),
            ["application/x-www-form-urlencoded"]
        );
        assert_eq!(seen[0].text, FORM);
    }

    #[tokio::test]
    async fn a_refused_basic_is_retried_with_the_credentials_in_the_form() {
        let harness = super::super::Harness::new();
        for refusal in [400, 401] {
            let invalid = serde_json::json!({"error": "invalid_client"});
            let (recorder, url) =
                Recorder::start(vec![(refusal, vec![], invalid), (200, vec![], token())]).await;
            let got = bearer(&harness.context(), Some(&at(&url)), false).await;
            assert_eq!(got, Ok(Some("t0k3n".to_owned())), "after {refusal}");
            let seen = recorder.take();
            assert_eq!(seen.len(), 2, "{seen:#?}");
            assert!(seen[1].header("authorization").is_empty(), "{seen:#?}");
            assert_eq!(
                seen[1].text,
                format!("{FORM}&client_id=tidegate&client_secret=s3cret")
            );
        }
    }

    #[tokio::test]
    async fn other_failures_are_not_retried_and_never_quote_the_answer() {
        let harness = super::super::Harness::new();
        let unavailable = serde_json::json!({"error": "temporarily_unavailable"});
        let no_token = serde_json::json!({"token_type": "Bearer"});
        let invalid = serde_json::json!({"error": "invalid_client"});
        let cases = [
            (
                vec![(503, vec![], unavailable)],
                "the token endpoint answered 503 Service Unavailable (temporarily_unavailable)",
            ),
            (
                vec![(200, vec![], no_token)],
                "the token endpoint's answer has no access_token",
            ),
            (
                vec![(401, vec![], invalid.clone()), (401, vec![], invalid)],
                "the token endpoint answered 401 Unauthorized (invalid_client)",
            ),
        ];
        for (script, reason) in cases {
            let requests = script.len();
            let (recorder, url) = Recorder::start(script).await;
            let got = bearer(&harness.context(), Some(&at(&url)), false).await;
            assert_eq!(got, Err(format!("OAuth2 token from 127.0.0.1: {reason}")));
            assert_eq!(recorder.take().len(), requests, "{reason}");
        }
    }

    #[tokio::test]
    async fn a_token_is_reused_until_shortly_before_it_expires_and_never_for_another_secret() {
        let harness = super::super::Harness::new();
        let lasting = serde_json::json!({"access_token": "t0k3n", "expires_in": 3600});
        let brief = serde_json::json!({"access_token": "br1ef", "expires_in": 10});
        let (recorder, url) = Recorder::start(vec![
            (200, vec![], lasting.clone()),
            (200, vec![], lasting),
            (200, vec![], brief.clone()),
            (200, vec![], brief),
        ])
        .await;
        let context = harness.context();
        let settings = at(&url);
        for _ in 0..3 {
            let got = bearer(&context, Some(&settings), false).await;
            assert_eq!(got, Ok(Some("t0k3n".to_owned())));
        }
        assert_eq!(recorder.take().len(), 1, "one token for an hour");

        let mut rotated = at(&url);
        if let Some(oauth2) = rotated.oauth2.as_mut() {
            oauth2.client_secret = "n3w".into();
        }
        let got = bearer(&context, Some(&rotated), false).await;
        assert_eq!(got, Ok(Some("t0k3n".to_owned())));
        assert_eq!(recorder.take().len(), 1, "a new secret asks again");

        let mut other = at(&url);
        if let Some(oauth2) = other.oauth2.as_mut() {
            oauth2.scopes = vec!["logs:read".into()];
        }
        for _ in 0..2 {
            let got = bearer(&context, Some(&other), false).await;
            assert_eq!(got, Ok(Some("br1ef".to_owned())));
        }
        assert_eq!(
            recorder.take().len(),
            2,
            "a token expiring within the margin is not kept"
        );
    }

    #[tokio::test]
    async fn a_token_without_a_lifetime_is_asked_for_each_time() {
        let harness = super::super::Harness::new();
        let (recorder, url) =
            Recorder::start(vec![(200, vec![], token()), (200, vec![], token())]).await;
        let context = harness.context();
        for _ in 0..2 {
            let got = bearer(&context, Some(&at(&url)), false).await;
            assert_eq!(got, Ok(Some("t0k3n".to_owned())));
        }
        assert_eq!(recorder.take().len(), 2);
    }

    #[tokio::test]
    async fn without_oauth2_or_outside_the_allowed_hosts_no_token_is_asked() {
        let harness = super::super::Harness::new();
        let (recorder, url) = Recorder::start(vec![(200, vec![], token())]).await;
        assert_eq!(bearer(&harness.context(), None, false).await, Ok(None));
        let elsewhere = at(&url.replace("127.0.0.1", "127.0.0.2"));
        let refused = bearer(&harness.context(), Some(&elsewhere), false).await;
        assert!(refused.is_err(), "{refused:?}");
        assert!(recorder.take().is_empty());
    }
}
