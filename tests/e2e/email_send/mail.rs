//! What the e-mail sending tests share: accounts on the real Postfix,
//! mailboxes read back from the real Dovecot over IMAPS (the test
//! certificate trusted through `mail_ca_file`), and the intent's events.

use futures::TryStreamExt;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;
use zeroize::Zeroizing;

use application::EventMetadata;
use application::email_accounts::{AccountInput, MailAccess};
use domain::email_account::MailboxInput;
use infrastructure::Settings;
use infrastructure::mail::MailTls;
use infrastructure::mail::imap::ImapClient;

use crate::support::{self, TestApp};

/// The test CA the servers' certificate is signed by (`tests/mail/README.md`).
pub const CERT: &str = "/var/tmp/switchboard-mail/tls/ca.pem";
pub const SENDER: &str = "support@switchboard.test";
/// Long enough for Postfix to have handed any accepted message to Dovecot.
pub const SETTLE: Duration = Duration::from_secs(3);

/// Trusts the test servers' certificate.
pub fn with_mail(mut settings: Settings) -> Settings {
    settings.mail_ca_file = Some(PathBuf::from(CERT));
    settings.mail_timeout_secs = 10;
    settings
}

pub async fn embedded_app() -> TestApp {
    let (settings, dir) = support::embedded();
    TestApp::start(with_mail(settings), Some(dir)).await
}

pub async fn distributed_app() -> TestApp {
    let (settings, dir) = support::distributed(support::DEFAULT_NATS).await;
    TestApp::start(with_mail(settings), Some(dir)).await
}

/// How an account reaches Postfix.
pub struct Smtp {
    pub port: u16,
    pub security: &'static str,
    pub password: &'static str,
    pub is_default: bool,
}

pub const STARTTLS: Smtp = Smtp {
    port: 587,
    security: "starttls",
    password: "support-password",
    is_default: true,
};

/// `support@switchboard.test` as an account of the app's organisation.
pub async fn add_account(app: &TestApp, smtp: Smtp) -> Uuid {
    let input: MailboxInput = serde_json::from_value(json!({
        "name": "Acme Support", "email": SENDER,
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": smtp.security,
        "smtp_password": smtp.password,
        "imap_host": "127.0.0.1", "imap_port": 993, "imap_password": "support-password",
        "is_default": smtp.is_default,
        "signature_html": "<p><b>Acme Support</b> · Pune</p>",
        "signature_text": "Acme Support, Pune",
    }))
    .unwrap();
    let access = AccountInput::new(input)
        .unwrap()
        .into_access(app.organisation_id)
        .unwrap();
    let meta = EventMetadata::system("test", Some(app.organisation_id));
    app.state.email_accounts().add(access, None, &meta).await.unwrap()
}

fn imap_access(user: &str) -> MailAccess {
    let email = format!("{user}@switchboard.test");
    let input: MailboxInput =
        serde_json::from_value(json!({"email": email, "imap_host": "127.0.0.1", "imap_port": 993})).unwrap();
    MailAccess {
        account_id: Uuid::new_v4(),
        organisation_id: Uuid::new_v4(),
        settings: input.create().unwrap(),
        smtp_password: Zeroizing::new(String::new()),
        imap_password: Zeroizing::new(format!("{user}-password")),
    }
}

/// The raw messages in `user`'s INBOX matching an IMAP search.
pub async fn messages(user: &str, search: &str) -> Vec<Vec<u8>> {
    let tls = MailTls::new(Some(std::path::Path::new(CERT)), Duration::from_secs(10)).unwrap();
    let mut session = ImapClient { tls }.session(&imap_access(user)).await.unwrap();
    session.select("INBOX").await.unwrap();
    let uids = session.uid_search(search).await.unwrap();
    let mut raw = Vec::new();
    if !uids.is_empty() {
        let set: Vec<String> = uids.iter().map(u32::to_string).collect();
        let fetched: Vec<_> = session
            .uid_fetch(set.join(","), "BODY.PEEK[]")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        raw = fetched.iter().filter_map(|f| f.body().map(<[u8]>::to_vec)).collect();
    }
    session.logout().await.ok();
    raw
}

pub fn by_message_id(message_id: &str) -> String {
    format!("HEADER Message-ID \"{message_id}\"")
}

pub fn by_subject(token: &str) -> String {
    format!("SUBJECT \"{token}\"")
}

/// Waits until `user` has exactly `count` messages matching `search`.
pub async fn wait_for(user: &str, search: &str, count: usize) -> Vec<Vec<u8>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = messages(user, search).await;
        if found.len() >= count || tokio::time::Instant::now() > deadline {
            assert_eq!(found.len(), count, "{user}: messages matching {search}");
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// After Postfix has had time to deliver, `user` has exactly `count`.
pub async fn settled(user: &str, search: &str, count: usize) {
    tokio::time::sleep(SETTLE).await;
    assert_eq!(messages(user, search).await.len(), count, "{user}: {search}");
}

/// The event types of one intent, in order.
pub async fn events(app: &TestApp, intent_id: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT event_type FROM events WHERE aggregate_type = 'outbound_email' AND aggregate_id = $1 ORDER BY sequence",
    )
    .bind(intent_id)
    .fetch_all(&app.state.db.read)
    .await
    .unwrap()
}

pub async fn outbound_event_count(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM events WHERE aggregate_type = 'outbound_email'")
        .await
}

/// A unique token to find one test's mail by.
pub fn token() -> String {
    format!("sb{}", &Uuid::new_v4().simple().to_string()[..12])
}

/// A minimal valid request to bob.
pub fn simple(subject: &str) -> Value {
    json!({
        "to": "bob@switchboard.test",
        "subject": subject,
        "html": "<p>Hello Bob</p>",
        "text": "Hello Bob",
    })
}

pub async fn send(app: &TestApp, body: &Value) -> reqwest::Response {
    app.post_json("/api/v1/communications/emails", Some(&app.admin_token), body.clone())
        .await
}

pub async fn sent(app: &TestApp, body: &Value) -> Value {
    let response = send(app, body).await;
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["data"].clone()
}
