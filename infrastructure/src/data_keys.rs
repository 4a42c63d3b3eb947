//! Wrapped data keys in the database: the only copy of each integration's
//! data key. Deleting a row is crypto-shredding.

use async_trait::async_trait;
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use application::cipher::{DataKeyStore, WrappedKey};
use application::error::StoreError;

pub struct SqlDataKeys(pub AnyPool);

fn store_error(error: sqlx::Error) -> StoreError {
    StoreError(format!("data keys: {error}"))
}

fn row_to_key(row: &sqlx::any::AnyRow) -> Result<WrappedKey, StoreError> {
    let uuid = |i: usize| -> Result<Uuid, StoreError> {
        let text: String = row.try_get(i).map_err(store_error)?;
        Uuid::try_parse(&text).map_err(|e| StoreError(e.to_string()))
    };
    Ok(WrappedKey {
        data_key_id: uuid(0)?,
        integration_id: uuid(1)?,
        master_key_id: row.try_get(2).map_err(store_error)?,
        wrapped: row.try_get(3).map_err(store_error)?,
    })
}

const COLUMNS: &str = "data_key_id, integration_id, master_key_id, wrapped";

#[async_trait]
impl DataKeyStore for SqlDataKeys {
    async fn put(&self, key: &WrappedKey) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO integration_data_keys (data_key_id, integration_id, master_key_id, wrapped) VALUES ($1, $2, $3, $4)")
            .bind(key.data_key_id.to_string())
            .bind(key.integration_id.to_string())
            .bind(&key.master_key_id)
            .bind(&key.wrapped)
            .execute(&self.0)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn get(&self, data_key_id: Uuid) -> Result<Option<WrappedKey>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM integration_data_keys WHERE data_key_id = $1");
        let row = sqlx::query(&sql)
            .bind(data_key_id.to_string())
            .fetch_optional(&self.0)
            .await
            .map_err(store_error)?;
        row.as_ref().map(row_to_key).transpose()
    }

    async fn replace(&self, key: &WrappedKey) -> Result<(), StoreError> {
        sqlx::query("UPDATE integration_data_keys SET master_key_id = $1, wrapped = $2 WHERE data_key_id = $3")
            .bind(&key.master_key_id)
            .bind(&key.wrapped)
            .bind(key.data_key_id.to_string())
            .execute(&self.0)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn destroy_for(&self, integration_id: Uuid, keep: Option<Uuid>) -> Result<u64, StoreError> {
        let keep = keep.map(|k| k.to_string()).unwrap_or_default();
        let done = sqlx::query("DELETE FROM integration_data_keys WHERE integration_id = $1 AND data_key_id <> $2")
            .bind(integration_id.to_string())
            .bind(keep)
            .execute(&self.0)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn all(&self) -> Result<Vec<WrappedKey>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM integration_data_keys ORDER BY data_key_id");
        let rows = sqlx::query(&sql).fetch_all(&self.0).await.map_err(store_error)?;
        rows.iter().map(row_to_key).collect()
    }
}
