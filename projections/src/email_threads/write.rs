//! Writing a batch of thread messages in three statements whatever its
//! size: the timeline rows (new ones returned), the threads they open or
//! extend (an upsert adding counts), and the Message-ID index. Idempotent:
//! a message already in the timeline changes nothing.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::{AnyConnection, Row};
use std::collections::{HashMap, HashSet};

use domain::email_thread::subject_key;

use super::ThreadMessage;
use crate::ProjectionError;

/// Rows per statement: far below SQLite's and PostgreSQL's parameter
/// limits, and at most ~50 MB of bodies however large the events.
pub(super) const ROWS_PER_STATEMENT: usize = 100;

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

/// `($1, …, $n), ($n+1, …)`: `rows` groups of `width` placeholders.
fn placeholders(rows: usize, width: usize) -> String {
    let row = |r: usize| {
        let cells: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
        format!("({})", cells.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// Records a batch (at most [`ROWS_PER_STATEMENT`] messages), in order.
pub(super) async fn record(conn: &mut AnyConnection, messages: &[ThreadMessage]) -> Result<(), ProjectionError> {
    if messages.is_empty() {
        return Ok(());
    }
    let new = insert_messages(conn, messages).await?;
    let added: Vec<&ThreadMessage> = messages
        .iter()
        .filter(|m| new.contains(&m.email_id.to_string()))
        .collect();
    upsert_threads(conn, &added).await?;
    index(conn, messages).await
}

/// The email ids that were new to the timeline.
async fn insert_messages(
    conn: &mut AnyConnection,
    messages: &[ThreadMessage],
) -> Result<HashSet<String>, ProjectionError> {
    let sql = format!(
        "INSERT INTO email_thread_messages (email_id, thread_id, organisation_id, direction, account_id, message_id, \
         from_address, from_name, to_addresses, cc_addresses, subject, body_text, body_html, attachments, \
         message_at, received_at, mailbox_uid) VALUES {} ON CONFLICT (email_id) DO NOTHING RETURNING email_id",
        placeholders(messages.len(), 17)
    );
    let mut query = sqlx::query(&sql);
    for m in messages {
        query = query
            .bind(m.email_id.to_string())
            .bind(m.thread_id.to_string())
            .bind(m.organisation_id.to_string())
            .bind(m.direction)
            .bind(m.account_id.map(|a| a.to_string()))
            .bind(m.message_id.clone())
            .bind(m.from.as_ref().map(|f| f.address.clone()))
            .bind(m.from.as_ref().and_then(|f| f.name.clone()))
            .bind(json(&m.to))
            .bind(json(&m.cc))
            .bind(m.subject.clone())
            .bind(m.body_text.clone())
            .bind(m.body_html.clone())
            .bind(m.attachments.to_string())
            .bind(time(m.message_at))
            .bind(time(m.received_at))
            .bind(m.mailbox_uid.map(i64::from));
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(ProjectionError::from))
        .collect()
}

/// A thread as this batch sees it: opened by its first new message.
struct ThreadChange<'a> {
    first: &'a ThreadMessage,
    added: i64,
    latest: DateTime<Utc>,
}

async fn upsert_threads(conn: &mut AnyConnection, added: &[&ThreadMessage]) -> Result<(), ProjectionError> {
    let mut order = Vec::new();
    let mut changes: HashMap<uuid::Uuid, ThreadChange<'_>> = HashMap::new();
    for m in added {
        let change = changes.entry(m.thread_id).or_insert_with(|| {
            order.push(m.thread_id);
            ThreadChange {
                first: m,
                added: 0,
                latest: m.message_at,
            }
        });
        change.added += 1;
        change.latest = change.latest.max(m.message_at);
    }
    if order.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO email_threads (thread_id, organisation_id, customer_id, customer_email, subject, subject_key, \
         message_count, last_message_at, created_at) VALUES {} ON CONFLICT (thread_id) DO UPDATE SET \
         message_count = email_threads.message_count + excluded.message_count, \
         last_message_at = CASE WHEN email_threads.last_message_at < excluded.last_message_at \
           THEN excluded.last_message_at ELSE email_threads.last_message_at END",
        placeholders(order.len(), 9)
    );
    let mut query = sqlx::query(&sql);
    for thread_id in &order {
        let Some(change) = changes.get(thread_id) else { continue };
        let first = change.first;
        let customer_email = first
            .from
            .as_ref()
            .filter(|_| first.direction == "inbound" && first.customer_id.is_some());
        query = query
            .bind(thread_id.to_string())
            .bind(first.organisation_id.to_string())
            .bind(first.customer_id.map(|c| c.to_string()))
            .bind(customer_email.map(|a| a.address.clone()))
            .bind(first.subject.clone())
            .bind(first.subject.as_deref().map(subject_key).unwrap_or_default())
            .bind(change.added)
            .bind(time(change.latest))
            .bind(time(first.message_at));
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Message-IDs to their threads; the first thread recorded for an id stays.
async fn index(conn: &mut AnyConnection, messages: &[ThreadMessage]) -> Result<(), ProjectionError> {
    let ids: Vec<(&ThreadMessage, &String)> = messages
        .iter()
        .filter_map(|m| m.message_id.as_ref().map(|id| (m, id)))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO email_message_threads (organisation_id, message_id, thread_id) VALUES {} \
         ON CONFLICT (organisation_id, message_id) DO NOTHING",
        placeholders(ids.len(), 3)
    );
    let mut query = sqlx::query(&sql);
    for (m, id) in ids {
        query = query
            .bind(m.organisation_id.to_string())
            .bind(id.clone())
            .bind(m.thread_id.to_string());
    }
    query.execute(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_in_order() {
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
