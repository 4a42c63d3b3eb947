//! Webhooks from providers, outside the authenticated API. Exotel does not
//! sign its callbacks, so each integration's path carries a token
//! (`crate::callbacks`); a wrong one answers 404 and is counted. A callback
//! is recorded once on its call and answered at once; a duplicate changes
//! nothing, and a late one never moves a call backwards.

use axum::body::Bytes;
use axum::extract::Query;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use application::EventMetadata;
use application::calls::Callback;
use domain::integration::IntegrationKind;
use infrastructure::exotel::parse::e164;

use crate::envelope::{self, Data};
use crate::error::{ApiError, Problem};
use crate::extract::RequestContext;
use crate::state::AppState;

/// The webhook routes, at the root.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/webhooks/exotel/{integration_id}/{token}/calls", post(exotel_calls))
        .route(
            "/webhooks/exotel/{integration_id}/{token}/passthru",
            get(exotel_passthru),
        )
        .route("/webhooks/exotel/{integration_id}/{token}/connect", get(exotel_connect))
        .route("/webhooks/exotel/{integration_id}/{token}/sms", post(exotel_sms))
        .route(
            "/webhooks/exotel/{integration_id}/{token}/sms/incoming",
            get(exotel_incoming_sms_get).post(exotel_incoming_sms_post),
        )
        .route(
            "/webhooks/exotel/{integration_id}/{token}/whatsapp",
            post(exotel_whatsapp),
        )
}

/// A voice status callback as Exotel sends it (reference §4): JSON, or the
/// same fields as `multipart/form-data` or urlencoded with legs flattened
/// as `Legs[0][Status]`. Numbers may be strings or integers.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ExotelCallCallback {
    pub call_sid: String,
    /// `completed`, `busy`, `no-answer`, `failed`, `canceled`, or
    /// `in-progress` in an `answered` event.
    pub status: Option<String>,
    /// `answered` or `terminal`.
    pub event_type: Option<String>,
    /// The call's id, as Switchboard sent it.
    pub custom_field: Option<String>,
    pub date_updated: Option<String>,
    pub recording_url: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub conversation_duration: Option<serde_json::Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub legs: Option<serde_json::Value>,
}

/// What became of a callback.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackReceipt {
    /// Whether it matched one of the organisation's calls (a duplicate
    /// matches, and changes nothing).
    pub matched: bool,
    pub call_id: Option<Uuid>,
}

/// What Exotel's request is recorded with: the provider as the actor, and
/// the request's id, address and agent.
fn exotel_meta(organisation_id: Uuid, context: RequestContext) -> EventMetadata {
    let mut meta = EventMetadata::provider_webhook("exotel", organisation_id);
    meta.request_id = context.request_id;
    meta.client_ip = context.client_ip;
    meta.user_agent = context.user_agent;
    meta
}

fn refused() -> ApiError {
    metrics::counter!("switchboard_webhook_tokens_refused_total", "provider" => "exotel").increment(1);
    ApiError::not_found()
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn unreadable(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_callback", message)
}

/// The body as JSON, whichever of the three encodings Exotel used.
async fn body_value(headers: &HeaderMap, body: &Bytes) -> Result<serde_json::Value, ApiError> {
    match media_type(headers).as_str() {
        "application/json" => serde_json::from_slice(body).map_err(|e| unreadable(format!("not JSON: {e}"))),
        "application/x-www-form-urlencoded" => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(body).map_err(|e| unreadable(format!("not a form: {e}")))?;
            Ok(infrastructure::exotel::parse::nested_fields(&pairs))
        }
        "multipart/form-data" => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let boundary = multer::parse_boundary(content_type).map_err(|e| unreadable(e.to_string()))?;
            let stream = futures::stream::once({
                let body = body.clone();
                async move { Ok::<Bytes, std::io::Error>(body) }
            });
            let mut parts = multer::Multipart::new(stream, boundary);
            let mut pairs = Vec::new();
            while let Some(field) = parts.next_field().await.map_err(|e| unreadable(e.to_string()))? {
                let name = field.name().unwrap_or_default().to_string();
                let value = field.text().await.map_err(|e| unreadable(e.to_string()))?;
                pairs.push((name, value));
            }
            Ok(infrastructure::exotel::parse::nested_fields(&pairs))
        }
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json, multipart/form-data or application/x-www-form-urlencoded",
        )),
    }
}

