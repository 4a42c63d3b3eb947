//! A customer of an organisation, known by an e-mail address or by a phone
//! number. The id is derived from the organisation and the normalised
//! address or E.164 number, so the same sender is the same customer however
//! many messages, calls, accounts or processes see them.
//!
//! Two customers found to be one person are merged: the one merged away
//! records that it became part of the other, and the other that it absorbed
//! it with its contact points. The read model follows the absorbed side's
//! event alone, and the application records the merged side first, so a
//! crash between the two commands never loses the merge: running it again
//! finishes it. Unmerging and releasing undo it the same way.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

use crate::{EmailAddress, OrganisationId};

const CUSTOMER_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0005);
/// Longest display name kept.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest notes kept.
pub const MAX_NOTES_CHARS: usize = 2_000;

/// The customer id of an address in an organisation.
pub fn customer_id(organisation_id: OrganisationId, email: &EmailAddress) -> Uuid {
    Uuid::new_v5(&CUSTOMER_NAMESPACE, format!("{organisation_id}/{email}").as_bytes())
}

/// The customer id of a phone number (E.164) in an organisation.
pub fn phone_customer_id(organisation_id: OrganisationId, phone: &str) -> Uuid {
    Uuid::new_v5(&CUSTOMER_NAMESPACE, format!("{organisation_id}/tel:{phone}").as_bytes())
}

/// An e-mail address or a phone number (E.164) a customer is reached at.
///
/// Not ordered: [`EmailAddress`] is not, so points are kept in lists.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum ContactPoint {
    Email(EmailAddress),
    /// E.164.
    Phone(String),
}

impl ContactPoint {
    /// The id of the customer this point was first seen as.
    pub fn customer_id(&self, organisation_id: OrganisationId) -> Uuid {
        match self {
            Self::Email(email) => customer_id(organisation_id, email),
            Self::Phone(phone) => phone_customer_id(organisation_id, phone),
        }
    }
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
    /// The new full name and notes (the application applies a partial
    /// change to the current values first).
    Update {
        name: Option<String>,
        notes: Option<String>,
        at: DateTime<Utc>,
    },
    /// This customer becomes part of `into` (recorded before `into` absorbs it).
    MergeInto { into: Uuid, at: DateTime<Utc> },
    /// `source`, with its contact points, became part of this customer.
    Absorb {
        source: Uuid,
        points: Vec<ContactPoint>,
        at: DateTime<Utc>,
    },
    /// This customer stands on its own again.
    Unmerge { at: DateTime<Utc> },
    /// `source` is no longer part of this customer.
    Release { source: Uuid, at: DateTime<Utc> },
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
    CustomerUpdated {
        name: Option<String>,
        notes: Option<String>,
        at: DateTime<Utc>,
    },
    CustomerMerged {
        into: Uuid,
        at: DateTime<Utc>,
    },
    CustomerAbsorbed {
        source: Uuid,
        points: Vec<ContactPoint>,
        at: DateTime<Utc>,
    },
    CustomerUnmerged {
        from: Uuid,
        at: DateTime<Utc>,
    },
    CustomerReleased {
        source: Uuid,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for CustomerEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CustomerCreated { .. } => "CustomerCreated",
            Self::CustomerCreatedForPhone { .. } => "CustomerCreatedForPhone",
            Self::CustomerUpdated { .. } => "CustomerUpdated",
            Self::CustomerMerged { .. } => "CustomerMerged",
            Self::CustomerAbsorbed { .. } => "CustomerAbsorbed",
            Self::CustomerUnmerged { .. } => "CustomerUnmerged",
            Self::CustomerReleased { .. } => "CustomerReleased",
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
    /// 404: no such customer.
    #[error("no such customer")]
    Unknown,
    /// 422: a customer cannot be merged with itself.
    #[error("a customer cannot be merged with itself")]
    MergeIntoItself,
    /// 409: the customer was merged into another customer already.
    #[error("the customer was merged into {into} already")]
    AlreadyMerged { into: Uuid },
    /// 409: the customer was merged into `into`; change it there.
    #[error("the customer was merged into {into}; change it there")]
    Merged { into: Uuid },
    /// 409: the customer stands on its own, there is nothing to unmerge.
    #[error("the customer is not merged into another")]
    NotMerged,
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
    #[serde(default)]
    pub notes: Option<String>,
    /// The customer this one became part of, while merged.
    #[serde(default)]
    pub merged_into: Option<Uuid>,
    /// The customers that became part of this one, with their contact points.
    #[serde(default)]
    pub absorbed: BTreeMap<Uuid, Vec<ContactPoint>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A display name trimmed, without control characters, at most
/// [`MAX_NAME_CHARS`]; `None` when nothing is left.
fn clean_name(name: Option<String>) -> Option<String> {
    let name = name?;
    let cleaned: String = name.chars().filter(|c| !c.is_control()).take(MAX_NAME_CHARS).collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_string())
}

/// Notes trimmed, without control characters but line breaks and tabs, at
/// most [`MAX_NOTES_CHARS`]; `None` when nothing is left.
fn clean_notes(notes: Option<String>) -> Option<String> {
    let kept: String = notes?
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    let cut: String = kept.trim().chars().take(MAX_NOTES_CHARS).collect();
    let cut = cut.trim_end();
    (!cut.is_empty()).then(|| cut.to_string())
}

impl Customer {
    /// The address or number it was first seen by.
    pub fn contact_point(&self) -> Option<ContactPoint> {
        let email = self.email.clone().map(ContactPoint::Email);
        email.or_else(|| self.phone.clone().map(ContactPoint::Phone))
    }

