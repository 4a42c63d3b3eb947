//! SMS: `POST /api/v1/sms` checks every rule of India's DLT regime and
//! records one message per recipient, answering 202 as soon as the intents
//! are committed (the dispatcher hands them to Exotel); the list, one
//! message with the timeline of every report received, and the
//! organisation's DLT templates.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use application::messages::{MessageCursor, MessageFilter, MessageSummary, SmsInput, SmsTemplateSummary};
use domain::outbound_message::{MessageContent, MessageEvent, MessageStatus, OutboundMessage, SmsType};
use domain::sms_template::SmsTemplateSpec;

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::{parse_id, word};
use crate::state::AppState;

const SMS_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0014);

/// The SMS routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/sms", get(list).post(create))
        .route("/sms/templates", get(templates).post(register_template))
        .route("/sms/templates/{template_id}", delete(remove_template))
        .route("/sms/{id}", get(one))
}

/// India's DLT categories; each is sent as Exotel's `SmsType`
/// (`service_implicit` as `transactional`, `service_explicit` as
/// `transactional_opt_in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmsCategory {
    Transactional,
    TransactionalOptIn,
    Promotional,
    ServiceImplicit,
    ServiceExplicit,
}

impl From<SmsCategory> for SmsType {
    fn from(category: SmsCategory) -> Self {
        match category {
            SmsCategory::Transactional => SmsType::Transactional,
            SmsCategory::TransactionalOptIn => SmsType::TransactionalOptIn,
            SmsCategory::Promotional => SmsType::Promotional,
            SmsCategory::ServiceImplicit => SmsType::ServiceImplicit,
            SmsCategory::ServiceExplicit => SmsType::ServiceExplicit,
        }
    }
}

impl From<SmsType> for SmsCategory {
    fn from(sms_type: SmsType) -> Self {
        match sms_type {
            SmsType::Transactional => SmsCategory::Transactional,
            SmsType::TransactionalOptIn => SmsCategory::TransactionalOptIn,
            SmsType::Promotional => SmsCategory::Promotional,
            SmsType::ServiceImplicit => SmsCategory::ServiceImplicit,
            SmsType::ServiceExplicit => SmsCategory::ServiceExplicit,
        }
    }
}

/// An SMS to one number or the same text to up to 100.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsBody {
    /// The request's id, for retries; else derived from `Idempotency-Key`,
    /// else new. Each recipient's message id is derived from it.
    pub batch_id: Option<Uuid>,
    /// E.164 (`+91…`) or the `0`-prefixed national form; 1 to 100, each once.
    #[schema(min_items = 1, max_items = 100)]
    pub to: Vec<String>,
    /// The text (up to 2,000 characters). To an Indian number it must be
    /// the DLT template with its variables filled; else give `variables`.
    #[schema(max_length = 2000)]
    pub body: Option<String>,
    /// The DLT template id (registered under `/api/v1/sms/templates`);
    /// required for Indian numbers.
    #[schema(max_length = 30)]
    pub template_id: Option<String>,
    /// The template's variables in order (each up to 30 characters), instead of `body`.
    pub variables: Option<Vec<String>>,
    /// By default `transactional`. `promotional` goes out only 09:00–21:00
    /// IST (outside it the message waits, `not_before`) and never to a
    /// number on the DND registry.
    pub sms_type: Option<SmsCategory>,
    /// The DLT header; by default the integration's `sender_id`.
    #[schema(max_length = 6)]
    pub sender_id: Option<String>,
    /// By default the integration's `dlt_entity_id`.
    #[schema(max_length = 19)]
    pub dlt_entity_id: Option<String>,
    /// Kept with each message and shown with it; not sent to Exotel.
    #[schema(max_length = 2000)]
    pub custom_data: Option<String>,
}

/// Why Exotel refused the message.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsRefusalResponse {
    /// Exotel's HTTP status; 0 when the request could not be made.
    pub http_status: u16,
    pub code: Option<i64>,
    pub message: String,
}

