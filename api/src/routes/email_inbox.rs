//! Received e-mail: polling an account now, and the threads it filled.
//! Both need the caller to be allowed to use the `zoho_mail` integration
//! (admins always are), like sending does.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

use application::email_accounts::EmailAccountsError;
use application::policy;
use application::{AggregateStore, CommandError};
use domain::email_account::EmailAccountError;
use domain::integration::IntegrationKind;
use domain::integration_permission::permission_id;
use infrastructure::mail::poll::{PollNowError, PollReport};

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::receiving::StateSink;
use crate::routes::{Page, parse_id};
use crate::state::AppState;

/// Whether the caller may use the organisation's e-mail accounts.
async fn may_use_mail(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let grant = match caller.user_id() {
        Some(user_id) => {
            let id = permission_id(caller.organisation_id, IntegrationKind::ZohoMail, user_id).to_string();
            state.permissions.load(&id).await?.and_then(|l| l.aggregate.grant)
        }
        None => None,
    };
    Ok(policy::may_use(caller.role, grant, 0)?)
}

fn account_error(error: EmailAccountsError) -> ApiError {
    match error {
        EmailAccountsError::Command(CommandError::Rejected(EmailAccountError::NotFound)) => ApiError::not_found(),
        EmailAccountsError::Store(e) => e.into(),
        other => ApiError::unavailable(other.to_string()),
    }
}

fn report_json(report: &PollReport) -> Value {
    json!({
        "new_messages": report.new_messages,
        "new_threads": report.new_threads,
        "rejected_messages": report.rejected_messages,
        "duplicate_messages": report.duplicate_messages,
        "poll_duration_ms": report.poll_duration_ms,
        "last_polled_at": report.last_polled_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// Polls the account's folders now, through the poller that holds the
/// account (or under a lease of its own when none does).
#[utoipa::path(post, path = "/api/v1/settings/email-accounts/{id}/poll-now", tag = "e-mail", security(("bearer" = [])),
    responses((status = 200, description = "`{success, data: {new_messages, new_threads, poll_duration_ms, last_polled_at}}`"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 502, body = Problem)))]
pub async fn poll_now(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    may_use_mail(&state, &caller).await?;
    let account_id = parse_id(&id)?;
    state
        .email_accounts()
        .live(caller.organisation_id, account_id)
        .await
        .map_err(account_error)?;
    let sink = StateSink(state.clone());
    let receiver = &state.receiving.receiver;
    match receiver.poll_now(&sink, account_id, caller.organisation_id).await {
        Ok(report) => Ok(Json(json!({"success": true, "data": report_json(&report)}))),
        Err(PollNowError::NotPollable) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "imap_disabled",
            "receiving is not enabled for this account",
        )
        .on_field("imap_enabled")),
        Err(error @ PollNowError::PolledElsewhere) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "polled_elsewhere",
            error.to_string(),
        )),
        Err(PollNowError::Failed(reason)) => Err(ApiError::new(StatusCode::BAD_GATEWAY, "mail_server_error", reason)),
    }
}

/// The organisation's e-mail threads, latest first.
#[utoipa::path(get, path = "/api/v1/communications/threads", params(Page), tag = "e-mail", security(("bearer" = [])),
    responses((status = 200, description = "`{success, data: [thread], count, total}`"), (status = 403, body = Problem)))]
pub async fn list_threads(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    may_use_mail(&state, &caller).await?;
    let (limit, offset) = page.bounds()?;
    let organisation = caller.organisation_id.to_string();
    let (threads, total) = projections::email_threads::list(&state.db.read, &organisation, limit, offset).await?;
    let count = threads.len();
    Ok(Json(
        json!({"success": true, "data": threads, "count": count, "total": total}),
    ))
}

/// One thread with its messages, oldest first.
#[utoipa::path(get, path = "/api/v1/communications/threads/{id}", tag = "e-mail", security(("bearer" = [])),
    responses((status = 200, description = "`{success, data: {thread…, messages: [message]}}`"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_thread(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    may_use_mail(&state, &caller).await?;
    let thread_id = parse_id(&id)?.to_string();
    let organisation = caller.organisation_id.to_string();
    let thread = projections::email_threads::get(&state.db.read, &organisation, &thread_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let messages = projections::email_threads::messages(&state.db.read, &organisation, &thread_id).await?;
    let mut data = serde_json::to_value(&thread).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut data {
        map.insert(
            "messages".into(),
            serde_json::to_value(&messages).unwrap_or(Value::Null),
        );
    }
    Ok(Json(json!({"success": true, "data": data})))
}
