//! Voice v1: `Calls/connect` (click-to-call or a call into a flow), call
//! details, the bulk call listing, and the timed life of a call ending in
//! its status callbacks; and calls a scripted caller makes to an ExoPhone
//! (`POST /_simulator/incoming-calls`).

mod callbacks;
mod incoming;
mod life;
mod listing;
mod view;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use chrono::Utc;
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) use incoming::{exophone, ring};
pub(crate) use life::{CallPlan, Clock, Conversation, Dialled, dial};

use crate::flows;
use crate::numbers;
use crate::recordings::Channels;
use crate::request::{
    Answer, Fault, Form, Received, Refusal, Refused, bad_request, fault_after_accepting, field, scripted_fault,
};
use crate::state::{Account, CallRecord, SimState, national};
use crate::wire::{Format, respond, rest_exception};

/// The longest call Exotel allows, in seconds.
pub const MAX_TIME_LIMIT: u64 = 14_400;

/// Voice routes.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/v1/Accounts/{sid}/Calls/{action}", post(connect).get(details))
        .route("/v1/Accounts/{sid}/Calls", get(listing::list))
        .route("/v1/Accounts/{sid}/Calls.json", get(listing::list_json))
}

/// `POST /v1/Accounts/{sid}/Calls/connect[.json]`.
pub async fn connect(
    State(state): State<Arc<SimState>>,
    Path((sid, action)): Path<(String, String)>,
    request: Received,
) -> Answer {
    let (action, format) = Format::split(&action);
    let account = request.v1_account(&state, &sid, format)?;
    if action != "connect" {
        let message = "The requested resource was not found";
        return Err(rest_exception(StatusCode::NOT_FOUND, format, message).into());
    }
    admit(&state, &account.sid, format)?;
    let form = request.form();
    let dialled = [field(&form, "From"), field(&form, "To")];
    if let Some(fault) = scripted_fault(&state, dialled.into_iter().flatten()).await {
        return Err(rest_exception(fault.status(), format, fault.message()).into());
    }
    let host = request.headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let call = place(&state, &account, &form, host.unwrap_or("localhost")).map_err(|r| r.answer(format))?;
    let dialled = [field(&form, "From"), field(&form, "To")];
    if let Some(fault) = fault_after_accepting(&state, dialled.into_iter().flatten()) {
        if fault == Fault::Timeout {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
        return Err(rest_exception(fault.status(), format, fault.message()).into());
    }
    Ok(respond(StatusCode::OK, format, "Call", view::call_json(&call, false)))
}

/// Opens the account of a voice request and counts it against the rate
/// limit, or answers the `RestException` why not.
fn open(state: &SimState, request: &Received, sid: &str, format: Format) -> Result<Account, Refused> {
    let account = request.v1_account(state, sid, format)?;
    admit(state, &account.sid, format)?;
    Ok(account)
}

/// Counts a voice request; 429 once the account is over its limit.
fn admit(state: &SimState, sid: &str, format: Format) -> Result<(), Refused> {
    match state.admit_voice(sid) {
        true => Ok(()),
        false => {
            let message = "Too many requests: voice APIs allow 200 a minute";
            Err(rest_exception(StatusCode::TOO_MANY_REQUESTS, format, message).into())
        }
    }
}

/// A call of the account, as stored.
pub(crate) fn stored(state: &SimState, account_sid: &str, call_sid: &str) -> Option<CallRecord> {
    let calls = state.calls.lock().ok()?;
    calls.get(call_sid).filter(|c| c.account_sid == account_sid).cloned()
}

/// Stores the call as it now stands.
fn keep(state: &SimState, call: &CallRecord) {
    if let Ok(mut calls) = state.calls.lock() {
        calls.insert(call.sid.clone(), call.clone());
    }
}

/// Checks the request, stores the call and starts its timed life.
fn place(state: &Arc<SimState>, account: &Account, form: &Form, host: &str) -> Result<CallRecord, Refusal> {
    let from = field(form, "From").ok_or_else(|| bad_request("From is a mandatory parameter"))?;
    let caller_id = field(form, "CallerId").ok_or_else(|| bad_request("CallerId is a mandatory parameter"))?;
    let (to, url) = (field(form, "To"), field(form, "Url"));
    if to.is_some() == url.is_some() {
        return Err(bad_request("Send exactly one of To and Url"));
    }
    if !account.owns(caller_id) {
        return Err(bad_request(&format!(
            "CallerId {caller_id} is not an ExoPhone of this account"
        )));
    }
    let flow = url.map(|url| flow_of(state, url)).transpose()?;
    refuse_dnd(state, &account.sid, [Some(from), to])?;
    let plan = plan(form, host)?;
    let call = new_call(account, form, from, to.unwrap_or(caller_id), caller_id, flow);
    keep(state, &call);
    tokio::spawn(life::run_call(state.clone(), call.clone(), plan));
    Ok(call)
}

/// The registered flow a `Url` starts.
fn flow_of(state: &SimState, url: &str) -> Result<String, Refusal> {
    let app_id = flows::app_id(url).ok_or_else(|| bad_request(&format!("Url {url} is not a call flow URL")))?;
    let known = state.flows.lock().map(|f| f.contains_key(app_id)).unwrap_or(false);
    match known {
        true => Ok(app_id.to_string()),
        false => Err(bad_request(&format!("Flow {app_id} does not exist"))),
    }
}

/// 403 for a number on the DND registry, unless the account whitelisted it
/// through `CustomerWhitelist`.
fn refuse_dnd(state: &SimState, sid: &str, dialled: [Option<&str>; 2]) -> Result<(), Refusal> {
    for number in dialled.into_iter().flatten() {
        if state.scenario(number).dnd && !numbers::whitelisted(state, sid, number) {
            let message = format!(
                "Call to [{}] cannot be made because of TRAI NDNC regulations",
                national(number)
            );
            return Err(Refusal(StatusCode::FORBIDDEN, message));
        }
    }
    Ok(())
}

/// `TimeLimit`, `TimeOut`, `Record` and `RecordingChannels`.
fn plan(form: &Form, host: &str) -> Result<CallPlan, Refusal> {
    let time_limit = seconds(form, "TimeLimit", MAX_TIME_LIMIT)
        .ok_or_else(|| bad_request("TimeLimit must be a whole number of seconds up to 14400"))?;
    let time_out =
        seconds(form, "TimeOut", u64::MAX).ok_or_else(|| bad_request("TimeOut must be a whole number of seconds"))?;
    let record = match field(form, "Record").map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(bad_request("Record must be true or false")),
    };
    let channels = Channels::parse(field(form, "RecordingChannels"))
        .ok_or_else(|| bad_request("RecordingChannels must be single or dual"))?;
    Ok(CallPlan {
        time_limit: time_limit.unwrap_or(MAX_TIME_LIMIT),
        time_out,
        record: record.then_some(channels),
        host: host.to_string(),
    })
}

