//! What the provider reports of a call: its status, legs, durations, price
//! and recording, from a status callback or a call-details lookup.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a call stands. Exotel's `in-progress` right after the request
/// means dialling (`Queued`); in an `answered` callback it means `Answered`:
/// the reader of the provider's words decides which, not this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// Recorded; the provider not yet (or not provably) asked.
    Requested,
    /// The provider has the call and is dialling.
    Queued,
    Ringing,
    Answered,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
    /// The provider refused to place the call.
    Refused,
}

impl CallStatus {
    /// The order statuses move in; every ending ranks last.
    pub fn rank(self) -> u8 {
        match self {
            Self::Requested => 0,
            Self::Queued => 1,
            Self::Ringing => 2,
            Self::Answered => 3,
            Self::Completed | Self::Busy | Self::NoAnswer | Self::Failed | Self::Canceled | Self::Refused => 4,
        }
    }

    pub fn is_terminal(self) -> bool {
        self.rank() == 4
    }

    /// The status once the provider has the call.
    pub fn once_placed(self) -> Self {
        match self {
            Self::Requested => Self::Queued,
            other => other,
        }
    }
}

/// How a report reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportSource {
    /// Exotel's status callback.
    Callback,
    /// Our look-up of the call's details.
    Lookup,
    /// A flow's Passthru or Connect request.
    Flow,
}

/// One leg of a call: the agent's (first) or the customer's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    /// The provider's words (`completed`, `no-answer`, …).
    pub status: Option<String>,
    pub on_call_duration_secs: Option<u32>,
}

/// What arrives during and after a call, each part when it comes.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallDetails {
    pub duration_secs: Option<u32>,
    pub conversation_duration_secs: Option<u32>,
    /// Integer paise.
    pub price_paise: Option<i64>,
    /// `agent`, `customer` or the provider's word for who hung up.
    pub disconnected_by: Option<String>,
    /// The provider's recording URL: private, never handed to callers.
    pub recording_url: Option<String>,
    pub legs: Option<Vec<Leg>>,
}

impl CallDetails {
    /// The parts of `other` this does not know yet, or `None` if it knows
    /// them all: a part once known is kept.
    pub fn missing_from(&self, other: &CallDetails) -> Option<CallDetails> {
        fn new<T: Clone>(mine: &Option<T>, theirs: &Option<T>) -> Option<T> {
            match mine {
                Some(_) => None,
                None => theirs.clone(),
            }
        }
        let added = CallDetails {
            duration_secs: new(&self.duration_secs, &other.duration_secs),
            conversation_duration_secs: new(&self.conversation_duration_secs, &other.conversation_duration_secs),
            price_paise: new(&self.price_paise, &other.price_paise),
            disconnected_by: new(&self.disconnected_by, &other.disconnected_by),
            recording_url: new(&self.recording_url, &other.recording_url),
            legs: new(&self.legs, &other.legs).filter(|legs| !legs.is_empty()),
        };
        (added != CallDetails::default()).then_some(added)
    }

    /// Adds the parts given; parts already known stay as they are.
    pub fn add(&mut self, added: CallDetails) {
        fn keep<T>(mine: &mut Option<T>, theirs: Option<T>) {
            if mine.is_none() {
                *mine = theirs;
            }
        }
        keep(&mut self.duration_secs, added.duration_secs);
        keep(&mut self.conversation_duration_secs, added.conversation_duration_secs);
        keep(&mut self.price_paise, added.price_paise);
        keep(&mut self.disconnected_by, added.disconnected_by);
        keep(&mut self.recording_url, added.recording_url);
        keep(&mut self.legs, added.legs);
    }
}

/// One report of a call, as received; `report_id` identifies it so the
/// same report twice is recorded once (for a callback, a digest of its
/// body; for a lookup, of what it found).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub report_id: String,
    pub source: ReportSource,
    pub provider_sid: Option<String>,
    /// The provider's word for the status, as received.
    pub provider_status: Option<String>,
    /// What that word means for this call, if anything.
    pub status: Option<CallStatus>,
    pub details: CallDetails,
    pub received_at: DateTime<Utc>,
}

impl CallStatus {
    /// What Exotel's word for a status means. `in-progress` means dialling
    /// except in an `answered` event, where it means the call was answered;
    /// an unknown word means nothing (it is kept as received, and moves
    /// nothing).
    pub fn from_provider(word: &str, event_type: Option<&str>) -> Option<Self> {
        let answered_event = event_type.is_some_and(|e| e.eq_ignore_ascii_case("answered"));
        Some(match word.trim().to_ascii_lowercase().as_str() {
            "queued" => Self::Queued,
            "ringing" => Self::Ringing,
            "in-progress" if answered_event => Self::Answered,
            "in-progress" => Self::Queued,
            "answered" => Self::Answered,
            "completed" => Self::Completed,
            "busy" => Self::Busy,
            "no-answer" => Self::NoAnswer,
            "failed" => Self::Failed,
            "canceled" | "cancelled" => Self::Canceled,
            _ => return None,
        })
    }
}

/// A price in rupees as the provider writes it (`"1.500"`, `"0.180000"`,
/// `"2"`) in integer paise, half a paisa rounded up; `None` for anything
/// that is not a non-negative decimal number.
pub fn paise(rupees: &str) -> Option<i64> {
    let text = rupees.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole: i64 = match whole {
        "" => 0,
        w => w.parse().ok()?,
    };
    let mut cents = fraction
        .bytes()
        .map(|b| i64::from(b - b'0'))
        .chain(std::iter::repeat(0));
    let (tens, ones, rest) = (cents.next()?, cents.next()?, cents.next()?);
    let rounded = tens * 10 + ones + i64::from(rest >= 5);
    whole.checked_mul(100)?.checked_add(rounded)
}