/// The organisation of an Exotel phone integration whose token is right;
/// 404 (counted) otherwise.
async fn organisation_of(state: &AppState, integration_id: &str, token: &str) -> Result<Uuid, ApiError> {
    organisation_of_kind(state, integration_id, token, IntegrationKind::ExotelPhone).await
}

/// The organisation of an integration of `kind` whose token is right; 404
/// (counted) otherwise.
async fn organisation_of_kind(
    state: &AppState,
    integration_id: &str,
    token: &str,
    kind: IntegrationKind,
) -> Result<Uuid, ApiError> {
    let integration_id = Uuid::try_parse(integration_id).map_err(|_| refused())?;
    let integration = state
        .integrations()
        .by_id(integration_id)
        .await?
        .filter(|i| i.kind == Some(kind));
    let Some(integration) = integration else {
        return Err(refused());
    };
    if !state
        .callback_tokens
        .verify(integration_id, integration.callback_generation, token)
    {
        return Err(refused());
    }
    integration.organisation_id.ok_or_else(refused)
}

/// Exotel's status callback for the calls of one integration. 200 once
/// recorded (or recognised as a duplicate); 404 for a wrong token.
#[utoipa::path(post, path = "/webhooks/exotel/{integration_id}/{token}/calls", tag = "webhooks",
    params(("integration_id" = String, Path, description = "the Exotel phone integration's id"),
        ("token" = String, Path, description = "the integration's callback token")),
    request_body(content(
        (ExotelCallCallback = "application/json"),
        (ExotelCallCallback = "application/x-www-form-urlencoded"),
        (ExotelCallCallback = "multipart/form-data"))),
    responses((status = 200, body = Data<CallbackReceipt>), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 503, body = Problem)))]
pub async fn exotel_calls(
    State(state): State<Arc<AppState>>,
    Path((integration_id, token)): Path<(String, String)>,
    context: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Data<CallbackReceipt>>, ApiError> {
    let organisation_id = organisation_of(&state, &integration_id, &token).await?;
    let value = body_value(&headers, &body).await?;
    let info = infrastructure::exotel::callback_info(&value).map_err(|e| unreadable(e.to_string()))?;
    let digest = hex::encode(Sha256::digest(&body));
    let meta = exotel_meta(organisation_id, context);
    let outcome = state
        .calls()
        .record_callback(organisation_id, &info, digest, &meta)
        .await?;
    let receipt = match outcome {
        Callback::Recorded(call_id) => CallbackReceipt {
            matched: true,
            call_id: Some(call_id),
        },
        Callback::Unmatched => {
            tracing::info!(%organisation_id, sid = %info.sid, "a call status callback matched no call");
            CallbackReceipt {
                matched: false,
                call_id: None,
            }
        }
    };
    Ok(envelope::data(receipt))
}

/// The call details a flow applet sends (reference §3.2), as free strings:
/// Exotel adds parameters and intermediate values freely.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlowQuery {
    /// Exotel's call; without it nobody is connected and nothing recorded.
    #[serde(rename = "CallSid")]
    #[param(rename = "CallSid")]
    pub call_sid: Option<String>,
    /// The caller, usually 0-prefixed.
    #[serde(rename = "CallFrom")]
    #[param(rename = "CallFrom")]
    pub call_from: Option<String>,
    /// The ExoPhone called.
    #[serde(rename = "CallTo")]
    #[param(rename = "CallTo")]
    pub call_to: Option<String>,
    #[serde(rename = "From")]
    #[param(rename = "From")]
    pub from: Option<String>,
    #[serde(rename = "To")]
    #[param(rename = "To")]
    pub to: Option<String>,
    /// `incoming` for a call to an ExoPhone.
    #[serde(rename = "Direction")]
    #[param(rename = "Direction")]
    pub direction: Option<String>,
}

