//! One poller per e-mail account across every process: a lease row per
//! account in `mail_leases`, taken with a conditional UPDATE or INSERT that
//! both PostgreSQL and SQLite run through sqlx `Any`. The holder renews it
//! well before it lapses; anyone may take a lapsed one. Times are Unix
//! milliseconds from each process's clock (keep clocks in sync, as for any
//! lease; the lease lasts far longer than ordinary skew).

use chrono::Utc;
use sqlx::AnyPool;
use std::time::Duration;
use uuid::Uuid;

/// The leases table, as one holder sees it.
#[derive(Debug, Clone)]
pub struct Leases {
    pub pool: AnyPool,
    pub ttl: Duration,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl Leases {
    fn expiry(&self) -> i64 {
        now_ms() + i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// Takes the account's lease for `holder` if it is free, lapsed or
    /// already `holder`'s; whether `holder` has it now.
    pub async fn acquire(&self, account_id: Uuid, holder: &str) -> Result<bool, sqlx::Error> {
        let taken = sqlx::query(
            "UPDATE mail_leases SET holder = $1, expires_at = $2 \
             WHERE account_id = $3 AND (holder = $1 OR expires_at < $4)",
        )
        .bind(holder)
        .bind(self.expiry())
        .bind(account_id.to_string())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(true);
        }
        let inserted = sqlx::query(
            "INSERT INTO mail_leases (account_id, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO NOTHING",
        )
        .bind(account_id.to_string())
        .bind(holder)
        .bind(self.expiry())
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Extends `holder`'s lease; false when it is someone else's now.
    pub async fn renew(&self, account_id: Uuid, holder: &str) -> Result<bool, sqlx::Error> {
        let renewed = sqlx::query("UPDATE mail_leases SET expires_at = $1 WHERE account_id = $2 AND holder = $3")
            .bind(self.expiry())
            .bind(account_id.to_string())
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Gives the lease up so another process may take it at once.
    pub async fn release(&self, account_id: Uuid, holder: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM mail_leases WHERE account_id = $1 AND holder = $2")
            .bind(account_id.to_string())
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The current holder of an account's lease, lapsed or not.
    pub async fn holder(&self, account_id: Uuid) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT holder FROM mail_leases WHERE account_id = $1")
            .bind(account_id.to_string())
            .fetch_optional(&self.pool)
            .await
    }
}
