//! Sending e-mail through the API to the real Postfix and reading it back
//! from the real Dovecot: parts, headers, signature and attachments; both
//! TLS modes; a refused login; one delivery per intent however often it is
//! sent; an intent in doubt is never re-sent; bad input changes nothing.

#[path = "email_send/bench.rs"]
mod bench;
#[path = "email_send/mail.rs"]
mod mail;
#[path = "email_send/refusals.rs"]
mod refusals;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use mail_parser::{MessageParser, MimeHeaders};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use application::AggregateStore;
use application::outbound_email::{Permission, SendRequest};
use domain::Role;
use domain::outbound_email::{Draft, OutboundEmailCommand, SmtpStage};

use crate::support::assert_problem;
use mail::{
    STARTTLS, Smtp, add_account, by_message_id, by_subject, events, send, sent, settled, simple, token, wait_for,
};

fn header<'a>(message: &'a mail_parser::Message<'a>, name: &str) -> String {
    message.header_raw(name).unwrap_or_default().trim().to_string()
}

#[tokio::test]
async fn an_email_sent_through_the_api_arrives_with_its_parts_headers_signature_and_attachments() {
    let app = mail::distributed_app().await;
    add_account(&app, STARTTLS).await;
    let subject = token();
    let pdf: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let body = json!({
        "to": ["bob@switchboard.test"], "cc": "alice@switchboard.test", "bcc": ["carol@switchboard.test"],
        "reply_to": "billing@acme.in", "subject": format!("Invoice {subject} — ₹4,500"),
        "html": "<html><body><p>Your <b>invoice</b> is attached.</p></body></html>",
        "text": "Your invoice is attached.",
        "attachments": [
            {"filename": "invoice.pdf", "content_type": "application/pdf", "content_base64": STANDARD.encode(&pdf)},
            {"filename": "note.txt", "content_type": "text/plain", "content_base64": STANDARD.encode("line one\r\nline two\n")},
        ],
        "headers": {"X-Campaign": "diwali-2026"},
        "priority": "high",
        "in_reply_to": "<order-17@customer.example>",
        "references": "<thread-1@customer.example>",
    });
    let data = sent(&app, &body).await;
    assert_eq!(data["status"], "sent", "{data}");
    assert_eq!(data["to"], "bob@switchboard.test");
    let message_id = data["smtp_message_id"].as_str().unwrap().to_string();
    assert!(message_id.ends_with("@switchboard.test>"));

    let raw = wait_for("bob", &by_message_id(&message_id), 1).await.remove(0);
    let message = MessageParser::default().parse(&raw).unwrap();
    let from = message.from().unwrap().first().unwrap();
    assert_eq!(
        (from.name(), from.address()),
        (Some("Acme Support"), Some(mail::SENDER))
    );
    assert_eq!(header(&message, "To"), "bob@switchboard.test");
    assert_eq!(header(&message, "Cc"), "alice@switchboard.test");
    assert_eq!(header(&message, "Reply-To"), "billing@acme.in");
    assert_eq!(message.subject(), Some(format!("Invoice {subject} — ₹4,500").as_str()));
    assert_eq!(header(&message, "Message-ID"), message_id);
    assert_eq!(header(&message, "In-Reply-To"), "<order-17@customer.example>");
    assert_eq!(
        header(&message, "References").split_whitespace().collect::<Vec<_>>(),
        ["<thread-1@customer.example>", "<order-17@customer.example>"]
    );
    assert_eq!(header(&message, "X-Priority"), "1 (Highest)");
    assert_eq!(header(&message, "Importance"), "High");
    assert_eq!(header(&message, "X-Campaign"), "diwali-2026");
    assert!(message.header_raw("Bcc").is_none(), "the Bcc header must not be sent");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("multipart/alternative") && text.contains("multipart/mixed"));
    let plain = message.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(
        plain.starts_with("Your invoice is attached.\n\n-- \nAcme Support, Pune"),
        "{plain}"
    );
    let html = message.body_html(0).unwrap();
    assert!(
        html.contains("<b>invoice</b>")
            && html.contains("<div class=\"signature\"><p><b>Acme Support</b> · Pune</p></div>"),
        "{html}"
    );
    let files: Vec<(String, Vec<u8>)> = message
        .attachments()
        .map(|a| {
            (
                a.attachment_name().unwrap_or_default().to_string(),
                a.contents().to_vec(),
            )
        })
        .collect();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0], ("invoice.pdf".to_string(), pdf));
    assert_eq!(files[1], ("note.txt".to_string(), b"line one\r\nline two\n".to_vec()));

    for other in ["alice", "carol"] {
        let copy = wait_for(other, &by_message_id(&message_id), 1).await.remove(0);
        let parsed = MessageParser::default().parse(&copy).unwrap();
        assert!(parsed.header_raw("Bcc").is_none(), "{other} sees no Bcc header");
    }
    let id = data["message_id"].as_str().unwrap();
    assert_eq!(
        events(&app, id).await,
        ["EmailSendRequested", "EmailSendStarted", "EmailAccepted"]
    );
    let got: Value = app
        .get(&format!("/api/v1/communications/emails/{id}"), Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["data"]["status"], "sent");
    assert!(got["data"]["smtp_response"].as_str().unwrap().starts_with("250 "));
    assert_eq!(got["data"]["attachments"][0]["size"], 150_000);
    let stored: Vec<String> = sqlx::query_scalar("SELECT payload::text || metadata::text FROM events")
        .fetch_all(&app.state.db.read)
        .await
        .unwrap();
    assert!(stored.iter().all(|e| !e.contains("support-password")));
}

