//! WhatsApp templates against the simulator's v2 template routes: synced
//! from the business account, sent outside the customer-service window
//! only while approved and only as the template takes them, and unusable
//! once the provider pauses or deletes them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

use simulator::RunningSimulator;

use super::{all_sends, app_and_simulator, message, send, sends_for};
use crate::support::{TestApp, assert_problem, data, eventually, sim};

/// A customer who never wrote: only a template reaches them.
const STRANGER: &str = "+919812300071";

/// A 422 with this code naming this field.
async fn refused(response: reqwest::Response, code: &str, field: &str) -> Value {
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    assert_eq!(body["field"], field, "{body}");
    body
}

async fn sync(app: &TestApp) -> Value {
    let response = app
        .post_json(
            "/api/v1/settings/integrations/exotel_whatsapp/sync-templates",
            Some(&app.admin_token),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    data(&body).clone()
}

async fn templates(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app
        .get(&format!("/api/v1/whatsapp/templates{query}"), Some(&app.admin_token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["data"].as_array().cloned().unwrap_or_default()
}

/// The template of that name once the view shows it with `status`.
async fn listed(app: &TestApp, name: &str, status: &str) -> Value {
    let find = || async {
        let all = templates(app, "").await;
        all.into_iter().find(|t| t["name"] == name).unwrap_or_default()
    };
    eventually(Duration::from_secs(10), "the template is listed", || async {
        find().await["status"] == status
    })
    .await;
    find().await
}

fn order_update(values: &[&str]) -> Value {
    json!({"type": "template", "name": "order_update", "language": "en", "body": values})
}

/// Sets a template's review status at the simulator, as Meta would.
async fn review(sim: &RunningSimulator, name: &str, status: &str) {
    let path = format!("accounts/sandbox/templates/{name}");
    let (answered, body) = sim::admin_request(sim, Method::PUT, &path, json!({"status": status})).await;
    assert_eq!(answered, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_synced_approved_template_reaches_a_customer_outside_the_window_once() {
    let (app, sim) = app_and_simulator().await;
    let outside = send(&app, STRANGER, json!({"type": "text", "body": "Hello"})).await;
    refused(outside, "whatsapp_window_closed", "to").await;
    let unsynced = send(&app, STRANGER, order_update(&["Asha", "A-1042"])).await;
    refused(unsynced, "whatsapp_template_unknown", "content.name").await;
    let report = sync(&app).await;
    assert_eq!(report["listed"], 2, "{report}");
    assert_eq!(report["changed"], 2, "{report}");
    assert_eq!(report["removed"], 0, "{report}");
    let template = listed(&app, "order_update", "approved").await;
    assert_eq!(template["language"], "en");
    assert_eq!(template["category"], "UTILITY");
    assert_eq!(template["body_variables"], 2);
    let photo = listed(&app, "delivery_photo", "approved").await;
    assert_eq!(photo["header_media"], "image", "{photo}");
    let again = sync(&app).await;
    assert_eq!(again["changed"], 0, "an unchanged listing records nothing: {again}");
    let response = send(&app, STRANGER, order_update(&["Asha", "A-1042"])).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    let id = data(&body)["id"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(15), "the template message is delivered", || async {
        ["delivered", "read"].contains(&message(&app, &id).await["status"].as_str().unwrap_or_default())
    })
    .await;
    assert_eq!(sends_for(&sim, &id).await, 1);
    let sent = sim::requests(&sim)
        .await
        .into_iter()
        .find(|r| r["body"].as_str().is_some_and(|b| b.contains(&id)))
        .unwrap();
    let wire: Value = serde_json::from_str(sent["body"].as_str().unwrap()).unwrap();
    let content = &wire["whatsapp"]["messages"][0]["content"];
    assert_eq!(content["type"], "template");
    assert_eq!(content["template"]["name"], "order_update");
    assert_eq!(content["template"]["language"]["code"], "en");
    assert_eq!(content["template"]["components"][0]["type"], "body");
    assert_eq!(content["template"]["components"][0]["parameters"][1]["text"], "A-1042");
}

#[tokio::test]
async fn a_template_message_that_differs_from_its_template_sends_nothing() {
    let (app, sim) = app_and_simulator().await;
    sync(&app).await;
    listed(&app, "delivery_photo", "approved").await;
    let before = all_sends(&sim).await;
    let short = send(&app, STRANGER, order_update(&["Asha"])).await;
    let body = refused(short, "whatsapp_template_mismatch", "content.body").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("takes 2 body variables; 1 were given"),
        "{body}"
    );
    let headerless = json!({"type": "template", "name": "delivery_photo", "language": "en", "body": ["A-1042"]});
    let response = send(&app, STRANGER, headerless).await;
    refused(response, "whatsapp_template_mismatch", "content.header").await;
    let hindi = json!({"type": "template", "name": "order_update", "language": "hi", "body": ["Asha", "A-1"]});
    let response = send(&app, STRANGER, hindi).await;
    refused(response, "whatsapp_template_unknown", "content.name").await;
    let malformed = json!({"type": "template", "name": "Order Update", "language": "en", "body": []});
    let response = send(&app, STRANGER, malformed).await;
    refused(response, "invalid_field", "content.name").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(all_sends(&sim).await, before, "nothing reached the simulator");
}

#[tokio::test]
async fn a_template_paused_or_deleted_at_the_provider_can_no_longer_be_sent() {
    let (app, sim) = app_and_simulator().await;
    sync(&app).await;
    listed(&app, "order_update", "approved").await;
    review(&sim, "order_update", "PAUSED").await;
    let report = sync(&app).await;
    assert_eq!(report["changed"], 1, "{report}");
    listed(&app, "order_update", "paused").await;
    assert_eq!(templates(&app, "?status=approved").await.len(), 1);
    let before = all_sends(&sim).await;
    let paused = send(&app, STRANGER, order_update(&["Asha", "A-1042"])).await;
    let body = refused(paused, "whatsapp_template_not_approved", "content.name").await;
    assert!(body["detail"].as_str().unwrap().contains("Paused"), "{body}");
    review(&sim, "order_update", "APPROVED").await;
    sync(&app).await;
    listed(&app, "order_update", "approved").await;
    let deleted = sim_delete(&sim, "order_update").await;
    assert_eq!(deleted, StatusCode::OK);
    let report = sync(&app).await;
    assert_eq!(report["removed"], 1, "{report}");
    eventually(Duration::from_secs(10), "the template leaves the list", || async {
        templates(&app, "").await.iter().all(|t| t["name"] != "order_update")
    })
    .await;
    let gone = send(&app, STRANGER, order_update(&["Asha", "A-1042"])).await;
    refused(gone, "whatsapp_template_unknown", "content.name").await;
    assert_eq!(all_sends(&sim).await, before, "nothing reached the simulator");
}

/// Deletes a template at the simulator through Exotel's own route.
async fn sim_delete(sim: &RunningSimulator, name: &str) -> StatusCode {
    let url = format!(
        "{}/v2/accounts/sandbox/templates?waba_id={}",
        sim.base_url(),
        simulator::SANDBOX_WABA
    );
    reqwest::Client::new()
        .delete(url)
        .basic_auth(sim::KEY, Some(sim::TOKEN))
        .json(&json!({"whatsapp": {"templates": [{"template": {"name": name}}]}}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_sync_without_a_business_account_says_which_field_is_missing_and_removes_nothing() {
    let (app, sim) = app_and_simulator().await;
    assert_eq!(sync(&app).await["listed"], 2);
    listed(&app, "order_update", "approved").await;
    let body = json!({"account_sid": "sandbox", "api_key": sim::KEY, "api_token": sim::TOKEN,
        "api_host": sim.base_url(), "whatsapp_number": "+918047112233"});
    let saved = app
        .post_json(
            "/api/v1/settings/integrations/exotel_whatsapp",
            Some(&app.admin_token),
            body,
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let response = app
        .post_json(
            "/api/v1/settings/integrations/exotel_whatsapp/sync-templates",
            Some(&app.admin_token),
            json!({}),
        )
        .await;
    refused(response, "invalid_field", "waba_id").await;
    assert_eq!(
        templates(&app, "").await.len(),
        2,
        "a sync that could not run removes nothing"
    );
}

#[tokio::test]
async fn the_modules_whatsapp_send_route_sends_a_template_and_keeps_the_window_rule() {
    let (app, sim) = app_and_simulator().await;
    sync(&app).await;
    listed(&app, "order_update", "approved").await;
    let text = json!({"to": STRANGER, "message": "Hello"});
    let response = app
        .post_json("/api/exotel/whatsapp/send", Some(&app.admin_token), text)
        .await;
    refused(response, "whatsapp_window_closed", "to").await;
    let template = json!({"to": "09812300071", "templateName": "order_update", "variables": ["Asha", "A-1042"]});
    let response = app
        .post_json("/api/exotel/whatsapp/send", Some(&app.admin_token), template)
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    let sent = data(&body);
    assert_eq!(
        (&sent["kind"], &sent["to"]),
        (&json!("template"), &json!(STRANGER)),
        "{sent}"
    );
    let id = sent["messageId"].as_str().unwrap().to_string();
    eventually(
        Duration::from_secs(15),
        "the module's template is delivered",
        || async { ["delivered", "read"].contains(&message(&app, &id).await["status"].as_str().unwrap_or_default()) },
    )
    .await;
    assert_eq!(sends_for(&sim, &id).await, 1);
}
