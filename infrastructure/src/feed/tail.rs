//! The embedded feed: projectors tail the SQLite events table in-process.
//! SQLite has one writer, so position order is commit order and a tail by
//! position never skips an event.
//!
//! One [`StoreFeed`] per process reads the table once for all projectors,
//! on the read pool (never the event store's single writing connection),
//! and keeps the newest events in a window each projector's [`StoreTail`]
//! takes its own types from. A projector behind the window (just started,
//! or rebuilt) catches up with its own query, filtered by type in SQL.

use async_trait::async_trait;
use sqlx::{AnyPool, Row};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, watch};

use application::error::StoreError;
use application::feed::{Delivery, EventSource, StoredEvent};

use super::CheckpointedAck;
use super::scan::decode;
use crate::error::InfraError;
use crate::event_store::CommitSignal;

/// Wait between polls when no commit in this process signalled new events
/// (another process, such as the CLI, may have written).
const IDLE_POLL: Duration = Duration::from_millis(250);
/// Events kept in the window.
const WINDOW: usize = 4_096;
/// Events read per query.
const PAGE: i64 = 1_000;

const COLUMNS: &str =
    "global_position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata";

/// The process's one reader of the events table.
#[derive(Clone)]
pub struct StoreFeed {
    shared: Arc<Shared>,
}

struct Shared {
    pool: AnyPool,
    commits: watch::Receiver<u64>,
    window: Mutex<Window>,
}

/// Every committed event with `start < position <= head`, in order.
struct Window {
    opened: bool,
    start: i64,
    head: i64,
    events: VecDeque<StoredEvent>,
    commits_seen: u64,
    read_at: Instant,
    more: bool,
}

impl StoreFeed {
    /// A feed over the SQLite file behind `pool`, woken by `commits`.
    pub fn new(pool: AnyPool, commits: &CommitSignal) -> Self {
        let window = Window {
            opened: false,
            start: 0,
            head: 0,
            events: VecDeque::new(),
            commits_seen: 0,
            read_at: Instant::now(),
            more: false,
        };
        Self {
            shared: Arc::new(Shared {
                pool,
                commits: commits.subscribe(),
                window: Mutex::new(window),
            }),
        }
    }

    /// Up to `max` events of `types` after `position`, and the position
    /// the caller has now seen everything of its types up to.
    async fn after(&self, position: i64, types: &[String], max: usize) -> Result<(Vec<StoredEvent>, i64), InfraError> {
        let mut window = self.shared.window.lock().await;
        self.refresh(&mut window).await?;
        if position >= window.start {
            return Ok(window.take(position, types, max));
        }
        let start = window.start;
        drop(window);
        let events = of_types_after(&self.shared.pool, position, types, max).await?;
        let last = events.last().map_or(position, |e| e.position);
        // Fewer than asked means none of these types up to now, and so up
        // to the window's start, which is older than now.
        let reached = if events.len() < max { last.max(start) } else { last };
        Ok((events, reached))
    }

    /// Reads what was committed since the last read, when a commit in this
    /// process says there is something or the idle poll is due.
    async fn refresh(&self, window: &mut Window) -> Result<(), InfraError> {
        let commits = *self.shared.commits.borrow();
        if !window.opened {
            let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(global_position), 0) FROM events")
                .fetch_one(&self.shared.pool)
                .await?;
            *window = Window {
                opened: true,
                start: head,
                head,
                events: VecDeque::new(),
                commits_seen: commits,
                read_at: Instant::now(),
                more: false,
            };
            return Ok(());
        }
        let due = window.more || commits != window.commits_seen || window.read_at.elapsed() >= IDLE_POLL;
        if !due {
            return Ok(());
        }
        window.commits_seen = commits;
        window.read_at = Instant::now();
        let page = all_after(&self.shared.pool, window.head, PAGE).await?;
        window.more = page.len() as i64 == PAGE;
        window.extend(page);
        Ok(())
    }
}

impl Window {
    fn extend(&mut self, page: Vec<StoredEvent>) {
        if let Some(last) = page.last() {
            self.head = last.position;
        }
        self.events.extend(page);
        while self.events.len() > WINDOW {
            if let Some(dropped) = self.events.pop_front() {
                self.start = dropped.position;
            }
        }
    }