impl FlowQuery {
    fn incoming(&self) -> application::masked_sessions::IncomingCall {
        application::masked_sessions::IncomingCall {
            provider_sid: self.call_sid.as_deref().unwrap_or_default().trim().to_string(),
            caller: e164(self.call_from.as_deref().or(self.from.as_deref()).unwrap_or_default()),
            called: e164(self.call_to.as_deref().or(self.to.as_deref()).unwrap_or_default()),
        }
    }
}

async fn route_flow(
    state: &AppState,
    integration_id: &str,
    token: &str,
    query: &FlowQuery,
    context: RequestContext,
) -> Result<Option<application::masked_sessions::Routed>, ApiError> {
    let organisation_id = organisation_of(state, integration_id, token).await?;
    if query.call_sid.as_deref().is_none_or(|sid| sid.trim().is_empty()) {
        // No call to decide on or record: nobody is connected.
        return Ok(None);
    }
    let meta = exotel_meta(organisation_id, context);
    Ok(Some(
        state
            .masked_sessions()
            .route(organisation_id, &query.incoming(), &meta)
            .await?,
    ))
}

/// A Passthru applet of an ExoPhone's flow: records the call to the number
/// and answers 200 (Exotel's branch A) when it is a masked session's call
/// that may go through, 302 (branch B: say "this number is no longer in
/// service") when it may not; 404 for a wrong token.
#[utoipa::path(get, path = "/webhooks/exotel/{integration_id}/{token}/passthru", tag = "webhooks",
    params(("integration_id" = String, Path, description = "the Exotel phone integration's id"),
        ("token" = String, Path, description = "the integration's callback token"), FlowQuery),
    responses((status = 200, description = "put the caller through (branch A)", body = String),
        (status = 302, description = "connect nobody (branch B)"),
        (status = 400, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem)))]
pub async fn exotel_passthru(
    State(state): State<Arc<AppState>>,
    Path((integration_id, token)): Path<(String, String)>,
    Query(query): Query<FlowQuery>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let routed = route_flow(&state, &integration_id, &token, &query, context).await?;
    Ok(match routed.and_then(|r| r.connect_to) {
        Some(_) => (StatusCode::OK, "connect").into_response(),
        None => (StatusCode::FOUND, [(header::LOCATION, "./no-one")], "").into_response(),
    })
}

/// Whom a Connect applet dials, as Programmable Connect reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectAnswer {
    pub destination: ConnectDestination,
    /// The number the dialled party sees: the virtual number, 0-prefixed.
    pub outgoing_phone_number: String,
    pub record: bool,
    /// Seconds the conversation may last: until the session expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_conversation_duration: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectDestination {
    /// The other party, E.164; empty: dial nobody.
    pub numbers: Vec<String>,
}

/// The 0-prefixed national form Exotel shows numbers in.
fn national(e164: &str) -> String {
    match e164.strip_prefix("+91") {
        Some(rest) => format!("0{rest}"),
        None => e164.to_string(),
    }
}

/// A Connect applet's dynamic URL (Programmable Connect, addendum §C.2):
/// the other party of the caller's masked session, shown the virtual
/// number; no number when the session has expired, ended, reached its cap
/// or does not name the caller. 404 for a wrong token.
#[utoipa::path(get, path = "/webhooks/exotel/{integration_id}/{token}/connect", tag = "webhooks",
    params(("integration_id" = String, Path, description = "the Exotel phone integration's id"),
        ("token" = String, Path, description = "the integration's callback token"), FlowQuery),
    responses((status = 200, body = ConnectAnswer), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 503, body = Problem)))]
