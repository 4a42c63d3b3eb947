//! What the application asks of Exotel — voice, SMS, WhatsApp, ExoPhones,
//! number metadata and masking — and the typed outcomes it gets back. The
//! HTTP client in `infrastructure` implements these ports against any base
//! URL: `api.exotel.com`, `api.in.exotel.com` or the simulator.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroizing;

use domain::integration::IntegrationSettings;

/// Which Exotel account to act as, and where it lives.
#[derive(Clone)]
pub struct ExotelAccount {
    /// `https://api.exotel.com`, `https://api.in.exotel.com` or a simulator URL.
    pub base_url: String,
    pub account_sid: String,
    pub api_key: Zeroizing<String>,
    pub api_token: Zeroizing<String>,
}

impl fmt::Debug for ExotelAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExotelAccount")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .finish_non_exhaustive()
    }
}

impl ExotelAccount {
    /// The account an Exotel integration's settings and opened secrets
    /// name; `None` for a mail integration.
    pub fn of(settings: &IntegrationSettings, secrets: &BTreeMap<String, Zeroizing<String>>) -> Option<Self> {
        let (sid, host) = match settings {
            IntegrationSettings::ExotelPhone(s) => (&s.account_sid, &s.api_host),
            IntegrationSettings::ExotelSms(s) => (&s.account_sid, &s.api_host),
            IntegrationSettings::ExotelWhatsapp(s) => (&s.account_sid, &s.api_host),
            IntegrationSettings::ZohoMail(_) => return None,
        };
        Some(Self {
            base_url: base_url(host.as_deref().unwrap_or("api.exotel.com")),
            account_sid: sid.clone(),
            api_key: secrets.get("api_key").cloned().unwrap_or_default(),
            api_token: secrets.get("api_token").cloned().unwrap_or_default(),
        })
    }
}

/// The base URL for an integration's `api_host` setting: a bare Exotel host
/// gets `https://`, a loopback simulator URL is used as it is.
pub fn base_url(api_host: &str) -> String {
    match api_host.starts_with("http://") || api_host.starts_with("https://") {
        true => api_host.trim_end_matches('/').to_string(),
        false => format!("https://{api_host}"),
    }
}

/// An Exotel failure, typed by what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExotelError {
    /// 401: wrong SID, key or token. Not retryable.
    #[error("Exotel refused the credentials: {message}")]
    Unauthorized { message: String },
    /// 400, 402, 403, 404, 409, 422…: Exotel understood and said no (DND,
    /// a CallerId not owned, a bad parameter). Not retryable as it is.
    #[error("Exotel refused the request ({status}): {message}")]
    Refused {
        status: u16,
        code: Option<i64>,
        message: String,
    },
    /// 429, or our own limiter: try again after the given time.
    #[error("Exotel is rate limiting this account: {message}")]
    RateLimited {
        retry_after_secs: Option<u64>,
        message: String,
    },
    /// 5xx: Exotel failed. Retryable; a POST may or may not have acted.
    #[error("Exotel failed ({status}): {message}")]
    ServerError { status: u16, message: String },
    /// No answer within the client's timeout. Retryable; the request may have acted.
    #[error("Exotel did not answer within {seconds} s")]
    Timeout { seconds: u64 },
    /// The connection could not be made. Retryable; nothing was sent.
    #[error("Exotel could not be reached: {0}")]
    Unreachable(String),
    /// The connection failed once the request was on its way (a reset, a
    /// body cut short). Retryable; the request may have acted.
    #[error("the exchange with Exotel broke off: {0}")]
    Interrupted(String),
    /// A 2xx answer that could not be read.
    #[error("Exotel answered something unreadable: {0}")]
    Malformed(String),
}

