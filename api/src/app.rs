//! The HTTP application: routes, middleware, and the server.

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::openapi::ApiDoc;
use crate::routes::{
    api_keys, audit, auth, calls, customers, email_accounts, email_inbox, emails, holidays, integrations,
    masked_sessions, organisation, phone_numbers, seed, sms, system, thread_messages, threads, users,
    webhook_endpoints, webhooks, whatsapp, whatsapp_templates,
};
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route with its middleware.
pub fn router(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(organisation::router())
        .merge(holidays::router())
        .merge(api_keys::router())
        .merge(integrations::router())
        .merge(phone_numbers::router())
        .merge(calls::router())
        .merge(masked_sessions::router())
        .merge(sms::router())
        .merge(whatsapp::router())
        .merge(whatsapp_templates::router())
        .merge(email_accounts::router())
        .merge(emails::router(&state.settings))
        .merge(email_inbox::router())
        .merge(threads::router())
        .merge(thread_messages::router())
        .merge(customers::router())
        .merge(audit::router())
        .merge(webhook_endpoints::router())
        .merge(crate::realtime::router())
        .layer(middleware::from_fn_with_state(state.clone(), crate::guard::guard));
    let exotel_module = seed::router().layer(middleware::from_fn_with_state(state.clone(), crate::guard::guard));
    let timeout = Duration::from_secs(state.settings.request_timeout_secs);
    let body_limit = state.settings.max_body_bytes;
    Router::new()
        .nest("/api/v1", v1)
        .nest("/api/exotel", exotel_module)
        .merge(webhooks::router())
        .route("/health", get(system::health))
        .route("/ready", get(system::ready))
        .route("/metrics", get(system::metrics))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method",
            )
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(crate::middleware::drop_unacceptable_request_id))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    let path = crate::callbacks::logged_path(req.uri().path());
                    tracing::info_span!("request", method = %req.method(), path = %path, request_id = %id)
                }))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(|_| ApiError::internal().into_response()))
                .layer(middleware::from_fn(move |request, next| {
                    crate::middleware::time_limit(timeout, request, next)
                })),
        )
        .with_state(state)
}

async fn record_metrics(State(_state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("switchboard_http_requests_total", &labels).increment(1);
    metrics::histogram!("switchboard_http_request_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}
