//! Between polls: IDLE on the first watched folder where the server offers
//! it (re-issued before servers drop it), else a sleep of the account's
//! poll interval. Either wakes early for "poll now" or shutdown.

use async_imap::extensions::idle::IdleResponse;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::super::imap::ImapSession;
use super::PollError;
use super::hub::PollRequest;

/// Why the wait ended.
#[derive(Debug)]
pub(super) enum Woken {
    /// The server reported a change (new mail, most likely).
    Mail,
    /// The wait's time ran out.
    Timeout,
    /// Someone asked for a poll now.
    Request(PollRequest),
    /// The poller is being stopped.
    Stopped,
}

/// Waits up to `timeout` for a change (`idle`) or just the time, a request
/// or shutdown; the session comes back out of IDLE.
pub(super) async fn wait(
    session: ImapSession,
    idle: bool,
    timeout: Duration,
    command_timeout: Duration,
    requests: &mut mpsc::Receiver<PollRequest>,
    stop: &CancellationToken,
) -> Result<(ImapSession, Woken), PollError> {
    if !idle {
        let woken = tokio::select! {
            _ = tokio::time::sleep(timeout) => Woken::Timeout,
            request = requests.recv() => request.map_or(Woken::Stopped, Woken::Request),
            _ = stop.cancelled() => Woken::Stopped,
        };
        return Ok((session, woken));
    }
    let mut handle = session.idle();
    bounded(command_timeout, handle.init()).await?;
    let woken = {
        let (changes, _interrupt) = handle.wait_with_timeout(timeout);
        tokio::select! {
            changed = changes => match changed.map_err(PollError::imap)? {
                IdleResponse::NewData(_) => Woken::Mail,
                IdleResponse::Timeout | IdleResponse::ManualInterrupt => Woken::Timeout,
            },
            request = requests.recv() => request.map_or(Woken::Stopped, Woken::Request),
            _ = stop.cancelled() => Woken::Stopped,
        }
    };
    let session = bounded(command_timeout, handle.done()).await?;
    Ok((session, woken))
}

async fn bounded<T>(
    limit: Duration,
    work: impl Future<Output = Result<T, async_imap::error::Error>>,
) -> Result<T, PollError> {
    match tokio::time::timeout(limit, work).await {
        Ok(done) => done.map_err(PollError::imap),
        Err(_) => Err(PollError::imap(async_imap::error::Error::ConnectionLost)),
    }
}
