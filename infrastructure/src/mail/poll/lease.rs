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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::Database;
    use crate::mail::poll::{Cursor, Cursors};

    async fn database() -> (Database, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = crate::Settings::defaults().unwrap();
        settings.data_dir = dir.path().to_path_buf();
        let db = Database::connect(&settings).await.unwrap();
        db.migrate().await.unwrap();
        (db, dir)
    }

    fn leases(db: &Database, ttl_ms: u64) -> Leases {
        Leases {
            pool: db.read.clone(),
            ttl: Duration::from_millis(ttl_ms),
        }
    }

    const ACCOUNT: Uuid = Uuid::from_u128(1);

    #[tokio::test]
    async fn a_held_lease_is_not_taken_and_its_holder_keeps_renewing_it() {
        let (db, _dir) = database().await;
        let leases = leases(&db, 60_000);
        assert!(leases.acquire(ACCOUNT, "a").await.unwrap());
        assert!(!leases.acquire(ACCOUNT, "b").await.unwrap());
        assert!(leases.renew(ACCOUNT, "a").await.unwrap());
        assert!(!leases.renew(ACCOUNT, "b").await.unwrap());
        assert_eq!(leases.holder(ACCOUNT).await.unwrap().as_deref(), Some("a"));
    }

    #[tokio::test]
    async fn a_lapsed_lease_is_taken_over_and_its_old_holder_cannot_renew_it() {
        let (db, _dir) = database().await;
        let short = leases(&db, 50);
        assert!(short.acquire(ACCOUNT, "a").await.unwrap());
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(short.acquire(ACCOUNT, "b").await.unwrap());
        assert!(!short.renew(ACCOUNT, "a").await.unwrap());
        assert_eq!(short.holder(ACCOUNT).await.unwrap().as_deref(), Some("b"));
    }

    #[tokio::test]
    async fn of_many_racing_for_a_free_lease_exactly_one_wins() {
        let (db, _dir) = database().await;
        let leases = leases(&db, 60_000);
        let racers = (0..8).map(|n| {
            let leases = leases.clone();
            tokio::spawn(async move { leases.acquire(ACCOUNT, &format!("holder-{n}")).await.unwrap() })
        });
        let won = futures::future::join_all(racers)
            .await
            .into_iter()
            .filter(|w| *w.as_ref().unwrap())
            .count();
        assert_eq!(won, 1);
    }

    #[tokio::test]
    async fn a_released_lease_is_free_at_once() {
        let (db, _dir) = database().await;
        let leases = leases(&db, 60_000);
        assert!(leases.acquire(ACCOUNT, "a").await.unwrap());
        leases.release(ACCOUNT, "b").await.unwrap();
        assert!(!leases.acquire(ACCOUNT, "b").await.unwrap(), "only the holder releases");
        leases.release(ACCOUNT, "a").await.unwrap();
        assert!(leases.acquire(ACCOUNT, "b").await.unwrap());
    }

    #[tokio::test]
    async fn only_the_lease_holder_moves_a_cursor() {
        let (db, _dir) = database().await;
        let (leases, cursors) = (leases(&db, 60_000), Cursors { pool: db.read.clone() });
        let cursor = Cursor {
            uidvalidity: 7,
            last_uid: 40,
        };
        assert!(leases.acquire(ACCOUNT, "a").await.unwrap());
        assert!(!cursors.save(ACCOUNT, "INBOX", cursor, "b").await.unwrap());
        assert_eq!(cursors.get(ACCOUNT, "INBOX").await.unwrap(), None);
        assert!(cursors.save(ACCOUNT, "INBOX", cursor, "a").await.unwrap());
        let moved = Cursor { last_uid: 41, ..cursor };
        assert!(cursors.save(ACCOUNT, "INBOX", moved, "a").await.unwrap());
        assert_eq!(cursors.get(ACCOUNT, "INBOX").await.unwrap(), Some(moved));
    }
}
