//! One call through Exotel. The intent is recorded before the provider is
//! asked; each attempt to ask is marked started just before the request,
//! so an attempt whose answer was never recorded is in doubt and must be
//! looked up at the provider before anything is sent again. Every status
//! report received afterwards (a callback or a lookup) is kept once, as a
//! fact; statuses only move forward, so a late `ringing` after `completed`
//! changes nothing, and duration, price, legs and the recording, which
//! arrive minutes after the end, are added as they come and never erased.

mod report;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OrganisationId;
pub use report::{CallDetails, CallStatus, Leg, ReportSource, StatusReport, paise};

/// The longest call Exotel places: four hours.
pub const MAX_TIME_LIMIT_SECS: u32 = 14_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Outbound,
    Inbound,
}

/// Whether a call may reach a number on the Do-Not-Disturb registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Transactional,
    Promotional,
}

/// Longest reason a verified call shows.
pub const MAX_VERIFICATION_REASON_LEN: usize = 60;

/// What a verified (branded) call shows the customer besides the brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Why we call, as the customer's screen shows it ("Your order is on its way").
    pub reason: String,
}

/// The verified-call provider's arrangement for a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationArranged {
    pub provider: String,
    pub reference: String,
    /// The brand name the customer is shown.
    pub caller_name: String,
}

/// What the call was asked to be: the agent's number is dialled first, then
/// the customer's, both shown `caller_id`. Numbers are E.164.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRequest {
    pub organisation_id: OrganisationId,
    pub direction: Direction,
    /// The user who asked, or `None` for a process of Switchboard.
    pub requested_by: Option<Uuid>,
    pub agent_user_id: Option<Uuid>,
    pub agent_phone: String,
    pub customer_phone: String,
    pub customer_id: Option<Uuid>,
    pub caller_id: String,
    pub time_limit_secs: Option<u32>,
    pub record: bool,
    /// 1 or 2.
    pub recording_channels: u8,
    pub custom_data: Option<String>,
    pub purpose: Purpose,
    pub verified: bool,
    /// The masked session an inbound call came through.
    #[serde(default)]
    pub masked_session_id: Option<Uuid>,
    /// What a verified call shows; present exactly when `verified`.
    #[serde(default)]
    pub verification: Option<Verification>,
    /// The thread the call is on (its customer's conversation).
    #[serde(default)]
    pub thread_id: Option<Uuid>,
}

/// A call's recording as kept by Switchboard, by content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingFile {
    /// SHA-256 of the bytes, lower-case hex: where they are kept.
    pub sha256: String,
    /// `wav`, `mp3` or the provider's content type.
    pub format: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub channels: Option<u8>,
    pub duration_secs: Option<u32>,
}