impl ExotelError {
    /// Whether trying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::ServerError { .. }
                | Self::Timeout { .. }
                | Self::Unreachable(_)
                | Self::Interrupted(_)
        )
    }

    /// Whether a request that failed this way may still have taken effect at
    /// Exotel (so a retry could act twice unless checked first).
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Self::ServerError { .. } | Self::Timeout { .. } | Self::Interrupted(_)
        )
    }

    /// The HTTP status Exotel answered, when it answered.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { .. } => Some(401),
            Self::Refused { status, .. } | Self::ServerError { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Exotel's own message, as it gave it.
    pub fn exotel_message(&self) -> String {
        match self {
            Self::Unauthorized { message }
            | Self::Refused { message, .. }
            | Self::RateLimited { message, .. }
            | Self::ServerError { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// Who or what the second leg of a call is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallTarget {
    /// Number to number: `From` is dialled first, then this number.
    Number(String),
    /// Number to flow: `From` is connected to this flow (`…/exoml/start_voice/{app_id}`).
    Flow(String),
}

/// `single` (both parties mixed) or `dual` (one channel each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingChannels {
    Single,
    Dual,
}

/// A click-to-call request (`Calls/connect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectCall {
    pub from: String,
    pub target: CallTarget,
    pub caller_id: String,
    /// `trans` (transactional) or `promo`.
    pub call_type: Option<String>,
    pub time_limit_secs: Option<u32>,
    pub time_out_secs: Option<u32>,
    pub record: Option<RecordingChannels>,
    pub custom_field: Option<String>,
    pub status_callback: Option<String>,
    /// `terminal` and/or `answered`.
    pub callback_events: Vec<String>,
    /// Ask for JSON callbacks instead of form fields.
    pub callback_json: bool,
    pub wait_url: Option<String>,
}

impl ConnectCall {
    /// A plain number-to-number call with no options.
    pub fn between(from: &str, to: &str, caller_id: &str) -> Self {
        Self {
            from: from.into(),
            target: CallTarget::Number(to.into()),
            caller_id: caller_id.into(),
            call_type: None,
            time_limit_secs: None,
            time_out_secs: None,
            record: None,
            custom_field: None,
            status_callback: None,
            callback_events: Vec::new(),
            callback_json: false,
            wait_url: None,
        }
    }
}

/// One leg of a call, from call details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLeg {
    pub status: Option<String>,
    pub on_call_secs: Option<u64>,
}

/// A call as Exotel describes it. Numbers are E.164; times UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    pub sid: String,
    /// `queued`, `ringing`, `in-progress`, `completed`, `failed`, `busy`,
    /// `no-answer`, `canceled` — kept as Exotel's free string.
    pub status: String,
    pub from: String,
    pub to: Option<String>,
    pub caller_id: Option<String>,
    pub direction: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<u64>,
    /// Exotel's price as written (`"1.500"`), never a float.
    pub price: Option<String>,
    pub recording_url: Option<String>,
    pub conversation_secs: Option<u64>,
    pub legs: Vec<CallLeg>,
    /// The `CustomField` sent with the request, where Exotel echoes it.
    pub custom_field: Option<String>,
    /// A callback's `EventType` (`answered`, `terminal`); `None` elsewhere.
    pub event_type: Option<String>,
    /// Who hung up, where Exotel says (`Legs[i][DisconnectedBy]`).
    pub disconnected_by: Option<String>,
}

/// Which ended calls to list (bulk call details; Exotel lists no ongoing
/// call). Numbers are E.164; at most five of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallQuery {
    pub created_from: DateTime<Utc>,
    pub created_to: DateTime<Utc>,
    pub from: Vec<String>,
    pub to: Vec<String>,
}

/// Click-to-call and call details.
#[async_trait]
pub trait ExotelVoice: Send + Sync {
    async fn connect(&self, account: &ExotelAccount, call: &ConnectCall) -> Result<CallInfo, ExotelError>;
    async fn call_details(&self, account: &ExotelAccount, call_sid: &str) -> Result<CallInfo, ExotelError>;
    /// Waits until the account's rate allows a voice request, sending none:
    /// a dispatcher waits here before it claims an attempt, so calls queue
    /// in order instead of meeting 429s.
    async fn capacity(&self, account: &ExotelAccount);
    /// Every ended call the query matches, all pages.
    async fn find_calls(&self, account: &ExotelAccount, query: &CallQuery) -> Result<Vec<CallInfo>, ExotelError>;
    /// A call's recording (its `RecordingUrl`), fetched with the account's credentials.
    async fn recording(&self, account: &ExotelAccount, url: &str) -> Result<Vec<u8>, ExotelError>;
}

/// An SMS, to one number or the same body to many (≤ 100).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendSms {
    /// ExoPhone or DLT sender id.
    pub from: String,
    pub to: Vec<String>,
    pub body: String,
    /// `transactional`, `transactional_opt_in` or `promotional`.
    pub sms_type: Option<String>,
    pub dlt_entity_id: Option<String>,
    pub dlt_template_id: Option<String>,
    /// `plain` or `unicode`.
    pub encoding: Option<String>,
    /// `normal` or `high`.
    pub priority: Option<String>,
    pub status_callback: Option<String>,
    pub custom_field: Option<String>,
}

/// An SMS as Exotel describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsInfo {
    pub sid: String,
    pub to: String,
    /// `<ExoPhone>/<SenderId>` as echoed.
    pub from: String,
    /// `queued`, `sending`, `submitted`, `sent`, `failed`, `failed-dnd`.
    pub status: String,
    pub detailed_status_code: Option<i64>,
    pub detailed_status: Option<String>,
    pub units: Option<u64>,
    pub sent_at: Option<DateTime<Utc>>,
    pub price: Option<String>,
}

