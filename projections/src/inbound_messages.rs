//! Messages customers sent: the list, and when each contact last wrote on
//! each channel (which opens WhatsApp's customer-service window).

use application::error::StoreError;
use application::feed::StoredEvent;
use application::messages::{InboundDirectory, InboundSummary};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::OrganisationId;
use domain::inbound_message::{InboundContent, InboundMessageEvent};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};
use uuid::Uuid;

use crate::calls::{stamp, time, word};
use crate::{ProjectionError, Projector, decode};

pub struct InboundMessagesView;

/// The kind of content and the text it shows.
fn kind_and_text(content: &InboundContent) -> (&'static str, Option<String>) {
    let kind = match content {
        InboundContent::Text { .. } => "text",
        InboundContent::Media { .. } => "media",
        InboundContent::Location { .. } => "location",
        InboundContent::ButtonReply { .. } => "button_reply",
        InboundContent::ListReply { .. } => "list_reply",
        InboundContent::Other { .. } => "other",
    };
    (kind, content.text().map(str::to_string))
}

#[async_trait]
impl Projector for InboundMessagesView {
    fn name(&self) -> &'static str {
        "inbound_messages"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["inbound_message"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        let id = event.aggregate_id.as_str();
        let message = match decode::<InboundMessageEvent>(event)? {
            InboundMessageEvent::InboundMessageReceived { message } => message,
            InboundMessageEvent::InboundMediaKept { file, .. } => {
                sqlx::query(
                    "UPDATE inbound_messages_view SET media_state = 'kept', media_sha256 = $1 WHERE message_id = $2",
                )
                .bind(file.sha256)
                .bind(id)
                .execute(conn)
                .await?;
                return Ok(());
            }
            InboundMessageEvent::InboundMediaUnavailable { .. } => {
                sqlx::query("UPDATE inbound_messages_view SET media_state = 'unavailable' WHERE message_id = $1")
                    .bind(id)
                    .execute(conn)
                    .await?;
                return Ok(());
            }
        };
        let (kind, text) = kind_and_text(&message.content);
        let media_state = matches!(message.content, InboundContent::Media { url: Some(_), .. }).then_some("pending");
        let organisation = message.organisation_id.to_string();
        let channel = word(message.channel);
        let received = stamp(message.received_at);
        sqlx::query("DELETE FROM inbound_messages_view WHERE message_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO inbound_messages_view (message_id, organisation_id, channel, from_number, to_number, \
             profile_name, kind, text_content, provider_sid, context_sid, received_at, media_state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id)
        .bind(organisation.clone())
        .bind(channel.clone())
        .bind(message.from.clone())
        .bind(message.to.clone())
        .bind(message.profile_name.clone())
        .bind(kind)
        .bind(text)
        .bind(message.provider_sid.clone())
        .bind(message.context_sid.clone())
        .bind(received.clone())
        .bind(media_state)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO message_windows (organisation_id, channel, contact, last_inbound_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (organisation_id, channel, contact) DO UPDATE SET last_inbound_at = excluded.last_inbound_at \
             WHERE message_windows.last_inbound_at < excluded.last_inbound_at",
        )
        .bind(organisation)
        .bind(channel)
        .bind(message.from.clone())
        .bind(received)
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM inbound_messages_view")
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM message_windows").execute(conn).await?;
        Ok(())
    }
}

fn store(error: sqlx::Error) -> StoreError {
    StoreError(format!("inbound messages view: {error}"))
}

fn summary(row: &AnyRow) -> Result<InboundSummary, sqlx::Error> {
    let id: String = row.try_get("message_id")?;
    Ok(InboundSummary {
        message_id: Uuid::try_parse(&id).unwrap_or_default(),
        channel: row.try_get("channel")?,
        from: row.try_get("from_number")?,
        to: row.try_get("to_number")?,
        profile_name: row.try_get("profile_name")?,
        kind: row.try_get("kind")?,
        text: row.try_get("text_content")?,
        context_sid: row.try_get("context_sid")?,
        received_at: time(row.try_get("received_at")?).unwrap_or_default(),
    })
}

/// The inbound messages view, read.
#[derive(Clone)]
pub struct SqlInboundMessages(pub AnyPool);

#[async_trait]
impl InboundDirectory for SqlInboundMessages {
    async fn last_inbound(
        &self,
        organisation_id: OrganisationId,
        channel: &str,
        contact: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(
            "SELECT last_inbound_at FROM message_windows WHERE organisation_id = $1 AND channel = $2 AND contact = $3",
        )
        .bind(organisation_id.to_string())
        .bind(channel)
        .bind(contact)
        .fetch_optional(&self.0)
        .await
        .map_err(store)?;
        Ok(row
            .map(|r| r.try_get::<String, _>("last_inbound_at").map_err(store))
            .transpose()?
            .and_then(|t| time(Some(t))))
    }

    async fn first_inbound(
        &self,
        organisation_id: OrganisationId,
        channel: &str,
        contact: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(received_at) AS first FROM inbound_messages_view \
             WHERE organisation_id = $1 AND from_number = $2 AND channel = $3",
        )
        .bind(organisation_id.to_string())
        .bind(contact)
        .bind(channel)
        .fetch_one(&self.0)
        .await
        .map_err(store)?;
        let first: Option<String> = row.try_get("first").map_err(store)?;
        Ok(time(first))
    }

    async fn list(
        &self,
        organisation_id: OrganisationId,
        contact: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<InboundSummary>, StoreError> {
        let mut sql = String::from(
            "SELECT message_id, channel, from_number, to_number, profile_name, kind, text_content, context_sid, \
             received_at FROM inbound_messages_view WHERE organisation_id = $1",
        );
        if contact.is_some() {
            sql.push_str(" AND from_number = $2");
        }
        sql.push_str(&format!(
            " ORDER BY received_at DESC, message_id LIMIT {} OFFSET {}",
            limit.clamp(1, 500),
            offset
        ));
        let mut query = sqlx::query(&sql).bind(organisation_id.to_string());
        if let Some(contact) = contact {
            query = query.bind(contact.to_string());
        }
        let rows = query.fetch_all(&self.0).await.map_err(store)?;
        rows.iter().map(summary).collect::<Result<_, _>>().map_err(store)
    }
}

#[async_trait]
impl application::messages::PendingMedia for SqlInboundMessages {
    async fn pending_media(&self, limit: u32) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query(
            "SELECT message_id FROM inbound_messages_view WHERE media_state = 'pending' ORDER BY received_at LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.0)
        .await
        .map_err(store)?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("message_id").map_err(store)?;
                Uuid::try_parse(&id).map_err(|e| StoreError(e.to_string()))
            })
            .collect()
    }
}
