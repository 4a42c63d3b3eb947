//! Idempotency keys and rate limits.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{DEFAULT_NATS, TestApp, assert_problem, data, distributed, launch};

async fn issued_keys(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM events WHERE event_type = 'ApiKeyIssued'")
        .await
}

#[tokio::test]
async fn an_idempotency_key_replayed_from_two_processes_at_once_does_the_work_once() {
    let (settings, dir) = distributed(DEFAULT_NATS).await;
    let app = TestApp::start(settings.clone(), Some(dir)).await;
    let second = launch(&settings).await;
    let bases = [app.base.clone(), format!("http://{}", second.addr.unwrap())];
    let body = json!({"name": "once only", "role": "agent"});
    let requests = (0..12).map(|i| {
        app.http
            .post(format!("{}/api/v1/api-keys", bases[i % 2]))
            .bearer_auth(&app.admin_token)
            .header("Idempotency-Key", "create-crm-key-1")
            .json(&body)
            .send()
    });
    let responses = futures::future::join_all(requests).await;
    let mut bodies = Vec::new();
    for response in responses {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        bodies.push(response.json::<Value>().await.unwrap());
    }
    let with_secret = bodies.iter().filter(|b| data(b).get("key").is_some()).count();
    assert_eq!(with_secret, 1, "the secret is answered to the first caller alone");
    let without_secret = |body: &Value| {
        let mut body = body.clone();
        if let Some(payload) = body.get_mut("data").and_then(Value::as_object_mut) {
            payload.remove("key");
        }
        body.as_object_mut().map(|o| o.remove("key"));
        body
    };
    assert!(
        bodies
            .windows(2)
            .all(|w| without_secret(&w[0]) == without_secret(&w[1])),
        "every caller sees the one key"
    );
    assert_eq!(issued_keys(&app).await, 1, "the work was done once");
    second.stop().await;
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused_and_a_replay_survives_a_restart() {
    let (settings, dir) = distributed(DEFAULT_NATS).await;
    let app = TestApp::start(settings.clone(), Some(dir)).await;
    let post = |base: &str, name: &str| {
        app.http
            .post(format!("{base}/api/v1/api-keys"))
            .bearer_auth(&app.admin_token)
            .header("Idempotency-Key", "k-42")
            .json(&json!({"name": name, "role": "agent"}))
            .send()
    };
    let first = post(&app.base, "first").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let reused = post(&app.base, "second").await.unwrap();
    assert_problem(reused, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;

    let restarted = launch(&settings).await;
    let again = post(&format!("http://{}", restarted.addr.unwrap()), "first")
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(data(&again)["id"], data(&first)["id"]);
    assert!(
        data(&again).get("key").is_none(),
        "a replay never hands the secret back"
    );
    assert_eq!(issued_keys(&app).await, 1);
    restarted.stop().await;
}

#[tokio::test]
async fn a_request_without_a_key_is_not_deduplicated() {
    let app = TestApp::embedded().await;
    app.create_api_key("a").await;
    app.create_api_key("a").await;
    assert_eq!(issued_keys(&app).await, 2);
}

#[tokio::test]
async fn requests_over_the_rate_limit_get_429_with_retry_after() {
    let (mut settings, dir) = crate::support::embedded();
    settings.rate_limit_per_actor = 5;
    let app = TestApp::start(settings, Some(dir)).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(app.get("/api/v1/users", Some(&app.admin_token)).await);
    }
    let limited = statuses
        .into_iter()
        .find(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .expect("a request was limited");
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn an_api_key_created_with_an_idempotency_key_is_never_stored_and_its_replay_names_the_key_without_it() {
    let app = TestApp::embedded().await;
    let post = || {
        app.http
            .post(app.url("/api/v1/api-keys"))
            .bearer_auth(&app.admin_token)
            .header("Idempotency-Key", "crm-key")
            .json(&json!({"name": "crm", "role": "agent"}))
            .send()
    };
    let first = post().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let secret = data(&first)["key"].as_str().unwrap().to_string();
    assert!(secret.starts_with("sbk_"), "{secret}");

    let stored = app.rows("SELECT COALESCE(body, '') FROM idempotency_keys").await;
    assert_eq!(stored.len(), 1, "the response is remembered");
    assert!(!stored[0].is_empty(), "a replay marker is kept");
    assert!(
        !stored[0].contains(&secret) && !stored[0].contains("sbk_"),
        "the store holds no secret: {}",
        stored[0]
    );

    let again = post().await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert!(data(&again).get("key").is_none(), "{again}");
    for field in ["id", "name", "role"] {
        assert_eq!(data(&again)[field], data(&first)[field], "{field}");
    }
    assert_eq!(issued_keys(&app).await, 1);
}
