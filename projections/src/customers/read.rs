//! Reading customers: search by name, number or address, one customer with
//! every contact point now part of it, and the look-up the write side needs.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use application::customers::{CustomerDirectory, CustomerSummary};
use application::error::StoreError;

use crate::ProjectionError;

const COLUMNS: &str =
    "customer_id, organisation_id, canonical_id, merged_into, email, phone, name, notes, created_at, updated_at";

/// One contact point's row: a customer as first seen.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRow {
    pub customer_id: String,
    pub organisation_id: String,
    /// The customer it is part of now (its own id while on its own).
    pub canonical_id: String,
    pub merged_into: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub notes: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What a customer list shows.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Part of a name, a number or an address, any case.
    pub text: Option<String>,
    /// Ids after this one (the list is ordered by id).
    pub after: Option<String>,
}

fn row(r: &AnyRow) -> Result<CustomerRow, ProjectionError> {
    Ok(CustomerRow {
        customer_id: r.try_get(0)?,
        organisation_id: r.try_get(1)?,
        canonical_id: r.try_get(2)?,
        merged_into: r.try_get(3)?,
        email: r.try_get(4)?,
        phone: r.try_get(5)?,
        name: r.try_get(6)?,
        notes: r.try_get(7)?,
        created_at: r.try_get(8)?,
        updated_at: r.try_get(9)?,
    })
}

/// One page of the organisation's customers (those on their own), by id;
/// a search matches any of a customer's points.
pub async fn list(
    pool: &AnyPool,
    organisation_id: &str,
    filter: &CustomerFilter,
    limit: i64,
) -> Result<Vec<CustomerRow>, ProjectionError> {
    let mut sql = format!(
        "SELECT {COLUMNS} FROM customers_view WHERE organisation_id = $1 AND canonical_id = customer_id \
         AND customer_id > $2"
    );
    let pattern = filter
        .text
        .as_deref()
        .map(|t| format!("%{}%", t.trim().to_lowercase().replace(['%', '_'], "")));
    if pattern.is_some() {
        sql.push_str(
            " AND customer_id IN (SELECT m.canonical_id FROM customers_view m WHERE m.organisation_id = $1 AND \
             (LOWER(COALESCE(m.name, '')) LIKE $3 OR LOWER(COALESCE(m.email, '')) LIKE $3 \
             OR COALESCE(m.phone, '') LIKE $3)) ORDER BY customer_id LIMIT $4",
        );
    } else {
        sql.push_str(" ORDER BY customer_id LIMIT $3");
    }
    let mut query = sqlx::query(&sql)
        .bind(organisation_id)
        .bind(filter.after.clone().unwrap_or_default());
    if let Some(pattern) = pattern {
        query = query.bind(pattern);
    }
    let rows = query.bind(limit).fetch_all(pool).await?;
    rows.iter().map(row).collect()
}

/// The customer `customer_id` is part of now.
pub async fn get(
    pool: &AnyPool,
    organisation_id: &str,
    customer_id: &str,
) -> Result<Option<CustomerRow>, ProjectionError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM customers_view WHERE organisation_id = $1 AND customer_id = \
         (SELECT k.canonical_id FROM customers_view k WHERE k.customer_id = $2 AND k.organisation_id = $1)"
    );
    let found = sqlx::query(&sql)
        .bind(organisation_id)
        .bind(customer_id)
        .fetch_optional(pool)
        .await?;
    found.as_ref().map(row).transpose()
}

/// Every point now part of the customers `ids`, by customer.
pub async fn points_of(
    pool: &AnyPool,
    organisation_id: &str,
    ids: &[String],
) -> Result<Vec<CustomerRow>, ProjectionError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM customers_view WHERE organisation_id = $1 AND canonical_id IN ({}) \
         ORDER BY canonical_id, created_at, customer_id",
        list.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(organisation_id);
    for id in ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(row).collect()
}

/// The customer directory over the view.
#[derive(Clone)]
pub struct SqlCustomerDirectory {
    pool: AnyPool,
}

impl SqlCustomerDirectory {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl CustomerDirectory for SqlCustomerDirectory {
    async fn find(&self, organisation_id: Uuid, customer_id: Uuid) -> Result<Option<CustomerSummary>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM customers_view WHERE organisation_id = $1 AND customer_id = $2");
        let found = sqlx::query(&sql)
            .bind(organisation_id.to_string())
            .bind(customer_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(ProjectionError::from)?;
        let Some(found) = found.as_ref().map(row).transpose()? else {
            return Ok(None);
        };
        let parse = |t: &str| Uuid::parse_str(t).ok();
        Ok(Some(CustomerSummary {
            customer_id,
            canonical_id: parse(&found.canonical_id).unwrap_or(customer_id),
            email: found.email,
            phone: found.phone,
            name: found.name,
        }))
    }
}
