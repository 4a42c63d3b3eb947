//! Loading aggregates without replaying their whole history every time.
//!
//! cqrs-es 0.5.0's snapshots apply every new event twice, so they are not
//! used. Instead each store keeps the aggregates it loaded or committed
//! lately in memory, with the version they were built to, and a load reads
//! only the events after that version (`sequence > $3`): a state built from
//! events 1..v, then v+1..n, is the state a full replay of 1..n builds, as
//! applying an event depends on nothing but the state and the event.
//!
//! The store stays the one source of truth: every load asks it for newer
//! events, so an event committed by another process (or another store of
//! the same type) is seen as soon as it would be by a full replay, and a
//! commit still fails on a version someone else took since the load. A
//! remembered state only ever moves forward: a load or commit that built
//! an older version than the one remembered leaves the newer one.

use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventRepository, PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, AggregateError, EventEnvelope, EventStore};
use futures::TryStreamExt;
use lru::LruCache;
use sqlx::Row;
use sqlx::types::Json;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use super::AnyRepo;
use crate::database::{Database, EventDb};

/// How many aggregates of one type a store remembers (the least recently
/// used go first).
pub const REMEMBERED_PER_TYPE: usize = 4096;

const PG_EVENTS_AFTER: &str = "SELECT sequence, payload FROM events \
     WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence";
const SQLITE_EVENTS_AFTER: &str = "SELECT sequence, payload FROM events \
     WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND sequence > ?3 ORDER BY sequence";

/// One row of `sequence, payload`, the payload decoded straight from the
/// database's JSON into the event.
macro_rules! decode {
    ($a:ty, $row:expr) => {{
        let row = $row;
        let sequence: i64 = row.try_get(0).map_err(load_error)?;
        let Json(event) = row
            .try_get::<Json<<$a as Aggregate>::Event>, _>(1)
            .map_err(load_error)?;
        Ok::<_, PersistenceError>((sequence as usize, event))
    }};
}

/// An aggregate as built from its first `version` events.
#[derive(Clone)]
struct Remembered<A> {
    aggregate: A,
    version: usize,
}

struct Shared<A> {
    loads: EventDb,
    repo: AnyRepo,
    remembered: Mutex<LruCache<String, Remembered<A>>>,
}

/// The event store of one aggregate type, remembering recent aggregates.
/// Clones share what they remember.
pub struct CachingEventStore<A> {
    shared: Arc<Shared<A>>,
}

impl<A> Clone for CachingEventStore<A> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<A: Aggregate + Clone> CachingEventStore<A> {
    pub fn new(db: &Database) -> Self {
        Self::with_capacity(db, REMEMBERED_PER_TYPE)
    }

    pub fn with_capacity(db: &Database, capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            shared: Arc::new(Shared {
                loads: db.loads.clone(),
                repo: AnyRepo::new(db),
                remembered: Mutex::new(LruCache::new(capacity)),
            }),
        }
    }

    /// The context of an aggregate without events, for a command on a new
    /// aggregate: its commit appends from version 1.
    pub fn new_aggregate(&self, aggregate_id: &str) -> EventStoreAggregateContext<A> {
        EventStoreAggregateContext {
            aggregate_id: aggregate_id.to_string(),
            aggregate: A::default(),
            current_sequence: 0,
            current_snapshot: None,
        }
    }

    /// How many aggregates are remembered now.
    pub fn remembered(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Remembered<A>>> {
        // A panic while holding the lock cannot leave a half-built entry:
        // entries are replaced whole.
        self.shared.remembered.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn recall(&self, aggregate_id: &str) -> Option<Remembered<A>> {
        self.lock().get(aggregate_id).cloned()
    }

    fn remember(&self, aggregate_id: &str, aggregate: A, version: usize) {
        let mut remembered = self.lock();
        let newer = remembered.peek(aggregate_id).is_none_or(|r| r.version < version);
        if newer {
            remembered.put(aggregate_id.to_string(), Remembered { aggregate, version });
        }
    }

    /// Applies the aggregate's events after `version` to `aggregate`, in
    /// order, as they are read (a long history is never held in memory
    /// whole), and returns the version reached.
    async fn apply_after(
        &self,
        aggregate_id: &str,
        aggregate: &mut A,
        version: usize,
    ) -> Result<usize, PersistenceError> {
        let after = i64::try_from(version).map_err(|e| PersistenceError::UnknownError(Box::new(e)))?;
        let mut reached = version;
        macro_rules! apply_rows {
            ($sql:expr, $pool:expr) => {{
                let mut rows = sqlx::query($sql)
                    .bind(A::TYPE)
                    .bind(aggregate_id)
                    .bind(after)
                    .fetch($pool);
                while let Some(row) = rows.try_next().await.map_err(load_error)? {
                    let (sequence, event) = decode!(A, &row)?;
                    aggregate.apply(event);
                    reached = sequence;
                }
            }};
        }
        match &self.shared.loads {
            EventDb::Postgres(pool) => apply_rows!(PG_EVENTS_AFTER, pool),
            EventDb::Sqlite(pool) => apply_rows!(SQLITE_EVENTS_AFTER, pool),
        }
        Ok(reached)
    }
}

fn load_error(error: sqlx::Error) -> PersistenceError {
    match error {
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            PersistenceError::DeserializationError(Box::new(error))
        }
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => {
            PersistenceError::ConnectionError(Box::new(error))
        }
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}

impl<A> EventStore<A> for CachingEventStore<A>
where
    A: Aggregate + Clone + 'static,
{
    type AC = EventStoreAggregateContext<A>;

    async fn load_events(&self, aggregate_id: &str) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let serialized = self.shared.repo.get_events::<A>(aggregate_id).await?;
        let mut envelopes = Vec::with_capacity(serialized.len());
        for event in serialized {
            envelopes.push(EventEnvelope::try_from(event)?);
        }
        Ok(envelopes)
    }

    async fn load_aggregate(&self, aggregate_id: &str) -> Result<Self::AC, AggregateError<A::Error>> {
        let start = self.recall(aggregate_id);
        let (mut aggregate, from) = match start {
            Some(r) => (r.aggregate, r.version),
            None => (A::default(), 0),
        };
        let version = self.apply_after(aggregate_id, &mut aggregate, from).await?;
        if version > from {
            self.remember(aggregate_id, aggregate.clone(), version);
        }
        Ok(EventStoreAggregateContext {
            aggregate_id: aggregate_id.to_string(),
            aggregate,
            current_sequence: version,
            current_snapshot: None,
        })
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: Self::AC,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let EventStoreAggregateContext {
            aggregate_id,
            aggregate,
            current_sequence,
            ..
        } = context;
        let envelopes: Vec<EventEnvelope<A>> = events
            .into_iter()
            .zip(current_sequence + 1..)
            .map(|(payload, sequence)| EventEnvelope {
                aggregate_id: aggregate_id.clone(),
                sequence,
                payload,
                metadata: metadata.clone(),
            })
            .collect();
        let serialized = envelopes
            .iter()
            .map(SerializedEvent::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        self.shared.repo.append(serialized).await?;
        // cqrs-es's event sink applied each event to the context's aggregate
        // as the command wrote it: the aggregate is already the state after
        // these events (applying them again is the snapshot bug's trap).
        let version = current_sequence + envelopes.len();
        self.remember(&aggregate_id, aggregate, version);
        Ok(envelopes)
    }
}
