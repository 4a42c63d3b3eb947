//! API keys: issuing and revoking them, and checking a presented key. A
//! key acts for the user who created it: it works only while that user is
//! active in the key's organisation and still holds a role that includes
//! the key's.

use chrono::Utc;
use uuid::Uuid;

use domain::api_key::{ApiKeyCommand, ApiKeyError};
use domain::{OrganisationId, Role};

use crate::accounts::{Accounts, constant_time_eq, digest, new_key_secret, split_token};
use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;
use crate::users::Acting;

/// A key as issued: the full secret is in `token` and is never stored.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub key_id: Uuid,
    pub name: String,
    pub role: Role,
    pub token: String,
}

/// Who an API key acts as.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyIdentity {
    pub key_id: Uuid,
    pub organisation_id: OrganisationId,
    pub role: Role,
    /// The user the key acts for, if it has one.
    pub created_by: Option<Uuid>,
}

/// What a presented key turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyCheck {
    /// Usable: it acts with this identity.
    Valid(KeyIdentity),
    /// Unknown, wrong or revoked.
    Invalid,
    /// Its creator is deactivated, gone from the organisation, or no longer
    /// holds a role that includes the key's.
    Suspended,
}

impl Accounts<'_> {
    /// Issues a new API key acting for the caller (or for the creator of
    /// the key calling); the returned token is the only copy of the secret.
    pub async fn issue_api_key(
        &self,
        acting: &Acting,
        name: &str,
        role: Role,
        meta: &EventMetadata,
    ) -> Result<IssuedKey, CommandError<ApiKeyError>> {
        let (key_id, token, secret_digest) = new_key_secret();
        let command = ApiKeyCommand::Issue {
            key_id,
            organisation_id: acting.organisation_id,
            name: name.to_string(),
            role,
            secret_digest,
            created_by: acting.user_id,
            issuer_role: Some(acting.role),
            at: Utc::now(),
        };
        crate::store::execute_new(self.api_keys, &key_id.to_string(), command, meta).await?;
        Ok(IssuedKey {
            key_id,
            name: name.trim().to_string(),
            role,
            token,
        })
    }

    /// Revokes a key of the caller's organisation; it stops working at once.
    pub async fn revoke_api_key(
        &self,
        acting: &Acting,
        key_id: Uuid,
        meta: &EventMetadata,
    ) -> Result<(), CommandError<ApiKeyError>> {
        let command = ApiKeyCommand::Revoke {
            organisation_id: acting.organisation_id,
            at: Utc::now(),
        };
        self.api_keys.execute(&key_id.to_string(), command, meta).await
    }

    /// Who a presented API key acts as, read from the event store: the key,
    /// then its creator, so a deactivation or demotion counts at once.
    pub async fn authenticate_api_key(&self, token: &str) -> Result<KeyCheck, StoreError> {
        let Some((key_id, secret)) = split_token(token) else {
            return Ok(KeyCheck::Invalid);
        };
        let Some(loaded) = self.api_keys.load(&key_id.to_string()).await? else {
            return Ok(KeyCheck::Invalid);
        };
        let key = loaded.aggregate;
        let matches = constant_time_eq(digest(secret).as_bytes(), key.secret_digest.as_bytes());
        let (true, Some(organisation_id), Some(role)) = (matches && key.is_usable(), key.organisation_id, key.role)
        else {
            return Ok(KeyCheck::Invalid);
        };
        if let Some(creator_id) = key.created_by {
            let creator = self.users.load(&creator_id.to_string()).await?.map(|l| l.aggregate);
            let stands = creator.is_some_and(|user| {
                user.active
                    && user.organisation_id == Some(organisation_id)
                    && user.role.is_some_and(|held| held.includes(role))
            });
            if !stands {
                return Ok(KeyCheck::Suspended);
            }
        }
        Ok(KeyCheck::Valid(KeyIdentity {
            key_id,
            organisation_id,
            role,
            created_by: key.created_by,
        }))
    }
}
