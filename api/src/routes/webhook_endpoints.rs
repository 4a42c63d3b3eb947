//! Webhook endpoints of client systems, and what was delivered to them
//! (admins only). Deliveries are signed as Standard Webhooks 1.0 specifies:
//! `webhook-id` (the same on every attempt), `webhook-timestamp` and
//! `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of
//! `id.timestamp.body` under the secret's bytes, one per secret in force).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

use application::webhooks::{AttemptRecord, DeliveryRecord, DeliveryState, webhook_id};
use domain::Role;
use domain::webhook_endpoint::{EndpointChange, EndpointSpec, WebhookEndpoint, WebhookEventType};
use projections::webhook_outbox::EndpointRow;

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::guard::HoldsSecrets;
use crate::routes::{Page, parse_id, stamp};
use crate::state::AppState;

/// The routes of this module, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/{id}", get(one).patch(update).delete(remove))
        .route("/webhooks/{id}/secret/rotate", post(rotate_secret))
        .route("/webhooks/{id}/deliveries", get(deliveries))
        .route("/webhooks/{id}/deliveries/{delivery_id}", get(delivery))
        .route("/webhooks/{id}/deliveries/{delivery_id}/redeliver", post(redeliver))
}

/// What a client system can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "call.requested")]
    CallRequested,
    #[serde(rename = "call.answered")]
    CallAnswered,
    #[serde(rename = "call.completed")]
    CallCompleted,
    #[serde(rename = "call.failed")]
    CallFailed,
    #[serde(rename = "recording.available")]
    RecordingAvailable,
    /// Exotel has the SMS.
    #[serde(rename = "sms.submitted")]
    SmsSubmitted,
    #[serde(rename = "sms.delivered")]
    SmsDelivered,
    /// The operator failed it, or Exotel refused it.
    #[serde(rename = "sms.failed")]
    SmsFailed,
    #[serde(rename = "whatsapp.delivered")]
    WhatsappDelivered,
    #[serde(rename = "whatsapp.read")]
    WhatsappRead,
    /// WhatsApp failed it, or Exotel refused it.
    #[serde(rename = "whatsapp.failed")]
    WhatsappFailed,
    /// A customer's WhatsApp message arrived.
    #[serde(rename = "whatsapp.received")]
    WhatsappReceived,
}

impl From<EventType> for WebhookEventType {
    fn from(value: EventType) -> Self {
        match value {
            EventType::CallRequested => Self::CallRequested,
            EventType::CallAnswered => Self::CallAnswered,
            EventType::CallCompleted => Self::CallCompleted,
            EventType::CallFailed => Self::CallFailed,
            EventType::RecordingAvailable => Self::RecordingAvailable,
            EventType::SmsSubmitted => Self::SmsSubmitted,
            EventType::SmsDelivered => Self::SmsDelivered,
            EventType::SmsFailed => Self::SmsFailed,
            EventType::WhatsappDelivered => Self::WhatsappDelivered,
            EventType::WhatsappRead => Self::WhatsappRead,
            EventType::WhatsappFailed => Self::WhatsappFailed,
            EventType::WhatsappReceived => Self::WhatsappReceived,
        }
    }
}

