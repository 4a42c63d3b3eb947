//! Group commit: the appends of concurrent commands written together.
//!
//! A command's events are handed to one of a few writers. A writer that
//! is free takes every append waiting at that moment, up to
//! [`MAX_BATCH_ROWS`] rows, and inserts them in one statement: one round
//! trip, one transaction and one WAL flush for all of them, where each
//! command used to pay its own. Nobody waits for a batch to fill: a lone
//! command is written at once, alone, and batches only form while every
//! writer is busy, that is, under load.
//!
//! Each command's events stay one atomic unit. A batch statement writes
//! all its rows or none; when the database refuses it (a version another
//! writer took, say), nothing was written, and each command of the batch
//! is written again alone, so only the one at fault fails and the others
//! are stored as if they had come one at a time. When the connection
//! fails instead, nobody knows whether the batch was written: every
//! command of it is told so (a connection error, as a lone insert would
//! be), and nothing is written a second time.

use cqrs_es::persist::{PersistenceError, SerializedEvent};
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::append;
use crate::database::{EventDb, WriteGate};

/// The most rows a writer puts in one statement (a command with more is
/// still written whole, alone).
pub const MAX_BATCH_ROWS: usize = 512;

/// Writers of one PostgreSQL store: enough that a batch is on its way
/// while the next forms, few enough that batches form under load.
const POSTGRES_WRITERS: usize = 3;

/// SQLite takes one writer at a time.
const SQLITE_WRITERS: usize = 1;

/// Appends waiting for a writer before senders wait too.
const QUEUE: usize = 4096;

struct Append {
    events: Vec<SerializedEvent>,
    done: oneshot::Sender<Result<(), PersistenceError>>,
}

/// Where one database's appends go. Clones share the writers; they stop
/// once the last clone is gone and what was queued is written.
#[derive(Clone)]
pub struct Appender {
    queue: mpsc::Sender<Append>,
    target: Target,
}

impl std::fmt::Debug for Appender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appender").finish_non_exhaustive()
    }
}

/// The database a writer inserts into.
#[derive(Clone)]
struct Target {
    events: EventDb,
    gate: Option<WriteGate>,
}

impl Appender {
    /// Starts the writers of `events` on the current runtime. On SQLite,
    /// each batch is written within one turn of `gate`.
    pub fn start(events: EventDb, gate: Option<WriteGate>) -> Self {
        let writers = match events {
            EventDb::Postgres(_) => POSTGRES_WRITERS,
            EventDb::Sqlite(_) => SQLITE_WRITERS,
        };
        let (queue, waiting) = mpsc::channel(QUEUE);
        let target = Target { events, gate };
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..writers {
            tokio::spawn(write_batches(waiting.clone(), target.clone()));
        }
        Self { queue, target }
    }

    /// Appends one command's events atomically: all are stored or none.
    /// `OptimisticLockError` when another writer took one of their
    /// versions first.
    pub async fn append(&self, events: Vec<SerializedEvent>) -> Result<(), PersistenceError> {
        if events.is_empty() {
            return Ok(());
        }
        let (done, outcome) = oneshot::channel();
        match self.queue.send(Append { events, done }).await {
            Ok(()) => outcome.await.unwrap_or_else(|_| {
                Err(unknown_outcome(
                    "the writer stopped with the append in hand (its runtime shut down)",
                ))
            }),
            // The writers are gone with the runtime they were started on:
            // this caller writes its events itself.
            Err(mpsc::error::SendError(append)) => self.target.write(&[&append.events]).await.remove(0),
        }
    }

    /// Writes several commands' events as one batch, as a writer does, and
    /// answers each command's outcome in order.
    pub async fn append_together(&self, commands: &[Vec<SerializedEvent>]) -> Vec<Result<(), PersistenceError>> {
        let commands: Vec<&[SerializedEvent]> = commands.iter().map(Vec::as_slice).collect();
        self.target.write(&commands).await
    }
}

/// One writer: takes what waits, writes it, answers, again, until every
/// sender is gone.
async fn write_batches(waiting: Arc<Mutex<mpsc::Receiver<Append>>>, target: Target) {
    loop {
        let batch = {
            let mut waiting = waiting.lock().await;
            let Some(first) = waiting.recv().await else {
                return;
            };
            let mut rows = first.events.len();
            let mut batch = vec![first];
            while rows < MAX_BATCH_ROWS {
                match waiting.try_recv() {
                    Ok(next) => {
                        rows += next.events.len();
                        batch.push(next);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        metrics::histogram!("switchboard_event_store_batch_commands").record(batch.len() as f64);
        let commands: Vec<&[SerializedEvent]> = batch.iter().map(|a| a.events.as_slice()).collect();
        let outcomes = target.write(&commands).await;
        for (append, outcome) in batch.into_iter().zip(outcomes) {
            // A caller that went away no longer wants its answer; its
            // events are stored all the same.
            let _ = append.done.send(outcome);
        }
    }
}

impl Target {
    /// Writes the commands as one statement; if the database refuses it,
    /// each command alone. One outcome per command, in order.
    async fn write(&self, commands: &[&[SerializedEvent]]) -> Vec<Result<(), PersistenceError>> {
        let rows: Vec<&SerializedEvent> = commands.iter().flat_map(|c| c.iter()).collect();
        match self.insert(&rows).await {
            Ok(()) => commands.iter().map(|_| Ok(())).collect(),
            Err(refused) if commands.len() == 1 => vec![Err(refused)],
            Err(PersistenceError::ConnectionError(lost)) => {
                let lost = lost.to_string();
                commands.iter().map(|_| Err(unknown_outcome(&lost))).collect()
            }
            Err(_) => {
                let mut outcomes = Vec::with_capacity(commands.len());
                for command in commands {
                    let rows: Vec<&SerializedEvent> = command.iter().collect();
                    outcomes.push(self.insert(&rows).await);
                }
                outcomes
            }
        }
    }

    async fn insert(&self, rows: &[&SerializedEvent]) -> Result<(), PersistenceError> {
        match &self.events {
            EventDb::Postgres(pool) => append::append_postgres(pool, rows).await,
            EventDb::Sqlite(pool) => {
                let _turn = match &self.gate {
                    Some(gate) => Some(gate.lock().await),
                    None => None,
                };
                append::append_sqlite(pool, rows).await
            }
        }
    }
}

fn unknown_outcome(why: &str) -> PersistenceError {
    PersistenceError::ConnectionError(Box::new(std::io::Error::other(format!(
        "whether the events were stored is unknown: {why}"
    ))))
}
