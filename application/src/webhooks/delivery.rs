//! One round of the delivery workers: claim what is due, sign it with every
//! secret in force, post it, and record the attempt and what follows.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::time::{Duration, Instant};
use uuid::Uuid;
use zeroize::Zeroizing;

use domain::webhook_endpoint::{WebhookEndpoint, WebhookEndpointCommand, WebhookEndpointError};

use super::{
    AttemptRecord, AttemptResult, DeliveryRecord, SECRET_FIELD, Webhooks, WebhooksError, after, binding, signing,
    webhook_id,
};
use crate::cipher::CipherError;
use crate::error::CommandError;
use crate::metadata::EventMetadata;

/// The longest wait between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(6 * 3600);
/// Attempts in flight at once per worker.
const IN_FLIGHT: usize = 16;
/// Longest excerpt of a receiver's failure kept.
const MAX_ERROR_LEN: usize = 300;

/// What a receiver did with a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It answered with this HTTP status.
    Status(u16),
    /// No answer: refused, unreachable, timed out, or not allowed by the address rule.
    Failed(String),
}

/// The wait after `failures` failed attempts: the initial delay, four
/// times as long each time after, never over six hours.
pub fn retry_delay(initial: Duration, failures: u32) -> Duration {
    let factor = 4u32.saturating_pow(failures.saturating_sub(1));
    initial.saturating_mul(factor).min(MAX_DELAY)
}

