//! Sends that must change nothing: attachments over the cap, bad
//! addresses, headers and attachments, a caller without the permission.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use domain::Role;

use super::mail::{self, STARTTLS, add_account, by_subject, send, settled, simple, token};
use crate::support::{self, TestApp, assert_problem};

#[tokio::test]
async fn attachments_over_the_cap_are_refused_before_anything_is_recorded_or_sent() {
    let (settings, dir) = support::embedded();
    let mut settings = mail::with_mail(settings);
    settings.email_max_attachment_bytes = 10_000;
    let app = TestApp::start(settings, Some(dir)).await;
    add_account(&app, STARTTLS).await;
    let subject = token();
    let mut body = simple(&subject);
    body["attachments"] = json!([
        {"filename": "a.bin", "content_base64": STANDARD.encode(vec![1u8; 6_000])},
        {"filename": "b.bin", "content_base64": STANDARD.encode(vec![2u8; 6_000])},
    ]);
    let problem = assert_problem(
        send(&app, &body).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "attachments_too_large",
    )
    .await;
    assert_eq!(problem["field"], "attachments");
    assert_eq!(mail::outbound_event_count(&app).await, 0);
    settled("bob", &by_subject(&subject), 0).await;
}

#[tokio::test]
async fn bad_addresses_headers_and_attachments_are_refused_with_their_field() {
    let app = mail::embedded_app().await;
    let no_account = assert_problem(
        send(&app, &simple("x")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_default_email_account",
    )
    .await;
    assert_eq!(no_account["field"], "account_id");
    add_account(&app, STARTTLS).await;
    let cases = [
        (json!({"to": "not-an-address"}), "to"),
        (json!({"cc": ["alice@switchboard.test", "alice@"]}), "cc"),
        (json!({"reply_to": "a b@acme.in"}), "reply_to"),
        (
            json!({"headers": {"X-Evil": "a\r\nBcc: victim@example.com"}}),
            "headers.X-Evil",
        ),
        (json!({"headers": {"From": "ceo@acme.in"}}), "headers.From"),
        (
            json!({"attachments": [{"filename": "a.bin", "content_base64": "%%%"}]}),
            "attachments[0].content_base64",
        ),
        (
            json!({"attachments": [{"filename": "../a", "content_base64": ""}]}),
            "attachments[0].filename",
        ),
        (json!({"html": null, "text": " "}), "text"),
        (json!({"priority": "urgent"}), "priority"),
        (json!({"in_reply_to": "no-at-sign"}), "in_reply_to"),
    ];
    for (change, field) in cases {
        let mut body = simple(&token());
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let problem = assert_problem(
            send(&app, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        )
        .await;
        assert_eq!(problem["field"], field, "{problem}");
    }
    assert_eq!(mail::outbound_event_count(&app).await, 0);
}

#[tokio::test]
async fn an_agent_sends_only_with_the_zoho_mail_grant_and_within_its_daily_limit() {
    let app = mail::embedded_app().await;
    add_account(&app, STARTTLS).await;
    let agent_email = app.add_user(app.organisation_id, Role::Agent).await;
    let agent = app.login(&agent_email).await;
    let by_agent = |body: Value| app.post_json("/api/v1/communications/emails", Some(&agent), body);
    assert_problem(by_agent(simple(&token())).await, StatusCode::FORBIDDEN, "forbidden").await;

    let agent_id = domain::user::user_id_for(app.organisation_id, &domain::EmailAddress::parse(&agent_email).unwrap());
    let granted = app
        .http
        .put(app.url(&format!(
            "/api/v1/settings/integrations/zoho_mail/permissions/{agent_id}"
        )))
        .bearer_auth(&app.admin_token)
        .json(&json!({"can_use": true, "can_configure": false, "daily_limit": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    let first = by_agent(simple(&token())).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_problem(by_agent(simple(&token())).await, StatusCode::FORBIDDEN, "forbidden").await;
}
