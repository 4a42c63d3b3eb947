//! Drives one projector from one event source until shutdown.

use application::feed::{Delivery, EventSource};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::store::{Outcome, ProjectionStore};
use crate::{ProjectionError, Projector};

const BATCH: usize = 500;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Feeds a projector until `shutdown` is cancelled. Source and database
/// failures are logged and retried with backoff; nothing is acknowledged
/// before its transaction has committed.
pub async fn run(projector: Arc<dyn Projector>, store: ProjectionStore, mut source: Box<dyn EventSource>, shutdown: CancellationToken) {
    let mut backoff = Backoff::default();
    while !shutdown.is_cancelled() {
        let batch = tokio::select! {
            _ = shutdown.cancelled() => return,
            batch = source.next_batch(BATCH) => batch,
        };
        match batch {
            Ok(batch) if batch.is_empty() => {}
            Ok(batch) => {
                if deliver(projector.as_ref(), &store, batch, &shutdown).await.is_ok() {
                    backoff.reset();
                }
            }
            Err(error) => {
                tracing::warn!(projector = projector.name(), %error, "event source failed");
                backoff.wait(&shutdown).await;
            }
        }
    }
}

async fn deliver(
    projector: &dyn Projector,
    store: &ProjectionStore,
    batch: Vec<Delivery>,
    shutdown: &CancellationToken,
) -> Result<(), ProjectionError> {
    let events: Vec<_> = batch.iter().map(|d| &d.event).collect();
    let mut backoff = Backoff::default();
    let outcomes = loop {
        match store.apply_batch(projector, &events).await {
            Ok(outcomes) => break outcomes,
            Err(error) if !shutdown.is_cancelled() => {
                tracing::error!(projector = projector.name(), %error, "projection failed; retrying");
                backoff.wait(shutdown).await;
            }
            Err(error) => return Err(error),
        }
    };
    metrics::counter!("switchboard_projection_events_total", "projector" => projector.name())
        .increment(outcomes.iter().filter(|o| **o == Outcome::Applied).count() as u64);
    for (delivery, outcome) in batch.iter().zip(outcomes) {
        let acked = match outcome {
            Outcome::Applied | Outcome::Duplicate => delivery.ack.ack().await,
            Outcome::Gap => delivery.ack.retry_later().await,
        };
        if let Err(error) = acked {
            tracing::warn!(projector = projector.name(), %error, "acknowledgement failed; the event will be redelivered");
        }
    }
    Ok(())
}

struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(Duration::from_millis(100))
    }
}

impl Backoff {
    fn reset(&mut self) {
        *self = Self::default();
    }

    async fn wait(&mut self, shutdown: &CancellationToken) {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(self.0) => {}
        }
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
    }
}
