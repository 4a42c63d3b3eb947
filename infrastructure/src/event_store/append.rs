//! Appending a command's events in one statement.
//!
//! postgres-es and sqlite-es open a transaction, insert each event and
//! commit: three round trips for the usual single event. One multi-row
//! `INSERT` is atomic on its own (all rows or none, the primary key still
//! refusing a version written by someone else), so it is sent alone.

use cqrs_es::persist::{PersistenceError, SerializedEvent};
use sqlx::{PgPool, SqlitePool};

const HEAD: &str =
    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) VALUES ";

/// The `INSERT` of `rows` events, placeholders `$1…`.
fn statement(rows: usize) -> String {
    let mut sql = String::from(HEAD);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        let n = row * 7;
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
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

macro_rules! bound {
    ($db:ty, $sql:expr, $aggregate_type:expr, $events:expr) => {{
        let mut query = sqlx::query::<$db>($sql);
        for event in $events {
            query = query
                .bind($aggregate_type)
                .bind(event.aggregate_id.as_str())
                .bind(event.sequence as i64)
                .bind(event.event_type.as_str())
                .bind(event.event_version.as_str())
                .bind(&event.payload)
                .bind(&event.metadata);
        }
        query
    }};
}

/// Runs the `INSERT` of `$events` on `$pool`; a violation of the primary
/// key (`$conflict`: 23505 on PostgreSQL, 1555 on SQLite) means another
/// writer took one of these versions first.
macro_rules! append {
    ($db:ty, $pool:expr, $aggregate_type:expr, $events:expr, $conflict:literal) => {{
        if $events.is_empty() {
            return Ok(());
        }
        let sql = statement($events.len());
        bound!($db, &sql, $aggregate_type, $events)
            .execute($pool)
            .await
            .map(drop)
            .map_err(|e| persistence_error(e, $conflict))
    }};
}

/// Inserts the events of one aggregate on PostgreSQL in one statement.
pub async fn append_postgres(
    pool: &PgPool,
    aggregate_type: &str,
    events: &[SerializedEvent],
) -> Result<(), PersistenceError> {
    append!(sqlx::Postgres, pool, aggregate_type, events, "23505")
}

/// The same on SQLite.
pub async fn append_sqlite(
    pool: &SqlitePool,
    aggregate_type: &str,
    events: &[SerializedEvent],
) -> Result<(), PersistenceError> {
    append!(sqlx::Sqlite, pool, aggregate_type, events, "1555")
}

fn persistence_error(error: sqlx::Error, conflict_code: &str) -> PersistenceError {
    match &error {
        sqlx::Error::Database(e) if e.code().as_deref() == Some(conflict_code) => PersistenceError::OptimisticLockError,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => PersistenceError::ConnectionError(Box::new(error)),
        _ => PersistenceError::UnknownError(Box::new(error)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_events_are_one_statement_with_fourteen_values() {
        let sql = super::statement(2);
        assert!(sql.ends_with("VALUES ($1, $2, $3, $4, $5, $6, $7), ($8, $9, $10, $11, $12, $13, $14)"));
    }
}
