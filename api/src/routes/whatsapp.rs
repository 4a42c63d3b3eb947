//! WhatsApp: `POST /api/v1/whatsapp/messages` records a free-form message
//! (text, media by URL, a location, reply buttons or a list) inside the
//! customer's 24-hour window, or an approved template at any time, and
//! answers 202 (the dispatcher hands it to
//! Exotel); the list and one message; and the messages customers sent.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use application::messages::{InboundSummary, MessageFilter, MessageSummary, WhatsappInput};
use domain::auto_reply::AutoReplyRule;
use domain::outbound_message::{MessageContent, MessageStatus, OutboundMessage};
use domain::whatsapp::{
    Interactive, ListRow, ListSection, Location, Media, MediaKind, ReplyButton, TemplateButtonValue,
    TemplateHeaderValue, TemplateMessage, WhatsappContent,
};

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::{parse_id, word};
use crate::state::AppState;

const WHATSAPP_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0016);

/// The WhatsApp routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/whatsapp/messages", get(list).post(create))
        .route("/whatsapp/messages/{id}", get(one))
        .route("/whatsapp/inbound", get(inbound))
        .route("/whatsapp/inbound/{id}/media", get(inbound_media))
}

/// A reply button.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ButtonBody {
    /// Unique within the message; comes back in the customer's reply.
    #[schema(max_length = 256)]
    pub id: String,
    /// 1 to 20 characters.
    #[schema(max_length = 20)]
    pub title: String,
}

/// A row of a list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowBody {
    #[schema(max_length = 256)]
    pub id: String,
    /// 1 to 24 characters.
    #[schema(max_length = 24)]
    pub title: String,
    /// Up to 72 characters.
    #[schema(max_length = 72)]
    pub description: Option<String>,
}

/// A section of a list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionBody {
    #[schema(max_length = 24)]
    pub title: Option<String>,
    pub rows: Vec<RowBody>,
}

/// What the message carries, by `type`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBody {
    /// 1 to 4,096 characters.
    Text {
        #[schema(max_length = 4096)]
        body: String,
        #[serde(default)]
        preview_url: bool,
    },
    Image {
        url: String,
        caption: Option<String>,
    },
    Document {
        url: String,
        caption: Option<String>,
        filename: Option<String>,
    },
    Audio {
        url: String,
    },
    Video {
        url: String,
        caption: Option<String>,
    },
    Sticker {
        url: String,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    /// Up to three reply buttons.
    Buttons {
        body: String,
        header: Option<String>,
        footer: Option<String>,
        buttons: Vec<ButtonBody>,
    },
    /// An approved template, filled in: the one kind of message that may go
    /// outside the customer-service window. Checked against the template
    /// as last synced.
    Template {
        /// The template's name.
        #[schema(max_length = 512)]
        name: String,
        /// Its language code (`en`, `hi`, `en_US`).
        #[schema(max_length = 15)]
        language: String,
        /// The value of a text header's variable, or a media header's file.
        header: Option<TemplateHeaderBody>,
        /// The body's variables, `{{1}}` first.
        #[serde(default)]
        body: Vec<String>,
        /// Values of URL buttons that end in a variable.
        #[serde(default)]
        buttons: Vec<TemplateButtonBody>,
    },
    /// Up to ten rows in all, in up to ten sections.
    List {
        body: String,
        header: Option<String>,
        footer: Option<String>,
        /// The label of the button that opens the list (1 to 20 characters).
        button: String,
        sections: Vec<SectionBody>,
    },
}

/// A template message's header, by `type`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TemplateHeaderBody {
    /// The value of a text header's `{{1}}`.
    Text {
        #[schema(max_length = 60)]
        text: String,
    },
    Image {
        url: String,
    },
    Video {
        url: String,
    },
    Document {
        url: String,
        filename: Option<String>,
    },
}

impl From<TemplateHeaderBody> for TemplateHeaderValue {
    fn from(body: TemplateHeaderBody) -> Self {
        let media = |kind, url, filename| TemplateHeaderValue::Media { kind, url, filename };
        match body {
            TemplateHeaderBody::Text { text } => TemplateHeaderValue::Text { text },
            TemplateHeaderBody::Image { url } => media(MediaKind::Image, url, None),
            TemplateHeaderBody::Video { url } => media(MediaKind::Video, url, None),
            TemplateHeaderBody::Document { url, filename } => media(MediaKind::Document, url, filename),
        }
    }
}

