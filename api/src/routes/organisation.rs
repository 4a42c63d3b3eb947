//! The caller's own organisation.

use axum::extract::State;
use axum::routing;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use application::accounts::OrganisationView;
use domain::Role;

use crate::auth::Caller;
use crate::envelope::{self, Data};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::state::AppState;

/// The routes of this module, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/organisation", routing::get(get).patch(rename))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationResponse {
    /// What a login sends as `organisation` when an address has users in
    /// several organisations.
    pub id: Uuid,
    pub name: String,
    /// RFC 3339.
    pub created_at: Option<String>,
}

impl From<OrganisationView> for OrganisationResponse {
    fn from(view: OrganisationView) -> Self {
        Self {
            id: view.id,
            name: view.name,
            created_at: view.created_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameOrganisation {
    /// 1 to 200 characters, no control or bidirectional-override characters.
    pub name: String,
}

/// The caller's organisation.
#[utoipa::path(get, path = "/api/v1/organisation", tag = "organisation", security(("bearer" = [])),
    responses((status = 200, body = Data<OrganisationResponse>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Data<OrganisationResponse>>, ApiError> {
    caller.require(Role::can_read_directory)?;
    let view = state.accounts().organisation(caller.organisation_id).await?;
    Ok(envelope::data(view.into()))
}

/// Renames the caller's organisation (admins only).
#[utoipa::path(patch, path = "/api/v1/organisation", request_body = RenameOrganisation, tag = "organisation", security(("bearer" = [])),
    responses((status = 200, body = Data<OrganisationResponse>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn rename(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<RenameOrganisation>,
) -> Result<Json<Data<OrganisationResponse>>, ApiError> {
    caller.require(Role::can_administer)?;
    let view = state
        .accounts()
        .rename_organisation(caller.organisation_id, &body.name, &caller.metadata())
        .await?;
    Ok(envelope::data(view.into()))
}
