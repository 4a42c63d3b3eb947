//! The users one e-mail address has, at most one per organisation.
//!
//! A login names an address and, perhaps, an organisation; this aggregate,
//! keyed by the address ([`address_id`]), tells which users to check
//! without a read model that could lag behind a registration. Each claim is
//! recorded under the organisation that made it, so one organisation's
//! audit history never shows another's.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{EmailAddress, OrganisationId};

const ADDRESS_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0003);

/// The aggregate id of an address.
pub fn address_id(email: &EmailAddress) -> Uuid {
    Uuid::new_v5(&ADDRESS_NAMESPACE, email.as_str().as_bytes())
}

/// One organisation's user of the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub organisation_id: OrganisationId,
    pub user_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserAddressCommand {
    /// Records that the address has this user in this organisation; done
    /// before the user is registered, and again harmlessly on a retry.
    Claim {
        email: EmailAddress,
        organisation_id: OrganisationId,
        user_id: Uuid,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserAddressEvent {
    AddressClaimed {
        email: EmailAddress,
        organisation_id: OrganisationId,
        user_id: Uuid,
    },
}

impl DomainEvent for UserAddressEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AddressClaimed { .. } => "AddressClaimed".to_string(),
        }
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule a claim can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserAddressError {
    /// 409: the organisation already has another user with this address.
    #[error("a user with this e-mail address already exists")]
    TakenInOrganisation,
    /// 500: the claim names another address than the aggregate's.
    #[error("the claim is for another address")]
    OtherAddress,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserAddress {
    pub email: Option<EmailAddress>,
    pub members: Vec<Membership>,
}

impl UserAddress {
    /// The user the address has in an organisation.
    pub fn user_in(&self, organisation_id: OrganisationId) -> Option<Uuid> {
        self.members
            .iter()
            .find(|m| m.organisation_id == organisation_id)
            .map(|m| m.user_id)
    }

    /// The events a claim causes (none when it is already recorded).
    pub fn decide(&self, command: UserAddressCommand) -> Result<Vec<UserAddressEvent>, UserAddressError> {
        let UserAddressCommand::Claim {
            email,
            organisation_id,
            user_id,
        } = command;
        if self.email.as_ref().is_some_and(|known| *known != email) {
            return Err(UserAddressError::OtherAddress);
        }
        match self.user_in(organisation_id) {
            Some(known) if known == user_id => Ok(vec![]),
            Some(_) => Err(UserAddressError::TakenInOrganisation),
            None => Ok(vec![UserAddressEvent::AddressClaimed {
                email,
                organisation_id,
                user_id,
            }]),
        }
    }
}

impl Aggregate for UserAddress {
    const TYPE: &'static str = "user_address";
    type Command = UserAddressCommand;
    type Event = UserAddressEvent;
    type Error = UserAddressError;
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
        let UserAddressEvent::AddressClaimed {
            email,
            organisation_id,
            user_id,
        } = event;
        self.email = Some(email);
        self.members.push(Membership {
            organisation_id,
            user_id,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<UserAddress>;

    fn asha() -> EmailAddress {
        EmailAddress::parse("asha@example.com").unwrap()
    }

    fn claim(org: u128, user: u128) -> UserAddressCommand {
        UserAddressCommand::Claim {
            email: asha(),
            organisation_id: Uuid::from_u128(org),
            user_id: Uuid::from_u128(user),
        }
    }

    fn claimed(org: u128, user: u128) -> UserAddressEvent {
        UserAddressEvent::AddressClaimed {
            email: asha(),
            organisation_id: Uuid::from_u128(org),
            user_id: Uuid::from_u128(user),
        }
    }

    #[tokio::test]
    async fn a_second_organisation_claims_an_address_the_first_has() {
        Given::with(())
            .given(vec![claimed(1, 10)])
            .when_async(claim(2, 20))
            .await
            .then_expect_events(vec![claimed(2, 20)]);
    }

    #[tokio::test]
    async fn claiming_the_same_user_again_records_nothing() {
        Given::with(())
            .given(vec![claimed(1, 10), claimed(2, 20)])
            .when_async(claim(2, 20))
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn an_organisation_cannot_claim_the_address_for_a_second_user() {
        Given::with(())
            .given(vec![claimed(1, 10)])
            .when_async(claim(1, 11))
            .await
            .then_expect_error(UserAddressError::TakenInOrganisation);
    }

    #[tokio::test]
    async fn a_claim_for_another_address_is_refused() {
        let other = UserAddressCommand::Claim {
            email: EmailAddress::parse("ravi@example.com").unwrap(),
            organisation_id: Uuid::from_u128(2),
            user_id: Uuid::from_u128(20),
        };
        Given::with(())
            .given(vec![claimed(1, 10)])
            .when_async(other)
            .await
            .then_expect_error(UserAddressError::OtherAddress);
    }

    #[test]
    fn the_members_are_found_by_organisation() {
        let mut address = UserAddress::default();
        address.apply(claimed(1, 10));
        address.apply(claimed(2, 20));
        assert_eq!(address.email, Some(asha()));
        assert_eq!(address.user_in(Uuid::from_u128(2)), Some(Uuid::from_u128(20)));
        assert_eq!(address.user_in(Uuid::from_u128(1)), Some(Uuid::from_u128(10)));
        assert_eq!(address.user_in(Uuid::from_u128(3)), None);
        assert_eq!(address.members.len(), 2);
    }

    #[test]
    fn the_address_id_depends_on_the_address_only() {
        assert_eq!(
            address_id(&asha()),
            address_id(&EmailAddress::parse(" Asha@Example.com").unwrap())
        );
        assert_ne!(
            address_id(&asha()),
            address_id(&EmailAddress::parse("ravi@example.com").unwrap())
        );
        assert_ne!(address_id(&asha()), super::super::legacy_user_id(&asha()));
    }

    #[test]
    fn event_type_and_version_are_pinned() {
        assert_eq!(claimed(1, 1).event_type(), "AddressClaimed");
        assert_eq!(claimed(1, 1).event_version(), "1.0");
    }
}
