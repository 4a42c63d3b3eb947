//! WhatsApp (v2): the wrapped send, per-message results, the v2 error
//! envelope, delivery reports, incoming messages and scripted faults.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use super::*;

mod incoming;

const WABA: &str = "+918047112233";

/// §7.2 of the reference: the 202 answer.
fn accepted_example() -> Value {
    json!({"request_id":"a1b2c3","method":"POST","http_code":202,
     "metadata":{"total":1,"success":1,"failed":0},
     "response":{"whatsapp":{"messages":[
        {"code":202,"status":"success","error_data":null,"data":{"sid":"c5d40b17527aaf93b5ba0905287b1a24"}}]}}})
}

/// §1.4: the v2 error envelope.
fn error_example() -> Value {
    json!({"request_id":"...","method":"POST","http_code":400,
     "response":{"code":400,"status":"failure","error_data":{"code":1001,"message":"...","description":"..."},"data":null}})
}

/// §7.3: a delivery report.
fn receipt_example() -> Value {
    json!({"whatsapp":{"messages":[
      {"callback_type":"dlr","sid":"2Fdii","to":"919876543210",
       "exo_status_code":30002,"exo_detailed_status":"EX_MESSAGE_DELIVERED",
       "description":"Message delivered","timestamp":"2024-01-15T10:30:05.000+05:30",
       "custom_data":"Order12"}]}})
}

fn text(body: &str) -> Value {
    json!({"recipient_type": "individual", "type": "text", "text": {"preview_url": false, "body": body}})
}

fn message(to: &str, content: Value) -> Value {
    json!({"from": WABA, "to": to, "content": content})
}

fn wrapped(messages: Vec<Value>) -> Value {
    json!({"whatsapp": {"messages": messages}})
}

async fn send_with(sim: &RunningSimulator, token: &str, body: &Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v2/accounts/sandbox/messages", sim.base_url()))
        .basic_auth(KEY, Some(token))
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn send(sim: &RunningSimulator, body: &Value) -> (StatusCode, Value) {
    send_with(sim, TOKEN, body).await
}

fn assert_refused(status: StatusCode, body: &Value, mentions: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_same_shape(body, &error_example(), "error");
    assert_eq!(
        (&body["http_code"], &body["response"]["status"]),
        (&json!(400), &json!("failure"))
    );
    let description = body["response"]["error_data"]["description"].as_str().unwrap();
    assert!(description.contains(mentions), "{description} mentions {mentions}");
}

fn sid_of(answer: &Value, i: usize) -> String {
    answer["response"]["whatsapp"]["messages"][i]["data"]["sid"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn messages_of_every_content_type_are_accepted_with_202() {
    let sim = sim::start().await;
    let contents = [
        text("Hi"),
        json!({"type": "image", "image": {"link": "https://example.com/a.jpg", "caption": "Your bill"}}),
        json!({"type": "document", "document": {"link": "https://example.com/x.pdf", "filename": "x.pdf"}}),
        json!({"type": "video", "video": {"link": "https://example.com/v.mp4"}}),
        json!({"type": "audio", "audio": {"link": "https://example.com/a.ogg"}}),
        json!({"type": "location", "location": {"latitude": 12.97, "longitude": 77.59, "name": "Office", "address": "MG Road"}}),
        json!({"type": "template", "template": {"name": "order_confirmation",
            "language": {"policy": "deterministic", "code": "en"},
            "components": [{"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/h.png"}}]},
                           {"type": "body", "parameters": [{"type": "text", "text": "Rahul"}]},
                           {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "42"}]}]}}),
        json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "Confirm?"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]}}}),
        json!({"type": "interactive", "interactive": {"type": "list", "body": {"text": "Pick a slot"},
            "action": {"button": "Slots", "sections": [{"title": "Today", "rows": [{"id": "s1", "title": "5 pm"}]}]}}}),
    ];
    let messages: Vec<Value> = contents.into_iter().map(|c| message("+919876543210", c)).collect();
    let (status, answer) = send(&sim, &wrapped(messages)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_same_shape(&answer, &accepted_example(), "answer");
    assert_eq!(answer["metadata"], json!({"total": 9, "success": 9, "failed": 0}));
    assert_eq!((&answer["http_code"], &answer["method"]), (&json!(202), &json!("POST")));
    for entry in answer["response"]["whatsapp"]["messages"].as_array().unwrap() {
        assert_eq!((&entry["code"], &entry["status"]), (&json!(202), &json!("success")));
        assert_eq!(entry["data"]["sid"].as_str().map(str::len), Some(32));
    }
}

#[tokio::test]
async fn a_request_without_the_whatsapp_wrapper_is_refused_in_the_v2_envelope() {
    let sim = sim::start().await;
    let flat = json!({"from": WABA, "to": "+919876543210", "content": text("Hi")});
    let (status, body) = send(&sim, &flat).await;
    assert_refused(status, &body, "at least one channel is mandatory");
    assert_eq!(
        body["response"]["error_data"]["message"],
        "at least one channel is mandatory"
    );
    let (status, body) = send(&sim, &json!({"whatsapp": {}})).await;
    assert_refused(status, &body, "whatsapp.messages");
    let (status, body) = send(&sim, &wrapped(vec![])).await;
    assert_refused(status, &body, "at least one message");
}

