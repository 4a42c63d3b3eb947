//! What one user may do with one of the organisation's integrations: use it
//! (call, send), configure it, and how much a day.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OrganisationId;
use crate::integration::IntegrationKind;

const PERMISSION_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0003);

/// The id of one user's permission on one integration kind.
pub fn permission_id(organisation_id: OrganisationId, kind: IntegrationKind, user_id: Uuid) -> Uuid {
    Uuid::new_v5(
        &PERMISSION_NAMESPACE,
        format!("{organisation_id}/{}/{user_id}", kind.as_str()).as_bytes(),
    )
}

/// The grant itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub can_use: bool,
    pub can_configure: bool,
    /// Uses a day (calls placed, messages sent); `None` is unlimited.
    pub daily_limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PermissionCommand {
    Set {
        organisation_id: OrganisationId,
        kind: IntegrationKind,
        user_id: Uuid,
        grant: Grant,
        granted_by: Option<Uuid>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PermissionEvent {
    IntegrationPermissionSet {
        organisation_id: OrganisationId,
        kind: IntegrationKind,
        user_id: Uuid,
        grant: Grant,
        granted_by: Option<Uuid>,
    },
}

impl DomainEvent for PermissionEvent {
    fn event_type(&self) -> String {
        "IntegrationPermissionSet".to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule a permission command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    /// 404: the permission belongs to another organisation.
    #[error("no such permission")]
    NotFound,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationPermission {
    pub organisation_id: Option<OrganisationId>,
    pub kind: Option<IntegrationKind>,
    pub user_id: Option<Uuid>,
    pub grant: Option<Grant>,
}

impl IntegrationPermission {
    fn decide(&self, command: PermissionCommand) -> Result<Vec<PermissionEvent>, PermissionError> {
        let PermissionCommand::Set {
            organisation_id,
            kind,
            user_id,
            grant,
            granted_by,
        } = command;
        if self.organisation_id.is_some_and(|org| org != organisation_id) {
            return Err(PermissionError::NotFound);
        }
        if self.grant == Some(grant) {
            return Ok(Vec::new());
        }
        Ok(vec![PermissionEvent::IntegrationPermissionSet {
            organisation_id,
            kind,
            user_id,
            grant,
            granted_by,
        }])
    }
}

impl Aggregate for IntegrationPermission {
    const TYPE: &'static str = "integration_permission";
    type Command = PermissionCommand;
    type Event = PermissionEvent;
    type Error = PermissionError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        crate::write_all(self, sink, self.decide(command)?).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let PermissionEvent::IntegrationPermissionSet {
            organisation_id,
            kind,
            user_id,
            grant,
            ..
        } = event;
        self.organisation_id = Some(organisation_id);
        self.kind = Some(kind);
        self.user_id = Some(user_id);
        self.grant = Some(grant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn set(org: Uuid, grant: Grant) -> PermissionCommand {
        PermissionCommand::Set {
            organisation_id: org,
            kind: IntegrationKind::ExotelPhone,
            user_id: Uuid::nil(),
            grant,
            granted_by: None,
        }
    }

    const USE: Grant = Grant {
        can_use: true,
        can_configure: false,
        daily_limit: Some(50),
    };

    #[test]
    fn a_permissions_id_comes_from_its_organisation_kind_and_user_and_never_changes() {
        let (org, user) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(
            permission_id(org, IntegrationKind::ExotelPhone, user).to_string(),
            "0d549957-d2ef-5448-b8cb-1ba6bc534afb"
        );
        assert_ne!(
            permission_id(org, IntegrationKind::ExotelPhone, user),
            permission_id(org, IntegrationKind::ExotelSms, user)
        );
    }

    #[tokio::test]
    async fn setting_the_same_grant_again_records_nothing() {
        let org = Uuid::new_v4();
        let granted = PermissionEvent::IntegrationPermissionSet {
            organisation_id: org,
            kind: IntegrationKind::ExotelPhone,
            user_id: Uuid::nil(),
            grant: USE,
            granted_by: None,
        };
        TestFramework::<IntegrationPermission>::with(())
            .given(vec![granted])
            .when_async(set(org, USE))
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn another_organisation_cannot_change_the_grant() {
        let granted = PermissionEvent::IntegrationPermissionSet {
            organisation_id: Uuid::new_v4(),
            kind: IntegrationKind::ExotelPhone,
            user_id: Uuid::nil(),
            grant: USE,
            granted_by: None,
        };
        TestFramework::<IntegrationPermission>::with(())
            .given(vec![granted])
            .when_async(set(Uuid::new_v4(), USE))
            .await
            .then_expect_error(PermissionError::NotFound);
    }
}
