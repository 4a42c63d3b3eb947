//! One message to one recipient through a provider, like a call: the
//! intent is recorded first, each attempt to hand it to the provider is
//! marked started just before the request, and an attempt whose answer
//! was lost stays in doubt (never simply repeated) until a report names
//! it or it is given up as unknown. Every report is kept once, as a fact;
//! statuses move forward only.

mod status;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OrganisationId;
use crate::sms::SmsEncoding;
use crate::whatsapp::{WhatsappContent, WhatsappRule};
pub use status::{Failure, MessageReport, MessageStatus, ReportSource};

/// Longest SMS body Exotel takes, in characters.
pub const MAX_SMS_BODY_CHARS: usize = 2_000;

/// India's DLT categories of SMS traffic, and what Exotel's `SmsType` calls
/// each (`transactional`, `transactional_opt_in`, `promotional`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsType {
    /// OTPs and alerts of banks and the like: `transactional`.
    Transactional,
    /// A transaction the recipient opted in to: `transactional_opt_in`.
    TransactionalOptIn,
    /// Offers and marketing: `promotional`; 09:00–21:00 only, never to DND numbers.
    Promotional,
    /// Service messages a transaction implies (an order's status): sent as `transactional`.
    ServiceImplicit,
    /// Service messages needing the recipient's explicit consent: sent as `transactional_opt_in`.
    ServiceExplicit,
}

impl SmsType {
    /// Exotel's `SmsType` for it.
    pub fn exotel(self) -> &'static str {
        match self {
            Self::Transactional | Self::ServiceImplicit => "transactional",
            Self::TransactionalOptIn | Self::ServiceExplicit => "transactional_opt_in",
            Self::Promotional => "promotional",
        }
    }
}

/// An SMS as it will be sent: the body (a DLT template filled in, for
/// Indian numbers), its header, DLT ids and how it is encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsContent {
    pub body: String,
    pub sms_type: SmsType,
    /// The DLT header (sender id) it goes out under.
    pub sender_id: String,
    pub dlt_entity_id: Option<String>,
    pub dlt_template_id: Option<String>,
    pub encoding: SmsEncoding,
    /// Parts it is sent in (each billed).
    pub segments: u32,
}

/// A WhatsApp message as it will be sent: from the organisation's
/// WhatsApp number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatsappOut {
    /// E.164.
    pub from: String,
    pub content: WhatsappContent,
}

/// What a message carries, by channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum MessageContent {
    Sms(SmsContent),
    Whatsapp(WhatsappOut),
}

/// The channel a message goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Whatsapp,
}

impl MessageContent {
    pub fn channel(&self) -> Channel {
        match self {
            Self::Sms(_) => Channel::Sms,
            Self::Whatsapp(_) => Channel::Whatsapp,
        }
    }
}

/// What the message was asked to be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRequest {
    pub organisation_id: OrganisationId,
    /// The user who asked, or `None` for a process of Switchboard.
    pub requested_by: Option<Uuid>,
    /// E.164.
    pub to: String,
    pub customer_id: Option<Uuid>,
    pub content: MessageContent,
    /// Kept with the message and shown with it; not sent to the provider.
    pub custom_data: Option<String>,
    /// Not handed to the provider before this time (promotional hours).
    pub not_before: Option<DateTime<Utc>>,
    /// The request this message was one recipient of.
    pub batch_id: Option<Uuid>,
    /// The auto-reply rule that sent it, when Switchboard answered by itself.
    #[serde(default)]
    pub auto_reply: Option<crate::auto_reply::AutoReplyRule>,
    /// The thread the message is on (its customer's conversation).
    #[serde(default)]
    pub thread_id: Option<Uuid>,
}

