//! Receiving e-mail in this process: the stores and poller machinery held
//! by the state (the pollers' port over the state is in `pollers`).

use std::time::Duration;

use application::inbound_email::{InboundEmails, RecentThreads};
use domain::customer::Customer;
use domain::inbound_email::InboundEmail;
use infrastructure::Settings;
use infrastructure::database::Database;
use infrastructure::event_store::{CommitSignal, EsStore};
use infrastructure::mail::attachments::AttachmentStore;
use infrastructure::mail::imap::ImapClient;
use infrastructure::mail::poll::{MailReceiver, PollerConfig};
use projections::email_threads::SqlThreadIndex;

/// What receiving e-mail needs, built once with the state.
pub struct Receiving {
    pub emails: EsStore<InboundEmail>,
    pub customers: EsStore<Customer>,
    pub receiver: MailReceiver,
    pub index: SqlThreadIndex,
    pub recent: RecentThreads,
}

impl Receiving {
    pub fn new(db: &Database, settings: &Settings, imap: ImapClient, commits: &CommitSignal) -> Self {
        let config = PollerConfig::new(
            Duration::from_secs(settings.mail_lease_secs),
            settings.email_max_attachment_bytes,
        );
        let attachments = AttachmentStore::new(&settings.data_dir);
        Self {
            emails: EsStore::new(db, (), commits.clone()),
            customers: EsStore::new(db, (), commits.clone()),
            receiver: MailReceiver::new(imap, db.read.clone(), attachments, config),
            index: SqlThreadIndex(db.read.clone()),
            recent: RecentThreads::default(),
        }
    }

    /// The inbound e-mail use cases.
    pub fn inbound(&self) -> InboundEmails<'_> {
        InboundEmails {
            emails: &self.emails,
            customers: &self.customers,
            index: &self.index,
            recent: &self.recent,
        }
    }
}