#[tokio::test]
async fn more_than_100_messages_are_refused() {
    let sim = sim::start().await;
    let messages = vec![message("+919876543210", text("Hi")); 101];
    let (status, body) = send(&sim, &wrapped(messages)).await;
    assert_refused(status, &body, "at most 100");
    let messages = vec![message("+919876543210", text("Hi")); 100];
    assert_eq!(send(&sim, &wrapped(messages)).await.0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn invalid_content_is_refused() {
    let sim = sim::start().await;
    let cases = [
        (json!({"type": "text", "text": {"preview_url": false}}), "text.body"),
        (json!({"type": "carousel", "carousel": {}}), "carousel is not supported"),
        (
            json!({"type": "template", "template": {"name": "otp"}}),
            "template.language.code",
        ),
        (
            json!({"type": "template", "template": {"language": {"code": "en"}}}),
            "template.name",
        ),
        (
            json!({"type": "location", "location": {"name": "Office"}}),
            "location.latitude",
        ),
        (
            json!({"type": "location", "location": {"latitude": 12.9}}),
            "location.longitude",
        ),
        (json!({"type": "image", "image": {"caption": "no link"}}), "image.link"),
        (
            json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "?"}, "action": {"buttons": []}}}),
            "buttons",
        ),
    ];
    for (content, mentions) in cases {
        let (status, body) = send(&sim, &wrapped(vec![message("+919876543210", content)])).await;
        assert_refused(status, &body, mentions);
    }
    let foreign = json!({"from": "+919999999999", "to": "+919876543210", "content": text("Hi")});
    let (status, body) = send(&sim, &wrapped(vec![foreign])).await;
    assert_refused(status, &body, "not a WhatsApp number of this account");
}

