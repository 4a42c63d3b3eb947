//! Calls: `POST /api/v1/calls` records a click-to-call and answers 202 as
//! soon as the intent is committed (the dispatcher asks Exotel); the list
//! and one call with its legs and the timeline of every status fact
//! received. The provider's recording URL is never shown.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use application::calls::{CallCursor, CallFilter, CallInput, CallSummary};
use domain::call::{Call, CallEvent, CallStatus, Purpose};

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::{parse_id, word};
use crate::state::AppState;

const CALL_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0011);

/// The call routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/calls", get(list).post(create))
        .route("/calls/{id}", get(one))
        .route("/calls/{id}/recording", get(recording))
}

/// `single` (both parties on one channel) or `dual` (one each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordingChannels {
    Single,
    Dual,
}

/// Whether the call may reach a number on India's Do-Not-Disturb registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallPurpose {
    Transactional,
    Promotional,
}

/// A click-to-call: the agent's phone rings first, then the customer's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallBody {
    /// The call's id, for retries; else derived from `Idempotency-Key`, else new.
    pub call_id: Option<Uuid>,
    /// The agent (a user of the organisation); their assigned number is the
    /// default caller id.
    pub agent_user_id: Option<Uuid>,
    /// The agent's phone, E.164 (`+91…`) or `0`-prefixed national form.
    #[schema(max_length = 32)]
    pub agent_phone: Option<String>,
    /// The customer's phone, in either form.
    #[schema(max_length = 32)]
    pub customer_phone: String,
    /// One of the organisation's active numbers; by default the agent's
    /// assigned number, else the primary.
    #[schema(max_length = 32)]
    pub caller_id: Option<String>,
    #[serde(default)]
    pub record: bool,
    pub recording_channels: Option<RecordingChannels>,
    /// Seconds, 1–14,400 (four hours, Exotel's limit).
    #[schema(minimum = 1, maximum = 14400)]
    pub time_limit: Option<u32>,
    /// Kept with the call and shown with it; not sent to Exotel.
    #[schema(max_length = 2000)]
    pub custom_data: Option<String>,
    pub purpose: Option<CallPurpose>,
    /// Ask for a verified (branded) call: the customer's screen shows the
    /// brand and `verification_reason`; refused (422
    /// `verified_calls_unavailable`) while no verified-call provider is
    /// configured, never placed unverified.
    #[serde(default)]
    pub verified: bool,
    /// Why the call is made, as a verified call shows it: 1 to 60
    /// characters; needed with `verified`, refused without it.
    #[schema(max_length = 60)]
    pub verification_reason: Option<String>,
}

/// A verified call's branding.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationResponse {
    pub reason: String,
    /// Absent until the provider has arranged it.
    pub provider: Option<String>,
    pub reference: Option<String>,
    /// The brand name shown.
    pub caller_name: Option<String>,
}

/// One leg of a call.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegResponse {
    /// Exotel's word (`completed`, `no-answer`, `busy`…).
    pub status: Option<String>,
    pub on_call_duration_secs: Option<u32>,
}

/// Why Exotel refused to place the call.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusalResponse {
    /// Exotel's HTTP status; 0 when the call could not be sent at all.
    pub http_status: u16,
    pub code: Option<u32>,
    pub message: String,
}

/// One fact of a call's life, in the order received.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// `requested`, `dispatch_started`, `placed`, `refused`,
    /// `not_found_at_provider`, `report` or `recording_stored`.
    pub kind: String,
    pub at: DateTime<Utc>,
    /// For a report: `callback`, `lookup` or `flow`.
    pub source: Option<String>,
    /// For a report: Exotel's word for the status, as received.
    pub provider_status: Option<String>,
    /// The call's status this fact moved it to, if it moved it.
    pub status: Option<String>,
}

/// A call.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallResponse {
    pub id: Uuid,
    /// `outbound` or `inbound`.
    pub direction: String,
    /// `requested`, `queued`, `ringing`, `answered`, `completed`, `busy`,
    /// `no_answer`, `failed`, `canceled` or `refused`.
    pub status: String,
    /// Where asking Exotel stands: `pending`, `started` (in flight, or in
    /// doubt until looked up), `placed` or `refused`.
    pub dispatch: String,
    pub attempts: u32,
    /// Exotel's `CallSid`, once placed.
    pub provider_sid: Option<String>,
    pub agent_user_id: Option<Uuid>,
    pub agent_phone: String,
    pub customer_phone: String,
    pub caller_id: String,
    pub requested_by: Option<Uuid>,
    pub record: bool,
    pub recording_channels: RecordingChannels,
    pub time_limit: Option<u32>,
    pub custom_data: Option<String>,
    /// A verified call's branding: what the customer is shown, once arranged.
    pub verification: Option<VerificationResponse>,
    /// The masked session an inbound call came through.
    pub masked_session_id: Option<Uuid>,
    pub purpose: CallPurpose,
    pub requested_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<u32>,
    pub conversation_duration_secs: Option<u32>,
    /// Integer paise.
    pub price_paise: Option<i64>,
    pub disconnected_by: Option<String>,
    /// Whether Exotel recorded the call; fetch it from `…/recording`.
    pub has_recording: bool,
    /// The recording as kept, once it was first fetched.
    pub recording: Option<RecordingResponse>,
    pub refusal: Option<RefusalResponse>,
    pub legs: Vec<LegResponse>,
}

