//! One connection, whatever carries it: subscribe to the hub, replay what
//! the client missed, then follow the live changes it may see, with
//! heartbeats that check its credential again.
//!
//! The session runs in a task of its own and hands its messages to the
//! transport through a small bounded queue. Once live, a full queue makes
//! it wait with its place in the hub's broadcast buffer (shared by every
//! connection of the process, `SWITCHBOARD_REALTIME_BUFFER` changes): a
//! client that falls behind the whole buffer is told to resync, and one
//! that takes nothing at all is disconnected by its transport. So a slow
//! client costs its own queue and its place in the buffer, never another
//! client's time.

use futures::StreamExt;
use futures::stream::BoxStream;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};

use infrastructure::feed::live::Cursor;

use super::hub::{Hub, Pushed, Start, Viewer};
use super::message::{ClosedReason, ControlMessage, ResyncReason};
use crate::auth::Credential;
use crate::extract::RequestContext;
use crate::state::AppState;

/// Messages a connection may have waiting for its transport.
pub const QUEUE: usize = 256;
/// Events of its organisation a reconnection may scan at most; a client
/// further behind is told to resync.
pub const REPLAY_LIMIT: usize = 10_000;
/// Events read per replay query.
const REPLAY_PAGE: usize = 500;
/// How long a new connection waits for the hub's feed to open (at start-up).
const FEED_WAIT: Duration = Duration::from_secs(10);
/// How long a replay waits for the client to take a message.
const REPLAY_STALL: Duration = Duration::from_secs(10);

/// What a session hands its transport.
#[derive(Debug)]
pub enum Outgoing {
    Change(Arc<Pushed>),
    Control(ControlMessage),
    /// Time for a heartbeat (a `heartbeat` message, or an SSE comment).
    Heartbeat,
}

impl Outgoing {
    fn resync(reason: ResyncReason) -> Self {
        Self::Control(ControlMessage::Resync { reason })
    }

    fn closed(reason: ClosedReason) -> Self {
        Self::Control(ControlMessage::Closed { reason })
    }
}

/// The session's end of the queue, and the one last message it may add
/// when the queue is full or closing.
struct Outbox {
    queue: mpsc::Sender<Outgoing>,
    last: oneshot::Sender<Outgoing>,
}

/// A queue of `capacity`: the sending end, and the stream of everything
/// queued followed by the last message.
fn outbox(capacity: usize) -> (Outbox, BoxStream<'static, Outgoing>) {
    let (queue, receiver) = mpsc::channel(capacity);
    let (last, last_receiver) = oneshot::channel();
    let queued = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    let final_message = futures::stream::once(last_receiver).filter_map(|last| async move { last.ok() });
    (Outbox { queue, last }, queued.chain(final_message).boxed())
}

impl Outbox {
    /// Queues without waiting; `false` when the queue is full or gone.
    fn push(&self, item: Outgoing) -> bool {
        self.queue.try_send(item).is_ok()
    }

    /// Queues without waiting; the item back when the queue is full (a
    /// queue that is gone takes it and drops it).
    fn offer(&self, item: Outgoing) -> Option<Outgoing> {
        match self.queue.try_send(item) {
            Err(mpsc::error::TrySendError::Full(item)) => Some(item),
            _ => None,
        }
    }

    /// Queues, waiting a bounded time for room; `false` when the client
    /// took nothing for that long or is gone.
    async fn send(&self, item: Outgoing) -> bool {
        matches!(
            tokio::time::timeout(REPLAY_STALL, self.queue.send(item)).await,
            Ok(Ok(()))
        )
    }

    /// Ends the stream after what is queued and `last`.
    fn finish(self, last: Option<Outgoing>) {
        if let Some(last) = last {
            let _ = self.last.send(last);
        }
    }
}

/// Counts the open connections while it lives.
struct Connected;

impl Connected {
    fn open() -> Self {
        metrics::gauge!("switchboard_realtime_connections").increment(1.0);
        Self
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        metrics::gauge!("switchboard_realtime_connections").decrement(1.0);
    }
}

fn dropped(reason: &'static str) {
    metrics::counter!("switchboard_realtime_dropped_total", "reason" => reason).increment(1);
}

/// An authenticated connection about to start.
pub struct Session {
    pub state: Arc<AppState>,
    pub viewer: Viewer,
    pub credential: Credential,
    pub context: RequestContext,
    pub last_event_id: Option<i64>,
}

