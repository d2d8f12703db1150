//! A Prometheus metric's `authentication.sigv4` (Amazon Managed Prometheus): each query is
//! signed with AWS Signature Version 4 for service `aps`, with credentials found as AWS's
//! SDKs find them — the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`), then a web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` and
//! `AWS_ROLE_ARN`, as EKS gives a service account, exchanged at STS), then the shared
//! credentials file's profile; with `roleArn`, those are exchanged at STS for the role's
//! (`AssumeRole`). Credentials from STS are reused until a minute before they expire
//! ([`StsCache`]). Neither a secret key nor a session token ever appears in a message.
//!
//! Signing, the credential sources' parsing and STS's answer are pure; [`signed_get`] reads
//! the environment, files and STS.

use std::fmt::Write as _;

use hmac::{Hmac, KeyInit, Mac};
use reqwest::Url;
use sha2::{Digest, Sha256};

use super::kept::{Kept, key};
use crate::k8s::crd::SigV4Config;

/// Reads an environment variable (the daemon's, or a test's).
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// The service Amazon Managed Prometheus signs for.
pub const SERVICE: &str = "aps";

/// AWS credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

/// Never shows the secret or the token.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Temporary credentials are used until this long before their `Expiration`.
const EXPIRY_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Temporary credentials STS gave, reused until a minute before their `Expiration` instead
/// of asking STS again at every measurement (STS throttles). Keyed by the request —
/// endpoint, action and role, the web identity token, the credentials that signed it — so
/// rotated credentials or a new token ask again.
pub type StsCache = Kept<Credentials>;

/// The key of STS's answer to `form` at `endpoint`, signed by `signer`.
fn sts_key(endpoint: &str, form: &[(&str, &str)], signer: Option<&Credentials>) -> [u8; 32] {
    let signed_by = signer.map(|credentials| {
        [
            credentials.access_key_id.as_str(),
            credentials.secret_access_key.as_str(),
            credentials.session_token.as_deref().unwrap_or_default(),
        ]
    });
    let parts = form
        .iter()
        .flat_map(|(name, value)| [*name, *value])
        .chain(signed_by.into_iter().flatten());
    key(std::iter::once(endpoint).chain(parts))
}

/// Why `sigv4` settings cannot be used, if they cannot.
pub fn check(config: &SigV4Config) -> Result<(), String> {
    if config.role_arn.is_empty() || config.role_arn.starts_with("arn:") {
        Ok(())
    } else {
        Err(format!(
            "authentication.sigv4.roleArn {:?} is not an ARN (arn:aws:iam::<account>:role/<name>)",
            config.role_arn
        ))
    }
}

