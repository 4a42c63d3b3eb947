//! Where each watched folder was read up to: its UIDVALIDITY and the last
//! UID recorded. Only the lease holder may move a cursor, so a poller that
//! lost its lease cannot write over its successor's progress.

use sqlx::{AnyPool, Row};
use uuid::Uuid;

/// A folder's UIDVALIDITY and the last UID whose message was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub uidvalidity: u32,
    pub last_uid: u32,
}

/// The cursors table.
#[derive(Debug, Clone)]
pub struct Cursors {
    pub pool: AnyPool,
}

impl Cursors {
    /// The folder's cursor, if it was ever read.
    pub async fn get(&self, account_id: Uuid, folder: &str) -> Result<Option<Cursor>, sqlx::Error> {
        let row = sqlx::query("SELECT uidvalidity, last_uid FROM mail_cursors WHERE account_id = $1 AND folder = $2")
            .bind(account_id.to_string())
            .bind(folder)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let number = |i: usize| -> Result<u32, sqlx::Error> {
            let value: i64 = row.try_get(i)?;
            u32::try_from(value).map_err(|e| sqlx::Error::Decode(Box::new(e)))
        };
        Ok(Some(Cursor {
            uidvalidity: number(0)?,
            last_uid: number(1)?,
        }))
    }

    /// Moves the folder's cursor, if `holder` holds the account's lease;
    /// whether it did.
    pub async fn save(
        &self,
        account_id: Uuid,
        folder: &str,
        cursor: Cursor,
        holder: &str,
    ) -> Result<bool, sqlx::Error> {
        let saved = sqlx::query(
            "INSERT INTO mail_cursors (account_id, folder, uidvalidity, last_uid, updated_at) \
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS \
               (SELECT 1 FROM mail_leases WHERE account_id = $1 AND holder = $6) \
             ON CONFLICT (account_id, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, \
               last_uid = excluded.last_uid, updated_at = excluded.updated_at",
        )
        .bind(account_id.to_string())
        .bind(folder)
        .bind(i64::from(cursor.uidvalidity))
        .bind(i64::from(cursor.last_uid))
        .bind(chrono::Utc::now().to_rfc3339())
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(saved.rows_affected() == 1)
    }
}
