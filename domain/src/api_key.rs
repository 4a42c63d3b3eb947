//! An API key: a long random secret, shown once, that acts for an
//! organisation with a fixed role. Only a SHA-256 digest of the secret is
//! kept.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{OrganisationId, Role};

/// Longest key name accepted.
pub const MAX_NAME_LEN: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApiKeyCommand {
    Issue {
        key_id: Uuid,
        organisation_id: OrganisationId,
        name: String,
        role: Role,
        /// Hex SHA-256 of the secret part of the key.
        secret_digest: String,
        created_by: Option<Uuid>,
        at: DateTime<Utc>,
    },
    Revoke {
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApiKeyEvent {
    ApiKeyIssued {
        key_id: Uuid,
        organisation_id: OrganisationId,
        name: String,
        role: Role,
        secret_digest: String,
        created_by: Option<Uuid>,
        issued_at: DateTime<Utc>,
    },
    ApiKeyRevoked {
        revoked_at: DateTime<Utc>,
    },
}

impl DomainEvent for ApiKeyEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ApiKeyIssued { .. } => "ApiKeyIssued",
            Self::ApiKeyRevoked { .. } => "ApiKeyRevoked",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule an API-key command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    /// 409: the key id is taken.
    #[error("the API key already exists")]
    AlreadyIssued,
    /// 404: no such key in the caller's organisation.
    #[error("no such API key")]
    NotFound,
    /// 409: revoked keys stay revoked.
    #[error("the API key is already revoked")]
    AlreadyRevoked,
    /// 422: blank or over-long name.
    #[error("the name must be 1 to {MAX_NAME_LEN} characters")]
    InvalidName,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Option<Uuid>,
    pub organisation_id: Option<OrganisationId>,
    pub name: String,
    pub role: Option<Role>,
    pub secret_digest: String,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key may be used to authenticate.
    pub fn is_usable(&self) -> bool {
        self.id.is_some() && self.revoked_at.is_none()
    }

    async fn revoke(
        &mut self,
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) -> Result<(), ApiKeyError> {
        if self.organisation_id != Some(organisation_id) {
            return Err(ApiKeyError::NotFound);
        }
        if self.revoked_at.is_some() {
            return Err(ApiKeyError::AlreadyRevoked);
        }
        sink.write(ApiKeyEvent::ApiKeyRevoked { revoked_at: at }, self).await;
        Ok(())
    }
}

impl Aggregate for ApiKey {
    const TYPE: &'static str = "api_key";
    type Command = ApiKeyCommand;
    type Event = ApiKeyEvent;
    type Error = ApiKeyError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            ApiKeyCommand::Issue {
                key_id,
                organisation_id,
                name,
                role,
                secret_digest,
                created_by,
                at,
            } => {
                if self.id.is_some() {
                    return Err(ApiKeyError::AlreadyIssued);
                }
                let name = name.trim().to_string();
                if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
                    return Err(ApiKeyError::InvalidName);
                }
                let event = ApiKeyEvent::ApiKeyIssued {
                    key_id,
                    organisation_id,
                    name,
                    role,
                    secret_digest,
                    created_by,
                    issued_at: at,
                };
                sink.write(event, self).await;
                Ok(())
            }
            ApiKeyCommand::Revoke { organisation_id, at } => self.revoke(organisation_id, at, sink).await,
        }
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ApiKeyEvent::ApiKeyIssued {
                key_id,
                organisation_id,
                name,
                role,
                secret_digest,
                ..
            } => {
                self.id = Some(key_id);
                self.organisation_id = Some(organisation_id);
                self.name = name;
                self.role = Some(role);
                self.secret_digest = secret_digest;
            }
            ApiKeyEvent::ApiKeyRevoked { revoked_at } => self.revoked_at = Some(revoked_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<ApiKey>;

    fn issued(org: Uuid) -> ApiKeyEvent {
        ApiKeyEvent::ApiKeyIssued {
            key_id: Uuid::nil(),
            organisation_id: org,
            name: "CRM sync".into(),
            role: Role::Agent,
            secret_digest: "ab".into(),
            created_by: None,
            issued_at: DateTime::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn it_should_not_revoke_a_key_twice() {
        let org = Uuid::new_v4();
        let revoked = ApiKeyEvent::ApiKeyRevoked {
            revoked_at: DateTime::UNIX_EPOCH,
        };
        let command = ApiKeyCommand::Revoke {
            organisation_id: org,
            at: DateTime::UNIX_EPOCH,
        };
        Given::with(())
            .given(vec![issued(org), revoked])
            .when_async(command)
            .await
            .then_expect_error(ApiKeyError::AlreadyRevoked);
    }

    #[tokio::test]
    async fn another_organisation_cannot_revoke_the_key() {
        let command = ApiKeyCommand::Revoke {
            organisation_id: Uuid::new_v4(),
            at: DateTime::UNIX_EPOCH,
        };
        Given::with(())
            .given(vec![issued(Uuid::new_v4())])
            .when_async(command)
            .await
            .then_expect_error(ApiKeyError::NotFound);
    }

    #[tokio::test]
    async fn a_key_needs_a_name() {
        let command = ApiKeyCommand::Issue {
            key_id: Uuid::nil(),
            organisation_id: Uuid::nil(),
            name: " ".into(),
            role: Role::Admin,
            secret_digest: "ab".into(),
            created_by: None,
            at: DateTime::UNIX_EPOCH,
        };
        Given::with(())
            .given_no_previous_events()
            .when_async(command)
            .await
            .then_expect_error(ApiKeyError::InvalidName);
    }

    #[test]
    fn event_type_names_are_pinned() {
        assert_eq!(issued(Uuid::nil()).event_type(), "ApiKeyIssued");
        assert_eq!(
            ApiKeyEvent::ApiKeyRevoked {
                revoked_at: DateTime::UNIX_EPOCH
            }
            .event_type(),
            "ApiKeyRevoked"
        );
    }
}
