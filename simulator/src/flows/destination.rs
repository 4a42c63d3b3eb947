//! Whom a Connect applet dials: a fixed number, or what its URL answers
//! when it chooses the destination at call time (addendum §C), read in
//! both documented ways:
//!
//! - "Dial whom" (§C.1): the body is the number to dial, as text/plain or
//!   as a JSON string (`"09876543210"`, its quotes trimmed). Whether several
//!   numbers may be given is not documented (a guess: one).
//! - Programmable Connect (§C.2): JSON `{"destination": {"numbers":
//!   ["+91…"]}, "outgoing_phone_number": "0…", "record": true,
//!   "recording_channels": "dual", "max_ringing_duration": 45,
//!   "max_conversation_duration": 3600}`. The first number is dialled and
//!   `"numbers": []` dials nobody. `fetch_after_attempt`,
//!   `parallel_ringing`, `music_on_hold`, `start_call_playback` and
//!   `dial_passthru_event_url` are accepted and have no effect.
//!
//! Numbers may come in any form (`+91…`, `0…`, ten digits); they are dialled
//! in the 0-prefixed national form.

use serde::Deserialize;

use crate::recordings::Channels;
use crate::state::{is_indian, national};

/// Whom a Connect dials, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// The number to dial, 0-prefixed.
    pub number: String,
    /// The caller id the dialled party sees instead of the ExoPhone.
    pub caller_id: Option<String>,
    /// Whether to record this leg's conversation, when the answer says.
    pub record: Option<bool>,
    pub channels: Option<Channels>,
    /// Seconds the leg may ring before it counts as unanswered.
    pub max_ringing: Option<u64>,
    /// Seconds the conversation may last.
    pub max_conversation: Option<u64>,
}

/// Why a Connect dialled nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotDialled {
    /// The URL named nobody (`"numbers": []`): Exotel's "we didn't dial
    /// anyone" transition.
    NoNumbers,
    /// An answer other than 200, or none in time.
    FetchFailed,
    /// A 200 whose body names no phone number in either reading.
    Unreadable,
}

impl NotDialled {
    /// The step's `outcome`.
    pub fn outcome(self) -> &'static str {
        match self {
            NotDialled::NoNumbers => "not_dialled",
            NotDialled::FetchFailed => "fetch_failed",
            NotDialled::Unreadable => "unreadable",
        }
    }
}

impl Destination {
    /// A fixed Connect's number, dialled as the call was placed.
    pub fn fixed(to: &str) -> Destination {
        Destination {
            number: national(to),
            caller_id: None,
            record: None,
            channels: None,
            max_ringing: None,
            max_conversation: None,
        }
    }

    /// How this leg is recorded: as the answer says, else as the call's
    /// `Record` (`call`) says.
    pub fn recording(&self, call: Option<Channels>) -> Option<Channels> {
        match self.record {
            Some(true) => Some(self.channels.or(call).unwrap_or(Channels::Single)),
            Some(false) => None,
            None => call,
        }
    }
}

/// The body a Connect URL answered with 200, read as Programmable Connect
/// JSON when it is a JSON object, else as "Dial whom".
pub fn read(body: &str) -> Result<Destination, NotDialled> {
    let body = body.trim();
    if body.starts_with('{') {
        let answer: Programmable = serde_json::from_str(body).map_err(|_| NotDialled::Unreadable)?;
        return answer.destination();
    }
    phone(body.trim_matches('"')).map(|number| Destination::fixed(&number))
}

/// The answer of a Programmable Connect URL (the keys it has effect with).
#[derive(Debug, Deserialize)]
struct Programmable {
    destination: Numbers,
    outgoing_phone_number: Option<String>,
    record: Option<bool>,
    recording_channels: Option<String>,
    max_ringing_duration: Option<u64>,
    max_conversation_duration: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Numbers {
    #[serde(default)]
    numbers: Vec<String>,
}

impl Programmable {
    fn destination(self) -> Result<Destination, NotDialled> {
        let first = self.destination.numbers.first().ok_or(NotDialled::NoNumbers)?;
        let caller_id = match self.outgoing_phone_number.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(number) => Some(phone(number)?),
        };
        let channels = match self.recording_channels.as_deref() {
            None => None,
            given => Some(Channels::parse(given).ok_or(NotDialled::Unreadable)?),
        };
        Ok(Destination {
            number: phone(first)?,
            caller_id,
            record: self.record,
            channels,
            max_ringing: self.max_ringing_duration.filter(|s| *s > 0),
            max_conversation: self.max_conversation_duration.filter(|s| *s > 0),
        })
    }
}

/// An Indian phone number in any form, 0-prefixed; unreadable otherwise.
fn phone(text: &str) -> Result<String, NotDialled> {
    let text = text.trim();
    let written = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
    match written && is_indian(text) {
        true => Ok(national(text)),
        false => Err(NotDialled::Unreadable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_whom_reads_a_bare_number_or_a_json_string_in_any_form() {
        for body in [
            "09876543210",
            "+919876543210\n",
            "\"9876543210\"",
            " \"+91 98765 43210\" ",
        ] {
            assert_eq!(read(body).map(|d| d.number), Ok("09876543210".into()), "{body:?}");
        }
    }

    #[test]
    fn programmable_connect_dials_the_first_number_as_the_answer_says() {
        let body = r#"{"fetch_after_attempt":false,"destination":{"numbers":["+919123456789","09000000001"]},
            "outgoing_phone_number":"08047112234","record":true,"recording_channels":"dual",
            "max_ringing_duration":45,"max_conversation_duration":3600,"music_on_hold":{"type":"operator_tone"}}"#;
        let destination = read(body).unwrap();
        assert_eq!(destination.number, "09123456789");
        assert_eq!(destination.caller_id.as_deref(), Some("08047112234"));
        assert_eq!(destination.recording(None), Some(Channels::Dual));
        assert_eq!(
            (destination.max_ringing, destination.max_conversation),
            (Some(45), Some(3600))
        );
    }

    #[test]
    fn an_answer_naming_nobody_or_nothing_readable_dials_nobody() {
        assert_eq!(read(r#"{"destination":{"numbers":[]}}"#), Err(NotDialled::NoNumbers));
        for body in [
            "",
            "nobody",
            "<html>oops</html>",
            r#"{"numbers":["09123456789"]}"#,
            r#"{"destination":{"numbers":["agent-7"]}}"#,
            r#"{"destination":{"numbers":["09123456789"]},"recording_channels":"stereo"}"#,
        ] {
            assert_eq!(read(body), Err(NotDialled::Unreadable), "{body:?}");
        }
    }

    #[test]
    fn a_fixed_connect_records_as_the_call_does() {
        let fixed = Destination::fixed("+919123456789");
        assert_eq!(fixed.number, "09123456789");
        assert_eq!(fixed.recording(Some(Channels::Single)), Some(Channels::Single));
        assert_eq!(fixed.recording(None), None);
    }
}