/// A whole number of seconds from 1 to `max`, when the field is present;
/// `None` when it is present but invalid.
fn seconds(form: &Form, name: &str, max: u64) -> Option<Option<u64>> {
    match field(form, name).map(str::parse::<u64>) {
        None => Some(None),
        Some(Ok(value)) if (1..=max).contains(&value) => Some(Some(value)),
        Some(_) => None,
    }
}

/// The call as first answered. A flow call's `To` is the ExoPhone, as in
/// Exotel's Passthru captures (`To=08039513882`).
fn new_call(account: &Account, form: &Form, from: &str, to: &str, caller_id: &str, flow: Option<String>) -> CallRecord {
    let now = Utc::now();
    CallRecord {
        sid: uuid::Uuid::new_v4().simple().to_string(),
        account_sid: account.sid.clone(),
        from: national(from),
        to: national(to),
        caller_id: national(caller_id),
        status: "in-progress".into(),
        created: now,
        updated: now,
        custom_field: field(form, "CustomField").map(str::to_string),
        status_callback: field(form, "StatusCallback").map(str::to_string),
        callback_events: form
            .iter()
            .filter(|(k, _)| k.starts_with("StatusCallbackEvents"))
            .map(|(_, v)| v.clone())
            .collect(),
        callback_content_type: field(form, "StatusCallbackContentType").map(str::to_string),
        flow,
        ..CallRecord::default()
    }
}

/// `GET /v1/Accounts/{sid}/Calls/{CallSid}[.json][?details=true]`.
pub async fn details(
    State(state): State<Arc<SimState>>,
    Path((sid, call)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    request: Received,
) -> Answer {
    let (call_sid, format) = Format::split(&call);
    open(&state, &request, &sid, format)?;
    let call = stored(&state, &sid, call_sid)
        .ok_or_else(|| rest_exception(StatusCode::NOT_FOUND, format, "No matching results"))?;
    let details = query.get("details").is_some_and(|d| d == "true");
    Ok(respond(StatusCode::OK, format, "Call", view::call_json(&call, details)))
}
