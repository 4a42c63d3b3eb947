//! Reading threads: the inbox list with its filters and tab counts, one
//! thread, its timeline, and the look-ups the write side and realtime push
//! need. A thread's customer is the one its first message named, followed
//! through merges (`customers_view.canonical_id`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use std::collections::HashMap;
use uuid::Uuid;

use application::error::StoreError;
use application::threads::{ThreadDirectory, ThreadState};

use crate::ProjectionError;

/// The customer a thread is with now, from its row `t` and the customer
/// row `c` it names.
const CUSTOMER: &str = "COALESCE(c.canonical_id, t.customer_id)";

const THREAD_COLUMNS: &str = "t.thread_id, t.organisation_id, COALESCE(c.canonical_id, t.customer_id), t.subject, \
     t.status, t.assignee_id, t.channels, t.item_count, t.last_item_at, t.last_direction, t.last_channel, \
     t.last_preview, t.last_inbound_at, t.created_at, t.closed_at, t.customer_point";

/// Whose threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Nobody,
    User(Uuid),
}

/// `(last item time, thread id)` of the last thread of a page.
pub type ThreadCursor = (String, String);
/// `(time, position)` of the last item of a page.
pub type ItemCursor = (String, i64);

/// What an inbox list shows.
#[derive(Debug, Clone, Default)]
pub struct ThreadFilter {
    /// `open`, `pending` or `closed`.
    pub status: Option<String>,
    pub assignee: Option<AssigneeFilter>,
    /// An agent sees threads assigned to them or to nobody.
    pub visible_to: Option<Uuid>,
    pub channel: Option<String>,
    /// The customer (as they are now, merges followed).
    pub customer_id: Option<Uuid>,
    /// Only threads with an inbound item this user has not read.
    pub unread_for: Option<Uuid>,
    /// Text in the subject or the last message, any case.
    pub text: Option<String>,
}

/// One thread as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadRow {
    pub thread_id: String,
    pub organisation_id: String,
    pub customer_id: Option<String>,
    pub subject: Option<String>,
    /// `open`, `pending` (open, and the last item went out) or `closed`.
    pub status: String,
    pub assignee_id: Option<String>,
    pub channels: Vec<String>,
    pub item_count: i64,
    pub last_item_at: Option<String>,
    pub last_direction: Option<String>,
    pub last_channel: Option<String>,
    pub last_preview: Option<String>,
    pub last_inbound_at: Option<String>,
    pub created_at: String,
    pub closed_at: Option<String>,
    /// The address or number of the customer as the thread first named them.
    pub customer_point: Option<String>,
}

