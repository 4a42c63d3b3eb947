//! A masked session: two parties who reach each other through one of the
//! organisation's virtual numbers until it expires, at most so many calls.
//! When either calls the number, the flow asks Switchboard whom to connect:
//! the session decides once per provider call (a flow may ask twice), and
//! every decision, connected or refused and why, is kept, so the history
//! shows who reached whom through which number.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OrganisationId;

/// The longest a session may last: thirty days.
pub const MAX_LIFETIME_SECS: i64 = 30 * 24 * 3600;
/// The highest cap of calls a session may have.
pub const MAX_CALLS_CAP: u32 = 10_000;

/// Which party of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    A,
    B,
}

/// Who may reach whom, through which number, until when. Numbers are E.164.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTerms {
    pub organisation_id: OrganisationId,
    pub party_a: String,
    pub party_b: String,
    pub virtual_number: String,
    pub expires_at: DateTime<Utc>,
    /// Calls connected at most; `None` for no cap.
    pub max_calls: Option<u32>,
    pub created_by: Option<Uuid>,
}

/// Why a call to the virtual number was not put through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    Expired,
    Ended,
    CapReached,
    /// The caller is neither party.
    UnknownCaller,
}

/// What the session decided for one provider call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Put through to the other party.
    Connected {
        from: Party,
    },
    Refused {
        reason: Refusal,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MaskedSessionCommand {
    Open {
        session_id: Uuid,
        terms: SessionTerms,
        at: DateTime<Utc>,
    },
    /// A caller rang the virtual number (provider call `provider_sid`).
    Route {
        organisation_id: OrganisationId,
        provider_sid: String,
        caller: String,
        at: DateTime<Utc>,
    },
    End {
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MaskedSessionEvent {
    MaskedSessionOpened {
        session_id: Uuid,
        terms: SessionTerms,
        at: DateTime<Utc>,
    },
    MaskedCallRouted {
        provider_sid: String,
        caller: String,
        decision: Decision,
        at: DateTime<Utc>,
    },
    MaskedSessionEnded {
        at: DateTime<Utc>,
    },
}

impl DomainEvent for MaskedSessionEvent {
    fn event_type(&self) -> String {
        match self {
            Self::MaskedSessionOpened { .. } => "MaskedSessionOpened",
            Self::MaskedCallRouted { .. } => "MaskedCallRouted",
            Self::MaskedSessionEnded { .. } => "MaskedSessionEnded",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule a session command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaskedSessionError {
    /// 404: no such session in the caller's organisation.
    #[error("no such masked session")]
    NotFound,
    /// 409: the id is taken.
    #[error("the masked session already exists")]
    AlreadyOpen,
    /// 422 on `party_b`: a party cannot be masked from themselves.
    #[error("the two parties have the same number")]
    SameParties,
    /// 422 on `virtual_number`: a party's own number cannot mask them.
    #[error("the virtual number is one of the parties' numbers")]
    VirtualNumberIsAParty,
    /// 422 on `expires_in_secs`: a session lasts from a second to thirty days.
    #[error("a masked session lasts from 1 second to 30 days")]
    Lifetime,
    /// 422 on `max_calls`: a cap allows from one call to ten thousand.
    #[error("max_calls must be 1 to {MAX_CALLS_CAP}")]
    CapOutOfRange,
    /// 409: ended sessions stay ended.
    #[error("the masked session has already ended")]
    AlreadyEnded,
}

/// A provider call the session decided on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutedCall {
    pub provider_sid: String,
    pub caller: String,
    pub decision: Decision,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaskedSession {
    pub id: Option<Uuid>,
    pub terms: Option<SessionTerms>,
    pub opened_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub calls: Vec<RoutedCall>,
}

impl MaskedSession {
    /// Whether the session exists and belongs to `organisation_id`.
    pub fn is_in(&self, organisation_id: OrganisationId) -> bool {
        self.terms
            .as_ref()
            .is_some_and(|t| t.organisation_id == organisation_id)
    }

    /// Calls put through so far.
    pub fn connected(&self) -> u32 {
        let connected = self
            .calls
            .iter()
            .filter(|c| matches!(c.decision, Decision::Connected { .. }))
            .count();
        u32::try_from(connected).unwrap_or(u32::MAX)
    }

    /// Whether a call at `at` could still be put through.
    pub fn is_open_at(&self, at: DateTime<Utc>) -> bool {
        self.terms.as_ref().is_some_and(|t| {
            self.ended_at.is_none() && at < t.expires_at && t.max_calls.is_none_or(|cap| self.connected() < cap)
        })
    }

    /// The decision already taken for a provider call.
    pub fn decision_for(&self, provider_sid: &str) -> Option<&RoutedCall> {
        self.calls.iter().find(|c| c.provider_sid == provider_sid)
    }

    /// The number the caller is put through to under `decision`.
    pub fn other_party(&self, decision: &Decision) -> Option<&str> {
        let terms = self.terms.as_ref()?;
        match decision {
            Decision::Connected { from: Party::A } => Some(&terms.party_b),
            Decision::Connected { from: Party::B } => Some(&terms.party_a),
            Decision::Refused { .. } => None,
        }
    }

    fn existing(&self, organisation_id: OrganisationId) -> Result<&SessionTerms, MaskedSessionError> {
        self.terms
            .as_ref()
            .filter(|t| t.organisation_id == organisation_id)
            .ok_or(MaskedSessionError::NotFound)
    }

    fn decide_call(&self, terms: &SessionTerms, caller: &str, at: DateTime<Utc>) -> Decision {
        let from = match caller {
            c if c == terms.party_a => Party::A,
            c if c == terms.party_b => Party::B,
            _ => {
                return Decision::Refused {
                    reason: Refusal::UnknownCaller,
                };
            }
        };
        let reason = match () {
            _ if self.ended_at.is_some() => Refusal::Ended,
            _ if at >= terms.expires_at => Refusal::Expired,
            _ if terms.max_calls.is_some_and(|cap| self.connected() >= cap) => Refusal::CapReached,
            _ => return Decision::Connected { from },
        };
        Decision::Refused { reason }
    }

    /// The events a command causes, or the rule it breaks.
    pub fn decide(&self, command: MaskedSessionCommand) -> Result<Vec<MaskedSessionEvent>, MaskedSessionError> {
        use MaskedSessionCommand as C;
        use MaskedSessionEvent as E;
        match command {
            C::Open { session_id, terms, at } => {
                if self.id.is_some() {
                    return Err(MaskedSessionError::AlreadyOpen);
                }
                if terms.party_a == terms.party_b {
                    return Err(MaskedSessionError::SameParties);
                }
                if terms.virtual_number == terms.party_a || terms.virtual_number == terms.party_b {
                    return Err(MaskedSessionError::VirtualNumberIsAParty);
                }
                let lifetime = (terms.expires_at - at).num_seconds();
                if !(1..=MAX_LIFETIME_SECS).contains(&lifetime) {
                    return Err(MaskedSessionError::Lifetime);
                }
                if terms.max_calls.is_some_and(|cap| !(1..=MAX_CALLS_CAP).contains(&cap)) {
                    return Err(MaskedSessionError::CapOutOfRange);
                }
                Ok(vec![E::MaskedSessionOpened { session_id, terms, at }])
            }
            C::Route {
                organisation_id,
                provider_sid,
                caller,
                at,
            } => {
                let terms = self.existing(organisation_id)?;
                if self.decision_for(&provider_sid).is_some() {
                    return Ok(Vec::new());
                }
                let decision = self.decide_call(terms, &caller, at);
                Ok(vec![E::MaskedCallRouted {
                    provider_sid,
                    caller,
                    decision,
                    at,
                }])
            }
            C::End { organisation_id, at } => {
                self.existing(organisation_id)?;
                if self.ended_at.is_some() {
                    return Err(MaskedSessionError::AlreadyEnded);
                }
                Ok(vec![E::MaskedSessionEnded { at }])
            }
        }
    }
}

impl Aggregate for MaskedSession {
    const TYPE: &'static str = "masked_session";
    type Command = MaskedSessionCommand;
    type Event = MaskedSessionEvent;
    type Error = MaskedSessionError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let events = self.decide(command)?;
        crate::write_all(self, sink, events).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use MaskedSessionEvent as E;
        match event {
            E::MaskedSessionOpened { session_id, terms, at } => {
                self.id = Some(session_id);
                self.terms = Some(terms);
                self.opened_at = Some(at);
            }
            E::MaskedCallRouted {
                provider_sid,
                caller,
                decision,
                at,
            } => self.calls.push(RoutedCall {
                provider_sid,
                caller,
                decision,
                at,
            }),
            E::MaskedSessionEnded { at } => self.ended_at = Some(at),
        }
    }
}

#[cfg(test)]
mod tests;
