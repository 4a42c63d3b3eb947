//! The relay from the PostgreSQL events table to JetStream.
//!
//! Exactly one relay is active across all processes: it holds a session
//! advisory lock on its own connection; others stand by and take over when
//! that connection goes. It reads events in commit-safe order (only rows of
//! transactions older than every running one), publishes each with
//! `Nats-Msg-Id = type:id:sequence`, awaits every publish ack, and only then
//! advances its checkpoint. A crash between commit and publish, or between
//! publish and checkpoint, means events are published again: JetStream drops
//! the copies inside its duplicate window and projectors skip the rest.

use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, PgPool, Row};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use application::feed::StoredEvent;

use crate::error::InfraError;
use crate::feed::scan::decode;
use crate::nats::EventStream;

/// The advisory lock key that elects the active relay ("SWBRELAY").
const RELAY_LOCK: i64 = 0x5357_4252_454c_4159;
const BATCH: i64 = 500;
const STANDBY_RETRY: Duration = Duration::from_secs(1);

const PENDING: &str = "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
     payload::text, metadata::text, transaction_id::text FROM events \
     WHERE (transaction_id, global_position) > ($1::text::xid8, $2) \
       AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
     ORDER BY transaction_id, global_position LIMIT $3";

/// Where the relay has got to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub last_tx: String,
    pub last_pos: i64,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Self {
            last_tx: "0".into(),
            last_pos: 0,
        }
    }
}

/// How long the relay keeps polling every `poll` after it last saw events
/// or a commit of this process: a commit can become readable only once
/// older transactions end, which signal nothing.
const HOT: Duration = Duration::from_millis(250);
/// The poll when nothing happened for [`HOT`] (other processes' commits
/// are seen within it).
const IDLE_POLL: Duration = Duration::from_millis(250);

pub struct Relay {
    pool: PgPool,
    js: jetstream::Context,
    events: EventStream,
    poll: Duration,
    commits: Option<watch::Receiver<u64>>,
}

impl Relay {
    /// A relay polling every `poll`.
    pub fn new(pool: PgPool, js: jetstream::Context, events: EventStream, poll: Duration) -> Self {
        Self {
            pool,
            js,
            events,
            poll,
            commits: None,
        }
    }

    /// Polls every `poll` only while this process commits (and for [`HOT`]
    /// after), otherwise every [`IDLE_POLL`]; a commit wakes it at once.
    pub fn woken_by(self, commits: watch::Receiver<u64>) -> Self {
        Self {
            commits: Some(commits),
            ..self
        }
    }

