//! Recording e-mail a poller fetched: the customer it comes from (created
//! if new), the thread it joins (decided here and put in the command), and
//! the e-mail itself, each recorded once.
//!
//! Threading: the thread of a referenced Message-ID (`In-Reply-To` first,
//! then `References` from the latest), which includes e-mails Switchboard
//! sent; else the customer's latest thread with the same normalised
//! subject; else a new thread.

mod recent;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use domain::customer::{Customer, CustomerCommand, CustomerError, customer_id};
use domain::email_thread::{new_thread_id, subject_key};
use domain::inbound_email::{
    AttachmentRecord, Bodies, InboundEmail, InboundEmailCommand, InboundEmailError, MailAddress, MailPosition,
    MessageKey, ReceivedEmail, RejectReason, RejectedEmail, header_value, inbound_email_id,
};
use domain::{EmailAddress, OrganisationId};

use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;
use crate::store::AggregateStore;

pub use recent::RecentThreads;

/// A message as the MIME parser understood it, attachments already stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEmail {
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub from: Option<MailAddress>,
    pub to: Vec<MailAddress>,
    pub cc: Vec<MailAddress>,
    pub subject: Option<String>,
    pub date: Option<DateTime<Utc>>,
    pub bodies: Bodies,
    pub attachments: Vec<AttachmentRecord>,
    pub size: u64,
    pub sha256: String,
}

/// What became of a fetched message before it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    Parsed(Box<ParsedEmail>),
    Rejected {
        message_id: Option<String>,
        sha256: Option<String>,
        size: u64,
        reason: RejectReason,
        detail: String,
    },
}

/// What recording a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    Received {
        new_thread: bool,
    },
    Rejected,
    /// Recorded before (seen again after a restart or a UIDVALIDITY change).
    Duplicate,
}

/// Where known Message-IDs and subjects lead: the thread read model.
#[async_trait]
pub trait ThreadIndex: Send + Sync {
    /// The thread of the first of `message_ids` (in that order) known in the
    /// organisation, inbound or sent.
    async fn thread_of(
        &self,
        organisation_id: OrganisationId,
        message_ids: &[String],
    ) -> Result<Option<Uuid>, StoreError>;
    /// The customer's latest thread whose subject key is `key`.
    async fn thread_with_subject(
        &self,
        organisation_id: OrganisationId,
        customer_id: Uuid,
        key: &str,
    ) -> Result<Option<Uuid>, StoreError>;
}

/// Why a message could not be recorded (it will be fetched again).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Email(#[from] CommandError<InboundEmailError>),
    #[error(transparent)]
    Customer(#[from] CommandError<CustomerError>),
}

/// The account a message arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mailbox {
    pub account_id: Uuid,
    pub organisation_id: OrganisationId,
}

/// The stores and indexes recording inbound e-mail needs.
pub struct InboundEmails<'a> {
    pub emails: &'a dyn AggregateStore<InboundEmail>,
    pub customers: &'a dyn AggregateStore<Customer>,
    pub index: &'a dyn ThreadIndex,
    pub recent: &'a RecentThreads,
}

