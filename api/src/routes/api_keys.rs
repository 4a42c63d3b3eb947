//! API keys of the caller's organisation. The secret is returned once, on
//! creation, and never stored. A key acts for the user who created it: it
//! stops working while that user is deactivated or no longer holds its role.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use domain::Role;
use projections::api_keys::ApiKeyRow;

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::guard::HoldsSecrets;
use crate::routes::{Page, parse_id};
use crate::state::AppState;

/// The routes of this module, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api-keys", get(list).post(create))
        .route("/api-keys/{id}", delete(revoke))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// 1 to 100 characters, no control or bidirectional-override characters.
    pub name: String,
    /// At most the creator's own role.
    #[schema(value_type = String, example = "agent")]
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = String, example = "agent")]
    pub role: Role,
    /// The whole key. Shown this once: store it now. Absent from a replay
    /// (the same request sent again with its `Idempotency-Key`, answered
    /// with `Idempotent-Replayed: true`): the secret is never stored, so a
    /// replay names the key issued without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyResponse {
    pub id: String,
    pub name: String,
    #[schema(example = "agent")]
    pub role: String,
    /// The user the key acts for.
    pub created_by: Option<String>,
    /// RFC 3339.
    pub issued_at: String,
    /// RFC 3339; absent while the key is not revoked.
    pub revoked_at: Option<String>,
}

impl From<ApiKeyRow> for ApiKeyResponse {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            id: row.key_id,
            name: row.name,
            role: row.role,
            created_by: row.created_by,
            issued_at: row.issued_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// Lists the organisation's API keys, without secrets (admins only).
#[utoipa::path(get, path = "/api/v1/api-keys", params(Page), tag = "api-keys", security(("bearer" = [])),
    responses((status = 200, body = List<ApiKeyResponse>), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<List<ApiKeyResponse>>, ApiError> {
    caller.require(Role::can_administer)?;
    let (limit, offset) = page.bounds()?;
    let rows = projections::api_keys::list(&state.db.read, &caller.organisation_id.to_string(), limit, offset).await?;
    Ok(envelope::list(rows.into_iter().map(ApiKeyResponse::from).collect()))
}

/// Issues an API key acting for the caller with the given role, which may
/// not be above the caller's own (admins only). The answer holds the key,
/// once. Sent again with the same `Idempotency-Key`, the request answers a
/// replay marker instead: the same `id`, `name` and `role`, header
/// `Idempotent-Replayed: true`, and no `key` — the secret is never stored,
/// not even for a replay.
#[utoipa::path(post, path = "/api/v1/api-keys", request_body = CreateApiKey, tag = "api-keys", security(("bearer" = [])),
    responses((status = 201, body = Data<CreatedApiKey>, description = "The key issued, with `key`; a replay omits `key`"), (status = 403, body = Problem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> Result<Response, ApiError> {
    caller.require(Role::can_administer)?;
    let issued = state
        .accounts()
        .issue_api_key(&caller.acting(), &body.name, body.role, &caller.metadata())
        .await?;
    let created = CreatedApiKey {
        id: issued.key_id,
        name: issued.name,
        role: issued.role,
        key: Some(issued.token),
    };
    Ok(HoldsSecrets::mark(
        (StatusCode::CREATED, envelope::data(created)),
        &["key"],
    ))
}

/// Revokes an API key; it stops working at once, for good (admins only).
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the key's id")),
    responses((status = 204, description = "revoked"), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::can_administer)?;
    state
        .accounts()
        .revoke_api_key(&caller.acting(), parse_id(&id)?, &caller.metadata())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
