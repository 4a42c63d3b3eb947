//! The life of an SMS after `queued`: `sending`, `submitted`, then the
//! final status the recipient's script gives it, and its status callback.

use chrono::{Duration as Span, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

use super::draft::Draft;
use crate::callbacks::{Callbacks, Encoding};
use crate::state::{Scenario, SimState, SmsRecord};
use crate::wire::exotel_time;

/// Exotel's `DetailedStatusCode`s and their `DetailedStatus` names. Of the
/// DLT template codes 23181–23186 only 23185 has a known name.
pub const DETAILED_STATUSES: &[(u32, &str)] = &[
    (21010, "PENDING_TO_OPERATOR"),
    (21015, "SENDING_TO_OPERATOR"),
    (21020, "PENDING_ON_OPERATOR"),
    (20005, "DELIVERED_TO_HANDSET"),
    (20006, "DELIVERED_TO_OPERATOR"),
    (23005, "FAILED_REJECTED_DND"),
    (23010, "FAILED_INVALID_DESTINATION_NUMBER"),
    (23015, "FAILED_SPAM_DETECTED"),
    (23020, "FAILED_REJECTED_BLACKLIST"),
    (23030, "FAILED_UNAVAILABLE_ROUTE"),
    (23035, "FAILED_SUBSCRIBER_UNAVAILABLE"),
    (23040, "FAILED_SUBSCRIBER_UNKNOWN"),
    (23050, "FAILED_EXPIRED"),
    (23060, "FAILED_REJECTED"),
    (23070, "FAILED_INVALID_MESSAGE"),
    (23072, "FAILED_INVALID_SENDER_ID"),
    (23080, "SENDER_BLOCKED_BY_DLT"),
    (23081, "ENTITY_BLOCKED_BY_DLT"),
    (23082, "TEMPLATE_BLOCKED_BY_DLT"),
    (23083, "FAILED_DLT_SCRUBBING_ERROR"),
    (23084, "FAILED_DLT_CONSENT_ERROR"),
    (23185, "DLT_TEMPLATE_DOES_NOT_MATCH"),
    (23281, "DLT_ENTITY_NOT_FOUND"),
    (24010, "FAILED_SYSTEM_ERROR"),
    (24105, "HANDSET"),
    (24110, "OPERATOR"),
    (24120, "SUBSCRIBER"),
    (24990, "UNKNOWN"),
];

/// Paise an SMS unit costs once sent (`Price` reads `0.180000`).
const PAISE_PER_UNIT: u32 = 18;

/// The `DetailedStatus` name of a code.
pub fn detailed_status(code: u32) -> &'static str {
    DETAILED_STATUSES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
        .unwrap_or("UNKNOWN")
}

/// The final `Status` a code ends an SMS in, if it is a known final code.
/// Exotel's docs spell the DND one both `failed-dnd` and `failed_dnd`;
/// production parsers see `failed_dnd`, which is sent here.
pub fn final_status(code: u32) -> Option<&'static str> {
    DETAILED_STATUSES.iter().find(|(c, _)| *c == code)?;
    match code {
        20000..=20999 => Some("sent"),
        23005 => Some("failed_dnd"),
        23000..=24999 => Some("failed"),
        _ => None,
    }
}

/// Whether a script's SMS outcome exists and its code fits it.
pub fn valid_script(script: &Scenario) -> bool {
    let Some(expected) = outcome_status(&script.sms) else {
        return false;
    };
    script
        .sms_detailed_status_code
        .is_none_or(|code| final_status(code) == Some(expected))
}

fn outcome_status(outcome: &str) -> Option<&'static str> {
    match outcome {
        "sent" => Some("sent"),
        "failed" => Some("failed"),
        "failed-dnd" | "failed_dnd" => Some("failed_dnd"),
        _ => None,
    }
}

/// The final code of an SMS: an unreachable number fails as an invalid
/// destination; a promotional SMS to a DND number is refused as DND;
/// otherwise the recipient's script decides.
fn fate(sms: &SmsRecord, script: &Scenario) -> u32 {
    let outcome = outcome_status(&script.sms).unwrap_or("sent");
    match outcome {
        _ if sms.unreachable => 23010,
        _ if script.dnd && sms.sms_type == "promotional" => 23005,
        "failed_dnd" => 23005,
        "failed" => script.sms_detailed_status_code.unwrap_or(23035),
        _ => script.sms_detailed_status_code.unwrap_or(20005),
    }
}