/// Why the operator failed it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsFailureResponse {
    /// Exotel's `DetailedStatusCode`.
    pub code: Option<i64>,
    /// Its `DetailedStatus` (`FAILED_REJECTED_DND`, …).
    pub description: Option<String>,
}

/// One SMS to one recipient.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsResponse {
    pub id: Uuid,
    pub batch_id: Option<Uuid>,
    pub to: String,
    /// `requested`, `submitted`, `sent` (with the operator), `delivered`, `failed` or `refused`.
    pub status: String,
    /// Where handing it to Exotel stands: `pending`, `started` (in flight,
    /// or in doubt until a report names it), `submitted`, `refused`, or
    /// `unknown` (no report came for an attempt in doubt; never sent again).
    pub dispatch: String,
    pub attempts: u32,
    /// Exotel's `SmsSid`, once submitted.
    pub provider_sid: Option<String>,
    pub body: String,
    pub sms_type: SmsCategory,
    pub sender_id: String,
    pub dlt_entity_id: Option<String>,
    pub template_id: Option<String>,
    /// `gsm7` or `ucs2`.
    pub encoding: String,
    /// Parts it is sent (and billed) in.
    pub segments: u32,
    pub requested_by: Option<Uuid>,
    /// The customer the number is linked to.
    pub customer_id: Option<Uuid>,
    pub custom_data: Option<String>,
    /// Not handed to Exotel before this time (promotional hours).
    pub not_before: Option<DateTime<Utc>>,
    pub requested_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    /// Billed units, once reported.
    pub units: Option<u32>,
    /// Integer paise, once reported.
    pub price_paise: Option<i64>,
    pub failure: Option<SmsFailureResponse>,
    pub refusal: Option<SmsRefusalResponse>,
}

impl SmsResponse {
    pub(crate) fn of(id: Uuid, message: &OutboundMessage) -> Option<Self> {
        let request = message.request.as_deref()?;
        let MessageContent::Sms(sms) = &request.content else {
            return None;
        };
        Some(Self {
            id,
            batch_id: request.batch_id,
            to: request.to.clone(),
            status: word(message.status.unwrap_or(MessageStatus::Requested)),
            dispatch: word(message.dispatch),
            attempts: message.attempts,
            provider_sid: message.provider_sid.clone(),
            body: sms.body.clone(),
            sms_type: sms.sms_type.into(),
            sender_id: sms.sender_id.clone(),
            dlt_entity_id: sms.dlt_entity_id.clone(),
            template_id: sms.dlt_template_id.clone(),
            encoding: word(sms.encoding),
            segments: sms.segments,
            requested_by: request.requested_by,
            customer_id: request.customer_id,
            custom_data: request.custom_data.clone(),
            not_before: request.not_before,
            requested_at: message.requested_at,
            submitted_at: message.submitted_at,
            sent_at: message.sent_at,
            delivered_at: message.delivered_at,
            failed_at: message.failed_at,
            units: message.units,
            price_paise: message.price_paise,
            failure: message.failure.as_ref().map(|f| SmsFailureResponse {
                code: f.code,
                description: f.description.clone(),
            }),
            refusal: message.refusal.as_ref().map(|r| SmsRefusalResponse {
                http_status: r.http_status,
                code: r.code,
                message: r.message.clone(),
            }),
        })
    }
}

/// What a request recorded: one message per recipient.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsBatchResponse {
    pub batch_id: Uuid,
    pub messages: Vec<SmsResponse>,
}

/// One fact of a message's life, in the order received.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsTimelineEntry {
    /// `requested`, `dispatch_started`, `submitted`, `refused`, `not_sent`,
    /// `outcome_unknown` or `report`.
    pub kind: String,
    pub at: DateTime<Utc>,
    /// For a report: `callback` or `lookup`.
    pub source: Option<String>,
    /// For a report: Exotel's word for the status, as received.
    pub provider_status: Option<String>,
    pub detailed_code: Option<i64>,
    /// The status this fact moved the message to, if it moved it.
    pub status: Option<String>,
}

