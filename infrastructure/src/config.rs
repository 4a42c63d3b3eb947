//! One typed configuration, read once at start-up from defaults, an
//! optional TOML file and environment variables (in that order of
//! precedence, lowest first). Secrets are wrapped so they never print.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::error::InfraError;

/// Every setting of a Switchboard process. See the README's table.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Address the HTTP API listens on (`SWITCHBOARD_LISTEN`).
    pub listen: SocketAddr,
    /// Directory for the embedded database and generated keys (`SWITCHBOARD_DATA_DIR`).
    pub data_dir: PathBuf,
    /// PostgreSQL URL; unset means the embedded SQLite store (`DATABASE_URL`).
    pub database_url: Option<SecretString>,
    /// NATS URL; required with `DATABASE_URL` (`NATS_URL`).
    pub nats_url: Option<String>,
    /// JetStream stream that carries events (`SWITCHBOARD_NATS_STREAM`).
    pub nats_stream: String,
    /// Subject prefix of that stream (`SWITCHBOARD_NATS_SUBJECT_PREFIX`).
    pub nats_subject_prefix: String,
    /// HS256 secret for login tokens; generated into the data directory when
    /// unset in the embedded default (`SWITCHBOARD_JWT_SECRET`).
    pub jwt_secret: Option<SecretString>,
    /// Lifetime of a login token in seconds (`SWITCHBOARD_JWT_TTL_SECS`).
    pub jwt_ttl_secs: u64,
    /// Largest request body accepted, in bytes (`SWITCHBOARD_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Time allowed for one request, in seconds (`SWITCHBOARD_REQUEST_TIMEOUT_SECS`).
    pub request_timeout_secs: u64,
    /// `json` or `pretty` (`SWITCHBOARD_LOG_FORMAT`); filter with `RUST_LOG`.
    pub log_format: LogFormat,
    /// Connections in each database pool (`SWITCHBOARD_DB_MAX_CONNECTIONS`).
    pub db_max_connections: u32,
    /// Whether this process runs the relay to JetStream (`SWITCHBOARD_RELAY_ENABLED`).
    pub relay_enabled: bool,
    /// Relay poll interval when idle, in milliseconds (`SWITCHBOARD_RELAY_POLL_MS`).
    pub relay_poll_ms: u64,
    /// Create the sandbox organisation and admin on first start of the
    /// embedded default (`SWITCHBOARD_SANDBOX`).
    pub sandbox: bool,
    /// Master keys sealing integration data keys, `id=base64(32 bytes),…`;
    /// generated into the data directory when unset in the embedded default
    /// (`SWITCHBOARD_MASTER_KEYS`).
    pub master_keys: Option<SecretString>,
    /// The master key new data keys are sealed with; defaults to the last
    /// listed (`SWITCHBOARD_MASTER_KEY_ID`).
    pub master_key_id: Option<String>,
    /// Requests a minute per user or API key (`SWITCHBOARD_RATE_LIMIT_PER_ACTOR`).
    pub rate_limit_per_actor: u32,
    /// Requests a minute per organisation (`SWITCHBOARD_RATE_LIMIT_PER_ORGANISATION`).
    pub rate_limit_per_organisation: u32,
    /// Login attempts a minute from one client address (`SWITCHBOARD_LOGIN_RATE_LIMIT_PER_CLIENT`).
    pub login_rate_limit_per_client: u32,
    /// Login attempts a minute at one e-mail address (`SWITCHBOARD_LOGIN_RATE_LIMIT_PER_ADDRESS`).
    pub login_rate_limit_per_address: u32,
    /// How long an `Idempotency-Key` is remembered, in hours (`SWITCHBOARD_IDEMPOTENCY_TTL_HOURS`).
    pub idempotency_ttl_hours: u32,
    /// Seconds between syncs of every organisation's ExoPhones and WhatsApp templates; 0 turns the
    /// periodic sync off (`SWITCHBOARD_PHONE_SYNC_INTERVAL_SECS`).
    pub phone_sync_interval_secs: u64,
    /// Where the embedded default's sandbox runs its Exotel simulator; port 0
    /// picks a free one (`SWITCHBOARD_SANDBOX_SIMULATOR_LISTEN`).
    pub sandbox_simulator_listen: SocketAddr,
    /// Time allowed for one Exotel request, in seconds (`SWITCHBOARD_EXOTEL_TIMEOUT_SECS`).
    pub exotel_timeout_secs: u64,
    /// Extra CA certificates (PEM) trusted for SMTP and IMAP, beside the
    /// public roots: a company relay's or a test server's own
    /// (`SWITCHBOARD_MAIL_CA_FILE`).
    pub mail_ca_file: Option<PathBuf>,
    /// Time allowed for a mail server to connect or answer, in seconds
    /// (`SWITCHBOARD_MAIL_TIMEOUT_SECS`).
    pub mail_timeout_secs: u64,
    /// Largest total of attachment bytes in one sent e-mail, and largest
    /// attachment stored from received mail (a larger received one is
    /// recorded as skipped) (`SWITCHBOARD_EMAIL_MAX_ATTACHMENT_BYTES`).
    pub email_max_attachment_bytes: u64,
    /// Seconds a mailbox poller's lease lasts unless renewed; it is renewed
    /// every third of that, and another process takes it over once it
    /// lapses (`SWITCHBOARD_MAIL_LEASE_SECS`).
    pub mail_lease_secs: u64,
    /// Seconds a client has to send a request's headers once the server
    /// waits for them, on a new or a kept-alive connection
    /// (`SWITCHBOARD_HEADER_READ_TIMEOUT_SECS`).
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may pass with no byte read or written before it
    /// is closed (`SWITCHBOARD_IDLE_TIMEOUT_SECS`).
    pub idle_timeout_secs: u64,
    /// A bearer token `/metrics` demands; unset, it is open
    /// (`SWITCHBOARD_METRICS_TOKEN`).
    pub metrics_token: Option<SecretString>,
    /// Serve `/metrics` on this address alone instead of beside the API
    /// (`SWITCHBOARD_METRICS_LISTEN`).
    pub metrics_listen: Option<SocketAddr>,
    /// Whether URLs the server requests on a user's behalf may reach
    /// loopback, link-local and private addresses
    /// (`SWITCHBOARD_OUTBOUND_ALLOW_PRIVATE`).
    pub outbound_allow_private: bool,
    /// Networks (`10.1.0.0/16`) and addresses (`10.1.2.3:8443`) those URLs
    /// may reach even though private, comma-separated
    /// (`SWITCHBOARD_OUTBOUND_ALLOW`).
    pub outbound_allow: String,
    /// The address Exotel reaches this server at from the internet, for
    /// status callbacks (`https://switchboard.example.com`); the sandbox
    /// uses its own listen address (`SWITCHBOARD_PUBLIC_URL`).
    pub public_url: Option<String>,
    /// Whether this process's workers place and reconcile calls; off, the
    /// calls asked for wait for a process where it is on
    /// (`SWITCHBOARD_CALL_WORKERS`).
    pub call_workers: bool,
    /// Milliseconds between the call dispatcher's looks at its queue
    /// (`SWITCHBOARD_CALL_DISPATCH_POLL_MS`).
    pub call_dispatch_poll_ms: u64,
    /// Seconds after which an attempt to place a call with no recorded
    /// answer is looked up at Exotel: longer than any request can take
    /// (`SWITCHBOARD_CALL_IN_DOUBT_AFTER_SECS`).
    pub call_in_doubt_after_secs: u64,
    /// Seconds allowed, beyond a call's time limit and ringing, for it to
    /// end and reach Exotel's records: before then a call missing there may
    /// still be under way (`SWITCHBOARD_CALL_SETTLE_SECS`).
    pub call_settle_secs: u64,
    /// Seconds a dialled party may ring before the call counts as not
    /// answered (`SWITCHBOARD_CALL_RING_TIMEOUT_SECS`).
    pub call_ring_timeout_secs: u32,
    /// Seconds between the reconciler's passes over calls whose callbacks
    /// did not come (`SWITCHBOARD_CALL_RECONCILE_INTERVAL_SECS`).
    pub call_reconcile_interval_secs: u64,
    /// Whether this process's workers send webhooks to client systems
    /// (`SWITCHBOARD_WEBHOOK_WORKERS`).
    pub webhook_workers: bool,
    /// Milliseconds between the webhook workers' looks at the outbox
    /// (`SWITCHBOARD_WEBHOOK_POLL_MS`).
    pub webhook_poll_ms: u64,
    /// Seconds a receiver has to answer a webhook (`SWITCHBOARD_WEBHOOK_TIMEOUT_SECS`).
    pub webhook_timeout_secs: u64,
    /// Milliseconds before the first retry of a failed webhook; each later
    /// wait is four times the last, up to six hours
    /// (`SWITCHBOARD_WEBHOOK_RETRY_INITIAL_MS`).
    pub webhook_retry_initial_ms: u64,
    /// Seconds a webhook is retried before it fails for good and its
    /// endpoint is disabled (`SWITCHBOARD_WEBHOOK_RETRY_WINDOW_SECS`).
    pub webhook_retry_window_secs: u64,
    /// Seconds a rotated-out webhook secret still signs beside the new one
    /// (`SWITCHBOARD_WEBHOOK_SECRET_OVERLAP_SECS`).
    pub webhook_secret_overlap_secs: u64,
    /// The verified-call provider: `none`, or `sandbox`, which arranges every
    /// branding, logs it and sends nothing (`SWITCHBOARD_VERIFIED_CALLS`).
    pub verified_calls: String,
    /// Whether this process's workers send recorded SMS and ask after their
    /// reports (`SWITCHBOARD_MESSAGE_WORKERS`).
    pub message_workers: bool,
    /// Milliseconds between the SMS dispatcher's looks at its queue
    /// (`SWITCHBOARD_MESSAGE_DISPATCH_POLL_MS`).
    pub message_dispatch_poll_ms: u64,
    /// Seconds a report naming an SMS whose attempt is in doubt is waited
    /// for before its outcome is recorded as unknown; it is never sent again
    /// (`SWITCHBOARD_MESSAGE_REPORT_WAIT_SECS`).
    pub message_report_wait_secs: u64,
    /// Seconds after submission an SMS without its final report is looked
    /// up at Exotel (`SWITCHBOARD_MESSAGE_LOOK_UP_AFTER_SECS`).
    pub message_look_up_after_secs: u64,
    /// Seconds an answer of Exotel's number metadata on the DND registry is
    /// kept (`SWITCHBOARD_DND_CACHE_SECS`).
    pub dnd_cache_secs: u64,
    /// Days after it was closed that a customer's message reopens a thread
    /// instead of starting a new one (`SWITCHBOARD_THREAD_REOPEN_DAYS`).
    pub thread_reopen_days: u32,
    /// Seconds between heartbeats on a realtime connection; each one checks
    /// the connection's credential again (`SWITCHBOARD_REALTIME_HEARTBEAT_SECS`).
    pub realtime_heartbeat_secs: u64,
    /// Changes each process keeps for its realtime connections to read
    /// (`SWITCHBOARD_REALTIME_BUFFER`): a connection that falls this far
    /// behind is told to resync. Shared by every connection of the process.
    pub realtime_buffer: usize,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Serialize)]
