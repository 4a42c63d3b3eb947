//! WhatsApp templates: `POST /api/v1/settings/integrations/exotel_whatsapp/sync-templates`
//! reads the business account's templates from Exotel (a periodic sync does
//! the same), and `GET /api/v1/whatsapp/templates` lists them as synced.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use application::messages::{TemplateSync, WhatsappTemplateSummary};
use domain::integration::IntegrationKind;
use domain::whatsapp_template::{HeaderFormat, TemplateStatus, variables};

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::routes::word;
use crate::state::AppState;

/// The template routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/settings/integrations/exotel_whatsapp/sync-templates", post(sync))
        .route("/whatsapp/templates", get(list))
}

/// What a sync did.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateSyncReport {
    /// Templates the provider listed.
    pub listed: usize,
    /// Of those, the ones new or changed since the last sync.
    pub changed: usize,
    /// Templates the provider no longer lists, removed: they can no longer be sent.
    pub removed: usize,
    /// Items of the listing that could not be read; while there are any,
    /// nothing is removed.
    pub unreadable: usize,
}

impl From<TemplateSync> for TemplateSyncReport {
    fn from(sync: TemplateSync) -> Self {
        Self {
            listed: sync.listed,
            changed: sync.changed,
            removed: sync.removed,
            unreadable: sync.unreadable,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/settings/integrations/exotel_whatsapp/sync-templates", tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, body = Data<TemplateSyncReport>), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "Exotel WhatsApp is not configured or is disabled"),
        (status = 422, body = Problem, description = "the integration names no business account (`waba_id`), or Exotel refused the request"),
        (status = 502, body = Problem, description = "Exotel failed or could not be reached")))]
pub async fn sync(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Data<TemplateSyncReport>>, ApiError> {
    state
        .access()
        .may_configure(&caller.acting(), IntegrationKind::ExotelWhatsapp)
        .await?;
    let sync = state
        .messages()
        .sync_whatsapp_templates(caller.organisation_id, &caller.metadata())
        .await?;
    Ok(envelope::data(TemplateSyncReport::from(sync)))
}

/// Which templates to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// Only templates of this status.
    #[param(inline)]
    pub status: Option<TemplateStatusParam>,
}

/// A template's review status at Meta.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateStatusParam {
    Approved,
    Pending,
    Rejected,
    Paused,
    Disabled,
    InAppeal,
    Other,
}

impl From<TemplateStatusParam> for TemplateStatus {
    fn from(status: TemplateStatusParam) -> Self {
        match status {
            TemplateStatusParam::Approved => Self::Approved,
            TemplateStatusParam::Pending => Self::Pending,
            TemplateStatusParam::Rejected => Self::Rejected,
            TemplateStatusParam::Paused => Self::Paused,
            TemplateStatusParam::Disabled => Self::Disabled,
            TemplateStatusParam::InAppeal => Self::InAppeal,
            TemplateStatusParam::Other => Self::Other,
        }
    }
}

/// A template's header.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateHeaderResponse {
    /// `text`, `image`, `video`, `document` or `location`.
    pub format: String,
    pub text: Option<String>,
}

/// A template's button.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateButtonResponse {
    /// Its position, which a message's `buttons[].index` names.
    pub index: usize,
    /// `quick_reply`, `url`, `phone_number`, `copy_code`, `flow` or `other`.
    pub kind: String,
    pub text: String,
    pub url: Option<String>,
    /// Whether a message must send a value for it (a URL ending in `{{1}}`).
    pub takes_value: bool,
}

/// A template as last synced.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateResponse {
    pub id: Uuid,
    /// Meta's id.
    pub provider_id: String,
    pub name: String,
    pub language: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    pub category: String,
    /// `approved` templates may be sent; any other status may not.
    pub status: String,
    pub rejected_reason: Option<String>,
    pub header: Option<TemplateHeaderResponse>,
    /// The body, each variable written `{{n}}`.
    pub body: String,
    /// How many values a message's `body` sends.
    pub body_variables: usize,
    /// Whether a message's `header` sends media of this kind: `image`, `video` or `document`.
    pub header_media: Option<String>,
    pub footer: Option<String>,
    pub buttons: Vec<TemplateButtonResponse>,
    pub synced_at: DateTime<Utc>,
}

impl From<WhatsappTemplateSummary> for TemplateResponse {
    fn from(summary: WhatsappTemplateSummary) -> Self {
        let t = summary.definition;
        let header_media = t.header.as_ref().and_then(|h| h.format.media()).map(word);
        Self {
            id: summary.template_id,
            provider_id: t.provider_id,
            body_variables: variables(&t.body),
            name: t.name,
            language: t.language,
            category: t.category,
            status: word(t.status),
            rejected_reason: t.rejected_reason,
            header: t.header.map(|h| TemplateHeaderResponse {
                format: word::<HeaderFormat>(h.format),
                text: h.text,
            }),
            header_media,
            body: t.body,
            footer: t.footer,
            buttons: t
                .buttons
                .into_iter()
                .enumerate()
                .map(|(index, b)| TemplateButtonResponse {
                    index,
                    kind: word(b.kind),
                    takes_value: b.takes_value(),
                    text: b.text,
                    url: b.url,
                })
                .collect(),
            synced_at: summary.synced_at,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/whatsapp/templates", params(TemplateQuery), tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, body = List<TemplateResponse>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TemplateQuery>,
) -> Result<Json<List<TemplateResponse>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let templates = state
        .messages()
        .whatsapp_templates(caller.organisation_id, query.status.map(TemplateStatus::from))
        .await?;
    Ok(envelope::list(
        templates.into_iter().map(TemplateResponse::from).collect(),
    ))
}