/// A message and its timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsDetail {
    #[serde(flatten)]
    pub message: SmsResponse,
    pub timeline: Vec<SmsTimelineEntry>,
}

pub(crate) fn batch_id(caller: &Caller, given: Option<Uuid>, headers: &HeaderMap) -> Uuid {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    match (given, key) {
        (Some(id), _) => id,
        (None, Some(key)) => {
            let name = format!("{}/{}/{key}", caller.organisation_id, caller.actor.to_key());
            Uuid::new_v5(&SMS_NAMESPACE, name.as_bytes())
        }
        (None, None) => Uuid::new_v4(),
    }
}

impl SmsBody {
    pub(crate) fn input(self, batch_id: Uuid) -> SmsInput {
        SmsInput {
            batch_id,
            to: self.to,
            body: self.body,
            template_id: self.template_id,
            variables: self.variables,
            sms_type: self.sms_type.unwrap_or(SmsCategory::Transactional).into(),
            sender_id: self.sender_id,
            dlt_entity_id: self.dlt_entity_id,
            custom_data: self.custom_data,
            thread_id: None,
        }
    }
}

/// Records the messages of a request and answers them.
pub(crate) async fn record(state: &AppState, caller: &Caller, input: SmsInput) -> Result<SmsBatchResponse, ApiError> {
    let batch_id = input.batch_id;
    let recorded = state
        .messages()
        .request(&caller.acting(), input, &caller.metadata())
        .await?;
    let messages = recorded
        .iter()
        .map(|(id, message)| SmsResponse::of(*id, message).ok_or_else(ApiError::internal))
        .collect::<Result<_, _>>()?;
    Ok(SmsBatchResponse { batch_id, messages })
}

#[utoipa::path(post, path = "/api/v1/sms", tag = "sms", security(("bearer" = [])),
    request_body = SmsBody,
    responses((status = 202, body = Data<SmsBatchResponse>), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "Exotel SMS is not configured or is disabled"),
        (status = 422, body = Problem, description = "a rule of India's DLT regime or of the message is broken")))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SmsBody>,
) -> Result<(StatusCode, Json<Data<SmsBatchResponse>>), ApiError> {
    let batch_id = batch_id(&caller, body.batch_id, &headers);
    let response = record(&state, &caller, body.input(batch_id)).await?;
    Ok((StatusCode::ACCEPTED, envelope::data(response)))
}

#[utoipa::path(get, path = "/api/v1/sms/{id}", tag = "sms", security(("bearer" = [])),
    params(("id" = String, Path, description = "the message's id")),
    responses((status = 200, body = Data<SmsDetail>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<SmsDetail>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let id = parse_id(&id)?;
    let message = state.messages().get(caller.organisation_id, id).await?;
    let response = SmsResponse::of(id, &message).ok_or_else(ApiError::not_found)?;
    let timeline = timeline(&state, &caller, id).await?;
    Ok(envelope::data(SmsDetail {
        message: response,
        timeline,
    }))
}

async fn timeline(state: &AppState, caller: &Caller, id: Uuid) -> Result<Vec<SmsTimelineEntry>, ApiError> {
    let organisation_id = caller.organisation_id.to_string();
    let rows = projections::audit_log::history(
        &state.db.read,
        &organisation_id,
        "outbound_message",
        &id.to_string(),
        None,
    )
    .await?;
    let mut entries: Vec<SmsTimelineEntry> = Vec::new();
    for row in rows {
        let Ok(event) = serde_json::from_value::<MessageEvent>(row.payload) else {
            continue;
        };
        let entry = |kind: &str, at: DateTime<Utc>| SmsTimelineEntry {
            kind: kind.into(),
            at,
            source: None,
            provider_status: None,
            detailed_code: None,
            status: None,
        };
        match event {
            MessageEvent::MessageRequested { at, .. } => entries.push(entry("requested", at)),
            MessageEvent::MessageDispatchStarted { at, .. } => entries.push(entry("dispatch_started", at)),
            MessageEvent::MessageSubmitted { at, .. } => entries.push(entry("submitted", at)),
            MessageEvent::MessageRefused { at, .. } => entries.push(entry("refused", at)),
            MessageEvent::MessageNotSent { at, .. } => entries.push(entry("not_sent", at)),
            MessageEvent::MessageOutcomeUnknown { at } => entries.push(entry("outcome_unknown", at)),
            MessageEvent::MessageReportReceived { report } => entries.push(SmsTimelineEntry {
                kind: "report".into(),
                at: report.received_at,
                source: Some(word(report.source)),
                provider_status: report.provider_status.clone(),
                detailed_code: report.detailed_code,
                status: None,
            }),
            MessageEvent::MessageProgressed { status, .. } => {
                if let Some(last) = entries.last_mut() {
                    last.status = Some(word(status));
                }
            }
        }
    }
    Ok(entries)
}

/// A status to list by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmsStatusFilter {
    Requested,
    Submitted,
    Sent,
    Delivered,
    Failed,
    Refused,
}

