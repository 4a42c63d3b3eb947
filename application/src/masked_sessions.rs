//! Number masking through a call flow: a session lets two parties reach
//! each other through one of the organisation's ExoPhones. The ExoPhone's
//! flow asks Switchboard (a Passthru, then a Connect applet's URL) when a
//! call comes in; the session decides once per provider call, and the call
//! is recorded as an inbound call on the session, whoever it reached.

use async_trait::async_trait;
use chrono::{DateTime, Duration as Span, Utc};
use uuid::Uuid;

use domain::OrganisationId;
use domain::call::{Call, CallCommand, CallError, CallRequest, Direction, Purpose};
use domain::integration::settings::{SettingsError, phone_number};
use domain::masked_session::{
    Decision, MaskedSession, MaskedSessionCommand, MaskedSessionError, Refusal, SessionTerms,
};
use domain::phone_numbers::PhoneNumbers;

use crate::access::{AccessError, IntegrationAccess};
use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;
use crate::store::AggregateStore;
use crate::users::Acting;
use domain::integration::IntegrationKind;

const INBOUND_NAMESPACE: Uuid = Uuid::from_u128(0x2c7e_90d1_5a4b_4f0e_b3a8_6d15_e0c4_0005);

/// The call id of a provider call made to one of an organisation's numbers.
pub fn inbound_call_id(organisation_id: OrganisationId, provider_sid: &str) -> Uuid {
    Uuid::new_v5(
        &INBOUND_NAMESPACE,
        format!("{organisation_id}/{provider_sid}").as_bytes(),
    )
}

/// Sessions through a number that name a party, for the flow's questions.
#[async_trait]
pub trait MaskedSessionDirectory: Send + Sync {
    /// The organisation's sessions through `virtual_number` with `party` as
    /// either party, newest first: open ones, and those that ended or
    /// expired within the last day (so a late caller's refusal is kept on
    /// the session they tried).
    async fn with_party(
        &self,
        organisation_id: OrganisationId,
        virtual_number: &str,
        party: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError>;
}

/// Why a masked-session use case failed.
#[derive(Debug, thiserror::Error)]
pub enum MaskedSessionsError {
    #[error(transparent)]
    Denied(#[from] AccessError),
    #[error(transparent)]
    Invalid(#[from] SettingsError),
    /// 422 on `virtual_number`: not an active callable number of the organisation.
    #[error("the virtual number is not an active number of this organisation that can call")]
    UnknownVirtualNumber,
    /// 409: the organisation has no callable number to mask with.
    #[error("the organisation has no active number that can call; sync the Exotel numbers first")]
    NoVirtualNumber,
    /// 409 on `virtual_number`: a party would be ambiguous on this number.
    #[error("a party of this session already has an open session through this number; end it or use another number")]
    NumberInUse,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError<MaskedSessionError>),
    #[error(transparent)]
    Call(#[from] CommandError<CallError>),
}

/// What a caller asks for in a new session.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub party_a: String,
    pub party_b: String,
    /// One of the organisation's numbers; its primary when absent.
    pub virtual_number: Option<String>,
    pub expires_in_secs: u32,
    pub max_calls: Option<u32>,
}

/// What the flow is answered for one provider call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub session_id: Option<Uuid>,
    pub call_id: Uuid,
    /// The number to put the caller through to; `None` connects nobody.
    pub connect_to: Option<String>,
    /// The number the callee sees: the virtual number.
    pub virtual_number: String,
    /// Why nobody is connected, when nobody is.
    pub refusal: Option<Refusal>,
    /// Seconds the conversation may last: until the session expires, at most four hours.
    pub max_conversation_secs: Option<u32>,
}

/// A provider call to one of the organisation's numbers, as the flow reports it.
#[derive(Debug, Clone)]
pub struct IncomingCall {
    pub provider_sid: String,
    /// The caller's number, E.164 where it is one (the flow writes Exotel's forms).
    pub caller: String,
    /// The ExoPhone called, E.164.
    pub called: String,
}

/// The stores the masking use cases need.
pub struct MaskedSessions<'a> {
    pub store: &'a dyn AggregateStore<MaskedSession>,
    pub calls: &'a dyn AggregateStore<Call>,
    pub numbers: &'a dyn AggregateStore<PhoneNumbers>,
    pub directory: &'a dyn MaskedSessionDirectory,
    pub access: IntegrationAccess<'a>,
}

