//! The organisation's phone numbers: what Exotel says of each, who it is
//! assigned to, and which one is primary.

use application::feed::StoredEvent;
use async_trait::async_trait;
use domain::phone_numbers::PhoneNumbersEvent;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::{ProjectionError, Projector, decode};

pub struct PhoneNumbersView;

/// One row of the view.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PhoneNumberRow {
    pub id: String,
    pub integration_id: String,
    pub phone_number: String,
    pub exotel_sid: String,
    pub display_name: Option<String>,
    pub number_type: String,
    pub region: Option<String>,
    pub can_call: bool,
    pub can_sms: bool,
    pub is_active: bool,
    pub is_primary: bool,
    pub assigned_to_user_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[async_trait]
impl Projector for PhoneNumbersView {
    fn name(&self) -> &'static str {
        "phone_numbers"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["phone_numbers"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        match decode::<PhoneNumbersEvent>(event)? {
            PhoneNumbersEvent::PhoneNumberAdded {
                organisation_id,
                number_id,
                integration_id,
                phone_number,
                details,
                at,
            } => {
                sqlx::query("DELETE FROM phone_numbers_view WHERE number_id = $1")
                    .bind(number_id.to_string())
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(
                    "INSERT INTO phone_numbers_view (number_id, organisation_id, integration_id, phone_number, \
                     exotel_sid, display_name, number_type, region, can_call, can_sms, is_active, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11)",
                )
                .bind(number_id.to_string())
                .bind(organisation_id.to_string())
                .bind(integration_id.to_string())
                .bind(phone_number)
                .bind(details.exotel_sid)
                .bind(details.display_name)
                .bind(details.number_type)
                .bind(details.region)
                .bind(i64::from(details.can_call))
                .bind(i64::from(details.can_sms))
                .bind(at.to_rfc3339())
                .execute(conn)
                .await?;
            }
            PhoneNumbersEvent::PhoneNumberUpdated { number_id, details, at } => {
                sqlx::query(
                    "UPDATE phone_numbers_view SET exotel_sid = $1, display_name = $2, number_type = $3, region = $4, \
                     can_call = $5, can_sms = $6, updated_at = $7 WHERE number_id = $8",
                )
                .bind(details.exotel_sid)
                .bind(details.display_name)
                .bind(details.number_type)
                .bind(details.region)
                .bind(i64::from(details.can_call))
                .bind(i64::from(details.can_sms))
                .bind(at.to_rfc3339())
                .bind(number_id.to_string())
                .execute(conn)
                .await?;
            }
            PhoneNumbersEvent::PhoneNumberReleased { number_id, at } => {
                sqlx::query(
                    "UPDATE phone_numbers_view SET is_active = 0, is_primary = 0, assigned_to_user_id = NULL, \
                     updated_at = $1 WHERE number_id = $2",
                )
                .bind(at.to_rfc3339())
                .bind(number_id.to_string())
                .execute(conn)
                .await?;
            }
            PhoneNumbersEvent::PhoneNumberAssigned {
                number_id, user_id, at, ..
            } => {
                sqlx::query(
                    "UPDATE phone_numbers_view SET assigned_to_user_id = $1, updated_at = $2 WHERE number_id = $3",
                )
                .bind(user_id.map(|u| u.to_string()))
                .bind(at.to_rfc3339())
                .bind(number_id.to_string())
                .execute(conn)
                .await?;
            }
            PhoneNumbersEvent::PrimaryPhoneNumberChosen { number_id, .. } => {
                sqlx::query("UPDATE phone_numbers_view SET is_primary = CASE WHEN number_id = $1 THEN 1 ELSE 0 END WHERE organisation_id = $2")
                    .bind(number_id.to_string())
                    .bind(&event.aggregate_id)
                    .execute(conn)
                    .await?;
            }
        }
        Ok(())
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM phone_numbers_view").execute(conn).await?;
        Ok(())
    }
}

const COLUMNS: &str = "number_id, integration_id, phone_number, exotel_sid, display_name, number_type, region, \
     can_call, can_sms, is_active, is_primary, assigned_to_user_id, created_at, updated_at";

fn row(r: &AnyRow) -> Result<PhoneNumberRow, ProjectionError> {
    let flag = |i: usize| -> Result<bool, ProjectionError> { Ok(r.try_get::<i64, _>(i)? != 0) };
    Ok(PhoneNumberRow {
        id: r.try_get(0)?,
        integration_id: r.try_get(1)?,
        phone_number: r.try_get(2)?,
        exotel_sid: r.try_get(3)?,
        display_name: r.try_get(4)?,
        number_type: r.try_get(5)?,
        region: r.try_get(6)?,
        can_call: flag(7)?,
        can_sms: flag(8)?,
        is_active: flag(9)?,
        is_primary: flag(10)?,
        assigned_to_user_id: r.try_get(11)?,
        created_at: r.try_get(12)?,
        updated_at: r.try_get(13)?,
    })
}

/// The organisation's numbers, active first, primary first, then by number.
pub async fn list(pool: &AnyPool, organisation_id: &str) -> Result<Vec<PhoneNumberRow>, ProjectionError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM phone_numbers_view WHERE organisation_id = $1 \
         ORDER BY is_active DESC, is_primary DESC, phone_number"
    );
    let rows = sqlx::query(&sql).bind(organisation_id).fetch_all(pool).await?;
    rows.iter().map(row).collect()
}

/// One number of the organisation.
pub async fn get(
    pool: &AnyPool,
    organisation_id: &str,
    number_id: &str,
) -> Result<Option<PhoneNumberRow>, ProjectionError> {
    let sql = format!("SELECT {COLUMNS} FROM phone_numbers_view WHERE organisation_id = $1 AND number_id = $2");
    let found = sqlx::query(&sql)
        .bind(organisation_id)
        .bind(number_id)
        .fetch_optional(pool)
        .await?;
    found.as_ref().map(row).transpose()
}