    fn take(&self, position: i64, types: &[String], max: usize) -> (Vec<StoredEvent>, i64) {
        let mut events = Vec::new();
        let newer = self.events.iter().skip_while(|e| e.position <= position);
        for event in newer.filter(|e| types.contains(&e.aggregate_type)) {
            if events.len() == max {
                let reached = events.last().map_or(position, |e: &StoredEvent| e.position);
                return (events, reached);
            }
            events.push(event.clone());
        }
        (events, self.head.max(position))
    }
}

async fn all_after(pool: &AnyPool, position: i64, limit: i64) -> Result<Vec<StoredEvent>, InfraError> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2");
    let rows = sqlx::query(&sql).bind(position).bind(limit).fetch_all(pool).await?;
    rows.iter().map(|r| decode(r.try_get(0)?, r)).collect()
}

async fn of_types_after(
    pool: &AnyPool,
    position: i64,
    types: &[String],
    limit: usize,
) -> Result<Vec<StoredEvent>, InfraError> {
    let list: Vec<String> = (0..types.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE global_position > $1 AND aggregate_type IN ({}) \
         ORDER BY global_position LIMIT ${}",
        list.join(", "),
        types.len() + 2
    );
    let mut query = sqlx::query(&sql).bind(position);
    for t in types {
        query = query.bind(t.as_str());
    }
    let rows = query.bind(limit as i64).fetch_all(pool).await?;
    rows.iter().map(|r| decode(r.try_get(0)?, r)).collect()
}

/// One projector's tail of the shared feed.
pub struct StoreTail {
    feed: StoreFeed,
    position: i64,
    types: Vec<String>,
    commits: watch::Receiver<u64>,
}

impl StoreTail {
    /// A tail starting after `position`, delivering only `types`.
    pub fn new(feed: StoreFeed, position: i64, types: &[&str]) -> Self {
        let commits = feed.shared.commits.clone();
        Self {
            feed,
            position,
            types: types.iter().map(|t| t.to_string()).collect(),
            commits,
        }
    }

    async fn wait_for_commit(&mut self) {
        let _ = tokio::time::timeout(IDLE_POLL, self.commits.changed()).await;
    }
}

#[async_trait]
impl EventSource for StoreTail {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, StoreError> {
        self.commits.borrow_and_update();
        let (events, reached) = self.feed.after(self.position, &self.types, max).await?;
        self.position = reached;
        if events.is_empty() {
            self.wait_for_commit().await;
        }
        Ok(events
            .into_iter()
            .map(|event| Delivery {
                event,
                ack: Box::new(CheckpointedAck),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(position: i64, aggregate_type: &str) -> StoredEvent {
        StoredEvent {
            position,
            aggregate_type: aggregate_type.into(),
            aggregate_id: format!("id-{position}"),
            sequence: 1,
            event_type: "E".into(),
            event_version: "1.0".into(),
            payload: serde_json::Value::Null,
            metadata: Default::default(),
        }
    }

    fn window(events: Vec<StoredEvent>) -> Window {
        let mut window = Window {
            opened: true,
            start: 0,
            head: 0,
            events: VecDeque::new(),
            commits_seen: 0,
            read_at: Instant::now(),
            more: false,
        };
        window.extend(events);
        window
    }

    #[test]
    fn a_tail_takes_only_its_types_and_reaches_the_head_when_none_are_left() {
        let window = window(vec![event(1, "user"), event(2, "api_key"), event(3, "user")]);
        let (events, reached) = window.take(0, &["api_key".to_string()], 10);
        assert_eq!(events.iter().map(|e| e.position).collect::<Vec<_>>(), vec![2]);
        assert_eq!(reached, 3, "positions 1 and 3 hold nothing for it");
    }

    #[test]
    fn a_full_batch_stops_at_its_last_event_so_the_rest_comes_next() {
        let window = window((1..=5).map(|p| event(p, "user")).collect());
        let (events, reached) = window.take(1, &["user".to_string()], 2);
        assert_eq!(events.iter().map(|e| e.position).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(reached, 3);
        let (events, reached) = window.take(reached, &["user".to_string()], 2);
        assert_eq!(events.iter().map(|e| e.position).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(reached, 5);
    }

    #[test]
    fn the_window_forgets_its_oldest_events_and_says_where_it_starts() {
        let window = window((1..=(WINDOW as i64 + 10)).map(|p| event(p, "user")).collect());
        assert_eq!(window.events.len(), WINDOW);
        assert_eq!(window.start, 10);
        assert_eq!(window.events.front().map(|e| e.position), Some(11));
    }
}
