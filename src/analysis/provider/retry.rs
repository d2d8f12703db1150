//! Asking a hosted metrics API again when it is rate-limited (429) or failing (5xx), within
//! the measurement's timeout: the wait is the server's `Retry-After` (seconds or an HTTP date)
//! or `X-RateLimit-Reset` (Datadog's seconds until the limit resets), else 0.5 s doubling up
//! to 8 s. When the next wait would pass the deadline, the last answer is returned for the
//! provider to report.
//!
//! [`backoff`] decides; [`send`] sends and sleeps.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// The first wait without a hint from the server.
const FIRST_WAIT: Duration = Duration::from_millis(500);

/// The longest wait without a hint from the server.
const LONGEST_WAIT: Duration = Duration::from_secs(8);

/// Whether an answer with `status` may be asked for again: rate-limited, or a server error
/// that may pass (not 501 Not Implemented or 505 HTTP Version Not Supported).
#[must_use]
pub fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED)
}

/// How long to wait before the `attempt`th retry (0 for the first) after an answer with
/// `status` and `headers` at `now`, or `None` when the answer is final.
#[must_use]
pub fn backoff(
    status: StatusCode,
    headers: &HeaderMap,
    attempt: u32,
    now: jiff::Timestamp,
) -> Option<Duration> {
    if !retryable(status) {
        return None;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    if let Some(hint) = header("retry-after") {
        if let Ok(seconds) = hint.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(when) = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(hint) {
            return Some(
                when.duration_since(now)
                    .try_into()
                    .unwrap_or(Duration::ZERO),
            );
        }
    }
    if status == StatusCode::TOO_MANY_REQUESTS
        && let Some(seconds) = header("x-ratelimit-reset").and_then(|text| text.parse::<u64>().ok())
    {
        return Some(Duration::from_secs(seconds));
    }
    Some(
        FIRST_WAIT
            .saturating_mul(2_u32.saturating_pow(attempt))
            .min(LONGEST_WAIT),
    )
}

/// Sends `request` until its answer is final or waiting for another would pass `deadline`;
/// the last answer is returned either way. `host` names the server in errors.
pub async fn send(
    request: reqwest::RequestBuilder,
    host: &str,
    deadline: Instant,
) -> Result<reqwest::Response, String> {
    let mut attempt = 0;
    loop {
        let copy = request
            .try_clone()
            .ok_or_else(|| format!("the request to {host} cannot be repeated"))?;
        let response = copy.send().await.map_err(|error| {
            format!(
                "request to {host}: {}",
                crate::k8s::describe_error(&error.without_url())
            )
        })?;
        let status = response.status();
        let Some(wait) = backoff(status, response.headers(), attempt, jiff::Timestamp::now())
        else {
            return Ok(response);
        };
        if Instant::now() + wait >= deadline {
            return Ok(response);
        }
        tracing::debug!(%host, %status, wait_ms = wait.as_millis(), "asking again");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;
    use crate::recorder::Recorder;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    reqwest::header::HeaderName::from_static(name),
                    HeaderValue::from_str(value).expect("a header"),
                )
            })
            .collect()
    }

    fn code(code: u16) -> StatusCode {
        StatusCode::from_u16(code).expect("a status")
    }

    #[test]
    fn rate_limits_and_passing_server_errors_are_asked_again() {
        for status in [429, 500, 502, 503, 504, 599] {
            assert!(retryable(code(status)), "{status}");
        }
        for status in [200, 204, 301, 400, 401, 403, 404, 422, 501, 505] {
            assert!(!retryable(code(status)), "{status}");
        }
    }

    #[test]
    fn the_server_s_hint_sets_the_wait_else_it_doubles_up_to_a_cap() {
        let now: jiff::Timestamp = "2026-12-08T10:00:00Z".parse().expect("a time");
        let none = HeaderMap::new();
        let waits: Vec<_> = (0..7)
            .map(|attempt| backoff(code(503), &none, attempt, now))
            .collect();
        let ms = |ms| Some(Duration::from_millis(ms));
        assert_eq!(
            waits,
            [
                ms(500),
                ms(1000),
                ms(2000),
                ms(4000),
                ms(8000),
                ms(8000),
                ms(8000)
            ]
        );
        assert_eq!(backoff(code(200), &none, 0, now), None);
        assert_eq!(
            backoff(code(400), &headers(&[("retry-after", "1")]), 0, now),
            None
        );
        assert_eq!(
            backoff(code(429), &headers(&[("retry-after", " 3 ")]), 5, now),
            ms(3000)
        );
        assert_eq!(
            backoff(
                code(503),
                &headers(&[("retry-after", "Tue, 08 Dec 2026 10:00:07 GMT")]),
                0,
                now
            ),
            ms(7000)
        );
        assert_eq!(
            backoff(
                code(503),
                &headers(&[("retry-after", "Tue, 08 Dec 2026 09:59:00 GMT")]),
                0,
                now
            ),
            ms(0)
        );
        assert_eq!(
            backoff(code(429), &headers(&[("x-ratelimit-reset", "2")]), 0, now),
            ms(2000)
        );
        // Datadog's reset applies to rate limits only; an unreadable hint falls back.
        assert_eq!(
            backoff(code(503), &headers(&[("x-ratelimit-reset", "2")]), 1, now),
            ms(1000)
        );
        assert_eq!(
            backoff(code(429), &headers(&[("retry-after", "soon")]), 0, now),
            ms(500)
        );
    }

    #[tokio::test]
    async fn answers_are_asked_for_again_until_final_or_out_of_time() {
        let json = || vec![("content-type", "application/json".to_owned())];
        let hint = || vec![("retry-after", "0".to_owned())];
        let (recorder, url) = Recorder::start(vec![
            (429, hint(), serde_json::json!({})),
            (503, hint(), serde_json::json!({})),
            (200, json(), serde_json::json!({"ok": true})),
        ])
        .await;
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        let response = send(client.get(format!("{url}/q")), "metrics.test", deadline)
            .await
            .expect("an answer");
        assert_eq!(response.status(), 200);
        assert_eq!(recorder.take().len(), 3);

        // Out of time: the rate-limited answer itself comes back, asked once.
        let (recorder, url) = Recorder::start(vec![(
            429,
            vec![("retry-after", "60".to_owned())],
            serde_json::json!({}),
        )])
        .await;
        let response = send(client.get(format!("{url}/q")), "metrics.test", deadline)
            .await
            .expect("an answer");
        assert_eq!(response.status(), 429);
        assert_eq!(recorder.take().len(), 1);
    }
}
