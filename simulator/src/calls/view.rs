//! The `Call` object of connect responses, call details and the listing.

use serde_json::{Value, json};

use crate::state::CallRecord;
use crate::wire::exotel_time;

/// The documented `Call` fields (reference §2.1); `Details` with `details=true`.
/// `RecordingUrl` is null until a recorded call has ended with a conversation.
pub fn call_json(call: &CallRecord, details: bool) -> Value {
    let mut body = json!({
        "Sid": call.sid, "ParentCallSid": null, "DateCreated": exotel_time(call.created),
        "DateUpdated": exotel_time(call.updated), "AccountSid": call.account_sid, "To": call.to, "From": call.from,
        "PhoneNumberSid": call.caller_id, "Status": call.status, "StartTime": exotel_time(call.created),
        "EndTime": call.ended.map(exotel_time), "Duration": call.duration.map(|d| d.to_string()),
        "Price": call.duration.map(|_| "1.500"), "Direction": call.direction(), "AnsweredBy": null,
        "ForwardedFrom": null, "CallerName": null,
        "Uri": format!("/v1/Accounts/{}/Calls/{}.json", call.account_sid, call.sid),
        "RecordingUrl": call.recording.as_ref().map(|r| r.url.clone()),
    });
    if details && let Some(object) = body.as_object_mut() {
        object.insert("Details".into(), details_json(call));
    }
    body
}

fn details_json(call: &CallRecord) -> Value {
    let status = |i: usize| call.legs.get(i).map(|(s, _)| s.clone());
    let legs: Vec<Value> = call
        .legs
        .iter()
        .enumerate()
        .map(|(i, (_, on_call))| json!({"Leg": {"Id": i + 1, "OnCallDuration": on_call}}))
        .collect();
    json!({"ConversationDuration": call.conversation, "Leg1Status": status(0), "Leg2Status": status(1), "Legs": legs})
}
