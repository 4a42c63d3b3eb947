//! The pollers running in this process, by account, so that "poll now"
//! goes through the poller that holds the account's lease and connection
//! instead of opening a second one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::PollReport;

/// A request to poll at once; the poller answers after its next poll.
pub type PollRequest = oneshot::Sender<Result<PollReport, String>>;

type Registry = HashMap<Uuid, (u64, mpsc::Sender<PollRequest>)>;

/// Senders to this process's running pollers.
#[derive(Debug, Clone, Default)]
pub struct PollerHub {
    pollers: Arc<Mutex<Registry>>,
    next: Arc<AtomicU64>,
}

/// A poller's place in the hub; dropping it leaves the hub.
#[derive(Debug)]
pub struct Registration {
    hub: PollerHub,
    account_id: Uuid,
    number: u64,
    pub requests: mpsc::Receiver<PollRequest>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let (account_id, number) = (self.account_id, self.number);
        self.hub.with(|map| {
            if map.get(&account_id).is_some_and(|(n, _)| *n == number) {
                map.remove(&account_id);
            }
        });
    }
}

impl PollerHub {
    fn with<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        let mut guard = match self.pollers.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Registers a poller for the account, replacing any older one.
    pub fn register(&self, account_id: Uuid) -> Registration {
        let (sender, requests) = mpsc::channel(16);
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        self.with(|map| map.insert(account_id, (number, sender)));
        Registration {
            hub: self.clone(),
            account_id,
            number,
            requests,
        }
    }

    /// Whether a poller of this process has the account.
    pub fn has(&self, account_id: Uuid) -> bool {
        self.with(|map| map.contains_key(&account_id))
    }

    /// Asks this process's poller of the account to poll now; `None` when
    /// no poller of this process has the account.
    pub fn request(&self, account_id: Uuid) -> Option<oneshot::Receiver<Result<PollReport, String>>> {
        let sender = self.with(|map| map.get(&account_id).map(|(_, s)| s.clone()))?;
        let (reply, answer) = oneshot::channel();
        sender.try_send(reply).ok()?;
        Some(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_reaches_the_registered_poller_and_not_after_it_left() {
        let hub = PollerHub::default();
        let account = Uuid::from_u128(1);
        assert!(hub.request(account).is_none());
        let mut registration = hub.register(account);
        let answer = hub.request(account).unwrap();
        let reply = registration.requests.recv().await.unwrap();
        reply.send(Err("offline".into())).unwrap();
        assert_eq!(answer.await.unwrap(), Err("offline".to_string()));
        drop(registration);
        assert!(hub.request(account).is_none());
    }

    #[test]
    fn an_old_registration_leaving_does_not_remove_a_newer_one() {
        let hub = PollerHub::default();
        let account = Uuid::from_u128(1);
        let old = hub.register(account);
        let _new = hub.register(account);
        drop(old);
        assert!(hub.request(account).is_some());
    }
}
