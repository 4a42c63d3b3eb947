//! Receiving e-mail against the real Dovecot (and Postfix for SMTP
//! delivery): pollers, threads, customers, leases, cursors and hostile
//! mail. Each test reads a folder of its own in a test user's mailbox, so
//! tests run in parallel without seeing each other's mail.

mod bench;
mod delivery;
mod fidelity;
mod hostile;
mod leases;
mod recovery;
mod replies;
mod timeline;

use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

use api::runtime::{self, Roles};
use api::state::AppState;
use application::EventMetadata;
use application::email_accounts::AccountInput;
use domain::Role;
use infrastructure::Settings;

use crate::support::{self, TestApp, create_organisation, eventually};

const DOVECOT_CONF: &str = "/var/tmp/switchboard-mail/dovecot.conf";
const CA_FILE: &str = "/var/tmp/switchboard-mail/tls/ca.pem";
/// The attachment limit these tests run with.
const ATTACHMENT_LIMIT: u64 = 64 * 1024;
const LOAD_PASSWORD: &str = "load-password";

fn doveadm(args: &[&str], input: Option<&[u8]>) -> String {
    let mut child = Command::new("doveadm")
        .args(["-c", DOVECOT_CONF])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("doveadm runs (the test mail servers are up: tests/mail/up.sh)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.unwrap_or_default()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "doveadm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A folder of its own in a test user's mailbox; deleted when dropped.
pub struct Folder {
    pub user: String,
    pub name: String,
}

impl Folder {
    pub fn new(user: &str) -> Self {
        let name = format!("sbtest-{}", &Uuid::new_v4().simple().to_string()[..12]);
        doveadm(&["mailbox", "create", "-u", user, &name], None);
        Self {
            user: user.to_string(),
            name,
        }
    }

    /// Saves a raw message into the folder, exactly as given.
    pub fn save(&self, raw: &[u8]) {
        doveadm(&["save", "-u", &self.user, "-m", &self.name], Some(raw));
    }

    /// Deletes and creates the folder again: it gets a new UIDVALIDITY.
    pub fn recreate(&self) {
        doveadm(&["mailbox", "delete", "-u", &self.user, &self.name], None);
        doveadm(&["mailbox", "create", "-u", &self.user, &self.name], None);
    }

    pub fn uidvalidity(&self) -> u32 {
        let out = doveadm(
            &[
                "-f",
                "flow",
                "mailbox",
                "status",
                "-u",
                &self.user,
                "uidvalidity",
                &self.name,
            ],
            None,
        );
        out.trim().rsplit('=').next().unwrap().parse().unwrap()
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = Command::new("doveadm")
            .args(["-c", DOVECOT_CONF, "mailbox", "delete", "-u", &self.user, &self.name])
            .output();
    }
}

/// A raw message.
pub fn message(message_id: Option<&str>, from: &str, subject: &str, headers: &str, body: &str) -> Vec<u8> {
    let id = message_id
        .map(|id| format!("Message-ID: <{id}>\r\n"))
        .unwrap_or_default();
    format!(
        "From: {from}\r\nTo: support@switchboard.test\r\nSubject: {subject}\r\n{id}{headers}\
         Date: Tue, 3 Mar 2026 10:00:00 +0530\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A unique Message-ID.
pub fn new_id() -> String {
    format!("{}@test.example", Uuid::new_v4().simple())
}

/// Settings with the test mail server trusted, short leases and a small
/// attachment limit.
pub fn mail_settings(mut settings: Settings) -> Settings {
    settings.mail_ca_file = Some(CA_FILE.into());
    settings.mail_lease_secs = 3;
    settings.email_max_attachment_bytes = ATTACHMENT_LIMIT;
    settings
}

/// The embedded default with mail settings and every part running.
pub async fn mail_app() -> TestApp {
    let (settings, dir) = support::embedded();
    TestApp::start(mail_settings(settings), Some(dir)).await
}

/// The embedded default running the API and projectors but no pollers.
pub async fn app_without_pollers() -> TestApp {
    let (settings, dir) = support::embedded();
    let settings = mail_settings(settings);
    let state = AppState::build(settings.clone(), api::telemetry::metrics())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let roles = Roles {
        workers: false,
        ..Roles::ALL
    };
    let running = runtime::start(state.clone(), roles, Some(listener)).await.unwrap();
    let organisation_id = create_organisation(&state, "Acme Foods").await;
    let mut app = TestApp {
        base: format!("http://{}", running.addr.unwrap()),
        http: reqwest::Client::new(),
        state,
        _running: running,
        organisation_id,
        admin_token: String::new(),
        admin_email: String::new(),
        settings,
        _dir: Some(dir),
    };
    app.admin_email = app.add_user(organisation_id, Role::Admin).await;
    app.admin_token = app.login(&app.admin_email).await;
    app
}

/// An account reading `folders` of `user`'s mailbox over IMAPS, added
/// through the use case; its id.
pub async fn add_account(
    state: &AppState,
    organisation_id: Uuid,
    user: &str,
    password: &str,
    folders: &[&str],
) -> Uuid {
    let input = serde_json::from_value(json!({
        "name": format!("Inbox of {user}"), "email": user,
        "smtp_host": "127.0.0.1", "smtp_port": 465, "smtp_password": password,
        "imap_host": "127.0.0.1", "imap_port": 993, "imap_password": password,
        "folders": folders, "poll_interval_secs": 10,
    }))
    .unwrap();
    let access = AccountInput::new(input).unwrap().into_access(organisation_id).unwrap();
    let meta = EventMetadata::system("test", Some(organisation_id));
    state.email_accounts().add(access, None, &meta).await.unwrap()
}

/// An account on a new folder of `user`; the folder and the account id.
pub async fn account_on_new_folder(app: &TestApp, user: &str) -> (Folder, Uuid) {
    let folder = Folder::new(user);
    let id = add_account(&app.state, app.organisation_id, user, LOAD_PASSWORD, &[&folder.name]).await;
    (folder, id)
}

/// The organisation's threads through the API.
pub async fn threads(app: &TestApp) -> Vec<Value> {
    let response = app
        .get("/api/v1/communications/threads?limit=500", Some(&app.admin_token))
        .await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

/// The thread whose subject is `subject`, with its messages, once it shows.
pub async fn thread_titled(app: &TestApp, subject: &str, within: Duration) -> Value {
    let find = || async { threads(app).await.into_iter().find(|t| t["subject"] == subject) };
    eventually(within, &format!("a thread titled {subject}"), || async {
        find().await.is_some()
    })
    .await;
    let id = find().await.unwrap()["id"].as_str().unwrap().to_string();
    thread(app, &id).await
}

/// One thread with its messages.
pub async fn thread(app: &TestApp, id: &str) -> Value {
    let response = app
        .get(&format!("/api/v1/communications/threads/{id}"), Some(&app.admin_token))
        .await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    response.json::<Value>().await.unwrap()["data"].clone()
}

/// How many events of `event_type` an account's inbound e-mail has.
pub async fn inbound_events(state: &AppState, account_id: Uuid, event_type: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM events WHERE aggregate_type = 'inbound_email' AND event_type = $1 \
         AND CAST(payload AS TEXT) LIKE $2",
    )
    .bind(event_type)
    .bind(format!("%{account_id}%"))
    .fetch_one(&state.db.read)
    .await
    .unwrap()
}
