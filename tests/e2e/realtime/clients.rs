//! Test clients of the realtime routes: a WebSocket and an SSE stream,
//! each reading JSON messages with a deadline.

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How long a test waits for a message it expects.
pub const WAIT: Duration = Duration::from_secs(10);

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Socket {
    ws: Ws,
}

fn ws_url(base: &str, query: &str) -> String {
    format!("{}/api/v1/realtime{query}", base.replacen("http://", "ws://", 1))
}

impl Socket {
    /// Opens the socket with `Authorization: Bearer`.
    pub async fn connect(base: &str, token: &str, query: &str) -> Self {
        let mut request = ws_url(base, query).into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        Self::open(request).await
    }

    /// Opens the socket with the token in `access_token`, as a browser must.
    pub async fn connect_with_query_token(base: &str, token: &str, query: &str) -> Self {
        let separator = if query.is_empty() { "?" } else { "&" };
        let url = ws_url(base, &format!("{query}{separator}access_token={token}"));
        Self::open(url.into_client_request().unwrap()).await
    }

    async fn open(request: tokio_tungstenite::tungstenite::handshake::client::Request) -> Self {
        let (ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.status(), 101);
        Self { ws }
    }

    /// The next message, heartbeats included; `None` once closed.
    pub async fn next_any(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()??;
            match frame.ok()? {
                Message::Text(text) => return Some(serde_json::from_str(&text).unwrap()),
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// The next message that is not a heartbeat; `None` once closed.
    pub async fn next(&mut self) -> Option<Value> {
        self.next_within(WAIT).await
    }

    pub async fn next_within(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = self.next_any(left).await?;
            if message["type"] != "heartbeat" {
                return Some(message);
            }
        }
    }

    /// Reads up to `ready`; the changes replayed before it, and `ready`.
    pub async fn replayed(&mut self) -> (Vec<Value>, Value) {
        let mut changes = Vec::new();
        loop {
            let message = self.next().await.expect("the socket closed before ready");
            match message["type"].as_str() {
                Some("ready") => return (changes, message),
                Some(kind) if kind.starts_with("thread.") => changes.push(message),
                _ => panic!("unexpected before ready: {message}"),
            }
        }
    }

    /// `ready`, with nothing replayed before it.
    pub async fn ready(&mut self) -> Value {
        let (replayed, ready) = self.replayed().await;
        assert!(replayed.is_empty(), "{replayed:?}");
        ready
    }

    /// The next message, which must be a change.
    pub async fn change(&mut self) -> Value {
        let message = self.next().await.expect("the socket closed");
        assert!(message["type"].as_str().unwrap().starts_with("thread."), "{message}");
        message
    }

    /// Whether the server closes the socket within the wait.
    pub async fn closed(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Closes from the client's side.
    pub async fn close(mut self) {
        let _ = self.ws.send(Message::Close(None)).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while self.ws.next().await.is_some() {}
        })
        .await;
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
    done: bool,
}

impl EventStream {
    /// Opens `GET /api/v1/realtime/events` with the token as a header.
    pub async fn connect(base: &str, token: &str, query: &str, last_event_id: Option<&str>) -> Self {
        let mut request = reqwest::Client::new()
            .get(format!("{base}/api/v1/realtime/events{query}"))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            buffer: String::new(),
            done: false,
        }
    }

    /// The next event (comments skipped); `None` once the stream ended.
    pub async fn next_within(&mut self, within: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
                continue;
            }
            if self.done {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(_) => self.done = true,
            }
        }
    }

    pub async fn next_event(&mut self) -> Sse {
        self.next_within(WAIT).await.expect("the stream ended")
    }

    /// Reads up to `ready`; the changes replayed before it, and `ready`.
    pub async fn replayed(&mut self) -> (Vec<Sse>, Sse) {
        let mut changes = Vec::new();
        loop {
            let event = self.next_event().await;
            match event.event.as_str() {
                "ready" => return (changes, event),
                kind if kind.starts_with("thread.") => changes.push(event),
                _ => panic!("unexpected before ready: {event:?}"),
            }
        }
    }

    /// Whether the stream ends within the wait (after any events left).
    pub async fn ended(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.done {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            self.next_within(left).await;
        }
        true
    }
}

/// An event block: `None` for a comment alone.
fn parse(block: &str) -> Option<Sse> {
    let (mut id, mut event, mut data) = (None, String::from("message"), String::new());
    let mut any = false;
    for line in block.lines() {
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.to_string()),
            "event" => event = value.to_string(),
            "data" => data.push_str(value),
            _ => continue,
        }
        any = true;
    }
    any.then(|| Sse {
        id,
        event,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
    })
}
