//! `Calls/connect` (click-to-call), call details, and the timed life of a
//! call ending in its status callbacks.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::post;
use chrono::{Duration as Span, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::request::{Form, Refusal, authenticate, bad_request, field, log};
use crate::state::{Account, CallRecord, Scenario, SimState, national};
use crate::wire::{Format, exotel_time, respond, rest_exception};

/// The longest call Exotel allows, in seconds.
pub const MAX_TIME_LIMIT: u64 = 14_400;

/// Voice routes.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new().route("/v1/Accounts/{sid}/Calls/{action}", post(connect).get(details))
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
        return rest_exception(
            StatusCode::TOO_MANY_REQUESTS,
            format,
            "Too many requests: voice APIs allow 200 a minute",
        );
    }
    let form: Form = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if let Some(refusal) = injected_fault(&state, &form).await {
        return rest_exception(refusal.0, format, &refusal.1);
    }
    match place(&state, &account, &form) {
        Ok(call) => respond(StatusCode::OK, format, "Call", call_json(&call, false)),
        Err(Refusal(status, message)) => rest_exception(status, format, &message),
    }
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

fn place(state: &Arc<SimState>, account: &Account, form: &Form) -> Result<CallRecord, Refusal> {
    let from = field(form, "From").ok_or_else(|| bad_request("From is a mandatory parameter"))?;
    let caller_id = field(form, "CallerId").ok_or_else(|| bad_request("CallerId is a mandatory parameter"))?;
    let (to, flow) = (field(form, "To"), field(form, "Url"));
    if to.is_some() == flow.is_some() {
        return Err(bad_request("Send exactly one of To and Url"));
    }
    let time_limit = field(form, "TimeLimit").map(str::parse::<u64>);
    if time_limit
        .as_ref()
        .is_some_and(|limit| !matches!(limit, Ok(1..=MAX_TIME_LIMIT)))
    {
        return Err(bad_request("TimeLimit must be a whole number of seconds up to 14400"));
    }
    if !account.exophones.iter().any(|n| national(n) == national(caller_id)) {
        return Err(bad_request(&format!(
            "CallerId {caller_id} is not an ExoPhone of this account"
        )));
    }
    for number in [Some(from), to].into_iter().flatten() {
        if state.scenario(number).dnd {
            let message = format!(
                "Call to [{}] cannot be made because of TRAI NDNC regulations",
                national(number)
            );
            return Err(Refusal(StatusCode::FORBIDDEN, message));
        }
    }
    let now = Utc::now();
    let call = CallRecord {
        sid: uuid::Uuid::new_v4().simple().to_string(),
        account_sid: account.sid.clone(),
        from: national(from),
        to: to.map(national).unwrap_or_default(),
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
        callback_json: field(form, "StatusCallbackContentType") == Some("application/json"),
        ..CallRecord::default()
    };
    if let Ok(mut calls) = state.calls.lock() {
        calls.insert(call.sid.clone(), call.clone());
    }
    tokio::spawn(run_call(
        state.clone(),
        call.clone(),
        time_limit.and_then(Result::ok).unwrap_or(MAX_TIME_LIMIT),
    ));
    Ok(call)
}

/// Plays the call out on the simulated clock, then sends its callbacks as
/// the callee's script says (normally, dropped, duplicated, reordered,
/// delayed).
async fn run_call(state: Arc<SimState>, mut call: CallRecord, time_limit: u64) {
    let (leg1, leg2) = (state.scenario(&call.from), state.scenario(&call.to));
    let mut elapsed = leg1.ring_seconds;
    let mut pending = Vec::new();
    if leg1.outcome != "answer" {
        call.status = leg1.outcome.clone();
        call.legs = vec![(leg1.outcome, 0)];
        sleep_simulated(&state, elapsed).await;
    } else if leg2.outcome != "answer" {
        elapsed += leg2.ring_seconds;
        call.status = leg2.outcome.clone();
        call.legs = vec![("completed".into(), leg2.ring_seconds), (leg2.outcome.clone(), 0)];
        sleep_simulated(&state, elapsed).await;
    } else {
        elapsed += leg2.ring_seconds;
        sleep_simulated(&state, elapsed).await;
        pending.extend(callback(&call, "answered", elapsed));
        if leg2.callbacks != "reorder" {
            send(&state, &call, &leg2, std::mem::take(&mut pending)).await;
        }
        // The callee's script sets how long they talk; TimeLimit cuts it short.
        let talk = leg2.talk_seconds.min(time_limit);
        sleep_simulated(&state, talk).await;
        call.status = "completed".into();
        call.conversation = talk;
        call.legs = vec![
            ("completed".into(), leg2.ring_seconds + talk),
            ("completed".into(), talk),
        ];
        elapsed += talk;
    }
    call.ended = Some(call.created + Span::seconds(elapsed as i64));
    call.updated = call.ended.unwrap_or(call.updated);
    call.duration = Some(elapsed);
    if let Ok(mut calls) = state.calls.lock() {
        calls.insert(call.sid.clone(), call.clone());
    }
    let mut last = callback(&call, "terminal", elapsed).into_iter().collect::<Vec<_>>();
    last.extend(pending);
    send(&state, &call, &leg2, last).await;
}

