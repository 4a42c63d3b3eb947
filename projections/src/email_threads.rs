//! E-mail threads and their timelines, and the Message-ID → thread index
//! replies are threaded by. Every message, whichever way it went, becomes a
//! [`ThreadMessage`]: received e-mail now; sent e-mail is one more arm in
//! [`message_of`] (`("outbound_email", "EmailSendRequested")`).

mod read;

use application::feed::StoredEvent;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::AnyConnection;
use uuid::Uuid;

use domain::email_thread::subject_key;
use domain::inbound_email::{InboundEmailEvent, MailAddress, ReceivedEmail};

use crate::{ProjectionError, Projector, decode};

pub use read::{MessageRow, SqlThreadIndex, ThreadRow, get, list, messages};

pub struct EmailThreadsView;

/// One message of a thread, as the view records it.
#[derive(Debug, Clone)]
pub struct ThreadMessage {
    pub email_id: Uuid,
    pub thread_id: Uuid,
    pub organisation_id: Uuid,
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    pub account_id: Option<Uuid>,
    pub message_id: Option<String>,
    pub customer_id: Option<Uuid>,
    pub from: Option<MailAddress>,
    pub to: Vec<MailAddress>,
    pub cc: Vec<MailAddress>,
    pub subject: Option<String>,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub attachments: Value,
    pub message_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

/// The thread message an event records, if it records one.
fn message_of(event: &StoredEvent) -> Result<Option<ThreadMessage>, ProjectionError> {
    Ok(match (event.aggregate_type.as_str(), event.event_type.as_str()) {
        ("inbound_email", "EmailReceived") => match decode::<InboundEmailEvent>(event)? {
            InboundEmailEvent::EmailReceived(email) => Some(inbound(*email)),
            InboundEmailEvent::EmailRejected(_) => None,
        },
        _ => None,
    })
}

fn inbound(email: ReceivedEmail) -> ThreadMessage {
    let message_at = email.date.map_or(email.received_at, |d| d.min(email.received_at));
    ThreadMessage {
        email_id: email.email_id,
        thread_id: email.thread_id,
        organisation_id: email.organisation_id,
        direction: "inbound",
        account_id: Some(email.account_id),
        message_id: email.message_id,
        customer_id: email.customer_id,
        from: email.from,
        to: email.to,
        cc: email.cc,
        subject: email.subject,
        body_text: email.bodies.text,
        body_html: email.bodies.html,
        attachments: serde_json::to_value(&email.attachments).unwrap_or(Value::Null),
        message_at,
        received_at: email.received_at,
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

#[async_trait]
impl Projector for EmailThreadsView {
    fn name(&self) -> &'static str {
        "email_threads"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["inbound_email", "outbound_email"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        match message_of(event)? {
            Some(message) => record(conn, &message).await,
            None => Ok(()),
        }
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        for table in ["email_message_threads", "email_thread_messages", "email_threads"] {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// Adds the message to its thread (creating the thread), once.
async fn record(conn: &mut AnyConnection, message: &ThreadMessage) -> Result<(), ProjectionError> {
    open_thread(conn, message).await?;
    if insert_message(conn, message).await? {
        sqlx::query(
            "UPDATE email_threads SET message_count = message_count + 1, \
             last_message_at = CASE WHEN last_message_at < $1 THEN $1 ELSE last_message_at END \
             WHERE thread_id = $2",
        )
        .bind(time(message.message_at))
        .bind(message.thread_id.to_string())
        .execute(&mut *conn)
        .await?;
    }
    if let Some(message_id) = &message.message_id {
        sqlx::query(
            "INSERT INTO email_message_threads (organisation_id, message_id, thread_id) VALUES ($1, $2, $3) \
             ON CONFLICT (organisation_id, message_id) DO NOTHING",
        )
        .bind(message.organisation_id.to_string())
        .bind(message_id)
        .bind(message.thread_id.to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn open_thread(conn: &mut AnyConnection, message: &ThreadMessage) -> Result<(), ProjectionError> {
    let customer_email = message.from.as_ref().filter(|_| message.direction == "inbound");
    sqlx::query(
        "INSERT INTO email_threads (thread_id, organisation_id, customer_id, customer_email, subject, subject_key, \
         message_count, last_message_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) \
         ON CONFLICT (thread_id) DO NOTHING",
    )
    .bind(message.thread_id.to_string())
    .bind(message.organisation_id.to_string())
    .bind(message.customer_id.map(|c| c.to_string()))
    .bind(customer_email.map(|a| a.address.clone()))
    .bind(message.subject.clone())
    .bind(message.subject.as_deref().map(subject_key).unwrap_or_default())
    .bind(time(message.message_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether the message was new to the timeline.
async fn insert_message(conn: &mut AnyConnection, message: &ThreadMessage) -> Result<bool, ProjectionError> {
    let inserted = sqlx::query(
        "INSERT INTO email_thread_messages (email_id, thread_id, organisation_id, direction, account_id, message_id, \
         from_address, from_name, to_addresses, cc_addresses, subject, body_text, body_html, attachments, \
         message_at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (email_id) DO NOTHING",
    )
    .bind(message.email_id.to_string())
    .bind(message.thread_id.to_string())
    .bind(message.organisation_id.to_string())
    .bind(message.direction)
    .bind(message.account_id.map(|a| a.to_string()))
    .bind(message.message_id.clone())
    .bind(message.from.as_ref().map(|f| f.address.clone()))
    .bind(message.from.as_ref().and_then(|f| f.name.clone()))
    .bind(json(&message.to))
    .bind(json(&message.cc))
    .bind(message.subject.clone())
    .bind(message.body_text.clone())
    .bind(message.body_html.clone())
    .bind(message.attachments.to_string())
    .bind(time(message.message_at))
    .bind(time(message.received_at))
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
