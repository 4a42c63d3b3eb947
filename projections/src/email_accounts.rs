//! The organisation's e-mail accounts as listed in settings: their settings
//! (never a password), default flag and login health. Removed accounts leave.

use application::feed::StoredEvent;
use async_trait::async_trait;
use domain::email_account::{EmailAccountEvent, MailboxSettings};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::{ProjectionError, Projector, decode};

pub struct EmailAccountsView;

/// One row of the view.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EmailAccountRow {
    pub id: String,
    pub organisation_id: String,
    pub settings: MailboxSettings,
    pub needs_attention: bool,
    pub consecutive_failures: i64,
    pub last_error: Option<String>,
    pub added_at: String,
    pub updated_at: String,
}

fn settings_json(settings: &MailboxSettings) -> Result<String, ProjectionError> {
    serde_json::to_string(settings).map_err(|e| ProjectionError::UndecodableEvent {
        event_type: "EmailAccountAdded".into(),
        reason: e.to_string(),
    })
}

async fn upsert_settings(
    conn: &mut AnyConnection,
    event: &StoredEvent,
    settings: &MailboxSettings,
    at: &str,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "UPDATE email_accounts_view SET name = $1, address = $2, settings = $3, is_default = $4, updated_at = $5 \
         WHERE account_id = $6",
    )
    .bind(&settings.name)
    .bind(settings.address.as_str())
    .bind(settings_json(settings)?)
    .bind(i64::from(settings.is_default))
    .bind(at)
    .bind(&event.aggregate_id)
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl Projector for EmailAccountsView {
    fn name(&self) -> &'static str {
        "email_accounts"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["email_account"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        match decode::<EmailAccountEvent>(event)? {
            EmailAccountEvent::EmailAccountAdded {
                account_id,
                organisation_id,
                settings,
                at,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO email_accounts_view (account_id, organisation_id, name, address, settings, is_default, \
                     added_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(account_id.to_string())
                .bind(organisation_id.to_string())
                .bind(&settings.name)
                .bind(settings.address.as_str())
                .bind(settings_json(&settings)?)
                .bind(i64::from(settings.is_default))
                .bind(at.to_rfc3339())
                .execute(conn)
                .await?;
            }
            EmailAccountEvent::EmailAccountUpdated { settings, at, .. } => {
                upsert_settings(conn, event, &settings, &at.to_rfc3339()).await?;
            }
            EmailAccountEvent::EmailAccountRemoved { .. } => {
                sqlx::query("DELETE FROM email_accounts_view WHERE account_id = $1")
                    .bind(&event.aggregate_id)
                    .execute(conn)
                    .await?;
            }
            EmailAccountEvent::MailLoginFailed {
                error,
                consecutive,
                needs_attention,
                ..
            } => {
                sqlx::query(
                    "UPDATE email_accounts_view SET needs_attention = $1, consecutive_failures = $2, last_error = $3 \
                     WHERE account_id = $4",
                )
                .bind(i64::from(needs_attention))
                .bind(i64::from(consecutive))
                .bind(error)
                .bind(&event.aggregate_id)
                .execute(conn)
                .await?;
            }
            EmailAccountEvent::MailLoginRecovered { .. } => {
                sqlx::query(
                    "UPDATE email_accounts_view SET needs_attention = 0, consecutive_failures = 0, last_error = NULL \
                     WHERE account_id = $1",
                )
                .bind(&event.aggregate_id)
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM email_accounts_view").execute(conn).await?;
        Ok(())
    }
}

const COLUMNS: &str =
    "account_id, organisation_id, settings, needs_attention, consecutive_failures, last_error, added_at, updated_at";

fn row(r: &AnyRow) -> Result<EmailAccountRow, ProjectionError> {
    let text: String = r.try_get(2)?;
    let settings = serde_json::from_str(&text).map_err(|e| ProjectionError::UndecodableEvent {
        event_type: "email_accounts_view.settings".into(),
        reason: e.to_string(),
    })?;
    Ok(EmailAccountRow {
        id: r.try_get(0)?,
        organisation_id: r.try_get(1)?,
        settings,
        needs_attention: r.try_get::<i64, _>(3)? != 0,
        consecutive_failures: r.try_get(4)?,
        last_error: r.try_get(5)?,
        added_at: r.try_get(6)?,
        updated_at: r.try_get(7)?,
    })
}

/// The organisation's accounts, default first, then by address.
pub async fn list(pool: &AnyPool, organisation_id: &str) -> Result<Vec<EmailAccountRow>, ProjectionError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM email_accounts_view WHERE organisation_id = $1 ORDER BY is_default DESC, address, account_id"
    );
    let rows = sqlx::query(&sql).bind(organisation_id).fetch_all(pool).await?;
    rows.iter().map(row).collect()
}

/// Every live account of every organisation, for the pollers.
pub async fn all(pool: &AnyPool) -> Result<Vec<EmailAccountRow>, ProjectionError> {
    let sql = format!("SELECT {COLUMNS} FROM email_accounts_view ORDER BY account_id");
    let rows = sqlx::query(&sql).fetch_all(pool).await?;
    rows.iter().map(row).collect()
}
