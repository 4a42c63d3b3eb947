//! One poll of an account's folders: for each, the UIDs above its cursor
//! (all of them again when UIDVALIDITY changed), fetched in bounded
//! batches, recorded in UID order, the cursor moved after each batch.
//! Messages recorded before the cursor moved are fetched again after a
//! crash and recognised as duplicates.

use futures::{StreamExt, TryStreamExt};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use application::email_accounts::MailAccess;
use application::inbound_email::{Fetched, Ingested};
use application::receiving::MailSink;
use domain::inbound_email::{MailPosition, RejectReason};

use super::super::imap::ImapSession;
use super::super::parse::{header_message_id, parse};
use super::{Cursor, MailReceiver, PollError, PollReport, folders};

/// Most messages fetched in one command.
const BATCH_MESSAGES: usize = 100;
/// Most bytes fetched in one command (a larger message goes alone).
const BATCH_BYTES: u64 = 16 * 1024 * 1024;
/// Messages of a batch parsed at once (in order of UID all the same).
const PARALLEL_PARSES: usize = 4;

/// What a poll works with.
pub(super) struct Poll<'a> {
    pub receiver: &'a MailReceiver,
    pub sink: &'a dyn MailSink,
    pub access: &'a MailAccess,
    pub holder: &'a str,
    pub stop: &'a CancellationToken,
}

impl Poll<'_> {
    /// Time allowed for one IMAP command, a batch fetch included.
    fn command_timeout(&self) -> Duration {
        self.receiver.imap.tls.timeout.saturating_mul(6)
    }

    async fn within<T, E>(&self, work: impl Future<Output = Result<T, E>>) -> Result<T, PollError>
    where
        E: Into<PollError>,
    {
        match tokio::time::timeout(self.command_timeout(), work).await {
            Ok(done) => done.map_err(Into::into),
            Err(_) => Err(PollError::Imap(super::ImapError::Protocol(
                "the server stopped answering".into(),
            ))),
        }
    }
}

impl From<async_imap::error::Error> for PollError {
    fn from(error: async_imap::error::Error) -> Self {
        PollError::imap(error)
    }
}

/// Polls every watched folder once.
pub(super) async fn poll_folders(session: &mut ImapSession, poll: &Poll<'_>) -> Result<PollReport, PollError> {
    let started = Instant::now();
    let mut report = PollReport::default();
    for folder in folders(poll.access) {
        sync_folder(session, poll, &folder, &mut report).await?;
    }
    report.poll_duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report.last_polled_at = chrono::Utc::now();
    Ok(report)
}

async fn sync_folder(
    session: &mut ImapSession,
    poll: &Poll<'_>,
    folder: &str,
    report: &mut PollReport,
) -> Result<(), PollError> {
    let account_id = poll.access.account_id;
    let mailbox = poll.within(session.select(folder)).await?;
    let uidvalidity = mailbox
        .uid_validity
        .ok_or_else(|| PollError::NoUidValidity(folder.into()))?;
    let stored = poll.receiver.cursors.get(account_id, folder).await?;
    let mut cursor = match stored {
        Some(c) if c.uidvalidity == uidvalidity => c,
        Some(old) => {
            tracing::info!(%account_id, folder, old = old.uidvalidity, new = uidvalidity, "UIDVALIDITY changed; reading the folder again");
            Cursor {
                uidvalidity,
                last_uid: 0,
            }
        }
        None => Cursor {
            uidvalidity,
            last_uid: 0,
        },
    };
    let nothing_new = mailbox.exists == 0 || mailbox.uid_next.is_some_and(|next| next <= cursor.last_uid + 1);
    if !nothing_new {
        let listed = list_new(session, poll, cursor.last_uid).await?;
        for batch in batches(&listed) {
            cursor.last_uid = fetch_and_record(session, poll, folder, uidvalidity, &batch, report).await?;
            save(poll, folder, cursor).await?;
        }
    }
    if stored != Some(cursor) {
        save(poll, folder, cursor).await?;
    }
    Ok(())
}

async fn save(poll: &Poll<'_>, folder: &str, cursor: Cursor) -> Result<(), PollError> {
    let cursors = &poll.receiver.cursors;
    match cursors
        .save(poll.access.account_id, folder, cursor, poll.holder)
        .await?
    {
        true => Ok(()),
        false => Err(PollError::LeaseLost),
    }
}

/// UIDs above `after`, with their sizes, in UID order.
async fn list_new(session: &mut ImapSession, poll: &Poll<'_>, after: u32) -> Result<Vec<(u32, u64)>, PollError> {
    let range = format!("{}:*", after + 1);
    let fetches: Vec<_> = poll
        .within(async {
            session
                .uid_fetch(&range, "(UID RFC822.SIZE)")
                .await?
                .try_collect()
                .await
        })
        .await?;
    let mut listed: Vec<(u32, u64)> = fetches
        .iter()
        .filter_map(|f| Some((f.uid?, u64::from(f.size.unwrap_or(0)))))
        .filter(|(uid, _)| *uid > after)
        .collect();
    listed.sort_unstable();
    listed.dedup_by_key(|(uid, _)| *uid);
    Ok(listed)
}