pub async fn exotel_connect(
    State(state): State<Arc<AppState>>,
    Path((integration_id, token)): Path<(String, String)>,
    Query(query): Query<FlowQuery>,
    context: RequestContext,
) -> Result<Json<ConnectAnswer>, ApiError> {
    let routed = route_flow(&state, &integration_id, &token, &query, context).await?;
    let called = query.call_to.clone().or_else(|| query.to.clone()).unwrap_or_default();
    Ok(Json(match routed {
        Some(routed) => ConnectAnswer {
            destination: ConnectDestination {
                numbers: routed.connect_to.into_iter().collect(),
            },
            outgoing_phone_number: national(&routed.virtual_number),
            record: false,
            max_conversation_duration: routed.max_conversation_secs,
        },
        None => ConnectAnswer {
            destination: ConnectDestination { numbers: Vec::new() },
            outgoing_phone_number: called,
            record: false,
            max_conversation_duration: None,
        },
    }))
}

/// An SMS status callback as Exotel sends it (reference §6.5):
/// urlencoded, when the SMS reaches a final state.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ExotelSmsCallback {
    pub sms_sid: String,
    pub to: Option<String>,
    /// `sent`, `failed`, `failed-dnd` or `failed_dnd` (and, early, `queued`,
    /// `sending`, `submitted`).
    pub status: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub sms_units: Option<serde_json::Value>,
    pub detailed_status: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub detailed_status_code: Option<serde_json::Value>,
    pub date_sent: Option<String>,
    /// The message's id, as Switchboard sent it.
    pub custom_field: Option<String>,
}

/// What became of an SMS callback.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsCallbackReceipt {
    /// Whether it matched one of the organisation's messages (a duplicate
    /// matches, and changes nothing).
    pub matched: bool,
    pub message_id: Option<Uuid>,
}

fn sms_callback(value: &serde_json::Value) -> Result<application::messages::SmsCallback, ApiError> {
    use infrastructure::exotel::parse::{code, text, whole};
    let sms_sid = text(value.get("SmsSid")).ok_or_else(|| unreadable("SmsSid is missing"))?;
    Ok(application::messages::SmsCallback {
        sms_sid,
        to: text(value.get("To")).map(|n| e164(&n)),
        status: text(value.get("Status")),
        detailed_status: text(value.get("DetailedStatus")),
        detailed_status_code: code(value.get("DetailedStatusCode")),
        units: whole(value.get("SmsUnits")).and_then(|u| u32::try_from(u).ok()),
        date_sent: text(value.get("DateSent")),
        custom_field: text(value.get("CustomField")),
    })
}

/// Exotel's status callback for the SMS of one integration. 200 once
/// recorded (or recognised as a duplicate); 404 for a wrong token.
#[utoipa::path(post, path = "/webhooks/exotel/{integration_id}/{token}/sms", tag = "webhooks",
    params(("integration_id" = String, Path, description = "the Exotel SMS integration's id"),
        ("token" = String, Path, description = "the integration's callback token")),
    request_body(content(
        (ExotelSmsCallback = "application/x-www-form-urlencoded"),
        (ExotelSmsCallback = "application/json"),
        (ExotelSmsCallback = "multipart/form-data"))),
    responses((status = 200, body = Data<SmsCallbackReceipt>), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 503, body = Problem)))]
