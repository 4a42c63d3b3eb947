//! One intent to send one e-mail. The id is chosen by the caller (or
//! derived from its `Idempotency-Key`), so a retried request finds the same
//! intent. The intent is recorded before the server is contacted, marked
//! started just before SMTP `DATA`, and finished by the server's answer.
//! Once started, the intent is never sent again: an intent started but never
//! finished (a crash between `DATA` and the answer being recorded) is in
//! doubt and left for a person (see `docs/adr/0008-email-sending.md`).

pub mod draft;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OrganisationId;
pub use draft::{AttachmentRecord, Content, CustomHeader, Draft, DraftError, OutboundMessage, Priority};

/// Size and SHA-256 (hex) of a body as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyDigest {
    pub bytes: u64,
    pub sha256: String,
}

/// Where in the SMTP conversation a send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpStage {
    /// Connecting or securing the connection.
    Connect,
    /// `AUTH`.
    Login,
    /// `MAIL FROM` / `RCPT TO`.
    Envelope,
    /// `DATA` and the message.
    Data,
}

impl SmtpStage {
    /// Whether the failure came before `DATA`: nothing can have been delivered.
    pub fn before_data(self) -> bool {
        self != SmtpStage::Data
    }
}

/// A send that did not succeed, in the server's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpFailure {
    pub stage: SmtpStage,
    /// The SMTP reply code (`535`, `550`, `451`), if the server answered.
    pub code: Option<u16>,
    pub message: String,
    /// A 5xx reply: sending the same again will fail again.
    pub permanent: bool,
}

