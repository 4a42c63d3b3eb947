//! An API key: a long random secret, shown once, that acts for the user
//! who created it, with a fixed role no higher than theirs. Only a SHA-256
//! digest of the secret is kept.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::user::is_safe_text;
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
        /// The user the key acts for: the caller, or the creator of the
        /// API key calling.
        created_by: Option<Uuid>,
        /// The role of whoever issues the key; `None` for Switchboard itself.
        issuer_role: Option<Role>,
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
    /// 422: blank, over-long, or holding control or bidirectional characters.
    #[error("the name must be 1 to {MAX_NAME_LEN} characters, without control or bidirectional-override characters")]
    InvalidName,
    /// 403: nobody issues a key with a role above their own.
    #[error("you cannot give a key a role above your own")]
    RoleAboveIssuer,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Option<Uuid>,
    pub organisation_id: Option<OrganisationId>,
    pub name: String,
    pub role: Option<Role>,
    pub secret_digest: String,
    /// The user the key acts for; `None` for keys issued by Switchboard
    /// itself or by another key before keys acted for their creator.
    #[serde(default)]
    pub created_by: Option<Uuid>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key may be used to authenticate.
    pub fn is_usable(&self) -> bool {
        self.id.is_some() && self.revoked_at.is_none()
    }

    /// The events a command causes, or the rule it breaks.
    pub fn decide(&self, command: ApiKeyCommand) -> Result<Vec<ApiKeyEvent>, ApiKeyError> {
        match command {
            ApiKeyCommand::Issue {
                key_id,
                organisation_id,
                name,
                role,
                secret_digest,
                created_by,
                issuer_role,
                at,
            } => {
                if self.id.is_some() {
                    return Err(ApiKeyError::AlreadyIssued);
                }
                let name = name.trim().to_string();
                if name.is_empty() || name.chars().count() > MAX_NAME_LEN || !is_safe_text(&name) {
                    return Err(ApiKeyError::InvalidName);
                }
                if issuer_role.is_some_and(|issuer| !issuer.includes(role)) {
                    return Err(ApiKeyError::RoleAboveIssuer);
                }
                Ok(vec![ApiKeyEvent::ApiKeyIssued {
                    key_id,
                    organisation_id,
                    name,
                    role,
                    secret_digest,
                    created_by,
                    issued_at: at,
                }])
            }
            ApiKeyCommand::Revoke { organisation_id, at } => {
                if self.organisation_id != Some(organisation_id) {
                    return Err(ApiKeyError::NotFound);
                }
                if self.revoked_at.is_some() {
                    return Err(ApiKeyError::AlreadyRevoked);
                }
                Ok(vec![ApiKeyEvent::ApiKeyRevoked { revoked_at: at }])
            }
        }
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
        let events = self.decide(command)?;
        crate::write_all(self, sink, events).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ApiKeyEvent::ApiKeyIssued {
                key_id,
                organisation_id,
                name,
                role,
                secret_digest,
                created_by,
                ..
            } => {
                self.id = Some(key_id);
                self.organisation_id = Some(organisation_id);
                self.name = name;
                self.role = Some(role);
                self.secret_digest = secret_digest;
                self.created_by = created_by;
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
            created_by: Some(Uuid::from_u128(7)),
            issued_at: DateTime::UNIX_EPOCH,
        }
    }

    fn issue(org: Uuid, name: &str, role: Role, issuer_role: Option<Role>) -> ApiKeyCommand {
        ApiKeyCommand::Issue {
            key_id: Uuid::nil(),
            organisation_id: org,
            name: name.into(),
            role,
            secret_digest: "ab".into(),
            created_by: Some(Uuid::from_u128(7)),
            issuer_role,
            at: DateTime::UNIX_EPOCH,
        }
    }

    fn revoked() -> ApiKeyEvent {
        ApiKeyEvent::ApiKeyRevoked {
            revoked_at: DateTime::UNIX_EPOCH,
        }
    }

    fn revoke(org: Uuid) -> ApiKeyCommand {
        ApiKeyCommand::Revoke {
            organisation_id: org,
            at: DateTime::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn it_issues_a_key_with_a_trimmed_name_for_its_creator() {
        let org = Uuid::from_u128(1);
        Given::with(())
            .given_no_previous_events()
            .when_async(issue(org, "  CRM sync ", Role::Agent, Some(Role::Admin)))
            .await
            .then_expect_events(vec![issued(org)]);
    }

    #[tokio::test]
    async fn it_should_not_issue_a_key_id_twice() {
        let org = Uuid::from_u128(1);
        Given::with(())
            .given(vec![issued(org)])
            .when_async(issue(org, "again", Role::Agent, None))
            .await
            .then_expect_error(ApiKeyError::AlreadyIssued);
    }

    #[tokio::test]
    async fn a_key_cannot_have_a_role_above_its_issuers() {
        Given::with(())
            .given_no_previous_events()
            .when_async(issue(Uuid::nil(), "up", Role::Admin, Some(Role::Manager)))
            .await
            .then_expect_error(ApiKeyError::RoleAboveIssuer);
        Given::with(())
            .given_no_previous_events()
            .when_async(issue(Uuid::nil(), "side", Role::Auditor, Some(Role::Manager)))
            .await
            .then_expect_error(ApiKeyError::RoleAboveIssuer);
    }

    #[tokio::test]
    async fn it_should_not_revoke_a_key_twice() {
        let org = Uuid::new_v4();
        Given::with(())
            .given(vec![issued(org), revoked()])
            .when_async(revoke(org))
            .await
            .then_expect_error(ApiKeyError::AlreadyRevoked);
    }

    #[tokio::test]
    async fn a_key_of_the_organisation_is_revoked() {
        let org = Uuid::new_v4();
        Given::with(())
            .given(vec![issued(org)])
            .when_async(revoke(org))
            .await
            .then_expect_events(vec![revoked()]);
    }

    #[tokio::test]
    async fn another_organisation_cannot_revoke_the_key() {
        Given::with(())
            .given(vec![issued(Uuid::new_v4())])
            .when_async(revoke(Uuid::new_v4()))
            .await
            .then_expect_error(ApiKeyError::NotFound);
    }

    #[tokio::test]
    async fn a_key_needs_a_name_of_plain_text_within_the_limit() {
        let long = "k".repeat(MAX_NAME_LEN + 1);
        for name in [" ", long.as_str(), "crm\u{0}", "crm\u{202E}txt.exe", "tab\there"] {
            Given::with(())
                .given_no_previous_events()
                .when_async(issue(Uuid::nil(), name, Role::Admin, None))
                .await
                .then_expect_error(ApiKeyError::InvalidName);
        }
        let longest = "k".repeat(MAX_NAME_LEN);
        assert_eq!(
            ApiKey::default()
                .decide(issue(Uuid::nil(), &longest, Role::Agent, None))
                .map(|events| events.len()),
            Ok(1)
        );
    }

    #[test]
    fn a_key_is_usable_once_issued_until_revoked() {
        let mut key = ApiKey::default();
        assert!(!key.is_usable());
        key.apply(issued(Uuid::from_u128(1)));
        assert!(key.is_usable());
        assert_eq!(key.created_by, Some(Uuid::from_u128(7)));
        assert_eq!(key.role, Some(Role::Agent));
        assert_eq!(key.organisation_id, Some(Uuid::from_u128(1)));
        assert_eq!((key.name.as_str(), key.secret_digest.as_str()), ("CRM sync", "ab"));
        key.apply(revoked());
        assert!(!key.is_usable());
        assert_eq!(key.revoked_at, Some(DateTime::UNIX_EPOCH));
    }

    #[test]
    fn event_types_and_versions_are_pinned() {
        assert_eq!(issued(Uuid::nil()).event_type(), "ApiKeyIssued");
        assert_eq!(revoked().event_type(), "ApiKeyRevoked");
        assert_eq!(issued(Uuid::nil()).event_version(), "1.0");
        assert_eq!(revoked().event_version(), "1.0");
    }
}
