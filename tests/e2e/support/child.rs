//! The `switchboard` binary as a child process, for tests that kill it or
//! read its logs.

use domain::Role;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

use api::state::AppState;
use application::EventMetadata;
use application::accounts::NewUser;
use infrastructure::Settings;
use secrecy::ExposeSecret;

use super::{PASSWORD, data, switchboard_binary};

/// A child `switchboard serve` process on the given settings.
pub fn spawn_server(settings: &Settings, port: u16, relay: bool) -> Child {
    spawn_server_logging(settings, port, relay, "warn")
}

/// The same, with a chosen `RUST_LOG`; standard error goes to `child.log` in the data directory.
pub fn spawn_server_logging(settings: &Settings, port: u16, relay: bool, log: &str) -> Child {
    let mut command = Command::new(switchboard_binary());
    command.arg("serve").env_clear();
    if let Some(ca) = &settings.mail_ca_file {
        command.env("SWITCHBOARD_MAIL_CA_FILE", ca);
    }
    command
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", settings.database_url.as_ref().unwrap().expose_secret())
        .env("NATS_URL", settings.nats_url.as_ref().unwrap())
        .env("SWITCHBOARD_NATS_STREAM", &settings.nats_stream)
        .env("SWITCHBOARD_NATS_SUBJECT_PREFIX", &settings.nats_subject_prefix)
        .env(
            "SWITCHBOARD_JWT_SECRET",
            settings.jwt_secret.as_ref().unwrap().expose_secret(),
        )
        .env(
            "SWITCHBOARD_MASTER_KEYS",
            settings.master_keys.as_ref().unwrap().expose_secret(),
        )
        .env("SWITCHBOARD_DATA_DIR", &settings.data_dir)
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_RELAY_ENABLED", relay.to_string())
        .env(
            "SWITCHBOARD_OUTBOUND_ALLOW_PRIVATE",
            settings.outbound_allow_private.to_string(),
        )
        .env("RUST_LOG", log)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(settings.data_dir.join("child.log")).unwrap())
        .spawn()
        .unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An organisation and admin written straight to the store; the admin's token from the child.
pub async fn seed(settings: &Settings) -> (Uuid, String) {
    let state = AppState::build(settings.clone(), None).await.unwrap();
    let org = crate::support::create_organisation(&state, "Killed Co").await;
    let email = format!("{}@example.com", Uuid::new_v4().simple());
    let new = NewUser {
        organisation_id: org,
        email: domain::EmailAddress::parse(&email).unwrap(),
        display_name: "A".into(),
        password: PASSWORD.into(),
        role: Role::Admin,
    };
    state
        .accounts()
        .register_user(new, &EventMetadata::system("test", Some(org)))
        .await
        .unwrap();
    (org, email)
}

pub async fn child_login(http: &reqwest::Client, base: &str, email: &str, settings: &Settings) -> String {
    for _ in 0..200 {
        if let Ok(response) = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
        {
            let body: Value = response.json().await.unwrap();
            return data(&body)["access_token"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(settings.data_dir.join("child.log")).unwrap_or_default();
    panic!("the child server did not start: {log}");
}

/// The child's log so far (`child.log` in the data directory).
pub fn child_log(settings: &Settings) -> String {
    std::fs::read_to_string(settings.data_dir.join("child.log")).unwrap()
}

/// Stops a child as an operator would (SIGTERM) and waits for it to exit.
pub fn stop(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap();
}

/// Every form in which a secret could leak into text: as written,
/// JSON-escaped (once, and again inside a JSON string), URL-encoded (form
/// style, `%20` style, lower-case hex) and base64 (standard and URL-safe,
/// with and without padding). For `Basic` credentials pass `key:token`.
pub fn secret_forms(secret: &str) -> Vec<String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let json_once = serde_json::to_string(secret).unwrap();
    let json_twice = serde_json::to_string(&json_once).unwrap();
    let form = serde_urlencoded::to_string([("", secret)]).unwrap()[1..].to_string();
    let percent = form.replace('+', "%20");
    let lower = percent
        .split('%')
        .enumerate()
        .map(|(i, part)| match i {
            0 => part.to_string(),
            _ => format!(
                "{}{}",
                part.get(..2).unwrap_or(part).to_lowercase(),
                part.get(2..).unwrap_or("")
            ),
        })
        .collect::<Vec<_>>()
        .join("%");
    let mut forms = vec![
        secret.to_string(),
        json_once[1..json_once.len() - 1].to_string(),
        json_twice[2..json_twice.len() - 2].to_string(),
        form,
        percent,
        lower,
    ];
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        forms.push(engine.encode(secret));
    }
    forms.sort();
    forms.dedup();
    forms
}

/// Panics when `text` (found in `place`) holds any of `forms`.
pub fn assert_none_in(place: &str, text: &str, forms: &[String]) {
    for form in forms {
        if let Some(at) = text.find(form.as_str()) {
            let mut from = at.saturating_sub(300);
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            let mut to = (at + form.len() + 100).min(text.len());
            while !text.is_char_boundary(to) {
                to += 1;
            }
            panic!("{place} holds a secret as {form:?}: …{}…", &text[from..to]);
        }
    }
}

/// Every table of a PostgreSQL database — the events and every read model
/// alike — with all its rows as text (each column cast to text on its own,
/// so no quoting of the row hides a form), by table name.
pub async fn every_table(database_url: &str) -> Vec<(String, Vec<String>)> {
    let pool = sqlx::PgPool::connect(database_url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&table)
        .fetch_all(&pool)
        .await
        .unwrap();
        let cast: Vec<String> = columns.iter().map(|c| format!("\"{c}\"::text")).collect();
        let sql = format!("SELECT concat_ws(E'\\t', {}) FROM \"{table}\"", cast.join(", "));
        let rows: Vec<String> = sqlx::query_scalar(&sql).fetch_all(&pool).await.unwrap();
        out.push((table, rows));
    }
    pool.close().await;
    out
}

/// Every message on a JetStream stream, as text, oldest first.
pub async fn stream_messages(nats_url: &str, stream: &str) -> Vec<String> {
    let js = async_nats::jetstream::new(async_nats::connect(nats_url).await.unwrap());
    let mut stream = js.get_stream(stream).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut messages = Vec::new();
    for sequence in 1..=last {
        if let Ok(message) = stream.get_raw_message(sequence).await {
            let headers = message.headers.iter().map(|(k, v)| format!("{k:?}: {v:?}"));
            let headers: Vec<String> = headers.collect();
            messages.push(format!(
                "{}\n{}",
                headers.join("\n"),
                String::from_utf8_lossy(&message.payload)
            ));
        }
    }
    messages
}

/// Waits until the relay has published every committed event.
pub async fn all_relayed(database_url: &str) {
    let pool = sqlx::PgPool::connect(database_url).await.unwrap();
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(global_position), 0) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    super::eventually(Duration::from_secs(20), "every event relayed", || async {
        let published: Option<i64> = sqlx::query_scalar("SELECT MAX(last_pos) FROM relay_checkpoints")
            .fetch_one(&pool)
            .await
            .unwrap();
        published >= Some(head)
    })
    .await;
    pool.close().await;
}
