//! Where an outbound message stands, and what the provider reports of it:
//! a status callback (delivery report) or a look-up of its details.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a message stands. Statuses move forward only: a delivered message
/// is never made `sent` again by a late report, and once failed (or
/// refused) nothing moves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Recorded; the provider not yet (or not provably) asked.
    Requested,
    /// The provider has the message (it answered with its sid), queued.
    Submitted,
    /// Handed to the operator (SMS) or to WhatsApp's servers.
    Sent,
    /// On the recipient's handset.
    Delivered,
    /// Read by the recipient (WhatsApp).
    Read,
    /// The provider or the operator reported that it failed.
    Failed,
    /// The provider refused the request: nothing was sent.
    Refused,
}

impl MessageStatus {
    /// The order statuses move in.
    pub fn rank(self) -> u8 {
        match self {
            Self::Requested => 0,
            Self::Submitted => 1,
            Self::Sent => 2,
            Self::Delivered => 3,
            Self::Read => 4,
            Self::Failed | Self::Refused => 5,
        }
    }

    /// Whether nothing moves a message on from here.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Read | Self::Failed | Self::Refused)
    }

    /// Whether a report of `next` moves a message standing at `self`: a
    /// later status does (none is later than a final one); a failure does
    /// only before the message was delivered.
    pub fn moves_to(self, next: MessageStatus) -> bool {
        match next {
            Self::Failed => self.rank() < Self::Delivered.rank(),
            Self::Refused => false,
            _ => next.rank() > self.rank(),
        }
    }

    /// What Exotel's SMS `Status` and `DetailedStatusCode` mean (reference
    /// §6.6): `queued` and `sending` are with Exotel, `submitted` with the
    /// operator; `sent` is delivered, except with 20006 (delivered to the
    /// operator only); `failed` and the DND failure (spelt `failed-dnd` and
    /// `failed_dnd`) fail. An unknown word means nothing.
    pub fn from_sms(status: &str, detailed_code: Option<i64>) -> Option<Self> {
        Some(match status.trim().to_ascii_lowercase().as_str() {
            "queued" | "sending" => Self::Submitted,
            "submitted" => Self::Sent,
            "sent" if detailed_code == Some(20006) => Self::Sent,
            "sent" | "delivered" => Self::Delivered,
            "failed" | "failed-dnd" | "failed_dnd" | "undelivered" => Self::Failed,
            _ => return None,
        })
    }
}

impl MessageStatus {
    /// What Exotel's WhatsApp receipt means (reference §7.3), by its
    /// `exo_detailed_status` when there is one, else by `exo_status_code`:
    /// sent, delivered and seen (read) are successes, any other `EX_…`
    /// status or 300xx code a failure; anything else means nothing.
    pub fn from_whatsapp(code: Option<i64>, detailed: Option<&str>) -> Option<Self> {
        match detailed.map(|d| d.trim().to_ascii_uppercase()).as_deref() {
            Some("EX_MESSAGE_SENT") => Some(Self::Sent),
            Some("EX_MESSAGE_DELIVERED") => Some(Self::Delivered),
            Some("EX_MESSAGE_SEEN") | Some("EX_MESSAGE_READ") => Some(Self::Read),
            Some("EX_MESSAGE_QUEUED") | Some("EX_MESSAGE_ACCEPTED") => Some(Self::Submitted),
            Some(other) if other.starts_with("EX_") => Some(Self::Failed),
            _ => match code {
                Some(30001) => Some(Self::Sent),
                Some(30002) => Some(Self::Delivered),
                Some(30003) => Some(Self::Read),
                Some(30004..=30099) => Some(Self::Failed),
                _ => None,
            },
        }
    }
}

/// How a report reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportSource {
    /// The provider's status callback.
    Callback,
    /// Our look-up of the message's details.
    Lookup,
}

/// Why the provider or operator failed a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The provider's code (Exotel's `DetailedStatusCode`).
    pub code: Option<i64>,
    /// Its description (`FAILED_REJECTED_DND`, …).
    pub description: Option<String>,
}

/// One report of a message, as received; `report_id` identifies it (a
/// digest of the callback's body, or of what a look-up found), so the
/// same report twice is recorded once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReport {
    pub report_id: String,
    pub source: ReportSource,
    pub provider_sid: Option<String>,
    /// The provider's word for the status, as received.
    pub provider_status: Option<String>,
    /// What that word means, if anything.
    pub status: Option<MessageStatus>,
    pub detailed_code: Option<i64>,
    pub detailed_status: Option<String>,
    /// Billed units (SMS parts), once known.
    pub units: Option<u32>,
    /// Integer paise, once known.
    pub price_paise: Option<i64>,
    pub received_at: DateTime<Utc>,
}

impl MessageReport {
    /// The failure the report names, when it reports one.
    pub fn failure(&self) -> Option<Failure> {
        (self.status == Some(MessageStatus::Failed)).then(|| Failure {
            code: self.detailed_code,
            description: self.detailed_status.clone(),
        })
    }
}