/// The provider's refusal of a request to send the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRefusal {
    /// The provider's HTTP status; 0 when the request could not be made.
    pub http_status: u16,
    pub code: Option<i64>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MessageCommand {
    /// Records the intent; the same request again changes nothing.
    Request {
        request: Box<MessageRequest>,
        at: DateTime<Utc>,
    },
    /// Claims an attempt, just before the provider is asked.
    StartDispatch { at: DateTime<Utc> },
    /// The provider has the message under this sid.
    RecordSubmitted { provider_sid: String, at: DateTime<Utc> },
    /// The provider refused the request: the message is over.
    RecordRefusal {
        refusal: ProviderRefusal,
        at: DateTime<Utc>,
    },
    /// The request provably did not reach the provider (rate limited,
    /// unreachable): the message may be sent again.
    RecordNotSent { reason: String, at: DateTime<Utc> },
    /// No report came for an attempt in doubt within the time allowed:
    /// whether the provider has it is unknown, and it is not sent again.
    RecordOutcomeUnknown { at: DateTime<Utc> },
    /// A report, from a status callback or a look-up.
    RecordReport { report: Box<MessageReport> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MessageEvent {
    MessageRequested {
        request: Box<MessageRequest>,
        at: DateTime<Utc>,
    },
    MessageDispatchStarted {
        attempt: u32,
        at: DateTime<Utc>,
    },
    MessageSubmitted {
        provider_sid: String,
        at: DateTime<Utc>,
    },
    MessageRefused {
        refusal: ProviderRefusal,
        at: DateTime<Utc>,
    },
    MessageNotSent {
        reason: String,
        at: DateTime<Utc>,
    },
    MessageOutcomeUnknown {
        at: DateTime<Utc>,
    },
    MessageReportReceived {
        report: Box<MessageReport>,
    },
    MessageProgressed {
        status: MessageStatus,
        failure: Option<Failure>,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for MessageEvent {
    fn event_type(&self) -> String {
        match self {
            Self::MessageRequested { .. } => "MessageRequested",
            Self::MessageDispatchStarted { .. } => "MessageDispatchStarted",
            Self::MessageSubmitted { .. } => "MessageSubmitted",
            Self::MessageRefused { .. } => "MessageRefused",
            Self::MessageNotSent { .. } => "MessageNotSent",
            Self::MessageOutcomeUnknown { .. } => "MessageOutcomeUnknown",
            Self::MessageReportReceived { .. } => "MessageReportReceived",
            Self::MessageProgressed { .. } => "MessageProgressed",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule a message command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// 404: no such message.
    #[error("no such message")]
    NotFound,
    /// 422: the message id was used for a different message.
    #[error("this message id was used for a different message")]
    MessageIdReused,
    /// 422 on `body`.
    #[error("an SMS needs a body")]
    EmptyBody,
    /// 422 on `body`.
    #[error("an SMS body may have at most {MAX_SMS_BODY_CHARS} characters")]
    BodyTooLong,
    /// 422, naming the field: a limit of WhatsApp's.
    #[error("{0}")]
    Whatsapp(WhatsappRule),
    /// 409: the provider has this message already, or refused it.
    #[error("this message has been handed to the provider or refused")]
    AlreadyDispatched,
    /// 409: an attempt's outcome is unknown: it is not sent again.
    #[error("an attempt to send this message has no recorded outcome")]
    DispatchInDoubt,
    /// 409: an outcome of an attempt that was not started.
    #[error("no attempt to send this message is under way")]
    NotStarted,
    /// 409: the message may not be sent yet (promotional hours).
    #[error("this message may not be sent before its time")]
    NotDue,
    /// 409: a report for another provider message than this one's.
    #[error("this report is for another message at the provider")]
    SidMismatch,
}

/// Where handing the message to the provider stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dispatch {
    /// No intent.
    #[default]
    None,
    /// Recorded; no attempt under way.
    Pending,
    /// Asked (or about to be) with no outcome recorded: in flight, or in
    /// doubt after a crash or a time-out.
    Started,
    Submitted,
    Refused,
    /// In doubt for longer than a report takes: never sent again.
    Unknown,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub request: Option<Box<MessageRequest>>,
    pub dispatch: Dispatch,
    pub attempts: u32,
    /// When the latest attempt was started.
    pub dispatch_started_at: Option<DateTime<Utc>>,
    pub provider_sid: Option<String>,
    pub refusal: Option<ProviderRefusal>,
    pub status: Option<MessageStatus>,
    pub failure: Option<Failure>,
    pub units: Option<u32>,
    pub price_paise: Option<i64>,
    /// Ids of the reports received, so a duplicate changes nothing.
    pub reports: Vec<String>,
    pub requested_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
}

impl OutboundMessage {
    /// Whether the message exists and belongs to `organisation_id`.
    pub fn is_in(&self, organisation_id: OrganisationId) -> bool {
        self.request
            .as_ref()
            .is_some_and(|r| r.organisation_id == organisation_id)
    }

    fn request(&self, request: Box<MessageRequest>, at: DateTime<Utc>) -> Result<Vec<MessageEvent>, MessageError> {
        if let Some(mine) = &self.request {
            return match **mine == *request {
                true => Ok(Vec::new()),
                false => Err(MessageError::MessageIdReused),
            };
        }
        match &request.content {
            MessageContent::Sms(sms) if sms.body.trim().is_empty() => return Err(MessageError::EmptyBody),
            MessageContent::Sms(sms) if sms.body.chars().count() > MAX_SMS_BODY_CHARS => {
                return Err(MessageError::BodyTooLong);
            }
            MessageContent::Sms(_) => {}
            MessageContent::Whatsapp(out) => out.content.check().map_err(MessageError::Whatsapp)?,
        }
        Ok(vec![MessageEvent::MessageRequested { request, at }])
    }

    /// Whether the message may go out at `at`: not before its time, and a
    /// promotional SMS only within promotional hours, however long it waited.
    fn may_go_at(&self, at: DateTime<Utc>) -> bool {
        let Some(request) = self.request.as_deref() else {
            return false;
        };
        let promotional = matches!(&request.content, MessageContent::Sms(sms) if sms.sms_type == SmsType::Promotional);
        request.not_before.is_none_or(|t| at >= t) && (!promotional || crate::sms::within_promotional_hours(at))
    }

    fn start_dispatch(&self, at: DateTime<Utc>) -> Result<Vec<MessageEvent>, MessageError> {
        match self.dispatch {
            Dispatch::None => Err(MessageError::NotFound),
            Dispatch::Started | Dispatch::Unknown => Err(MessageError::DispatchInDoubt),
            Dispatch::Submitted | Dispatch::Refused => Err(MessageError::AlreadyDispatched),
            Dispatch::Pending if !self.may_go_at(at) => Err(MessageError::NotDue),
            Dispatch::Pending => Ok(vec![MessageEvent::MessageDispatchStarted {
                attempt: self.attempts + 1,
                at,
            }]),
        }
    }

    /// Outcomes of an attempt need the attempt under way.
    fn started(&self) -> Result<(), MessageError> {
        match self.dispatch {
            Dispatch::None => Err(MessageError::NotFound),
            Dispatch::Pending | Dispatch::Unknown => Err(MessageError::NotStarted),
            Dispatch::Submitted | Dispatch::Refused => Err(MessageError::AlreadyDispatched),
            Dispatch::Started => Ok(()),
        }
    }

    fn submitted(&self, provider_sid: String, at: DateTime<Utc>) -> Result<Vec<MessageEvent>, MessageError> {
        match &self.provider_sid {
            Some(mine) if *mine == provider_sid => return Ok(Vec::new()),
            Some(_) => return Err(MessageError::SidMismatch),
            None => self.started()?,
        }
        Ok(self.submission(provider_sid, at))
    }

    /// The provider has it: submitted, and its status moved on from
    /// `requested` unless a report moved it already.
    fn submission(&self, provider_sid: String, at: DateTime<Utc>) -> Vec<MessageEvent> {
        let mut events = vec![MessageEvent::MessageSubmitted { provider_sid, at }];
        if self.status == Some(MessageStatus::Requested) {
            events.push(MessageEvent::MessageProgressed {
                status: MessageStatus::Submitted,
                failure: None,
                at,
            });
        }
        events
    }

    fn refused(&self, refusal: ProviderRefusal, at: DateTime<Utc>) -> Result<Vec<MessageEvent>, MessageError> {
        self.started()?;
        Ok(vec![MessageEvent::MessageRefused { refusal, at }])
    }

    fn not_sent(&self, reason: String, at: DateTime<Utc>) -> Result<Vec<MessageEvent>, MessageError> {
        self.started()?;
        Ok(vec![MessageEvent::MessageNotSent { reason, at }])
    }

    fn outcome_unknown(&self, at: DateTime<Utc>) -> Result<Vec<MessageEvent>, MessageError> {
        self.started()?;
        Ok(vec![MessageEvent::MessageOutcomeUnknown { at }])
    }

    fn report(&self, report: Box<MessageReport>) -> Result<Vec<MessageEvent>, MessageError> {
        if self.request.is_none() {
            return Err(MessageError::NotFound);
        }
        if self.reports.contains(&report.report_id) {
            return Ok(Vec::new());
        }
        let at = report.received_at;
        let mut events = Vec::new();
        let mut current = self.status.unwrap_or(MessageStatus::Requested);
        match (&self.provider_sid, &report.provider_sid) {
            (Some(mine), Some(theirs)) if mine != theirs => return Err(MessageError::SidMismatch),
            (None, Some(sid)) if self.dispatch != Dispatch::Refused => {
                // Without a sid nothing has moved the message yet.
                events.extend(self.submission(sid.clone(), at));
                current = MessageStatus::Submitted;
            }
            _ => {}
        }
        let progressed = report.status.filter(|s| current.moves_to(*s));
        let failure = report.failure();
        events.push(MessageEvent::MessageReportReceived { report });
        events.extend(progressed.map(|status| MessageEvent::MessageProgressed {
            status,
            failure: failure.filter(|_| status == MessageStatus::Failed),
            at,
        }));
        Ok(events)
    }
}

impl Aggregate for OutboundMessage {
    const TYPE: &'static str = "outbound_message";
    type Command = MessageCommand;
    type Event = MessageEvent;
    type Error = MessageError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        use MessageCommand as C;
        let events = match command {
            C::Request { request, at } => self.request(request, at)?,
            C::StartDispatch { at } => self.start_dispatch(at)?,
            C::RecordSubmitted { provider_sid, at } => self.submitted(provider_sid, at)?,
            C::RecordRefusal { refusal, at } => self.refused(refusal, at)?,
            C::RecordNotSent { reason, at } => self.not_sent(reason, at)?,
            C::RecordOutcomeUnknown { at } => self.outcome_unknown(at)?,
            C::RecordReport { report } => self.report(report)?,
        };
        crate::write_all(self, sink, events).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use MessageEvent as E;
        match event {
            E::MessageRequested { request, at } => {
                self.request = Some(request);
                self.dispatch = Dispatch::Pending;
                self.status = Some(MessageStatus::Requested);
                self.requested_at = Some(at);
            }
            E::MessageDispatchStarted { attempt, at } => {
                self.dispatch = Dispatch::Started;
                self.attempts = attempt;
                self.dispatch_started_at = Some(at);
            }
            E::MessageSubmitted { provider_sid, at } => {
                self.dispatch = Dispatch::Submitted;
                self.provider_sid = Some(provider_sid);
                self.submitted_at = Some(at);
            }
            E::MessageRefused { refusal, at } => {
                self.dispatch = Dispatch::Refused;
                self.refusal = Some(refusal);
                self.status = Some(MessageStatus::Refused);
                self.failed_at = Some(at);
            }
            E::MessageNotSent { .. } => self.dispatch = Dispatch::Pending,
            E::MessageOutcomeUnknown { .. } => self.dispatch = Dispatch::Unknown,
            E::MessageReportReceived { report } => {
                self.units = self.units.or(report.units);
                self.price_paise = self.price_paise.or(report.price_paise);
                self.reports.push(report.report_id);
            }
            E::MessageProgressed { status, failure, at } => self.progress(status, failure, at),
        }
    }
}

impl OutboundMessage {
    fn progress(&mut self, status: MessageStatus, failure: Option<Failure>, at: DateTime<Utc>) {
        let stamp = match status {
            MessageStatus::Sent => &mut self.sent_at,
            MessageStatus::Delivered => &mut self.delivered_at,
            MessageStatus::Read => &mut self.read_at,
            MessageStatus::Failed | MessageStatus::Refused => &mut self.failed_at,
            MessageStatus::Requested | MessageStatus::Submitted => &mut self.submitted_at,
        };
        stamp.get_or_insert(at);
        if failure.is_some() {
            self.failure = failure;
        }
        self.status = Some(status);
    }
}

#[cfg(test)]
mod tests;
