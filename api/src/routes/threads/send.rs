//! Replying from a thread on any channel, and calling its customer. The
//! thread's own use cases record the intent exactly as the channel's route
//! does (the dispatchers send it), with the thread named, so the reply
//! lands on this thread's timeline whatever thread the number or address
//! would otherwise pick.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use application::calls::CallInput;
use application::customers::CustomersError;
use application::messages::{SmsInput, WhatsappInput};
use application::outbound_email::SendRequest;
use application::threads::may_see;
use domain::call::Purpose;
use domain::customer::ContactPoint;
use domain::outbound_email::{Draft, Priority};
use domain::outbound_message::SmsType;
use projections::threads::ThreadRow;

use crate::auth::Caller;
use crate::envelope::{self, Data};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::calls::{CallResponse, call_id};
use crate::routes::parse_id;
use crate::routes::sms::{SmsResponse, batch_id};
use crate::routes::whatsapp::{ContentBody, WhatsappMessageResponse};
use crate::state::AppState;

/// The channel a reply goes out on.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplyChannel {
    #[serde(alias = "whatsapp")]
    Whatsapp,
    #[serde(alias = "sms")]
    Sms,
    #[serde(alias = "email")]
    Email,
}

/// A reply from the thread. `content` is the text (WhatsApp text, the SMS
/// body, the e-mail's plain text); `whatsapp` sends any other WhatsApp
/// content instead (media, location, a template, buttons). `to` defaults to
/// the thread's customer: their number for WhatsApp and SMS, their address
/// for e-mail.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadMessageBody {
    pub channel: ReplyChannel,
    #[schema(max_length = 4096)]
    pub content: Option<String>,
    /// WhatsApp content by `type`, instead of `content`.
    pub whatsapp: Option<ContentBody>,
    /// A number (WhatsApp, SMS) or an address (e-mail); by default the
    /// customer's.
    #[schema(max_length = 320)]
    pub to: Option<String>,
    /// E-mail only; by default `Re: ` and the thread's subject.
    #[schema(max_length = 998)]
    pub subject: Option<String>,
    /// E-mail only: an HTML body beside `content`.
    pub content_html: Option<String>,
    /// E-mail only: the sending account; by default the organisation's.
    pub account_id: Option<Uuid>,
    /// SMS only: the DLT template (required for Indian numbers).
    #[schema(max_length = 30)]
    pub template_id: Option<String>,
    /// SMS only: the template's variables instead of `content`.
    pub variables: Option<Vec<String>>,
    /// The reply's id, for retries; else derived from `Idempotency-Key`, else new.
    pub message_id: Option<Uuid>,
}

/// A reply as recorded: WhatsApp and SMS are queued for their dispatcher
/// (202); an e-mail has been handed to the server (201).
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadMessageSent {
    pub message_id: Uuid,
    pub thread_id: Uuid,
    pub channel: ReplyChannel,
    pub to: String,
    /// WhatsApp and SMS: `requested`, `submitted`, … as their routes say;
    /// e-mail: `sent`, `failed` or `in_doubt`.
    pub status: String,
    /// Exotel's sid, once submitted.
    pub message_sid: Option<String>,
    /// The e-mail's `Message-ID`.
    pub smtp_message_id: Option<String>,
    pub subject: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

/// A call to the thread's customer: the agent's phone rings first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadCallBody {
    /// The call's id, for retries; else derived from `Idempotency-Key`, else new.
    pub call_id: Option<Uuid>,
    /// By default the caller (an agent calls from their own phone).
    pub agent_user_id: Option<Uuid>,
    #[schema(max_length = 32)]
    pub agent_phone: Option<String>,
    /// By default the customer's number.
    #[schema(max_length = 32)]
    pub customer_phone: Option<String>,
    #[schema(max_length = 32)]
    pub caller_id: Option<String>,
    #[serde(default)]
    pub record: bool,
    #[schema(max_length = 2000)]
    pub custom_data: Option<String>,
}

