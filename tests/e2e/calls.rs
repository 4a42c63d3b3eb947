//! Calls over the API against the Exotel simulator: click-to-call from
//! recorded intent, status callbacks in every encoding, duplicates and
//! late ones, reconciliation of dropped callbacks, and exactly one call at
//! Exotel whatever fails between the intent and the answer.

mod delivery;
mod faults;
mod masking;
mod recordings;
mod requests;
mod seed;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use api::runtime::{self, Roles, Running};
use api::state::AppState;
use infrastructure::Settings;
use simulator::RunningSimulator;

use crate::support::{TestApp, data, eventually, sim};

pub const AGENT: &str = "+919876500001";
pub const CUSTOMER: &str = "+919812300002";
pub const LINE: &str = "+918047112233";

/// Timings short enough for a test: attempts in doubt looked up after 2 s,
/// calls settled 1 s after their time limit and ringing, reconciled every
/// second.
pub fn quick(settings: &mut Settings) {
    settings.call_dispatch_poll_ms = 20;
    settings.call_in_doubt_after_secs = 2;
    settings.call_settle_secs = 1;
    settings.call_ring_timeout_secs = 5;
    settings.call_reconcile_interval_secs = 1;
}

/// Configures the app's Exotel phone integration on the simulator and
/// waits for its numbers.
pub async fn configure(app: &TestApp, sim: &RunningSimulator) {
    let body = json!({"account_sid": "sandbox", "api_key": sim::KEY, "api_token": sim::TOKEN,
        "api_host": sim.base_url(), "virtual_number": sim::EXOPHONE, "display_name": "Main line"});
    let saved = app
        .post_json(
            "/api/v1/settings/integrations/exotel_phone",
            Some(&app.admin_token),
            body,
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    eventually(Duration::from_secs(10), "the ExoPhones are synced", || async {
        let list: Value = app
            .get("/api/v1/settings/phone-numbers", Some(&app.admin_token))
            .await
            .json()
            .await
            .unwrap();
        list["count"] == 2
    })
    .await;
}

/// An embedded app with quick timings, configured on a simulator running
/// a hundred times faster than real time.
pub async fn app_and_simulator() -> (TestApp, RunningSimulator) {
    let (mut settings, dir) = crate::support::embedded();
    quick(&mut settings);
    let app = TestApp::start(settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    configure(&app, &sim).await;
    (app, sim)
}

/// `POST /api/v1/calls` as the admin; the response.
pub async fn request(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/api/v1/calls", Some(&app.admin_token), body).await
}

/// A click-to-call from `AGENT` to `customer`, which must be accepted; its id.
pub async fn place(app: &TestApp, customer: &str, extra: Value) -> String {
    let mut body = json!({"agent_phone": AGENT, "customer_phone": customer});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let response = request(app, body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(data(&body)["status"], "requested");
    data(&body)["id"].as_str().unwrap().to_string()
}

/// `GET /api/v1/calls/{id}`'s data.
pub async fn call(app: &TestApp, id: &str) -> Value {
    let response = app.get(&format!("/api/v1/calls/{id}"), Some(&app.admin_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    data(&body).clone()
}

/// The call once `check` holds of it, within `seconds`.
pub async fn call_when(app: &TestApp, id: &str, seconds: u64, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let check = &check;
    eventually(Duration::from_secs(seconds), what, || async move {
        check(&call(app, id).await)
    })
    .await;
    call(app, id).await
}

/// The `Calls/connect` requests the simulator received naming `call_id` in
/// `CustomField`.
pub async fn connects_for(sim: &RunningSimulator, call_id: &str) -> usize {
    sim::forms_to(sim, "Calls/connect")
        .await
        .iter()
        .filter(|form| form.iter().any(|(k, v)| k == "CustomField" && v == call_id))
        .count()
}

/// The app's callback URL for its Exotel phone integration.
pub fn callback_url(app: &TestApp) -> String {
    let integration =
        domain::integration::integration_id(app.organisation_id, domain::integration::IntegrationKind::ExotelPhone);
    let token = app.state.callback_tokens.token(integration, 0);
    app.url(&format!("/webhooks/exotel/{integration}/{token}/calls"))
}

/// A process's parts started on `settings` beside the test's app.
pub async fn start_with(settings: &Settings, roles: Roles) -> Running {
    let state = AppState::build(settings.clone(), None).await.unwrap();
    let listener = match roles.api {
        true => Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()),
        false => None,
    };
    runtime::start(state, roles, listener).await.unwrap()
}
