//! An e-mail that arrived in one of an organisation's accounts, recorded
//! once however many times a poller sees it: its id is derived from the
//! account and the Message-ID (or, without one, the message's content), so a
//! second sighting is refused as already recorded. The thread and customer it
//! belongs to are decided before the command and carried in it.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{EmailAddress, OrganisationId};

mod limits;
pub use limits::{
    MAX_ADDRESSES, MAX_ATTACHMENTS, MAX_BODY_BYTES, MAX_EVENT_BYTES, MAX_HEADER_CHARS, MAX_REFERENCES, header_value,
};

const INBOUND_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0006);

/// Where a message sits on its IMAP server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MailPosition {
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// What a message is known by for de-duplication, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKey<'a> {
    /// The `Message-ID` header.
    MessageId(&'a str),
    /// The SHA-256 of the raw message, when it has no Message-ID.
    Content(&'a str),
    /// Folder, UIDVALIDITY and UID, when neither could be read.
    Position(&'a MailPosition),
}

impl<'a> MessageKey<'a> {
    /// The best key available.
    pub fn best(message_id: Option<&'a str>, sha256: Option<&'a str>, position: &'a MailPosition) -> Self {
        match (message_id, sha256) {
            (Some(id), _) => Self::MessageId(id),
            (None, Some(sha)) => Self::Content(sha),
            (None, None) => Self::Position(position),
        }
    }
}

/// The id of a message received into an account.
pub fn inbound_email_id(account_id: Uuid, key: MessageKey<'_>) -> Uuid {
    let name = match key {
        MessageKey::MessageId(id) => format!("{account_id}/message-id/{id}"),
        MessageKey::Content(sha) => format!("{account_id}/sha256/{sha}"),
        MessageKey::Position(p) => format!("{account_id}/position/{}/{}/{}", p.folder, p.uidvalidity, p.uid),
    };
    Uuid::new_v5(&INBOUND_NAMESPACE, name.as_bytes())
}

/// A sender or recipient as written in the message (lower-cased address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailAddress {
    pub name: Option<String>,
    pub address: String,
}

/// Why a received e-mail is linked to no customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unlinked {
    /// The message has no `From` at all.
    NoSender,
    /// The `From` is not an address a customer can be known by (a bare name,
    /// an address without a domain); it is kept as written.
    SenderNotAnAddress,
}

impl Unlinked {
    /// Why a message from `from` can be linked to no customer, if it cannot.
    pub fn of(from: Option<&MailAddress>) -> Option<Self> {
        match from {
            None => Some(Self::NoSender),
            Some(sender) if EmailAddress::parse(&sender.address).is_err() => Some(Self::SenderNotAnAddress),
            Some(_) => None,
        }
    }
}

/// The message's bodies, each cut at [`MAX_BODY_BYTES`] and marked if it was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bodies {
    pub text: Option<String>,
    pub html: Option<String>,
    pub text_truncated: bool,
    pub html_truncated: bool,
}

/// What happened to an attachment's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum AttachmentStorage {
    /// Stored on disk, addressed by its SHA-256.
    Stored,
    /// Larger than the limit: recorded, not stored.
    SkippedOverLimit { limit_bytes: u64 },
}

/// An attachment or inline image: its metadata and where its content went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRecord {
    pub filename: Option<String>,
    pub content_type: String,
    /// The declared `charset` of a text attachment; its bytes are stored
    /// as attached, in that charset.
    #[serde(default)]
    pub charset: Option<String>,
    pub size: u64,
    pub sha256: String,
    pub content_id: Option<String>,
    pub inline: bool,
    pub storage: AttachmentStorage,
}

/// Everything recorded of a received e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedEmail {
    pub email_id: Uuid,
    pub organisation_id: OrganisationId,
    pub account_id: Uuid,
    pub position: MailPosition,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub from: Option<MailAddress>,
    pub to: Vec<MailAddress>,
    pub cc: Vec<MailAddress>,
    pub subject: Option<String>,
    /// The `Date` header, when it could be read.
    pub date: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub bodies: Bodies,
    pub attachments: Vec<AttachmentRecord>,
    /// Attachments beyond [`MAX_ATTACHMENTS`]: stored, counted, not listed.
    #[serde(default)]
    pub omitted_attachments: u32,
    /// Size of the raw message in bytes, and its SHA-256.
    pub size: u64,
    pub sha256: String,
    pub thread_id: Uuid,
    /// Whether this e-mail starts its thread.
    pub new_thread: bool,
    pub customer_id: Option<Uuid>,
    /// Why no customer is linked, when none can be (set by the aggregate).
    #[serde(default)]
    pub unlinked: Option<Unlinked>,
}

