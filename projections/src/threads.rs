//! Omnichannel threads and their timelines: every e-mail, SMS and WhatsApp
//! message either way and every call, on the thread its event names, with
//! its latest status; and what agents did to each thread (assignment,
//! close, reopen, reads). Events are read through [`effect::effect_of`],
//! the same reading realtime push uses.

mod changes;
pub mod effect;
mod read;

use application::feed::StoredEvent;
use async_trait::async_trait;
use domain::thread::ThreadEvent;
use sqlx::AnyConnection;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

use crate::bulk::{Rows, Value};
use crate::calls::stamp;
use crate::{ProjectionError, Projector};
use effect::{Effect, Item, effect_of};

pub use changes::SqlThreadChanges;
pub use read::{
    AssigneeFilter, ItemCursor, ItemRow, SqlThreadDirectory, StatusCounts, ThreadCursor, ThreadFilter, ThreadRow,
    audiences, counts, get, items, list, read_through, reads_through, thread_of_item,
};

pub struct ThreadsView;

#[async_trait]
impl Projector for ThreadsView {
    fn name(&self) -> &'static str {
        "threads"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        effect::TYPES
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        self.apply_all(conn, &[event]).await
    }

    /// Items and later statuses gathered over the batch and written in a
    /// few multi-row statements; what an agent did to a thread writes them
    /// first, so it finds the thread as the events before it left it.
    async fn apply_all(&self, conn: &mut AnyConnection, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
        let mut pending = Pending::default();
        for event in events {
            match effect_of(event)? {
                Some(Effect::Item(item)) => {
                    if pending.statuses.contains_key(&item.item_id) {
                        pending.write(conn).await?;
                    }
                    pending.item(*item, event.position);
                }
                Some(Effect::Status { item_id, status, at }) => {
                    pending.statuses.insert(item_id, (status, stamp(at)));
                }
                Some(Effect::Thread(change)) => {
                    pending.write(conn).await?;
                    thread(conn, change).await?;
                }
                None => {}
            }
        }
        pending.write(conn).await
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        for table in ["thread_reads", "thread_items", "threads_view"] {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// What a batch records before it is written: new items in the order
/// seen (one per id), and each item's latest status.
#[derive(Default)]
struct Pending {
    items: Vec<(Item, i64)>,
    ids: HashSet<Uuid>,
    statuses: HashMap<Uuid, (String, String)>,
}

impl Pending {
    fn item(&mut self, item: Item, position: i64) {
        if self.ids.insert(item.item_id) {
            self.items.push((item, position));
        }
    }

    /// Each item once, each thread it was the first new item on brought up
    /// to date (created by its first item), then the statuses.
    async fn write(&mut self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        let items = std::mem::take(&mut self.items);
        self.ids.clear();
        let mut rows = Rows::new(
            "INSERT INTO thread_items (item_id, thread_id, organisation_id, channel, direction, status, preview, \
             counterpart, detail, occurred_at, position, status_at)",
            "ON CONFLICT (item_id) DO NOTHING RETURNING item_id",
        );
        for (item, position) in &items {
            let at = stamp(item.at);
            rows.push([
                item.item_id.to_string().into(),
                item.thread_id.to_string().into(),
                item.organisation_id.to_string().into(),
                item.channel.into(),
                item.direction.into(),
                (&item.status).into(),
                item.preview.clone().into(),
                item.counterpart.clone().into(),
                item.detail.to_string().into(),
                (&at).into(),
                (*position).into(),
                at.into(),
            ]);
        }
        let inserted: HashSet<String> = rows.write_returning(conn).await?.into_iter().collect();
        let new = items
            .iter()
            .filter(|(item, _)| inserted.contains(&item.item_id.to_string()));
        for round in rounds(new.map(|(item, _)| item)) {
            let mut threads = Rows::new(THREAD_HEAD, THREAD_TAIL);
            for item in round {
                threads.push(thread_row(item));
            }
            threads.write(conn).await?;
        }
        let mut statuses = Rows::new(
            "UPDATE thread_items SET status = v.column2, status_at = v.column3 FROM (",
            ") AS v WHERE thread_items.item_id = v.column1",
        );
        for (item_id, (status, at)) in self.statuses.drain() {
            statuses.push([item_id.to_string().into(), status.into(), at.into()]);
        }
        statuses.write(conn).await
    }
}

/// The items in rounds that name each thread at most once (a statement
/// cannot update one row twice), each thread's items in their order.
fn rounds<'a>(items: impl Iterator<Item = &'a Item>) -> Vec<Vec<&'a Item>> {
    let mut rounds: Vec<Vec<&Item>> = Vec::new();
    let mut seen: HashMap<Uuid, usize> = HashMap::new();
    for item in items {
        let round = seen.entry(item.thread_id).or_insert(0);
        if *round == rounds.len() {
            rounds.push(Vec::new());
        }
        rounds[*round].push(item);
        *round += 1;
    }
    rounds
}

const THREAD_HEAD: &str = "INSERT INTO threads_view (thread_id, organisation_id, customer_id, customer_point, subject, \
     status, channels, item_count, last_item_at, last_direction, last_channel, last_preview, last_inbound_at, \
     created_at, updated_at)";

