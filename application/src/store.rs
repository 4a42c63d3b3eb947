//! The port through which use cases run commands and load aggregates.

use async_trait::async_trait;
use cqrs_es::{Aggregate, AggregateError};
use rand::Rng;
use std::time::Duration;

use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;

/// How many times a command that lost an optimistic-concurrency race is
/// re-run against the newer state before the caller gets a conflict.
pub const CONFLICT_ATTEMPTS: u32 = 5;

/// An aggregate as loaded from its events, with its version.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub aggregate: A,
    pub version: usize,
}

/// Runs commands against event-sourced aggregates of one type.
#[async_trait]
pub trait AggregateStore<A: Aggregate>: Send + Sync {
    /// Loads, decides and commits once; a lost race is `AggregateConflict`.
    async fn execute_once(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<(), AggregateError<A::Error>>;

    /// Decides against the empty aggregate and appends from version 1,
    /// reading nothing first; a taken version 1 is `AggregateConflict`.
    /// Stores that cannot skip the load run the command as usual.
    async fn execute_new_once(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<(), AggregateError<A::Error>>
    where
        A::Command: Send + 'static,
    {
        self.execute_once(aggregate_id, command, metadata).await
    }

    /// The aggregate rebuilt from all its events; `None` if it has none.
    async fn load(&self, aggregate_id: &str) -> Result<Option<Loaded<A>>, StoreError>;

    /// As [`execute_once`](Self::execute_once), and the aggregate as the
    /// command left it: what a load right after the commit builds. A store
    /// that holds that state answers without reading it again.
    async fn execute_once_returning(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Loaded<A>, AggregateError<A::Error>>
    where
        A::Command: Send + 'static,
    {
        self.execute_once(aggregate_id, command, metadata).await?;
        self.state(aggregate_id).await
    }

    /// As [`execute_new_once`](Self::execute_new_once), and the aggregate
    /// as the command left it.
    async fn execute_new_once_returning(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Loaded<A>, AggregateError<A::Error>>
    where
        A::Command: Send + 'static,
    {
        self.execute_new_once(aggregate_id, command, metadata).await?;
        self.state(aggregate_id).await
    }

    /// As [`execute_once_returning`](Self::execute_once_returning),
    /// deciding against `loaded`, the aggregate as the caller has just
    /// loaded it, instead of reading it again where the store can; an event
    /// appended since is `AggregateConflict`.
    async fn execute_once_on(
        &self,
        aggregate_id: &str,
        loaded: Loaded<A>,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Loaded<A>, AggregateError<A::Error>>
    where
        A: 'static,
        A::Command: Send + 'static,
    {
        drop(loaded);
        self.execute_once_returning(aggregate_id, command, metadata).await
    }

    /// The aggregate as stored now, the empty one at version 0 if it has
    /// no events.
    async fn state(&self, aggregate_id: &str) -> Result<Loaded<A>, AggregateError<A::Error>> {
        let loaded = self
            .load(aggregate_id)
            .await
            .map_err(|e| AggregateError::UnexpectedError(Box::new(e)))?;
        Ok(loaded.unwrap_or_else(|| Loaded {
            aggregate: A::default(),
            version: 0,
        }))
    }

    /// Runs a command, re-running it with jitter when another writer won.
    async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<(), CommandError<A::Error>>
    where
        A::Command: Clone + Send + 'static,
        A::Error: Send + 'static,
    {
        self.execute_returning(aggregate_id, command, metadata).await.map(drop)
    }

    /// As [`execute`](Self::execute), and the aggregate as the command
    /// that was committed left it.
    async fn execute_returning(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Loaded<A>, CommandError<A::Error>>
    where
        A::Command: Clone + Send + 'static,
        A::Error: Send + 'static,
    {
        let mut attempt = 1;
        loop {
            match self
                .execute_once_returning(aggregate_id, command.clone(), &metadata.restamped())
                .await
            {
                Err(AggregateError::AggregateConflict) if attempt < CONFLICT_ATTEMPTS => {
                    tokio::time::sleep(jitter(attempt)).await;
                    attempt += 1;
                }
                outcome => return outcome.map_err(CommandError::from),
            }
        }
    }
}

/// Runs a command on an aggregate whose id the caller has just drawn at
/// random (a new API key, say), so it has no events yet: nothing is read
/// before the append. Should the id have been taken after all, the append
/// finds version 1 taken and the command is run again the usual way,
/// against what is stored.
pub async fn execute_new<A, S>(
    store: &S,
    aggregate_id: &str,
    command: A::Command,
    metadata: &EventMetadata,
) -> Result<(), CommandError<A::Error>>
where
    A: Aggregate,
    A::Command: Clone + Send + 'static,
    A::Error: Send + 'static,
    S: AggregateStore<A> + ?Sized,
{
    execute_new_returning(store, aggregate_id, command, metadata)
        .await
        .map(drop)
}

/// As [`execute_new`], and the aggregate as the command that was committed
/// left it.
pub async fn execute_new_returning<A, S>(
    store: &S,
    aggregate_id: &str,
    command: A::Command,
    metadata: &EventMetadata,
) -> Result<Loaded<A>, CommandError<A::Error>>
where
    A: Aggregate,
    A::Command: Clone + Send + 'static,
    A::Error: Send + 'static,
    S: AggregateStore<A> + ?Sized,
{
    match store
        .execute_new_once_returning(aggregate_id, command.clone(), &metadata.restamped())
        .await
    {
        Err(AggregateError::AggregateConflict) => store.execute_returning(aggregate_id, command, metadata).await,
        outcome => outcome.map_err(CommandError::from),
    }
}

fn jitter(attempt: u32) -> Duration {
    let ceiling = 5 * 2u64.pow(attempt);
    Duration::from_millis(rand::thread_rng().gen_range(1..=ceiling))
}

/// Runs a command on the aggregate the caller has just loaded (`loaded`),
/// without reading it again. Should another writer have appended since,
/// the command is run again the usual way, against what is stored.
pub async fn execute_on<A, S>(
    store: &S,
    aggregate_id: &str,
    loaded: Loaded<A>,
    command: A::Command,
    metadata: &EventMetadata,
) -> Result<Loaded<A>, CommandError<A::Error>>
where
    A: Aggregate + 'static,
    A::Command: Clone + Send + 'static,
    A::Error: Send + 'static,
    S: AggregateStore<A> + ?Sized,
{
    match store
        .execute_once_on(aggregate_id, loaded, command.clone(), &metadata.restamped())
        .await
    {
        Err(AggregateError::AggregateConflict) => store.execute_returning(aggregate_id, command, metadata).await,
        outcome => outcome.map_err(CommandError::from),
    }
}
