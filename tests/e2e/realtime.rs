//! Realtime push over WebSocket and Server-Sent Events: who receives what,
//! how fast, across processes, after a reconnection, and what ends a
//! connection. Changes are driven by customers' WhatsApp messages posted
//! to the organisation's callback, as Exotel would.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

use api::state::AppState;
use domain::Role;
use simulator::RunningSimulator;

use crate::support::{TestApp, assert_problem, data, sim};

mod access;
mod clients;
mod processes;
mod reconnect;
mod slow;

pub use clients::{EventStream, Socket};

/// How long a change may take from commit to client.
pub const FAN_OUT: Duration = Duration::from_millis(500);

/// An app (embedded or distributed) with WhatsApp configured on a simulator.
pub async fn app(distributed: bool) -> (TestApp, RunningSimulator) {
    let app = match distributed {
        true => TestApp::distributed().await,
        false => TestApp::embedded().await,
    };
    let sim = sim::fast(100.0).await;
    configure_whatsapp(&app.base, &app.admin_token, &sim).await;
    (app, sim)
}

/// Configures the organisation's WhatsApp integration (the admin's) on the simulator.
pub async fn configure_whatsapp(base: &str, admin_token: &str, sim: &RunningSimulator) {
    let body = json!({"account_sid": "sandbox", "api_key": sim::KEY, "api_token": sim::TOKEN,
        "api_host": sim.base_url(), "whatsapp_number": crate::whatsapp::NUMBER, "business_name": "Acme Foods",
        "waba_id": simulator::SANDBOX_WABA});
    let saved = reqwest::Client::new()
        .post(format!("{base}/api/v1/settings/integrations/exotel_whatsapp"))
        .bearer_auth(admin_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::OK, "{}", saved.text().await.unwrap());
}

/// Where Exotel posts the organisation's WhatsApp messages, on `base`.
pub fn callback_url(base: &str, state: &AppState, organisation_id: Uuid) -> String {
    let integration =
        domain::integration::integration_id(organisation_id, domain::integration::IntegrationKind::ExotelWhatsapp);
    let token = state.callback_tokens.token(integration, 0);
    format!("{base}/webhooks/exotel/{integration}/{token}/whatsapp")
}