/// A kept recording.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingResponse {
    /// `wav`, `mp3` or `unknown`.
    pub format: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub channels: Option<u8>,
    pub duration_secs: Option<u32>,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

impl CallResponse {
    pub(crate) fn of(id: Uuid, call: &Call) -> Option<Self> {
        let request = call.request.as_deref()?;
        let details = &call.details;
        Some(Self {
            id,
            direction: word(request.direction),
            status: call.status.map(word).unwrap_or_default(),
            dispatch: word(call.dispatch),
            attempts: call.attempts,
            provider_sid: call.provider_sid.clone(),
            agent_user_id: request.agent_user_id,
            agent_phone: request.agent_phone.clone(),
            customer_phone: request.customer_phone.clone(),
            caller_id: request.caller_id.clone(),
            requested_by: request.requested_by,
            record: request.record,
            recording_channels: match request.recording_channels {
                2 => RecordingChannels::Dual,
                _ => RecordingChannels::Single,
            },
            time_limit: request.time_limit_secs,
            custom_data: request.custom_data.clone(),
            masked_session_id: request.masked_session_id,
            verification: request.verification.as_ref().map(|v| VerificationResponse {
                reason: v.reason.clone(),
                provider: call.verification.as_ref().map(|a| a.provider.clone()),
                reference: call.verification.as_ref().map(|a| a.reference.clone()),
                caller_name: call.verification.as_ref().map(|a| a.caller_name.clone()),
            }),
            purpose: match request.purpose {
                Purpose::Transactional => CallPurpose::Transactional,
                Purpose::Promotional => CallPurpose::Promotional,
            },
            requested_at: call.requested_at,
            answered_at: call.answered_at,
            ended_at: call.ended_at,
            duration_secs: details.duration_secs,
            conversation_duration_secs: details.conversation_duration_secs,
            price_paise: details.price_paise,
            disconnected_by: details.disconnected_by.clone(),
            has_recording: details.recording_url.is_some(),
            recording: call.recording.as_ref().map(|r| RecordingResponse {
                format: r.format.clone(),
                content_type: r.content_type.clone(),
                size_bytes: r.size_bytes,
                channels: r.channels,
                duration_secs: r.duration_secs,
                sha256: r.sha256.clone(),
            }),
            refusal: call.refusal.as_ref().map(|r| RefusalResponse {
                http_status: r.http_status,
                code: r.code,
                message: r.message.clone(),
            }),
            legs: details
                .legs
                .iter()
                .flatten()
                .map(|leg| LegResponse {
                    status: leg.status.clone(),
                    on_call_duration_secs: leg.on_call_duration_secs,
                })
                .collect(),
        })
    }
}

/// A call with the timeline of every fact recorded of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: CallResponse,
    pub timeline: Vec<TimelineEntry>,
}

pub(crate) fn call_id(caller: &Caller, given: Option<Uuid>, headers: &HeaderMap) -> Uuid {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    match (given, key) {
        (Some(id), _) => id,
        (None, Some(key)) => {
            let name = format!("{}/{}/{key}", caller.organisation_id, caller.actor.to_key());
            Uuid::new_v5(&CALL_NAMESPACE, name.as_bytes())
        }
        (None, None) => Uuid::new_v4(),
    }
}

impl CallBody {
    fn input(self, call_id: Uuid) -> CallInput {
        CallInput {
            call_id,
            agent_user_id: self.agent_user_id,
            agent_phone: self.agent_phone,
            customer_phone: self.customer_phone,
            caller_id: self.caller_id,
            record: self.record,
            recording_channels: match self.recording_channels {
                Some(RecordingChannels::Dual) => 2,
                _ => 1,
            },
            time_limit_secs: self.time_limit,
            custom_data: self.custom_data,
            purpose: match self.purpose {
                Some(CallPurpose::Promotional) => Purpose::Promotional,
                _ => Purpose::Transactional,
            },
            verified: self.verified,
            verification_reason: self.verification_reason,
            thread_id: None,
        }
    }
}

