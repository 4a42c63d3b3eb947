//! The ordered event feed projectors consume: the same shape whether it
//! comes from a JetStream consumer or from a tail of the embedded store.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::error::StoreError;

/// One committed event as the feed carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Position in the store (commit-safe order); unique across all aggregates.
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The aggregate's version after this event, from 1.
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: serde_json::Value,
    pub metadata: HashMap<String, String>,
}

impl StoredEvent {
    /// `type:id:sequence`: globally unique and stable, used as the JetStream
    /// message id so re-publishing is de-duplicated.
    pub fn message_id(&self) -> String {
        format!("{}:{}:{}", self.aggregate_type, self.aggregate_id, self.sequence)
    }

    /// The organisation the event belongs to, from its metadata.
    pub fn organisation_id(&self) -> Option<uuid::Uuid> {
        self.metadata
            .get("organisation_id")
            .and_then(|v| uuid::Uuid::parse_str(v).ok())
    }
}

/// Confirms a delivery once its effect is durably committed.
#[async_trait]
pub trait Acknowledge: Send + Sync {
    /// The event was applied (or was a duplicate): do not deliver it again.
    async fn ack(&self) -> Result<(), StoreError>;
    /// The event could not be applied now: deliver it again later.
    async fn retry_later(&self) -> Result<(), StoreError>;
}

/// An event handed to a consumer, with the means to acknowledge it.
pub struct Delivery {
    pub event: StoredEvent,
    pub ack: Box<dyn Acknowledge>,
}

/// A source of events in per-aggregate order, delivered at least once.
#[async_trait]
pub trait EventSource: Send {
    /// Waits for the next events (at most `max`); may return an empty batch
    /// when nothing arrived within the source's own wait.
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, StoreError>;
}

/// The whole event log in position order, for rebuilding projections.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Up to `limit` committed events after `position`, in position order.
    async fn read_after(&self, position: i64, limit: usize) -> Result<Vec<StoredEvent>, StoreError>;
    /// The highest position committed so far.
    async fn head(&self) -> Result<i64, StoreError>;
}
