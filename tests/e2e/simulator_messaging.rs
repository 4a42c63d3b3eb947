//! The Exotel simulator's SMS (v1) and WhatsApp (v2) over HTTP: Exotel's
//! URLs, auth, formats, codes, limits, callbacks and scripted faults,
//! checked against the example payloads of the wire-format reference.

mod sms;
mod whatsapp;

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;

use simulator::RunningSimulator;

const KEY: &str = "sandbox-key";
const TOKEN: &str = "sandbox-token";
const EXOPHONE: &str = "08047112233";

type Callbacks = mpsc::UnboundedReceiver<(String, String)>;

async fn simulator() -> RunningSimulator {
    simulator::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// A simulator whose clock runs `scale` times faster than real time.
async fn fast_simulator(scale: f64) -> RunningSimulator {
    let sim = simulator().await;
    admin(&sim, "time-scale", serde_json::json!({ "scale": scale })).await;
    sim
}

async fn admin(sim: &RunningSimulator, path: &str, body: Value) {
    let status = admin_status(sim, path, body).await;
    assert!(status.is_success(), "{path}: {status}");
}

async fn admin_status(sim: &RunningSimulator, path: &str, body: Value) -> reqwest::StatusCode {
    reqwest::Client::new()
        .put(format!("{}/_simulator/{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

/// A local HTTP endpoint that hands every callback it receives (content
/// type and body) to the test.
async fn callback_sink() -> (String, Callbacks) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/callback",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let sender = sender.clone();
            async move {
                let kind = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let _ = sender.send((kind, String::from_utf8_lossy(&body).to_string()));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver)
}

async fn next_callback(receiver: &mut Callbacks) -> (String, String) {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("a callback arrived")
        .unwrap()
}

async fn next_json(receiver: &mut Callbacks) -> Value {
    let (kind, body) = next_callback(receiver).await;
    assert!(kind.starts_with("application/json"), "{kind}");
    serde_json::from_str(&body).unwrap()
}

async fn nothing_arrives(receiver: &mut Callbacks, millis: u64) {
    let next = tokio::time::timeout(Duration::from_millis(millis), receiver.recv()).await;
    assert!(next.is_err(), "no callback arrives: {next:?}");
}

/// `actual` has the same keys, nesting and JSON types as a reference example.
fn assert_same_shape(actual: &Value, example: &Value, at: &str) {
    match (actual, example) {
        (Value::Object(a), Value::Object(e)) => {
            let (mut keys, mut expected): (Vec<_>, Vec<_>) = (a.keys().collect(), e.keys().collect());
            keys.sort();
            expected.sort();
            assert_eq!(keys, expected, "keys at {at}");
            for (key, value) in e {
                assert_same_shape(&a[key], value, &format!("{at}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if let (Some(first), Some(example)) = (a.first(), e.first()) {
                assert_same_shape(first, example, &format!("{at}[0]"));
            }
        }
        _ => assert_eq!(kind(actual), kind(example), "type at {at}: {actual}"),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
