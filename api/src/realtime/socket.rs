//! The WebSocket transport: each message a JSON text frame; heartbeats a
//! `heartbeat` message; the end a last message, then a close frame.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use std::time::Duration;

use super::message::ControlMessage;
use super::session::Outgoing;

/// How long one frame may take to be written; a client that takes no
/// data for that long is disconnected.
const WRITE_STALL: Duration = Duration::from_secs(10);

/// Writes the session's messages until they end or the client goes; what
/// the client sends is read only to see it close.
pub async fn serve(socket: WebSocket, mut messages: BoxStream<'static, Outgoing>) {
    let (mut sink, mut incoming) = socket.split();
    let writer = async {
        while let Some(item) = messages.next().await {
            let frame = Message::Text(text_of(&item));
            match tokio::time::timeout(WRITE_STALL, sink.send(frame)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    metrics::counter!("switchboard_realtime_dropped_total", "reason" => "write_stalled").increment(1);
                    return;
                }
            }
        }
        let close = CloseFrame {
            code: close_code::NORMAL,
            reason: Utf8Bytes::from_static(""),
        };
        let _ = tokio::time::timeout(WRITE_STALL, sink.send(Message::Close(Some(close)))).await;
    };
    let reader = async {
        while let Some(Ok(frame)) = incoming.next().await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    };
    tokio::select! {
        _ = writer => {}
        _ = reader => {}
    }
}

fn text_of(item: &Outgoing) -> Utf8Bytes {
    match item {
        Outgoing::Change(pushed) => Utf8Bytes::from(pushed.json.as_str()),
        Outgoing::Control(control) => Utf8Bytes::from(serde_json::to_string(control).unwrap_or_default()),
        Outgoing::Heartbeat => Utf8Bytes::from(serde_json::to_string(&ControlMessage::Heartbeat).unwrap_or_default()),
    }
}
