//! Organisations with their user counts.

use application::feed::StoredEvent;
use async_trait::async_trait;
use domain::organisation::OrganisationEvent;
use domain::user::UserEvent;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::{ProjectionError, Projector, decode};

pub struct OrganisationsView;

/// One row of the view.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OrganisationRow {
    pub organisation_id: String,
    pub name: String,
    pub created_at: String,
    pub user_count: i64,
}

#[async_trait]
impl Projector for OrganisationsView {
    fn name(&self) -> &'static str {
        "organisations"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["organisation", "user"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type == "user" {
            return count_user(conn, event).await;
        }
        match decode::<OrganisationEvent>(event)? {
            OrganisationEvent::OrganisationCreated {
                organisation_id,
                name,
                created_at,
            } => {
                sqlx::query("INSERT INTO organisations_view (organisation_id, name, created_at, user_count) VALUES ($1, $2, $3, 0)")
                    .bind(organisation_id.to_string())
                    .bind(name)
                    .bind(created_at.to_rfc3339())
                    .execute(conn)
                    .await?;
            }
            OrganisationEvent::OrganisationRenamed { name } => {
                sqlx::query("UPDATE organisations_view SET name = $1 WHERE organisation_id = $2")
                    .bind(name)
                    .bind(&event.aggregate_id)
                    .execute(conn)
                    .await?;
            }
            // Holidays are read from the organisation itself.
            OrganisationEvent::HolidaysSet { .. } => {}
        }
        Ok(())
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM organisations_view").execute(conn).await?;
        Ok(())
    }
}

async fn count_user(conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
    if let UserEvent::UserRegistered { organisation_id, .. } = decode::<UserEvent>(event)? {
        sqlx::query("UPDATE organisations_view SET user_count = user_count + 1 WHERE organisation_id = $1")
            .bind(organisation_id.to_string())
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// One organisation, if the view has it.
pub async fn get(pool: &AnyPool, organisation_id: &str) -> Result<Option<OrganisationRow>, ProjectionError> {
    let row = sqlx::query(
        "SELECT organisation_id, name, created_at, user_count FROM organisations_view WHERE organisation_id = $1",
    )
    .bind(organisation_id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(OrganisationRow {
            organisation_id: r.try_get(0)?,
            name: r.try_get(1)?,
            created_at: r.try_get(2)?,
            user_count: r.try_get(3)?,
        })
    })
    .transpose()
}

/// Every organisation's id, for work done across all of them.
pub async fn all_ids(pool: &AnyPool) -> Result<Vec<String>, ProjectionError> {
    let rows = sqlx::query("SELECT organisation_id FROM organisations_view ORDER BY organisation_id")
        .fetch_all(pool)
        .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}
