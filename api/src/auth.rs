//! Who is calling: a login token (JWT, HS256) or an API key, resolved to an
//! organisation, a role and an actor for event metadata.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::Utc;
use std::sync::Arc;
use uuid::Uuid;

use application::accounts::looks_like_api_key;
use application::{Actor, EventMetadata};
use domain::{OrganisationId, Role};

use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::state::AppState;
pub use crate::tokens::{Claims, TokenKeys};
use application::AggregateStore;

/// The authenticated caller of a `/api/v1` route.
#[derive(Debug, Clone)]
pub struct Caller {
    pub organisation_id: OrganisationId,
    pub role: Role,
    pub actor: Actor,
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
            let identity = state.accounts().authenticate_api_key(token).await?;
            let identity =
                identity.ok_or_else(|| ApiError::unauthenticated("invalid_api_key", "the API key is not valid"))?;
            let actor = Actor::ApiKey { id: identity.key_id };
            return Ok(Caller {
                organisation_id: identity.organisation_id,
                role: identity.role,
                actor,
                context,
            });
        }
        let claims = state.tokens.check(token)?;
        let role = current_role(state, &claims).await?;
        Ok(Caller {
            organisation_id: claims.org,
            role,
            actor: Actor::User { id: claims.sub },
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
/// and a role change takes effect on the next request.
async fn current_role(state: &AppState, claims: &Claims) -> Result<Role, ApiError> {
    let loaded = state.users.load(&claims.sub.to_string()).await?;
    let user = loaded
        .map(|l| l.aggregate)
        .filter(|u| u.organisation_id == Some(claims.org));
    match user {
        Some(user) if user.active => user.role.ok_or_else(ApiError::internal),
        Some(_) => Err(ApiError::unauthenticated("user_deactivated", "the user is deactivated")),
        None => Err(ApiError::unauthenticated("invalid_token", "the token is not valid")),
    }
}
