//! The hash chain over the event store, kept as a projection: every event is
//! sealed with a hash chained to its aggregate's previous event, and linked
//! into its organisation's chain. `verify` recomputes both from the store.

use application::audit::{self, Finding, GENESIS, Report};
use application::feed::{EventLog, StoredEvent};
use async_trait::async_trait;
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::HashMap;

use crate::bulk::Rows;
use crate::{ProjectionError, Projector};

pub struct AuditChain;

/// Every aggregate type there is: the chain covers all events.
pub const ALL_TYPES: &[&str] = &[
    "organisation",
    "user",
    "user_address",
    "login",
    "api_key",
    "integration",
    "integration_permission",
    "phone_numbers",
    "email_account",
    "outbound_email",
    "inbound_email",
    "customer",
    "call",
    "webhook_endpoint",
    "masked_session",
    "outbound_message",
    "sms_template",
    "inbound_message",
    "whatsapp_template",
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
        self.apply_all(conn, &[event]).await
    }

    /// Seals a batch with two lookups and multi-row inserts, whatever its size.
    async fn apply_all(&self, conn: &mut AnyConnection, events: &[&StoredEvent]) -> Result<(), ProjectionError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut previous = previous_hashes(conn, events).await?;
        let mut heads = HashMap::new();
        let mut rows = Vec::with_capacity(events.len());
        for event in events {
            let aggregate = (event.aggregate_type.clone(), event.aggregate_id.clone());
            let before = previous
                .get(&aggregate)
                .map(|(_, hash)| hash.as_str())
                .unwrap_or(GENESIS);
            let hash = audit::event_hash(before, event);
            let organisation = organisation_of(event);
            if !heads.contains_key(&organisation) {
                heads.insert(organisation.clone(), chain_head(conn, &organisation).await?);
            }
            let (index, chain) = heads.get(&organisation).cloned().unwrap_or((0, GENESIS.to_string()));
            let link = audit::chain_hash(&chain, &hash);
            heads.insert(organisation.clone(), (index + 1, link.clone()));
            previous.insert(aggregate, (event.sequence, hash.clone()));
            rows.push(SealRow {
                event,
                organisation,
                hash,
                index: index + 1,
                chain: link,
            });
        }
        insert_rows(conn, &rows).await
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        // On PostgreSQL a DELETE would leave every old row as a dead index
        // entry for the rest of the rebuild's transaction, and each chain
        // head lookup would walk them all.
        let sql = if conn.backend_name() == "PostgreSQL" {
            "TRUNCATE event_hashes"
        } else {
            "DELETE FROM event_hashes"
        };
        sqlx::query(sql).execute(conn).await?;
        Ok(())
    }
}

struct SealRow<'a> {
    event: &'a StoredEvent,
    organisation: String,
    hash: String,
    index: i64,
    chain: String,
}

/// The last sealed hash of each aggregate in the batch, before the batch:
/// the hash of the version just before the aggregate's first event in it
/// (batches arrive in order and without gaps), looked up by primary key,
/// so the cost does not grow with the aggregate's history.
async fn previous_hashes(
    conn: &mut AnyConnection,
    events: &[&StoredEvent],
) -> Result<HashMap<(String, String), (i64, String)>, ProjectionError> {
    let mut wanted: HashMap<(&str, &str), i64> = HashMap::new();
    for event in events {
        let key = (event.aggregate_type.as_str(), event.aggregate_id.as_str());
        let before = event.sequence - 1;
        wanted
            .entry(key)
            .and_modify(|s| *s = (*s).min(before))
            .or_insert(before);
    }
    wanted.retain(|_, before| *before > 0);
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let keys = (0..wanted.len())
        .map(|i| {
            let n = i * 3;
            format!("(${}, ${}, ${})", n + 1, n + 2, n + 3)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT h.aggregate_type, h.aggregate_id, h.sequence, h.hash FROM event_hashes h \
         JOIN (VALUES {keys}) AS k \
         ON h.aggregate_type = k.column1 AND h.aggregate_id = k.column2 AND h.sequence = k.column3"
    );
    let mut query = sqlx::query(&sql);
    for ((aggregate_type, aggregate_id), before) in &wanted {
        query = query.bind(*aggregate_type).bind(*aggregate_id).bind(*before);
    }
    let mut latest = HashMap::new();
    for row in query.fetch_all(conn).await? {
        let key = (row.try_get(0)?, row.try_get(1)?);
        latest.insert(key, (row.try_get(2)?, row.try_get(3)?));
    }
    Ok(latest)
}

/// The index and hash at the head of an organisation's chain.
async fn chain_head(conn: &mut AnyConnection, organisation: &str) -> Result<(i64, String), ProjectionError> {
    let head = sqlx::query(
        "SELECT chain_index, chain_hash FROM event_hashes WHERE organisation_id = $1 ORDER BY chain_index DESC LIMIT 1",
    )
    .bind(organisation)
    .fetch_optional(conn)
    .await?;
    Ok(match head {
        Some(row) => (row.try_get(0)?, row.try_get(1)?),
        None => (0, GENESIS.to_string()),
    })
}

async fn insert_rows(conn: &mut AnyConnection, rows: &[SealRow<'_>]) -> Result<(), ProjectionError> {
    let mut insert = Rows::new(
        "INSERT INTO event_hashes (aggregate_type, aggregate_id, sequence, organisation_id, hash, chain_index, chain_hash)",
        "",
    );
    for row in rows {
        insert.push([
            (&row.event.aggregate_type).into(),
            (&row.event.aggregate_id).into(),
            row.event.sequence.into(),
            (&row.organisation).into(),
            (&row.hash).into(),
            row.index.into(),
            (&row.chain).into(),
        ]);
    }
    insert.write(conn).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::Aggregate;

    #[test]
    fn the_chain_covers_every_aggregate_type() {
        let every = [
            domain::organisation::Organisation::TYPE,
            domain::user::User::TYPE,
            domain::user::address::UserAddress::TYPE,
            domain::login::LoginHistory::TYPE,
            domain::api_key::ApiKey::TYPE,
            domain::integration::Integration::TYPE,
            domain::integration_permission::IntegrationPermission::TYPE,
            domain::phone_numbers::PhoneNumbers::TYPE,
            domain::email_account::EmailAccount::TYPE,
            domain::outbound_email::OutboundEmail::TYPE,
            domain::inbound_email::InboundEmail::TYPE,
            domain::customer::Customer::TYPE,
            domain::call::Call::TYPE,
            domain::webhook_endpoint::WebhookEndpoint::TYPE,
            domain::masked_session::MaskedSession::TYPE,
            domain::outbound_message::OutboundMessage::TYPE,
            domain::sms_template::SmsTemplate::TYPE,
            domain::inbound_message::InboundMessage::TYPE,
            domain::whatsapp_template::WhatsappTemplate::TYPE,
        ];
        let mut listed: Vec<&str> = ALL_TYPES.to_vec();
        let mut expected = every.to_vec();
        listed.sort_unstable();
        expected.sort_unstable();
        assert_eq!(listed, expected);
    }
}
