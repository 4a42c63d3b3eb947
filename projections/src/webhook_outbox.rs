//! The webhook outbox. One projector reads the endpoints' events and the
//! subjects' (calls', messages' and customers' messages') events in feed order: it keeps the endpoints and the
//! subjects' states as read models, and for every event an endpoint
//! subscribes to writes one delivery, rendered from the subject's state
//! once the command that caused the event is applied. A delivery is keyed
//! by endpoint and event, so a replayed feed or a rebuild writes nothing
//! twice, and a rebuild never empties the deliveries: only events after an
//! endpoint's registration and less than a week old are delivered.

use application::error::StoreError;
use application::feed::StoredEvent;
use application::webhooks::{
    AttemptRecord, AttemptResult, DeliveryRecord, DeliveryState, WebhookOutbox, delivery_id, payload,
};
use async_trait::async_trait;
use chrono::{DateTime, Duration as Span, Utc};
use cqrs_es::Aggregate;
use domain::call::{Call, CallEvent};
use domain::inbound_message::{InboundMessage, InboundMessageEvent};
use domain::outbound_message::{MessageEvent, OutboundMessage};
use domain::webhook_endpoint::{EndpointSpec, WebhookEndpointEvent, WebhookEventType};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

use crate::bulk::Rows;
use crate::calls::{stamp, time};
use crate::{ProjectionError, Projector, decode};

/// Events older than this when they reach the outbox are not delivered (a
/// rebuild replays the whole log); a feed that was down for days still
/// delivers what happened meanwhile, each with a whole retry window.
const MAX_AGE_HOURS: i64 = 7 * 24;

pub struct WebhookOutboxView;

/// An endpoint as the fan-out needs it.
#[derive(Debug, Clone)]
struct Subscriber {
    endpoint_id: String,
    organisation_id: String,
    event_types: String,
    enabled: bool,
    registered_position: i64,
}

impl Subscriber {
    fn wants(&self, event_type: WebhookEventType, position: i64) -> bool {
        self.enabled
            && self.registered_position < position
            && self.event_types.contains(&format!(",{},", event_type.as_str()))
    }
}

fn types_column(spec: &EndpointSpec) -> String {
    let names: Vec<&str> = spec.event_types.iter().map(|t| t.as_str()).collect();
    format!(",{},", names.join(","))
}

