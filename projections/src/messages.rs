//! Outbound messages: where each stands at the provider and in its life,
//! for the list routes, the dispatcher's queue and the reconciler.

use application::error::StoreError;
use application::feed::StoredEvent;
use application::messages::{MessageCursor, MessageDirectory, MessageFilter, MessageSummary};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::OrganisationId;
use domain::outbound_message::{MessageContent, MessageEvent, MessageStatus};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};
use uuid::Uuid;

use crate::bulk::Rows;
use crate::calls::{stamp, time, word};
use crate::{ProjectionError, Projector, decode};

pub struct MessagesView;

/// The kind of rule an auto-reply fired: `keyword`, `welcome` or `away`.
fn auto_reply_word(rule: &domain::auto_reply::AutoReplyRule) -> &'static str {
    use domain::auto_reply::AutoReplyRule as R;
    match rule {
        R::Keyword { .. } => "keyword",
        R::Welcome => "welcome",
        R::Away { .. } => "away",
    }
}

async fn set(
    conn: &mut AnyConnection,
    id: &str,
    assignments: &str,
    values: &[Option<String>],
) -> Result<(), ProjectionError> {
    let sql = format!(
        "UPDATE messages_view SET {assignments} WHERE message_id = ${}",
        values.len() + 1
    );
    let mut query = sqlx::query(&sql);
    for value in values {
        query = query.bind(value.clone());
    }
    query.bind(id).execute(conn).await?;
    Ok(())
}

#[async_trait]
impl Projector for MessagesView {
    fn name(&self) -> &'static str {
        "messages"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["outbound_message"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        self.apply_all(conn, &[event]).await
    }

    /// New messages in one multi-row insert; any later event of the batch
    /// writes the new rows first, so it finds its message's row.
    async fn apply_all(&self, conn: &mut AnyConnection, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
        let mut requested = Rows::new(
            "INSERT INTO messages_view (message_id, organisation_id, channel, to_number, status, dispatch, \
             sender_id, sms_type, segments, requested_by, batch_id, requested_at, not_before, updated_at, auto_reply)",
            "ON CONFLICT (message_id) DO NOTHING",
        );
        for event in events {
            let id = event.aggregate_id.as_str();
            match decode::<MessageEvent>(event)? {
                MessageEvent::MessageRequested { request, at } => {
                    let (sender, sms_type, segments) = match &request.content {
                        MessageContent::Sms(sms) => (
                            sms.sender_id.clone(),
                            Some(word(sms.sms_type)),
                            Some(i64::from(sms.segments)),
                        ),
                        MessageContent::Whatsapp(out) => (out.from.clone(), None, None),
                    };
                    requested.push([
                        id.into(),
                        request.organisation_id.to_string().into(),
                        word(request.content.channel()).into(),
                        request.to.into(),
                        "requested".into(),
                        "pending".into(),
                        sender.into(),
                        sms_type.into(),
                        segments.into(),
                        request.requested_by.map(|u| u.to_string()).into(),
                        request.batch_id.map(|u| u.to_string()).into(),
                        stamp(at).into(),
                        request.not_before.map(stamp).into(),
                        stamp(at).into(),
                        request
                            .auto_reply
                            .as_ref()
                            .map(|r| auto_reply_word(r).to_string())
                            .into(),
                    ]);
                }
                later => {
                    requested.write(conn).await?;
                    progress(conn, id, later).await?;
                }
            }
        }
        requested.write(conn).await
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM messages_view").execute(conn).await?;
        Ok(())
    }
}

