//! Who is calling: a login token (JWT, HS256) or an API key, resolved to an
//! organisation, a role and an actor for event metadata.
//!
//! Every route authenticates through [`authenticate`]: [`Caller`] with the
//! `Authorization` header; [`StreamCaller`], for the realtime routes that
//! browsers open without headers, with that header or an `access_token`
//! query parameter, keeping the [`Credential`] to check it again while the
//! connection lasts.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
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
        authenticate(state, token, context).await
    }
}

/// Resolves a login token or an API key to its caller: the one
/// authentication every route runs.
pub async fn authenticate(state: &AppState, token: &str, context: RequestContext) -> Result<Caller, ApiError> {
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

/// The token or API key a request came with, kept (never printed) to be
/// checked again while a long-lived connection lasts.
pub struct Credential(SecretString);

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(..)")
    }
}

/// The query parameter browsers' `WebSocket` and `EventSource` send the
/// token in, as they cannot send headers.
pub const ACCESS_TOKEN: &str = "access_token";

impl Credential {
    /// The `Authorization` bearer token, or else the `access_token` query
    /// parameter. That parameter is taken out of the request's URI either
    /// way, so nothing after this reads or records it.
    pub fn take(parts: &mut Parts) -> Result<Self, ApiError> {
        let from_query = take_query_token(parts);
        if parts.headers.contains_key(header::AUTHORIZATION) {
            let token = bearer(parts)?;
            return Ok(Self(SecretString::from(token.to_string())));
        }
        match from_query.filter(|t| !t.is_empty()) {
            Some(token) => Ok(Self(SecretString::from(token))),
            None => Err(ApiError::unauthenticated(
                "unauthenticated",
                "send Authorization: Bearer <token or API key>, or access_token in the query",
            )),
        }
    }

    /// The caller this credential stands for now.
    pub async fn check(&self, state: &AppState, context: RequestContext) -> Result<Caller, ApiError> {
        authenticate(state, self.0.expose_secret(), context).await
    }
}

/// The first `access_token` of the query, removed with every other copy.
fn take_query_token(parts: &mut Parts) -> Option<String> {
    let pairs: Vec<(String, String)> = parts
        .uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let token = pairs
        .iter()
        .find(|(name, _)| name == ACCESS_TOKEN)
        .map(|(_, value)| value.trim().to_string())?;
    let kept: Vec<&(String, String)> = pairs.iter().filter(|(name, _)| name != ACCESS_TOKEN).collect();
    parts.uri = with_query(&parts.uri, &serde_urlencoded::to_string(kept).unwrap_or_default());
    Some(token)
}

/// `uri` with `query` in place of its own.
fn with_query(uri: &Uri, query: &str) -> Uri {
    let path_and_query = match query.is_empty() {
        true => uri.path().to_string(),
        false => format!("{}?{query}", uri.path()),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    Uri::from_parts(parts).unwrap_or_else(|_| Uri::from_static("/"))
}

/// The caller of a streaming route, and the credential to check again.
#[derive(Debug)]
pub struct StreamCaller {
    pub caller: Caller,
    pub credential: Credential,
}

impl FromRequestParts<Arc<AppState>> for StreamCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let credential = Credential::take(parts).map_err(IntoResponse::into_response)?;
        // The guard has authenticated and rate-limited a header's token.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(Self {
                caller: caller.clone(),
                credential,
            });
        }
        let context = RequestContext::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let caller = credential
            .check(state, context)
            .await
            .map_err(IntoResponse::into_response)?;
        let limited = state
            .limits
            .check(&caller.actor.to_key(), &caller.organisation_id.to_string());
        if let Err(wait) = limited {
            return Err(too_many(wait));
        }
        Ok(Self { caller, credential })
    }
}

/// 429 with `Retry-After`, as the guard answers.
fn too_many(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs() + 1;
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests; retry in {seconds} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
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
