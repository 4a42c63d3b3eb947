//! Calls through Exotel: the request that records the intent, the
//! dispatcher that places recorded calls and never places one twice, the
//! look-up of attempts whose outcome is unknown, the reconciliation of
//! calls whose callbacks never came, and the status callbacks themselves.

mod dispatch;
mod recording;
mod report;
mod request;
pub mod verified;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;
use uuid::Uuid;

use domain::OrganisationId;
use domain::call::{Call, CallError, CallStatus, Dispatch};
use domain::integration::settings::SettingsError;
use domain::phone_numbers::PhoneNumbers;

use crate::access::IntegrationAccess;
use crate::error::{CommandError, StoreError};
use crate::exotel::ExotelVoice;
use crate::integrations::{Integrations, IntegrationsError};
use crate::policy::Denied;
use crate::store::AggregateStore;

pub use dispatch::{Attempt, LookUp};
pub use recording::{KeptRecording, RecordingFiles};
pub use report::{callback_report, lookup_report};
pub use request::CallInput;

/// The longest `custom_data` kept with a call, in bytes.
pub const MAX_CUSTOM_DATA_BYTES: usize = 2_000;

/// Where a page of calls ends: the last call's request time and id.
pub type CallCursor = (DateTime<Utc>, Uuid);

/// A call as the read model lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSummary {
    pub call_id: Uuid,
    pub direction: String,
    pub status: String,
    pub dispatch: String,
    pub provider_sid: Option<String>,
    pub agent_user_id: Option<Uuid>,
    pub agent_phone: String,
    pub customer_phone: String,
    pub caller_id: String,
    pub requested_by: Option<Uuid>,
    pub requested_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<i64>,
    pub price_paise: Option<i64>,
    pub has_recording: bool,
}

/// Which of the organisation's calls to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallFilter {
    pub status: Option<CallStatus>,
    pub agent_user_id: Option<Uuid>,
    /// E.164; the customer's number.
    pub customer_phone: Option<String>,
    /// E.164; any of the call's numbers (agent, customer or caller id).
    pub number: Option<String>,
    pub requested_from: Option<DateTime<Utc>>,
    pub requested_to: Option<DateTime<Utc>>,
}