/// Why a message could not be ingested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum RejectReason {
    /// Not a message at all (no headers could be read).
    Unparseable,
    /// Larger than the largest message fetched.
    TooLarge { limit_bytes: u64 },
}

/// A message recorded as not ingested, so that it is not tried again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedEmail {
    pub email_id: Uuid,
    pub organisation_id: OrganisationId,
    pub account_id: Uuid,
    pub position: MailPosition,
    pub message_id: Option<String>,
    pub sha256: Option<String>,
    pub size: u64,
    pub reason: RejectReason,
    pub detail: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InboundEmailCommand {
    /// Records a parsed message (the aggregate must be new).
    Receive(Box<ReceivedEmail>),
    /// Records a message that could not be ingested (the aggregate must be new).
    Reject(Box<RejectedEmail>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InboundEmailEvent {
    EmailReceived(Box<ReceivedEmail>),
    EmailRejected(Box<RejectedEmail>),
}

impl DomainEvent for InboundEmailEvent {
    fn event_type(&self) -> String {
        match self {
            Self::EmailReceived(_) => "EmailReceived",
            Self::EmailRejected(_) => "EmailRejected",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule an inbound e-mail command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundEmailError {
    /// 409: this message was recorded before (received or rejected).
    #[error("the e-mail was recorded already")]
    AlreadyRecorded,
    /// 422: the id is not the one derived from the account and message.
    #[error("the e-mail id does not match its account and message")]
    IdNotDerivedFromMessage,
    /// 422: a customer is named for a sender no customer can be known by.
    #[error("a customer was linked to a sender without an address")]
    CustomerWithoutAddress,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEmail {
    pub id: Option<Uuid>,
    pub organisation_id: Option<OrganisationId>,
    pub thread_id: Option<Uuid>,
    pub rejected: bool,
}

impl ReceivedEmail {
    fn key(&self) -> MessageKey<'_> {
        MessageKey::best(self.message_id.as_deref(), Some(&self.sha256), &self.position)
    }
}

impl RejectedEmail {
    fn key(&self) -> MessageKey<'_> {
        MessageKey::best(self.message_id.as_deref(), self.sha256.as_deref(), &self.position)
    }
}

impl InboundEmail {
    fn decide(&self, command: InboundEmailCommand) -> Result<Vec<InboundEmailEvent>, InboundEmailError> {
        if self.id.is_some() {
            return Err(InboundEmailError::AlreadyRecorded);
        }
        match command {
            InboundEmailCommand::Receive(email) => Self::receive(*email),
            InboundEmailCommand::Reject(rejected) => Self::reject(*rejected),
        }
    }

    fn receive(email: ReceivedEmail) -> Result<Vec<InboundEmailEvent>, InboundEmailError> {
        if email.email_id != inbound_email_id(email.account_id, email.key()) {
            return Err(InboundEmailError::IdNotDerivedFromMessage);
        }
        let email = email.capped();
        let unlinked = Unlinked::of(email.from.as_ref());
        if unlinked.is_some() && email.customer_id.is_some() {
            return Err(InboundEmailError::CustomerWithoutAddress);
        }
        let email = ReceivedEmail { unlinked, ..email };
        Ok(vec![InboundEmailEvent::EmailReceived(Box::new(email))])
    }

    fn reject(rejected: RejectedEmail) -> Result<Vec<InboundEmailEvent>, InboundEmailError> {
        if rejected.email_id != inbound_email_id(rejected.account_id, rejected.key()) {
            return Err(InboundEmailError::IdNotDerivedFromMessage);
        }
        Ok(vec![InboundEmailEvent::EmailRejected(Box::new(rejected.capped()))])
    }
}

impl Aggregate for InboundEmail {
    const TYPE: &'static str = "inbound_email";
    type Command = InboundEmailCommand;
    type Event = InboundEmailEvent;
    type Error = InboundEmailError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        crate::write_all(self, sink, self.decide(command)?).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            InboundEmailEvent::EmailReceived(email) => {
                self.id = Some(email.email_id);
                self.organisation_id = Some(email.organisation_id);
                self.thread_id = Some(email.thread_id);
            }
            InboundEmailEvent::EmailRejected(rejected) => {
                self.id = Some(rejected.email_id);
                self.organisation_id = Some(rejected.organisation_id);
                self.rejected = true;
            }
        }
    }
}

#[cfg(test)]
mod tests;
