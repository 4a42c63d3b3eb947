//! Masked sessions: who may reach whom through which number until when,
//! and how many calls each has put through, for the flow's questions and
//! the list route.

use application::error::StoreError;
use application::feed::StoredEvent;
use application::masked_sessions::MaskedSessionDirectory;
use async_trait::async_trait;
use chrono::{DateTime, Duration as Span, Utc};
use domain::OrganisationId;
use domain::masked_session::{Decision, MaskedSessionEvent};
use sqlx::{AnyConnection, AnyPool, Row};
use uuid::Uuid;

use crate::calls::stamp;
use crate::{ProjectionError, Projector, decode};

pub struct MaskedSessionsView;

#[async_trait]
impl Projector for MaskedSessionsView {
    fn name(&self) -> &'static str {
        "masked_sessions"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["masked_session"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        let id = event.aggregate_id.as_str();
        match decode::<MaskedSessionEvent>(event)? {
            MaskedSessionEvent::MaskedSessionOpened { terms, at, .. } => {
                sqlx::query("DELETE FROM masked_sessions_view WHERE session_id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(
                    "INSERT INTO masked_sessions_view (session_id, organisation_id, party_a, party_b, virtual_number, \
                     expires_at, max_calls, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(id)
                .bind(terms.organisation_id.to_string())
                .bind(terms.party_a)
                .bind(terms.party_b)
                .bind(terms.virtual_number)
                .bind(stamp(terms.expires_at))
                .bind(terms.max_calls.map(i64::from))
                .bind(stamp(at))
                .execute(conn)
                .await?;
            }
            MaskedSessionEvent::MaskedCallRouted { decision, .. } => {
                let column = match decision {
                    Decision::Connected { .. } => "calls_connected",
                    Decision::Refused { .. } => "calls_refused",
                };
                let sql = format!("UPDATE masked_sessions_view SET {column} = {column} + 1 WHERE session_id = $1");
                sqlx::query(&sql).bind(id).execute(conn).await?;
            }
            MaskedSessionEvent::MaskedSessionEnded { at } => {
                sqlx::query("UPDATE masked_sessions_view SET ended_at = $1 WHERE session_id = $2")
                    .bind(stamp(at))
                    .bind(id)
                    .execute(conn)
                    .await?;
            }
        }
        Ok(())
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM masked_sessions_view").execute(conn).await?;
        Ok(())
    }
}

/// The sessions view as the masking use cases ask it.
#[derive(Debug, Clone)]
pub struct SqlMaskedSessions(pub AnyPool);

#[async_trait]
impl MaskedSessionDirectory for SqlMaskedSessions {
    async fn with_party(
        &self,
        organisation_id: OrganisationId,
        virtual_number: &str,
        party: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let since = stamp(now - Span::days(1));
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT session_id FROM masked_sessions_view WHERE organisation_id = $1 AND virtual_number = $2 \
             AND (party_a = $3 OR party_b = $3) AND expires_at > $4 AND (ended_at IS NULL OR ended_at > $4) \
             ORDER BY created_at DESC, session_id DESC LIMIT 20",
        )
        .bind(organisation_id.to_string())
        .bind(virtual_number)
        .bind(party)
        .bind(since)
        .fetch_all(&self.0)
        .await
        .map_err(|e| StoreError(format!("masked sessions: {e}")))?;
        Ok(ids.iter().filter_map(|id| Uuid::try_parse(id).ok()).collect())
    }
}

/// A session as the list route shows it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub session_id: String,
    pub party_a: String,
    pub party_b: String,
    pub virtual_number: String,
    pub expires_at: String,
    pub max_calls: Option<i64>,
    pub calls_connected: i64,
    pub calls_refused: i64,
    pub ended_at: Option<String>,
    pub created_at: String,
}

/// The organisation's sessions, newest first; only open ones when `open_at` is given.
pub async fn list(
    pool: &AnyPool,
    organisation_id: &str,
    open_at: Option<DateTime<Utc>>,
    limit: i64,
    offset: i64,
) -> Result<Vec<SessionRow>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT session_id, party_a, party_b, virtual_number, expires_at, max_calls, calls_connected, calls_refused, \
         ended_at, created_at FROM masked_sessions_view WHERE organisation_id = $1 \
         AND ($2 = '' OR (ended_at IS NULL AND expires_at > $2 \
              AND (max_calls IS NULL OR calls_connected < max_calls))) \
         ORDER BY created_at DESC, session_id DESC LIMIT $3 OFFSET $4",
    )
    .bind(organisation_id)
    .bind(open_at.map(stamp).unwrap_or_default())
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let rows: Result<Vec<SessionRow>, sqlx::Error> = rows
        .iter()
        .map(|row| {
            Ok(SessionRow {
                session_id: row.try_get("session_id")?,
                party_a: row.try_get("party_a")?,
                party_b: row.try_get("party_b")?,
                virtual_number: row.try_get("virtual_number")?,
                expires_at: row.try_get("expires_at")?,
                max_calls: row.try_get("max_calls")?,
                calls_connected: row.try_get("calls_connected")?,
                calls_refused: row.try_get("calls_refused")?,
                ended_at: row.try_get("ended_at")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect();
    Ok(rows?)
}
