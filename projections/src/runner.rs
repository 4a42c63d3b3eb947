//! Drives one projector from one event source until shutdown.

use application::feed::{Delivery, EventSource};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::store::{Outcome, ProjectionStore};
use crate::{ProjectionError, Projector};

const BATCH: usize = 500;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Feeds a projector until `shutdown` is cancelled. Database failures are
/// retried with backoff; a failed source is returned to the caller, which
/// builds a new one. Nothing is acknowledged before its transaction has
/// committed.
pub async fn run(
    projector: Arc<dyn Projector>,
    store: ProjectionStore,
    mut source: Box<dyn EventSource>,
    shutdown: CancellationToken,
) -> Result<(), ProjectionError> {
    while !shutdown.is_cancelled() {
        let batch = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            batch = source.next_batch(BATCH) => batch?,
        };
        if !batch.is_empty() {
            deliver(projector.as_ref(), &store, batch, &shutdown).await?;
        }
    }
    Ok(())
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
    record_lag(projector.name(), &batch, &outcomes);
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

/// Counts applied events and observes, for each, the time from the command
/// that caused it to its read-model commit.
fn record_lag(projector: &'static str, batch: &[Delivery], outcomes: &[Outcome]) {
    let now = chrono::Utc::now();
    let applied = batch.iter().zip(outcomes).filter(|(_, o)| **o == Outcome::Applied);
    let mut count = 0;
    for (delivery, _) in applied {
        count += 1;
        let occurred = delivery
            .event
            .metadata
            .get("occurred_at")
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if let Some(occurred) = occurred {
            let lag = (now - occurred.with_timezone(&chrono::Utc))
                .num_microseconds()
                .unwrap_or(0)
                .max(0);
            metrics::histogram!("switchboard_projection_lag_seconds", "projector" => projector)
                .record(lag as f64 / 1e6);
        }
    }
    metrics::counter!("switchboard_projection_events_total", "projector" => projector).increment(count);
}

struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(Duration::from_millis(100))
    }
}

impl Backoff {
    async fn wait(&mut self, shutdown: &CancellationToken) {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(self.0) => {}
        }
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
    }
}
