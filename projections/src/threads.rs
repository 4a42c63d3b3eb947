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
        match effect_of(event)? {
            Some(Effect::Item(item)) => record(conn, &item, event.position).await,
            Some(Effect::Status { item_id, status, at }) => {
                sqlx::query("UPDATE thread_items SET status = $1, status_at = $2 WHERE item_id = $3")
                    .bind(status)
                    .bind(stamp(at))
                    .bind(item_id.to_string())
                    .execute(conn)
                    .await?;
                Ok(())
            }
            Some(Effect::Thread(change)) => thread(conn, change).await,
            None => Ok(()),
        }
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        for table in ["thread_reads", "thread_items", "threads_view"] {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// The item, once, and its thread brought up to date (created by its first item).
async fn record(conn: &mut AnyConnection, item: &Item, position: i64) -> Result<(), ProjectionError> {
    let at = stamp(item.at);
    let inserted = sqlx::query(
        "INSERT INTO thread_items (item_id, thread_id, organisation_id, channel, direction, status, preview, \
         counterpart, detail, occurred_at, position, status_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10) ON CONFLICT (item_id) DO NOTHING",
    )
    .bind(item.item_id.to_string())
    .bind(item.thread_id.to_string())
    .bind(item.organisation_id.to_string())
    .bind(item.channel)
    .bind(item.direction)
    .bind(&item.status)
    .bind(&item.preview)
    .bind(&item.counterpart)
    .bind(item.detail.to_string())
    .bind(&at)
    .bind(position)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(());
    }
    let inbound = (item.direction == "inbound").then(|| at.clone());
    sqlx::query(
        "INSERT INTO threads_view (thread_id, organisation_id, customer_id, customer_point, subject, status, channels, \
         item_count, last_item_at, last_direction, last_channel, last_preview, last_inbound_at, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, 1, $7, $8, $9, $10, $11, $7, $7) \
         ON CONFLICT (thread_id) DO UPDATE SET \
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
           updated_at = excluded.updated_at",
    )
    .bind(item.thread_id.to_string())
    .bind(item.organisation_id.to_string())
    .bind(item.customer_id.map(|c| c.to_string()))
    .bind(item.customer_id.and(item.counterpart.clone()))
    .bind(&item.subject)
    .bind(format!(",{},", item.channel))
    .bind(&at)
    .bind(item.direction)
    .bind(item.channel)
    .bind(&item.preview)
    .bind(inbound)
    .execute(conn)
    .await?;
    Ok(())
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
