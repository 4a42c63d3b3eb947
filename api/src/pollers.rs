//! The mailbox pollers of this process and the port they work through,
//! wired to the application's use cases over the state.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use application::email_accounts::{EmailAccountsError, MailAccess};
use application::error::CommandError;
use application::inbound_email::{Fetched, Ingested, Mailbox};
use application::receiving::{MailSink, PollTarget, SinkError};
use application::{AggregateStore, EventMetadata};
use domain::OrganisationId;
use domain::email_account::{EmailAccount, EmailAccountError, MailSide};
use domain::inbound_email::MailPosition;

use crate::state::AppState;

/// Runs this process's mailbox pollers until `stop`.
pub async fn run_pollers(state: Arc<AppState>, stop: CancellationToken) -> Result<(), String> {
    let receiver = state.receiving.receiver.clone();
    infrastructure::mail::poll::run(receiver, Arc::new(StateSink(state)), stop).await
}

/// The pollers' port over this process's state.
pub struct StateSink(pub Arc<AppState>);

fn meta(organisation_id: OrganisationId) -> EventMetadata {
    EventMetadata::system("mail-poller", Some(organisation_id))
}

/// What a poller was started with: settings and the key sealing the passwords.
fn fingerprint(account: &EmailAccount) -> String {
    let settings = serde_json::to_string(&account.settings).unwrap_or_default();
    let key = account.passwords.as_ref().map(|p| p.data_key_id).unwrap_or_default();
    hex::encode(Sha256::digest(format!("{settings}/{key}").as_bytes()))
}

fn pollable(account: &EmailAccount) -> Option<PollTarget> {
    let organisation_id = account.organisation_id?;
    let wanted = account.is_live_in(organisation_id) && account.settings.as_ref().is_some_and(|s| s.imap_enabled);
    wanted.then(|| PollTarget {
        account_id: account.id.unwrap_or_default(),
        organisation_id,
        fingerprint: fingerprint(account),
    })
}

#[async_trait]
impl MailSink for StateSink {
    async fn pollable(&self) -> Result<Vec<PollTarget>, SinkError> {
        let mut targets = Vec::new();
        for id in self.0.mail_directory.every_account_id().await? {
            let loaded = self.0.email_accounts.load(&id.to_string()).await?;
            targets.extend(loaded.and_then(|l| pollable(&l.aggregate)));
        }
        Ok(targets)
    }

    async fn open(&self, account_id: Uuid, organisation_id: OrganisationId) -> Result<Option<MailAccess>, SinkError> {
        match self.0.email_accounts().open(organisation_id, account_id).await {
            Ok(access) if access.settings.imap_enabled => Ok(Some(access)),
            Ok(_) | Err(EmailAccountsError::Command(CommandError::Rejected(EmailAccountError::NotFound))) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    async fn record_login(&self, access: &MailAccess, outcome: Result<(), String>) -> Result<(), SinkError> {
        let meta = meta(access.organisation_id);
        let accounts = self.0.email_accounts();
        accounts
            .record_login(access.account_id, MailSide::Imap, outcome, &meta)
            .await?;
        Ok(())
    }

    async fn ingest(
        &self,
        access: &MailAccess,
        messages: Vec<(MailPosition, Fetched)>,
    ) -> Result<Vec<Ingested>, SinkError> {
        let mailbox = Mailbox {
            account_id: access.account_id,
            organisation_id: access.organisation_id,
        };
        let inbound = self.0.receiving.inbound();
        Ok(inbound
            .record_all(mailbox, messages, &meta(access.organisation_id))
            .await?)
    }
}
