//! Limits every request meets before its handler: token buckets per caller
//! and per organisation, and the largest body a route accepts. Held by
//! `AppState` and read by the guard, so it knows nothing of either.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

use infrastructure::Settings;

/// The route whose body carries attachments.
const SEND_EMAIL_PATH: &str = "/communications/emails";

/// Token buckets per caller and per organisation, in this process.
pub struct RateLimits {
    per_actor: DefaultKeyedRateLimiter<String>,
    per_organisation: DefaultKeyedRateLimiter<String>,
}

impl RateLimits {
    pub fn new(per_actor_per_minute: u32, per_organisation_per_minute: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Self {
            per_actor: RateLimiter::keyed(quota(per_actor_per_minute)),
            per_organisation: RateLimiter::keyed(quota(per_organisation_per_minute)),
        }
    }

    /// `Err(wait)` when the actor (`Actor::to_key`) or its organisation is
    /// over its limit.
    pub fn check(&self, actor: &str, organisation: &str) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        self.per_actor
            .check_key(&actor.to_string())
            .map_err(|not_until| not_until.wait_time_from(now))?;
        self.per_organisation
            .check_key(&organisation.to_string())
            .map_err(|not_until| not_until.wait_time_from(now))
    }
}

/// The largest request body of a path: on the send route the attachment
/// cap in base64 plus the usual limit for everything else; every other
/// route keeps `max_body_bytes`.
pub fn body_limit(settings: &Settings, path: &str) -> usize {
    match path.trim_end_matches('/').ends_with(SEND_EMAIL_PATH) {
        true => {
            let base64 = settings.email_max_attachment_bytes.saturating_mul(4) / 3 + 4096;
            settings
                .max_body_bytes
                .saturating_add(usize::try_from(base64).unwrap_or(usize::MAX))
        }
        false => settings.max_body_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_route_alone_takes_attachments_on_top_of_the_usual_limit() {
        let mut settings = Settings::defaults().unwrap();
        settings.max_body_bytes = 1000;
        settings.email_max_attachment_bytes = 3000;
        assert_eq!(
            body_limit(&settings, "/api/v1/communications/emails"),
            1000 + 4000 + 4096
        );
        assert_eq!(
            body_limit(&settings, "/api/v1/communications/emails/"),
            1000 + 4000 + 4096
        );
        assert_eq!(body_limit(&settings, "/api/v1/users"), 1000);
    }

    #[test]
    fn a_caller_over_its_limit_waits_while_another_caller_of_the_organisation_does_not() {
        let limits = RateLimits::new(2, 100);
        assert!(limits.check("user:a", "org").is_ok());
        assert!(limits.check("user:a", "org").is_ok());
        assert!(limits.check("user:a", "org").is_err());
        assert!(limits.check("user:b", "org").is_ok());
    }

    #[test]
    fn an_organisation_over_its_limit_stops_every_caller_in_it() {
        let limits = RateLimits::new(100, 2);
        assert!(limits.check("user:a", "org").is_ok());
        assert!(limits.check("user:b", "org").is_ok());
        assert!(limits.check("user:c", "org").is_err());
        assert!(limits.check("user:c", "other").is_ok());
    }
}