/// The thread, when the caller may see it.
pub(crate) async fn visible(state: &AppState, caller: &Caller, id: &str) -> Result<ThreadRow, ApiError> {
    caller.require(|role| role != domain::Role::Auditor)?;
    let thread_id = parse_id(id)?.to_string();
    let organisation = caller.organisation_id.to_string();
    projections::threads::get(&state.db.read, &organisation, &thread_id)
        .await?
        .filter(|row| {
            may_see(
                &caller.acting(),
                row.assignee_id.as_deref().and_then(|a| Uuid::try_parse(a).ok()),
            )
        })
        .ok_or_else(ApiError::not_found)
}

/// The customer's number or address the thread knows, for the channel:
/// the one the thread began with, else one of the customer's points as
/// recorded (merges followed), so a point linked a moment ago is used.
pub(crate) async fn customer_point(
    state: &AppState,
    caller: &Caller,
    thread: &ThreadRow,
    email: bool,
) -> Result<Option<String>, ApiError> {
    if let Some(point) = thread.customer_point.as_deref().filter(|p| p.contains('@') == email) {
        return Ok(Some(point.to_string()));
    }
    let Some(id) = thread.customer_id.as_deref().and_then(|c| Uuid::try_parse(c).ok()) else {
        return Ok(None);
    };
    let customers = state.customers();
    let mut customer = match customers.get(caller.organisation_id, id).await {
        Ok(customer) => customer,
        Err(CustomersError::NotFound) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    for _ in 0..MAX_MERGES_FOLLOWED {
        match customer.merged_into {
            Some(into) => customer = customers.get(caller.organisation_id, into).await?,
            None => break,
        }
    }
    Ok(customer.contact_points().into_iter().find_map(|point| match point {
        ContactPoint::Email(address) if email => Some(address.to_string()),
        ContactPoint::Phone(number) if !email => Some(number),
        _ => None,
    }))
}

/// Merges followed from a thread's customer to the one standing on its own.
const MAX_MERGES_FOLLOWED: usize = 64;

pub(crate) fn missing_to(channel: &str) -> ApiError {
    ApiError::invalid("to", format!("the thread's customer has no {channel} known: give `to`"))
}

/// Replies on the thread on any channel. A customer's WhatsApp reply,
/// delivery reports and read receipts come back onto the same thread.
#[utoipa::path(post, path = "/api/v1/communications/threads/{id}/messages", tag = "threads", security(("bearer" = [])),
    params(("id" = String, Path, description = "the thread's id"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, description = "the same key sends at most once")),
    request_body = ThreadMessageBody,
    responses((status = 201, body = Data<ThreadMessageSent>, description = "an e-mail, handed to the server"),
        (status = 202, body = Data<ThreadMessageSent>, description = "a WhatsApp message or an SMS, queued for its dispatcher"),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the channel's integration is not configured or is disabled"),
        (status = 422, body = Problem, description = "a rule of the channel is broken"),
        (status = 502, body = Problem, description = "the mail server could not be used")))]
pub async fn message(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ThreadMessageBody>,
) -> Result<(StatusCode, Json<Data<ThreadMessageSent>>), ApiError> {
    let thread = visible(&state, &caller, &id).await?;
    let thread_id = parse_id(&thread.thread_id)?;
    if body.channel != ReplyChannel::Email
        && (body.subject.is_some() || body.content_html.is_some() || body.account_id.is_some())
    {
        return Err(ApiError::invalid(
            "subject",
            "`subject`, `content_html` and `account_id` are for e-mail",
        ));
    }
    if body.channel != ReplyChannel::Whatsapp && body.whatsapp.is_some() {
        return Err(ApiError::invalid(
            "whatsapp",
            "`whatsapp` content is for the WHATSAPP channel",
        ));
    }
    if body.channel != ReplyChannel::Sms && (body.template_id.is_some() || body.variables.is_some()) {
        return Err(ApiError::invalid(
            "template_id",
            "`template_id` and `variables` are for SMS",
        ));
    }
    let to = match body.to.clone() {
        Some(to) => to,
        None => customer_point(&state, &caller, &thread, body.channel == ReplyChannel::Email)
            .await?
            .ok_or_else(|| {
                missing_to(if body.channel == ReplyChannel::Email {
                    "address"
                } else {
                    "number"
                })
            })?,
    };
    match body.channel {
        ReplyChannel::Whatsapp => whatsapp(&state, &caller, &headers, body, thread_id, to).await,
        ReplyChannel::Sms => sms(&state, &caller, &headers, body, thread_id, to).await,
        ReplyChannel::Email => email(state, &caller, &headers, body, &thread, thread_id, to).await,
    }
}