struct Defaults {
    listen: String,
    data_dir: String,
    nats_stream: String,
    nats_subject_prefix: String,
    jwt_ttl_secs: u64,
    max_body_bytes: usize,
    request_timeout_secs: u64,
    log_format: LogFormat,
    db_max_connections: u32,
    relay_enabled: bool,
    relay_poll_ms: u64,
    sandbox: bool,
    rate_limit_per_actor: u32,
    rate_limit_per_organisation: u32,
    login_rate_limit_per_client: u32,
    login_rate_limit_per_address: u32,
    idempotency_ttl_hours: u32,
    phone_sync_interval_secs: u64,
    sandbox_simulator_listen: String,
    exotel_timeout_secs: u64,
    mail_timeout_secs: u64,
    email_max_attachment_bytes: u64,
    mail_lease_secs: u64,
    header_read_timeout_secs: u64,
    idle_timeout_secs: u64,
    outbound_allow_private: bool,
    outbound_allow: String,
    call_workers: bool,
    call_dispatch_poll_ms: u64,
    call_in_doubt_after_secs: u64,
    call_settle_secs: u64,
    call_ring_timeout_secs: u32,
    call_reconcile_interval_secs: u64,
    webhook_workers: bool,
    webhook_poll_ms: u64,
    webhook_timeout_secs: u64,
    webhook_retry_initial_ms: u64,
    webhook_retry_window_secs: u64,
    webhook_secret_overlap_secs: u64,
    verified_calls: String,
    message_workers: bool,
    message_dispatch_poll_ms: u64,
    message_report_wait_secs: u64,
    message_look_up_after_secs: u64,
    dnd_cache_secs: u64,
    thread_reopen_days: u32,
    realtime_heartbeat_secs: u64,
    realtime_buffer: usize,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: "./data".into(),
            nats_stream: "SWITCHBOARD_EVENTS".into(),
            nats_subject_prefix: "switchboard.events".into(),
            jwt_ttl_secs: 3600,
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            log_format: LogFormat::Json,
            db_max_connections: 16,
            relay_enabled: true,
            relay_poll_ms: 5,
            sandbox: true,
            rate_limit_per_actor: 1200,
            rate_limit_per_organisation: 6000,
            login_rate_limit_per_client: 60,
            login_rate_limit_per_address: 20,
            idempotency_ttl_hours: 24,
            phone_sync_interval_secs: 3600,
            sandbox_simulator_listen: "127.0.0.1:0".into(),
            exotel_timeout_secs: 15,
            mail_timeout_secs: 20,
            email_max_attachment_bytes: 25 * 1024 * 1024,
            mail_lease_secs: 30,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 120,
            outbound_allow_private: false,
            outbound_allow: String::new(),
            call_workers: true,
            call_dispatch_poll_ms: 50,
            call_in_doubt_after_secs: 60,
            call_settle_secs: 180,
            call_ring_timeout_secs: 45,
            call_reconcile_interval_secs: 30,
            webhook_workers: true,
            webhook_poll_ms: 200,
            webhook_timeout_secs: 15,
            webhook_retry_initial_ms: 5_000,
            webhook_retry_window_secs: 24 * 3600,
            webhook_secret_overlap_secs: 24 * 3600,
            verified_calls: "none".into(),
            message_workers: true,
            message_dispatch_poll_ms: 50,
            message_report_wait_secs: 6 * 3600,
            message_look_up_after_secs: 15 * 60,
            dnd_cache_secs: 24 * 3600,
            thread_reopen_days: 7,
            realtime_heartbeat_secs: 20,
            realtime_buffer: 4_096,
        }
    }
}

