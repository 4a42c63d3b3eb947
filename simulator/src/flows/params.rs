//! The call details a flow sends as query parameters to Passthru, dynamic
//! Greeting, dynamic Gather and dynamic Connect URLs (reference §3.2,
//! addendum §C).
//!
//! Values follow the real captured Passthru request: `Direction` is
//! `outbound-dial` for an API call into a flow and `incoming` for a caller
//! ringing the ExoPhone (`CallFrom`/`From` are then that caller, as they
//! are the person called in an API call); `CallTo` is the ExoPhone
//! without its leading 0 while `To` keeps it; `Created` reads
//! `Tue, 16 Feb 2016 15:56:26`; `EndTime` is `0000-00-00 00:00:00` while the
//! call is up. Before any Connect the capture reads `CallStatus=ringing` and
//! `CallType=incomplete`; after one, `CallStatus` and `DialCallStatus` are
//! that leg's outcome and `CallType` is `completed` when it was answered.
//! `digits` appears once a Gather has run, in double quotes (`"12"`, or
//! `""` when nothing was pressed). Leg causes use the Q.850 names Exotel
//! shows (`NORMAL_CLEARING`/16, `NO_ANSWER`/19; busy and failed by analogy).

use chrono::{DateTime, Duration as Span, Utc};

use crate::calls::Dialled;
use crate::recordings::Channels;
use crate::state::CallRecord;
use crate::wire::{exotel_time, ist};

/// A Connect applet's leg, once dialled.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The number dialled, 0-prefixed.
    pub number: String,
    /// The number the dialled party saw calling: the ExoPhone, or a
    /// Programmable Connect's `outgoing_phone_number`.
    pub caller_id: String,
    pub leg: Dialled,
    /// How this leg's conversation is recorded, if it is.
    pub record: Option<Channels>,
    pub recording_url: Option<String>,
}

/// Where a flow call stands when it makes a request.
pub struct Moment<'a> {
    pub call: &'a CallRecord,
    pub app_id: &'a str,
    pub elapsed: u64,
    pub digits: Option<&'a str>,
    pub connected: Option<&'a Connected>,
}

/// The query parameters, in the order of the real capture.
pub fn params(moment: &Moment) -> Vec<(String, String)> {
    let call = moment.call;
    let now = call.created + Span::seconds(moment.elapsed as i64);
    let (status, call_type) = status(moment.connected);
    let exophone = call.caller_id.as_str();
    let mut params: Vec<(String, String)> = [
        ("CallSid", call.sid.as_str()),
        ("CallFrom", call.from.as_str()),
        ("CallTo", exophone.strip_prefix('0').unwrap_or(exophone)),
        ("CallStatus", status),
        ("Direction", call.flow_direction()),
        ("ForwardedFrom", ""),
        ("Created", &created(call.created)),
        (
            "DialCallDuration",
            &moment.connected.map_or(0, |c| c.leg.talk).to_string(),
        ),
        ("StartTime", &exotel_time(call.created)),
        ("EndTime", "0000-00-00 00:00:00"),
        ("CallType", call_type),
        ("DialWhomNumber", moment.connected.map_or("", |c| c.number.as_str())),
        ("flow_id", moment.app_id),
        ("tenant_id", &tenant_id(&call.account_sid).to_string()),
        ("From", call.from.as_str()),
        ("To", exophone),
        ("CurrentTime", &exotel_time(now)),
        ("OutgoingPhoneNumber", exophone),
        ("CustomField", call.custom_field.as_deref().unwrap_or_default()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(digits) = moment.digits {
        params.push(("digits".into(), format!("\"{digits}\"")));
    }
    if let Some(connected) = moment.connected {
        params.extend(leg_params(connected));
    }
    params
}

/// `CallStatus` and `CallType`: as captured before any Connect, then the
/// Connect leg's outcome.
fn status(connected: Option<&Connected>) -> (&str, &str) {
    match connected {
        None => ("ringing", "incomplete"),
        Some(c) if c.leg.answered() => (c.leg.status.as_str(), "completed"),
        Some(c) => (c.leg.status.as_str(), "incomplete"),
    }
}

/// `DialCallStatus`, `RecordingUrl` and `Legs[0][…]` after a Connect.
fn leg_params(connected: &Connected) -> Vec<(String, String)> {
    let leg = &connected.leg;
    let (cause_code, cause) = match leg.status.as_str() {
        "completed" => ("NORMAL_CLEARING", "16"),
        "busy" => ("USER_BUSY", "17"),
        "no-answer" => ("NO_ANSWER", "19"),
        _ => ("CALL_REJECTED", "21"),
    };
    let mut params = vec![("DialCallStatus".to_string(), leg.status.clone())];
    if let Some(url) = &connected.recording_url {
        params.push(("RecordingUrl".into(), url.clone()));
    }
    let legs = [
        ("Number", connected.number.clone()),
        ("Type", "single".to_string()),
        ("CallerId", connected.caller_id.clone()),
        ("CauseCode", cause_code.to_string()),
        ("Cause", cause.to_string()),
        ("OnCallDuration", leg.talk.to_string()),
    ];
    params.extend(legs.into_iter().map(|(k, v)| (format!("Legs[0][{k}]"), v)));
    params
}

/// `Created` as the capture writes it, in IST: `Tue, 16 Feb 2016 15:56:26`.
fn created(at: DateTime<Utc>) -> String {
    ist(at, "%a, %d %b %Y %H:%M:%S")
}

/// A stable numeric tenant id per account (Exotel's is an internal number,
/// `tenant_id=39` in the capture).
pub fn tenant_id(account_sid: &str) -> u32 {
    account_sid
        .bytes()
        .fold(17u32, |hash, byte| hash.wrapping_mul(31).wrapping_add(u32::from(byte)))
        % 100_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_reads_like_the_captured_passthru() {
        let at = DateTime::parse_from_rfc3339("2016-02-16T10:26:26Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(created(at), "Tue, 16 Feb 2016 15:56:26");
    }
}
