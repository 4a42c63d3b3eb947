//! E-mail threads and their timelines, and the Message-ID → thread index
//! replies are threaded by. Every message, whichever way it went, becomes a
//! [`ThreadMessage`]: received e-mail, and sent e-mail from the moment its
//! intent is recorded.

mod read;
mod write;

use application::feed::StoredEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::AnyConnection;
use uuid::Uuid;

use domain::EmailAddress;
use domain::customer::customer_id;
use domain::inbound_email::{InboundEmailEvent, MailAddress, ReceivedEmail};
use domain::outbound_email::{OutboundEmailEvent, SendIntent};

use crate::{ProjectionError, Projector, decode};

pub use read::{MessageRow, SqlThreadIndex, ThreadRow, TimelineAttachment, get, list, messages};

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
    /// The UID it arrived under in its folder (received e-mail only): the
    /// order of arrival among messages of the same time.
    pub mailbox_uid: Option<u32>,
}

/// The thread message an event records, if it records one.
fn message_of(event: &StoredEvent) -> Result<Option<ThreadMessage>, ProjectionError> {
    Ok(match (event.aggregate_type.as_str(), event.event_type.as_str()) {
        ("inbound_email", "EmailReceived") => match decode::<InboundEmailEvent>(event)? {
            InboundEmailEvent::EmailReceived(email) => Some(inbound(*email)),
            InboundEmailEvent::EmailRejected(_) => None,
        },
        ("outbound_email", "EmailSendRequested") => match decode::<OutboundEmailEvent>(event)? {
            OutboundEmailEvent::EmailSendRequested { intent, at } => Some(outbound(*intent, at)),
            _ => None,
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
        mailbox_uid: Some(email.position.uid),
    }
}

/// A sent e-mail joins the thread it replied in, or starts its own (its
/// intent id); its customer is its first recipient. Its Message-ID is kept
/// without angle brackets, as received ones are, so a reply finds it.
fn outbound(intent: SendIntent, at: DateTime<Utc>) -> ThreadMessage {
    let organisation_id = intent.organisation_id;
    let message = intent.message;
    let content = message.content;
    let address = |a: &EmailAddress| MailAddress {
        name: None,
        address: a.to_string(),
    };
    let message_id = message.message_id.trim().trim_start_matches('<').trim_end_matches('>');
    ThreadMessage {
        email_id: intent.intent_id,
        thread_id: content.thread_id.unwrap_or(intent.intent_id),
        organisation_id,
        direction: "outbound",
        account_id: Some(intent.account_id),
        message_id: (!message_id.is_empty()).then(|| message_id.to_string()),
        customer_id: content.to.first().map(|to| customer_id(organisation_id, to)),
        from: Some(MailAddress {
            name: message.from_name,
            address: message.from.to_string(),
        }),
        to: content.to.iter().map(address).collect(),
        cc: content.cc.iter().map(address).collect(),
        subject: Some(content.subject),
        body_text: content.text,
        body_html: content.html,
        attachments: serde_json::to_value(&message.attachments).unwrap_or(Value::Null),
        message_at: at,
        received_at: at,
        mailbox_uid: None,
    }
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
        self.apply_all(conn, &[event]).await
    }

    /// A batch in a few statements (see [`write`]), in order.
    async fn apply_all(&self, conn: &mut AnyConnection, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
        let mut messages = Vec::with_capacity(events.len());
        for event in events {
            messages.extend(message_of(event)?);
        }
        for batch in messages.chunks(write::ROWS_PER_STATEMENT) {
            write::record(conn, batch).await?;
        }
        Ok(())
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        for table in ["email_message_threads", "email_thread_messages", "email_threads"] {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *conn).await?;
        }
        Ok(())
    }
}
