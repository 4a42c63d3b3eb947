//! What Exotel said of a call, as the report the Call aggregate keeps.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use domain::call::{CallDetails, CallStatus, Leg, ReportSource, StatusReport, paise};

use crate::exotel::CallInfo;

/// A status callback as a report; `body_digest` (of the body as received)
/// identifies it, so the same callback twice is recorded once.
pub fn callback_report(info: &CallInfo, body_digest: String, received_at: DateTime<Utc>) -> StatusReport {
    report(info, ReportSource::Callback, body_digest, received_at)
}

/// A look-up's findings as a report, identified by what was found: the
/// same findings again are recorded once.
pub fn lookup_report(info: &CallInfo, received_at: DateTime<Utc>) -> StatusReport {
    let mut digest = Sha256::new();
    let found = format!(
        "{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        info.sid,
        info.status,
        info.duration_secs,
        info.conversation_secs,
        info.price,
        info.recording_url,
        info.legs,
        info.ended_at
    );
    digest.update(found.as_bytes());
    let id = format!("lookup-{}", hex::encode(digest.finalize()));
    report(info, ReportSource::Lookup, id, received_at)
}

fn report(info: &CallInfo, source: ReportSource, report_id: String, received_at: DateTime<Utc>) -> StatusReport {
    let status = CallStatus::from_provider(&info.status, info.event_type.as_deref());
    let legs: Vec<Leg> = info
        .legs
        .iter()
        .map(|leg| Leg {
            status: leg.status.clone(),
            on_call_duration_secs: leg.on_call_secs.and_then(|s| u32::try_from(s).ok()),
        })
        .collect();
    // Durations, price, legs and the recording are final only once the
    // call has ended (an `answered` callback says `ConversationDuration: 0`),
    // and a part once known is kept: so they are taken from endings only.
    let details = match status.is_some_and(CallStatus::is_terminal) {
        true => CallDetails {
            duration_secs: info.duration_secs.and_then(|s| u32::try_from(s).ok()),
            conversation_duration_secs: info.conversation_secs.and_then(|s| u32::try_from(s).ok()),
            price_paise: info.price.as_deref().and_then(paise),
            disconnected_by: info.disconnected_by.clone(),
            recording_url: info.recording_url.clone().filter(|u| !u.trim().is_empty()),
            legs: Some(legs).filter(|l| !l.is_empty()),
        },
        false => CallDetails::default(),
    };
    StatusReport {
        report_id,
        source,
        provider_sid: Some(info.sid.clone()),
        provider_status: Some(info.status.clone()).filter(|s| !s.is_empty()),
        status,
        details,
        received_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exotel::CallLeg;

    fn info(status: &str, event: Option<&str>) -> CallInfo {
        CallInfo {
            sid: "sid-1".into(),
            status: status.into(),
            from: "+919876543210".into(),
            to: Some("+919812345678".into()),
            caller_id: None,
            direction: None,
            started_at: None,
            ended_at: None,
            duration_secs: Some(17),
            price: Some("1.500".into()),
            recording_url: Some(String::new()),
            conversation_secs: Some(8),
            legs: vec![
                CallLeg {
                    status: Some("completed".into()),
                    on_call_secs: Some(21),
                },
                CallLeg {
                    status: Some("completed".into()),
                    on_call_secs: Some(8),
                },
            ],
            custom_field: None,
            event_type: event.map(str::to_string),
            disconnected_by: Some("agent".into()),
        }
    }

    #[test]
    fn a_terminal_callback_reads_as_its_status_details_and_legs() {
        let at = Utc::now();
        let report = callback_report(&info("completed", Some("terminal")), "d1".into(), at);
        assert_eq!(report.report_id, "d1");
        assert_eq!(report.source, ReportSource::Callback);
        assert_eq!(report.provider_sid.as_deref(), Some("sid-1"));
        assert_eq!(report.status, Some(CallStatus::Completed));
        assert_eq!(report.details.duration_secs, Some(17));
        assert_eq!(report.details.conversation_duration_secs, Some(8));
        assert_eq!(report.details.price_paise, Some(150));
        assert_eq!(report.details.disconnected_by.as_deref(), Some("agent"));
        assert_eq!(
            report.details.recording_url, None,
            "an empty RecordingUrl is no recording"
        );
        let legs = report.details.legs.unwrap();
        assert_eq!((legs.len(), legs[0].on_call_duration_secs), (2, Some(21)));
        assert_eq!(report.received_at, at);
    }

    #[test]
    fn a_callback_without_a_status_word_keeps_none_and_moves_nothing() {
        let report = callback_report(&info("", None), "d3".into(), Utc::now());
        assert_eq!(report.provider_status, None);
        assert_eq!(report.status, None);
        let worded = callback_report(&info("busy", None), "d4".into(), Utc::now());
        assert_eq!(worded.provider_status.as_deref(), Some("busy"));
    }

    #[test]
    fn no_detail_of_a_call_still_under_way_is_kept() {
        let report = callback_report(&info("in-progress", Some("answered")), "d2".into(), Utc::now());
        assert_eq!(report.status, Some(CallStatus::Answered));
        assert_eq!(report.details, CallDetails::default());
    }

    #[test]
    fn the_same_findings_make_the_same_lookup_report_and_new_ones_another() {
        let at = Utc::now();
        let first = lookup_report(&info("completed", None), at);
        assert_eq!(first.source, ReportSource::Lookup);
        assert!(first.report_id.starts_with("lookup-"));
        assert_eq!(first.report_id, lookup_report(&info("completed", None), at).report_id);
        let mut priced = info("completed", None);
        priced.price = Some("2.000".into());
        assert_ne!(first.report_id, lookup_report(&priced, at).report_id);
    }
}
