//! Customers: one person across e-mail, SMS, WhatsApp and calls. The list
//! and search, one customer with every contact point merged into them,
//! editing the name and notes, linking a contact point (which merges its
//! customer and their threads in) and splitting a merged customer off
//! again. Auditors read the audit log, not customers.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use application::customers::contact_point;
use domain::Role;
use domain::customer::{ContactPoint, Customer};
use projections::customers::{CustomerFilter, CustomerRow};

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::parse_id;
use crate::state::AppState;

/// The customer routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/customers", get(list))
        .route("/customers/{id}", get(one).patch(update))
        .route("/customers/{id}/contact-points", post(link))
        .route("/customers/{id}/unmerge", post(unmerge))
}

/// The customer list's search and page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Part of a name, an address or a number.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// From the previous page's `next_cursor`.
    #[param(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub cursor: Option<String>,
    /// 1–500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A customer with every contact point that is part of them.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerResponse {
    pub id: String,
    pub name: Option<String>,
    pub notes: Option<String>,
    pub emails: Vec<String>,
    /// E.164.
    pub phones: Vec<String>,
    /// The customers merged into this one.
    pub merged_from: Vec<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

impl CustomerResponse {
    /// From the read model: the customer on its own and every row merged into it.
    fn of_rows(top: &CustomerRow, rows: &[CustomerRow]) -> Self {
        let mine = rows.iter().filter(|r| r.canonical_id == top.customer_id);
        let (mut emails, mut phones, mut merged_from) = (Vec::new(), Vec::new(), Vec::new());
        for row in mine {
            emails.extend(row.email.clone());
            phones.extend(row.phone.clone());
            if row.customer_id != top.customer_id {
                merged_from.push(row.customer_id.clone());
            }
        }
        Self {
            id: top.customer_id.clone(),
            name: top.name.clone(),
            notes: top.notes.clone(),
            emails,
            phones,
            merged_from,
            created_at: Some(top.created_at.clone()),
            updated_at: Some(top.updated_at.clone()),
        }
    }

    /// From the aggregate, as a write left it.
    fn of_customer(customer: &Customer) -> Self {
        let (mut emails, mut phones) = (Vec::new(), Vec::new());
        for point in customer.contact_points() {
            match point {
                ContactPoint::Email(address) => emails.push(address.to_string()),
                ContactPoint::Phone(number) => phones.push(number),
            }
        }
        let stamp = |at: Option<DateTime<Utc>>| at.map(crate::routes::stamp);
        Self {
            id: customer.id.map(|id| id.to_string()).unwrap_or_default(),
            name: customer.name.clone(),
            notes: customer.notes.clone(),
            emails,
            phones,
            merged_from: customer.absorbed.keys().map(Uuid::to_string).collect(),
            created_at: stamp(customer.created_at),
            updated_at: stamp(customer.updated_at.or(customer.created_at)),
        }
    }
}

/// The name and notes; a field left out stays as it is, an empty text clears it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerUpdateBody {
    /// Kept to 200 characters.
    pub name: Option<String>,
    /// Kept to 2,000 characters.
    pub notes: Option<String>,
}

/// The kind of a contact point.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PointKind {
    Email,
    Phone,
}

/// A contact point to make the customer's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPointBody {
    pub kind: PointKind,
    /// An e-mail address, or a number (E.164 or the `0`-prefixed national form).
    #[schema(max_length = 320)]
    pub value: String,
}

/// A customer with the threads the caller may see.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerDetail {
    #[serde(flatten)]
    pub customer: CustomerResponse,
    /// Latest first, at most 100 (`GET /api/v1/communications/threads?customer_id=` pages them all).
    pub threads: Vec<crate::routes::threads::ThreadResponse>,
}

/// Threads a customer's detail shows.
const DETAIL_THREADS: i64 = 100;

/// What linking did, and the customer after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedResponse {
    #[serde(flatten)]
    pub customer: CustomerResponse,
    /// The customer that point belonged to, now part of this one.
    pub merged: Option<Uuid>,
}

fn may_read(caller: &Caller) -> Result<(), ApiError> {
    caller.require(|role| role != Role::Auditor)
}

