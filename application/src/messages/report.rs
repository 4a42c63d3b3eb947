//! Exotel's SMS reports: the status callback (urlencoded, reference
//! §6.5) and the details of a look-up, read into one report, and the
//! callback recorded once on the message it names.

use chrono::{DateTime, Utc};

use domain::OrganisationId;
use domain::call::paise;
use domain::outbound_message::{MessageReport, MessageStatus, ReportSource};

use super::{Messages, MessagesError};
use crate::calls::Callback;
use crate::exotel::SmsInfo;
use crate::metadata::EventMetadata;

/// An SMS status callback's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmsCallback {
    pub sms_sid: String,
    pub to: Option<String>,
    pub status: Option<String>,
    pub detailed_status: Option<String>,
    pub detailed_status_code: Option<i64>,
    pub units: Option<u32>,
    pub date_sent: Option<String>,
    /// The message's id, as Switchboard sent it.
    pub custom_field: Option<String>,
}

/// A callback as a report; `body_digest` identifies it.
pub fn callback_report(callback: &SmsCallback, body_digest: String, received_at: DateTime<Utc>) -> MessageReport {
    MessageReport {
        report_id: body_digest,
        source: ReportSource::Callback,
        provider_sid: Some(callback.sms_sid.clone()),
        provider_status: callback.status.clone(),
        status: callback
            .status
            .as_deref()
            .and_then(|s| MessageStatus::from_sms(s, callback.detailed_status_code)),
        detailed_code: callback.detailed_status_code,
        detailed_status: callback.detailed_status.clone(),
        units: callback.units,
        price_paise: None,
        received_at,
    }
}

/// What a look-up found, as a report identified by what it says.
pub(super) fn lookup_report(info: &SmsInfo, received_at: DateTime<Utc>) -> MessageReport {
    let said = format!(
        "lookup/{}/{}/{:?}/{:?}/{:?}",
        info.sid, info.status, info.detailed_status_code, info.units, info.price
    );
    MessageReport {
        report_id: said,
        source: ReportSource::Lookup,
        provider_sid: Some(info.sid.clone()),
        provider_status: Some(info.status.clone()),
        status: MessageStatus::from_sms(&info.status, info.detailed_status_code),
        detailed_code: info.detailed_status_code,
        detailed_status: info.detailed_status.clone(),
        units: info.units.and_then(|u| u32::try_from(u).ok()),
        price_paise: info.price.as_deref().and_then(paise),
        received_at,
    }
}

impl Messages<'_> {
    /// Records a status callback on the message it names (by our id in
    /// `CustomField`, else by Exotel's sid); the same callback twice is
    /// recorded once.
    pub async fn record_callback(
        &self,
        organisation_id: OrganisationId,
        callback: &SmsCallback,
        body_digest: String,
        meta: &EventMetadata,
    ) -> Result<Callback, MessagesError> {
        let report = callback_report(callback, body_digest, self.clock.now());
        self.record_report(
            organisation_id,
            callback.custom_field.as_deref(),
            &callback.sms_sid,
            report,
            meta,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_dnd_failure_callback_reads_as_a_failure_with_its_code() {
        let callback = SmsCallback {
            sms_sid: "sid-1".into(),
            status: Some("failed-dnd".into()),
            detailed_status: Some("FAILED_REJECTED_DND".into()),
            detailed_status_code: Some(23005),
            units: Some(1),
            ..SmsCallback::default()
        };
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        let report = callback_report(&callback, "digest".into(), at);
        assert_eq!(report.status, Some(MessageStatus::Failed));
        assert_eq!(report.provider_sid.as_deref(), Some("sid-1"));
        assert_eq!(report.report_id, "digest");
        assert_eq!(report.units, Some(1));
        let failure = report.failure().unwrap();
        assert_eq!(failure.code, Some(23005));
        assert_eq!(failure.description.as_deref(), Some("FAILED_REJECTED_DND"));
    }

    #[test]
    fn a_lookup_reads_its_price_in_paise_and_is_identified_by_what_it_says() {
        let info = SmsInfo {
            sid: "sid-1".into(),
            to: "+919800000002".into(),
            from: "/SWTCHB".into(),
            status: "sent".into(),
            detailed_status_code: Some(20005),
            detailed_status: Some("DELIVERED_TO_HANDSET".into()),
            units: Some(2),
            sent_at: None,
            price: Some("0.360000".into()),
        };
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        let report = lookup_report(&info, at);
        assert_eq!(report.status, Some(MessageStatus::Delivered));
        assert_eq!(report.price_paise, Some(36));
        assert_eq!(report.units, Some(2));
        assert_eq!(report.source, ReportSource::Lookup);
        let later = lookup_report(&info, at + chrono::Duration::minutes(5));
        assert_eq!(report.report_id, later.report_id);
        let changed = lookup_report(
            &SmsInfo {
                status: "failed".into(),
                ..info
            },
            at,
        );
        assert_ne!(report.report_id, changed.report_id);
    }
}
