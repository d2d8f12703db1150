//! The daemon's HTTP server (axum): health and readiness probes, Prometheus metrics, the Git
//! push webhook, and read-only views of each source's status and drift report.
//!
//! In: shared state the daemon updates. Out: HTTP responses; a valid push wakes its sources.

mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
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
}

/// The routes, with request bodies capped at `max_body_bytes` (413 beyond).
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/hooks/git", post(git_hook))
        .route("/api/sources", get(sources))
        .route("/api/sources/{name}/drift", get(drift))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
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
