//! The users list of each organisation (no password hashes).

use application::feed::StoredEvent;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::login::{LoginEvent, LoginHistory};
use domain::user::UserEvent;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::{ProjectionError, Projector, decode};

pub struct UsersView;

/// One row of the view.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UserRow {
    pub user_id: String,
    pub organisation_id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub active: bool,
    pub registered_at: String,
    pub last_login_at: Option<String>,
    pub version: i64,
    /// E.164.
    pub phone: Option<String>,
}

const COLUMNS: &str =
    "user_id, organisation_id, email, display_name, role, active, registered_at, last_login_at, version, phone";

#[async_trait]
impl Projector for UsersView {
    fn name(&self) -> &'static str {
        "users"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["user", "login"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type == LoginHistory::TYPE {
            return record_login(conn, event).await;
        }
        let id = &event.aggregate_id;
        let (sql, value): (&str, String) = match decode::<UserEvent>(event)? {
            UserEvent::UserRegistered {
                user_id,
                organisation_id,
                email,
                display_name,
                role,
                registered_at,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO users_view (user_id, organisation_id, email, display_name, role, active, registered_at, version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(user_id.to_string())
                .bind(organisation_id.to_string())
                .bind(email.to_string())
                .bind(display_name)
                .bind(role.as_str())
                .bind(1_i64)
                .bind(registered_at.to_rfc3339())
                .bind(event.sequence)
                .execute(conn)
                .await?;
                return Ok(());
            }
            UserEvent::UserRoleChanged { role } => (
                "UPDATE users_view SET role = $1, version = $2 WHERE user_id = $3",
                role.as_str().into(),
            ),
            UserEvent::UserRenamed { display_name } => (
                "UPDATE users_view SET display_name = $1, version = $2 WHERE user_id = $3",
                display_name,
            ),
            UserEvent::UserDeactivated => return set_active(conn, id, false, event.sequence).await,
            UserEvent::UserReactivated => return set_active(conn, id, true, event.sequence).await,
            UserEvent::UserPasswordChanged { .. } => {
                return set_version(conn, id, event.sequence).await;
            }
            UserEvent::UserPhoneSet { phone } => {
                sqlx::query("UPDATE users_view SET phone = $1, version = $2 WHERE user_id = $3")
                    .bind(phone)
                    .bind(event.sequence)
                    .bind(id)
                    .execute(conn)
                    .await?;
                return Ok(());
            }
        };
        sqlx::query(sql)
            .bind(value)
            .bind(event.sequence)
            .bind(id)
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM users_view").execute(conn).await?;
        Ok(())
    }
}

/// Logins are their own aggregate; the view shows the last one.
async fn record_login(conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
    if let LoginEvent::LoginSucceeded { user_id, at, .. } = decode::<LoginEvent>(event)? {
        sqlx::query("UPDATE users_view SET last_login_at = $1 WHERE user_id = $2")
            .bind(at.to_rfc3339())
            .bind(user_id.to_string())
            .execute(conn)
            .await?;
    }
    Ok(())
}

async fn set_active(conn: &mut AnyConnection, id: &str, active: bool, version: i64) -> Result<(), ProjectionError> {
    sqlx::query("UPDATE users_view SET active = $1, version = $2 WHERE user_id = $3")
        .bind(i64::from(active))
        .bind(version)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn set_version(conn: &mut AnyConnection, id: &str, version: i64) -> Result<(), ProjectionError> {
    sqlx::query("UPDATE users_view SET version = $1 WHERE user_id = $2")
        .bind(version)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

fn row(r: &AnyRow) -> Result<UserRow, ProjectionError> {
    Ok(UserRow {
        user_id: r.try_get(0)?,
        organisation_id: r.try_get(1)?,
        email: r.try_get(2)?,
        display_name: r.try_get(3)?,
        role: r.try_get(4)?,
        active: r.try_get::<i64, _>(5)? == 1,
        registered_at: r.try_get(6)?,
        last_login_at: r.try_get(7)?,
        version: r.try_get(8)?,
        phone: r.try_get(9)?,
    })
}

/// The organisation's users ordered by e-mail address, one page.
pub async fn list(
    pool: &AnyPool,
    organisation_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<UserRow>, ProjectionError> {
    let sql = format!("SELECT {COLUMNS} FROM users_view WHERE organisation_id = $1 ORDER BY email LIMIT $2 OFFSET $3");
    let rows = sqlx::query(&sql)
        .bind(organisation_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    rows.iter().map(row).collect()
}
