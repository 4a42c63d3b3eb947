//! E-mail accounts: testing SMTP and IMAP before saving, adding, listing,
//! changing and removing accounts. Passwords go in, never come out.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

use application::email_accounts::{AccountInput, EmailAccountsError};
use application::mail::{ImapCheck, SmtpCheck};
use domain::email_account::{EmailAccount, MailboxInput, MailboxSettings};
use domain::integration::IntegrationKind;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::integrations::may_configure;
use crate::routes::parse_id;
use crate::state::AppState;

/// An account as answered: settings, health, never a password.
fn account_json(id: &str, settings: &MailboxSettings, health: (bool, Option<&str>), added_at: Option<String>) -> Value {
    json!({
        "id": id, "name": settings.name, "email": settings.address,
        "smtp_host": settings.smtp.host, "smtp_port": settings.smtp.port, "smtp_security": settings.smtp.security,
        "smtp_user": settings.smtp.user, "smtp_enabled": settings.smtp_enabled,
        "imap_host": settings.imap.host, "imap_port": settings.imap.port, "imap_security": settings.imap.security,
        "imap_user": settings.imap.user, "imap_enabled": settings.imap_enabled,
        "folders": settings.folders, "poll_interval_secs": settings.poll_interval_secs,
        "poll_interval_ms": settings.poll_interval_secs * 1000, "is_default": settings.is_default,
        "signature_html": settings.signature_html, "signature_text": settings.signature_text,
        "needs_attention": health.0, "last_error": health.1, "created_at": added_at,
    })
}

fn aggregate_json(account: &EmailAccount) -> Value {
    let id = account.id.map(|i| i.to_string()).unwrap_or_default();
    match &account.settings {
        Some(settings) => account_json(
            &id,
            settings,
            (account.needs_attention, account.last_error.as_deref()),
            account.added_at.map(|t| t.to_rfc3339()),
        ),
        None => Value::Null,
    }
}

fn input(body: Value) -> Result<AccountInput, ApiError> {
    let parsed: MailboxInput = serde_path_to_error::deserialize(body).map_err(|e| {
        let field = e.path().to_string();
        ApiError::invalid(if field == "." { "body" } else { &field }, e.inner().to_string())
    })?;
    Ok(AccountInput::new(parsed)?)
}

/// Tests SMTP and IMAP separately, without saving anything.
#[utoipa::path(post, path = "/api/v1/settings/email-accounts/test", tag = "email accounts", security(("bearer" = [])),
    request_body(content = Object, description = "the account's settings and passwords"),
    responses((status = 200, description = "`{success, data: {smtp, imap}}`, each side `{success, host, port, secure, …}` or `{success: false, error}`"), (status = 422, body = Problem)))]
pub async fn test(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    may_configure(&state, &caller, IntegrationKind::ZohoMail).await?;
    let access = input(body)?.into_access(caller.organisation_id)?;
    let (smtp, imap) = tokio::join!(state.smtp.check_smtp(&access), state.imap.check_imap(&access));
    Ok(Json(
        json!({"success": smtp.success && imap.success, "data": {"smtp": smtp, "imap": imap}}),
    ))
}

/// Adds an account (admins, or users allowed to configure mail).
#[utoipa::path(post, path = "/api/v1/settings/email-accounts", tag = "email accounts", security(("bearer" = [])),
    request_body(content = Object, description = "as in the seed: name, email, smtp_*, imap_*, passwords, folders, poll_interval_ms, signatures"),
    responses((status = 201, description = "`{success, data: account}`"), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    may_configure(&state, &caller, IntegrationKind::ZohoMail).await?;
    let access = input(body)?.into_access(caller.organisation_id)?;
    let accounts = state.email_accounts();
    let id = accounts.add(access, caller.user_id(), &caller.metadata()).await?;
    let saved = accounts.live(caller.organisation_id, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"success": true, "data": aggregate_json(&saved)})),
    ))
}

/// The organisation's accounts, the default first.
#[utoipa::path(get, path = "/api/v1/settings/email-accounts", tag = "email accounts", security(("bearer" = [])),
    responses((status = 200, description = "`{success, data: [account], count}`"), (status = 403, body = Problem)))]
pub async fn list(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let rows = projections::email_accounts::list(&state.db.read, &caller.organisation_id.to_string()).await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|r| {
            let health = (r.needs_attention, r.last_error.as_deref());
            account_json(&r.id, &r.settings, health, Some(r.added_at.clone()))
        })
        .collect();
    Ok(Json(json!({"success": true, "count": data.len(), "data": data})))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/settings/email-accounts/{id}", tag = "email accounts", security(("bearer" = [])),
    responses((status = 200, description = "`{success, data: account}`"), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(domain::Role::can_read_directory)?;
    let account = state
        .email_accounts()
        .live(caller.organisation_id, parse_id(&id)?)
        .await?;
    Ok(Json(json!({"success": true, "data": aggregate_json(&account)})))
}

/// Changes the fields named (passwords too); the rest stays.
#[utoipa::path(patch, path = "/api/v1/settings/email-accounts/{id}", tag = "email accounts", security(("bearer" = [])),
    request_body(content = Object, description = "any fields of the create body"),
    responses((status = 200, description = "`{success, data: account}`"), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    may_configure(&state, &caller, IntegrationKind::ZohoMail).await?;
    let account_id = parse_id(&id)?;
    let accounts = state.email_accounts();
    accounts
        .update(caller.organisation_id, account_id, input(body)?, &caller.metadata())
        .await?;
    let saved = accounts.live(caller.organisation_id, account_id).await?;
    Ok(Json(json!({"success": true, "data": aggregate_json(&saved)})))
}

/// Removes an account and shreds its passwords.
#[utoipa::path(delete, path = "/api/v1/settings/email-accounts/{id}", tag = "email accounts", security(("bearer" = [])),
    responses((status = 200, description = "`{success: true}`"), (status = 404, body = Problem)))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    may_configure(&state, &caller, IntegrationKind::ZohoMail).await?;
    state
        .email_accounts()
        .remove(caller.organisation_id, parse_id(&id)?, &caller.metadata())
        .await?;
    Ok(Json(json!({"success": true})))
}

impl From<EmailAccountsError> for ApiError {
    fn from(error: EmailAccountsError) -> Self {
        match error {
            EmailAccountsError::Invalid(e) => e.into(),
            EmailAccountsError::Cipher(e) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "credentials_unreadable",
                e.to_string(),
            ),
            EmailAccountsError::Store(e) => e.into(),
            EmailAccountsError::Command(e) => e.into(),
        }
    }
}
