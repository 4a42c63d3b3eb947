//! The event feed: nothing lost, nothing doubled, per-aggregate order, and
//! rebuilds that equal the live projections.

use async_nats::jetstream::consumer::PullConsumer;
use chrono::Utc;
use domain::Role;
use domain::api_key::ApiKeyEvent;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

use application::EventMetadata;
use infrastructure::Settings;
use infrastructure::database::EventDb;
use infrastructure::feed::scan::StoreLog;
use secrecy::ExposeSecret;

use crate::support::child::{child_login, free_port, seed, spawn_server};
use crate::support::nats::OwnNats;
use crate::support::{DEFAULT_NATS, TestApp, distributed, eventually};

fn pg(app: &TestApp) -> &sqlx::PgPool {
    match &app.state.db.events {
        EventDb::Postgres(pool) => pool,
        EventDb::Sqlite(_) => panic!("this test needs PostgreSQL"),
    }
}

async fn api_key_count(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM api_keys_view").await
}

#[tokio::test]
async fn a_projector_does_not_skip_an_event_whose_transaction_committed_after_a_later_one() {
    let app = TestApp::distributed().await;
    let late_key = Uuid::new_v4();
    let mut late = pg(&app).begin().await.unwrap();
    let event = ApiKeyEvent::ApiKeyIssued {
        key_id: late_key,
        organisation_id: app.organisation_id,
        name: "late".into(),
        role: Role::Agent,
        secret_digest: "00".into(),
        created_by: None,
        issued_at: Utc::now(),
    };
    let metadata = EventMetadata::system("test", Some(app.organisation_id)).to_map();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('api_key', $1, 1, 'ApiKeyIssued', '1.0', $2, $3)",
    )
    .bind(late_key.to_string())
    .bind(serde_json::to_value(&event).unwrap())
    .bind(serde_json::to_value(&metadata).unwrap())
    .execute(&mut *late)
    .await
    .unwrap();

    let early_key = app.create_api_key("early").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        api_key_count(&app).await,
        0,
        "a later commit is held back while an older transaction is open"
    );

    late.commit().await.unwrap();
    eventually(Duration::from_secs(10), "both keys projected", || async {
        api_key_count(&app).await == 2
    })
    .await;
    let ids = app.rows("SELECT key_id FROM api_keys_view").await;
    let mut expected = vec![late_key.to_string(), early_key];
    expected.sort();
    assert_eq!(ids, expected);
}

