//! Starting Switchboard against real services, one isolated world per test:
//! its own PostgreSQL database, its own JetStream stream, its own port.

pub mod child;
pub mod nats;
pub mod sim;

use reqwest::{Client, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use uuid::Uuid;

use api::runtime::{self, Roles, Running};
use api::state::AppState;
use application::EventMetadata;
use application::accounts::NewUser;
use domain::{EmailAddress, Role};
use infrastructure::Settings;

pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
pub const DEFAULT_NATS: &str = "nats://127.0.0.1:4222";
pub const PASSWORD: &str = "correct horse battery staple";

/// A fresh database on the local PostgreSQL; its URL.
pub async fn fresh_database() -> String {
    let name = format!("sb_test_{}", Uuid::new_v4().simple());
    let mut admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&format!("{POSTGRES}/postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&format!("{POSTGRES}/{name}"))
        .await
        .unwrap();
    admin.close().await;
    format!("{POSTGRES}/{name}")
}

/// Settings for the distributed mode on a fresh database and stream.
pub async fn distributed(nats_url: &str) -> (Settings, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::defaults().unwrap();
    let id = Uuid::new_v4().simple().to_string();
    settings.data_dir = dir.path().to_path_buf();
    settings.database_url = Some(SecretString::from(fresh_database().await));
    settings.nats_url = Some(nats_url.to_string());
    settings.nats_stream = format!("SB_TEST_{id}");
    settings.nats_subject_prefix = format!("sbtest.{id}");
    settings.jwt_secret = Some(SecretString::from(format!("test-secret-{id}-0123456789abcdef")));
    settings.master_keys = Some(SecretString::from(infrastructure::cipher::Keyring::generate_entry(
        "test-1",
    )));
    settings.db_max_connections = 8;
    settings.max_body_bytes = 16 * 1024;
    settings.mail_ca_file = mail_ca_file();
    settings.outbound_allow_private = true;
    (settings, dir)
}

/// The test mail servers' self-signed certificate (`tests/mail/up.sh`), when they run here.
pub fn mail_ca_file() -> Option<std::path::PathBuf> {
    let path = std::path::PathBuf::from("/var/tmp/switchboard-mail/tls/ca.pem");
    path.exists().then_some(path)
}

/// Settings for the embedded default in a fresh data directory.
pub fn embedded() -> (Settings, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::defaults().unwrap();
    settings.data_dir = dir.path().to_path_buf();
    settings.max_body_bytes = 16 * 1024;
    settings.db_max_connections = 4;
    settings.mail_ca_file = mail_ca_file();
    settings.outbound_allow_private = true;
    (settings, dir)
}

/// A running Switchboard with one organisation and its admin logged in.
pub struct TestApp {
    pub base: String,
    pub http: Client,
    pub state: Arc<AppState>,
    pub _running: Running,
    pub organisation_id: Uuid,
    pub admin_token: String,
    pub admin_email: String,
    pub settings: Settings,
    pub _dir: Option<TempDir>,
}

impl TestApp {
    /// Distributed mode against the machine's NATS.
    pub async fn distributed() -> Self {
        let (settings, dir) = distributed(DEFAULT_NATS).await;
        Self::start(settings, Some(dir)).await
    }

    /// The embedded default.
    pub async fn embedded() -> Self {
        let (settings, dir) = embedded();
        Self::start(settings, Some(dir)).await
    }

    /// Starts every part on a free port, with a new organisation and admin.
    pub async fn start(settings: Settings, dir: Option<TempDir>) -> Self {
        let running = launch(&settings).await;
        Self::started(running, settings, dir).await
    }

    /// An app on parts already started (with the API), with a new
    /// organisation and admin.
    pub async fn started(running: Running, settings: Settings, dir: Option<TempDir>) -> Self {
        let state = running.state.clone();
        let base = format!("http://{}", running.addr.unwrap());
        let organisation_id = create_organisation(&state, "Acme Foods").await;
        let mut app = Self {
            base,
            http: Client::new(),
            state,
            _running: running,
            organisation_id,
            admin_token: String::new(),
            admin_email: String::new(),
            settings,
            _dir: dir,
        };
        let email = app.add_user(organisation_id, Role::Admin).await;
        app.admin_token = app.login(&email).await;
        app.admin_email = email;
        app
    }

    /// A new user registered straight through the use case; their e-mail.
    pub async fn add_user(&self, organisation_id: Uuid, role: Role) -> String {
        self.add_member(organisation_id, role).await.0
    }

    /// A new user registered straight through the use case; their e-mail and id.
    pub async fn add_member(&self, organisation_id: Uuid, role: Role) -> (String, Uuid) {
        let email = format!("{}@example.com", Uuid::new_v4().simple());
        let new = NewUser {
            organisation_id,
            email: EmailAddress::parse(&email).unwrap(),
            display_name: "Test user".into(),
            password: PASSWORD.into(),
            role,
        };
        let id = self
            .state
            .accounts()
            .register_user(new, &EventMetadata::system("test", Some(organisation_id)))
            .await
            .unwrap();
        (email, id)
    }

    /// A bearer token for a user.
    pub async fn login(&self, email: &str) -> String {
        let response = self
            .post_json(
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "login failed");
        data(&response.json::<Value>().await.unwrap())["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        let mut request = self.http.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// Creates an API key through the API; its id.
    pub async fn create_api_key(&self, name: &str) -> String {
        let response = self
            .post_json(
                "/api/v1/api-keys",
                Some(&self.admin_token),
                json!({"name": name, "role": "agent"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        data(&response.json::<Value>().await.unwrap())["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Rows of a read-model query, as text, sorted.
    pub async fn rows(&self, sql: &str) -> Vec<String> {
        read_rows(&self.state.db.read, sql).await
    }

    /// A scalar count from the read-model database.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.state.db.read)
            .await
            .unwrap()
    }
}

/// Builds the state on `clock` and starts the parts of `roles`, the API on a free port.
pub async fn launch_with_clock(
    settings: &Settings,
    clock: std::sync::Arc<dyn application::clock::Clock>,
    roles: Roles,
) -> Running {
    let state = AppState::build_with_clock(settings.clone(), None, clock).await.unwrap();
    let listener = match roles.api {
        true => Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()),
        false => None,
    };
    runtime::start(state, roles, listener).await.unwrap()
}

/// Builds the state and starts every part on a free port.
pub async fn launch(settings: &Settings) -> Running {
    let state = AppState::build(settings.clone(), api::telemetry::metrics())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    runtime::start(state, Roles::ALL, Some(listener)).await.unwrap()
}

pub async fn create_organisation(state: &AppState, name: &str) -> Uuid {
    state
        .accounts()
        .create_organisation(name, &EventMetadata::system("test", None))
        .await
        .unwrap()
}

/// Every row of a query with text columns, joined with `|`, sorted.
pub async fn read_rows(pool: &sqlx::AnyPool, sql: &str) -> Vec<String> {
    use sqlx::Row;
    let rows = sqlx::query(sql).fetch_all(pool).await.unwrap();
    let mut out: Vec<String> = rows
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| {
                    row.try_get::<Option<String>, _>(i)
                        .map(|v| v.unwrap_or_else(|| "NULL".into()))
                        .or_else(|_| {
                            row.try_get::<Option<i64>, _>(i)
                                .map(|v| v.map(|n| n.to_string()).unwrap_or_else(|| "NULL".into()))
                        })
                        .unwrap()
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}

/// The payload of a success answer: its `data` when it is in the
/// `{success, data}` envelope, else the body itself.
pub fn data(body: &Value) -> &Value {
    match body.get("data") {
        Some(inner) if body.get("success").is_some() => inner,
        _ => body,
    }
}

/// Polls `check` until it holds or `within` passes; panics with `what`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Asserts a problem+json response with a status and code; its body.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "unexpected problem: {body}");
    body
}

/// Path of the `switchboard` binary: `SWITCHBOARD_BIN`, or built (in the
/// same target directory and profile as the tests, so usually up to date).
pub fn switchboard_binary() -> std::path::PathBuf {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| match std::env::var_os("SWITCHBOARD_BIN") {
        Some(path) => path.into(),
        None => build_binary(),
    })
    .clone()
}

fn build_binary() -> std::path::PathBuf {
    let built = escargot::CargoBuild::new()
        .package("api")
        .bin("switchboard")
        .current_release()
        .run()
        .unwrap();
    built.path().to_path_buf()
}
