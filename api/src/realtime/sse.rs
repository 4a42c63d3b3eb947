//! The Server-Sent Events transport: each message an event whose `data:`
//! is the JSON message, `event:` its type and, for a change, `id:` its id
//! (so `EventSource` reconnects with `Last-Event-ID`); heartbeats comment
//! lines.

use axum::response::sse::{Event, Sse};
use futures::StreamExt;
use futures::stream::BoxStream;
use std::convert::Infallible;

use super::message::ControlMessage;
use super::session::Outgoing;

/// The stream of events, ending after the session's last message.
pub fn stream(messages: BoxStream<'static, Outgoing>) -> Sse<BoxStream<'static, Result<Event, Infallible>>> {
    Sse::new(messages.map(|item| Ok(event_of(&item))).boxed())
}

fn event_of(item: &Outgoing) -> Event {
    match item {
        Outgoing::Change(pushed) => Event::default()
            .id(pushed.change.position.to_string())
            .event(pushed.kind.as_str())
            .data(pushed.json.as_str()),
        Outgoing::Control(control) => Event::default()
            .event(type_of(control))
            .data(serde_json::to_string(control).unwrap_or_default()),
        Outgoing::Heartbeat => Event::default().comment("heartbeat"),
    }
}

fn type_of(control: &ControlMessage) -> &'static str {
    match control {
        ControlMessage::Ready { .. } => "ready",
        ControlMessage::Resync { .. } => "resync",
        ControlMessage::Heartbeat => "heartbeat",
        ControlMessage::Closed { .. } => "closed",
    }
}