async fn sleep_simulated(state: &SimState, seconds: u64) {
    let real = seconds as f64 / state.scale().max(0.001);
    tokio::time::sleep(Duration::from_secs_f64(real.min(3600.0))).await;
}

/// The body of one callback, if the call has a StatusCallback and (for
/// `answered`) subscribed to it. The terminal callback is always sent.
fn callback(call: &CallRecord, event: &str, elapsed: u64) -> Option<Value> {
    call.status_callback.as_ref()?;
    let subscribed = call.callback_events.iter().any(|e| e == event);
    if event == "answered" && !subscribed {
        return None;
    }
    Some(callback_body(call, event, subscribed, elapsed))
}

/// Posts callbacks in order: JSON when asked for, else form fields with legs
/// flattened as `Legs[0][Status]`.
async fn send(state: &SimState, call: &CallRecord, script: &Scenario, bodies: Vec<Value>) {
    let Some(url) = &call.status_callback else { return };
    let copies = match script.callbacks.as_str() {
        "drop" => 0,
        "duplicate" => 2,
        _ => 1,
    };
    for body in bodies {
        sleep_simulated(state, script.callback_delay_seconds).await;
        for _ in 0..copies {
            let request = state.http.post(url).timeout(Duration::from_secs(10));
            let request = match call.callback_json {
                true => request.json(&body),
                false => request.form(&flatten(&body)),
            };
            if let Err(error) = request.send().await {
                tracing::warn!(%error, call = %call.sid, "status callback failed");
            }
        }
    }
}

fn callback_body(call: &CallRecord, event: &str, detailed: bool, elapsed: u64) -> Value {
    let at = call.created + Span::seconds(elapsed as i64);
    let status = if event == "answered" {
        "in-progress"
    } else {
        call.status.as_str()
    };
    let mut body = json!({"CallSid": call.sid, "Status": status, "DateUpdated": exotel_time(at), "RecordingUrl": ""});
    if detailed {
        let legs: Vec<Value> = call
            .legs
            .iter()
            .map(|(status, on_call)| json!({"OnCallDuration": on_call, "Status": status}))
            .collect();
        let extra = json!({
            "EventType": event, "DateCreated": exotel_time(call.created), "From": call.from, "To": call.to,
            "PhoneNumberSid": call.caller_id, "StartTime": exotel_time(call.created),
            "EndTime": call.ended.map(exotel_time).unwrap_or_default(), "Direction": "outbound-api",
            "ConversationDuration": call.conversation, "Legs": legs,
            "CustomField": call.custom_field.clone().unwrap_or_default(),
        });
        if let (Some(target), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            target.extend(extra.clone());
        }
    }
    body
}

fn flatten(body: &Value) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for (key, value) in body.as_object().into_iter().flatten() {
        match value {
            Value::Array(legs) => {
                for (i, leg) in legs.iter().enumerate() {
                    for (k, v) in leg.as_object().into_iter().flatten() {
                        fields.push((format!("{key}[{i}][{k}]"), text(v)));
                    }
                }
            }
            other => fields.push((key.clone(), text(other))),
        }
    }
    fields
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `Call` object of responses and details.
fn call_json(call: &CallRecord, details: bool) -> Value {
    let mut body = json!({
        "Sid": call.sid, "ParentCallSid": null, "DateCreated": exotel_time(call.created),
        "DateUpdated": exotel_time(call.updated), "AccountSid": call.account_sid, "To": call.to, "From": call.from,
        "PhoneNumberSid": call.caller_id, "Status": call.status, "StartTime": exotel_time(call.created),
        "EndTime": call.ended.map(exotel_time), "Duration": call.duration.map(|d| d.to_string()),
        "Price": call.duration.map(|_| "1.500"), "Direction": "outbound-api", "AnsweredBy": null,
        "ForwardedFrom": null, "CallerName": null,
        "Uri": format!("/v1/Accounts/{}/Calls/{}.json", call.account_sid, call.sid), "RecordingUrl": null,
    });
    if details && let Some(object) = body.as_object_mut() {
        let status = |i: usize| call.legs.get(i).map(|(s, _)| s.clone());
        let legs: Vec<Value> = call
            .legs
            .iter()
            .enumerate()
            .map(|(i, (_, on_call))| json!({"Leg": {"Id": i + 1, "OnCallDuration": on_call}}))
            .collect();
        let details = json!({"ConversationDuration": call.conversation, "Leg1Status": status(0), "Leg2Status": status(1), "Legs": legs});
        object.insert("Details".into(), details);
    }
    body
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
        return rest_exception(
            StatusCode::TOO_MANY_REQUESTS,
            format,
            "Too many requests: voice APIs allow 200 a minute",
        );
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
            call_json(&call, query.get("details").is_some_and(|d| d == "true")),
        ),
        None => rest_exception(StatusCode::NOT_FOUND, format, "No matching results"),
    }
}
