//! May this caller use, or configure, the organisation's integration of a
//! kind? The caller's grant is looked up once, here, and the one policy
//! ([`crate::policy`]) applied to it. Only users hold grants: an API key or
//! a process of Switchboard has none and relies on its role.

use domain::integration::IntegrationKind;
use domain::integration_permission::{Grant, IntegrationPermission, permission_id};
use domain::{OrganisationId, Role};

use crate::error::StoreError;
use crate::metadata::Actor;
use crate::policy::{self, Denied};
use crate::store::AggregateStore;

/// Who is asking: their organisation, role and identity.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    pub organisation_id: OrganisationId,
    pub role: Role,
    pub actor: &'a Actor,
}

/// Why access could not be given (the API's status for each is given).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// 403.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// 503.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The permission lookups over the permissions' store.
pub struct IntegrationAccess<'a> {
    pub permissions: &'a dyn AggregateStore<IntegrationPermission>,
}

impl IntegrationAccess<'_> {
    /// The grant the asker holds on the integration, if any.
    pub async fn grant(&self, asker: Asker<'_>, kind: IntegrationKind) -> Result<Option<Grant>, StoreError> {
        let Actor::User { id: user_id } = asker.actor else {
            return Ok(None);
        };
        let id = permission_id(asker.organisation_id, kind, *user_id).to_string();
        Ok(self.permissions.load(&id).await?.and_then(|l| l.aggregate.grant))
    }

    /// Whether the asker may use the integration (its daily limit not
    /// counted: a use case with a limit counts its own uses).
    pub async fn may_use(&self, asker: Asker<'_>, kind: IntegrationKind) -> Result<(), AccessError> {
        let grant = self.grant(asker, kind).await?;
        Ok(policy::may_use(asker.role, grant, 0)?)
    }

    /// Whether the asker may configure the integration.
    pub async fn may_configure(&self, asker: Asker<'_>, kind: IntegrationKind) -> Result<(), AccessError> {
        let grant = self.grant(asker, kind).await?;
        Ok(policy::may_configure(asker.role, grant)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::integration_permission::PermissionCommand;
    use uuid::Uuid;

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

    fn agent(actor: &Actor) -> Asker<'_> {
        Asker {
            organisation_id: ORG,
            role: Role::Agent,
            actor,
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
        let access = IntegrationAccess { permissions: &store };
        let user = Actor::User { id: AGENT };
        assert_eq!(
            access.grant(agent(&user), IntegrationKind::ZohoMail).await.unwrap(),
            Some(USE)
        );
        assert!(access.may_use(agent(&user), IntegrationKind::ZohoMail).await.is_ok());
        let configure = access.may_configure(agent(&user), IntegrationKind::ZohoMail).await;
        assert!(matches!(configure, Err(AccessError::Denied(Denied::CannotConfigure))));
    }

    #[tokio::test]
    async fn a_grant_on_one_kind_or_for_one_user_is_no_grant_on_another() {
        let store = granted(USE).await;
        let access = IntegrationAccess { permissions: &store };
        let user = Actor::User { id: AGENT };
        let other_kind = access.may_use(agent(&user), IntegrationKind::ExotelSms).await;
        assert!(matches!(other_kind, Err(AccessError::Denied(Denied::NotGranted))));
        let someone_else = Actor::User { id: Uuid::from_u128(3) };
        let denied = access.may_use(agent(&someone_else), IntegrationKind::ZohoMail).await;
        assert!(matches!(denied, Err(AccessError::Denied(Denied::NotGranted))));
    }

    #[tokio::test]
    async fn an_api_key_holds_no_grant_even_with_the_id_of_a_granted_user() {
        let store = granted(USE).await;
        let access = IntegrationAccess { permissions: &store };
        let key = Actor::ApiKey { id: AGENT };
        assert_eq!(
            access.grant(agent(&key), IntegrationKind::ZohoMail).await.unwrap(),
            None
        );
        let admin = Asker {
            role: Role::Admin,
            ..agent(&key)
        };
        assert!(access.may_configure(admin, IntegrationKind::ZohoMail).await.is_ok());
    }
}