async fn whatsapp(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: ThreadMessageBody,
    thread_id: Uuid,
    to: String,
) -> Result<(StatusCode, Json<Data<ThreadMessageSent>>), ApiError> {
    let content = match (body.whatsapp, body.content) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("content", "give `content` or `whatsapp`, not both")),
        (Some(content), None) => content.into(),
        (None, Some(text)) => domain::whatsapp::WhatsappContent::Text {
            body: text,
            preview_url: false,
        },
        (None, None) => {
            return Err(ApiError::invalid(
                "content",
                "a WhatsApp reply needs `content` or `whatsapp`",
            ));
        }
    };
    let id = super::send_id(caller, body.message_id, headers);
    record_whatsapp(state, caller, id, Some(thread_id), to, content).await
}

/// Records a WhatsApp message on `thread_id` (by default the customer's
/// open thread, or a new one) and answers it as sent from a thread.
pub(crate) async fn record_whatsapp(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    thread_id: Option<Uuid>,
    to: String,
    content: domain::whatsapp::WhatsappContent,
) -> Result<(StatusCode, Json<Data<ThreadMessageSent>>), ApiError> {
    let input = WhatsappInput {
        message_id: id,
        to,
        content,
        custom_data: None,
        thread_id,
    };
    let message = state
        .messages()
        .request_whatsapp(&caller.acting(), input, &caller.metadata())
        .await?;
    let sent = WhatsappMessageResponse::of(id, &message).ok_or_else(ApiError::internal)?;
    let thread_id = message
        .request
        .as_deref()
        .and_then(|r| r.thread_id)
        .or(thread_id)
        .ok_or_else(ApiError::internal)?;
    Ok((
        StatusCode::ACCEPTED,
        envelope::data(ThreadMessageSent {
            message_id: id,
            thread_id,
            channel: ReplyChannel::Whatsapp,
            to: sent.to,
            status: sent.status,
            message_sid: sent.provider_sid,
            smtp_message_id: None,
            subject: None,
            created_at: sent.requested_at,
        }),
    ))
}

async fn sms(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: ThreadMessageBody,
    thread_id: Uuid,
    to: String,
) -> Result<(StatusCode, Json<Data<ThreadMessageSent>>), ApiError> {
    let batch_id = batch_id(caller, body.message_id, headers);
    let input = SmsInput {
        batch_id,
        to: vec![to],
        body: body.content,
        template_id: body.template_id,
        variables: body.variables,
        sms_type: SmsType::Transactional,
        sender_id: None,
        dlt_entity_id: None,
        custom_data: None,
        thread_id: Some(thread_id),
    };
    let recorded = state
        .messages()
        .request(&caller.acting(), input, &caller.metadata())
        .await?;
    let (id, message) = recorded.first().ok_or_else(ApiError::internal)?;
    let sent = SmsResponse::of(*id, message).ok_or_else(ApiError::internal)?;
    Ok((
        StatusCode::ACCEPTED,
        envelope::data(ThreadMessageSent {
            message_id: *id,
            thread_id,
            channel: ReplyChannel::Sms,
            to: sent.to,
            status: sent.status,
            message_sid: sent.provider_sid,
            smtp_message_id: None,
            subject: None,
            created_at: sent.requested_at,
        }),
    ))
}