/// Consecutive runs of at most [`BATCH_MESSAGES`] and [`BATCH_BYTES`].
fn batches(listed: &[(u32, u64)]) -> Vec<Vec<(u32, u64)>> {
    let mut all: Vec<Vec<(u32, u64)>> = Vec::new();
    let mut bytes = 0;
    for &(uid, size) in listed {
        let full = all
            .last()
            .is_none_or(|b| b.len() >= BATCH_MESSAGES || (bytes + size > BATCH_BYTES && !b.is_empty()));
        if full {
            all.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(batch) = all.last_mut() {
            batch.push((uid, size));
        }
    }
    all
}

/// `1:3,7,9:10` for 1, 2, 3, 7, 9, 10 (sorted UIDs).
fn uid_set(uids: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(u32, u32)> = None;
    for &uid in uids {
        run = match run {
            Some((first, last)) if uid == last + 1 => Some((first, uid)),
            Some(done) => {
                parts.push(range_text(done));
                Some((uid, uid))
            }
            None => Some((uid, uid)),
        };
    }
    parts.extend(run.map(range_text));
    parts.join(",")
}

fn range_text((first, last): (u32, u32)) -> String {
    match first == last {
        true => first.to_string(),
        false => format!("{first}:{last}"),
    }
}

/// Fetches one batch (bodies, or headers of messages over the size limit)
/// and records them in UID order; the highest UID recorded.
async fn fetch_and_record(
    session: &mut ImapSession,
    poll: &Poll<'_>,
    folder: &str,
    uidvalidity: u32,
    batch: &[(u32, u64)],
    report: &mut PollReport,
) -> Result<u32, PollError> {
    let limit = poll.receiver.config.max_message_bytes;
    let (large, small): (Vec<_>, Vec<_>) = batch.iter().partition(|(_, size)| *size > limit);
    let mut fetched = fetch(session, poll, &small, "BODY.PEEK[]").await?;
    fetched.extend(fetch(session, poll, &large, "BODY.PEEK[HEADER]").await?);
    fetched.sort_by_key(|(uid, _)| *uid);
    if fetched.len() < batch.len() {
        tracing::info!(
            folder,
            listed = batch.len(),
            fetched = fetched.len(),
            "some messages were expunged before they could be fetched"
        );
    }
    if poll.stop.is_cancelled() {
        return Err(PollError::Stopped);
    }
    let Some(last) = fetched.last().map(|(uid, _)| *uid) else {
        return Ok(batch.first().map_or(0, |(uid, _)| uid.saturating_sub(1)));
    };
    let understood = fetched.into_iter().map(|(uid, bytes)| {
        let size = batch.iter().find(|(u, _)| *u == uid).map_or(0, |(_, s)| *s);
        let position = MailPosition {
            folder: folder.to_string(),
            uidvalidity,
            uid,
        };
        async move {
            let message = match size > limit {
                true => too_large(&bytes, size, limit),
                false => parsed(poll, bytes).await?,
            };
            Ok::<_, PollError>((position, message))
        }
    });
    let messages: Vec<_> = futures::stream::iter(understood)
        .buffered(PARALLEL_PARSES)
        .try_collect()
        .await?;
    let outcomes: Vec<Ingested> = poll.sink.ingest(poll.access, messages).await?;
    for outcome in outcomes {
        report.count(outcome);
    }
    Ok(last)
}

/// The UIDs' `item` (a body or a header section), by UID.
async fn fetch(
    session: &mut ImapSession,
    poll: &Poll<'_>,
    batch: &[&(u32, u64)],
    item: &str,
) -> Result<Vec<(u32, Vec<u8>)>, PollError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let uids: Vec<u32> = batch.iter().map(|(uid, _)| *uid).collect();
    let query = format!("(UID {item})");
    let set = uid_set(&uids);
    let fetches: Vec<_> = poll
        .within(async { session.uid_fetch(&set, &query).await?.try_collect().await })
        .await?;
    let header = item.contains("HEADER");
    Ok(fetches
        .iter()
        .filter_map(|f| {
            let bytes = if header { f.header() } else { f.body() };
            Some((f.uid?, bytes?.to_vec()))
        })
        .filter(|(uid, _)| uids.contains(uid))
        .collect())
}

fn too_large(header: &[u8], size: u64, limit: u64) -> Fetched {
    Fetched::Rejected {
        message_id: header_message_id(header),
        sha256: None,
        size,
        reason: RejectReason::TooLarge { limit_bytes: limit },
        detail: format!("{size} bytes is over the {limit}-byte limit; not fetched"),
    }
}

/// Parses off the async threads; a parser that panics rejects the message
/// instead of stopping the poller.
async fn parsed(poll: &Poll<'_>, raw: Vec<u8>) -> Result<Fetched, PollError> {
    let store = poll.receiver.attachments.clone();
    let limit = poll.receiver.config.max_attachment_bytes;
    let size = raw.len() as u64;
    let sha256 = super::super::attachments::sha256_hex(&raw);
    match tokio::task::spawn_blocking(move || parse(&raw, &store, limit)).await {
        Ok(parsed) => Ok(parsed?),
        Err(failure) => Ok(Fetched::Rejected {
            message_id: None,
            sha256: Some(sha256),
            size,
            reason: RejectReason::Unparseable,
            detail: format!("the MIME parser failed: {failure}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_collapse_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn batches_are_bounded_by_count_and_bytes_and_a_large_message_goes_alone() {
        let many: Vec<(u32, u64)> = (1..=250).map(|uid| (uid, 10)).collect();
        let sizes: Vec<usize> = batches(&many).iter().map(Vec::len).collect();
        assert_eq!(sizes, [100, 100, 50]);
        let big = [(1, 10), (2, BATCH_BYTES), (3, 10)];
        let split: Vec<Vec<u32>> = batches(&big).iter().map(|b| b.iter().map(|x| x.0).collect()).collect();
        assert_eq!(split, [vec![1], vec![2], vec![3]]);
    }
}