/// Records a click-to-call and answers 202 with it; the dispatcher places
/// it. The same `call_id` (or `Idempotency-Key`) with the same request is
/// the same call, never a second one.
#[utoipa::path(post, path = "/api/v1/calls", tag = "calls", security(("bearer" = [])),
    request_body = CallBody,
    responses((status = 202, body = Data<CallResponse>), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "Exotel phone is not configured or is disabled")))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CallBody>,
) -> Result<(StatusCode, Json<Data<CallResponse>>), ApiError> {
    let call_id = call_id(&caller, body.call_id, &headers);
    let call = state
        .calls()
        .request(&caller.acting(), body.input(call_id), &caller.metadata())
        .await?;
    let response = CallResponse::of(call_id, &call).ok_or_else(ApiError::internal)?;
    Ok((StatusCode::ACCEPTED, envelope::data(response)))
}

/// One call with its legs and the timeline of every status fact received.
#[utoipa::path(get, path = "/api/v1/calls/{id}", tag = "calls", security(("bearer" = [])),
    params(("id" = String, Path, description = "the call's id")),
    responses((status = 200, body = Data<CallDetail>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<CallDetail>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let id = parse_id(&id)?;
    let call = state.calls().get(caller.organisation_id, id).await?;
    let response = CallResponse::of(id, &call).ok_or_else(ApiError::not_found)?;
    let timeline = timeline(&state, &caller, id).await?;
    Ok(envelope::data(CallDetail {
        call: response,
        timeline,
    }))
}

async fn timeline(state: &AppState, caller: &Caller, id: Uuid) -> Result<Vec<TimelineEntry>, ApiError> {
    let organisation_id = caller.organisation_id.to_string();
    let rows = projections::audit_log::history(&state.db.read, &organisation_id, "call", &id.to_string(), None).await?;
    let mut entries: Vec<TimelineEntry> = Vec::new();
    for row in rows {
        let Ok(event) = serde_json::from_value::<CallEvent>(row.payload) else {
            continue;
        };
        let entry = |kind: &str, at: DateTime<Utc>| TimelineEntry {
            kind: kind.into(),
            at,
            source: None,
            provider_status: None,
            status: None,
        };
        match event {
            CallEvent::CallRequested { at, .. } => entries.push(entry("requested", at)),
            CallEvent::CallVerificationArranged { at, .. } => entries.push(entry("verification_arranged", at)),
            CallEvent::CallDispatchStarted { at, .. } => entries.push(entry("dispatch_started", at)),
            CallEvent::CallPlaced { at, .. } => entries.push(entry("placed", at)),
            CallEvent::CallRefused { at, .. } => entries.push(entry("refused", at)),
            CallEvent::CallNotFoundAtProvider { at } => entries.push(entry("not_found_at_provider", at)),
            CallEvent::CallReportReceived { report } => entries.push(TimelineEntry {
                kind: "report".into(),
                at: report.received_at,
                source: Some(word(report.source)),
                provider_status: report.provider_status.clone(),
                status: None,
            }),
            CallEvent::CallProgressed { status, .. } => {
                if let Some(last) = entries.last_mut().filter(|e| e.kind == "report") {
                    last.status = Some(word(status));
                }
            }
            CallEvent::CallDetailsAdded { .. } => {}
            CallEvent::CallRecordingStored { at, .. } => entries.push(entry("recording_stored", at)),
        }
    }
    Ok(entries)
}

/// A call's status, as the list filters by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallStatusFilter {
    Requested,
    Queued,
    Ringing,
    Answered,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
    Refused,
}

/// The filters and page of `GET /calls`, in the query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallQuery {
    #[param(inline)]
    pub status: Option<CallStatusFilter>,
    pub agent_user_id: Option<Uuid>,
    /// The customer's number, in either form (a number that is not a phone
    /// number matches no call).
    pub customer_phone: Option<String>,
    /// Any of the call's numbers: agent, customer or caller id.
    pub number: Option<String>,
    /// RFC 3339; calls requested at or after.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339; calls requested before.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,18}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub cursor: Option<String>,
    /// 1–500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

fn invalid_query(field: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).on_field(field)
}

fn time(field: &str, text: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.as_deref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| invalid_query(field, "use an RFC 3339 time"))
        })
        .transpose()
}

/// A number filter in E.164 when it reads as a phone number, else as
/// given (matching nothing); empty is no filter.
fn number(text: &Option<String>) -> Option<String> {
    let text = text.as_deref().map(str::trim).filter(|t| !t.is_empty())?;
    Some(domain::integration::settings::phone_number("number", text).unwrap_or_else(|_| text.to_string()))
}

