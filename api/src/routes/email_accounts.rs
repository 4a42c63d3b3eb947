//! E-mail accounts: testing SMTP and IMAP before saving, adding, listing,
//! changing and removing accounts. Passwords go in, never come out.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{self, post};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

use application::email_accounts::AccountInput;
use application::mail::{ImapCheck, ServerCheck, SmtpCheck};
use domain::email_account::{EmailAccount, MailboxInput, MailboxSettings};
use domain::integration::IntegrationKind;
use domain::integration::settings::MailSecurity;

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::parse_id;
use crate::state::AppState;

/// The e-mail account routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/settings/email-accounts/test", post(test))
        .route("/settings/email-accounts", routing::get(list).post(create))
        .route(
            "/settings/email-accounts/{id}",
            routing::get(get).patch(update).delete(remove),
        )
}

/// An account's settings and passwords. On create `email`, `smtp_password`
/// and `imap_password` are required and the rest defaults (Zoho's servers,
/// `INBOX`, 30 s); on update every field is optional and the rest stays.
/// `smtp_secure`/`imap_tls` are the seed's spellings of the securities,
/// `poll_interval_ms` of the interval.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailAccountBody {
    pub name: Option<String>,
    pub email: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    /// `starttls`, `tls` or `none`.
    #[schema(value_type = Option<String>)]
    pub smtp_security: Option<MailSecurity>,
    pub smtp_secure: Option<bool>,
    pub smtp_user: Option<String>,
    /// Write-only.
    pub smtp_password: Option<String>,
    pub imap_host: Option<String>,
    pub imap_port: Option<u16>,
    /// `starttls`, `tls` or `none`.
    #[schema(value_type = Option<String>)]
    pub imap_security: Option<MailSecurity>,
    pub imap_tls: Option<bool>,
    pub imap_user: Option<String>,
    /// Write-only.
    pub imap_password: Option<String>,
    pub folders: Option<Vec<String>>,
    /// 10 to 300.
    pub poll_interval_secs: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub smtp_enabled: Option<bool>,
    pub imap_enabled: Option<bool>,
    pub is_default: Option<bool>,
    pub signature_html: Option<String>,
    pub signature_text: Option<String>,
}

impl From<EmailAccountBody> for MailboxInput {
    fn from(b: EmailAccountBody) -> Self {
        MailboxInput {
            name: b.name,
            email: b.email,
            smtp_host: b.smtp_host,
            smtp_port: b.smtp_port,
            smtp_security: b.smtp_security,
            smtp_secure: b.smtp_secure,
            smtp_user: b.smtp_user,
            smtp_password: b.smtp_password,
            imap_host: b.imap_host,
            imap_port: b.imap_port,
            imap_security: b.imap_security,
            imap_tls: b.imap_tls,
            imap_user: b.imap_user,
            imap_password: b.imap_password,
            folders: b.folders,
            poll_interval_secs: b.poll_interval_secs,
            poll_interval_ms: b.poll_interval_ms,
            smtp_enabled: b.smtp_enabled,
            imap_enabled: b.imap_enabled,
            is_default: b.is_default,
            signature_html: b.signature_html,
            signature_text: b.signature_text,
        }
    }
}

fn input(body: EmailAccountBody) -> Result<AccountInput, ApiError> {
    Ok(AccountInput::new(body.into())?)
}

/// An account as answered: settings, health, never a password.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailAccountResponse {
    pub id: String,
    pub name: String,
    pub email: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    #[schema(value_type = String)]
    pub smtp_security: MailSecurity,
    pub smtp_user: String,
    pub smtp_enabled: bool,
    pub imap_host: String,
    pub imap_port: u16,
    #[schema(value_type = String)]
    pub imap_security: MailSecurity,
    pub imap_user: String,
    pub imap_enabled: bool,
    pub folders: Vec<String>,
    pub poll_interval_secs: u64,
    pub poll_interval_ms: u64,
    pub is_default: bool,
    pub signature_html: Option<String>,
    pub signature_text: Option<String>,
    /// Set after three login failures in a row.
    pub needs_attention: bool,
    pub last_error: Option<String>,
    pub created_at: Option<String>,
}

impl EmailAccountResponse {
    fn of(id: String, settings: &MailboxSettings, health: (bool, Option<String>), created_at: Option<String>) -> Self {
        Self {
            id,
            name: settings.name.clone(),
            email: settings.address.to_string(),
            smtp_host: settings.smtp.host.clone(),
            smtp_port: settings.smtp.port,
            smtp_security: settings.smtp.security,
            smtp_user: settings.smtp.user.clone(),
            smtp_enabled: settings.smtp_enabled,
            imap_host: settings.imap.host.clone(),
            imap_port: settings.imap.port,
            imap_security: settings.imap.security,
            imap_user: settings.imap.user.clone(),
            imap_enabled: settings.imap_enabled,
            folders: settings.folders.clone(),
            poll_interval_secs: settings.poll_interval_secs,
            poll_interval_ms: settings.poll_interval_secs * 1000,
            is_default: settings.is_default,
            signature_html: settings.signature_html.clone(),
            signature_text: settings.signature_text.clone(),
            needs_attention: health.0,
            last_error: health.1,
            created_at,
        }
    }

    fn of_aggregate(account: &EmailAccount) -> Result<Self, ApiError> {
        let settings = account.settings.as_ref().ok_or_else(ApiError::not_found)?;
        Ok(Self::of(
            account.id.map(|i| i.to_string()).unwrap_or_default(),
            settings,
            (account.needs_attention, account.last_error.clone()),
            account.added_at.map(|t| t.to_rfc3339()),
        ))
    }
}