fn occurred_at(event: &StoredEvent) -> Option<DateTime<Utc>> {
    event
        .metadata
        .get("occurred_at")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The batch's endpoints, by organisation, as they stand before it.
async fn subscribers(
    conn: &mut AnyConnection,
    organisations: &[String],
) -> Result<HashMap<String, Vec<Subscriber>>, ProjectionError> {
    let mut by_organisation: HashMap<String, Vec<Subscriber>> = HashMap::new();
    if organisations.is_empty() {
        return Ok(by_organisation);
    }
    let list: Vec<String> = (1..=organisations.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT endpoint_id, organisation_id, event_types, enabled, registered_position FROM webhook_endpoints_view \
         WHERE organisation_id IN ({})",
        list.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for organisation in organisations {
        query = query.bind(organisation.as_str());
    }
    for row in query.fetch_all(&mut *conn).await? {
        let subscriber = Subscriber {
            endpoint_id: row.try_get(0)?,
            organisation_id: row.try_get(1)?,
            event_types: row.try_get(2)?,
            enabled: row.try_get::<i64, _>(3)? == 1,
            registered_position: row.try_get(4)?,
        };
        by_organisation
            .entry(subscriber.organisation_id.clone())
            .or_default()
            .push(subscriber);
    }
    Ok(by_organisation)
}

/// What a webhook can be about: a call or a message, as the events so far
/// made it.
#[derive(Debug, Clone)]
enum Subject {
    Call(Call),
    Message(OutboundMessage),
    Inbound(InboundMessage),
}

impl Subject {
    fn new(aggregate_type: &str) -> Self {
        match aggregate_type {
            OutboundMessage::TYPE => Self::Message(OutboundMessage::default()),
            InboundMessage::TYPE => Self::Inbound(InboundMessage::default()),
            _ => Self::Call(Call::default()),
        }
    }

    fn read(aggregate_type: &str, state: &str) -> Result<Self, serde_json::Error> {
        Ok(match aggregate_type {
            OutboundMessage::TYPE => Self::Message(serde_json::from_str(state)?),
            InboundMessage::TYPE => Self::Inbound(serde_json::from_str(state)?),
            _ => Self::Call(serde_json::from_str(state)?),
        })
    }

    fn state(&self) -> String {
        match self {
            Self::Call(call) => serde_json::to_string(call),
            Self::Message(message) => serde_json::to_string(message),
            Self::Inbound(inbound) => serde_json::to_string(inbound),
        }
        .unwrap_or_default()
    }

    fn organisation(&self) -> Option<String> {
        match self {
            Self::Call(call) => call.request.as_ref().map(|r| r.organisation_id.to_string()),
            Self::Message(message) => message.request.as_ref().map(|r| r.organisation_id.to_string()),
            Self::Inbound(inbound) => inbound.message.as_ref().map(|m| m.organisation_id.to_string()),
        }
    }

    /// Applies an event of the subject; the webhook it is, if any.
    fn apply(&mut self, event: &StoredEvent) -> Result<Option<WebhookEventType>, ProjectionError> {
        Ok(match self {
            Self::Call(call) => {
                let event = decode::<CallEvent>(event)?;
                let event_type = payload::call_event_type(&event);
                call.apply(event);
                event_type
            }
            Self::Message(message) => {
                let event = decode::<MessageEvent>(event)?;
                let channel = match &event {
                    MessageEvent::MessageRequested { request, .. } => Some(request.content.channel()),
                    _ => message.request.as_ref().map(|r| r.content.channel()),
                };
                let event_type = channel.and_then(|c| payload::message_event_type(&event, c));
                message.apply(event);
                event_type
            }
            Self::Inbound(inbound) => {
                let event = decode::<InboundMessageEvent>(event)?;
                // A repeat records nothing, so every receipt is a new
                // message; keeping its media file tells nobody anything new.
                let told = matches!(event, InboundMessageEvent::InboundMessageReceived { .. })
                    .then_some(WebhookEventType::WhatsappReceived);
                inbound.apply(event);
                told
            }
        })
    }

    fn data(&self, id: &str) -> serde_json::Value {
        match self {
            Self::Call(call) => payload::call_data(id, call),
            Self::Message(message) => payload::message_data(id, message),
            Self::Inbound(inbound) => payload::inbound_data(id, inbound),
        }
    }
}

/// A subject's key: its aggregate type and id.
type SubjectKey = (String, String);

/// The kept states of the batch's subjects.
async fn subject_states(
    conn: &mut AnyConnection,
    keys: &[SubjectKey],
) -> Result<HashMap<SubjectKey, Subject>, ProjectionError> {
    let mut states = HashMap::new();
    if keys.is_empty() {
        return Ok(states);
    }
    // Both columns of the key, so the look-up is a probe of its index
    // (the id alone would read the whole table).
    let mut types: Vec<&str> = keys.iter().map(|(kind, _)| kind.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    let ids: Vec<&str> = keys.iter().map(|(_, id)| id.as_str()).collect();
    let marks = |from: usize, count: usize| {
        (from..from + count)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = format!(
        "SELECT aggregate_type, aggregate_id, state FROM webhook_subjects \
         WHERE aggregate_type IN ({}) AND aggregate_id IN ({})",
        marks(1, types.len()),
        marks(types.len() + 1, ids.len())
    );
    let mut query = sqlx::query(&sql);
    for value in types.into_iter().chain(ids) {
        query = query.bind(value);
    }
    let wanted: HashSet<&SubjectKey> = keys.iter().collect();
    for row in query.fetch_all(&mut *conn).await? {
        let key: SubjectKey = (row.try_get(0)?, row.try_get(1)?);
        if !wanted.contains(&key) {
            continue;
        }
        let state: String = row.try_get(2)?;
        let subject = Subject::read(&key.0, &state).map_err(|e| ProjectionError::UndecodableEvent {
            event_type: "webhook subject".into(),
            reason: e.to_string(),
        })?;
        states.insert(key, subject);
    }
    Ok(states)
}

fn is_subject(event: &StoredEvent) -> bool {
    [Call::TYPE, OutboundMessage::TYPE, InboundMessage::TYPE].contains(&event.aggregate_type.as_str())
}

async fn apply_endpoint_event(
    conn: &mut AnyConnection,
    event: &StoredEvent,
    subscribers: &mut HashMap<String, Vec<Subscriber>>,
) -> Result<(), ProjectionError> {
    let id = event.aggregate_id.as_str();
    match decode::<WebhookEndpointEvent>(event)? {
        WebhookEndpointEvent::WebhookEndpointRegistered {
            organisation_id,
            spec,
            at,
            ..
        } => {
            let types = types_column(&spec);
            sqlx::query("DELETE FROM webhook_endpoints_view WHERE endpoint_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO webhook_endpoints_view (endpoint_id, organisation_id, url, event_types, description, \
                 enabled, registered_position, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)",
            )
            .bind(id)
            .bind(organisation_id.to_string())
            .bind(spec.url)
            .bind(types.clone())
            .bind(spec.description)
            .bind(event.position)
            .bind(stamp(at))
            .execute(&mut *conn)
            .await?;
            subscribers
                .entry(organisation_id.to_string())
                .or_default()
                .push(Subscriber {
                    endpoint_id: id.to_string(),
                    organisation_id: organisation_id.to_string(),
                    event_types: types,
                    enabled: true,
                    registered_position: event.position,
                });
        }
        WebhookEndpointEvent::WebhookEndpointChanged { spec, at } => {
            let types = types_column(&spec);
            sqlx::query(
                "UPDATE webhook_endpoints_view SET url = $1, event_types = $2, description = $3, updated_at = $4 \
                 WHERE endpoint_id = $5",
            )
            .bind(spec.url)
            .bind(types.clone())
            .bind(spec.description)
            .bind(stamp(at))
            .bind(id)
            .execute(&mut *conn)
            .await?;
            for subscriber in subscribers.values_mut().flat_map(|list| list.iter_mut()) {
                if subscriber.endpoint_id == id {
                    subscriber.event_types = types.clone();
                }
            }
        }
        WebhookEndpointEvent::WebhookSecretRotated { at, .. } => {
            sqlx::query("UPDATE webhook_endpoints_view SET updated_at = $1 WHERE endpoint_id = $2")
                .bind(stamp(at))
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        WebhookEndpointEvent::WebhookEndpointDisabled { reason, at, .. } => {
            sqlx::query(
                "UPDATE webhook_endpoints_view SET enabled = 0, disabled_reason = $1, disabled_at = $2, \
                 updated_at = $2 WHERE endpoint_id = $3",
            )
            .bind(reason)
            .bind(stamp(at))
            .bind(id)
            .execute(&mut *conn)
            .await?;
            set_enabled(subscribers, id, false);
        }
        WebhookEndpointEvent::WebhookEndpointEnabled { at } => {
            sqlx::query(
                "UPDATE webhook_endpoints_view SET enabled = 1, disabled_reason = NULL, disabled_at = NULL, \
                 updated_at = $1 WHERE endpoint_id = $2",
            )
            .bind(stamp(at))
            .bind(id)
            .execute(&mut *conn)
            .await?;
            set_enabled(subscribers, id, true);
        }
        WebhookEndpointEvent::WebhookEndpointDeleted { .. } => {
            sqlx::query("DELETE FROM webhook_endpoints_view WHERE endpoint_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            for list in subscribers.values_mut() {
                list.retain(|s| s.endpoint_id != id);
            }
        }
    }
    Ok(())
}

fn set_enabled(subscribers: &mut HashMap<String, Vec<Subscriber>>, id: &str, enabled: bool) {
    for subscriber in subscribers.values_mut().flat_map(|list| list.iter_mut()) {
        if subscriber.endpoint_id == id {
            subscriber.enabled = enabled;
        }
    }
}

/// A subscribable event waiting for its command's other events.
struct Pending<'a> {
    event: &'a StoredEvent,
    event_type: WebhookEventType,
}

#[async_trait]
impl Projector for WebhookOutboxView {
    fn name(&self) -> &'static str {
        "webhook_outbox"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["webhook_endpoint", "call", "outbound_message", "inbound_message"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        self.apply_all(conn, &[event]).await
    }

    async fn apply_all(&self, conn: &mut AnyConnection, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
        let mut keys: Vec<SubjectKey> = events
            .iter()
            .filter(|e| is_subject(e))
            .map(|e| (e.aggregate_type.clone(), e.aggregate_id.clone()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut subjects = subject_states(conn, &keys).await?;
        let mut organisations: Vec<String> = events
            .iter()
            .filter_map(|e| e.organisation_id())
            .map(|o| o.to_string())
            .chain(subjects.values().filter_map(Subject::organisation))
            .collect();
        organisations.sort_unstable();
        organisations.dedup();
        let mut subscribers = subscribers(conn, &organisations).await?;
        let oldest = Utc::now() - Span::hours(MAX_AGE_HOURS);
        let written = stamp(Utc::now());
        let mut deliveries = Rows::new(
            "INSERT INTO webhook_deliveries (delivery_id, endpoint_id, organisation_id, event_type, source_event, \
             body, created_at, written_at, state, attempts, next_attempt_at, updated_at)",
            "ON CONFLICT (delivery_id) DO NOTHING",
        );
        let mut changed: Vec<SubjectKey> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        for (index, event) in events.iter().enumerate() {
            if !is_subject(event) {
                apply_endpoint_event(conn, event, &mut subscribers).await?;
                continue;
            }
            let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
            let subject = subjects
                .entry(key.clone())
                .or_insert_with(|| Subject::new(&event.aggregate_type));
            if let Some(event_type) = subject.apply(event)? {
                pending.push(Pending { event, event_type });
            }
            changed.push(key);
            let command_ends = events.get(index + 1).is_none_or(|next| !same_command(event, next));
            if !command_ends {
                continue;
            }
            let Some(organisation) = subject.organisation() else {
                pending.clear();
                continue;
            };
            let listeners = subscribers.get(&organisation).map(Vec::as_slice).unwrap_or_default();
            for Pending { event, event_type } in pending.drain(..) {
                let at = occurred_at(event).unwrap_or_else(Utc::now);
                if at < oldest {
                    continue;
                }
                let source = event.message_id();
                let mut body = None;
                for listener in listeners.iter().filter(|l| l.wants(event_type, event.position)) {
                    let body =
                        body.get_or_insert_with(|| payload::body(event_type, at, subject.data(&event.aggregate_id)));
                    let endpoint_id = Uuid::try_parse(&listener.endpoint_id).unwrap_or_default();
                    deliveries.push([
                        delivery_id(endpoint_id, &source).to_string().into(),
                        listener.endpoint_id.as_str().into(),
                        organisation.as_str().into(),
                        event_type.as_str().into(),
                        source.as_str().into(),
                        body.as_str().into(),
                        stamp(at).into(),
                        written.as_str().into(),
                        "pending".into(),
                        0_i64.into(),
                        written.as_str().into(),
                        written.as_str().into(),
                    ]);
                }
            }
        }
        changed.sort_unstable();
        changed.dedup();
        let mut states = Rows::new(
            "INSERT INTO webhook_subjects (aggregate_type, aggregate_id, state)",
            "ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET state = excluded.state",
        );
        for key in &changed {
            let state = subjects[key].state();
            states.push([key.0.as_str().into(), key.1.as_str().into(), state.into()]);
        }
        states.write(conn).await?;
        deliveries.write(conn).await
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM webhook_endpoints_view")
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM webhook_subjects").execute(conn).await?;
        Ok(())
    }
}

/// Whether two events of a batch were written by one command.
fn same_command(event: &StoredEvent, next: &StoredEvent) -> bool {
    event.aggregate_type == next.aggregate_type
        && event.aggregate_id == next.aggregate_id
        && event.metadata.contains_key("request_id")
        && event.metadata.get("request_id") == next.metadata.get("request_id")
        && event.metadata.get("occurred_at") == next.metadata.get("occurred_at")
}

// ---------------------------------------------------------------------------
// The outbox as the delivery workers and the routes use it.

/// Deliveries of one endpoint in a round at most: a slow or silent
/// receiver holds up no other endpoint's deliveries.
const PER_ENDPOINT: i64 = 8;

/// The outbox over the read-model database.
#[derive(Debug, Clone)]
pub struct SqlWebhookOutbox(pub AnyPool);

fn store(error: sqlx::Error) -> StoreError {
    StoreError(format!("webhook outbox: {error}"))
}

fn state(text: &str) -> DeliveryState {
    match text {
        "succeeded" => DeliveryState::Succeeded,
        "failed" => DeliveryState::Failed,
        _ => DeliveryState::Pending,
    }
}

fn state_word(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "pending",
        DeliveryState::Succeeded => "succeeded",
        DeliveryState::Failed => "failed",
    }
}

const DELIVERY_COLUMNS: &str = "d.delivery_id, d.endpoint_id, d.organisation_id, d.event_type, d.source_event, \
     d.body, d.created_at, d.written_at, d.state, d.attempts, d.attempts_before_window, d.next_attempt_at, d.window_ends_at, d.last_status, d.last_error, \
     d.delivered_at";

fn delivery(row: &AnyRow) -> Result<DeliveryRecord, sqlx::Error> {
    let uuid = |name: &str| -> Result<Uuid, sqlx::Error> {
        Ok(Uuid::try_parse(&row.try_get::<String, _>(name)?).unwrap_or_default())
    };
    let created_at = time(row.try_get("created_at")?).unwrap_or_default();
    let written_at = time(row.try_get("written_at")?).unwrap_or(created_at);
    Ok(DeliveryRecord {
        delivery_id: uuid("delivery_id")?,
        endpoint_id: uuid("endpoint_id")?,
        organisation_id: uuid("organisation_id")?,
        event_type: row.try_get("event_type")?,
        source_event: row.try_get("source_event")?,
        body: row.try_get("body")?,
        created_at,
        written_at,
        state: state(&row.try_get::<String, _>("state")?),
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        attempts_before_window: u32::try_from(row.try_get::<i64, _>("attempts_before_window")?).unwrap_or(0),
        next_attempt_at: time(row.try_get("next_attempt_at")?),
        window_ends_at: time(row.try_get("window_ends_at")?),
        last_status: row
            .try_get::<Option<i64>, _>("last_status")?
            .and_then(|s| u16::try_from(s).ok()),
        last_error: row.try_get("last_error")?,
        delivered_at: time(row.try_get("delivered_at")?),
    })
}

fn attempt(row: &AnyRow) -> Result<AttemptRecord, sqlx::Error> {
    Ok(AttemptRecord {
        attempt: u32::try_from(row.try_get::<i64, _>("attempt")?).unwrap_or(u32::MAX),
        started_at: time(row.try_get("started_at")?).unwrap_or_default(),
        duration_ms: u64::try_from(row.try_get::<i64, _>("duration_ms")?).unwrap_or(0),
        status: row
            .try_get::<Option<i64>, _>("status")?
            .and_then(|s| u16::try_from(s).ok()),
        error: row.try_get("error")?,
    })
}

#[async_trait]
impl WebhookOutbox for SqlWebhookOutbox {
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM ( \
               SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.delivery_id) \
                 AS place \
               FROM webhook_deliveries d JOIN webhook_endpoints_view e ON e.endpoint_id = d.endpoint_id \
               WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
               AND (d.lease_until IS NULL OR d.lease_until <= $1) AND e.enabled = 1) AS d \
             WHERE d.place <= $3 ORDER BY d.next_attempt_at, d.delivery_id LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(stamp(now))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(PER_ENDPOINT)
            .fetch_all(&self.0)
            .await
            .map_err(store)?;
        rows.iter().map(delivery).collect::<Result<_, _>>().map_err(store)
    }

    async fn claim(&self, delivery_id: Uuid, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "UPDATE webhook_deliveries SET lease_until = $1 WHERE delivery_id = $2 AND state = 'pending' \
             AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)",
        )
        .bind(stamp(until))
        .bind(delivery_id.to_string())
        .bind(stamp(now))
        .execute(&self.0)
        .await
        .map_err(store)?;
        Ok(claimed.rows_affected() == 1)
    }

    async fn finish(
        &self,
        delivery_id: Uuid,
        lease: DateTime<Utc>,
        attempt: &AttemptRecord,
        result: AttemptResult,
    ) -> Result<bool, StoreError> {
        let id = delivery_id.to_string();
        let now = stamp(Utc::now());
        let (state, next, delivered) = match result {
            AttemptResult::Succeeded => (DeliveryState::Succeeded, None, Some(now.clone())),
            AttemptResult::Retry { at } => (DeliveryState::Pending, Some(stamp(at)), None),
            AttemptResult::GaveUp => (DeliveryState::Failed, None, None),
        };
        let mut tx = self.0.begin().await.map_err(store)?;
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, lease_until = NULL, \
             last_status = $4, last_error = $5, delivered_at = COALESCE($6, delivered_at), updated_at = $7 \
             WHERE delivery_id = $8 AND lease_until = $9",
        )
        .bind(state_word(state))
        .bind(i64::from(attempt.attempt))
        .bind(next)
        .bind(attempt.status.map(i64::from))
        .bind(attempt.error.clone())
        .bind(delivered)
        .bind(now)
        .bind(id.as_str())
        .bind(stamp(lease))
        .execute(&mut *tx)
        .await
        .map_err(store)?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status, error) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (delivery_id, attempt) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(i64::from(attempt.attempt))
        .bind(stamp(attempt.started_at))
        .bind(i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX))
        .bind(attempt.status.map(i64::from))
        .bind(attempt.error.clone())
        .execute(&mut *tx)
        .await
        .map_err(store)?;
        tx.commit().await.map_err(store)?;
        Ok(true)
    }

    async fn delivery(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
    ) -> Result<Option<(DeliveryRecord, Vec<AttemptRecord>)>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.delivery_id = $1 AND d.endpoint_id = $2"
        );
        let found = sqlx::query(&sql)
            .bind(delivery_id.to_string())
            .bind(endpoint_id.to_string())
            .fetch_optional(&self.0)
            .await
            .map_err(store)?;
        let Some(row) = found else { return Ok(None) };
        let record = delivery(&row).map_err(store)?;
        let attempts = sqlx::query(
            "SELECT attempt, started_at, duration_ms, status, error FROM webhook_attempts WHERE delivery_id = $1 \
             ORDER BY attempt",
        )
        .bind(delivery_id.to_string())
        .fetch_all(&self.0)
        .await
        .map_err(store)?;
        let attempts = attempts.iter().map(attempt).collect::<Result<_, _>>().map_err(store)?;
        Ok(Some((record, attempts)))
    }

    async fn redeliver(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
        now: DateTime<Utc>,
        window_ends_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, window_ends_at = $2, \
             attempts_before_window = attempts, \
             updated_at = $1 WHERE delivery_id = $3 AND endpoint_id = $4",
        )
        .bind(stamp(now))
        .bind(stamp(window_ends_at))
        .bind(delivery_id.to_string())
        .bind(endpoint_id.to_string())
        .execute(&self.0)
        .await
        .map_err(store)?;
        Ok(updated.rows_affected() == 1)
    }

    async fn resume(&self, endpoint_id: Uuid, window_ends_at: DateTime<Utc>) -> Result<u64, StoreError> {
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET window_ends_at = $1, attempts_before_window = attempts \
             WHERE endpoint_id = $2 AND state = 'pending'",
        )
        .bind(stamp(window_ends_at))
        .bind(endpoint_id.to_string())
        .execute(&self.0)
        .await
        .map_err(store)?;
        Ok(updated.rows_affected())
    }
}

