//! The live feed realtime push reads, and the backlog a reconnecting client
//! is replayed from.
//!
//! Live: each `serve` process reads every event committed from the moment
//! it starts (not from the beginning, and acknowledging nothing). In the
//! distributed mode that is an ordered, ephemeral JetStream consumer of its
//! own (no durable state on the server, gone with the process); in the
//! embedded default a [`StoreTail`] of the process's [`StoreFeed`] from the
//! head. After a failure the feed is opened again just after the last event
//! its reader confirmed, so a restart loses nothing.
//!
//! Order: a client resumes after the last event it received, so every
//! process must agree on what "after" means. On SQLite it is the position
//! (one writer: position order is commit order). On PostgreSQL positions are
//! drawn before commit, so a transaction can commit after a later position
//! is visible; the relay publishes in `(transaction id, position)` order,
//! reading only rows of transactions older than every running one, so that
//! pair is the order every consumer of the stream sees. [`Cursor`] is that
//! pair, and [`StoreBacklog`] reads and compares in it.

use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull::OrderedConfig};
use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use application::error::StoreError;
use application::feed::{Acknowledge, Delivery, EventSource, StoredEvent};

use super::scan::decode;
use super::tail::{StoreFeed, StoreTail};
use crate::database::{Database, EventDb};
use crate::error::InfraError;
use crate::nats::EventStream;

/// Where an event sits in the order the feed delivers events: the writing
/// transaction (always 0 on SQLite), then the position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cursor {
    pub tx: u64,
    pub position: i64,
}

impl Cursor {
    /// Before every event.
    pub const START: Cursor = Cursor { tx: 0, position: 0 };
}

const COLUMNS: &str = "global_position, aggregate_type, aggregate_id, sequence, event_type, event_version";

/// The store read in delivery order, for replays.
#[derive(Clone)]
pub struct StoreBacklog(pub Database);

impl StoreBacklog {
    /// The newest event every consumer of the feed will have been handed
    /// (on PostgreSQL: of a transaction older than every running one).
    pub async fn horizon(&self) -> Result<Cursor, InfraError> {
        match &self.0.events {
            EventDb::Postgres(pool) => {
                let sql = "SELECT transaction_id::text, global_position FROM events \
                     WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
                     ORDER BY transaction_id DESC, global_position DESC LIMIT 1";
                let row: Option<(String, i64)> = sqlx::query_as(sql).fetch_optional(pool).await?;
                row.map(|(tx, position)| cursor(&tx, position))
                    .transpose()
                    .map(Option::unwrap_or_default)
            }
            EventDb::Sqlite(pool) => {
                let sql = "SELECT COALESCE(MAX(global_position), 0) FROM events";
                let position: i64 = sqlx::query_scalar(sql).fetch_one(pool).await?;
                Ok(Cursor { tx: 0, position })
            }
        }
    }

    /// The cursor of the event at `position`; `None` when there is none.
    pub async fn cursor_of(&self, position: i64) -> Result<Option<Cursor>, InfraError> {
        Ok(self.cursors_of(&[position]).await?.remove(&position))
    }

    /// The cursors of the events at `positions` (those that exist).
    pub async fn cursors_of(&self, positions: &[i64]) -> Result<HashMap<i64, Cursor>, InfraError> {
        match &self.0.events {
            EventDb::Postgres(pool) => {
                let sql = "SELECT global_position, transaction_id::text FROM events WHERE global_position = ANY($1)";
                let rows: Vec<(i64, String)> = sqlx::query_as(sql).bind(positions).fetch_all(pool).await?;
                rows.into_iter()
                    .map(|(position, tx)| Ok((position, cursor(&tx, position)?)))
                    .collect()
            }
            EventDb::Sqlite(pool) => {
                let mut found = HashMap::new();
                for &position in positions {
                    let sql = "SELECT COUNT(*) FROM events WHERE global_position = ?";
                    let count: i64 = sqlx::query_scalar(sql).bind(position).fetch_one(pool).await?;
                    if count > 0 {
                        found.insert(position, Cursor { tx: 0, position });
                    }
                }
                Ok(found)
            }
        }
    }