impl From<WebhookEventType> for EventType {
    fn from(value: WebhookEventType) -> Self {
        match value {
            WebhookEventType::CallRequested => Self::CallRequested,
            WebhookEventType::CallAnswered => Self::CallAnswered,
            WebhookEventType::CallCompleted => Self::CallCompleted,
            WebhookEventType::CallFailed => Self::CallFailed,
            WebhookEventType::RecordingAvailable => Self::RecordingAvailable,
            WebhookEventType::SmsSubmitted => Self::SmsSubmitted,
            WebhookEventType::SmsDelivered => Self::SmsDelivered,
            WebhookEventType::SmsFailed => Self::SmsFailed,
            WebhookEventType::WhatsappDelivered => Self::WhatsappDelivered,
            WebhookEventType::WhatsappRead => Self::WhatsappRead,
            WebhookEventType::WhatsappFailed => Self::WhatsappFailed,
            WebhookEventType::WhatsappReceived => Self::WhatsappReceived,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// An http or https URL without a user name or password, at most 2,048
    /// characters, whose address is public (unless the server's outbound
    /// rule allows private ones).
    #[schema(example = "https://crm.example.com/hooks/switchboard", max_length = 2048)]
    pub url: String,
    /// At least one.
    #[schema(min_items = 1)]
    pub event_types: Vec<EventType>,
    /// At most 200 characters.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub description: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[schema(min_items = 1)]
    pub event_types: Option<Vec<EventType>>,
    #[schema(max_length = 200)]
    pub description: Option<String>,
    /// `false` stops deliveries (they wait, and are retried once enabled
    /// again); `true` resumes them.
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointResponse {
    pub id: String,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub description: String,
    pub enabled: bool,
    /// Why deliveries stopped, while the endpoint is disabled.
    pub disabled_reason: Option<String>,
    /// RFC 3339.
    pub disabled_at: Option<String>,
    /// RFC 3339: until then the previous secret also signs.
    pub previous_secret_valid_until: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

impl WebhookEndpointResponse {
    fn of(endpoint: &WebhookEndpoint) -> Self {
        let spec = endpoint.spec.clone().unwrap_or(EndpointSpec {
            url: String::new(),
            event_types: Vec::new(),
            description: String::new(),
        });
        let now = Utc::now();
        Self {
            id: endpoint.id.map(|i| i.to_string()).unwrap_or_default(),
            url: spec.url,
            event_types: spec.event_types.into_iter().map(EventType::from).collect(),
            description: spec.description,
            enabled: endpoint.disabled.is_none(),
            disabled_reason: endpoint.disabled.as_ref().map(|d| d.reason.clone()),
            disabled_at: endpoint.disabled.as_ref().map(|d| stamp(d.at)),
            previous_secret_valid_until: endpoint
                .previous_secret
                .as_ref()
                .filter(|p| p.valid_until > now)
                .map(|p| stamp(p.valid_until)),
            created_at: endpoint.created_at.map(stamp).unwrap_or_default(),
        }
    }
}

impl From<EndpointRow> for WebhookEndpointResponse {
    fn from(row: EndpointRow) -> Self {
        let event_types = row
            .event_types
            .iter()
            .filter_map(|t| serde_json::from_value(serde_json::Value::String(t.clone())).ok())
            .collect();
        Self {
            id: row.endpoint_id,
            url: row.url,
            event_types,
            description: row.description,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            disabled_at: row.disabled_at,
            previous_secret_valid_until: None,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhookEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointResponse,
    /// `whsec_…`: the signing secret. Shown this once: store it now. Absent
    /// from an idempotent replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointResponse,
    /// `whsec_…`: the new signing secret, shown this once. Absent from an
    /// idempotent replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStateName {
    Pending,
    Succeeded,
    Failed,
}

impl From<DeliveryState> for DeliveryStateName {
    fn from(value: DeliveryState) -> Self {
        match value {
            DeliveryState::Pending => Self::Pending,
            DeliveryState::Succeeded => Self::Succeeded,
            DeliveryState::Failed => Self::Failed,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    pub id: String,
    /// The `webhook-id` header: the same on every attempt.
    pub webhook_id: String,
    pub event_type: String,
    pub state: DeliveryStateName,
    pub attempts: u32,
    /// RFC 3339; while pending.
    pub next_attempt_at: Option<String>,
    /// RFC 3339: retried until then.
    pub retry_until: String,
    /// The receiver's last HTTP status, when it answered.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// RFC 3339.
    pub delivered_at: Option<String>,
    /// RFC 3339: when the event happened.
    pub created_at: String,
}

impl DeliveryResponse {
    fn of(record: &DeliveryRecord, retry_until: DateTime<Utc>) -> Self {
        Self {
            id: record.delivery_id.to_string(),
            webhook_id: webhook_id(record.delivery_id),
            event_type: record.event_type.clone(),
            state: record.state.into(),
            attempts: record.attempts,
            next_attempt_at: match record.state {
                DeliveryState::Pending => record.next_attempt_at.map(stamp),
                _ => None,
            },
            retry_until: stamp(retry_until),
            last_status: record.last_status,
            last_error: record.last_error.clone(),
            delivered_at: record.delivered_at.map(stamp),
            created_at: stamp(record.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptResponse {
    pub attempt: u32,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: u64,
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl From<&AttemptRecord> for AttemptResponse {
    fn from(attempt: &AttemptRecord) -> Self {
        Self {
            attempt: attempt.attempt,
            started_at: stamp(attempt.started_at),
            duration_ms: attempt.duration_ms,
            status: attempt.status,
            error: attempt.error.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryResponse,
    /// The body as sent, byte for byte: what the signature covers.
    pub body: String,
    pub attempts_made: Vec<AttemptResponse>,
}

/// The filter and page of a delivery log, in the query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    #[param(inline)]
    pub state: Option<DeliveryStateName>,
    /// 1–500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// Lists the organisation's webhook endpoints, newest first (admins only).
#[utoipa::path(get, path = "/api/v1/webhooks", params(Page), tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = List<WebhookEndpointResponse>), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<List<WebhookEndpointResponse>>, ApiError> {
    caller.require(Role::can_administer)?;
    let (limit, offset) = page.bounds()?;
    let organisation_id = caller.organisation_id.to_string();
    let rows = projections::webhook_outbox::list_endpoints(&state.db.read, &organisation_id, limit, offset).await?;
    Ok(envelope::list(
        rows.into_iter().map(WebhookEndpointResponse::from).collect(),
    ))
}

/// Registers an endpoint (admins only). The answer holds its signing
/// secret, once; an idempotent replay omits it.
#[utoipa::path(post, path = "/api/v1/webhooks", request_body = CreateWebhookEndpoint, tag = "webhooks", security(("bearer" = [])),
    responses((status = 201, body = Data<CreatedWebhookEndpoint>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateWebhookEndpoint>,
) -> Result<Response, ApiError> {
    caller.require(Role::can_administer)?;
    let spec = EndpointSpec {
        url: body.url,
        event_types: body.event_types.into_iter().map(WebhookEventType::from).collect(),
        description: body.description,
    };
    let (endpoint, secret) = state
        .webhooks()
        .register(caller.organisation_id, spec, caller.user_id(), &caller.metadata())
        .await?;
    let created = CreatedWebhookEndpoint {
        endpoint: WebhookEndpointResponse::of(&endpoint),
        secret: Some(secret.to_string()),
    };
    Ok(HoldsSecrets::mark(
        (StatusCode::CREATED, envelope::data(created)),
        &["secret"],
    ))
}

/// One endpoint (admins only).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the endpoint's id")),
    responses((status = 200, body = Data<WebhookEndpointResponse>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<WebhookEndpointResponse>>, ApiError> {
    caller.require(Role::can_administer)?;
    let endpoint = state.webhooks().get(caller.organisation_id, parse_id(&id)?).await?;
    Ok(envelope::data(WebhookEndpointResponse::of(&endpoint)))
}

/// Changes an endpoint's URL, event types or description, or stops or
/// resumes its deliveries (admins only). Resuming gives the deliveries
/// waiting a new retry window.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", request_body = UpdateWebhookEndpoint, tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the endpoint's id")),
    responses((status = 200, body = Data<WebhookEndpointResponse>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhookEndpoint>,
) -> Result<Json<Data<WebhookEndpointResponse>>, ApiError> {
    caller.require(Role::can_administer)?;
    let change = EndpointChange {
        url: body.url,
        event_types: body
            .event_types
            .map(|types| types.into_iter().map(WebhookEventType::from).collect()),
        description: body.description,
    };
    let endpoint = state
        .webhooks()
        .change(
            caller.organisation_id,
            parse_id(&id)?,
            change,
            body.enabled,
            caller.user_id(),
            &caller.metadata(),
        )
        .await?;
    Ok(envelope::data(WebhookEndpointResponse::of(&endpoint)))
}

/// Deletes an endpoint: nothing more is sent to it and its secrets are
/// destroyed; its delivery log stays readable to nobody (admins only).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the endpoint's id")),
    responses((status = 204, description = "deleted"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::can_administer)?;
    state
        .webhooks()
        .delete(caller.organisation_id, parse_id(&id)?, &caller.metadata())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, shown once; the previous one keeps signing beside
/// it (two signatures in `webhook-signature`) until
/// `previous_secret_valid_until` (admins only).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/secret/rotate", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the endpoint's id")),
    responses((status = 200, body = Data<RotatedSecret>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::can_administer)?;
    let (endpoint, secret) = state
        .webhooks()
        .rotate_secret(caller.organisation_id, parse_id(&id)?, &caller.metadata())
        .await?;
    let rotated = RotatedSecret {
        endpoint: WebhookEndpointResponse::of(&endpoint),
        secret: Some(secret.to_string()),
    };
    Ok(HoldsSecrets::mark(
        (StatusCode::OK, envelope::data(rotated)),
        &["secret"],
    ))
}

/// An endpoint's delivery log, newest first (admins only).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", params(("id" = Uuid, Path, description = "the endpoint's id"), DeliveryQuery), tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = List<DeliveryResponse>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn deliveries(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<Json<List<DeliveryResponse>>, ApiError> {
    caller.require(Role::can_administer)?;
    let page = Page {
        limit: query.limit,
        offset: query.offset,
    };
    let (limit, offset) = page.bounds()?;
    let webhooks = state.webhooks();
    let endpoint_id = parse_id(&id)?;
    webhooks.get(caller.organisation_id, endpoint_id).await?;
    let in_state = query.state.map(|s| match s {
        DeliveryStateName::Pending => DeliveryState::Pending,
        DeliveryStateName::Succeeded => DeliveryState::Succeeded,
        DeliveryStateName::Failed => DeliveryState::Failed,
    });
    let records =
        projections::webhook_outbox::list_deliveries(&state.db.read, &endpoint_id.to_string(), in_state, limit, offset)
            .await?;
    let listed = records
        .iter()
        .map(|r| DeliveryResponse::of(r, webhooks.window_ends_at(r)))
        .collect();
    Ok(envelope::list(listed))
}

fn detail(state: &AppState, (record, attempts): (DeliveryRecord, Vec<AttemptRecord>)) -> DeliveryDetail {
    DeliveryDetail {
        delivery: DeliveryResponse::of(&record, state.webhooks().window_ends_at(&record)),
        body: record.body,
        attempts_made: attempts.iter().map(AttemptResponse::from).collect(),
    }
}

/// One delivery with its body and every attempt (admins only).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the endpoint's id"), ("delivery_id" = Uuid, Path, description = "the delivery's id")),
    responses((status = 200, body = Data<DeliveryDetail>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delivery(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Json<Data<DeliveryDetail>>, ApiError> {
    caller.require(Role::can_administer)?;
    let found = state
        .webhooks()
        .delivery(caller.organisation_id, parse_id(&id)?, parse_id(&delivery_id)?)
        .await?;
    Ok(envelope::data(detail(&state, found)))
}

/// Sends a delivery again now, with the same `webhook-id`, and retries it
/// for a new window (admins only).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the endpoint's id"), ("delivery_id" = Uuid, Path, description = "the delivery's id")),
    responses((status = 202, body = Data<DeliveryDetail>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn redeliver(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Data<DeliveryDetail>>), ApiError> {
    caller.require(Role::can_administer)?;
    let found = state
        .webhooks()
        .redeliver(caller.organisation_id, parse_id(&id)?, parse_id(&delivery_id)?)
        .await?;
    Ok((StatusCode::ACCEPTED, envelope::data(detail(&state, found))))
}
