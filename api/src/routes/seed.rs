//! The routes of the Exotel module Switchboard grew from, under
//! `/api/exotel`, with that module's field names (`agentPhone`,
//! `serviceUrl`…), on the same use cases and behind the same
//! authentication as `/api/v1`: clients written for it keep working.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use application::calls::CallInput;
use application::integrations::parse_configuration;
use domain::call::Purpose;
use domain::integration::{IntegrationKind, IntegrationSettings, IntegrationStatus};

use crate::auth::Caller;
use crate::envelope::{self, Data};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::state::AppState;

/// The module's routes, relative to `/api/exotel`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/health", get(health))
        .route("/config", get(config).put(set_config))
        .route("/click-to-call", post(click_to_call))
        .route("/number-masking", post(number_masking))
        .route("/sms/send", post(send_sms))
        .route("/whatsapp/send", post(send_whatsapp))
}

/// Where the organisation's Exotel phone integration stands.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExotelHealth {
    /// `ok` when calls can be placed, else `not_configured` or `disabled`.
    pub status: String,
    pub configured: bool,
    pub enabled: bool,
    pub verified: bool,
    pub last_error: Option<String>,
}

/// The Exotel settings, in the module's names; the key and token are never shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExotelConfig {
    pub configured: bool,
    pub enabled: bool,
    /// Exotel's API host (`https://api.exotel.com` unless set).
    pub service_url: Option<String>,
    pub account_sid: Option<String>,
    pub virtual_number: Option<String>,
    pub caller_id: Option<String>,
    pub has_api_key: bool,
    pub has_api_token: bool,
}

/// `PUT /api/exotel/config`: `serviceUrl`, `apiKey` and `apiToken` as the
/// module had them; `accountSid` and `virtualNumber` are needed the first
/// time and kept afterwards.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExotelConfigBody {
    #[schema(max_length = 300)]
    pub service_url: Option<String>,
    #[schema(max_length = 500)]
    pub api_key: String,
    #[schema(max_length = 500)]
    pub api_token: String,
    #[schema(max_length = 100)]
    pub account_sid: Option<String>,
    #[schema(max_length = 32)]
    pub virtual_number: Option<String>,
    #[schema(max_length = 32)]
    pub caller_id: Option<String>,
    /// Save without the connection test.
    #[serde(default)]
    pub save_unverified: bool,
}

/// `POST /api/exotel/click-to-call`, in the module's names.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClickToCallBody {
    #[schema(max_length = 32)]
    pub agent_phone: String,
    #[schema(max_length = 32)]
    pub customer_phone: String,
    pub agent_user_id: Option<Uuid>,
    #[schema(max_length = 32)]
    pub caller_id: Option<String>,
    #[serde(default)]
    pub record_call: bool,
    /// Seconds, 1–14,400.
    #[schema(minimum = 1, maximum = 14400)]
    pub time_limit: Option<u32>,
    #[schema(max_length = 2000)]
    pub custom_field: Option<String>,
    /// `trans` (the default) or `promo`, as Exotel's `CallType`.
    pub call_type: Option<SeedCallType>,
}

/// Exotel's `CallType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeedCallType {
    Trans,
    Promo,
}

/// The call as recorded; the dispatcher places it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClickToCallResponse {
    pub call_id: Uuid,
    pub status: String,
    pub agent_phone: String,
    pub customer_phone: String,
    pub caller_id: String,
    pub record_call: bool,
    pub requested_at: Option<DateTime<Utc>>,
}

fn may_read(caller: &Caller) -> Result<(), ApiError> {
    caller.require(domain::Role::can_read_directory)
}

/// Whether calls can be placed through the organisation's Exotel account.
#[utoipa::path(get, path = "/api/exotel/health", tag = "exotel module", security(("bearer" = [])),
    responses((status = 200, body = Data<ExotelHealth>), (status = 403, body = Problem)))]
pub async fn health(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Data<ExotelHealth>>, ApiError> {
    may_read(&caller)?;
    let current = state
        .integrations()
        .current(caller.organisation_id, IntegrationKind::ExotelPhone)
        .await?;
    let enabled = current.as_ref().is_some_and(|i| i.status == IntegrationStatus::Active);
    let status = match (&current, enabled) {
        (None, _) => "not_configured",
        (Some(_), false) => "disabled",
        (Some(_), true) => "ok",
    };
    Ok(envelope::data(ExotelHealth {
        status: status.into(),
        configured: current.is_some(),
        enabled,
        verified: current.as_ref().is_some_and(|i| i.verified),
        last_error: current.and_then(|i| i.last_error),
    }))
}

/// The Exotel settings, in the module's names.
#[utoipa::path(get, path = "/api/exotel/config", tag = "exotel module", security(("bearer" = [])),
    responses((status = 200, body = Data<ExotelConfig>), (status = 403, body = Problem)))]
