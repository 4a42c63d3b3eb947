//! What every authenticated `/api/v1` request passes through before its
//! handler: rate limits per caller and per organisation, and replay of
//! requests sent again with the same `Idempotency-Key` (remembered by
//! `infrastructure::idempotency`; a response marked `HoldsSecrets` is
//! remembered without its secrets).

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

use infrastructure::idempotency::{IdempotencyStore, Remembered};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// How long a second request waits for the first one with its key.
const IN_PROGRESS_WAIT: Duration = Duration::from_secs(10);
const MAX_KEY_LEN: usize = 255;

/// The middleware. Requests without valid credentials pass through to
/// their handler, which answers 401.
pub async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(caller) = Caller::from_request_parts(&mut parts, &state).await else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    if let Err(wait) = state
        .limits
        .check(&caller.actor.to_key(), &caller.organisation_id.to_string())
    {
        return too_many(wait);
    }
    let key = parts
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    parts.extensions.insert(caller.clone());
    match key {
        Some(key) if parts.method == Method::POST => idempotent(&state, &caller, key, parts, body, next).await,
        _ => next.run(Request::from_parts(parts, body)).await,
    }
}

fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs() + 1;
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests; retry in {seconds} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// A response extension saying the response holds secrets: these members
/// of its payload (`data` in the `{success, data}` envelope, else the body).
/// A response remembered for an `Idempotency-Key` is stored without them,
/// so its replay answers everything else and never the secret.
#[derive(Debug, Clone, Copy)]
pub struct HoldsSecrets(pub &'static [&'static str]);

impl HoldsSecrets {
    /// `response`, marked as holding the secret members `fields`.
    pub fn mark(response: impl IntoResponse, fields: &'static [&'static str]) -> Response {
        let mut response = response.into_response();
        response.extensions_mut().insert(HoldsSecrets(fields));
        response
    }

    /// The body without the secret members; nothing of it when it is not
    /// the JSON it claims to be.
    fn redact(self, body: &str) -> String {
        let Ok(mut value) = serde_json::from_str::<serde_json::Value>(body) else {
            return String::new();
        };
        let enveloped = value.get("success").is_some() && value.get("data").is_some();
        let payload = match enveloped {
            true => value.get_mut("data"),
            false => Some(&mut value),
        };
        if let Some(object) = payload.and_then(serde_json::Value::as_object_mut) {
            for field in self.0 {
                object.remove(*field);
            }
        }
        value.to_string()
    }
}

fn store(state: &AppState) -> IdempotencyStore {
    IdempotencyStore::new(state.db.read.clone(), state.settings.idempotency_ttl_hours)
}

async fn idempotent(state: &AppState, caller: &Caller, key: String, parts: Parts, body: Body, next: Next) -> Response {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 characters",
        )
        .on_field("Idempotency-Key")
        .into_response();
    }
    let limit = crate::limits::body_limit(&state.settings, parts.uri.path());
    let bytes = match to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the body is too large")
                .into_response();
        }
    };
    let scope = format!("{}:{}", caller.organisation_id, caller.actor.to_key());
    let hash = request_hash(&parts, &bytes);
    let store = store(state);
    match store.claim(&scope, &key, &hash).await {
        Ok(true) => {
            run_and_remember(
                &store,
                &scope,
                &key,
                Request::from_parts(parts, Body::from(bytes)),
                next,
            )
            .await
        }
        Ok(false) => replay(&store, &scope, &key, &hash).await,
        Err(error) => ApiError::unavailable(format!("idempotency store: {error}")).into_response(),
    }
}

fn request_hash(parts: &Parts, body: &Bytes) -> String {
    let mut digest = Sha256::new();
    digest.update(parts.method.as_str().as_bytes());
    digest.update(b" ");
    digest.update(parts.uri.path().as_bytes());
    digest.update(b"\n");
    digest.update(body);
    hex::encode(digest.finalize())
}

async fn run_and_remember(store: &IdempotencyStore, scope: &str, key: &str, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let text = String::from_utf8(body.to_vec()).ok();
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let kept = |text: &str| match parts.extensions.get::<HoldsSecrets>() {
        Some(secrets) => secrets.redact(text),
        None => text.to_string(),
    };
    let outcome = match (retryable(status), &text) {
        (false, Some(text)) => {
            store
                .remember(scope, key, status.as_u16(), content_type, &kept(text))
                .await
        }
        _ => store.forget(scope, key).await,
    };
    if let Err(error) = outcome {
        tracing::error!(%error, "could not record an idempotent response");
    }
    Response::from_parts(parts, Body::from(body))
}

/// Failures a client should be able to retry with the same key.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT
}

/// Answers with the first request's response, waiting while it runs.
async fn replay(store: &IdempotencyStore, scope: &str, key: &str, hash: &str) -> Response {
    let deadline = tokio::time::Instant::now() + IN_PROGRESS_WAIT;
    loop {
        let found = match store.remembered(scope, key).await {
            Ok(found) => found,
            Err(error) => return ApiError::unavailable(format!("idempotency store: {error}")).into_response(),
        };
        match found {
            Some(r) if r.request_hash != hash => {
                return ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with a different request",
                )
                .on_field("Idempotency-Key")
                .into_response();
            }
            Some(Remembered {
                status: Some(status),
                content_type,
                body,
                ..
            }) => return replayed(status, content_type, body),
            None => {
                return ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_retry",
                    "the first request with this key failed; send it again",
                )
                .into_response();
            }
            Some(_) if tokio::time::Instant::now() >= deadline => {
                return ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_in_progress",
                    "a request with this Idempotency-Key is still running",
                )
                .into_response();
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

fn replayed(status: i64, content_type: Option<String>, body: Option<String>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, body.unwrap_or_default()).into_response();
    if let Some(value) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
