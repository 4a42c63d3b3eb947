//! Received e-mail: polling an account now, and how a thread shows its
//! e-mails (`routes::threads` serves the threads). Polling needs the
//! caller to be allowed to use the `zoho_mail` integration (admins always
//! are), like sending does.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

use domain::inbound_email::{AttachmentStorage, MailAddress};
use domain::integration::IntegrationKind;
use infrastructure::mail::poll::PollReport;
use projections::email_threads::{MessageRow, TimelineAttachment};

use crate::auth::Caller;
use crate::envelope::{self, Data};
use crate::error::{ApiError, Problem};
use crate::pollers::StateSink;
use crate::routes::parse_id;
use crate::state::AppState;

/// The polling and thread routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/settings/email-accounts/{id}/poll-now", post(poll_now))
}

/// What one poll of an account found.
#[derive(Debug, Serialize, ToSchema)]
pub struct PollReportResponse {
    pub new_messages: u64,
    pub new_threads: u64,
    pub rejected_messages: u64,
    pub duplicate_messages: u64,
    pub poll_duration_ms: u64,
    /// RFC 3339, seconds.
    pub last_polled_at: String,
}

impl From<PollReport> for PollReportResponse {
    fn from(r: PollReport) -> Self {
        Self {
            new_messages: r.new_messages,
            new_threads: r.new_threads,
            rejected_messages: r.rejected_messages,
            duplicate_messages: r.duplicate_messages,
            poll_duration_ms: r.poll_duration_ms,
            last_polled_at: r.last_polled_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// Polls the account's folders now, through the poller that holds the
/// account (or under a lease of its own when none does). A poll already
/// running is waited for, and what it recorded is counted in.
#[utoipa::path(post, path = "/api/v1/settings/email-accounts/{id}/poll-now", tag = "e-mail", security(("bearer" = [])),
    params(("id" = String, Path, description = "the account's id")),
    responses((status = 200, body = Data<PollReportResponse>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 500, body = Problem), (status = 502, body = Problem)))]
pub async fn poll_now(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<PollReportResponse>>, ApiError> {
    state
        .access()
        .may_use(&caller.acting(), IntegrationKind::ZohoMail)
        .await?;
    let account_id = parse_id(&id)?;
    state.email_accounts().live(caller.organisation_id, account_id).await?;
    let sink = StateSink(state.clone());
    let receiver = &state.receiving.receiver;
    let report = receiver.poll_now(&sink, account_id, caller.organisation_id).await?;
    Ok(envelope::data(report.into()))
}

/// A sender or recipient; a sender without an address shows as written.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailAddressResponse {
    pub name: Option<String>,
    pub address: String,
}

impl From<MailAddress> for MailAddressResponse {
    fn from(a: MailAddress) -> Self {
        Self {
            name: a.name,
            address: a.address,
        }
    }
}

/// An attachment of a message; `storage` and the inline fields only for
/// received e-mail.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineAttachmentResponse {
    pub filename: Option<String>,
    pub content_type: String,
    /// The declared charset of a text attachment (stored in it, unconverted).
    pub charset: Option<String>,
    pub size: u64,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: String,
    pub content_id: Option<String>,
    pub inline: bool,
    /// `stored`, or `skipped_over_limit` (recorded, not stored).
    pub storage: Option<String>,
    /// The limit a skipped attachment was over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<u64>,
}

impl From<TimelineAttachment> for TimelineAttachmentResponse {
    fn from(a: TimelineAttachment) -> Self {
        let (storage, limit_bytes) = match a.storage {
            Some(AttachmentStorage::Stored) => (Some("stored"), None),
            Some(AttachmentStorage::SkippedOverLimit { limit_bytes }) => {
                (Some("skipped_over_limit"), Some(limit_bytes))
            }
            None => (None, None),
        };
        Self {
            filename: a.filename,
            content_type: a.content_type,
            charset: a.charset,
            size: a.size,
            sha256: a.sha256,
            content_id: a.content_id,
            inline: a.inline,
            storage: storage.map(str::to_string),
            limit_bytes,
        }
    }
}

/// One message of a thread, either direction.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadMessageResponse {
    pub id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub account_id: Option<String>,
    pub message_id: Option<String>,
    pub from: Option<MailAddressResponse>,
    pub to: Vec<MailAddressResponse>,
    pub cc: Vec<MailAddressResponse>,
    pub subject: Option<String>,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub attachments: Vec<TimelineAttachmentResponse>,
    pub message_at: String,
    pub received_at: String,
}

fn addresses(list: Vec<MailAddress>) -> Vec<MailAddressResponse> {
    list.into_iter().map(Into::into).collect()
}

impl From<MessageRow> for ThreadMessageResponse {
    fn from(m: MessageRow) -> Self {
        Self {
            id: m.id,
            direction: m.direction,
            account_id: m.account_id,
            message_id: m.message_id,
            from: m.from.map(Into::into),
            to: addresses(m.to),
            cc: addresses(m.cc),
            subject: m.subject,
            body_text: m.body_text,
            body_html: m.body_html,
            attachments: m.attachments.into_iter().map(Into::into).collect(),
            message_at: m.message_at,
            received_at: m.received_at,
        }
    }
}
