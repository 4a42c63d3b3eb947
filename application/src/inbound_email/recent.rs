//! Threading decisions made moments ago, before the thread projection has
//! caught up: a reply fetched in the same batch as the message it answers
//! must join that message's thread.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use uuid::Uuid;

use domain::OrganisationId;

/// How many decisions of each kind are remembered.
const CAPACITY: usize = 20_000;

/// A map that forgets its oldest entries beyond [`CAPACITY`].
#[derive(Debug)]
struct Bounded<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V: Copy> Bounded<K, V> {
    fn new() -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        self.map.get(key).copied()
    }

    fn put(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

type MessageKey = (OrganisationId, String);
type SubjectKey = (OrganisationId, Uuid, String);

#[derive(Debug)]
struct Inner {
    by_message_id: Bounded<MessageKey, Uuid>,
    by_subject: Bounded<SubjectKey, Uuid>,
    customers: Bounded<Uuid, ()>,
}

/// Recent threads by Message-ID and by (customer, subject key), and
/// customers known to exist. Shared by every poller of a process.
#[derive(Debug)]
pub struct RecentThreads(Mutex<Inner>);

impl Default for RecentThreads {
    fn default() -> Self {
        Self(Mutex::new(Inner {
            by_message_id: Bounded::new(),
            by_subject: Bounded::new(),
            customers: Bounded::new(),
        }))
    }
}

impl RecentThreads {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut guard = match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// The thread of the first of `message_ids` decided recently.
    pub fn by_message_id(&self, organisation_id: OrganisationId, message_ids: &[String]) -> Option<Uuid> {
        self.with(|inner| {
            message_ids
                .iter()
                .find_map(|id| inner.by_message_id.get(&(organisation_id, id.clone())))
        })
    }

    /// The customer's latest thread with this subject key, decided recently.
    pub fn by_subject(&self, organisation_id: OrganisationId, customer_id: Uuid, key: &str) -> Option<Uuid> {
        self.with(|inner| inner.by_subject.get(&(organisation_id, customer_id, key.to_string())))
    }

    /// Remembers where an e-mail went.
    pub fn remember(
        &self,
        organisation_id: OrganisationId,
        message_id: Option<&str>,
        subject: Option<(Uuid, &str)>,
        thread_id: Uuid,
    ) {
        self.with(|inner| {
            if let Some(id) = message_id {
                inner.by_message_id.put((organisation_id, id.to_string()), thread_id);
            }
            if let Some((customer_id, key)) = subject.filter(|(_, key)| !key.is_empty()) {
                inner
                    .by_subject
                    .put((organisation_id, customer_id, key.to_string()), thread_id);
            }
        })
    }

    /// Whether the customer is known to exist.
    pub fn knows_customer(&self, customer_id: Uuid) -> bool {
        self.with(|inner| inner.customers.get(&customer_id).is_some())
    }

    pub fn remember_customer(&self, customer_id: Uuid) {
        self.with(|inner| inner.customers.put(customer_id, ()))
    }
}

/// Distinct values in first-seen order.
pub(super) fn distinct(values: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    values.into_iter().filter(|v| seen.insert(v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: Uuid = Uuid::from_u128(1);

    #[test]
    fn the_first_remembered_message_id_wins() {
        let recent = RecentThreads::default();
        recent.remember(ORG, Some("b@x"), None, Uuid::from_u128(2));
        recent.remember(ORG, Some("a@x"), None, Uuid::from_u128(3));
        let ids = ["a@x".to_string(), "b@x".to_string()];
        assert_eq!(recent.by_message_id(ORG, &ids), Some(Uuid::from_u128(3)));
        assert_eq!(recent.by_message_id(Uuid::from_u128(9), &ids), None);
    }

    #[test]
    fn an_empty_subject_key_is_never_remembered() {
        let recent = RecentThreads::default();
        let customer = Uuid::from_u128(5);
        recent.remember(ORG, None, Some((customer, "")), Uuid::from_u128(2));
        assert_eq!(recent.by_subject(ORG, customer, ""), None);
    }

    #[test]
    fn the_oldest_entries_are_forgotten_beyond_the_capacity() {
        let mut map = Bounded::new();
        for i in 0..CAPACITY + 5 {
            map.put(i, i);
        }
        assert_eq!(map.get(&0), None);
        assert_eq!(map.get(&(CAPACITY + 4)), Some(CAPACITY + 4));
        assert_eq!(map.map.len(), CAPACITY);
    }

    #[test]
    fn distinct_keeps_the_first_occurrence_in_order() {
        let values = ["b", "a", "b", "c", "a"].map(String::from);
        assert_eq!(distinct(values), ["b", "a", "c"].map(String::from));
    }
}