/// The organisation's customers (each merged customer shows once, as the
/// customer it is part of), by id.
#[utoipa::path(get, path = "/api/v1/customers", params(CustomerQuery), tag = "customers", security(("bearer" = [])),
    responses((status = 200, body = List<CustomerResponse>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CustomerQuery>,
) -> Result<Json<List<CustomerResponse>>, ApiError> {
    may_read(&caller)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "limit must be 1 to 500").on_field("limit"),
        );
    }
    if query.q.as_deref().is_some_and(|q| q.chars().count() > 200) {
        return Err(
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "q is at most 200 characters").on_field("q"),
        );
    }
    let after = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let organisation = caller.organisation_id.to_string();
    let filter = CustomerFilter {
        text: query.q.filter(|q| !q.trim().is_empty()),
        after,
    };
    let mut tops = projections::customers::list(&state.db.read, &organisation, &filter, limit + 1).await?;
    let more = tops.len() as i64 > limit;
    tops.truncate(limit as usize);
    let ids: Vec<String> = tops.iter().map(|t| t.customer_id.clone()).collect();
    let rows = projections::customers::points_of(&state.db.read, &organisation, &ids).await?;
    let mut by_top: BTreeMap<&str, Vec<CustomerRow>> = BTreeMap::new();
    for row in &rows {
        by_top.entry(row.canonical_id.as_str()).or_default().push(row.clone());
    }
    let next_cursor = more.then(|| tops.last().map(|t| t.customer_id.clone())).flatten();
    let listed = tops
        .iter()
        .map(|top| CustomerResponse::of_rows(top, by_top.get(top.customer_id.as_str()).map_or(&[][..], Vec::as_slice)))
        .collect();
    let Json(mut page) = envelope::list(listed);
    page.next_cursor = next_cursor;
    Ok(Json(page))
}

fn parse_cursor(text: &str) -> Result<String, ApiError> {
    Uuid::try_parse(text)
        .ok()
        .filter(|_| text.len() == 36)
        .map(|id| id.to_string())
        .ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "not a cursor from this list").on_field("cursor")
        })
}

/// One customer with their contact points and threads; the id of a
/// customer merged into another finds that one.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path, description = "the customer's id")),
    responses((status = 200, body = Data<CustomerDetail>), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<CustomerDetail>>, ApiError> {
    may_read(&caller)?;
    let customer_id = parse_id(&id)?.to_string();
    let organisation = caller.organisation_id.to_string();
    let top = projections::customers::get(&state.db.read, &organisation, &customer_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let rows = projections::customers::points_of(&state.db.read, &organisation, std::slice::from_ref(&top.customer_id))
        .await?;
    let canonical = parse_id(&top.customer_id)?;
    let threads = crate::routes::threads::of_customer(&state, &caller, canonical, DETAIL_THREADS).await?;
    Ok(envelope::data(CustomerDetail {
        customer: CustomerResponse::of_rows(&top, &rows),
        threads,
    }))
}

/// Edits the customer's name and notes.
#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path, description = "the customer's id")), request_body = CustomerUpdateBody,
    responses((status = 200, body = Data<CustomerResponse>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the customer is part of another now"), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CustomerUpdateBody>,
) -> Result<Json<Data<CustomerResponse>>, ApiError> {
    may_read(&caller)?;
    let customer_id = parse_id(&id)?;
    let customer = state
        .customers()
        .update(&caller.acting(), customer_id, body.name, body.notes, &caller.metadata())
        .await?;
    Ok(envelope::data(CustomerResponse::of_customer(&customer)))
}

/// Makes a contact point the customer's. When it was another customer's,
/// that customer, with their contact points and threads, becomes part of
/// this one (`merged`); linking it again changes nothing.
#[utoipa::path(post, path = "/api/v1/customers/{id}/contact-points", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path, description = "the customer's id")), request_body = ContactPointBody,
    responses((status = 200, body = Data<LinkedResponse>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the customer is part of another now"),
        (status = 422, body = Problem, description = "not an e-mail address or a phone number")))]
pub async fn link(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ContactPointBody>,
) -> Result<Json<Data<LinkedResponse>>, ApiError> {
    may_read(&caller)?;
    let customer_id = parse_id(&id)?;
    let kind = match body.kind {
        PointKind::Email => "email",
        PointKind::Phone => "phone",
    };
    let point = contact_point(kind, &body.value)?;
    let customers = state.customers();
    let linked = customers
        .link(&caller.acting(), customer_id, point, &caller.metadata())
        .await?;
    let customer = customers.get(caller.organisation_id, linked.customer_id).await?;
    Ok(envelope::data(LinkedResponse {
        customer: CustomerResponse::of_customer(&customer),
        merged: linked.merged,
    }))
}

/// Splits a merged customer off again, with the contact points it came
/// with (managers and admins).
#[utoipa::path(post, path = "/api/v1/customers/{id}/unmerge", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path, description = "the id of the customer that was merged")),
    responses((status = 200, body = Data<CustomerResponse>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the customer is not merged into another")))]
pub async fn unmerge(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<CustomerResponse>>, ApiError> {
    may_read(&caller)?;
    let customer_id = parse_id(&id)?;
    let customers = state.customers();
    customers
        .unmerge(&caller.acting(), customer_id, &caller.metadata())
        .await?;
    let customer = customers.get(caller.organisation_id, customer_id).await?;
    Ok(envelope::data(CustomerResponse::of_customer(&customer)))
}
