//! Omnichannel threads: the inbox (filters, cursor pages, counts per
//! status), one thread with its timeline across e-mail, SMS, WhatsApp and
//! calls, replying on any channel, calling the customer, and assignment,
//! closing, reopening and reading under the role rules of
//! `application::threads` (agents: their own and unassigned threads).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use application::threads::may_see;
use domain::Role;
use projections::threads::{AssigneeFilter, ItemRow, ThreadFilter, ThreadRow};

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::email_inbox::ThreadMessageResponse;
use crate::routes::parse_id;
use crate::state::AppState;

pub mod send;

pub use send::{ThreadCallBody, ThreadMessageBody, ThreadMessageSent};

/// The thread routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/communications/threads", get(list))
        .route("/communications/threads/counts", get(counts))
        .route("/communications/threads/{id}", get(one))
        .route("/communications/threads/{id}/messages", post(send::message))
        .route("/communications/threads/{id}/call", post(send::call))
        .route("/communications/threads/{id}/assign", post(assign))
        .route("/communications/threads/{id}/close", post(close))
        .route("/communications/threads/{id}/reopen", post(reopen))
        .route("/communications/threads/{id}/read", post(read))
}

/// `open`, `pending` (open, the last item went out) or `closed`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ThreadStatusFilter {
    Open,
    Pending,
    Closed,
}

/// A channel on a timeline.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ChannelFilter {
    Email,
    Sms,
    Whatsapp,
    Call,
}

/// The inbox's filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ThreadQuery {
    #[param(inline)]
    pub status: Option<ThreadStatusFilter>,
    /// `me`, `nobody`, or a user's id.
    #[param(pattern = r"^(me|nobody|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub assignee: Option<String>,
    #[param(inline)]
    pub channel: Option<ChannelFilter>,
    /// The customer's id (any id merged into them finds them too).
    pub customer_id: Option<Uuid>,
    /// Only threads with a customer's message the caller has not read.
    pub unread: Option<bool>,
    /// Text in the subject, the last message, or the address or number
    /// the thread began with.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// From the previous page's `next_cursor`.
    #[param(pattern = r"^[0-9T:.Z+-]{1,40}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub cursor: Option<String>,
    /// 1–500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// The inbox's filters, for the counts of each status.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ThreadCountsQuery {
    /// `me`, `nobody`, or a user's id.
    #[param(pattern = r"^(me|nobody|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub assignee: Option<String>,
    #[param(inline)]
    pub channel: Option<ChannelFilter>,
    pub customer_id: Option<Uuid>,
    pub unread: Option<bool>,
    #[param(max_length = 200)]
    pub q: Option<String>,
}

impl From<ThreadCountsQuery> for ThreadQuery {
    fn from(q: ThreadCountsQuery) -> Self {
        Self {
            status: None,
            assignee: q.assignee,
            channel: q.channel,
            customer_id: q.customer_id,
            unread: q.unread,
            q: q.q,
            cursor: None,
            limit: None,
        }
    }
}

/// A page of a thread's timeline.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// From the previous answer's `timeline_next_cursor`.
    #[param(pattern = r"^[0-9T:.Z+-]{1,40}_[0-9]{1,18}$")]
    pub timeline_cursor: Option<String>,
    /// 1–500, default 200.
    #[param(minimum = 1, maximum = 500)]
    pub timeline_limit: Option<i64>,
}

fn invalid_query(field: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).on_field(field)
}

fn limit_of(limit: Option<i64>, default: i64, field: &str) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(default);
    match (1..=500).contains(&limit) {
        true => Ok(limit),
        false => Err(invalid_query(field, "limit must be 1 to 500")),
    }
}