    /// Stands by until elected, then relays until cancelled or its lock
    /// connection fails (the error goes to the supervisor, which restarts it).
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), InfraError> {
        let Some(mut conn) = self.elect(&shutdown).await? else {
            return Ok(());
        };
        tracing::info!(stream = %self.events.name, "relay elected");
        metrics::gauge!("switchboard_relay_active").set(1.0);
        let outcome = self.relay(&mut conn, &shutdown).await;
        metrics::gauge!("switchboard_relay_active").set(0.0);
        outcome
    }

    async fn elect(&self, shutdown: &CancellationToken) -> Result<Option<PgConnection>, InfraError> {
        loop {
            let mut conn = self.pool.acquire().await?.detach();
            let elected: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(RELAY_LOCK)
                .fetch_one(&mut conn)
                .await?;
            if elected {
                return Ok(Some(conn));
            }
            let _ = conn.close().await;
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                _ = tokio::time::sleep(STANDBY_RETRY) => {}
            }
        }
    }

    async fn relay(&self, conn: &mut PgConnection, shutdown: &CancellationToken) -> Result<(), InfraError> {
        let mut checkpoint = load_checkpoint(conn, &self.events.name).await?;
        let mut commits = self.commits.clone();
        let mut hot_until = Instant::now() + HOT;
        while !shutdown.is_cancelled() {
            let batch = pending(conn, &checkpoint, BATCH).await?;
            if !batch.is_empty() {
                hot_until = Instant::now() + HOT;
            }
            if let Some((last, last_tx)) = batch.last().map(|(e, tx)| (e.position, tx.clone())) {
                self.publish_all(batch.iter().map(|(e, _)| e)).await?;
                checkpoint = Checkpoint {
                    last_tx,
                    last_pos: last,
                };
                save_checkpoint(conn, &self.events.name, &checkpoint).await?;
                metrics::counter!("switchboard_relay_published_total").increment(batch.len() as u64);
            }
            if (batch.len() as i64) < BATCH {
                self.pause(&mut commits, &mut hot_until, shutdown).await;
            }
        }
        Ok(())
    }

    /// Waits before the next pass: `poll` while hot; otherwise until a
    /// commit of this process or [`IDLE_POLL`], whichever comes first.
    async fn pause(
        &self,
        commits: &mut Option<watch::Receiver<u64>>,
        hot_until: &mut Instant,
        shutdown: &CancellationToken,
    ) {
        let Some(signal) = commits.as_mut() else {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
            return;
        };
        if signal.has_changed().unwrap_or(false) {
            signal.borrow_and_update();
            *hot_until = Instant::now() + HOT;
        }
        if Instant::now() < *hot_until {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            changed = signal.changed() => {
                if changed.is_ok() {
                    *hot_until = Instant::now() + HOT;
                } else {
                    *commits = None;
                }
            }
            _ = tokio::time::sleep(IDLE_POLL) => {}
        }
    }

    async fn publish_all<'a>(&self, events: impl Iterator<Item = &'a StoredEvent>) -> Result<(), InfraError> {
        let mut acks: Vec<PublishAckFuture> = Vec::new();
        for event in events {
            acks.push(self.publish(event).await?);
        }
        for ack in acks {
            ack.await
                .map_err(|e| InfraError::Nats(format!("publish not acknowledged: {e}")))?;
        }
        Ok(())
    }

    async fn publish(&self, event: &StoredEvent) -> Result<PublishAckFuture, InfraError> {
        let payload = serde_json::to_vec(event).map_err(|e| InfraError::MalformedEvent(e.to_string()))?;
        let message = PublishMessage::build()
            .payload(payload.into())
            .message_id(event.message_id())
            .header("Switchboard-Event-Type", event.event_type.as_str());
        let subject = self.events.subject(&event.aggregate_type, &event.aggregate_id);
        self.js
            .send_publish(subject, message)
            .await
            .map_err(|e| InfraError::Nats(format!("publish failed: {e}")))
    }
}

async fn pending(
    conn: &mut PgConnection,
    from: &Checkpoint,
    limit: i64,
) -> Result<Vec<(StoredEvent, String)>, InfraError> {
    let rows = sqlx::query(PENDING)
        .bind(&from.last_tx)
        .bind(from.last_pos)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| Ok((decode(row.try_get(0)?, row)?, row.try_get::<String, _>(8)?)))
        .collect()
}

async fn load_checkpoint(conn: &mut PgConnection, name: &str) -> Result<Checkpoint, InfraError> {
    let row = sqlx::query("SELECT last_tx::text, last_pos FROM relay_checkpoints WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(row) => Checkpoint {
            last_tx: row.try_get(0)?,
            last_pos: row.try_get(1)?,
        },
        None => Checkpoint::default(),
    })
}

async fn save_checkpoint(conn: &mut PgConnection, name: &str, checkpoint: &Checkpoint) -> Result<(), InfraError> {
    sqlx::query(
        "INSERT INTO relay_checkpoints (name, last_tx, last_pos, updated_at) VALUES ($1, $2::text::xid8, $3, now()) \
         ON CONFLICT (name) DO UPDATE SET last_tx = excluded.last_tx, last_pos = excluded.last_pos, updated_at = now()",
    )
    .bind(name)
    .bind(&checkpoint.last_tx)
    .bind(checkpoint.last_pos)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many committed events the relay has not yet published to `stream`:
/// the checkpoint first, then a count over the index from it, so the cost
/// is the backlog's, not the table's.
pub async fn backlog(pool: &PgPool, stream: &str) -> Result<i64, InfraError> {
    let checkpoint = sqlx::query("SELECT last_tx::text, last_pos FROM relay_checkpoints WHERE name = $1")
        .bind(stream)
        .fetch_optional(pool)
        .await?;
    let (last_tx, last_pos): (String, i64) = match checkpoint {
        Some(row) => (row.try_get(0)?, row.try_get(1)?),
        None => ("0".into(), 0),
    };
    let sql = "SELECT count(*) FROM events WHERE (transaction_id, global_position) > ($1::text::xid8, $2)";
    Ok(sqlx::query_scalar(sql)
        .bind(last_tx)
        .bind(last_pos)
        .fetch_one(pool)
        .await?)
}