async fn committed_keys(settings: &Settings) -> i64 {
    let pool = sqlx::PgPool::connect(settings.database_url.as_ref().unwrap().expose_secret())
        .await
        .unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE event_type = 'ApiKeyIssued'")
        .fetch_one(&pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn events_committed_before_the_process_was_killed_between_commit_and_publish_reach_every_projector() {
    let (settings, _dir) = distributed(DEFAULT_NATS).await;
    let (_, email) = seed(&settings).await;
    let port = free_port();
    let mut child = spawn_server(&settings, port, false);
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let token = child_login(&http, &base, &email, &settings).await;
    for i in 0..30 {
        let response = http
            .post(format!("{base}/api/v1/api-keys"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("k{i}"), "role": "agent"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(committed_keys(&settings).await, 30);

    let app = TestApp::start(settings, None).await;
    eventually(Duration::from_secs(20), "every committed key projected", || async {
        api_key_count(&app).await == 30
    })
    .await;
    eventually(
        Duration::from_secs(10),
        "the organisation counted its admin once",
        || async {
            app.count("SELECT user_count FROM organisations_view WHERE name = 'Killed Co'")
                .await
                == 1
        },
    )
    .await;
}

#[tokio::test]
async fn events_committed_by_a_process_killed_under_load_are_projected_once() {
    let (settings, _dir) = distributed(DEFAULT_NATS).await;
    let (_, email) = seed(&settings).await;
    let port = free_port();
    let mut child = spawn_server(&settings, port, true);
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let token = child_login(&http, &base, &email, &settings).await;
    let load = (0..300).map(|i| {
        http.post(format!("{base}/api/v1/api-keys"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("k{i}"), "role": "agent"}))
            .send()
    });
    let blast = tokio::spawn(futures::future::join_all(load));
    eventually(
        Duration::from_secs(30),
        "some commands committed before the kill",
        || async { committed_keys(&settings).await >= 20 },
    )
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let acknowledged = blast
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.status() == StatusCode::CREATED))
        .count() as i64;
    let committed = committed_keys(&settings).await;
    assert!(committed >= acknowledged, "every acknowledged command was committed");

    let app = TestApp::start(settings, None).await;
    // The restart waits out the killed process's relay lease, then catches
    // up; on two loaded cores that has taken over 30 s.
    eventually(Duration::from_secs(90), "every committed key projected", || async {
        api_key_count(&app).await == committed
    })
    .await;
    let applied = app
        .count("SELECT events_applied FROM projection_checkpoints WHERE projector = 'api_keys'")
        .await;
    assert_eq!(applied, committed, "each event applied exactly once");
}

/// Messages on a JetStream stream; 0 until it exists.
async fn stream_messages(js: &async_nats::jetstream::Context, stream: &str) -> u64 {
    match js.get_stream(stream).await {
        Ok(mut stream) => stream.info().await.map_or(0, |info| info.state.messages),
        Err(_) => 0,
    }
}

/// Each projector's `events_applied` beside the events committed of its
/// aggregate types.
async fn applied_and_committed(app: &TestApp) -> Vec<(&'static str, i64, i64)> {
    let mut out = Vec::new();
    for projector in projections::all() {
        let types: Vec<String> = projector.aggregate_types().iter().map(|t| format!("'{t}'")).collect();
        let committed = app
            .count(&format!(
                "SELECT COUNT(*) FROM events WHERE aggregate_type IN ({})",
                types.join(",")
            ))
            .await;
        let applied = app
            .count(&format!(
                "SELECT COALESCE(MAX(events_applied), 0) FROM projection_checkpoints WHERE projector = '{}'",
                projector.name()
            ))
            .await;
        out.push((projector.name(), applied, committed));
    }
    out
}

/// Issues `count` API keys straight through the use case, sixteen at a
/// time, with no relay or projector running.
async fn backlog_of_keys(settings: &Settings, organisation_id: Uuid, count: usize) {
    use futures::StreamExt;
    let state = api::state::AppState::build(settings.clone(), None).await.unwrap();
    let meta = EventMetadata::system("test", Some(organisation_id));
    let accounts = state.accounts();
    let acting = application::users::Acting {
        organisation_id,
        role: Role::Admin,
        user_id: None,
    };
    let issued = futures::stream::iter(0..count)
        .map(|i| {
            let (accounts, meta, acting) = (&accounts, &meta, &acting);
            async move {
                accounts
                    .issue_api_key(acting, &format!("k{i}"), Role::Agent, meta)
                    .await
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    assert!(issued.iter().all(Result::is_ok), "every key issued");
}

/// The backlog is committed while no process runs; a child with the relay
/// on starts publishing it and is SIGKILLed as soon as the stream has some
/// of it. Its relay checkpoint is then put back to the start, the state a
/// kill before the checkpoint write leaves (the kill may also land just
/// after one): the next relay publishes every message again, and only the
/// JetStream de-duplication by `type:id:sequence` keeps each event once.
#[tokio::test]
async fn a_relay_killed_while_publishing_a_backlog_leaves_each_event_on_the_stream_and_applied_once() {
    let (settings, _dir) = distributed(DEFAULT_NATS).await;
    let (org, _) = seed(&settings).await;
    const KEYS: usize = 2000;
    backlog_of_keys(&settings, org, KEYS).await;
    assert_eq!(committed_keys(&settings).await, KEYS as i64);
    let pool = sqlx::PgPool::connect(settings.database_url.as_ref().unwrap().expose_secret())
        .await
        .unwrap();
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();

    let js = async_nats::jetstream::new(async_nats::connect(DEFAULT_NATS).await.unwrap());
    let mut child = spawn_server(&settings, free_port(), true);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while stream_messages(&js, &settings.nats_stream).await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the child never published");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let published = stream_messages(&js, &settings.nats_stream).await;
    assert!(
        0 < published && published < total as u64,
        "killed while publishing: {published} of {total} on the stream"
    );
    sqlx::query("UPDATE relay_checkpoints SET last_tx = '0'::xid8, last_pos = 0")
        .execute(&pool)
        .await
        .unwrap();

    let app = TestApp::start(settings.clone(), None).await;
    eventually(
        Duration::from_secs(60),
        "every projector applied every committed event",
        || async {
            applied_and_committed(&app)
                .await
                .iter()
                .all(|(_, applied, committed)| applied >= committed)
        },
    )
    .await;
    for (projector, applied, committed) in applied_and_committed(&app).await {
        assert_eq!(applied, committed, "{projector} applied each committed event once");
    }
    let committed_now = app.count("SELECT COUNT(*) FROM events").await;
    assert_eq!(
        stream_messages(&js, &settings.nats_stream).await,
        committed_now as u64,
        "each event is on the stream once, the copies dropped"
    );
    assert_eq!(api_key_count(&app).await, KEYS as i64);
}

async fn consumer_drained(js: &async_nats::jetstream::Context, stream: &str, name: &str) -> bool {
    let stream = js.get_stream(stream).await.unwrap();
    let mut consumer: PullConsumer = stream.get_consumer(name).await.unwrap();
    let info = consumer.info().await.unwrap();
    info.num_pending == 0 && info.num_ack_pending == 0
}

#[tokio::test]
async fn the_same_event_delivered_twice_changes_a_read_model_once() {
    let app = TestApp::distributed().await;
    for _ in 0..5 {
        app.add_user(app.organisation_id, Role::Agent).await;
    }
    let org = app.organisation_id.to_string();
    let user_count = format!("SELECT user_count FROM organisations_view WHERE organisation_id = '{org}'");
    eventually(Duration::from_secs(10), "six users counted", || async {
        app.count(&user_count).await == 6
    })
    .await;

    let nats = app.state.nats.clone().unwrap();
    let log = StoreLog(app.state.db.clone());
    let events = application::feed::EventLog::read_after(&log, 0, 1000).await.unwrap();
    for event in events.iter().filter(|e| e.aggregate_type == "user") {
        let subject = nats.events.subject(&event.aggregate_type, &event.aggregate_id);
        let message = async_nats::jetstream::message::PublishMessage::build()
            .payload(serde_json::to_vec(event).unwrap().into())
            .message_id(Uuid::new_v4().to_string());
        nats.js.send_publish(subject, message).await.unwrap().await.unwrap();
    }
    for consumer in ["projector-organisations", "projector-users"] {
        eventually(Duration::from_secs(10), "duplicates consumed", || {
            consumer_drained(&nats.js, &nats.events.name, consumer)
        })
        .await;
    }
    assert_eq!(
        app.count(&user_count).await,
        6,
        "redelivered registrations are not counted again"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users_view").await, 6);
}

#[tokio::test]
async fn commands_keep_succeeding_while_nats_is_down_and_projections_catch_up_after() {
    let mut nats = OwnNats::start().await;
    let (settings, dir) = distributed(&nats.url()).await;
    let app = TestApp::start(settings, Some(dir)).await;
    for i in 0..5 {
        app.create_api_key(&format!("before {i}")).await;
    }
    eventually(Duration::from_secs(10), "first keys projected", || async {
        api_key_count(&app).await == 5
    })
    .await;

    nats.kill();
    for i in 0..20 {
        app.create_api_key(&format!("during {i}")).await;
    }
    assert_eq!(
        api_key_count(&app).await,
        5,
        "nothing can be projected while NATS is down"
    );

    nats.resume().await;
    eventually(
        Duration::from_secs(30),
        "every key projected after NATS returns",
        || async { api_key_count(&app).await == 25 },
    )
    .await;
    let applied = app
        .count("SELECT events_applied FROM projection_checkpoints WHERE projector = 'api_keys'")
        .await;
    assert_eq!(applied, 25, "nothing applied twice");
}

/// Every table a projector writes: the read models of all of
/// `projections::all()`, each with its full rows.
const TABLES: [&str; 21] = [
    "organisations_view",
    "users_view",
    "api_keys_view",
    "phone_numbers_view",
    "calls_view",
    "email_accounts_view",
    "email_threads",
    "email_thread_messages",
    "email_message_threads",
    "event_hashes",
    "webhook_endpoints_view",
    "webhook_subjects",
    "masked_sessions_view",
    "messages_view",
    "sms_templates_view",
    "whatsapp_templates_view",
    "inbound_messages_view",
    "message_windows",
    "threads_view",
    "thread_items",
    "customers_view",
];

/// The deliveries as the outbox projector writes them (their attempts are
/// the workers'): a rebuild must leave them as they are.
const DELIVERIES: &str =
    "SELECT delivery_id, endpoint_id, event_type, source_event, body, created_at FROM webhook_deliveries";

/// A request with the admin's token that must answer `status`; its payload.
async fn admin_call(app: &TestApp, method: reqwest::Method, path: &str, body: Value, status: StatusCode) -> Value {
    let response = app
        .http
        .request(method, app.url(path))
        .bearer_auth(&app.admin_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let answered = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(answered, status, "{path}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    crate::support::data(&body).clone()
}

/// Commands that leave rows in every read model: users created, renamed,
/// promoted, deactivated and logged in; keys issued and revoked; Exotel
/// phone configured on the simulator, its numbers synced, one assigned;
/// an e-mail account added and changed; an e-mail sent through Postfix.
async fn exercise_every_view(app: &TestApp, sim: &simulator::RunningSimulator) {
    use reqwest::Method;
    let mut ids = Vec::new();
    for (i, role) in ["agent", "manager", "agent"].into_iter().enumerate() {
        let email = format!("{}@example.com", Uuid::new_v4().simple());
        let body = json!({"email": email, "display_name": format!("User {i}"), "password": crate::support::PASSWORD, "role": role});
        let created = admin_call(app, Method::POST, "/api/v1/users", body, StatusCode::CREATED).await;
        ids.push((created["id"].as_str().unwrap().to_string(), email));
    }
    app.login(&ids[0].1).await;
    let deactivate = format!("/api/v1/users/{}/deactivate", ids[1].0);
    admin_call(app, Method::POST, &deactivate, json!({}), StatusCode::OK).await;
    let rename = json!({"display_name": "Renamed", "role": "manager", "phone": "09876500077"});
    admin_call(
        app,
        Method::PATCH,
        &format!("/api/v1/users/{}", ids[2].0),
        rename,
        StatusCode::OK,
    )
    .await;
    let key = app.create_api_key("one").await;
    app.create_api_key("two").await;
    let revoke = format!("/api/v1/api-keys/{key}");
    admin_call(app, Method::DELETE, &revoke, json!({}), StatusCode::NO_CONTENT).await;

    let phone = json!({"account_sid": "sandbox", "api_key": crate::support::sim::KEY, "api_token": crate::support::sim::TOKEN,
        "api_host": sim.base_url(), "virtual_number": crate::support::sim::EXOPHONE, "display_name": "Main line"});
    let integration = "/api/v1/settings/integrations/exotel_phone";
    admin_call(app, Method::POST, integration, phone, StatusCode::OK).await;
    let numbers = admin_call(
        app,
        Method::POST,
        &format!("{integration}/sync"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    assert!(numbers.is_object(), "{numbers}");
    let mut listed = Value::Null;
    for _ in 0..200 {
        listed = admin_call(
            app,
            Method::GET,
            "/api/v1/settings/phone-numbers",
            Value::Null,
            StatusCode::OK,
        )
        .await;
        if listed.as_array().is_some_and(|numbers| numbers.len() == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let number = listed[1]["id"]
        .as_str()
        .expect("both sandbox numbers listed")
        .to_string();
    let assign = json!({"user_id": ids[0].0, "is_primary": true});
    let path = format!("/api/v1/settings/phone-numbers/{number}/assign");
    admin_call(app, Method::POST, &path, assign, StatusCode::OK).await;
    // A rider and a customer reach each other through the primary number.
    let masked = json!({"party_a": "+919876500031", "party_b": "+919812300032", "max_calls": 2});
    admin_call(
        app,
        Method::POST,
        "/api/v1/masked-sessions",
        masked,
        StatusCode::CREATED,
    )
    .await;
    // A client system hears of calls (at an address that refuses at once).
    let hook = json!({"url": "http://127.0.0.1:1/hook", "event_types": ["call.requested", "call.failed"]});
    admin_call(app, Method::POST, "/api/v1/webhooks", hook, StatusCode::CREATED).await;
    for _ in 0..200 {
        let endpoints = admin_call(app, Method::GET, "/api/v1/webhooks", Value::Null, StatusCode::OK).await;
        if endpoints.as_array().is_some_and(|e| e.len() == 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A call Exotel refuses (the customer is on the DND registry) ends at
    // once: nothing changes it after the projections have caught up.
    crate::support::sim::script(sim, "09812399001", json!({"dnd": true})).await;
    let call = json!({"agent_phone": "+919876500001", "customer_phone": "+919812399001"});
    let requested = admin_call(app, Method::POST, "/api/v1/calls", call, StatusCode::ACCEPTED).await;
    let call_path = format!("/api/v1/calls/{}", requested["id"].as_str().unwrap());
    let mut refused = Value::Null;
    for _ in 0..200 {
        refused = admin_call(app, Method::GET, &call_path, Value::Null, StatusCode::OK).await;
        if refused["status"] == "refused" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(refused["refusal"]["http_status"], 403, "{refused}");
    // An SMS through a template, delivered before the projections are compared.
    crate::support::sim::script(sim, "09812399002", json!({"sms_delay_seconds": 0})).await;
    let sms = json!({"account_sid": "sandbox", "api_key": crate::support::sim::KEY, "api_token": crate::support::sim::TOKEN,
        "api_host": sim.base_url(), "sender_id": "SNDBOX", "dlt_entity_id": "1101234567890123456"});
    admin_call(
        app,
        Method::POST,
        "/api/v1/settings/integrations/exotel_sms",
        sms,
        StatusCode::OK,
    )
    .await;
    for (id, text) in [("1107001", "Order {#var#} shipped"), ("1107002", "Gone {#var#}")] {
        let template = json!({"template_id": id, "name": "Order", "body": text, "sender_id": "SNDBOX", "sms_type": "transactional"});
        admin_call(
            app,
            Method::POST,
            "/api/v1/sms/templates",
            template,
            StatusCode::CREATED,
        )
        .await;
    }
    admin_call(
        app,
        Method::DELETE,
        "/api/v1/sms/templates/1107002",
        json!({}),
        StatusCode::NO_CONTENT,
    )
    .await;
    let message = json!({"to": ["+919812399002"], "template_id": "1107001", "variables": ["7"]});
    let recorded = admin_call(app, Method::POST, "/api/v1/sms", message, StatusCode::ACCEPTED).await;
    let sms_path = format!("/api/v1/sms/{}", recorded["messages"][0]["id"].as_str().unwrap());
    let mut delivered = Value::Null;
    for _ in 0..200 {
        delivered = admin_call(app, Method::GET, &sms_path, Value::Null, StatusCode::OK).await;
        if delivered["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivered["status"], "delivered", "{delivered}");
    // A customer writes on WhatsApp.
    let whatsapp = json!({"account_sid": "sandbox", "api_key": crate::support::sim::KEY, "api_token": crate::support::sim::TOKEN,
        "api_host": sim.base_url(), "whatsapp_number": "+918047112233", "waba_id": simulator::SANDBOX_WABA,
        "auto_reply_enabled": true, "welcome_message": "Welcome!"});
    admin_call(
        app,
        Method::POST,
        "/api/v1/settings/integrations/exotel_whatsapp",
        whatsapp,
        StatusCode::OK,
    )
    .await;
    // Its templates synced, one paused and one deleted at the provider, synced again.
    let sync = "/api/v1/settings/integrations/exotel_whatsapp/sync-templates";
    let first = admin_call(app, Method::POST, sync, json!({}), StatusCode::OK).await;
    assert_eq!(first["changed"], 2, "{first}");
    let (paused, _) = crate::support::sim::admin_request(
        sim,
        Method::PUT,
        "accounts/sandbox/templates/order_update",
        json!({"status": "PAUSED"}),
    )
    .await;
    assert_eq!(paused, StatusCode::OK);
    let deleted = reqwest::Client::new()
        .delete(format!(
            "{}/v2/accounts/sandbox/templates?waba_id={}&name=delivery_photo",
            sim.base_url(),
            simulator::SANDBOX_WABA
        ))
        .basic_auth(crate::support::sim::KEY, Some(crate::support::sim::TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    // The removal waits for the view to list what the first sync kept.
    let (mut changed, mut removed) = (0, 0);
    for _ in 0..100 {
        let again = admin_call(app, Method::POST, sync, json!({}), StatusCode::OK).await;
        changed += again["changed"].as_u64().unwrap();
        removed += again["removed"].as_u64().unwrap();
        if removed > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!((changed, removed), (1, 1), "the pause recorded once, the deletion once");
    let integration = domain::integration::integration_id(
        app.organisation_id,
        domain::integration::IntegrationKind::ExotelWhatsapp,
    );
    let token = app.state.callback_tokens.token(integration, 0);
    let incoming = json!({"whatsapp": {"messages": [{"callback_type": "incoming_message", "sid": "wamid-feed-1",
        "from": "+919812399003", "to": "+918047112233", "content": {"type": "text", "text": {"body": "Hi"}}}]}});
    let received = app
        .http
        .post(app.url(&format!("/webhooks/exotel/{integration}/{token}/whatsapp")))
        .json(&incoming)
        .send()
        .await
        .unwrap();
    assert_eq!(received.status(), StatusCode::OK);

    let account = json!({
        "name": "Acme Support", "email": "support@switchboard.test",
        "smtp_host": "127.0.0.1", "smtp_port": 587, "smtp_security": "starttls", "smtp_password": "support-password",
        "imap_host": "127.0.0.1", "imap_port": 993, "imap_password": "support-password", "imap_enabled": false,
        "is_default": true,
    });
    let accounts = "/api/v1/settings/email-accounts";
    let added = admin_call(app, Method::POST, accounts, account, StatusCode::CREATED).await;
    let account_id = added["id"].as_str().unwrap().to_string();
    let change = json!({"poll_interval_ms": 60000});
    admin_call(
        app,
        Method::PATCH,
        &format!("{accounts}/{account_id}"),
        change,
        StatusCode::OK,
    )
    .await;
    let mail = json!({"to": "bob@switchboard.test", "subject": format!("rebuild {}", Uuid::new_v4().simple()),
        "text": "Hello Bob", "account_id": account_id});
    let sent = admin_call(
        app,
        Method::POST,
        "/api/v1/communications/emails",
        mail,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(sent["status"], "sent", "{sent}");
}

async fn caught_up(app: &TestApp) -> bool {
    for projector in projections::all() {
        let types: Vec<String> = projector.aggregate_types().iter().map(|t| format!("'{t}'")).collect();
        let sql = format!(
            "SELECT COALESCE(MAX(global_position), 0) FROM events WHERE aggregate_type IN ({})",
            types.join(",")
        );
        if app.state.projections.position(projector.name()).await.unwrap() < app.count(&sql).await {
            return false;
        }
    }
    true
}

async fn rebuilt_equals_live(app: TestApp) {
    let names: Vec<&str> = projections::all().iter().map(|p| p.name()).collect();
    assert_eq!(names.len(), 16, "a new projector's tables join TABLES: {names:?}");
    let sim = crate::support::sim::start().await;
    exercise_every_view(&app, &sim).await;
    eventually(Duration::from_secs(20), "live projections caught up", || {
        caught_up(&app)
    })
    .await;
    let mut live = Vec::new();
    for table in TABLES {
        let rows = app.rows(&format!("SELECT * FROM {table}")).await;
        assert!(!rows.is_empty(), "the setup left rows in {table}");
        live.push(rows);
    }
    let deliveries = app.rows(DELIVERIES).await;
    assert_eq!(
        deliveries.len(),
        2,
        "the refused call was requested and failed: {deliveries:?}"
    );
    let log = StoreLog(app.state.db.clone());
    for projector in projections::all() {
        app.state
            .projections
            .rebuild(projector.as_ref(), &log, &|_| {})
            .await
            .unwrap();
    }
    for (table, live) in TABLES.iter().zip(live) {
        assert_eq!(app.rows(&format!("SELECT * FROM {table}")).await, live, "{table}");
    }
    assert_eq!(
        app.rows(DELIVERIES).await,
        deliveries,
        "a rebuild writes no delivery twice"
    );
}

#[tokio::test]
async fn a_rebuilt_projection_equals_the_live_one_on_postgres() {
    rebuilt_equals_live(TestApp::distributed().await).await;
}

#[tokio::test]
async fn a_rebuilt_projection_equals_the_live_one_on_sqlite() {
    rebuilt_equals_live(TestApp::embedded().await).await;
}

async fn relay_locks(app: &TestApp) -> i64 {
    let sql = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = \
               (SELECT oid FROM pg_database WHERE datname = current_database())";
    sqlx::query_scalar(sql).fetch_one(pg(app)).await.unwrap()
}

#[tokio::test]
async fn one_relay_is_active_and_a_standby_takes_over_when_it_stops() {
    let (settings, _dir) = distributed(DEFAULT_NATS).await;
    let first = crate::support::launch(&settings).await;
    let app = TestApp::start(settings, None).await;
    eventually(Duration::from_secs(5), "a relay is elected", || async {
        relay_locks(&app).await == 1
    })
    .await;
    app.create_api_key("while both run").await;
    eventually(Duration::from_secs(10), "the key projected", || async {
        api_key_count(&app).await == 1
    })
    .await;
    assert_eq!(relay_locks(&app).await, 1, "only one relay holds the lock");

    first.stop().await;
    app.create_api_key("after the first stopped").await;
    eventually(Duration::from_secs(10), "the standby relays", || async {
        api_key_count(&app).await == 2
    })
    .await;
    assert_eq!(relay_locks(&app).await, 1);
}

#[tokio::test]
async fn a_message_that_is_not_an_event_does_not_stop_a_projector() {
    let app = TestApp::distributed().await;
    let nats = app.state.nats.clone().unwrap();
    let subject = nats.events.subject("api_key", &Uuid::new_v4().to_string());
    let garbage = async_nats::jetstream::message::PublishMessage::build()
        .payload("not an event".into())
        .message_id("garbage-1");
    nats.js.send_publish(subject, garbage).await.unwrap().await.unwrap();
    app.create_api_key("after the garbage").await;
    eventually(
        Duration::from_secs(10),
        "the key projected past the garbage",
        || async { api_key_count(&app).await == 1 },
    )
    .await;
}

/// The store log, counting how often it is read.
struct CountingLog {
    log: StoreLog,
    reads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl application::feed::EventLog for CountingLog {
    async fn read_after(
        &self,
        position: i64,
        limit: usize,
    ) -> Result<Vec<application::feed::StoredEvent>, application::error::StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.log.read_after(position, limit).await
    }

    async fn head(&self) -> Result<i64, application::error::StoreError> {
        self.log.head().await
    }
}

async fn rebuilt_in_one_pass_equals_live(app: TestApp) {
    let sim = crate::support::sim::start().await;
    exercise_every_view(&app, &sim).await;
    eventually(Duration::from_secs(20), "live projections caught up", || {
        caught_up(&app)
    })
    .await;
    let mut live = Vec::new();
    for table in TABLES {
        live.push(app.rows(&format!("SELECT * FROM {table}")).await);
    }
    let deliveries = app.rows(DELIVERIES).await;
    let log = CountingLog {
        log: StoreLog(app.state.db.clone()),
        reads: Default::default(),
    };
    let all = projections::all();
    let projectors: Vec<&dyn projections::Projector> = all.iter().map(|p| p.as_ref()).collect();
    let applied = app
        .state
        .projections
        .rebuild_all(&projectors, &log, &|_| {})
        .await
        .unwrap();
    let events = app.count("SELECT COUNT(*) FROM events").await;
    assert!(events < 2_000, "the setup fits one page of the rebuild: {events}");
    assert_eq!(
        log.reads.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one page holding every event, then the empty one that ends the pass"
    );
    let chain = all.iter().position(|p| p.name() == "audit_chain").unwrap();
    let kinds = app.rows("SELECT global_position, event_type FROM events").await;
    assert_eq!(
        applied[chain] as i64, events,
        "the audit chain seals every event once: {kinds:?}"
    );
    for (table, live) in TABLES.iter().zip(live) {
        assert_eq!(app.rows(&format!("SELECT * FROM {table}")).await, live, "{table}");
    }
    assert_eq!(
        app.rows(DELIVERIES).await,
        deliveries,
        "a rebuild writes no delivery twice"
    );
}

#[tokio::test]
async fn a_rebuild_of_every_projection_reading_the_log_once_equals_the_live_ones_on_postgres() {
    rebuilt_in_one_pass_equals_live(TestApp::distributed().await).await;
}

#[tokio::test]
async fn a_rebuild_of_every_projection_reading_the_log_once_equals_the_live_ones_on_sqlite() {
    rebuilt_in_one_pass_equals_live(TestApp::embedded().await).await;
}
