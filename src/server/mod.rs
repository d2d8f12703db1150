//! The daemon's HTTP server (axum): health and readiness probes, Prometheus metrics, the Git
//! push webhook, and read-only views of each source's status and drift report.
//!
//! The views under `/api/` show live objects' diffs, so they are not open: with
//! `server.apiToken` configured they need `Authorization: Bearer <token>`; without it they
//! answer requests from loopback only. Health, readiness and metrics stay open; the webhook
//! is authenticated by its signature.
//!
//! In: shared state the daemon updates. Out: HTTP responses; a valid push wakes its sources.

mod webhook;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Notify, RwLock};

pub use webhook::{Forge, HookError, Push, concerns, parse_push, verify};

use crate::config::{SecretRef, SourceConfig};
use crate::metrics::{Metrics, WebhookLabels};
use crate::sync::{DriftReport, SourceStatus};

/// What the server shows of one source.
#[derive(Clone, Debug, Default)]
pub struct SourceView {
    /// The latest status.
    pub status: SourceStatus,
    /// The latest drift report.
    pub drift: Option<DriftReport>,
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Metrics to serve.
    pub metrics: Arc<Metrics>,
    /// Each source with the wake-up its loop waits on.
    pub sources: Arc<Vec<(SourceConfig, Arc<Notify>)>>,
    /// The webhook secret, read on each request (so it can be rotated).
    pub webhook_secret: Option<SecretRef>,
    /// Latest status and drift per source.
    pub views: Arc<RwLock<BTreeMap<String, SourceView>>>,
    /// Set once every source has been looked at once.
    pub ready: Arc<AtomicBool>,
    /// The bearer token `/api/` requires; without one, `/api/` answers loopback only.
    pub api_token: Option<SecretRef>,
}

/// The routes, with request bodies capped at `max_body_bytes` (413 beyond).
/// The router must be served with its peers' addresses
/// (`into_make_service_with_connect_info::<SocketAddr>()`).
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let api = Router::new()
        .route("/api/sources", get(sources))
        .route("/api/sources/{name}/drift", get(drift))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api_access,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/hooks/git", post(git_hook))
        .merge(api)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// Lets a request to `/api/` through when it carries the configured bearer token, or —
/// without a token configured — when it comes from loopback.
async fn api_access(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let verdict = match &state.api_token {
        None if peer.ip().to_canonical().is_loopback() => Ok(()),
        None => Err((
            StatusCode::FORBIDDEN,
            "the API answers loopback only: set server.apiToken to read it from elsewhere\n",
        )),
        Some(token) => match token.read() {
            Ok(token) => {
                let given = request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.strip_prefix("Bearer "))
                    .unwrap_or_default();
                if given.len() == token.expose().len()
                    && aws_lc_rs::constant_time::verify_slices_are_equal(
                        given.as_bytes(),
                        token.expose().as_bytes(),
                    )
                    .is_ok()
                {
                    Ok(())
                } else {
                    Err((
                        StatusCode::UNAUTHORIZED,
                        "the API needs Authorization: Bearer <server.apiToken>\n",
                    ))
                }
            }
            Err(error) => {
                tracing::error!(%error, "cannot read the API token");
                Err((StatusCode::SERVICE_UNAVAILABLE, "API token unavailable\n"))
            }
        },
    };
    match verdict {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        "ready\n".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: sources not synced yet\n",
        )
            .into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn git_hook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let count = |result: &str| {
        state
            .metrics
            .webhooks
            .get_or_create(&WebhookLabels {
                result: result.to_owned(),
            })
            .inc()
    };
    let Some(secret) = state.webhook_secret.as_ref() else {
        count("disabled");
        return (
            StatusCode::NOT_FOUND,
            "webhooks are disabled: set webhook.secret in the configuration\n",
        )
            .into_response();
    };
    let secret = match secret.read() {
        Ok(secret) => secret,
        Err(error) => {
            tracing::error!(%error, "cannot read the webhook secret");
            count("error");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "webhook secret unavailable\n",
            )
                .into_response();
        }
    };
    let forge = match verify(&headers, &body, secret.expose().as_bytes()) {
        Ok(forge) => forge,
        Err(error) => {
            tracing::warn!(%error, "webhook refused");
            count("unauthorized");
            return (StatusCode::UNAUTHORIZED, format!("{error}\n")).into_response();
        }
    };
    let push = match parse_push(forge, &headers, &body) {
        Ok(Some(push)) => push,
        Ok(None) => {
            count("ignored");
            return (StatusCode::OK, "not a push: nothing to do\n").into_response();
        }
        Err(error) => {
            count("invalid");
            return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response();
        }
    };
    let woken: Vec<&str> = state
        .sources
        .iter()
        .filter(|(source, _)| concerns(source, &push))
        .map(|(source, wake)| {
            wake.notify_one();
            source.name.as_str()
        })
        .collect();
    tracing::info!(?forge, reference = %push.reference, sources = ?woken, "push received");
    count("accepted");
    (
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({ "sources": woken })),
    )
        .into_response()
}

