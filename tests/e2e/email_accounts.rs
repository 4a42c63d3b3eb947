//! E-mail accounts against the real Postfix and Dovecot of `tests/mail/`:
//! the connection test's two sides, and accounts added, listed, changed and
//! removed without a password ever coming back.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use crate::support::{TestApp, assert_problem, data, eventually};

const ALICE_PASSWORD: &str = "alice-password";

fn alice(smtp_password: &str, imap_password: &str) -> Value {
    json!({
        "name": "Support Inbox", "email": "alice@switchboard.test",
        "smtp_host": "localhost", "smtp_port": 587, "smtp_user": "alice@switchboard.test",
        "smtp_password": smtp_password, "smtp_secure": false, "smtp_enabled": true,
        "imap_host": "localhost", "imap_port": 993, "imap_user": "alice@switchboard.test",
        "imap_password": imap_password, "imap_tls": true, "imap_enabled": true,
        "poll_interval_ms": 30000, "is_default": true,
        "signature_html": "<p>Best regards,<br>Support Team</p>", "signature_text": "Best regards,\nSupport Team"
    })
}

async fn test_connection(app: &TestApp, body: Value) -> Value {
    let response = app
        .post_json("/api/v1/settings/email-accounts/test", Some(&app.admin_token), body)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_connection_test_logs_in_to_smtp_and_imap_and_counts_the_mailbox() {
    let app = TestApp::embedded().await;
    let answer = test_connection(&app, alice(ALICE_PASSWORD, ALICE_PASSWORD)).await;
    assert_eq!(answer["success"], true, "{answer}");
    let (smtp, imap) = (&answer["data"]["smtp"], &answer["data"]["imap"]);
    assert_eq!(
        (
            smtp["success"].as_bool(),
            smtp["host"].as_str(),
            smtp["port"].as_u64(),
            smtp["secure"].as_bool()
        ),
        (Some(true), Some("localhost"), Some(587), Some(false))
    );
    assert_eq!(
        (
            imap["success"].as_bool(),
            imap["port"].as_u64(),
            imap["secure"].as_bool()
        ),
        (Some(true), Some(993), Some(true))
    );
    assert!(imap["mailbox_count"].as_u64().unwrap() >= 1);
    assert!(imap["unread_count"].is_u64());
}

#[tokio::test]
async fn a_wrong_password_is_reported_for_each_side_separately() {
    let app = TestApp::embedded().await;
    let smtp_wrong = test_connection(&app, alice("not-her-password", ALICE_PASSWORD)).await;
    assert_eq!(smtp_wrong["success"], false);
    let error = smtp_wrong["data"]["smtp"]["error"].as_str().unwrap();
    assert!(error.starts_with("Invalid login:") && error.contains("535"), "{error}");
    assert_eq!(smtp_wrong["data"]["imap"]["success"], true);

    let imap_wrong = test_connection(&app, alice(ALICE_PASSWORD, "not-her-password")).await;
    assert_eq!(imap_wrong["data"]["smtp"]["success"], true);
    assert_eq!(imap_wrong["data"]["imap"]["success"], false);
    let error = imap_wrong["data"]["imap"]["error"].as_str().unwrap();
    assert!(error.contains("login refused"), "{error}");

    let mut starttls_imap = alice(ALICE_PASSWORD, ALICE_PASSWORD);
    starttls_imap["imap_port"] = json!(143);
    starttls_imap["imap_tls"] = json!(false);
    starttls_imap["smtp_port"] = json!(465);
    starttls_imap["smtp_secure"] = json!(true);
    let other_ports = test_connection(&app, starttls_imap).await;
    assert_eq!(other_ports["success"], true, "465 TLS and 143 STARTTLS: {other_ports}");
}

#[tokio::test]
async fn an_account_is_added_listed_changed_and_removed_and_its_passwords_never_come_back() {
    let app = TestApp::embedded().await;
    let token = Some(app.admin_token.as_str());
    let created = app
        .post_json(
            "/api/v1/settings/email-accounts",
            token,
            alice(ALICE_PASSWORD, ALICE_PASSWORD),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let id = created["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["data"]["smtp_security"], "starttls");
    assert_eq!(created["data"]["poll_interval_secs"], 30);
    eventually(Duration::from_secs(5), "the account is listed", || async {
        let list: Value = app
            .get("/api/v1/settings/email-accounts", token)
            .await
            .json()
            .await
            .unwrap();
        list["count"] == 1 && list["data"][0]["id"] == id.as_str() && list["data"][0]["is_default"] == true
    })
    .await;

    let path = format!("/api/v1/settings/email-accounts/{id}");
    let patched: Value = app
        .http
        .patch(app.url(&path))
        .bearer_auth(&app.admin_token)
        .json(&json!({"poll_interval_ms": 60000, "imap_enabled": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            patched["data"]["poll_interval_secs"].as_u64(),
            patched["data"]["imap_enabled"].as_bool()
        ),
        (Some(60), Some(false))
    );
    assert_eq!(patched["data"]["smtp_host"], "localhost", "unnamed fields stay");

    let too_fast = app
        .http
        .patch(app.url(&path))
        .bearer_auth(&app.admin_token)
        .json(&json!({"poll_interval_secs": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_problem(too_fast, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await["field"],
        "poll_interval_secs"
    );

    let everything = [
        app.get(&path, token).await.text().await.unwrap(),
        app.get("/api/v1/settings/email-accounts", token)
            .await
            .text()
            .await
            .unwrap(),
        app.get("/api/v1/audit/events?aggregate_type=email_account", token)
            .await
            .text()
            .await
            .unwrap(),
    ];
    for text in everything {
        assert!(!text.contains(ALICE_PASSWORD), "a password came back: {text}");
    }

    let removed = app
        .http
        .delete(app.url(&path))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::OK);
    assert_problem(app.get(&path, token).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn bad_account_settings_name_the_field_and_save_nothing() {
    let app = TestApp::embedded().await;
    let token = Some(app.admin_token.as_str());
    let cases = [
        (
            json!({"email": "not-an-address", "smtp_password": "p", "imap_password": "p"}),
            "email",
        ),
        (json!({"email": "a@b.in", "imap_password": "p"}), "smtp_password"),
        (
            json!({"email": "a@b.in", "smtp_password": "p", "imap_password": "p", "smtp_host": "bad host"}),
            "smtp_host",
        ),
        (
            json!({"email": "a@b.in", "smtp_password": "p", "imap_password": "p", "folders": []}),
            "folders",
        ),
        (
            json!({"email": "a@b.in", "smtp_password": "p", "imap_password": "p", "smtp_port": 70000}),
            "smtp_port",
        ),
        (
            json!({"email": "a@b.in", "smtp_password": "p", "imap_password": "p", "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let refused = app.post_json("/api/v1/settings/email-accounts", token, body).await;
        let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(problem["field"], field, "{problem}");
    }
    let events: Value = app
        .get("/api/v1/audit/events?aggregate_type=email_account", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(data(&events).as_array().unwrap().len(), 0);
}
