//! Configuring, testing, reading and deleting integrations, and rotating
//! the master key their secrets are sealed under.

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use uuid::Uuid;
use zeroize::Zeroizing;

use domain::OrganisationId;
use domain::integration::settings::{ExotelPhone, ExotelSms, ExotelWhatsapp, SettingsError, ZohoMail};
use domain::integration::{
    Integration, IntegrationCommand, IntegrationError, IntegrationKind, IntegrationSettings, SealedSecret, TestOutcome,
    integration_id,
};

use crate::cipher::{CipherError, CredentialCipher, DataKeyStore, WrappedKey};
use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;
use crate::store::AggregateStore;

/// The secret fields of each kind; everything else is a setting.
pub fn secret_fields(kind: IntegrationKind) -> &'static [&'static str] {
    match kind {
        IntegrationKind::ZohoMail => &["smtp_password", "imap_password"],
        _ => &["api_key", "api_token"],
    }
}

/// Settings and secrets as a caller sent them, checked.
pub struct Configuration {
    pub settings: IntegrationSettings,
    pub secrets: BTreeMap<String, Zeroizing<String>>,
    pub save_unverified: bool,
}

/// What a connection test found.
#[derive(Debug, Clone, PartialEq)]
pub enum TestResult {
    Passed {
        details: Value,
    },
    Failed {
        status_code: Option<u16>,
        error: String,
        details: Value,
    },
    /// No test exists for this kind yet; nothing was tried.
    Unavailable {
        reason: String,
    },
}

/// Tries an integration's settings and secrets against its provider.
#[async_trait]
pub trait ConnectionTester: Send + Sync {
    async fn test(&self, settings: &IntegrationSettings, secrets: &BTreeMap<String, Zeroizing<String>>) -> TestResult;
}

/// Why an integration use case failed.
#[derive(Debug, thiserror::Error)]
pub enum IntegrationsError {
    #[error(transparent)]
    Invalid(#[from] SettingsError),
    #[error("the connection test failed: {error}")]
    TestFailed {
        status_code: Option<u16>,
        error: String,
        details: Value,
    },
    #[error("no connection test is available: {0}")]
    TestUnavailable(String),
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError<IntegrationError>),
}

/// Parses a request body for a kind: secret fields are taken out as
/// strings, the rest must be that kind's settings; `save_unverified` is a
/// flag, not a setting.
pub fn parse_configuration(kind: IntegrationKind, body: Value) -> Result<Configuration, SettingsError> {
    let Value::Object(mut fields) = body else {
        return Err(SettingsError {
            field: "body".into(),
            reason: "must be a JSON object".into(),
        });
    };
    let save_unverified = match fields.remove("save_unverified") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => flag,
        Some(_) => {
            return Err(SettingsError {
                field: "save_unverified".into(),
                reason: "must be true or false".into(),
            });
        }
    };
    let secrets = take_secrets(kind, &mut fields)?;
    let settings = parse_settings(kind, Value::Object(fields))?.validated()?;
    Ok(Configuration {
        settings,
        secrets,
        save_unverified,
    })
}

fn take_secrets(
    kind: IntegrationKind,
    fields: &mut Map<String, Value>,
) -> Result<BTreeMap<String, Zeroizing<String>>, SettingsError> {
    let mut secrets = BTreeMap::new();
    for field in secret_fields(kind) {
        match fields.remove(*field) {
            Some(Value::String(text)) if !text.trim().is_empty() && text.len() <= 1024 => {
                secrets.insert(field.to_string(), Zeroizing::new(text));
            }
            Some(Value::String(_)) | None => {
                return Err(SettingsError {
                    field: field.to_string(),
                    reason: "is required (1 to 1024 characters)".into(),
                });
            }
            Some(_) => {
                return Err(SettingsError {
                    field: field.to_string(),
                    reason: "must be a string".into(),
                });
            }
        }
    }
    Ok(secrets)
}