pub async fn config(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Data<ExotelConfig>>, ApiError> {
    caller.require(domain::Role::can_administer)?;
    let current = state
        .integrations()
        .current(caller.organisation_id, IntegrationKind::ExotelPhone)
        .await?;
    Ok(envelope::data(describe(current.as_ref())))
}

fn describe(current: Option<&domain::integration::Integration>) -> ExotelConfig {
    let settings = current.and_then(|i| match i.settings.as_deref() {
        Some(IntegrationSettings::ExotelPhone(s)) => Some(s.clone()),
        _ => None,
    });
    let has = |name: &str| current.is_some_and(|i| i.secrets.iter().any(|s| s.field == name));
    ExotelConfig {
        configured: current.is_some(),
        enabled: current.is_some_and(|i| i.status == IntegrationStatus::Active),
        service_url: settings.as_ref().and_then(|s| s.api_host.clone()),
        account_sid: settings.as_ref().map(|s| s.account_sid.clone()),
        virtual_number: settings.as_ref().map(|s| s.virtual_number.clone()),
        caller_id: settings.as_ref().and_then(|s| s.caller_id.clone()),
        has_api_key: has("api_key"),
        has_api_token: has("api_token"),
    }
}

/// Sets the Exotel phone integration from the module's fields, keeping the
/// account and number already configured when they are not given.
#[utoipa::path(put, path = "/api/exotel/config", tag = "exotel module", security(("bearer" = [])),
    request_body = ExotelConfigBody,
    responses((status = 200, body = Data<ExotelConfig>), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "a concurrent change"),
        (status = 422, body = Problem, description = "a field breaks its rules, or the connection test failed"),
        (status = 503, body = Problem, description = "the connection test could not run; send saveUnverified")))]
pub async fn set_config(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<ExotelConfigBody>,
) -> Result<Json<Data<ExotelConfig>>, ApiError> {
    let kind = IntegrationKind::ExotelPhone;
    state.access().may_configure(&caller.acting(), kind).await?;
    let integrations = state.integrations();
    let current = integrations.current(caller.organisation_id, kind).await?;
    let kept = describe(current.as_ref());
    let account_sid = body.account_sid.or(kept.account_sid);
    let virtual_number = body.virtual_number.or(kept.virtual_number);
    let mut fields = json!({
        "account_sid": account_sid.ok_or_else(|| ApiError::invalid("accountSid", "is required the first time"))?,
        "virtual_number": virtual_number.ok_or_else(|| ApiError::invalid("virtualNumber", "is required the first time"))?,
        "api_key": body.api_key,
        "api_token": body.api_token,
        "save_unverified": body.save_unverified,
    });
    let optional = [
        ("api_host", body.service_url.or(kept.service_url)),
        ("caller_id", body.caller_id.or(kept.caller_id)),
    ];
    for (name, value) in optional {
        if let (Some(value), Some(object)) = (value, fields.as_object_mut()) {
            object.insert(name.into(), json!(value));
        }
    }
    let configuration = parse_configuration(kind, fields)?;
    let saved = integrations
        .configure(
            caller.organisation_id,
            configuration,
            caller.user_id(),
            &caller.metadata(),
        )
        .await?;
    crate::routes::integrations::sync_after_configure(&state, &caller).await;
    Ok(envelope::data(describe(Some(&saved))))
}

/// Records a click-to-call exactly as `POST /api/v1/calls` does, from the
/// module's fields; 202 with the call.
#[utoipa::path(post, path = "/api/exotel/click-to-call", tag = "exotel module", security(("bearer" = [])),
    request_body = ClickToCallBody,
    responses((status = 202, body = Data<ClickToCallResponse>), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "Exotel phone is not configured or is disabled")))]
pub async fn click_to_call(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ClickToCallBody>,
) -> Result<(StatusCode, Json<Data<ClickToCallResponse>>), ApiError> {
    let call_id = crate::routes::calls::call_id(&caller, None, &headers);
    let input = CallInput {
        call_id,
        agent_user_id: body.agent_user_id,
        agent_phone: Some(body.agent_phone),
        customer_phone: body.customer_phone,
        caller_id: body.caller_id,
        record: body.record_call,
        recording_channels: 1,
        time_limit_secs: body.time_limit,
        custom_data: body.custom_field,
        purpose: match body.call_type {
            Some(SeedCallType::Promo) => Purpose::Promotional,
            _ => Purpose::Transactional,
        },
        verified: false,
        verification_reason: None,
        thread_id: None,
    };
    let call = state
        .calls()
        .request(&caller.acting(), input, &caller.metadata())
        .await?;
    let request = call.request.as_deref().ok_or_else(ApiError::internal)?;
    let response = ClickToCallResponse {
        call_id,
        status: serde_json::to_value(call.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        agent_phone: request.agent_phone.clone(),
        customer_phone: request.customer_phone.clone(),
        caller_id: request.caller_id.clone(),
        record_call: request.record,
        requested_at: call.requested_at,
    };
    Ok((StatusCode::ACCEPTED, envelope::data(response)))
}

/// `POST /api/exotel/number-masking`, in the module's names.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NumberMaskingBody {
    #[schema(max_length = 32)]
    pub party_a: String,
    #[schema(max_length = 32)]
    pub party_b: String,
    /// One of the organisation's numbers; its primary when absent.
    #[schema(max_length = 32)]
    pub virtual_number: Option<String>,
    /// Minutes the session lasts, 1–43,200 (30 days); default 60.
    #[schema(minimum = 1, maximum = 43200)]
    pub duration_minutes: Option<u32>,
    /// Calls put through at most, 1 to 10,000.
    #[schema(minimum = 1, maximum = 10000)]
    pub max_calls: Option<u32>,
}

