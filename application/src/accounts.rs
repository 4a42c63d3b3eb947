//! Organisations, users and API keys: registering, logging in, issuing and
//! checking keys.

use chrono::Utc;
use domain::api_key::{ApiKey, ApiKeyCommand};
use domain::login::{LoginCommand, LoginError, LoginHistory};
use domain::organisation::{Organisation, OrganisationCommand};
use domain::user::{User, UserCommand, UserError, user_id_for_email};
use domain::{EmailAddress, OrganisationId, Role};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;
use crate::passwords::{self, PasswordError};
use crate::store::AggregateStore;

/// The prefix that marks a Switchboard API key.
pub const API_KEY_PREFIX: &str = "sbk";

/// The stores the account use cases write to.
pub struct Accounts<'a> {
    pub organisations: &'a dyn AggregateStore<Organisation>,
    pub users: &'a dyn AggregateStore<User>,
    pub logins: &'a dyn AggregateStore<LoginHistory>,
    pub api_keys: &'a dyn AggregateStore<ApiKey>,
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
}

/// A key as issued: the full secret is in `token` and is never stored.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub key_id: Uuid,
    pub token: String,
}

/// Who an API key acts as.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyIdentity {
    pub key_id: Uuid,
    pub organisation_id: OrganisationId,
    pub role: Role,
}

impl Accounts<'_> {
    /// Creates an organisation with a fresh id.
    pub async fn create_organisation(
        &self,
        name: &str,
        meta: &EventMetadata,
    ) -> Result<OrganisationId, CommandError<domain::organisation::OrganisationError>> {
        self.create_organisation_with_id(Uuid::new_v4(), name, meta).await
    }

    /// Creates an organisation with a chosen id (the sandbox's is fixed).
    pub async fn create_organisation_with_id(
        &self,
        organisation_id: OrganisationId,
        name: &str,
        meta: &EventMetadata,
    ) -> Result<OrganisationId, CommandError<domain::organisation::OrganisationError>> {
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

    /// Registers a user in an existing organisation.
    pub async fn register_user(&self, new: NewUser, meta: &EventMetadata) -> Result<Uuid, RegisterError> {
        let org = self.organisations.load(&new.organisation_id.to_string()).await?;
        if org.is_none() {
            return Err(RegisterError::UnknownOrganisation);
        }
        let password_hash = passwords::hash(new.password).await?;
        let user_id = user_id_for_email(&new.email);
        let command = UserCommand::Register {
            user_id,
            organisation_id: new.organisation_id,
            email: new.email,
            display_name: new.display_name,
            password_hash,
            role: new.role,
            at: Utc::now(),
        };
        self.users.execute(&user_id.to_string(), command, meta).await?;
        Ok(user_id)
    }

    /// Checks an e-mail and password, records the attempt, and answers the
    /// user on success.
    pub async fn log_in(
        &self,
        email: &str,
        password: String,
        meta: &EventMetadata,
    ) -> Result<User, CommandError<LoginError>> {
        let Ok(email) = EmailAddress::parse(email) else {
            return Err(CommandError::Rejected(LoginError::InvalidCredentials));
        };
        let user_id = user_id_for_email(&email);
        let loaded = self
            .users
            .load(&user_id.to_string())
            .await
            .map_err(|e| CommandError::Store(e.0))?;
        let Some((user, organisation_id)) =
            loaded.and_then(|l| l.aggregate.organisation_id.map(|org| (l.aggregate, org)))
        else {
            let _ = passwords::verify(password, passwords::decoy_hash().await).await;
            return Err(CommandError::Rejected(LoginError::InvalidCredentials));
        };
        let matched = passwords::verify(password, user.password_hash.clone()).await;
        let meta = EventMetadata {
            organisation_id: Some(organisation_id),
            ..meta.clone()
        };
        let attempt = LoginCommand::Attempt {
            user_id,
            organisation_id,
            password_matched: matched,
            user_active: user.active,
            at: Utc::now(),
        };
        self.logins.execute(&user_id.to_string(), attempt, &meta).await?;
        if !matched {
            return Err(CommandError::Rejected(LoginError::InvalidCredentials));
        }
        Ok(user)
    }

    /// Issues a new API key; the returned token is the only copy of the secret.
    pub async fn issue_api_key(
        &self,
        organisation_id: OrganisationId,
        name: &str,
        role: Role,
        created_by: Option<Uuid>,
        meta: &EventMetadata,
    ) -> Result<IssuedKey, CommandError<domain::api_key::ApiKeyError>> {
        let key_id = Uuid::new_v4();
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let secret = hex::encode(secret);
        let command = ApiKeyCommand::Issue {
            key_id,
            organisation_id,
            name: name.to_string(),
            role,
            secret_digest: digest(&secret),
            created_by,
            at: Utc::now(),
        };
        self.api_keys.execute(&key_id.to_string(), command, meta).await?;
        Ok(IssuedKey {
            key_id,
            token: format!("{API_KEY_PREFIX}_{}_{secret}", key_id.simple()),
        })
    }

    /// Who a presented API key acts as; `None` if it is unknown, wrong or revoked.
    pub async fn authenticate_api_key(&self, token: &str) -> Result<Option<KeyIdentity>, StoreError> {
        let Some((key_id, secret)) = split_token(token) else {
            return Ok(None);
        };
        let Some(loaded) = self.api_keys.load(&key_id.to_string()).await? else {
            return Ok(None);
        };
        let key = loaded.aggregate;
        let matches = constant_time_eq(digest(secret).as_bytes(), key.secret_digest.as_bytes());
        Ok(match (matches && key.is_usable(), key.organisation_id, key.role) {
            (true, Some(organisation_id), Some(role)) => Some(KeyIdentity {
                key_id,
                organisation_id,
                role,
            }),
            _ => None,
        })
    }
}

/// Whether a bearer token has the API-key form (rather than a JWT).
pub fn looks_like_api_key(token: &str) -> bool {
    token.starts_with(API_KEY_PREFIX) && token.as_bytes().get(API_KEY_PREFIX.len()) == Some(&b'_')
}

fn split_token(token: &str) -> Option<(Uuid, &str)> {
    let rest = token.strip_prefix(API_KEY_PREFIX)?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    Some((Uuid::try_parse(id).ok()?, secret))
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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
