//! Mail arriving: with IDLE, by the poll interval, over SMTP; threading by
//! reply and by subject; customers; "poll now".

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use application::AggregateStore;
use domain::customer::customer_id;
use domain::{EmailAddress, Role};

use super::*;
use crate::support::assert_problem;

#[tokio::test]
async fn mail_saved_into_a_watched_folder_shows_as_a_thread_within_two_seconds_with_idle() {
    let app = mail_app().await;
    let (folder, _) = account_on_new_folder(&app, "load1@switchboard.test").await;
    folder.save(&message(
        Some(&new_id()),
        "Asha <asha@example.in>",
        "Warm-up",
        "",
        "first",
    ));
    thread_titled(&app, "Warm-up", Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let delivered = Instant::now();
    folder.save(&message(
        Some(&new_id()),
        "Asha Rao <Asha@Example.IN>",
        "Invoice 42",
        "",
        "Please pay.",
    ));
    let thread = thread_titled(&app, "Invoice 42", Duration::from_secs(2)).await;
    assert!(
        delivered.elapsed() < Duration::from_secs(2),
        "took {:?}",
        delivered.elapsed()
    );

    assert_eq!(thread["message_count"], 1);
    assert_eq!(thread["customer_email"], "asha@example.in");
    let first = &thread["messages"][0];
    assert_eq!(first["direction"], "inbound");
    assert_eq!(first["from"], json!({"name": "Asha Rao", "address": "asha@example.in"}));
    assert_eq!(first["body_text"].as_str().map(str::trim), Some("Please pay."));
    let asha = EmailAddress::parse("asha@example.in").unwrap();
    let customer = customer_id(app.organisation_id, &asha);
    assert_eq!(thread["customer_id"], customer.to_string());
    let stored = app.state.receiving.customers.load(&customer.to_string()).await.unwrap();
    assert_eq!(
        stored.unwrap().aggregate.name.as_deref(),
        Some("Asha"),
        "created once, from the first e-mail"
    );
}

#[tokio::test]
async fn mail_in_a_folder_without_idle_shows_within_one_poll_interval() {
    let app = mail_app().await;
    let (idled, other) = (
        Folder::new("load2@switchboard.test"),
        Folder::new("load2@switchboard.test"),
    );
    let folders = [idled.name.as_str(), other.name.as_str()];
    add_account(
        &app.state,
        app.organisation_id,
        "load2@switchboard.test",
        LOAD_PASSWORD,
        &folders,
    )
    .await;
    idled.save(&message(Some(&new_id()), "a@example.in", "Started", "", "x"));
    thread_titled(&app, "Started", Duration::from_secs(15)).await;

    // The next poll of every folder comes within the 10 s interval; allow
    // ten seconds for the poll, recording and projecting while the whole
    // suite runs on two cores (five were once not enough).
    let delivered = Instant::now();
    other.save(&message(Some(&new_id()), "b@example.in", "Second folder", "", "y"));
    thread_titled(&app, "Second folder", Duration::from_secs(20)).await;
    assert!(
        delivered.elapsed() <= Duration::from_secs(20),
        "took {:?}",
        delivered.elapsed()
    );
}

/// Sends a message to `to` through Postfix on port 25.
async fn smtp_deliver(to: &str, raw: &[u8]) {
    let stream = TcpStream::connect("127.0.0.1:25").await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut expect = async |code: &str| loop {
        let line = lines.next_line().await.unwrap().unwrap();
        assert!(line.starts_with(code), "SMTP said {line}, expected {code}");
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    };
    expect("220").await;
    for (command, code) in [
        ("EHLO tests.example".to_string(), "250"),
        ("MAIL FROM:<asha@example.in>".into(), "250"),
        (format!("RCPT TO:<{to}>"), "250"),
        ("DATA".into(), "354"),
    ] {
        write.write_all(format!("{command}\r\n").as_bytes()).await.unwrap();
        expect(code).await;
    }
    write.write_all(raw).await.unwrap();
    write.write_all(b"\r\n.\r\n").await.unwrap();
    expect("250").await;
    write.write_all(b"QUIT\r\n").await.unwrap();
}

#[tokio::test]
async fn mail_delivered_over_smtp_appears_as_a_thread() {
    const USER: &str = "load7@switchboard.test";
    let app = mail_app().await;
    add_account(&app.state, app.organisation_id, USER, LOAD_PASSWORD, &["INBOX"]).await;
    let subject = format!("Over SMTP {}", new_id());
    let raw = message(
        None,
        "Asha <asha@example.in>",
        &subject,
        "X-Switchboard-Test: email_receive\r\n",
        "hi",
    );
    smtp_deliver(USER, &raw).await;
    let thread = thread_titled(&app, &subject, Duration::from_secs(20)).await;
    let message_id = thread["messages"][0]["message_id"].as_str().unwrap_or_default();
    assert!(!message_id.is_empty(), "Postfix gave the message an id");
    let _ = std::process::Command::new("doveadm")
        .args(["-c", DOVECOT_CONF, "expunge", "-u", USER, "mailbox", "INBOX"])
        .args(["header", "X-Switchboard-Test", "email_receive"])
        .output();
}

#[tokio::test]
async fn a_reply_joins_its_thread_and_an_unrelated_subject_from_the_same_customer_starts_another() {
    let app = mail_app().await;
    let (folder, _) = account_on_new_folder(&app, "load3@switchboard.test").await;
    let original = new_id();
    folder.save(&message(Some(&original), "asha@example.in", "Order 7", "", "one"));
    let first = thread_titled(&app, "Order 7", Duration::from_secs(15)).await;

    let in_reply_to = format!("In-Reply-To: <{original}>\r\n");
    folder.save(&message(
        Some(&new_id()),
        "ravi@example.in",
        "Quite different",
        &in_reply_to,
        "two",
    ));
    folder.save(&message(
        Some(&new_id()),
        "asha@example.in",
        "Fwd: [Acme] ORDER  7",
        "",
        "three",
    ));
    folder.save(&message(
        Some(&new_id()),
        "asha@example.in",
        "Delivery date",
        "",
        "four",
    ));
    thread_titled(&app, "Delivery date", Duration::from_secs(15)).await;

    let joined = thread(&app, first["id"].as_str().unwrap()).await;
    assert_eq!(joined["message_count"], 3);
    let bodies: Vec<&str> = joined["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body_text"].as_str().unwrap().trim())
        .collect();
    assert_eq!(bodies, ["one", "two", "three"]);
    assert_eq!(threads(&app).await.len(), 2);
}

