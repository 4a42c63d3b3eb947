//! What the simulator remembers: accounts and their ExoPhones, calls, SMS,
//! WhatsApp templates, the scripted behaviour of each number, and every
//! request it received.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::flows::{Applet, FlowStep};
use crate::recordings::Recording;
use crate::request::LoggedRequest;

/// An Exotel account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub sid: String,
    pub api_key: String,
    pub api_token: String,
    /// Virtual numbers the account owns (any form; kept 0-prefixed).
    pub exophones: Vec<String>,
    /// DLT-registered SMS headers (sender ids) linked to the account: six
    /// letters for transactional SMS, six digits for promotional. The first
    /// is the one Exotel names after the ExoPhone in an SMS's `From`.
    #[serde(default)]
    pub sender_ids: Vec<String>,
    /// Where WhatsApp messages from customers (and receipts without a
    /// `status_callback`) are posted: the URL configured at onboarding.
    #[serde(default)]
    pub whatsapp_webhook: Option<String>,
}

impl Account {
    /// Whether `number` (in any form) is one of the account's ExoPhones.
    pub fn owns(&self, number: &str) -> bool {
        self.exophones.iter().any(|n| national(n) == national(number))
    }
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
    /// On the DND registry: calls are refused unless the account whitelisted
    /// the number, and promotional SMS fail as DND.
    pub dnd: bool,
    /// A fault for requests that dial this number: `server_error` (500),
    /// `unavailable` (503), `rate_limited` (429) or `timeout` (no answer
    /// for a minute), all before the request acts; or, for a call,
    /// `timeout_after_accepting` and `server_error_after_accepting`: the
    /// call is placed and goes on, but the answer is withheld for a minute
    /// or is a 500.
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
    /// How an SMS to this number ends, named by its final `Status`: `sent`,
    /// `failed` or `failed-dnd` (also spelt `failed_dnd`).
    pub sms: String,
    /// The final `DetailedStatusCode` (20005 when sent, 23005 when refused
    /// as DND, 23035 for other failures unless set), e.g. 23185 for a DLT
    /// template mismatch.
    pub sms_detailed_status_code: Option<u32>,
    /// Simulated seconds from `queued` to the final status.
    pub sms_delay_seconds: u64,
    /// How a WhatsApp message to this number ends: `sent`, `delivered`,
    /// `read` or `failed`.
    pub whatsapp: String,
    /// The `exo_status_code` of a failed WhatsApp message (30013
    /// EX_INCAPABLE_RECIPIENT unless set).
    pub whatsapp_error_code: Option<u32>,
    /// Simulated seconds between one WhatsApp receipt and the next.
    pub whatsapp_delay_seconds: u64,
    /// Telecom circle the number metadata API reports (`KA`, `GJ`…);
    /// unset: the landline's STD code, else `KA`.
    pub circle: Option<String>,
    /// Operator code the number metadata API reports (`A`, `R`, `V`…);
    /// unset: `A` (Airtel).
    pub operator: Option<String>,
    /// `Mobile`, `Landline` or `TollFree`; unset: read from the number.
    pub number_type: Option<String>,
    /// Once whitelisted, the customer unsubscribes by a missed call to the
    /// opt-in SMS: the whitelist check then says `Blacklist`.
    pub unsubscribes: bool,
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
            sms: "sent".into(),
            sms_detailed_status_code: None,
            sms_delay_seconds: 6,
            whatsapp: "read".into(),
            whatsapp_error_code: None,
            whatsapp_delay_seconds: 2,
            circle: None,
            operator: None,
            number_type: None,
            unsubscribes: false,
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
    /// A caller rang one of the account's ExoPhones
    /// (`POST /_simulator/incoming-calls`), rather than the account placing
    /// the call through the API.
    pub inbound: bool,
}