async fn email(
    state: Arc<AppState>,
    caller: &Caller,
    headers: &HeaderMap,
    body: ThreadMessageBody,
    thread: &ThreadRow,
    thread_id: Uuid,
    to: String,
) -> Result<(StatusCode, Json<Data<ThreadMessageSent>>), ApiError> {
    if body.content.is_none() && body.content_html.is_none() {
        return Err(ApiError::invalid(
            "content",
            "an e-mail reply needs `content` or `content_html`",
        ));
    }
    let organisation = caller.organisation_id.to_string();
    let earlier = projections::email_threads::messages(&state.db.read, &organisation, &thread.thread_id).await?;
    let references: Vec<String> = earlier.iter().filter_map(|m| m.message_id.clone()).collect();
    let in_reply_to = earlier
        .iter()
        .rev()
        .find(|m| m.direction == "inbound")
        .and_then(|m| m.message_id.clone())
        .or_else(|| references.last().cloned());
    let subject = body.subject.clone().unwrap_or_else(|| match thread.subject.as_deref() {
        Some(subject) if subject.to_lowercase().starts_with("re:") => subject.to_string(),
        Some(subject) => format!("Re: {subject}"),
        None => "Re:".to_string(),
    });
    let intent_id = super::send_id(caller, body.message_id, headers);
    let request = SendRequest {
        intent_id,
        organisation_id: caller.organisation_id,
        account_id: body.account_id,
        attachments: Vec::new(),
        draft: Draft {
            to: vec![to],
            cc: Vec::new(),
            bcc: Vec::new(),
            reply_to: Vec::new(),
            subject,
            html: body.content_html,
            text: body.content,
            headers: Default::default(),
            priority: Priority::default(),
            in_reply_to,
            references,
            thread_id: Some(thread_id),
        },
        permission: crate::routes::emails::permission(&state, caller).await?,
    };
    let meta = caller.metadata();
    // As the e-mail route: the attempt runs on its own task so a client
    // that hangs up cannot cut the SMTP conversation.
    let task = tokio::spawn(async move { state.outbound_emails().send(request, &meta).await });
    let email = task.await.map_err(|_| ApiError::internal())??;
    let sent = crate::routes::emails::describe(&email).ok_or_else(ApiError::internal)?;
    let to = match sent.to {
        crate::routes::emails::Recipients::One(one) => one,
        crate::routes::emails::Recipients::Many(many) => many.join(", "),
    };
    Ok((
        StatusCode::CREATED,
        envelope::data(ThreadMessageSent {
            message_id: intent_id,
            thread_id,
            channel: ReplyChannel::Email,
            to,
            status: sent.status,
            message_sid: None,
            smtp_message_id: Some(sent.smtp_message_id),
            subject: Some(sent.subject),
            created_at: sent.created_at,
        }),
    ))
}

/// Calls the thread's customer (click-to-call: the agent's phone rings
/// first); the call, its status and its recording go on this thread.
#[utoipa::path(post, path = "/api/v1/communications/threads/{id}/call", tag = "threads", security(("bearer" = [])),
    params(("id" = String, Path, description = "the thread's id"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, description = "the same key calls at most once")),
    request_body = ThreadCallBody,
    responses((status = 202, body = Data<CallResponse>), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Exotel phone is not configured or is disabled"),
        (status = 422, body = Problem)))]
pub async fn call(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ThreadCallBody>,
) -> Result<(StatusCode, Json<Data<CallResponse>>), ApiError> {
    let thread = visible(&state, &caller, &id).await?;
    let thread_id = parse_id(&thread.thread_id)?;
    let customer_phone = match body.customer_phone {
        Some(phone) => phone,
        None => customer_point(&state, &caller, &thread, false).await?.ok_or_else(|| {
            ApiError::invalid(
                "customer_phone",
                "the thread's customer has no number known: give `customer_phone`",
            )
        })?,
    };
    let id = call_id(&caller, body.call_id, &headers);
    let agent_user_id = body.agent_user_id.or(if body.agent_phone.is_none() {
        caller.acting_user_id
    } else {
        None
    });
    let input = CallInput {
        call_id: id,
        agent_user_id,
        agent_phone: body.agent_phone,
        customer_phone,
        caller_id: body.caller_id,
        record: body.record,
        recording_channels: 1,
        time_limit_secs: None,
        custom_data: body.custom_data,
        purpose: Purpose::Transactional,
        verified: false,
        verification_reason: None,
        thread_id: Some(thread_id),
    };
    let call = state
        .calls()
        .request(&caller.acting(), input, &caller.metadata())
        .await?;
    let response = CallResponse::of(id, &call).ok_or_else(ApiError::internal)?;
    Ok((StatusCode::ACCEPTED, envelope::data(response)))
}