/// The value of a template's URL button.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateButtonBody {
    /// The button's position in the template, from 0.
    #[schema(maximum = 9)]
    pub index: usize,
    /// What completes its URL.
    #[schema(max_length = 2000)]
    pub text: String,
}

fn media(kind: MediaKind, url: String, caption: Option<String>, filename: Option<String>) -> WhatsappContent {
    WhatsappContent::Media(Media {
        kind,
        url,
        caption,
        filename,
    })
}

impl From<ContentBody> for WhatsappContent {
    fn from(body: ContentBody) -> Self {
        match body {
            ContentBody::Text { body, preview_url } => WhatsappContent::Text { body, preview_url },
            ContentBody::Image { url, caption } => media(MediaKind::Image, url, caption, None),
            ContentBody::Document { url, caption, filename } => media(MediaKind::Document, url, caption, filename),
            ContentBody::Audio { url } => media(MediaKind::Audio, url, None, None),
            ContentBody::Video { url, caption } => media(MediaKind::Video, url, caption, None),
            ContentBody::Sticker { url } => media(MediaKind::Sticker, url, None, None),
            ContentBody::Location {
                latitude,
                longitude,
                name,
                address,
            } => WhatsappContent::Location(Location {
                latitude,
                longitude,
                name,
                address,
            }),
            ContentBody::Buttons {
                body,
                header,
                footer,
                buttons,
            } => WhatsappContent::Interactive(Interactive::Buttons {
                body,
                header,
                footer,
                buttons: buttons
                    .into_iter()
                    .map(|b| ReplyButton {
                        id: b.id,
                        title: b.title,
                    })
                    .collect(),
            }),
            ContentBody::Template {
                name,
                language,
                header,
                body,
                buttons,
            } => WhatsappContent::Template(TemplateMessage {
                name,
                language,
                header: header.map(TemplateHeaderValue::from),
                body,
                buttons: buttons
                    .into_iter()
                    .map(|b| TemplateButtonValue {
                        index: b.index,
                        text: b.text,
                    })
                    .collect(),
            }),
            ContentBody::List {
                body,
                header,
                footer,
                button,
                sections,
            } => WhatsappContent::Interactive(Interactive::List {
                body,
                header,
                footer,
                button,
                sections: sections
                    .into_iter()
                    .map(|s| ListSection {
                        title: s.title,
                        rows: s
                            .rows
                            .into_iter()
                            .map(|r| ListRow {
                                id: r.id,
                                title: r.title,
                                description: r.description,
                            })
                            .collect(),
                    })
                    .collect(),
            }),
        }
    }
}

/// A WhatsApp message to one customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatsappBody {
    /// The message's id, for retries; else derived from `Idempotency-Key`, else new.
    pub message_id: Option<Uuid>,
    /// The customer, E.164 or the `0`-prefixed national form. Free-form
    /// messages go only to a customer who wrote in the last 24 hours.
    #[schema(max_length = 32)]
    pub to: String,
    pub content: ContentBody,
    /// Kept with the message and shown with it.
    #[schema(max_length = 2000)]
    pub custom_data: Option<String>,
}

/// Why Exotel refused, or why the recipient's side failed it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhatsappProblemResponse {
    pub code: Option<i64>,
    pub message: Option<String>,
}

/// A WhatsApp message.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhatsappMessageResponse {
    pub id: Uuid,
    pub to: String,
    /// The organisation's WhatsApp number.
    pub from: String,
    /// `requested`, `submitted`, `sent`, `delivered`, `read`, `failed` or `refused`.
    pub status: String,
    /// `pending`, `started`, `submitted`, `refused` or `unknown`.
    pub dispatch: String,
    pub attempts: u32,
    pub provider_sid: Option<String>,
    /// The content as recorded (`type` and its fields).
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
    pub custom_data: Option<String>,
    pub requested_by: Option<Uuid>,
    /// The customer the number is linked to.
    pub customer_id: Option<Uuid>,
    pub requested_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    /// Exotel's `exo_status_code` and status of a failure.
    pub failure: Option<WhatsappProblemResponse>,
    pub refusal: Option<WhatsappProblemResponse>,
    /// The auto-reply rule that sent it, when Switchboard answered by itself.
    pub auto_reply: Option<AutoReplyResponse>,
}

