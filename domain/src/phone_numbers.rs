//! An organisation's phone numbers: the ExoPhones synced from its Exotel
//! account, who each is assigned to, and the one primary number calls go
//! out on when no other is chosen. One aggregate per organisation (id = the
//! organisation's id), so "exactly one primary" is a rule it can keep.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

use crate::OrganisationId;

const NUMBER_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0004);

/// A number's id: the same number in the same organisation always has the same id.
pub fn phone_number_id(organisation_id: OrganisationId, e164: &str) -> Uuid {
    Uuid::new_v5(&NUMBER_NAMESPACE, format!("{organisation_id}/{e164}").as_bytes())
}

/// What Exotel says of a number; a change to any of it is an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberDetails {
    pub exotel_sid: String,
    pub display_name: Option<String>,
    /// Exotel's type (`Landline`, `Mobile`, `TollFree`), or `virtual`.
    pub number_type: String,
    pub can_call: bool,
    pub can_sms: bool,
    pub region: Option<String>,
}

/// One number as found in the provider's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncedNumber {
    /// E.164.
    pub phone_number: String,
    pub details: NumberDetails,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PhoneNumbersCommand {
    /// The provider's whole list for one integration: new numbers are
    /// added, changed ones updated, missing ones released.
    Sync {
        organisation_id: OrganisationId,
        integration_id: Uuid,
        numbers: Vec<SyncedNumber>,
        at: chrono::DateTime<chrono::Utc>,
    },
    /// Gives a number to a user (checked to be an active member), or takes it back.
    Assign {
        organisation_id: OrganisationId,
        number_id: Uuid,
        user_id: Option<Uuid>,
        assigned_by: Option<Uuid>,
        at: chrono::DateTime<chrono::Utc>,
    },
    MakePrimary {
        organisation_id: OrganisationId,
        number_id: Uuid,
        at: chrono::DateTime<chrono::Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PhoneNumbersEvent {
    PhoneNumberAdded {
        organisation_id: OrganisationId,
        number_id: Uuid,
        integration_id: Uuid,
        phone_number: String,
        details: NumberDetails,
        at: chrono::DateTime<chrono::Utc>,
    },
    PhoneNumberUpdated {
        number_id: Uuid,
        details: NumberDetails,
        at: chrono::DateTime<chrono::Utc>,
    },
    PhoneNumberReleased {
        number_id: Uuid,
        at: chrono::DateTime<chrono::Utc>,
    },
    PhoneNumberAssigned {
        number_id: Uuid,
        user_id: Option<Uuid>,
        assigned_by: Option<Uuid>,
        at: chrono::DateTime<chrono::Utc>,
    },
    PrimaryPhoneNumberChosen {
        number_id: Uuid,
        at: chrono::DateTime<chrono::Utc>,
    },
}

impl DomainEvent for PhoneNumbersEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PhoneNumberAdded { .. } => "PhoneNumberAdded",
            Self::PhoneNumberUpdated { .. } => "PhoneNumberUpdated",
            Self::PhoneNumberReleased { .. } => "PhoneNumberReleased",
            Self::PhoneNumberAssigned { .. } => "PhoneNumberAssigned",
            Self::PrimaryPhoneNumberChosen { .. } => "PrimaryPhoneNumberChosen",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule a phone-number command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumbersError {
    /// 404: no such number in this organisation.
    #[error("no such phone number")]
    NotFound,
    /// 409: the number was released by the provider.
    #[error("the phone number was released and can no longer be used")]
    Released,
    /// 422: a primary number must be able to place calls.
    #[error("the phone number cannot place calls, so it cannot be the primary number")]
    CannotCall,
}

/// One number as the aggregate keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumberState {
    pub phone_number: String,
    pub integration_id: Uuid,
    pub details: NumberDetails,
    pub active: bool,
    pub assigned_to: Option<Uuid>,
}

/// What a sync would change: how many numbers are new, updated, released.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCounts {
    pub synced: usize,
    pub new: usize,
    pub updated: usize,
    pub released: usize,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneNumbers {
    pub organisation_id: Option<OrganisationId>,
    pub numbers: BTreeMap<Uuid, NumberState>,
    pub primary: Option<Uuid>,
}

impl PhoneNumbers {
    /// The events a sync of `numbers` for `integration_id` produces, before
    /// any change of primary.
    fn sync_events(
        &self,
        organisation_id: OrganisationId,
        integration_id: Uuid,
        numbers: &[SyncedNumber],
        at: chrono::DateTime<chrono::Utc>,
    ) -> Vec<PhoneNumbersEvent> {
        let mut events = Vec::new();
        let mut seen = Vec::new();
        for number in numbers {
            let number_id = phone_number_id(organisation_id, &number.phone_number);
            seen.push(number_id);
            match self.numbers.get(&number_id) {
                Some(known) if known.active && known.details == number.details => {}
                Some(known) if known.active && known.integration_id == integration_id => {
                    events.push(PhoneNumbersEvent::PhoneNumberUpdated {
                        number_id,
                        details: number.details.clone(),
                        at,
                    })
                }
                _ => events.push(PhoneNumbersEvent::PhoneNumberAdded {
                    organisation_id,
                    number_id,
                    integration_id,
                    phone_number: number.phone_number.clone(),
                    details: number.details.clone(),
                    at,
                }),
            }
        }
        let gone = self
            .numbers
            .iter()
            .filter(|(id, n)| n.active && n.integration_id == integration_id && !seen.contains(id));
        events.extend(gone.map(|(id, _)| PhoneNumbersEvent::PhoneNumberReleased { number_id: *id, at }));
        events
    }

    /// What a sync would change, counted.
    pub fn sync_counts(
        &self,
        organisation_id: OrganisationId,
        integration_id: Uuid,
        numbers: &[SyncedNumber],
    ) -> SyncCounts {
        let events = self.sync_events(organisation_id, integration_id, numbers, chrono::Utc::now());
        let count = |f: fn(&PhoneNumbersEvent) -> bool| events.iter().filter(|e| f(e)).count();
        SyncCounts {
            synced: numbers.len(),
            new: count(|e| matches!(e, PhoneNumbersEvent::PhoneNumberAdded { .. })),
            updated: count(|e| matches!(e, PhoneNumbersEvent::PhoneNumberUpdated { .. })),
            released: count(|e| matches!(e, PhoneNumbersEvent::PhoneNumberReleased { .. })),
        }
    }

    /// The primary after `events`: kept if still callable, else the first
    /// callable active number (by number, so the choice is repeatable).
    fn primary_after(&self, events: &[PhoneNumbersEvent]) -> Option<Uuid> {
        let mut next = self.clone();
        events.iter().cloned().for_each(|e| next.apply(e));
        let callable = |id: &Uuid| next.numbers.get(id).is_some_and(|n| n.active && n.details.can_call);
        if next.primary.as_ref().is_some_and(callable) {
            return next.primary;
        }
        let mut candidates: Vec<_> = next.numbers.iter().filter(|(id, _)| callable(id)).collect();
        candidates.sort_by(|a, b| a.1.phone_number.cmp(&b.1.phone_number));
        candidates.first().map(|(id, _)| **id)
    }

    fn belongs(&self, organisation_id: OrganisationId) -> bool {
        self.organisation_id.is_none_or(|org| org == organisation_id)
    }

    fn usable(&self, organisation_id: OrganisationId, number_id: Uuid) -> Result<&NumberState, PhoneNumbersError> {
        let number = self
            .numbers
            .get(&number_id)
            .filter(|_| self.belongs(organisation_id))
            .ok_or(PhoneNumbersError::NotFound)?;
        match number.active {
            true => Ok(number),
            false => Err(PhoneNumbersError::Released),
        }
    }

    fn decide(&self, command: PhoneNumbersCommand) -> Result<Vec<PhoneNumbersEvent>, PhoneNumbersError> {
        match command {
            PhoneNumbersCommand::Sync {
                organisation_id,
                integration_id,
                numbers,
                at,
            } => {
                if !self.belongs(organisation_id) {
                    return Err(PhoneNumbersError::NotFound);
                }
                let mut events = self.sync_events(organisation_id, integration_id, &numbers, at);
                let primary = self.primary_after(&events);
                if let Some(number_id) = primary.filter(|p| Some(*p) != self.primary) {
                    events.push(PhoneNumbersEvent::PrimaryPhoneNumberChosen { number_id, at });
                }
                Ok(events)
            }
            PhoneNumbersCommand::Assign {
                organisation_id,
                number_id,
                user_id,
                assigned_by,
                at,
            } => {
                let number = self.usable(organisation_id, number_id)?;
                if number.assigned_to == user_id {
                    return Ok(Vec::new());
                }
                Ok(vec![PhoneNumbersEvent::PhoneNumberAssigned {
                    number_id,
                    user_id,
                    assigned_by,
                    at,
                }])
            }
            PhoneNumbersCommand::MakePrimary {
                organisation_id,
                number_id,
                at,
            } => {
                if !self.usable(organisation_id, number_id)?.details.can_call {
                    return Err(PhoneNumbersError::CannotCall);
                }
                if self.primary == Some(number_id) {
                    return Ok(Vec::new());
                }
                Ok(vec![PhoneNumbersEvent::PrimaryPhoneNumberChosen { number_id, at }])
            }
        }
    }
}

impl Aggregate for PhoneNumbers {
    const TYPE: &'static str = "phone_numbers";
    type Command = PhoneNumbersCommand;
    type Event = PhoneNumbersEvent;
    type Error = PhoneNumbersError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        crate::write_all(self, sink, self.decide(command)?).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PhoneNumbersEvent::PhoneNumberAdded {
                organisation_id,
                number_id,
                integration_id,
                phone_number,
                details,
                ..
            } => {
                self.organisation_id = Some(organisation_id);
                let assigned_to = self.numbers.get(&number_id).and_then(|n| n.assigned_to);
                let state = NumberState {
                    phone_number,
                    integration_id,
                    details,
                    active: true,
                    assigned_to,
                };
                self.numbers.insert(number_id, state);
            }
            PhoneNumbersEvent::PhoneNumberUpdated { number_id, details, .. } => {
                if let Some(number) = self.numbers.get_mut(&number_id) {
                    number.details = details;
                }
            }
            PhoneNumbersEvent::PhoneNumberReleased { number_id, .. } => {
                if let Some(number) = self.numbers.get_mut(&number_id) {
                    number.active = false;
                    number.assigned_to = None;
                }
                if self.primary == Some(number_id) {
                    self.primary = None;
                }
            }
            PhoneNumbersEvent::PhoneNumberAssigned { number_id, user_id, .. } => {
                if let Some(number) = self.numbers.get_mut(&number_id) {
                    number.assigned_to = user_id;
                }
            }
            PhoneNumbersEvent::PrimaryPhoneNumberChosen { number_id, .. } => self.primary = Some(number_id),
        }
    }
}

#[cfg(test)]
mod tests;
