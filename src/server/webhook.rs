//! Push webhooks from GitHub, Gitea and GitLab: who sent it (by a valid signature or token
//! only), what was pushed, and which sources it concerns. Pure: headers and body in.
//!
//! GitHub signs with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`, Gitea with
//! `X-Gitea-Signature: <hex HMAC-SHA256>`, GitLab sends the secret itself in `X-Gitlab-Token`.
//! All comparisons are constant-time.

use aws_lc_rs::{constant_time, hmac};
use axum::http::HeaderMap;
use serde_json::Value;

use crate::config::SourceConfig;

/// The forge that sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forge {
    /// GitHub (or anything signing like it).
    GitHub,
    /// Gitea / Forgejo.
    Gitea,
    /// GitLab.
    GitLab,
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// No valid signature or token.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// Signed, but not a push event we can read.
    #[error("invalid payload: {0}")]
    Invalid(String),
}

/// A push: the repository's URLs and the reference that moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Push {
    /// Who sent it.
    pub forge: Forge,
    /// Every URL the payload gives for the repository (clone, ssh, web).
    pub urls: Vec<String>,
    /// The full reference name (`refs/heads/main`).
    pub reference: String,
}

/// Checks the request's signature or token against `secret` and says who sent it.
pub fn verify(headers: &HeaderMap, body: &[u8], secret: &[u8]) -> Result<Forge, HookError> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(token) = header("x-gitlab-token") {
        return constant_time::verify_slices_are_equal(token.as_bytes(), secret)
            .map(|()| Forge::GitLab)
            .map_err(|_| HookError::Unauthorized("X-Gitlab-Token does not match"));
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    if let Some(signature) = header("x-gitea-signature") {
        let tag = hex(signature).ok_or(HookError::Unauthorized("X-Gitea-Signature is not hex"))?;
        return hmac::verify(&key, body, &tag)
            .map(|()| Forge::Gitea)
            .map_err(|_| HookError::Unauthorized("X-Gitea-Signature does not match"));
    }
    if let Some(signature) = header("x-hub-signature-256") {
        let tag =
            signature
                .strip_prefix("sha256=")
                .and_then(hex)
                .ok_or(HookError::Unauthorized(
                    "X-Hub-Signature-256 is not sha256=<hex>",
                ))?;
        return hmac::verify(&key, body, &tag)
            .map(|()| Forge::GitHub)
            .map_err(|_| HookError::Unauthorized("X-Hub-Signature-256 does not match"));
    }
    Err(HookError::Unauthorized(
        "no X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token header",
    ))
}