/// `<microseconds since 1970>_<call id>`.
fn cursor_of(call: &CallSummary) -> String {
    format!("{}_{}", call.requested_at.timestamp_micros(), call.call_id)
}

fn read_cursor(text: &str) -> Result<CallCursor, ApiError> {
    let bad = || invalid_query("cursor", "not a cursor this route gave");
    let (micros, id) = text.split_once('_').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MAX_UTC);
    Ok((at, Uuid::try_parse(id).map_err(|_| bad())?))
}

impl CallQuery {
    fn filter(&self) -> Result<(CallFilter, Option<CallCursor>, u32), ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(invalid_query("limit", "limit must be 1 to 500"));
        }
        let status = self.status.map(|s| match s {
            CallStatusFilter::Requested => CallStatus::Requested,
            CallStatusFilter::Queued => CallStatus::Queued,
            CallStatusFilter::Ringing => CallStatus::Ringing,
            CallStatusFilter::Answered => CallStatus::Answered,
            CallStatusFilter::Completed => CallStatus::Completed,
            CallStatusFilter::Busy => CallStatus::Busy,
            CallStatusFilter::NoAnswer => CallStatus::NoAnswer,
            CallStatusFilter::Failed => CallStatus::Failed,
            CallStatusFilter::Canceled => CallStatus::Canceled,
            CallStatusFilter::Refused => CallStatus::Refused,
        });
        let filter = CallFilter {
            status,
            agent_user_id: self.agent_user_id,
            customer_phone: number(&self.customer_phone),
            number: number(&self.number),
            requested_from: time("from", &self.from)?,
            requested_to: time("to", &self.to)?,
        };
        let after = self.cursor.as_deref().map(read_cursor).transpose()?;
        Ok((filter, after, limit as u32))
    }
}

/// A call in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallListItem {
    pub id: Uuid,
    pub direction: String,
    pub status: String,
    pub dispatch: String,
    pub provider_sid: Option<String>,
    pub agent_user_id: Option<Uuid>,
    pub agent_phone: String,
    pub customer_phone: String,
    pub caller_id: String,
    pub requested_by: Option<Uuid>,
    pub requested_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<i64>,
    /// Integer paise.
    pub price_paise: Option<i64>,
    pub has_recording: bool,
}

impl From<CallSummary> for CallListItem {
    fn from(call: CallSummary) -> Self {
        Self {
            id: call.call_id,
            direction: call.direction,
            status: call.status,
            dispatch: call.dispatch,
            provider_sid: call.provider_sid,
            agent_user_id: call.agent_user_id,
            agent_phone: call.agent_phone,
            customer_phone: call.customer_phone,
            caller_id: call.caller_id,
            requested_by: call.requested_by,
            requested_at: call.requested_at,
            answered_at: call.answered_at,
            ended_at: call.ended_at,
            duration_secs: call.duration_secs,
            price_paise: call.price_paise,
            has_recording: call.has_recording,
        }
    }
}

/// The organisation's calls, newest first, filtered and cursor-paginated:
/// pass `next_cursor` as `cursor` for the next page.
#[utoipa::path(get, path = "/api/v1/calls", params(CallQuery), tag = "calls", security(("bearer" = [])),
    responses((status = 200, body = List<CallListItem>), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CallQuery>,
) -> Result<Json<List<CallListItem>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let (filter, after, limit) = query.filter()?;
    let calls = state
        .calls()
        .list(caller.organisation_id, &filter, after, limit)
        .await?;
    let next_cursor = calls.last().filter(|_| calls.len() == limit as usize).map(cursor_of);
    let Json(mut page) = envelope::list(calls.into_iter().map(CallListItem::from).collect());
    page.next_cursor = next_cursor;
    Ok(Json(page))
}

/// The call's recording, streamed; `Range` requests are answered 206 so a
/// player can seek. Fetched from Exotel on first use and kept; Exotel's
/// URL is never handed out. 404 `no_recording` when Exotel recorded
/// nothing, `recording_gone` when it no longer serves it.
#[utoipa::path(get, path = "/api/v1/calls/{id}/recording", tag = "calls", security(("bearer" = [])),
    params(("id" = String, Path, description = "the call's id"),
        ("Range" = Option<String>, Header, description = "bytes=START-END")),
    responses(
        (status = 200, description = "the whole recording", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "the range asked for", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 416, description = "the range lies outside the recording"),
        (status = 502, body = Problem, description = "Exotel failed or could not be reached")))]
pub async fn recording(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<axum::response::Response, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let id = parse_id(&id)?;
    let kept = state
        .calls()
        .recording(caller.organisation_id, id, &caller.metadata())
        .await?;
    crate::routes::serve_kept(&kept.path, &kept.file.content_type, request).await
}
