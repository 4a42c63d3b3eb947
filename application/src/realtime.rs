//! What realtime push tells connected users: the change an event made to a
//! thread (a message in or out, a delivery status, a call and its
//! progress, an assignment, a close, a reopen, a read), and who may see
//! that thread. The push itself (sockets, streams, backlogs) lives in the
//! API; what an event means for a thread is decided here, once, for every
//! transport.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

use crate::feed::StoredEvent;

/// One change to one thread, as pushed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadChange {
    /// The event's position in the store: the id a client resumes after.
    pub position: i64,
    #[serde(skip)]
    pub organisation_id: Uuid,
    pub thread_id: Uuid,
    /// `message`, `message_status`, `call`, `call_status`, `assigned`,
    /// `closed`, `reopened` or `read`.
    pub kind: &'static str,
    pub occurred_at: DateTime<Utc>,
    /// Small, typed by `kind`: ids, channel, direction, status; never a
    /// message body beyond its preview, never a secret.
    pub data: serde_json::Value,
    /// For an assignment, who it was assigned to before: they may see the
    /// change that takes it from them.
    #[serde(skip)]
    pub previous_assignee: Option<Option<Uuid>>,
}

/// Who may see a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadAudience {
    /// The user it is assigned to; `None` while unassigned.
    pub assignee: Option<Uuid>,
}

/// Reads what events mean for threads.
#[async_trait]
pub trait ThreadChanges: Send + Sync {
    /// The change `event` made to a thread; `None` when it touches none
    /// (or its thread cannot be found).
    async fn change_of(&self, event: &StoredEvent) -> Option<ThreadChange>;
    /// Who may see each of the threads (organisation, thread) now; those
    /// not known are left out.
    async fn audiences(&self, threads: &[(Uuid, Uuid)]) -> HashMap<(Uuid, Uuid), ThreadAudience>;
}
