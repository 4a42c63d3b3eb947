//! The responses remembered per `Idempotency-Key` and caller
//! (`idempotency_keys`), so the same request sent again answers the first
//! response, across processes and restarts. A row without a status is a
//! request still running. What is stored is what the caller chose to have
//! replayed: a response that holds a secret is stored without it.

use sqlx::{AnyPool, Row};

use crate::error::InfraError;

/// A remembered request: its hash and, once it finished, its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub request_hash: String,
    pub status: Option<i64>,
    pub content_type: Option<String>,
    pub body: Option<String>,
}

/// The table, over the read-model pool of either database.
#[derive(Debug, Clone)]
pub struct IdempotencyStore {
    pool: AnyPool,
    ttl_secs: i64,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl IdempotencyStore {
    /// Keys older than `ttl_hours` are forgotten when they are next used.
    pub fn new(pool: AnyPool, ttl_hours: u32) -> Self {
        Self {
            pool,
            ttl_secs: i64::from(ttl_hours) * 3600,
        }
    }

    /// Takes the key for this request; `false` when another request has it.
    pub async fn claim(&self, scope: &str, key: &str, request_hash: &str) -> Result<bool, InfraError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at < $3")
            .bind(scope)
            .bind(key)
            .bind(now() - self.ttl_secs)
            .execute(&self.pool)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Records the response a replay answers.
    pub async fn remember(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<(), InfraError> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, content_type = $2, body = $3 WHERE scope = $4 AND key = $5",
        )
        .bind(i64::from(status))
        .bind(content_type)
        .bind(body)
        .bind(scope)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives the key up, so the request may be sent again with it.
    pub async fn forget(&self, scope: &str, key: &str) -> Result<(), InfraError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The request remembered under the key, if any.
    pub async fn remembered(&self, scope: &str, key: &str) -> Result<Option<Remembered>, InfraError> {
        let row = sqlx::query(
            "SELECT request_hash, status, content_type, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Remembered {
            request_hash: row.try_get(0)?,
            status: row.try_get(1)?,
            content_type: row.try_get(2)?,
            body: row.try_get(3)?,
        }))
    }
}
