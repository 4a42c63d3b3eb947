//! The account webhook: incoming messages injected through the simulator,
//! and receipts of messages sent without a `status_callback`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

/// §7.4: a real incoming-message capture, with the `timestamp` the docs list.
fn incoming_example() -> Value {
    json!({"whatsapp":{"messages":[{"callback_type":"incoming_message","sid":"c5d40b17527aaf93b5ba0905287b1a24",
      "from":"+919158455686","to":"+919211514326","profile_name":"Aman",
      "timestamp":"2024-01-15T10:30:05.000+05:30",
      "content":{"type":"text","text":{"body":"Hello"}}}]}})
}

async fn inject(sim: &RunningSimulator, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/_simulator/whatsapp/incoming", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn incoming_messages_are_posted_to_the_account_webhook() {
    let sim = sim::start().await;
    let (webhook, mut received) = callback_sink().await;
    admin(&sim, "accounts/sandbox/whatsapp-webhook", json!({"url": webhook})).await;
    let contents = [
        json!({"type": "text", "text": {"body": "Hello"}}),
        json!({"type": "image", "image": {"url": "https://example.com/m/1.jpg", "caption": "my bill"}}),
        json!({"type": "location", "location": {"latitude": 12.97, "longitude": 77.59}}),
        json!({"type": "button", "button": {"text": "Yes", "payload": "confirm"}}),
        json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "y", "title": "Yes"}},
               "context": {"id": "c5d40b17527aaf93b5ba0905287b1a24"}}),
        json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "s1", "title": "5 pm"}}}),
    ];
    for content in contents {
        let response = inject(
            &sim,
            json!({"from": "9158455686", "profile_name": "Aman", "content": content}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let sid = response.json::<Value>().await.unwrap()["sid"]
            .as_str()
            .unwrap()
            .to_string();
        let callback = next_json(&mut received).await;
        let message = &callback["whatsapp"]["messages"][0];
        if content["type"] == "text" {
            assert_same_shape(&callback, &incoming_example(), "incoming");
        }
        assert_eq!(
            (&message["callback_type"], &message["sid"]),
            (&json!("incoming_message"), &json!(sid))
        );
        assert_eq!(
            (&message["from"], &message["to"]),
            (&json!("+919158455686"), &json!(WABA))
        );
        assert_eq!(
            (&message["profile_name"], &message["content"]),
            (&json!("Aman"), &content)
        );
    }
}

#[tokio::test]
async fn receipts_without_a_status_callback_go_to_the_account_webhook() {
    let sim = sim::fast(1000.0).await;
    let (webhook, mut received) = callback_sink().await;
    admin(&sim, "accounts/sandbox/whatsapp-webhook", json!({"url": webhook})).await;
    script(&sim, "09876543210", json!({"whatsapp": "sent"})).await;
    send(&sim, &wrapped(vec![message("+919876543210", text("Hi"))])).await;
    let receipt = next_json(&mut received).await;
    assert_eq!(receipt["whatsapp"]["messages"][0]["exo_status_code"], 30001);
}

#[tokio::test]
async fn incoming_messages_need_an_account_a_webhook_and_valid_content() {
    let sim = sim::start().await;
    let hello = json!({"type": "text", "text": {"body": "Hello"}});
    let no_webhook = inject(&sim, json!({"from": "+919158455686", "content": hello})).await;
    assert_eq!(no_webhook.status(), StatusCode::CONFLICT);
    let unknown = inject(
        &sim,
        json!({"account_sid": "nobody", "from": "+919158455686", "content": hello}),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let status = admin_status(&sim, "accounts/nobody/whatsapp-webhook", json!({"url": "http://x/y"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    admin(
        &sim,
        "accounts/sandbox/whatsapp-webhook",
        json!({"url": "http://127.0.0.1:9/hook"}),
    )
    .await;
    for content in [
        json!({"type": "text", "text": {}}),
        json!({"type": "interactive", "interactive": {"type": "nfm_reply"}}),
        json!("Hello"),
    ] {
        let response = inject(&sim, json!({"from": "+919158455686", "content": content})).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{content}");
    }
}