/// A number the flow gave, already read from Exotel's forms into E.164;
/// `None` when it is not a phone number (a withheld caller id, say).
fn e164(text: &str) -> Option<String> {
    phone_number("number", text.trim()).ok()
}

impl MaskedSessions<'_> {
    /// Opens a session, for a caller who may use the Exotel phone integration.
    pub async fn open(
        &self,
        acting: &Acting,
        input: NewSession,
        meta: &EventMetadata,
    ) -> Result<MaskedSession, MaskedSessionsError> {
        self.access.may_use(acting, IntegrationKind::ExotelPhone).await?;
        let (organisation_id, created_by) = (acting.organisation_id, acting.user_id);
        let party_a = phone_number("party_a", &input.party_a)?;
        let party_b = phone_number("party_b", &input.party_b)?;
        let virtual_number = self
            .virtual_number(organisation_id, input.virtual_number.as_deref())
            .await?;
        let now = Utc::now();
        for party in [&party_a, &party_b] {
            let open = self
                .directory
                .with_party(organisation_id, &virtual_number, party, now)
                .await?;
            for id in open {
                let loaded = self.store.load(&id.to_string()).await?;
                if loaded.is_some_and(|l| l.aggregate.is_open_at(now)) {
                    return Err(MaskedSessionsError::NumberInUse);
                }
            }
        }
        let session_id = Uuid::new_v4();
        let command = MaskedSessionCommand::Open {
            session_id,
            terms: SessionTerms {
                organisation_id,
                party_a,
                party_b,
                virtual_number,
                expires_at: now + Span::seconds(i64::from(input.expires_in_secs)),
                max_calls: input.max_calls,
                created_by,
            },
            at: now,
        };
        self.store.execute(&session_id.to_string(), command, meta).await?;
        self.get(organisation_id, session_id).await
    }

    async fn virtual_number(
        &self,
        organisation_id: OrganisationId,
        asked: Option<&str>,
    ) -> Result<String, MaskedSessionsError> {
        let numbers = self
            .numbers
            .load(&organisation_id.to_string())
            .await?
            .map(|l| l.aggregate)
            .unwrap_or_default();
        let active = || numbers.numbers.iter().filter(|(_, n)| n.active && n.details.can_call);
        if let Some(asked) = asked {
            let asked = phone_number("virtual_number", asked)?;
            return match active().any(|(_, n)| n.phone_number == asked) {
                true => Ok(asked),
                false => Err(MaskedSessionsError::UnknownVirtualNumber),
            };
        }
        let primary = numbers.primary.and_then(|p| active().find(|(id, _)| **id == p));
        primary
            .or_else(|| active().next())
            .map(|(_, n)| n.phone_number.clone())
            .ok_or(MaskedSessionsError::NoVirtualNumber)
    }

    /// A session of the organisation.
    pub async fn get(
        &self,
        organisation_id: OrganisationId,
        session_id: Uuid,
    ) -> Result<MaskedSession, MaskedSessionsError> {
        self.store
            .load(&session_id.to_string())
            .await?
            .map(|l| l.aggregate)
            .filter(|s| s.is_in(organisation_id))
            .ok_or(MaskedSessionsError::Command(CommandError::Rejected(
                MaskedSessionError::NotFound,
            )))
    }

    /// Ends a session at once: nothing connects through it any more.
    pub async fn end(
        &self,
        acting: &Acting,
        session_id: Uuid,
        meta: &EventMetadata,
    ) -> Result<MaskedSession, MaskedSessionsError> {
        self.access.may_use(acting, IntegrationKind::ExotelPhone).await?;
        let organisation_id = acting.organisation_id;
        let command = MaskedSessionCommand::End {
            organisation_id,
            at: Utc::now(),
        };
        self.store.execute(&session_id.to_string(), command, meta).await?;
        self.get(organisation_id, session_id).await
    }

    /// Decides whom a call to one of the organisation's numbers reaches,
    /// once per provider call, and records the call on its session.
    pub async fn route(
        &self,
        organisation_id: OrganisationId,
        incoming: &IncomingCall,
        meta: &EventMetadata,
    ) -> Result<Routed, MaskedSessionsError> {
        let now = Utc::now();
        let called = e164(&incoming.called).unwrap_or_else(|| incoming.called.trim().to_string());
        let caller = e164(&incoming.caller);
        let session = match &caller {
            Some(caller) => {
                self.session_for(organisation_id, &called, caller, incoming, now, meta)
                    .await?
            }
            None => None,
        };
        let decision = session
            .as_ref()
            .and_then(|s| s.decision_for(&incoming.provider_sid))
            .map(|c| c.decision.clone())
            .unwrap_or(Decision::Refused {
                reason: Refusal::UnknownCaller,
            });
        let connect_to = session
            .as_ref()
            .and_then(|s| s.other_party(&decision))
            .map(str::to_string);
        let session_id = session.as_ref().and_then(|s| s.id);
        let max_conversation_secs = session
            .as_ref()
            .and_then(|s| s.terms.as_ref())
            .filter(|_| connect_to.is_some())
            .map(|t| (t.expires_at - now).num_seconds().clamp(1, 14_400) as u32);
        let call_id = self
            .record_call(
                organisation_id,
                incoming,
                caller,
                &called,
                connect_to.clone(),
                session_id,
                now,
                meta,
            )
            .await?;
        Ok(Routed {
            session_id,
            call_id,
            refusal: match decision {
                Decision::Refused { reason } => Some(reason),
                Decision::Connected { .. } => None,
            },
            connect_to,
            virtual_number: called,
            max_conversation_secs,
        })
    }

    /// The session the call is decided on (deciding it now if it was not),
    /// or `None` when no session through the number names the caller.
    async fn session_for(
        &self,
        organisation_id: OrganisationId,
        called: &str,
        caller: &str,
        incoming: &IncomingCall,
        now: DateTime<Utc>,
        meta: &EventMetadata,
    ) -> Result<Option<MaskedSession>, MaskedSessionsError> {
        let mut candidates = Vec::new();
        for id in self.directory.with_party(organisation_id, called, caller, now).await? {
            if let Some(loaded) = self.store.load(&id.to_string()).await? {
                if loaded.aggregate.decision_for(&incoming.provider_sid).is_some() {
                    return Ok(Some(loaded.aggregate));
                }
                candidates.push(loaded.aggregate);
            }
        }
        let chosen = candidates
            .iter()
            .position(|s| s.is_open_at(now))
            .or((!candidates.is_empty()).then_some(0));
        let Some(session_id) = chosen.and_then(|i| candidates[i].id) else {
            return Ok(None);
        };
        let command = MaskedSessionCommand::Route {
            organisation_id,
            provider_sid: incoming.provider_sid.clone(),
            caller: caller.to_string(),
            at: now,
        };
        self.store.execute(&session_id.to_string(), command, meta).await?;
        Ok(Some(self.get(organisation_id, session_id).await?))
    }

    /// Records the call to the number as an inbound call (once per provider call).
    #[allow(clippy::too_many_arguments)]
    async fn record_call(
        &self,
        organisation_id: OrganisationId,
        incoming: &IncomingCall,
        caller: Option<String>,
        called: &str,
        connect_to: Option<String>,
        masked_session_id: Option<Uuid>,
        now: DateTime<Utc>,
        meta: &EventMetadata,
    ) -> Result<Uuid, MaskedSessionsError> {
        let call_id = inbound_call_id(organisation_id, &incoming.provider_sid);
        let customer_phone = caller.unwrap_or_else(|| incoming.caller.trim().to_string());
        let request = CallRequest {
            organisation_id,
            direction: Direction::Inbound,
            requested_by: None,
            agent_user_id: None,
            agent_phone: connect_to.unwrap_or_else(|| called.to_string()),
            customer_phone,
            customer_id: None,
            caller_id: called.to_string(),
            time_limit_secs: None,
            record: false,
            recording_channels: 1,
            custom_data: None,
            purpose: Purpose::Transactional,
            verified: false,
            masked_session_id,
            verification: None,
            thread_id: None,
        };
        let command = CallCommand::RecordInbound {
            request: Box::new(request),
            provider_sid: incoming.provider_sid.clone(),
            at: now,
        };
        match self.calls.execute(&call_id.to_string(), command, meta).await {
            Ok(()) | Err(CommandError::Rejected(CallError::SameNumbers)) => Ok(call_id),
            Err(other) => Err(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Role;
    use domain::phone_numbers::{NumberDetails, PhoneNumbersCommand, SyncedNumber};
    use std::sync::Mutex;

    use crate::memory::Memory;

    const ORG: Uuid = Uuid::from_u128(1);
    const RIDER: &str = "+919876500011";
    const CUSTOMER: &str = "+919812300012";
    const LINE: &str = "+918047112233";

    /// Sessions as the view would list them, newest first.
    #[derive(Default)]
    struct Directory(Mutex<Vec<(Uuid, String, String, String)>>);

    #[async_trait]
    impl MaskedSessionDirectory for Directory {
        async fn with_party(
            &self,
            _: OrganisationId,
            virtual_number: &str,
            party: &str,
            _: DateTime<Utc>,
        ) -> Result<Vec<Uuid>, StoreError> {
            let kept = self.0.lock().unwrap();
            Ok(kept
                .iter()
                .rev()
                .filter(|(_, vn, a, b)| vn == virtual_number && (a == party || b == party))
                .map(|(id, ..)| *id)
                .collect())
        }
    }

    struct World {
        store: Memory<MaskedSession>,
        calls: Memory<Call>,
        numbers: Memory<PhoneNumbers>,
        permissions: Memory<domain::integration_permission::IntegrationPermission>,
        users: Memory<domain::user::User>,
        directory: Directory,
    }

    fn meta() -> EventMetadata {
        EventMetadata::system("test", Some(ORG))
    }

    fn admin() -> Acting {
        Acting {
            organisation_id: ORG,
            role: Role::Admin,
            user_id: Some(Uuid::from_u128(2)),
        }
    }

    impl World {
        async fn new() -> Self {
            let world = Self {
                store: Memory::new(),
                calls: Memory::new(),
                numbers: Memory::new(),
                permissions: Memory::new(),
                users: Memory::new(),
                directory: Directory::default(),
            };
            let synced = |phone: &str| SyncedNumber {
                phone_number: phone.into(),
                details: NumberDetails {
                    exotel_sid: phone.into(),
                    display_name: None,
                    number_type: "virtual".into(),
                    can_call: true,
                    can_sms: false,
                    region: None,
                },
            };
            let sync = PhoneNumbersCommand::Sync {
                organisation_id: ORG,
                integration_id: Uuid::nil(),
                numbers: vec![synced(LINE), synced("+918047112234")],
                at: Utc::now(),
            };
            world.numbers.execute(&ORG.to_string(), sync, &meta()).await.unwrap();
            world
        }

        fn sessions(&self) -> MaskedSessions<'_> {
            MaskedSessions {
                store: &self.store,
                calls: &self.calls,
                numbers: &self.numbers,
                directory: &self.directory,
                access: IntegrationAccess {
                    permissions: &self.permissions,
                    users: &self.users,
                },
            }
        }

        async fn open(&self, a: &str, b: &str, secs: u32, cap: Option<u32>) -> Uuid {
            let input = NewSession {
                party_a: a.into(),
                party_b: b.into(),
                virtual_number: None,
                expires_in_secs: secs,
                max_calls: cap,
            };
            let session = self.sessions().open(&admin(), input, &meta()).await.unwrap();
            let terms = session.terms.clone().unwrap();
            let id = session.id.unwrap();
            self.directory
                .0
                .lock()
                .unwrap()
                .push((id, terms.virtual_number, terms.party_a, terms.party_b));
            id
        }

        async fn ring(&self, sid: &str, from: &str) -> Routed {
            let incoming = IncomingCall {
                provider_sid: sid.into(),
                caller: from.into(),
                called: "08047112233".into(),
            };
            self.sessions().route(ORG, &incoming, &meta()).await.unwrap()
        }
    }

    #[tokio::test]
    async fn a_party_is_put_through_to_the_other_and_the_call_is_recorded_on_the_session() {
        let world = World::new().await;
        let id = world.open(RIDER, CUSTOMER, 600, None).await;
        let routed = world.ring("s1", "09876500011").await;
        assert_eq!(routed.connect_to.as_deref(), Some(CUSTOMER));
        assert_eq!(routed.session_id, Some(id));
        assert_eq!(routed.virtual_number, LINE);
        assert_eq!(routed.refusal, None);
        let limit = routed.max_conversation_secs.unwrap();
        assert!((590..=600).contains(&limit), "{limit}");
        let back = world.ring("s2", CUSTOMER).await;
        assert_eq!(back.connect_to.as_deref(), Some(RIDER));

        let call = world
            .calls
            .load(&routed.call_id.to_string())
            .await
            .unwrap()
            .unwrap()
            .aggregate;
        let request = call.request.unwrap();
        assert_eq!(request.direction, Direction::Inbound);
        assert_eq!(request.customer_phone, RIDER);
        assert_eq!(request.agent_phone, CUSTOMER);
        assert_eq!(request.caller_id, LINE);
        assert_eq!(request.masked_session_id, Some(id));
        assert_eq!(call.provider_sid.as_deref(), Some("s1"));
        assert_eq!(routed.call_id, inbound_call_id(ORG, "s1"));
    }

    #[tokio::test]
    async fn a_provider_call_is_decided_once_however_often_the_flow_asks() {
        let world = World::new().await;
        let id = world.open(RIDER, CUSTOMER, 600, Some(1)).await;
        let first = world.ring("s1", RIDER).await;
        let again = world.ring("s1", RIDER).await;
        assert_eq!(first, again);
        let session = world.sessions().get(ORG, id).await.unwrap();
        assert_eq!(session.calls.len(), 1);
        let capped = world.ring("s2", CUSTOMER).await;
        assert_eq!(capped.connect_to, None);
        assert_eq!(capped.refusal, Some(Refusal::CapReached));
        assert_eq!(capped.max_conversation_secs, None);
        assert_eq!(capped.session_id, Some(id));
    }

    #[tokio::test]
    async fn a_caller_in_no_session_reaches_nobody_and_the_call_is_still_recorded() {
        let world = World::new().await;
        world.open(RIDER, CUSTOMER, 600, None).await;
        let routed = world.ring("s9", "+919812300099").await;
        assert_eq!(routed.connect_to, None);
        assert_eq!(routed.session_id, None);
        assert_eq!(routed.refusal, Some(Refusal::UnknownCaller));
        let call = world
            .calls
            .load(&routed.call_id.to_string())
            .await
            .unwrap()
            .unwrap()
            .aggregate;
        assert_eq!(
            call.request.unwrap().agent_phone,
            LINE,
            "it reached the number, no one else"
        );
        let withheld = world.ring("s10", "anonymous").await;
        assert_eq!(withheld.connect_to, None);
        assert!(world.calls.load(&withheld.call_id.to_string()).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn an_open_session_is_chosen_over_an_ended_one_of_the_same_party() {
        let world = World::new().await;
        let old = world.open(RIDER, CUSTOMER, 600, None).await;
        world.sessions().end(&admin(), old, &meta()).await.unwrap();
        let new = world.open(RIDER, "+919812300013", 600, None).await;
        let routed = world.ring("s1", RIDER).await;
        assert_eq!(routed.session_id, Some(new));
        assert_eq!(routed.connect_to.as_deref(), Some("+919812300013"));
        world.sessions().end(&admin(), new, &meta()).await.unwrap();
        let refused = world.ring("s2", RIDER).await;
        assert_eq!(refused.session_id, Some(new), "the newest session keeps the refusal");
        assert_eq!(refused.refusal, Some(Refusal::Ended));
    }

    #[tokio::test]
    async fn a_party_open_on_the_number_cannot_be_in_a_second_session_through_it() {
        let world = World::new().await;
        world.open(RIDER, CUSTOMER, 600, None).await;
        let input = NewSession {
            party_a: "+919812300099".into(),
            party_b: CUSTOMER.into(),
            virtual_number: None,
            expires_in_secs: 600,
            max_calls: None,
        };
        let busy = world.sessions().open(&admin(), input.clone(), &meta()).await;
        assert!(matches!(busy, Err(MaskedSessionsError::NumberInUse)));
        let elsewhere = NewSession {
            virtual_number: Some("08047112234".into()),
            ..input.clone()
        };
        let session = world.sessions().open(&admin(), elsewhere, &meta()).await.unwrap();
        assert_eq!(session.terms.unwrap().virtual_number, "+918047112234");
        let unknown = NewSession {
            virtual_number: Some("+918047119999".into()),
            ..input
        };
        let refused = world.sessions().open(&admin(), unknown, &meta()).await;
        assert!(matches!(refused, Err(MaskedSessionsError::UnknownVirtualNumber)));
    }
}