/// The auto-reply rule that fired.
#[derive(Debug, Serialize, ToSchema)]
pub struct AutoReplyResponse {
    /// `keyword`, `welcome` or `away`.
    pub rule: String,
    pub keyword: Option<String>,
    /// `exact`, `contains` or `regex`.
    pub match_type: Option<String>,
    pub priority: Option<i32>,
    /// The holiday an away message was sent on.
    pub holiday: Option<String>,
}

impl From<&AutoReplyRule> for AutoReplyResponse {
    fn from(rule: &AutoReplyRule) -> Self {
        let none = Self {
            rule: String::new(),
            keyword: None,
            match_type: None,
            priority: None,
            holiday: None,
        };
        match rule {
            AutoReplyRule::Keyword {
                keyword,
                match_type,
                priority,
            } => Self {
                rule: "keyword".into(),
                keyword: Some(keyword.clone()),
                match_type: Some(word(match_type)),
                priority: Some(*priority),
                ..none
            },
            AutoReplyRule::Welcome => Self {
                rule: "welcome".into(),
                ..none
            },
            AutoReplyRule::Away { holiday } => Self {
                rule: "away".into(),
                holiday: holiday.clone(),
                ..none
            },
        }
    }
}

impl WhatsappMessageResponse {
    pub(crate) fn of(id: Uuid, message: &OutboundMessage) -> Option<Self> {
        let request = message.request.as_deref()?;
        let MessageContent::Whatsapp(out) = &request.content else {
            return None;
        };
        Some(Self {
            id,
            to: request.to.clone(),
            from: out.from.clone(),
            status: word(message.status.unwrap_or(MessageStatus::Requested)),
            dispatch: word(message.dispatch),
            attempts: message.attempts,
            provider_sid: message.provider_sid.clone(),
            content: serde_json::to_value(&out.content).unwrap_or_default(),
            custom_data: request.custom_data.clone(),
            requested_by: request.requested_by,
            customer_id: request.customer_id,
            requested_at: message.requested_at,
            submitted_at: message.submitted_at,
            sent_at: message.sent_at,
            delivered_at: message.delivered_at,
            read_at: message.read_at,
            failed_at: message.failed_at,
            failure: message.failure.as_ref().map(|f| WhatsappProblemResponse {
                code: f.code,
                message: f.description.clone(),
            }),
            refusal: message.refusal.as_ref().map(|r| WhatsappProblemResponse {
                code: r.code,
                message: Some(r.message.clone()),
            }),
            auto_reply: request.auto_reply.as_ref().map(AutoReplyResponse::from),
        })
    }
}

pub(crate) fn message_id(caller: &Caller, given: Option<Uuid>, headers: &HeaderMap) -> Uuid {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    match (given, key) {
        (Some(id), _) => id,
        (None, Some(key)) => {
            let name = format!("{}/{}/{key}", caller.organisation_id, caller.actor.to_key());
            Uuid::new_v5(&WHATSAPP_NAMESPACE, name.as_bytes())
        }
        (None, None) => Uuid::new_v4(),
    }
}

#[utoipa::path(post, path = "/api/v1/whatsapp/messages", tag = "whatsapp", security(("bearer" = [])),
    request_body = WhatsappBody,
    responses((status = 202, body = Data<WhatsappMessageResponse>), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "Exotel WhatsApp is not configured or is disabled"),
        (status = 422, body = Problem, description = "a WhatsApp limit, the customer-service window or the template is broken")))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<WhatsappBody>,
) -> Result<(StatusCode, Json<Data<WhatsappMessageResponse>>), ApiError> {
    let id = message_id(&caller, body.message_id, &headers);
    let input = WhatsappInput {
        message_id: id,
        to: body.to,
        content: body.content.into(),
        custom_data: body.custom_data,
        thread_id: None,
    };
    let message = state
        .messages()
        .request_whatsapp(&caller.acting(), input, &caller.metadata())
        .await?;
    let response = WhatsappMessageResponse::of(id, &message).ok_or_else(ApiError::internal)?;
    Ok((StatusCode::ACCEPTED, envelope::data(response)))
}