/// What a message's later event changes on its row.
async fn progress(conn: &mut AnyConnection, id: &str, event: MessageEvent) -> Result<(), ProjectionError> {
    match event {
        MessageEvent::MessageRequested { .. } => {}
        MessageEvent::MessageDispatchStarted { attempt, at } => {
            let values = [Some(attempt.to_string()), Some(stamp(at))];
            set(
                conn,
                id,
                "dispatch = 'started', attempts = CAST($1 AS BIGINT), dispatch_started_at = $2, updated_at = $2",
                &values,
            )
            .await?;
        }
        MessageEvent::MessageSubmitted { provider_sid, at } => {
            let values = [Some(provider_sid), Some(stamp(at))];
            set(
                conn,
                id,
                "dispatch = 'submitted', provider_sid = $1, submitted_at = $2, updated_at = $2",
                &values,
            )
            .await?;
        }
        MessageEvent::MessageRefused { at, .. } => {
            let values = [Some(stamp(at))];
            set(
                conn,
                id,
                "dispatch = 'refused', status = 'refused', updated_at = $1",
                &values,
            )
            .await?;
        }
        MessageEvent::MessageNotSent { at, .. } => {
            set(conn, id, "dispatch = 'pending', updated_at = $1", &[Some(stamp(at))]).await?;
        }
        MessageEvent::MessageOutcomeUnknown { at } => {
            set(conn, id, "dispatch = 'unknown', updated_at = $1", &[Some(stamp(at))]).await?;
        }
        MessageEvent::MessageReportReceived { .. } => {}
        MessageEvent::MessageProgressed { status, failure, at } => {
            let delivered = (status == MessageStatus::Delivered).then(|| stamp(at));
            let code = failure.and_then(|f| f.code).map(|c| c.to_string());
            let values = [Some(word(status)), delivered, code, Some(stamp(at))];
            set(
                conn,
                id,
                "status = $1, delivered_at = COALESCE($2, delivered_at), \
                     failure_code = COALESCE(CAST($3 AS BIGINT), failure_code), updated_at = $4",
                &values,
            )
            .await?;
        }
    }
    Ok(())
}

const COLUMNS: &str = "message_id, channel, to_number, status, dispatch, provider_sid, sender_id, sms_type, \
     segments, requested_by, requested_at, not_before, delivered_at, failure_code, batch_id";

fn uuid(text: Option<String>) -> Option<Uuid> {
    text.and_then(|t| Uuid::try_parse(&t).ok())
}

fn summary(row: &AnyRow) -> Result<MessageSummary, sqlx::Error> {
    Ok(MessageSummary {
        message_id: uuid(row.try_get("message_id")?).unwrap_or_default(),
        channel: row.try_get("channel")?,
        to: row.try_get("to_number")?,
        status: row.try_get("status")?,
        dispatch: row.try_get("dispatch")?,
        provider_sid: row.try_get("provider_sid")?,
        sender_id: row.try_get("sender_id")?,
        sms_type: row.try_get("sms_type")?,
        segments: row.try_get("segments")?,
        requested_by: uuid(row.try_get("requested_by")?),
        requested_at: time(row.try_get("requested_at")?).unwrap_or_default(),
        not_before: time(row.try_get("not_before")?),
        delivered_at: time(row.try_get("delivered_at")?),
        failure_code: row.try_get("failure_code")?,
        batch_id: uuid(row.try_get("batch_id")?),
    })
}

fn store(error: sqlx::Error) -> StoreError {
    StoreError(format!("messages view: {error}"))
}

fn ids(rows: &[AnyRow]) -> Result<Vec<Uuid>, StoreError> {
    rows.iter()
        .map(|row| row.try_get::<String, _>("message_id").map_err(store))
        .map(|id| id.map(|t| Uuid::try_parse(&t).unwrap_or_default()))
        .collect()
}

/// The messages view, read.
#[derive(Clone)]
pub struct SqlMessages(pub AnyPool);