/// SMS sending and details.
#[async_trait]
pub trait ExotelSms: Send + Sync {
    /// Waits until the account's SMS rate has room for one more request,
    /// so a dispatcher claims an attempt only when it can be sent at once.
    async fn sms_capacity(&self, account: &ExotelAccount);
    async fn send_sms(&self, account: &ExotelAccount, sms: &SendSms) -> Result<Vec<SmsInfo>, ExotelError>;
    async fn sms_details(&self, account: &ExotelAccount, sms_sid: &str) -> Result<SmsInfo, ExotelError>;
}

/// One WhatsApp message; `content` is Meta-style (`{"type":"text","text":{…}}`).
#[derive(Debug, Clone, PartialEq)]
pub struct WhatsappMessage {
    pub from: String,
    pub to: String,
    pub content: Value,
    pub custom_data: Option<String>,
}

/// A WhatsApp send of 1 to 100 messages.
#[derive(Debug, Clone, PartialEq)]
pub struct SendWhatsapp {
    pub messages: Vec<WhatsappMessage>,
    pub status_callback: Option<String>,
    pub custom_data: Option<String>,
}

/// What Exotel said of one message of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhatsappOutcome {
    Accepted { sid: String },
    Refused { code: Option<i64>, message: String },
}

/// One page of a WhatsApp Business Account's templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplatePage {
    /// The templates the page lists; an item the provider answered with an
    /// error, or could not be read, is left out.
    pub templates: Vec<domain::whatsapp_template::TemplateDefinition>,
    /// How many items of the page were left out.
    pub unreadable: usize,
    /// The cursor of the next page, when there is one.
    pub after: Option<String>,
}

/// WhatsApp sending, and the account's templates.
#[async_trait]
pub trait ExotelWhatsapp: Send + Sync {
    /// Waits until the account's WhatsApp rate has room for one more request.
    async fn whatsapp_capacity(&self, account: &ExotelAccount);
    async fn send_whatsapp(
        &self,
        account: &ExotelAccount,
        send: &SendWhatsapp,
    ) -> Result<Vec<WhatsappOutcome>, ExotelError>;
    /// One page of the templates of the business account `waba_id`.
    async fn whatsapp_templates(
        &self,
        account: &ExotelAccount,
        waba_id: &str,
        after: Option<&str>,
    ) -> Result<TemplatePage, ExotelError>;
}

/// One ExoPhone (virtual number) of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExoPhone {
    pub sid: String,
    /// E.164.
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub voice: bool,
    pub sms: bool,
    pub number_type: Option<String>,
    pub region: Option<String>,
    pub voice_url: Option<String>,
}

/// What Exotel knows of any number (`Numbers/{number}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberInfo {
    pub phone_number: String,
    pub circle: Option<String>,
    pub number_type: Option<String>,
    pub operator: Option<String>,
    /// On India's Do-Not-Disturb registry.
    pub dnd: bool,
}

/// Where a number stands on the account's customer whitelist (which lets
/// calls reach a number on the DND registry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhitelistStanding {
    /// `Whitelist`, `Blacklist` or `Neutral`.
    pub status: String,
    /// Seconds the whitelisting has left; `None` when it does not expire or does not apply.
    pub expires_in_secs: Option<u64>,
}

/// ExoPhones, number metadata and the customer whitelist.
#[async_trait]
pub trait ExotelNumbers: Send + Sync {
    /// Every ExoPhone of the account, all pages.
    async fn exophones(&self, account: &ExotelAccount) -> Result<Vec<ExoPhone>, ExotelError>;
    async fn number_info(&self, account: &ExotelAccount, number: &str) -> Result<NumberInfo, ExotelError>;
    /// Whitelists customers' numbers for calls from `virtual_number`.
    async fn whitelist(
        &self,
        account: &ExotelAccount,
        virtual_number: &str,
        numbers: &[String],
    ) -> Result<(), ExotelError>;
    async fn whitelist_standing(&self, account: &ExotelAccount, number: &str)
    -> Result<WhitelistStanding, ExotelError>;
}

/// A Lead Assist masking request: callers reach each other through a
/// virtual number without seeing each other's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskingRequest {
    pub connection_id: String,
    pub aparty_numbers: Vec<String>,
    pub bparty_numbers: Vec<String>,
    /// `oneway` or `twoway`.
    pub usage: String,
    /// Seconds until Exotel deallocates on its own.
    pub deallocate_after_secs: Option<u64>,
}

/// An allocated virtual number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskingAllocation {
    pub connection_id: String,
    pub greenvn_id: String,
    pub virtual_number: String,
    /// `active`, or `vault` once deallocated.
    pub state: String,
}

/// Lead Assist number masking.
#[async_trait]
pub trait ExotelMasking: Send + Sync {
    async fn allocate(
        &self,
        account: &ExotelAccount,
        request: &MaskingRequest,
    ) -> Result<MaskingAllocation, ExotelError>;
    async fn deallocate(&self, account: &ExotelAccount, greenvn_id: &str) -> Result<MaskingAllocation, ExotelError>;
}
