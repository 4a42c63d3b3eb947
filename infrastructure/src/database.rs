//! Connection pools and migrations for the two ways to run: PostgreSQL, or
//! one SQLite file in the data directory.
//!
//! The event store is reached through the native pool its crate needs; read
//! models go through an `AnyPool` on the same database so each projection
//! keeps a single copy of its SQL.

use secrecy::ExposeSecret;
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, Executor, PgPool, SqlitePool};
use std::sync::Once;
use std::time::Duration;

use crate::config::Settings;
use crate::error::InfraError;
use crate::event_store::Appender;

const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The pool the event store writes through.
#[derive(Debug, Clone)]
pub enum EventDb {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// The pools of one database.
#[derive(Debug, Clone)]
pub struct Database {
    /// Where events are written (on SQLite, the one writing connection).
    pub events: EventDb,
    /// Where aggregates are loaded from: the same pool on PostgreSQL; on
    /// SQLite read-only connections, so loads never queue behind writes
    /// (a write still fails on a version taken since the load).
    pub loads: EventDb,
    pub read: AnyPool,
    /// On SQLite, the turn every in-process writer of the file takes
    /// first (the event store and the projectors), so writers queue here
    /// in order instead of sleeping in SQLite's busy handler. `None` on
    /// PostgreSQL, which takes concurrent writers.
    pub write_gate: Option<WriteGate>,
    /// Writes the event store's appends, several commands' together under
    /// load (group commit).
    pub appender: Appender,
}

/// One writer of the SQLite file at a time within this process.
pub type WriteGate = std::sync::Arc<tokio::sync::Mutex<()>>;

impl Database {
    /// Connects to the database the settings select, creating the SQLite
    /// file and data directory if needed, readable by this user alone.
    pub async fn connect(settings: &Settings) -> Result<Self, InfraError> {
        install_any_drivers();
        match &settings.database_url {
            Some(url) => Self::connect_postgres(url.expose_secret(), settings.db_max_connections).await,
            None => Self::connect_sqlite(settings).await,
        }
    }

    async fn connect_postgres(url: &str, max_connections: u32) -> Result<Self, InfraError> {
        // No ping before each use of a pooled connection: it is a round trip
        // per statement. A connection that broke fails its next statement
        // instead, and the pool drops it.
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(false)
            .connect(url)
            .await?;
        let read = AnyPoolOptions::new()
            .max_connections(max_connections)
            .test_before_acquire(false)
            .connect(url)
            .await?;
        Ok(Self {
            appender: Appender::start(EventDb::Postgres(pool.clone()), None),
            events: EventDb::Postgres(pool.clone()),
            loads: EventDb::Postgres(pool),
            read,
            write_gate: None,
        })
    }

    async fn connect_sqlite(settings: &Settings) -> Result<Self, InfraError> {
        crate::files::private_dir(&settings.data_dir)?;
        let path = settings.sqlite_path();
        // SQLite gives its -wal and -shm files the database file's mode.
        crate::files::touch_private(&path)?;
        for suffix in ["-wal", "-shm"] {
            let mut companion = path.clone().into_os_string();
            companion.push(suffix);
            crate::files::restrict_if_present(std::path::Path::new(&companion))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true);
        // One connection writes events: SQLite takes one writer at a time, and
        // queueing in the pool is fairer and faster than SQLite's busy sleeps.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        let reader = SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let loads = SqlitePoolOptions::new()
            .max_connections(settings.db_max_connections.clamp(1, 8))
            .test_before_acquire(false)
            .connect_with(reader)
            .await?;
        let url = format!("sqlite://{}", path.display());
        let read = AnyPoolOptions::new()
            .max_connections(settings.db_max_connections)
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;")
                        .await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let write_gate = WriteGate::default();
        Ok(Self {
            appender: Appender::start(EventDb::Sqlite(pool.clone()), Some(write_gate.clone())),
            events: EventDb::Sqlite(pool),
            loads: EventDb::Sqlite(loads),
            read,
            write_gate: Some(write_gate),
        })
    }

    /// Applies the embedded migrations of this database's dialect.
    pub async fn migrate(&self) -> Result<(), InfraError> {
        match &self.events {
            EventDb::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await?,
            EventDb::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), InfraError> {
        match &self.events {
            EventDb::Postgres(pool) => pool.execute("SELECT 1").await.map(drop)?,
            EventDb::Sqlite(pool) => pool.execute("SELECT 1").await.map(drop)?,
        }
        Ok(())
    }

    /// The highest event position committed so far (0 when empty).
    pub async fn head_position(&self) -> Result<i64, InfraError> {
        let sql = "SELECT COALESCE(MAX(global_position), 0) FROM events";
        Ok(match &self.events {
            EventDb::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
            EventDb::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
        })
    }
}

fn install_any_drivers() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(sqlx::any::install_default_drivers);
}