pub async fn exotel_sms(
    State(state): State<Arc<AppState>>,
    Path((integration_id, token)): Path<(String, String)>,
    context: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Data<SmsCallbackReceipt>>, ApiError> {
    let organisation_id = organisation_of_kind(&state, &integration_id, &token, IntegrationKind::ExotelSms).await?;
    let value = body_value(&headers, &body).await?;
    let callback = sms_callback(&value)?;
    let digest = hex::encode(Sha256::digest(&body));
    let meta = exotel_meta(organisation_id, context);
    let outcome = state
        .messages()
        .record_callback(organisation_id, &callback, digest, &meta)
        .await?;
    let receipt = match outcome {
        Callback::Recorded(message_id) => SmsCallbackReceipt {
            matched: true,
            message_id: Some(message_id),
        },
        Callback::Unmatched => {
            tracing::info!(%organisation_id, sid = %callback.sms_sid, "an SMS status callback matched no message");
            SmsCallbackReceipt {
                matched: false,
                message_id: None,
            }
        }
    };
    Ok(envelope::data(receipt))
}

/// An SMS a customer sent to an ExoPhone, as the Passthru applet of the
/// ExoPhone's SMS flow (`SMSUrl`, `…/exoml/start_sms/{app_id}`) passes it
/// on. The reference gives no wire format for it, so both readings seen
/// are taken: besides these names, the call flow's `CallSid`, `CallFrom`,
/// `CallTo`, and `Content` for `Body`, `DateSent` for `Date`; as the query
/// of a GET or the body of a POST.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExotelIncomingSms {
    /// Exotel's id of the SMS (or `CallSid`).
    #[serde(rename = "SmsSid", skip_serializing_if = "Option::is_none")]
    #[param(rename = "SmsSid", required = true, nullable = false, min_length = 1)]
    #[schema(rename = "SmsSid", required = true, nullable = false, min_length = 1)]
    pub sms_sid: Option<String>,
    /// The customer, usually 0-prefixed (or `CallFrom`).
    #[serde(rename = "From", skip_serializing_if = "Option::is_none")]
    #[param(rename = "From", required = true, nullable = false, pattern = "^\\+?[0-9]{10,15}$")]
    #[schema(rename = "From", required = true, nullable = false, pattern = "^\\+?[0-9]{10,15}$")]
    pub from: Option<String>,
    /// The ExoPhone (or `CallTo`).
    #[serde(rename = "To", skip_serializing_if = "Option::is_none")]
    #[param(rename = "To", nullable = false)]
    #[schema(rename = "To", nullable = false)]
    pub to: Option<String>,
    /// The text (or `Content`).
    #[serde(rename = "Body", skip_serializing_if = "Option::is_none")]
    #[param(rename = "Body", nullable = false)]
    #[schema(rename = "Body", nullable = false)]
    pub body: Option<String>,
    /// When the customer sent it, `YYYY-MM-DD HH:MM:SS` India time or RFC
    /// 3339 (or `DateSent`); otherwise when it arrived.
    #[serde(rename = "Date", skip_serializing_if = "Option::is_none")]
    #[param(rename = "Date", nullable = false)]
    #[schema(rename = "Date", nullable = false)]
    pub date: Option<String>,
}

/// What became of a customer's SMS.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncomingSmsReceipt {
    /// The message as recorded (the same SMS twice is one message).
    pub message_id: Uuid,
}

fn incoming_sms(value: &serde_json::Value) -> Result<application::messages::IncomingSms, ApiError> {
    use infrastructure::exotel::parse::text;
    let first = |names: [&str; 2]| names.iter().find_map(|n| text(value.get(*n)).filter(|t| !t.is_empty()));
    let sid = first(["SmsSid", "CallSid"]).ok_or_else(|| unreadable("SmsSid is missing").on_field("SmsSid"))?;
    let from = first(["From", "CallFrom"]).unwrap_or_default();
    let digits = from.strip_prefix('+').unwrap_or(&from);
    if !(10..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unreadable("From must be the customer's phone number").on_field("From"));
    }
    let to = first(["To", "CallTo"]).unwrap_or_default();
    let body = first(["Body", "Content"]).unwrap_or_default();
    let sent_at = infrastructure::exotel::parse::time(value.get("Date").or(value.get("DateSent")));
    Ok(application::messages::IncomingSms {
        sid,
        from: e164(&from),
        to: e164(&to),
        body,
        sent_at,
    })
}

/// Records the SMS for the organisation whose token the path carries.
async fn record_incoming_sms(
    state: &AppState,
    organisation_id: Uuid,
    value: &serde_json::Value,
    context: RequestContext,
) -> Result<Json<Data<IncomingSmsReceipt>>, ApiError> {
    let sms = incoming_sms(value)?;
    let meta = exotel_meta(organisation_id, context);
    let message_id = state
        .messages()
        .record_incoming_sms(organisation_id, sms, &meta)
        .await?;
    Ok(envelope::data(IncomingSmsReceipt { message_id }))
}

/// A customer's SMS from the Passthru of an ExoPhone's SMS flow, as a GET.
/// 200 once recorded (or recognised as a repeat); 404 for a wrong token.
#[utoipa::path(get, path = "/webhooks/exotel/{integration_id}/{token}/sms/incoming", tag = "webhooks",
    params(("integration_id" = String, Path, description = "the Exotel SMS integration's id"),
        ("token" = String, Path, description = "the integration's callback token"), ExotelIncomingSms),
    responses((status = 200, body = Data<IncomingSmsReceipt>), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 503, body = Problem)))]
