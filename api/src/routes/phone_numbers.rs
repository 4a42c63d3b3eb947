//! Phone numbers: syncing the organisation's ExoPhones from Exotel, the
//! list, assignment to users and the primary number.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use domain::integration::IntegrationKind;
use domain::phone_numbers::SyncCounts;
use projections::phone_numbers::PhoneNumberRow;

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::parse_id;
use crate::state::AppState;

/// The phone-number routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/settings/integrations/exotel_phone/sync", post(sync))
        .route("/settings/phone-numbers", get(list))
        .route("/settings/phone-numbers/{id}/assign", post(assign))
        .route("/settings/phone-numbers/{id}/primary", post(make_primary))
}

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
    responses((status = 200, body = Data<SyncReport>), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "the Exotel phone integration is missing or disabled"),
        (status = 422, body = Problem, description = "Exotel refused the request"),
        (status = 502, body = Problem, description = "Exotel failed or could not be reached")))]
pub async fn sync(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Data<SyncReport>>, ApiError> {
    state
        .access()
        .may_configure(&caller.acting(), IntegrationKind::ExotelPhone)
        .await?;
    let counts = state
        .phone_numbers()
        .sync(caller.organisation_id, &state.integrations(), &caller.metadata())
        .await?;
    Ok(envelope::data(SyncReport::from(counts)))
}

/// One of the organisation's numbers.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneNumberResponse {
    pub id: String,
    /// E.164.
    pub phone_number: String,
    pub display_name: Option<String>,
    pub number_type: String,
    pub region: Option<String>,
    pub exotel_sid: String,
    pub can_call: bool,
    pub can_sms: bool,
    /// False once Exotel no longer lists it.
    pub is_active: bool,
    pub is_primary: bool,
    pub assigned_to_user_id: Option<String>,
    pub integration_id: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<PhoneNumberRow> for PhoneNumberResponse {
    fn from(row: PhoneNumberRow) -> Self {
        Self {
            id: row.id,
            phone_number: row.phone_number,
            display_name: row.display_name,
            number_type: row.number_type,
            region: row.region,
            exotel_sid: row.exotel_sid,
            can_call: row.can_call,
            can_sms: row.can_sms,
            is_active: row.is_active,
            is_primary: row.is_primary,
            assigned_to_user_id: row.assigned_to_user_id,
            integration_id: row.integration_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// The organisation's numbers: active first, the primary first among them.
#[utoipa::path(get, path = "/api/v1/settings/phone-numbers", tag = "phone numbers", security(("bearer" = [])),
    responses((status = 200, body = List<PhoneNumberResponse>), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<List<PhoneNumberResponse>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let rows = projections::phone_numbers::list(&state.db.read, &caller.organisation_id.to_string()).await?;
    Ok(envelope::list(
        rows.into_iter().map(PhoneNumberResponse::from).collect(),
    ))
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

/// A number's assignment, as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Assignment {
    pub id: Uuid,
    pub assigned_to_user_id: Option<Uuid>,
    /// Present when the request made the number primary too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_primary: Option<bool>,
}

/// The organisation's primary number, as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Primary {
    pub id: Uuid,
    pub is_primary: bool,
}

/// Assigns a number to a user of the organisation, or unassigns it.
#[utoipa::path(post, path = "/api/v1/settings/phone-numbers/{id}/assign", tag = "phone numbers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the number's id")),
    request_body = AssignRequest,
    responses((status = 200, body = Data<Assignment>, description = "once recorded"), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the number was released, or a concurrent change"),
        (status = 422, body = Problem, description = "an unknown or deactivated user, or a number that cannot call made primary")))]
pub async fn assign(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignRequest>,
) -> Result<Json<Data<Assignment>>, ApiError> {
    state
        .access()
        .may_configure(&caller.acting(), IntegrationKind::ExotelPhone)
        .await?;
    let number_id = parse_id(&id)?;
    let book = state.phone_numbers();
    let meta = caller.metadata();
    book.assign(caller.organisation_id, number_id, body.user_id, caller.user_id(), &meta)
        .await?;
    if body.is_primary {
        book.make_primary(caller.organisation_id, number_id, &meta).await?;
    }
    Ok(envelope::data(Assignment {
        id: number_id,
        assigned_to_user_id: body.user_id,
        is_primary: body.is_primary.then_some(true),
    }))
}

/// Makes a number the organisation's primary outbound number.
#[utoipa::path(post, path = "/api/v1/settings/phone-numbers/{id}/primary", tag = "phone numbers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the number's id")),
    responses((status = 200, body = Data<Primary>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the number was released, or a concurrent change"),
        (status = 422, body = Problem, description = "the number cannot call")))]
pub async fn make_primary(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<Primary>>, ApiError> {
    state
        .access()
        .may_configure(&caller.acting(), IntegrationKind::ExotelPhone)
        .await?;
    let number_id = parse_id(&id)?;
    state
        .phone_numbers()
        .make_primary(caller.organisation_id, number_id, &caller.metadata())
        .await?;
    Ok(envelope::data(Primary {
        id: number_id,
        is_primary: true,
    }))
}
