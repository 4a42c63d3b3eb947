//! Applying events to read models exactly once, and rebuilding them.

use application::feed::{EventLog, StoredEvent};
use chrono::{SecondsFormat, Utc};
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard};

use crate::bulk::Rows;
use crate::{ProjectionError, Projector};

/// What happened to one delivered event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Applied now.
    Applied,
    /// Already applied before: skipped.
    Duplicate,
    /// An earlier event of the same aggregate has not arrived yet: deliver
    /// this one again later.
    Gap,
}

/// A projector's progress, as `/ready` and the metrics report it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Checkpoint {
    pub projector: String,
    pub position: i64,
    pub events_applied: i64,
    pub last_event_at: Option<String>,
    pub applied_at: Option<String>,
}

/// The read-model database.
#[derive(Debug, Clone)]
pub struct ProjectionStore {
    pool: AnyPool,
    /// Taken before each write transaction when the database needs its
    /// writers in one queue (SQLite).
    gate: Option<Arc<Mutex<()>>>,
}

const REBUILD_PAGE: usize = 2_000;

impl ProjectionStore {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool, gate: None }
    }

    /// Writes only while holding `gate`, which the database's other
    /// in-process writers take too.
    pub fn with_write_gate(self, gate: Option<Arc<Mutex<()>>>) -> Self {
        Self { gate, ..self }
    }

    async fn turn(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies a batch in one transaction with the checkpoint. Events are
    /// checked against the last sequence applied per aggregate, so a
    /// redelivered event changes nothing.
    pub async fn apply_batch(
        &self,
        projector: &dyn Projector,
        events: &[&StoredEvent],
    ) -> Result<Vec<Outcome>, ProjectionError> {
        let _turn = self.turn().await;
        let mut tx = self.pool.begin().await?;
        claim(&mut tx, projector.name()).await?;
        let mut sequences = last_sequences(&mut tx, projector.name(), events).await?;
        let mut outcomes = Vec::with_capacity(events.len());
        let mut progress = Progress::default();
        let mut changed = Sequences::new();
        let mut applied = Vec::with_capacity(events.len());
        for event in events {
            let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
            let last = sequences.get(&key).copied().unwrap_or(0);
            let outcome = match outcomes.last() {
                Some(Outcome::Gap) => Outcome::Gap,
                _ => decide(last, event.sequence),
            };
            if outcome == Outcome::Applied {
                applied.push(*event);
                sequences.insert(key.clone(), event.sequence);
                changed.insert(key, event.sequence);
                progress.record(event);
            }
            outcomes.push(outcome);
        }
        projector.apply_all(&mut tx, &applied).await?;
        write_sequences(&mut tx, projector.name(), &changed).await?;
        progress.save(&mut tx, projector.name()).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Empties the read model and replays the whole log into it in one
    /// transaction, so readers see the old model until the new one is
    /// complete. Returns the number of events applied.
    pub async fn rebuild(
        &self,
        projector: &dyn Projector,
        log: &dyn EventLog,
        on_progress: &(dyn Fn(i64) + Sync),
    ) -> Result<u64, ProjectionError> {
        let applied = self.rebuild_all(&[projector], log, on_progress).await?;
        Ok(applied.first().copied().unwrap_or(0))
    }

    /// Rebuilds several read models in one transaction from one pass over
    /// the log: each page read is fed to every projector, and the
    /// per-aggregate sequences are written in bulk at the end. Returns the
    /// events applied per projector, in the order given.
    pub async fn rebuild_all(
        &self,
        projectors: &[&dyn Projector],
        log: &dyn EventLog,
        on_progress: &(dyn Fn(i64) + Sync),
    ) -> Result<Vec<u64>, ProjectionError> {
        let _turn = self.turn().await;
        let mut tx = self.pool.begin().await?;
        let mut claim_order: Vec<&str> = projectors.iter().map(|p| p.name()).collect();
        claim_order.sort_unstable();
        for name in claim_order {
            claim(&mut tx, name).await?;
        }
        for projector in projectors {
            empty(&mut tx, *projector).await?;
        }
        let mut replays: Vec<Replay> = projectors.iter().map(|_| Replay::default()).collect();
        let mut position = 0;
        loop {
            let page = log.read_after(position, REBUILD_PAGE).await?;
            let Some(last) = page.last() else { break };
            position = last.position;
            for (projector, replay) in projectors.iter().zip(replays.iter_mut()) {
                let fresh = replay.fresh(*projector, &page);
                projector.apply_all(&mut tx, &fresh).await?;
            }
            on_progress(position);
        }
        for (projector, replay) in projectors.iter().zip(&replays) {
            write_sequences(&mut tx, projector.name(), &replay.sequences).await?;
            replay.progress.save(&mut tx, projector.name()).await?;
        }
        tx.commit().await?;
        Ok(replays.iter().map(|r| r.progress.applied as u64).collect())
    }

    /// Every projector's checkpoint.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, ProjectionError> {
        let rows = sqlx::query(
            "SELECT projector, position, events_applied, last_event_at, applied_at FROM projection_checkpoints ORDER BY projector",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Checkpoint {
                    projector: r.try_get(0)?,
                    position: r.try_get(1)?,
                    events_applied: r.try_get(2)?,
                    last_event_at: r.try_get(3)?,
                    applied_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// The position a projector has applied up to (0 if it never ran).
    pub async fn position(&self, projector: &str) -> Result<i64, ProjectionError> {
        let position = sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE projector = $1")
            .bind(projector)
            .fetch_optional(&self.pool)
            .await?;
        Ok(position.unwrap_or(0))
    }
}

type Sequences = HashMap<(String, String), i64>;

/// One projector's side of a rebuild: what it has applied so far.
#[derive(Default)]
struct Replay {
    progress: Progress,
    sequences: Sequences,
}

impl Replay {
    /// The events of a page this projector reads and has not applied yet.
    fn fresh<'a>(&mut self, projector: &dyn Projector, page: &'a [StoredEvent]) -> Vec<&'a StoredEvent> {
        let types = projector.aggregate_types();
        let mut fresh = Vec::new();
        for event in page.iter().filter(|e| types.contains(&e.aggregate_type.as_str())) {
            let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
            if self.sequences.get(&key).is_some_and(|seen| event.sequence <= *seen) {
                continue;
            }
            fresh.push(event);
            self.sequences.insert(key, event.sequence);
            self.progress.record(event);
        }
        fresh
    }
}

/// Empties a projector's read model, sequences and checkpoint.
async fn empty(conn: &mut AnyConnection, projector: &dyn Projector) -> Result<(), ProjectionError> {
    projector.reset(conn).await?;
    sqlx::query("DELETE FROM projection_sequences WHERE projector = $1")
        .bind(projector.name())
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE projection_checkpoints SET position = 0, events_applied = 0 WHERE projector = $1")
        .bind(projector.name())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Takes the projector's checkpoint row first, so this transaction holds
/// the write lock (SQLite) or the row lock (PostgreSQL) before it reads:
/// live batches and a rebuild of the same projector never interleave.
async fn claim(conn: &mut AnyConnection, projector: &str) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (projector, position, events_applied) VALUES ($1, 0, 0) \
         ON CONFLICT (projector) DO UPDATE SET projector = excluded.projector",
    )
    .bind(projector)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether an event with `sequence` follows an aggregate whose last
/// applied sequence is `last`.
fn decide(last: i64, sequence: i64) -> Outcome {
    match sequence {
        s if s <= last => Outcome::Duplicate,
        s if s > last + 1 => Outcome::Gap,
        _ => Outcome::Applied,
    }
}

/// The last applied sequence of every aggregate in a batch, in one query.
async fn last_sequences(
    conn: &mut AnyConnection,
    projector: &str,
    events: &[&StoredEvent],
) -> Result<Sequences, ProjectionError> {
    if events.is_empty() {
        return Ok(Sequences::new());
    }
    let (pairs, keys) = crate::aggregate_pairs(events, 2);
    let sql = format!(
        "SELECT s.aggregate_type, s.aggregate_id, s.last_sequence FROM projection_sequences s \
         JOIN ({keys}) AS k ON s.projector = $1 AND s.aggregate_type = k.column1 AND s.aggregate_id = k.column2"
    );
    let mut query = sqlx::query(&sql).bind(projector);
    for (aggregate_type, aggregate_id) in pairs {
        query = query.bind(aggregate_type).bind(aggregate_id);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?)))
        .collect()
}