/// What the calls' read model answers.
#[async_trait]
pub trait CallDirectory: Send + Sync {
    /// A page of the organisation's calls, newest first, after the cursor
    /// (a `(requested_at, call_id)` of the previous page's last call).
    async fn list(
        &self,
        organisation_id: OrganisationId,
        filter: &CallFilter,
        after: Option<CallCursor>,
        limit: u32,
    ) -> Result<Vec<CallSummary>, StoreError>;
    /// Calls a user asked for since `since` (the daily limit).
    async fn requested_since(
        &self,
        organisation_id: OrganisationId,
        user_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<u32, StoreError>;
    /// The oldest `limit` calls of each organisation waiting to be placed,
    /// oldest request first, with their organisations.
    async fn due(&self, limit: u32) -> Result<Vec<(Uuid, OrganisationId)>, StoreError>;
    /// Calls whose latest attempt started before `before` and has no outcome.
    async fn in_doubt(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<Uuid>, StoreError>;
    /// Placed calls not ended though their time limit ran out before
    /// `unended_before`, and calls ended within `ended_between` still
    /// missing duration, price or a recording asked for.
    async fn unsettled(
        &self,
        unended_before: DateTime<Utc>,
        ended_between: (DateTime<Utc>, DateTime<Utc>),
        limit: u32,
    ) -> Result<Vec<Uuid>, StoreError>;
    /// The organisation's call the provider knows by `sid`.
    async fn by_sid(&self, organisation_id: OrganisationId, sid: &str) -> Result<Option<Uuid>, StoreError>;
}

/// Where Exotel posts an integration's status callbacks.
pub trait CallbackUrls: Send + Sync {
    /// The URL with the integration's token of `generation`, or `None` when
    /// this server has no address the provider at `provider_base_url` can reach.
    fn status_callback(&self, integration_id: Uuid, generation: u32, provider_base_url: &str) -> Option<String>;
    /// The URL of another of the integration's webhook routes (`sms`), in the same way.
    fn webhook(&self, integration_id: Uuid, generation: u32, provider_base_url: &str, route: &str) -> Option<String>;
}

/// How long the dispatcher waits before it looks an attempt up, and how
/// long an absent call is given before it counts as never placed.
#[derive(Debug, Clone, Copy)]
pub struct CallTiming {
    /// Longer than any request to Exotel can take, bucket wait included.
    pub in_doubt_after: Duration,
    /// What is allowed, beyond the call's own time limit and ringing, for
    /// a call to end and reach the provider's listing.
    pub settle: Duration,
    /// The ring time-out sent with every call.
    pub ring_timeout_secs: u32,
}

impl Default for CallTiming {
    fn default() -> Self {
        Self {
            in_doubt_after: Duration::from_secs(60),
            settle: Duration::from_secs(180),
            ring_timeout_secs: 45,
        }
    }
}

/// Why a call use case failed. The API's status for each is given.
#[derive(Debug, thiserror::Error)]
pub enum CallsError {
    /// 409: no Exotel phone integration, or it is disabled.
    #[error("Exotel phone is not configured or is disabled")]
    NotConfigured,
    /// 403.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// 422, naming the field.
    #[error(transparent)]
    Invalid(#[from] SettingsError),
    /// 422, field `agent_user_id`.
    #[error("no such user in this organisation, or the user is deactivated")]
    UnknownAgent,
    /// 422, field `agent_phone`.
    #[error("give agent_phone, or an agent_user_id whose user has a phone of their own")]
    AgentPhoneMissing,
    /// 422, field `caller_id`.
    #[error("the caller id must be one of the organisation's active phone numbers")]
    UnknownCallerId,
    /// 422, field `caller_id`.
    #[error("the organisation has no active phone number to call from; sync its ExoPhones first")]
    NoCallerId,
    /// 422, field `verified`.
    #[error("no verified-call provider is configured; the call was not placed")]
    VerificationUnavailable,
    /// 422, field `customer_phone`: a promotional call to a number on the
    /// DND registry that the account has not whitelisted.
    #[error(
        "the customer is on India's Do-Not-Disturb registry and not whitelisted: a promotional call may not reach them"
    )]
    CustomerOnDnd,
    /// 422, field `custom_data`.
    #[error("custom_data may be at most {MAX_CUSTOM_DATA_BYTES} bytes")]
    CustomDataTooLong,
    /// The refusal recorded on a call the dispatcher cannot give a callback
    /// URL (this server has no address the provider can reach); 409 where
    /// a caller meets it.
    #[error("no public URL is configured for Exotel's status callbacks (SWITCHBOARD_PUBLIC_URL)")]
    NoCallbackUrl,
    /// 404: Exotel reported no recording of the call.
    #[error("this call has no recording")]
    NoRecording,
    /// 404: Exotel no longer serves the recording.
    #[error("Exotel no longer serves this call's recording")]
    RecordingGone,
    /// 502: Exotel failed or could not be reached.
    #[error(transparent)]
    Exotel(#[from] crate::exotel::ExotelError),
    /// 503: the recording could not be kept.
    #[error("recordings could not be stored: {0}")]
    Storage(String),
    #[error(transparent)]
    Integration(#[from] IntegrationsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError<CallError>),
}

impl From<crate::access::AccessError> for CallsError {
    fn from(error: crate::access::AccessError) -> Self {
        use crate::access::AccessError as A;
        match error {
            A::Denied(denied) => Self::Denied(denied),
            A::Store(e) => Self::Store(e),
            A::UnknownUser => Self::UnknownAgent,
            A::Command(CommandError::Store(e)) => Self::Store(StoreError(e)),
            A::Command(_) => Self::Store(StoreError("a permission could not be read".into())),
        }
    }
}

/// The stores and ports calls need.
pub struct Calls<'a> {
    pub store: &'a dyn AggregateStore<Call>,
    pub numbers: &'a dyn AggregateStore<PhoneNumbers>,
    pub access: IntegrationAccess<'a>,
    pub integrations: Integrations<'a>,
    pub voice: &'a dyn ExotelVoice,
    /// DND standing of customers, for promotional calls.
    pub numbers_api: &'a dyn crate::exotel::ExotelNumbers,
    pub directory: &'a dyn CallDirectory,
    pub callbacks: &'a dyn CallbackUrls,
    pub recordings: &'a dyn RecordingFiles,
    pub verified: &'a dyn verified::VerifiedCalls,
    pub timing: CallTiming,
    /// Where calls go on threads.
    pub threads: crate::threads::ThreadLinks<'a>,
}

/// The call, if it was ever requested (a command refused before its first
/// event leaves the empty aggregate).
fn recorded(call: Call) -> Option<Call> {
    (call.dispatch != Dispatch::None).then_some(call)
}

/// Whether `organisation_id` may see the call: it was requested, and by
/// this organisation.
fn seen_by(call: &Call, organisation_id: OrganisationId) -> bool {
    call.dispatch != Dispatch::None && call.is_in(organisation_id)
}

/// The call as `organisation_id` may see it.
fn visible(call: Option<Call>, organisation_id: OrganisationId) -> Result<Call, CallsError> {
    call.filter(|c| seen_by(c, organisation_id))
        .ok_or(CallsError::Command(CommandError::Rejected(CallError::NotFound)))
}

impl Calls<'_> {
    /// The organisation's call, or `NotFound`.
    pub async fn get(&self, organisation_id: OrganisationId, call_id: Uuid) -> Result<Call, CallsError> {
        visible(self.load(call_id).await?, organisation_id)
    }

    async fn load(&self, call_id: Uuid) -> Result<Option<Call>, CallsError> {
        let loaded = self.store.load(&call_id.to_string()).await?;
        Ok(loaded.and_then(|l| recorded(l.aggregate)))
    }

    /// A page of the organisation's calls.
    pub async fn list(
        &self,
        organisation_id: OrganisationId,
        filter: &CallFilter,
        after: Option<CallCursor>,
        limit: u32,
    ) -> Result<Vec<CallSummary>, CallsError> {
        Ok(self.directory.list(organisation_id, filter, after, limit).await?)
    }
}

/// What became of a status callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// Recorded on this call (or already recorded: a duplicate).
    Recorded(Uuid),
    /// No call of the organisation's matches it.
    Unmatched,
}

