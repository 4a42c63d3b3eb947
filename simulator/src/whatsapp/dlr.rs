//! Delivery reports (DLR) of a sent WhatsApp message: sent, delivered and
//! read as separate callbacks, or a failure, as the recipient's script
//! says, on the simulated clock. A template message whose template cannot
//! be used fails with the template's code (30022–30024) whatever the
//! script says.

use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

use crate::callbacks::{Callbacks, Encoding};
use crate::state::{Scenario, SimState, international};
use crate::wire::iso_time;

/// Exotel's `exo_status_code`s and `exo_detailed_status` names.
pub const EXO_STATUSES: &[(u32, &str)] = &[
    (30001, "EX_MESSAGE_SENT"),
    (30002, "EX_MESSAGE_DELIVERED"),
    (30003, "EX_MESSAGE_SEEN"),
    (30004, "EX_SYSTEM_ERROR"),
    (30005, "EX_NUMBER_ERROR"),
    (30006, "EX_SETUP_ERROR"),
    (30007, "EX_RATE_LIMIT_HIT"),
    (30008, "EX_SPAM_RATE_LIMIT_HIT"),
    (30009, "EX_TOO_MANY_REQUEST"),
    (30010, "EX_INVALID_REQUEST"),
    (30011, "EX_UNKNOWN_ERROR"),
    (30012, "EX_INVALID_RECIPIENT"),
    (30013, "EX_INCAPABLE_RECIPIENT"),
    (30014, "EX_RECIPIENT_BLOCKED"),
    (30015, "EX_UNSUPPORTED_MESSAGE"),
    (30016, "EX_MEDIA_DOWNLOAD_ERROR"),
    (30017, "EX_MEDIA_UPLOAD_ERROR"),
    (30018, "EX_REENGAGEMENT_ERROR"),
    (30019, "EX_INVALID_PARAM"),
    (30020, "EX_MISSING_PARAM"),
    (30021, "EX_INVALID_PARAM_VALUE"),
    (30022, "EX_TEMPLATE_ERROR"),
    (30023, "EX_TEMPLATE_PARAM_ERROR"),
    (30024, "EX_TEMPLATE_NOT_FOUND"),
    (30025, "EX_TEMPLATE_TEXT_TOO_LONG"),
    (30026, "EX_INVALID_TEMPLATE_NAMESPACE"),
    (30027, "EX_MESSAGE_PENDING_TOO_LONG"),
    (30028, "EX_MESSAGE_EXPIRED"),
    (30029, "EX_MESSAGE_TOO_LONG"),
    (30030, "EX_WEBHOOK_ERROR"),
    (30031, "EX_SECTION_COUNT_ERROR"),
    (30032, "EX_ROWS_COUNT_ERROR"),
    (30033, "EX_PRODUCT_COUNT_ERROR"),
    (30034, "EX_CATALOGUE_NOT_FOUND"),
    (30035, "EX_CATALOGUE_NOT_LINKED"),
    (30036, "EX_MISSING_PRODUCT"),
    (30037, "EX_PRODUCT_NOT_FOUND"),
    (30038, "EX_PRODUCT_COMPLIANCE_ERROR"),
    (30039, "EX_INVALID_HEADER"),
    (30040, "EX_MISSING_COMPLIANCE"),
    (30041, "EX_CHAR_POLICY_VIOLATION"),
];

const SENT: u32 = 30001;
const DELIVERED: u32 = 30002;
const SEEN: u32 = 30003;

/// The failure reported when a script says `failed` without a code: the
/// number cannot receive WhatsApp messages.
const DEFAULT_FAILURE: u32 = 30013;

/// One message Exotel accepted, as its receipts need it.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub sid: String,
    pub to: String,
    pub custom_data: Option<Value>,
    /// The message's `status_callback`, else the account's webhook.
    pub status_callback: Option<String>,
    /// Why its template cannot be used (`exo_status_code` 30022–30024);
    /// this failure takes precedence over the recipient's script.
    pub template_failure: Option<u32>,
}

/// Whether a script's WhatsApp outcome exists and its code is a failure.
pub fn valid_script(script: &Scenario) -> bool {
    let known = ["sent", "delivered", "read", "failed"].contains(&script.whatsapp.as_str());
    let failure = |code: u32| code > SEEN && EXO_STATUSES.iter().any(|(c, _)| *c == code);
    known && script.whatsapp_error_code.is_none_or(failure)
}

/// The receipts of a message, in order: its template's failure alone when
/// there is one, else what the script gives.
fn receipts(script: &Scenario, template_failure: Option<u32>) -> Vec<u32> {
    if let Some(code) = template_failure {
        return vec![code];
    }
    match script.whatsapp.as_str() {
        "sent" => vec![SENT],
        "delivered" => vec![SENT, DELIVERED],
        "failed" => vec![script.whatsapp_error_code.unwrap_or(DEFAULT_FAILURE)],
        _ => vec![SENT, DELIVERED, SEEN],
    }
}

/// Sends a message's receipts, each `whatsapp_delay_seconds` after the last.
pub async fn live(state: Arc<SimState>, message: Accepted) {
    let script = state.scenario(&message.to);
    let codes = receipts(&script, message.template_failure);
    let mut callbacks = Callbacks::new(message.status_callback.clone(), Encoding::Json, &script);
    let start = Utc::now();
    let step = script.whatsapp_delay_seconds;
    for (i, code) in codes.iter().enumerate() {
        state.sleep(step as f64).await;
        let at = start + Span::seconds((step * (i as u64 + 1)) as i64);
        let body = receipt(&message, *code, at);
        if i + 1 == codes.len() {
            return callbacks.finish(&state, body).await;
        }
        callbacks.emit(&state, body).await;
    }
}

/// `{"whatsapp":{"messages":[{"callback_type":"dlr", …}]}}`.
fn receipt(message: &Accepted, code: u32, at: DateTime<Utc>) -> Value {
    let name = EXO_STATUSES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
        .unwrap_or("EX_UNKNOWN_ERROR");
    json!({"whatsapp": {"messages": [{
        "callback_type": "dlr", "sid": message.sid, "to": international(&message.to),
        "exo_status_code": code, "exo_detailed_status": name, "description": description(name),
        "timestamp": iso_time(at), "custom_data": message.custom_data,
    }]}})
}

/// `EX_MESSAGE_DELIVERED` → "Message delivered" (Exotel's wording is only
/// known for that one; the rest follow it).
fn description(name: &str) -> String {
    let words = name.trim_start_matches("EX_").replace('_', " ").to_lowercase();
    let words = words.replace("message seen", "message read");
    let mut chars = words.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_read_like_exotels() {
        assert_eq!(description("EX_MESSAGE_DELIVERED"), "Message delivered");
        assert_eq!(description("EX_INCAPABLE_RECIPIENT"), "Incapable recipient");
    }

    #[test]
    fn only_failure_codes_script_a_failure() {
        let script = |code| Scenario {
            whatsapp: "failed".into(),
            whatsapp_error_code: Some(code),
            ..Scenario::default()
        };
        assert!(valid_script(&script(30005)));
        assert!(!valid_script(&script(30002)));
        assert!(!valid_script(&script(29999)));
    }
}
