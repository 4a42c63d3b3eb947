//! The simulator's own routes, under `/_simulator`: scripting numbers,
//! adding accounts, their ExoPhones and WhatsApp webhook, the clock,
//! calls to masked numbers, calls a caller makes to an ExoPhone, and the
//! log of received requests:
//!
//! - `GET /_simulator/requests`: every request received, oldest first.
//! - `PUT /_simulator/scenarios/{number}`: how a number behaves.
//! - `POST /_simulator/accounts`; `PUT /_simulator/accounts/{sid}/whatsapp-webhook`.
//! - `POST /_simulator/accounts/{sid}/exophones`; `PATCH` / `DELETE
//!   /_simulator/accounts/{sid}/exophones/{number}`.
//! - `POST` / `GET /_simulator/masked-calls`: a party calls a Lead Assist
//!   allocated number; the calls made so far.
//! - `POST /_simulator/incoming-calls` `{"from": "<caller>", "to":
//!   "<ExoPhone>"}`: the caller rings the ExoPhone, which runs the flow its
//!   `VoiceUrl` names; `201 {"sid", "account_sid", "from", "to", "app_id"}`,
//!   404 for no ExoPhone, 409 for no registered flow.
//! - `POST /_simulator/incoming-sms` `{"from": "<customer>", "to":
//!   "<ExoPhone>", "body": "…"}`: the customer texts the ExoPhone, whose
//!   `SMSUrl` flow passes the SMS to its Passthru URLs; `201` with the
//!   steps taken, 404 for no ExoPhone, 409 for no registered flow.
//! - `PUT /_simulator/time-scale`: simulated seconds per real second.
//! - `DELETE /_simulator/calls/{sid}/recording`: the recording expires.
//!
//! Elsewhere: flows (`PUT /_simulator/flows/{app_id}`, `GET
//! /_simulator/calls/{sid}/flow`) in the flows module, incoming WhatsApp
//! messages (`POST /_simulator/whatsapp/incoming`) in the WhatsApp module,
//! and the review of WhatsApp templates (`PUT
//! /_simulator/accounts/{sid}/templates/{name}`) in its templates module.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::calls;
use crate::flows::is_key;
use crate::masking;
use crate::numbers::{self, ExoPhoneChange};
use crate::request::{LoggedRequest, Refusal, is_http_url};
use crate::state::{Account, Scenario, Segment, SimState, national};

/// The simulator's own routes.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/_simulator/requests", get(requests))
        .route("/_simulator/scenarios/{number}", put(set_scenario))
        .route("/_simulator/accounts", post(add_account))
        .route("/_simulator/accounts/{sid}/whatsapp-webhook", put(set_whatsapp_webhook))
        .route("/_simulator/accounts/{sid}/exophones", post(add_exophone))
        .route(
            "/_simulator/accounts/{sid}/exophones/{number}",
            patch(change_exophone).delete(release_exophone),
        )
        .route("/_simulator/masked-calls", post(masking::dial).get(masking::dialled))
        .route("/_simulator/incoming-calls", post(calls::ring))
        .route("/_simulator/incoming-sms", post(crate::sms::receive_incoming))
        .route("/_simulator/time-scale", put(set_time_scale))
        .route(
            "/_simulator/calls/{sid}/recording",
            axum::routing::delete(forget_recording),
        )
}

