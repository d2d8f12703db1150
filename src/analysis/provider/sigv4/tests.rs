//! The signer against AWS's published SigV4 test suite, the credential sources, STS's answers,
//! and a signed query as a local recorder receives it.

use std::collections::HashMap;

use reqwest::StatusCode;

use super::*;
use crate::recorder::Recorder;

/// The credentials of AWS's SigV4 test suite.
fn suite() -> Credentials {
    Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: None,
    }
}

/// The test suite's time: 2015-08-30T12:36:00Z.
fn suite_time() -> jiff::Timestamp {
    "2015-08-30T12:36:00Z".parse().expect("a timestamp")
}

/// The `authorization` header among signed headers.
fn authorization_of<'a>(headers: &'a [(&'static str, String)]) -> Option<&'a str> {
    headers
        .iter()
        .find(|(name, _)| *name == "authorization")
        .map(|(_, value)| value.as_str())
}

fn signed(url: &str, credentials: &Credentials) -> HashMap<&'static str, String> {
    let url = Url::parse(url).expect("a URL");
    sign(
        "GET",
        &url,
        b"",
        credentials,
        "us-east-1",
        "service",
        suite_time(),
    )
    .into_iter()
    .collect()
}

#[test]
fn aws_test_suite_get_vanilla() {
    let headers = signed("https://example.amazonaws.com/", &suite());
    assert_eq!(headers["x-amz-date"], "20150830T123600Z");
    assert_eq!(
        headers["authorization"],
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, \
         Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
    assert_eq!(headers.len(), 2, "{headers:?}");
}

#[test]
fn aws_test_suite_get_vanilla_query_order_key_case() {
    let headers = signed(
        "https://example.amazonaws.com/?Param2=value2&Param1=value1",
        &suite(),
    );
    assert!(
        headers["authorization"].ends_with(
            "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        ),
        "{headers:?}"
    );
}

#[test]
fn a_session_token_is_sent_and_signed() {
    let temporary = Credentials {
        session_token: Some("t0k3n".into()),
        ..suite()
    };
    let headers = signed("https://example.amazonaws.com/", &temporary);
    assert_eq!(headers["x-amz-security-token"], "t0k3n");
    assert!(
        headers["authorization"].contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"),
        "{headers:?}"
    );
    assert_ne!(
        headers["authorization"],
        signed("https://example.amazonaws.com/", &suite())["authorization"]
    );
    // The host's port, when not the scheme's, is signed with it.
    let on_port = signed("http://127.0.0.1:9090/", &suite());
    assert_ne!(
        on_port["authorization"],
        signed("http://127.0.0.1/", &suite())["authorization"]
    );
}

#[test]
fn queries_are_encoded_as_signed_never_with_plus_for_a_space() {
    assert_eq!(uri_encode("a b+c/d~e*", false), "a%20b%2Bc%2Fd~e%2A");
    assert_eq!(uri_encode("/api/v1/query", true), "/api/v1/query");
    let mut url = Url::parse("https://aps.test/api/v1/query").expect("a URL");
    url.query_pairs_mut()
        .append_pair("query", "sum(rate(errors[1m])) by (job)");
    assert!(url.query().unwrap_or_default().contains('+'), "{url}");
    let canonical = with_canonical_query(&url);
    assert_eq!(
        canonical.query(),
        Some("query=sum%28rate%28errors%5B1m%5D%29%29%20by%20%28job%29")
    );
    let pairs: Vec<_> = canonical.query_pairs().into_owned().collect();
    let original: Vec<_> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs, original, "the same query, written differently");
    let bare = Url::parse("https://aps.test/api/v1/query").expect("a URL");
    assert_eq!(with_canonical_query(&bare).as_str(), bare.as_str());
}

#[test]
fn a_role_must_be_an_arn_and_credentials_never_show_their_secrets() {
    assert_eq!(check(&SigV4Config::default()), Ok(()));
    let role = |arn: &str| SigV4Config {
        role_arn: arn.into(),
        ..SigV4Config::default()
    };
    assert_eq!(
        check(&role("arn:aws:iam::123456789012:role/prometheus")),
        Ok(())
    );
    assert!(
        check(&role("prometheus"))
            .unwrap_err()
            .contains("is not an ARN")
    );
    let debug = format!(
        "{:?}",
        Credentials {
            session_token: Some("t0k3n".into()),
            ..suite()
        }
    );
    assert!(
        debug.contains("AKIDEXAMPLE") && !debug.contains("wJalr") && !debug.contains("t0k3n"),
        "{debug}"
    );
}

/// An environment of `pairs`.
fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Sync + use<> {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    move |name: &str| vars.get(name).cloned()
}

#[test]
fn the_region_is_the_settings_then_the_environment_s() {
    let named = SigV4Config {
        region: "eu-west-1".into(),
        ..SigV4Config::default()
    };
    let both = env(&[
        ("AWS_REGION", "us-east-2"),
        ("AWS_DEFAULT_REGION", "ap-south-1"),
    ]);
    assert_eq!(region(&named, &both), Ok("eu-west-1".to_owned()));
    assert_eq!(
        region(&SigV4Config::default(), &both),
        Ok("us-east-2".to_owned())
    );
    let fallback = env(&[("AWS_DEFAULT_REGION", "ap-south-1")]);
    assert_eq!(
        region(&SigV4Config::default(), &fallback),
        Ok("ap-south-1".to_owned())
    );
    assert!(region(&SigV4Config::default(), &env(&[])).is_err());
}

#[test]
fn profiles_are_read_from_the_shared_credentials_file() {
    let file = "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key=s3cret\n\n\
                [prod]\n; another\naws_access_key_id = AKIDPROD\naws_secret_access_key = pr0d\naws_session_token = t0k3n\n\
                [partial]\naws_access_key_id = AKIDONLY\n";
    let default = from_credentials_file(file, "default").expect("default");
    assert_eq!(
        (
            default.access_key_id.as_str(),
            default.secret_access_key.as_str(),
            default.session_token
        ),
        ("AKIDDEFAULT", "s3cret", None)
    );
    let prod = from_credentials_file(file, "prod").expect("prod");
    assert_eq!(prod.session_token.as_deref(), Some("t0k3n"));
    assert_eq!(prod.secret_access_key, "pr0d");
    assert_eq!(from_credentials_file(file, "partial"), None);
    assert_eq!(from_credentials_file(file, "missing"), None);
}

const STS_ANSWER: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <SessionToken>AQoDYXdzE&amp;Pv</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2026-12-07T04:00:00Z</Expiration>
      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;

#[test]
fn sts_answers_give_temporary_credentials_or_the_error_code() {
    let (credentials, expiration) =
        read_sts_answer(StatusCode::OK, STS_ANSWER).expect("credentials");
    assert_eq!(expiration, Some("2026-12-07T04:00:00Z".parse().unwrap()));
    assert_eq!(credentials.access_key_id, "ASgeIAIOSFODNN7EXAMPLE");
    assert_eq!(
        credentials.secret_access_key,
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
    );
    assert_eq!(credentials.session_token.as_deref(), Some("AQoDYXdzE&Pv"));
    let refused = "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>\
                   <Message>token t0k3n expired</Message></Error></ErrorResponse>";
    assert_eq!(
        read_sts_answer(StatusCode::BAD_REQUEST, refused),
        Err("STS answered 400 Bad Request (InvalidIdentityToken)".to_owned())
    );
    assert!(read_sts_answer(StatusCode::OK, "<x/>").is_err());
}

/// The credentials `config` and the environment `var` lead to in `us-east-1`, nothing kept.
async fn resolve(config: &SigV4Config, var: Env<'_>) -> Result<Credentials, String> {
    resolve_with(&StsCache::default(), config, "us-east-1", var, suite_time()).await
}

#[tokio::test]
async fn the_environment_comes_first_then_a_web_identity_then_the_profile() {
    let config = SigV4Config::default();
    let from_env = env(&[
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "s3cret"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent"),
        ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
    ]);
    let found = resolve(&config, &from_env).await;
    assert_eq!(found.map(|c| c.access_key_id), Ok("AKIDENV".to_owned()));

    let dir = std::env::temp_dir().join(format!("tidegate-sigv4-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "eyJ.web.identity\n").expect("write the token");
    let (recorder, sts) = Recorder::start(vec![(200, vec![], STS_ANSWER)]).await;
    let token_path = token_file.display().to_string();
    let web_identity = env(&[
        ("AWS_WEB_IDENTITY_TOKEN_FILE", &token_path),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/prometheus"),
        ("AWS_ENDPOINT_URL_STS", &sts),
    ]);
    let found = resolve(&config, &web_identity).await;
    assert_eq!(
        found.map(|c| c.access_key_id),
        Ok("ASgeIAIOSFODNN7EXAMPLE".to_owned())
    );
    let seen = recorder.take();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method.as_str(), "POST");
    let form: HashMap<String, String> = Url::parse(&format!("http://form/?{}", seen[0].text))
        .expect("a form")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(form["Action"], "AssumeRoleWithWebIdentity");
    assert_eq!(form["RoleArn"], "arn:aws:iam::123456789012:role/prometheus");
    assert_eq!(form["WebIdentityToken"], "eyJ.web.identity");

    let credentials_file = dir.join("credentials");
    std::fs::write(
        &credentials_file,
        "[default]\naws_access_key_id=AKIDDEFAULT\naws_secret_access_key=a\n[prod]\naws_access_key_id=AKIDPROD\naws_secret_access_key=b\n",
    )
    .expect("write the credentials");
    let path = credentials_file.display().to_string();
    let shared = env(&[
        ("AWS_SHARED_CREDENTIALS_FILE", &path),
        ("AWS_PROFILE", "prod"),
    ]);
    let found = resolve(&config, &shared).await;
    assert_eq!(found.map(|c| c.access_key_id), Ok("AKIDPROD".to_owned()));
    let named = SigV4Config {
        profile: "default".into(),
        ..config.clone()
    };
    let found = resolve(&named, &shared).await;
    assert_eq!(found.map(|c| c.access_key_id), Ok("AKIDDEFAULT".to_owned()));
    let unknown = SigV4Config {
        profile: "staging".into(),
        ..config.clone()
    };
    let missing = resolve(&unknown, &shared).await.unwrap_err();
    assert!(missing.contains("profile \"staging\""), "{missing}");
    assert!(resolve(&config, &env(&[])).await.is_err());
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[tokio::test]
async fn a_signed_query_reaches_the_server_as_it_was_signed() {
    let (recorder, url) = Recorder::start(vec![(200, vec![], "{}")]).await;
    let mut query = Url::parse(&format!("{url}/workspaces/ws-1/api/v1/query")).expect("a URL");
    query
        .query_pairs_mut()
        .append_pair("query", "sum(up) by (job)");
    let config = SigV4Config {
        region: "eu-west-1".into(),
        ..SigV4Config::default()
    };
    let vars = env(&[
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_SESSION_TOKEN", "t0k3n"),
    ]);
    let request = signed_get(
        (&reqwest::Client::new(), &StsCache::default()),
        &config,
        &query,
        &vars,
        suite_time(),
    )
    .await
    .expect("a signed request");
    request.send().await.expect("sent");
    let seen = recorder.take();
    assert_eq!(
        seen[0].uri,
        "/workspaces/ws-1/api/v1/query?query=sum%28up%29%20by%20%28job%29"
    );
    assert_eq!(seen[0].header("x-amz-date"), ["20150830T123600Z"]);
    assert_eq!(seen[0].header("x-amz-security-token"), ["t0k3n"]);
    // What the server receives verifies: the same request signed again gives the same header.
    let received = Url::parse(&format!("{url}{}", seen[0].uri)).expect("a URL");
    let temporary = Credentials {
        session_token: Some("t0k3n".into()),
        ..suite()
    };
    let expected = sign(
        "GET",
        &received,
        b"",
        &temporary,
        "eu-west-1",
        "aps",
        suite_time(),
    );
    let authorization = authorization_of(&expected);
    assert_eq!(
        seen[0].header("authorization").first().copied(),
        authorization
    );
    assert!(
        authorization.is_some_and(|value| value.contains("/20150830/eu-west-1/aps/aws4_request")),
        "{authorization:?}"
    );
}

#[tokio::test]
async fn a_role_is_assumed_at_sts_with_a_request_signed_by_the_daemon_s_credentials() {
    let answer = STS_ANSWER.replace("WithWebIdentity", "");
    let (recorder, sts) = Recorder::start(vec![(200, vec![], answer)]).await;
    let config = SigV4Config {
        role_arn: "arn:aws:iam::123456789012:role/prometheus".into(),
        ..SigV4Config::default()
    };
    let vars = env(&[
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_ENDPOINT_URL_STS", &sts),
    ]);
    let found = resolve_with(
        &StsCache::default(),
        &config,
        "eu-west-1",
        &vars,
        suite_time(),
    )
    .await;
    assert_eq!(
        found.map(|credentials| credentials.access_key_id),
        Ok("ASgeIAIOSFODNN7EXAMPLE".to_owned())
    );
    let seen = recorder.take();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].uri.as_str()),
        ("POST", "/")
    );
    assert_eq!(
        seen[0].text,
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fprometheus&RoleSessionName=tidegate"
    );
    assert_eq!(
        seen[0].header("content-type"),
        ["application/x-www-form-urlencoded"]
    );
    let expected = sign(
        "POST",
        &Url::parse(&sts).expect("a URL"),
        seen[0].text.as_bytes(),
        &suite(),
        "eu-west-1",
        "sts",
        suite_time(),
    );
    let authorization = authorization_of(&expected);
    assert_eq!(
        seen[0].header("authorization").first().copied(),
        authorization
    );
    assert!(
        authorization.is_some_and(|value| value.contains("/20150830/eu-west-1/sts/aws4_request")),
        "{authorization:?}"
    );
}

#[tokio::test]
async fn assumed_credentials_are_reused_until_a_minute_before_they_expire() {
    // STS_ANSWER's credentials expire at 04:00.
    let answer = STS_ANSWER.replace("WithWebIdentity", "");
    let (recorder, sts) = Recorder::start(vec![
        (200, vec![], answer.clone()),
        (200, vec![], answer.clone()),
        (200, vec![], answer),
    ])
    .await;
    let config = SigV4Config {
        role_arn: "arn:aws:iam::123456789012:role/prometheus".into(),
        ..SigV4Config::default()
    };
    let with_key = |secret: &str| {
        env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_ENDPOINT_URL_STS", &sts),
        ])
    };
    let cache = StsCache::default();
    let at = |time: &str| -> jiff::Timestamp { time.parse().expect("a time") };
    let daemon = with_key("s3cret");
    for time in ["2026-12-07T03:00:00Z", "2026-12-07T03:58:59Z"] {
        let found = resolve_with(&cache, &config, "eu-west-1", &daemon, at(time)).await;
        assert_eq!(
            found.map(|credentials| credentials.access_key_id),
            Ok("ASgeIAIOSFODNN7EXAMPLE".to_owned()),
            "{time}"
        );
    }
    assert_eq!(recorder.take().len(), 1, "one AssumeRole until 03:59");

    let rotated = with_key("n3w");
    let found = resolve_with(
        &cache,
        &config,
        "eu-west-1",
        &rotated,
        at("2026-12-07T03:00:00Z"),
    );
    assert!(found.await.is_ok());
    assert_eq!(recorder.take().len(), 1, "the daemon's new key asks again");

    let late = resolve_with(
        &cache,
        &config,
        "eu-west-1",
        &daemon,
        at("2026-12-07T03:59:00Z"),
    );
    assert!(late.await.is_ok());
    assert_eq!(
        recorder.take().len(),
        1,
        "asked again a minute before they expire"
    );
}
