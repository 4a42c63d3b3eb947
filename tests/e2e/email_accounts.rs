//! E-mail accounts against the real Postfix and Dovecot of `tests/mail/`:
//! the connection test's two sides, and accounts added, listed, changed and
//! removed without a password ever coming back.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

use crate::support::child;
use crate::support::{DEFAULT_NATS, TestApp, assert_problem, data, distributed, eventually};

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

/// The SMTP passwords the account is saved with and then changed to:
/// never used against a server, with characters every encoding changes.
const SMTP_SECRET: &str = "SMTP PASS&RECOGNISABLE=\"7120\"/+";
const NEW_SMTP_SECRET: &str = "NEW SMTP\\PASS&RECOGNISABLE=8841";

/// Every form of every password the test hands the server; alice's real
/// one also as `AUTH PLAIN` and `AUTH LOGIN` put it on the wire.
fn password_forms() -> Vec<String> {
    let user = "alice@switchboard.test";
    let secrets = [
        SMTP_SECRET.to_string(),
        NEW_SMTP_SECRET.to_string(),
        ALICE_PASSWORD.to_string(),
        format!("\0{user}\0{ALICE_PASSWORD}"),
        format!("{user}\0{user}\0{ALICE_PASSWORD}"),
    ];
    secrets.iter().flat_map(|s| child::secret_forms(s)).collect()
}

#[tokio::test]
async fn an_account_is_added_listed_changed_and_removed_and_its_passwords_never_come_back() {
    let (settings, _dir) = distributed(DEFAULT_NATS).await;
    let database_url = secrecy::ExposeSecret::expose_secret(settings.database_url.as_ref().unwrap()).to_string();
    let (_, email) = child::seed(&settings).await;
    let port = child::free_port();
    let mut server = child::spawn_server_logging(&settings, port, true, "trace");
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let token = child::child_login(&http, &base, &email, &settings).await;
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let request = http.request(method, format!("{base}{path}")).bearer_auth(&token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        async move { request.send().await.unwrap() }
    };
    let mut bodies = Vec::new();

    let tested = call(
        Method::POST,
        "/api/v1/settings/email-accounts/test",
        Some(alice(ALICE_PASSWORD, ALICE_PASSWORD)),
    )
    .await;
    assert_eq!(tested.status(), StatusCode::OK);
    let tested = tested.text().await.unwrap();
    let answer: Value = serde_json::from_str(&tested).unwrap();
    assert_eq!(answer["success"], true, "both servers took alice's password: {answer}");
    bodies.push(tested);

    let created = call(
        Method::POST,
        "/api/v1/settings/email-accounts",
        Some(alice(SMTP_SECRET, ALICE_PASSWORD)),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = created.text().await.unwrap();
    let account: Value = serde_json::from_str(&created).unwrap();
    let account = data(&account);
    let id = account["id"].as_str().unwrap().to_string();
    assert_eq!(account["smtp_security"], "starttls");
    assert_eq!(account["poll_interval_secs"], 30);
    bodies.push(created);

    let pool = sqlx::PgPool::connect(&database_url).await.unwrap();
    eventually(
        Duration::from_secs(30),
        "the poller logged in to alice's mailbox",
        || async {
            let cursors: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_cursors WHERE account_id = $1")
                .bind(&id)
                .fetch_one(&pool)
                .await
                .unwrap();
            cursors > 0
        },
    )
    .await;
    eventually(Duration::from_secs(10), "the account is listed", || async {
        let list: Value = call(Method::GET, "/api/v1/settings/email-accounts", None)
            .await
            .json()
            .await
            .unwrap();
        let first = &data(&list)[0];
        list["count"] == 1 && first["id"] == id.as_str() && first["is_default"] == true
    })
    .await;

    let path = format!("/api/v1/settings/email-accounts/{id}");
    let change = json!({"poll_interval_ms": 60000, "imap_enabled": false, "smtp_password": NEW_SMTP_SECRET});
    let patched = call(Method::PATCH, &path, Some(change)).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let patched = patched.text().await.unwrap();
    let changed: Value = serde_json::from_str(&patched).unwrap();
    let changed = data(&changed);
    assert_eq!(
        (
            changed["poll_interval_secs"].as_u64(),
            changed["imap_enabled"].as_bool()
        ),
        (Some(60), Some(false))
    );
    assert_eq!(changed["smtp_host"], "localhost", "unnamed fields stay");
    bodies.push(patched);

    let too_fast = call(Method::PATCH, &path, Some(json!({"poll_interval_secs": 5}))).await;
    assert_eq!(
        assert_problem(too_fast, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await["field"],
        "poll_interval_secs"
    );
    for read in [
        path.as_str(),
        "/api/v1/settings/email-accounts",
        "/api/v1/audit/events?aggregate_type=email_account",
    ] {
        let response = call(Method::GET, read, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{read}");
        bodies.push(response.text().await.unwrap());
    }
    assert!(
        bodies.last().unwrap().contains("EmailAccountUpdated"),
        "{}",
        bodies.last().unwrap()
    );
    let forms = password_forms();
    for body in &bodies {
        child::assert_none_in("a response", body, &forms);
    }

    child::all_relayed(&database_url).await;
    let tables = child::every_table(&database_url).await;
    let rows = |name: &str| tables.iter().find(|(t, _)| t == name).map_or(0, |(_, rows)| rows.len());
    for table in ["events", "email_accounts_view", "integration_data_keys", "mail_cursors"] {
        assert!(rows(table) > 0, "{table} was filled");
    }
    for (table, rows) in &tables {
        child::assert_none_in(&format!("table {table}"), &rows.join("\n"), &forms);
    }
    let messages = child::stream_messages(DEFAULT_NATS, &settings.nats_stream).await;
    assert!(
        messages.iter().any(|m| m.contains("EmailAccountAdded")),
        "the account's events were relayed"
    );
    child::assert_none_in("a NATS message", &messages.join("\n"), &forms);

    let removed = call(Method::DELETE, &path, None).await;
    assert_eq!(removed.status(), StatusCode::OK);
    assert_problem(call(Method::GET, &path, None).await, StatusCode::NOT_FOUND, "not_found").await;

    child::stop(&mut server);
    let logs = child::child_log(&settings);
    assert!(
        logs.contains(&id),
        "the log covers the account's requests and its poller"
    );
    child::assert_none_in("the logs", &logs, &forms);
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