#[tokio::test]
async fn sending_works_over_starttls_on_587_and_implicit_tls_on_465_and_never_falls_back_to_plain() {
    let app = mail::embedded_app().await;
    let accounts = [
        add_account(&app, STARTTLS).await,
        add_account(
            &app,
            Smtp {
                port: 465,
                security: "tls",
                ..STARTTLS
            },
        )
        .await,
    ];
    for account_id in accounts {
        let subject = token();
        let mut body = simple(&subject);
        body["account_id"] = json!(account_id);
        let data = sent(&app, &body).await;
        assert_eq!(data["status"], "sent", "{data}");
        wait_for("bob", &by_subject(&subject), 1).await;
    }
    let plain = add_account(
        &app,
        Smtp {
            security: "none",
            ..STARTTLS
        },
    )
    .await;
    let mut body = simple(&token());
    body["account_id"] = json!(plain);
    assert_problem(send(&app, &body).await, StatusCode::BAD_GATEWAY, "smtp_error").await;
}

/// The password of the accounts pointed at the hostile peer.
const PEER_PASSWORD: &str = "PEER-PASS-RECOGNISABLE-4417";

/// What an SMTP server that offers no STARTTLS heard: every line (lossy
/// UTF-8), from every connection.
type Heard = Arc<Mutex<Vec<String>>>;

/// A plain-text SMTP server on a free port that offers AUTH but never
/// STARTTLS, accepts whatever it is sent and writes down every line.
async fn hostile_smtp_peer() -> (u16, Heard) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let heard = Heard::default();
    let log = heard.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(converse(socket, log.clone()));
        }
    });
    (port, heard)
}

async fn converse(socket: tokio::net::TcpStream, heard: Heard) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let _ = write.write_all(b"220 hostile.test ESMTP\r\n").await;
    let mut in_data = false;
    loop {
        let mut line = Vec::new();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        heard.lock().unwrap().push(text.clone());
        let verb = text.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        let answer: &[u8] = match (in_data, verb.as_str()) {
            (true, ".") => {
                in_data = false;
                b"250 2.0.0 queued\r\n"
            }
            (true, _) => continue,
            (false, "EHLO") => b"250-hostile.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
            (false, "STARTTLS") => b"454 4.7.0 TLS not available\r\n",
            (false, "AUTH") => b"235 2.7.0 Authentication successful\r\n",
            (false, "DATA") => {
                in_data = true;
                b"354 go ahead\r\n"
            }
            (false, "QUIT") => b"221 bye\r\n",
            _ => b"250 ok\r\n",
        };
        if write.write_all(answer).await.is_err() || verb == "QUIT" {
            return;
        }
    }
}

/// Every form the password would take on the wire: as typed, in `AUTH
/// LOGIN` (base64 of itself) and in `AUTH PLAIN` (base64 of
/// `authzid NUL user NUL password`, with and without an authzid).
fn password_forms(user: &str, password: &str) -> Vec<String> {
    vec![
        password.to_string(),
        STANDARD.encode(password),
        STANDARD.encode(format!("\0{user}\0{password}")),
        STANDARD.encode(format!("{user}\0{user}\0{password}")),
    ]
}

