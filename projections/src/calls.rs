//! Calls: where each stands at the provider and in its life, for the list
//! routes, the dispatcher's queue and the reconciler.

use application::calls::{CallCursor, CallDirectory, CallFilter, CallSummary};
use application::error::StoreError;
use application::feed::StoredEvent;
use async_trait::async_trait;
use chrono::{DateTime, Duration as Span, SecondsFormat, Utc};
use domain::OrganisationId;
use domain::call::{CallEvent, CallStatus, MAX_TIME_LIMIT_SECS};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};
use uuid::Uuid;

use crate::{ProjectionError, Projector, decode};

pub struct CallsView;

/// A time as the view keeps it: sortable text.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A value's serde name (`"delivered"`), as the views keep it.
pub(crate) fn word<T: serde::Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[async_trait]
impl Projector for CallsView {
    fn name(&self) -> &'static str {
        "calls"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["call"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        let id = event.aggregate_id.as_str();
        match decode::<CallEvent>(event)? {
            CallEvent::CallRequested { request, at } => {
                let limit = request.time_limit_secs.unwrap_or(MAX_TIME_LIMIT_SECS);
                sqlx::query("DELETE FROM calls_view WHERE call_id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(
                    "INSERT INTO calls_view (call_id, organisation_id, direction, status, dispatch, requested_by, \
                     agent_user_id, agent_phone, customer_phone, caller_id, record, requested_at, time_limit_ends_at, \
                     updated_at) VALUES ($1, $2, $3, 'requested', 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $10)",
                )
                .bind(id)
                .bind(request.organisation_id.to_string())
                .bind(word(request.direction))
                .bind(request.requested_by.map(|u| u.to_string()))
                .bind(request.agent_user_id.map(|u| u.to_string()))
                .bind(request.agent_phone)
                .bind(request.customer_phone)
                .bind(request.caller_id)
                .bind(i64::from(request.record))
                .bind(stamp(at))
                .bind(stamp(at + Span::seconds(i64::from(limit))))
                .execute(conn)
                .await?;
            }
            CallEvent::CallDispatchStarted { attempt, at } => {
                sqlx::query(
                    "UPDATE calls_view SET dispatch = 'started', attempts = $1, dispatch_started_at = $2, \
                     updated_at = $2 WHERE call_id = $3",
                )
                .bind(i64::from(attempt))
                .bind(stamp(at))
                .bind(id)
                .execute(conn)
                .await?;
            }
            CallEvent::CallPlaced { provider_sid, at } => {
                sqlx::query(
                    "UPDATE calls_view SET dispatch = 'placed', provider_sid = $1, updated_at = $2, \
                     status = CASE WHEN status = 'requested' THEN 'queued' ELSE status END WHERE call_id = $3",
                )
                .bind(provider_sid)
                .bind(stamp(at))
                .bind(id)
                .execute(conn)
                .await?;
            }
            CallEvent::CallRefused { at, .. } => {
                sqlx::query(
                    "UPDATE calls_view SET dispatch = 'refused', status = 'refused', ended_at = $1, updated_at = $1 \
                     WHERE call_id = $2",
                )
                .bind(stamp(at))
                .bind(id)
                .execute(conn)
                .await?;
            }
            CallEvent::CallNotFoundAtProvider { at } => {
                sqlx::query("UPDATE calls_view SET dispatch = 'pending', updated_at = $1 WHERE call_id = $2")
                    .bind(stamp(at))
                    .bind(id)
                    .execute(conn)
                    .await?;
            }
            CallEvent::CallReportReceived { .. }
            | CallEvent::CallRecordingStored { .. }
            | CallEvent::CallVerificationArranged { .. } => {}
            CallEvent::CallProgressed { status, at } => {
                let answered = (status == CallStatus::Answered).then(|| stamp(at));
                let ended = status.is_terminal().then(|| stamp(at));
                sqlx::query(
                    "UPDATE calls_view SET status = $1, answered_at = COALESCE($2, answered_at), \
                     ended_at = COALESCE($3, ended_at), updated_at = $4 WHERE call_id = $5",
                )
                .bind(word(status))
                .bind(answered)
                .bind(ended)
                .bind(stamp(at))
                .bind(id)
                .execute(conn)
                .await?;
            }
            CallEvent::CallDetailsAdded { details, at } => {
                sqlx::query(
                    "UPDATE calls_view SET duration_secs = COALESCE(duration_secs, $1), \
                     price_paise = COALESCE(price_paise, $2), \
                     has_recording = CASE WHEN $3 = 1 THEN 1 ELSE has_recording END, updated_at = $4 \
                     WHERE call_id = $5",
                )
                .bind(details.duration_secs.map(i64::from))
                .bind(details.price_paise)
                .bind(i64::from(details.recording_url.is_some()))
                .bind(stamp(at))
                .bind(id)
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM calls_view").execute(conn).await?;
        Ok(())
    }
}

const COLUMNS: &str = "call_id, direction, status, dispatch, provider_sid, agent_user_id, agent_phone, \
     customer_phone, caller_id, requested_by, requested_at, answered_at, ended_at, duration_secs, price_paise, \
     has_recording";

fn uuid(text: Option<String>) -> Option<Uuid> {
    text.and_then(|t| Uuid::try_parse(&t).ok())
}

/// A time the view keeps, read back.
pub(crate) fn time(text: Option<String>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn summary(row: &AnyRow) -> Result<CallSummary, sqlx::Error> {
    Ok(CallSummary {
        call_id: uuid(row.try_get("call_id")?).unwrap_or_default(),
        direction: row.try_get("direction")?,
        status: row.try_get("status")?,
        dispatch: row.try_get("dispatch")?,
        provider_sid: row.try_get("provider_sid")?,
        agent_user_id: uuid(row.try_get("agent_user_id")?),
        agent_phone: row.try_get("agent_phone")?,
        customer_phone: row.try_get("customer_phone")?,
        caller_id: row.try_get("caller_id")?,
        requested_by: uuid(row.try_get("requested_by")?),
        requested_at: time(row.try_get("requested_at")?).unwrap_or_default(),
        answered_at: time(row.try_get("answered_at")?),
        ended_at: time(row.try_get("ended_at")?),
        duration_secs: row.try_get("duration_secs")?,
        price_paise: row.try_get("price_paise")?,
        has_recording: row.try_get::<i64, _>("has_recording")? == 1,
    })
}

fn store(error: sqlx::Error) -> StoreError {
    StoreError(format!("calls view: {error}"))
}

fn ids(rows: Vec<AnyRow>) -> Result<Vec<Uuid>, StoreError> {
    rows.iter()
        .map(|row| row.try_get::<String, _>("call_id").map_err(store))
        .map(|id| id.map(|t| Uuid::try_parse(&t).unwrap_or_default()))
        .collect()
}

/// The calls view, read.
#[derive(Clone)]
pub struct CallsDirectory(pub AnyPool);

#[async_trait]
impl CallDirectory for CallsDirectory {
    async fn list(
        &self,
        organisation_id: OrganisationId,
        filter: &CallFilter,
        after: Option<CallCursor>,
        limit: u32,
    ) -> Result<Vec<CallSummary>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM calls_view WHERE organisation_id = $1");
        let mut values: Vec<String> = vec![organisation_id.to_string()];
        let mut condition = |sql: &mut String, clause: &str, value: String| {
            values.push(value);
            let n = values.len();
            sql.push_str(&clause.replace("$N", &format!("${n}")));
        };
        if let Some(status) = filter.status {
            condition(&mut sql, " AND status = $N", word(status));
        }
        if let Some(agent) = filter.agent_user_id {
            condition(&mut sql, " AND agent_user_id = $N", agent.to_string());
        }
        if let Some(customer) = &filter.customer_phone {
            condition(&mut sql, " AND customer_phone = $N", customer.clone());
        }
        if let Some(number) = &filter.number {
            condition(
                &mut sql,
                " AND (agent_phone = $N OR customer_phone = $N OR caller_id = $N)",
                number.clone(),
            );
        }
        if let Some(from) = filter.requested_from {
            condition(&mut sql, " AND requested_at >= $N", stamp(from));
        }
        if let Some(to) = filter.requested_to {
            condition(&mut sql, " AND requested_at < $N", stamp(to));
        }
        if let Some((at, call_id)) = after {
            condition(&mut sql, " AND (requested_at < $N", stamp(at));
            let n = values.len();
            values.push(call_id.to_string());
            sql.push_str(&format!(" OR (requested_at = ${n} AND call_id < ${}))", n + 1));
        }
        sql.push_str(&format!(
            " ORDER BY requested_at DESC, call_id DESC LIMIT {}",
            limit.clamp(1, 500)
        ));
        let mut query = sqlx::query(&sql);
        for value in &values {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&self.0).await.map_err(store)?;
        rows.iter().map(summary).collect::<Result<_, _>>().map_err(store)
    }

    async fn requested_since(
        &self,
        organisation_id: OrganisationId,
        user_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM calls_view WHERE organisation_id = $1 AND requested_by = $2 \
             AND requested_at >= $3",
        )
        .bind(organisation_id.to_string())
        .bind(user_id.to_string())
        .bind(stamp(since))
        .fetch_one(&self.0)
        .await
        .map_err(store)?;
        let count: i64 = row.try_get("n").map_err(store)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn due(&self, limit: u32) -> Result<Vec<(Uuid, OrganisationId)>, StoreError> {
        let rows = sqlx::query(
            "SELECT call_id, organisation_id FROM ( \
               SELECT call_id, organisation_id, requested_at, ROW_NUMBER() OVER ( \
                 PARTITION BY organisation_id ORDER BY requested_at, call_id) AS place \
               FROM calls_view WHERE dispatch = 'pending') AS queued \
             WHERE place <= $1 ORDER BY requested_at, call_id",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.0)
        .await
        .map_err(store)?;
        let organisations: Vec<OrganisationId> = rows
            .iter()
            .map(|row| row.try_get::<String, _>("organisation_id").map_err(store))
            .map(|id| id.map(|t| Uuid::try_parse(&t).unwrap_or_default()))
            .collect::<Result<_, _>>()?;
        Ok(ids(rows)?.into_iter().zip(organisations).collect())
    }

    async fn in_doubt(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query(
            "SELECT call_id FROM calls_view WHERE dispatch = 'started' AND dispatch_started_at < $1 \
             ORDER BY dispatch_started_at LIMIT $2",
        )
        .bind(stamp(before))
        .bind(i64::from(limit))
        .fetch_all(&self.0)
        .await
        .map_err(store)?;
        ids(rows)
    }

    async fn unsettled(
        &self,
        unended_before: DateTime<Utc>,
        (ended_after, ended_before): (DateTime<Utc>, DateTime<Utc>),
        limit: u32,
    ) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query(
            "SELECT call_id FROM calls_view WHERE dispatch = 'placed' AND ( \
               (ended_at IS NULL AND time_limit_ends_at < $1) \
               OR (ended_at > $2 AND ended_at < $3 AND (duration_secs IS NULL OR price_paise IS NULL \
                   OR (record = 1 AND answered_at IS NOT NULL AND has_recording = 0)))) \
             ORDER BY updated_at LIMIT $4",
        )
        .bind(stamp(unended_before))
        .bind(stamp(ended_after))
        .bind(stamp(ended_before))
        .bind(i64::from(limit))
        .fetch_all(&self.0)
        .await
        .map_err(store)?;
        ids(rows)
    }

    async fn by_sid(&self, organisation_id: OrganisationId, sid: &str) -> Result<Option<Uuid>, StoreError> {
        let rows = sqlx::query("SELECT call_id FROM calls_view WHERE organisation_id = $1 AND provider_sid = $2")
            .bind(organisation_id.to_string())
            .bind(sid)
            .fetch_all(&self.0)
            .await
            .map_err(store)?;
        Ok(ids(rows)?.into_iter().next())
    }
}
