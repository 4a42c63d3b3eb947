//! API keys of the caller's organisation. The secret is returned once, on
//! creation, and never stored.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use application::AggregateStore;
use domain::Role;
use domain::api_key::ApiKeyCommand;
use projections::api_keys::ApiKeyRow;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::guard::HoldsSecrets;
use crate::routes::{Page, parse_id};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    #[schema(value_type = String, example = "agent")]
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = String)]
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
    pub role: String,
    pub created_by: Option<String>,
    pub issued_at: String,
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
    responses((status = 200, body = [ApiKeyResponse]), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<ApiKeyResponse>>, ApiError> {
    caller.require(Role::can_administer)?;
    let (limit, offset) = page.bounds()?;
    let rows = projections::api_keys::list(&state.db.read, &caller.organisation_id.to_string(), limit, offset).await?;
    Ok(Json(rows.into_iter().map(ApiKeyResponse::from).collect()))
}

/// Issues an API key acting with the given role (admins only). The answer
/// holds the key, once. Sent again with the same `Idempotency-Key`, the
/// request answers a replay marker instead: the same `id`, `name` and
/// `role`, header `Idempotent-Replayed: true`, and no `key` — the secret
/// is never stored, not even for a replay.
#[utoipa::path(post, path = "/api/v1/api-keys", request_body = CreateApiKey, tag = "api-keys", security(("bearer" = [])),
    responses((status = 201, body = CreatedApiKey, description = "The key issued, with `key`; a replay omits `key`"), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> Result<Response, ApiError> {
    caller.require(Role::can_administer)?;
    let issued = state
        .accounts()
        .issue_api_key(
            caller.organisation_id,
            &body.name,
            body.role,
            caller.user_id(),
            &caller.metadata(),
        )
        .await?;
    let created = CreatedApiKey {
        id: issued.key_id,
        name: body.name.trim().to_string(),
        role: body.role,
        key: Some(issued.token),
    };
    Ok(HoldsSecrets::mark((StatusCode::CREATED, Json(created)), &["key"]))
}

/// Revokes an API key; it stops working at once (admins only).
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::can_administer)?;
    let key_id = parse_id(&id)?;
    let command = ApiKeyCommand::Revoke {
        organisation_id: caller.organisation_id,
        at: chrono::Utc::now(),
    };
    state
        .api_keys
        .execute(&key_id.to_string(), command, &caller.metadata())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