#[tokio::test]
async fn against_a_server_that_offers_no_starttls_the_client_refuses_before_auth_and_the_password_never_crosses() {
    let app = mail::embedded_app().await;
    let (port, heard) = hostile_smtp_peer().await;
    for security in ["starttls", "tls"] {
        let account_id = add_account(
            &app,
            Smtp {
                port,
                security,
                password: PEER_PASSWORD,
                is_default: false,
            },
        )
        .await;
        let subject = token();
        let mut body = simple(&subject);
        body["account_id"] = json!(account_id);
        let intent = uuid::Uuid::new_v4();
        body["intent_id"] = json!(intent);
        let refused = send(&app, &body).await;
        assert_problem(refused, StatusCode::BAD_GATEWAY, "smtp_error").await;
        assert_eq!(
            events(&app, &intent.to_string()).await,
            ["EmailSendRequested", "EmailSendFailed"],
            "{security}: refused before the message was started"
        );
    }
    let check = json!({
        "email": mail::SENDER, "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_secure": false,
        "smtp_password": PEER_PASSWORD, "imap_host": "127.0.0.1", "imap_port": 993, "imap_tls": true,
        "imap_password": "support-password",
    });
    let tested = app
        .post_json("/api/v1/settings/email-accounts/test", Some(&app.admin_token), check)
        .await;
    assert_eq!(tested.status(), StatusCode::OK);
    let tested: Value = tested.json().await.unwrap();
    assert_eq!(tested["data"]["smtp"]["success"], false, "{tested}");

    let heard = heard.lock().unwrap().clone();
    let greetings = heard
        .iter()
        .filter(|l| l.to_ascii_uppercase().starts_with("EHLO"))
        .count();
    assert!(
        greetings >= 2,
        "the STARTTLS send and the check reached the peer: {heard:?}"
    );
    for line in &heard {
        let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        assert!(
            !["AUTH", "MAIL", "RCPT", "DATA"].contains(&verb.as_str()),
            "the client went on in plain text: {heard:?}"
        );
    }
    let wire = heard.join("\n");
    for form in password_forms(mail::SENDER, PEER_PASSWORD) {
        assert!(!wire.contains(&form), "the password crossed the wire as {form}");
    }
}