/// What a check of one server found: `{success, host, port, secure}` and,
/// for IMAP, the mailbox figures; or `success: false` with the server's words.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerCheckResponse {
    pub success: bool,
    pub host: String,
    pub port: u16,
    /// Implicit TLS (465, 993) rather than STARTTLS or plain.
    pub secure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mailbox_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<ServerCheck> for ServerCheckResponse {
    fn from(c: ServerCheck) -> Self {
        Self {
            success: c.success,
            host: c.host,
            port: c.port,
            secure: c.secure,
            mailbox_count: c.mailbox_count,
            unread_count: c.unread_count,
            error: c.error,
        }
    }
}

/// Both sides of an account test.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountTestResponse {
    pub smtp: ServerCheckResponse,
    pub imap: ServerCheckResponse,
}

/// Tests SMTP and IMAP separately, without saving anything. `success` is
/// whether both sides passed.
#[utoipa::path(post, path = "/api/v1/settings/email-accounts/test", tag = "email accounts", security(("bearer" = [])),
    request_body = EmailAccountBody,
    responses((status = 200, body = Data<AccountTestResponse>), (status = 403, body = Problem)))]
pub async fn test(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<EmailAccountBody>,
) -> Result<Json<Data<AccountTestResponse>>, ApiError> {
    state
        .access()
        .may_configure(&caller.acting(), IntegrationKind::ZohoMail)
        .await?;
    let access = input(body)?.into_access(caller.organisation_id)?;
    let (smtp, imap) = tokio::join!(state.smtp.check_smtp(&access), state.imap.check_imap(&access));
    Ok(Json(Data {
        success: smtp.success && imap.success,
        data: AccountTestResponse {
            smtp: smtp.into(),
            imap: imap.into(),
        },
    }))
}

/// Adds an account (admins, or users allowed to configure mail).
#[utoipa::path(post, path = "/api/v1/settings/email-accounts", tag = "email accounts", security(("bearer" = [])),
    request_body = EmailAccountBody,
    responses((status = 201, body = Data<EmailAccountResponse>), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<EmailAccountBody>,
) -> Result<(StatusCode, Json<Data<EmailAccountResponse>>), ApiError> {
    state
        .access()
        .may_configure(&caller.acting(), IntegrationKind::ZohoMail)
        .await?;
    let access = input(body)?.into_access(caller.organisation_id)?;
    let accounts = state.email_accounts();
    let id = accounts.add(access, caller.user_id(), &caller.metadata()).await?;
    let saved = accounts.live(caller.organisation_id, id).await?;
    Ok((
        StatusCode::CREATED,
        envelope::data(EmailAccountResponse::of_aggregate(&saved)?),
    ))
}

/// The organisation's accounts, the default first.
#[utoipa::path(get, path = "/api/v1/settings/email-accounts", tag = "email accounts", security(("bearer" = [])),
    responses((status = 200, body = List<EmailAccountResponse>), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<List<EmailAccountResponse>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let rows = projections::email_accounts::list(&state.db.read, &caller.organisation_id.to_string()).await?;
    let accounts = rows
        .into_iter()
        .map(|r| {
            let health = (r.needs_attention, r.last_error);
            EmailAccountResponse::of(r.id, &r.settings, health, Some(r.added_at))
        })
        .collect();
    Ok(envelope::list(accounts))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/settings/email-accounts/{id}", tag = "email accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "the account's id")),
    responses((status = 200, body = Data<EmailAccountResponse>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<EmailAccountResponse>>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let account = state
        .email_accounts()
        .live(caller.organisation_id, parse_id(&id)?)
        .await?;
    Ok(envelope::data(EmailAccountResponse::of_aggregate(&account)?))
}

/// Changes the fields named (passwords too); the rest stays.
#[utoipa::path(patch, path = "/api/v1/settings/email-accounts/{id}", tag = "email accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "the account's id")),
    request_body = EmailAccountBody,
    responses((status = 200, body = Data<EmailAccountResponse>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EmailAccountBody>,
) -> Result<Json<Data<EmailAccountResponse>>, ApiError> {
    state
        .access()
        .may_configure(&caller.acting(), IntegrationKind::ZohoMail)
        .await?;
    let account_id = parse_id(&id)?;
    let accounts = state.email_accounts();
    accounts
        .update(caller.organisation_id, account_id, input(body)?, &caller.metadata())
        .await?;
    let saved = accounts.live(caller.organisation_id, account_id).await?;
    Ok(envelope::data(EmailAccountResponse::of_aggregate(&saved)?))
}

/// What a removal answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedResponse {
    /// The removed account's id.
    pub id: String,
    pub removed: bool,
}

/// Removes an account and shreds its passwords.
#[utoipa::path(delete, path = "/api/v1/settings/email-accounts/{id}", tag = "email accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "the account's id")),
    responses((status = 200, body = Data<RemovedResponse>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<RemovedResponse>>, ApiError> {
    state
        .access()
        .may_configure(&caller.acting(), IntegrationKind::ZohoMail)
        .await?;
    let account_id = parse_id(&id)?;
    state
        .email_accounts()
        .remove(caller.organisation_id, account_id, &caller.metadata())
        .await?;
    Ok(envelope::data(RemovedResponse {
        id: account_id.to_string(),
        removed: true,
    }))
}