/// The masked number both parties call.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NumberMaskingResponse {
    pub session_id: String,
    pub virtual_number: String,
    pub party_a: String,
    pub party_b: String,
    pub expires_at: String,
    pub max_calls: Option<u32>,
}

/// Opens a masked session exactly as `POST /api/v1/masked-sessions` does,
/// from the module's fields; 201 with the virtual number to call.
#[utoipa::path(post, path = "/api/exotel/number-masking", tag = "exotel module", security(("bearer" = [])),
    request_body = NumberMaskingBody,
    responses((status = 201, body = Data<NumberMaskingResponse>), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn number_masking(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<NumberMaskingBody>,
) -> Result<(StatusCode, Json<Data<NumberMaskingResponse>>), ApiError> {
    let minutes = body.duration_minutes.unwrap_or(60);
    let input = application::masked_sessions::NewSession {
        party_a: body.party_a,
        party_b: body.party_b,
        virtual_number: body.virtual_number,
        expires_in_secs: minutes.saturating_mul(60),
        max_calls: body.max_calls,
    };
    let session = state
        .masked_sessions()
        .open(&caller.acting(), input, &caller.metadata())
        .await?;
    let shown = crate::routes::masked_sessions::MaskedSessionResponse::of(&session);
    let response = NumberMaskingResponse {
        session_id: shown.id,
        virtual_number: shown.virtual_number,
        party_a: shown.party_a,
        party_b: shown.party_b,
        expires_at: shown.expires_at,
        max_calls: shown.max_calls,
    };
    Ok((StatusCode::CREATED, envelope::data(response)))
}

/// `POST /api/exotel/sms/send`, in the module's names.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendSmsBody {
    /// One number, in E.164 or the `0`-prefixed national form.
    #[schema(max_length = 32)]
    pub to: String,
    /// The text; to an Indian number, the DLT template filled in.
    #[schema(max_length = 2000)]
    pub message: Option<String>,
    /// The DLT template id; required for Indian numbers.
    #[schema(max_length = 30)]
    pub template_id: Option<String>,
    /// The template's variables, instead of `message`.
    pub variables: Option<Vec<String>>,
    /// `transactional` (the default), `transactional_opt_in`, `promotional`,
    /// `service_implicit` or `service_explicit`.
    pub sms_type: Option<crate::routes::sms::SmsCategory>,
    #[schema(max_length = 6)]
    pub sender_id: Option<String>,
    #[schema(max_length = 19)]
    pub dlt_entity_id: Option<String>,
    #[schema(max_length = 2000)]
    pub custom_field: Option<String>,
}

/// The SMS as recorded; the dispatcher sends it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendSmsResponse {
    pub message_id: Uuid,
    pub status: String,
    pub to: String,
    pub encoding: String,
    pub segments: u32,
    /// Not sent before this time (promotional hours).
    pub scheduled_for: Option<DateTime<Utc>>,
}

/// Records an SMS exactly as `POST /api/v1/sms` does, from the module's
/// fields; 202 with the message.
#[utoipa::path(post, path = "/api/exotel/sms/send", tag = "exotel module", security(("bearer" = [])),
    request_body = SendSmsBody,
    responses((status = 202, body = Data<SendSmsResponse>), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "Exotel SMS is not configured or is disabled"),
        (status = 422, body = Problem)))]