impl ThreadRow {
    /// Whether `user` has an inbound item on it they have not read.
    pub fn unread_by(&self, read_through: Option<&str>) -> bool {
        match (&self.last_inbound_at, read_through) {
            (Some(inbound), Some(read)) => inbound.as_str() > read,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// Threads per status, for the inbox's tabs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub open: i64,
    pub pending: i64,
    pub closed: i64,
}

/// One item of a timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRow {
    pub item_id: String,
    pub thread_id: String,
    pub channel: String,
    pub direction: String,
    pub status: String,
    pub preview: Option<String>,
    pub counterpart: Option<String>,
    pub detail: serde_json::Value,
    pub occurred_at: String,
    pub position: i64,
    pub status_at: String,
}

/// The status a list shows.
const SHOWN_STATUS: &str =
    "CASE WHEN t.status = 'closed' THEN 'closed' WHEN t.last_direction = 'outbound' THEN 'pending' ELSE 'open' END";

fn thread_row(r: &AnyRow) -> Result<ThreadRow, ProjectionError> {
    let status: String = r.try_get(4)?;
    let last_direction: Option<String> = r.try_get(9)?;
    let shown = match (status.as_str(), last_direction.as_deref()) {
        ("closed", _) => "closed",
        (_, Some("outbound")) => "pending",
        _ => "open",
    };
    let channels: String = r.try_get(6)?;
    Ok(ThreadRow {
        thread_id: r.try_get(0)?,
        organisation_id: r.try_get(1)?,
        customer_id: r.try_get(2)?,
        subject: r.try_get(3)?,
        status: shown.to_string(),
        assignee_id: r.try_get(5)?,
        channels: channels
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect(),
        item_count: r.try_get(7)?,
        last_item_at: r.try_get(8)?,
        last_direction,
        last_channel: r.try_get(10)?,
        last_preview: r.try_get(11)?,
        last_inbound_at: r.try_get(12)?,
        created_at: r.try_get(13)?,
        closed_at: r.try_get(14)?,
        customer_point: r.try_get(15)?,
    })
}

/// The conditions of a filter and their values, numbered from `$first`,
/// with or without the status condition.
fn conditions(organisation_id: &str, filter: &ThreadFilter, with_status: bool) -> (Vec<String>, Vec<String>) {
    let mut sql = vec!["t.organisation_id = $1".to_string()];
    let mut values = vec![organisation_id.to_string()];
    let mut add = |sql: &mut Vec<String>, clause: &str, value: String| {
        values.push(value);
        sql.push(clause.replace('?', &format!("${}", values.len())));
    };
    if with_status && let Some(status) = &filter.status {
        add(&mut sql, &format!("{SHOWN_STATUS} = ?"), status.clone());
    }
    match filter.assignee {
        Some(AssigneeFilter::Nobody) => sql.push("t.assignee_id IS NULL".into()),
        Some(AssigneeFilter::User(user)) => add(&mut sql, "t.assignee_id = ?", user.to_string()),
        None => {}
    }
    if let Some(user) = filter.visible_to {
        add(
            &mut sql,
            "(t.assignee_id IS NULL OR t.assignee_id = ?)",
            user.to_string(),
        );
    }
    if let Some(channel) = &filter.channel {
        add(&mut sql, "t.channels LIKE ?", format!("%,{channel},%"));
    }
    if let Some(customer) = filter.customer_id {
        // The id given may be of a customer merged into another: the
        // customer it is part of now.
        add(
            &mut sql,
            &format!(
                "{CUSTOMER} = COALESCE((SELECT k.canonical_id FROM customers_view k WHERE k.customer_id = ? \
                 AND k.organisation_id = t.organisation_id), ?)"
            ),
            customer.to_string(),
        );
    }
    if let Some(user) = filter.unread_for {
        add(
            &mut sql,
            "t.last_inbound_at IS NOT NULL AND t.last_inbound_at > COALESCE((SELECT r.read_through FROM thread_reads r \
             WHERE r.thread_id = t.thread_id AND r.user_id = ?), '')",
            user.to_string(),
        );
    }
    if let Some(text) = &filter.text {
        let pattern = format!("%{}%", text.to_lowercase().replace(['%', '_'], ""));
        add(
            &mut sql,
            "(LOWER(COALESCE(t.subject, '')) LIKE ? OR LOWER(COALESCE(t.last_preview, '')) LIKE ? \
             OR LOWER(COALESCE(t.customer_point, '')) LIKE ?)",
            pattern,
        );
    }
    (sql, values)
}

const FROM: &str = "FROM threads_view t LEFT JOIN customers_view c ON c.customer_id = t.customer_id";

/// One page of the organisation's threads, latest first, after `after`.
pub async fn list(
    pool: &AnyPool,
    organisation_id: &str,
    filter: &ThreadFilter,
    after: Option<&ThreadCursor>,
    limit: i64,
) -> Result<Vec<ThreadRow>, ProjectionError> {
    let (mut sql, mut values) = conditions(organisation_id, filter, true);
    if let Some((at, id)) = after {
        let (a, b) = (values.len() + 1, values.len() + 2);
        sql.push(format!(
            "(COALESCE(t.last_item_at, t.created_at) < ${a} OR (COALESCE(t.last_item_at, t.created_at) = ${a} \
             AND t.thread_id < ${b}))"
        ));
        values.push(at.clone());
        values.push(id.clone());
    }
    let text = format!(
        "SELECT {THREAD_COLUMNS} {FROM} WHERE {} \
         ORDER BY COALESCE(t.last_item_at, t.created_at) DESC, t.thread_id DESC LIMIT ${}",
        sql.join(" AND "),
        values.len() + 1
    );
    let mut query = sqlx::query(&text);
    for value in &values {
        query = query.bind(value);
    }
    let rows = query.bind(limit).fetch_all(pool).await?;
    rows.iter().map(thread_row).collect()
}

/// How many threads of each status the filter (status aside) holds.
pub async fn counts(
    pool: &AnyPool,
    organisation_id: &str,
    filter: &ThreadFilter,
) -> Result<StatusCounts, ProjectionError> {
    let (sql, values) = conditions(organisation_id, filter, false);
    let text = format!(
        "SELECT {SHOWN_STATUS} AS shown, COUNT(*) {FROM} WHERE {} GROUP BY {SHOWN_STATUS}",
        sql.join(" AND ")
    );
    let mut query = sqlx::query(&text);
    for value in &values {
        query = query.bind(value);
    }
    let mut counts = StatusCounts::default();
    for row in query.fetch_all(pool).await? {
        let status: String = row.try_get(0)?;
        let count: i64 = row.try_get(1)?;
        match status.as_str() {
            "closed" => counts.closed = count,
            "pending" => counts.pending = count,
            _ => counts.open = count,
        }
    }
    Ok(counts)
}

/// One thread of the organisation.
pub async fn get(pool: &AnyPool, organisation_id: &str, thread_id: &str) -> Result<Option<ThreadRow>, ProjectionError> {
    let text = format!("SELECT {THREAD_COLUMNS} {FROM} WHERE t.thread_id = $1 AND t.organisation_id = $2");
    let row = sqlx::query(&text)
        .bind(thread_id)
        .bind(organisation_id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(thread_row).transpose()
}

/// How far `user` has read the thread.
pub async fn read_through(pool: &AnyPool, thread_id: &str, user_id: &str) -> Result<Option<String>, ProjectionError> {
    Ok(
        sqlx::query_scalar("SELECT read_through FROM thread_reads WHERE thread_id = $1 AND user_id = $2")
            .bind(thread_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?,
    )
}

/// How far `user` has read each of `thread_ids` (those it has read), in
/// one query.
pub async fn reads_through(
    pool: &AnyPool,
    thread_ids: &[&str],
    user_id: &str,
) -> Result<HashMap<String, String>, ProjectionError> {
    if thread_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let text = format!(
        "SELECT thread_id, read_through FROM thread_reads WHERE user_id = $1 AND thread_id IN ({})",
        crate::placeholders(2, thread_ids.len())
    );
    let mut query = sqlx::query(&text).bind(user_id);
    for thread_id in thread_ids {
        query = query.bind(*thread_id);
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
}

/// One page of a thread's timeline, oldest first, after `after`.
pub async fn items(
    pool: &AnyPool,
    thread_id: &str,
    after: Option<&ItemCursor>,
    limit: i64,
) -> Result<Vec<ItemRow>, ProjectionError> {
    let columns = "item_id, thread_id, channel, direction, status, preview, counterpart, detail, occurred_at, \
                   position, status_at";
    let rows = match after {
        None => {
            sqlx::query(&format!(
                "SELECT {columns} FROM thread_items WHERE thread_id = $1 ORDER BY occurred_at, position LIMIT $2"
            ))
            .bind(thread_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        Some((at, position)) => {
            sqlx::query(&format!(
                "SELECT {columns} FROM thread_items WHERE thread_id = $1 \
                 AND (occurred_at > $2 OR (occurred_at = $2 AND position > $3)) \
                 ORDER BY occurred_at, position LIMIT $4"
            ))
            .bind(thread_id)
            .bind(at)
            .bind(position)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    rows.iter()
        .map(|r| {
            let detail: String = r.try_get(7)?;
            Ok(ItemRow {
                item_id: r.try_get(0)?,
                thread_id: r.try_get(1)?,
                channel: r.try_get(2)?,
                direction: r.try_get(3)?,
                status: r.try_get(4)?,
                preview: r.try_get(5)?,
                counterpart: r.try_get(6)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                occurred_at: r.try_get(8)?,
                position: r.try_get(9)?,
                status_at: r.try_get(10)?,
            })
        })
        .collect()
}

/// The organisation, thread and channel of a timeline item.
pub async fn thread_of_item(
    pool: &AnyPool,
    item_id: &str,
) -> Result<Option<(String, String, String)>, ProjectionError> {
    let row = sqlx::query("SELECT organisation_id, thread_id, channel FROM thread_items WHERE item_id = $1")
        .bind(item_id)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
        None => None,
    })
}

/// The organisation and assignee (`None` while unassigned) of each of the
/// threads the view has.
pub async fn audiences(
    pool: &AnyPool,
    thread_ids: &[String],
) -> Result<Vec<(String, String, Option<String>)>, ProjectionError> {
    if thread_ids.is_empty() {
        return Ok(Vec::new());
    }
    let text = format!(
        "SELECT organisation_id, thread_id, assignee_id FROM threads_view WHERE thread_id IN ({})",
        crate::placeholders(1, thread_ids.len())
    );
    let mut query = sqlx::query(&text);
    for thread_id in thread_ids {
        query = query.bind(thread_id);
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect()
}

/// The thread directory over the view.
#[derive(Clone)]
pub struct SqlThreadDirectory {
    pool: AnyPool,
}

impl SqlThreadDirectory {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }
}

/// What the inbox orders threads by: the latest activity, then the id.
fn activity(row: &ThreadRow) -> (&str, &str) {
    (row.last_item_at.as_deref().unwrap_or(&row.created_at), &row.thread_id)
}

fn state_of(row: ThreadRow) -> ThreadState {
    let parse = |text: &str| Uuid::parse_str(text).ok();
    let time = |text: &str| DateTime::parse_from_rfc3339(text).ok().map(|d| d.with_timezone(&Utc));
    ThreadState {
        thread_id: parse(&row.thread_id).unwrap_or_default(),
        customer_id: row.customer_id.as_deref().and_then(parse),
        closed_at: row.closed_at.as_deref().and_then(time),
        closed: row.status == "closed",
        assignee_id: row.assignee_id.as_deref().and_then(parse),
        last_item_at: row.last_item_at.as_deref().and_then(time),
    }
}

#[async_trait]
impl ThreadDirectory for SqlThreadDirectory {
    async fn find(&self, organisation_id: Uuid, thread_id: Uuid) -> Result<Option<ThreadState>, StoreError> {
        let row = get(&self.pool, &organisation_id.to_string(), &thread_id.to_string()).await?;
        Ok(row.map(state_of))
    }

    async fn latest_of_customer(
        &self,
        organisation_id: Uuid,
        customer_id: Uuid,
    ) -> Result<Option<ThreadState>, StoreError> {
        // Two steps, each one index probe whatever the planner knew when it
        // cached the plan: the customers the customer is one with (merged
        // in, or merged into), then each one's latest thread. One query
        // ordering the whole organisation's threads by activity and
        // filtering by customer was walked along the inbox's index when
        // the statistics were stale, every thread of the organisation read
        // for a customer without any.
        let organisation = organisation_id.to_string();
        let customer = customer_id.to_string();
        let mut group: Vec<String> = sqlx::query_scalar(
            "SELECT m.customer_id FROM customers_view m WHERE m.organisation_id = $1 AND m.canonical_id = \
             COALESCE((SELECT k.canonical_id FROM customers_view k WHERE k.customer_id = $2), $2)",
        )
        .bind(&organisation)
        .bind(&customer)
        .fetch_all(&self.pool)
        .await
        .map_err(ProjectionError::from)?;
        if !group.contains(&customer) {
            group.push(customer);
        }
        let text = format!(
            "SELECT {THREAD_COLUMNS} {FROM} WHERE t.organisation_id = $1 AND t.customer_id = $2 \
             ORDER BY COALESCE(t.last_item_at, t.created_at) DESC, t.thread_id DESC LIMIT 1"
        );
        let mut latest: Option<ThreadRow> = None;
        for member in &group {
            let row = sqlx::query(&text)
                .bind(&organisation)
                .bind(member)
                .fetch_optional(&self.pool)
                .await
                .map_err(ProjectionError::from)?;
            if let Some(row) = row.as_ref().map(thread_row).transpose()? {
                let later = latest.as_ref().is_none_or(|l| activity(&row) > activity(l));
                if later {
                    latest = Some(row);
                }
            }
        }
        Ok(latest.map(state_of))
    }
}