/// `text` percent-encoded as SigV4 wants: everything but `A-Z a-z 0-9 - _ . ~` (and `/`
/// when `keep_slash`) as `%XX`, upper-case.
fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && byte == b'/')
        {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The canonical query string of `url`: its pairs decoded, encoded again as SigV4 wants,
/// sorted by name then value, joined with `&`. A request must be sent with exactly this
/// query (see [`with_canonical_query`]).
fn canonical_query(url: &Url) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(name, value)| (uri_encode(&name, false), uri_encode(&value, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `url` with its query written as it is signed (`%20` for a space, never `+`).
#[must_use]
pub fn with_canonical_query(url: &Url) -> Url {
    let mut canonical = url.clone();
    let query = canonical_query(url);
    canonical.set_query((!query.is_empty()).then_some(query.as_str()));
    canonical
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// The headers that sign a request of `method` to `url` with `payload`, at `now` (UTC):
/// `x-amz-date`, `x-amz-security-token` for temporary credentials, and `authorization`.
/// The host and those headers are signed.
#[must_use]
pub fn sign(
    method: &str,
    url: &Url,
    payload: &[u8],
    credentials: &Credentials,
    region: &str,
    service: &str,
    now: jiff::Timestamp,
) -> Vec<(&'static str, String)> {
    let amz_date = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let date = &amz_date[..8];
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut headers = vec![("host", host), ("x-amz-date", amz_date.clone())];
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token", token.clone()));
    }
    let canonical_headers = headers
        .iter()
        .fold(String::new(), |mut out, (name, value)| {
            let _ = writeln!(out, "{name}:{}", value.trim());
            out
        });
    let signed_headers = headers
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(";");
    let path = if url.path().is_empty() {
        "/"
    } else {
        url.path()
    };
    let canonical_request = format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        uri_encode(path, true),
        canonical_query(url),
        hex(&Sha256::digest(payload))
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let key = [date, region, service, "aws4_request"].iter().fold(
        format!("AWS4{}", credentials.secret_access_key).into_bytes(),
        |key, part| hmac(&key, part),
    );
    let signature = hex(&hmac(&key, &string_to_sign));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    );
    // Host is signed but not returned: the HTTP client sends it from the URL.
    headers.remove(0);
    headers.push(("authorization", authorization));
    headers
}

/// A GET of `url` signed at `now` with the credentials `var`'s environment leads to, for
/// Amazon Managed Prometheus; its query is written as signed.
pub async fn signed_get(
    (http, sts): (&reqwest::Client, &StsCache),
    config: &SigV4Config,
    url: &Url,
    var: Env<'_>,
    now: jiff::Timestamp,
) -> Result<reqwest::RequestBuilder, String> {
    let region = region(config, var)?;
    let credentials = resolve_with(sts, config, &region, var, now).await?;
    let url = with_canonical_query(url);
    let headers = sign("GET", &url, b"", &credentials, &region, SERVICE, now);
    Ok(headers
        .into_iter()
        .fold(http.get(url), |request, (name, value)| {
            request.header(name, value)
        }))
}

/// Credentials from the environment's `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and
/// `AWS_SESSION_TOKEN`), if both are set.
fn from_environment(var: Env<'_>) -> Option<Credentials> {
    Some(Credentials {
        access_key_id: var("AWS_ACCESS_KEY_ID")?,
        secret_access_key: var("AWS_SECRET_ACCESS_KEY")?,
        session_token: var("AWS_SESSION_TOKEN"),
    })
}

/// Credentials of `profile` in a shared credentials file (INI: `[profile]` sections of
/// `key = value` lines; `#` and `;` start comments).
fn from_credentials_file(text: &str, profile: &str) -> Option<Credentials> {
    let mut section = None;
    let mut keys = std::collections::HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            section = Some(name.trim().to_owned());
            continue;
        }
        if section.as_deref() == Some(profile)
            && let Some((key, value)) = line.split_once('=')
        {
            keys.insert(key.trim().to_owned(), value.trim().to_owned());
        }
    }
    Some(Credentials {
        access_key_id: keys.remove("aws_access_key_id")?,
        secret_access_key: keys.remove("aws_secret_access_key")?,
        session_token: keys.remove("aws_session_token"),
    })
}

