//! Sending e-mail: `POST /api/v1/communications/emails` records the intent
//! and sends it once; `GET /api/v1/communications/emails/{id}` tells where
//! it stands. The intent id is the body's `intent_id`, else one derived from
//! the `Idempotency-Key`, else a new one — so a retried request finds the
//! intent of the first and never sends twice.

mod body;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{self, post};
use axum::{Json, Router};
use std::sync::Arc;
use uuid::Uuid;

use application::AggregateStore;
use application::outbound_email::{OutboundEmails, Permission, SendRequest};
use domain::integration::IntegrationKind;
use domain::outbound_email::OutboundEmail;
use infrastructure::Settings;

use crate::auth::Caller;
use crate::envelope::{self, Data};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::parse_id;
use crate::state::AppState;
pub use body::{EmailResponse, Recipients, SendEmailBody, SentEmailResponse, describe};

const INTENT_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0008);

pub use crate::limits::body_limit;

fn intent_id(caller: &Caller, given: Option<Uuid>, headers: &HeaderMap) -> Uuid {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    match (given, key) {
        (Some(id), _) => id,
        (None, Some(key)) => {
            let name = format!("{}/{}/{key}", caller.organisation_id, caller.actor.to_key());
            Uuid::new_v5(&INTENT_NAMESPACE, name.as_bytes())
        }
        (None, None) => Uuid::new_v4(),
    }
}

pub(crate) async fn permission(state: &AppState, caller: &Caller) -> Result<Permission, ApiError> {
    let grant = state
        .access()
        .grant(&caller.acting(), IntegrationKind::ZohoMail)
        .await?;
    Ok(Permission {
        role: caller.role,
        grant,
    })
}

/// The sending routes, relative to `/api/v1`; the send route alone takes
/// bodies as large as its attachments need.
pub fn router(settings: &Settings) -> Router<Arc<AppState>> {
    let limit = body_limit(settings, "/communications/emails");
    Router::new()
        .route("/communications/emails", post(send).layer(DefaultBodyLimit::max(limit)))
        .route("/communications/emails/{id}", routing::get(get))
}

/// Sends an e-mail from one of the organisation's accounts (the default one
/// unless `account_id` names another). 201 with `status` `sent`, `failed`
/// (the server refused the message or a recipient; `error` says why) or
/// `in_doubt` (an earlier attempt started and its outcome was never
/// recorded: it is not sent again). 502 `smtp_error` when the server could
/// not be used at all (connection, TLS, login), with the server's words.
#[utoipa::path(post, path = "/api/v1/communications/emails", tag = "e-mail", security(("bearer" = [])),
    request_body = SendEmailBody,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, description = "the same key sends at most once")),
    responses((status = 201, body = Data<SentEmailResponse>), (status = 403, body = Problem), (status = 409, body = Problem), (status = 500, body = Problem), (status = 502, body = Problem)))]
pub async fn send(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendEmailBody>,
) -> Result<(StatusCode, Json<Data<SentEmailResponse>>), ApiError> {
    let intent_id = intent_id(&caller, body.intent_id, &headers);
    let request = SendRequest {
        intent_id,
        organisation_id: caller.organisation_id,
        account_id: body.account_id,
        attachments: body.attachments()?,
        draft: body.into_draft(),
        permission: permission(&state, &caller).await?,
    };
    let meta = caller.metadata();
    // The attempt runs on its own task: a client that hangs up or a request
    // timeout must not cut the SMTP conversation between DATA and its answer.
    let task = tokio::spawn(async move { state.outbound_emails().send(request, &meta).await });
    let email = task.await.map_err(|_| ApiError::internal())??;
    let sent = body::describe(&email).ok_or_else(ApiError::internal)?;
    Ok((StatusCode::CREATED, envelope::data(sent)))
}

/// Where a sent e-mail stands: `pending`, `sent`, `failed` or `in_doubt`,
/// with the server's answer.
#[utoipa::path(get, path = "/api/v1/communications/emails/{id}", tag = "e-mail", security(("bearer" = [])),
    params(("id" = String, Path, description = "the intent id (`message_id` of the send)")),
    responses((status = 200, body = Data<EmailResponse>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<EmailResponse>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let email = state
        .outbound_emails()
        .get(caller.organisation_id, parse_id(&id)?)
        .await?;
    let detailed = body::detailed(&email).ok_or_else(ApiError::not_found)?;
    Ok(envelope::data(detailed))
}

impl AppState {
    /// The sending use cases over this state's stores and SMTP client.
    pub fn outbound_emails(&self) -> OutboundEmails<'_> {
        OutboundEmails {
            store: &self.outbound_emails,
            accounts: self.email_accounts(),
            sender: &self.smtp,
            directory: &self.mail_directory,
            max_attachment_bytes: self.settings.email_max_attachment_bytes,
        }
    }

    /// An intent as its events left it (for tests and tools).
    pub async fn outbound_email(&self, intent_id: Uuid) -> Result<Option<OutboundEmail>, ApiError> {
        Ok(self
            .outbound_emails
            .load(&intent_id.to_string())
            .await?
            .map(|l| l.aggregate))
    }
}