impl ThreadQuery {
    fn filter(&self, caller: &Caller) -> Result<ThreadFilter, ApiError> {
        let me = caller.acting_user_id;
        let assignee = match self.assignee.as_deref() {
            None => None,
            Some("nobody") => Some(AssigneeFilter::Nobody),
            Some("me") => Some(me.map_or(AssigneeFilter::Nobody, AssigneeFilter::User)),
            Some(id) => {
                let user = Uuid::try_parse(id)
                    .ok()
                    .filter(|_| id.len() == 36)
                    .ok_or_else(|| invalid_query("assignee", "assignee is me, nobody or a user's id"))?;
                Some(AssigneeFilter::User(user))
            }
        };
        let text = self.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
        if text.is_some_and(|t| t.chars().count() > 200) {
            return Err(invalid_query("q", "at most 200 characters"));
        }
        Ok(ThreadFilter {
            status: self.status.map(|s| word(s).to_string()),
            assignee,
            visible_to: (caller.role == Role::Agent).then(|| me.unwrap_or_default()),
            channel: self.channel.map(|c| channel_word(c).to_string()),
            customer_id: self.customer_id,
            unread_for: self.unread.filter(|u| *u).map(|_| me.unwrap_or_default()),
            text: text.map(str::to_string),
        })
    }
}

fn word(status: ThreadStatusFilter) -> &'static str {
    match status {
        ThreadStatusFilter::Open => "open",
        ThreadStatusFilter::Pending => "pending",
        ThreadStatusFilter::Closed => "closed",
    }
}

fn channel_word(channel: ChannelFilter) -> &'static str {
    match channel {
        ChannelFilter::Email => "email",
        ChannelFilter::Sms => "sms",
        ChannelFilter::Whatsapp => "whatsapp",
        ChannelFilter::Call => "call",
    }
}

/// One thread as the inbox lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadResponse {
    pub id: String,
    /// The customer, as they are now (merges followed).
    pub customer_id: Option<String>,
    /// The customer's address the thread began with, when it began by e-mail.
    pub customer_email: Option<String>,
    /// The customer's number the thread began with, when it began by phone.
    pub customer_phone: Option<String>,
    pub subject: Option<String>,
    /// `open`, `pending` (open, the last item went out) or `closed`.
    pub status: String,
    pub assignee_id: Option<String>,
    /// Every channel on its timeline: `email`, `sms`, `whatsapp`, `call`.
    pub channels: Vec<String>,
    /// Items on its timeline.
    pub message_count: i64,
    pub last_message_at: Option<String>,
    pub last_channel: Option<String>,
    pub last_direction: Option<String>,
    pub last_preview: Option<String>,
    /// Whether a customer's message arrived after the caller last read it.
    pub unread: bool,
    pub created_at: String,
    pub closed_at: Option<String>,
}

impl ThreadResponse {
    fn of(row: ThreadRow, read_through: Option<&str>) -> Self {
        let unread = row.unread_by(read_through);
        let (customer_email, customer_phone) = match row.customer_point.clone() {
            Some(point) if point.contains('@') => (Some(point), None),
            Some(point) => (None, Some(point)),
            None => (None, None),
        };
        Self {
            id: row.thread_id,
            customer_id: row.customer_id,
            customer_email,
            customer_phone,
            subject: row.subject,
            status: row.status,
            assignee_id: row.assignee_id,
            channels: row.channels,
            message_count: row.item_count,
            last_message_at: row.last_item_at,
            last_channel: row.last_channel,
            last_direction: row.last_direction,
            last_preview: row.last_preview,
            unread,
            created_at: row.created_at,
            closed_at: row.closed_at,
        }
    }
}

/// One item of a timeline: a message either way on any channel, or a call.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineItemResponse {
    /// The message's or call's id (`GET /api/v1/calls/{id}`, `…/sms/{id}`, …).
    pub id: String,
    /// `email`, `sms`, `whatsapp` or `call`.
    pub channel: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// Its latest status: `received` for a customer's message; for what went
    /// out, its delivery status (`requested`, `submitted`, `sent`,
    /// `delivered`, `read`, `failed`, `refused`); for a call, its status.
    pub status: String,
    pub preview: Option<String>,
    /// The customer's address or number.
    pub counterpart: Option<String>,
    /// What the item shows beyond these fields, by channel.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub occurred_at: String,
    pub status_at: String,
}

