//! The WebSocket transport: each message a JSON text frame; heartbeats a
//! `heartbeat` message; the end a last message, then a close frame.
//!
//! What is queued is written as one batch and flushed once, so a burst
//! costs one write to the kernel, not one per frame; a change's frame
//! shares the text the hub serialised once for every connection. The
//! client's frames are read by a task of their own, woken only when the
//! client sends something: polling the reader beside every write would
//! make it prepare its read buffer each time.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use futures::stream::BoxStream;
use futures::{FutureExt, SinkExt, StreamExt};
use std::time::Duration;

use super::message::ControlMessage;
use super::session::Outgoing;

/// How long one batch may take to be written; a client that takes no
/// data for that long is disconnected.
const WRITE_STALL: Duration = Duration::from_secs(10);
/// Frames written at most before one flush.
const BATCH: usize = 64;

/// Writes the session's messages until they end or the client goes; what
/// the client sends is read only to see it close.
pub async fn serve(socket: WebSocket, messages: BoxStream<'static, Outgoing>) {
    let mut messages = messages.fuse();
    let (mut sink, mut incoming) = socket.split();
    let mut reader = tokio::spawn(async move {
        while let Some(Ok(frame)) = incoming.next().await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    });
    let writer = async {
        while let Some(first) = messages.next().await {
            let batch = async {
                sink.feed(frame_of(&first)).await?;
                let mut written = 1;
                while written < BATCH {
                    let Some(Some(item)) = messages.next().now_or_never() else {
                        break;
                    };
                    sink.feed(frame_of(&item)).await?;
                    written += 1;
                }
                sink.flush().await
            };
            match tokio::time::timeout(WRITE_STALL, batch).await {
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
    tokio::select! {
        _ = writer => {}
        _ = &mut reader => {}
    }
    reader.abort();
}

fn frame_of(item: &Outgoing) -> Message {
    Message::Text(match item {
        Outgoing::Change(pushed) => pushed.json.clone(),
        Outgoing::Control(control) => Utf8Bytes::from(serde_json::to_string(control).unwrap_or_default()),
        Outgoing::Heartbeat => Utf8Bytes::from(serde_json::to_string(&ControlMessage::Heartbeat).unwrap_or_default()),
    })
}
