//! The port a mailbox poller works through: which accounts to poll, their
//! opened settings, where login outcomes and fetched messages go. The
//! poller itself (IMAP, leases, cursors) is an adapter; this keeps it apart
//! from the stores and the read models.

use async_trait::async_trait;
use uuid::Uuid;

use domain::OrganisationId;
use domain::inbound_email::MailPosition;

use crate::email_accounts::{EmailAccountsError, MailAccess};
use crate::error::StoreError;
use crate::inbound_email::{Fetched, IngestError, Ingested};

/// An account that wants polling, and a fingerprint of what its poller
/// was started with: when it changes (new settings or passwords) the poller
/// is restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollTarget {
    pub account_id: Uuid,
    pub organisation_id: OrganisationId,
    pub fingerprint: String,
}

/// Why the poller's port failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Accounts(#[from] EmailAccountsError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// What a poller asks of the rest of Switchboard.
#[async_trait]
pub trait MailSink: Send + Sync {
    /// Every live account with IMAP enabled.
    async fn pollable(&self) -> Result<Vec<PollTarget>, SinkError>;
    /// The account with its passwords opened, while it is still pollable.
    async fn open(&self, account_id: Uuid, organisation_id: OrganisationId) -> Result<Option<MailAccess>, SinkError>;
    /// Records a login's outcome (failures mark the account after repeats).
    async fn record_login(&self, access: &MailAccess, outcome: Result<(), String>) -> Result<(), SinkError>;
    /// Records fetched messages, in their order; an outcome for each.
    async fn ingest(
        &self,
        access: &MailAccess,
        messages: Vec<(MailPosition, Fetched)>,
    ) -> Result<Vec<Ingested>, SinkError>;
}
