//! Voice v1: `Calls/connect` (click-to-call or a call into a flow), call
//! details, the bulk call listing, and the timed life of a call ending in
//! its status callbacks.

mod callbacks;
mod life;
mod listing;
mod view;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use life::{CallPlan, Clock, Dialled, dial};

use crate::flows;
use crate::recordings::Channels;
use crate::request::{Form, Refusal, authenticate, bad_request, field, log};
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
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    log(&state, &method, &uri, &headers, &body);
    let (action, format) = Format::split(&action);
    let Some(account) = authenticate(&state, &sid, &headers) else {
        return rest_exception(StatusCode::UNAUTHORIZED, format, "Authentication failed");
    };
    if action != "connect" {
        return rest_exception(StatusCode::NOT_FOUND, format, "The requested resource was not found");
    }
    if !state.admit_voice(&account.sid) {
        return too_many(format);
    }
    let form: Form = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if let Some(refusal) = injected_fault(&state, &form).await {
        return rest_exception(refusal.0, format, &refusal.1);
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    match place(&state, &account, &form, host) {
        Ok(call) => respond(StatusCode::OK, format, "Call", view::call_json(&call, false)),
        Err(Refusal(status, message)) => rest_exception(status, format, &message),
    }
}

fn too_many(format: Format) -> Response {
    rest_exception(
        StatusCode::TOO_MANY_REQUESTS,
        format,
        "Too many requests: voice APIs allow 200 a minute",
    )
}

/// The fault scripted for a number this request dials, if any.
async fn injected_fault(state: &SimState, form: &Form) -> Option<Refusal> {
    let numbers = [field(form, "From"), field(form, "To")];
    let fault = numbers.into_iter().flatten().find_map(|n| state.scenario(n).fault)?;
    match fault.as_str() {
        "server_error" => Some(Refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error".into(),
        )),
        "unavailable" => Some(Refusal(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable".into())),
        "rate_limited" => Some(Refusal(StatusCode::TOO_MANY_REQUESTS, "Too many requests".into())),
        _ => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Some(Refusal(StatusCode::GATEWAY_TIMEOUT, "Gateway timeout".into()))
        }
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
    if !account.exophones.iter().any(|n| national(n) == national(caller_id)) {
        return Err(bad_request(&format!(
            "CallerId {caller_id} is not an ExoPhone of this account"
        )));
    }
    let flow = url.map(|url| flow_of(state, url)).transpose()?;
    refuse_dnd(state, [Some(from), to])?;
    let plan = plan(form, host)?;
    let call = new_call(account, form, from, to.unwrap_or(caller_id), caller_id, flow);
    if let Ok(mut calls) = state.calls.lock() {
        calls.insert(call.sid.clone(), call.clone());
    }
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

fn refuse_dnd(state: &SimState, numbers: [Option<&str>; 2]) -> Result<(), Refusal> {
    for number in numbers.into_iter().flatten() {
        if state.scenario(number).dnd {
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
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    log(&state, &method, &uri, &headers, &[]);
    let (call_sid, format) = Format::split(&call);
    if authenticate(&state, &sid, &headers).is_none() {
        return rest_exception(StatusCode::UNAUTHORIZED, format, "Authentication failed");
    }
    if !state.admit_voice(&sid) {
        return too_many(format);
    }
    let found = state
        .calls
        .lock()
        .ok()
        .and_then(|calls| calls.get(call_sid).filter(|c| c.account_sid == sid).cloned());
    match found {
        Some(call) => respond(
            StatusCode::OK,
            format,
            "Call",
            view::call_json(&call, query.get("details").is_some_and(|d| d == "true")),
        ),
        None => rest_exception(StatusCode::NOT_FOUND, format, "No matching results"),
    }
}