/// Stops serving a call's recording, as Exotel does once it expires: 204,
/// or 404 for a call with none.
pub async fn forget_recording(State(state): State<Arc<SimState>>, Path(sid): Path<String>) -> StatusCode {
    let Ok(mut calls) = state.calls.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    match calls.get_mut(&sid).and_then(|call| call.recording.take()) {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}

/// Every request received so far, oldest first (tokens never included).
pub async fn requests(State(state): State<Arc<SimState>>) -> Json<Vec<LoggedRequest>> {
    Json(state.log.lock().map(|log| log.clone()).unwrap_or_default())
}

/// Scripts how a number behaves from now on.
pub async fn set_scenario(
    State(state): State<Arc<SimState>>,
    Path(number): Path<String>,
    Json(scenario): Json<Scenario>,
) -> StatusCode {
    if !valid(&scenario) {
        return StatusCode::UNPROCESSABLE_ENTITY;
    }
    let script = |scenarios: &mut HashMap<String, Scenario>| scenarios.insert(national(&number), scenario);
    change(&state.scenarios, StatusCode::NO_CONTENT, script)
}

/// `done` once `apply` has changed what `lock` guards; 500 when the lock
/// is poisoned.
pub fn change<T, R>(lock: &Mutex<T>, done: StatusCode, apply: impl FnOnce(&mut T) -> R) -> StatusCode {
    match lock.lock() {
        Ok(mut value) => {
            apply(&mut value);
            done
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A scenario is valid when every field holds one of its documented values:
/// keys on a keypad for `digits`, and segments inside the conversation
/// (`0 ≤ start < end`).
fn valid(scenario: &Scenario) -> bool {
    let outcomes = ["answer", "busy", "no-answer", "failed"];
    let faults = [
        "server_error",
        "unavailable",
        "rate_limited",
        "timeout",
        "timeout_after_accepting",
        "server_error_after_accepting",
    ];
    let callbacks = ["normal", "drop", "duplicate", "reorder"];
    let segment = |s: &Segment| s.start.is_finite() && s.end.is_finite() && 0.0 <= s.start && s.start < s.end;
    outcomes.contains(&scenario.outcome.as_str())
        && scenario.fault.as_deref().is_none_or(|f| faults.contains(&f))
        && callbacks.contains(&scenario.callbacks.as_str())
        && scenario.digits.as_deref().is_none_or(is_key)
        && scenario.segments.iter().flatten().all(segment)
        && crate::sms::valid_script(scenario)
        && crate::whatsapp::valid_script(scenario)
        && numbers::valid_scenario(scenario)
}

/// Adds (or replaces) an account; its `exophones` seed its numbers afresh.
pub async fn add_account(State(state): State<Arc<SimState>>, Json(account): Json<Account>) -> StatusCode {
    numbers::forget(&state, &account.sid);
    let add = |accounts: &mut HashMap<String, Account>| accounts.insert(account.sid.clone(), account);
    change(&state.accounts, StatusCode::CREATED, add)
}

#[derive(Debug, Deserialize)]
pub struct Webhook {
    /// Where incoming WhatsApp messages (and receipts of messages sent
    /// without `status_callback`) are posted.
    pub url: String,
}

/// Sets the URL configured at WhatsApp onboarding: 404 for an unknown account.
pub async fn set_whatsapp_webhook(
    State(state): State<Arc<SimState>>,
    Path(sid): Path<String>,
    Json(body): Json<Webhook>,
) -> StatusCode {
    if !is_http_url(&body.url) {
        return StatusCode::UNPROCESSABLE_ENTITY;
    }
    match state.set_whatsapp_webhook(&sid, body.url) {
        true => StatusCode::NO_CONTENT,
        false => StatusCode::NOT_FOUND,
    }
}

#[derive(Debug, Deserialize)]
pub struct TimeScale {
    /// Simulated seconds per real second (1 = real time).
    pub scale: f64,
}

/// Speeds the clock up: a five-minute call can end in a fraction of a second
/// while its timestamps still read five minutes.
pub async fn set_time_scale(State(state): State<Arc<SimState>>, Json(body): Json<TimeScale>) -> StatusCode {
    if !(body.scale.is_finite() && body.scale > 0.0) {
        return StatusCode::UNPROCESSABLE_ENTITY;
    }
    change(&state.time_scale, StatusCode::NO_CONTENT, |scale| *scale = body.scale)
}

/// An ExoPhone as v2_beta shows it, or the refusal.
fn exophone_answer(result: Result<Value, Refusal>, ok: StatusCode) -> Response {
    match result {
        Ok(body) => (ok, Json(body)).into_response(),
        Err(refusal) => refused(refusal),
    }
}

/// A refusal as text: 404 for an unknown account or number, 409 for a
/// number another account owns, 422 for a bad field.
fn refused(Refusal(status, message): Refusal) -> Response {
    let status = match status {
        StatusCode::BAD_REQUEST => StatusCode::UNPROCESSABLE_ENTITY,
        other => other,
    };
    (status, message).into_response()
}

/// A number appears on an account, as if bought: `{"phone_number", and
/// optionally "friendly_name", "voice_url", "sms_url", "region",
/// "number_type", "capabilities": {"voice", "sms"}}`.
pub async fn add_exophone(
    State(state): State<Arc<SimState>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    Json(change): Json<ExoPhoneChange>,
) -> Response {
    let added = numbers::add(&state, &sid, &change).map(|phone| numbers::number_json(&phone, &sid, &headers));
    exophone_answer(added, StatusCode::CREATED)
}

/// A number's details change (same fields as adding, except the number).
pub async fn change_exophone(
    State(state): State<Arc<SimState>>,
    Path((sid, number)): Path<(String, String)>,
    headers: HeaderMap,
    Json(change): Json<ExoPhoneChange>,
) -> Response {
    let changed = numbers::update(&state, &sid, &number, &change);
    exophone_answer(
        changed.map(|phone| numbers::number_json(&phone, &sid, &headers)),
        StatusCode::OK,
    )
}

/// A number is released from the account.
pub async fn release_exophone(
    State(state): State<Arc<SimState>>,
    Path((sid, number)): Path<(String, String)>,
) -> Response {
    match numbers::release(&state, &sid, &number) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(refusal) => refused(refusal),
    }
}
