//! Sending e-mail: `POST /api/v1/communications/emails` records the intent
//! and sends it once; `GET /api/v1/communications/emails/{id}` tells where
//! it stands. The intent id is the body's `intent_id`, else one derived from
//! the `Idempotency-Key`, else a new one — so a retried request finds the
//! intent of the first and never sends twice.

mod body;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

use application::AggregateStore;
use application::email_accounts::EmailAccountsError;
use application::outbound_email::{OutboundEmails, Permission, SendEmailError, SendRequest};
use domain::email_account::EmailAccountError;
use domain::integration::IntegrationKind;
use domain::integration_permission::permission_id;
use domain::outbound_email::{OutboundEmail, OutboundEmailError};

use crate::auth::Caller;
use crate::error::{ApiError, Problem, Rule};
use crate::extract::ApiJson;
use crate::routes::parse_id;
use crate::state::AppState;
pub use body::SendEmailBody;

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

async fn permission(state: &AppState, caller: &Caller) -> Result<Permission, ApiError> {
    let grant = match caller.user_id() {
        Some(user_id) => {
            let id = permission_id(caller.organisation_id, IntegrationKind::ZohoMail, user_id).to_string();
            state.permissions.load(&id).await?.and_then(|l| l.aggregate.grant)
        }
        None => None,
    };
    Ok(Permission {
        role: caller.role,
        grant,
    })
}

/// Sends an e-mail from one of the organisation's accounts (the default one
/// unless `account_id` names another). 201 with `status` `sent`, `failed`
/// (the server refused the message or a recipient; `error` says why) or
/// `in_doubt` (an earlier attempt started and its outcome was never
/// recorded: it is not sent again). 502 `smtp_error` when the server could
/// not be used at all (connection, TLS, login), with the server's words.
#[utoipa::path(post, path = "/api/v1/communications/emails", tag = "e-mail", security(("bearer" = [])),
    request_body = SendEmailBody,
    responses((status = 201, description = "`{success, data: {message_id, smtp_message_id, status, to, subject, created_at, …}}`"),
        (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn send(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendEmailBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
    Ok((
        StatusCode::CREATED,
        Json(json!({"success": true, "data": body::describe(&email)})),
    ))
}

/// Where a sent e-mail stands: `pending`, `sent`, `failed` or `in_doubt`,
/// with the server's answer.
#[utoipa::path(get, path = "/api/v1/communications/emails/{id}", tag = "e-mail", security(("bearer" = [])),
    responses((status = 200, description = "`{success, data}`"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let email = state
        .outbound_emails()
        .get(caller.organisation_id, parse_id(&id)?)
        .await?;
    let mut data = body::describe(&email);
    body::add_details(&mut data, &email);
    Ok(Json(json!({"success": true, "data": data})))
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

impl Rule for OutboundEmailError {
    fn to_api(&self) -> ApiError {
        use OutboundEmailError as E;
        let status = match self {
            E::NotFound => return ApiError::not_found(),
            E::IntentReused => {
                return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "intent_reused", self.to_string())
                    .on_field("intent_id");
            }
            E::AlreadyStarted | E::AlreadyFinished | E::NotStarted => StatusCode::CONFLICT,
        };
        ApiError::new(status, "email_send_conflict", self.to_string())
    }
}

fn account_field(status: StatusCode, code: &'static str, error: &SendEmailError) -> ApiError {
    ApiError::new(status, code, error.to_string()).on_field("account_id")
}

fn accounts_error(error: EmailAccountsError) -> ApiError {
    use application::CommandError;
    match error {
        EmailAccountsError::Invalid(e) => e.into(),
        EmailAccountsError::Cipher(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "credentials_unreadable",
            e.to_string(),
        ),
        EmailAccountsError::Store(e) => e.into(),
        EmailAccountsError::Command(CommandError::Rejected(EmailAccountError::NotFound)) => ApiError::not_found(),
        EmailAccountsError::Command(CommandError::Rejected(e)) => {
            ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        EmailAccountsError::Command(CommandError::Conflict) => {
            ApiError::new(StatusCode::CONFLICT, "conflict", "try again")
        }
        EmailAccountsError::Command(CommandError::Store(e)) => ApiError::unavailable(e),
    }
}

impl From<SendEmailError> for ApiError {
    fn from(error: SendEmailError) -> Self {
        use SendEmailError as E;
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match error {
            E::Denied(e) => e.into(),
            E::Invalid(e) => ApiError::invalid(&e.field, e.reason),
            E::AttachmentsTooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "attachments_too_large",
                error.to_string(),
            )
            .on_field("attachments"),
            E::UnknownAccount => account_field(unprocessable, "unknown_email_account", &error),
            E::NoDefaultAccount => account_field(unprocessable, "no_default_email_account", &error),
            E::SmtpDisabled => account_field(unprocessable, "smtp_disabled", &error),
            E::Smtp(failure) => ApiError::new(StatusCode::BAD_GATEWAY, "smtp_error", failure.message),
            E::Accounts(e) => accounts_error(e),
            E::Store(e) => e.into(),
            E::Command(e) => e.into(),
        }
    }
}