    /// Its own contact point first, then those of the customers it absorbed.
    pub fn contact_points(&self) -> Vec<ContactPoint> {
        let absorbed = self.absorbed.values().flatten().cloned();
        self.contact_point().into_iter().chain(absorbed).collect()
    }

    pub fn is_merged(&self) -> bool {
        self.merged_into.is_some()
    }

    fn decide(&self, command: CustomerCommand) -> Result<Vec<CustomerEvent>, CustomerError> {
        match command {
            CustomerCommand::Create {
                customer_id,
                organisation_id,
                email,
                name,
                at,
            } => self.create(customer_id, organisation_id, email, name, at),
            CustomerCommand::CreateForPhone {
                customer_id,
                organisation_id,
                phone,
                name,
                at,
            } => self.create_for_phone(customer_id, organisation_id, phone, name, at),
            CustomerCommand::Update { name, notes, at } => self.update(name, notes, at),
            CustomerCommand::MergeInto { into, at } => self.merge_into(into, at),
            CustomerCommand::Absorb { source, points, at } => self.absorb(source, points, at),
            CustomerCommand::Unmerge { at } => self.unmerge(at),
            CustomerCommand::Release { source, at } => self.release(source, at),
        }
    }

    fn create(
        &self,
        id: Uuid,
        organisation_id: OrganisationId,
        email: EmailAddress,
        name: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<CustomerEvent>, CustomerError> {
        if self.id.is_some() {
            return Err(CustomerError::AlreadyExists);
        }
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

    fn create_for_phone(
        &self,
        id: Uuid,
        organisation_id: OrganisationId,
        phone: String,
        name: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<CustomerEvent>, CustomerError> {
        if self.id.is_some() {
            return Err(CustomerError::AlreadyExists);
        }
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

    /// Its id, for a command that needs an existing customer.
    fn existing(&self) -> Result<Uuid, CustomerError> {
        self.id.ok_or(CustomerError::Unknown)
    }

    /// Refuses a change to a customer that is now part of another.
    fn not_merged(&self) -> Result<(), CustomerError> {
        match self.merged_into {
            Some(into) => Err(CustomerError::Merged { into }),
            None => Ok(()),
        }
    }

    fn update(
        &self,
        name: Option<String>,
        notes: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<CustomerEvent>, CustomerError> {
        self.existing()?;
        self.not_merged()?;
        let (name, notes) = (clean_name(name), clean_notes(notes));
        if name == self.name && notes == self.notes {
            return Ok(Vec::new());
        }
        Ok(vec![CustomerEvent::CustomerUpdated { name, notes, at }])
    }

    fn merge_into(&self, into: Uuid, at: DateTime<Utc>) -> Result<Vec<CustomerEvent>, CustomerError> {
        if into == self.existing()? {
            return Err(CustomerError::MergeIntoItself);
        }
        match self.merged_into {
            Some(current) if current == into => Ok(Vec::new()),
            Some(current) => Err(CustomerError::AlreadyMerged { into: current }),
            None => Ok(vec![CustomerEvent::CustomerMerged { into, at }]),
        }
    }

    fn absorb(
        &self,
        source: Uuid,
        points: Vec<ContactPoint>,
        at: DateTime<Utc>,
    ) -> Result<Vec<CustomerEvent>, CustomerError> {
        let id = self.existing()?;
        self.not_merged()?;
        if source == id {
            return Err(CustomerError::MergeIntoItself);
        }
        if self.absorbed.contains_key(&source) {
            return Ok(Vec::new());
        }
        Ok(vec![CustomerEvent::CustomerAbsorbed { source, points, at }])
    }

    fn unmerge(&self, at: DateTime<Utc>) -> Result<Vec<CustomerEvent>, CustomerError> {
        self.existing()?;
        let from = self.merged_into.ok_or(CustomerError::NotMerged)?;
        Ok(vec![CustomerEvent::CustomerUnmerged { from, at }])
    }

    fn release(&self, source: Uuid, at: DateTime<Utc>) -> Result<Vec<CustomerEvent>, CustomerError> {
        self.existing()?;
        if !self.absorbed.contains_key(&source) {
            return Ok(Vec::new());
        }
        Ok(vec![CustomerEvent::CustomerReleased { source, at }])
    }

    fn created(&mut self, id: Uuid, organisation_id: OrganisationId, name: Option<String>, at: DateTime<Utc>) {
        self.id = Some(id);
        self.organisation_id = Some(organisation_id);
        self.name = name;
        self.created_at = Some(at);
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
        match event {
            CustomerEvent::CustomerCreated {
                customer_id,
                organisation_id,
                email,
                name,
                at,
            } => {
                self.email = Some(email);
                self.created(customer_id, organisation_id, name, at);
            }
            CustomerEvent::CustomerCreatedForPhone {
                customer_id,
                organisation_id,
                phone,
                name,
                at,
            } => {
                self.phone = Some(phone);
                self.created(customer_id, organisation_id, name, at);
            }
            CustomerEvent::CustomerUpdated { name, notes, at } => {
                self.name = name;
                self.notes = notes;
                self.updated_at = Some(at);
            }
            CustomerEvent::CustomerMerged { into, .. } => self.merged_into = Some(into),
            CustomerEvent::CustomerAbsorbed { source, points, .. } => {
                self.absorbed.insert(source, points);
            }
            CustomerEvent::CustomerUnmerged { .. } => self.merged_into = None,
            CustomerEvent::CustomerReleased { source, .. } => {
                self.absorbed.remove(&source);
            }
        }
    }
}

#[cfg(test)]
mod tests;
