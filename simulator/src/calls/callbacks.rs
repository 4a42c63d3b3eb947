//! The bodies of voice status callbacks (reference §4); `crate::callbacks`
//! posts them.

use chrono::Duration as Span;
use serde_json::{Value, json};

use crate::state::CallRecord;
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
            "EndTime": call.ended.map(exotel_time).unwrap_or_default(), "Direction": call.direction(),
            "ConversationDuration": call.conversation, "Legs": legs,
            "CustomField": call.custom_field.clone().unwrap_or_default(),
        });
        if let (Some(target), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            target.extend(extra.clone());
        }
    }
    body
}