pub async fn exotel_incoming_sms_get(
    State(state): State<Arc<AppState>>,
    Path((integration_id, token)): Path<(String, String)>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    context: RequestContext,
) -> Result<Json<Data<IncomingSmsReceipt>>, ApiError> {
    let organisation_id = organisation_of_kind(&state, &integration_id, &token, IntegrationKind::ExotelSms).await?;
    let value = serde_json::Value::Object(query.into_iter().map(|(k, v)| (k, v.into())).collect());
    record_incoming_sms(&state, organisation_id, &value, context).await
}

/// The same as a POST, the fields in the body.
#[utoipa::path(post, path = "/webhooks/exotel/{integration_id}/{token}/sms/incoming", tag = "webhooks",
    params(("integration_id" = String, Path, description = "the Exotel SMS integration's id"),
        ("token" = String, Path, description = "the integration's callback token")),
    request_body(content((ExotelIncomingSms = "application/x-www-form-urlencoded")),
        description = "the same fields; JSON and multipart/form-data are taken too"),
    responses((status = 200, body = Data<IncomingSmsReceipt>), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 503, body = Problem)))]
pub async fn exotel_incoming_sms_post(
    State(state): State<Arc<AppState>>,
    Path((integration_id, token)): Path<(String, String)>,
    context: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Data<IncomingSmsReceipt>>, ApiError> {
    let organisation_id = organisation_of_kind(&state, &integration_id, &token, IntegrationKind::ExotelSms).await?;
    let value = body_value(&headers, &body).await?;
    record_incoming_sms(&state, organisation_id, &value, context).await
}

/// Exotel's WhatsApp callback (reference §7.3–7.4): one JSON envelope
/// `{"whatsapp": {"messages": [...]}}` whose items are receipts of our
/// messages (`callback_type: dlr`, or no type but an `exo_detailed_status`)
/// and customers' messages (`incoming_message` or `icm`). A flat
/// urlencoded receipt is taken too.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ExotelWhatsappCallback {
    #[schema(value_type = Object)]
    pub whatsapp: serde_json::Value,
}

/// What became of each item of a WhatsApp callback, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhatsappCallbackReceipt {
    /// Per item: whether it matched one of our messages (a receipt) or was
    /// recorded (a customer's message).
    pub matched: Vec<bool>,
    /// Per item: the message's id, when it matched.
    pub message_ids: Vec<Option<Uuid>>,
}

fn number_text(value: Option<&serde_json::Value>) -> Option<f64> {
    let value = value?;
    value.as_f64().or_else(|| value.as_str()?.trim().parse().ok())
}

fn inbound_content(content: &serde_json::Value) -> domain::inbound_message::InboundContent {
    use domain::inbound_message::InboundContent as C;
    use infrastructure::exotel::parse::text;
    let kind = text(content.get("type")).unwrap_or_default();
    let at = |path: &str| content.pointer(path);
    match kind.as_str() {
        "text" => C::Text {
            body: text(at("/text/body")).unwrap_or_default(),
        },
        "image" | "document" | "audio" | "video" | "sticker" => {
            let media = content.get(kind.as_str());
            let field = |name: &str| text(media.and_then(|m| m.get(name)));
            C::Media {
                url: field("url").or_else(|| field("link")),
                caption: field("caption"),
                mime_type: field("mime_type"),
                kind,
            }
        }
        "location" => C::Location {
            latitude: number_text(at("/location/latitude")).unwrap_or_default(),
            longitude: number_text(at("/location/longitude")).unwrap_or_default(),
            name: text(at("/location/name")),
            address: text(at("/location/address")),
        },
        "button" => C::ButtonReply {
            id: text(at("/button/payload")),
            title: text(at("/button/text")).unwrap_or_default(),
        },
        "interactive" => match text(at("/interactive/type")).as_deref() {
            Some("list_reply") => C::ListReply {
                id: text(at("/interactive/list_reply/id")),
                title: text(at("/interactive/list_reply/title")).unwrap_or_default(),
                description: text(at("/interactive/list_reply/description")),
            },
            _ => C::ButtonReply {
                id: text(at("/interactive/button_reply/id")),
                title: text(at("/interactive/button_reply/title")).unwrap_or_default(),
            },
        },
        _ => C::Other { kind },
    }
}

