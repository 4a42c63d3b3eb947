//! `POST /_simulator/incoming-calls`: a scripted caller rings an ExoPhone.
//! Exotel has no API that makes a customer call you, so the simulator's
//! admin route does. The call is kept like one placed through
//! `Calls/connect` (`Direction` `inbound` in its details and the listing,
//! `From` the caller, `To` and `PhoneNumberSid` the ExoPhone), and the flow
//! the ExoPhone's `VoiceUrl` names runs at once on the simulated clock, its
//! URLs told `Direction=incoming`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

use super::{CallPlan, MAX_TIME_LIMIT, keep, life};
use crate::flows;
use crate::numbers::{self, ExoPhone};
use crate::state::{CallRecord, SimState, national};

/// A call to place: `from` the caller, `to` an ExoPhone (numbers in any form).
#[derive(Debug, Deserialize)]
pub struct Ring {
    pub from: String,
    pub to: String,
}

/// Why a ring was refused: the status and a message.
type Refusal = (StatusCode, String);

/// Rings the ExoPhone and answers `201 {"sid", "account_sid", "from",
/// "to", "app_id"}` (numbers 0-prefixed) while the flow runs; 422 when
/// `from` is no phone number, 404 when `to` is no account's ExoPhone, 409
/// when the ExoPhone's `VoiceUrl` names no registered flow. Errors are
/// `{"error": "…"}`.
pub async fn ring(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Json(ring): Json<Ring>,
) -> (StatusCode, Json<Value>) {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match place(&state, &ring, host.unwrap_or("localhost")) {
        Ok((call, app_id)) => {
            let body = json!({
                "sid": call.sid, "account_sid": call.account_sid, "from": call.from, "to": call.to,
                "app_id": app_id,
            });
            (StatusCode::CREATED, Json(body))
        }
        Err((status, message)) => (status, Json(json!({ "error": message }))),
    }
}

/// Checks the ring, stores the call and starts its flow.
fn place(state: &Arc<SimState>, ring: &Ring, host: &str) -> Result<(CallRecord, String), Refusal> {
    if !(10..=15).contains(&ring.from.chars().filter(char::is_ascii_digit).count()) {
        let message = "from must be the caller's phone number".to_string();
        return Err((StatusCode::UNPROCESSABLE_ENTITY, message));
    }
    let (account_sid, phone) = exophone(state, &ring.to).ok_or_else(|| {
        let message = format!("{} is no ExoPhone of any account", national(&ring.to));
        (StatusCode::NOT_FOUND, message)
    })?;
    let app_id = flow(state, &account_sid, &phone)?;
    let call = new_call(&account_sid, &ring.from, &phone, &app_id);
    keep(state, &call);
    let plan = CallPlan {
        time_limit: MAX_TIME_LIMIT,
        time_out: None,
        record: None,
        host: host.to_string(),
    };
    tokio::spawn(life::run_incoming(state.clone(), call.clone(), app_id.clone(), plan));
    Ok((call, app_id))
}

/// The account owning `number`, and the ExoPhone's details.
pub(crate) fn exophone(state: &SimState, number: &str) -> Option<(String, ExoPhone)> {
    let mut sids: Vec<String> = state.accounts.lock().ok()?.keys().cloned().collect();
    sids.sort();
    sids.into_iter()
        .find_map(|sid| numbers::find(state, &sid, number).map(|phone| (sid, phone)))
}

/// The registered flow the ExoPhone's `VoiceUrl` names.
fn flow(state: &SimState, account_sid: &str, phone: &ExoPhone) -> Result<String, Refusal> {
    let number = &phone.number;
    let Some(app_id) = phone.voice_url.as_deref().and_then(flows::app_id) else {
        let path = format!("/v2_beta/Accounts/{account_sid}/IncomingPhoneNumbers/{number}");
        let message = format!("ExoPhone {number} has no VoiceUrl naming a flow (PUT {path} with VoiceUrl)");
        return Err((StatusCode::CONFLICT, message));
    };
    let known = state.flows.lock().map(|f| f.contains_key(app_id)).unwrap_or(false);
    match known {
        true => Ok(app_id.to_string()),
        false => {
            let message = format!("ExoPhone {number} runs flow {app_id}, which is not registered");
            Err((StatusCode::CONFLICT, message))
        }
    }
}

/// The call as it arrives: from the caller to the ExoPhone, in its flow.
fn new_call(account_sid: &str, from: &str, phone: &ExoPhone, app_id: &str) -> CallRecord {
    let now = Utc::now();
    CallRecord {
        sid: uuid::Uuid::new_v4().simple().to_string(),
        account_sid: account_sid.to_string(),
        from: national(from),
        to: phone.number.clone(),
        caller_id: phone.number.clone(),
        status: "in-progress".into(),
        created: now,
        updated: now,
        flow: Some(app_id.to_string()),
        inbound: true,
        ..CallRecord::default()
    }
}
