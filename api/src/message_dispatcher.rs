//! The SMS dispatcher and reconciler of a `work` process: hands recorded
//! messages to Exotel in request order (one organisation's queue at a
//! time, each organisation beside the others) once their time has come,
//! records attempts in doubt for too long as unknown, and asks Exotel after
//! messages whose final report did not come. Any number of processes may
//! run them: an attempt is claimed on the message itself, so exactly one
//! process asks Exotel.

use chrono::Duration as Span;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use application::messages::{Attempt, MessageDirectory};

use crate::state::AppState;

/// Messages taken from each organisation's queue per look.
const BATCH: u32 = 200;
/// How long submitted messages are still asked after for their report.
const REPORT_HORIZON: Duration = Duration::from_secs(24 * 3600);
/// Seconds between the reconciler's passes.
const RECONCILE_EVERY: Duration = Duration::from_secs(30);

/// Sends due messages until `stop`: each organisation's queue on its own
/// task, so one account waiting out its rate holds up no other.
pub async fn run_dispatcher(state: Arc<AppState>, stop: CancellationToken) -> Result<(), String> {
    let poll = Duration::from_millis(state.settings.message_dispatch_poll_ms.max(1));
    let busy: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let now = state.clock.now();
        let promotional = domain::sms::within_promotional_hours(now);
        // A failed look at the queue is tried again on the next poll: the
        // attempts under way finish rather than being cut off.
        let due = match state.message_directory.due(now, promotional, BATCH).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "reading the message queue failed");
                Vec::new()
            }
        };
        let mut queues: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for (message_id, organisation_id) in due {
            queues.entry(organisation_id).or_default().push(message_id);
        }
        for (organisation_id, queue) in queues {
            let taken = busy.lock().map(|mut b| b.insert(organisation_id)).unwrap_or(false);
            if !taken {
                continue;
            }
            let (state, busy, stop) = (state.clone(), busy.clone(), stop.clone());
            tasks.spawn(async move {
                send_in_order(&state, queue, &stop).await;
                if let Ok(mut busy) = busy.lock() {
                    busy.remove(&organisation_id);
                }
            });
        }
        tokio::select! {
            _ = stop.cancelled() => {
                finish(tasks, &state).await;
                return Ok(());
            }
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Lets the attempts under way end (each queue stops before its next
/// message), so none is left claimed but unsent; after the longest a
/// request to Exotel may take, what is left is cut off.
async fn finish(mut tasks: JoinSet<()>, state: &AppState) {
    let grace = Duration::from_secs(state.settings.exotel_timeout_secs.max(1) + 5);
    let drained = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("SMS and WhatsApp attempts still under way at shutdown were cut off");
        tasks.abort_all();
    }
}

/// One organisation's due messages, one after another, until `stop`.
async fn send_in_order(state: &AppState, queue: Vec<Uuid>, stop: &CancellationToken) {
    for message_id in queue {
        if stop.is_cancelled() {
            return;
        }
        match state.messages().dispatch(message_id).await {
            Ok(Attempt::Refused { message }) => tracing::info!(%message_id, %message, "SMS refused"),
            Ok(Attempt::NotSent { reason }) => {
                tracing::warn!(%message_id, %reason, "SMS not sent; it stays queued");
                return;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%message_id, %error, "dispatching an SMS failed");
                return;
            }
        }
    }
}

/// Fetches customers' media files still at the provider, every dispatch
/// poll, until `stop`. A file that could not be fetched is tried again
/// after 2 s, doubling to 10 minutes, so a failing provider is not hammered.
pub async fn run_media_fetcher(state: Arc<AppState>, stop: CancellationToken) -> Result<(), String> {
    let every = Duration::from_millis(state.settings.message_dispatch_poll_ms.max(50));
    let mut backoff: BTreeMap<Uuid, (u32, Instant)> = BTreeMap::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(every) => {}
        }
        let now = Instant::now();
        let waiting = |id| backoff.get(&id).is_some_and(|(_, until)| *until > now);
        let outcomes = match state.inbound_media().fetch_pending(BATCH, &waiting).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                tracing::warn!(%error, "reading the media to fetch failed");
                continue;
            }
        };
        for (message_id, outcome) in outcomes {
            let Err(error) = outcome else {
                backoff.remove(&message_id);
                continue;
            };
            let failures = backoff.get(&message_id).map_or(0, |(n, _)| *n) + 1;
            let wait = Duration::from_secs(2u64.saturating_pow(failures.min(10))).min(MEDIA_BACKOFF_CAP);
            tracing::warn!(%message_id, %error, failures, "a media file could not be fetched");
            backoff.insert(message_id, (failures, now + wait));
        }
    }
}

/// The longest wait before a media file is tried again.
const MEDIA_BACKOFF_CAP: Duration = Duration::from_secs(600);

/// Reconciles every 30 seconds until `stop`.
pub async fn run_reconciler(state: Arc<AppState>, stop: CancellationToken) -> Result<(), String> {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(RECONCILE_EVERY) => {}
        }
        reconcile_once(&state).await.map_err(|e| e.to_string())?;
    }
}

/// One pass: attempts in doubt past the report wait given up as unknown,
/// and submitted messages without a final report looked up.
pub async fn reconcile_once(state: &AppState) -> Result<(), application::error::StoreError> {
    let messages = state.messages();
    let now = state.clock.now();
    let span = |d: Duration| Span::from_std(d).unwrap_or_default();
    for message_id in state
        .message_directory
        .in_doubt(now - span(messages.timing.report_wait), BATCH)
        .await?
    {
        if let Err(error) = messages.give_up(message_id).await {
            tracing::warn!(%message_id, %error, "recording an SMS's outcome as unknown failed");
        }
    }
    let window = (now - span(REPORT_HORIZON), now - span(messages.timing.look_up_after));
    for message_id in state.message_directory.unreported(window, BATCH).await? {
        if let Err(error) = messages.reconcile(message_id).await {
            tracing::warn!(%message_id, %error, "looking up an SMS failed");
        }
    }
    Ok(())
}
