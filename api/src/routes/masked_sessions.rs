//! Masked sessions: two parties reach each other through one of the
//! organisation's ExoPhones, until the session expires or its cap of calls
//! is reached, without either learning the other's number. The ExoPhone's
//! flow asks Switchboard whom to connect (see `routes::webhooks`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

use application::masked_sessions::NewSession;
use domain::masked_session::{Decision, MaskedSession, Party, Refusal};
use projections::masked_sessions::SessionRow;

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::{Page, parse_id, stamp, word};
use crate::state::AppState;

/// The routes of this module, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/masked-sessions", get(list).post(create))
        .route("/masked-sessions/{id}", get(one).delete(end))
}

/// A session's lifetime when none is asked for: one hour.
pub const DEFAULT_LIFETIME_SECS: u32 = 3600;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMaskedSession {
    /// E.164 (`+91…`) or the 0-prefixed national form.
    #[schema(example = "+919876543210")]
    pub party_a: String,
    #[schema(example = "+919123456789")]
    pub party_b: String,
    /// One of the organisation's active callable numbers; its primary number when absent.
    pub virtual_number: Option<String>,
    /// 1 to 2,592,000 (30 days); default 3,600.
    #[schema(minimum = 1, maximum = 2592000)]
    pub expires_in_secs: Option<u32>,
    /// Calls put through at most, 1 to 10,000; no cap when absent.
    #[schema(minimum = 1, maximum = 10000)]
    pub max_calls: Option<u32>,
}