fn whatsapp_item(item: &serde_json::Value) -> Result<application::messages::WhatsappItem, ApiError> {
    use application::messages::WhatsappItem;
    use infrastructure::exotel::parse::{code, text};
    let sid = text(item.get("sid")).ok_or_else(|| unreadable("an item without its sid"))?;
    let kind = text(item.get("callback_type")).map(|k| k.to_ascii_lowercase());
    let receipt = match kind.as_deref() {
        Some("dlr") => true,
        Some("incoming_message" | "icm") => false,
        _ => item.get("exo_detailed_status").is_some() || item.get("exo_status_code").is_some(),
    };
    if receipt {
        return Ok(WhatsappItem::Receipt {
            sid,
            exo_status_code: code(item.get("exo_status_code")),
            exo_detailed_status: text(item.get("exo_detailed_status")),
            description: text(item.get("description")),
            custom_data: text(item.get("custom_data")),
            digest: hex::encode(Sha256::digest(item.to_string().as_bytes())),
        });
    }
    let content = item
        .get("content")
        .ok_or_else(|| unreadable("an incoming message without content"))?;
    let from = text(item.get("from")).ok_or_else(|| unreadable("an incoming message without from"))?;
    let context = content.pointer("/context/id").or_else(|| item.pointer("/context/id"));
    Ok(WhatsappItem::Incoming {
        sid,
        from: e164(&from),
        to: text(item.get("to")).map(|n| e164(&n)).unwrap_or_default(),
        profile_name: text(item.get("profile_name")),
        content: inbound_content(content),
        context_sid: text(context),
        sent_at: text(item.get("timestamp"))
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
    })
}

/// Exotel's WhatsApp callback for one integration: receipts and customers'
/// messages. 200 once every item is recorded (or recognised as a
/// duplicate); 404 for a wrong token.
#[utoipa::path(post, path = "/webhooks/exotel/{integration_id}/{token}/whatsapp", tag = "webhooks",
    params(("integration_id" = String, Path, description = "the Exotel WhatsApp integration's id"),
        ("token" = String, Path, description = "the integration's callback token")),
    request_body(content(
        (ExotelWhatsappCallback = "application/json"),
        (ExotelWhatsappCallback = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = Data<WhatsappCallbackReceipt>), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 503, body = Problem)))]
pub async fn exotel_whatsapp(
    State(state): State<Arc<AppState>>,
    Path((integration_id, token)): Path<(String, String)>,
    context: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Data<WhatsappCallbackReceipt>>, ApiError> {
    let organisation_id =
        organisation_of_kind(&state, &integration_id, &token, IntegrationKind::ExotelWhatsapp).await?;
    let value = body_value(&headers, &body).await?;
    let items: Vec<serde_json::Value> = match value.pointer("/whatsapp/messages") {
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(_) => return Err(unreadable("whatsapp.messages is not a list")),
        None if value.get("sid").is_some() => vec![value.clone()],
        None => return Err(unreadable("no whatsapp.messages in the callback")),
    };
    let items = items.iter().map(whatsapp_item).collect::<Result<Vec<_>, _>>()?;
    let meta = exotel_meta(organisation_id, context);
    let outcomes = state
        .messages()
        .record_whatsapp_callback(organisation_id, items, &meta)
        .await?;
    let message_ids: Vec<Option<Uuid>> = outcomes
        .iter()
        .map(|o| match o {
            Callback::Recorded(id) => Some(*id),
            Callback::Unmatched => None,
        })
        .collect();
    Ok(envelope::data(WhatsappCallbackReceipt {
        matched: message_ids.iter().map(Option::is_some).collect(),
        message_ids,
    }))
}