impl From<ItemRow> for TimelineItemResponse {
    fn from(item: ItemRow) -> Self {
        Self {
            id: item.item_id,
            channel: item.channel,
            direction: item.direction,
            status: item.status,
            preview: item.preview,
            counterpart: item.counterpart,
            detail: item.detail,
            occurred_at: item.occurred_at,
            status_at: item.status_at,
        }
    }
}

/// A thread with its timeline, and its e-mails in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadDetailResponse {
    #[serde(flatten)]
    pub thread: ThreadResponse,
    /// Oldest first, every channel; one page (see `timeline_next_cursor`).
    pub timeline: Vec<TimelineItemResponse>,
    /// Pass as `timeline_cursor` for the next page; absent on the last.
    pub timeline_next_cursor: Option<String>,
    /// Its e-mails with their bodies and attachments, oldest first.
    pub messages: Vec<ThreadMessageResponse>,
}

/// Threads per status for the inbox's tabs, under the same filters.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadCountsResponse {
    pub open: i64,
    pub pending: i64,
    pub closed: i64,
}

/// A thread's state after an agent acted on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadStateResponse {
    pub id: Uuid,
    /// `open` or `closed`.
    pub status: String,
    pub assignee_id: Option<Uuid>,
    /// How far the caller has read it.
    pub read_through: Option<chrono::DateTime<chrono::Utc>>,
}

/// Whom to assign the thread to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// A user of the organisation, or `null` for nobody.
    pub user_id: Option<Uuid>,
}

/// `<last item time>_<thread id>`.
fn thread_cursor(row: &ThreadRow) -> String {
    format!(
        "{}_{}",
        row.last_item_at.as_deref().unwrap_or(&row.created_at),
        row.thread_id
    )
}

fn read_thread_cursor(text: &str) -> Result<(String, String), ApiError> {
    let bad = || invalid_query("cursor", "not a cursor this route gave");
    let (at, id) = text.rsplit_once('_').ok_or_else(bad)?;
    let stamp_like = (1..=40).contains(&at.len()) && at.bytes().all(|b| b"0123456789T:.Z+-".contains(&b));
    if !stamp_like || id.len() != 36 {
        return Err(bad());
    }
    Uuid::try_parse(id).map_err(|_| bad())?;
    Ok((at.to_string(), id.to_string()))
}

/// `<time>_<position>`.
fn item_cursor(item: &ItemRow) -> String {
    format!("{}_{}", item.occurred_at, item.position)
}

fn read_item_cursor(text: &str) -> Result<(String, i64), ApiError> {
    let bad = || invalid_query("timeline_cursor", "not a cursor this route gave");
    let (at, position) = text.rsplit_once('_').ok_or_else(bad)?;
    let stamp_like = (1..=40).contains(&at.len()) && at.bytes().all(|b| b"0123456789T:.Z+-".contains(&b));
    let digits = (1..=18).contains(&position.len()) && position.bytes().all(|b| b.is_ascii_digit());
    if !stamp_like || !digits {
        return Err(bad());
    }
    Ok((at.to_string(), position.parse().map_err(|_| bad())?))
}

/// Auditors read the audit log, not conversations.
fn may_use_threads(caller: &Caller) -> Result<(), ApiError> {
    caller.require(|role| role != Role::Auditor)
}

async fn read_through(state: &AppState, caller: &Caller, thread_id: &str) -> Result<Option<String>, ApiError> {
    match caller.acting_user_id {
        Some(user) => Ok(projections::threads::read_through(&state.db.read, thread_id, &user.to_string()).await?),
        None => Ok(None),
    }
}

