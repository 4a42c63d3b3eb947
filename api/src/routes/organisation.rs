//! The caller's own organisation.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use application::AggregateStore;
use domain::Role;
use domain::organisation::OrganisationCommand;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationResponse {
    pub id: Uuid,
    pub name: String,
    pub created_at: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameOrganisation {
    pub name: String,
}

/// The caller's organisation.
#[utoipa::path(get, path = "/api/v1/organisation", tag = "organisation", security(("bearer" = [])),
    responses((status = 200, body = OrganisationResponse), (status = 401, body = Problem)))]
pub async fn get(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<OrganisationResponse>, ApiError> {
    caller.require(Role::can_read_directory)?;
    Ok(Json(load(&state, &caller).await?))
}

/// Renames the caller's organisation (admins only).
#[utoipa::path(patch, path = "/api/v1/organisation", request_body = RenameOrganisation, tag = "organisation", security(("bearer" = [])),
    responses((status = 200, body = OrganisationResponse), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn rename(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<RenameOrganisation>,
) -> Result<Json<OrganisationResponse>, ApiError> {
    caller.require(Role::can_administer)?;
    let command = OrganisationCommand::Rename {
        organisation_id: caller.organisation_id,
        name: body.name,
    };
    state
        .organisations
        .execute(&caller.organisation_id.to_string(), command, &caller.metadata())
        .await?;
    Ok(Json(load(&state, &caller).await?))
}

async fn load(state: &AppState, caller: &Caller) -> Result<OrganisationResponse, ApiError> {
    let loaded = state
        .organisations
        .load(&caller.organisation_id.to_string())
        .await?
        .ok_or_else(ApiError::not_found)?;
    let org = loaded.aggregate;
    Ok(OrganisationResponse {
        id: caller.organisation_id,
        name: org.name,
        created_at: org.created_at.map(|t| t.to_rfc3339()),
    })
}
