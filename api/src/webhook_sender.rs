//! The webhook workers of a `work` process: every poll, the deliveries due
//! are claimed (each by exactly one process), signed and posted; a full
//! round looks again at once, an empty one waits for the next poll.

use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// Deliveries claimed per round.
const BATCH: usize = 64;

/// Sends due webhooks until `stop`.
pub async fn run(state: Arc<AppState>, stop: CancellationToken) -> Result<(), String> {
    let poll = Duration::from_millis(state.settings.webhook_poll_ms.max(1));
    loop {
        let webhooks = state.webhooks();
        let attempted = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            attempted = webhooks.deliver_due(BATCH) => attempted.map_err(|e| e.to_string())?,
        };
        if attempted == BATCH {
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(poll) => {}
        }
    }
}