fn parse_settings(kind: IntegrationKind, value: Value) -> Result<IntegrationSettings, SettingsError> {
    fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, SettingsError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let reason = e.inner().to_string();
            let field = match reason.strip_prefix("missing field `") {
                Some(rest) if path == "." => rest.split('`').next().unwrap_or_default().to_string(),
                _ => path,
            };
            SettingsError { field, reason }
        })
    }
    Ok(match kind {
        IntegrationKind::ExotelPhone => IntegrationSettings::ExotelPhone(typed::<ExotelPhone>(value)?),
        IntegrationKind::ExotelSms => IntegrationSettings::ExotelSms(typed::<ExotelSms>(value)?),
        IntegrationKind::ExotelWhatsapp => IntegrationSettings::ExotelWhatsapp(typed::<ExotelWhatsapp>(value)?),
        IntegrationKind::ZohoMail => IntegrationSettings::ZohoMail(typed::<ZohoMail>(value)?),
    })
}

/// The associated data binding a record's keys and secrets to it.
pub fn binding(integration_id: Uuid, kind: IntegrationKind) -> String {
    format!("integration:{integration_id}:{}", kind.as_str())
}

/// The stores and services the integration use cases need.
pub struct Integrations<'a> {
    pub store: &'a dyn AggregateStore<Integration>,
    pub keys: &'a dyn DataKeyStore,
    pub cipher: &'a dyn CredentialCipher,
    pub tester: &'a dyn ConnectionTester,
}