/// The organisation's threads the caller may see, latest first.
#[utoipa::path(get, path = "/api/v1/communications/threads", params(ThreadQuery), tag = "threads", security(("bearer" = [])),
    responses((status = 200, body = List<ThreadResponse>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ThreadQuery>,
) -> Result<Json<List<ThreadResponse>>, ApiError> {
    may_use_threads(&caller)?;
    let filter = query.filter(&caller)?;
    let limit = limit_of(query.limit, 100, "limit")?;
    let after = query.cursor.as_deref().map(read_thread_cursor).transpose()?;
    let organisation = caller.organisation_id.to_string();
    let mut rows =
        projections::threads::list(&state.db.read, &organisation, &filter, after.as_ref(), limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| rows.last().map(thread_cursor)).flatten();
    let listed = with_reads(&state, &caller, rows).await?;
    let Json(mut page) = envelope::list(listed);
    page.next_cursor = next_cursor;
    Ok(Json(page))
}

/// The customer's threads the caller may see, latest first (at most `limit`).
pub(crate) async fn of_customer(
    state: &AppState,
    caller: &Caller,
    customer_id: Uuid,
    limit: i64,
) -> Result<Vec<ThreadResponse>, ApiError> {
    let query = ThreadQuery {
        status: None,
        assignee: None,
        channel: None,
        customer_id: Some(customer_id),
        unread: None,
        q: None,
        cursor: None,
        limit: None,
    };
    let filter = query.filter(caller)?;
    let organisation = caller.organisation_id.to_string();
    let rows = projections::threads::list(&state.db.read, &organisation, &filter, None, limit).await?;
    with_reads(state, caller, rows).await
}

/// The rows as responses, with how far the caller has read each (one
/// look-up for the page).
async fn with_reads(state: &AppState, caller: &Caller, rows: Vec<ThreadRow>) -> Result<Vec<ThreadResponse>, ApiError> {
    let reads = match caller.acting_user_id {
        Some(user) => {
            let ids: Vec<&str> = rows.iter().map(|row| row.thread_id.as_str()).collect();
            projections::threads::reads_through(&state.db.read, &ids, &user.to_string()).await?
        }
        None => HashMap::new(),
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            let read = reads.get(&row.thread_id).cloned();
            ThreadResponse::of(row, read.as_deref())
        })
        .collect())
}

