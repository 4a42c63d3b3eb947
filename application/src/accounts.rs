//! Organisations and users: creating them, and the stores and throttle
//! every account use case works with (logging in is in `login`, API keys in
//! `api_keys`, changing users in `users`).

use chrono::Utc;
use domain::api_key::ApiKey;
use domain::login::LoginHistory;
use domain::organisation::{Organisation, OrganisationCommand, OrganisationError};
use domain::user::address::{UserAddress, UserAddressCommand, UserAddressError, address_id};
use domain::user::{User, UserCommand, UserError, legacy_user_id, user_id_for};
use domain::{EmailAddress, OrganisationId, Role};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{CommandError, StoreError};
use crate::login::LoginThrottle;
use crate::metadata::EventMetadata;
use crate::passwords::{self, PasswordError};
use crate::store::AggregateStore;

/// The prefix that marks a Switchboard API key.
pub const API_KEY_PREFIX: &str = "sbk";

/// The stores the account use cases write to.
pub struct Accounts<'a> {
    pub organisations: &'a dyn AggregateStore<Organisation>,
    pub users: &'a dyn AggregateStore<User>,
    pub user_addresses: &'a dyn AggregateStore<UserAddress>,
    pub logins: &'a dyn AggregateStore<LoginHistory>,
    pub api_keys: &'a dyn AggregateStore<ApiKey>,
    pub throttle: &'a LoginThrottle,
}

/// What a new user is given.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub organisation_id: OrganisationId,
    pub email: EmailAddress,
    pub display_name: String,
    pub password: String,
    pub role: Role,
}

/// Why registering a user failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("no such organisation")]
    UnknownOrganisation,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError<UserError>),
    #[error(transparent)]
    Address(#[from] CommandError<UserAddressError>),
}

/// An organisation as its members see it.
#[derive(Debug, Clone)]
pub struct OrganisationView {
    pub id: OrganisationId,
    pub name: String,
    pub created_at: Option<chrono::DateTime<Utc>>,
}