impl CallRecord {
    /// `Direction` as the REST API writes it: `inbound` for a call to an
    /// ExoPhone, `outbound-api` for one placed through `Calls/connect`.
    pub fn direction(&self) -> &'static str {
        match self.inbound {
            true => "inbound",
            false => "outbound-api",
        }
    }

    /// `Direction` as flow URLs receive it (reference §3.2): `incoming` for
    /// a call to an ExoPhone, `outbound-dial` for an API call into a flow.
    pub fn flow_direction(&self) -> &'static str {
        match self.inbound {
            true => "incoming",
            false => "outbound-dial",
        }
    }
}

/// One SMS as the simulator tracks it.
#[derive(Debug, Clone, Default)]
pub struct SmsRecord {
    pub sid: String,
    pub account_sid: String,
    /// As Exotel echoes it: `<ExoPhone>/<SenderId>`.
    pub from: String,
    pub to: String,
    pub body: String,
    pub status: String,
    pub detailed_status_code: u32,
    pub created: chrono::DateTime<chrono::Utc>,
    pub updated: chrono::DateTime<chrono::Utc>,
    pub sent: Option<chrono::DateTime<chrono::Utc>>,
    /// Known once the SMS reached its final status.
    pub units: Option<u32>,
    pub price: Option<String>,
    pub sms_type: String,
    pub custom_field: Option<String>,
    pub status_callback: Option<String>,
    pub callback_json: bool,
    /// The destination is no phone number an SMS can reach.
    pub unreachable: bool,
}

/// The whole simulator.
pub struct SimState {
    pub accounts: Mutex<HashMap<String, Account>>,
    pub calls: Mutex<HashMap<String, CallRecord>>,
    pub sms: Mutex<HashMap<String, SmsRecord>>,
    pub scenarios: Mutex<HashMap<String, Scenario>>,
    pub log: Mutex<Vec<LoggedRequest>>,
    /// Recent requests per API family and account, for rate limits.
    pub windows: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// Simulated seconds per real second.
    pub time_scale: Mutex<f64>,
    pub http: reqwest::Client,
    /// Flows registered by app id.
    pub flows: Mutex<HashMap<String, Vec<Applet>>>,
    /// What each flow call did, step by step, by call sid.
    pub flow_steps: Mutex<HashMap<String, Vec<FlowStep>>>,
    /// For Passthru requests: a 302 is a branch, never followed.
    pub passthru_http: reqwest::Client,
    /// ExoPhone details and the customer whitelist.
    pub(crate) numbers: crate::numbers::Registry,
    /// Lead Assist allocations and the calls made to them.
    pub(crate) masking: crate::masking::Leases,
    /// WhatsApp message templates, per account and WABA.
    pub(crate) templates: crate::whatsapp::Templates,
    /// Customers' media files, served to their account.
    pub(crate) media: crate::whatsapp::MediaFiles,
}

/// Voice requests an account may make per minute (Exotel's documented limit).
pub const VOICE_PER_MINUTE: usize = 200;

/// SMS requests an account may make per minute (Exotel's documented limit).
pub const SMS_PER_MINUTE: usize = 200;

impl SimState {
    /// Sets where an account's WhatsApp messages from customers are posted
    /// (the URL configured at onboarding); false for an unknown account.
    pub fn set_whatsapp_webhook(&self, sid: &str, url: String) -> bool {
        let Ok(mut accounts) = self.accounts.lock() else {
            return false;
        };
        match accounts.get_mut(sid) {
            Some(account) => {
                account.whatsapp_webhook = Some(url);
                true
            }
            None => false,
        }
    }

