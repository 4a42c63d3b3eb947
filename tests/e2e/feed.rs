//! The event feed: nothing lost, nothing doubled, per-aggregate order, and
//! rebuilds that equal the live projections.

use async_nats::jetstream::consumer::PullConsumer;
use chrono::Utc;
use domain::Role;
use domain::api_key::ApiKeyEvent;
use reqwest::StatusCode;
use serde_json::json;
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

const VIEWS: [&str; 3] = [
    "SELECT organisation_id, name, created_at, user_count FROM organisations_view",
    "SELECT user_id, organisation_id, email, display_name, role, active, registered_at, last_login_at, version FROM users_view",
    "SELECT key_id, organisation_id, name, role, created_by, issued_at, revoked_at, version FROM api_keys_view",
];

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
    eventually(Duration::from_secs(30), "every committed key projected", || async {
        api_key_count(&app).await == committed
    })
    .await;
    let applied = app
        .count("SELECT events_applied FROM projection_checkpoints WHERE projector = 'api_keys'")
        .await;
    assert_eq!(applied, committed, "each event applied exactly once");
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

async fn exercise_every_view(app: &TestApp) {
    let mut emails = Vec::new();
    for role in [Role::Agent, Role::Manager, Role::Agent] {
        emails.push(app.add_user(app.organisation_id, role).await);
    }
    app.login(&emails[0]).await;
    let id = |email: &str| {
        domain::user::user_id_for(app.organisation_id, &domain::EmailAddress::parse(email).unwrap()).to_string()
    };
    let token = Some(app.admin_token.as_str());
    app.post_json(
        &format!("/api/v1/users/{}/deactivate", id(&emails[1])),
        token,
        json!({}),
    )
    .await;
    let patch = app
        .http
        .patch(app.url(&format!("/api/v1/users/{}", id(&emails[2]))))
        .bearer_auth(&app.admin_token);
    patch
        .json(&json!({"display_name": "Renamed", "role": "manager"}))
        .send()
        .await
        .unwrap();
    let key = app.create_api_key("one").await;
    app.create_api_key("two").await;
    app.http
        .delete(app.url(&format!("/api/v1/api-keys/{key}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
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
    exercise_every_view(&app).await;
    let expected_events = app.state.db.head_position().await.unwrap();
    eventually(Duration::from_secs(10), "live projections caught up", || {
        caught_up(&app)
    })
    .await;
    let mut live = Vec::new();
    for view in VIEWS {
        live.push(app.rows(view).await);
    }
    let log = StoreLog(app.state.db.clone());
    for projector in projections::all() {
        app.state
            .projections
            .rebuild(projector.as_ref(), &log, &|_| {})
            .await
            .unwrap();
    }
    for (view, live) in VIEWS.iter().zip(live) {
        assert_eq!(app.rows(view).await, live, "{view}");
    }
    assert!(expected_events > 10);
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
