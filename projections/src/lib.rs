//! Read models. Each projector consumes the ordered event feed and writes
//! its tables together with its checkpoint in one transaction; every one can
//! be rebuilt from the store.

pub mod api_keys;
pub mod audit_chain;
pub mod audit_log;
pub mod bulk;
pub mod calls;
pub mod email_accounts;
pub mod email_threads;
pub mod inbound_messages;
pub mod masked_sessions;
pub mod messages;
pub mod organisations;
pub mod phone_numbers;
pub mod runner;
pub mod sms_templates;
pub mod store;
pub mod users;
pub mod webhook_outbox;
pub mod whatsapp_templates;

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
    /// Applies events in order, each once. A projector writes a batch in a
    /// few statements by overriding this: it pushes the rows of its events
    /// into a [`bulk::Rows`] and writes them once at the end (and before
    /// any statement that must see them), as `api_keys.rs` does, with
    /// `apply` calling it for one event. The default applies the events
    /// one by one.
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
        Arc::new(calls::CallsView),
        Arc::new(email_accounts::EmailAccountsView),
        Arc::new(email_threads::EmailThreadsView),
        Arc::new(masked_sessions::MaskedSessionsView),
        Arc::new(messages::MessagesView),
        Arc::new(sms_templates::SmsTemplatesView),
        Arc::new(whatsapp_templates::WhatsappTemplatesView),
        Arc::new(inbound_messages::InboundMessagesView),
        Arc::new(webhook_outbox::WebhookOutboxView),
        Arc::new(audit_chain::AuditChain),
    ]
}

/// `aggregate_type IN (…) AND aggregate_id IN (…)` over the distinct types
/// and ids of a batch, numbered from `$first`, and the values to bind in
/// order: one look-up that an index on `(…, aggregate_type, aggregate_id, …)`
/// serves (it may also match other pairs of those types and ids; callers
/// look rows up by their pair).
pub(crate) fn aggregate_keys<'a>(events: &[&'a StoredEvent], first: usize) -> (Vec<&'a str>, String) {
    let distinct = |field: fn(&'a StoredEvent) -> &'a str| {
        let mut values: Vec<&str> = events.iter().copied().map(field).collect();
        values.sort_unstable();
        values.dedup();
        values
    };
    let types = distinct(|e| e.aggregate_type.as_str());
    let ids = distinct(|e| e.aggregate_id.as_str());
    let list = |from: usize, count: usize| -> String {
        (from..from + count)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let condition = format!(
        "aggregate_type IN ({}) AND aggregate_id IN ({})",
        list(first, types.len()),
        list(first + types.len(), ids.len())
    );
    (types.into_iter().chain(ids).collect(), condition)
}

/// Decodes an event payload into the aggregate's event enum.
pub(crate) fn decode<E: serde::de::DeserializeOwned>(event: &StoredEvent) -> Result<E, ProjectionError> {
    <E as serde::Deserialize<'_>>::deserialize(&event.payload).map_err(|e| ProjectionError::UndecodableEvent {
        event_type: event.event_type.clone(),
        reason: e.to_string(),
    })
}
