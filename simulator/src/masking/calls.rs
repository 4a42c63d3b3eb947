//! Calls a party makes to an allocated number. Exotel has no API that
//! places an inbound call, so the simulator's admin routes do, and record
//! who was put through to whom.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::Allocation;
use crate::state::{SimState, national};
use crate::wire::exotel_time;

/// A call to place: `from` a party, `to` the allocated number.
#[derive(Debug, Deserialize)]
pub struct Dial {
    pub from: String,
    pub to: String,
}

/// A call made to an allocated number, numbers 0-prefixed.
#[derive(Debug, Clone, Serialize)]
pub struct MaskedCall {
    pub sid: String,
    pub date_created: String,
    pub from: String,
    pub to: String,
    pub tenant: Option<String>,
    pub connection_id: Option<String>,
    pub greenvn_id: Option<String>,
    /// The other side's first number, which the allocated number dials.
    pub connected_to: Option<String>,
    /// `connected`, or `rejected` when no active allocation of that number
    /// has the caller as a party (or only as a B party of a `oneway` one).
    pub outcome: String,
}

/// Who the caller reaches through this allocation, if anyone.
fn other_side(allocation: &Allocation, caller: &str) -> Option<String> {
    let has = |list: &[String]| list.iter().any(|n| national(n) == caller);
    let reached = if has(&allocation.aparty_numbers) {
        allocation.bparty_numbers.first()
    } else if allocation.usage == "twoway" && has(&allocation.bparty_numbers) {
        allocation.aparty_numbers.first()
    } else {
        None
    };
    reached.map(|n| national(n))
}

fn route(state: &SimState, dial: &Dial) -> MaskedCall {
    let (from, to) = (national(&dial.from), national(&dial.to));
    let allocations = state.masking.allocations.lock();
    let active: Vec<Allocation> = allocations
        .map(|all| {
            all.values()
                .filter(|a| a.active() && a.greenvn == to)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let matched = active.iter().find_map(|a| other_side(a, &from).map(|other| (a, other)));
    MaskedCall {
        sid: uuid::Uuid::new_v4().simple().to_string(),
        date_created: exotel_time(Utc::now()),
        tenant: matched.as_ref().map(|(a, _)| a.tenant.clone()),
        connection_id: matched.as_ref().map(|(a, _)| a.connection_id.clone()),
        greenvn_id: matched.as_ref().map(|(a, _)| a.id.clone()),
        outcome: if matched.is_some() { "connected" } else { "rejected" }.into(),
        connected_to: matched.map(|(_, other)| other),
        from,
        to,
    }
}

/// `POST /_simulator/masked-calls` `{"from", "to"}`: a party calls an
/// allocated number; answers the recorded call.
pub async fn dial(State(state): State<Arc<SimState>>, Json(dial): Json<Dial>) -> (StatusCode, Json<MaskedCall>) {
    let call = route(&state, &dial);
    if let Ok(mut calls) = state.masking.calls.lock() {
        calls.push(call.clone());
    }
    (StatusCode::CREATED, Json(call))
}

/// `GET /_simulator/masked-calls`: every call made to an allocated number, oldest first.
pub async fn dialled(State(state): State<Arc<SimState>>) -> Json<Vec<MaskedCall>> {
    Json(state.masking.calls.lock().map(|c| c.clone()).unwrap_or_default())
}
