//! What events mean to connected users: [`effect_of`] read as realtime
//! changes, with the thread of a later status found from the item it
//! follows (remembered from the item's own event, else from the view).

use async_trait::async_trait;
use serde_json::json;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use uuid::Uuid;

use application::feed::StoredEvent;
use application::realtime::{ThreadAudience, ThreadChange, ThreadChanges};
use domain::thread::ThreadEvent;

use super::effect::{Effect, effect_of};
use super::read::{audiences, thread_of_item};

/// Items remembered for their later statuses.
const REMEMBERED_ITEMS: usize = 65_536;

/// An item's organisation, thread and channel.
type ItemHome = (Uuid, Uuid, String);

pub struct SqlThreadChanges {
    pool: AnyPool,
    items: Mutex<lru::LruCache<Uuid, ItemHome>>,
}

impl SqlThreadChanges {
    pub fn new(pool: AnyPool) -> Self {
        let capacity = NonZeroUsize::new(REMEMBERED_ITEMS).unwrap_or(NonZeroUsize::MIN);
        Self {
            pool,
            items: Mutex::new(lru::LruCache::new(capacity)),
        }
    }

    fn remember(&self, item_id: Uuid, home: ItemHome) {
        if let Ok(mut items) = self.items.lock() {
            items.put(item_id, home);
        }
    }

    async fn home_of(&self, item_id: Uuid) -> Option<ItemHome> {
        let known = self
            .items
            .lock()
            .ok()
            .and_then(|mut items| items.get(&item_id).cloned());
        if known.is_some() {
            return known;
        }
        let (organisation, thread, channel) = thread_of_item(&self.pool, &item_id.to_string()).await.ok()??;
        let home = (
            Uuid::parse_str(&organisation).ok()?,
            Uuid::parse_str(&thread).ok()?,
            channel,
        );
        self.remember(item_id, home.clone());
        Some(home)
    }
}

fn kind_of(channel: &str, status: bool) -> &'static str {
    match (channel, status) {
        ("call", false) => "call",
        ("call", true) => "call_status",
        (_, false) => "message",
        (_, true) => "message_status",
    }
}

fn thread_change(position: i64, change: ThreadEvent) -> ThreadChange {
    let (organisation_id, thread_id) = (change.organisation_id(), change.thread_id());
    let (kind, at, data, previous) = match change {
        ThreadEvent::ThreadAssigned {
            assignee, previous, at, ..
        } => (
            "assigned",
            at,
            json!({"assignee_id": assignee, "previous_assignee_id": previous}),
            Some(previous),
        ),
        ThreadEvent::ThreadClosed { at, .. } => ("closed", at, json!({}), None),
        ThreadEvent::ThreadReopened { reason, at, .. } => ("reopened", at, json!({ "reason": reason }), None),
        ThreadEvent::ThreadRead {
            user_id, through, at, ..
        } => ("read", at, json!({"user_id": user_id, "through": through}), None),
    };
    ThreadChange {
        position,
        organisation_id,
        thread_id,
        kind,
        occurred_at: at,
        data,
        previous_assignee: previous,
    }
}

#[async_trait]
impl ThreadChanges for SqlThreadChanges {
    async fn change_of(&self, event: &StoredEvent) -> Option<ThreadChange> {
        match effect_of(event).ok()?? {
            Effect::Item(item) => {
                let home = (item.organisation_id, item.thread_id, item.channel.to_string());
                self.remember(item.item_id, home);
                Some(ThreadChange {
                    position: event.position,
                    organisation_id: item.organisation_id,
                    thread_id: item.thread_id,
                    kind: kind_of(item.channel, false),
                    occurred_at: item.at,
                    data: json!({
                        "item_id": item.item_id,
                        "channel": item.channel,
                        "direction": item.direction,
                        "status": item.status,
                        "preview": item.preview,
                        "counterpart": item.counterpart,
                        "customer_id": item.customer_id,
                    }),
                    previous_assignee: None,
                })
            }
            Effect::Status { item_id, status, at } => {
                let (organisation_id, thread_id, channel) = self.home_of(item_id).await?;
                Some(ThreadChange {
                    position: event.position,
                    organisation_id,
                    thread_id,
                    kind: kind_of(&channel, true),
                    occurred_at: at,
                    data: json!({"item_id": item_id, "channel": channel, "status": status}),
                    previous_assignee: None,
                })
            }
            Effect::Thread(change) => Some(thread_change(event.position, change)),
        }
    }

    async fn audiences(&self, threads: &[(Uuid, Uuid)]) -> HashMap<(Uuid, Uuid), ThreadAudience> {
        let ids: Vec<String> = threads.iter().map(|(_, thread)| thread.to_string()).collect();
        let rows = match audiences(&self.pool, &ids).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "the threads' assignees could not be read");
                return HashMap::new();
            }
        };
        rows.into_iter()
            .filter_map(|(organisation, thread, assignee)| {
                let key = (Uuid::parse_str(&organisation).ok()?, Uuid::parse_str(&thread).ok()?);
                let assignee = assignee.and_then(|a| Uuid::parse_str(&a).ok());
                threads.contains(&key).then_some((key, ThreadAudience { assignee }))
            })
            .collect()
    }
}