#[tokio::test]
async fn an_invalid_message_among_valid_ones_fails_alone() {
    let sim = sim::start().await;
    let messages = vec![
        message("+919876543210", text("Hi")),
        message("+919876543210", json!({"type": "text", "text": {}})),
    ];
    let (status, answer) = send(&sim, &wrapped(messages)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(answer["metadata"], json!({"total": 2, "success": 1, "failed": 1}));
    let failed = &answer["response"]["whatsapp"]["messages"][1];
    assert_eq!(
        (&failed["code"], &failed["status"], &failed["data"]),
        (&json!(400), &json!("failure"), &Value::Null)
    );
    assert_same_shape(
        &failed["error_data"],
        &error_example()["response"]["error_data"],
        "error_data",
    );
    assert!(
        failed["error_data"]["description"]
            .as_str()
            .unwrap()
            .starts_with("whatsapp.messages[1]")
    );
}

#[tokio::test]
async fn bad_credentials_get_401_in_the_v2_envelope() {
    let sim = sim::start().await;
    let (status, body) = send_with(&sim, "nope", &wrapped(vec![message("+919876543210", text("Hi"))])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_same_shape(&body, &error_example(), "error");
    assert_eq!(
        (&body["http_code"], &body["response"]["code"]),
        (&json!(401), &json!(401))
    );
}

#[tokio::test]
async fn receipts_arrive_sent_then_delivered_then_read() {
    let sim = sim::fast(1000.0).await;
    let (callback, mut receipts) = callback_sink().await;
    let body = json!({"custom_data": "Order12", "status_callback": callback,
        "whatsapp": {"messages": [message("09876543210", text("Your order shipped"))]}});
    let (status, answer) = send(&sim, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let sid = sid_of(&answer, 0);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let receipt = next_json(&mut receipts).await;
        assert_same_shape(&receipt, &receipt_example(), "receipt");
        let dlr = &receipt["whatsapp"]["messages"][0];
        assert_eq!((&dlr["callback_type"], &dlr["sid"]), (&json!("dlr"), &json!(sid)));
        assert_eq!(
            (&dlr["to"], &dlr["custom_data"]),
            (&json!("919876543210"), &json!("Order12"))
        );
        let timestamp = dlr["timestamp"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_str(timestamp, "%Y-%m-%dT%H:%M:%S%.3f%:z").is_ok()
                && timestamp.ends_with("+05:30")
        );
        seen.push((
            dlr["exo_status_code"].as_u64().unwrap(),
            dlr["exo_detailed_status"].as_str().unwrap().to_string(),
        ));
        if seen.len() == 2 {
            assert_eq!(dlr["description"], "Message delivered");
        }
    }
    let expected = [
        (30001, "EX_MESSAGE_SENT"),
        (30002, "EX_MESSAGE_DELIVERED"),
        (30003, "EX_MESSAGE_SEEN"),
    ];
    assert_eq!(seen, expected.map(|(c, s)| (c, s.to_string())));
    nothing_arrives(&mut receipts, 200).await;
}

#[tokio::test]
async fn a_message_level_callback_and_custom_data_win_over_the_request_level_ones() {
    let sim = sim::fast(1000.0).await;
    script(&sim, "09876543210", json!({"whatsapp": "sent"})).await;
    let (outer, mut outer_receipts) = callback_sink().await;
    let (inner, mut inner_receipts) = callback_sink().await;
    let mut own = message("+919876543210", text("Hi"));
    own["status_callback"] = json!(inner);
    own["custom_data"] = json!("{\"ticket\":7}");
    let body = json!({"custom_data": "outer", "status_callback": outer, "whatsapp": {"messages": [own]}});
    assert_eq!(send(&sim, &body).await.0, StatusCode::ACCEPTED);
    let receipt = next_json(&mut inner_receipts).await;
    assert_eq!(receipt["whatsapp"]["messages"][0]["custom_data"], "{\"ticket\":7}");
    nothing_arrives(&mut outer_receipts, 300).await;
}

#[tokio::test]
async fn a_failed_message_reports_the_scripted_error_code() {
    let sim = sim::fast(1000.0).await;
    script(
        &sim,
        "09876543210",
        json!({"whatsapp": "failed", "whatsapp_error_code": 30018}),
    )
    .await;
    script(&sim, "09123456789", json!({"whatsapp": "failed"})).await;
    let (callback, mut receipts) = callback_sink().await;
    let body = json!({"status_callback": callback, "whatsapp": {"messages": [message("+919876543210", text("Hi"))]}});
    send(&sim, &body).await;
    let dlr = next_json(&mut receipts).await["whatsapp"]["messages"][0].clone();
    assert_eq!(
        (&dlr["exo_status_code"], &dlr["exo_detailed_status"]),
        (&json!(30018), &json!("EX_REENGAGEMENT_ERROR"))
    );
    nothing_arrives(&mut receipts, 200).await;
    let body = json!({"status_callback": callback, "whatsapp": {"messages": [message("+919123456789", text("Hi"))]}});
    send(&sim, &body).await;
    let dlr = next_json(&mut receipts).await["whatsapp"]["messages"][0].clone();
    assert_eq!(
        (&dlr["exo_status_code"], &dlr["exo_detailed_status"]),
        (&json!(30013), &json!("EX_INCAPABLE_RECIPIENT"))
    );
}

#[tokio::test]
async fn receipts_can_be_reordered_duplicated_or_dropped() {
    let sim = sim::fast(1000.0).await;
    script(&sim, "09100000001", json!({"callbacks": "reorder"})).await;
    script(
        &sim,
        "09100000002",
        json!({"callbacks": "duplicate", "whatsapp": "sent"}),
    )
    .await;
    script(&sim, "09100000003", json!({"callbacks": "drop"})).await;
    let code = |receipt: &Value| receipt["whatsapp"]["messages"][0]["exo_status_code"].as_u64().unwrap();

    let (callback, mut reordered) = callback_sink().await;
    let body = json!({"status_callback": callback, "whatsapp": {"messages": [message("+919100000001", text("Hi"))]}});
    send(&sim, &body).await;
    let mut order = Vec::new();
    for _ in 0..3 {
        order.push(code(&next_json(&mut reordered).await));
    }
    assert_eq!(order, [30003, 30002, 30001], "read first, sent last");

    let (callback, mut duplicated) = callback_sink().await;
    let body = json!({"status_callback": callback, "whatsapp": {"messages": [message("+919100000002", text("Hi"))]}});
    send(&sim, &body).await;
    assert_eq!(
        next_callback(&mut duplicated).await,
        next_callback(&mut duplicated).await
    );
    nothing_arrives(&mut duplicated, 200).await;

    let (callback, mut dropped) = callback_sink().await;
    let body = json!({"status_callback": callback, "whatsapp": {"messages": [message("+919100000003", text("Hi"))]}});
    send(&sim, &body).await;
    nothing_arrives(&mut dropped, 500).await;
}

#[tokio::test]
async fn scripted_faults_refuse_whatsapp_requests_in_the_v2_envelope() {
    let sim = sim::start().await;
    sim::script_faults(&sim).await;
    for (number, fault, status) in FAULTS {
        let (actual, body) = send(&sim, &wrapped(vec![message(number, text("Hi"))])).await;
        assert_eq!(actual, status, "{fault}");
        assert_same_shape(&body, &error_example(), fault);
        assert_eq!(body["http_code"], status.as_u16());
    }
    let slow = reqwest::Client::new()
        .post(format!("{}/v2/accounts/sandbox/messages", sim.base_url()))
        .basic_auth(KEY, Some(TOKEN))
        .timeout(Duration::from_millis(300))
        .json(&wrapped(vec![message(TIMES_OUT, text("Hi"))]))
        .send()
        .await;
    assert!(slow.unwrap_err().is_timeout());
}
