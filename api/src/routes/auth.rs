//! Logging in.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

use application::{Actor, EventMetadata};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, RequestContext};
use crate::routes::users::UserResponse;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub user: UserResponse,
}

/// Exchanges an e-mail address and password for a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginRequest, tag = "auth",
    responses((status = 200, body = LoginResponse), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<Arc<AppState>>,
    context: RequestContext,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let meta = login_metadata(&body.email, context);
    let user = state.accounts().log_in(&body.email, body.password, &meta).await?;
    let user_id = user.id.ok_or_else(ApiError::internal)?;
    let last_login_at = crate::routes::users::last_login(&state, user_id).await?;
    let response = UserResponse::from_aggregate(&user, last_login_at).ok_or_else(ApiError::internal)?;
    let access_token = state
        .tokens
        .issue(response.id, response.organisation_id, response.role)?;
    Ok(Json(LoginResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_secs,
        user: response,
    }))
}

fn login_metadata(email: &str, context: RequestContext) -> EventMetadata {
    let actor = match domain::EmailAddress::parse(email) {
        Ok(email) => Actor::User {
            id: domain::user::user_id_for_email(&email),
        },
        Err(_) => Actor::System { name: "login".into() },
    };
    EventMetadata {
        organisation_id: None,
        actor,
        correlation_id: context.correlation_id.unwrap_or_else(|| context.request_id.clone()),
        request_id: context.request_id,
        causation_id: context.causation_id,
        client_ip: context.client_ip,
        user_agent: context.user_agent,
        occurred_at: chrono::Utc::now(),
    }
}
