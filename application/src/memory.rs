//! Aggregates kept in memory through cqrs-es's own store, for the use
//! cases' tests.

use async_trait::async_trait;
use cqrs_es::mem_store::MemStore;
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, EventStore};

use crate::error::StoreError;
use crate::metadata::EventMetadata;
use crate::store::{AggregateStore, Loaded};

/// Aggregates kept in memory, through the framework's own store.
pub(crate) struct Memory<A: Aggregate<Services = ()> + Clone> {
    store: MemStore<A>,
    cqrs: CqrsFramework<A, MemStore<A>>,
}

impl<A: Aggregate<Services = ()> + Clone> Memory<A> {
    pub(crate) fn new() -> Self {
        let store = MemStore::<A>::default();
        let cqrs = CqrsFramework::new(store.clone(), Vec::new(), ());
        Self { store, cqrs }
    }
}

#[async_trait]
impl<A: Aggregate<Services = ()> + Clone + 'static> AggregateStore<A> for Memory<A>
where
    A::Command: Send + Sync,
{
    async fn execute_once(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<(), AggregateError<A::Error>> {
        self.cqrs
            .execute_with_metadata(aggregate_id, command, metadata.to_map())
            .await
    }

    async fn load(&self, aggregate_id: &str) -> Result<Option<Loaded<A>>, StoreError> {
        let events = self
            .store
            .load_events(aggregate_id)
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        let version = events.len();
        let mut aggregate = A::default();
        for event in events {
            aggregate.apply(event.payload);
        }
        Ok((version > 0).then_some(Loaded { aggregate, version }))
    }
}
