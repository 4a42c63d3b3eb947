//! Appending events in one statement.
//!
//! postgres-es and sqlite-es open a transaction, insert each event and
//! commit: three round trips for the usual single event. One `INSERT` of
//! many rows is atomic on its own (all rows or none, the primary key still
//! refusing a version written by someone else), so it is sent alone, and
//! it may carry the events of several commands ([`super::group`]).

use cqrs_es::persist::{PersistenceError, SerializedEvent};
use sqlx::{PgPool, SqlitePool};

const COLUMNS: &str =
    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) ";

/// PostgreSQL: one prepared statement whatever the number of rows, the
/// rows taken from arrays in the order given (positions follow it).
const PG_APPEND: &str = "SELECT t, i, s, e, v, p, m FROM UNNEST(\
     $1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[]) \
     WITH ORDINALITY AS r(t, i, s, e, v, p, m, n) ORDER BY n";

/// The most rows one SQLite statement is given: 7 values each, well under
/// SQLite's default limit of 32,766 host parameters.
pub const SQLITE_MAX_ROWS: usize = 1024;

/// The SQLite `INSERT` of `rows` events, placeholders `?1…`.
fn sqlite_statement(rows: usize) -> String {
    let mut sql = format!("{COLUMNS}VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        let n = row * 7;
        sql.push_str(&format!(
            "(?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{})",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5,
            n + 6,
            n + 7
        ));
    }
    sql
}

/// Inserts `events` (of any aggregates) on PostgreSQL in one statement.
pub async fn append_postgres(pool: &PgPool, events: &[&SerializedEvent]) -> Result<(), PersistenceError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut sequences = Vec::with_capacity(events.len());
    for event in events {
        sequences.push(i64::try_from(event.sequence).map_err(|e| PersistenceError::UnknownError(Box::new(e)))?);
    }
    sqlx::query(&format!("{COLUMNS}{PG_APPEND}"))
        .bind(events.iter().map(|e| e.aggregate_type.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.aggregate_id.as_str()).collect::<Vec<_>>())
        .bind(sequences)
        .bind(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.event_version.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| &e.payload).collect::<Vec<_>>())
        .bind(events.iter().map(|e| &e.metadata).collect::<Vec<_>>())
        .execute(pool)
        .await
        .map(drop)
        .map_err(|e| persistence_error(e, "23505"))
}

/// The same on SQLite: one statement of at most [`SQLITE_MAX_ROWS`] rows,
/// or, for more, one transaction of such statements.
pub async fn append_sqlite(pool: &SqlitePool, events: &[&SerializedEvent]) -> Result<(), PersistenceError> {
    if events.is_empty() {
        return Ok(());
    }
    let conflict = |e| persistence_error(e, "1555");
    if events.len() <= SQLITE_MAX_ROWS {
        let sql = sqlite_statement(events.len());
        return sqlite_rows(&sql, events)
            .execute(pool)
            .await
            .map(drop)
            .map_err(conflict);
    }
    let mut tx = pool.begin().await.map_err(conflict)?;
    for chunk in events.chunks(SQLITE_MAX_ROWS) {
        let sql = sqlite_statement(chunk.len());
        sqlite_rows(&sql, chunk).execute(&mut *tx).await.map_err(conflict)?;
    }
    tx.commit().await.map_err(conflict)
}

fn sqlite_rows<'q>(
    sql: &'q str,
    events: &'q [&SerializedEvent],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    let mut query = sqlx::query::<sqlx::Sqlite>(sql);
    for event in events {
        query = query
            .bind(event.aggregate_type.as_str())
            .bind(event.aggregate_id.as_str())
            .bind(event.sequence as i64)
            .bind(event.event_type.as_str())
            .bind(event.event_version.as_str())
            .bind(&event.payload)
            .bind(&event.metadata);
    }
    query
}

/// A violation of the primary key (`conflict_code`: 23505 on PostgreSQL,
/// 1555 on SQLite) means another writer took one of these versions first.
fn persistence_error(error: sqlx::Error, conflict_code: &str) -> PersistenceError {
    match &error {
        sqlx::Error::Database(e) if e.code().as_deref() == Some(conflict_code) => PersistenceError::OptimisticLockError,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            PersistenceError::ConnectionError(Box::new(error))
        }
        _ => PersistenceError::UnknownError(Box::new(error)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_events_are_one_statement_with_fourteen_values() {
        let sql = super::sqlite_statement(2);
        assert!(sql.ends_with("VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7), (?8, ?9, ?10, ?11, ?12, ?13, ?14)"));
    }
}