impl InboundEmails<'_> {
    /// Records one fetched message; a message recorded before is a `Duplicate`.
    pub async fn record(
        &self,
        mailbox: Mailbox,
        position: MailPosition,
        fetched: Fetched,
        meta: &EventMetadata,
    ) -> Result<Ingested, IngestError> {
        let (id, command, outcome) = match fetched {
            Fetched::Parsed(parsed) => {
                let email = self.received(mailbox, position, *parsed, meta).await?;
                let outcome = Ingested::Received {
                    new_thread: email.new_thread,
                };
                (email.email_id, InboundEmailCommand::Receive(Box::new(email)), outcome)
            }
            Fetched::Rejected {
                message_id,
                sha256,
                size,
                reason,
                detail,
            } => {
                let key = MessageKey::best(message_id.as_deref(), sha256.as_deref(), &position);
                let email_id = inbound_email_id(mailbox.account_id, key);
                let rejected = RejectedEmail {
                    email_id,
                    organisation_id: mailbox.organisation_id,
                    account_id: mailbox.account_id,
                    position,
                    message_id,
                    sha256,
                    size,
                    reason,
                    detail,
                    at: Utc::now(),
                };
                (
                    email_id,
                    InboundEmailCommand::Reject(Box::new(rejected)),
                    Ingested::Rejected,
                )
            }
        };
        let remembered = remembered(&command);
        match self.emails.execute(&id.to_string(), command, meta).await {
            Ok(()) => {
                if let Some((message_id, subject, thread_id)) = remembered {
                    let subject = subject.as_ref().map(|(c, k)| (*c, k.as_str()));
                    self.recent
                        .remember(mailbox.organisation_id, message_id.as_deref(), subject, thread_id);
                }
                Ok(outcome)
            }
            Err(CommandError::Rejected(InboundEmailError::AlreadyRecorded)) => Ok(Ingested::Duplicate),
            Err(error) => Err(error.into()),
        }
    }

    async fn received(
        &self,
        mailbox: Mailbox,
        position: MailPosition,
        parsed: ParsedEmail,
        meta: &EventMetadata,
    ) -> Result<ReceivedEmail, IngestError> {
        let key = MessageKey::best(parsed.message_id.as_deref(), Some(&parsed.sha256), &position);
        let email_id = inbound_email_id(mailbox.account_id, key);
        let customer_id = self
            .customer(mailbox.organisation_id, parsed.from.as_ref(), meta)
            .await?;
        let (thread_id, new_thread) = self
            .thread(mailbox.organisation_id, email_id, customer_id, &parsed)
            .await?;
        Ok(ReceivedEmail {
            email_id,
            organisation_id: mailbox.organisation_id,
            account_id: mailbox.account_id,
            position,
            message_id: parsed.message_id,
            in_reply_to: parsed.in_reply_to,
            references: parsed.references,
            from: parsed.from,
            to: parsed.to,
            cc: parsed.cc,
            subject: parsed.subject,
            date: parsed.date,
            received_at: Utc::now(),
            bodies: parsed.bodies,
            attachments: parsed.attachments,
            omitted_attachments: 0,
            size: parsed.size,
            sha256: parsed.sha256,
            thread_id,
            new_thread,
            customer_id,
        })
    }

    /// The sender's customer, created if new; none without a readable address.
    async fn customer(
        &self,
        organisation_id: OrganisationId,
        from: Option<&MailAddress>,
        meta: &EventMetadata,
    ) -> Result<Option<Uuid>, IngestError> {
        let Some((address, name)) = from.and_then(|f| Some((EmailAddress::parse(&f.address).ok()?, f.name.clone())))
        else {
            return Ok(None);
        };
        let id = customer_id(organisation_id, &address);
        if self.recent.knows_customer(id) || self.customers.load(&id.to_string()).await?.is_some() {
            self.recent.remember_customer(id);
            return Ok(Some(id));
        }
        let command = CustomerCommand::Create {
            customer_id: id,
            organisation_id,
            email: address,
            name,
            at: Utc::now(),
        };
        match self.customers.execute(&id.to_string(), command, meta).await {
            Ok(()) | Err(CommandError::Rejected(CustomerError::AlreadyExists)) => {
                self.recent.remember_customer(id);
                Ok(Some(id))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The thread the e-mail joins, and whether it is new.
    async fn thread(
        &self,
        organisation_id: OrganisationId,
        email_id: Uuid,
        customer_id: Option<Uuid>,
        parsed: &ParsedEmail,
    ) -> Result<(Uuid, bool), StoreError> {
        let referenced = referenced_ids(parsed);
        if !referenced.is_empty() {
            let known = match self.recent.by_message_id(organisation_id, &referenced) {
                Some(thread) => Some(thread),
                None => self.index.thread_of(organisation_id, &referenced).await?,
            };
            if let Some(thread) = known {
                return Ok((thread, false));
            }
        }
        let key = parsed
            .subject
            .as_deref()
            .map(|s| subject_key(&header_value(s)))
            .unwrap_or_default();
        if let (Some(customer), false) = (customer_id, key.is_empty()) {
            let known = match self.recent.by_subject(organisation_id, customer, &key) {
                Some(thread) => Some(thread),
                None => self.index.thread_with_subject(organisation_id, customer, &key).await?,
            };
            if let Some(thread) = known {
                return Ok((thread, false));
            }
        }
        Ok((new_thread_id(email_id), true))
    }
}

/// What to remember once a received e-mail is recorded.
#[expect(clippy::type_complexity, reason = "a private triple read once, right after")]
fn remembered(command: &InboundEmailCommand) -> Option<(Option<String>, Option<(Uuid, String)>, Uuid)> {
    let InboundEmailCommand::Receive(email) = command else {
        return None;
    };
    let subject = email.customer_id.zip(email.subject.as_deref().map(subject_key));
    Some((email.message_id.clone(), subject, email.thread_id))
}

/// Message-IDs that lead to a thread, best first: `In-Reply-To`, then
/// `References` from the latest, then the message's own (a copy of an
/// e-mail Switchboard sent belongs with it).
fn referenced_ids(parsed: &ParsedEmail) -> Vec<String> {
    let own = parsed.message_id.iter().cloned();
    let parents = parsed.in_reply_to.iter().cloned();
    let references = parsed.references.iter().rev().cloned();
    recent::distinct(parents.chain(references).chain(own).filter(|id| !id.is_empty()))
}

#[cfg(test)]
mod tests;
