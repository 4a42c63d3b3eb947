//! cqrs-es in event-sourced mode on PostgreSQL (postgres-es) or SQLite
//! (sqlite-es), chosen at run time.
//!
//! The snapshot and aggregate-store modes of cqrs-es 0.5.0 apply every new
//! event twice, and no snapshot table exists: aggregates are rebuilt from
//! their events, remembered in memory and brought up to date with the
//! events after the remembered version ([`cached`]).

use async_trait::async_trait;
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{
    EventStoreAggregateContext, PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use cqrs_es::{Aggregate, AggregateError, EventStore};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;
use tokio::sync::watch;

use application::error::StoreError;
use application::{AggregateStore, EventMetadata, Loaded};

use crate::database::{Database, EventDb};

mod append;
mod cached;
mod group;

pub use cached::{CachingEventStore, REMEMBERED_PER_TYPE};
pub use group::{Appender, MAX_BATCH_ROWS};

/// The event repository of whichever database is configured. Loading is
/// the crates' (on [`Database::loads`]); appending is one statement of our
/// own ([`append`]), written with other commands' by the database's
/// [`Appender`].
pub enum AnyRepo {
    Postgres(PostgresEventRepository, Appender),
    Sqlite(SqliteEventRepository, Appender),
}

impl AnyRepo {
    pub fn new(db: &Database) -> Self {
        let appender = db.appender.clone();
        match &db.loads {
            EventDb::Postgres(load) => AnyRepo::Postgres(PostgresEventRepository::new(load.clone()), appender),
            EventDb::Sqlite(load) => AnyRepo::Sqlite(SqliteEventRepository::new(load.clone()), appender),
        }
    }

    /// Appends one command's events, all or none.
    pub async fn append(&self, events: Vec<SerializedEvent>) -> Result<(), PersistenceError> {
        match self {
            AnyRepo::Postgres(_, appender) | AnyRepo::Sqlite(_, appender) => appender.append(events).await,
        }
    }
}

macro_rules! delegate {
    ($self:ident, $repo:ident => $call:expr) => {
        match $self {
            AnyRepo::Postgres($repo, _) => $call.await,
            AnyRepo::Sqlite($repo, _) => $call.await,
        }
    };
}

impl PersistedEventRepository for AnyRepo {
    async fn get_events<A: Aggregate>(&self, id: &str) -> Result<Vec<SerializedEvent>, PersistenceError> {
        delegate!(self, r => r.get_events::<A>(id))
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        id: &str,
        last: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        delegate!(self, r => r.get_last_events::<A>(id, last))
    }

    async fn get_snapshot<A: Aggregate>(&self, id: &str) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        delegate!(self, r => r.get_snapshot::<A>(id))
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        match snapshot {
            None => self.append(events.to_vec()).await,
            snapshot => delegate!(self, r => r.persist::<A>(events, snapshot)),
        }
    }

    async fn stream_events<A: Aggregate>(&self, id: &str) -> Result<ReplayStream, PersistenceError> {
        delegate!(self, r => r.stream_events::<A>(id))
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        delegate!(self, r => r.stream_all_events::<A>())
    }
}

/// Counts commits in this process, so in-process feeds wake at once.
pub type CommitSignal = watch::Sender<u64>;

/// The store of one aggregate type.
pub struct EsStore<A: Aggregate + Clone + 'static> {
    loader: CachingEventStore<A>,
    services: A::Services,
    committed: CommitSignal,
}

impl<A: Aggregate + Clone + 'static> EsStore<A> {
    pub fn new(db: &Database, services: A::Services, committed: CommitSignal) -> Self {
        Self {
            loader: CachingEventStore::new(db),
            services,
            committed,
        }
    }

    /// Decides the command against `context` and commits what it decided
    /// (as cqrs-es's framework does, with no queries); the aggregate the
    /// event sink applied the events to is the state after the commit.
    async fn run(
        &self,
        mut context: EventStoreAggregateContext<A>,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Loaded<A>, AggregateError<A::Error>> {
        let sink = EventSink::default();
        context
            .aggregate
            .handle(command, &self.services, &sink)
            .await
            .map_err(AggregateError::UserError)?;
        let events = sink.collect().await;
        let version = context.current_sequence + events.len();
        let aggregate = context.aggregate.clone();
        if !events.is_empty() {
            self.loader.commit(events, context, metadata.to_map()).await?;
            self.committed.send_modify(|count| *count += 1);
        }
        Ok(Loaded { aggregate, version })
    }
}

#[async_trait]
impl<A> AggregateStore<A> for EsStore<A>
where
    A: Aggregate + Clone + 'static,
    A::Command: Send + Sync,
    A::Services: Send + Sync,
{
    async fn execute_once(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<(), AggregateError<A::Error>> {
        self.execute_once_returning(aggregate_id, command, metadata)
            .await
            .map(drop)
    }

    async fn execute_new_once(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<(), AggregateError<A::Error>>
    where
        A::Command: Send + 'static,
    {
        self.execute_new_once_returning(aggregate_id, command, metadata)
            .await
            .map(drop)
    }

    async fn execute_once_returning(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Loaded<A>, AggregateError<A::Error>> {
        let context = self.loader.load_aggregate(aggregate_id).await?;
        self.run(context, command, metadata).await
    }

    async fn execute_once_on(
        &self,
        aggregate_id: &str,
        loaded: Loaded<A>,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Loaded<A>, AggregateError<A::Error>>
    where
        A::Command: Send + 'static,
    {
        let context = EventStoreAggregateContext {
            aggregate_id: aggregate_id.to_string(),
            aggregate: loaded.aggregate,
            current_sequence: loaded.version,
            current_snapshot: None,
        };
        self.run(context, command, metadata).await
    }

    async fn execute_new_once_returning(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Loaded<A>, AggregateError<A::Error>>
    where
        A::Command: Send + 'static,
    {
        let context = self.loader.new_aggregate(aggregate_id);
        self.run(context, command, metadata).await
    }

    async fn load(&self, aggregate_id: &str) -> Result<Option<Loaded<A>>, StoreError> {
        let context = self
            .loader
            .load_aggregate(aggregate_id)
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        Ok((context.current_sequence > 0).then_some(Loaded {
            aggregate: context.aggregate,
            version: context.current_sequence,
        }))
    }
}
