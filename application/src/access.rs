//! May this caller use, or configure, the organisation's integration of a
//! kind? The caller's grant is looked up once, here, and the one policy
//! ([`crate::policy`]) applied to it. Grants are given to users; an API key
//! acts for its creator and so holds the creator's grants, within the key's
//! own role. A process of Switchboard acts for nobody and holds none.

use domain::integration::IntegrationKind;
use domain::integration_permission::{Grant, IntegrationPermission, PermissionCommand, PermissionError, permission_id};
use domain::user::User;
use domain::{OrganisationId, Role};
use uuid::Uuid;

use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;
use crate::policy::{self, Denied};
use crate::store::AggregateStore;
use crate::users::Acting;

/// Why access could not be given (the API's status for each is given).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// 403.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// 404: the user is not one of the organisation's.
    #[error("no such user in this organisation")]
    UnknownUser,
    /// 503.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 409 for a concurrent change.
    #[error(transparent)]
    Command(#[from] CommandError<PermissionError>),
}

/// What a user may do with an integration: their explicit grant, if any,
/// and what it comes to with their role (an admin may do everything).
#[derive(Debug, Clone, PartialEq)]
pub struct Permission {
    pub user: User,
    pub grant: Option<Grant>,
}

impl Permission {
    /// The grant as it applies: an admin may use and configure whatever
    /// the explicit grant says; anyone else has just the explicit grant.
    pub fn effective(&self) -> Grant {
        let admin = self.user.role == Some(Role::Admin);
        let explicit = self.grant.unwrap_or(Grant {
            can_use: false,
            can_configure: false,
            daily_limit: None,
        });
        Grant {
            can_use: admin || explicit.can_use,
            can_configure: admin || explicit.can_configure,
            daily_limit: explicit.daily_limit,
        }
    }
}

/// The permission lookups and grants over the permissions' and users' stores.
pub struct IntegrationAccess<'a> {
    pub permissions: &'a dyn AggregateStore<IntegrationPermission>,
    pub users: &'a dyn AggregateStore<User>,
}