#[async_trait]
impl MessageDirectory for SqlMessages {
    async fn list(
        &self,
        organisation_id: OrganisationId,
        filter: &MessageFilter,
        after: Option<MessageCursor>,
        limit: u32,
    ) -> Result<Vec<MessageSummary>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM messages_view WHERE organisation_id = $1");
        let mut values: Vec<String> = vec![organisation_id.to_string()];
        let mut condition = |sql: &mut String, clause: &str, value: String| {
            values.push(value);
            sql.push_str(&clause.replace("$N", &format!("${}", values.len())));
        };
        if let Some(channel) = &filter.channel {
            condition(&mut sql, " AND channel = $N", channel.clone());
        }
        if let Some(status) = filter.status {
            condition(&mut sql, " AND status = $N", word(status));
        }
        if let Some(to) = &filter.to {
            condition(&mut sql, " AND to_number = $N", to.clone());
        }
        if let Some(batch) = filter.batch_id {
            condition(&mut sql, " AND batch_id = $N", batch.to_string());
        }
        if let Some((at, message_id)) = after {
            condition(&mut sql, " AND (requested_at < $N", stamp(at));
            let n = values.len();
            values.push(message_id.to_string());
            sql.push_str(&format!(" OR (requested_at = ${n} AND message_id < ${}))", n + 1));
        }
        sql.push_str(&format!(
            " ORDER BY requested_at DESC, message_id DESC LIMIT {}",
            limit.clamp(1, 500)
        ));
        let mut query = sqlx::query(&sql);
        for value in &values {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&self.0).await.map_err(store)?;
        rows.iter().map(summary).collect::<Result<_, _>>().map_err(store)
    }

    async fn requested_since(
        &self,
        organisation_id: OrganisationId,
        user_id: Uuid,
        channel: &str,
        since: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM messages_view WHERE organisation_id = $1 AND requested_by = $2 \
             AND channel = $3 AND requested_at >= $4",
        )
        .bind(organisation_id.to_string())
        .bind(user_id.to_string())
        .bind(channel)
        .bind(stamp(since))
        .fetch_one(&self.0)
        .await
        .map_err(store)?;
        let count: i64 = row.try_get("n").map_err(store)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn due(
        &self,
        now: DateTime<Utc>,
        promotional: bool,
        limit: u32,
    ) -> Result<Vec<(Uuid, OrganisationId)>, StoreError> {
        let rows = sqlx::query(
            "SELECT message_id, organisation_id FROM ( \
               SELECT message_id, organisation_id, requested_at, ROW_NUMBER() OVER ( \
                 PARTITION BY organisation_id ORDER BY requested_at, message_id) AS place \
               FROM messages_view WHERE dispatch = 'pending' AND (not_before IS NULL OR not_before <= $1) \
               AND (sms_type IS NULL OR sms_type <> 'promotional' OR $3 = 1)) AS queued \
             WHERE place <= $2 ORDER BY requested_at, message_id",
        )
        .bind(stamp(now))
        .bind(i64::from(limit))
        .bind(i64::from(promotional))
        .fetch_all(&self.0)
        .await
        .map_err(store)?;
        let organisations: Vec<OrganisationId> = rows
            .iter()
            .map(|row| row.try_get::<String, _>("organisation_id").map_err(store))
            .map(|id| id.map(|t| Uuid::try_parse(&t).unwrap_or_default()))
            .collect::<Result<_, _>>()?;
        Ok(ids(&rows)?.into_iter().zip(organisations).collect())
    }

    async fn in_doubt(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query(
            "SELECT message_id FROM messages_view WHERE dispatch = 'started' AND dispatch_started_at < $1 \
             ORDER BY dispatch_started_at LIMIT $2",
        )
        .bind(stamp(before))
        .bind(i64::from(limit))
        .fetch_all(&self.0)
        .await
        .map_err(store)?;
        ids(&rows)
    }

    async fn unreported(
        &self,
        (after, before): (DateTime<Utc>, DateTime<Utc>),
        limit: u32,
    ) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query(
            "SELECT message_id FROM messages_view WHERE channel = 'sms' AND dispatch = 'submitted' AND submitted_at > $1 \
             AND submitted_at < $2 AND status IN ('requested', 'submitted', 'sent') ORDER BY updated_at LIMIT $3",
        )
        .bind(stamp(after))
        .bind(stamp(before))
        .bind(i64::from(limit))
        .fetch_all(&self.0)
        .await
        .map_err(store)?;
        ids(&rows)
    }

    async fn by_sid(&self, organisation_id: OrganisationId, sid: &str) -> Result<Option<Uuid>, StoreError> {
        let rows = sqlx::query("SELECT message_id FROM messages_view WHERE organisation_id = $1 AND provider_sid = $2")
            .bind(organisation_id.to_string())
            .bind(sid)
            .fetch_all(&self.0)
            .await
            .map_err(store)?;
        Ok(ids(&rows)?.into_iter().next())
    }

    async fn last_auto_reply(
        &self,
        organisation_id: OrganisationId,
        to: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(
            "SELECT MAX(requested_at) AS last FROM messages_view \
             WHERE organisation_id = $1 AND to_number = $2 AND auto_reply IS NOT NULL",
        )
        .bind(organisation_id.to_string())
        .bind(to)
        .fetch_one(&self.0)
        .await
        .map_err(store)?;
        let last: Option<String> = row.try_get("last").map_err(store)?;
        Ok(time(last))
    }
}
