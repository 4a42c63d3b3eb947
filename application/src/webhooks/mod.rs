//! Signed webhooks to client systems (Standard Webhooks 1.0). An admin
//! registers an endpoint and is shown its secret once; the secret is kept
//! sealed under a data key of the endpoint's own. Deliveries are written to
//! an outbox from the event feed (one per endpoint and event, so a replayed
//! feed doubles nothing) and sent by workers in any process: each attempt
//! is claimed with a lease, signed at send time with every secret in force,
//! and retried with growing delays for the retry window; a delivery that
//! fails for the whole window disables its endpoint with the reason.

mod delivery;
pub mod payload;
pub mod signing;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;
use uuid::Uuid;
use zeroize::Zeroizing;

use domain::OrganisationId;
use domain::webhook_endpoint::{
    EndpointChange, EndpointSpec, WebhookEndpoint, WebhookEndpointCommand, WebhookEndpointError, checked_spec,
    checked_url,
};

use crate::cipher::{CipherError, CredentialCipher, DataKeyStore};
use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;
use crate::store::AggregateStore;

pub use delivery::{Answer, retry_delay};

/// The sealed field the signing secret is kept under.
const SECRET_FIELD: &str = "signing_secret";

const DELIVERY_NAMESPACE: Uuid = Uuid::from_u128(0x9d2f_41c7_6b0e_4a55_8e3d_71c2_0b9a_0003);

/// The associated data binding an endpoint's key and secrets to it.
pub(crate) fn binding(endpoint_id: Uuid) -> String {
    format!("webhook_endpoint:{endpoint_id}")
}

/// The one delivery of a store event (`type:id:sequence`) to an endpoint.
pub fn delivery_id(endpoint_id: Uuid, source_event: &str) -> Uuid {
    Uuid::new_v5(&DELIVERY_NAMESPACE, format!("{endpoint_id}/{source_event}").as_bytes())
}

/// The `webhook-id` of a delivery: the same on every attempt.
pub fn webhook_id(delivery_id: Uuid) -> String {
    format!("msg_{}", delivery_id.simple())
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answered.
    Succeeded,
    /// Failed for the whole retry window.
    Failed,
}

/// A delivery as the outbox keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub delivery_id: Uuid,
    pub endpoint_id: Uuid,
    pub organisation_id: OrganisationId,
    pub event_type: String,
    pub source_event: String,
    pub body: String,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// When the delivery was written to the outbox: its retry window starts then.
    pub written_at: DateTime<Utc>,
    pub state: DeliveryState,
    pub attempts: u32,
    /// Attempts made before the current retry window began: delays count from there.
    pub attempts_before_window: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Retried until then; `None`: the configured window after `written_at`.
    pub window_ends_at: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why the attempt failed, when it did.
    pub error: Option<String>,
}

/// What an attempt leaves the delivery as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    Succeeded,
    Retry { at: DateTime<Utc> },
    GaveUp,
}

