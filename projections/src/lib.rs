//! Read models. Each projector consumes the ordered event feed and writes
//! its tables together with its checkpoint in one transaction; every one can
//! be rebuilt from the store.

pub mod api_keys;
pub mod audit_chain;
pub mod audit_log;
pub mod email_accounts;
pub mod email_threads;
pub mod organisations;
pub mod phone_numbers;
pub mod runner;
pub mod store;
pub mod users;

use application::feed::StoredEvent;
use async_trait::async_trait;
use sqlx::AnyConnection;
use std::sync::Arc;

pub use store::{Outcome, ProjectionStore};

/// Why a projection could not be updated or read.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("read-model database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event {event_type} could not be read: {reason}")]
    UndecodableEvent { event_type: String, reason: String },
    #[error("event source: {0}")]
    Source(#[from] application::error::StoreError),
}

/// One read model, fed by the events of some aggregate types.
#[async_trait]
pub trait Projector: Send + Sync {
    /// Stable name: the checkpoint key and the JetStream consumer name.
    fn name(&self) -> &'static str;
    /// The aggregate types whose events this projector reads.
    fn aggregate_types(&self) -> &'static [&'static str];
    /// Applies one event. Called once per event and aggregate sequence.
    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError>;
    /// Applies events in order, each once. Projectors that can do a batch in
    /// fewer statements override this; the default applies them one by one.
    async fn apply_all(&self, conn: &mut AnyConnection, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
        for event in events {
            self.apply(conn, event).await?;
        }
        Ok(())
    }
    /// Empties the read model before a rebuild.
    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError>;
}

/// Every projector Switchboard runs.
pub fn all() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(organisations::OrganisationsView),
        Arc::new(users::UsersView),
        Arc::new(api_keys::ApiKeysView),
        Arc::new(phone_numbers::PhoneNumbersView),
        Arc::new(email_accounts::EmailAccountsView),
        Arc::new(email_threads::EmailThreadsView),
        Arc::new(audit_chain::AuditChain),
    ]
}

/// The distinct aggregate ids of a batch, and `$first, $first+1, …`
/// placeholders for them, for one `aggregate_id IN (…)` lookup.
pub(crate) fn aggregate_ids<'a>(events: &[&'a StoredEvent], first: usize) -> (Vec<&'a str>, String) {
    let mut ids: Vec<&str> = events.iter().map(|e| e.aggregate_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let placeholders: Vec<String> = (first..first + ids.len()).map(|i| format!("${i}")).collect();
    (ids, placeholders.join(", "))
}

/// Decodes an event payload into the aggregate's event enum.
pub(crate) fn decode<E: serde::de::DeserializeOwned>(event: &StoredEvent) -> Result<E, ProjectionError> {
    serde_json::from_value(event.payload.clone()).map_err(|e| ProjectionError::UndecodableEvent {
        event_type: event.event_type.clone(),
        reason: e.to_string(),
    })
}
