//! Delivery reports and lost answers: reports duplicated, reordered and
//! late never move a message backwards; an answer lost after Exotel
//! accepted the message never sends it twice.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use super::*;
use crate::support::{TestApp, sim};

/// A recipient whose own report from the simulator comes only after the test.
const SLOW: &str = "+919812300031";

fn reports(message: &Value) -> usize {
    message["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "report")
        .count()
}

#[tokio::test]
async fn reports_duplicated_reordered_and_late_end_delivered_and_never_move_it_back() {
    let (app, sim) = app_and_simulator().await;
    sim::script(&sim, SLOW, json!({"sms_delay_seconds": 1_000_000})).await;
    let id = send_order(&app, SLOW, "D-1").await;
    let submitted = message_when(&app, &id, 20, "the SMS is submitted", |m| m["dispatch"] == "submitted").await;
    assert_eq!(submitted["status"], "submitted");
    let sid = submitted["provider_sid"].as_str().unwrap().to_string();
    let report = |status: &'static str, code: &'static str, name: &'static str| {
        vec![
            ("SmsSid", sid.clone()),
            ("To", SLOW.to_string()),
            ("Status", status.to_string()),
            ("DetailedStatusCode", code.to_string()),
            ("DetailedStatus", name.to_string()),
            ("SmsUnits", "1".to_string()),
            ("CustomField", id.clone()),
        ]
    };
    let post = |form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_callback(app, &pairs).await
        }
    };
    let delivered = report("sent", "20005", "DELIVERED_TO_HANDSET");
    let receipt = post(delivered.clone()).await;
    assert_eq!(receipt["matched"], true);
    assert_eq!(receipt["message_id"], id.as_str());
    post(report("submitted", "21020", "PENDING_ON_OPERATOR")).await;
    post(report("queued", "21010", "PENDING_TO_OPERATOR")).await;
    post(delivered).await;
    post(report("failed", "23035", "FAILED_SUBSCRIBER_UNAVAILABLE")).await;
    let message = message(&app, &id).await;
    assert_eq!(message["status"], "delivered");
    assert!(message["failure"].is_null());
    assert_eq!(reports(&message), 4, "the duplicate is not recorded again");
    let moved: Vec<&Value> = message["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "report" && !e["status"].is_null())
        .collect();
    assert_eq!(moved.len(), 1, "only the first report moved the message");
    assert_eq!(moved[0]["status"], "delivered");
    assert_eq!(sends_for(&sim, &id).await.len(), 1);
}

#[tokio::test]
async fn a_failure_reported_by_the_operator_is_recorded_with_its_code_and_description() {
    let (app, sim) = app_and_simulator().await;
    let number = "+919812300032";
    sim::script(
        &sim,
        number,
        json!({"sms": "failed", "sms_detailed_status_code": 23185}),
    )
    .await;
    let id = send_order(&app, number, "F-1").await;
    let failed = message_when(&app, &id, 20, "the SMS fails", |m| m["status"] == "failed").await;
    assert_eq!(failed["failure"]["code"], 23185);
    assert_eq!(failed["failure"]["description"], "DLT_TEMPLATE_DOES_NOT_MATCH");
    assert!(failed["failed_at"].is_string());
    // The list reads the view, which follows the aggregate a moment later.
    crate::support::eventually(Duration::from_secs(10), "the list shows the failure", || async {
        let listed: Value = app
            .get("/api/v1/sms?status=failed", Some(&app.admin_token))
            .await
            .json()
            .await
            .unwrap();
        listed["data"][0]["failure_code"] == 23185
    })
    .await;
}

#[tokio::test]
async fn exotel_timing_out_after_accepting_leaves_one_sms_there_and_its_report_settles_it() {
    let (app, sim) = app_and_simulator().await;
    let number = "+919812300033";
    sim::script(&sim, number, json!({"fault": "timeout_after_accepting"})).await;
    let id = send_order(&app, number, "T-1").await;
    let settled = message_when(&app, &id, 30, "the report settles the SMS", |m| {
        m["status"] == "delivered"
    })
    .await;
    assert_eq!(settled["dispatch"], "submitted");
    assert_eq!(settled["attempts"], 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    api::message_dispatcher::reconcile_once(&app.state).await.unwrap();
    assert_eq!(sends_for(&sim, &id).await.len(), 1, "one SMS at Exotel, not two");
    assert_eq!(message(&app, &id).await["attempts"], 1);
}

#[tokio::test]
async fn an_attempt_no_report_ever_names_is_recorded_unknown_and_never_sent_again() {
    let (mut settings, dir) = crate::support::embedded();
    quick(&mut settings);
    settings.message_report_wait_secs = 1;
    let app = TestApp::start(settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    configure(&app, &sim, Some(ENTITY)).await;
    register(&app, TEMPLATE, TEMPLATE_TEXT, HEADER, "service_implicit").await;
    let number = "+919812300034";
    sim::script(&sim, number, json!({"fault": "timeout"})).await;
    let id = send_order(&app, number, "U-1").await;
    message_when(&app, &id, 20, "the attempt is under way", |m| {
        m["dispatch"] == "started"
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        message(&app, &id).await["dispatch"],
        "started",
        "a lost answer is not retried"
    );
    api::message_dispatcher::reconcile_once(&app.state).await.unwrap();
    let unknown = message(&app, &id).await;
    assert_eq!(unknown["dispatch"], "unknown");
    assert_eq!(unknown["status"], "requested");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sends_for(&sim, &id).await.len(), 1, "asked once, never again");
    let late = post_callback(
        &app,
        &[
            ("SmsSid", "late-sid"),
            ("Status", "sent"),
            ("DetailedStatusCode", "20005"),
            ("CustomField", &id),
        ],
    )
    .await;
    assert_eq!(late["matched"], true);
    let settled = message(&app, &id).await;
    assert_eq!(settled["status"], "delivered");
    assert_eq!(settled["provider_sid"], "late-sid");
}

#[tokio::test]
async fn a_callback_with_a_wrong_token_is_refused_and_one_for_no_message_matches_nothing() {
    let (app, _sim) = app_and_simulator().await;
    let wrong = callback_url(&app).replace("/sms", "x/sms");
    let response = reqwest::Client::new()
        .post(wrong)
        .form(&[("SmsSid", "x"), ("Status", "sent")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let receipt = post_callback(&app, &[("SmsSid", "nobody"), ("Status", "sent")]).await;
    assert_eq!(receipt["matched"], false);
    let response = reqwest::Client::new()
        .post(callback_url(&app))
        .form(&[("Status", "sent")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
