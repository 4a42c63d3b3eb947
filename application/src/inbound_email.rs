//! Recording e-mail a poller fetched: the customer it comes from (created
//! if new), the thread it joins (decided here and put in the command), and
//! the e-mail itself, each recorded once.
//!
//! Threading: the thread of a referenced Message-ID (`In-Reply-To` first,
//! then `References` from the latest), which includes e-mails Switchboard
//! sent; else the customer's latest thread with the same normalised
//! subject; else a new thread.

mod recent;
mod threading;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use futures::{StreamExt, TryStreamExt};

use domain::OrganisationId;
use domain::customer::{Customer, CustomerError};
use domain::inbound_email::{
    AttachmentRecord, Bodies, InboundEmail, InboundEmailCommand, InboundEmailError, MailAddress, MailPosition,
    MessageKey, ReceivedEmail, RejectReason, RejectedEmail, inbound_email_id,
};

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

/// How many recorded e-mails are committed at once: threads are decided
/// one after the other, in order, and the commits overlap.
const CONCURRENT_COMMITS: usize = 8;

/// A message ready to commit, or one recorded before.
enum Prepared {
    Command {
        email_id: Uuid,
        command: InboundEmailCommand,
        outcome: Ingested,
    },
    Duplicate,
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
        let mut outcomes = self.record_all(mailbox, vec![(position, fetched)], meta).await?;
        Ok(outcomes.pop().unwrap_or(Ingested::Duplicate))
    }

    /// Records a batch of fetched messages in their order: each thread is
    /// decided knowing the messages before it, then the commits overlap.
    /// On an error some may be recorded; fetched again, they are duplicates.
    pub async fn record_all(
        &self,
        mailbox: Mailbox,
        messages: Vec<(MailPosition, Fetched)>,
        meta: &EventMetadata,
    ) -> Result<Vec<Ingested>, IngestError> {
        let mut prepared = Vec::with_capacity(messages.len());
        for (position, fetched) in messages {
            prepared.push(self.prepare(mailbox, position, fetched, meta).await?);
        }
        let commits = prepared.into_iter().map(|p| self.commit(p, meta));
        futures::stream::iter(commits)
            .buffered(CONCURRENT_COMMITS)
            .try_collect()
            .await
    }

    async fn commit(&self, prepared: Prepared, meta: &EventMetadata) -> Result<Ingested, IngestError> {
        let Prepared::Command {
            email_id,
            command,
            outcome,
        } = prepared
        else {
            return Ok(Ingested::Duplicate);
        };
        match self.emails.execute(&email_id.to_string(), command, meta).await {
            Ok(()) => Ok(outcome),
            Err(CommandError::Rejected(InboundEmailError::AlreadyRecorded)) => Ok(Ingested::Duplicate),
            Err(error) => Err(error.into()),
        }
    }

    /// The command for a message, its thread remembered for the messages
    /// after it; or `Duplicate` (its recorded thread remembered) when it was
    /// recorded before.
    async fn prepare(
        &self,
        mailbox: Mailbox,
        position: MailPosition,
        fetched: Fetched,
        meta: &EventMetadata,
    ) -> Result<Prepared, IngestError> {
        let organisation_id = mailbox.organisation_id;
        let (message_id, sha256) = match &fetched {
            Fetched::Parsed(p) => (p.message_id.clone(), Some(p.sha256.clone())),
            Fetched::Rejected { message_id, sha256, .. } => (message_id.clone(), sha256.clone()),
        };
        let key = MessageKey::best(message_id.as_deref(), sha256.as_deref(), &position);
        let email_id = inbound_email_id(mailbox.account_id, key);
        if let Some(recorded) = self.emails.load(&email_id.to_string()).await? {
            if let Some(thread_id) = recorded.aggregate.thread_id {
                self.recent
                    .remember(organisation_id, message_id.as_deref(), None, thread_id);
            }
            return Ok(Prepared::Duplicate);
        }
        let (command, outcome) = match fetched {
            Fetched::Parsed(parsed) => {
                let email = self.received(mailbox, email_id, position, *parsed, meta).await?;
                let subject = email
                    .customer_id
                    .map(|c| (c, threading::key_of(email.subject.as_deref())));
                let subject = subject.as_ref().map(|(c, k)| (*c, k.as_str()));
                self.recent
                    .remember(organisation_id, email.message_id.as_deref(), subject, email.thread_id);
                let outcome = Ingested::Received {
                    new_thread: email.new_thread,
                };
                (InboundEmailCommand::Receive(Box::new(email)), outcome)
            }
            Fetched::Rejected {
                message_id,
                sha256,
                size,
                reason,
                detail,
            } => {
                let rejected = RejectedEmail {
                    email_id,
                    organisation_id,
                    account_id: mailbox.account_id,
                    position,
                    message_id,
                    sha256,
                    size,
                    reason,
                    detail,
                    at: Utc::now(),
                };
                (InboundEmailCommand::Reject(Box::new(rejected)), Ingested::Rejected)
            }
        };
        Ok(Prepared::Command {
            email_id,
            command,
            outcome,
        })
    }

    async fn received(
        &self,
        mailbox: Mailbox,
        email_id: Uuid,
        position: MailPosition,
        parsed: ParsedEmail,
        meta: &EventMetadata,
    ) -> Result<ReceivedEmail, IngestError> {
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
            unlinked: None,
        })
    }
}

#[cfg(test)]
mod tests;