impl IntegrationAccess<'_> {
    /// The grant the asker holds on the integration, if any: the grant of
    /// the user they act for.
    pub async fn grant(&self, asker: &Acting, kind: IntegrationKind) -> Result<Option<Grant>, StoreError> {
        match asker.user_id {
            Some(user_id) => self.grant_of(asker.organisation_id, kind, user_id).await,
            None => Ok(None),
        }
    }

    async fn grant_of(
        &self,
        organisation_id: OrganisationId,
        kind: IntegrationKind,
        user_id: Uuid,
    ) -> Result<Option<Grant>, StoreError> {
        let id = permission_id(organisation_id, kind, user_id).to_string();
        Ok(self.permissions.load(&id).await?.and_then(|l| l.aggregate.grant))
    }

    async fn member(&self, organisation_id: OrganisationId, user_id: Uuid) -> Result<User, AccessError> {
        let user = self.users.load(&user_id.to_string()).await?.map(|l| l.aggregate);
        user.filter(|u| u.organisation_id == Some(organisation_id))
            .ok_or(AccessError::UnknownUser)
    }

    /// A user's permission on the organisation's integration of a kind.
    pub async fn permission(
        &self,
        organisation_id: OrganisationId,
        kind: IntegrationKind,
        user_id: Uuid,
    ) -> Result<Permission, AccessError> {
        let user = self.member(organisation_id, user_id).await?;
        let grant = self.grant_of(organisation_id, kind, user_id).await?;
        Ok(Permission { user, grant })
    }

    /// Gives a user of the organisation a grant on the integration of a
    /// kind, replacing any earlier one; the role rules are the caller's.
    pub async fn set_grant(
        &self,
        acting: &Acting,
        kind: IntegrationKind,
        user_id: Uuid,
        grant: Grant,
        meta: &EventMetadata,
    ) -> Result<Permission, AccessError> {
        let user = self.member(acting.organisation_id, user_id).await?;
        let command = PermissionCommand::Set {
            organisation_id: acting.organisation_id,
            kind,
            user_id,
            grant,
            granted_by: acting.user_id,
        };
        let id = permission_id(acting.organisation_id, kind, user_id).to_string();
        self.permissions.execute(&id, command, meta).await?;
        Ok(Permission {
            user,
            grant: Some(grant),
        })
    }

    /// Whether the asker may use the integration (its daily limit not
    /// counted: a use case with a limit counts its own uses).
    pub async fn may_use(&self, asker: &Acting, kind: IntegrationKind) -> Result<(), AccessError> {
        let grant = self.grant(asker, kind).await?;
        Ok(policy::may_use(asker.role, grant, 0)?)
    }

    /// Whether the asker may configure the integration.
    pub async fn may_configure(&self, asker: &Acting, kind: IntegrationKind) -> Result<(), AccessError> {
        let grant = self.grant(asker, kind).await?;
        Ok(policy::may_configure(asker.role, grant)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::memory::Memory;
    use crate::metadata::EventMetadata;

    const ORG: Uuid = Uuid::from_u128(1);
    const AGENT: Uuid = Uuid::from_u128(2);

    async fn granted(grant: Grant) -> Memory<IntegrationPermission> {
        let store = Memory::new();
        let command = PermissionCommand::Set {
            organisation_id: ORG,
            kind: IntegrationKind::ZohoMail,
            user_id: AGENT,
            grant,
            granted_by: None,
        };
        let id = permission_id(ORG, IntegrationKind::ZohoMail, AGENT).to_string();
        let meta = EventMetadata::system("test", Some(ORG));
        store.execute(&id, command, &meta).await.unwrap();
        store
    }

    fn agent(user_id: Option<Uuid>) -> Acting {
        Acting {
            organisation_id: ORG,
            role: Role::Agent,
            user_id,
        }
    }

    const USE: Grant = Grant {
        can_use: true,
        can_configure: false,
        daily_limit: None,
    };

    #[tokio::test]
    async fn a_user_granted_use_of_an_integration_may_use_it_but_not_configure_it() {
        let store = granted(USE).await;
        let access = IntegrationAccess {
            permissions: &store,
            users: &Memory::new(),
        };
        let user = agent(Some(AGENT));
        assert_eq!(access.grant(&user, IntegrationKind::ZohoMail).await.unwrap(), Some(USE));
        assert!(access.may_use(&user, IntegrationKind::ZohoMail).await.is_ok());
        let configure = access.may_configure(&user, IntegrationKind::ZohoMail).await;
        assert!(matches!(configure, Err(AccessError::Denied(Denied::CannotConfigure))));
    }

    #[tokio::test]
    async fn a_grant_on_one_kind_or_for_one_user_is_no_grant_on_another() {
        let store = granted(USE).await;
        let access = IntegrationAccess {
            permissions: &store,
            users: &Memory::new(),
        };
        let other_kind = access.may_use(&agent(Some(AGENT)), IntegrationKind::ExotelSms).await;
        assert!(matches!(other_kind, Err(AccessError::Denied(Denied::NotGranted))));
        let someone_else = agent(Some(Uuid::from_u128(3)));
        let denied = access.may_use(&someone_else, IntegrationKind::ZohoMail).await;
        assert!(matches!(denied, Err(AccessError::Denied(Denied::NotGranted))));
    }

    #[tokio::test]
    async fn one_acting_for_nobody_holds_no_grant_and_only_an_admin_role_configures() {
        let store = granted(USE).await;
        let access = IntegrationAccess {
            permissions: &store,
            users: &Memory::new(),
        };
        let nobody = agent(None);
        assert_eq!(access.grant(&nobody, IntegrationKind::ZohoMail).await.unwrap(), None);
        let denied = access.may_use(&nobody, IntegrationKind::ZohoMail).await;
        assert!(matches!(denied, Err(AccessError::Denied(Denied::NotGranted))));
        let admin = Acting {
            role: Role::Admin,
            ..nobody
        };
        assert!(access.may_configure(&admin, IntegrationKind::ZohoMail).await.is_ok());
    }

    fn permission(role: Role, grant: Option<Grant>) -> Permission {
        Permission {
            user: User {
                role: Some(role),
                ..User::default()
            },
            grant,
        }
    }

    #[test]
    fn an_admin_may_use_and_configure_whatever_the_explicit_grant_says_and_keeps_its_limit() {
        let all = Grant {
            can_use: true,
            can_configure: true,
            daily_limit: None,
        };
        assert_eq!(permission(Role::Admin, None).effective(), all);
        let limited = Grant {
            can_use: false,
            can_configure: false,
            daily_limit: Some(5),
        };
        let effective = permission(Role::Admin, Some(limited)).effective();
        assert_eq!(
            effective,
            Grant {
                daily_limit: Some(5),
                ..all
            }
        );
    }

    #[test]
    fn anyone_else_has_just_the_explicit_grant_or_nothing() {
        let nothing = Grant {
            can_use: false,
            can_configure: false,
            daily_limit: None,
        };
        assert_eq!(permission(Role::Manager, None).effective(), nothing);
        let configure = Grant {
            can_use: false,
            can_configure: true,
            daily_limit: Some(3),
        };
        assert_eq!(permission(Role::Agent, Some(configure)).effective(), configure);
        assert_eq!(permission(Role::Agent, Some(USE)).effective(), USE);
    }

    async fn with_agent() -> Memory<User> {
        let users = Memory::new();
        let register = domain::user::UserCommand::Register {
            user_id: AGENT,
            organisation_id: ORG,
            email: domain::EmailAddress::parse("agent@acme.test").unwrap(),
            display_name: "Agent".into(),
            password_hash: "hash".into(),
            role: Role::Agent,
            registered_by: None,
            at: chrono::Utc::now(),
        };
        let meta = EventMetadata::system("test", Some(ORG));
        users.execute(&AGENT.to_string(), register, &meta).await.unwrap();
        users
    }

    #[tokio::test]
    async fn a_grant_is_given_to_and_read_for_a_user_of_the_organisation_only() {
        let permissions = Memory::new();
        let users = with_agent().await;
        let access = IntegrationAccess {
            permissions: &permissions,
            users: &users,
        };
        let admin = Acting {
            organisation_id: ORG,
            role: Role::Admin,
            user_id: Some(Uuid::from_u128(7)),
        };
        let meta = EventMetadata::system("test", Some(ORG));
        let kind = IntegrationKind::ZohoMail;
        let given = access.set_grant(&admin, kind, AGENT, USE, &meta).await.unwrap();
        assert_eq!((given.user.id, given.grant), (Some(AGENT), Some(USE)));
        let read = access.permission(ORG, kind, AGENT).await.unwrap();
        assert_eq!((read.user.id, read.grant), (Some(AGENT), Some(USE)));

        let other = Uuid::from_u128(9);
        let elsewhere = access.permission(other, kind, AGENT).await;
        assert!(matches!(elsewhere, Err(AccessError::UnknownUser)));
        let stranger = Acting {
            organisation_id: other,
            ..admin
        };
        let refused = access.set_grant(&stranger, kind, AGENT, USE, &meta).await;
        assert!(matches!(refused, Err(AccessError::UnknownUser)));
        let nobody = access.permission(ORG, kind, Uuid::from_u128(8)).await;
        assert!(matches!(nobody, Err(AccessError::UnknownUser)));
    }
}