/// A customer's WhatsApp text, posted to `callback` as Exotel would;
/// returns once the server has committed it.
pub async fn customer_writes(callback: &str, from: &str, text: &str) -> Instant {
    let item = json!({"callback_type": "incoming_message", "sid": format!("wamid-{}", Uuid::new_v4().simple()),
        "from": from, "to": crate::whatsapp::NUMBER, "profile_name": "Asha",
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "content": {"type": "text", "text": {"body": text}}});
    let response = reqwest::Client::new()
        .post(callback)
        .json(&json!({"whatsapp": {"messages": [item]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    Instant::now()
}

/// A new customer's number.
pub fn new_customer() -> String {
    format!("+9198{:08}", rand_digits())
}

fn rand_digits() -> u32 {
    (Uuid::new_v4().as_u128() % 100_000_000) as u32
}

/// A member of the organisation with a role, logged in: their id and token.
pub async fn member(app: &TestApp, role: Role) -> (Uuid, String) {
    let (email, id) = app.add_member(app.organisation_id, role).await;
    (id, app.login(&email).await)
}

#[tokio::test]
async fn an_agents_socket_receives_a_new_inbound_message_within_500_ms() {
    let (app, _sim) = app(true).await;
    let (_, agent) = member(&app, Role::Agent).await;
    let mut socket = Socket::connect(&app.base, &agent, "").await;
    let ready = socket.ready().await;
    assert!(
        ready["last_event_id"].as_str().unwrap().parse::<i64>().is_ok(),
        "{ready}"
    );
    let callback = callback_url(&app.base, &app.state, app.organisation_id);
    let from = new_customer();
    let committed = customer_writes(&callback, &from, "Is my order on its way?").await;
    let change = socket.change().await;
    let latency = committed.elapsed();
    assert!(latency < FAN_OUT, "the change took {latency:?}");
    assert_eq!(change["type"], "thread.message", "{change}");
    assert!(change["id"].as_str().unwrap().parse::<i64>().unwrap() > 0);
    assert!(Uuid::parse_str(change["thread_id"].as_str().unwrap()).is_ok());
    assert_eq!(change["data"]["channel"], "whatsapp", "{change}");
    assert_eq!(change["data"]["direction"], "inbound", "{change}");
}

#[tokio::test]
async fn the_embedded_default_pushes_a_new_inbound_message_within_500_ms_over_both_transports() {
    let (app, _sim) = app(false).await;
    let (_, agent) = member(&app, Role::Agent).await;
    let mut socket = Socket::connect(&app.base, &agent, "").await;
    let mut events = EventStream::connect(&app.base, &agent, "", None).await;
    socket.ready().await;
    assert_eq!(events.next_event().await.event, "ready");
    let callback = callback_url(&app.base, &app.state, app.organisation_id);
    let committed = customer_writes(&callback, &new_customer(), "Hello").await;
    let over_socket = socket.change().await;
    let event = events.next_event().await;
    assert!(committed.elapsed() < FAN_OUT, "{:?}", committed.elapsed());
    assert_eq!(event.event, "thread.message");
    assert_eq!(
        event.id.as_deref(),
        over_socket["id"].as_str(),
        "the SSE id is the change's id"
    );
    assert_eq!(event.data, over_socket, "the same message on both transports");
}

#[tokio::test]
async fn the_routes_answer_problems_to_requests_that_cannot_open_a_stream() {
    let app = TestApp::embedded().await;
    for path in ["/api/v1/realtime", "/api/v1/realtime/events"] {
        assert_problem(app.get(path, None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        let wrong = app.get(&format!("{path}?access_token=nonsense"), None).await;
        assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_token").await;
        let bad = app
            .get(&format!("{path}?last_event_id=abc"), Some(&app.admin_token))
            .await;
        let body = assert_problem(bad, StatusCode::BAD_REQUEST, "invalid_query").await;
        assert_eq!(body["field"], "last_event_id");
    }
    let plain = app.get("/api/v1/realtime", Some(&app.admin_token)).await;
    assert_eq!(plain.headers()["upgrade"], "websocket");
    assert_problem(plain, StatusCode::UPGRADE_REQUIRED, "websocket_upgrade_required").await;
    let (_, auditor) = member(&app, Role::Auditor).await;
    let refused = app.get("/api/v1/realtime/events", Some(&auditor)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let bad_header = app
        .http
        .get(app.url("/api/v1/realtime/events"))
        .bearer_auth(&app.admin_token)
        .header("last-event-id", "x")
        .send()
        .await
        .unwrap();
    let body = assert_problem(bad_header, StatusCode::BAD_REQUEST, "invalid_header").await;
    assert_eq!(body["field"], "Last-Event-ID");
}

#[tokio::test]
async fn an_event_id_no_event_has_is_told_to_resync_and_the_stream_ends() {
    let app = TestApp::embedded().await;
    let mut events = EventStream::connect(&app.base, &app.admin_token, "?last_event_id=999999999", None).await;
    let resync = events.next_event().await;
    assert_eq!(resync.event, "resync");
    assert_eq!(resync.data, json!({"type": "resync", "reason": "unknown_event_id"}));
    assert!(events.ended().await, "the stream ends after resync");
    let mut socket = Socket::connect(&app.base, &app.admin_token, "?last_event_id=999999999").await;
    assert_eq!(socket.next().await.unwrap()["reason"], "unknown_event_id");
    assert!(socket.closed().await);
}

#[tokio::test]
async fn a_token_in_the_query_opens_a_socket_for_browsers_that_cannot_send_headers() {
    let (app, _sim) = app(false).await;
    let (_, agent) = member(&app, Role::Agent).await;
    let mut socket = Socket::connect_with_query_token(&app.base, &agent, "").await;
    socket.ready().await;
    let callback = callback_url(&app.base, &app.state, app.organisation_id);
    customer_writes(&callback, &new_customer(), "Hi").await;
    assert_eq!(socket.change().await["type"], "thread.message");
    let body: Value = app.get("/api/v1/me", Some(&agent)).await.json().await.unwrap();
    assert_eq!(data(&body)["role"], "agent", "the same token still works as a header");
}
