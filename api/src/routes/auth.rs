//! Logging in.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use application::login::LoginAttempt;
use application::{Actor, EventMetadata};

use crate::envelope::{self, Data};
use crate::error::{LoginRefused, Problem};
use crate::extract::{ApiJson, RequestContext};
use crate::routes::users::UserResponse;
use crate::state::AppState;

/// The routes of this module, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/auth/login", post(login))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// The id of the organisation to log in to (as `GET /organisation`
    /// answers it). Needed only when the address has users in several
    /// organisations; without it such a login answers 409
    /// `organisation_required`.
    #[serde(default)]
    pub organisation: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds the token is valid for, unless the password is changed or
    /// the user deactivated first.
    pub expires_in: u64,
    pub user: UserResponse,
}

/// Exchanges an e-mail address and password for a bearer token. An unknown
/// address, a wrong password and a deactivated user all answer 401
/// `invalid_credentials`. Repeated failures at one address from one client
/// make that pair wait, doubling each time (429 `locked_out`), and each
/// client and each address may try only so often a minute (429
/// `rate_limited`); both carry `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginRequest, tag = "auth",
    responses((status = 200, body = Data<LoginResponse>), (status = 401, body = Problem),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`organisation_required`: the address has users in several organisations"),
        (status = 429, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "seconds to wait"))), (status = 503, body = Problem)))]
pub async fn login(
    State(state): State<Arc<AppState>>,
    context: RequestContext,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<Data<LoginResponse>>, LoginRefused> {
    let attempt = LoginAttempt {
        email: body.email,
        password: body.password,
        organisation: body.organisation,
        client: context.client_ip.clone(),
    };
    let accounts = state.accounts();
    let user = accounts.log_in(attempt, &login_metadata(context)).await?;
    let user_id = user.id.ok_or_else(crate::error::ApiError::internal)?;
    let last_login_at = accounts.last_login(user_id).await?;
    let view = application::users::UserView { user, last_login_at };
    let response = UserResponse::from_view(&view).ok_or_else(crate::error::ApiError::internal)?;
    let access_token = state.tokens.issue(
        response.id,
        response.organisation_id,
        response.role,
        view.user.sessions_ended,
    )?;
    Ok(envelope::data(LoginResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_secs,
        user: response,
    }))
}

/// Metadata of a login's events; the use case names the user and their
/// organisation once it has found them.
fn login_metadata(context: RequestContext) -> EventMetadata {
    EventMetadata {
        organisation_id: None,
        actor: Actor::System { name: "login".into() },
        correlation_id: context.correlation_id.unwrap_or_else(|| context.request_id.clone()),
        request_id: context.request_id,
        causation_id: context.causation_id,
        client_ip: context.client_ip,
        user_agent: context.user_agent,
        occurred_at: chrono::Utc::now(),
    }
}