/// Which messages to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SmsQuery {
    #[param(inline)]
    pub status: Option<SmsStatusFilter>,
    /// The recipient, in either form.
    pub to: Option<String>,
    pub batch_id: Option<Uuid>,
    #[param(pattern = r"^[0-9]{1,18}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

fn invalid_query(field: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).on_field(field)
}

fn cursor_of(message: &MessageSummary) -> String {
    format!("{}_{}", message.requested_at.timestamp_micros(), message.message_id)
}

fn read_cursor(text: &str) -> Result<MessageCursor, ApiError> {
    let bad = || invalid_query("cursor", "not a cursor this route gave");
    let (micros, id) = text.split_once('_').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MAX_UTC);
    Ok((at, Uuid::try_parse(id).map_err(|_| bad())?))
}

impl SmsQuery {
    fn filter(&self) -> Result<(MessageFilter, Option<MessageCursor>, u32), ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(invalid_query("limit", "limit must be 1 to 500"));
        }
        let status = self.status.map(|s| match s {
            SmsStatusFilter::Requested => MessageStatus::Requested,
            SmsStatusFilter::Submitted => MessageStatus::Submitted,
            SmsStatusFilter::Sent => MessageStatus::Sent,
            SmsStatusFilter::Delivered => MessageStatus::Delivered,
            SmsStatusFilter::Failed => MessageStatus::Failed,
            SmsStatusFilter::Refused => MessageStatus::Refused,
        });
        let to = self
            .to
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| domain::integration::settings::phone_number("to", t).unwrap_or_else(|_| t.to_string()));
        let filter = MessageFilter {
            channel: Some("sms".into()),
            status,
            to,
            batch_id: self.batch_id,
        };
        let after = self.cursor.as_deref().map(read_cursor).transpose()?;
        Ok((filter, after, limit as u32))
    }
}

/// A message as the list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsListItem {
    pub id: Uuid,
    pub batch_id: Option<Uuid>,
    pub to: String,
    pub status: String,
    pub dispatch: String,
    pub provider_sid: Option<String>,
    pub sender_id: Option<String>,
    pub sms_type: Option<String>,
    pub segments: Option<i64>,
    pub requested_by: Option<Uuid>,
    pub requested_at: DateTime<Utc>,
    pub not_before: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Exotel's `DetailedStatusCode` of a failure.
    pub failure_code: Option<i64>,
}