/// The push in a verified request, or `None` for other events (ping, issues...).
pub fn parse_push(
    forge: Forge,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Push>, HookError> {
    let event = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    let is_push = match forge {
        Forge::GitHub => event("x-github-event") == "push" || event("x-gitea-event") == "push",
        Forge::Gitea => event("x-gitea-event") == "push" || event("x-github-event") == "push",
        Forge::GitLab => matches!(event("x-gitlab-event"), "Push Hook" | "Tag Push Hook"),
    };
    if !is_push {
        return Ok(None);
    }
    let payload: Value = serde_json::from_slice(body)
        .map_err(|error| HookError::Invalid(format!("not JSON: {error}")))?;
    let reference = payload["ref"]
        .as_str()
        .ok_or_else(|| HookError::Invalid("no \"ref\"".into()))?
        .to_owned();
    let fields: &[(&str, &str)] = match forge {
        Forge::GitHub | Forge::Gitea => &[
            ("repository", "clone_url"),
            ("repository", "ssh_url"),
            ("repository", "html_url"),
            ("repository", "git_url"),
        ],
        Forge::GitLab => &[
            ("project", "git_http_url"),
            ("project", "git_ssh_url"),
            ("project", "web_url"),
            ("repository", "git_http_url"),
            ("repository", "git_ssh_url"),
            ("repository", "homepage"),
        ],
    };
    let urls: Vec<String> = fields
        .iter()
        .filter_map(|(object, field)| payload[object][field].as_str())
        .map(ToOwned::to_owned)
        .collect();
    if urls.is_empty() {
        return Err(HookError::Invalid("no repository URL".into()));
    }
    Ok(Some(Push {
        forge,
        urls,
        reference,
    }))
}

/// Whether `push` moved the reference `source` follows.
#[must_use]
pub fn concerns(source: &SourceConfig, push: &Push) -> bool {
    let wanted = comparable_url(&source.url);
    let same_repository = push.urls.iter().any(|url| comparable_url(url) == wanted);
    let reference = source.reference.as_str();
    let same_reference = if reference.starts_with("refs/") {
        push.reference == reference
    } else {
        push.reference.strip_prefix("refs/heads/") == Some(reference)
            || push.reference.strip_prefix("refs/tags/") == Some(reference)
    };
    same_repository && same_reference
}

/// `host/path` of a repository URL, whatever the scheme, user, `.git` suffix or case of host.
fn comparable_url(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    let scp_like = if url.contains("://") {
        None
    } else {
        rest.split_once(':')
    };
    let (host, path) = scp_like
        .or_else(|| rest.split_once('/'))
        .unwrap_or((rest, ""));
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let path = path
        .trim_matches('/')
        .trim_end_matches(".git")
        .trim_matches('/');
    format!("{host}/{path}")
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use axum::http::HeaderValue;

    use super::*;

    const SECRET: &[u8] = b"topsecret";

    fn sign(body: &[u8]) -> String {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, SECRET), body);
        tag.as_ref().iter().fold(String::new(), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn source(url: &str, reference: &str) -> SourceConfig {
        serde_json::from_value(serde_json::json!({"name": "s", "url": url, "ref": reference}))
            .unwrap()
    }

    const GITHUB_PUSH: &str = r#"{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/acme/shop.git","ssh_url":"git@github.com:acme/shop.git","html_url":"https://github.com/acme/shop"}}"#;

    #[test]
    fn github_signatures_are_checked() {
        let body = GITHUB_PUSH.as_bytes();
        let good = headers(&[
            ("x-github-event", "push"),
            ("x-hub-signature-256", &format!("sha256={}", sign(body))),
        ]);
        assert_eq!(verify(&good, body, SECRET), Ok(Forge::GitHub));
        let push = parse_push(Forge::GitHub, &good, body).unwrap().unwrap();
        assert_eq!(push.reference, "refs/heads/main");
        assert_eq!(
            verify(&good, b"tampered", SECRET),
            Err(HookError::Unauthorized(
                "X-Hub-Signature-256 does not match"
            ))
        );
        assert!(verify(&good, body, b"other secret").is_err());
        assert!(
            verify(
                &headers(&[("x-hub-signature-256", "sha1=00")]),
                body,
                SECRET
            )
            .is_err()
        );
        assert!(verify(&headers(&[("x-github-event", "push")]), body, SECRET).is_err());
    }

    #[test]
    fn gitea_and_gitlab_are_checked_their_way() {
        let body = br#"{"ref":"refs/heads/main","repository":{"clone_url":"http://127.0.0.1:3000/acme/shop.git"}}"#;
        let gitea = headers(&[
            ("x-gitea-event", "push"),
            ("x-gitea-signature", &sign(body)),
        ]);
        assert_eq!(verify(&gitea, body, SECRET), Ok(Forge::Gitea));
        assert!(
            verify(
                &headers(&[("x-gitea-signature", &sign(b"x"))]),
                body,
                SECRET
            )
            .is_err()
        );
        let gitlab_body = br#"{"ref":"refs/tags/v2","project":{"git_http_url":"https://gitlab.example.com/acme/shop.git"}}"#;
        let gitlab = headers(&[
            ("x-gitlab-event", "Tag Push Hook"),
            ("x-gitlab-token", "topsecret"),
        ]);
        assert_eq!(verify(&gitlab, gitlab_body, SECRET), Ok(Forge::GitLab));
        assert_eq!(
            parse_push(Forge::GitLab, &gitlab, gitlab_body)
                .unwrap()
                .unwrap()
                .reference,
            "refs/tags/v2"
        );
        assert!(
            verify(
                &headers(&[("x-gitlab-token", "topsecreT")]),
                gitlab_body,
                SECRET
            )
            .is_err()
        );
    }

    #[test]
    fn other_events_and_bad_payloads() {
        let ping = headers(&[("x-github-event", "ping")]);
        assert_eq!(parse_push(Forge::GitHub, &ping, b"{}"), Ok(None));
        let push = headers(&[("x-github-event", "push")]);
        assert!(matches!(
            parse_push(Forge::GitHub, &push, b"not json"),
            Err(HookError::Invalid(_))
        ));
        assert!(matches!(
            parse_push(Forge::GitHub, &push, br#"{"ref":"refs/heads/main"}"#),
            Err(HookError::Invalid(_))
        ));
    }

    #[test]
    fn pushes_concern_sources_of_the_same_repository_and_reference() {
        let push = parse_push(
            Forge::GitHub,
            &headers(&[("x-github-event", "push")]),
            GITHUB_PUSH.as_bytes(),
        )
        .unwrap()
        .unwrap();
        assert!(concerns(
            &source("https://github.com/acme/shop.git", "main"),
            &push
        ));
        assert!(concerns(
            &source("https://GitHub.com/acme/shop", "refs/heads/main"),
            &push
        ));
        assert!(concerns(
            &source("ssh://git@github.com/acme/shop.git", "main"),
            &push
        ));
        assert!(concerns(
            &source("git@github.com:acme/shop.git", "main"),
            &push
        ));
        assert!(!concerns(
            &source("https://github.com/acme/shop.git", "release"),
            &push
        ));
        assert!(!concerns(
            &source("https://github.com/acme/shopfront.git", "main"),
            &push
        ));
        assert!(!concerns(
            &source("https://github.com/acme/shop.git", &"a".repeat(40)),
            &push
        ));
    }

    mod never_panics {
        use proptest::prelude::*;

        use super::*;
        use crate::arbitrary;

        fn forge() -> impl Strategy<Value = Forge> {
            prop_oneof![Just(Forge::GitHub), Just(Forge::Gitea), Just(Forge::GitLab)]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn on_arbitrary_bodies(forge in forge(), body in arbitrary::bytes()) {
                let pushes = headers(&[("x-github-event", "push"), ("x-gitea-event", "push"), ("x-gitlab-event", "Push Hook")]);
                let _ = parse_push(forge, &pushes, &body);
                let _ = verify(&pushes, &body, SECRET);
            }

            #[test]
            fn on_arbitrary_json(forge in forge(), value in arbitrary::value()) {
                let pushes = headers(&[("x-github-event", "push"), ("x-gitea-event", "push"), ("x-gitlab-event", "Push Hook")]);
                let body = serde_json::to_vec(&value).unwrap();
                let _ = parse_push(forge, &pushes, &body);
                let shaped = serde_json::json!({"ref": value, "repository": {"clone_url": value}, "project": value});
                let _ = parse_push(forge, &pushes, &serde_json::to_vec(&shaped).unwrap());
            }

            #[test]
            fn on_arbitrary_signature_headers(signature in arbitrary::text(), body in arbitrary::bytes()) {
                if let Ok(value) = HeaderValue::from_str(&signature) {
                    let mut map = HeaderMap::new();
                    map.insert("x-hub-signature-256", value.clone());
                    map.insert("x-gitea-signature", value.clone());
                    map.insert("x-gitlab-token", value);
                    let _ = verify(&map, &body, SECRET);
                }
            }
        }
    }
}
