//! The seed's WhatsApp shortcuts: `POST /api/v1/communications/messages/send-media`
//! and `…/send-template`, in its field names. Each records the message
//! through the same use case as `POST /api/v1/whatsapp/messages`, on the
//! thread named (to its customer's number unless `to` is given), else on
//! the customer's open thread, or a new one.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use domain::whatsapp::{Media, MediaKind, TemplateMessage, WhatsappContent};

use crate::auth::Caller;
use crate::envelope::Data;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::threads::ThreadMessageSent;
use crate::routes::threads::send::{customer_point, missing_to, record_whatsapp, visible};
use crate::routes::whatsapp::TemplateHeaderBody;
use crate::state::AppState;

/// The routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/communications/messages/send-media", post(send_media))
        .route("/communications/messages/send-template", post(send_template))
}

/// The one channel these routes send on.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum WhatsappOnly {
    #[serde(rename = "WHATSAPP", alias = "whatsapp")]
    Whatsapp,
}

/// A media message's kind.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaType {
    Image,
    Document,
    Audio,
    Video,
    Sticker,
}

/// A photo, document, voice note, video or sticker by URL.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMediaBody {
    /// The thread it goes on; its customer's number is the default `to`.
    pub thread_id: Option<Uuid>,
    /// `WHATSAPP` (the default).
    pub channel: Option<WhatsappOnly>,
    pub media_type: MediaType,
    /// A public `https` URL WhatsApp fetches the file from.
    #[schema(max_length = 2000)]
    pub media_url: String,
    /// Images, videos and documents only.
    #[schema(max_length = 1024)]
    pub caption: Option<String>,
    /// Documents only.
    #[schema(max_length = 240)]
    pub filename: Option<String>,
    /// E.164 or the `0`-prefixed national form; needed without `thread_id`.
    #[schema(max_length = 32)]
    pub to: Option<String>,
    /// The message's id, for retries; else derived from `Idempotency-Key`, else new.
    pub message_id: Option<Uuid>,
}

/// A template's body variables: `{"1": "…", "2": "…"}` as the seed sends
/// them, or a list, `{{1}}` first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TemplateVariables {
    Numbered(BTreeMap<String, String>),
    Listed(Vec<String>),
}

/// An approved template, filled in: the one message that may reach a
/// customer outside the 24-hour window.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendTemplateBody {
    pub thread_id: Option<Uuid>,
    /// `WHATSAPP` (the default).
    pub channel: Option<WhatsappOnly>,
    #[schema(max_length = 512)]
    pub template_name: String,
    /// `en`, `hi`, `en_US`, …
    #[schema(max_length = 15)]
    pub language: String,
    #[schema(max_length = 32)]
    pub to: Option<String>,
    pub variables: Option<TemplateVariables>,
    /// The value of a text header's variable, or a media header's file.
    pub header: Option<TemplateHeaderBody>,
    pub message_id: Option<Uuid>,
}

impl TemplateVariables {
    /// The values in order; numbered keys must be `1` to `n`, each once.
    fn ordered(self) -> Result<Vec<String>, ApiError> {
        match self {
            TemplateVariables::Listed(values) => Ok(values),
            TemplateVariables::Numbered(map) => {
                let mut numbered: Vec<(usize, String)> = Vec::with_capacity(map.len());
                for (key, value) in map {
                    let n = key
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n >= 1 && key == n.to_string())
                        .ok_or_else(|| ApiError::invalid("variables", "variables are numbered \"1\" to \"n\""))?;
                    numbered.push((n, value));
                }
                numbered.sort_by_key(|(n, _)| *n);
                if numbered.iter().enumerate().any(|(i, (n, _))| *n != i + 1) {
                    return Err(ApiError::invalid(
                        "variables",
                        "variables are numbered \"1\" to \"n\" without gaps",
                    ));
                }
                Ok(numbered.into_iter().map(|(_, v)| v).collect())
            }
        }
    }
}

/// The thread (when named and visible) and the number to send to.
async fn destination(
    state: &AppState,
    caller: &Caller,
    thread_id: Option<Uuid>,
    to: Option<String>,
) -> Result<(Option<Uuid>, String), ApiError> {
    let Some(thread_id) = thread_id else {
        let to = to.ok_or_else(|| ApiError::invalid("to", "give `to` or a `thread_id`"))?;
        return Ok((None, to));
    };
    let thread = visible(state, caller, &thread_id.to_string())
        .await
        .map_err(|e| e.on_field("thread_id"))?;
    let to = match to {
        Some(to) => to,
        None => customer_point(state, caller, &thread, false)
            .await?
            .ok_or_else(|| missing_to("number"))?,
    };
    Ok((Some(thread_id), to))
}

/// Sends a photo, document, voice note, video or sticker on WhatsApp.
#[utoipa::path(post, path = "/api/v1/communications/messages/send-media", tag = "threads", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, description = "the same key sends at most once")),
    request_body = SendMediaBody,
    responses((status = 202, body = Data<ThreadMessageSent>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Exotel WhatsApp is not configured or is disabled"),
        (status = 422, body = Problem, description = "a WhatsApp limit, the customer-service window or the media is refused")))]
pub async fn send_media(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendMediaBody>,
) -> Result<(StatusCode, Json<Data<ThreadMessageSent>>), ApiError> {
    let kind = match body.media_type {
        MediaType::Image => MediaKind::Image,
        MediaType::Document => MediaKind::Document,
        MediaType::Audio => MediaKind::Audio,
        MediaType::Video => MediaKind::Video,
        MediaType::Sticker => MediaKind::Sticker,
    };
    let content = WhatsappContent::Media(Media {
        kind,
        url: body.media_url,
        caption: body.caption,
        filename: body.filename,
    });
    let (thread_id, to) = destination(&state, &caller, body.thread_id, body.to).await?;
    let id = crate::routes::threads::send_id(&caller, body.message_id, &headers);
    record_whatsapp(&state, &caller, id, thread_id, to, content).await
}

/// Sends an approved WhatsApp template, filled in.
#[utoipa::path(post, path = "/api/v1/communications/messages/send-template", tag = "threads", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, description = "the same key sends at most once")),
    request_body = SendTemplateBody,
    responses((status = 202, body = Data<ThreadMessageSent>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Exotel WhatsApp is not configured or is disabled"),
        (status = 422, body = Problem, description = "the template is unknown, not approved, or filled in differently")))]
pub async fn send_template(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendTemplateBody>,
) -> Result<(StatusCode, Json<Data<ThreadMessageSent>>), ApiError> {
    let values = body
        .variables
        .map(TemplateVariables::ordered)
        .transpose()?
        .unwrap_or_default();
    let content = WhatsappContent::Template(TemplateMessage {
        name: body.template_name,
        language: body.language,
        header: body.header.map(Into::into),
        body: values,
        buttons: Vec::new(),
    });
    let (thread_id, to) = destination(&state, &caller, body.thread_id, body.to).await?;
    let id = crate::routes::threads::send_id(&caller, body.message_id, &headers);
    record_whatsapp(&state, &caller, id, thread_id, to, content).await
}
