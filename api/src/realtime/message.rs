//! What the realtime routes send, and the query they read: typed, so the
//! OpenAPI document describes the messages as they are written.

use serde::{Deserialize, Serialize};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use application::realtime::ThreadChange;

/// One message of the realtime routes: a WebSocket text frame, or the
/// `data:` of one Server-Sent Event (whose `event:` is the same `type`, and
/// whose `id:` is the change's `id`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum RealtimeMessage {
    Change(ChangeMessage),
    Control(ControlMessage),
}

/// One Server-Sent Event of `GET /api/v1/realtime/events` as the stream
/// writes it (heartbeats are comment lines, not events).
#[derive(Debug, ToSchema)]
pub struct RealtimeEvent {
    /// The message's `type`.
    pub event: Option<String>,
    /// A change's `id` (changes only).
    pub id: Option<String>,
    /// One JSON `RealtimeMessage`.
    #[schema(schema_with = event_data)]
    pub data: String,
}

/// A string holding JSON that is a `RealtimeMessage` (JSON Schema's
/// `contentMediaType` and `contentSchema`).
fn event_data() -> Object {
    let mut extensions = Extensions::default();
    extensions.insert(
        "contentSchema".into(),
        serde_json::json!({"$ref": "#/components/schemas/RealtimeMessage"}),
    );
    ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/json")
        .extensions(Some(extensions))
        .build()
}

/// A change to a thread the user may see.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeMessage {
    /// The event's id: reconnect with `last_event_id` set to the last one
    /// received to get exactly what followed it.
    #[schema(example = "1042", pattern = "^[0-9]{1,18}$")]
    pub id: String,
    /// `thread.` and the kind of change: `message`, `message_status`,
    /// `call`, `call_status`, `assigned`, `closed`, `reopened` or `read`.
    #[serde(rename = "type")]
    #[schema(example = "thread.message", pattern = "^thread\\.[a-z_]+$")]
    pub kind: String,
    pub thread_id: Uuid,
    /// When it happened: RFC 3339, UTC.
    pub occurred_at: String,
    /// Small and typed by `type`: ids, channel, direction, status, a
    /// preview; never a whole message body. An assignment carries
    /// `assignee_id` and `previous_assignee_id` (user ids, or null).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl ChangeMessage {
    pub fn of(change: &ThreadChange) -> Self {
        Self {
            id: change.position.to_string(),
            kind: format!("thread.{}", change.kind),
            thread_id: change.thread_id,
            occurred_at: crate::routes::stamp(change.occurred_at),
            data: change.data.clone(),
        }
    }
}

/// The connection's own messages.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlMessage {
    /// Everything missed has been sent; live changes follow. Reconnecting
    /// with this id (or a later change's) misses nothing.
    Ready {
        #[schema(example = "1042", pattern = "^[0-9]{1,18}$")]
        last_event_id: String,
    },
    /// The changes cannot be sent without a gap: load the state again
    /// through the REST routes and reconnect without `last_event_id`. The
    /// connection closes after it.
    Resync { reason: ResyncReason },
    /// Sent every `SWITCHBOARD_REALTIME_HEARTBEAT_SECS` over WebSocket (an
    /// SSE stream sends a comment line instead).
    Heartbeat,
    /// The server ends the connection; it closes after it.
    Closed { reason: ClosedReason },
}

/// Why a client must resync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResyncReason {
    /// The client read too slowly and fell behind the live changes.
    FellBehind,
    /// More events followed `last_event_id` than a reconnection replays.
    BacklogTooLong,
    /// No event has the id given as `last_event_id`.
    UnknownEventId,
}

/// Why the server ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosedReason {
    /// The token expired or the session ended, the user was deactivated,
    /// or the API key was revoked or suspended.
    Unauthenticated,
    /// The server is stopping: reconnect with `last_event_id`.
    ShuttingDown,
    /// The store could not be read: reconnect with `last_event_id`.
    Unavailable,
}

/// The header `EventSource` resumes with.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct ResumeHeader {
    /// The last id received (sent by `EventSource` when it reconnects);
    /// wins over `last_event_id`.
    #[param(rename = "Last-Event-ID", pattern = "^[0-9]{1,18}$", nullable = false)]
    pub last_event_id: Option<String>,
}

/// The realtime routes' query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RealtimeQuery {
    /// Resume after this event id (a change's `id`, or `ready`'s
    /// `last_event_id`); `0` replays from the beginning. Without it only
    /// changes from now on are sent. An SSE client's `Last-Event-ID`
    /// header takes its place.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub last_event_id: Option<String>,
    /// The login token or API key, for clients that cannot send
    /// `Authorization` (a browser's `WebSocket` and `EventSource`). The
    /// `Authorization` header wins when both are sent. Nothing logs it.
    pub access_token: Option<String>,
}
