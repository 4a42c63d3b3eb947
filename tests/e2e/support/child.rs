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

use super::{PASSWORD, switchboard_binary};

/// A child `switchboard serve` process on the given settings.
pub fn spawn_server(settings: &Settings, port: u16, relay: bool) -> Child {
    spawn_server_logging(settings, port, relay, "warn")
}

/// The same, with a chosen `RUST_LOG`; standard error goes to `child.log` in the data directory.
pub fn spawn_server_logging(settings: &Settings, port: u16, relay: bool, log: &str) -> Child {
    Command::new(switchboard_binary())
        .arg("serve")
        .env_clear()
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
            return body["access_token"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(settings.data_dir.join("child.log")).unwrap_or_default();
    panic!("the child server did not start: {log}");
}
