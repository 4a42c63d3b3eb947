//! The embedded feed: projectors tail the SQLite events table in-process.
//! SQLite has one writer, so position order is commit order and a tail by
//! position never skips an event.

use async_trait::async_trait;
use std::time::Duration;
use tokio::sync::watch;

use application::error::StoreError;
use application::feed::{Delivery, EventSource};

use super::CheckpointedAck;
use super::scan::events_after;
use crate::database::EventDb;

/// Wait between polls when no commit in this process signalled new events
/// (another process, such as the CLI, may have written).
const IDLE_POLL: Duration = Duration::from_millis(250);

pub struct StoreTail {
    db: EventDb,
    position: i64,
    types: Vec<String>,
    commits: watch::Receiver<u64>,
}

impl StoreTail {
    /// A tail starting after `position`, delivering only `types`.
    pub fn new(db: EventDb, position: i64, types: &[&str], commits: watch::Receiver<u64>) -> Self {
        Self {
            db,
            position,
            types: types.iter().map(|t| t.to_string()).collect(),
            commits,
        }
    }

    async fn wait_for_commit(&mut self) {
        let _ = tokio::time::timeout(IDLE_POLL, self.commits.changed()).await;
    }
}

#[async_trait]
impl EventSource for StoreTail {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, StoreError> {
        self.commits.borrow_and_update();
        let events = events_after(&self.db, self.position, max as i64).await?;
        let Some(last) = events.last() else {
            self.wait_for_commit().await;
            return Ok(Vec::new());
        };
        self.position = last.position;
        Ok(events
            .into_iter()
            .filter(|e| self.types.contains(&e.aggregate_type))
            .map(|event| Delivery {
                event,
                ack: Box::new(CheckpointedAck),
            })
            .collect())
    }
}