/// What the intent records first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendIntent {
    pub intent_id: Uuid,
    pub organisation_id: OrganisationId,
    pub account_id: Uuid,
    pub message: OutboundMessage,
    pub html: Option<BodyDigest>,
    pub text: Option<BodyDigest>,
    /// SHA-256 of the request as the caller sent it: a retry must match.
    pub request_digest: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OutboundEmailCommand {
    /// Records the intent; the same request again changes nothing.
    Request {
        intent: Box<SendIntent>,
        at: DateTime<Utc>,
    },
    /// Claims the send, just before `DATA`.
    Start {
        at: DateTime<Utc>,
    },
    RecordAcceptance {
        code: u16,
        response: String,
        at: DateTime<Utc>,
    },
    RecordFailure {
        failure: SmtpFailure,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OutboundEmailEvent {
    EmailSendRequested {
        intent: Box<SendIntent>,
        at: DateTime<Utc>,
    },
    EmailSendStarted {
        at: DateTime<Utc>,
    },
    EmailAccepted {
        code: u16,
        response: String,
        at: DateTime<Utc>,
    },
    EmailSendFailed {
        failure: SmtpFailure,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for OutboundEmailEvent {
    fn event_type(&self) -> String {
        match self {
            Self::EmailSendRequested { .. } => "EmailSendRequested",
            Self::EmailSendStarted { .. } => "EmailSendStarted",
            Self::EmailAccepted { .. } => "EmailAccepted",
            Self::EmailSendFailed { .. } => "EmailSendFailed",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule an intent command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundEmailError {
    /// 404: no such intent.
    #[error("no such e-mail")]
    NotFound,
    /// 422: the intent id was used for a different request.
    #[error("this intent id was used for a different e-mail")]
    IntentReused,
    /// 409: another attempt has started sending this intent.
    #[error("this e-mail is being sent or its outcome is in doubt")]
    AlreadyStarted,
    /// 409: the intent has its outcome.
    #[error("this e-mail has been sent or has failed")]
    AlreadyFinished,
    /// 409: an outcome of `DATA` without `DATA` having started.
    #[error("this e-mail was not started")]
    NotStarted,
}

/// Where an intent stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    /// No intent.
    #[default]
    None,
    /// Recorded, not started (perhaps after failures before `DATA`).
    Pending,
    /// Started and not finished: in flight, or in doubt after a crash.
    Started,
    Sent,
    /// Refused during `DATA`: final.
    Failed,
}

/// Where an intent stands, as callers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Recorded, not yet attempted.
    Pending,
    /// Started, no answer recorded: perhaps delivered. Never re-sent
    /// automatically; a person decides.
    InDoubt,
    Sent,
    /// Refused; after a failure before `DATA` the same intent may be tried again.
    Failed,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundEmail {
    pub intent: Option<Box<SendIntent>>,
    pub status: SendStatus,
    /// Attempts that failed before `DATA`.
    pub failed_attempts: u32,
    pub last_failure: Option<SmtpFailure>,
    pub accepted: Option<(u16, String)>,
    pub requested_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl OutboundEmail {
    /// Whether the intent exists and belongs to `organisation_id`.
    pub fn is_in(&self, organisation_id: OrganisationId) -> bool {
        self.intent
            .as_ref()
            .is_some_and(|i| i.organisation_id == organisation_id)
    }

    /// The outcome as callers see it; `None` when there is no intent.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.status {
            SendStatus::None => None,
            SendStatus::Pending if self.last_failure.is_some() => Some(Outcome::Failed),
            SendStatus::Pending => Some(Outcome::Pending),
            SendStatus::Started => Some(Outcome::InDoubt),
            SendStatus::Sent => Some(Outcome::Sent),
            SendStatus::Failed => Some(Outcome::Failed),
        }
    }

    fn request(
        &self,
        intent: Box<SendIntent>,
        at: DateTime<Utc>,
    ) -> Result<Vec<OutboundEmailEvent>, OutboundEmailError> {
        match &self.intent {
            None => Ok(vec![OutboundEmailEvent::EmailSendRequested { intent, at }]),
            Some(mine)
                if mine.organisation_id == intent.organisation_id && mine.request_digest == intent.request_digest =>
            {
                Ok(Vec::new())
            }
            Some(_) => Err(OutboundEmailError::IntentReused),
        }
    }

    fn unfinished(&self) -> Result<(), OutboundEmailError> {
        match self.status {
            SendStatus::None => Err(OutboundEmailError::NotFound),
            SendStatus::Sent | SendStatus::Failed => Err(OutboundEmailError::AlreadyFinished),
            SendStatus::Pending | SendStatus::Started => Ok(()),
        }
    }

    fn start(&self, at: DateTime<Utc>) -> Result<Vec<OutboundEmailEvent>, OutboundEmailError> {
        self.unfinished()?;
        if self.status == SendStatus::Started {
            return Err(OutboundEmailError::AlreadyStarted);
        }
        Ok(vec![OutboundEmailEvent::EmailSendStarted { at }])
    }

    fn accept(
        &self,
        code: u16,
        response: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<OutboundEmailEvent>, OutboundEmailError> {
        self.unfinished()?;
        if self.status != SendStatus::Started {
            return Err(OutboundEmailError::NotStarted);
        }
        Ok(vec![OutboundEmailEvent::EmailAccepted { code, response, at }])
    }

    /// A failure before `DATA` belongs to an attempt that did not start;
    /// a failure of `DATA` to the attempt that did.
    fn fail(&self, failure: SmtpFailure, at: DateTime<Utc>) -> Result<Vec<OutboundEmailEvent>, OutboundEmailError> {
        self.unfinished()?;
        match (failure.stage.before_data(), self.status) {
            (true, SendStatus::Started) => Err(OutboundEmailError::AlreadyStarted),
            (false, SendStatus::Pending) => Err(OutboundEmailError::NotStarted),
            _ => Ok(vec![OutboundEmailEvent::EmailSendFailed { failure, at }]),
        }
    }
}

impl Aggregate for OutboundEmail {
    const TYPE: &'static str = "outbound_email";
    type Command = OutboundEmailCommand;
    type Event = OutboundEmailEvent;
    type Error = OutboundEmailError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        use OutboundEmailCommand as C;
        let events = match command {
            C::Request { intent, at } => self.request(intent, at)?,
            C::Start { at } => self.start(at)?,
            C::RecordAcceptance { code, response, at } => self.accept(code, response, at)?,
            C::RecordFailure { failure, at } => self.fail(failure, at)?,
        };
        crate::write_all(self, sink, events).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use OutboundEmailEvent as E;
        match event {
            E::EmailSendRequested { intent, at } => {
                self.intent = Some(intent);
                self.status = SendStatus::Pending;
                self.requested_at = Some(at);
            }
            E::EmailSendStarted { at } => {
                self.status = SendStatus::Started;
                self.started_at = Some(at);
            }
            E::EmailAccepted { code, response, at } => {
                self.status = SendStatus::Sent;
                self.accepted = Some((code, response));
                self.finished_at = Some(at);
            }
            E::EmailSendFailed { failure, at } => {
                if failure.stage.before_data() {
                    self.failed_attempts += 1;
                } else {
                    self.status = SendStatus::Failed;
                    self.finished_at = Some(at);
                }
                self.last_failure = Some(failure);
            }
        }
    }
}

#[cfg(test)]
mod tests;
