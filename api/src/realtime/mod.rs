//! Realtime push: `GET /api/v1/realtime` (WebSocket) and
//! `GET /api/v1/realtime/events` (Server-Sent Events) push to each
//! connected user the thread changes that user may see.
//!
//! The [`hub::Hub`] of each `serve` process reads the live feed (its own
//! JetStream consumer when distributed, so a client sees what any process
//! committed; the store's tail when embedded) and broadcasts each change
//! once; each connection's [`session::Session`] replays what its client
//! missed, then forwards what it may see, through a bounded queue of its
//! own. The transports only write: [`socket`] and [`sse`].

pub mod hub;
pub mod message;
pub mod session;
pub mod socket;
pub mod sse;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

use crate::auth::StreamCaller;
use crate::error::ApiError;
use crate::state::AppState;
use hub::Viewer;
use message::RealtimeQuery;
use session::Session;

/// The largest frame a client may send (it has nothing to say but close).
const MAX_CLIENT_FRAME: usize = 4 * 1024;
/// What a connection reads into at once: enough for the largest frame a
/// client may send (the default, 128 KiB, would be most of a connection's
/// memory).
const READ_BUFFER: usize = 4 * 1024;
/// What a connection buffers before writing without a flush; a batch is
/// flushed at its end anyway.
const WRITE_BUFFER: usize = 16 * 1024;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/realtime", get(socket_route))
        .route("/realtime/events", get(events_route))
}

/// Thread changes as they happen, over a WebSocket.
///
/// Each text frame is one JSON `RealtimeMessage`: the changes to threads
/// the caller may see (admins and managers: every thread of the
/// organisation; agents: threads assigned to them or to nobody, and the
/// assignment that takes one away), `ready` once what was missed has been
/// sent, a `heartbeat` every `SWITCHBOARD_REALTIME_HEARTBEAT_SECS` (when the
/// credential is checked again), and `resync` or `closed` just before the
/// server closes. Browsers pass the token as `access_token`.
#[utoipa::path(get, path = "/api/v1/realtime", tag = "realtime", security(("bearer" = [])),
    params(RealtimeQuery),
    responses(
        (status = 101, description = "Switching Protocols: a WebSocket whose text frames are `RealtimeMessage`s"),
        (status = 403, body = crate::error::Problem, description = "the role reads no threads (auditors)"),
        (status = 426, body = crate::error::Problem, description = "not a WebSocket handshake (`websocket_upgrade_required`; a missing key or version is `invalid_websocket_handshake`, 400)"),
    ))]
pub async fn socket_route(
    State(state): State<Arc<AppState>>,
    caller: StreamCaller,
    uri: Uri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let session = match session_for(state, caller, &uri, &headers) {
        Ok(session) => session,
        Err(error) => return error.into_response(),
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return upgrade_required(ApiError::from(rejection)),
    };
    let messages = session.open();
    upgrade
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| socket::serve(socket, messages))
}

/// The same changes as Server-Sent Events, for clients that cannot open a
/// WebSocket.
///
/// Each event's `data:` is one JSON `RealtimeMessage` and its `event:` the
/// message's `type`; a change's `id:` is its id, so `EventSource`
/// reconnects with `Last-Event-ID` and misses nothing. Heartbeats are
/// comment lines. The stream ends after `resync` or `closed`.
#[utoipa::path(get, path = "/api/v1/realtime/events", tag = "realtime", security(("bearer" = [])),
    params(RealtimeQuery, message::ResumeHeader),
    responses(
        (status = 200, content_type = "text/event-stream", body = message::RealtimeEvent,
            description = "a stream of events whose `data:` is a `RealtimeMessage`"),
        (status = 403, body = crate::error::Problem, description = "the role reads no threads (auditors)"),
    ))]
pub async fn events_route(
    State(state): State<Arc<AppState>>,
    caller: StreamCaller,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match session_for(state, caller, &uri, &headers) {
        Ok(session) => {
            let mut response = sse::stream(session.open()).into_response();
            // Proxies that buffer responses would hold the events back.
            response
                .headers_mut()
                .insert("x-accel-buffering", HeaderValue::from_static("no"));
            response
        }
        Err(error) => error.into_response(),
    }
}

