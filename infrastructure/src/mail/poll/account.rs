//! One account's poller, run while its lease is held: connect and log in
//! (recording the outcome on the account), poll, wait, poll again; on any
//! failure reconnect after a growing pause. The lease is renewed alongside
//! and its loss stops the poller.

use async_imap::types::UnsolicitedResponse;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use application::email_accounts::MailAccess;
use application::receiving::{MailSink, PollTarget};

use super::super::imap::{ImapError, ImapSession};
use super::folder::{Poll, poll_folders};
use super::hub::PollRequest;
use super::wait::{Woken, wait};
use super::{MailReceiver, PollError, PollReport, folders};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// Runs the account's poller until `stop`, the lease is lost or the account
/// no longer wants polling; renews the lease meanwhile.
pub(super) async fn run(
    receiver: &MailReceiver,
    sink: &dyn MailSink,
    target: &PollTarget,
    holder: &str,
    stop: &CancellationToken,
) {
    let lost = stop.child_token();
    let polling = poll_until_stopped(receiver, sink, target, holder, &lost);
    renewing(receiver, target.account_id, holder, &lost, polling).await;
}

/// Polls the account once under a lease the caller took.
pub(super) async fn poll_once(
    receiver: &MailReceiver,
    sink: &dyn MailSink,
    access: &MailAccess,
    holder: &str,
) -> Result<PollReport, PollError> {
    let lost = CancellationToken::new();
    let work = async {
        let mut session = connect(receiver, sink, access).await?;
        let poll = Poll {
            receiver,
            sink,
            access,
            holder,
            stop: &lost,
        };
        let report = poll_folders(&mut session, &poll).await;
        logout(session, receiver).await;
        report
    };
    renewing(receiver, access.account_id, holder, &lost, work).await
}

/// Runs `work` while renewing the lease every third of its life; when the
/// lease is lost, cancels `lost` and lets `work` wind down.
async fn renewing<T>(
    receiver: &MailReceiver,
    account_id: uuid::Uuid,
    holder: &str,
    lost: &CancellationToken,
    work: impl Future<Output = T>,
) -> T {
    let leases = &receiver.leases;
    let renewal = async {
        let every = leases.ttl / 3;
        let mut deadline = Instant::now() + leases.ttl;
        loop {
            tokio::time::sleep(every).await;
            match leases.renew(account_id, holder).await {
                Ok(true) => deadline = Instant::now() + leases.ttl,
                Ok(false) => break,
                Err(error) if Instant::now() + every < deadline => {
                    tracing::warn!(%account_id, %error, "lease not renewed; trying again");
                }
                Err(_) => break,
            }
        }
        tracing::warn!(%account_id, holder, "the mailbox lease was lost; this poller stops");
        lost.cancel();
    };
    let mut work = std::pin::pin!(work);
    tokio::select! {
        done = &mut work => done,
        () = renewal => work.await,
    }
}

async fn poll_until_stopped(
    receiver: &MailReceiver,
    sink: &dyn MailSink,
    target: &PollTarget,
    holder: &str,
    stop: &CancellationToken,
) {
    let account_id = target.account_id;
    let mut registration = receiver.hub.register(account_id);
    let mut backoff = Backoff::new(receiver.config.max_backoff);
    let mut pending: Vec<Waiting> = Vec::new();
    while !stop.is_cancelled() {
        let access = match sink.open(account_id, target.organisation_id).await {
            Ok(Some(access)) => access,
            Ok(None) => return,
            Err(error) => {
                fail(&mut pending, &error.to_string());
                backoff.wait(stop, &mut registration.requests, &mut pending).await;
                continue;
            }
        };
        let served = match connect(receiver, sink, &access).await {
            Ok(session) => {
                let mut server = Server {
                    receiver,
                    sink,
                    access: &access,
                    holder,
                    stop,
                    requests: &mut registration.requests,
                    pending: &mut pending,
                    backoff: &mut backoff,
                };
                server.serve(session).await
            }
            Err(error) => Err(error),
        };
        match served {
            Ok(()) | Err(PollError::LeaseLost | PollError::Stopped) => return,
            Err(error) => {
                tracing::warn!(%account_id, %error, "mailbox poll failed; reconnecting");
                fail(&mut pending, &error.to_string());
            }
        }
        backoff.wait(stop, &mut registration.requests, &mut pending).await;
    }
}

/// Logs in, recording the outcome on the account when it is a login's.
async fn connect(receiver: &MailReceiver, sink: &dyn MailSink, access: &MailAccess) -> Result<ImapSession, PollError> {
    let outcome = receiver.imap.session(access).await;
    let recorded = match &outcome {
        Ok(_) => sink.record_login(access, Ok(())).await,
        Err(ImapError::Login(reason)) => sink.record_login(access, Err(reason.clone())).await,
        Err(_) => Ok(()),
    };
    if let Err(error) = recorded {
        tracing::warn!(account_id = %access.account_id, %error, "a login outcome was not recorded");
    }
    Ok(outcome?)
}

