//! The edge of the server: JSON that is not what it claims, request ids a
//! client makes up, clients that stall, `/metrics` kept to its own address
//! or token, and the files the server writes kept to its own user.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use infrastructure::Settings;

use crate::support::child::free_port;
use crate::support::{TestApp, assert_problem, data, embedded};

async fn post_raw(app: &TestApp, path: &str, body: &'static [u8]) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn events(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM events").await
}

#[tokio::test]
async fn json_followed_by_trailing_bytes_is_refused_and_nothing_is_done() {
    let app = TestApp::embedded().await;
    let before = events(&app).await;
    let response = post_raw(&app, "/api/v1/api-keys", br#"{"name": "crm", "role": "agent"}xx"#).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    let response = post_raw(&app, "/api/v1/api-keys", br#"{"name": "crm", "role": "agent"} {}"#).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    assert_eq!(events(&app).await, before, "no key was issued");
    let response = post_raw(
        &app,
        "/api/v1/api-keys",
        b"{\"name\": \"crm\", \"role\": \"agent\"}\n\t ",
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "trailing white space is still JSON"
    );
}

#[tokio::test]
async fn a_json_array_in_place_of_an_object_is_refused_and_nothing_is_done() {
    let app = TestApp::embedded().await;
    let before = events(&app).await;
    let response = post_raw(&app, "/api/v1/api-keys", br#"["crm", "agent"]"#).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    let response = post_raw(&app, "/api/v1/api-keys", b"  \n [\"crm\", \"agent\"]").await;
    assert_problem(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    assert_eq!(events(&app).await, before, "no key was issued");
}

/// Issues an API key sending `request_id` (if any); the `x-request-id`
/// answered and the `request_id` stored in the issued event's metadata.
async fn issue_with_request_id(app: &TestApp, request_id: Option<&str>) -> (String, String) {
    let mut request = app
        .http
        .post(app.url("/api/v1/api-keys"))
        .bearer_auth(&app.admin_token)
        .json(&json!({"name": "traced", "role": "agent"}));
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let answered = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let key_id = data(&response.json::<Value>().await.unwrap())["id"]
        .as_str()
        .unwrap()
        .to_string();
    let metadata: String = sqlx::query_scalar(
        "SELECT CAST(metadata AS TEXT) FROM events WHERE event_type = 'ApiKeyIssued' AND aggregate_id = $1",
    )
    .bind(&key_id)
    .fetch_one(&app.state.db.read)
    .await
    .unwrap();
    let metadata: Value = serde_json::from_str(&metadata).unwrap();
    (answered, metadata["request_id"].as_str().unwrap().to_string())
}

fn is_safe_token(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
}

#[tokio::test]
async fn a_request_id_that_is_not_a_short_safe_token_is_replaced_in_the_answer_and_in_the_event() {
    let app = TestApp::embedded().await;
    let too_long = "a".repeat(129);
    for bad in ["<script>alert(1)</script>", "two words", "quote\"d", too_long.as_str()] {
        let (answered, stored) = issue_with_request_id(&app, Some(bad)).await;
        assert_ne!(answered, bad);
        assert!(is_safe_token(&answered), "{answered:?} replaces {bad:?}");
        assert_eq!(stored, answered, "the event carries the id the client was told");
    }
    let (answered, stored) = issue_with_request_id(&app, None).await;
    assert!(is_safe_token(&answered));
    assert_eq!(stored, answered);
}

#[tokio::test]
async fn a_request_id_that_is_a_short_safe_token_is_kept_in_the_answer_and_in_the_event() {
    let app = TestApp::embedded().await;
    let longest = "b".repeat(128);
    for good in ["trace-7f3a.1:span_2", longest.as_str()] {
        let (answered, stored) = issue_with_request_id(&app, Some(good)).await;
        assert_eq!((answered.as_str(), stored.as_str()), (good, good));
    }
}

/// Short connection timeouts for the tests of stalled clients.
fn with_timeouts(settings: &mut Settings, header_read: u64, idle: u64, request: u64) {
    settings.header_read_timeout_secs = header_read;
    settings.idle_timeout_secs = idle;
    settings.request_timeout_secs = request;
}

async fn app_with_timeouts(header_read: u64, idle: u64, request: u64) -> TestApp {
    let (mut settings, dir) = embedded();
    with_timeouts(&mut settings, header_read, idle, request);
    TestApp::start(settings, Some(dir)).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection (or `within` passes: then
/// `None`); what it sent.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| String::from_utf8_lossy(&received).into_owned())
}

#[tokio::test]
async fn a_client_that_stops_halfway_through_its_headers_is_disconnected_after_the_header_timeout() {
    let app = app_with_timeouts(1, 60, 30).await;
    let mut stream = connect(&app).await;
    let started = Instant::now();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow")
        .await
        .unwrap();
    let closed = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(closed.is_some(), "the connection is still open after 10 s");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
    let health = app.get("/health", None).await;
    assert_eq!(health.status(), StatusCode::OK, "the server still serves others");
}

#[tokio::test]
async fn a_request_slower_than_the_idle_timeout_is_still_answered() {
    let app = app_with_timeouts(60, 1, 30).await;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        LOGIN_BODY.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(LOGIN_BODY.as_bytes()).await.unwrap();
    let answered = read_until_closed(&mut stream, Duration::from_secs(30)).await;
    let answered = answered.expect("an answer within 30 s");
    assert!(
        answered.starts_with("HTTP/1.1 401"),
        "the login was answered: {answered}"
    );
}

/// A login that hashes a password (slow on purpose) before it refuses.
const LOGIN_BODY: &str = r#"{"email": "nobody@example.com", "password": "wrong password 1"}"#;

#[tokio::test]
async fn a_connection_that_sits_idle_is_closed_after_the_idle_timeout() {
    let app = app_with_timeouts(60, 1, 30).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answered = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let answered = answered.expect("the idle keep-alive connection is still open after 10 s");
    assert!(
        answered.starts_with("HTTP/1.1 200"),
        "the request was served first: {answered}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_a_problem_json_408() {
    let app = app_with_timeouts(60, 60, 10).await;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /api/v1/api-keys HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        app.admin_token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while !String::from_utf8_lossy(&answer).contains("}") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 30 s");
    let answer = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    let problem: Value = serde_json::from_str(body.trim()).unwrap();
    assert_eq!(
        (problem["status"].as_u64(), problem["code"].as_str()),
        (Some(408), Some("request_timeout"))
    );
}

#[tokio::test]
async fn metrics_behind_a_token_are_refused_without_it_and_served_with_it() {
    let (mut settings, dir) = embedded();
    settings.metrics_token = Some("metrics-scraper-token-1".to_string().into());
    let app = TestApp::start(settings, Some(dir)).await;
    let refused = app.get("/metrics", None).await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let wrong = app.get("/metrics", Some("metrics-scraper-token-2")).await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let served = app.get("/metrics", Some("metrics-scraper-token-1")).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert!(served.text().await.unwrap().contains("switchboard_http_requests_total"));
}

#[tokio::test]
async fn metrics_on_a_listen_address_of_their_own_are_served_there_and_not_beside_the_api() {
    let (mut settings, dir) = embedded();
    let port = free_port();
    settings.metrics_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    let app = TestApp::start(settings, Some(dir)).await;
    let beside = app.get("/metrics", None).await;
    assert_problem(beside, StatusCode::NOT_FOUND, "not_found").await;
    let own = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert!(own.text().await.unwrap().contains("switchboard_http_requests_total"));
    let api = reqwest::get(format!("http://127.0.0.1:{port}/health")).await.unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND, "only /metrics is served there");
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_data_directory_and_every_file_the_server_writes_there_are_its_owners_alone() {
    let (mut settings, dir) = embedded();
    settings.data_dir = dir.path().join("data");
    let app = TestApp::start(settings.clone(), Some(dir)).await;
    app.create_api_key("writes to the store").await;
    let data_dir = &settings.data_dir;
    assert_eq!(mode(data_dir), 0o700, "the data directory");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(data_dir).unwrap() {
        let path = entry.unwrap().path();
        files.push(path.file_name().unwrap().to_string_lossy().into_owned());
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), expected, "{}", path.display());
    }
    files.sort();
    for expected in [
        "jwt-secret",
        "master-keys",
        "switchboard.db",
        "switchboard.db-shm",
        "switchboard.db-wal",
    ] {
        assert!(files.iter().any(|f| f == expected), "{expected} in {files:?}");
    }
}