    /// Up to `limit` of the organisation's events of `types` after `from`,
    /// in delivery order, each with its cursor; only events every consumer
    /// of the feed will have been handed.
    pub async fn after(
        &self,
        organisation_id: &str,
        types: &[&str],
        from: Cursor,
        limit: usize,
    ) -> Result<Vec<(Cursor, StoredEvent)>, InfraError> {
        let types: Vec<String> = types.iter().map(|t| t.to_string()).collect();
        match &self.0.events {
            EventDb::Postgres(pool) => {
                let sql = format!(
                    "SELECT {COLUMNS}, payload::text, metadata::text, transaction_id::text FROM events \
                     WHERE organisation_id = $1 AND aggregate_type = ANY($2) \
                       AND (transaction_id, global_position) > ($3::text::xid8, $4) \
                       AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
                     ORDER BY transaction_id, global_position LIMIT $5"
                );
                let rows = sqlx::query(&sql)
                    .bind(organisation_id)
                    .bind(&types)
                    .bind(from.tx.to_string())
                    .bind(from.position)
                    .bind(limit as i64)
                    .fetch_all(pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        let position: i64 = row.try_get(0)?;
                        let tx: String = row.try_get(8)?;
                        Ok((cursor(&tx, position)?, decode(position, row)?))
                    })
                    .collect()
            }
            EventDb::Sqlite(pool) => {
                let list = vec!["?"; types.len()].join(", ");
                let sql = format!(
                    "SELECT {COLUMNS}, payload, metadata FROM events \
                     WHERE organisation_id = ? AND aggregate_type IN ({list}) AND global_position > ? \
                     ORDER BY global_position LIMIT ?"
                );
                let mut query = sqlx::query(&sql).bind(organisation_id);
                for t in &types {
                    query = query.bind(t.as_str());
                }
                let rows = query.bind(from.position).bind(limit as i64).fetch_all(pool).await?;
                rows.iter()
                    .map(|row| {
                        let position: i64 = row.try_get(0)?;
                        Ok((Cursor { tx: 0, position }, decode(position, row)?))
                    })
                    .collect()
            }
        }
    }
}

fn cursor(tx: &str, position: i64) -> Result<Cursor, InfraError> {
    let tx = tx
        .parse()
        .map_err(|_| InfraError::MalformedEvent(format!("transaction id {tx:?}")))?;
    Ok(Cursor { tx, position })
}

/// The live feed of one process: where it reads, and how far its reader
/// has confirmed.
#[derive(Clone)]
pub enum LiveFeed {
    /// The embedded store's tail; `resume` is the last confirmed position
    /// (-1 until the first opening, which starts at the head).
    Store {
        feed: StoreFeed,
        db: Database,
        types: Vec<String>,
        resume: Arc<AtomicI64>,
    },
    /// An ordered consumer of the JetStream stream; `resume` is the last
    /// confirmed stream sequence (0 until the first opening, which starts
    /// with new messages).
    JetStream {
        js: jetstream::Context,
        events: EventStream,
        types: Vec<String>,
        resume: Arc<AtomicU64>,
    },
}

impl LiveFeed {
    /// The embedded store's events of `types`, from the head.
    pub fn embedded(feed: StoreFeed, db: Database, types: &[&str]) -> Self {
        Self::Store {
            feed,
            db,
            types: owned(types),
            resume: Arc::new(AtomicI64::new(-1)),
        }
    }

