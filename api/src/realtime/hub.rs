//! The hub: one per `serve` process. It reads the live feed, asks
//! [`ThreadChanges`] what each event did to a thread, resolves who may see
//! that thread, and broadcasts the change once to every connection of the
//! process. Each connection filters what it is shown; a connection that
//! falls a whole broadcast buffer behind is told to resync.
//!
//! Connections that resume after an event replay the backlog through the
//! same classification, in the feed's delivery order (see
//! `infrastructure::feed::live`), so the replay and the live feed meet with
//! nothing missed and nothing twice.

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use cqrs_es::Aggregate;
use lru::LruCache;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use application::error::StoreError;
use application::feed::{Delivery, StoredEvent};
use application::realtime::{ThreadChange, ThreadChanges};
use domain::Role;
use infrastructure::feed::live::{Cursor, LiveFeed, StoreBacklog};

use super::message::ChangeMessage;

/// The aggregate types whose events can touch a thread; the feed drops the
/// others by their subject, undecoded.
pub const THREAD_TYPES: [&str; 7] = [
    <domain::inbound_email::InboundEmail as Aggregate>::TYPE,
    <domain::outbound_email::OutboundEmail as Aggregate>::TYPE,
    <domain::inbound_message::InboundMessage as Aggregate>::TYPE,
    <domain::outbound_message::OutboundMessage as Aggregate>::TYPE,
    <domain::call::Call as Aggregate>::TYPE,
    <domain::thread::Thread as Aggregate>::TYPE,
    <domain::customer::Customer as Aggregate>::TYPE,
];

/// Threads whose assignee the hub remembers.
const ASSIGNEES: usize = 100_000;
/// Events read from the feed at once.
const FEED_BATCH: usize = 500;

/// One change as broadcast: where it sits in the feed, who the thread is
/// assigned to after it, and its message, serialised once and shared by
/// every connection's frames (cloning `json` counts a reference).
#[derive(Debug)]
pub struct Pushed {
    pub cursor: Cursor,
    pub change: ThreadChange,
    pub assignee: Option<Uuid>,
    pub kind: String,
    pub json: Utf8Bytes,
}

impl Pushed {
    pub fn new(cursor: Cursor, change: ThreadChange, assignee: Option<Uuid>) -> Self {
        let message = ChangeMessage::of(&change);
        let json = Utf8Bytes::from(serde_json::to_string(&message).unwrap_or_default());
        Self {
            cursor,
            kind: message.kind,
            change,
            assignee,
            json,
        }
    }
}

/// Who a connection shows changes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub organisation_id: Uuid,
    pub role: Role,
    /// The user the connection acts for (an API key's creator).
    pub user_id: Option<Uuid>,
}

impl Viewer {
    /// Only the viewer's organisation; admins and managers see every
    /// thread, agents the threads assigned to them or to nobody, and an
    /// assignment is also shown to whoever could see the thread before it.
    pub fn sees(&self, pushed: &Pushed) -> bool {
        if pushed.change.organisation_id != self.organisation_id {
            return false;
        }
        match self.role {
            Role::Admin | Role::Manager => true,
            Role::Agent => {
                let before = pushed.change.previous_assignee;
                self.may_see(pushed.assignee) || before.is_some_and(|before| self.may_see(before))
            }
            Role::Auditor => false,
        }
    }

    /// Whether a role may listen at all: auditors read the audit history
    /// and nothing else.
    pub fn may_listen(role: Role) -> bool {
        role.can_read_directory()
    }

    fn may_see(&self, assignee: Option<Uuid>) -> bool {
        assignee.is_none() || (assignee.is_some() && assignee == self.user_id)
    }
}

/// The store, read in the feed's delivery order.
#[async_trait]
pub trait Backlog: Send + Sync {
    /// The newest event every process's feed has been or will be handed.
    async fn horizon(&self) -> Result<Cursor, StoreError>;
    /// The cursors of the events at these positions (those that exist).
    async fn cursors_of(&self, positions: &[i64]) -> Result<HashMap<i64, Cursor>, StoreError>;
    /// Up to `limit` of the organisation's thread events after `from`.
    async fn after(
        &self,
        organisation_id: Uuid,
        from: Cursor,
        limit: usize,
    ) -> Result<Vec<(Cursor, StoredEvent)>, StoreError>;
}

#[async_trait]
impl Backlog for StoreBacklog {
    async fn horizon(&self) -> Result<Cursor, StoreError> {
        Ok(StoreBacklog::horizon(self).await?)
    }

