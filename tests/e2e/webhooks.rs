//! Signed webhooks to a client system's receiver, a real HTTP server here:
//! retried until it answers 2xx with the same `webhook-id`, verified by the
//! Standard Webhooks reference library (`standardwebhooks`), stale
//! timestamps refused by it, a rotated secret verifying with either key
//! during the overlap, private addresses refused, an endpoint that fails
//! for the whole window disabled with its reason, and deliveries that wait
//! in the outbox for a process with workers.

use axum::http::HeaderMap;
use axum::routing::post;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::runtime::Roles;
use infrastructure::Settings;

use crate::calls::{CUSTOMER, configure, place, quick, start_with};
use crate::support::{TestApp, assert_problem, data, eventually, sim};

/// One post the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// A client system's webhook receiver: answers each post with the next
/// scripted status (200 once the script is spent), after `delay`, and
/// keeps what it got.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    always: Arc<Mutex<Option<u16>>>,
    delay: Arc<Mutex<Duration>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> (Self, SocketAddr) {
        let receiver = Self::default();
        receiver.script.lock().unwrap().extend(script);
        let kept = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let kept = kept.clone();
                async move {
                    let delay = *kept.delay.lock().unwrap();
                    tokio::time::sleep(delay).await;
                    kept.got.lock().unwrap().push(Received { headers, body });
                    let scripted = kept.script.lock().unwrap().pop_front();
                    let status = scripted.or(*kept.always.lock().unwrap()).unwrap_or(200);
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, address)
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn answer_always(&self, status: Option<u16>) {
        *self.always.lock().unwrap() = status;
    }
}

fn header<'a>(received: &'a Received, name: &str) -> &'a str {
    received.headers.get(name).unwrap().to_str().unwrap()
}

/// Retries a few milliseconds apart, so a test sees several.
fn fast_retries(settings: &mut Settings) {
    quick(settings);
    settings.webhook_poll_ms = 20;
    settings.webhook_retry_initial_ms = 50;
    settings.webhook_timeout_secs = 2;
}