async fn poll_now(app: &TestApp, account_id: &str, token: &str) -> reqwest::Response {
    let path = format!("/api/v1/settings/email-accounts/{account_id}/poll-now");
    app.post_json(&path, Some(token), json!({})).await
}

#[tokio::test]
async fn poll_now_answers_the_seeds_shape_and_fetches_only_new_mail() {
    let app = app_without_pollers().await;
    let (folder, account) = account_on_new_folder(&app, "load4@switchboard.test").await;
    let original = new_id();
    folder.save(&message(Some(&original), "asha@example.in", "Quote", "", "a"));
    folder.save(&message(Some(&new_id()), "asha@example.in", "Re: Quote", "", "b"));
    folder.save(&message(Some(&new_id()), "asha@example.in", "Samples", "", "c"));

    let response = poll_now(&app, &account.to_string(), &app.admin_token).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    let data = &body["data"];
    assert_eq!(
        (data["new_messages"].as_u64(), data["new_threads"].as_u64()),
        (Some(3), Some(2))
    );
    assert!(data["poll_duration_ms"].is_u64());
    assert!(chrono::DateTime::parse_from_rfc3339(data["last_polled_at"].as_str().unwrap()).is_ok());

    let again: Value = poll_now(&app, &account.to_string(), &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["data"]["new_messages"], 0);
    folder.save(&message(Some(&new_id()), "asha@example.in", "Samples", "", "d"));
    let more: Value = poll_now(&app, &account.to_string(), &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            more["data"]["new_messages"].as_u64(),
            more["data"]["new_threads"].as_u64()
        ),
        (Some(1), Some(0))
    );
    let lease_rows = app.count("SELECT COUNT(*) FROM mail_leases").await;
    assert_eq!(lease_rows, 0, "a poll-now lease is given back");
}

