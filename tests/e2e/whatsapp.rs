//! WhatsApp over the API against the Exotel simulator: a customer writes,
//! which opens the 24-hour window; free-form replies inside it are sent
//! once and their receipts never move them back; outside it, or breaking a
//! limit of WhatsApp's, nothing reaches Exotel.

use chrono::{Duration as Span, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

use api::runtime::Roles;
use application::AggregateStore;
use application::clock::ManualClock;
use simulator::RunningSimulator;

use crate::support::{TestApp, assert_problem, data, eventually, launch_with_clock, sim};

mod auto_replies;
mod media;
mod templates;

pub const CUSTOMER: &str = "+919812300061";
pub(crate) const NUMBER: &str = "+918047112233";

/// The app's WhatsApp callback URL.
fn callback_url(app: &TestApp) -> String {
    let integration = domain::integration::integration_id(
        app.organisation_id,
        domain::integration::IntegrationKind::ExotelWhatsapp,
    );
    let token = app.state.callback_tokens.token(integration, 0);
    app.url(&format!("/webhooks/exotel/{integration}/{token}/whatsapp"))
}

/// Configures the app's WhatsApp integration on the simulator, whose
/// sandbox account then posts customers' messages to the app.
pub async fn configure(app: &TestApp, sim: &RunningSimulator) {
    configure_with(app, sim, json!({})).await;
}

/// [`configure`], with more settings (auto-replies).
pub async fn configure_with(app: &TestApp, sim: &RunningSimulator, extra: Value) {
    let mut body = json!({"account_sid": "sandbox", "api_key": sim::KEY, "api_token": sim::TOKEN,
        "api_host": sim.base_url(), "whatsapp_number": NUMBER, "business_name": "Acme Foods",
        "waba_id": simulator::SANDBOX_WABA});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let saved = app
        .post_json(
            "/api/v1/settings/integrations/exotel_whatsapp",
            Some(&app.admin_token),
            body,
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK, "{}", saved.text().await.unwrap());
    sim::admin(
        sim,
        "accounts/sandbox/whatsapp-webhook",
        json!({"url": callback_url(app)}),
    )
    .await;
}

pub async fn app_and_simulator() -> (TestApp, RunningSimulator) {
    let (mut settings, dir) = crate::support::embedded();
    crate::sms::quick(&mut settings);
    let app = TestApp::start(settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    configure(&app, &sim).await;
    (app, sim)
}

/// A customer's message through the simulator; once the app has it.
pub async fn customer_writes(app: &TestApp, sim: &RunningSimulator, from: &str, content: Value) {
    let before = inbound(app, from).await.len();
    let (status, body) = sim::admin_request(
        sim,
        reqwest::Method::POST,
        "whatsapp/incoming",
        json!({"from": from, "profile_name": "Asha", "content": content}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    eventually(Duration::from_secs(10), "the message is received", || async {
        inbound(app, from).await.len() > before
    })
    .await;
}

async fn inbound(app: &TestApp, from: &str) -> Vec<Value> {
    let path = format!("/api/v1/whatsapp/inbound?from={}", from.replace('+', "%2B"));
    let body: Value = app.get(&path, Some(&app.admin_token)).await.json().await.unwrap();
    body["data"].as_array().cloned().unwrap_or_default()
}

pub async fn send(app: &TestApp, to: &str, content: Value) -> reqwest::Response {
    app.post_json(
        "/api/v1/whatsapp/messages",
        Some(&app.admin_token),
        json!({"to": to, "content": content}),
    )
    .await
}

pub(crate) async fn message(app: &TestApp, id: &str) -> Value {
    let response = app
        .get(&format!("/api/v1/whatsapp/messages/{id}"), Some(&app.admin_token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    data(&body).clone()
}

/// The WhatsApp sends the simulator received naming `id` as custom data.
pub(crate) async fn sends_for(sim: &RunningSimulator, id: &str) -> usize {
    sim::requests(sim)
        .await
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/messages")))
        .filter(|r| r["body"].as_str().is_some_and(|b| b.contains(id)))
        .count()
}

pub(crate) async fn all_sends(sim: &RunningSimulator) -> usize {
    sim::requests(sim)
        .await
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/messages")))
        .count()
}

#[tokio::test]
async fn a_customer_who_wrote_gets_a_reply_that_is_sent_once_and_ends_read() {
    let (app, sim) = app_and_simulator().await;
    customer_writes(
        &app,
        &sim,
        CUSTOMER,
        json!({"type": "text", "text": {"body": "Where is my order?"}}),
    )
    .await;
    let received = inbound(&app, CUSTOMER).await;
    assert_eq!(received[0]["kind"], "text");
    assert_eq!(received[0]["text"], "Where is my order?");
    assert_eq!(received[0]["profile_name"], "Asha");
    assert_eq!(received[0]["to"], NUMBER);
    let response = send(
        &app,
        CUSTOMER,
        json!({"type": "text", "body": "On its way 🚚 — arriving by 6 pm"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    let id = data(&body)["id"].as_str().unwrap().to_string();
    assert_eq!(data(&body)["from"], NUMBER);
    eventually(Duration::from_secs(20), "the reply is read", || async {
        message(&app, &id).await["status"] == "read"
    })
    .await;
    let read = message(&app, &id).await;
    assert_eq!(read["dispatch"], "submitted");
    assert!(
        read["delivered_at"].is_string() && read["read_at"].is_string(),
        "{read}"
    );
    assert_eq!(sends_for(&sim, &id).await, 1);
    // The number is one customer: created when it wrote, linked to the reply.
    let customer = domain::customer::phone_customer_id(app.organisation_id, CUSTOMER);
    assert_eq!(read["customer_id"], customer.to_string());
    let known = app.state.receiving.customers.load(&customer.to_string()).await.unwrap();
    let known = known.map(|l| l.aggregate).unwrap_or_default();
    assert_eq!(known.phone.as_deref(), Some(CUSTOMER));
    assert_eq!(known.name.as_deref(), Some("Asha"));
    assert_eq!(known.organisation_id, Some(app.organisation_id));
    let listed: Value = app
        .get("/api/v1/whatsapp/messages", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["id"], id.as_str());
}

#[tokio::test]
async fn buttons_a_list_and_a_location_reach_exotel_in_metas_shapes() {
    let (app, sim) = app_and_simulator().await;
    customer_writes(&app, &sim, CUSTOMER, json!({"type": "text", "text": {"body": "Hi"}})).await;
    let contents = [
        json!({"type": "buttons", "body": "Confirm your order?", "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]}),
        json!({"type": "list", "body": "Pick a slot", "button": "Slots", "sections": [{"title": "Today", "rows": [{"id": "s1", "title": "6 pm", "description": "Evening"}]}]}),
        json!({"type": "location", "latitude": 12.9716, "longitude": 77.5946, "name": "Store", "address": "MG Road"}),
    ];
    let mut ids = Vec::new();
    for content in contents {
        let response = send(&app, CUSTOMER, content).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.unwrap();
        ids.push(data(&body)["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        eventually(Duration::from_secs(20), "each is submitted", || async {
            message(&app, id).await["dispatch"] == "submitted"
        })
        .await;
        assert_eq!(sends_for(&sim, id).await, 1);
    }
    let bodies: Vec<Value> = sim::requests(&sim)
        .await
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/messages")))
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect();
    let content = |i: usize| bodies[i]["whatsapp"]["messages"][0]["content"].clone();
    assert_eq!(content(0)["interactive"]["type"], "button");
    assert_eq!(content(0)["interactive"]["action"]["buttons"][1]["reply"]["id"], "no");
    assert_eq!(
        content(1)["interactive"]["action"]["sections"][0]["rows"][0]["title"],
        "6 pm"
    );
    assert_eq!(content(2)["location"]["latitude"], 12.9716);
    assert_eq!(bodies[0]["whatsapp"]["messages"][0]["from"], NUMBER);
}

#[tokio::test]
async fn every_whatsapp_limit_is_refused_naming_its_field_and_nothing_reaches_exotel() {
    let (app, sim) = app_and_simulator().await;
    customer_writes(&app, &sim, CUSTOMER, json!({"type": "text", "text": {"body": "Hi"}})).await;
    let button = |i: usize| json!({"id": format!("b{i}"), "title": "Yes"});
    let rows: Vec<Value> = (0..11)
        .map(|i| json!({"id": format!("r{i}"), "title": "Row"}))
        .collect();
    let cases = [
        (json!({"type": "text", "body": "a".repeat(4097)}), "content.body"),
        (
            json!({"type": "buttons", "body": "Pick", "buttons": (0..4).map(button).collect::<Vec<_>>()}),
            "content.buttons",
        ),
        (
            json!({"type": "buttons", "body": "Pick", "buttons": [{"id": "a", "title": "t".repeat(21)}]}),
            "content.buttons",
        ),
        (
            json!({"type": "buttons", "body": "Pick", "buttons": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}),
            "content",
        ),
        (
            json!({"type": "list", "body": "Pick", "button": "Open", "sections": [{"rows": rows}]}),
            "content.sections",
        ),
        (
            json!({"type": "location", "latitude": 91.0, "longitude": 0.0}),
            "content.latitude",
        ),
        (
            json!({"type": "image", "url": "ftp://cdn.example.com/a.jpg"}),
            "content.url",
        ),
    ];
    for (content, field) in cases {
        let problem = assert_problem(
            send(&app, CUSTOMER, content.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        )
        .await;
        assert_eq!(problem["field"], field, "{content}: {problem}");
    }
    assert_eq!(all_sends(&sim).await, 0, "nothing reached Exotel");
}

#[tokio::test]
async fn free_form_is_refused_outside_the_24_hour_window_the_customers_last_message_opened() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let (mut settings, dir) = crate::support::embedded();
    crate::sms::quick(&mut settings);
    let running = launch_with_clock(&settings, clock.clone(), Roles::ALL).await;
    let app = TestApp::started(running, settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    configure(&app, &sim).await;
    let text = json!({"type": "text", "body": "Hello"});
    let problem = assert_problem(
        send(&app, CUSTOMER, text.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "whatsapp_window_closed",
    )
    .await;
    assert_eq!(problem["field"], "to");
    customer_writes(&app, &sim, CUSTOMER, json!({"type": "text", "text": {"body": "Hi"}})).await;
    clock.set(start + Span::hours(23) + Span::minutes(59));
    let retried =
        json!({"message_id": "5d0c1c36-7a4e-4d8e-9d43-0f0e7f9a1b01", "to": CUSTOMER, "content": text.clone()});
    let post = || app.post_json("/api/v1/whatsapp/messages", Some(&app.admin_token), retried.clone());
    assert_eq!(post().await.status(), StatusCode::ACCEPTED);
    clock.set(start + Span::hours(24) + Span::seconds(1));
    assert_problem(
        send(&app, CUSTOMER, text.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "whatsapp_window_closed",
    )
    .await;
    let replayed = post().await;
    assert_eq!(
        replayed.status(),
        StatusCode::ACCEPTED,
        "a retry of a recorded message is answered as recorded"
    );
    let other = "+919812300062";
    assert_problem(
        send(&app, other, text).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "whatsapp_window_closed",
    )
    .await;
    eventually(Duration::from_secs(20), "the one accepted reply is sent", || async {
        all_sends(&sim).await == 1
    })
    .await;
}

#[tokio::test]
async fn receipts_duplicated_and_reordered_never_move_a_reply_back_and_a_failure_keeps_its_code() {
    let (app, sim) = app_and_simulator().await;
    sim::script(&sim, CUSTOMER, json!({"whatsapp_delay_seconds": 1_000_000})).await;
    customer_writes(&app, &sim, CUSTOMER, json!({"type": "text", "text": {"body": "Hi"}})).await;
    let body: Value = send(&app, CUSTOMER, json!({"type": "text", "body": "Thanks"}))
        .await
        .json()
        .await
        .unwrap();
    let id = data(&body)["id"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(20), "the reply is submitted", || async {
        message(&app, &id).await["dispatch"] == "submitted"
    })
    .await;
    let sid = message(&app, &id).await["provider_sid"].as_str().unwrap().to_string();
    let receipt = |code: u32, name: &str| {
        json!({"callback_type": "dlr", "sid": sid, "to": "919812300061", "exo_status_code": code,
            "exo_detailed_status": name, "description": name, "custom_data": id})
    };
    let post = |items: Vec<Value>| {
        let url = callback_url(&app);
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&json!({"whatsapp": {"messages": items}}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.unwrap();
            data(&body).clone()
        }
    };
    let answered = post(vec![
        receipt(30002, "EX_MESSAGE_DELIVERED"),
        receipt(30001, "EX_MESSAGE_SENT"),
    ])
    .await;
    assert_eq!(answered["matched"], json!([true, true]));
    post(vec![receipt(30002, "EX_MESSAGE_DELIVERED")]).await;
    post(vec![receipt(30013, "EX_INCAPABLE_RECIPIENT")]).await;
    let kept = message(&app, &id).await;
    assert_eq!(kept["status"], "delivered", "{kept}");
    assert!(kept["failure"].is_null());
    assert!(
        kept["sent_at"].is_null(),
        "a late sent receipt does not move a delivered message"
    );
    post(vec![receipt(30003, "EX_MESSAGE_SEEN")]).await;
    assert_eq!(message(&app, &id).await["status"], "read");

    let failing = "+919812300063";
    sim::script(
        &sim,
        failing,
        json!({"whatsapp": "failed", "whatsapp_error_code": 30014}),
    )
    .await;
    customer_writes(&app, &sim, failing, json!({"type": "text", "text": {"body": "Hi"}})).await;
    let body: Value = send(&app, failing, json!({"type": "text", "body": "Thanks"}))
        .await
        .json()
        .await
        .unwrap();
    let failed_id = data(&body)["id"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(20), "the reply fails", || async {
        message(&app, &failed_id).await["status"] == "failed"
    })
    .await;
    let failed = message(&app, &failed_id).await;
    assert_eq!(failed["failure"]["code"], 30014);
    assert_eq!(failed["failure"]["message"], "EX_RECIPIENT_BLOCKED");
}

#[tokio::test]
async fn a_customers_reply_is_recorded_once_with_the_message_it_answers() {
    let (app, _sim) = app_and_simulator().await;
    let item = json!({"callback_type": "incoming_message", "sid": "wamid-reply-1", "from": "+919812300064",
        "to": NUMBER, "profile_name": "Ravi", "timestamp": "2026-12-01T10:00:00.000+05:30",
        "content": {"type": "interactive", "interactive": {"type": "button_reply",
            "button_reply": {"id": "yes", "title": "Yes"}}, "context": {"id": "wamid-ours-1"}}});
    for _ in 0..2 {
        let response = reqwest::Client::new()
            .post(callback_url(&app))
            .json(&json!({"whatsapp": {"messages": [item.clone()]}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    eventually(Duration::from_secs(10), "the reply is listed", || async {
        !inbound(&app, "+919812300064").await.is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = inbound(&app, "+919812300064").await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["kind"], "button_reply");
    assert_eq!(received[0]["text"], "Yes");
    assert_eq!(received[0]["context_sid"], "wamid-ours-1");
    let events = app
        .count("SELECT COUNT(*) FROM events WHERE aggregate_type = 'inbound_message'")
        .await;
    assert_eq!(events, 1);
    let wrong = callback_url(&app).replace("/whatsapp", "x/whatsapp");
    let refused = reqwest::Client::new()
        .post(wrong)
        .json(&json!({"whatsapp": {"messages": [item]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_a_whatsapp_integration_nothing_is_recorded() {
    let app = TestApp::embedded().await;
    let response = send(&app, CUSTOMER, json!({"type": "text", "body": "Hi"})).await;
    assert_problem(response, StatusCode::CONFLICT, "exotel_whatsapp_not_configured").await;
}

/// A file server: `/photo.jpg` is a 100 KB JPEG, `/big.jpg` a 6 MB one,
/// `/page.html` HTML, and `/menu.pdf` a 200 KB PDF whose `HEAD` is refused
/// (its size comes from a ranged `GET`).
pub(crate) async fn file_server() -> String {
    use axum::http::{HeaderMap, Method, StatusCode as Status, header};
    use axum::response::IntoResponse;
    let serve = |method: Method, headers: HeaderMap, name: String| async move {
        let (content_type, length) = match name.as_str() {
            "photo.jpg" => ("image/jpeg", 100 * 1024),
            "big.jpg" => ("image/jpeg", 6 * 1024 * 1024),
            "page.html" => ("text/html", 2048),
            "menu.pdf" if method == Method::HEAD => return Status::METHOD_NOT_ALLOWED.into_response(),
            "menu.pdf" => ("application/pdf", 200 * 1024),
            _ => return Status::NOT_FOUND.into_response(),
        };
        let ranged = headers.get(header::RANGE).is_some();
        let mut response = match ranged {
            true => (Status::PARTIAL_CONTENT, vec![0u8; 1]).into_response(),
            false => (Status::OK, vec![0u8; length]).into_response(),
        };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        if ranged {
            headers.insert(header::CONTENT_RANGE, format!("bytes 0-0/{length}").parse().unwrap());
        }
        response
    };
    let app = axum::Router::new().route(
        "/{name}",
        axum::routing::get(
            move |method: Method, headers: HeaderMap, axum::extract::Path(name): axum::extract::Path<String>| {
                serve(method, headers, name)
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

#[tokio::test]
async fn media_is_asked_for_its_type_and_size_and_a_6_mb_image_is_refused_before_exotel() {
    let (app, sim) = app_and_simulator().await;
    let files = file_server().await;
    customer_writes(
        &app,
        &sim,
        CUSTOMER,
        json!({"type": "text", "text": {"body": "Send the menu"}}),
    )
    .await;
    let refused = [
        (json!({"type": "image", "url": format!("{files}/big.jpg")}), "larger"),
        (json!({"type": "image", "url": format!("{files}/page.html")}), "type"),
        (
            json!({"type": "document", "url": format!("{files}/missing.pdf")}),
            "404",
        ),
    ];
    for (content, said) in refused {
        let problem = assert_problem(
            send(&app, CUSTOMER, content.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        )
        .await;
        assert_eq!(problem["field"], "content.url", "{content}");
        assert!(
            problem["detail"].as_str().unwrap().contains(said),
            "{content}: {problem}"
        );
    }
    assert_eq!(all_sends(&sim).await, 0, "nothing reached Exotel");
    for content in [
        json!({"type": "image", "url": format!("{files}/photo.jpg"), "caption": "Today's special"}),
        json!({"type": "document", "url": format!("{files}/menu.pdf"), "filename": "menu.pdf"}),
    ] {
        let response = send(&app, CUSTOMER, content.clone()).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{content}");
    }
    eventually(Duration::from_secs(20), "both are sent", || async {
        all_sends(&sim).await == 2
    })
    .await;
}
