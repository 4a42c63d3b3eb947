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
use std::collections::HashMap;
use uuid::Uuid;

use crate::bulk::Rows;
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
        self.apply_all(conn, &[event]).await
    }

    /// Contact points seen over the batch in one multi-row upsert; any
    /// other customer event writes them first.
    async fn apply_all(&self, conn: &mut AnyConnection, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
        let mut seen = Seen::default();
        for event in events {
            if event.aggregate_type == "customer" {
                customer(conn, &mut seen, event).await?;
                continue;
            }
            let Some(Effect::Item(item)) = effect_of(event)? else {
                continue;
            };
            let (Some(customer_id), Some(point)) = (item.customer_id, item.counterpart.as_deref()) else {
                continue;
            };
            let (email, phone) = match item.channel {
                "email" => (Some(point.to_lowercase()), None),
                _ => (None, Some(point.to_string())),
            };
            seen.point(Point {
                customer_id,
                organisation_id: item.organisation_id,
                email,
                phone,
                name: None,
                at: stamp(item.at),
            });
        }
        seen.write(conn).await
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM customers_view").execute(conn).await?;
        Ok(())
    }
}

/// A contact point seen: its row, once (a name fills in where none was).
struct Point {
    customer_id: Uuid,
    organisation_id: Uuid,
    email: Option<String>,
    phone: Option<String>,
    name: Option<String>,
    at: String,
}

/// The points a batch has seen, one per customer: a point seen again fills
/// in only what its first sighting left empty, as its upsert would.
#[derive(Default)]
struct Seen {
    points: Vec<Point>,
    index: HashMap<Uuid, usize>,
}

impl Seen {
    fn point(&mut self, point: Point) {
        match self.index.get(&point.customer_id) {
            Some(&at) => {
                let first = &mut self.points[at];
                first.email = first.email.take().or(point.email);
                first.phone = first.phone.take().or(point.phone);
                first.name = first.name.take().or(point.name);
            }
            None => {
                self.index.insert(point.customer_id, self.points.len());
                self.points.push(point);
            }
        }
    }

    async fn write(&mut self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        self.index.clear();
        let mut rows = Rows::new(
            "INSERT INTO customers_view (customer_id, organisation_id, canonical_id, email, phone, name, created_at, \
             updated_at)",
            "ON CONFLICT (customer_id) DO UPDATE SET \
             name = COALESCE(customers_view.name, excluded.name), \
             email = COALESCE(customers_view.email, excluded.email), \
             phone = COALESCE(customers_view.phone, excluded.phone)",
        );
        for point in self.points.drain(..) {
            let id = point.customer_id.to_string();
            rows.push([
                (&id).into(),
                point.organisation_id.to_string().into(),
                id.into(),
                point.email.into(),
                point.phone.into(),
                point.name.into(),
                (&point.at).into(),
                point.at.into(),
            ]);
        }
        rows.write(conn).await
    }
}

/// A customer's own event: a point seen (gathered with the batch's), or a
/// change that reads and writes rows (the points gathered so far first).
async fn customer(conn: &mut AnyConnection, seen: &mut Seen, event: &StoredEvent) -> Result<(), ProjectionError> {
    let id = event.aggregate_id.as_str();
    let change = decode::<CustomerEvent>(event)?;
    match change {
        CustomerEvent::CustomerCreated {
            customer_id,
            organisation_id,
            email,
            name,
            at,
        } => {
            seen.point(Point {
                customer_id,
                organisation_id,
                email: Some(email.to_string()),
                phone: None,
                name,
                at: stamp(at),
            });
            return Ok(());
        }
        CustomerEvent::CustomerCreatedForPhone {
            customer_id,
            organisation_id,
            phone,
            name,
            at,
        } => {
            seen.point(Point {
                customer_id,
                organisation_id,
                email: None,
                phone: Some(phone),
                name,
                at: stamp(at),
            });
            return Ok(());
        }
        CustomerEvent::CustomerAbsorbed { .. } | CustomerEvent::CustomerReleased { .. } => return Ok(()),
        _ => {}
    }
    seen.write(conn).await?;
    match change {
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
        _ => Ok(()),
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