async fn sources(State(state): State<AppState>) -> Response {
    let views = state.views.read().await;
    let statuses: Vec<&SourceStatus> = views.values().map(|view| &view.status).collect();
    axum::Json(serde_json::to_value(statuses).expect("statuses serialize")).into_response()
}

#[derive(serde::Deserialize)]
struct DriftQuery {
    #[serde(default)]
    format: Option<String>,
}

async fn drift(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<DriftQuery>,
) -> Response {
    let views = state.views.read().await;
    let Some(report) = views.get(&name).and_then(|view| view.drift.as_ref()) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no drift report for source {name:?} yet\n"),
        )
            .into_response();
    };
    match query.format.as_deref().unwrap_or("json") {
        "text" => report.to_text().into_response(),
        "markdown" | "md" => (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            report.to_markdown(),
        )
            .into_response(),
        "json" => {
            axum::Json(serde_json::to_value(report).expect("reports serialize")).into_response()
        }
        other => (
            StatusCode::BAD_REQUEST,
            format!("unknown format {other:?}: use json, text or markdown\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::extract::connect_info::MockConnectInfo;
    use tower::ServiceExt;

    use super::*;

    fn state(token: Option<&std::path::Path>) -> AppState {
        AppState {
            metrics: Arc::default(),
            sources: Arc::default(),
            webhook_secret: None,
            views: Arc::default(),
            ready: Arc::new(AtomicBool::new(true)),
            api_token: token.map(|path| SecretRef {
                file: Some(path.to_path_buf()),
                env: None,
            }),
        }
    }

    async fn status(state: AppState, peer: &str, path: &str, bearer: Option<&str>) -> StatusCode {
        let peer: SocketAddr = peer.parse().unwrap();
        let app = router(state, 1 << 20).layer(MockConnectInfo(peer));
        let mut request = axum::http::Request::builder().uri(path);
        if let Some(bearer) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {bearer}"));
        }
        app.oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn without_a_token_the_api_answers_loopback_only() {
        let open = state(None);
        assert_eq!(
            status(open.clone(), "127.0.0.1:5000", "/api/sources", None).await,
            StatusCode::OK
        );
        assert_eq!(
            status(open.clone(), "[::1]:5000", "/api/sources", None).await,
            StatusCode::OK
        );
        assert_eq!(
            status(open.clone(), "10.1.2.3:5000", "/api/sources", None).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(open.clone(), "10.1.2.3:5000", "/api/sources/x/drift", None).await,
            StatusCode::FORBIDDEN
        );
        for open_path in ["/healthz", "/readyz", "/metrics"] {
            assert_eq!(
                status(open.clone(), "10.1.2.3:5000", open_path, None).await,
                StatusCode::OK,
                "{open_path}"
            );
        }
    }

    #[tokio::test]
    async fn with_a_token_the_api_needs_it_from_everywhere() {
        let dir = std::env::temp_dir().join(format!("tidegate-api-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        let guarded = state(Some(&file));
        assert_eq!(
            status(
                guarded.clone(),
                "10.1.2.3:5000",
                "/api/sources",
                Some("s3cret")
            )
            .await,
            StatusCode::OK
        );
        for (peer, bearer) in [
            ("10.1.2.3:5000", None),
            ("10.1.2.3:5000", Some("wrong")),
            ("10.1.2.3:5000", Some("s3cre")),
            ("127.0.0.1:5000", None),
        ] {
            assert_eq!(
                status(guarded.clone(), peer, "/api/sources", bearer).await,
                StatusCode::UNAUTHORIZED,
                "{peer} {bearer:?}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