async fn app_with(settings: Settings, dir: tempfile::TempDir) -> (TestApp, simulator::RunningSimulator) {
    let app = TestApp::start(settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    configure(&app, &sim).await;
    (app, sim)
}

/// `POST /api/v1/webhooks` as the admin, which must be accepted; the endpoint's id and secret.
async fn register(app: &TestApp, url: &str, types: &[&str]) -> (String, String) {
    let response = app
        .post_json(
            "/api/v1/webhooks",
            Some(&app.admin_token),
            json!({"url": url, "event_types": types, "description": "CRM"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let created = data(&body);
    assert_eq!(created["url"], url);
    assert_eq!(created["enabled"], true);
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (created["id"].as_str().unwrap().to_string(), secret)
}

/// Waits until the outbox projector knows the endpoint (the list route reads it).
async fn listed(app: &TestApp, endpoint: &str) {
    eventually(Duration::from_secs(10), "the endpoint is listed", || async {
        let list: Value = app
            .get("/api/v1/webhooks", Some(&app.admin_token))
            .await
            .json()
            .await
            .unwrap();
        list["data"].as_array().unwrap().iter().any(|e| e["id"] == endpoint)
    })
    .await;
}

async fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let response = app
        .get(
            &format!("/api/v1/webhooks/{endpoint}/deliveries"),
            Some(&app.admin_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

async fn delivery(app: &TestApp, endpoint: &str, id: &str) -> Value {
    let response = app
        .get(
            &format!("/api/v1/webhooks/{endpoint}/deliveries/{id}"),
            Some(&app.admin_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    data(&response.json::<Value>().await.unwrap()).clone()
}

/// The reference library's verdict on a post.
fn verify(secret: &str, received: &Received) -> Result<(), standardwebhooks::WebhookError> {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(received.body.as_bytes(), &received.headers)
}

#[tokio::test]
async fn a_webhook_is_retried_until_the_receiver_answers_2xx_with_the_same_id_and_verifies() {
    let (mut settings, dir) = crate::support::distributed(crate::support::DEFAULT_NATS).await;
    fast_retries(&mut settings);
    let (app, _sim) = app_with(settings, dir).await;
    let (receiver, address) = Receiver::start(&[500, 503]).await;
    let (endpoint, secret) = register(&app, &format!("http://{address}/hook"), &["call.requested"]).await;
    listed(&app, &endpoint).await;

    let call_id = place(&app, CUSTOMER, json!({})).await;
    eventually(
        Duration::from_secs(15),
        "three posts, the last answered 200",
        || async { receiver.got().len() >= 3 },
    )
    .await;
    let got = receiver.got();
    assert_eq!(got.len(), 3, "nothing is posted after the 2xx");
    let id = header(&got[0], "webhook-id");
    assert!(id.starts_with("msg_"), "{id}");
    for post in &got {
        assert_eq!(header(post, "webhook-id"), id, "the same id on every attempt");
        assert_eq!(header(post, "content-type"), "application/json");
        verify(&secret, post).unwrap();
    }
    let body: Value = serde_json::from_str(&got[2].body).unwrap();
    assert_eq!(body["type"], "call.requested");
    assert_eq!(body["data"]["call_id"], call_id.as_str());
    assert_eq!(body["data"]["customer_phone"], CUSTOMER);
    assert_eq!(body["data"]["status"], "requested");

    let listed = deliveries(&app, &endpoint).await;
    assert_eq!(listed.len(), 1, "one delivery for one event: {listed:?}");
    assert_eq!(listed[0]["webhook_id"], id);
    eventually(
        Duration::from_secs(5),
        "the delivery is recorded as succeeded",
        || async { deliveries(&app, &endpoint).await[0]["state"] == "succeeded" },
    )
    .await;
    let one = delivery(&app, &endpoint, listed[0]["id"].as_str().unwrap()).await;
    assert_eq!(one["attempts"], 3);
    assert_eq!(one["last_status"], 200);
    assert_eq!(one["body"].as_str().unwrap(), got[2].body);
    let statuses: Vec<&Value> = one["attempts_made"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(503), &json!(200)]);
    assert_eq!(one["attempts_made"][0]["error"], "HTTP 500");
}

#[tokio::test]
async fn a_signature_with_a_stale_timestamp_or_another_body_is_refused_by_the_reference_verifier() {
    let (mut settings, dir) = crate::support::embedded();
    fast_retries(&mut settings);
    let (app, _sim) = app_with(settings, dir).await;
    let (receiver, address) = Receiver::start(&[]).await;
    let (endpoint, secret) = register(&app, &format!("http://{address}/hook"), &["call.requested"]).await;
    listed(&app, &endpoint).await;
    place(&app, CUSTOMER, json!({})).await;
    eventually(Duration::from_secs(10), "a post", || async {
        !receiver.got().is_empty()
    })
    .await;
    let post = receiver.got()[0].clone();
    verify(&secret, &post).unwrap();
    let sent_at: i64 = header(&post, "webhook-timestamp").parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - sent_at).abs() < 60,
        "signed when sent"
    );

    let webhook = standardwebhooks::Webhook::new(&secret).unwrap();
    let id = header(&post, "webhook-id").to_string();
    let stale = sent_at - 600;
    let mut replayed = post.clone();
    replayed
        .headers
        .insert("webhook-timestamp", stale.to_string().parse().unwrap());
    let resigned = webhook.sign(&id, stale, post.body.as_bytes()).unwrap();
    replayed.headers.insert("webhook-signature", resigned.parse().unwrap());
    assert!(matches!(
        verify(&secret, &replayed),
        Err(standardwebhooks::WebhookError::TimestampTooOldError)
    ));
    let mut tampered = post.clone();
    tampered.body = post.body.replace("requested", "completed");
    assert!(matches!(
        verify(&secret, &tampered),
        Err(standardwebhooks::WebhookError::InvalidSignature)
    ));
    let other = standardwebhooks::Webhook::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    assert!(
        other.verify(post.body.as_bytes(), &post.headers).is_err(),
        "another secret does not verify"
    );
}

#[tokio::test]
async fn a_rotated_secret_verifies_with_either_key_during_the_overlap() {
    let (mut settings, dir) = crate::support::embedded();
    fast_retries(&mut settings);
    let (app, _sim) = app_with(settings, dir).await;
    let (receiver, address) = Receiver::start(&[]).await;
    let (endpoint, old) = register(&app, &format!("http://{address}/hook"), &["call.requested"]).await;
    listed(&app, &endpoint).await;

    let rotated = app
        .post_json(
            &format!("/api/v1/webhooks/{endpoint}/secret/rotate"),
            Some(&app.admin_token),
            json!({}),
        )
        .await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    let new = data(&rotated)["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_") && new != old);
    assert!(data(&rotated)["previous_secret_valid_until"].is_string());

    place(&app, CUSTOMER, json!({})).await;
    eventually(Duration::from_secs(10), "a post", || async {
        !receiver.got().is_empty()
    })
    .await;
    let post = receiver.got()[0].clone();
    assert_eq!(
        header(&post, "webhook-signature").split(' ').count(),
        2,
        "two signatures"
    );
    verify(&new, &post).unwrap();
    verify(&old, &post).unwrap();

    let one: Value = app
        .get(&format!("/api/v1/webhooks/{endpoint}"), Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert!(data(&one).get("secret").is_none(), "a secret is shown only once: {one}");
}

#[tokio::test]
async fn a_webhook_url_on_a_private_address_is_refused_unless_the_configuration_allows_it() {
    let (mut settings, dir) = crate::support::embedded();
    fast_retries(&mut settings);
    settings.outbound_allow_private = false;
    let app = TestApp::start(settings, Some(dir)).await;
    for url in [
        "http://10.0.0.1/hook",
        "http://127.0.0.1:9/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest",
    ] {
        let response = app
            .post_json(
                "/api/v1/webhooks",
                Some(&app.admin_token),
                json!({"url": url, "event_types": ["call.completed"]}),
            )
            .await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "url_not_allowed").await;
        assert_eq!(problem["field"], "url");
    }
    let response = app
        .post_json(
            "/api/v1/webhooks",
            Some(&app.admin_token),
            json!({"url": "ftp://crm.example.com/", "event_types": ["call.completed"]}),
        )
        .await;
    assert_eq!(
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await["field"],
        "url"
    );
    let list: Value = app
        .get("/api/v1/webhooks", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["count"], 0, "nothing refused was registered");

    // A name is checked once resolved: `localhost` is accepted as written,
    // and every post to it is refused by the address rule.
    let (receiver, address) = Receiver::start(&[]).await;
    let url = format!("http://localhost:{}/hook", address.port());
    let (endpoint, _) = register(&app, &url, &["call.requested"]).await;
    listed(&app, &endpoint).await;
    let sim = sim::fast(100.0).await;
    app.state.exotel.outbound().permit(sim.addr);
    configure(&app, &sim).await;
    place(&app, CUSTOMER, json!({})).await;
    eventually(Duration::from_secs(10), "a refused attempt is recorded", || async {
        deliveries(&app, &endpoint)
            .await
            .first()
            .is_some_and(|d| d["attempts"].as_u64() >= Some(1))
    })
    .await;
    let first = &deliveries(&app, &endpoint).await[0];
    let error = first["last_error"].as_str().unwrap();
    assert!(error.contains("refused by the address rule"), "{error}");
    assert!(
        !error.contains("127.0.0.1") && !error.contains("::1"),
        "the resolver's answer is not told: {error}"
    );
    assert_eq!(first["last_status"], Value::Null);
    assert!(receiver.got().is_empty(), "nothing reached the private address");
}

#[tokio::test]
async fn an_endpoint_failing_for_the_whole_window_is_disabled_with_the_reason_and_a_redelivery_succeeds() {
    let (mut settings, dir) = crate::support::embedded();
    fast_retries(&mut settings);
    settings.webhook_retry_window_secs = 1;
    let (app, _sim) = app_with(settings, dir).await;
    let (receiver, address) = Receiver::start(&[]).await;
    receiver.answer_always(Some(503));
    let (endpoint, secret) = register(&app, &format!("http://{address}/hook"), &["call.requested"]).await;
    listed(&app, &endpoint).await;
    place(&app, CUSTOMER, json!({})).await;

    eventually(Duration::from_secs(15), "the endpoint is disabled", || async {
        let one: Value = app
            .get(&format!("/api/v1/webhooks/{endpoint}"), Some(&app.admin_token))
            .await
            .json()
            .await
            .unwrap();
        data(&one)["enabled"] == false
    })
    .await;
    let one: Value = app
        .get(&format!("/api/v1/webhooks/{endpoint}"), Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    let reason = data(&one)["disabled_reason"].as_str().unwrap();
    assert!(
        reason.contains("HTTP 503") && reason.contains("retry window"),
        "{reason}"
    );
    let failed = deliveries(&app, &endpoint).await[0].clone();
    assert_eq!(failed["state"], "failed");
    let attempts = failed["attempts"].as_u64().unwrap();
    assert!(attempts >= 2, "retried within the window: {attempts}");
    assert_eq!(receiver.got().len() as u64, attempts);
    let id = failed["id"].as_str().unwrap().to_string();

    let redeliver = format!("/api/v1/webhooks/{endpoint}/deliveries/{id}/redeliver");
    let refused = app.post_json(&redeliver, Some(&app.admin_token), json!({})).await;
    assert_problem(refused, StatusCode::CONFLICT, "webhook_endpoint_disabled").await;

    receiver.answer_always(None);
    let enabled = app
        .http
        .patch(app.url(&format!("/api/v1/webhooks/{endpoint}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), StatusCode::OK);
    let enabled: Value = enabled.json().await.unwrap();
    assert_eq!(data(&enabled)["enabled"], true);
    assert_eq!(data(&enabled)["disabled_reason"], Value::Null);
    listed(&app, &endpoint).await;
    eventually(
        Duration::from_secs(5),
        "the outbox sees the endpoint enabled",
        || async {
            let list: Value = app
                .get("/api/v1/webhooks", Some(&app.admin_token))
                .await
                .json()
                .await
                .unwrap();
            list["data"][0]["enabled"] == true
        },
    )
    .await;
    let accepted = app.post_json(&redeliver, Some(&app.admin_token), json!({})).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    eventually(Duration::from_secs(10), "the redelivery succeeds", || async {
        delivery(&app, &endpoint, &id).await["state"] == "succeeded"
    })
    .await;
    let got = receiver.got();
    let last = got.last().unwrap();
    assert_eq!(
        header(last, "webhook-id"),
        header(&got[0], "webhook-id"),
        "the same id again"
    );
    verify(&secret, last).unwrap();
    assert_eq!(got.len() as u64, attempts + 1);
}

#[tokio::test]
async fn deliveries_wait_in_the_outbox_until_a_process_with_webhook_workers_sends_them_once() {
    let (mut settings, dir) = crate::support::distributed(crate::support::DEFAULT_NATS).await;
    fast_retries(&mut settings);
    settings.webhook_workers = false;
    let (app, _sim) = app_with(settings.clone(), dir).await;
    let (receiver, address) = Receiver::start(&[]).await;
    let (endpoint, secret) = register(&app, &format!("http://{address}/hook"), &["call.requested"]).await;
    listed(&app, &endpoint).await;
    let calls: Vec<String> = futures::future::join_all((0..3).map(|i| {
        let app = &app;
        async move { place(app, &format!("+9198123000{:02}", 10 + i), json!({})).await }
    }))
    .await;
    eventually(Duration::from_secs(10), "three deliveries wait", || async {
        deliveries(&app, &endpoint).await.len() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.got().is_empty(), "no process with workers has sent anything");
    assert!(
        deliveries(&app, &endpoint)
            .await
            .iter()
            .all(|d| d["state"] == "pending" && d["attempts"] == 0)
    );

    let mut workers = settings.clone();
    workers.webhook_workers = true;
    let roles = Roles {
        api: false,
        projectors: false,
        workers: true,
    };
    let (first, second) = tokio::join!(start_with(&workers, roles), start_with(&workers, roles));
    eventually(Duration::from_secs(10), "every delivery succeeded", || async {
        deliveries(&app, &endpoint)
            .await
            .iter()
            .all(|d| d["state"] == "succeeded")
    })
    .await;
    drop((first, second));
    let got = receiver.got();
    assert_eq!(got.len(), 3, "each delivery sent once by two worker processes");
    let mut told: Vec<String> = got
        .iter()
        .map(|post| {
            verify(&secret, post).unwrap();
            let body: Value = serde_json::from_str(&post.body).unwrap();
            body["data"]["call_id"].as_str().unwrap().to_string()
        })
        .collect();
    told.sort();
    let mut expected = calls.clone();
    expected.sort();
    assert_eq!(told, expected);
}

#[tokio::test]
async fn a_completed_recorded_call_tells_of_its_answer_its_end_and_its_recording_once_each() {
    let (mut settings, dir) = crate::support::embedded();
    fast_retries(&mut settings);
    let (app, sim) = app_with(settings, dir).await;
    let (receiver, address) = Receiver::start(&[]).await;
    let types = ["call.answered", "call.completed", "call.failed", "recording.available"];
    let (endpoint, secret) = register(&app, &format!("http://{address}/hook"), &types).await;
    listed(&app, &endpoint).await;
    let call_id = place(&app, CUSTOMER, json!({"record": true, "time_limit": 600})).await;
    eventually(Duration::from_secs(30), "three webhooks", || async {
        receiver.got().len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.got();
    let mut told: Vec<(String, Value)> = got
        .iter()
        .map(|post| {
            verify(&secret, post).unwrap();
            let body: Value = serde_json::from_str(&post.body).unwrap();
            (body["type"].as_str().unwrap().to_string(), body["data"].clone())
        })
        .collect();
    told.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = told.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        names,
        ["call.answered", "call.completed", "recording.available"],
        "{told:?}"
    );
    for (_, data) in &told {
        assert_eq!(data["call_id"], call_id.as_str());
    }
    let completed = &told[1].1;
    assert_eq!(completed["status"], "completed");
    assert!(completed["ended_at"].is_string(), "{completed}");
    let recording = &told[2].1["recording"];
    assert_eq!(recording["url"], format!("/api/v1/calls/{call_id}/recording"));
    let provider = sim.base_url();
    assert!(
        !got.iter().any(|p| p.body.contains(&provider)),
        "the provider's recording URL is never told"
    );
    let ids: std::collections::HashSet<&str> = got.iter().map(|p| header(p, "webhook-id")).collect();
    assert_eq!(ids.len(), got.len(), "one webhook-id per event");
}

#[tokio::test]
async fn a_slow_receivers_backlog_does_not_hold_up_another_endpoint() {
    let (mut settings, dir) = crate::support::distributed(crate::support::DEFAULT_NATS).await;
    fast_retries(&mut settings);
    settings.webhook_workers = false;
    settings.webhook_timeout_secs = 30;
    let (app, _sim) = app_with(settings.clone(), dir).await;
    let (slow, slow_address) = Receiver::start(&[]).await;
    *slow.delay.lock().unwrap() = Duration::from_secs(6);
    let (slow_endpoint, _) = register(&app, &format!("http://{slow_address}/hook"), &["call.requested"]).await;
    listed(&app, &slow_endpoint).await;
    for i in 0..20 {
        place(&app, &format!("+9198123001{i:02}"), json!({})).await;
    }
    eventually(
        Duration::from_secs(15),
        "the slow endpoint's backlog is written",
        || async { deliveries(&app, &slow_endpoint).await.len() == 20 },
    )
    .await;
    let (fast, fast_address) = Receiver::start(&[]).await;
    let (fast_endpoint, _) = register(&app, &format!("http://{fast_address}/hook"), &["call.requested"]).await;
    listed(&app, &fast_endpoint).await;
    place(&app, "+919812300199", json!({})).await;
    eventually(
        Duration::from_secs(10),
        "the fast endpoint's delivery is written",
        || async { deliveries(&app, &fast_endpoint).await.len() == 1 },
    )
    .await;

    let mut workers = settings.clone();
    workers.webhook_workers = true;
    let roles = Roles {
        api: false,
        projectors: false,
        workers: true,
    };
    let started = std::time::Instant::now();
    let _worker = start_with(&workers, roles).await;
    eventually(Duration::from_secs(5), "the fast endpoint hears first", || async {
        !fast.got().is_empty()
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it did not wait behind the slow receiver's six seconds: {:?}",
        started.elapsed()
    );
    assert!(slow.got().is_empty(), "the slow receiver had not answered yet");
}

#[tokio::test]
async fn an_sms_tells_of_its_submission_and_its_delivery_and_a_failed_one_of_its_failure() {
    let (mut settings, dir) = crate::support::embedded();
    fast_retries(&mut settings);
    crate::sms::quick(&mut settings);
    let app = TestApp::start(settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    crate::sms::configure(&app, &sim, Some(crate::sms::ENTITY)).await;
    let (template, text) = (crate::sms::TEMPLATE, crate::sms::TEMPLATE_TEXT);
    crate::sms::register(&app, template, text, crate::sms::HEADER, "service_implicit").await;
    let (receiver, address) = Receiver::start(&[]).await;
    let types = ["sms.submitted", "sms.delivered", "sms.failed"];
    let (endpoint, secret) = register(&app, &format!("http://{address}/hook"), &types).await;
    listed(&app, &endpoint).await;
    let failing = "+919812300051";
    sim::script(
        &sim,
        failing,
        json!({"sms": "failed", "sms_detailed_status_code": 23035}),
    )
    .await;
    let delivered = crate::sms::send_order(&app, crate::sms::CUSTOMER, "W-1").await;
    let failed = crate::sms::send_order(&app, failing, "W-2").await;
    eventually(Duration::from_secs(30), "four webhooks", || async {
        receiver.got().len() >= 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut told: Vec<(String, String, Value)> = receiver
        .got()
        .iter()
        .map(|post| {
            verify(&secret, post).unwrap();
            let body: Value = serde_json::from_str(&post.body).unwrap();
            let data = body["data"].clone();
            let id = data["message_id"].as_str().unwrap().to_string();
            (id, body["type"].as_str().unwrap().to_string(), data)
        })
        .collect();
    told.sort_by(|a, b| (a.0 == failed, &a.1).cmp(&(b.0 == failed, &b.1)));
    let names: Vec<(bool, &str)> = told.iter().map(|(id, t, _)| (*id == failed, t.as_str())).collect();
    assert_eq!(
        names,
        [
            (false, "sms.delivered"),
            (false, "sms.submitted"),
            (true, "sms.failed"),
            (true, "sms.submitted")
        ],
        "{told:?}"
    );
    assert_eq!(told[0].0, delivered);
    assert_eq!(told[0].2["status"], "delivered");
    assert_eq!(told[0].2["template_id"], template);
    assert!(told[0].2["delivered_at"].is_string());
    assert_eq!(told[2].2["failure"]["code"], 23035);
    assert_eq!(told[2].2["status"], "failed");
}

#[tokio::test]
async fn a_customers_whatsapp_message_and_the_replys_delivery_and_reading_are_told_once_each() {
    let (app, sim) = crate::whatsapp::app_and_simulator().await;
    let (receiver, address) = Receiver::start(&[]).await;
    let types = [
        "whatsapp.received",
        "whatsapp.delivered",
        "whatsapp.read",
        "whatsapp.failed",
    ];
    let (endpoint, secret) = register(&app, &format!("http://{address}/hook"), &types).await;
    listed(&app, &endpoint).await;
    let customer = crate::whatsapp::CUSTOMER;
    let hello = json!({"type": "text", "text": {"body": "Is my order ready?"}});
    crate::whatsapp::customer_writes(&app, &sim, customer, hello).await;
    let reply = crate::whatsapp::send(&app, customer, json!({"type": "text", "body": "Yes, at 6 pm"})).await;
    assert_eq!(reply.status(), StatusCode::ACCEPTED);
    let body: Value = reply.json().await.unwrap();
    let reply_id = data(&body)["id"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(30), "three webhooks", || async {
        receiver.got().len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut told: Vec<(String, Value)> = receiver
        .got()
        .iter()
        .map(|post| {
            verify(&secret, post).unwrap();
            let body: Value = serde_json::from_str(&post.body).unwrap();
            (body["type"].as_str().unwrap().to_string(), body["data"].clone())
        })
        .collect();
    told.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = told.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        names,
        ["whatsapp.delivered", "whatsapp.read", "whatsapp.received"],
        "{told:?}"
    );
    assert_eq!(told[0].1["message_id"], reply_id.as_str());
    assert_eq!(told[1].1["status"], "read");
    assert!(told[1].1["read_at"].is_string());
    let received = &told[2].1;
    assert_eq!(received["from"], customer);
    assert_eq!(received["content"]["body"], "Is my order ready?");
    assert_eq!(received["profile_name"], "Asha");
}

#[tokio::test]
async fn a_customers_photo_is_told_once_when_it_arrives_and_not_again_when_its_file_is_kept() {
    let (app, sim) = crate::whatsapp::app_and_simulator().await;
    let (receiver, address) = Receiver::start(&[]).await;
    let (endpoint, secret) = register(&app, &format!("http://{address}/hook"), &["whatsapp.received"]).await;
    listed(&app, &endpoint).await;
    let put = reqwest::Client::new()
        .put(format!(
            "{}/_simulator/accounts/sandbox/media/hook-photo",
            sim.base_url()
        ))
        .header("content-type", "image/jpeg")
        .body(b"photo bytes".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    let url = format!("{}/v2/accounts/sandbox/media/hook-photo", sim.base_url());
    let photo = json!({"type": "image", "image": {"url": url, "mime_type": "image/jpeg"}});
    crate::whatsapp::customer_writes(&app, &sim, crate::whatsapp::CUSTOMER, photo).await;
    let sha256 = infrastructure::mail::attachments::sha256_hex(b"photo bytes");
    eventually(Duration::from_secs(10), "the photo is kept", || async {
        application::messages::MediaFiles::find(&app.state.media_files, &sha256).is_some()
    })
    .await;
    eventually(Duration::from_secs(30), "the arrival is told", || async {
        !receiver.got().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got = receiver.got();
    assert_eq!(got.len(), 1, "one webhook for one message");
    verify(&secret, &got[0]).unwrap();
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "whatsapp.received");
    assert_eq!(body["data"]["from"], crate::whatsapp::CUSTOMER);
}
