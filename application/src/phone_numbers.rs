//! Syncing an organisation's ExoPhones from its Exotel account, assigning
//! them to users and choosing the primary number.

use chrono::Utc;
use uuid::Uuid;

use domain::OrganisationId;
use domain::integration::{IntegrationKind, IntegrationStatus, integration_id};
use domain::phone_numbers::{
    NumberDetails, PhoneNumbers, PhoneNumbersCommand, PhoneNumbersError, SyncCounts, SyncedNumber,
};
use domain::user::User;

use crate::error::{CommandError, StoreError};
use crate::exotel::{ExoPhone, ExotelAccount, ExotelError, ExotelNumbers};
use crate::integrations::{Integrations, IntegrationsError};
use crate::metadata::EventMetadata;
use crate::store::AggregateStore;

/// Why a phone-number use case failed.
#[derive(Debug, thiserror::Error)]
pub enum PhoneNumbersUseCaseError {
    /// The Exotel phone integration is missing or disabled.
    #[error("Exotel phone is not configured or is disabled")]
    NotConfigured,
    /// 422: the user to give a number to is not one of the organisation's.
    #[error("no such user in this organisation")]
    UnknownUser,
    /// 422: a deactivated user cannot be given a number.
    #[error("a deactivated user cannot be given a number")]
    UserDeactivated,
    #[error(transparent)]
    Integration(#[from] IntegrationsError),
    #[error("Exotel: {0}")]
    Exotel(#[from] ExotelError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError<PhoneNumbersError>),
}

/// The stores and ports phone numbers need.
pub struct PhoneNumberBook<'a> {
    pub store: &'a dyn AggregateStore<PhoneNumbers>,
    pub users: &'a dyn AggregateStore<User>,
    pub exotel: &'a dyn ExotelNumbers,
}

/// An ExoPhone as the aggregate records it.
pub fn synced_number(exophone: &ExoPhone) -> SyncedNumber {
    SyncedNumber {
        phone_number: exophone.phone_number.clone(),
        details: NumberDetails {
            exotel_sid: exophone.sid.clone(),
            display_name: exophone.friendly_name.clone(),
            number_type: exophone.number_type.clone().unwrap_or_else(|| "virtual".into()),
            can_call: exophone.voice,
            can_sms: exophone.sms,
            region: exophone.region.clone(),
        },
    }
}

impl PhoneNumberBook<'_> {
    /// Fetches the account's ExoPhones and records what changed.
    pub async fn sync(
        &self,
        organisation_id: OrganisationId,
        integrations: &Integrations<'_>,
        meta: &EventMetadata,
    ) -> Result<SyncCounts, PhoneNumbersUseCaseError> {
        let account = exotel_phone_account(organisation_id, integrations).await?;
        let numbers: Vec<SyncedNumber> = self
            .exotel
            .exophones(&account)
            .await?
            .iter()
            .map(synced_number)
            .collect();
        let integration_id = integration_id(organisation_id, IntegrationKind::ExotelPhone);
        let id = organisation_id.to_string();
        let current = self.store.load(&id).await?.map(|l| l.aggregate).unwrap_or_default();
        let counts = current.sync_counts(organisation_id, integration_id, &numbers);
        let command = PhoneNumbersCommand::Sync {
            organisation_id,
            integration_id,
            numbers,
            at: Utc::now(),
        };
        self.store.execute(&id, command, meta).await?;
        Ok(counts)
    }

    /// How many of the organisation's numbers are active (Exotel still lists them).
    pub async fn active_numbers(&self, organisation_id: OrganisationId) -> Result<usize, PhoneNumbersUseCaseError> {
        let loaded = self.store.load(&organisation_id.to_string()).await?;
        Ok(loaded.map_or(0, |l| l.aggregate.numbers.values().filter(|n| n.active).count()))
    }

    /// Gives a number to an active user of the organisation, or takes it
    /// back with `None`.
    pub async fn assign(
        &self,
        organisation_id: OrganisationId,
        number_id: Uuid,
        user_id: Option<Uuid>,
        assigned_by: Option<Uuid>,
        meta: &EventMetadata,
    ) -> Result<(), PhoneNumbersUseCaseError> {
        if let Some(user_id) = user_id {
            self.ensure_active_member(organisation_id, user_id).await?;
        }
        let command = PhoneNumbersCommand::Assign {
            organisation_id,
            number_id,
            user_id,
            assigned_by,
            at: Utc::now(),
        };
        Ok(self.store.execute(&organisation_id.to_string(), command, meta).await?)
    }

    async fn ensure_active_member(
        &self,
        organisation_id: OrganisationId,
        user_id: Uuid,
    ) -> Result<(), PhoneNumbersUseCaseError> {
        let user = self.users.load(&user_id.to_string()).await?.map(|l| l.aggregate);
        match user.filter(|u| u.organisation_id == Some(organisation_id)) {
            Some(u) if u.active => Ok(()),
            Some(_) => Err(PhoneNumbersUseCaseError::UserDeactivated),
            None => Err(PhoneNumbersUseCaseError::UnknownUser),
        }
    }

    /// Makes a number the organisation's primary.
    pub async fn make_primary(
        &self,
        organisation_id: OrganisationId,
        number_id: Uuid,
        meta: &EventMetadata,
    ) -> Result<(), PhoneNumbersUseCaseError> {
        let command = PhoneNumbersCommand::MakePrimary {
            organisation_id,
            number_id,
            at: Utc::now(),
        };
        Ok(self.store.execute(&organisation_id.to_string(), command, meta).await?)
    }
}

/// The Exotel account of the organisation's active phone integration.
pub async fn exotel_phone_account(
    organisation_id: OrganisationId,
    integrations: &Integrations<'_>,
) -> Result<ExotelAccount, PhoneNumbersUseCaseError> {
    Ok(exotel_phone_integration(organisation_id, integrations).await?.1)
}

/// The organisation's active phone integration and its Exotel account,
/// from one load.
pub async fn exotel_phone_integration(
    organisation_id: OrganisationId,
    integrations: &Integrations<'_>,
) -> Result<(domain::integration::Integration, ExotelAccount), PhoneNumbersUseCaseError> {
    let integration = integrations
        .current(organisation_id, IntegrationKind::ExotelPhone)
        .await?
        .filter(|i| i.status == IntegrationStatus::Active)
        .ok_or(PhoneNumbersUseCaseError::NotConfigured)?;
    let settings = integration
        .settings
        .as_deref()
        .ok_or(PhoneNumbersUseCaseError::NotConfigured)?;
    let secrets = integrations
        .open_secrets(organisation_id, IntegrationKind::ExotelPhone)
        .await?;
    let account = ExotelAccount::of(settings, &secrets).ok_or(PhoneNumbersUseCaseError::NotConfigured)?;
    Ok((integration, account))
}