/// The provider's refusal of a request to place the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRefusal {
    pub http_status: u16,
    /// Exotel's numeric code, when it gave one.
    pub code: Option<u32>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CallCommand {
    /// Records the intent; the same request again changes nothing.
    Request {
        request: Box<CallRequest>,
        at: DateTime<Utc>,
    },
    /// A call the provider already has, made to one of our numbers: its
    /// intent and placement at once; the same call again changes nothing.
    RecordInbound {
        request: Box<CallRequest>,
        provider_sid: String,
        at: DateTime<Utc>,
    },
    /// The verified-call provider has arranged the call's branding.
    RecordVerification {
        arranged: VerificationArranged,
        at: DateTime<Utc>,
    },
    /// The verified-call provider refused: the call is not placed unverified.
    RefuseVerification { message: String, at: DateTime<Utc> },
    /// Claims an attempt, just before the provider is asked.
    StartDispatch { at: DateTime<Utc> },
    /// The provider has the call under this sid (its answer, or a lookup).
    RecordPlaced { provider_sid: String, at: DateTime<Utc> },
    /// The provider refused the request: the call is over.
    RecordRefusal {
        refusal: ProviderRefusal,
        at: DateTime<Utc>,
    },
    /// A lookup proved the provider has no such call: it may be asked again.
    RecordNotAtProvider { at: DateTime<Utc> },
    /// A status report, from a callback or a lookup.
    RecordReport { report: Box<StatusReport> },
    /// The provider's recording was fetched and kept.
    StoreRecording {
        recording: RecordingFile,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CallEvent {
    CallRequested {
        request: Box<CallRequest>,
        at: DateTime<Utc>,
    },
    CallVerificationArranged {
        arranged: VerificationArranged,
        at: DateTime<Utc>,
    },
    CallDispatchStarted {
        attempt: u32,
        at: DateTime<Utc>,
    },
    CallPlaced {
        provider_sid: String,
        at: DateTime<Utc>,
    },
    CallRefused {
        refusal: ProviderRefusal,
        at: DateTime<Utc>,
    },
    CallNotFoundAtProvider {
        at: DateTime<Utc>,
    },
    CallReportReceived {
        report: Box<StatusReport>,
    },
    CallProgressed {
        status: CallStatus,
        at: DateTime<Utc>,
    },
    CallDetailsAdded {
        details: CallDetails,
        at: DateTime<Utc>,
    },
    CallRecordingStored {
        recording: RecordingFile,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for CallEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CallRequested { .. } => "CallRequested",
            Self::CallVerificationArranged { .. } => "CallVerificationArranged",
            Self::CallDispatchStarted { .. } => "CallDispatchStarted",
            Self::CallPlaced { .. } => "CallPlaced",
            Self::CallRefused { .. } => "CallRefused",
            Self::CallNotFoundAtProvider { .. } => "CallNotFoundAtProvider",
            Self::CallReportReceived { .. } => "CallReportReceived",
            Self::CallProgressed { .. } => "CallProgressed",
            Self::CallDetailsAdded { .. } => "CallDetailsAdded",
            Self::CallRecordingStored { .. } => "CallRecordingStored",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule a call command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// 404: no such call.
    #[error("no such call")]
    NotFound,
    /// 422: the call id was used for a different request.
    #[error("this call id was used for a different call")]
    CallIdReused,
    /// 422: over Exotel's four hours.
    #[error("a call may last at most {MAX_TIME_LIMIT_SECS} seconds")]
    TimeLimitTooLong,
    /// 422: a call from a number to itself.
    #[error("the agent and the customer have the same number")]
    SameNumbers,
    /// 422: recordings have one channel or two.
    #[error("a recording has 1 or 2 channels")]
    RecordingChannels,
    /// 409: the provider has this call already, or refused it.
    #[error("this call has been placed or refused")]
    AlreadyDispatched,
    /// 409: an attempt's outcome is unknown: look the call up first.
    #[error("an attempt to place this call has no recorded outcome; look it up first")]
    DispatchInDoubt,
    /// 409: an outcome of an attempt that was not started.
    #[error("no attempt to place this call is under way")]
    NotStarted,
    /// 409: a report for another provider call than this one's.
    #[error("this report is for another call at the provider")]
    SidMismatch,
    /// 404: the provider has reported no recording of this call.
    #[error("this call has no recording")]
    NoRecording,
    /// 422 on `verification_reason`: a verified call says why it calls, and
    /// only a verified one does.
    #[error(
        "a verified call needs a reason of 1 to {MAX_VERIFICATION_REASON_LEN} printable characters, and only a verified call has one"
    )]
    VerificationReason,
    /// 409: a verified call is placed only once its branding is arranged.
    #[error("this verified call's branding is not arranged yet")]
    NotVerified,
    /// 409: branding for a call that did not ask for it, or arranged already.
    #[error("this call is not waiting for verification")]
    NotAwaitingVerification,
    /// 409: only an inbound call is recorded as already at the provider.
    #[error("this call was not made to one of our numbers")]
    NotInbound,
}

/// Where asking the provider stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dispatch {
    /// No intent.
    #[default]
    None,
    /// Recorded; no attempt under way.
    Pending,
    /// Asked (or about to be) with no outcome recorded: in flight, or in
    /// doubt after a crash or a timeout.
    Started,
    Placed,
    Refused,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub request: Option<Box<CallRequest>>,
    pub dispatch: Dispatch,
    pub attempts: u32,
    /// When the latest attempt was started.
    pub dispatch_started_at: Option<DateTime<Utc>>,
    pub provider_sid: Option<String>,
    pub refusal: Option<ProviderRefusal>,
    pub status: Option<CallStatus>,
    pub details: CallDetails,
    /// The recording as kept, once fetched.
    pub recording: Option<RecordingFile>,
    /// A verified call's branding, once arranged.
    #[serde(default)]
    pub verification: Option<VerificationArranged>,
    /// Ids of the reports received, so a duplicate changes nothing.
    pub reports: Vec<String>,
    pub requested_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl Call {
    /// Whether the call exists and belongs to `organisation_id`.
    pub fn is_in(&self, organisation_id: OrganisationId) -> bool {
        self.request
            .as_ref()
            .is_some_and(|r| r.organisation_id == organisation_id)
    }

    fn request(&self, request: Box<CallRequest>, at: DateTime<Utc>) -> Result<Vec<CallEvent>, CallError> {
        if let Some(mine) = &self.request {
            return match **mine == *request {
                true => Ok(Vec::new()),
                false => Err(CallError::CallIdReused),
            };
        }
        if request.time_limit_secs.is_some_and(|t| t > MAX_TIME_LIMIT_SECS) {
            return Err(CallError::TimeLimitTooLong);
        }
        if request.agent_phone == request.customer_phone {
            return Err(CallError::SameNumbers);
        }
        if !(1..=2).contains(&request.recording_channels) {
            return Err(CallError::RecordingChannels);
        }
        let reason_ok = request.verification.as_ref().is_none_or(|v| {
            let length = v.reason.chars().count();
            (1..=MAX_VERIFICATION_REASON_LEN).contains(&length)
                && v.reason.trim() == v.reason
                && crate::user::is_safe_text(&v.reason)
        });
        if request.verified != request.verification.is_some() || !reason_ok {
            return Err(CallError::VerificationReason);
        }
        Ok(vec![CallEvent::CallRequested { request, at }])
    }

    fn inbound(
        &self,
        request: Box<CallRequest>,
        provider_sid: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<CallEvent>, CallError> {
        if request.direction != Direction::Inbound {
            return Err(CallError::NotInbound);
        }
        if self.request.is_some() {
            return match self.provider_sid.as_deref() == Some(provider_sid.as_str()) {
                true => Ok(Vec::new()),
                false => Err(CallError::SidMismatch),
            };
        }
        if request.agent_phone == request.customer_phone {
            return Err(CallError::SameNumbers);
        }
        Ok(vec![
            CallEvent::CallRequested { request, at },
            CallEvent::CallPlaced { provider_sid, at },
        ])
    }

    /// Whether the call waits for its branding before it may be placed.
    pub fn awaits_verification(&self) -> bool {
        self.dispatch == Dispatch::Pending
            && self.verification.is_none()
            && self.request.as_ref().is_some_and(|r| r.verified)
    }

    fn verify(&self, arranged: VerificationArranged, at: DateTime<Utc>) -> Result<Vec<CallEvent>, CallError> {
        if self.request.is_none() {
            return Err(CallError::NotFound);
        }
        if self.verification.as_ref() == Some(&arranged) {
            return Ok(Vec::new());
        }
        if !self.awaits_verification() {
            return Err(CallError::NotAwaitingVerification);
        }
        Ok(vec![CallEvent::CallVerificationArranged { arranged, at }])
    }

    fn refuse_verification(&self, message: String, at: DateTime<Utc>) -> Result<Vec<CallEvent>, CallError> {
        if self.request.is_none() {
            return Err(CallError::NotFound);
        }
        if !self.awaits_verification() {
            return Err(CallError::NotAwaitingVerification);
        }
        let refusal = ProviderRefusal {
            http_status: 422,
            code: None,
            message: format!("the verified-call provider refused: {message}"),
        };
        Ok(vec![CallEvent::CallRefused { refusal, at }])
    }

    fn start_dispatch(&self, at: DateTime<Utc>) -> Result<Vec<CallEvent>, CallError> {
        if self.awaits_verification() {
            return Err(CallError::NotVerified);
        }
        match self.dispatch {
            Dispatch::None => Err(CallError::NotFound),
            Dispatch::Started => Err(CallError::DispatchInDoubt),
            Dispatch::Placed | Dispatch::Refused => Err(CallError::AlreadyDispatched),
            Dispatch::Pending => Ok(vec![CallEvent::CallDispatchStarted {
                attempt: self.attempts + 1,
                at,
            }]),
        }
    }

    /// Outcomes of an attempt need the attempt under way.
    fn started(&self) -> Result<(), CallError> {
        match self.dispatch {
            Dispatch::None => Err(CallError::NotFound),
            Dispatch::Pending => Err(CallError::NotStarted),
            Dispatch::Placed | Dispatch::Refused => Err(CallError::AlreadyDispatched),
            Dispatch::Started => Ok(()),
        }
    }

    fn placed(&self, provider_sid: String, at: DateTime<Utc>) -> Result<Vec<CallEvent>, CallError> {
        match &self.provider_sid {
            Some(mine) if *mine == provider_sid => return Ok(Vec::new()),
            Some(_) => return Err(CallError::SidMismatch),
            None => self.started()?,
        }
        Ok(vec![CallEvent::CallPlaced { provider_sid, at }])
    }

    fn refused(&self, refusal: ProviderRefusal, at: DateTime<Utc>) -> Result<Vec<CallEvent>, CallError> {
        self.started()?;
        Ok(vec![CallEvent::CallRefused { refusal, at }])
    }

    fn not_at_provider(&self, at: DateTime<Utc>) -> Result<Vec<CallEvent>, CallError> {
        self.started()?;
        Ok(vec![CallEvent::CallNotFoundAtProvider { at }])
    }

    /// The same content again changes nothing; other content replaces what
    /// was kept (the provider re-encoded it).
    fn store_recording(&self, recording: RecordingFile, at: DateTime<Utc>) -> Result<Vec<CallEvent>, CallError> {
        if self.request.is_none() {
            return Err(CallError::NotFound);
        }
        if self.details.recording_url.is_none() {
            return Err(CallError::NoRecording);
        }
        match &self.recording {
            Some(kept) if *kept == recording => Ok(Vec::new()),
            _ => Ok(vec![CallEvent::CallRecordingStored { recording, at }]),
        }
    }

    fn report(&self, report: Box<StatusReport>) -> Result<Vec<CallEvent>, CallError> {
        if self.request.is_none() {
            return Err(CallError::NotFound);
        }
        if self.reports.contains(&report.report_id) {
            return Ok(Vec::new());
        }
        let at = report.received_at;
        let mut events = Vec::new();
        let mut current = self.status;
        match (&self.provider_sid, &report.provider_sid) {
            (Some(mine), Some(theirs)) if mine != theirs => return Err(CallError::SidMismatch),
            (None, Some(sid)) if matches!(self.dispatch, Dispatch::Pending | Dispatch::Started) => {
                events.push(CallEvent::CallPlaced {
                    provider_sid: sid.clone(),
                    at,
                });
                current = current.map(CallStatus::once_placed);
            }
            _ => {}
        }
        let progressed = report.status.filter(|s| moves_forward(current, *s));
        let added = self.details.missing_from(&report.details);
        events.push(CallEvent::CallReportReceived { report });
        events.extend(progressed.map(|status| CallEvent::CallProgressed { status, at }));
        events.extend(added.map(|details| CallEvent::CallDetailsAdded { details, at }));
        Ok(events)
    }
}

/// A status moves a call only forward, and nothing moves it once it has ended.
fn moves_forward(current: Option<CallStatus>, status: CallStatus) -> bool {
    match current {
        None => true,
        Some(current) => !current.is_terminal() && status.rank() > current.rank(),
    }
}

impl Aggregate for Call {
    const TYPE: &'static str = "call";
    type Command = CallCommand;
    type Event = CallEvent;
    type Error = CallError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        use CallCommand as C;
        let events = match command {
            C::Request { request, at } => self.request(request, at)?,
            C::RecordInbound {
                request,
                provider_sid,
                at,
            } => self.inbound(request, provider_sid, at)?,
            C::RecordVerification { arranged, at } => self.verify(arranged, at)?,
            C::RefuseVerification { message, at } => self.refuse_verification(message, at)?,
            C::StartDispatch { at } => self.start_dispatch(at)?,
            C::RecordPlaced { provider_sid, at } => self.placed(provider_sid, at)?,
            C::RecordRefusal { refusal, at } => self.refused(refusal, at)?,
            C::RecordNotAtProvider { at } => self.not_at_provider(at)?,
            C::RecordReport { report } => self.report(report)?,
            C::StoreRecording { recording, at } => self.store_recording(recording, at)?,
        };
        crate::write_all(self, sink, events).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use CallEvent as E;
        match event {
            E::CallRequested { request, at } => {
                self.request = Some(request);
                self.dispatch = Dispatch::Pending;
                self.status = Some(CallStatus::Requested);
                self.requested_at = Some(at);
            }
            E::CallVerificationArranged { arranged, .. } => self.verification = Some(arranged),
            E::CallDispatchStarted { attempt, at } => {
                self.dispatch = Dispatch::Started;
                self.attempts = attempt;
                self.dispatch_started_at = Some(at);
            }
            E::CallPlaced { provider_sid, .. } => {
                self.dispatch = Dispatch::Placed;
                self.provider_sid = Some(provider_sid);
                self.status = self.status.map(CallStatus::once_placed);
            }
            E::CallRefused { refusal, at } => {
                self.dispatch = Dispatch::Refused;
                self.refusal = Some(refusal);
                self.status = Some(CallStatus::Refused);
                self.ended_at = Some(at);
            }
            E::CallNotFoundAtProvider { .. } => self.dispatch = Dispatch::Pending,
            E::CallReportReceived { report } => self.reports.push(report.report_id),
            E::CallProgressed { status, at } => {
                if status == CallStatus::Answered {
                    self.answered_at = Some(at);
                }
                if status.is_terminal() {
                    self.ended_at = Some(at);
                }
                self.status = Some(status);
            }
            E::CallDetailsAdded { details, .. } => self.details.add(details),
            E::CallRecordingStored { recording, .. } => self.recording = Some(recording),
        }
    }
}

#[cfg(test)]
mod tests;