impl From<MessageSummary> for SmsListItem {
    fn from(message: MessageSummary) -> Self {
        Self {
            id: message.message_id,
            batch_id: message.batch_id,
            to: message.to,
            status: message.status,
            dispatch: message.dispatch,
            provider_sid: message.provider_sid,
            sender_id: message.sender_id,
            sms_type: message.sms_type,
            segments: message.segments,
            requested_by: message.requested_by,
            requested_at: message.requested_at,
            not_before: message.not_before,
            delivered_at: message.delivered_at,
            failure_code: message.failure_code,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/sms", params(SmsQuery), tag = "sms", security(("bearer" = [])),
    responses((status = 200, body = List<SmsListItem>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SmsQuery>,
) -> Result<Json<List<SmsListItem>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let (filter, after, limit) = query.filter()?;
    let messages = state
        .messages()
        .list(caller.organisation_id, &filter, after, limit)
        .await?;
    let next_cursor = messages
        .last()
        .filter(|_| messages.len() == limit as usize)
        .map(cursor_of);
    let Json(mut page) = envelope::list(messages.into_iter().map(SmsListItem::from).collect());
    page.next_cursor = next_cursor;
    Ok(Json(page))
}

/// A DLT content template as registered on the DLT platform.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsTemplateBody {
    /// The DLT platform's template id (digits).
    #[schema(max_length = 30)]
    pub template_id: String,
    #[schema(max_length = 100)]
    pub name: String,
    /// The registered text, each variable written `{#var#}` (up to 30 characters each when filled).
    #[schema(max_length = 2000)]
    pub body: String,
    /// The DLT header the template is linked to (six letters or digits).
    #[schema(max_length = 6)]
    pub sender_id: String,
    /// Its DLT category.
    pub sms_type: SmsCategory,
}

/// A registered template.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsTemplateResponse {
    pub template_id: String,
    pub name: String,
    pub body: String,
    pub sender_id: String,
    pub sms_type: SmsCategory,
    /// How many `{#var#}` it has.
    pub variables: usize,
    pub registered_at: Option<DateTime<Utc>>,
}

impl From<SmsTemplateSummary> for SmsTemplateResponse {
    fn from(template: SmsTemplateSummary) -> Self {
        Self {
            template_id: template.dlt_template_id,
            name: template.name,
            body: template.body,
            sender_id: template.sender_id,
            sms_type: template.sms_type.into(),
            variables: template.variables,
            registered_at: Some(template.registered_at),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/sms/templates", tag = "sms", security(("bearer" = [])),
    request_body = SmsTemplateBody,
    responses((status = 201, body = Data<SmsTemplateResponse>), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "the DLT id is registered with other content"),
        (status = 422, body = Problem)))]
pub async fn register_template(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<SmsTemplateBody>,
) -> Result<(StatusCode, Json<Data<SmsTemplateResponse>>), ApiError> {
    caller.require(domain::Role::can_administer)?;
    let spec = SmsTemplateSpec {
        dlt_template_id: body.template_id.trim().to_string(),
        name: body.name,
        body: body.body,
        sender_id: body.sender_id,
        sms_type: body.sms_type.into(),
    };
    let (kept, registered_at) = state
        .messages()
        .register_template(caller.organisation_id, spec, &caller.metadata())
        .await?;
    let response = SmsTemplateResponse {
        variables: domain::sms::dlt::variables(&kept.body),
        template_id: kept.dlt_template_id,
        name: kept.name,
        body: kept.body,
        sender_id: kept.sender_id,
        sms_type: kept.sms_type.into(),
        registered_at: Some(registered_at),
    };
    Ok((StatusCode::CREATED, envelope::data(response)))
}

#[utoipa::path(get, path = "/api/v1/sms/templates", tag = "sms", security(("bearer" = [])),
    responses((status = 200, body = List<SmsTemplateResponse>), (status = 403, body = Problem)))]
pub async fn templates(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<List<SmsTemplateResponse>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let templates = state.messages().templates(caller.organisation_id).await?;
    Ok(envelope::list(
        templates.into_iter().map(SmsTemplateResponse::from).collect(),
    ))
}

#[utoipa::path(delete, path = "/api/v1/sms/templates/{template_id}", tag = "sms", security(("bearer" = [])),
    params(("template_id" = String, Path, description = "the DLT template id")),
    responses((status = 204, description = "removed"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove_template(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(template_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(domain::Role::can_administer)?;
    state
        .messages()
        .remove_template(caller.organisation_id, template_id.trim(), &caller.metadata())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