/// The outbox of deliveries: filled from the event feed, worked by the
/// delivery workers.
#[async_trait]
pub trait WebhookOutbox: Send + Sync {
    /// Pending deliveries due at `now`, to endpoints not disabled, unclaimed or
    /// with their claim lapsed, oldest first, a few per endpoint at most (so
    /// a slow receiver's backlog holds up no other endpoint).
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// Takes a delivery still pending and due at `now` until `until`; false
    /// if another worker has it, or has already attempted it.
    async fn claim(&self, delivery_id: Uuid, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Records an attempt and what it leaves the delivery as, releasing the
    /// claim taken until `lease`; false (nothing recorded) when that claim
    /// is no longer held.
    async fn finish(
        &self,
        delivery_id: Uuid,
        lease: DateTime<Utc>,
        attempt: &AttemptRecord,
        result: AttemptResult,
    ) -> Result<bool, StoreError>;
    /// One delivery of an endpoint, with its attempts in order.
    async fn delivery(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
    ) -> Result<Option<(DeliveryRecord, Vec<AttemptRecord>)>, StoreError>;
    /// Makes a delivery pending again, due now, retried until `window_ends_at`;
    /// false if the endpoint has no such delivery.
    async fn redeliver(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
        now: DateTime<Utc>,
        window_ends_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Gives an endpoint's pending deliveries a new retry window (on enable).
    async fn resume(&self, endpoint_id: Uuid, window_ends_at: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Reaching receivers, under the outbound address rule.
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    /// The address rule applied to a URL as written (a literal address);
    /// names are checked when they resolve, at delivery.
    fn check(&self, url: &str) -> Result<(), String>;
    /// Posts a body with its headers, following no redirect.
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> Answer;
}

/// How deliveries are paced.
#[derive(Debug, Clone, Copy)]
pub struct WebhookTiming {
    /// The delay after the first failure; each later one is four times the last, up to six hours.
    pub retry_initial: Duration,
    /// How long a delivery is retried before it fails for good.
    pub window: Duration,
    /// How long a rotated-out secret still signs.
    pub secret_overlap: Duration,
    /// How long a worker holds a claimed delivery (longer than a request may take).
    pub lease: Duration,
}

/// Why a webhook use case failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhooksError {
    #[error(transparent)]
    Command(#[from] CommandError<WebhookEndpointError>),
    /// 422 on `url`: the address rule refuses it.
    #[error("{0}")]
    UrlRefused(String),
    /// 404: no such delivery of this endpoint.
    #[error("no such delivery")]
    DeliveryNotFound,
    /// 409: a disabled endpoint is sent nothing.
    #[error("the webhook endpoint is disabled; enable it first")]
    EndpointDisabled,
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a caller asks for in a new endpoint.
pub type NewEndpoint = EndpointSpec;

/// The stores and services the webhook use cases need.
pub struct Webhooks<'a> {
    pub store: &'a dyn AggregateStore<WebhookEndpoint>,
    pub keys: &'a dyn DataKeyStore,
    pub cipher: &'a dyn CredentialCipher,
    pub outbox: &'a dyn WebhookOutbox,
    pub transport: &'a dyn WebhookTransport,
    pub timing: WebhookTiming,
}

fn after(now: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(span).unwrap_or(chrono::Duration::MAX)
}

impl Webhooks<'_> {
    fn check_url(&self, url: &str) -> Result<(), WebhooksError> {
        self.transport.check(url.trim()).map_err(WebhooksError::UrlRefused)
    }

    /// Registers an endpoint; returns it and its secret, shown this once.
    pub async fn register(
        &self,
        organisation_id: OrganisationId,
        spec: NewEndpoint,
        created_by: Option<Uuid>,
        meta: &EventMetadata,
    ) -> Result<(WebhookEndpoint, Zeroizing<String>), WebhooksError> {
        let spec = checked_spec(spec).map_err(CommandError::Rejected)?;
        self.check_url(&spec.url)?;
        let endpoint_id = Uuid::new_v4();
        let binding = binding(endpoint_id);
        let key = self.cipher.new_data_key(Uuid::new_v4(), endpoint_id, &binding)?;
        let secret = signing::new_secret();
        let sealed = self.cipher.seal(&key, &binding, SECRET_FIELD, &secret)?;
        self.keys.put(&key).await?;
        let command = WebhookEndpointCommand::Register {
            endpoint_id,
            organisation_id,
            spec,
            secret: sealed,
            data_key_id: key.data_key_id,
            created_by,
            at: Utc::now(),
        };
        self.store.execute(&endpoint_id.to_string(), command, meta).await?;
        Ok((self.get(organisation_id, endpoint_id).await?, secret))
    }

    /// An endpoint of the organisation.
    pub async fn get(
        &self,
        organisation_id: OrganisationId,
        endpoint_id: Uuid,
    ) -> Result<WebhookEndpoint, WebhooksError> {
        let loaded = self.store.load(&endpoint_id.to_string()).await?;
        loaded
            .map(|l| l.aggregate)
            .filter(|e| e.is_in(organisation_id))
            .ok_or(WebhooksError::Command(CommandError::Rejected(
                WebhookEndpointError::NotFound,
            )))
    }

    /// Changes the URL, event types or description; `enabled` stops or resumes deliveries.
    pub async fn change(
        &self,
        organisation_id: OrganisationId,
        endpoint_id: Uuid,
        change: EndpointChange,
        enabled: Option<bool>,
        by: Option<Uuid>,
        meta: &EventMetadata,
    ) -> Result<WebhookEndpoint, WebhooksError> {
        let current = self.get(organisation_id, endpoint_id).await?;
        if let Some(url) = &change.url {
            checked_url(url.clone()).map_err(CommandError::Rejected)?;
            self.check_url(url)?;
        }
        let id = endpoint_id.to_string();
        let command = WebhookEndpointCommand::Change {
            organisation_id,
            change,
            at: Utc::now(),
        };
        self.store.execute(&id, command, meta).await?;
        match enabled {
            Some(false) if current.disabled.is_none() => {
                let command = WebhookEndpointCommand::Disable {
                    organisation_id,
                    reason: "disabled by an admin".into(),
                    by,
                    at: Utc::now(),
                };
                self.store.execute(&id, command, meta).await?;
            }
            Some(true) if current.disabled.is_some() => {
                let now = Utc::now();
                let command = WebhookEndpointCommand::Enable {
                    organisation_id,
                    at: now,
                };
                self.store.execute(&id, command, meta).await?;
                self.outbox.resume(endpoint_id, after(now, self.timing.window)).await?;
            }
            _ => {}
        }
        self.get(organisation_id, endpoint_id).await
    }

    /// A new secret, shown this once; the previous one signs beside it for
    /// the overlap, so receivers can switch without losing a delivery.
    pub async fn rotate_secret(
        &self,
        organisation_id: OrganisationId,
        endpoint_id: Uuid,
        meta: &EventMetadata,
    ) -> Result<(WebhookEndpoint, Zeroizing<String>), WebhooksError> {
        let current = self.get(organisation_id, endpoint_id).await?;
        let data_key_id = current.data_key_id.ok_or(CipherError::DataKeyDestroyed)?;
        let key = self.keys.get(data_key_id).await?.ok_or(CipherError::DataKeyDestroyed)?;
        let secret = signing::new_secret();
        let sealed = self.cipher.seal(&key, &binding(endpoint_id), SECRET_FIELD, &secret)?;
        let now = Utc::now();
        let command = WebhookEndpointCommand::RotateSecret {
            organisation_id,
            secret: sealed,
            previous_valid_until: after(now, self.timing.secret_overlap),
            at: now,
        };
        self.store.execute(&endpoint_id.to_string(), command, meta).await?;
        Ok((self.get(organisation_id, endpoint_id).await?, secret))
    }

    /// Deletes an endpoint: nothing more is sent to it, and its secrets are shredded.
    pub async fn delete(
        &self,
        organisation_id: OrganisationId,
        endpoint_id: Uuid,
        meta: &EventMetadata,
    ) -> Result<(), WebhooksError> {
        let command = WebhookEndpointCommand::Delete {
            organisation_id,
            at: Utc::now(),
        };
        self.store.execute(&endpoint_id.to_string(), command, meta).await?;
        self.keys.destroy_for(endpoint_id, None).await?;
        Ok(())
    }

    /// One delivery of an endpoint of the organisation, with its attempts.
    pub async fn delivery(
        &self,
        organisation_id: OrganisationId,
        endpoint_id: Uuid,
        delivery_id: Uuid,
    ) -> Result<(DeliveryRecord, Vec<AttemptRecord>), WebhooksError> {
        self.get(organisation_id, endpoint_id).await?;
        self.outbox
            .delivery(endpoint_id, delivery_id)
            .await?
            .ok_or(WebhooksError::DeliveryNotFound)
    }

    /// Sends a delivery again, now, with the same `webhook-id`.
    pub async fn redeliver(
        &self,
        organisation_id: OrganisationId,
        endpoint_id: Uuid,
        delivery_id: Uuid,
    ) -> Result<(DeliveryRecord, Vec<AttemptRecord>), WebhooksError> {
        let endpoint = self.get(organisation_id, endpoint_id).await?;
        if endpoint.disabled.is_some() {
            return Err(WebhooksError::EndpointDisabled);
        }
        let now = Utc::now();
        let found = self
            .outbox
            .redeliver(endpoint_id, delivery_id, now, after(now, self.timing.window))
            .await?;
        if !found {
            return Err(WebhooksError::DeliveryNotFound);
        }
        self.delivery(organisation_id, endpoint_id, delivery_id).await
    }
}

#[cfg(test)]
mod tests;
