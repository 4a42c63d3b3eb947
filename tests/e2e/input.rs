//! Bad input gets a 4xx problem+json naming the field, never a 500.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestApp, assert_problem};

async fn post_raw(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    let request = app
        .http
        .post(app.url(path))
        .bearer_auth(&app.admin_token)
        .header("content-type", content_type);
    request.body(body).send().await.unwrap()
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = TestApp::embedded().await;
    let response = post_raw(&app, "/api/v1/users", "application/json", b"{\"email\": ".to_vec()).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "malformed_json").await;
}

#[tokio::test]
async fn a_wrong_type_or_missing_field_names_the_field() {
    let app = TestApp::embedded().await;
    let wrong = json!({"email": "a@example.com", "display_name": "A", "password": 12345, "role": "agent"});
    let body = assert_problem(
        app.post_json("/api/v1/users", Some(&app.admin_token), wrong).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(body["field"], "password");
    let missing = json!({"email": "a@example.com", "password": "long enough pw", "role": "agent"});
    let body = assert_problem(
        app.post_json("/api/v1/users", Some(&app.admin_token), missing).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(body["field"], "display_name");
    let role = json!({"email": "a@example.com", "display_name": "A", "password": "long enough pw", "role": "owner"});
    let body = assert_problem(
        app.post_json("/api/v1/users", Some(&app.admin_token), role).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(body["field"], "role");
}

#[tokio::test]
async fn rule_violations_name_the_field_and_write_nothing() {
    let app = TestApp::embedded().await;
    let bad_email =
        json!({"email": "not-an-address", "display_name": "A", "password": "long enough pw", "role": "agent"});
    let body = assert_problem(
        app.post_json("/api/v1/users", Some(&app.admin_token), bad_email).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(body["field"], "email");
    let short = json!({"email": "short@example.com", "display_name": "A", "password": "short", "role": "agent"});
    let body = assert_problem(
        app.post_json("/api/v1/users", Some(&app.admin_token), short).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(body["field"], "password");
    let blank =
        json!({"email": "blank@example.com", "display_name": "   ", "password": "long enough pw", "role": "agent"});
    let body = assert_problem(
        app.post_json("/api/v1/users", Some(&app.admin_token), blank).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(body["field"], "display_name");
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE aggregate_type = 'user'")
        .fetch_one(&app.state.db.read)
        .await
        .unwrap();
    assert_eq!(events, 1, "only the admin's registration is stored");
}

#[tokio::test]
async fn an_oversized_body_is_a_413_problem() {
    let app = TestApp::embedded().await;
    let huge = json!({"name": "x".repeat(64 * 1024), "role": "agent"})
        .to_string()
        .into_bytes();
    let response = post_raw(&app, "/api/v1/api-keys", "application/json", huge).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = TestApp::embedded().await;
    let response = post_raw(&app, "/api/v1/api-keys", "text/plain", b"name=x".to_vec()).await;
    assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
}

#[tokio::test]
async fn unknown_routes_ids_and_queries_get_problems_not_500s() {
    let app = TestApp::embedded().await;
    let token = Some(app.admin_token.as_str());
    assert_problem(
        app.get("/api/v1/nothing-here", token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get("/api/v1/users/not-a-uuid", token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get("/api/v1/users?limit=abc", token).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.get("/api/v1/users?limit=100000", token).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    let put = app
        .http
        .put(app.url("/api/v1/users"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_problem(put, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::embedded().await;
    let response = app.get("/health", None).await;
    assert!(response.headers().contains_key("x-request-id"));
    let response = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
}
