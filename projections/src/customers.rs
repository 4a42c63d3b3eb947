//! Customers as one person across channels: one row per contact point (a
//! customer as first seen, by address or number), each pointing at the
//! customer it is now part of. Rows come from the customer aggregate's
//! events and from every message or call to or from a point not seen
//! before; a merge is read from the absorbed side's event alone, so a merge
//! recorded there is never lost.

mod read;

use application::feed::StoredEvent;
use async_trait::async_trait;
use domain::customer::CustomerEvent;
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::calls::stamp;
use crate::threads::effect::{Effect, effect_of};
use crate::{ProjectionError, Projector, decode};

pub use read::{CustomerFilter, CustomerRow, SqlCustomerDirectory, get, list, points_of};

/// Deepest chain of merges followed when a customer stands on its own again.
const MAX_MERGE_DEPTH: usize = 64;

pub struct CustomersView;

#[async_trait]
impl Projector for CustomersView {
    fn name(&self) -> &'static str {
        "customers"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &[
            "customer",
            "inbound_email",
            "outbound_email",
            "inbound_message",
            "outbound_message",
            "call",
        ]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type == "customer" {
            return customer(conn, event).await;
        }
        let Some(Effect::Item(item)) = effect_of(event)? else {
            return Ok(());
        };
        let (Some(customer_id), Some(point)) = (item.customer_id, item.counterpart.as_deref()) else {
            return Ok(());
        };
        let (email, phone) = match item.channel {
            "email" => (Some(point.to_lowercase()), None),
            _ => (None, Some(point.to_string())),
        };
        seen(
            conn,
            customer_id,
            item.organisation_id,
            email,
            phone,
            None,
            &stamp(item.at),
        )
        .await
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM customers_view").execute(conn).await?;
        Ok(())
    }
}

/// A contact point seen: its row, once (a name fills in where none was).
async fn seen(
    conn: &mut AnyConnection,
    customer_id: Uuid,
    organisation_id: Uuid,
    email: Option<String>,
    phone: Option<String>,
    name: Option<String>,
    at: &str,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO customers_view (customer_id, organisation_id, canonical_id, email, phone, name, created_at, \
         updated_at) VALUES ($1, $2, $1, $3, $4, $5, $6, $6) ON CONFLICT (customer_id) DO UPDATE SET \
         name = COALESCE(customers_view.name, excluded.name), \
         email = COALESCE(customers_view.email, excluded.email), \
         phone = COALESCE(customers_view.phone, excluded.phone)",
    )
    .bind(customer_id.to_string())
    .bind(organisation_id.to_string())
    .bind(email)
    .bind(phone)
    .bind(name)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn customer(conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
    let id = event.aggregate_id.as_str();
    match decode::<CustomerEvent>(event)? {
        CustomerEvent::CustomerCreated {
            customer_id,
            organisation_id,
            email,
            name,
            at,
        } => {
            seen(
                conn,
                customer_id,
                organisation_id,
                Some(email.to_string()),
                None,
                name,
                &stamp(at),
            )
            .await
        }
        CustomerEvent::CustomerCreatedForPhone {
            customer_id,
            organisation_id,
            phone,
            name,
            at,
        } => seen(conn, customer_id, organisation_id, None, Some(phone), name, &stamp(at)).await,
        CustomerEvent::CustomerUpdated { name, notes, at } => {
            sqlx::query("UPDATE customers_view SET name = $1, notes = $2, updated_at = $3 WHERE customer_id = $4")
                .bind(name)
                .bind(notes)
                .bind(stamp(at))
                .bind(id)
                .execute(conn)
                .await?;
            Ok(())
        }
        CustomerEvent::CustomerMerged { into, at } => merged(conn, id, &into.to_string(), &stamp(at)).await,
        CustomerEvent::CustomerUnmerged { at, .. } => unmerged(conn, id, &stamp(at)).await,
        CustomerEvent::CustomerAbsorbed { .. } | CustomerEvent::CustomerReleased { .. } => Ok(()),
    }
}

/// `id` and every point already part of it become part of what `into` is part of.
async fn merged(conn: &mut AnyConnection, id: &str, into: &str, at: &str) -> Result<(), ProjectionError> {
    sqlx::query("UPDATE customers_view SET merged_into = $1, updated_at = $2 WHERE customer_id = $3")
        .bind(into)
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let canonical: Option<String> =
        sqlx::query_scalar("SELECT canonical_id FROM customers_view WHERE customer_id = $1")
            .bind(into)
            .fetch_optional(&mut *conn)
            .await?;
    sqlx::query("UPDATE customers_view SET canonical_id = $1 WHERE canonical_id = $2")
        .bind(canonical.as_deref().unwrap_or(into))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// `id` stands on its own again, with every point that was merged into it
/// (directly or through others) and not into anyone else.
async fn unmerged(conn: &mut AnyConnection, id: &str, at: &str) -> Result<(), ProjectionError> {
    sqlx::query(
        "UPDATE customers_view SET merged_into = NULL, canonical_id = $1, updated_at = $2 WHERE customer_id = $1",
    )
    .bind(id)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    for _ in 0..MAX_MERGE_DEPTH {
        let moved = sqlx::query(
            "UPDATE customers_view SET canonical_id = $1 WHERE canonical_id <> $1 AND merged_into IN \
             (SELECT m.customer_id FROM customers_view m WHERE m.canonical_id = $1)",
        )
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if moved == 0 {
            break;
        }
    }
    Ok(())
}