#[utoipa::path(get, path = "/api/v1/whatsapp/messages/{id}", tag = "whatsapp", security(("bearer" = [])),
    params(("id" = String, Path, description = "the message's id")),
    responses((status = 200, body = Data<WhatsappMessageResponse>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<WhatsappMessageResponse>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let id = parse_id(&id)?;
    let message = state.messages().get(caller.organisation_id, id).await?;
    let response = WhatsappMessageResponse::of(id, &message).ok_or_else(ApiError::not_found)?;
    Ok(envelope::data(response))
}

/// Which messages to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WhatsappQuery {
    /// The customer, in either form.
    pub to: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A WhatsApp message as the list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhatsappListItem {
    pub id: Uuid,
    pub to: String,
    pub from: Option<String>,
    pub status: String,
    pub dispatch: String,
    pub provider_sid: Option<String>,
    pub requested_by: Option<Uuid>,
    pub requested_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub failure_code: Option<i64>,
}

impl From<MessageSummary> for WhatsappListItem {
    fn from(message: MessageSummary) -> Self {
        Self {
            id: message.message_id,
            to: message.to,
            from: message.sender_id,
            status: message.status,
            dispatch: message.dispatch,
            provider_sid: message.provider_sid,
            requested_by: message.requested_by,
            requested_at: message.requested_at,
            delivered_at: message.delivered_at,
            failure_code: message.failure_code,
        }
    }
}

fn limit(limit: Option<i64>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(100);
    match (1..=500).contains(&limit) {
        true => Ok(limit as u32),
        false => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "limit must be 1 to 500").on_field("limit"))
        }
    }
}

fn contact(text: &Option<String>) -> Option<String> {
    let text = text.as_deref().map(str::trim).filter(|t| !t.is_empty())?;
    Some(domain::integration::settings::phone_number("to", text).unwrap_or_else(|_| text.to_string()))
}

#[utoipa::path(get, path = "/api/v1/whatsapp/messages", params(WhatsappQuery), tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, body = List<WhatsappListItem>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<WhatsappQuery>,
) -> Result<Json<List<WhatsappListItem>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let filter = MessageFilter {
        channel: Some("whatsapp".into()),
        to: contact(&query.to),
        ..MessageFilter::default()
    };
    let messages = state
        .messages()
        .list(caller.organisation_id, &filter, None, limit(query.limit)?)
        .await?;
    Ok(envelope::list(
        messages.into_iter().map(WhatsappListItem::from).collect(),
    ))
}

/// Which received messages to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboundQuery {
    /// The customer who wrote, in either form.
    pub from: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// A message a customer sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundResponse {
    pub id: Uuid,
    pub channel: String,
    pub from: String,
    pub to: String,
    pub profile_name: Option<String>,
    /// `text`, `media`, `location`, `button_reply`, `list_reply` or `other`.
    pub kind: String,
    /// The text, caption, place name or reply title.
    pub text: Option<String>,
    /// The provider id of the message it answers.
    pub context_sid: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl From<InboundSummary> for InboundResponse {
    fn from(message: InboundSummary) -> Self {
        Self {
            id: message.message_id,
            channel: message.channel,
            from: message.from,
            to: message.to,
            profile_name: message.profile_name,
            kind: message.kind,
            text: message.text,
            context_sid: message.context_sid,
            received_at: message.received_at,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/whatsapp/inbound", params(InboundQuery), tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, body = List<InboundResponse>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn inbound(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<InboundQuery>,
) -> Result<Json<List<InboundResponse>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "offset must not be negative").on_field("offset"),
        );
    }
    let offset = u32::try_from(offset).unwrap_or(u32::MAX);
    let from = contact(&query.from);
    let messages = state
        .messages()
        .inbound(caller.organisation_id, from.as_deref(), limit(query.limit)?, offset)
        .await?;
    Ok(envelope::list(
        messages.into_iter().map(InboundResponse::from).collect(),
    ))
}

/// A customer's media file (image, document, audio, video or sticker),
/// served from where it is kept, with ranges. Fetched from Exotel with the
/// integration's credentials when it arrived (or now, on first use); the
/// provider's URL is never handed out. 404 `media_unavailable` when the
/// provider no longer had it.
#[utoipa::path(get, path = "/api/v1/whatsapp/inbound/{id}/media", tag = "whatsapp", security(("bearer" = [])),
    params(("id" = String, Path, description = "the received message's id"),
        ("Range" = Option<String>, Header, description = "bytes=START-END")),
    responses(
        (status = 200, description = "the whole file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "the range asked for", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 416, description = "the range lies outside the file"),
        (status = 502, body = Problem, description = "Exotel failed or could not be reached")))]
pub async fn inbound_media(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<axum::response::Response, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let id = parse_id(&id)?;
    let kept = state
        .inbound_media()
        .media(caller.organisation_id, id, &caller.metadata())
        .await?;
    crate::routes::serve_kept(&kept.path, &kept.file.content_type, request).await
}