#[tokio::test]
async fn a_wrong_password_fails_with_the_servers_535_recorded_and_nothing_delivered() {
    let app = mail::embedded_app().await;
    add_account(
        &app,
        Smtp {
            password: "wrong-password",
            ..STARTTLS
        },
    )
    .await;
    let subject = token();
    let mut body = simple(&subject);
    let intent = uuid::Uuid::new_v4();
    body["intent_id"] = json!(intent);
    let problem = assert_problem(send(&app, &body).await, StatusCode::BAD_GATEWAY, "smtp_error").await;
    assert!(problem["detail"].as_str().unwrap().starts_with("535 "), "{problem}");

    assert_eq!(
        events(&app, &intent.to_string()).await,
        ["EmailSendRequested", "EmailSendFailed"]
    );
    let email = app.state.outbound_email(intent).await.unwrap().unwrap();
    let failure = email.last_failure.unwrap();
    assert_eq!(
        (failure.stage, failure.code, failure.permanent),
        (SmtpStage::Login, Some(535), true)
    );
    assert!(failure.message.contains("authentication failed"), "{}", failure.message);
    let got: Value = app
        .get(
            &format!("/api/v1/communications/emails/{intent}"),
            Some(&app.admin_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (got["data"]["status"].as_str(), got["data"]["error"]["code"].as_u64()),
        (Some("failed"), Some(535))
    );
    settled("bob", &by_subject(&subject), 0).await;
}

#[tokio::test]
async fn the_same_intent_or_idempotency_key_sent_twice_or_at_once_is_delivered_once() {
    let app = mail::embedded_app().await;
    add_account(&app, STARTTLS).await;
    let subject = token();
    let mut body = simple(&subject);
    body["intent_id"] = json!(uuid::Uuid::new_v4());
    let (first, second) = tokio::join!(send(&app, &body), send(&app, &body));
    let answers = [
        first.json::<Value>().await.unwrap(),
        second.json::<Value>().await.unwrap(),
    ];
    let statuses: Vec<&str> = answers.iter().map(|a| a["data"]["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"sent"), "{answers:?}");
    let again = sent(&app, &body).await;
    assert_eq!(again["status"], "sent");
    assert_eq!(again["smtp_message_id"], answers[0]["data"]["smtp_message_id"]);
    let id = again["message_id"].as_str().unwrap();
    assert_eq!(
        events(&app, id).await,
        ["EmailSendRequested", "EmailSendStarted", "EmailAccepted"]
    );

    let keyed_subject = token();
    // Over the usual body limit: the key's replay store must take the send route's.
    let mut keyed_body = simple(&keyed_subject);
    keyed_body["attachments"] = json!([{"filename": "a.bin", "content_base64": STANDARD.encode(vec![5u8; 40_000])}]);
    let keyed = || {
        app.http
            .post(app.url("/api/v1/communications/emails"))
            .bearer_auth(&app.admin_token)
            .header("Idempotency-Key", format!("k-{keyed_subject}"))
            .json(&keyed_body)
            .send()
    };
    let one: Value = keyed().await.unwrap().json().await.unwrap();
    let two: Value = keyed().await.unwrap().json().await.unwrap();
    assert_eq!((one["data"]["status"].as_str(), &one), (Some("sent"), &two));

    let mut changed = body.clone();
    changed["text"] = json!("Something else");
    let reused = assert_problem(
        send(&app, &changed).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "intent_reused",
    )
    .await;
    assert_eq!(reused["field"], "intent_id");
    settled("bob", &by_subject(&subject), 1).await;
    settled("bob", &by_subject(&keyed_subject), 1).await;
}

/// The crash is simulated by running the use case up to a recorded intent
/// and then recording `EmailSendStarted` as the attempt does just before
/// `DATA`, and stopping there: no SMTP conversation follows, exactly the
/// state a process killed after the start was committed leaves.
#[tokio::test]
async fn an_intent_started_but_never_finished_is_in_doubt_and_never_sent_again() {
    let app = mail::embedded_app().await;
    let account_id = add_account(&app, STARTTLS).await;
    let subject = token();
    let intent = uuid::Uuid::new_v4();
    let request = SendRequest {
        intent_id: intent,
        organisation_id: app.organisation_id,
        account_id: Some(account_id),
        draft: Draft {
            to: vec!["bob@switchboard.test".into()],
            subject: subject.clone(),
            html: Some("<p>Hello Bob</p>".into()),
            text: Some("Hello Bob".into()),
            ..Draft::default()
        },
        attachments: Vec::new(),
        permission: Permission {
            role: Role::Admin,
            grant: None,
        },
    };
    let meta = application::EventMetadata::system("test", Some(app.organisation_id));
    app.state.outbound_emails().prepare(request, &meta).await.unwrap();
    let start = OutboundEmailCommand::Start { at: Utc::now() };
    app.state
        .outbound_emails
        .execute(&intent.to_string(), start, &meta)
        .await
        .unwrap();

    let mut body = simple(&subject);
    body["account_id"] = json!(account_id);
    body["intent_id"] = json!(intent);
    for _ in 0..2 {
        let data = sent(&app, &body).await;
        assert_eq!(data["status"], "in_doubt", "{data}");
    }
    let got: Value = app
        .get(
            &format!("/api/v1/communications/emails/{intent}"),
            Some(&app.admin_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["data"]["status"], "in_doubt");
    assert_eq!(
        events(&app, &intent.to_string()).await,
        ["EmailSendRequested", "EmailSendStarted"]
    );
    settled("bob", &by_subject(&subject), 0).await;
}

#[tokio::test]
async fn the_send_routes_and_their_body_are_in_the_openapi_document() {
    let app = mail::embedded_app().await;
    let docs: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(docs["paths"]["/api/v1/communications/emails"]["post"].is_object());
    assert!(docs["paths"]["/api/v1/communications/emails/{id}"]["get"].is_object());
    let body = &docs["components"]["schemas"]["SendEmailBody"]["properties"];
    assert!(
        body["intent_id"].is_object() && body["attachments"].is_object(),
        "{body}"
    );
}
