//! Liveness, readiness (store, NATS, relay backlog, projector lag) and
//! Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub store: String,
    pub nats: Option<String>,
    /// Committed events the relay has not yet published (distributed mode).
    pub relay_backlog: Option<i64>,
    pub head_position: i64,
    pub projectors: Vec<ProjectorLag>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectorLag {
    pub name: String,
    pub position: i64,
    /// Events committed after the projector's position (of any type).
    pub lag_positions: i64,
    pub events_applied: i64,
    pub applied_at: Option<String>,
}

/// The process is alive.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Whether this process can serve: 200 when the store (and NATS, when
/// distributed) answer, 503 otherwise; with the relay backlog and each
/// projector's lag.
#[utoipa::path(get, path = "/ready", tag = "system", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let readiness = readiness(&state).await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness)).into_response()
}

async fn readiness(state: &AppState) -> Readiness {
    let store = state
        .db
        .ping()
        .await
        .map(|_| "ok".to_string())
        .unwrap_or_else(|e| e.to_string());
    let nats = state.nats.as_ref().map(|n| match n.client.connection_state() {
        async_nats::connection::State::Connected => "ok".to_string(),
        other => other.to_string(),
    });
    let head_position = state.db.head_position().await.unwrap_or(0);
    let relay_backlog = match (&state.db.events, &state.nats) {
        (infrastructure::database::EventDb::Postgres(pool), Some(nats)) => {
            infrastructure::relay::backlog(pool, &nats.events.name).await.ok()
        }
        _ => None,
    };
    if let Some(backlog) = relay_backlog {
        metrics::gauge!("switchboard_relay_backlog_events").set(backlog as f64);
    }
    let projectors = projector_lags(state, head_position).await;
    let ready = store == "ok" && nats.as_deref().is_none_or(|n| n == "ok");
    Readiness {
        ready,
        store,
        nats,
        relay_backlog,
        head_position,
        projectors,
    }
}

async fn projector_lags(state: &AppState, head: i64) -> Vec<ProjectorLag> {
    let checkpoints = state.projections.checkpoints().await.unwrap_or_default();
    checkpoints
        .into_iter()
        .map(|c| {
            metrics::gauge!("switchboard_projector_lag_positions", "projector" => c.projector.clone())
                .set((head - c.position) as f64);
            ProjectorLag {
                lag_positions: head - c.position,
                name: c.projector,
                position: c.position,
                events_applied: c.events_applied,
                applied_at: c.applied_at,
            }
        })
        .collect()
}

/// Prometheus metrics in the text exposition format, beside the API; a 404
/// when they are served on `SWITCHBOARD_METRICS_LISTEN` instead.
pub async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if state.settings.metrics_listen.is_some() {
        return ApiError::not_found().into_response();
    }
    metrics_here(State(state), headers).await
}

/// The router of `SWITCHBOARD_METRICS_LISTEN`: `/metrics` alone.
pub fn metrics_router(state: Arc<AppState>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(metrics_here))
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
}

/// Whether the request carries the bearer token `SWITCHBOARD_METRICS_TOKEN`
/// demands (compared as digests, in constant time for the secret).
fn authorised(expected: Option<&SecretString>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthenticated("unauthenticated", "send Authorization: Bearer <metrics token>"))?;
    let digest = |text: &str| Sha256::digest(text.as_bytes());
    match digest(given) == digest(expected.expose_secret()) {
        true => Ok(()),
        false => Err(ApiError::unauthenticated(
            "invalid_token",
            "the metrics token is not valid",
        )),
    }
}

async fn metrics_here(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(refused) = authorised(state.settings.metrics_token.as_ref(), &headers) {
        return refused.into_response();
    }
    let _ = readiness(&state).await;
    match &state.metrics {
        Some(handle) => (
            [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
