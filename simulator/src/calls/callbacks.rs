//! Voice status callbacks (reference §4): their bodies, encodings, and the
//! scripted ways they go wrong.

use chrono::Duration as Span;
use serde_json::{Value, json};
use std::time::Duration;

use super::life::sleep_simulated;
use crate::state::{CallRecord, Scenario, SimState};
use crate::wire::exotel_time;

/// The body of one callback, if the call has a StatusCallback and (for
/// `answered`) subscribed to it. The terminal callback is always sent.
///
/// A flow call (`Url=…`) gets only the simple callback — `CallSid, Status,
/// RecordingUrl, DateUpdated` — whatever its `StatusCallbackEvents`: Exotel
/// documents that events do not apply to flows (reference §3.1).
pub fn callback(call: &CallRecord, event: &str, elapsed: u64) -> Option<Value> {
    call.status_callback.as_ref()?;
    let subscribed = call.flow.is_none() && call.callback_events.iter().any(|e| e == event);
    if event == "answered" && !subscribed {
        return None;
    }
    Some(callback_body(call, event, subscribed, elapsed))
}

/// Posts callbacks in order: JSON or multipart when asked for, else form
/// fields, with legs flattened as `Legs[0][Status]` in both form encodings.
pub async fn send(state: &SimState, call: &CallRecord, script: &Scenario, bodies: Vec<Value>) {
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
            let request = match call.callback_content_type.as_deref() {
                Some("application/json") => request.json(&body),
                Some("multipart/form-data") => request.multipart(multipart(&body)),
                _ => request.form(&flatten(&body)),
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
    let recording = call.recording.as_ref().map(|r| r.url.as_str()).unwrap_or_default();
    let mut body =
        json!({"CallSid": call.sid, "Status": status, "DateUpdated": exotel_time(at), "RecordingUrl": recording});
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

fn multipart(body: &Value) -> reqwest::multipart::Form {
    flatten(body)
        .into_iter()
        .fold(reqwest::multipart::Form::new(), |form, (k, v)| form.text(k, v))
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
