//! The call dispatcher and reconciler of a `work` process: places recorded
//! calls in request order (one organisation's queue at a time, each
//! organisation beside the others), looks up attempts in doubt, and asks
//! Exotel for calls whose callbacks never came. Any number of processes
//! may run them: an attempt is claimed on the call itself, so exactly one
//! process asks Exotel.

use chrono::{Duration as Span, Utc};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use application::calls::{Attempt, CallDirectory};

use crate::state::AppState;

/// Calls taken from each organisation's queue per look.
const BATCH: u32 = 200;
/// How long ended calls are still reconciled for missing details.
const DETAILS_HORIZON: Duration = Duration::from_secs(3600);

/// Places due calls until `stop`: each organisation's queue on its own
/// task, so one account waiting out its rate holds up no other.
pub async fn run_dispatcher(state: Arc<AppState>, stop: CancellationToken) -> Result<(), String> {
    let poll = Duration::from_millis(state.settings.call_dispatch_poll_ms.max(1));
    let busy: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let due = state.call_directory.due(BATCH).await.map_err(|e| e.to_string())?;
        let mut queues: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for (call_id, organisation_id) in due {
            queues.entry(organisation_id).or_default().push(call_id);
        }
        for (organisation_id, queue) in queues {
            let taken = busy.lock().map(|mut b| b.insert(organisation_id)).unwrap_or(false);
            if !taken {
                continue;
            }
            let (state, busy) = (state.clone(), busy.clone());
            tasks.spawn(async move {
                place_in_order(&state, queue).await;
                if let Ok(mut busy) = busy.lock() {
                    busy.remove(&organisation_id);
                }
            });
        }
        tokio::select! {
            _ = stop.cancelled() => {
                tasks.abort_all();
                return Ok(());
            }
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// One organisation's due calls, one after another.
async fn place_in_order(state: &AppState, queue: Vec<Uuid>) {
    for call_id in queue {
        match state.calls().dispatch(call_id).await {
            Ok(Attempt::Refused { message }) => tracing::info!(%call_id, %message, "call refused"),
            Ok(Attempt::NotSent { reason }) => {
                tracing::warn!(%call_id, %reason, "call not sent; it stays queued");
                // The account is limited or unreachable: the rest of its
                // queue waits for the next look rather than jumping ahead.
                return;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%call_id, %error, "dispatching a call failed");
                return;
            }
        }
    }
}

/// Looks up attempts in doubt and reconciles calls whose callbacks never
/// came, every `SWITCHBOARD_CALL_RECONCILE_INTERVAL_SECS`, until `stop`.
pub async fn run_reconciler(state: Arc<AppState>, stop: CancellationToken) -> Result<(), String> {
    let interval = Duration::from_secs(state.settings.call_reconcile_interval_secs.max(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
        reconcile_once(&state).await.map_err(|e| e.to_string())?;
    }
}

/// One pass: every attempt in doubt looked up, every unsettled call asked after.
pub async fn reconcile_once(state: &AppState) -> Result<(), application::error::StoreError> {
    let calls = state.calls();
    let now = Utc::now();
    let timing = calls.timing;
    let span = |d: Duration| Span::from_std(d).unwrap_or_default();
    for call_id in state
        .call_directory
        .in_doubt(now - span(timing.in_doubt_after), BATCH)
        .await?
    {
        match calls.look_up(call_id).await {
            Ok(found) => tracing::info!(%call_id, ?found, "looked up a call in doubt"),
            Err(error) => tracing::warn!(%call_id, %error, "looking up a call in doubt failed"),
        }
    }
    let ring = Span::seconds(i64::from(timing.ring_timeout_secs));
    let unended_before = now - ring - span(timing.settle);
    let ended_between = (now - span(DETAILS_HORIZON), now - span(timing.settle));
    for call_id in state
        .call_directory
        .unsettled(unended_before, ended_between, BATCH)
        .await?
    {
        if let Err(error) = calls.reconcile(call_id).await {
            tracing::warn!(%call_id, %error, "reconciling a call failed");
        }
    }
    Ok(())
}
