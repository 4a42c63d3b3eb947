//! Sending e-mail from an organisation's account: the ports a sender
//! implements, the request, and the use case that records the intent before
//! the server is asked and never sends a started intent twice.

mod request;
mod send;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use domain::email_account::EmailAccountError;
use domain::outbound_email::{AttachmentRecord, DraftError, OutboundEmailError, OutboundMessage, SmtpFailure};
use domain::{EmailAddress, OrganisationId};

use crate::email_accounts::{EmailAccounts, EmailAccountsError, MailAccess};
use crate::error::{CommandError, StoreError};
use crate::metadata::Actor;
use crate::policy::Denied;
use crate::store::AggregateStore;

pub use request::{AttachmentInput, Permission, SendRequest};
pub use send::Prepared;

/// Per-email total of attachment bytes unless configured otherwise (25 MB).
pub const DEFAULT_MAX_ATTACHMENT_BYTES: u64 = 25 * 1024 * 1024;

/// An attachment's checked name, type and checksum, with its bytes.
#[derive(Debug, Clone)]
pub struct AttachmentFile {
    pub record: AttachmentRecord,
    pub bytes: Vec<u8>,
}

/// What the server said to the message after `DATA`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataOutcome {
    Accepted {
        code: u16,
        response: String,
    },
    /// A 4xx/5xx answer: not delivered.
    Refused(SmtpFailure),
    /// The connection failed after the message was written and before the
    /// answer came: it may have been delivered.
    Unknown(String),
}

/// Writes messages and sends them over SMTP.
#[async_trait]
pub trait MailSender: Send + Sync {
    /// The RFC 5322 bytes of the message; a part that cannot be written
    /// names its field.
    fn compose(
        &self,
        message: &OutboundMessage,
        attachments: &[AttachmentFile],
        date: DateTime<Utc>,
    ) -> Result<Vec<u8>, DraftError>;

    /// Connects, secures, logs in as the account and names the sender and
    /// recipients: everything up to, not including, `DATA`.
    async fn open(
        &self,
        access: &MailAccess,
        from: &EmailAddress,
        recipients: &[EmailAddress],
    ) -> Result<Box<dyn SmtpSession>, SmtpFailure>;
}

/// A session ready for `DATA`.
#[async_trait]
pub trait SmtpSession: Send {
    /// Sends `DATA` and the message, and says goodbye.
    async fn data(self: Box<Self>, message: &[u8]) -> DataOutcome;
    /// Leaves without sending.
    async fn abandon(self: Box<Self>);
}

/// Facts about an organisation's mail the use case looks up.
#[async_trait]
pub trait MailDirectory: Send + Sync {
    /// Ids of every e-mail account the organisation has had.
    async fn account_ids(&self, organisation_id: OrganisationId) -> Result<Vec<Uuid>, StoreError>;
    /// E-mails the actor asked to send since `since`.
    async fn sends_since(
        &self,
        organisation_id: OrganisationId,
        actor: &Actor,
        since: DateTime<Utc>,
    ) -> Result<u32, StoreError>;
}

/// Why a send was refused or could not be done. The API's status for each
/// is given.
#[derive(Debug, thiserror::Error)]
pub enum SendEmailError {
    /// 403.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// 422, naming the field.
    #[error(transparent)]
    Invalid(#[from] DraftError),
    /// 413, field `attachments`.
    #[error("the attachments total {total} bytes, over the limit of {limit} bytes per e-mail")]
    AttachmentsTooLarge { total: u64, limit: u64 },
    /// 422, field `account_id`.
    #[error("no such e-mail account in this organisation")]
    UnknownAccount,
    /// 422, field `account_id`.
    #[error("the organisation has no default e-mail account; name one with account_id")]
    NoDefaultAccount,
    /// 422, field `account_id`.
    #[error("sending is turned off for this e-mail account")]
    SmtpDisabled,
    /// 502: the account's server could not be used (connection, TLS, login).
    #[error("{}", .0.message)]
    Smtp(SmtpFailure),
    #[error(transparent)]
    Accounts(EmailAccountsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError<OutboundEmailError>),
}

impl From<EmailAccountsError> for SendEmailError {
    fn from(error: EmailAccountsError) -> Self {
        match error {
            EmailAccountsError::Command(CommandError::Rejected(EmailAccountError::NotFound)) => Self::UnknownAccount,
            EmailAccountsError::Store(e) => Self::Store(e),
            other => Self::Accounts(other),
        }
    }
}

/// The stores and ports sending needs.
pub struct OutboundEmails<'a> {
    pub store: &'a dyn AggregateStore<domain::outbound_email::OutboundEmail>,
    pub accounts: EmailAccounts<'a>,
    pub sender: &'a dyn MailSender,
    pub directory: &'a dyn MailDirectory,
    pub max_attachment_bytes: u64,
}
