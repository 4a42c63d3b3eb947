//! Users of the caller's organisation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{self, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use application::accounts::NewUser;
use application::users::{UserChange, UserView};
use domain::{EmailAddress, Role};
use projections::users::UserRow;

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::{Page, parse_id};
use crate::state::AppState;

/// The routes of this module, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/me", routing::get(me))
        .route("/me/password", post(change_password))
        .route("/users", routing::get(list).post(create))
        .route("/users/{id}", routing::get(get).patch(update))
        .route("/users/{id}/deactivate", post(deactivate))
        .route("/users/{id}/reactivate", post(reactivate))
        .route("/users/{id}/password", post(reset_password))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub email: String,
    pub display_name: String,
    #[schema(value_type = String, example = "agent")]
    pub role: Role,
    pub active: bool,
    /// RFC 3339.
    pub registered_at: Option<String>,
    /// RFC 3339; absent before the first login.
    pub last_login_at: Option<String>,
    /// The user's own phone, E.164: dialled first when they place a call.
    pub phone: Option<String>,
}

impl UserResponse {
    pub fn from_view(view: &UserView) -> Option<Self> {
        let user = &view.user;
        Some(Self {
            id: user.id?,
            organisation_id: user.organisation_id?,
            email: user.email.as_ref()?.to_string(),
            display_name: user.display_name.clone(),
            role: user.role?,
            active: user.active,
            registered_at: user.registered_at.map(|t| t.to_rfc3339()),
            last_login_at: view.last_login_at.map(|t| t.to_rfc3339()),
            phone: user.phone.clone(),
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
            phone: row.phone,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Unique within the organisation; the same address may have a user in
    /// other organisations.
    pub email: String,
    /// 1 to 200 characters, no control or bidirectional-override characters.
    pub display_name: String,
    /// 10 to 256 characters.
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
    /// The user's own phone (`+91…` or `0…`); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 32)]
    pub phone: Option<Option<String>>,
}

/// A field given, even as `null` (`Some(None)`), apart from one absent (`None`).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    pub new_password: String,
}

fn answer(view: &UserView) -> Result<Json<Data<UserResponse>>, ApiError> {
    UserResponse::from_view(view)
        .map(envelope::data)
        .ok_or_else(ApiError::not_found)
}

/// Lists the organisation's users (from the users projection).
#[utoipa::path(get, path = "/api/v1/users", params(Page), tag = "users", security(("bearer" = [])),
    responses((status = 200, body = List<UserResponse>), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<List<UserResponse>>, ApiError> {
    caller.require(Role::can_read_directory)?;
    let (limit, offset) = page.bounds()?;
    let rows = projections::users::list(&state.db.read, &caller.organisation_id.to_string(), limit, offset).await?;
    Ok(envelope::list(
        rows.into_iter().filter_map(UserResponse::from_row).collect(),
    ))
}

/// Creates a user (admins only). A 409 means the address already has a user
/// in this organisation; other organisations are never consulted.
#[utoipa::path(post, path = "/api/v1/users", request_body = CreateUser, tag = "users", security(("bearer" = [])),
    responses((status = 201, body = Data<UserResponse>), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<Data<UserResponse>>), ApiError> {
    caller.require(Role::can_administer)?;
    let email = EmailAddress::parse(&body.email).map_err(|e| ApiError::invalid("email", e.to_string()))?;
    let new = NewUser {
        organisation_id: caller.organisation_id,
        email,
        display_name: body.display_name,
        password: body.password,
        role: body.role,
    };
    let accounts = state.accounts();
    let user_id = accounts
        .register_user_by(Some(caller.role), new, &caller.metadata())
        .await?;
    let view = accounts.user(caller.organisation_id, user_id).await?;
    Ok((StatusCode::CREATED, answer(&view)?))
}

/// One user, read from its events (always current).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the user's id")),
    responses((status = 200, body = Data<UserResponse>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<UserResponse>>, ApiError> {
    caller.require(Role::can_read_directory)?;
    let view = state.accounts().user(caller.organisation_id, parse_id(&id)?).await?;
    answer(&view)
}

/// Renames a user or changes their role (admins only; nobody changes their
/// own role or gives one above their own).
#[utoipa::path(patch, path = "/api/v1/users/{id}", request_body = UpdateUser, tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the user's id")),
    responses((status = 200, body = Data<UserResponse>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> Result<Json<Data<UserResponse>>, ApiError> {
    caller.require(Role::can_administer)?;
    let change = UserChange {
        display_name: body.display_name,
        role: body.role,
        phone: body.phone,
    };
    let view = state
        .accounts()
        .change_user(&caller.acting(), parse_id(&id)?, change, &caller.metadata())
        .await?;
    answer(&view)
}

/// Deactivates a user: their tokens and API keys stop working at once
/// (admins only).
#[utoipa::path(post, path = "/api/v1/users/{id}/deactivate", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the user's id")),
    responses((status = 200, body = Data<UserResponse>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn deactivate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<UserResponse>>, ApiError> {
    set_active(&state, &caller, &id, false).await
}

/// Reactivates a deactivated user (admins only). Their old login tokens
/// stay ended and revoked keys stay revoked.
#[utoipa::path(post, path = "/api/v1/users/{id}/reactivate", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the user's id")),
    responses((status = 200, body = Data<UserResponse>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn reactivate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<UserResponse>>, ApiError> {
    set_active(&state, &caller, &id, true).await
}

async fn set_active(
    state: &AppState,
    caller: &Caller,
    id: &str,
    active: bool,
) -> Result<Json<Data<UserResponse>>, ApiError> {
    caller.require(Role::can_administer)?;
    let view = state
        .accounts()
        .set_active(&caller.acting(), parse_id(id)?, active, &caller.metadata())
        .await?;
    answer(&view)
}

/// Sets a user's password (admins only); every login token the user had
/// stops working.
#[utoipa::path(post, path = "/api/v1/users/{id}/password", request_body = ResetPassword, tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the user's id")),
    responses((status = 204, description = "the password is set"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reset_password(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResetPassword>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::can_administer)?;
    state
        .accounts()
        .reset_password(&caller.acting(), parse_id(&id)?, body.new_password, &caller.metadata())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calling user (404 for an API key).
#[utoipa::path(get, path = "/api/v1/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Data<UserResponse>), (status = 404, body = Problem)))]
pub async fn me(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Data<UserResponse>>, ApiError> {
    let user_id = caller.user_id().ok_or_else(ApiError::not_found)?;
    answer(&state.accounts().user(caller.organisation_id, user_id).await?)
}

/// Changes the calling user's password; the current one must be given.
/// Every login token issued before, this caller's included, stops working.
#[utoipa::path(post, path = "/api/v1/me/password", request_body = ChangePassword, tag = "users", security(("bearer" = [])),
    responses((status = 204, description = "the password is changed; log in again"), (status = 404, body = Problem)))]
pub async fn change_password(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    caller.user_id().ok_or_else(ApiError::not_found)?;
    state
        .accounts()
        .change_own_password(
            &caller.acting(),
            body.current_password,
            body.new_password,
            &caller.metadata(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