#[tokio::test]
async fn poll_now_needs_use_of_the_mail_integration_and_an_account_of_ones_own() {
    let app = mail_app().await;
    let (_folder, account) = account_on_new_folder(&app, "load4@switchboard.test").await;
    let agent = app.add_user(app.organisation_id, Role::Agent).await;
    let agent_token = app.login(&agent).await;
    assert_problem(
        poll_now(&app, &account.to_string(), &agent_token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Reading threads follows the role (an agent's own and unassigned
    // threads), not the permission to use the mail integration.
    let threads = app.get("/api/v1/communications/threads", Some(&agent_token)).await;
    assert_eq!(threads.status(), StatusCode::OK);

    let user_id = domain::user::user_id_for(app.organisation_id, &EmailAddress::parse(&agent).unwrap());
    let grant = json!({"can_use": true, "can_configure": false, "daily_limit": null});
    let path = format!("/api/v1/settings/integrations/zoho_mail/permissions/{user_id}");
    let granted = app
        .http
        .put(app.url(&path))
        .bearer_auth(&app.admin_token)
        .json(&grant)
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    let polled = poll_now(&app, &account.to_string(), &agent_token).await;
    assert_eq!(polled.status(), StatusCode::OK, "through the running poller");

    let other = create_organisation(&app.state, "Other Co").await;
    let foreign = add_account(&app.state, other, "load4@switchboard.test", LOAD_PASSWORD, &["INBOX"]).await;
    let response = poll_now(&app, &foreign.to_string(), &app.admin_token).await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let missing = app
        .get(
            &format!("/api/v1/communications/threads/{account}"),
            Some(&app.admin_token),
        )
        .await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn poll_now_while_the_background_poll_runs_waits_for_that_poll_and_reports_what_it_recorded() {
    const USER: &str = "load4@switchboard.test";
    const MESSAGES: i64 = 300;
    let app = mail_app().await;
    let folder = Folder::new(USER);
    std::thread::scope(|scope| {
        for part in 0..4 {
            let folder = &folder;
            scope.spawn(move || {
                for n in (part..MESSAGES).step_by(4) {
                    folder.save(&message(
                        Some(&new_id()),
                        "asha@example.in",
                        &format!("Lot {n}"),
                        "",
                        "x",
                    ));
                }
            });
        }
    });
    let account = add_account(&app.state, app.organisation_id, USER, LOAD_PASSWORD, &[&folder.name]).await;
    // The poller starts within a second and reads the folder in batches of
    // 100: once the first batch is recorded, its poll is still running.
    eventually(Duration::from_secs(60), "the background poll's first batch", || async {
        inbound_events(&app.state, account, "EmailReceived").await > 0
    })
    .await;
    let recorded_before = inbound_events(&app.state, account, "EmailReceived").await;

    let response = poll_now(&app, &account.to_string(), &app.admin_token).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        recorded_before < MESSAGES,
        "the poll-now came while the background poll ran ({recorded_before} recorded)"
    );
    let report = crate::support::data(&body);
    assert_eq!(report["new_messages"].as_i64(), Some(MESSAGES), "{body}");
    assert_eq!(report["new_threads"].as_i64(), Some(MESSAGES));
    assert_eq!(inbound_events(&app.state, account, "EmailReceived").await, MESSAGES);
}