impl Integrations<'_> {
    /// Tests settings and secrets without saving anything.
    pub async fn test(&self, configuration: &Configuration) -> TestResult {
        self.tester.test(&configuration.settings, &configuration.secrets).await
    }

    /// Tests (unless asked to save unverified), seals the secrets under a new
    /// data key and saves. A failed test is recorded and nothing is saved.
    pub async fn configure(
        &self,
        organisation_id: OrganisationId,
        configuration: Configuration,
        configured_by: Option<Uuid>,
        meta: &EventMetadata,
    ) -> Result<Integration, IntegrationsError> {
        let kind = configuration.settings.kind();
        let id = integration_id(organisation_id, kind);
        let outcome = match configuration.save_unverified {
            true => TestOutcome::NotRun,
            false => {
                self.tested_or_recorded(organisation_id, kind, &configuration, meta)
                    .await?
            }
        };
        let key = self.cipher.new_data_key(Uuid::new_v4(), id, &binding(id, kind))?;
        let secrets = self.seal_all(&key, kind, &configuration.secrets)?;
        self.keys.put(&key).await?;
        let command = IntegrationCommand::Configure {
            integration_id: id,
            organisation_id,
            settings: Box::new(configuration.settings),
            secrets,
            data_key_id: key.data_key_id,
            master_key_id: key.master_key_id.clone(),
            outcome,
            configured_by,
            at: Utc::now(),
        };
        self.store.execute(&id.to_string(), command, meta).await?;
        // The replaced configuration's key goes: its secrets are shredded too.
        self.keys.destroy_for(id, Some(key.data_key_id)).await?;
        self.current(organisation_id, kind)
            .await?
            .ok_or(IntegrationsError::Command(CommandError::Rejected(
                IntegrationError::NotConfigured,
            )))
    }

    async fn tested_or_recorded(
        &self,
        organisation_id: OrganisationId,
        kind: IntegrationKind,
        configuration: &Configuration,
        meta: &EventMetadata,
    ) -> Result<TestOutcome, IntegrationsError> {
        let (status_code, error, refusal) = match self.test(configuration).await {
            TestResult::Passed { .. } => return Ok(TestOutcome::Passed),
            TestResult::Failed {
                status_code,
                error,
                details,
            } => (
                status_code,
                error.clone(),
                IntegrationsError::TestFailed {
                    status_code,
                    error,
                    details,
                },
            ),
            TestResult::Unavailable { reason } => (None, reason.clone(), IntegrationsError::TestUnavailable(reason)),
        };
        let id = integration_id(organisation_id, kind);
        let command = IntegrationCommand::RecordRejectedConfiguration {
            integration_id: id,
            organisation_id,
            kind,
            status_code,
            error,
            at: Utc::now(),
        };
        self.store.execute(&id.to_string(), command, meta).await?;
        Err(refusal)
    }

    fn seal_all(
        &self,
        key: &WrappedKey,
        kind: IntegrationKind,
        secrets: &BTreeMap<String, Zeroizing<String>>,
    ) -> Result<Vec<SealedSecret>, CipherError> {
        let binding = binding(key.integration_id, kind);
        secrets
            .iter()
            .map(|(field, plaintext)| self.cipher.seal(key, &binding, field, plaintext))
            .collect()
    }

    /// The organisation's integration of a kind, if configured.
    pub async fn current(
        &self,
        organisation_id: OrganisationId,
        kind: IntegrationKind,
    ) -> Result<Option<Integration>, StoreError> {
        let loaded = self
            .store
            .load(&integration_id(organisation_id, kind).to_string())
            .await?;
        Ok(loaded
            .map(|l| l.aggregate)
            .filter(|i| i.organisation_id == Some(organisation_id) && i.settings.is_some()))
    }

    /// An integration by its id, whichever organisation's it is (a provider's
    /// webhook names only the integration); `None` if it never existed.
    pub async fn by_id(&self, integration_id: Uuid) -> Result<Option<Integration>, StoreError> {
        let loaded = self.store.load(&integration_id.to_string()).await?;
        Ok(loaded.map(|l| l.aggregate).filter(|i| i.organisation_id.is_some()))
    }

    /// Stops (`enabled = false`) or resumes the integration's use, keeping its settings.
    pub async fn set_enabled(
        &self,
        organisation_id: OrganisationId,
        kind: IntegrationKind,
        enabled: bool,
        meta: &EventMetadata,
    ) -> Result<Integration, IntegrationsError> {
        let id = integration_id(organisation_id, kind);
        let command = match enabled {
            true => IntegrationCommand::Enable {
                organisation_id,
                at: Utc::now(),
            },
            false => IntegrationCommand::Disable {
                organisation_id,
                at: Utc::now(),
            },
        };
        self.store.execute(&id.to_string(), command, meta).await?;
        self.current(organisation_id, kind)
            .await?
            .ok_or(IntegrationsError::Command(CommandError::Rejected(
                IntegrationError::NotConfigured,
            )))
    }

    /// Replaces the token in the provider's callback URLs: callbacks to the
    /// old one are refused from now on.
    pub async fn rotate_callback_token(
        &self,
        organisation_id: OrganisationId,
        kind: IntegrationKind,
        meta: &EventMetadata,
    ) -> Result<Integration, IntegrationsError> {
        let id = integration_id(organisation_id, kind);
        let command = IntegrationCommand::RotateCallbackToken {
            organisation_id,
            at: Utc::now(),
        };
        self.store.execute(&id.to_string(), command, meta).await?;
        self.current(organisation_id, kind)
            .await?
            .ok_or(IntegrationsError::Command(CommandError::Rejected(
                IntegrationError::NotConfigured,
            )))
    }

    /// Deletes the integration and destroys its data key.
    pub async fn delete(
        &self,
        organisation_id: OrganisationId,
        kind: IntegrationKind,
        meta: &EventMetadata,
    ) -> Result<(), IntegrationsError> {
        let id = integration_id(organisation_id, kind);
        let command = IntegrationCommand::Delete {
            organisation_id,
            at: Utc::now(),
        };
        let deleted = self.store.execute(&id.to_string(), command, meta).await;
        self.keys.destroy_for(id, None).await?;
        Ok(deleted?)
    }

    /// Opens every secret of a configured integration.
    pub async fn open_secrets(
        &self,
        organisation_id: OrganisationId,
        kind: IntegrationKind,
    ) -> Result<BTreeMap<String, Zeroizing<String>>, IntegrationsError> {
        let integration = self
            .current(organisation_id, kind)
            .await?
            .ok_or(CommandError::Rejected(IntegrationError::NotConfigured))?;
        let data_key_id = integration.data_key_id.ok_or(CipherError::DataKeyDestroyed)?;
        let key = self.keys.get(data_key_id).await?.ok_or(CipherError::DataKeyDestroyed)?;
        let binding = binding(key.integration_id, kind);
        let mut opened = BTreeMap::new();
        for sealed in &integration.secrets {
            opened.insert(sealed.field.clone(), self.cipher.open(&key, &binding, sealed)?);
        }
        Ok(opened)
    }

    /// Re-wraps every data key not under the active master key; returns how many.
    pub async fn rotate_keys(&self, meta: &EventMetadata) -> Result<usize, IntegrationsError> {
        let active = self.cipher.active_master_key_id().to_string();
        let mut rotated = 0;
        for key in self.keys.all().await?.into_iter().filter(|k| k.master_key_id != active) {
            let Some((kind, organisation_id)) = self.owner_of(key.integration_id).await? else {
                // An e-mail account's or a webhook endpoint's key: its record
                // is not an integration, and its binding names which it is.
                match self.rewrap_other(&key)? {
                    Some(rewrapped) => {
                        self.keys.replace(&rewrapped).await?;
                        rotated += 1;
                    }
                    None => tracing::warn!(
                        data_key_id = %key.data_key_id,
                        master_key_id = %key.master_key_id,
                        "a data key of no known record was left under its old master key"
                    ),
                }
                continue;
            };
            let rewrapped = self.cipher.rewrap(&key, &binding(key.integration_id, kind))?;
            self.keys.replace(&rewrapped).await?;
            let command = IntegrationCommand::RecordKeyRewrapped {
                data_key_id: key.data_key_id,
                master_key_id: active.clone(),
                at: Utc::now(),
            };
            let meta = EventMetadata {
                organisation_id,
                ..meta.clone()
            };
            let recorded = self
                .store
                .execute(&key.integration_id.to_string(), command, &meta)
                .await;
            match recorded {
                Ok(()) | Err(CommandError::Rejected(IntegrationError::UnknownDataKey)) => rotated += 1,
                Err(other) => return Err(other.into()),
            }
        }
        Ok(rotated)
    }

    async fn owner_of(
        &self,
        integration_id: Uuid,
    ) -> Result<Option<(IntegrationKind, Option<OrganisationId>)>, StoreError> {
        let loaded = self.store.load(&integration_id.to_string()).await?;
        Ok(loaded.and_then(|l| Some((l.aggregate.kind?, l.aggregate.organisation_id))))
    }

    /// Checks that the keyring can open every stored data key: a missing or
    /// wrong master key is reported with its id.
    pub async fn check_keyring(&self) -> Result<(), IntegrationsError> {
        let mut checked = std::collections::HashSet::new();
        for key in self.keys.all().await? {
            if checked.contains(&key.master_key_id) {
                continue;
            }
            match self.owner_of(key.integration_id).await? {
                Some((kind, _)) => {
                    self.cipher.rewrap(&key, &binding(key.integration_id, kind))?;
                }
                None => {
                    if self.rewrap_other(&key)?.is_none() {
                        // A key whose record is gone: nothing it seals is read.
                        continue;
                    }
                }
            }
            checked.insert(key.master_key_id.clone());
        }
        Ok(())
    }

    /// A key of an e-mail account or a webhook endpoint re-wrapped by the
    /// active master key; `None` if neither binding opens it (a wrong
    /// binding and a wrong master key look alike, so such a key is left as
    /// it is). A master key missing from the keyring is an error.
    fn rewrap_other(&self, key: &WrappedKey) -> Result<Option<WrappedKey>, CipherError> {
        let bindings = [
            crate::email_accounts::binding(key.integration_id),
            crate::webhooks::binding(key.integration_id),
        ];
        for binding in bindings {
            match self.cipher.rewrap(key, &binding) {
                Ok(rewrapped) => return Ok(Some(rewrapped)),
                Err(error @ CipherError::UnknownMasterKey(_)) => return Err(error),
                Err(_) => {}
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_taken_out_of_the_settings() {
        let body = json!({"account_sid": "acme1", "api_key": "k", "api_token": "t", "virtual_number": "01141169368"});
        let parsed = parse_configuration(IntegrationKind::ExotelPhone, body).unwrap();
        assert_eq!(parsed.secrets.keys().collect::<Vec<_>>(), ["api_key", "api_token"]);
        assert!(!serde_json::to_string(&parsed.settings).unwrap().contains("\"t\""));
        assert!(!parsed.save_unverified);
    }

    #[test]
    fn a_missing_secret_names_its_field() {
        let body = json!({"account_sid": "acme1", "api_key": "k", "virtual_number": "01141169368"});
        assert_eq!(
            parse_configuration(IntegrationKind::ExotelPhone, body)
                .err()
                .unwrap()
                .field,
            "api_token"
        );
    }

    #[test]
    fn a_missing_setting_names_its_field() {
        let body = json!({"api_key": "k", "api_token": "t", "virtual_number": "01141169368"});
        assert_eq!(
            parse_configuration(IntegrationKind::ExotelPhone, body)
                .err()
                .unwrap()
                .field,
            "account_sid"
        );
    }
}
