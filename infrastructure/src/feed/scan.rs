//! Reading committed events in position order, straight from the store.

use sqlx::Row;
use std::collections::HashMap;

use application::feed::StoredEvent;

use crate::database::EventDb;
use crate::error::InfraError;

const SQLITE_AFTER: &str = "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
     payload, metadata FROM events WHERE global_position > ? ORDER BY global_position LIMIT ?";
const POSTGRES_AFTER: &str = "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
     payload::text AS payload, metadata::text AS metadata FROM events WHERE global_position > $1 \
     ORDER BY global_position LIMIT $2";

/// Up to `limit` visible events after `position`, in position order.
///
/// On PostgreSQL this is not commit-safe for tailing (a late commit can land
/// behind the position); it serves rebuilds, whose stragglers arrive later
/// through the live feed.
pub async fn events_after(db: &EventDb, position: i64, limit: i64) -> Result<Vec<StoredEvent>, InfraError> {
    match db {
        EventDb::Sqlite(pool) => {
            let rows = sqlx::query(SQLITE_AFTER)
                .bind(position)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| decode(r.try_get(0)?, r)).collect()
        }
        EventDb::Postgres(pool) => {
            let rows = sqlx::query(POSTGRES_AFTER)
                .bind(position)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| decode(r.try_get(0)?, r)).collect()
        }
    }
}

/// Builds a [`StoredEvent`] from a row whose columns 1..=7 are the event's
/// type, id, sequence, event type, version, payload text and metadata text.
pub fn decode<'r, R>(position: i64, row: &'r R) -> Result<StoredEvent, InfraError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let payload: String = row.try_get(6)?;
    let metadata: String = row.try_get(7)?;
    Ok(StoredEvent {
        position,
        aggregate_type: row.try_get(1)?,
        aggregate_id: row.try_get(2)?,
        sequence: row.try_get(3)?,
        event_type: row.try_get(4)?,
        event_version: row.try_get(5)?,
        payload: serde_json::from_str(&payload).map_err(|e| InfraError::MalformedEvent(e.to_string()))?,
        metadata: serde_json::from_str::<HashMap<String, String>>(&metadata)
            .map_err(|e| InfraError::MalformedEvent(e.to_string()))?,
    })
}

/// The store read as an [`EventLog`].
pub struct StoreLog(pub crate::database::Database);

#[async_trait::async_trait]
impl application::feed::EventLog for StoreLog {
    async fn read_after(
        &self,
        position: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, application::error::StoreError> {
        Ok(events_after(&self.0.events, position, limit as i64).await?)
    }

    async fn head(&self) -> Result<i64, application::error::StoreError> {
        Ok(self.0.head_position().await?)
    }
}
