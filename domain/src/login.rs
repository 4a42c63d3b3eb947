//! A user's login attempts: kept apart from the user so that checking a
//! caller's role on every request never replays their logins, and so that
//! a burst of failures locks the account.
//!
//! The aggregate id is the user id.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OrganisationId;

/// Consecutive failed logins after which the account is locked.
pub const MAX_FAILED_LOGINS: u32 = 10;
/// How long a locked account stays locked after its last failed login.
pub const LOCKOUT: Duration = Duration::minutes(15);

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

/// One variant per rule a login can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// 401: wrong e-mail or password (deliberately one error for both).
    #[error("wrong e-mail address or password")]
    InvalidCredentials,
    /// 401: the user has been deactivated.
    #[error("the user is deactivated")]
    Deactivated,
    /// 429: too many failed logins in a row.
    #[error("too many failed logins; try again later")]
    LockedOut { until: DateTime<Utc> },
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginHistory {
    pub failed_in_a_row: u32,
    pub last_failed_at: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl LoginHistory {
    /// When a lock caused by failed logins ends, if locked at `now`.
    pub fn locked_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let until = self.last_failed_at? + LOCKOUT;
        (self.failed_in_a_row >= MAX_FAILED_LOGINS && now < until).then_some(until)
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
        let LoginCommand::Attempt {
            user_id,
            organisation_id,
            password_matched,
            user_active,
            at,
        } = command;
        if let Some(until) = self.locked_until(at) {
            return Err(LoginError::LockedOut { until });
        }
        if !password_matched {
            sink.write(
                LoginEvent::LoginFailed {
                    user_id,
                    organisation_id,
                    at,
                },
                self,
            )
            .await;
            return Ok(());
        }
        if !user_active {
            return Err(LoginError::Deactivated);
        }
        sink.write(
            LoginEvent::LoginSucceeded {
                user_id,
                organisation_id,
                at,
            },
            self,
        )
        .await;
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

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::minutes(minute)
    }

    fn attempt(matched: bool, active: bool, minute: i64) -> LoginCommand {
        LoginCommand::Attempt {
            user_id: Uuid::nil(),
            organisation_id: Uuid::nil(),
            password_matched: matched,
            user_active: active,
            at: at(minute),
        }
    }

    fn failures(count: u32, minute: i64) -> Vec<LoginEvent> {
        (0..count)
            .map(|_| LoginEvent::LoginFailed {
                user_id: Uuid::nil(),
                organisation_id: Uuid::nil(),
                at: at(minute),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_wrong_password_is_recorded_as_a_failed_login() {
        Given::with(())
            .given_no_previous_events()
            .when_async(attempt(false, true, 1))
            .await
            .then_expect_events(failures(1, 1));
    }

    #[tokio::test]
    async fn it_should_lock_the_account_after_too_many_failed_logins() {
        let command = attempt(true, true, 3);
        Given::with(())
            .given(failures(MAX_FAILED_LOGINS, 2))
            .when_async(command)
            .await
            .then_expect_error(LoginError::LockedOut { until: at(2) + LOCKOUT });
    }

    #[tokio::test]
    async fn the_lock_ends_after_the_lockout_period() {
        let later = 2 + LOCKOUT.num_minutes() + 1;
        let expected = LoginEvent::LoginSucceeded {
            user_id: Uuid::nil(),
            organisation_id: Uuid::nil(),
            at: at(later),
        };
        Given::with(())
            .given(failures(MAX_FAILED_LOGINS, 2))
            .when_async(attempt(true, true, later))
            .await
            .then_expect_events(vec![expected]);
    }

    #[tokio::test]
    async fn a_deactivated_user_cannot_log_in() {
        Given::with(())
            .given_no_previous_events()
            .when_async(attempt(true, false, 1))
            .await
            .then_expect_error(LoginError::Deactivated);
    }

    #[test]
    fn failed_logins_are_counted_once_per_event() {
        let mut history = LoginHistory::default();
        for event in failures(3, 1) {
            history.apply(event);
        }
        assert_eq!(history.failed_in_a_row, 3);
    }

    #[test]
    fn event_type_names_are_pinned() {
        let ok = LoginEvent::LoginSucceeded {
            user_id: Uuid::nil(),
            organisation_id: Uuid::nil(),
            at: at(0),
        };
        assert_eq!(ok.event_type(), "LoginSucceeded");
        assert_eq!(failures(1, 0)[0].event_type(), "LoginFailed");
    }
}