pub async fn send_sms(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendSmsBody>,
) -> Result<(StatusCode, Json<Data<SendSmsResponse>>), ApiError> {
    let batch_id = crate::routes::sms::batch_id(&caller, None, &headers);
    let input = application::messages::SmsInput {
        batch_id,
        to: vec![body.to],
        body: body.message,
        template_id: body.template_id,
        variables: body.variables,
        sms_type: body
            .sms_type
            .unwrap_or(crate::routes::sms::SmsCategory::Transactional)
            .into(),
        sender_id: body.sender_id,
        dlt_entity_id: body.dlt_entity_id,
        custom_data: body.custom_field,
        thread_id: None,
    };
    let recorded = crate::routes::sms::record(&state, &caller, input).await?;
    let message = recorded.messages.into_iter().next().ok_or_else(ApiError::internal)?;
    let response = SendSmsResponse {
        message_id: message.id,
        status: message.status,
        to: message.to,
        encoding: message.encoding,
        segments: message.segments,
        scheduled_for: message.not_before,
    };
    Ok((StatusCode::ACCEPTED, envelope::data(response)))
}

/// The kind of media `POST /api/exotel/whatsapp/send` sends by URL.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeedMediaType {
    Image,
    Document,
    Audio,
    Video,
    Sticker,
}

/// `POST /api/exotel/whatsapp/send`, in the module's names: an approved
/// template (`templateName`), media by URL (`mediaUrl`), or a text
/// (`message`) inside the customer's 24-hour window.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendWhatsappBody {
    /// One number, in E.164 or the `0`-prefixed national form.
    #[schema(max_length = 32)]
    pub to: String,
    /// A free-form text, when neither a template nor media is named.
    #[schema(max_length = 4096)]
    pub message: Option<String>,
    /// An approved template's name.
    #[schema(max_length = 512)]
    pub template_name: Option<String>,
    /// The template's language code (default `en`).
    #[schema(max_length = 15)]
    pub language: Option<String>,
    /// The template's body variables, `{{1}}` first.
    pub variables: Option<Vec<String>>,
    pub media_url: Option<String>,
    /// The media's kind (default `image`).
    pub media_type: Option<SeedMediaType>,
    pub caption: Option<String>,
    #[schema(max_length = 2000)]
    pub custom_field: Option<String>,
}

/// The WhatsApp message as recorded; the dispatcher sends it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendWhatsappResponse {
    pub message_id: Uuid,
    pub status: String,
    pub to: String,
    /// `text`, `media` or `template`.
    pub kind: String,
}

impl SendWhatsappBody {
    fn content(self) -> (domain::whatsapp::WhatsappContent, &'static str) {
        use domain::whatsapp::{Media, MediaKind, TemplateMessage, WhatsappContent};
        if let Some(name) = self.template_name {
            let template = TemplateMessage {
                name,
                language: self.language.unwrap_or_else(|| "en".into()),
                header: None,
                body: self.variables.unwrap_or_default(),
                buttons: Vec::new(),
            };
            return (WhatsappContent::Template(template), "template");
        }
        if let Some(url) = self.media_url {
            let kind = match self.media_type.unwrap_or(SeedMediaType::Image) {
                SeedMediaType::Image => MediaKind::Image,
                SeedMediaType::Document => MediaKind::Document,
                SeedMediaType::Audio => MediaKind::Audio,
                SeedMediaType::Video => MediaKind::Video,
                SeedMediaType::Sticker => MediaKind::Sticker,
            };
            let media = Media {
                kind,
                url,
                caption: self.caption,
                filename: None,
            };
            return (WhatsappContent::Media(media), "media");
        }
        let body = self.message.unwrap_or_default();
        (
            WhatsappContent::Text {
                body,
                preview_url: false,
            },
            "text",
        )
    }
}

/// Records a WhatsApp message exactly as `POST /api/v1/whatsapp/messages`
/// does, from the module's fields; 202 with the message.
#[utoipa::path(post, path = "/api/exotel/whatsapp/send", tag = "exotel module", security(("bearer" = [])),
    request_body = SendWhatsappBody,
    responses((status = 202, body = Data<SendWhatsappResponse>), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "Exotel WhatsApp is not configured or is disabled"),
        (status = 422, body = Problem, description = "a WhatsApp limit, the customer-service window or the template is broken")))]
pub async fn send_whatsapp(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendWhatsappBody>,
) -> Result<(StatusCode, Json<Data<SendWhatsappResponse>>), ApiError> {
    let message_id = crate::routes::whatsapp::message_id(&caller, None, &headers);
    let to = body.to.clone();
    let custom_data = body.custom_field.clone();
    let (content, kind) = body.content();
    let input = application::messages::WhatsappInput {
        message_id,
        to,
        content,
        custom_data,
        thread_id: None,
    };
    let message = state
        .messages()
        .request_whatsapp(&caller.acting(), input, &caller.metadata())
        .await?;
    let request = message.request.as_deref().ok_or_else(ApiError::internal)?;
    let response = SendWhatsappResponse {
        message_id,
        status: crate::routes::word(
            message
                .status
                .unwrap_or(domain::outbound_message::MessageStatus::Requested),
        ),
        to: request.to.clone(),
        kind: kind.into(),
    };
    Ok((StatusCode::ACCEPTED, envelope::data(response)))
}
