//! Read models. Each projector consumes the ordered event feed and writes
//! its tables together with its checkpoint in one transaction; every one can
//! be rebuilt from the store.

pub mod api_keys;
pub mod audit_chain;
pub mod audit_log;
pub mod bulk;
pub mod calls;
pub mod customers;
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
pub mod threads;
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

impl From<ProjectionError> for application::error::StoreError {
    fn from(e: ProjectionError) -> Self {
        application::error::StoreError(e.to_string())
    }
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
        Arc::new(threads::ThreadsView),
        Arc::new(customers::CustomersView),
        Arc::new(masked_sessions::MaskedSessionsView),
        Arc::new(messages::MessagesView),
        Arc::new(sms_templates::SmsTemplatesView),
        Arc::new(whatsapp_templates::WhatsappTemplatesView),
        Arc::new(inbound_messages::InboundMessagesView),
        Arc::new(webhook_outbox::WebhookOutboxView),
        Arc::new(audit_chain::AuditChain),
    ]
}

/// The distinct `(aggregate_type, aggregate_id)` pairs of a batch, in
/// order, and a `VALUES` list of them (placeholders from `$first`) to join
/// a table on: each pair is one probe of an index on `(…, aggregate_type,
/// aggregate_id, …)`, and the statement is as cheap to plan for 500 pairs
/// as for one. (Two `IN` lists were read by PostgreSQL's generic plan as a
/// scan of the projector's whole range with a filter; 500 `OR`ed pairs
/// took 200 ms to plan.)
pub(crate) fn aggregate_pairs<'a>(events: &[&'a StoredEvent], first: usize) -> (Vec<(&'a str, &'a str)>, String) {
    let mut pairs: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.aggregate_type.as_str(), e.aggregate_id.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let rows = (0..pairs.len())
        .map(|i| {
            let n = first + 2 * i;
            format!("(${n}, ${})", n + 1)
        })
        .collect::<Vec<_>>()
        .join(", ");
    (pairs, format!("VALUES {rows}"))
}

/// `count` placeholders from `$first`, comma-separated, for an `IN` list
/// of one column.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decodes an event payload into the aggregate's event enum.
pub(crate) fn decode<E: serde::de::DeserializeOwned>(event: &StoredEvent) -> Result<E, ProjectionError> {
    <E as serde::Deserialize<'_>>::deserialize(&event.payload).map_err(|e| ProjectionError::UndecodableEvent {
        event_type: event.event_type.clone(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn event(aggregate_type: &str, aggregate_id: &str, sequence: i64) -> StoredEvent {
        StoredEvent {
            position: sequence,
            aggregate_type: aggregate_type.into(),
            aggregate_id: aggregate_id.into(),
            sequence,
            event_type: "Happened".into(),
            event_version: "1.0".into(),
            payload: serde_json::Value::Null,
            metadata: HashMap::new(),
        }
    }

    #[test]
    fn an_in_list_numbers_its_placeholders_from_the_first_it_is_given() {
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
        assert_eq!(placeholders(1, 1), "$1");
        assert_eq!(placeholders(5, 0), "");
    }

    #[test]
    fn a_batch_is_looked_up_by_its_distinct_pairs_each_matched_exactly() {
        let events = [
            event("user", "b", 1),
            event("login", "a", 1),
            event("user", "b", 2),
            event("user", "a", 1),
        ];
        let refs: Vec<&StoredEvent> = events.iter().collect();
        let (pairs, condition) = aggregate_pairs(&refs, 2);
        assert_eq!(pairs, [("login", "a"), ("user", "a"), ("user", "b")]);
        assert_eq!(condition, "VALUES ($2, $3), ($4, $5), ($6, $7)");
    }
}
