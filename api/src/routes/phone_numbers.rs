//! Phone numbers: syncing the organisation's ExoPhones from Exotel, the
//! list, assignment to users and the primary number.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use application::AggregateStore;
use domain::integration::IntegrationKind;
use domain::phone_numbers::SyncCounts;
use projections::phone_numbers::PhoneNumberRow;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::integrations::may_configure;
use crate::routes::parse_id;
use crate::state::AppState;

/// What a sync found.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncReport {
    pub synced_numbers: usize,
    pub new_numbers: usize,
    pub updated_numbers: usize,
    pub released_numbers: usize,
}

impl From<SyncCounts> for SyncReport {
    fn from(counts: SyncCounts) -> Self {
        Self {
            synced_numbers: counts.synced,
            new_numbers: counts.new,
            updated_numbers: counts.updated,
            released_numbers: counts.released,
        }
    }
}

/// Fetches the organisation's ExoPhones and records what changed.
#[utoipa::path(post, path = "/api/v1/settings/integrations/exotel_phone/sync", tag = "phone numbers", security(("bearer" = [])),
    responses((status = 200, body = SyncReport), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn sync(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    may_configure(&state, &caller, IntegrationKind::ExotelPhone).await?;
    let counts = state
        .phone_numbers()
        .sync(caller.organisation_id, &state.integrations(), &caller.metadata())
        .await?;
    Ok(Json(json!({"success": true, "data": SyncReport::from(counts)})))
}

/// The organisation's numbers: active first, the primary first among them.
#[utoipa::path(get, path = "/api/v1/settings/phone-numbers", tag = "phone numbers", security(("bearer" = [])),
    responses((status = 200, description = "`{success, data: [number], count}`"), (status = 403, body = Problem)))]
pub async fn list(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let rows = projections::phone_numbers::list(&state.db.read, &caller.organisation_id.to_string()).await?;
    let count = rows.len();
    let data: Vec<Value> = rows.iter().map(number_json).collect();
    Ok(Json(json!({"success": true, "data": data, "count": count})))
}

fn number_json(row: &PhoneNumberRow) -> Value {
    json!({
        "id": row.id, "phone_number": row.phone_number, "display_name": row.display_name,
        "number_type": row.number_type, "region": row.region, "exotel_sid": row.exotel_sid,
        "can_call": row.can_call, "can_sms": row.can_sms, "is_active": row.is_active, "is_primary": row.is_primary,
        "assigned_to_user_id": row.assigned_to_user_id, "integration_id": row.integration_id,
        "created_at": row.created_at, "updated_at": row.updated_at,
    })
}

/// `{"user_id": "…"}` to assign, `{"user_id": null}` to unassign;
/// `"is_primary": true` also makes the number primary.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    pub user_id: Option<Uuid>,
    #[serde(default)]
    pub is_primary: bool,
}

/// Assigns a number to a user of the organisation, or unassigns it.
#[utoipa::path(post, path = "/api/v1/settings/phone-numbers/{id}/assign", tag = "phone numbers", security(("bearer" = [])),
    request_body = AssignRequest,
    responses((status = 200, description = "`{success, data: number}` once recorded"), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn assign(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignRequest>,
) -> Result<Json<Value>, ApiError> {
    may_configure(&state, &caller, IntegrationKind::ExotelPhone).await?;
    let number_id = parse_id(&id)?;
    if let Some(user_id) = body.user_id {
        ensure_active_member(&state, &caller, user_id).await?;
    }
    let book = state.phone_numbers();
    let meta = caller.metadata();
    book.assign(caller.organisation_id, number_id, body.user_id, caller.user_id(), &meta)
        .await?;
    if body.is_primary {
        book.make_primary(caller.organisation_id, number_id, &meta).await?;
    }
    Ok(Json(
        json!({"success": true, "data": {"id": number_id, "assigned_to_user_id": body.user_id}}),
    ))
}

/// Makes a number the organisation's primary outbound number.
#[utoipa::path(post, path = "/api/v1/settings/phone-numbers/{id}/primary", tag = "phone numbers", security(("bearer" = [])),
    responses((status = 200, description = "`{success, data}`"), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn make_primary(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    may_configure(&state, &caller, IntegrationKind::ExotelPhone).await?;
    let number_id = parse_id(&id)?;
    state
        .phone_numbers()
        .make_primary(caller.organisation_id, number_id, &caller.metadata())
        .await?;
    Ok(Json(
        json!({"success": true, "data": {"id": number_id, "is_primary": true}}),
    ))
}

/// A number may only go to an active user of the same organisation.
async fn ensure_active_member(state: &AppState, caller: &Caller, user_id: Uuid) -> Result<(), ApiError> {
    let user = state.users.load(&user_id.to_string()).await?.map(|l| l.aggregate);
    match user {
        Some(u) if u.organisation_id == Some(caller.organisation_id) && u.active => Ok(()),
        Some(u) if u.organisation_id == Some(caller.organisation_id) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "user_deactivated",
            "a deactivated user cannot be given a number",
        )
        .on_field("user_id")),
        _ => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_user",
            "no such user in this organisation",
        )
        .on_field("user_id")),
    }
}
