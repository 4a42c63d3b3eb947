//! A customer of an organisation, known by an e-mail address or by a phone
//! number. The id is derived from the organisation and the normalised
//! address or E.164 number, so the same sender is the same customer however
//! many messages, calls, accounts or processes see them.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{EmailAddress, OrganisationId};

const CUSTOMER_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0005);
/// Longest display name kept.
pub const MAX_NAME_CHARS: usize = 200;

/// The customer id of an address in an organisation.
pub fn customer_id(organisation_id: OrganisationId, email: &EmailAddress) -> Uuid {
    Uuid::new_v5(&CUSTOMER_NAMESPACE, format!("{organisation_id}/{email}").as_bytes())
}

/// The customer id of a phone number (E.164) in an organisation.
pub fn phone_customer_id(organisation_id: OrganisationId, phone: &str) -> Uuid {
    Uuid::new_v5(&CUSTOMER_NAMESPACE, format!("{organisation_id}/tel:{phone}").as_bytes())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CustomerCommand {
    /// A new customer, first seen as the sender of an e-mail (the aggregate
    /// must be new).
    Create {
        customer_id: Uuid,
        organisation_id: OrganisationId,
        email: EmailAddress,
        name: Option<String>,
        at: DateTime<Utc>,
    },
    /// A new customer, first seen by a phone number (the aggregate must be new).
    CreateForPhone {
        customer_id: Uuid,
        organisation_id: OrganisationId,
        /// E.164.
        phone: String,
        name: Option<String>,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CustomerEvent {
    CustomerCreated {
        customer_id: Uuid,
        organisation_id: OrganisationId,
        email: EmailAddress,
        name: Option<String>,
        at: DateTime<Utc>,
    },
    CustomerCreatedForPhone {
        customer_id: Uuid,
        organisation_id: OrganisationId,
        phone: String,
        name: Option<String>,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for CustomerEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CustomerCreated { .. } => "CustomerCreated",
            Self::CustomerCreatedForPhone { .. } => "CustomerCreatedForPhone",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule a customer command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerError {
    /// 409: a customer with this address exists already.
    #[error("the customer exists already")]
    AlreadyExists,
    /// 422: the id is not the one derived from the organisation and address or number.
    #[error("the customer id does not match its address or number")]
    IdNotDerivedFromAddress,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: Option<Uuid>,
    pub organisation_id: Option<OrganisationId>,
    pub email: Option<EmailAddress>,
    /// E.164, for a customer first seen by number.
    #[serde(default)]
    pub phone: Option<String>,
    pub name: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

/// A display name trimmed, without control characters, at most
/// [`MAX_NAME_CHARS`]; `None` when nothing is left.
fn clean_name(name: Option<String>) -> Option<String> {
    let name = name?;
    let cleaned: String = name.chars().filter(|c| !c.is_control()).take(MAX_NAME_CHARS).collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_string())
}

impl Customer {
    fn decide(&self, command: CustomerCommand) -> Result<Vec<CustomerEvent>, CustomerError> {
        if self.id.is_some() {
            return Err(CustomerError::AlreadyExists);
        }
        match command {
            CustomerCommand::Create {
                customer_id: id,
                organisation_id,
                email,
                name,
                at,
            } => {
                if id != customer_id(organisation_id, &email) {
                    return Err(CustomerError::IdNotDerivedFromAddress);
                }
                Ok(vec![CustomerEvent::CustomerCreated {
                    customer_id: id,
                    organisation_id,
                    email,
                    name: clean_name(name),
                    at,
                }])
            }
            CustomerCommand::CreateForPhone {
                customer_id: id,
                organisation_id,
                phone,
                name,
                at,
            } => {
                if id != phone_customer_id(organisation_id, &phone) {
                    return Err(CustomerError::IdNotDerivedFromAddress);
                }
                Ok(vec![CustomerEvent::CustomerCreatedForPhone {
                    customer_id: id,
                    organisation_id,
                    phone,
                    name: clean_name(name),
                    at,
                }])
            }
        }
    }
}

impl Aggregate for Customer {
    const TYPE: &'static str = "customer";
    type Command = CustomerCommand;
    type Event = CustomerEvent;
    type Error = CustomerError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        crate::write_all(self, sink, self.decide(command)?).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let (customer_id, organisation_id, name, at) = match event {
            CustomerEvent::CustomerCreated {
                customer_id,
                organisation_id,
                email,
                name,
                at,
            } => {
                self.email = Some(email);
                (customer_id, organisation_id, name, at)
            }
            CustomerEvent::CustomerCreatedForPhone {
                customer_id,
                organisation_id,
                phone,
                name,
                at,
            } => {
                self.phone = Some(phone);
                (customer_id, organisation_id, name, at)
            }
        };
        self.id = Some(customer_id);
        self.organisation_id = Some(organisation_id);
        self.name = name;
        self.created_at = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    const ORG: Uuid = Uuid::from_u128(1);

    fn asha() -> EmailAddress {
        EmailAddress::parse("Asha@Example.in").unwrap()
    }

    fn create(name: Option<&str>) -> CustomerCommand {
        CustomerCommand::Create {
            customer_id: customer_id(ORG, &asha()),
            organisation_id: ORG,
            email: asha(),
            name: name.map(str::to_string),
            at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn created(name: Option<&str>) -> CustomerEvent {
        CustomerEvent::CustomerCreated {
            customer_id: customer_id(ORG, &asha()),
            organisation_id: ORG,
            email: asha(),
            name: name.map(str::to_string),
            at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_same_address_in_the_same_organisation_is_the_same_customer() {
        let again = EmailAddress::parse(" asha@example.IN ").unwrap();
        assert_eq!(customer_id(ORG, &asha()), customer_id(ORG, &again));
        assert_ne!(customer_id(ORG, &asha()), customer_id(Uuid::from_u128(2), &asha()));
    }

    #[test]
    fn a_new_address_creates_a_customer_with_a_cleaned_name() {
        TestFramework::<Customer>::with(())
            .given_no_previous_events()
            .when(create(Some("  Asha\u{7} Rao ")))
            .then_expect_events(vec![created(Some("Asha Rao"))]);
    }

    #[test]
    fn a_known_address_is_not_created_twice() {
        TestFramework::<Customer>::with(())
            .given(vec![created(None)])
            .when(create(None))
            .then_expect_error(CustomerError::AlreadyExists);
    }

    #[test]
    fn an_id_not_derived_from_the_address_is_refused() {
        let CustomerCommand::Create {
            organisation_id,
            email,
            name,
            at,
            ..
        } = create(None)
        else {
            unreachable!("create() builds a Create");
        };
        let command = CustomerCommand::Create {
            customer_id: Uuid::from_u128(9),
            organisation_id,
            email,
            name,
            at,
        };
        TestFramework::<Customer>::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(CustomerError::IdNotDerivedFromAddress);
    }

    #[test]
    fn event_type_names_are_pinned() {
        assert_eq!(created(None).event_type(), "CustomerCreated");
        assert_eq!(created(None).event_version(), "1.0");
    }

    #[test]
    fn a_name_is_trimmed_cut_to_its_limit_and_dropped_when_blank() {
        assert_eq!(clean_name(None), None);
        assert_eq!(clean_name(Some(" \u{7} ".into())), None);
        let long = clean_name(Some("n".repeat(MAX_NAME_CHARS + 1))).unwrap();
        assert_eq!(long.len(), MAX_NAME_CHARS);
    }

    #[test]
    fn the_customer_remembers_who_they_are_and_since_when() {
        let mut customer = Customer::default();
        customer.apply(created(Some("Asha")));
        assert_eq!(customer.id, Some(customer_id(ORG, &asha())));
        assert_eq!(customer.organisation_id, Some(ORG));
        assert_eq!(customer.email, Some(asha()));
        assert_eq!(customer.name.as_deref(), Some("Asha"));
        assert_eq!(customer.created_at, Some(DateTime::<Utc>::UNIX_EPOCH));
    }

    const ASHA_PHONE: &str = "+919812300061";

    fn for_phone(id: Uuid) -> CustomerCommand {
        CustomerCommand::CreateForPhone {
            customer_id: id,
            organisation_id: ORG,
            phone: ASHA_PHONE.into(),
            name: Some(" Asha ".into()),
            at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn created_for_phone() -> CustomerEvent {
        CustomerEvent::CustomerCreatedForPhone {
            customer_id: phone_customer_id(ORG, ASHA_PHONE),
            organisation_id: ORG,
            phone: ASHA_PHONE.into(),
            name: Some("Asha".into()),
            at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_number_is_its_own_customer_apart_from_any_address() {
        let id = phone_customer_id(ORG, ASHA_PHONE);
        assert_eq!(id, phone_customer_id(ORG, ASHA_PHONE));
        assert_ne!(id, phone_customer_id(Uuid::from_u128(2), ASHA_PHONE));
        assert_ne!(id, phone_customer_id(ORG, "+919812300062"));
        let address = EmailAddress::parse("tel:+919812300061@x.in").unwrap();
        assert_ne!(id, customer_id(ORG, &address));
    }

    #[test]
    fn a_new_number_creates_a_customer_once_with_its_derived_id() {
        let id = phone_customer_id(ORG, ASHA_PHONE);
        TestFramework::<Customer>::with(())
            .given_no_previous_events()
            .when(for_phone(id))
            .then_expect_events(vec![created_for_phone()]);
        TestFramework::<Customer>::with(())
            .given(vec![created_for_phone()])
            .when(for_phone(id))
            .then_expect_error(CustomerError::AlreadyExists);
        TestFramework::<Customer>::with(())
            .given_no_previous_events()
            .when(for_phone(Uuid::from_u128(9)))
            .then_expect_error(CustomerError::IdNotDerivedFromAddress);
        let mut customer = Customer::default();
        customer.apply(created_for_phone());
        assert_eq!(customer.id, Some(id));
        assert_eq!(customer.phone.as_deref(), Some(ASHA_PHONE));
        assert_eq!(customer.email, None);
        assert_eq!(customer.name.as_deref(), Some("Asha"));
        assert_eq!(customer.organisation_id, Some(ORG));
        assert_eq!(created_for_phone().event_type(), "CustomerCreatedForPhone");
    }
}
