//! The audit log: the event history itself, filtered, per aggregate, as
//! state at any version, and verified against its hash chain.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

use application::audit::Report;
use cqrs_es::Aggregate;
use domain::Role;
use infrastructure::feed::scan::StoreLog;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::state::AppState;

/// Fields whose values are credentials' verifiers: shown as redacted.
const REDACTED: [&str; 2] = ["password_hash", "secret_digest"];
const COLUMNS: &str = "global_position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
                       CAST(payload AS TEXT), CAST(metadata AS TEXT)";

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventFilter {
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub event_type: Option<String>,
    /// `user:<id>`, `api_key:<id>`, `system:<name>` or `webhook:<provider>`.
    pub actor: Option<String>,
    /// RFC 3339; events at or after.
    pub from: Option<String>,
    /// RFC 3339; events before.
    pub to: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    pub order: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// 1–500, default 100.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<AuditEvent>,
    pub next_cursor: Option<i64>,
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

fn to_event(row: &sqlx::any::AnyRow) -> Result<AuditEvent, ApiError> {
    let text = |i: usize| {
        row.try_get::<String, _>(i)
            .map_err(|e| ApiError::unavailable(e.to_string()))
    };
    let mut payload: Value = serde_json::from_str(&text(6)?).map_err(|_| ApiError::internal())?;
    redact(&mut payload);
    Ok(AuditEvent {
        position: row.try_get(0).map_err(|e| ApiError::unavailable(e.to_string()))?,
        aggregate_type: text(1)?,
        aggregate_id: text(2)?,
        sequence: row.try_get(3).map_err(|e| ApiError::unavailable(e.to_string()))?,
        event_type: text(4)?,
        event_version: text(5)?,
        payload,
        metadata: serde_json::from_str(&text(7)?).map_err(|_| ApiError::internal())?,
    })
}

fn timestamp(field: &str, text: &Option<String>) -> Result<Option<String>, ApiError> {
    text.as_ref()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|d| {
                    d.with_timezone(&chrono::Utc)
                        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                })
                .map_err(|_| {
                    ApiError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "invalid_query",
                        "use an RFC 3339 time",
                    )
                    .on_field(field)
                })
        })
        .transpose()
}

/// The organisation's events, filtered and cursor-paginated.
#[utoipa::path(get, path = "/api/v1/audit/events", params(EventFilter), tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = EventPage), (status = 403, body = Problem)))]
pub async fn events(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<EventFilter>,
) -> Result<Json<EventPage>, ApiError> {
    may_audit(&caller)?;
    let limit = filter.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_query",
            "limit must be 1 to 500",
        )
        .on_field("limit"));
    }
    let ascending = match filter.order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_query",
                "order is asc or desc",
            )
            .on_field("order"));
        }
    };
    let mut conditions = vec!["organisation_id = $1".to_string()];
    let mut texts = vec![caller.organisation_id.to_string()];
    let columns = [
        ("aggregate_type", &filter.aggregate_type),
        ("aggregate_id", &filter.aggregate_id),
        ("event_type", &filter.event_type),
        ("actor", &filter.actor),
    ];
    for (column, value) in columns {
        if let Some(value) = value {
            texts.push(value.clone());
            conditions.push(format!("{column} = ${}", texts.len()));
        }
    }
    for (column, op, value) in [
        ("occurred_at", ">=", timestamp("from", &filter.from)?),
        ("occurred_at", "<", timestamp("to", &filter.to)?),
    ] {
        if let Some(value) = value {
            texts.push(value);
            conditions.push(format!("{column} {op} ${}", texts.len()));
        }
    }
    if let Some(cursor) = filter.cursor {
        conditions.push(format!(
            "global_position {} {cursor}",
            if ascending { ">" } else { "<" }
        ));
    }
    let order = if ascending { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE {} ORDER BY global_position {order} LIMIT {limit}",
        conditions.join(" AND ")
    );
    let mut query = sqlx::query(&sql);
    for text in texts {
        query = query.bind(text);
    }
    let rows = query
        .fetch_all(&state.db.read)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let events = rows.iter().map(to_event).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| e.position))
        .flatten();
    Ok(Json(EventPage { events, next_cursor }))
}

async fn history_of(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    id: &str,
    up_to: Option<i64>,
) -> Result<Vec<AuditEvent>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE organisation_id = $1 AND aggregate_type = $2 AND aggregate_id = $3 AND sequence <= $4 ORDER BY sequence"
    );
    let rows = sqlx::query(&sql)
        .bind(caller.organisation_id.to_string())
        .bind(kind)
        .bind(id)
        .bind(up_to.unwrap_or(i64::MAX))
        .fetch_all(&state.db.read)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let events = rows.iter().map(to_event).collect::<Result<Vec<_>, _>>()?;
    if events.is_empty() {
        return Err(ApiError::not_found());
    }
    Ok(events)
}

/// Every event of one aggregate, with its metadata.
#[utoipa::path(get, path = "/api/v1/audit/aggregates/{type}/{id}/history", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = [AuditEvent]), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    may_audit(&caller)?;
    Ok(Json(history_of(&state, &caller, &kind, &id, None).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AtVersion {
    /// The version to rebuild (default: the latest).
    pub version: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StateAtVersion {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub version: i64,
    #[schema(value_type = Object)]
    pub state: Value,
}

/// The aggregate's state as of a version, rebuilt from its events.
#[utoipa::path(get, path = "/api/v1/audit/aggregates/{type}/{id}/state", params(AtVersion), tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = StateAtVersion), (status = 404, body = Problem)))]
pub async fn state_at(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((kind, id)): Path<(String, String)>,
    ApiQuery(at): ApiQuery<AtVersion>,
) -> Result<Json<StateAtVersion>, ApiError> {
    may_audit(&caller)?;
    if at.version.is_some_and(|v| v < 1) {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_query",
            "version starts at 1",
        )
        .on_field("version"));
    }
    let events = history_of(&state, &caller, &kind, &id, at.version).await?;
    let version = events.last().map(|e| e.sequence).unwrap_or_default();
    if at.version.is_some_and(|v| v > version) {
        return Err(ApiError::not_found());
    }
    let mut rebuilt = fold(&kind, &events)?;
    redact(&mut rebuilt);
    Ok(Json(StateAtVersion {
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

/// Walks this organisation's events and hash chain and reports every
/// altered, removed or reordered event.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, description = "events checked, pending, the chain head and any findings")))]
pub async fn verify(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Report>, ApiError> {
    may_audit(&caller)?;
    let log = StoreLog(state.db.clone());
    let report =
        projections::audit_chain::verify(&state.db.read, &log, &caller.organisation_id.to_string(), &|_| {}).await?;
    Ok(Json(report))
}
