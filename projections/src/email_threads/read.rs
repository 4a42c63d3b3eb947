//! Reading the thread view: the organisation's threads, one thread's
//! timeline, and the index the inbound use case threads replies by.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use application::error::StoreError;
use application::inbound_email::ThreadIndex;
use domain::OrganisationId;
use domain::inbound_email::{AttachmentStorage, MailAddress};

use crate::ProjectionError;

/// Most Message-IDs looked up at once (a reply's latest references).
const MAX_LOOKUP: usize = 60;

/// One thread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadRow {
    pub id: String,
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    pub subject: Option<String>,
    pub message_count: i64,
    pub last_message_at: String,
    pub created_at: String,
}

/// An attachment of a timeline message: a received one's record, or a sent
/// one's (which has no content id, disposition, storage or charset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineAttachment {
    pub filename: Option<String>,
    pub content_type: String,
    #[serde(default)]
    pub charset: Option<String>,
    pub size: u64,
    pub sha256: String,
    #[serde(default)]
    pub content_id: Option<String>,
    #[serde(default)]
    pub inline: bool,
    #[serde(default)]
    pub storage: Option<AttachmentStorage>,
}

/// One message of a thread's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageRow {
    pub id: String,
    pub direction: String,
    pub account_id: Option<String>,
    pub message_id: Option<String>,
    pub from: Option<MailAddress>,
    pub to: Vec<MailAddress>,
    pub cc: Vec<MailAddress>,
    pub subject: Option<String>,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub attachments: Vec<TimelineAttachment>,
    pub message_at: String,
    pub received_at: String,
}

const THREAD_COLUMNS: &str =
    "thread_id, customer_id, customer_email, subject, message_count, last_message_at, created_at";

fn thread(r: &AnyRow) -> Result<ThreadRow, ProjectionError> {
    Ok(ThreadRow {
        id: r.try_get(0)?,
        customer_id: r.try_get(1)?,
        customer_email: r.try_get(2)?,
        subject: r.try_get(3)?,
        message_count: r.try_get(4)?,
        last_message_at: r.try_get(5)?,
        created_at: r.try_get(6)?,
    })
}

/// The organisation's threads, latest first; and how many there are.
pub async fn list(
    pool: &AnyPool,
    organisation_id: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ThreadRow>, i64), ProjectionError> {
    let sql = format!(
        "SELECT {THREAD_COLUMNS} FROM email_threads WHERE organisation_id = $1 \
         ORDER BY last_message_at DESC, thread_id LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query(&sql)
        .bind(organisation_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM email_threads WHERE organisation_id = $1")
        .bind(organisation_id)
        .fetch_one(pool)
        .await?;
    Ok((rows.iter().map(thread).collect::<Result<_, _>>()?, total))
}

/// One thread of the organisation.
pub async fn get(pool: &AnyPool, organisation_id: &str, thread_id: &str) -> Result<Option<ThreadRow>, ProjectionError> {
    let sql = format!("SELECT {THREAD_COLUMNS} FROM email_threads WHERE organisation_id = $1 AND thread_id = $2");
    let found = sqlx::query(&sql)
        .bind(organisation_id)
        .bind(thread_id)
        .fetch_optional(pool)
        .await?;
    found.as_ref().map(thread).transpose()
}

/// A JSON column as written by [`super::write`]; an empty list if it is
/// not (a row from before a column's shape was fixed).
fn parsed<T: serde::de::DeserializeOwned + Default>(text: String) -> T {
    serde_json::from_str(&text).unwrap_or_default()
}

fn message(r: &AnyRow) -> Result<MessageRow, ProjectionError> {
    let address: Option<String> = r.try_get(3)?;
    let name: Option<String> = r.try_get(4)?;
    Ok(MessageRow {
        id: r.try_get(0)?,
        direction: r.try_get(1)?,
        account_id: r.try_get(2)?,
        from: address.map(|address| MailAddress { name, address }),
        message_id: r.try_get(5)?,
        to: parsed(r.try_get(6)?),
        cc: parsed(r.try_get(7)?),
        subject: r.try_get(8)?,
        body_text: r.try_get(9)?,
        body_html: r.try_get(10)?,
        attachments: parsed(r.try_get(11)?),
        message_at: r.try_get(12)?,
        received_at: r.try_get(13)?,
    })
}

/// A thread's messages, oldest first: by the message's time, then by its
/// arrival in the mailbox (UID; sent e-mail, which has none, after), then by
/// id, so that messages of the same second always come in the same order.
pub async fn messages(
    pool: &AnyPool,
    organisation_id: &str,
    thread_id: &str,
) -> Result<Vec<MessageRow>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT email_id, direction, account_id, from_address, from_name, message_id, to_addresses, cc_addresses, \
         subject, body_text, body_html, attachments, message_at, received_at FROM email_thread_messages \
         WHERE organisation_id = $1 AND thread_id = $2 ORDER BY message_at, mailbox_uid IS NULL, mailbox_uid, email_id",
    )
    .bind(organisation_id)
    .bind(thread_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(message).collect()
}

/// The thread view as the inbound use case's index.
#[derive(Debug, Clone)]
pub struct SqlThreadIndex(pub AnyPool);

fn store_error(error: sqlx::Error) -> StoreError {
    StoreError(format!("thread index: {error}"))
}

fn uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::try_parse(text).map_err(|e| StoreError(format!("thread index: {e}")))
}

#[async_trait]
impl ThreadIndex for SqlThreadIndex {
    async fn thread_of(&self, organisation_id: OrganisationId, ids: &[String]) -> Result<Option<Uuid>, StoreError> {
        let ids = &ids[..ids.len().min(MAX_LOOKUP)];
        if ids.is_empty() {
            return Ok(None);
        }
        let placeholders: Vec<String> = (2..ids.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT message_id, thread_id FROM email_message_threads WHERE organisation_id = $1 AND message_id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(organisation_id.to_string());
        for id in ids {
            query = query.bind(id.as_str());
        }
        let rows = query.fetch_all(&self.0).await.map_err(store_error)?;
        let found: Vec<(String, String)> = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(store_error)?;
        let first = ids
            .iter()
            .find_map(|id| found.iter().find(|(m, _)| m == id).map(|(_, t)| t.as_str()));
        first.map(uuid).transpose()
    }

    async fn thread_with_subject(
        &self,
        organisation_id: OrganisationId,
        customer_id: Uuid,
        key: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT thread_id FROM email_threads WHERE organisation_id = $1 AND customer_id = $2 AND subject_key = $3 \
             ORDER BY last_message_at DESC LIMIT 1",
        )
        .bind(organisation_id.to_string())
        .bind(customer_id.to_string())
        .bind(key)
        .fetch_optional(&self.0)
        .await
        .map_err(store_error)?;
        found.as_deref().map(uuid).transpose()
    }
}