    async fn cursors_of(&self, positions: &[i64]) -> Result<HashMap<i64, Cursor>, StoreError> {
        Ok(StoreBacklog::cursors_of(self, positions).await?)
    }

    async fn after(
        &self,
        organisation_id: Uuid,
        from: Cursor,
        limit: usize,
    ) -> Result<Vec<(Cursor, StoredEvent)>, StoreError> {
        let organisation_id = organisation_id.to_string();
        Ok(StoreBacklog::after(self, &organisation_id, &THREAD_TYPES, from, limit).await?)
    }
}

/// Where a connection starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// After this cursor.
    After(Cursor),
    /// The event the client names does not exist (any more).
    Unknown,
}

/// One page of a replay: the changes the viewer may see, and the cursor
/// of the last event scanned.
#[derive(Debug)]
pub struct Page {
    pub visible: Vec<Arc<Pushed>>,
    pub scanned: usize,
    pub last: Cursor,
}

pub struct Hub {
    changes: Arc<dyn ThreadChanges>,
    backlog: Arc<dyn Backlog>,
    sender: broadcast::Sender<Arc<Pushed>>,
    assignees: Mutex<LruCache<(Uuid, Uuid), Option<Uuid>>>,
    closing: CancellationToken,
    /// Whether the feed has been opened once: before that, a connection
    /// could miss what is committed between its start and the opening.
    opened: watch::Sender<bool>,
}

impl Hub {
    /// A hub whose broadcast buffer keeps `capacity` changes: a connection
    /// that falls further behind is told to resync.
    pub fn with_capacity(changes: Arc<dyn ThreadChanges>, backlog: Arc<dyn Backlog>, capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        let remembered = NonZeroUsize::new(ASSIGNEES).unwrap_or(NonZeroUsize::MIN);
        Self {
            changes,
            backlog,
            sender,
            assignees: Mutex::new(LruCache::new(remembered)),
            closing: CancellationToken::new(),
            opened: watch::Sender::new(false),
        }
    }