/// Which store and feed a configuration selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// SQLite in the data directory, in-process feed, sandbox.
    Embedded,
    /// PostgreSQL and NATS JetStream.
    Distributed,
}

impl Settings {
    /// Reads defaults, then `config_file` (or `SWITCHBOARD_CONFIG`) if given,
    /// then the environment.
    pub fn load(config_file: Option<PathBuf>) -> Result<Self, InfraError> {
        let mut figment = Figment::from(Serialized::defaults(Defaults::default()));
        let file = config_file.or_else(|| std::env::var_os("SWITCHBOARD_CONFIG").map(PathBuf::from));
        if let Some(file) = file {
            if !file.exists() {
                return Err(InfraError::Config(format!(
                    "configuration file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment
            .merge(Env::prefixed("SWITCHBOARD_").ignore(&["CONFIG"]))
            .merge(Env::raw().only(&["DATABASE_URL", "NATS_URL"]));
        let settings: Settings = figment.extract().map_err(|e| InfraError::Config(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// The built-in defaults alone: the embedded mode in `./data`.
    pub fn defaults() -> Result<Self, InfraError> {
        Figment::from(Serialized::defaults(Defaults::default()))
            .extract()
            .map_err(|e| InfraError::Config(e.to_string()))
    }

    fn validate(&self) -> Result<(), InfraError> {
        if self.database_url.is_some() && self.nats_url.is_none() {
            return Err(InfraError::Config(
                "DATABASE_URL is set but NATS_URL is not: the distributed mode needs both".into(),
            ));
        }
        if self
            .database_url
            .as_ref()
            .is_some_and(|u| !u.expose_secret().starts_with("postgres"))
        {
            return Err(InfraError::Config("DATABASE_URL must be a postgres:// URL".into()));
        }
        if self.mode() == Mode::Distributed && self.jwt_secret.is_none() {
            return Err(InfraError::Config(
                "SWITCHBOARD_JWT_SECRET must be set when running distributed".into(),
            ));
        }
        if self.mode() == Mode::Distributed && self.master_keys.is_none() {
            return Err(InfraError::Config(
                "SWITCHBOARD_MASTER_KEYS must be set when running distributed".into(),
            ));
        }
        let limits = [
            self.rate_limit_per_actor,
            self.rate_limit_per_organisation,
            self.login_rate_limit_per_client,
            self.login_rate_limit_per_address,
        ];
        if limits.contains(&0) {
            return Err(InfraError::Config(
                "rate limits must be at least 1 request a minute".into(),
            ));
        }
        if self.realtime_heartbeat_secs == 0 {
            return Err(InfraError::Config(
                "SWITCHBOARD_REALTIME_HEARTBEAT_SECS must be at least 1".into(),
            ));
        }
        if !(16..=1_048_576).contains(&self.realtime_buffer) {
            return Err(InfraError::Config(
                "SWITCHBOARD_REALTIME_BUFFER must be 16 to 1048576 changes".into(),
            ));
        }
        if self.header_read_timeout_secs == 0 || self.idle_timeout_secs == 0 {
            return Err(InfraError::Config(
                "SWITCHBOARD_HEADER_READ_TIMEOUT_SECS and SWITCHBOARD_IDLE_TIMEOUT_SECS must be at least 1".into(),
            ));
        }
        if !matches!(self.verified_calls.as_str(), "none" | "sandbox") {
            return Err(InfraError::Config(
                "SWITCHBOARD_VERIFIED_CALLS must be none or sandbox".into(),
            ));
        }
        crate::outbound::OutboundRule::from_settings(self)?;
        if let Some(public) = &self.public_url {
            let parsed = url::Url::parse(public).ok();
            let usable = parsed.as_ref().is_some_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.username().is_empty() && u.password().is_none()
            });
            if !usable {
                return Err(InfraError::Config(
                    "SWITCHBOARD_PUBLIC_URL must be an http:// or https:// URL without a user name".into(),
                ));
            }
        }
        if self.jwt_secret.as_ref().is_some_and(|s| s.expose_secret().len() < 32) {
            return Err(InfraError::Config(
                "SWITCHBOARD_JWT_SECRET must be at least 32 bytes".into(),
            ));
        }
        Ok(())
    }

    pub fn mode(&self) -> Mode {
        if self.database_url.is_some() {
            Mode::Distributed
        } else {
            Mode::Embedded
        }
    }

    /// The SQLite file of the embedded default.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("switchboard.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_is_never_printed() {
        let settings = Settings {
            database_url: Some(SecretString::from("postgres://u:hunter2@db/x")),
            ..Figment::from(Serialized::defaults(Defaults::default()))
                .extract::<Settings>()
                .unwrap()
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn no_configuration_means_the_embedded_default() {
        let settings: Settings = Figment::from(Serialized::defaults(Defaults::default()))
            .extract()
            .unwrap();
        assert_eq!(settings.mode(), Mode::Embedded);
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
    }
}
