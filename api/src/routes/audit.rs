//! The audit log: the event history itself, filtered, per aggregate, as
//! state at any version, and verified against its hash chain.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

use application::audit::{Finding, Report};
use cqrs_es::Aggregate;
use domain::Role;
use infrastructure::feed::scan::StoreLog;
use projections::audit_log::{AuditRow, EventQuery};

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::state::AppState;

/// Fields whose values are credentials' verifiers: shown as redacted.
const REDACTED: [&str; 2] = ["password_hash", "secret_digest"];

/// The audit routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/audit/events", get(events))
        .route("/audit/aggregates/{type}/{id}/history", get(history))
        .route("/audit/aggregates/{type}/{id}/state", get(state_at))
        .route("/audit/verify", get(verify))
}

/// Oldest or newest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

/// The filters of `GET /audit/events`, in the query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub event_type: Option<String>,
    /// `user:<id>`, `api_key:<id>`, `system:<name>` or `webhook:<provider>`.
    pub actor: Option<String>,
    /// RFC 3339; events at or after.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339; events before.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    #[param(inline)]
    pub order: Option<Order>,
    /// The `next_cursor` of the previous page.
    #[param(minimum = 0)]
    pub cursor: Option<i64>,
    /// 1–500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// One stored event with its metadata; credential verifiers redacted.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    /// Its place in the whole store; pages are cut by it.
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// Its place in its aggregate's history, from 1.
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// The event as stored, `{"<event type>": {…}}`: free-form, its shape
    /// is the event type's.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Organisation, actor, request, correlation and causation ids, client
    /// address, user agent, time.
    pub metadata: HashMap<String, String>,
}

impl From<AuditRow> for AuditEvent {
    fn from(row: AuditRow) -> Self {
        let mut payload = row.payload;
        redact(&mut payload);
        Self {
            position: row.position,
            aggregate_type: row.aggregate_type,
            aggregate_id: row.aggregate_id,
            sequence: row.sequence,
            event_type: row.event_type,
            event_version: row.event_version,
            payload,
            metadata: row.metadata,
        }
    }
}

fn may_audit(caller: &Caller) -> Result<(), ApiError> {
    caller.require(Role::can_audit)
}

/// Replaces credential verifiers anywhere in a JSON value.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if REDACTED.contains(&key.as_str()) {
                    *inner = Value::String("[redacted]".into());
                } else {
                    redact(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn invalid_query(field: &str, message: &str) -> ApiError {
    ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_query", message).on_field(field)
}

fn timestamp(field: &str, text: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.as_ref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| invalid_query(field, "use an RFC 3339 time"))
        })
        .transpose()
}

impl EventFilter {
    fn query(self, caller: &Caller) -> Result<EventQuery, ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(invalid_query("limit", "limit must be 1 to 500"));
        }
        if self.cursor.is_some_and(|c| c < 0) {
            return Err(invalid_query("cursor", "cursor is a position, 0 or more"));
        }
        Ok(EventQuery {
            organisation_id: caller.organisation_id.to_string(),
            from: timestamp("from", &self.from)?,
            to: timestamp("to", &self.to)?,
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id,
            event_type: self.event_type,
            actor: self.actor,
            ascending: self.order.unwrap_or_default() == Order::Asc,
            after: self.cursor,
            limit,
        })
    }
}

/// The organisation's events, filtered and cursor-paginated: pass
/// `next_cursor` as `cursor` for the next page.
#[utoipa::path(get, path = "/api/v1/audit/events", params(EventFilter), tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = List<AuditEvent>), (status = 403, body = Problem)))]
pub async fn events(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<EventFilter>,
) -> Result<Json<List<AuditEvent>>, ApiError> {
    may_audit(&caller)?;
    let query = filter.query(&caller)?;
    let rows = projections::audit_log::events(&state.db.read, &query).await?;
    let full = rows.len() as i64 == query.limit;
    let events: Vec<AuditEvent> = rows.into_iter().map(AuditEvent::from).collect();
    let next_cursor = events.last().filter(|_| full).map(|e| e.position.to_string());
    let Json(mut page) = envelope::list(events);
    page.next_cursor = next_cursor;
    Ok(Json(page))
}