async fn logout(mut session: ImapSession, receiver: &MailReceiver) {
    let _ = tokio::time::timeout(receiver.imap.tls.timeout, session.logout()).await;
}

/// The least wait between two polls, when a poll took the whole interval:
/// a slow server is not polled back to back.
const LEAST_PAUSE: Duration = Duration::from_secs(1);

/// A connected poller: polls, answers "poll now" requests, waits.
struct Server<'a> {
    receiver: &'a MailReceiver,
    sink: &'a dyn MailSink,
    access: &'a MailAccess,
    holder: &'a str,
    stop: &'a CancellationToken,
    requests: &'a mut mpsc::Receiver<PollRequest>,
    pending: &'a mut Vec<Waiting>,
    backoff: &'a mut Backoff,
}

/// A "poll now" waiting for the next poll to end, with what an earlier poll
/// recorded if the request came while that poll was running.
struct Waiting {
    reply: PollRequest,
    joined: Option<PollReport>,
}

impl Waiting {
    fn new(reply: PollRequest) -> Self {
        Self { reply, joined: None }
    }

    fn answer(self, report: &PollReport) {
        let report = match self.joined {
            Some(joined) => joined.then(report),
            None => report.clone(),
        };
        let _ = self.reply.send(Ok(report));
    }
}

impl Server<'_> {
    async fn serve(&mut self, mut session: ImapSession) -> Result<(), PollError> {
        let idle = has_idle(&mut session, self.receiver).await;
        let watched = folders(self.access);
        // IDLE wakes the poller at once for the first folder; every folder
        // is still polled each interval (other folders, a recreated one).
        // The interval is a cadence: the next poll is due one interval after
        // this one began, however long this one took.
        let interval = Duration::from_secs(self.access.settings.poll_interval_secs.max(1));
        loop {
            drain(&mut session);
            let began = Instant::now();
            let report = self.poll(&mut session).await?;
            self.backoff.reset();
            for waiting in self.pending.drain(..) {
                waiting.answer(&report);
            }
            // A request that came while the poll ran waited for it: it is
            // answered with what that poll recorded and what one more finds.
            while let Ok(reply) = self.requests.try_recv() {
                self.pending.push(Waiting {
                    reply,
                    joined: Some(report.clone()),
                });
            }
            if drain(&mut session) || !self.pending.is_empty() {
                continue;
            }
            if idle && watched.len() > 1 {
                session.select(&watched[0]).await.map_err(PollError::imap)?;
            }
            let command_timeout = self.receiver.imap.tls.timeout.saturating_mul(6);
            let timeout = interval
                .saturating_sub(began.elapsed())
                .max(LEAST_PAUSE)
                .min(self.receiver.config.idle_refresh);
            let (back, woken) = wait(session, idle, timeout, command_timeout, self.requests, self.stop).await?;
            tracing::debug!(account_id = %self.access.account_id, ?woken, "mailbox poller woke");
            session = back;
            match woken {
                Woken::Stopped => {
                    logout(session, self.receiver).await;
                    return Ok(());
                }
                Woken::Request(request) => self.pending.push(Waiting::new(request)),
                Woken::Mail | Woken::Timeout => {}
            }
        }
    }

    async fn poll(&mut self, session: &mut ImapSession) -> Result<PollReport, PollError> {
        let poll = Poll {
            receiver: self.receiver,
            sink: self.sink,
            access: self.access,
            holder: self.holder,
            stop: self.stop,
        };
        let report = poll_folders(session, &poll).await?;
        if report.new_messages + report.rejected_messages > 0 {
            tracing::info!(account_id = %self.access.account_id, ?report, "mail received");
        }
        Ok(report)
    }
}

async fn has_idle(session: &mut ImapSession, receiver: &MailReceiver) -> bool {
    let asked = tokio::time::timeout(receiver.imap.tls.timeout, session.capabilities()).await;
    matches!(asked, Ok(Ok(capabilities)) if capabilities.has_str("IDLE"))
}

/// Empties the session's unsolicited responses; whether one told of new mail.
fn drain(session: &mut ImapSession) -> bool {
    let mut new_mail = false;
    while let Ok(response) = session.unsolicited_responses.try_recv() {
        new_mail |= matches!(
            response,
            UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
        );
    }
    new_mail
}

/// Answers waiting "poll now" requests with a failure.
fn fail(pending: &mut Vec<Waiting>, error: &str) {
    for waiting in pending.drain(..) {
        let _ = waiting.reply.send(Err(error.to_string()));
    }
}

/// Growing pauses between reconnections; a "poll now" cuts the pause short
/// and is answered by the next attempt.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(max: Duration) -> Self {
        Self {
            next: FIRST_BACKOFF,
            max,
        }
    }

    fn reset(&mut self) {
        self.next = FIRST_BACKOFF;
    }

    async fn wait(
        &mut self,
        stop: &CancellationToken,
        requests: &mut mpsc::Receiver<PollRequest>,
        pending: &mut Vec<Waiting>,
    ) {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.cancelled() => {}
            request = requests.recv() => pending.extend(request.map(Waiting::new)),
        }
    }
}
