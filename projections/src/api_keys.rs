//! The API keys of each organisation: names, roles, dates. Never a secret
//! or its digest.

use application::feed::StoredEvent;
use async_trait::async_trait;
use domain::api_key::ApiKeyEvent;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::bulk::Rows;
use crate::{ProjectionError, Projector, decode};

pub struct ApiKeysView;

/// One row of the view.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiKeyRow {
    pub key_id: String,
    pub organisation_id: String,
    pub name: String,
    pub role: String,
    pub created_by: Option<String>,
    pub issued_at: String,
    pub revoked_at: Option<String>,
}

#[async_trait]
impl Projector for ApiKeysView {
    fn name(&self) -> &'static str {
        "api_keys"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["api_key"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        self.apply_all(conn, &[event]).await
    }

    /// New keys in one multi-row insert; a revocation writes the keys
    /// before it first, so it finds its row.
    async fn apply_all(&self, conn: &mut AnyConnection, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
        let mut issued = Rows::new(
            "INSERT INTO api_keys_view (key_id, organisation_id, name, role, created_by, issued_at, version)",
            "",
        );
        for event in events {
            match decode::<ApiKeyEvent>(event)? {
                ApiKeyEvent::ApiKeyIssued {
                    key_id,
                    organisation_id,
                    name,
                    role,
                    created_by,
                    issued_at,
                    ..
                } => issued.push([
                    key_id.to_string().into(),
                    organisation_id.to_string().into(),
                    name.into(),
                    role.as_str().into(),
                    created_by.map(|id| id.to_string()).into(),
                    issued_at.to_rfc3339().into(),
                    event.sequence.into(),
                ]),
                ApiKeyEvent::ApiKeyRevoked { revoked_at } => {
                    issued.write(conn).await?;
                    sqlx::query("UPDATE api_keys_view SET revoked_at = $1, version = $2 WHERE key_id = $3")
                        .bind(revoked_at.to_rfc3339())
                        .bind(event.sequence)
                        .bind(&event.aggregate_id)
                        .execute(&mut *conn)
                        .await?;
                }
            }
        }
        issued.write(conn).await
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM api_keys_view").execute(conn).await?;
        Ok(())
    }
}

fn row(r: &AnyRow) -> Result<ApiKeyRow, ProjectionError> {
    Ok(ApiKeyRow {
        key_id: r.try_get(0)?,
        organisation_id: r.try_get(1)?,
        name: r.try_get(2)?,
        role: r.try_get(3)?,
        created_by: r.try_get(4)?,
        issued_at: r.try_get(5)?,
        revoked_at: r.try_get(6)?,
    })
}

/// The organisation's keys, newest first, one page.
pub async fn list(
    pool: &AnyPool,
    organisation_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<ApiKeyRow>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT key_id, organisation_id, name, role, created_by, issued_at, revoked_at FROM api_keys_view \
         WHERE organisation_id = $1 ORDER BY issued_at DESC, key_id LIMIT $2 OFFSET $3",
    )
    .bind(organisation_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    rows.iter().map(row).collect()
}