async fn history_of(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    id: &str,
    up_to: Option<i64>,
) -> Result<Vec<AuditEvent>, ApiError> {
    let organisation_id = caller.organisation_id.to_string();
    let rows = projections::audit_log::history(&state.db.read, &organisation_id, kind, id, up_to).await?;
    if rows.is_empty() {
        return Err(ApiError::not_found());
    }
    Ok(rows.into_iter().map(AuditEvent::from).collect())
}

/// Every event of one aggregate, with its metadata.
#[utoipa::path(get, path = "/api/v1/audit/aggregates/{type}/{id}/history", tag = "audit", security(("bearer" = [])),
    params(("type" = String, Path, description = "the aggregate type, e.g. `user`", example = "organisation"), ("id" = String, Path, description = "the aggregate id", example = "5b1c0a2e-7d41-4e3a-9f10-5a4db0c50001")),
    responses((status = 200, body = List<AuditEvent>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Json<List<AuditEvent>>, ApiError> {
    may_audit(&caller)?;
    Ok(envelope::list(history_of(&state, &caller, &kind, &id, None).await?))
}

/// Which version of the aggregate, in the query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtVersion {
    /// The version to rebuild (default: the latest).
    #[param(minimum = 1)]
    pub version: Option<i64>,
}

/// An aggregate as it was after one of its events.
#[derive(Debug, Serialize, ToSchema)]
pub struct StateAtVersion {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub version: i64,
    /// The aggregate's own serialised state: free-form, its shape is the
    /// aggregate type's.
    #[schema(value_type = Object)]
    pub state: Value,
}

/// The aggregate's state as of a version, rebuilt from its events.
#[utoipa::path(get, path = "/api/v1/audit/aggregates/{type}/{id}/state", params(("type" = String, Path, description = "the aggregate type, e.g. `user`", example = "organisation"), ("id" = String, Path, description = "the aggregate id", example = "5b1c0a2e-7d41-4e3a-9f10-5a4db0c50001"), AtVersion), tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = Data<StateAtVersion>), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn state_at(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((kind, id)): Path<(String, String)>,
    ApiQuery(at): ApiQuery<AtVersion>,
) -> Result<Json<Data<StateAtVersion>>, ApiError> {
    may_audit(&caller)?;
    if at.version.is_some_and(|v| v < 1) {
        return Err(invalid_query("version", "version starts at 1"));
    }
    let events = history_of(&state, &caller, &kind, &id, at.version).await?;
    let version = events.last().map(|e| e.sequence).unwrap_or_default();
    if at.version.is_some_and(|v| v > version) {
        return Err(ApiError::not_found());
    }
    let mut rebuilt = fold(&kind, &events)?;
    redact(&mut rebuilt);
    Ok(envelope::data(StateAtVersion {
        aggregate_type: kind,
        aggregate_id: id,
        version,
        state: rebuilt,
    }))
}