impl Calls<'_> {
    /// Records a status callback on the call it names (by our id in
    /// `CustomField`, else by Exotel's sid). `body_digest` identifies the
    /// callback, so the same one twice is recorded once.
    pub async fn record_callback(
        &self,
        organisation_id: OrganisationId,
        info: &crate::exotel::CallInfo,
        body_digest: String,
        meta: &crate::metadata::EventMetadata,
    ) -> Result<Callback, CallsError> {
        let named = info
            .custom_field
            .as_deref()
            .and_then(|c| Uuid::try_parse(c.trim()).ok());
        // The call our id names, as loaded: the command decides on it.
        let mut found = None;
        if let Some(named) = named
            && let Some(loaded) = self.store.load(&named.to_string()).await?
            && seen_by(&loaded.aggregate, organisation_id)
        {
            found = Some((named, Some(loaded)));
        }
        if found.is_none() {
            found = self
                .directory
                .by_sid(organisation_id, &info.sid)
                .await?
                .map(|id| (id, None));
        }
        let Some((call_id, loaded)) = found else {
            return Ok(Callback::Unmatched);
        };
        let report = callback_report(info, body_digest, Utc::now());
        let command = domain::call::CallCommand::RecordReport {
            report: Box::new(report),
        };
        let id = call_id.to_string();
        let outcome = match loaded {
            Some(loaded) => crate::store::execute_on(self.store, &id, loaded, command, meta)
                .await
                .map(drop),
            None => self.store.execute(&id, command, meta).await,
        };
        match outcome {
            Ok(()) => Ok(Callback::Recorded(call_id)),
            Err(CommandError::Rejected(CallError::SidMismatch)) => Ok(Callback::Unmatched),
            Err(other) => Err(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cqrs_es::Aggregate;
    use domain::call::{CallEvent, CallRequest, Direction, Purpose};

    const OURS: Uuid = Uuid::from_u128(1);
    const THEIRS: Uuid = Uuid::from_u128(2);

    fn requested() -> Call {
        let mut call = Call::default();
        call.apply(CallEvent::CallRequested {
            request: Box::new(CallRequest {
                organisation_id: OURS,
                direction: Direction::Outbound,
                requested_by: None,
                agent_user_id: None,
                agent_phone: "+919800000001".into(),
                customer_phone: "+919800000002".into(),
                customer_id: None,
                caller_id: "+911141169368".into(),
                time_limit_secs: None,
                record: false,
                recording_channels: 1,
                custom_data: None,
                purpose: Purpose::Transactional,
                verified: false,
                masked_session_id: None,
                verification: None,
                thread_id: None,
            }),
            at: Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
        });
        call
    }

    fn not_found(answer: Result<Call, CallsError>) -> bool {
        matches!(
            answer,
            Err(CallsError::Command(CommandError::Rejected(CallError::NotFound)))
        )
    }

    #[test]
    fn a_call_never_requested_is_not_recorded_and_no_organisation_sees_it() {
        let empty = Call::default();
        assert_eq!(empty.dispatch, Dispatch::None);
        assert!(recorded(empty.clone()).is_none());
        assert!(!seen_by(&empty, OURS));
        assert!(not_found(visible(Some(empty), OURS)));
        assert!(not_found(visible(None, OURS)));
    }

    #[test]
    fn a_requested_call_is_recorded_and_seen_by_its_own_organisation_only() {
        let call = requested();
        assert_eq!(call.dispatch, Dispatch::Pending);
        assert!(recorded(call.clone()).is_some());
        assert!(seen_by(&call, OURS));
        assert!(!seen_by(&call, THEIRS));
        assert!(visible(Some(call.clone()), OURS).is_ok());
        assert!(not_found(visible(Some(call), THEIRS)));
    }
}
