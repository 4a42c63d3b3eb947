//! The Exotel simulator over HTTP, beyond click-to-call: the bulk call
//! listing, calls into flows (Passthru, Gather, Greeting, Connect), talk
//! segments and recordings. Shared helpers here, tests by area below.

mod flows;
mod incoming;
mod listing;
mod recordings;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode as AxumStatus, header};
use axum::response::{IntoResponse, Response};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::support::sim::{self, connect, get_json};
use simulator::RunningSimulator;

pub const CALLER: &str = "09876543210";

/// A simulator whose clock runs 5000 times faster than real time.
pub async fn simulator() -> RunningSimulator {
    sim::fast(5000.0).await
}

/// Places a call that must be accepted; its Sid.
pub async fn place(sim: &RunningSimulator, form: &[(&str, &str)]) -> String {
    let response = connect(sim, form).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["Call"]["Sid"].as_str().unwrap().to_string()
}

/// The call's details (`details=true`) once it has ended.
pub async fn ended(sim: &RunningSimulator, sid: &str) -> Value {
    for _ in 0..500 {
        let details = get_json(sim, &format!("/v1/Accounts/sandbox/Calls/{sid}.json?details=true")).await;
        if !details["Call"]["EndTime"].is_null() {
            return details["Call"].clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("call {sid} never ended");
}

/// What the sink received: the path, query pairs, some headers and the body.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub content_type: String,
    pub exotel_version: Option<String>,
    pub body: String,
}

impl Hit {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A customer's server: records every request, and answers
/// - `/passthru`: 302 when `CustomField` is `302`, else 200;
/// - `/greeting`: a text, `/greeting-audio`: an audio URL (text/plain);
/// - `/gather-nested`, `/gather-flat`: a Gather configuration in each reading;
/// - `/callback`, `/popup`: ok.
pub async fn sink() -> (String, mpsc::UnboundedReceiver<Hit>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/{name}",
        axum::routing::any(
            move |Path(name): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes| {
                let sender = sender.clone();
                async move {
                    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                    let hit = Hit {
                        path: name.clone(),
                        query: serde_urlencoded::from_str(&query.unwrap_or_default()).unwrap(),
                        content_type: header("content-type").unwrap_or_default(),
                        exotel_version: header("exotel-version"),
                        body: String::from_utf8_lossy(&body).to_string(),
                    };
                    let answer = answer(&name, &hit);
                    let _ = sender.send(hit);
                    answer
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver)
}

fn answer(name: &str, hit: &Hit) -> Response {
    let text = |body: &'static str| ([(header::CONTENT_TYPE, "text/plain")], body).into_response();
    match name {
        "passthru" if hit.param("CustomField") == Some("302") => {
            (AxumStatus::FOUND, [(header::LOCATION, "http://127.0.0.1:9/elsewhere")]).into_response()
        }
        "greeting" => text("Hello Asha, your order is on its way"),
        "greeting-audio" => text("https://cdn.example.com/greetings/hello.wav"),
        "gather-nested" => {
            axum::Json(serde_json::json!({"gather_prompt": {"text": "Press 1"}, "max_input_digits": 1})).into_response()
        }
        "gather-flat" => {
            axum::Json(serde_json::json!({"gather_prompt": "Enter your PIN", "max_digits": 4})).into_response()
        }
        _ => "ok".into_response(),
    }
}

pub async fn next_hit(receiver: &mut mpsc::UnboundedReceiver<Hit>) -> Hit {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("a request reached the sink")
        .unwrap()
}

/// The next request to `path`, skipping others.
pub async fn next_hit_to(receiver: &mut mpsc::UnboundedReceiver<Hit>, path: &str) -> Hit {
    loop {
        let hit = next_hit(receiver).await;
        if hit.path == path {
            return hit;
        }
    }
}
