//! Logging in. Every attempt that is let through costs one Argon2
//! verification, whether or not the address has a user; failures slow down
//! the (address, client) pair that made them, whether or not the address
//! has a user; and each client and each address may try only so often.
//!
//! The throttle is kept in this process, like the other rate limits.

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

use domain::login::{FailedLogins, LoginCommand, LoginError};
use domain::user::address::address_id;
use domain::user::{User, legacy_user_id};
use domain::{EmailAddress, OrganisationId};

use crate::accounts::Accounts;
use crate::error::StoreError;
use crate::metadata::{Actor, EventMetadata};
use crate::passwords;

/// Past this many remembered keys, the forgotten ones are dropped.
const PRUNE_ABOVE: usize = 10_000;
const WINDOW: Duration = Duration::minutes(1);

/// What a login sends.
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    pub email: String,
    pub password: String,
    /// Needed when the address has users in several organisations.
    pub organisation: Option<OrganisationId>,
    /// The client's address, as the server saw it.
    pub client: Option<String>,
}

/// Why a login did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LogInError {
    #[error(transparent)]
    Refused(#[from] LoginError),
    #[error("too many login attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Failures per (address, client) pair and attempts per client and per
/// address, in this process.
pub struct LoginThrottle {
    per_client: u32,
    per_address: u32,
    state: Mutex<ThrottleState>,
}

#[derive(Default)]
struct ThrottleState {
    failures: HashMap<(String, String), FailedLogins>,
    clients: Windows,
    addresses: Windows,
}

/// One-minute counting windows per key.
#[derive(Default)]
struct Windows(HashMap<String, (DateTime<Utc>, u32)>);

impl Windows {
    fn admit(&mut self, key: &str, limit: u32, now: DateTime<Utc>) -> Result<(), LogInError> {
        if self.0.len() > PRUNE_ABOVE {
            self.0.retain(|_, (start, _)| now - *start < WINDOW);
        }
        let (start, count) = self.0.entry(key.to_string()).or_insert((now, 0));
        if now - *start >= WINDOW {
            (*start, *count) = (now, 0);
        }
        if *count >= limit {
            let wait = (*start + WINDOW - now).num_milliseconds().max(0) as u64;
            return Err(LogInError::RateLimited {
                retry_after_secs: wait.div_ceil(1000).max(1),
            });
        }
        *count += 1;
        Ok(())
    }
}

impl LoginThrottle {
    /// Limits are attempts a minute per client address and per e-mail address.
    pub fn new(per_client: u32, per_address: u32) -> Self {
        Self {
            per_client,
            per_address,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ThrottleState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Lets an attempt through, or says why not: over a rate limit, or the
    /// pair is waiting out its backoff.
    pub fn admit(&self, address: &str, client: &str, now: DateTime<Utc>) -> Result<(), LogInError> {
        let mut state = self.state();
        state.clients.admit(client, self.per_client, now)?;
        state.addresses.admit(address, self.per_address, now)?;
        let pair = (address.to_string(), client.to_string());
        let failures = state.failures.get(&pair).copied().unwrap_or_default();
        Ok(failures.check(now)?)
    }

    /// Counts a failure of the pair.
    pub fn failed(&self, address: &str, client: &str, now: DateTime<Utc>) {
        let mut state = self.state();
        if state.failures.len() > PRUNE_ABOVE {
            state.failures.retain(|_, pair| !pair.is_forgotten(now));
        }
        let pair = state
            .failures
            .entry((address.to_string(), client.to_string()))
            .or_default();
        *pair = pair.failed(now);
    }

    /// Forgets the pair's failures after a success.
    pub fn succeeded(&self, address: &str, client: &str) {
        self.state().failures.remove(&(address.to_string(), client.to_string()));
    }
}

/// How checking the password against the candidates came out.
enum Outcome {
    Success(Box<User>),
    Failure,
    Ambiguous,
}

impl Accounts<'_> {
    /// Checks an e-mail and password, records the attempt, and answers the
    /// user on success. An unknown address, a wrong password and a
    /// deactivated user are refused alike.
    pub async fn log_in(&self, attempt: LoginAttempt, meta: &EventMetadata) -> Result<User, LogInError> {
        let now = Utc::now();
        let address = attempt.email.trim().to_lowercase();
        let client = attempt.client.clone().unwrap_or_default();
        self.throttle.admit(&address, &client, now)?;
        let candidates = self.users_of(&attempt.email, attempt.organisation).await?;
        match self.check(candidates, attempt.password, meta).await? {
            Outcome::Success(user) => {
                self.throttle.succeeded(&address, &client);
                Ok(*user)
            }
            Outcome::Ambiguous => Err(LoginError::OrganisationRequired.into()),
            Outcome::Failure => {
                self.throttle.failed(&address, &client, Utc::now());
                Err(LoginError::InvalidCredentials.into())
            }
        }
    }

    /// The users an address has, in one organisation when it is named:
    /// read from the event store, so a user registered a moment ago is
    /// found and a deactivated one is seen as such.
    async fn users_of(&self, email: &str, organisation: Option<OrganisationId>) -> Result<Vec<User>, StoreError> {
        let Ok(email) = EmailAddress::parse(email) else {
            return Ok(vec![]);
        };
        let mut ids = vec![legacy_user_id(&email)];
        if let Some(address) = self.user_addresses.load(&address_id(&email).to_string()).await? {
            ids.extend(address.aggregate.members.iter().map(|m| m.user_id));
        }
        let mut users: Vec<User> = Vec::new();
        for id in ids {
            let Some(loaded) = self.users.load(&id.to_string()).await? else {
                continue;
            };
            let user = loaded.aggregate;
            let wanted = organisation.is_none_or(|org| user.organisation_id == Some(org));
            let known = users.iter().any(|u| u.id == user.id);
            if wanted && !known && user.email.as_ref() == Some(&email) {
                users.push(user);
            }
        }
        Ok(users)
    }

    /// One verification for no user or one user; one per user when the
    /// organisation was not named and the address has several.
    async fn check(
        &self,
        candidates: Vec<User>,
        password: String,
        meta: &EventMetadata,
    ) -> Result<Outcome, StoreError> {
        if candidates.is_empty() {
            passwords::verify(password, passwords::decoy_hash().await.to_string()).await;
            return Ok(Outcome::Failure);
        }
        let several = candidates.len() > 1;
        let mut matched_any = false;
        for user in candidates {
            let matched = passwords::verify(password.clone(), user.password_hash.clone()).await;
            matched_any |= matched;
            if several && matched {
                continue;
            }
            self.record(&user, matched, meta).await?;
            if matched && user.active {
                return Ok(Outcome::Success(Box::new(user)));
            }
        }
        Ok(if several && matched_any {
            Outcome::Ambiguous
        } else {
            Outcome::Failure
        })
    }

    async fn record(&self, user: &User, matched: bool, meta: &EventMetadata) -> Result<(), StoreError> {
        let (Some(user_id), Some(organisation_id)) = (user.id, user.organisation_id) else {
            return Ok(());
        };
        let meta = EventMetadata {
            organisation_id: Some(organisation_id),
            actor: Actor::User { id: user_id },
            ..meta.clone()
        };
        let attempt = LoginCommand::Attempt {
            user_id,
            organisation_id,
            password_matched: matched,
            user_active: user.active,
            at: Utc::now(),
        };
        self.logins
            .execute(&user_id.to_string(), attempt, &meta)
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    /// When the user last logged in, from their login history.
    pub async fn last_login(&self, user_id: Uuid) -> Result<Option<DateTime<Utc>>, StoreError> {
        let logins = self.logins.load(&user_id.to_string()).await?;
        Ok(logins.and_then(|l| l.aggregate.last_login_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::seconds(second)
    }

    fn limited(error: Result<(), LogInError>) -> Option<u64> {
        match error {
            Err(LogInError::RateLimited { retry_after_secs }) => Some(retry_after_secs),
            _ => None,
        }
    }

    #[test]
    fn a_client_is_limited_per_minute_whatever_the_address() {
        let throttle = LoginThrottle::new(3, 100);
        for n in 0..3 {
            assert!(throttle.admit(&format!("a{n}@x.in"), "10.0.0.1", at(0)).is_ok());
        }
        assert_eq!(limited(throttle.admit("a9@x.in", "10.0.0.1", at(20))), Some(40));
        assert!(
            throttle.admit("a9@x.in", "10.0.0.2", at(20)).is_ok(),
            "another client is not limited"
        );
        assert!(
            throttle.admit("a9@x.in", "10.0.0.1", at(60)).is_ok(),
            "a new minute starts afresh"
        );
    }

    #[test]
    fn an_address_is_limited_per_minute_whatever_the_client() {
        let throttle = LoginThrottle::new(100, 2);
        assert!(throttle.admit("asha@x.in", "10.0.0.1", at(0)).is_ok());
        assert!(throttle.admit("asha@x.in", "10.0.0.2", at(0)).is_ok());
        assert_eq!(limited(throttle.admit("asha@x.in", "10.0.0.3", at(59))), Some(1));
        assert!(throttle.admit("ravi@x.in", "10.0.0.3", at(59)).is_ok());
    }

    #[test]
    fn failures_lock_the_pair_only() {
        let throttle = LoginThrottle::new(100, 100);
        for _ in 0..domain::login::FREE_FAILURES {
            assert!(throttle.admit("asha@x.in", "10.0.0.1", at(0)).is_ok());
            throttle.failed("asha@x.in", "10.0.0.1", at(0));
        }
        let locked = throttle.admit("asha@x.in", "10.0.0.1", at(0));
        assert!(matches!(locked, Err(LogInError::Refused(LoginError::LockedOut { .. }))));
        assert!(
            throttle.admit("asha@x.in", "10.0.0.2", at(0)).is_ok(),
            "another client may still log in"
        );
        assert!(
            throttle.admit("ravi@x.in", "10.0.0.1", at(0)).is_ok(),
            "another address is not locked"
        );
        assert!(throttle.admit("asha@x.in", "10.0.0.1", at(4)).is_err());
        assert!(
            throttle.admit("asha@x.in", "10.0.0.1", at(5)).is_ok(),
            "the first wait is five seconds"
        );
    }

    #[test]
    fn a_success_forgets_the_pairs_failures() {
        let throttle = LoginThrottle::new(100, 100);
        for _ in 0..domain::login::FREE_FAILURES {
            throttle.failed("asha@x.in", "c", at(0));
        }
        throttle.succeeded("asha@x.in", "c");
        assert!(throttle.admit("asha@x.in", "c", at(0)).is_ok());
    }
}
