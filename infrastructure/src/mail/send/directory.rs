//! What mail looks up in the event store itself: an organisation's e-mail
//! accounts (to find the default one), every organisation's (for the
//! pollers), and how many e-mails an actor asked to send today (for the
//! permission's daily limit). They read the `events` table's metadata
//! columns, so none waits for a projection to catch up.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use cqrs_es::Aggregate;
use sqlx::AnyPool;
use uuid::Uuid;

use application::error::StoreError;
use application::metadata::Actor;
use application::outbound_email::MailDirectory;
use domain::OrganisationId;
use domain::email_account::EmailAccount;
use domain::outbound_email::OutboundEmail;

/// [`MailDirectory`] over the event store's database.
#[derive(Debug, Clone)]
pub struct EventDirectory(pub AnyPool);

fn store_error(error: sqlx::Error) -> StoreError {
    StoreError(error.to_string())
}

impl EventDirectory {
    /// Ids of every e-mail account any organisation has had.
    pub async fn every_account_id(&self) -> Result<Vec<Uuid>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = $1")
            .bind(EmailAccount::TYPE)
            .fetch_all(&self.0)
            .await
            .map_err(store_error)?;
        Ok(ids.iter().filter_map(|id| Uuid::try_parse(id).ok()).collect())
    }
}

#[async_trait]
impl MailDirectory for EventDirectory {
    async fn account_ids(&self, organisation_id: OrganisationId) -> Result<Vec<Uuid>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT aggregate_id FROM events WHERE organisation_id = $1 AND aggregate_type = $2",
        )
        .bind(organisation_id.to_string())
        .bind(EmailAccount::TYPE)
        .fetch_all(&self.0)
        .await
        .map_err(store_error)?;
        Ok(ids.iter().filter_map(|id| Uuid::try_parse(id).ok()).collect())
    }

    async fn sends_since(
        &self,
        organisation_id: OrganisationId,
        actor: &Actor,
        since: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE organisation_id = $1 AND aggregate_type = $2 \
             AND event_type = 'EmailSendRequested' AND actor = $3 AND occurred_at >= $4",
        )
        .bind(organisation_id.to_string())
        .bind(OutboundEmail::TYPE)
        .bind(actor.to_key())
        .bind(since.to_rfc3339_opts(SecondsFormat::Micros, true))
        .fetch_one(&self.0)
        .await
        .map_err(store_error)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }
}