/// A session for the caller, after the checks every realtime route makes.
fn session_for(
    state: Arc<AppState>,
    StreamCaller { caller, credential }: StreamCaller,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Session, ApiError> {
    if !Viewer::may_listen(caller.role) {
        return Err(ApiError::forbidden());
    }
    let last_event_id = resume_after(uri, headers)?;
    Ok(Session {
        viewer: Viewer {
            organisation_id: caller.organisation_id,
            role: caller.role,
            user_id: caller.acting_user_id,
        },
        context: caller.context.clone(),
        credential,
        last_event_id,
        state,
    })
}

/// The event to resume after: the `Last-Event-ID` header (what
/// `EventSource` sends when it reconnects), else `last_event_id`.
fn resume_after(uri: &Uri, headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let pairs: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            serde_urlencoded::from_str(q).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "the query string is malformed",
                )
            })
        })
        .transpose()?
        .unwrap_or_default();
    let from_query = match pairs.iter().find(|(name, _)| name == "last_event_id") {
        Some((_, value)) => Some(event_id(value).ok_or_else(|| bad_event_id("last_event_id", "invalid_query"))?),
        None => None,
    };
    match headers.get("last-event-id") {
        Some(value) => event_id(value.to_str().unwrap_or("\u{0}"))
            .map(Some)
            .ok_or_else(|| bad_event_id("Last-Event-ID", "invalid_header")),
        None => Ok(from_query),
    }
}

/// An event id: 1 to 18 digits.
fn event_id(text: &str) -> Option<i64> {
    let digits = (1..=18).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

fn bad_event_id(field: &str, code: &'static str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        code,
        "an event id is the `id` of a change received: 1 to 18 digits",
    )
    .on_field(field)
}

/// The problem, and for a 426 the protocol to upgrade to.
fn upgrade_required(error: ApiError) -> Response {
    let upgrade = error.status == StatusCode::UPGRADE_REQUIRED;
    let mut response = error.into_response();
    if upgrade {
        let headers = response.headers_mut();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resume(query: &str, header: Option<&str>) -> Result<Option<i64>, ApiError> {
        let uri: Uri = format!("/realtime{query}").parse().unwrap();
        let mut headers = HeaderMap::new();
        if let Some(value) = header {
            headers.insert("last-event-id", HeaderValue::from_str(value).unwrap());
        }
        resume_after(&uri, &headers)
    }

    #[test]
    fn the_last_event_id_header_wins_over_the_query_as_event_source_reconnects_with_it() {
        assert_eq!(resume("", None).unwrap(), None);
        assert_eq!(resume("?last_event_id=42", None).unwrap(), Some(42));
        assert_eq!(resume("?last_event_id=42", Some("57")).unwrap(), Some(57));
        assert_eq!(resume("?last_event_id=0", None).unwrap(), Some(0));
    }

    #[test]
    fn an_event_id_that_is_not_digits_is_a_bad_request_naming_where_it_came_from() {
        for query in [
            "?last_event_id=",
            "?last_event_id=-1",
            "?last_event_id=1e3",
            "?last_event_id=1234567890123456789",
        ] {
            let error = resume(query, None).unwrap_err();
            assert_eq!(
                (error.status, error.code),
                (StatusCode::BAD_REQUEST, "invalid_query"),
                "{query}"
            );
            assert_eq!(error.field.as_deref(), Some("last_event_id"));
        }
        let error = resume("?last_event_id=", Some("5")).unwrap_err();
        assert_eq!(
            error.field.as_deref(),
            Some("last_event_id"),
            "a bad query is refused with a header too"
        );
        for header in ["x1", "  ", " 7", ""] {
            let error = resume("?last_event_id=1", Some(header)).unwrap_err();
            assert_eq!(error.field.as_deref(), Some("Last-Event-ID"), "{header:?}");
        }
    }
}