    /// One account — SID `sandbox`, key `sandbox-key`, token `sandbox-token` — with two ExoPhones,
    /// and WABA `sandbox-waba` holding two approved templates (`order_update`, `delivery_photo`).
    pub fn with_sandbox() -> Self {
        let sandbox = Account {
            sid: "sandbox".into(),
            api_key: "sandbox-key".into(),
            api_token: "sandbox-token".into(),
            exophones: vec!["08047112233".into(), "08047112234".into()],
            sender_ids: vec!["SNDBOX".into(), "600123".into()],
            whatsapp_webhook: None,
        };
        Self {
            accounts: Mutex::new(HashMap::from([(sandbox.sid.clone(), sandbox)])),
            calls: Mutex::new(HashMap::new()),
            sms: Mutex::new(HashMap::new()),
            scenarios: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            windows: Mutex::new(HashMap::new()),
            time_scale: Mutex::new(1.0),
            http: reqwest::Client::new(),
            flows: Mutex::new(HashMap::new()),
            flow_steps: Mutex::new(HashMap::new()),
            passthru_http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            numbers: Default::default(),
            masking: Default::default(),
            templates: crate::whatsapp::Templates::sandbox(),
            media: Default::default(),
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
        self.admit(format!("voice/{account}"), VOICE_PER_MINUTE)
    }

    /// Records an SMS request; `false` when the account is over its limit.
    pub fn admit_sms(&self, account: &str) -> bool {
        self.admit(format!("sms/{account}"), SMS_PER_MINUTE)
    }

    /// A sliding one-minute window of at most `limit` requests per key.
    fn admit(&self, key: String, limit: usize) -> bool {
        let Ok(mut windows) = self.windows.lock() else {
            return false;
        };
        let window = windows.entry(key).or_default();
        let now = Instant::now();
        while window.front().is_some_and(|t| now.duration_since(*t).as_secs() >= 60) {
            window.pop_front();
        }
        if window.len() >= limit {
            return false;
        }
        window.push_back(now);
        true
    }

    /// Waits `seconds` of simulated time (at most an hour of real time).
    pub async fn sleep(&self, seconds: f64) {
        let real = seconds / self.scale().max(0.001);
        let real = if real.is_finite() { real.clamp(0.0, 3600.0) } else { 0.0 };
        tokio::time::sleep(Duration::from_secs_f64(real)).await;
    }

    pub fn account(&self, sid: &str) -> Option<Account> {
        self.accounts.lock().ok()?.get(sid).cloned()
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

/// A number as WhatsApp callbacks write it: country code and digits, no `+`
/// (`09876543210`, `+919876543210` → `919876543210`).
pub fn international(number: &str) -> String {
    let national = national(number);
    match national.strip_prefix('0') {
        Some(rest) if national.len() == 11 => format!("91{rest}"),
        _ => national,
    }
}

/// An Indian number in E.164 (`09876543210` → `+919876543210`), as
/// ExoPhones and Lead Assist give numbers back.
pub fn e164(number: &str) -> String {
    let national = national(number);
    match national.strip_prefix('0') {
        Some(rest) if national.len() == 11 => format!("+91{rest}"),
        _ => national,
    }
}

/// Whether a number is a well-formed Indian number (11 digits once 0-prefixed).
pub fn is_indian(number: &str) -> bool {
    let national = national(number);
    national.len() == 11 && national.starts_with('0')
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

    #[test]
    fn whatsapp_numbers_carry_the_country_code_without_a_plus() {
        for input in ["+919876543210", "09876543210", "9876543210"] {
            assert_eq!(international(input), "919876543210");
        }
        assert_eq!(international("+14155550100"), "14155550100");
    }

    #[test]
    fn accounts_saved_before_messaging_still_load() {
        let account: Account =
            serde_json::from_str(r#"{"sid":"a","api_key":"k","api_token":"t","exophones":["08047112233"]}"#).unwrap();
        assert!(account.sender_ids.is_empty() && account.whatsapp_webhook.is_none());
        let scenario: Scenario = serde_json::from_str(r#"{"outcome":"busy"}"#).unwrap();
        assert_eq!((scenario.sms.as_str(), scenario.whatsapp.as_str()), ("sent", "read"));
    }

    #[test]
    fn numbers_are_given_back_in_e164_where_exophones_use_it() {
        assert_eq!(e164("08047112233"), "+918047112233");
        assert_eq!(e164("+919876543210"), "+919876543210");
        assert!(!is_indian("12345") && is_indian("+91 98765 43210"));
    }
}
