//! Who is calling: a login token (JWT, HS256) or an API key, resolved to an
//! organisation, a role and an actor for event metadata.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::Utc;
use std::sync::Arc;
use uuid::Uuid;

use application::accounts::looks_like_api_key;
use application::api_keys::KeyCheck;
use application::users::{Acting, SessionCheck};
use application::{Actor, EventMetadata};
use domain::{OrganisationId, Role};

use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::state::AppState;
pub use crate::tokens::{Claims, TokenKeys};

/// The authenticated caller of a `/api/v1` route.
#[derive(Debug, Clone)]
pub struct Caller {
    pub organisation_id: OrganisationId,
    pub role: Role,
    pub actor: Actor,
    /// The user the call acts for: the caller, or the API key's creator.
    pub acting_user_id: Option<Uuid>,
    pub context: RequestContext,
}

impl Caller {
    /// Refuses callers whose role lacks a permission.
    pub fn require(&self, allowed: fn(Role) -> bool) -> Result<(), ApiError> {
        if allowed(self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// The user behind the call, if it is a user and not an API key.
    pub fn user_id(&self) -> Option<Uuid> {
        match self.actor {
            Actor::User { id } => Some(id),
            _ => None,
        }
    }

    /// Who acts, for the use cases: a key acts for its creator.
    pub fn acting(&self) -> Acting {
        Acting {
            organisation_id: self.organisation_id,
            role: self.role,
            user_id: self.acting_user_id,
        }
    }

    /// Metadata for the events this call causes.
    pub fn metadata(&self) -> EventMetadata {
        let ctx = &self.context;
        EventMetadata {
            organisation_id: Some(self.organisation_id),
            actor: self.actor.clone(),
            request_id: ctx.request_id.clone(),
            correlation_id: ctx.correlation_id.clone().unwrap_or_else(|| ctx.request_id.clone()),
            causation_id: ctx.causation_id.clone(),
            client_ip: ctx.client_ip.clone(),
            user_agent: ctx.user_agent.clone(),
            occurred_at: Utc::now(),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let context = RequestContext::from_request_parts(parts, state).await?;
        let token = bearer(parts)?;
        if looks_like_api_key(token) {
            let identity = match state.accounts().authenticate_api_key(token).await? {
                KeyCheck::Valid(identity) => identity,
                KeyCheck::Invalid => {
                    return Err(ApiError::unauthenticated("invalid_api_key", "the API key is not valid"));
                }
                KeyCheck::Suspended => {
                    return Err(ApiError::unauthenticated(
                        "api_key_suspended",
                        "the user who created this API key is deactivated or no longer holds its role",
                    ));
                }
            };
            return Ok(Caller {
                organisation_id: identity.organisation_id,
                role: identity.role,
                actor: Actor::ApiKey { id: identity.key_id },
                acting_user_id: identity.created_by,
                context,
            });
        }
        let claims = state.tokens.check(token)?;
        let role = current_role(state, &claims).await?;
        Ok(Caller {
            organisation_id: claims.org,
            role,
            actor: Actor::User { id: claims.sub },
            acting_user_id: Some(claims.sub),
            context,
        })
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("unauthenticated", "send Authorization: Bearer <token or API key>"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthenticated("invalid_token", "the token is not valid"))?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthenticated("unauthenticated", "send Authorization: Bearer <token or API key>"))
}

/// The user's role now: a deactivated user's token stops working at once,
/// a password change ends every token issued before it, and a role change
/// takes effect on the next request.
async fn current_role(state: &AppState, claims: &Claims) -> Result<Role, ApiError> {
    match state
        .accounts()
        .check_session(claims.org, claims.sub, claims.sv)
        .await?
    {
        SessionCheck::Valid(role) => Ok(role),
        SessionCheck::Deactivated => Err(ApiError::unauthenticated("user_deactivated", "the user is deactivated")),
        SessionCheck::Ended => Err(ApiError::unauthenticated(
            "session_ended",
            "the password was changed since this token was issued; log in again",
        )),
        SessionCheck::Unknown => Err(ApiError::unauthenticated("invalid_token", "the token is not valid")),
    }
}