fn fold(kind: &str, events: &[AuditEvent]) -> Result<Value, ApiError> {
    use domain::{
        api_key::ApiKey, integration::Integration, integration_permission::IntegrationPermission,
        organisation::Organisation, user::User,
    };
    match kind {
        Organisation::TYPE => fold_as::<Organisation>(events),
        User::TYPE => fold_as::<User>(events),
        domain::user::address::UserAddress::TYPE => fold_as::<domain::user::address::UserAddress>(events),
        domain::login::LoginHistory::TYPE => fold_as::<domain::login::LoginHistory>(events),
        ApiKey::TYPE => fold_as::<ApiKey>(events),
        Integration::TYPE => fold_as::<Integration>(events),
        IntegrationPermission::TYPE => fold_as::<IntegrationPermission>(events),
        domain::phone_numbers::PhoneNumbers::TYPE => fold_as::<domain::phone_numbers::PhoneNumbers>(events),
        domain::email_account::EmailAccount::TYPE => fold_as::<domain::email_account::EmailAccount>(events),
        domain::outbound_email::OutboundEmail::TYPE => fold_as::<domain::outbound_email::OutboundEmail>(events),
        domain::inbound_email::InboundEmail::TYPE => fold_as::<domain::inbound_email::InboundEmail>(events),
        domain::customer::Customer::TYPE => fold_as::<domain::customer::Customer>(events),
        _ => Err(ApiError::not_found()),
    }
}

/// Applies stored events to a fresh aggregate, as the event store does.
pub fn fold_as<A: Aggregate>(events: &[AuditEvent]) -> Result<Value, ApiError> {
    let mut aggregate = A::default();
    for event in events {
        let payload: A::Event = serde_json::from_value(event.payload.clone()).map_err(|_| ApiError::internal())?;
        aggregate.apply(payload);
    }
    serde_json::to_value(&aggregate).map_err(|_| ApiError::internal())
}

/// What a verification found.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyReport {
    pub events_checked: u64,
    /// Events newer than the chain (not yet sealed): not findings.
    pub events_pending: u64,
    pub chain_head: Option<String>,
    pub findings: Vec<FindingResponse>,
}

/// What is wrong with one stored event, or with the organisation's chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingResponse {
    /// `altered`, `removed`, `out_of_sequence` or `chain_broken`.
    pub finding: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregate_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregate_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<i64>,
    /// The sequence that should have been here (`out_of_sequence`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<i64>,
    /// Where the organisation's chain breaks (`chain_broken`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_index: Option<i64>,
}

impl From<Finding> for FindingResponse {
    fn from(finding: Finding) -> Self {
        let of = |finding, aggregate_type, aggregate_id, sequence, expected| FindingResponse {
            finding,
            aggregate_type: Some(aggregate_type),
            aggregate_id: Some(aggregate_id),
            sequence: Some(sequence),
            expected,
            chain_index: None,
        };
        match finding {
            Finding::Altered {
                aggregate_type,
                aggregate_id,
                sequence,
            } => of("altered", aggregate_type, aggregate_id, sequence, None),
            Finding::Removed {
                aggregate_type,
                aggregate_id,
                sequence,
            } => of("removed", aggregate_type, aggregate_id, sequence, None),
            Finding::OutOfSequence {
                aggregate_type,
                aggregate_id,
                sequence,
                expected,
            } => of(
                "out_of_sequence",
                aggregate_type,
                aggregate_id,
                sequence,
                Some(expected),
            ),
            Finding::ChainBroken { chain_index } => FindingResponse {
                finding: "chain_broken",
                aggregate_type: None,
                aggregate_id: None,
                sequence: None,
                expected: None,
                chain_index: Some(chain_index),
            },
        }
    }
}

impl From<Report> for VerifyReport {
    fn from(report: Report) -> Self {
        Self {
            events_checked: report.events_checked,
            events_pending: report.events_pending,
            chain_head: report.chain_head,
            findings: report.findings.into_iter().map(FindingResponse::from).collect(),
        }
    }
}

/// Walks this organisation's events and hash chain and reports every
/// altered, removed or reordered event.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = Data<VerifyReport>, description = "events checked, pending, the chain head and any findings"), (status = 403, body = Problem)))]
pub async fn verify(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Data<VerifyReport>>, ApiError> {
    may_audit(&caller)?;
    let log = StoreLog(state.db.clone());
    let report =
        projections::audit_chain::verify(&state.db.read, &log, &caller.organisation_id.to_string(), &|_| {}).await?;
    Ok(envelope::data(VerifyReport::from(report)))
}