/// Records the last applied sequence of each aggregate, in bulk.
async fn write_sequences(
    conn: &mut AnyConnection,
    projector: &str,
    sequences: &Sequences,
) -> Result<(), ProjectionError> {
    let mut rows = Rows::new(
        "INSERT INTO projection_sequences (projector, aggregate_type, aggregate_id, last_sequence)",
        "ON CONFLICT (projector, aggregate_type, aggregate_id) DO UPDATE SET last_sequence = excluded.last_sequence",
    );
    for ((aggregate_type, aggregate_id), sequence) in sequences {
        rows.push([
            projector.into(),
            aggregate_type.into(),
            aggregate_id.into(),
            (*sequence).into(),
        ]);
    }
    rows.write(conn).await
}

#[derive(Default)]
struct Progress {
    applied: i64,
    position: i64,
    last_event_at: Option<String>,
}

impl Progress {
    fn record(&mut self, event: &StoredEvent) {
        self.applied += 1;
        self.position = self.position.max(event.position);
        if let Some(at) = event.metadata.get("occurred_at") {
            self.last_event_at = Some(at.clone());
        }
    }

    async fn save(&self, conn: &mut AnyConnection, projector: &str) -> Result<(), ProjectionError> {
        if self.applied == 0 {
            return Ok(());
        }
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
        sqlx::query(
            "UPDATE projection_checkpoints SET position = CASE WHEN position > $1 THEN position ELSE $1 END, \
             events_applied = events_applied + $2, last_event_at = $3, applied_at = $4 WHERE projector = $5",
        )
        .bind(self.position)
        .bind(self.applied)
        .bind(self.last_event_at.clone())
        .bind(now)
        .bind(projector)
        .execute(conn)
        .await?;
        Ok(())
    }
}
