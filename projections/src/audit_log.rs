//! The event history as the audit routes read it: the organisation's
//! events, filtered and paged by position, and one aggregate's events up to
//! a version. Reads the event store's table; writes nothing.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use std::collections::HashMap;

use crate::ProjectionError;

const COLUMNS: &str = "global_position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
                       CAST(payload AS TEXT), CAST(metadata AS TEXT)";

/// One stored event with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: HashMap<String, String>,
}

/// Which of an organisation's events, in which order, from where.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub organisation_id: String,
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub event_type: Option<String>,
    pub actor: Option<String>,
    /// Events at or after.
    pub from: Option<DateTime<Utc>>,
    /// Events before.
    pub to: Option<DateTime<Utc>>,
    pub ascending: bool,
    /// Events after this position (before it when descending).
    pub after: Option<i64>,
    pub limit: i64,
}

fn undecodable(row: &AuditRow, reason: impl ToString) -> ProjectionError {
    ProjectionError::UndecodableEvent {
        event_type: row.event_type.clone(),
        reason: reason.to_string(),
    }
}

fn audit_row(r: &AnyRow) -> Result<AuditRow, ProjectionError> {
    let mut row = AuditRow {
        position: r.try_get(0)?,
        aggregate_type: r.try_get(1)?,
        aggregate_id: r.try_get(2)?,
        sequence: r.try_get(3)?,
        event_type: r.try_get(4)?,
        event_version: r.try_get(5)?,
        payload: Value::Null,
        metadata: HashMap::new(),
    };
    row.payload = serde_json::from_str(&r.try_get::<String, _>(6)?).map_err(|e| undecodable(&row, e))?;
    row.metadata = serde_json::from_str(&r.try_get::<String, _>(7)?).map_err(|e| undecodable(&row, e))?;
    Ok(row)
}

/// The time as the `occurred_at` column holds it.
fn stored_time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The organisation's events matching the query, at most `limit`.
pub async fn events(pool: &AnyPool, query: &EventQuery) -> Result<Vec<AuditRow>, ProjectionError> {
    let mut conditions = vec!["organisation_id = $1".to_string()];
    let mut texts = vec![query.organisation_id.clone()];
    let mut condition = |clause: &str, value: String| {
        texts.push(value);
        conditions.push(format!("{clause} ${}", texts.len()));
    };
    let equal = [
        ("aggregate_type =", &query.aggregate_type),
        ("aggregate_id =", &query.aggregate_id),
        ("event_type =", &query.event_type),
        ("actor =", &query.actor),
    ];
    for (clause, value) in equal {
        if let Some(value) = value {
            condition(clause, value.clone());
        }
    }
    if let Some(from) = &query.from {
        condition("occurred_at >=", stored_time(from));
    }
    if let Some(to) = &query.to {
        condition("occurred_at <", stored_time(to));
    }
    let (after, order) = match query.ascending {
        true => (">", "ASC"),
        false => ("<", "DESC"),
    };
    if query.after.is_some() {
        conditions.push(format!("global_position {after} ${}", texts.len() + 1));
    }
    let limit_at = texts.len() + 1 + usize::from(query.after.is_some());
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE {} ORDER BY global_position {order} LIMIT ${limit_at}",
        conditions.join(" AND ")
    );
    let mut statement = sqlx::query(&sql);
    for text in texts {
        statement = statement.bind(text);
    }
    if let Some(position) = query.after {
        statement = statement.bind(position);
    }
    let rows = statement.bind(query.limit).fetch_all(pool).await?;
    rows.iter().map(audit_row).collect()
}

/// One aggregate's events of the organisation up to a sequence (all when
/// `None`), in order; empty when it has none there.
pub async fn history(
    pool: &AnyPool,
    organisation_id: &str,
    aggregate_type: &str,
    aggregate_id: &str,
    up_to: Option<i64>,
) -> Result<Vec<AuditRow>, ProjectionError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE organisation_id = $1 AND aggregate_type = $2 AND aggregate_id = $3 \
         AND sequence <= $4 ORDER BY sequence"
    );
    let rows = sqlx::query(&sql)
        .bind(organisation_id)
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(up_to.unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?;
    rows.iter().map(audit_row).collect()
}

/// Every organisation that has events, in order.
pub async fn organisations(pool: &AnyPool) -> Result<Vec<String>, ProjectionError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT organisation_id FROM events WHERE organisation_id IS NOT NULL ORDER BY organisation_id",
    )
    .fetch_all(pool)
    .await?)
}
