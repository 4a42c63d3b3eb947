//! Promotional SMS: held to 09:00–21:00 IST on a controlled clock, sent
//! exactly once when the window opens with two workers running, and never
//! to a number on the DND registry.

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

use api::runtime::Roles;
use application::clock::ManualClock;

use super::*;
use crate::support::{DEFAULT_NATS, TestApp, assert_problem, data, launch_with_clock, sim};

const OFFER: &str = "1107160000000000003";
const OFFER_TEXT: &str = "Flat {#var#} off on your next order. T&C apply -Sandbox";

#[tokio::test]
async fn a_promotional_sms_asked_for_at_ten_at_night_goes_out_at_nine_exactly_once_with_two_workers() {
    // 22:00 IST on 1 December is 16:30 UTC; the window opens at 03:30 UTC on the 2nd.
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 1, 16, 30, 0).unwrap()));
    let (mut settings, dir) = crate::support::distributed(DEFAULT_NATS).await;
    quick(&mut settings);
    let first = launch_with_clock(&settings, clock.clone(), Roles::ALL).await;
    let workers = Roles {
        api: false,
        projectors: false,
        workers: true,
    };
    let _second = launch_with_clock(&settings, clock.clone(), workers).await;
    let app = TestApp::started(first, settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    configure(&app, &sim, Some(ENTITY)).await;
    register(&app, OFFER, OFFER_TEXT, PROMOTIONAL_HEADER, "promotional").await;
    let body = json!({"to": [CUSTOMER], "template_id": OFFER, "variables": ["20%"], "sms_type": "promotional",
        "sender_id": PROMOTIONAL_HEADER});
    let response = send(&app, body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    let message = &data(&body)["messages"][0];
    assert_eq!(message["not_before"], "2026-12-02T03:30:00Z");
    let id = message["id"].as_str().unwrap().to_string();
    crate::support::eventually(Duration::from_secs(10), "the list shows it waiting", || async {
        let listed: Value = app
            .get("/api/v1/sms", Some(&app.admin_token))
            .await
            .json()
            .await
            .unwrap();
        listed["data"][0]["not_before"] == "2026-12-02T03:30:00Z"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    clock.set(Utc.with_ymd_and_hms(2026, 12, 2, 3, 29, 59).unwrap());
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(all_sends(&sim).await, 0, "nothing goes out before 09:00 IST");
    assert_eq!(super::message(&app, &id).await["dispatch"], "pending");
    clock.set(Utc.with_ymd_and_hms(2026, 12, 2, 3, 30, 0).unwrap());
    message_when(&app, &id, 20, "the SMS goes out at 09:00", |m| {
        m["dispatch"] == "submitted"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let sends = sends_for(&sim, &id).await;
    assert_eq!(sends.len(), 1, "exactly once, whichever worker sent it");
    assert_eq!(field(&sends[0], "SmsType"), Some("promotional"));
    assert_eq!(field(&sends[0], "From"), Some(PROMOTIONAL_HEADER));
    assert_eq!(super::message(&app, &id).await["attempts"], 1);
}

#[tokio::test]
async fn a_promotional_sms_inside_the_window_is_not_held() {
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 1, 5, 0, 0).unwrap()));
    let (mut settings, dir) = crate::support::embedded();
    quick(&mut settings);
    let running = launch_with_clock(&settings, clock, Roles::ALL).await;
    let app = TestApp::started(running, settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    configure(&app, &sim, Some(ENTITY)).await;
    register(&app, OFFER, OFFER_TEXT, PROMOTIONAL_HEADER, "promotional").await;
    let body = json!({"to": [CUSTOMER], "template_id": OFFER, "variables": ["10%"], "sms_type": "promotional",
        "sender_id": PROMOTIONAL_HEADER});
    let response: Value = send(&app, body).await.json().await.unwrap();
    let message = &data(&response)["messages"][0];
    assert!(message["not_before"].is_null());
    let id = message["id"].as_str().unwrap();
    message_when(&app, id, 20, "the SMS is sent at once", |m| {
        m["dispatch"] == "submitted"
    })
    .await;
}

#[tokio::test]
async fn a_promotional_sms_to_a_number_on_the_dnd_registry_or_abroad_is_refused() {
    let (app, sim) = app_and_simulator().await;
    register(&app, OFFER, OFFER_TEXT, PROMOTIONAL_HEADER, "promotional").await;
    let dnd = "+919812300041";
    sim::script(&sim, dnd, json!({"dnd": true})).await;
    let offer = |to: &str| {
        json!({"to": [CUSTOMER, to], "template_id": OFFER, "variables": ["5%"], "sms_type": "promotional",
            "sender_id": PROMOTIONAL_HEADER})
    };
    let problem = assert_problem(
        send(&app, offer(dnd)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "recipient_on_dnd",
    )
    .await;
    assert_eq!(problem["field"], "to");
    assert!(problem["detail"].as_str().unwrap().contains(dnd));
    let problem = assert_problem(
        send(&app, offer("+14155550100")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(problem["field"], "to");
    assert_eq!(all_sends(&sim).await, 0);
    let listed: Value = app
        .get("/api/v1/sms", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["count"], 0, "no recipient of a refused request is recorded");
}
