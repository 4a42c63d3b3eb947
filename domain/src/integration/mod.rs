//! An integration of one kind for one organisation: its non-secret
//! settings, its secrets sealed (ciphertext, nonce and fingerprint only),
//! the data key they are sealed with, and its verification status.
//!
//! The data key itself is never in an event: it lives, wrapped by a master
//! key, in a key table that deleting the integration erases.

mod kind;
pub mod settings;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use kind::IntegrationKind;
pub use settings::IntegrationSettings;

use crate::OrganisationId;

const INTEGRATION_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0002);

/// The id of an organisation's integration of one kind.
pub fn integration_id(organisation_id: OrganisationId, kind: IntegrationKind) -> Uuid {
    Uuid::new_v5(
        &INTEGRATION_NAMESPACE,
        format!("{organisation_id}/{}", kind.as_str()).as_bytes(),
    )
}

/// A secret sealed with the integration's data key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    pub field: String,
    /// Base64 nonce and ciphertext (XChaCha20-Poly1305).
    pub nonce: String,
    pub ciphertext: String,
    /// A keyed digest of the plaintext: equal secrets compare equal while the
    /// data key exists; it reveals nothing of the secret.
    pub fingerprint: String,
}

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum TestOutcome {
    Passed,
    Failed {
        status_code: Option<u16>,
        error: String,
    },
    /// The caller chose to save without a test.
    NotRun,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IntegrationCommand {
    Configure {
        integration_id: Uuid,
        organisation_id: OrganisationId,
        settings: Box<IntegrationSettings>,
        secrets: Vec<SealedSecret>,
        data_key_id: Uuid,
        master_key_id: String,
        outcome: TestOutcome,
        configured_by: Option<Uuid>,
        at: DateTime<Utc>,
    },
    /// A configuration whose connection test failed was not saved.
    RecordRejectedConfiguration {
        integration_id: Uuid,
        organisation_id: OrganisationId,
        kind: IntegrationKind,
        status_code: Option<u16>,
        error: String,
        at: DateTime<Utc>,
    },
    RecordTest {
        organisation_id: OrganisationId,
        outcome: TestOutcome,
        at: DateTime<Utc>,
    },
    Disable {
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
    Enable {
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
    /// The data key was re-wrapped under another master key.
    RecordKeyRewrapped {
        data_key_id: Uuid,
        master_key_id: String,
        at: DateTime<Utc>,
    },
    Delete {
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
    /// A new token for the provider's callback URLs; the old one stops working.
    RotateCallbackToken {
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IntegrationEvent {
    IntegrationConfigured {
        integration_id: Uuid,
        organisation_id: OrganisationId,
        kind: IntegrationKind,
        settings: Box<IntegrationSettings>,
        secrets: Vec<SealedSecret>,
        data_key_id: Uuid,
        master_key_id: String,
        configured_by: Option<Uuid>,
        configured_at: DateTime<Utc>,
    },
    IntegrationVerified {
        at: DateTime<Utc>,
    },
    IntegrationVerificationFailed {
        status_code: Option<u16>,
        error: String,
        at: DateTime<Utc>,
    },
    IntegrationConfigurationRejected {
        integration_id: Uuid,
        organisation_id: OrganisationId,
        kind: IntegrationKind,
        status_code: Option<u16>,
        error: String,
        at: DateTime<Utc>,
    },
    IntegrationDisabled {
        at: DateTime<Utc>,
    },
    IntegrationEnabled {
        at: DateTime<Utc>,
    },
    IntegrationDataKeyRewrapped {
        data_key_id: Uuid,
        master_key_id: String,
        at: DateTime<Utc>,
    },
    /// The settings are gone and the data key was destroyed: the sealed
    /// secrets in earlier events can no longer be opened.
    IntegrationDeleted {
        data_key_id: Option<Uuid>,
        at: DateTime<Utc>,
    },
    /// The callback token is now the one of this generation (the token
    /// itself is derived from it and a server key, never stored).
    IntegrationCallbackTokenRotated {
        generation: u32,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for IntegrationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::IntegrationConfigured { .. } => "IntegrationConfigured",
            Self::IntegrationVerified { .. } => "IntegrationVerified",
            Self::IntegrationVerificationFailed { .. } => "IntegrationVerificationFailed",
            Self::IntegrationConfigurationRejected { .. } => "IntegrationConfigurationRejected",
            Self::IntegrationDisabled { .. } => "IntegrationDisabled",
            Self::IntegrationEnabled { .. } => "IntegrationEnabled",
            Self::IntegrationDataKeyRewrapped { .. } => "IntegrationDataKeyRewrapped",
            Self::IntegrationDeleted { .. } => "IntegrationDeleted",
            Self::IntegrationCallbackTokenRotated { .. } => "IntegrationCallbackTokenRotated",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule an integration command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationError {
    /// 404: not configured (or another organisation's).
    #[error("the integration is not configured")]
    NotConfigured,
    /// 422: settings of another kind.
    #[error("the settings are for another kind of integration")]
    KindMismatch,
    /// 409: already disabled.
    #[error("the integration is already disabled")]
    AlreadyDisabled,
    /// 409: already enabled.
    #[error("the integration is already enabled")]
    AlreadyEnabled,
    /// 409: the key being recorded is not this integration's.
    #[error("that data key is not this integration's")]
    UnknownDataKey,
}

/// Where an integration stands.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    #[default]
    NotConfigured,
    Active,
    VerificationFailed,
    Disabled,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    pub id: Option<Uuid>,
    pub organisation_id: Option<OrganisationId>,
    pub kind: Option<IntegrationKind>,
    pub settings: Option<Box<IntegrationSettings>>,
    pub secrets: Vec<SealedSecret>,
    pub data_key_id: Option<Uuid>,
    pub master_key_id: Option<String>,
    pub status: IntegrationStatus,
    pub verified: bool,
    pub last_verified_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub configured_at: Option<DateTime<Utc>>,
    /// Which callback token is current: kept through reconfiguration and
    /// deletion, so a rotated-out token never comes back.
    pub callback_generation: u32,
}

impl Integration {
    fn ensure_configured(&self, organisation_id: OrganisationId) -> Result<(), IntegrationError> {
        match (self.organisation_id, &self.settings) {
            (Some(org), Some(_)) if org == organisation_id => Ok(()),
            _ => Err(IntegrationError::NotConfigured),
        }
    }

    fn configure(
        &self,
        configured: IntegrationEvent,
        kind: IntegrationKind,
        outcome: TestOutcome,
        at: DateTime<Utc>,
    ) -> Result<Vec<IntegrationEvent>, IntegrationError> {
        if self.kind.is_some_and(|k| k != kind) {
            return Err(IntegrationError::KindMismatch);
        }
        Ok([Some(configured), outcome_event(outcome, at)]
            .into_iter()
            .flatten()
            .collect())
    }

    fn record_test(
        &self,
        organisation_id: OrganisationId,
        outcome: TestOutcome,
        at: DateTime<Utc>,
    ) -> Result<Vec<IntegrationEvent>, IntegrationError> {
        self.ensure_configured(organisation_id)?;
        Ok(outcome_event(outcome, at).into_iter().collect())
    }

    fn disable(
        &self,
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    ) -> Result<Vec<IntegrationEvent>, IntegrationError> {
        self.ensure_configured(organisation_id)?;
        if self.status == IntegrationStatus::Disabled {
            return Err(IntegrationError::AlreadyDisabled);
        }
        Ok(vec![IntegrationEvent::IntegrationDisabled { at }])
    }

    fn enable(
        &self,
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    ) -> Result<Vec<IntegrationEvent>, IntegrationError> {
        self.ensure_configured(organisation_id)?;
        if self.status != IntegrationStatus::Disabled {
            return Err(IntegrationError::AlreadyEnabled);
        }
        Ok(vec![IntegrationEvent::IntegrationEnabled { at }])
    }

    fn record_key_rewrapped(
        &self,
        data_key_id: Uuid,
        master_key_id: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<IntegrationEvent>, IntegrationError> {
        if self.data_key_id != Some(data_key_id) {
            return Err(IntegrationError::UnknownDataKey);
        }
        Ok(vec![IntegrationEvent::IntegrationDataKeyRewrapped {
            data_key_id,
            master_key_id,
            at,
        }])
    }

    fn delete(
        &self,
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    ) -> Result<Vec<IntegrationEvent>, IntegrationError> {
        self.ensure_configured(organisation_id)?;
        Ok(vec![IntegrationEvent::IntegrationDeleted {
            data_key_id: self.data_key_id,
            at,
        }])
    }

    /// Routes each command to its own rule; the two record-only commands
    /// become their event as they are.
    fn decide(&self, command: IntegrationCommand) -> Result<Vec<IntegrationEvent>, IntegrationError> {
        use IntegrationCommand as C;
        use IntegrationEvent as E;
        match command {
            C::Configure {
                integration_id,
                organisation_id,
                settings,
                secrets,
                data_key_id,
                master_key_id,
                outcome,
                configured_by,
                at,
            } => {
                let kind = settings.kind();
                let configured = E::IntegrationConfigured {
                    integration_id,
                    organisation_id,
                    kind,
                    settings,
                    secrets,
                    data_key_id,
                    master_key_id,
                    configured_by,
                    configured_at: at,
                };
                self.configure(configured, kind, outcome, at)
            }
            C::RecordRejectedConfiguration {
                integration_id,
                organisation_id,
                kind,
                status_code,
                error,
                at,
            } => Ok(vec![E::IntegrationConfigurationRejected {
                integration_id,
                organisation_id,
                kind,
                status_code,
                error,
                at,
            }]),
            C::RecordTest {
                organisation_id,
                outcome,
                at,
            } => self.record_test(organisation_id, outcome, at),
            C::Disable { organisation_id, at } => self.disable(organisation_id, at),
            C::Enable { organisation_id, at } => self.enable(organisation_id, at),
            C::RecordKeyRewrapped {
                data_key_id,
                master_key_id,
                at,
            } => self.record_key_rewrapped(data_key_id, master_key_id, at),
            C::Delete { organisation_id, at } => self.delete(organisation_id, at),
            C::RotateCallbackToken { organisation_id, at } => {
                self.ensure_configured(organisation_id)?;
                Ok(vec![E::IntegrationCallbackTokenRotated {
                    generation: self.callback_generation + 1,
                    at,
                }])
            }
        }
    }
}

fn outcome_event(outcome: TestOutcome, at: DateTime<Utc>) -> Option<IntegrationEvent> {
    match outcome {
        TestOutcome::Passed => Some(IntegrationEvent::IntegrationVerified { at }),
        TestOutcome::Failed { status_code, error } => {
            Some(IntegrationEvent::IntegrationVerificationFailed { status_code, error, at })
        }
        TestOutcome::NotRun => None,
    }
}

impl Aggregate for Integration {
    const TYPE: &'static str = "integration";
    type Command = IntegrationCommand;
    type Event = IntegrationEvent;
    type Error = IntegrationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        crate::write_all(self, sink, self.decide(command)?).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use IntegrationEvent as E;
        match event {
            E::IntegrationConfigured {
                integration_id,
                organisation_id,
                kind,
                settings,
                secrets,
                data_key_id,
                master_key_id,
                configured_at,
                ..
            } => {
                *self = Integration {
                    id: Some(integration_id),
                    organisation_id: Some(organisation_id),
                    kind: Some(kind),
                    settings: Some(settings),
                    secrets,
                    data_key_id: Some(data_key_id),
                    master_key_id: Some(master_key_id),
                    status: IntegrationStatus::Active,
                    configured_at: Some(configured_at),
                    callback_generation: self.callback_generation,
                    ..Integration::default()
                };
            }
            E::IntegrationVerified { at } => {
                self.verified = true;
                self.last_verified_at = Some(at);
                self.last_error = None;
                if self.status == IntegrationStatus::VerificationFailed {
                    self.status = IntegrationStatus::Active;
                }
            }
            E::IntegrationVerificationFailed { error, .. } => {
                self.verified = false;
                self.last_error = Some(error);
                if self.status == IntegrationStatus::Active {
                    self.status = IntegrationStatus::VerificationFailed;
                }
            }
            E::IntegrationConfigurationRejected {
                integration_id,
                organisation_id,
                kind,
                ..
            } => {
                self.id.get_or_insert(integration_id);
                self.organisation_id.get_or_insert(organisation_id);
                self.kind.get_or_insert(kind);
            }
            E::IntegrationDisabled { .. } => self.status = IntegrationStatus::Disabled,
            E::IntegrationEnabled { .. } => {
                self.status = if self.last_error.is_some() {
                    IntegrationStatus::VerificationFailed
                } else {
                    IntegrationStatus::Active
                }
            }
            E::IntegrationDataKeyRewrapped { master_key_id, .. } => self.master_key_id = Some(master_key_id),
            E::IntegrationDeleted { .. } => {
                *self = Integration {
                    id: self.id,
                    organisation_id: self.organisation_id,
                    kind: self.kind,
                    callback_generation: self.callback_generation,
                    ..Integration::default()
                };
            }
            E::IntegrationCallbackTokenRotated { generation, .. } => self.callback_generation = generation,
        }
    }
}
