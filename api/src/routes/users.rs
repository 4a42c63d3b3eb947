//! Users of the caller's organisation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use application::accounts::NewUser;
use domain::user::{User, UserCommand};
use domain::{EmailAddress, Role};
use projections::users::UserRow;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::{Page, parse_id};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub email: String,
    pub display_name: String,
    #[schema(value_type = String, example = "agent")]
    pub role: Role,
    pub active: bool,
    pub registered_at: Option<String>,
    pub last_login_at: Option<String>,
}

impl UserResponse {
    pub fn from_aggregate(user: &User, last_login_at: Option<String>) -> Option<Self> {
        Some(Self {
            id: user.id?,
            organisation_id: user.organisation_id?,
            email: user.email.as_ref()?.to_string(),
            display_name: user.display_name.clone(),
            role: user.role?,
            active: user.active,
            registered_at: user.registered_at.map(|t| t.to_rfc3339()),
            last_login_at,
        })
    }

    fn from_row(row: UserRow) -> Option<Self> {
        Some(Self {
            id: Uuid::try_parse(&row.user_id).ok()?,
            organisation_id: Uuid::try_parse(&row.organisation_id).ok()?,
            email: row.email,
            display_name: row.display_name,
            role: Role::parse(&row.role)?,
            active: row.active,
            registered_at: Some(row.registered_at),
            last_login_at: row.last_login_at,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    pub display_name: String,
    pub password: String,
    #[schema(value_type = String, example = "agent")]
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub display_name: Option<String>,
    #[schema(value_type = Option<String>, example = "manager")]
    pub role: Option<Role>,
}

/// Lists the organisation's users (from the users projection).
#[utoipa::path(get, path = "/api/v1/users", params(Page), tag = "users", security(("bearer" = [])),
    responses((status = 200, body = [UserResponse]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<UserResponse>>, ApiError> {
    caller.require(Role::can_read_directory)?;
    let (limit, offset) = page.bounds()?;
    let rows = projections::users::list(&state.db.read, &caller.organisation_id.to_string(), limit, offset).await?;
    Ok(Json(rows.into_iter().filter_map(UserResponse::from_row).collect()))
}

/// Creates a user (admins only).
#[utoipa::path(post, path = "/api/v1/users", request_body = CreateUser, tag = "users", security(("bearer" = [])),
    responses((status = 201, body = UserResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserResponse>), ApiError> {
    caller.require(Role::can_administer)?;
    let email = EmailAddress::parse(&body.email).map_err(|e| ApiError::invalid("email", e.to_string()))?;
    let new = NewUser {
        organisation_id: caller.organisation_id,
        email,
        display_name: body.display_name,
        password: body.password,
        role: body.role,
    };
    let user_id = state.accounts().register_user(new, &caller.metadata()).await?;
    Ok((StatusCode::CREATED, Json(load(&state, &caller, user_id).await?)))
}

/// One user, read from its events (always current).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserResponse), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserResponse>, ApiError> {
    caller.require(Role::can_read_directory)?;
    Ok(Json(load(&state, &caller, parse_id(&id)?).await?))
}

/// Renames a user or changes their role (admins only).
#[utoipa::path(patch, path = "/api/v1/users/{id}", request_body = UpdateUser, tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> Result<Json<UserResponse>, ApiError> {
    caller.require(Role::can_administer)?;
    let user_id = parse_id(&id)?;
    let org = caller.organisation_id;
    if let Some(display_name) = body.display_name {
        execute(
            &state,
            &caller,
            user_id,
            UserCommand::Rename {
                organisation_id: org,
                display_name,
            },
        )
        .await?;
    }
    if let Some(role) = body.role {
        execute(
            &state,
            &caller,
            user_id,
            UserCommand::ChangeRole {
                organisation_id: org,
                acting_user_id: caller.user_id(),
                role,
            },
        )
        .await?;
    }
    Ok(Json(load(&state, &caller, user_id).await?))
}

/// Deactivates a user: their tokens stop working at once (admins only).
#[utoipa::path(post, path = "/api/v1/users/{id}/deactivate", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserResponse), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn deactivate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserResponse>, ApiError> {
    caller.require(Role::can_administer)?;
    let user_id = parse_id(&id)?;
    let command = UserCommand::Deactivate {
        organisation_id: caller.organisation_id,
        acting_user_id: caller.user_id(),
    };
    execute(&state, &caller, user_id, command).await?;
    Ok(Json(load(&state, &caller, user_id).await?))
}

/// Reactivates a deactivated user (admins only).
#[utoipa::path(post, path = "/api/v1/users/{id}/reactivate", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserResponse), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn reactivate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserResponse>, ApiError> {
    caller.require(Role::can_administer)?;
    let user_id = parse_id(&id)?;
    execute(
        &state,
        &caller,
        user_id,
        UserCommand::Reactivate {
            organisation_id: caller.organisation_id,
        },
    )
    .await?;
    Ok(Json(load(&state, &caller, user_id).await?))
}

/// The calling user (not available to API keys).
#[utoipa::path(get, path = "/api/v1/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserResponse), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn me(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<UserResponse>, ApiError> {
    let user_id = caller.user_id().ok_or_else(ApiError::not_found)?;
    Ok(Json(load(&state, &caller, user_id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the calling user's password; the current one must be given.
#[utoipa::path(post, path = "/api/v1/me/password", request_body = ChangePassword, tag = "users", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn change_password(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    use application::AggregateStore;
    let user_id = caller.user_id().ok_or_else(ApiError::not_found)?;
    let user = state
        .users
        .load(&user_id.to_string())
        .await?
        .ok_or_else(ApiError::not_found)?
        .aggregate;
    if !application::passwords::verify(body.current_password, user.password_hash).await {
        return Err(ApiError::invalid("current_password", "the current password is wrong"));
    }
    let password_hash = application::passwords::hash(body.new_password)
        .await
        .map_err(|e| ApiError::from(e).on_field("new_password"))?;
    execute(
        &state,
        &caller,
        user_id,
        UserCommand::ChangePassword {
            organisation_id: caller.organisation_id,
            password_hash,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn execute(state: &AppState, caller: &Caller, user_id: Uuid, command: UserCommand) -> Result<(), ApiError> {
    use application::AggregateStore;
    Ok(state
        .users
        .execute(&user_id.to_string(), command, &caller.metadata())
        .await?)
}

async fn load(state: &AppState, caller: &Caller, user_id: Uuid) -> Result<UserResponse, ApiError> {
    use application::AggregateStore;
    let user = state.users.load(&user_id.to_string()).await?.map(|l| l.aggregate);
    let user = user
        .filter(|u| u.organisation_id == Some(caller.organisation_id))
        .ok_or_else(ApiError::not_found)?;
    let last_login_at = last_login(state, user_id).await?;
    UserResponse::from_aggregate(&user, last_login_at).ok_or_else(ApiError::not_found)
}

/// When the user last logged in, from their login history.
pub async fn last_login(state: &AppState, user_id: Uuid) -> Result<Option<String>, ApiError> {
    use application::AggregateStore;
    let logins = state.logins.load(&user_id.to_string()).await?;
    Ok(logins.and_then(|l| l.aggregate.last_login_at).map(|t| t.to_rfc3339()))
}