fn excerpt(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_LEN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

impl Webhooks<'_> {
    /// Attempts the deliveries due now, each claimed just before it is
    /// sent (so a claim never lapses while it waits its turn); returns how
    /// many this worker attempted.
    pub async fn deliver_due(&self, limit: usize) -> Result<usize, WebhooksError> {
        let due = self.outbox.due(Utc::now(), limit).await?;
        let outcomes: Vec<_> = futures::stream::iter(due)
            .map(|delivery| self.claim_and_attempt(delivery))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let mut attempted = 0;
        for outcome in outcomes {
            match outcome {
                Ok(true) => attempted += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "a webhook attempt could not be recorded; it is retried when its claim lapses")
                }
            }
        }
        Ok(attempted)
    }

    async fn claim_and_attempt(&self, delivery: DeliveryRecord) -> Result<bool, WebhooksError> {
        let now = Utc::now();
        let lease = after(now, self.timing.lease);
        if !self.outbox.claim(delivery.delivery_id, now, lease).await? {
            return Ok(false);
        }
        self.attempt(delivery, lease).await?;
        Ok(true)
    }

    /// One attempt of a delivery claimed until `lease`.
    async fn attempt(&self, delivery: DeliveryRecord, lease: DateTime<Utc>) -> Result<(), WebhooksError> {
        let started_at = Utc::now();
        let clock = Instant::now();
        let endpoint = self
            .store
            .load(&delivery.endpoint_id.to_string())
            .await?
            .map(|l| l.aggregate)
            .filter(|e| e.is_in(delivery.organisation_id));
        if endpoint.as_ref().is_some_and(|e| e.disabled.is_some()) {
            // Disabled since it was listed: nothing is sent; the claim lapses
            // and the outbox skips it until the endpoint is enabled again.
            return Ok(());
        }
        let answer = match &endpoint {
            None => Answer::Failed("the endpoint was deleted".into()),
            Some(endpoint) => match self.signed_headers(endpoint, &delivery, started_at).await {
                Ok(headers) => {
                    let url = endpoint.spec.as_ref().map(|s| s.url.as_str()).unwrap_or_default();
                    self.transport.post(url, &headers, &delivery.body).await
                }
                Err(error) => Answer::Failed(format!("the endpoint's secret cannot be opened: {error}")),
            },
        };
        let attempt = AttemptRecord {
            attempt: delivery.attempts + 1,
            started_at,
            duration_ms: clock.elapsed().as_millis() as u64,
            status: match answer {
                Answer::Status(status) => Some(status),
                Answer::Failed(_) => None,
            },
            error: match &answer {
                Answer::Status(status) if (200..300).contains(status) => None,
                Answer::Status(status) => Some(format!("HTTP {status}")),
                Answer::Failed(reason) => Some(excerpt(reason)),
            },
        };
        let result = self.result_of(&delivery, &attempt, endpoint.is_none());
        if !self
            .outbox
            .finish(delivery.delivery_id, lease, &attempt, result)
            .await?
        {
            tracing::warn!(delivery_id = %delivery.delivery_id, "a webhook attempt outlived its claim; its outcome is not recorded");
            return Ok(());
        }
        match (result, &endpoint) {
            (AttemptResult::GaveUp, Some(endpoint)) => self.disable(endpoint, &delivery, &attempt).await,
            _ => Ok(()),
        }
    }

    /// What an attempt leaves its delivery as.
    fn result_of(&self, delivery: &DeliveryRecord, attempt: &AttemptRecord, deleted: bool) -> AttemptResult {
        if attempt.error.is_none() {
            return AttemptResult::Succeeded;
        }
        let now = Utc::now();
        let window_ends_at = self.window_ends_at(delivery);
        if deleted || now >= window_ends_at {
            return AttemptResult::GaveUp;
        }
        let failures = attempt.attempt.saturating_sub(delivery.attempts_before_window);
        let next = after(now, retry_delay(self.timing.retry_initial, failures));
        AttemptResult::Retry {
            at: next.min(window_ends_at),
        }
    }

    /// When a delivery stops being retried.
    pub fn window_ends_at(&self, delivery: &DeliveryRecord) -> DateTime<Utc> {
        delivery
            .window_ends_at
            .unwrap_or_else(|| after(delivery.written_at, self.timing.window))
    }

    async fn signed_headers(
        &self,
        endpoint: &WebhookEndpoint,
        delivery: &DeliveryRecord,
        now: DateTime<Utc>,
    ) -> Result<Vec<(&'static str, String)>, WebhooksError> {
        let keys = self.signing_keys(endpoint, now).await?;
        let id = webhook_id(delivery.delivery_id);
        let timestamp = now.timestamp();
        let signature = signing::signature_header(&keys, &id, timestamp, &delivery.body);
        Ok(vec![
            ("content-type", "application/json".into()),
            ("user-agent", "Switchboard-Webhooks/1".into()),
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ])
    }

    /// The key bytes of every secret that signs at `now`, the current first.
    pub async fn signing_keys(
        &self,
        endpoint: &WebhookEndpoint,
        now: DateTime<Utc>,
    ) -> Result<Vec<Zeroizing<Vec<u8>>>, WebhooksError> {
        let endpoint_id = endpoint.id.unwrap_or_else(Uuid::nil);
        let data_key_id = endpoint.data_key_id.ok_or(CipherError::DataKeyDestroyed)?;
        let key = self.keys.get(data_key_id).await?.ok_or(CipherError::DataKeyDestroyed)?;
        let binding = binding(endpoint_id);
        let mut keys = Vec::new();
        for sealed in endpoint.signing_secrets(now) {
            debug_assert_eq!(sealed.field, SECRET_FIELD);
            let secret = self.cipher.open(&key, &binding, sealed)?;
            keys.push(signing::key_of(&secret).ok_or(CipherError::Malformed)?);
        }
        Ok(keys)
    }

    /// Disables an endpoint whose delivery failed for the whole window.
    async fn disable(
        &self,
        endpoint: &WebhookEndpoint,
        delivery: &DeliveryRecord,
        attempt: &AttemptRecord,
    ) -> Result<(), WebhooksError> {
        let Some(organisation_id) = endpoint.organisation_id else {
            return Ok(());
        };
        let reason = format!(
            "delivery {} failed for the whole retry window ({} attempts); the last: {}",
            webhook_id(delivery.delivery_id),
            attempt.attempt,
            attempt.error.as_deref().unwrap_or("no answer"),
        );
        let command = WebhookEndpointCommand::Disable {
            organisation_id,
            reason,
            by: None,
            at: Utc::now(),
        };
        let meta = EventMetadata::system("webhook-delivery", Some(organisation_id));
        let endpoint_id = delivery.endpoint_id.to_string();
        match self.store.execute(&endpoint_id, command, &meta).await {
            Ok(())
            | Err(CommandError::Rejected(WebhookEndpointError::AlreadyDisabled | WebhookEndpointError::NotFound)) => {
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_four_times_longer_each_time_up_to_six_hours() {
        let initial = Duration::from_secs(5);
        assert_eq!(retry_delay(initial, 1), Duration::from_secs(5));
        assert_eq!(retry_delay(initial, 2), Duration::from_secs(20));
        assert_eq!(retry_delay(initial, 3), Duration::from_secs(80));
        assert_eq!(retry_delay(initial, 7), Duration::from_secs(20_480));
        assert_eq!(retry_delay(initial, 8), MAX_DELAY);
        assert_eq!(retry_delay(initial, 40), MAX_DELAY);
        assert_eq!(retry_delay(initial, 0), Duration::from_secs(5));
    }

    #[test]
    fn an_error_excerpt_is_cut_on_a_character_boundary() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(MAX_ERROR_LEN + 5);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), MAX_ERROR_LEN + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt(&"é".repeat(MAX_ERROR_LEN)), "é".repeat(MAX_ERROR_LEN));
    }
}