/// The text of XML element `name` in `xml`, with the five predefined entities decoded.
fn element(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    let text = &xml[start..end];
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// The temporary credentials in STS's answer to `AssumeRole` or `AssumeRoleWithWebIdentity`,
/// or why there are none (STS's error code, never the body).
fn read_sts_answer(
    status: reqwest::StatusCode,
    body: &str,
) -> Result<(Credentials, Option<jiff::Timestamp>), String> {
    if !status.is_success() {
        let code = element(body, "Code").map_or_else(String::new, |code| format!(" ({code})"));
        return Err(format!("STS answered {status}{code}"));
    }
    let credentials = element(body, "Credentials").ok_or("STS's answer has no Credentials")?;
    let expiration = element(&credentials, "Expiration").and_then(|text| text.parse().ok());
    let credentials = Credentials {
        access_key_id: element(&credentials, "AccessKeyId").ok_or("no AccessKeyId")?,
        secret_access_key: element(&credentials, "SecretAccessKey").ok_or("no SecretAccessKey")?,
        session_token: element(&credentials, "SessionToken"),
    };
    Ok((credentials, expiration))
}

/// The STS endpoint: `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, else the region's.
fn sts_endpoint(var: Env<'_>, region: &str) -> String {
    var("AWS_ENDPOINT_URL_STS")
        .or_else(|| var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"))
}

/// The region of `config`, else the environment's.
pub fn region(config: &SigV4Config, var: Env<'_>) -> Result<String, String> {
    if !config.region.is_empty() {
        return Ok(config.region.clone());
    }
    var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or_else(|| "authentication.sigv4 needs a region (or AWS_REGION)".to_owned())
}

/// The daemon's environment, empty values counted as unset.
pub fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The credentials to sign with: the daemon's, found as AWS's SDKs find them, exchanged at
/// STS for the role's when `roleArn` is set (`AssumeRole`, signed with the daemon's).
pub(super) async fn resolve_with(
    sts: &StsCache,
    config: &SigV4Config,
    region: &str,
    var: Env<'_>,
    now: jiff::Timestamp,
) -> Result<Credentials, String> {
    let own = own_credentials(sts, config, region, var, now).await?;
    if config.role_arn.is_empty() {
        return Ok(own);
    }
    let form = [
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", config.role_arn.as_str()),
        ("RoleSessionName", "tidegate"),
    ];
    let endpoint = sts_endpoint(var, region);
    ask_sts(sts, &endpoint, &form, (Some((&own, region)), now)).await
}

/// The daemon's own credentials, found as AWS's SDKs find them.
async fn own_credentials(
    sts: &StsCache,
    config: &SigV4Config,
    region: &str,
    var: Env<'_>,
    now: jiff::Timestamp,
) -> Result<Credentials, String> {
    if let Some(credentials) = from_environment(var) {
        return Ok(credentials);
    }
    if let (Some(token_file), Some(role)) =
        (var("AWS_WEB_IDENTITY_TOKEN_FILE"), var("AWS_ROLE_ARN"))
    {
        let token = std::fs::read_to_string(&token_file)
            .map_err(|error| format!("read the web identity token {token_file}: {error}"))?;
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", role.as_str()),
            ("RoleSessionName", "tidegate"),
            ("WebIdentityToken", token.trim()),
        ];
        return ask_sts(sts, &sts_endpoint(var, region), &form, (None, now)).await;
    }
    let file = var("AWS_SHARED_CREDENTIALS_FILE")
        .or_else(|| var("HOME").map(|home| format!("{home}/.aws/credentials")));
    let profile = if config.profile.is_empty() {
        var("AWS_PROFILE").unwrap_or_else(|| "default".to_owned())
    } else {
        config.profile.clone()
    };
    if let Some(file) = file
        && let Ok(text) = std::fs::read_to_string(&file)
    {
        return from_credentials_file(&text, &profile)
            .ok_or_else(|| format!("profile {profile:?} of {file} has no AWS credentials"));
    }
    Err("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN) or a shared credentials file".to_owned())
}

/// Temporary credentials from STS for the `form` of an `AssumeRole…` action, the request
/// signed (service `sts`) at `now` with `signing`'s credentials and region when given
/// (`AssumeRoleWithWebIdentity` is not signed: the token is the proof); those `sts` kept
/// from an earlier answer while they are valid.
async fn ask_sts(
    sts: &StsCache,
    endpoint: &str,
    form: &[(&str, &str)],
    (signing, now): (Option<(&Credentials, &str)>, jiff::Timestamp),
) -> Result<Credentials, String> {
    let key = sts_key(endpoint, form, signing.map(|(credentials, _)| credentials));
    if let Some(credentials) = sts.get(&key, now) {
        return Ok(credentials);
    }
    let url = Url::parse(endpoint).map_err(|error| format!("STS endpoint: {error}"))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let mut encoder = Url::parse("form:").expect("a URL");
    encoder.query_pairs_mut().extend_pairs(form);
    let body = encoder.query().unwrap_or_default().to_owned();
    let mut request = reqwest::Client::new()
        .post(url.clone())
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some((credentials, region)) = signing {
        for (name, value) in sign(
            "POST",
            &url,
            body.as_bytes(),
            credentials,
            region,
            "sts",
            now,
        ) {
            request = request.header(name, value);
        }
    }
    let response = request.body(body).send().await.map_err(|error| {
        format!(
            "ask STS ({host}) for credentials: {}",
            crate::k8s::describe_error(&error.without_url())
        )
    })?;
    let status = response.status();
    let body = super::read_body(response, &host).await?;
    let (credentials, expiration) = read_sts_answer(status, &body)?;
    if let Some(until) = expiration.and_then(|time| time.checked_sub(EXPIRY_MARGIN).ok()) {
        sts.keep(key, &credentials, (until, now));
    }
    Ok(credentials)
}

#[cfg(test)]
mod tests;