impl CreateMaskedSession {
    pub fn into_new(self) -> NewSession {
        NewSession {
            party_a: self.party_a,
            party_b: self.party_b,
            virtual_number: self.virtual_number,
            expires_in_secs: self.expires_in_secs.unwrap_or(DEFAULT_LIFETIME_SECS),
            max_calls: self.max_calls,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Active,
    Expired,
    CapReached,
    Ended,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MaskedCallResponse {
    /// Exotel's CallSid.
    pub provider_sid: String,
    /// `a` or `b`: who called; absent for a caller who is neither.
    pub from_party: Option<String>,
    pub connected: bool,
    /// Why nobody was connected: `expired`, `ended`, `cap_reached` or `unknown_caller`.
    pub refusal: Option<String>,
    /// RFC 3339.
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MaskedSessionResponse {
    pub id: String,
    pub party_a: String,
    pub party_b: String,
    /// The number both parties call, and see the other calling from.
    pub virtual_number: String,
    pub state: SessionState,
    /// RFC 3339.
    pub expires_at: String,
    pub max_calls: Option<u32>,
    pub calls_connected: u32,
    pub calls_refused: u32,
    /// RFC 3339.
    pub ended_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Every call to the number on this session, oldest first (on `GET …/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls: Option<Vec<MaskedCallResponse>>,
}

fn state_of(ended: bool, expired: bool, capped: bool) -> SessionState {
    match () {
        _ if ended => SessionState::Ended,
        _ if expired => SessionState::Expired,
        _ if capped => SessionState::CapReached,
        _ => SessionState::Active,
    }
}

impl MaskedSessionResponse {
    pub fn of(session: &MaskedSession) -> Self {
        let now = Utc::now();
        let terms = session.terms.clone();
        let connected = session.connected();
        let refused = session.calls.len() as u32 - connected;
        let (party_a, party_b, virtual_number, expires_at, max_calls) = match terms {
            Some(t) => (t.party_a, t.party_b, t.virtual_number, t.expires_at, t.max_calls),
            None => Default::default(),
        };
        let calls = session
            .calls
            .iter()
            .map(|c| {
                let (from_party, refusal) = match &c.decision {
                    Decision::Connected { from } => (Some(*from), None),
                    Decision::Refused { reason } => {
                        let from = [(&party_a, Party::A), (&party_b, Party::B)]
                            .into_iter()
                            .find(|(n, _)| **n == c.caller)
                            .map(|(_, p)| p);
                        (from, Some(*reason))
                    }
                };
                MaskedCallResponse {
                    provider_sid: c.provider_sid.clone(),
                    from_party: from_party.map(word),
                    connected: refusal.is_none(),
                    refusal: refusal.map(|r: Refusal| word(r)),
                    at: stamp(c.at),
                }
            })
            .collect();
        Self {
            id: session.id.map(|i| i.to_string()).unwrap_or_default(),
            state: state_of(
                session.ended_at.is_some(),
                now >= expires_at,
                max_calls.is_some_and(|cap| connected >= cap),
            ),
            party_a,
            party_b,
            virtual_number,
            expires_at: stamp(expires_at),
            max_calls,
            calls_connected: connected,
            calls_refused: refused,
            ended_at: session.ended_at.map(stamp),
            created_at: session.opened_at.map(stamp).unwrap_or_default(),
            calls: Some(calls),
        }
    }
}

impl From<SessionRow> for MaskedSessionResponse {
    fn from(row: SessionRow) -> Self {
        let now = stamp(Utc::now());
        let max_calls = row.max_calls.and_then(|m| u32::try_from(m).ok());
        let connected = u32::try_from(row.calls_connected).unwrap_or(0);
        Self {
            state: state_of(
                row.ended_at.is_some(),
                now >= row.expires_at,
                max_calls.is_some_and(|cap| connected >= cap),
            ),
            id: row.session_id,
            party_a: row.party_a,
            party_b: row.party_b,
            virtual_number: row.virtual_number,
            expires_at: row.expires_at,
            max_calls,
            calls_connected: connected,
            calls_refused: u32::try_from(row.calls_refused).unwrap_or(0),
            ended_at: row.ended_at,
            created_at: row.created_at,
            calls: None,
        }
    }
}

/// The filter and page of the session list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    /// Only sessions that can still connect a call.
    pub active: Option<bool>,
    /// 1–500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// Opens a masked session (needs use of the `exotel_phone` integration).
#[utoipa::path(post, path = "/api/v1/masked-sessions", request_body = CreateMaskedSession, tag = "masking", security(("bearer" = [])),
    responses((status = 201, body = Data<MaskedSessionResponse>), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateMaskedSession>,
) -> Result<(StatusCode, Json<Data<MaskedSessionResponse>>), ApiError> {
    let session = state
        .masked_sessions()
        .open(&caller.acting(), body.into_new(), &caller.metadata())
        .await?;
    Ok((StatusCode::CREATED, envelope::data(MaskedSessionResponse::of(&session))))
}

/// The organisation's masked sessions, newest first.
#[utoipa::path(get, path = "/api/v1/masked-sessions", params(SessionQuery), tag = "masking", security(("bearer" = [])),
    responses((status = 200, body = List<MaskedSessionResponse>), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SessionQuery>,
) -> Result<Json<List<MaskedSessionResponse>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let page = Page {
        limit: query.limit,
        offset: query.offset,
    };
    let (limit, offset) = page.bounds()?;
    let open_at = query.active.filter(|a| *a).map(|_| Utc::now());
    let organisation_id = caller.organisation_id.to_string();
    let rows = projections::masked_sessions::list(&state.db.read, &organisation_id, open_at, limit, offset).await?;
    Ok(envelope::list(
        rows.into_iter().map(MaskedSessionResponse::from).collect(),
    ))
}

/// One masked session, with every call made to its number.
#[utoipa::path(get, path = "/api/v1/masked-sessions/{id}", tag = "masking", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the session's id")),
    responses((status = 200, body = Data<MaskedSessionResponse>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<MaskedSessionResponse>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let session = state
        .masked_sessions()
        .get(caller.organisation_id, parse_id(&id)?)
        .await?;
    Ok(envelope::data(MaskedSessionResponse::of(&session)))
}

/// Ends a masked session at once: calls to its number connect nobody.
#[utoipa::path(delete, path = "/api/v1/masked-sessions/{id}", tag = "masking", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the session's id")),
    responses((status = 200, body = Data<MaskedSessionResponse>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn end(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<MaskedSessionResponse>>, ApiError> {
    let session = state
        .masked_sessions()
        .end(&caller.acting(), parse_id(&id)?, &caller.metadata())
        .await?;
    Ok(envelope::data(MaskedSessionResponse::of(&session)))
}
