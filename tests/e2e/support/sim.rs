//! The Exotel simulator in tests: starting one, scripting it through its
//! own routes, placing calls, reading its request log, and a sink that hands
//! the test every status callback it posts.

use axum::body::Bytes;
use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::mpsc;

use simulator::RunningSimulator;

/// The sandbox account's API key.
pub const KEY: &str = "sandbox-key";
/// The sandbox account's API token.
pub const TOKEN: &str = "sandbox-token";
/// The sandbox account's first ExoPhone.
pub const EXOPHONE: &str = "08047112233";

/// The documented fields of a `Call` object (reference §2.1).
pub const CALL_FIELDS: [&str; 19] = [
    "Sid",
    "ParentCallSid",
    "DateCreated",
    "DateUpdated",
    "AccountSid",
    "To",
    "From",
    "PhoneNumberSid",
    "Status",
    "StartTime",
    "EndTime",
    "Duration",
    "Price",
    "Direction",
    "AnsweredBy",
    "ForwardedFrom",
    "CallerName",
    "Uri",
    "RecordingUrl",
];

/// Numbers scripted by `script_faults`, each with its fault and the HTTP
/// status that answers a request dialling it.
pub const FAULTS: [(&str, &str, StatusCode); 3] = [
    ("09000000001", "server_error", StatusCode::INTERNAL_SERVER_ERROR),
    ("09000000002", "unavailable", StatusCode::SERVICE_UNAVAILABLE),
    ("09000000003", "rate_limited", StatusCode::TOO_MANY_REQUESTS),
];

/// A number scripted by `script_faults` never to be answered for.
pub const TIMES_OUT: &str = "09000000004";

/// A simulator with the sandbox account on a free port, on real time.
pub async fn start() -> RunningSimulator {
    simulator::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// A simulator whose clock runs `scale` times faster than real time.
pub async fn fast(scale: f64) -> RunningSimulator {
    let sim = start().await;
    admin(&sim, "time-scale", json!({ "scale": scale })).await;
    sim
}

/// A request with a JSON body to the simulator's own routes
/// (`/_simulator/{path}`); its status and body text.
pub async fn admin_request(sim: &RunningSimulator, method: Method, path: &str, body: Value) -> (StatusCode, String) {
    let response = reqwest::Client::new()
        .request(method, format!("{}/_simulator/{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// `PUT /_simulator/{path}`; its status.
pub async fn admin_status(sim: &RunningSimulator, path: &str, body: Value) -> StatusCode {
    admin_request(sim, Method::PUT, path, body).await.0
}

/// `PUT /_simulator/{path}`, which must succeed.
pub async fn admin(sim: &RunningSimulator, path: &str, body: Value) {
    let status = admin_status(sim, path, body).await;
    assert!(status.is_success(), "{path}: {status}");
}

/// Adds an account with its own credentials, ExoPhones and SMS sender ids.
pub async fn add_account(
    sim: &RunningSimulator,
    sid: &str,
    key: &str,
    token: &str,
    exophones: &[&str],
    senders: &[&str],
) {
    let account =
        json!({"sid": sid, "api_key": key, "api_token": token, "exophones": exophones, "sender_ids": senders});
    let (status, body) = admin_request(sim, Method::POST, "accounts", account).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Scripts how `number` behaves.
pub async fn script(sim: &RunningSimulator, number: &str, scenario: Value) {
    admin(sim, &format!("scenarios/{number}"), scenario).await;
}

/// Scripts the numbers of `FAULTS` and `TIMES_OUT` with their faults.
pub async fn script_faults(sim: &RunningSimulator) {
    for (number, fault, _) in FAULTS {
        script(sim, number, json!({ "fault": fault })).await;
    }
    script(sim, TIMES_OUT, json!({"fault": "timeout"})).await;
}

/// Every request the simulator received, oldest first.
pub async fn requests(sim: &RunningSimulator) -> Vec<Value> {
    let log = reqwest::get(format!("{}/_simulator/requests", sim.base_url()))
        .await
        .unwrap();
    log.json().await.unwrap()
}

/// The form bodies of the requests whose path contains `fragment`, oldest first.
pub async fn forms_to(sim: &RunningSimulator, fragment: &str) -> Vec<Vec<(String, String)>> {
    requests(sim)
        .await
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.contains(fragment)))
        .map(|r| serde_urlencoded::from_str(r["body"].as_str().unwrap_or_default()).unwrap())
        .collect()
}

/// The sandbox's `Calls/connect` URL, answering JSON or (else) XML.
pub fn connect_url(sim: &RunningSimulator, json: bool) -> String {
    let extension = if json { ".json" } else { "" };
    format!("{}/v1/Accounts/sandbox/Calls/connect{extension}", sim.base_url())
}

/// `POST Calls/connect.json` with the sandbox's credentials.
pub async fn connect(sim: &RunningSimulator, form: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(connect_url(sim, true))
        .basic_auth(KEY, Some(TOKEN))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A `GET` of `path` with the sandbox's credentials, which must answer 200; its JSON body.
pub async fn get_json(sim: &RunningSimulator, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", sim.base_url()))
        .basic_auth(KEY, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

/// The callbacks a sink received: content type and body, in order.
pub type Callbacks = mpsc::UnboundedReceiver<(String, String)>;

/// A local HTTP endpoint that hands every callback it receives (content
/// type and body) to the test; its URL.
pub async fn callback_sink() -> (String, Callbacks) {
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

/// The next callback, within ten seconds.
pub async fn next_callback(receiver: &mut Callbacks) -> (String, String) {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("a callback arrived")
        .unwrap()
}

/// No callback arrives within `millis`.
pub async fn nothing_arrives(receiver: &mut Callbacks, millis: u64) {
    let next = tokio::time::timeout(Duration::from_millis(millis), receiver.recv()).await;
    assert!(next.is_err(), "no callback arrives: {next:?}");
}

/// The JSON type of a value, by name.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