/// A new item on a thread: the thread as created by it, or brought up to date.
const THREAD_TAIL: &str = "ON CONFLICT (thread_id) DO UPDATE SET \
       customer_point = CASE WHEN threads_view.customer_id IS NULL THEN excluded.customer_point \
         ELSE threads_view.customer_point END, \
       customer_id = COALESCE(threads_view.customer_id, excluded.customer_id), \
       subject = COALESCE(threads_view.subject, excluded.subject), \
       channels = CASE WHEN threads_view.channels LIKE '%' || excluded.channels || '%' \
         THEN threads_view.channels ELSE threads_view.channels || substr(excluded.channels, 2) END, \
       item_count = threads_view.item_count + 1, \
       last_direction = CASE WHEN excluded.last_item_at >= threads_view.last_item_at \
         THEN excluded.last_direction ELSE threads_view.last_direction END, \
       last_channel = CASE WHEN excluded.last_item_at >= threads_view.last_item_at \
         THEN excluded.last_channel ELSE threads_view.last_channel END, \
       last_preview = CASE WHEN excluded.last_item_at >= threads_view.last_item_at \
         THEN excluded.last_preview ELSE threads_view.last_preview END, \
       last_item_at = CASE WHEN excluded.last_item_at >= threads_view.last_item_at \
         THEN excluded.last_item_at ELSE threads_view.last_item_at END, \
       last_inbound_at = CASE WHEN threads_view.last_inbound_at IS NULL \
         OR excluded.last_inbound_at > threads_view.last_inbound_at \
         THEN COALESCE(excluded.last_inbound_at, threads_view.last_inbound_at) \
         ELSE threads_view.last_inbound_at END, \
       updated_at = excluded.updated_at";

fn thread_row(item: &Item) -> [Value; 15] {
    let at = stamp(item.at);
    let inbound = (item.direction == "inbound").then(|| at.clone());
    [
        item.thread_id.to_string().into(),
        item.organisation_id.to_string().into(),
        item.customer_id.map(|c| c.to_string()).into(),
        item.customer_id.and(item.counterpart.clone()).into(),
        item.subject.clone().into(),
        "open".into(),
        format!(",{},", item.channel).into(),
        1_i64.into(),
        (&at).into(),
        item.direction.into(),
        item.channel.into(),
        item.preview.clone().into(),
        inbound.into(),
        (&at).into(),
        at.into(),
    ]
}

/// What an agent did to a thread: on its row (a thread is listed once it
/// has an item, and is only acted on once listed).
async fn thread(conn: &mut AnyConnection, change: ThreadEvent) -> Result<(), ProjectionError> {
    let (sql, values): (&str, Vec<Option<String>>) = match change {
        ThreadEvent::ThreadAssigned {
            thread_id,
            assignee,
            at,
            ..
        } => (
            "UPDATE threads_view SET assignee_id = $1, updated_at = $2 WHERE thread_id = $3",
            vec![
                assignee.map(|a| a.to_string()),
                Some(stamp(at)),
                Some(thread_id.to_string()),
            ],
        ),
        ThreadEvent::ThreadClosed { thread_id, at, .. } => (
            "UPDATE threads_view SET status = 'closed', closed_at = $1, updated_at = $1 WHERE thread_id = $2",
            vec![Some(stamp(at)), Some(thread_id.to_string())],
        ),
        ThreadEvent::ThreadReopened { thread_id, at, .. } => (
            "UPDATE threads_view SET status = 'open', closed_at = NULL, updated_at = $1 WHERE thread_id = $2",
            vec![Some(stamp(at)), Some(thread_id.to_string())],
        ),
        ThreadEvent::ThreadRead {
            thread_id,
            user_id,
            through,
            ..
        } => (
            "INSERT INTO thread_reads (thread_id, user_id, read_through) VALUES ($1, $2, $3) \
             ON CONFLICT (thread_id, user_id) DO UPDATE SET read_through = CASE \
               WHEN excluded.read_through > thread_reads.read_through THEN excluded.read_through \
               ELSE thread_reads.read_through END",
            vec![
                Some(thread_id.to_string()),
                Some(user_id.to_string()),
                Some(stamp(through)),
            ],
        ),
    };
    let mut query = sqlx::query(sql);
    for value in values {
        query = query.bind(value);
    }
    query.execute(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(thread: u128, id: u128) -> Item {
        Item {
            item_id: Uuid::from_u128(id),
            thread_id: Uuid::from_u128(thread),
            organisation_id: Uuid::nil(),
            customer_id: None,
            channel: "sms",
            direction: "outbound",
            status: "requested".into(),
            preview: None,
            counterpart: None,
            subject: None,
            detail: serde_json::Value::Null,
            at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn ids(rounds: &[Vec<&Item>]) -> Vec<Vec<u128>> {
        rounds
            .iter()
            .map(|round| round.iter().map(|i| i.item_id.as_u128()).collect())
            .collect()
    }

    #[test]
    fn each_round_names_a_thread_once_and_keeps_each_threads_items_in_order() {
        let items = [
            item(1, 10),
            item(2, 20),
            item(1, 11),
            item(1, 12),
            item(3, 30),
            item(2, 21),
        ];
        let rounds = rounds(items.iter());
        assert_eq!(ids(&rounds), vec![vec![10, 20, 30], vec![11, 21], vec![12]]);
    }

    #[test]
    fn items_on_different_threads_make_one_round() {
        let items = [item(1, 10), item(2, 20), item(3, 30)];
        assert_eq!(ids(&rounds(items.iter())), vec![vec![10, 20, 30]]);
    }
}
