//! What the simulator remembers: accounts and their ExoPhones, calls, the
//! scripted behaviour of each number, and every request it received.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use crate::flows::{Applet, FlowStep};
use crate::recordings::Recording;

/// An Exotel account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub sid: String,
    pub api_key: String,
    pub api_token: String,
    /// Virtual numbers the account owns (any form; kept 0-prefixed).
    pub exophones: Vec<String>,
}

/// How a phone number behaves when called.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Scenario {
    /// `answer`, `busy`, `no-answer` or `failed`.
    pub outcome: String,
    /// Seconds it rings before the outcome.
    pub ring_seconds: u64,
    /// Seconds the party talks once connected.
    pub talk_seconds: u64,
    /// On the DND registry: promotional calls are refused.
    pub dnd: bool,
    /// A fault for requests that dial this number: `server_error` (500),
    /// `unavailable` (503), `rate_limited` (429) or `timeout` (no answer
    /// for a minute).
    pub fault: Option<String>,
    /// How this callee's status callbacks are sent: `normal`, `drop`,
    /// `duplicate` or `reorder` (a later event before an earlier one).
    pub callbacks: String,
    /// Simulated seconds each callback is held back.
    pub callback_delay_seconds: u64,
    /// The keys this party presses at a Gather applet (`0-9`, `*`, `#`).
    pub digits: Option<String>,
    /// Who talks when, in simulated seconds from the moment both parties
    /// are connected. When given, the last `end` (rounded up) is the talk
    /// length instead of `talk_seconds`.
    pub segments: Option<Vec<Segment>>,
}

/// Who is heard in a stretch of conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    /// The party dialled first (`From`).
    Caller,
    /// The party dialled second (`To`, or a flow's Connect number).
    Callee,
    /// Both at once (an overlap).
    Both,
}

/// A stretch of talk, in simulated seconds from the start of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub speaker: Speaker,
    pub start: f64,
    pub end: f64,
}

impl Segment {
    /// Whether `speaker`'s voice is heard in this segment.
    pub fn heard(&self, speaker: Speaker) -> bool {
        self.speaker == speaker || self.speaker == Speaker::Both
    }
}

impl Scenario {
    /// Seconds the party talks once connected: the scripted segments' end
    /// (rounded up) when there are any, else `talk_seconds`.
    pub fn talk_length(&self) -> u64 {
        match &self.segments {
            Some(segments) if !segments.is_empty() => segments.iter().map(|s| s.end.ceil() as u64).max().unwrap_or(0),
            _ => self.talk_seconds,
        }
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            outcome: "answer".into(),
            ring_seconds: 3,
            talk_seconds: 30,
            dnd: false,
            fault: None,
            callbacks: "normal".into(),
            callback_delay_seconds: 0,
            digits: None,
            segments: None,
        }
    }
}

/// One call as the simulator tracks it.
#[derive(Debug, Clone, Default)]
pub struct CallRecord {
    pub sid: String,
    pub account_sid: String,
    pub from: String,
    pub to: String,
    pub caller_id: String,
    pub status: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub updated: chrono::DateTime<chrono::Utc>,
    pub ended: Option<chrono::DateTime<chrono::Utc>>,
    pub duration: Option<u64>,
    pub conversation: u64,
    pub legs: Vec<(String, u64)>,
    pub custom_field: Option<String>,
    pub status_callback: Option<String>,
    pub callback_events: Vec<String>,
    /// How callbacks are encoded: `application/json`, `multipart/form-data`,
    /// or (anything else) form-urlencoded.
    pub callback_content_type: Option<String>,
    /// The flow (app id) a `Url=…/start_voice/{app_id}` call runs.
    pub flow: Option<String>,
    /// The recording, once a recorded call has ended with a conversation.
    pub recording: Option<Recording>,
}

/// A request as received, without its credentials' secret.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The Basic-auth user name, never the token.
    pub user: Option<String>,
    pub body: String,
}

/// The whole simulator.
pub struct SimState {
    pub accounts: Mutex<HashMap<String, Account>>,
    pub calls: Mutex<HashMap<String, CallRecord>>,
    pub scenarios: Mutex<HashMap<String, Scenario>>,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub voice_window: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// Simulated seconds per real second.
    pub time_scale: Mutex<f64>,
    pub http: reqwest::Client,
    /// Flows registered by app id.
    pub flows: Mutex<HashMap<String, Vec<Applet>>>,
    /// What each flow call did, step by step, by call sid.
    pub flow_steps: Mutex<HashMap<String, Vec<FlowStep>>>,
    /// For Passthru requests: a 302 is a branch, never followed.
    pub passthru_http: reqwest::Client,
}

/// Voice requests an account may make per minute (Exotel's documented limit).
pub const VOICE_PER_MINUTE: usize = 200;

impl SimState {
    /// One account — SID `sandbox`, key `sandbox-key`, token `sandbox-token` — with two ExoPhones.
    pub fn with_sandbox() -> Self {
        let sandbox = Account {
            sid: "sandbox".into(),
            api_key: "sandbox-key".into(),
            api_token: "sandbox-token".into(),
            exophones: vec!["08047112233".into(), "08047112234".into()],
        };
        Self {
            accounts: Mutex::new(HashMap::from([(sandbox.sid.clone(), sandbox)])),
            calls: Mutex::new(HashMap::new()),
            scenarios: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            voice_window: Mutex::new(HashMap::new()),
            time_scale: Mutex::new(1.0),
            http: reqwest::Client::new(),
            flows: Mutex::new(HashMap::new()),
            flow_steps: Mutex::new(HashMap::new()),
            passthru_http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }

    pub fn scenario(&self, number: &str) -> Scenario {
        self.scenarios
            .lock()
            .map(|s| s.get(&national(number)).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    pub fn scale(&self) -> f64 {
        self.time_scale.lock().map(|s| *s).unwrap_or(1.0)
    }

    /// Records a voice request; `false` when the account is over its limit.
    pub fn admit_voice(&self, account: &str) -> bool {
        let Ok(mut windows) = self.voice_window.lock() else {
            return false;
        };
        let window = windows.entry(account.to_string()).or_default();
        let now = Instant::now();
        while window.front().is_some_and(|t| now.duration_since(*t).as_secs() >= 60) {
            window.pop_front();
        }
        if window.len() >= VOICE_PER_MINUTE {
            return false;
        }
        window.push_back(now);
        true
    }
}

/// An Indian number in Exotel's 0-prefixed national form, as v1 responses
/// give it back (`+919876543210`, `919876543210`, `9876543210` → `09876543210`).
pub fn national(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    match digits.len() {
        12 if digits.starts_with("91") => format!("0{}", &digits[2..]),
        10 => format!("0{digits}"),
        _ => digits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_given_back_in_the_zero_prefixed_national_form() {
        for input in ["+919876543210", "919876543210", "9876543210", "09876543210"] {
            assert_eq!(national(input), "09876543210");
        }
    }
}
