//! Whether a number is on India's Do-Not-Disturb registry, as Exotel's
//! number metadata says, kept for a while: a registration takes up to
//! seven days to take effect (TRAI), so a day-old answer is as good as a
//! fresh one, and a campaign to thousands of numbers asks Exotel once per
//! number a day rather than once per message.

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

use crate::exotel::{ExotelAccount, ExotelError, ExotelNumbers};

/// An account's sid and a number.
type Key = (String, String);

/// Answers kept, per account and number, for `lifetime`; at most `capacity`
/// of them (the oldest go first).
pub struct DndCache {
    lifetime: Duration,
    capacity: usize,
    answers: Mutex<HashMap<Key, (bool, DateTime<Utc>)>>,
}

impl DndCache {
    pub fn new(lifetime: Duration, capacity: usize) -> Self {
        Self {
            lifetime,
            capacity: capacity.max(1),
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `number` is on the registry: the kept answer while it is
    /// younger than the lifetime, else Exotel's, which is then kept.
    pub async fn on_dnd(
        &self,
        numbers: &dyn ExotelNumbers,
        account: &ExotelAccount,
        number: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ExotelError> {
        let key = (account.account_sid.clone(), number.to_string());
        if let Some(dnd) = self.kept(&key, now) {
            return Ok(dnd);
        }
        let dnd = numbers.number_info(account, number).await?.dnd;
        self.keep(key, dnd, now);
        Ok(dnd)
    }

    fn kept(&self, key: &Key, now: DateTime<Utc>) -> Option<bool> {
        let answers = self.answers.lock().ok()?;
        let (dnd, at) = answers.get(key)?;
        (now - *at < self.lifetime && *at <= now).then_some(*dnd)
    }

    fn keep(&self, key: Key, dnd: bool, now: DateTime<Utc>) {
        let Ok(mut answers) = self.answers.lock() else {
            return;
        };
        if answers.len() >= self.capacity && !answers.contains_key(&key) {
            let oldest = answers.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                answers.remove(&oldest);
            }
        }
        answers.insert(key, (dnd, now));
    }
}

impl Default for DndCache {
    /// A day's answers, up to 100,000 numbers.
    fn default() -> Self {
        Self::new(Duration::hours(24), 100_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exotel::{ExoPhone, NumberInfo, WhitelistStanding};
    use async_trait::async_trait;
    use chrono::TimeZone;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Numbers ending in 9 are on the registry; every question is counted.
    #[derive(Default)]
    struct Registry(AtomicU32);

    #[async_trait]
    impl ExotelNumbers for Registry {
        async fn exophones(&self, _: &ExotelAccount) -> Result<Vec<ExoPhone>, ExotelError> {
            Ok(Vec::new())
        }
        async fn number_info(&self, _: &ExotelAccount, number: &str) -> Result<NumberInfo, ExotelError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(NumberInfo {
                phone_number: number.into(),
                circle: None,
                number_type: None,
                operator: None,
                dnd: number.ends_with('9'),
            })
        }
        async fn whitelist(&self, _: &ExotelAccount, _: &str, _: &[String]) -> Result<(), ExotelError> {
            Ok(())
        }
        async fn whitelist_standing(&self, _: &ExotelAccount, _: &str) -> Result<WhitelistStanding, ExotelError> {
            unreachable!("SMS never asks for the call whitelist")
        }
    }

    fn account(sid: &str) -> ExotelAccount {
        ExotelAccount {
            base_url: "http://127.0.0.1:9".into(),
            account_sid: sid.into(),
            api_key: Default::default(),
            api_token: Default::default(),
        }
    }

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0).unwrap()
    }

    #[tokio::test]
    async fn an_answer_is_kept_for_its_lifetime_and_asked_again_after() {
        let registry = Registry::default();
        let cache = DndCache::new(Duration::hours(2), 10);
        let acme = account("acme");
        assert!(cache.on_dnd(&registry, &acme, "+919800000009", at(1)).await.unwrap());
        assert!(cache.on_dnd(&registry, &acme, "+919800000009", at(2)).await.unwrap());
        assert_eq!(registry.0.load(Ordering::SeqCst), 1);
        assert!(cache.on_dnd(&registry, &acme, "+919800000009", at(3)).await.unwrap());
        assert_eq!(registry.0.load(Ordering::SeqCst), 2);
        assert!(!cache.on_dnd(&registry, &acme, "+919800000001", at(3)).await.unwrap());
        assert!(
            !cache
                .on_dnd(&registry, &account("other"), "+919800000001", at(3))
                .await
                .unwrap()
        );
        assert_eq!(registry.0.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn an_answer_from_the_future_is_not_trusted() {
        let registry = Registry::default();
        let cache = DndCache::new(Duration::hours(2), 10);
        let acme = account("acme");
        cache.on_dnd(&registry, &acme, "+919800000009", at(5)).await.unwrap();
        cache.on_dnd(&registry, &acme, "+919800000009", at(4)).await.unwrap();
        assert_eq!(registry.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_oldest_answer_makes_room_when_full() {
        let registry = Registry::default();
        let cache = DndCache::new(Duration::hours(24), 2);
        let acme = account("acme");
        cache.on_dnd(&registry, &acme, "+919800000001", at(1)).await.unwrap();
        cache.on_dnd(&registry, &acme, "+919800000002", at(2)).await.unwrap();
        cache.on_dnd(&registry, &acme, "+919800000003", at(3)).await.unwrap();
        assert_eq!(registry.0.load(Ordering::SeqCst), 3);
        cache.on_dnd(&registry, &acme, "+919800000002", at(4)).await.unwrap();
        cache.on_dnd(&registry, &acme, "+919800000003", at(4)).await.unwrap();
        assert_eq!(registry.0.load(Ordering::SeqCst), 3);
        cache.on_dnd(&registry, &acme, "+919800000001", at(4)).await.unwrap();
        assert_eq!(registry.0.load(Ordering::SeqCst), 4);
    }
}
