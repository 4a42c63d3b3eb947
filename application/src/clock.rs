//! What time it is, as the use cases that wait for a time read it: the
//! system's clock in production, a clock set by hand in tests that must
//! control when a wait ends.

use chrono::{DateTime, Utc};
use std::sync::Mutex;

/// The current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that shows the time it was last set to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut now) = self.0.lock() {
            *now = at;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
            .lock()
            .map(|now| *now)
            .unwrap_or_else(|poisoned| *poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_manual_clock_shows_the_time_it_was_set_to() {
        let first = Utc.with_ymd_and_hms(2026, 12, 1, 16, 30, 0).unwrap();
        let clock = ManualClock::new(first);
        assert_eq!(clock.now(), first);
        let later = first + chrono::Duration::hours(11);
        clock.set(later);
        assert_eq!(clock.now(), later);
        let drift = (SystemClock.now() - Utc::now()).num_seconds().abs();
        assert!(drift < 5);
    }
}