/// An endpoint as the list route shows it.
#[derive(Debug, Clone)]
pub struct EndpointRow {
    pub endpoint_id: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// The organisation's endpoints, newest first.
pub async fn list_endpoints(
    pool: &AnyPool,
    organisation_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<EndpointRow>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT endpoint_id, url, event_types, description, enabled, disabled_reason, disabled_at, created_at, \
         updated_at FROM webhook_endpoints_view WHERE organisation_id = $1 \
         ORDER BY created_at DESC, endpoint_id DESC LIMIT $2 OFFSET $3",
    )
    .bind(organisation_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let rows: Result<Vec<EndpointRow>, sqlx::Error> = rows
        .iter()
        .map(|row| {
            let types: String = row.try_get("event_types")?;
            Ok(EndpointRow {
                endpoint_id: row.try_get("endpoint_id")?,
                url: row.try_get("url")?,
                event_types: types.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect(),
                description: row.try_get("description")?,
                enabled: row.try_get::<i64, _>("enabled")? == 1,
                disabled_reason: row.try_get("disabled_reason")?,
                disabled_at: row.try_get("disabled_at")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        })
        .collect();
    Ok(rows?)
}

/// An endpoint's deliveries, newest first, optionally in one state.
pub async fn list_deliveries(
    pool: &AnyPool,
    endpoint_id: &str,
    in_state: Option<DeliveryState>,
    limit: i64,
    offset: i64,
) -> Result<Vec<DeliveryRecord>, ProjectionError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.endpoint_id = $1 \
         AND ($2 = '' OR d.state = $2) ORDER BY d.created_at DESC, d.delivery_id DESC LIMIT $3 OFFSET $4"
    );
    let rows = sqlx::query(&sql)
        .bind(endpoint_id)
        .bind(in_state.map(state_word).unwrap_or_default())
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(delivery).collect::<Result<_, _>>()?)
}