impl Accounts<'_> {
    /// Creates an organisation with a fresh id.
    pub async fn create_organisation(
        &self,
        name: &str,
        meta: &EventMetadata,
    ) -> Result<OrganisationId, CommandError<OrganisationError>> {
        self.create_organisation_with_id(Uuid::new_v4(), name, meta).await
    }

    /// Creates an organisation with a chosen id (the sandbox's is fixed).
    pub async fn create_organisation_with_id(
        &self,
        organisation_id: OrganisationId,
        name: &str,
        meta: &EventMetadata,
    ) -> Result<OrganisationId, CommandError<OrganisationError>> {
        let meta = EventMetadata {
            organisation_id: Some(organisation_id),
            ..meta.clone()
        };
        let command = OrganisationCommand::Create {
            organisation_id,
            name: name.to_string(),
            at: Utc::now(),
        };
        self.organisations
            .execute(&organisation_id.to_string(), command, &meta)
            .await?;
        Ok(organisation_id)
    }

    /// The caller's organisation, read from its events.
    pub async fn organisation(
        &self,
        organisation_id: OrganisationId,
    ) -> Result<OrganisationView, CommandError<OrganisationError>> {
        let loaded = self
            .organisations
            .load(&organisation_id.to_string())
            .await
            .map_err(|e| CommandError::Store(e.0))?
            .ok_or(CommandError::Rejected(OrganisationError::NotFound))?;
        Ok(OrganisationView {
            id: organisation_id,
            name: loaded.aggregate.name,
            created_at: loaded.aggregate.created_at,
        })
    }

    /// Renames the caller's organisation.
    pub async fn rename_organisation(
        &self,
        organisation_id: OrganisationId,
        name: &str,
        meta: &EventMetadata,
    ) -> Result<OrganisationView, CommandError<OrganisationError>> {
        let command = OrganisationCommand::Rename {
            organisation_id,
            name: name.to_string(),
        };
        self.organisations
            .execute(&organisation_id.to_string(), command, meta)
            .await?;
        self.organisation(organisation_id).await
    }

    /// The days the organisation's business is closed, by date.
    pub async fn holidays(
        &self,
        organisation_id: OrganisationId,
    ) -> Result<Vec<domain::organisation::Holiday>, CommandError<OrganisationError>> {
        let loaded = self
            .organisations
            .load(&organisation_id.to_string())
            .await
            .map_err(|e| CommandError::Store(e.0))?
            .ok_or(CommandError::Rejected(OrganisationError::NotFound))?;
        Ok(loaded.aggregate.holidays)
    }

    /// Replaces the organisation's holidays (away auto-replies go on them).
    pub async fn set_holidays(
        &self,
        organisation_id: OrganisationId,
        holidays: Vec<domain::organisation::Holiday>,
        meta: &EventMetadata,
    ) -> Result<Vec<domain::organisation::Holiday>, CommandError<OrganisationError>> {
        let command = OrganisationCommand::SetHolidays {
            organisation_id,
            holidays,
        };
        self.organisations
            .execute(&organisation_id.to_string(), command, meta)
            .await?;
        self.holidays(organisation_id).await
    }

    /// Registers a user in an existing organisation, as Switchboard itself
    /// (the CLI, the sandbox, tests).
    pub async fn register_user(&self, new: NewUser, meta: &EventMetadata) -> Result<Uuid, RegisterError> {
        self.register_user_by(None, new, meta).await
    }

    /// Registers a user, given by someone of role `registered_by`. The
    /// address is claimed first, so a login finds the user as soon as it
    /// exists; a failure in between leaves a claim that a retry reuses.
    /// Only the caller's own organisation can answer "already exists".
    pub async fn register_user_by(
        &self,
        registered_by: Option<Role>,
        new: NewUser,
        meta: &EventMetadata,
    ) -> Result<Uuid, RegisterError> {
        let org = self.organisations.load(&new.organisation_id.to_string()).await?;
        if org.is_none() {
            return Err(RegisterError::UnknownOrganisation);
        }
        let legacy = self.users.load(&legacy_user_id(&new.email).to_string()).await?;
        if legacy.is_some_and(|l| l.aggregate.organisation_id == Some(new.organisation_id)) {
            return Err(CommandError::Rejected(UserError::AlreadyRegistered).into());
        }
        let password_hash = passwords::hash(new.password).await?;
        let user_id = user_id_for(new.organisation_id, &new.email);
        let command = UserCommand::Register {
            user_id,
            organisation_id: new.organisation_id,
            email: new.email.clone(),
            display_name: new.display_name,
            password_hash,
            role: new.role,
            registered_by,
            at: Utc::now(),
        };
        User::default()
            .decide(command.clone())
            .map_err(CommandError::Rejected)?;
        let claim = UserAddressCommand::Claim {
            email: new.email.clone(),
            organisation_id: new.organisation_id,
            user_id,
        };
        self.user_addresses
            .execute(&address_id(&new.email).to_string(), claim, meta)
            .await?;
        self.users.execute(&user_id.to_string(), command, meta).await?;
        Ok(user_id)
    }
}

/// A fresh API key secret: its id, the whole token and the digest kept.
pub(crate) fn new_key_secret() -> (Uuid, String, String) {
    let key_id = Uuid::new_v4();
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let secret = hex::encode(secret);
    let token = format!("{API_KEY_PREFIX}_{}_{secret}", key_id.simple());
    (key_id, token, digest(&secret))
}

/// Whether a bearer token has the API-key form (rather than a JWT).
pub fn looks_like_api_key(token: &str) -> bool {
    token.starts_with(API_KEY_PREFIX) && token.as_bytes().get(API_KEY_PREFIX.len()) == Some(&b'_')
}

pub(crate) fn split_token(token: &str) -> Option<(Uuid, &str)> {
    let rest = token.strip_prefix(API_KEY_PREFIX)?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    Some((Uuid::try_parse(id).ok()?, secret))
}

pub(crate) fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_splits_into_its_key_id_and_secret() {
        let id = Uuid::new_v4();
        let token = format!("sbk_{}_abc123", id.simple());
        assert!(looks_like_api_key(&token));
        assert_eq!(split_token(&token), Some((id, "abc123")));
    }

    #[test]
    fn a_jwt_is_not_taken_for_an_api_key() {
        assert!(!looks_like_api_key("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
        assert_eq!(split_token("sbk_not-a-uuid_x"), None);
    }

    #[test]
    fn digests_compare_in_constant_time_and_correctly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