    /// Reads `feed` until `stop`, broadcasting each change. An error goes
    /// to the supervisor, which opens the feed again after the last event
    /// broadcast.
    pub async fn run(&self, feed: &LiveFeed, stop: CancellationToken) -> Result<(), String> {
        let mut source = feed.open().await.map_err(|e| e.to_string())?;
        self.opened.send_replace(true);
        loop {
            let batch = tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                batch = source.next_batch(FEED_BATCH) => batch.map_err(|e| e.to_string())?,
            };
            self.publish(batch).await.map_err(|e| e.to_string())?;
        }
    }

    /// Broadcasts the changes `deliveries` made, in order, then confirms them.
    pub async fn publish(&self, deliveries: Vec<Delivery>) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let mut changes = Vec::new();
        for delivery in &deliveries {
            if let Some(change) = self.changes.change_of(&delivery.event).await {
                changes.push(change);
            }
        }
        if !changes.is_empty() {
            let positions: Vec<i64> = changes.iter().map(|c| c.position).collect();
            let cursors = self.backlog.cursors_of(&positions).await?;
            self.learn_audiences(&changes).await;
            for change in changes {
                let Some(cursor) = cursors.get(&change.position).copied() else {
                    tracing::warn!(
                        position = change.position,
                        "a change of an event not in the store; not pushed"
                    );
                    continue;
                };
                let assignee = self.assignee_after(&change);
                metrics::counter!("switchboard_realtime_changes_total").increment(1);
                let behind = (chrono::Utc::now() - change.occurred_at)
                    .num_microseconds()
                    .unwrap_or(0);
                metrics::histogram!("switchboard_realtime_broadcast_lag_seconds").record(behind.max(0) as f64 / 1e6);
                let _ = self.sender.send(Arc::new(Pushed::new(cursor, change, assignee)));
            }
        }
        for delivery in deliveries {
            delivery.ack.ack().await?;
        }
        metrics::histogram!("switchboard_realtime_publish_seconds").record(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Sends a change to every connection as if the feed had delivered
    /// it; for tests and benchmarks of the transport.
    pub fn broadcast(&self, pushed: Pushed) {
        let _ = self.sender.send(Arc::new(pushed));
    }

    /// A receiver of every change broadcast from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Pushed>> {
        self.sender.subscribe()
    }

    /// Connections now open on this hub.
    pub fn receivers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Waits up to `limit` for the feed's first opening; whether it came.
    pub async fn opened(&self, limit: std::time::Duration) -> bool {
        let mut opened = self.opened.subscribe();
        matches!(tokio::time::timeout(limit, opened.wait_for(|o| *o)).await, Ok(Ok(_)))
    }

    /// Marks the feed opened without reading one (tests of the hub alone).
    pub fn assume_opened(&self) {
        self.opened.send_replace(true);
    }

    /// Ends every connection (the process is stopping).
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// Cancelled once the process is stopping.
    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    /// Where a connection starts: after the event the client names, or at
    /// the horizon (0 is before every event).
    pub async fn start(&self, last_event_id: Option<i64>) -> Result<Start, StoreError> {
        match last_event_id {
            None => Ok(Start::After(self.backlog.horizon().await?)),
            Some(0) => Ok(Start::After(Cursor::START)),
            Some(position) => Ok(match self.backlog.cursors_of(&[position]).await?.get(&position) {
                Some(cursor) => Start::After(*cursor),
                None => Start::Unknown,
            }),
        }
    }

    /// The changes the viewer may see among the next `limit` of its
    /// organisation's thread events after `from`.
    pub async fn replay(&self, viewer: &Viewer, from: Cursor, limit: usize) -> Result<Page, StoreError> {
        let events = self.backlog.after(viewer.organisation_id, from, limit).await?;
        let scanned = events.len();
        let last = events.last().map_or(from, |(cursor, _)| *cursor);
        let mut changes = Vec::new();
        for (cursor, event) in events {
            if let Some(change) = self.changes.change_of(&event).await {
                changes.push((cursor, change));
            }
        }
        let now = self.assignees_now(changes.iter().map(|(_, change)| change)).await;
        let mut visible = Vec::new();
        for (cursor, change) in changes {
            let assignee = match assigned_to(&change) {
                Some(assignee) => assignee,
                None => now.get(&(change.organisation_id, change.thread_id)).copied().flatten(),
            };
            let pushed = Pushed::new(cursor, change, assignee);
            if viewer.sees(&pushed) {
                visible.push(Arc::new(pushed));
            }
        }
        Ok(Page { visible, scanned, last })
    }

    /// Remembers who the batch's threads are assigned to before it, in one
    /// look-up for those the hub does not remember and whose first change
    /// in the batch is not an assignment.
    async fn learn_audiences(&self, changes: &[ThreadChange]) {
        let mut first_seen = std::collections::HashSet::new();
        let mut wanted = Vec::new();
        {
            let remembered = self.remember();
            for change in changes {
                let key = (change.organisation_id, change.thread_id);
                if first_seen.insert(key) && assigned_to(change).is_none() && !remembered.contains(&key) {
                    wanted.push(key);
                }
            }
        }
        if wanted.is_empty() {
            return;
        }
        let found = self.changes.audiences(&wanted).await;
        let mut remembered = self.remember();
        for (key, audience) in found {
            remembered.put(key, audience.assignee);
        }
    }

    /// Who the thread is assigned to once `change` is applied; the cache
    /// follows assignments in feed order (only the hub's feed writes it).
    /// A thread the hub does not know is taken as unassigned (a new thread
    /// is), and looked up again with the next batch.
    fn assignee_after(&self, change: &ThreadChange) -> Option<Uuid> {
        let key = (change.organisation_id, change.thread_id);
        if let Some(assignee) = assigned_to(change) {
            self.remember().put(key, assignee);
            return assignee;
        }
        self.remember().get(&key).copied().flatten()
    }

    /// Who the changes' threads are assigned to now, as far as the hub
    /// knows, in one look-up for those it does not remember; an unknown
    /// thread is taken as unassigned (a new thread is).
    async fn assignees_now<'a>(
        &self,
        changes: impl Iterator<Item = &'a ThreadChange>,
    ) -> HashMap<(Uuid, Uuid), Option<Uuid>> {
        let mut now = HashMap::new();
        let mut wanted = Vec::new();
        {
            let mut remembered = self.remember();
            for change in changes {
                let key = (change.organisation_id, change.thread_id);
                if now.contains_key(&key) || wanted.contains(&key) {
                    continue;
                }
                match remembered.get(&key) {
                    Some(assignee) => {
                        now.insert(key, *assignee);
                    }
                    None => wanted.push(key),
                }
            }
        }
        if !wanted.is_empty() {
            for (key, audience) in self.changes.audiences(&wanted).await {
                now.insert(key, audience.assignee);
            }
        }
        now
    }

    fn remember(&self) -> std::sync::MutexGuard<'_, LruCache<(Uuid, Uuid), Option<Uuid>>> {
        self.assignees.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The assignee an `assigned` change names (`data.assignee_id`, a user id
/// or null); `None` for other changes, or one that names none readable.
fn assigned_to(change: &ThreadChange) -> Option<Option<Uuid>> {
    if change.kind != "assigned" {
        return None;
    }
    match change.data.get("assignee_id")? {
        serde_json::Value::Null => Some(None),
        serde_json::Value::String(id) => Uuid::parse_str(id).ok().map(Some),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use application::realtime::ThreadAudience;
    use chrono::Utc;
    use serde_json::json;

    /// Events whose payload says their thread and kind:
    /// `{"thread": id, "kind": "message", "data": {...}, "previous": …}`.
    pub struct FakeChanges {
        pub audiences: Mutex<HashMap<Uuid, Option<Uuid>>>,
        /// How many times audiences were looked up.
        pub look_ups: Mutex<usize>,
    }

    impl FakeChanges {
        pub fn new() -> Self {
            Self {
                audiences: Mutex::new(HashMap::new()),
                look_ups: Mutex::new(0),
            }
        }
    }

    #[async_trait]
    impl ThreadChanges for FakeChanges {
        async fn change_of(&self, event: &StoredEvent) -> Option<ThreadChange> {
            let thread_id = Uuid::parse_str(event.payload.get("thread")?.as_str()?).ok()?;
            let kind = match event.payload.get("kind").and_then(|k| k.as_str()).unwrap_or("message") {
                "assigned" => "assigned",
                _ => "message",
            };
            let previous = event
                .payload
                .get("previous")
                .map(|p| p.as_str().and_then(|s| Uuid::parse_str(s).ok()));
            Some(ThreadChange {
                position: event.position,
                organisation_id: event.organisation_id()?,
                thread_id,
                kind,
                occurred_at: Utc::now(),
                data: event.payload.get("data").cloned().unwrap_or(json!({})),
                previous_assignee: previous,
            })
        }

        async fn audiences(&self, threads: &[(Uuid, Uuid)]) -> HashMap<(Uuid, Uuid), ThreadAudience> {
            *self.look_ups.lock().unwrap() += 1;
            let audiences = self.audiences.lock().unwrap();
            threads
                .iter()
                .filter_map(|key| {
                    let assignee = audiences.get(&key.1)?;
                    Some((*key, ThreadAudience { assignee: *assignee }))
                })
                .collect()
        }
    }

    /// A store in memory: each event with its cursor, in delivery order.
    pub struct FakeBacklog {
        pub events: Mutex<Vec<(Cursor, StoredEvent)>>,
    }

    #[async_trait]
    impl Backlog for FakeBacklog {
        async fn horizon(&self) -> Result<Cursor, StoreError> {
            Ok(self.events.lock().unwrap().last().map_or(Cursor::START, |(c, _)| *c))
        }

        async fn cursors_of(&self, positions: &[i64]) -> Result<HashMap<i64, Cursor>, StoreError> {
            let events = self.events.lock().unwrap();
            Ok(events
                .iter()
                .filter(|(c, _)| positions.contains(&c.position))
                .map(|(c, _)| (c.position, *c))
                .collect())
        }

        async fn after(
            &self,
            organisation_id: Uuid,
            from: Cursor,
            limit: usize,
        ) -> Result<Vec<(Cursor, StoredEvent)>, StoreError> {
            let events = self.events.lock().unwrap();
            Ok(events
                .iter()
                .filter(|(c, e)| *c > from && e.organisation_id() == Some(organisation_id))
                .take(limit)
                .cloned()
                .collect())
        }
    }

    pub fn event(position: i64, organisation_id: Uuid, payload: serde_json::Value) -> StoredEvent {
        StoredEvent {
            position,
            aggregate_type: "inbound_message".into(),
            aggregate_id: Uuid::new_v4().to_string(),
            sequence: 1,
            event_type: "InboundMessageReceived".into(),
            event_version: "1.0".into(),
            payload,
            metadata: [("organisation_id".to_string(), organisation_id.to_string())].into(),
        }
    }

    pub struct Fixture {
        pub hub: Hub,
        pub changes: Arc<FakeChanges>,
        pub backlog: Arc<FakeBacklog>,
    }

    pub fn fixture(capacity: usize) -> Fixture {
        let changes = Arc::new(FakeChanges::new());
        let backlog = Arc::new(FakeBacklog {
            events: Mutex::new(Vec::new()),
        });
        let hub = Hub::with_capacity(changes.clone(), backlog.clone(), capacity);
        Fixture { hub, changes, backlog }
    }

    impl Fixture {
        /// Stores an event at `cursor` and hands it to the hub as the feed would.
        pub async fn commit(&self, cursor: Cursor, event: StoredEvent) {
            self.backlog.events.lock().unwrap().push((cursor, event.clone()));
            self.backlog.events.lock().unwrap().sort_by_key(|(c, _)| *c);
            self.deliver(event).await;
        }

        pub async fn deliver(&self, event: StoredEvent) {
            let delivery = Delivery {
                event,
                ack: Box::new(infrastructure::feed::CheckpointedAck),
            };
            self.hub.publish(vec![delivery]).await.unwrap();
        }
    }

    fn at(position: i64) -> Cursor {
        Cursor { tx: 0, position }
    }

    #[tokio::test]
    async fn an_event_that_touches_a_thread_is_broadcast_once_with_its_cursor_and_message() {
        let f = fixture(16);
        let (org, thread) = (Uuid::new_v4(), Uuid::new_v4());
        let mut rx = f.hub.subscribe();
        f.commit(
            at(7),
            event(7, org, json!({"thread": thread, "data": {"channel": "sms"}})),
        )
        .await;
        f.commit(at(8), event(8, org, json!({"unrelated": true}))).await;
        let pushed = rx.try_recv().unwrap();
        assert_eq!(pushed.cursor, at(7));
        let message: serde_json::Value = serde_json::from_str(pushed.json.as_str()).unwrap();
        assert_eq!(message["id"], "7");
        assert_eq!(message["type"], "thread.message");
        assert_eq!(message["thread_id"], thread.to_string());
        assert_eq!(message["data"]["channel"], "sms");
        assert!(rx.try_recv().is_err(), "the unrelated event is not broadcast");
    }

    #[tokio::test]
    async fn an_agent_sees_unassigned_threads_and_their_own_but_not_a_colleagues() {
        let f = fixture(16);
        let org = Uuid::new_v4();
        let (me, colleague) = (Uuid::new_v4(), Uuid::new_v4());
        let (free, mine, theirs) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        {
            let mut audiences = f.changes.audiences.lock().unwrap();
            audiences.insert(mine, Some(me));
            audiences.insert(theirs, Some(colleague));
        }
        let agent = Viewer {
            organisation_id: org,
            role: Role::Agent,
            user_id: Some(me),
        };
        let manager = Viewer {
            role: Role::Manager,
            user_id: None,
            ..agent
        };
        let mut rx = f.hub.subscribe();
        for (i, thread) in [free, mine, theirs].into_iter().enumerate() {
            f.commit(at(i as i64 + 1), event(i as i64 + 1, org, json!({"thread": thread})))
                .await;
        }
        let pushed: Vec<_> = (0..3).map(|_| rx.try_recv().unwrap()).collect();
        let seen: Vec<Uuid> = pushed
            .iter()
            .filter(|p| agent.sees(p))
            .map(|p| p.change.thread_id)
            .collect();
        assert_eq!(seen, vec![free, mine]);
        assert!(pushed.iter().all(|p| manager.sees(p)), "a manager sees every thread");
    }

    #[tokio::test]
    async fn another_organisations_change_is_seen_by_nobody_not_even_its_admin_role() {
        let f = fixture(16);
        let (org, other) = (Uuid::new_v4(), Uuid::new_v4());
        let mut rx = f.hub.subscribe();
        f.commit(at(1), event(1, other, json!({"thread": Uuid::new_v4()})))
            .await;
        let pushed = rx.try_recv().unwrap();
        for role in [Role::Admin, Role::Manager, Role::Agent, Role::Auditor] {
            let viewer = Viewer {
                organisation_id: org,
                role,
                user_id: None,
            };
            assert!(!viewer.sees(&pushed), "{role:?}");
        }
    }

    #[tokio::test]
    async fn an_assignment_is_remembered_and_shown_to_whoever_it_was_taken_from() {
        let f = fixture(16);
        let org = Uuid::new_v4();
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let thread = Uuid::new_v4();
        f.changes.audiences.lock().unwrap().insert(thread, Some(alice));
        let viewer = |user| Viewer {
            organisation_id: org,
            role: Role::Agent,
            user_id: Some(user),
        };
        let mut rx = f.hub.subscribe();
        f.commit(at(1), event(1, org, json!({"thread": thread}))).await;
        let assign = json!({"thread": thread, "kind": "assigned", "data": {"assignee_id": bob}, "previous": alice});
        f.commit(at(2), event(2, org, assign)).await;
        f.commit(at(3), event(3, org, json!({"thread": thread}))).await;
        let before = rx.try_recv().unwrap();
        let assigned = rx.try_recv().unwrap();
        let after = rx.try_recv().unwrap();
        assert!(viewer(alice).sees(&before) && !viewer(bob).sees(&before));
        assert!(viewer(alice).sees(&assigned), "the change that takes it from her");
        assert!(viewer(bob).sees(&assigned));
        assert!(
            !viewer(alice).sees(&after),
            "the read model still says alice; the hub knows better"
        );
        assert!(viewer(bob).sees(&after));
    }

    #[tokio::test]
    async fn a_batch_looks_up_the_assignees_of_the_threads_it_does_not_remember_once() {
        let f = fixture(64);
        let org = Uuid::new_v4();
        let (alice, known, unknown) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        f.changes.audiences.lock().unwrap().insert(known, Some(alice));
        let mut rx = f.hub.subscribe();
        let batch = |from: i64| {
            let events: Vec<StoredEvent> = [known, unknown, known, unknown]
                .iter()
                .enumerate()
                .map(|(i, thread)| event(from + i as i64, org, json!({"thread": thread})))
                .collect();
            for e in &events {
                f.backlog.events.lock().unwrap().push((at(e.position), e.clone()));
            }
            events
                .into_iter()
                .map(|event| Delivery {
                    event,
                    ack: Box::new(infrastructure::feed::CheckpointedAck),
                })
                .collect::<Vec<_>>()
        };
        f.hub.publish(batch(1)).await.unwrap();
        assert_eq!(*f.changes.look_ups.lock().unwrap(), 1, "one look-up for the batch");
        let assignees: Vec<Option<Uuid>> = (0..4).map(|_| rx.try_recv().unwrap().assignee).collect();
        assert_eq!(assignees, vec![Some(alice), None, Some(alice), None]);
        f.hub.publish(batch(5)).await.unwrap();
        assert_eq!(
            *f.changes.look_ups.lock().unwrap(),
            2,
            "the thread the view did not have is looked up again"
        );
        f.changes.audiences.lock().unwrap().remove(&unknown);
        f.changes.audiences.lock().unwrap().insert(unknown, Some(alice));
        f.hub.publish(batch(9)).await.unwrap();
        let assignees: Vec<Option<Uuid>> = (0..8).map(|_| rx.try_recv().unwrap().assignee).collect();
        assert_eq!(assignees[4..], [Some(alice); 4], "and found once the view has it");
        f.hub.publish(batch(13)).await.unwrap();
        assert_eq!(*f.changes.look_ups.lock().unwrap(), 3, "both remembered now");
    }

    #[tokio::test]
    async fn a_replay_after_a_cursor_returns_the_visible_changes_after_it_in_order() {
        let f = fixture(16);
        let org = Uuid::new_v4();
        // Delivery order is (tx, position): position 5 committed after 6.
        let order = [
            (at(4), 4),
            (Cursor { tx: 1, position: 6 }, 6),
            (Cursor { tx: 2, position: 5 }, 5),
        ];
        for (cursor, position) in order {
            f.commit(cursor, event(position, org, json!({"thread": Uuid::new_v4()})))
                .await;
        }
        let viewer = Viewer {
            organisation_id: org,
            role: Role::Admin,
            user_id: None,
        };
        let Start::After(from) = f.hub.start(Some(6)).await.unwrap() else {
            panic!("position 6 exists");
        };
        let page = f.hub.replay(&viewer, from, 10).await.unwrap();
        let positions: Vec<i64> = page.visible.iter().map(|p| p.change.position).collect();
        assert_eq!(positions, vec![5], "5 was committed after 6, so it comes after it");
        assert_eq!(page.last, Cursor { tx: 2, position: 5 });
        assert_eq!(f.hub.start(Some(99)).await.unwrap(), Start::Unknown);
        assert_eq!(f.hub.start(Some(0)).await.unwrap(), Start::After(Cursor::START));
    }
}
