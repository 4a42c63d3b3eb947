//! SMS over the API against the Exotel simulator: India's DLT rules
//! refused before anything is sent, one message at Exotel per intent
//! whatever fails, delivery reports that never move a message backwards,
//! and promotional messages held to 09:00–21:00 IST on a controlled clock.

mod delivery;
mod promotional;
mod requests;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use infrastructure::Settings;
use simulator::RunningSimulator;

use crate::support::{TestApp, data, eventually, sim};

/// The sandbox account's transactional DLT header.
pub const HEADER: &str = "SNDBOX";
/// Its promotional (numeric) header.
pub const PROMOTIONAL_HEADER: &str = "600123";
pub const ENTITY: &str = "1101234567890123456";
pub const TEMPLATE: &str = "1107160000000000001";
pub const TEMPLATE_TEXT: &str = "Your order {#var#} is on its way. -Sandbox";
pub const CUSTOMER: &str = "+919812300002";

/// Timings short enough for a test.
pub fn quick(settings: &mut Settings) {
    settings.message_dispatch_poll_ms = 20;
    settings.exotel_timeout_secs = 2;
    settings.call_in_doubt_after_secs = 1;
}

/// Configures the app's Exotel SMS integration on the simulator, with the
/// organisation's DLT entity id as the default when `entity` is given.
pub async fn configure(app: &TestApp, sim: &RunningSimulator, entity: Option<&str>) {
    let body = json!({"account_sid": "sandbox", "api_key": sim::KEY, "api_token": sim::TOKEN,
        "api_host": sim.base_url(), "sender_id": HEADER, "dlt_entity_id": entity});
    let saved = app
        .post_json("/api/v1/settings/integrations/exotel_sms", Some(&app.admin_token), body)
        .await;
    assert_eq!(saved.status(), StatusCode::OK, "{}", saved.text().await.unwrap());
}

/// Registers a DLT template as the admin, which must be accepted.
pub async fn register(app: &TestApp, id: &str, text: &str, header: &str, sms_type: &str) {
    let body = json!({"template_id": id, "name": format!("Template {id}"), "body": text,
        "sender_id": header, "sms_type": sms_type});
    let response = app
        .post_json("/api/v1/sms/templates", Some(&app.admin_token), body)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(data(&body)["template_id"], id);
    assert!(data(&body)["registered_at"].is_string(), "{body}");
}

/// An embedded app with quick timings, its SMS integration and the order
/// template registered, on a simulator a hundred times faster than real time.
pub async fn app_and_simulator() -> (TestApp, RunningSimulator) {
    let (mut settings, dir) = crate::support::embedded();
    quick(&mut settings);
    let app = TestApp::start(settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    configure(&app, &sim, Some(ENTITY)).await;
    register(&app, TEMPLATE, TEMPLATE_TEXT, HEADER, "service_implicit").await;
    (app, sim)
}

/// `POST /api/v1/sms` as the admin; the response.
pub async fn send(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/api/v1/sms", Some(&app.admin_token), body).await
}

/// An order SMS to `to`, which must be accepted; its message id.
pub async fn send_order(app: &TestApp, to: &str, order: &str) -> String {
    let body = json!({"to": [to], "template_id": TEMPLATE, "variables": [order], "sms_type": "service_implicit"});
    let response = send(app, body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    let message = &data(&body)["messages"][0];
    assert_eq!(message["status"], "requested");
    let customer = domain::customer::phone_customer_id(app.organisation_id, to);
    assert_eq!(
        message["customer_id"],
        customer.to_string(),
        "the number is linked to its customer"
    );
    message["id"].as_str().unwrap().to_string()
}

/// `GET /api/v1/sms/{id}`'s data.
pub async fn message(app: &TestApp, id: &str) -> Value {
    let response = app.get(&format!("/api/v1/sms/{id}"), Some(&app.admin_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    data(&body).clone()
}

/// The message once `check` holds of it, within `seconds`.
pub async fn message_when(app: &TestApp, id: &str, seconds: u64, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let check = &check;
    eventually(Duration::from_secs(seconds), what, || async move {
        check(&message(app, id).await)
    })
    .await;
    message(app, id).await
}

/// The `Sms/send` requests the simulator received naming `message_id` in
/// `CustomField`.
pub async fn sends_for(sim: &RunningSimulator, message_id: &str) -> Vec<Vec<(String, String)>> {
    sim::forms_to(sim, "Sms/send")
        .await
        .into_iter()
        .filter(|form| form.iter().any(|(k, v)| k == "CustomField" && v == message_id))
        .collect()
}

/// Every `Sms/send` request the simulator received.
pub async fn all_sends(sim: &RunningSimulator) -> usize {
    sim::forms_to(sim, "Sms/send").await.len()
}

/// The value of `key` in a form.
pub fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The app's SMS status callback URL.
pub fn callback_url(app: &TestApp) -> String {
    let integration =
        domain::integration::integration_id(app.organisation_id, domain::integration::IntegrationKind::ExotelSms);
    let token = app.state.callback_tokens.token(integration, 0);
    app.url(&format!("/webhooks/exotel/{integration}/{token}/sms"))
}

/// Posts an urlencoded SMS callback as Exotel does; its receipt.
pub async fn post_callback(app: &TestApp, form: &[(&str, &str)]) -> Value {
    let response = reqwest::Client::new()
        .post(callback_url(app))
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    data(&body).clone()
}