/// Records a drafted SMS as `queued` and starts its life.
pub fn queue(state: &Arc<SimState>, account_sid: &str, draft: Draft) -> SmsRecord {
    let now = Utc::now();
    let message = draft.message;
    let sms = SmsRecord {
        sid: uuid::Uuid::new_v4().simple().to_string(),
        account_sid: account_sid.to_string(),
        from: message.from,
        to: draft.to,
        body: message.body,
        status: "queued".into(),
        detailed_status_code: 21010,
        created: now,
        updated: now,
        units: None,
        sms_type: message.sms_type,
        custom_field: message.custom_field,
        status_callback: message.status_callback,
        callback_json: message.encoding == Encoding::Json,
        unreachable: draft.unreachable,
        ..SmsRecord::default()
    };
    store(state, &sms);
    tokio::spawn(live(state.clone(), sms.clone(), message.units));
    sms
}

fn store(state: &SimState, sms: &SmsRecord) {
    if let Ok(mut messages) = state.sms.lock() {
        messages.insert(sms.sid.clone(), sms.clone());
    }
}

/// Plays the SMS out on the simulated clock: a third of the script's delay
/// each to `sending`, `submitted` and the final status; then the callback.
async fn live(state: Arc<SimState>, mut sms: SmsRecord, units: u32) {
    let script = state.scenario(&sms.to);
    let step = script.sms_delay_seconds as f64 / 3.0;
    for (i, (status, code)) in [("sending", 21015), ("submitted", 21020)].into_iter().enumerate() {
        state.sleep(step).await;
        sms.status = status.into();
        sms.detailed_status_code = code;
        sms.updated = sms.created + Span::milliseconds(((i + 1) as f64 * step * 1000.0) as i64);
        store(&state, &sms);
    }
    state.sleep(step).await;
    let code = fate(&sms, &script);
    sms.status = final_status(code).unwrap_or("failed").into();
    sms.detailed_status_code = code;
    sms.updated = sms.created + Span::seconds(script.sms_delay_seconds as i64);
    sms.sent = Some(sms.updated);
    sms.units = Some(units);
    sms.price = (sms.status == "sent").then(|| price(units));
    store(&state, &sms);
    let encoding = if sms.callback_json {
        Encoding::Json
    } else {
        Encoding::Form
    };
    let callbacks = Callbacks::new(sms.status_callback.clone(), encoding, &script);
    callbacks.finish(&state, callback_body(&sms)).await;
}

fn price(units: u32) -> String {
    let paise = units * PAISE_PER_UNIT;
    format!("{}.{:02}0000", paise / 100, paise % 100)
}

/// The StatusCallback: `SmsSid, To, Status, SmsUnits, DetailedStatus,
/// DetailedStatusCode, DateSent`, and `CustomField` only when one was sent.
fn callback_body(sms: &SmsRecord) -> Value {
    let mut body = json!({
        "SmsSid": sms.sid, "To": sms.to, "Status": sms.status, "SmsUnits": sms.units,
        "DetailedStatus": detailed_status(sms.detailed_status_code),
        "DetailedStatusCode": sms.detailed_status_code, "DateSent": sms.sent.map(exotel_time),
    });
    if let (Some(custom), Some(object)) = (&sms.custom_field, body.as_object_mut()) {
        object.insert("CustomField".into(), Value::String(custom.clone()));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_end_an_sms_in_the_status_exotel_pairs_them_with() {
        assert_eq!(final_status(20005), Some("sent"));
        assert_eq!(final_status(23005), Some("failed_dnd"));
        assert_eq!(final_status(23185), Some("failed"));
        assert_eq!(final_status(21010), None, "queued is not final");
        assert_eq!(final_status(23999), None, "unknown codes are refused");
    }

    #[test]
    fn a_script_code_must_fit_its_outcome() {
        let script = |sms: &str, code: Option<u32>| Scenario {
            sms: sms.into(),
            sms_detailed_status_code: code,
            ..Scenario::default()
        };
        assert!(valid_script(&script("failed", Some(23185))));
        assert!(valid_script(&script("failed-dnd", None)));
        assert!(!valid_script(&script("sent", Some(23185))));
        assert!(!valid_script(&script("delivered", None)));
    }

    #[test]
    fn the_price_is_eighteen_paise_a_unit() {
        assert_eq!(price(1), "0.180000");
        assert_eq!(price(7), "1.260000");
    }
}