    /// The JetStream stream's events of `types`, from new messages.
    pub fn jetstream(js: jetstream::Context, events: EventStream, types: &[&str]) -> Self {
        Self::JetStream {
            js,
            events,
            types: owned(types),
            resume: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Opens the feed just after the last confirmed event (at the head the
    /// first time). Each delivery's acknowledgement confirms it.
    pub async fn open(&self) -> Result<Box<dyn EventSource>, InfraError> {
        match self {
            Self::Store {
                feed,
                db,
                types,
                resume,
            } => {
                let mut position = resume.load(Ordering::SeqCst);
                if position < 0 {
                    position = db.head_position().await?;
                    resume.store(position, Ordering::SeqCst);
                }
                let types: Vec<&str> = types.iter().map(String::as_str).collect();
                let tail = StoreTail::new(feed.clone(), position, &types);
                Ok(Box::new(TrackedTail {
                    tail,
                    resume: resume.clone(),
                }))
            }
            Self::JetStream {
                js,
                events,
                types,
                resume,
            } => Ok(Box::new(LiveJetStream::open(js, events, types, resume.clone()).await?)),
        }
    }
}

fn owned(types: &[&str]) -> Vec<String> {
    types.iter().map(|t| t.to_string()).collect()
}

/// Confirms progress: raises `slot` to `value`.
struct Progress<T> {
    slot: T,
    value: u64,
}

#[async_trait]
impl Acknowledge for Progress<Arc<AtomicI64>> {
    async fn ack(&self) -> Result<(), StoreError> {
        self.slot.fetch_max(self.value as i64, Ordering::SeqCst);
        Ok(())
    }

    async fn retry_later(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl Acknowledge for Progress<Arc<AtomicU64>> {
    async fn ack(&self) -> Result<(), StoreError> {
        self.slot.fetch_max(self.value, Ordering::SeqCst);
        Ok(())
    }

    async fn retry_later(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A store tail whose deliveries confirm their positions.
struct TrackedTail {
    tail: StoreTail,
    resume: Arc<AtomicI64>,
}

#[async_trait]
impl EventSource for TrackedTail {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, StoreError> {
        let batch = self.tail.next_batch(max).await?;
        Ok(batch
            .into_iter()
            .map(|Delivery { event, .. }| {
                let ack = Progress {
                    slot: self.resume.clone(),
                    value: event.position.max(0) as u64,
                };
                Delivery {
                    event,
                    ack: Box::new(ack),
                }
            })
            .collect())
    }
}

/// An ordered, ephemeral consumer: no acknowledgements, no durable state;
/// the client library recreates it after a gap or a reconnection.
struct LiveJetStream {
    messages: jetstream::consumer::pull::Ordered,
    events: EventStream,
    types: Vec<String>,
    tokens: Vec<String>,
    resume: Arc<AtomicU64>,
}

impl LiveJetStream {
    async fn open(
        js: &jetstream::Context,
        events: &EventStream,
        types: &[String],
        resume: Arc<AtomicU64>,
    ) -> Result<Self, InfraError> {
        let nats = |e: &dyn std::fmt::Display| InfraError::Nats(e.to_string());
        let stream = crate::nats::ensure_stream(js, events).await?;
        let deliver_policy = match resume.load(Ordering::SeqCst) {
            0 => DeliverPolicy::New,
            last => DeliverPolicy::ByStartSequence {
                start_sequence: last + 1,
            },
        };
        let config = OrderedConfig {
            filter_subject: format!("{}.>", events.subject_prefix),
            deliver_policy,
            ..Default::default()
        };
        let consumer = stream.create_consumer(config).await.map_err(|e| nats(&e))?;
        let messages = consumer.messages().await.map_err(|e| nats(&e))?;
        Ok(Self {
            messages,
            events: events.clone(),
            types: types.to_vec(),
            tokens: types.iter().map(|t| EventStream::token_of_type(t)).collect(),
            resume,
        })
    }

    /// The event a message carries when it is of a wanted type; the rest
    /// are dropped by their subject, undecoded.
    fn wanted(&self, message: &jetstream::Message) -> Option<StoredEvent> {
        let token = self.events.type_token(&message.subject);
        if token.is_some_and(|token| !self.tokens.iter().any(|t| t == token)) {
            return None;
        }
        match serde_json::from_slice::<StoredEvent>(&message.payload) {
            Ok(event) if self.types.contains(&event.aggregate_type) => Some(event),
            Ok(_) => None,
            Err(error) => {
                tracing::error!(subject = %message.subject, %error, "undecodable message on the event stream; skipped");
                None
            }
        }
    }

    fn stream_sequence(message: &jetstream::Message) -> Result<u64, StoreError> {
        message
            .info()
            .map(|info| info.stream_sequence)
            .map_err(|e| StoreError(format!("a JetStream message without its sequence: {e}")))
    }
}

#[async_trait]
impl EventSource for LiveJetStream {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, StoreError> {
        let first = match tokio::time::timeout(Duration::from_secs(1), self.messages.next()).await {
            Err(_) => return Ok(Vec::new()),
            Ok(None) => return Err(StoreError("the live JetStream consumer ended".into())),
            Ok(Some(first)) => first.map_err(|e| StoreError(e.to_string()))?,
        };
        let mut read = vec![first];
        while read.len() < max {
            match self.messages.next().now_or_never() {
                Some(Some(Ok(message))) => read.push(message),
                Some(Some(Err(e))) => return Err(StoreError(e.to_string())),
                _ => break,
            }
        }
        // Each delivery confirms the messages up to the next wanted one, so
        // a dropped message is confirmed only with the events before it.
        let mut deliveries: Vec<(StoredEvent, u64)> = Vec::new();
        let mut skipped_to = None;
        for message in &read {
            let sequence = Self::stream_sequence(message)?;
            match self.wanted(message) {
                Some(event) => deliveries.push((event, sequence)),
                None => match deliveries.last_mut() {
                    Some((_, last)) => *last = sequence,
                    None => skipped_to = Some(sequence),
                },
            }
        }
        if let Some(sequence) = skipped_to {
            self.resume.fetch_max(sequence, Ordering::SeqCst);
        }
        Ok(deliveries
            .into_iter()
            .map(|(event, value)| Delivery {
                event,
                ack: Box::new(Progress {
                    slot: self.resume.clone(),
                    value,
                }),
            })
            .collect())
    }
}
