//! The Connect applet's "call popup" webhook (reference §3.5): as the agent
//! is dialled, answers and hangs up, Exotel hits a URL with `EventType`
//! `Dial` → `Answered` → `Terminal` and `Status` `busy` (agent busy) or
//! `free` (agent released). `Answered` is skipped when the agent does not
//! answer.
//!
//! The method is not documented; like the other flow URLs the simulator
//! sends a GET with query parameters (a guess).

use std::time::Duration;

use crate::state::{CallRecord, SimState};

/// One popup URL for one dialled agent.
pub struct Popup<'a> {
    pub url: &'a str,
    pub call: &'a CallRecord,
    /// The agent's number (`DialWhomNumber`).
    pub agent: &'a str,
}

impl Popup<'_> {
    /// Sends one event; a failure is logged, never fatal to the call.
    pub async fn send(&self, state: &SimState, event: &str, talk: u64, recording_url: Option<&str>) {
        let status = if event == "Terminal" { "free" } else { "busy" };
        let call = self.call;
        let query = [
            ("CallSid", call.sid.as_str()),
            ("CallFrom", call.from.as_str()),
            ("CallTo", call.caller_id.as_str()),
            ("From", call.from.as_str()),
            ("To", call.caller_id.as_str()),
            ("Direction", call.flow_direction()),
            ("DialWhomNumber", self.agent),
            ("DialCallDuration", &talk.to_string()),
            ("RecordingUrl", recording_url.unwrap_or_default()),
            ("EventType", event),
            ("Status", status),
        ];
        let request = state.http.get(self.url).query(&query).timeout(Duration::from_secs(10));
        if let Err(error) = request.send().await {
            tracing::warn!(%error, call = %call.sid, "call popup failed");
        }
    }
}