impl Session {
    /// Starts the session's task; its messages, ending after the last.
    pub fn open(self) -> BoxStream<'static, Outgoing> {
        let (outbox, messages) = outbox(QUEUE);
        let live = self.state.realtime.subscribe();
        tokio::spawn(self.run(outbox, live));
        messages
    }

    async fn run(mut self, outbox: Outbox, live: broadcast::Receiver<Arc<Pushed>>) {
        let _connected = Connected::open();
        let hub = self.state.realtime.clone();
        let last = match self.catch_up(&hub, &outbox).await {
            Ok(cursor) => self.follow(&hub, live, cursor, &outbox).await,
            Err(last) => last,
        };
        outbox.finish(last);
    }

    /// Replays what followed the client's `last_event_id` and says ready;
    /// the cursor live changes must come after. The hub was subscribed to
    /// before, so nothing falls between the two.
    async fn catch_up(&self, hub: &Hub, outbox: &Outbox) -> Result<Cursor, Option<Outgoing>> {
        let unavailable = |error: application::error::StoreError| {
            tracing::warn!(%error, "a realtime connection could not read the store");
            Some(Outgoing::closed(ClosedReason::Unavailable))
        };
        if !hub.opened(FEED_WAIT).await {
            tracing::warn!("the realtime feed is not open; a connection is turned away");
            return Err(Some(Outgoing::closed(ClosedReason::Unavailable)));
        }
        let mut last = match hub.start(self.last_event_id).await.map_err(unavailable)? {
            Start::After(cursor) => cursor,
            Start::Unknown => return Err(Some(Outgoing::resync(ResyncReason::UnknownEventId))),
        };
        if self.last_event_id.is_some() {
            let mut scanned = 0;
            loop {
                let page = hub.replay(&self.viewer, last, REPLAY_PAGE).await.map_err(unavailable)?;
                for pushed in page.visible {
                    if !outbox.send(Outgoing::Change(pushed)).await {
                        dropped("slow_replay");
                        return Err(Some(Outgoing::resync(ResyncReason::FellBehind)));
                    }
                }
                last = page.last;
                scanned += page.scanned;
                if page.scanned < REPLAY_PAGE {
                    break;
                }
                if scanned >= REPLAY_LIMIT {
                    return Err(Some(Outgoing::resync(ResyncReason::BacklogTooLong)));
                }
            }
        }
        let ready = ControlMessage::Ready {
            last_event_id: last.position.to_string(),
        };
        if !outbox.send(Outgoing::Control(ready)).await {
            return Err(None);
        }
        Ok(last)
    }

    /// Forwards live changes after `last` that the viewer may see, until
    /// the client goes, falls behind, loses its credential, or the process
    /// stops; the message to end with.
    ///
    /// When the queue is full the session stops taking from the hub until
    /// the transport makes room: the hub's broadcast buffer, shared by every
    /// connection, holds what follows, so a burst longer than the queue is
    /// delivered late, not lost. A client that falls behind the whole
    /// buffer is told to resync.
    async fn follow(
        &mut self,
        hub: &Hub,
        mut live: broadcast::Receiver<Arc<Pushed>>,
        mut last: Cursor,
        outbox: &Outbox,
    ) -> Option<Outgoing> {
        let period = Duration::from_secs(self.state.settings.realtime_heartbeat_secs.max(1));
        let mut heartbeat = tokio::time::interval_at(Instant::now() + period, period);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut waiting: Option<Outgoing> = None;
        loop {
            tokio::select! {
                biased;
                _ = hub.closing().cancelled() => return Some(Outgoing::closed(ClosedReason::ShuttingDown)),
                _ = outbox.queue.closed() => return None,
                _ = heartbeat.tick() => {
                    if !self.still_valid().await {
                        return Some(Outgoing::closed(ClosedReason::Unauthenticated));
                    }
                    // A full queue already has something on its way.
                    if waiting.is_none() {
                        let _ = outbox.push(Outgoing::Heartbeat);
                    }
                }
                room = outbox.queue.reserve(), if waiting.is_some() => match (room, waiting.take()) {
                    (Ok(room), Some(item)) => room.send(item),
                    _ => return None,
                },
                received = live.recv(), if waiting.is_none() => match received {
                    Ok(pushed) if pushed.cursor > last => {
                        last = pushed.cursor;
                        if !self.viewer.sees(&pushed) {
                            continue;
                        }
                        metrics::counter!("switchboard_realtime_pushed_total").increment(1);
                        waiting = outbox.offer(Outgoing::Change(pushed));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        dropped("lagged");
                        return Some(Outgoing::resync(ResyncReason::FellBehind));
                    }
                    Err(RecvError::Closed) => return Some(Outgoing::closed(ClosedReason::ShuttingDown)),
                },
            }
        }
    }

    /// Checks the credential again, as every request would: an expired
    /// token, an ended session, a deactivated user or a revoked key ends
    /// the connection; a role change applies from now on. A store that
    /// cannot answer keeps the connection until the next heartbeat.
    async fn still_valid(&mut self) -> bool {
        match self.credential.check(&self.state, self.context.clone()).await {
            Ok(caller) => {
                self.viewer.role = caller.role;
                Viewer::may_listen(caller.role)
            }
            Err(error) => error.status != axum::http::StatusCode::UNAUTHORIZED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_refuses_without_waiting_and_the_last_message_still_comes_after_the_queue() {
        let (outbox, mut messages) = outbox(2);
        assert!(outbox.push(Outgoing::Heartbeat));
        assert!(outbox.push(Outgoing::Heartbeat));
        assert!(!outbox.push(Outgoing::Heartbeat), "the third does not fit");
        outbox.finish(Some(Outgoing::resync(ResyncReason::FellBehind)));
        let mut seen = Vec::new();
        while let Some(item) = messages.next().await {
            seen.push(item);
        }
        assert_eq!(seen.len(), 3);
        assert!(matches!(
            seen[2],
            Outgoing::Control(ControlMessage::Resync {
                reason: ResyncReason::FellBehind
            })
        ));
    }

    #[tokio::test]
    async fn a_stream_dropped_by_its_transport_closes_the_queue() {
        let (outbox, messages) = outbox(2);
        drop(messages);
        assert!(!outbox.push(Outgoing::Heartbeat));
        tokio::time::timeout(Duration::from_secs(1), outbox.queue.closed())
            .await
            .unwrap();
    }
}
