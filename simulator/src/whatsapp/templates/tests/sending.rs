//! Template messages sent through `POST /v2/accounts/{sid}/messages`: all
//! accepted with 202, their receipts failing when the template is missing,
//! not approved or not filled.

use axum::Json;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::mpsc;

use super::{KEY, TOKEN, review, set_status, sim};
use crate::RunningSimulator;

const WABA_NUMBER: &str = "+918047112233";
const CUSTOMER: &str = "+919876543210";

/// A local endpoint handing the test every receipt posted to it; its URL.
async fn sink() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let receive = move |Json(body): Json<Value>| {
        let sender = sender.clone();
        async move {
            let _ = sender.send(body);
            "ok"
        }
    };
    let app = axum::Router::new().route("/dlr", axum::routing::post(receive));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/dlr", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, receiver)
}

/// A simulator whose clock runs a thousand times faster, and a receipt sink.
async fn fast() -> (RunningSimulator, String, mpsc::UnboundedReceiver<Value>) {
    let sim = sim().await;
    *sim.state.time_scale.lock().unwrap() = 1000.0;
    let (url, receiver) = sink().await;
    (sim, url, receiver)
}

/// A template message with `parameters` body parameters (no body
/// component when `None`), which must be accepted with 202.
async fn send(sim: &RunningSimulator, callback: &str, name: &str, language: &str, parameters: Option<usize>) {
    let mut template = json!({"name": name, "language": {"code": language}});
    if let Some(count) = parameters {
        let texts: Vec<Value> = (0..count)
            .map(|i| json!({"type": "text", "text": format!("p{i}")}))
            .collect();
        template["components"] = json!([{"type": "body", "parameters": texts}]);
    }
    let content = json!({"type": "template", "template": template});
    let message = json!({"from": WABA_NUMBER, "to": CUSTOMER, "status_callback": callback, "content": content});
    let response = Client::new()
        .post(format!("{}/v2/accounts/sandbox/messages", sim.base_url()))
        .basic_auth(KEY, Some(TOKEN))
        .json(&json!({"whatsapp": {"messages": [message]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["response"]["whatsapp"]["messages"][0]["status"], "success",
        "{answer}"
    );
}

/// The receipts of one message, `(exo_status_code, exo_detailed_status)`:
/// the first within ten seconds, the rest until none comes for half a second.
async fn receipts(receiver: &mut mpsc::UnboundedReceiver<Value>) -> Vec<(u64, String)> {
    let mut codes = Vec::new();
    let mut wait = Duration::from_secs(10);
    while let Ok(Some(body)) = tokio::time::timeout(wait, receiver.recv()).await {
        let receipt = &body["whatsapp"]["messages"][0];
        assert_eq!(receipt["callback_type"], "dlr", "{body}");
        let name = receipt["exo_detailed_status"].as_str().unwrap_or_default().to_string();
        codes.push((receipt["exo_status_code"].as_u64().unwrap_or_default(), name));
        wait = Duration::from_millis(500);
    }
    codes
}

fn codes(receipts: &[(u64, String)]) -> Vec<u64> {
    receipts.iter().map(|(code, _)| *code).collect()
}

#[tokio::test]
async fn a_template_message_for_a_paused_template_fails_with_30022() {
    let (sim, url, mut receiver) = fast().await;
    send(&sim, &url, "order_update", "en", Some(2)).await;
    assert_eq!(codes(&receipts(&mut receiver).await), [30001, 30002, 30003]);
    set_status(&sim, "order_update", json!({"status": "PAUSED"})).await;
    send(&sim, &url, "order_update", "en", Some(2)).await;
    assert_eq!(
        receipts(&mut receiver).await,
        [(30022, "EX_TEMPLATE_ERROR".to_string())]
    );
}

#[tokio::test]
async fn a_template_message_for_a_template_never_approved_fails_with_30022() {
    let (sim, url, mut receiver) = fast().await;
    let (status, _) = review(&sim, "delivery_photo", json!({"status": "REJECTED"})).await;
    assert_eq!(status, StatusCode::OK);
    send(&sim, &url, "delivery_photo", "en", Some(1)).await;
    assert_eq!(codes(&receipts(&mut receiver).await), [30022]);
}

#[tokio::test]
async fn a_template_message_for_an_unknown_name_or_language_fails_with_30024() {
    let (sim, url, mut receiver) = fast().await;
    send(&sim, &url, "no_such_template", "en", Some(1)).await;
    assert_eq!(
        receipts(&mut receiver).await,
        [(30024, "EX_TEMPLATE_NOT_FOUND".to_string())]
    );
    send(&sim, &url, "order_update", "hi", Some(2)).await;
    assert_eq!(codes(&receipts(&mut receiver).await), [30024]);
}

#[tokio::test]
async fn a_template_message_with_the_wrong_number_of_body_parameters_fails_with_30023() {
    let (sim, url, mut receiver) = fast().await;
    for parameters in [Some(1), Some(3), None] {
        send(&sim, &url, "order_update", "en", parameters).await;
        assert_eq!(codes(&receipts(&mut receiver).await), [30023], "{parameters:?}");
    }
    send(&sim, &url, "delivery_photo", "en", Some(1)).await;
    assert_eq!(codes(&receipts(&mut receiver).await), [30001, 30002, 30003]);
}

#[tokio::test]
async fn the_template_verdict_takes_precedence_over_the_recipients_script() {
    let (sim, url, mut receiver) = fast().await;
    let script = json!({"whatsapp": "failed", "whatsapp_error_code": 30005});
    let response = Client::new()
        .put(format!("{}/_simulator/scenarios/{CUSTOMER}", sim.base_url()))
        .json(&script)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    send(&sim, &url, "order_update", "en", Some(2)).await;
    assert_eq!(codes(&receipts(&mut receiver).await), [30005]);
    send(&sim, &url, "order_update", "en", Some(1)).await;
    assert_eq!(codes(&receipts(&mut receiver).await), [30023]);
}