/// How many threads of each status the caller may see, under the filters.
#[utoipa::path(get, path = "/api/v1/communications/threads/counts", params(ThreadCountsQuery), tag = "threads", security(("bearer" = [])),
    responses((status = 200, body = Data<ThreadCountsResponse>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn counts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ThreadCountsQuery>,
) -> Result<Json<Data<ThreadCountsResponse>>, ApiError> {
    may_use_threads(&caller)?;
    let filter = ThreadQuery::from(query).filter(&caller)?;
    let organisation = caller.organisation_id.to_string();
    let counts = projections::threads::counts(&state.db.read, &organisation, &filter).await?;
    Ok(envelope::data(ThreadCountsResponse {
        open: counts.open,
        pending: counts.pending,
        closed: counts.closed,
    }))
}

/// One thread with a page of its timeline and its e-mails.
#[utoipa::path(get, path = "/api/v1/communications/threads/{id}", tag = "threads", security(("bearer" = [])),
    params(("id" = String, Path, description = "the thread's id"), TimelineQuery),
    responses((status = 200, body = Data<ThreadDetailResponse>), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<TimelineQuery>,
) -> Result<Json<Data<ThreadDetailResponse>>, ApiError> {
    may_use_threads(&caller)?;
    let limit = limit_of(query.timeline_limit, 200, "timeline_limit")?;
    let after = query.timeline_cursor.as_deref().map(read_item_cursor).transpose()?;
    let thread_id = parse_id(&id)?.to_string();
    let organisation = caller.organisation_id.to_string();
    let row = projections::threads::get(&state.db.read, &organisation, &thread_id)
        .await?
        .filter(|row| {
            may_see(
                &caller.acting(),
                row.assignee_id.as_deref().and_then(|a| Uuid::try_parse(a).ok()),
            )
        })
        .ok_or_else(ApiError::not_found)?;
    let mut items = projections::threads::items(&state.db.read, &thread_id, after.as_ref(), limit + 1).await?;
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let timeline_next_cursor = more.then(|| items.last().map(item_cursor)).flatten();
    let messages = projections::email_threads::messages(&state.db.read, &organisation, &thread_id).await?;
    let read = read_through(&state, &caller, &thread_id).await?;
    Ok(envelope::data(ThreadDetailResponse {
        thread: ThreadResponse::of(row, read.as_deref()),
        timeline: items.into_iter().map(Into::into).collect(),
        timeline_next_cursor,
        messages: messages.into_iter().map(Into::into).collect(),
    }))
}

async fn state_of(state: &AppState, caller: &Caller, thread_id: Uuid) -> Result<ThreadStateResponse, ApiError> {
    use application::AggregateStore;
    let thread = state
        .thread_store
        .load(&thread_id.to_string())
        .await?
        .map(|l| l.aggregate)
        .unwrap_or_default();
    Ok(ThreadStateResponse {
        id: thread_id,
        status: if thread.is_closed() { "closed" } else { "open" }.to_string(),
        assignee_id: thread.assignee,
        read_through: caller.acting_user_id.and_then(|u| thread.reads.get(&u).copied()),
    })
}

/// Assigns the thread to a user, or to nobody. Agents take unassigned
/// threads for themselves and give up their own; managers and admins
/// assign anyone.
#[utoipa::path(post, path = "/api/v1/communications/threads/{id}/assign", tag = "threads", security(("bearer" = [])),
    params(("id" = String, Path, description = "the thread's id")), request_body = AssignBody,
    responses((status = 200, body = Data<ThreadStateResponse>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn assign(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignBody>,
) -> Result<Json<Data<ThreadStateResponse>>, ApiError> {
    may_use_threads(&caller)?;
    let thread_id = parse_id(&id)?;
    state
        .threads()
        .assign(&caller.acting(), thread_id, body.user_id, &caller.metadata())
        .await?;
    Ok(envelope::data(state_of(&state, &caller, thread_id).await?))
}

/// What a user does to a thread without a body.
enum Act {
    Close,
    Reopen,
    Read,
}

/// Does `act` to the thread and answers its state after it.
async fn act(
    state: &AppState,
    caller: &Caller,
    id: &str,
    act: Act,
) -> Result<Json<Data<ThreadStateResponse>>, ApiError> {
    may_use_threads(caller)?;
    let thread_id = parse_id(id)?;
    let (threads, acting, meta) = (state.threads(), caller.acting(), caller.metadata());
    match act {
        Act::Close => threads.close(&acting, thread_id, &meta).await?,
        Act::Reopen => threads.reopen(&acting, thread_id, &meta).await?,
        Act::Read => threads.mark_read(&acting, thread_id, &meta).await?,
    }
    Ok(envelope::data(state_of(state, caller, thread_id).await?))
}

/// Closes the thread; closing a closed thread changes nothing.
#[utoipa::path(post, path = "/api/v1/communications/threads/{id}/close", tag = "threads", security(("bearer" = [])),
    params(("id" = String, Path, description = "the thread's id")),
    responses((status = 200, body = Data<ThreadStateResponse>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn close(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<ThreadStateResponse>>, ApiError> {
    act(&state, &caller, &id, Act::Close).await
}

/// Reopens the thread; reopening an open thread changes nothing.
#[utoipa::path(post, path = "/api/v1/communications/threads/{id}/reopen", tag = "threads", security(("bearer" = [])),
    params(("id" = String, Path, description = "the thread's id")),
    responses((status = 200, body = Data<ThreadStateResponse>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reopen(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<ThreadStateResponse>>, ApiError> {
    act(&state, &caller, &id, Act::Reopen).await
}

/// Records that the caller has read the thread through its latest item.
#[utoipa::path(post, path = "/api/v1/communications/threads/{id}/read", tag = "threads", security(("bearer" = [])),
    params(("id" = String, Path, description = "the thread's id")),
    responses((status = 200, body = Data<ThreadStateResponse>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn read(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Data<ThreadStateResponse>>, ApiError> {
    act(&state, &caller, &id, Act::Read).await
}

/// The idempotency of a send from a thread: the body's id, else the
/// `Idempotency-Key` header's, else a new one.
pub(crate) fn send_id(caller: &Caller, asked: Option<Uuid>, headers: &HeaderMap) -> Uuid {
    crate::routes::whatsapp::message_id(caller, asked, headers)
}
