//! Logging in: each user's login history, and the backoff that slows down
//! guessing at one address from one client.
//!
//! The history is an aggregate keyed by the user id, kept apart from the
//! user so that checking a caller's role on every request never replays
//! their logins. The backoff ([`FailedLogins`]) belongs to an (address,
//! client) pair whether or not the address has a user, so it neither lets
//! anyone lock a user out from elsewhere nor tells which addresses exist.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OrganisationId;

/// Failed logins of one pair that cost no waiting.
pub const FREE_FAILURES: u32 = 5;
/// The wait after the last free failure; it doubles with each further one.
pub const FIRST_BACKOFF: Duration = Duration::seconds(5);
/// The longest wait.
pub const MAX_BACKOFF: Duration = Duration::minutes(15);
/// A pair's failures are forgotten this long after the last one.
pub const FORGET_AFTER: Duration = Duration::hours(1);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LoginCommand {
    /// The application has checked the password and looked up the user.
    Attempt {
        user_id: Uuid,
        organisation_id: OrganisationId,
        password_matched: bool,
        user_active: bool,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LoginEvent {
    LoginSucceeded {
        user_id: Uuid,
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
    /// A wrong password, or any password for a deactivated user.
    LoginFailed {
        user_id: Uuid,
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for LoginEvent {
    fn event_type(&self) -> String {
        match self {
            Self::LoginSucceeded { .. } => "LoginSucceeded",
            Self::LoginFailed { .. } => "LoginFailed",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// How a login is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// 401: an unknown address, a wrong password or a deactivated user,
    /// deliberately one answer for all three.
    #[error("wrong e-mail address or password")]
    InvalidCredentials,
    /// 429: too many failed logins at this address from this client.
    #[error("too many failed logins; try again later")]
    LockedOut { until: DateTime<Utc> },
    /// 409: the address has users in several organisations and the login
    /// named none of them.
    #[error("this address belongs to several organisations; send `organisation` with the login")]
    OrganisationRequired,
}

/// The failed logins of one (address, client) pair.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FailedLogins {
    pub count: u32,
    pub last_at: Option<DateTime<Utc>>,
}

impl FailedLogins {
    /// The wait imposed after `count` failures in a row.
    pub fn backoff(count: u32) -> Duration {
        if count < FREE_FAILURES {
            return Duration::zero();
        }
        let doublings = (count - FREE_FAILURES).min(20);
        (FIRST_BACKOFF * 2_i32.pow(doublings)).min(MAX_BACKOFF)
    }

    /// When the wait ends, if one is running at `now`.
    pub fn locked_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let until = self.last_at? + Self::backoff(self.count);
        (now < until).then_some(until)
    }

    /// Refuses an attempt made while the pair must wait.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), LoginError> {
        match self.locked_until(now) {
            Some(until) => Err(LoginError::LockedOut { until }),
            None => Ok(()),
        }
    }

    /// Whether nothing is left to remember at `now`.
    pub fn is_forgotten(&self, now: DateTime<Utc>) -> bool {
        self.last_at.is_none_or(|last| now - last >= FORGET_AFTER)
    }

    /// The pair after one more failure at `at`.
    pub fn failed(self, at: DateTime<Utc>) -> Self {
        let count = if self.is_forgotten(at) { 1 } else { self.count + 1 };
        Self {
            count,
            last_at: Some(at),
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginHistory {
    pub failed_in_a_row: u32,
    pub last_failed_at: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl LoginHistory {
    /// The one event an attempt records: a success only for the right
    /// password of an active user.
    pub fn decide(&self, command: LoginCommand) -> Vec<LoginEvent> {
        let LoginCommand::Attempt {
            user_id,
            organisation_id,
            password_matched,
            user_active,
            at,
        } = command;
        let event = if password_matched && user_active {
            LoginEvent::LoginSucceeded {
                user_id,
                organisation_id,
                at,
            }
        } else {
            LoginEvent::LoginFailed {
                user_id,
                organisation_id,
                at,
            }
        };
        vec![event]
    }
}

impl Aggregate for LoginHistory {
    const TYPE: &'static str = "login";
    type Command = LoginCommand;
    type Event = LoginEvent;
    type Error = LoginError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = self.decide(command);
        crate::write_all(self, sink, events).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            LoginEvent::LoginSucceeded { at, .. } => {
                self.failed_in_a_row = 0;
                self.last_login_at = Some(at);
            }
            LoginEvent::LoginFailed { at, .. } => {
                self.failed_in_a_row += 1;
                self.last_failed_at = Some(at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<LoginHistory>;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::seconds(second)
    }

    fn attempt(matched: bool, active: bool, second: i64) -> LoginCommand {
        LoginCommand::Attempt {
            user_id: Uuid::nil(),
            organisation_id: Uuid::nil(),
            password_matched: matched,
            user_active: active,
            at: at(second),
        }
    }

    fn failed(second: i64) -> LoginEvent {
        LoginEvent::LoginFailed {
            user_id: Uuid::nil(),
            organisation_id: Uuid::nil(),
            at: at(second),
        }
    }

    fn succeeded(second: i64) -> LoginEvent {
        LoginEvent::LoginSucceeded {
            user_id: Uuid::nil(),
            organisation_id: Uuid::nil(),
            at: at(second),
        }
    }

    fn after_failures(count: u32, second: i64) -> FailedLogins {
        (0..count).fold(FailedLogins::default(), |pair, _| pair.failed(at(second)))
    }

    #[tokio::test]
    async fn a_wrong_password_is_recorded_as_a_failed_login() {
        Given::with(())
            .given_no_previous_events()
            .when_async(attempt(false, true, 1))
            .await
            .then_expect_events(vec![failed(1)]);
    }

    #[tokio::test]
    async fn the_right_password_of_an_active_user_is_a_success() {
        Given::with(())
            .given(vec![failed(1)])
            .when_async(attempt(true, true, 2))
            .await
            .then_expect_events(vec![succeeded(2)]);
    }

    #[tokio::test]
    async fn a_deactivated_user_fails_alike_with_the_right_and_a_wrong_password() {
        Given::with(())
            .given_no_previous_events()
            .when_async(attempt(true, false, 1))
            .await
            .then_expect_events(vec![failed(1)]);
        Given::with(())
            .given_no_previous_events()
            .when_async(attempt(false, false, 1))
            .await
            .then_expect_events(vec![failed(1)]);
    }

    #[tokio::test]
    async fn many_failures_never_lock_the_user_itself() {
        let failures = (0..50).map(failed).collect();
        Given::with(())
            .given(failures)
            .when_async(attempt(true, true, 51))
            .await
            .then_expect_events(vec![succeeded(51)]);
    }

    #[test]
    fn the_history_counts_failures_until_a_success() {
        let mut history = LoginHistory::default();
        history.apply(failed(1));
        history.apply(failed(2));
        assert_eq!(history.failed_in_a_row, 2);
        assert_eq!(history.last_failed_at, Some(at(2)));
        history.apply(succeeded(3));
        assert_eq!(history.failed_in_a_row, 0);
        assert_eq!(history.last_login_at, Some(at(3)));
    }

    #[test]
    fn the_free_failures_cost_no_wait_and_each_further_one_doubles_it() {
        for count in 0..FREE_FAILURES {
            assert_eq!(FailedLogins::backoff(count), Duration::zero(), "after {count}");
        }
        assert_eq!(FailedLogins::backoff(FREE_FAILURES), FIRST_BACKOFF);
        assert_eq!(FailedLogins::backoff(FREE_FAILURES + 1), FIRST_BACKOFF * 2);
        assert_eq!(FailedLogins::backoff(FREE_FAILURES + 3), FIRST_BACKOFF * 8);
    }

    #[test]
    fn the_wait_stops_growing_at_the_maximum() {
        assert_eq!(FailedLogins::backoff(FREE_FAILURES + 7), FIRST_BACKOFF * 128);
        assert!(FailedLogins::backoff(FREE_FAILURES + 7) < MAX_BACKOFF);
        assert_eq!(FailedLogins::backoff(FREE_FAILURES + 8), MAX_BACKOFF);
        assert_eq!(FailedLogins::backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn a_pair_under_the_free_failures_may_try_at_once() {
        let pair = after_failures(FREE_FAILURES - 1, 10);
        assert_eq!(pair.count, FREE_FAILURES - 1);
        assert_eq!(pair.check(at(10)), Ok(()));
    }

    #[test]
    fn a_pair_past_the_free_failures_waits_until_the_backoff_ends_and_not_a_moment_longer() {
        let pair = after_failures(FREE_FAILURES + 2, 10);
        let until = at(10) + FIRST_BACKOFF * 4;
        assert_eq!(until, at(30));
        assert_eq!(pair.locked_until(at(10)), Some(until));
        assert_eq!(
            pair.check(until - Duration::milliseconds(1)),
            Err(LoginError::LockedOut { until })
        );
        assert_eq!(pair.check(until), Ok(()));
    }

    #[test]
    fn a_pair_that_never_failed_is_not_locked() {
        assert_eq!(FailedLogins::default().locked_until(at(0)), None);
        assert!(FailedLogins::default().is_forgotten(at(0)));
    }

    #[test]
    fn failures_are_forgotten_an_hour_after_the_last() {
        let pair = after_failures(FREE_FAILURES + 3, 0);
        let forgotten = at(0) + FORGET_AFTER;
        assert!(!pair.is_forgotten(forgotten - Duration::seconds(1)));
        assert!(pair.is_forgotten(forgotten));
        assert_eq!(pair.failed(forgotten).count, 1);
        assert_eq!(pair.failed(forgotten - Duration::seconds(1)).count, FREE_FAILURES + 4);
        assert_eq!(pair.failed(forgotten).last_at, Some(forgotten));
    }

    #[test]
    fn event_types_and_versions_are_pinned() {
        assert_eq!(succeeded(0).event_type(), "LoginSucceeded");
        assert_eq!(failed(0).event_type(), "LoginFailed");
        assert_eq!(succeeded(0).event_version(), "1.0");
        assert_eq!(failed(0).event_version(), "1.0");
    }
}
