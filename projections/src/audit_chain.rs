//! The hash chain over the event store, kept as a projection: every event is
//! sealed with a hash chained to its aggregate's previous event, and linked
//! into its organisation's chain. `verify` recomputes both from the store.

use application::audit::{self, Finding, GENESIS, Report};
use application::feed::{EventLog, StoredEvent};
use async_trait::async_trait;
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::HashMap;

use crate::{ProjectionError, Projector};

pub struct AuditChain;

/// Every aggregate type there is: the chain covers all events.
pub const ALL_TYPES: &[&str] = &[
    "organisation",
    "user",
    "login",
    "api_key",
    "integration",
    "integration_permission",
];

fn organisation_of(event: &StoredEvent) -> String {
    event.metadata.get("organisation_id").cloned().unwrap_or_default()
}

#[async_trait]
impl Projector for AuditChain {
    fn name(&self) -> &'static str {
        "audit_chain"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        ALL_TYPES
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        let previous: Option<String> = sqlx::query_scalar(
            "SELECT hash FROM event_hashes WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
        )
        .bind(&event.aggregate_type)
        .bind(&event.aggregate_id)
        .bind(event.sequence - 1)
        .fetch_optional(&mut *conn)
        .await?;
        let hash = audit::event_hash(previous.as_deref().unwrap_or(GENESIS), event);
        let organisation = organisation_of(event);
        let head = sqlx::query("SELECT chain_index, chain_hash FROM event_hashes WHERE organisation_id = $1 ORDER BY chain_index DESC LIMIT 1")
            .bind(&organisation)
            .fetch_optional(&mut *conn)
            .await?;
        let (index, chain_previous) = match head {
            Some(row) => (row.try_get::<i64, _>(0)? + 1, row.try_get::<String, _>(1)?),
            None => (1, GENESIS.to_string()),
        };
        sqlx::query(
            "INSERT INTO event_hashes (aggregate_type, aggregate_id, sequence, organisation_id, hash, chain_index, chain_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&event.aggregate_type)
        .bind(&event.aggregate_id)
        .bind(event.sequence)
        .bind(&organisation)
        .bind(&hash)
        .bind(index)
        .bind(audit::chain_hash(&chain_previous, &hash))
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM event_hashes").execute(conn).await?;
        Ok(())
    }
}

type Key = (String, String, i64);

struct Sealed {
    hash: String,
    chain_index: i64,
}

async fn sealed_hashes(pool: &AnyPool, organisation: &str) -> Result<HashMap<Key, Sealed>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT aggregate_type, aggregate_id, sequence, hash, chain_index FROM event_hashes WHERE organisation_id = $1",
    )
    .bind(organisation)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let key = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            Ok((
                key,
                Sealed {
                    hash: r.try_get(3)?,
                    chain_index: r.try_get(4)?,
                },
            ))
        })
        .collect()
}

/// Walks the store and the chain of one organisation and reports every
/// altered, removed or reordered event.
pub async fn verify(
    pool: &AnyPool,
    log: &dyn EventLog,
    organisation: &str,
    on_progress: &(dyn Fn(i64) + Sync),
) -> Result<Report, ProjectionError> {
    let mut sealed = sealed_hashes(pool, organisation).await?;
    let mut report = Report::default();
    let mut heads: HashMap<(String, String), (i64, String)> = HashMap::new();
    let mut position = 0;
    loop {
        let page = log.read_after(position, 2_000).await?;
        let Some(last) = page.last() else { break };
        position = last.position;
        for event in page.iter().filter(|e| organisation_of(e) == organisation) {
            check_event(event, &mut sealed, &mut heads, &mut report);
        }
        on_progress(position);
    }
    let mut chain: Vec<(Key, Sealed)> = sealed.into_iter().collect();
    chain.sort_by_key(|(_, s)| s.chain_index);
    report.findings.extend(
        chain
            .iter()
            .filter(|(_, s)| !s.hash.is_empty())
            .map(|((t, i, s), _)| Finding::Removed {
                aggregate_type: t.clone(),
                aggregate_id: i.clone(),
                sequence: *s,
            }),
    );
    check_chain(pool, organisation, &mut report).await?;
    Ok(report)
}

fn check_event(
    event: &StoredEvent,
    sealed: &mut HashMap<Key, Sealed>,
    heads: &mut HashMap<(String, String), (i64, String)>,
    report: &mut Report,
) {
    let aggregate = (event.aggregate_type.clone(), event.aggregate_id.clone());
    let (last_sequence, previous) = heads.get(&aggregate).cloned().unwrap_or((0, GENESIS.to_string()));
    if event.sequence != last_sequence + 1 {
        report.findings.push(Finding::OutOfSequence {
            aggregate_type: aggregate.0.clone(),
            aggregate_id: aggregate.1.clone(),
            sequence: event.sequence,
            expected: last_sequence + 1,
        });
    }
    let key = (aggregate.0.clone(), aggregate.1.clone(), event.sequence);
    let Some(seal) = sealed.get_mut(&key) else {
        report.events_pending += 1;
        heads.insert(aggregate, (event.sequence, audit::event_hash(&previous, event)));
        return;
    };
    report.events_checked += 1;
    let stored_hash = std::mem::take(&mut seal.hash);
    let recomputed = audit::event_hash(&previous, event);
    if recomputed != stored_hash {
        report.findings.push(Finding::Altered {
            aggregate_type: key.0,
            aggregate_id: key.1,
            sequence: key.2,
        });
    }
    // Chain on from the sealed hash, so one altered event is one finding.
    heads.insert(aggregate, (event.sequence, stored_hash));
}

async fn check_chain(pool: &AnyPool, organisation: &str, report: &mut Report) -> Result<(), ProjectionError> {
    let rows = sqlx::query(
        "SELECT chain_index, hash, chain_hash FROM event_hashes WHERE organisation_id = $1 ORDER BY chain_index",
    )
    .bind(organisation)
    .fetch_all(pool)
    .await?;
    let mut previous = GENESIS.to_string();
    for (expected, row) in (1..).zip(rows.iter()) {
        let index: i64 = row.try_get(0)?;
        let hash: String = row.try_get(1)?;
        let chain: String = row.try_get(2)?;
        if index != expected || audit::chain_hash(&previous, &hash) != chain {
            report.findings.push(Finding::ChainBroken { chain_index: index });
        }
        previous = chain;
    }
    report.chain_head = (!rows.is_empty()).then_some(previous);
    Ok(())
}
