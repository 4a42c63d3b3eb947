//! Mailbox pollers: exactly one per account with IMAP enabled across every
//! running process (a lease in the database), one IMAP connection each.
//! Each keeps a cursor per folder (UIDVALIDITY and last UID) so a poll
//! fetches only new mail, waits with IDLE where the server offers it (or
//! sleeps the account's poll interval), reconnects with backoff, and records
//! login outcomes on the account.

mod account;
pub mod cursor;
mod folder;
pub mod hub;
pub mod lease;
mod supervisor;
mod wait;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AnyPool;
use std::time::Duration;
use uuid::Uuid;

use application::email_accounts::MailAccess;
use application::inbound_email::Ingested;
use application::receiving::{MailSink, SinkError};

use super::attachments::AttachmentStore;
use super::imap::{ImapClient, ImapError};
pub use cursor::{Cursor, Cursors};
pub use hub::PollerHub;
pub use lease::Leases;
pub use supervisor::run;

/// How pollers behave.
#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// How long a lease lasts unless renewed (renewed every third of it).
    pub lease: Duration,
    /// Larger attachments are recorded as skipped.
    pub max_attachment_bytes: u64,
    /// Larger messages are not fetched but recorded as rejected.
    pub max_message_bytes: u64,
    /// IDLE is re-issued this often (servers may drop it after 29 minutes).
    pub idle_refresh: Duration,
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
}

impl PollerConfig {
    /// A message may be four times the attachment limit before it is
    /// refused unfetched.
    pub fn new(lease: Duration, max_attachment_bytes: u64) -> Self {
        Self {
            lease: lease.max(Duration::from_secs(3)),
            max_attachment_bytes,
            max_message_bytes: max_attachment_bytes.saturating_mul(4),
            idle_refresh: Duration::from_secs(25 * 60),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// What one poll of an account found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollReport {
    pub new_messages: u64,
    pub new_threads: u64,
    pub rejected_messages: u64,
    pub duplicate_messages: u64,
    pub poll_duration_ms: u64,
    pub last_polled_at: DateTime<Utc>,
}

impl Default for PollReport {
    fn default() -> Self {
        Self {
            new_messages: 0,
            new_threads: 0,
            rejected_messages: 0,
            duplicate_messages: 0,
            poll_duration_ms: 0,
            last_polled_at: Utc::now(),
        }
    }
}

impl PollReport {
    /// This poll's counts and a later poll's, ending when the later ended.
    pub fn then(self, later: &PollReport) -> PollReport {
        PollReport {
            new_messages: self.new_messages + later.new_messages,
            new_threads: self.new_threads + later.new_threads,
            rejected_messages: self.rejected_messages + later.rejected_messages,
            duplicate_messages: self.duplicate_messages + later.duplicate_messages,
            poll_duration_ms: self.poll_duration_ms.saturating_add(later.poll_duration_ms),
            last_polled_at: later.last_polled_at,
        }
    }

    fn count(&mut self, outcome: Ingested) {
        match outcome {
            Ingested::Received { new_thread } => {
                self.new_messages += 1;
                self.new_threads += u64::from(new_thread);
            }
            Ingested::Rejected => self.rejected_messages += 1,
            Ingested::Duplicate => self.duplicate_messages += 1,
        }
    }
}

/// Why a poll stopped short; the poller reconnects and tries again.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error("the lease was lost to another poller")]
    LeaseLost,
    #[error("stopped")]
    Stopped,
    #[error("the folder {0} has no UIDVALIDITY")]
    NoUidValidity(String),
    #[error("poller database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("storing an attachment: {0}")]
    Storage(#[from] std::io::Error),
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl PollError {
    fn imap(error: async_imap::error::Error) -> Self {
        Self::Imap(ImapError::Protocol(error.to_string()))
    }
}

/// Why "poll now" could not poll.
#[derive(Debug, thiserror::Error)]
pub enum PollNowError {
    /// Another process's poller holds the account.
    #[error("another process is polling this account; its mail arrives within the poll interval")]
    PolledElsewhere,
    /// The account is gone or has IMAP disabled.
    #[error("the account is not enabled for receiving")]
    NotPollable,
    #[error("{0}")]
    Failed(String),
}

/// Everything a process needs to run pollers; cheap to clone.
#[derive(Debug, Clone)]
pub struct MailReceiver {
    pub imap: ImapClient,
    pub leases: Leases,
    pub cursors: Cursors,
    pub attachments: AttachmentStore,
    pub config: PollerConfig,
    pub hub: PollerHub,
}

impl MailReceiver {
    pub fn new(imap: ImapClient, pool: AnyPool, attachments: AttachmentStore, config: PollerConfig) -> Self {
        Self {
            imap,
            leases: Leases {
                pool: pool.clone(),
                ttl: config.lease,
            },
            cursors: Cursors { pool },
            attachments,
            config,
            hub: PollerHub::default(),
        }
    }

    /// A new lease holder name: this process and a fresh id.
    pub fn holder_name() -> String {
        format!("{}:{}", std::process::id(), Uuid::new_v4().simple())
    }

    /// Polls the account once, now: through this process's poller if it has
    /// the account, else under a lease of its own if no one else holds it.
    pub async fn poll_now(
        &self,
        sink: &dyn MailSink,
        account_id: Uuid,
        organisation_id: Uuid,
    ) -> Result<PollReport, PollNowError> {
        if let Some(answer) = self.hub.request(account_id) {
            return match answer.await {
                Ok(outcome) => outcome.map_err(PollNowError::Failed),
                Err(_) => Err(PollNowError::Failed("the poller stopped before answering".into())),
            };
        }
        let access = match sink.open(account_id, organisation_id).await {
            Ok(Some(access)) => access,
            Ok(None) => return Err(PollNowError::NotPollable),
            Err(error) => return Err(PollNowError::Failed(error.to_string())),
        };
        let holder = Self::holder_name();
        match self.leases.acquire(account_id, &holder).await {
            Ok(true) => {}
            Ok(false) => return Err(PollNowError::PolledElsewhere),
            Err(error) => return Err(PollNowError::Failed(error.to_string())),
        }
        let polled = account::poll_once(self, sink, &access, &holder).await;
        if let Err(error) = self.leases.release(account_id, &holder).await {
            tracing::warn!(%account_id, %error, "a poll-now lease was not released; it lapses by itself");
        }
        polled.map_err(|e| PollNowError::Failed(e.to_string()))
    }
}

/// The account's settings say which folders to watch.
fn folders(access: &MailAccess) -> Vec<String> {
    match access.settings.folders.is_empty() {
        true => vec!["INBOX".to_string()],
        false => access.settings.folders.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(new: u64, threads: u64, rejected: u64, duplicates: u64, ms: u64, at: i64) -> PollReport {
        PollReport {
            new_messages: new,
            new_threads: threads,
            rejected_messages: rejected,
            duplicate_messages: duplicates,
            poll_duration_ms: ms,
            last_polled_at: DateTime::from_timestamp(at, 0).unwrap(),
        }
    }

    #[test]
    fn a_poll_joined_while_running_adds_its_counts_to_the_next_and_ends_with_it() {
        let joined = report(250, 3, 1, 2, 900, 10).then(&report(4, 1, 0, 5, 100, 20));
        assert_eq!(joined, report(254, 4, 1, 7, 1000, 20));
    }
}
