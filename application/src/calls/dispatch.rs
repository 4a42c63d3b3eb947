//! Placing recorded calls. Each attempt is claimed on the aggregate just
//! before Exotel is asked, so of any number of dispatchers exactly one
//! asks. An attempt whose answer was lost (a time-out, a 5xx, a crash) is
//! never simply repeated: the call is looked up at Exotel first, and sent
//! again only once Exotel provably does not have it.

use chrono::{DateTime, Duration as Span, Utc};
use uuid::Uuid;

use domain::call::{Call, CallCommand, CallRequest, CallStatus, Dispatch, ProviderRefusal};
use domain::integration::{IntegrationKind, integration_id};

use super::report::lookup_report;
use super::verified::BrandedCall;
use super::{Calls, CallsError};
use crate::error::CommandError;
use crate::exotel::{CallInfo, CallQuery, CallTarget, ConnectCall, ExotelAccount, ExotelError, RecordingChannels};
use crate::metadata::EventMetadata;
use crate::phone_numbers::{PhoneNumbersUseCaseError, exotel_phone_account, exotel_phone_integration};

/// What one dispatch of a call came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Not waiting to be placed (placed, refused, in doubt or taken by
    /// another dispatcher): nothing was sent.
    Skipped,
    Placed {
        sid: String,
    },
    Refused {
        message: String,
    },
    /// Exotel did not act (rate limited, unreachable): waiting again.
    NotSent {
        reason: String,
    },
    /// Exotel may have acted: the call must be looked up.
    InDoubt {
        reason: String,
    },
}

/// What a look-up of an attempt in doubt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookUp {
    /// Not in doubt, or not yet due for a look-up.
    NotDue,
    Found {
        sid: String,
    },
    /// Not listed yet, but it could still be under way.
    NotYetProvable,
    /// Absent after every call placed then would have ended: sent again.
    Absent,
    /// Several of Exotel's calls could be this one: left in doubt.
    Ambiguous {
        candidates: usize,
    },
}

fn meta(call: &CallRequest) -> EventMetadata {
    EventMetadata::system("call-dispatcher", Some(call.organisation_id))
}

impl Calls<'_> {
    /// Arranges a verified call's branding before it is placed; the attempt
    /// it ends in when the provider refuses (the call is then not placed).
    async fn arrange_verification(
        &self,
        call_id: Uuid,
        request: &CallRequest,
        meta: &EventMetadata,
    ) -> Result<Option<Attempt>, CallsError> {
        let branded = BrandedCall {
            organisation_id: request.organisation_id,
            call_id,
            caller_id: request.caller_id.clone(),
            customer_phone: request.customer_phone.clone(),
            reason: request
                .verification
                .as_ref()
                .map(|v| v.reason.clone())
                .unwrap_or_default(),
        };
        let id = call_id.to_string();
        let (command, refused) = match self.verified.arrange(&branded).await {
            Ok(arranged) => (
                CallCommand::RecordVerification {
                    arranged,
                    at: Utc::now(),
                },
                None,
            ),
            Err(message) => (
                CallCommand::RefuseVerification {
                    message: message.clone(),
                    at: Utc::now(),
                },
                Some(Attempt::Refused { message }),
            ),
        };
        match self.store.execute(&id, command, meta).await {
            Ok(()) => Ok(refused),
            // Another dispatcher arranged or refused it first.
            Err(CommandError::Rejected(_)) => Ok(Some(Attempt::Skipped)),
            Err(other) => Err(other.into()),
        }
    }

    /// Places a call waiting to be placed, once.
    pub async fn dispatch(&self, call_id: Uuid) -> Result<Attempt, CallsError> {
        let Some(call) = self.load(call_id).await? else {
            return Ok(Attempt::Skipped);
        };
        let Some(request) = call.request.as_deref().filter(|_| call.dispatch == Dispatch::Pending) else {
            return Ok(Attempt::Skipped);
        };
        let meta = meta(request);
        let id = call_id.to_string();
        if call.awaits_verification()
            && let Some(refused) = self.arrange_verification(call_id, request, &meta).await?
        {
            return Ok(refused);
        }
        let reachable = self.reachable(request).await;
        if let Ok((account, _)) = &reachable {
            self.voice.capacity(account).await;
        }
        match self
            .store
            .execute(&id, CallCommand::StartDispatch { at: Utc::now() }, &meta)
            .await
        {
            Ok(()) => {}
            Err(CommandError::Rejected(_)) => return Ok(Attempt::Skipped),
            Err(other) => return Err(other.into()),
        }
        let (account, callback) = match reachable {
            Ok(found) => found,
            Err(refusal) => {
                let message = refusal.message.clone();
                self.record(
                    &id,
                    CallCommand::RecordRefusal {
                        refusal,
                        at: Utc::now(),
                    },
                    &meta,
                )
                .await?;
                return Ok(Attempt::Refused { message });
            }
        };
        let connect = connect_request(call_id, request, callback, self.timing.ring_timeout_secs);
        let (command, attempt) = match self.voice.connect(&account, &connect).await {
            Ok(info) => (
                CallCommand::RecordPlaced {
                    provider_sid: info.sid.clone(),
                    at: Utc::now(),
                },
                Attempt::Placed { sid: info.sid },
            ),
            Err(error) if error.outcome_unknown() || matches!(error, ExotelError::Malformed(_)) => {
                tracing::warn!(%call_id, %error, "call attempt in doubt; it will be looked up before anything is sent again");
                return Ok(Attempt::InDoubt {
                    reason: error.to_string(),
                });
            }
            Err(error @ (ExotelError::RateLimited { .. } | ExotelError::Unreachable(_))) => (
                CallCommand::RecordNotAtProvider { at: Utc::now() },
                Attempt::NotSent {
                    reason: error.to_string(),
                },
            ),
            Err(error) => {
                let refusal = ProviderRefusal {
                    http_status: error.status_code().unwrap_or(0),
                    code: refusal_code(&error),
                    message: error.exotel_message(),
                };
                let message = refusal.message.clone();
                (
                    CallCommand::RecordRefusal {
                        refusal,
                        at: Utc::now(),
                    },
                    Attempt::Refused { message },
                )
            }
        };
        self.record(&id, command, &meta).await?;
        Ok(attempt)
    }

    /// The account and callback URL to place the call with, or why it
    /// cannot be placed at all.
    async fn reachable(&self, request: &CallRequest) -> Result<(ExotelAccount, String), ProviderRefusal> {
        let refusal = |message: String| ProviderRefusal {
            http_status: 0,
            code: None,
            message,
        };
        let (integration, account) = match exotel_phone_integration(request.organisation_id, &self.integrations).await {
            Ok(found) => found,
            Err(PhoneNumbersUseCaseError::NotConfigured) => {
                return Err(refusal(CallsError::NotConfigured.to_string()));
            }
            Err(other) => return Err(refusal(other.to_string())),
        };
        let id = integration_id(request.organisation_id, IntegrationKind::ExotelPhone);
        match self
            .callbacks
            .status_callback(id, integration.callback_generation, &account.base_url)
        {
            Some(url) => Ok((account, url)),
            None => Err(refusal(CallsError::NoCallbackUrl.to_string())),
        }
    }

    /// Records an outcome; a rejection means another report got there
    /// first (a callback placing the call), which is fine.
    async fn record(&self, id: &str, command: CallCommand, meta: &EventMetadata) -> Result<(), CallsError> {
        match self.store.execute(id, command, meta).await {
            Ok(()) | Err(CommandError::Rejected(_)) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// Looks up an attempt in doubt at Exotel and records what it finds.
    pub async fn look_up(&self, call_id: Uuid) -> Result<LookUp, CallsError> {
        let Some(call) = self.load(call_id).await? else {
            return Ok(LookUp::NotDue);
        };
        let (Some(request), Some(started)) = (call.request.as_deref(), call.dispatch_started_at) else {
            return Ok(LookUp::NotDue);
        };
        let now = Utc::now();
        if call.dispatch != Dispatch::Started || now < started + span(self.timing.in_doubt_after) {
            return Ok(LookUp::NotDue);
        }
        let Ok(account) = exotel_phone_account(request.organisation_id, &self.integrations).await else {
            return Ok(LookUp::NotYetProvable);
        };
        let query = CallQuery {
            created_from: started - Span::seconds(60),
            created_to: started + span(self.timing.in_doubt_after),
            from: vec![request.agent_phone.clone()],
            to: vec![request.customer_phone.clone()],
        };
        let found = match self.voice.find_calls(&account, &query).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%call_id, %error, "looking up a call in doubt failed; trying again later");
                return Ok(LookUp::NotYetProvable);
            }
        };
        let candidates = self.unclaimed(request, call_id, found).await?;
        let meta = meta(request);
        let id = call_id.to_string();
        let mine = candidates
            .iter()
            .find(|c| c.custom_field.as_deref() == Some(id.as_str()));
        let chosen = match (mine, candidates.len()) {
            (Some(info), _) => info,
            (None, 1) => &candidates[0],
            (None, 0) if now >= self.provable_absence(&call, started) => {
                self.record(&id, CallCommand::RecordNotAtProvider { at: now }, &meta)
                    .await?;
                return Ok(LookUp::Absent);
            }
            (None, 0) => return Ok(LookUp::NotYetProvable),
            (None, candidates) => return Ok(LookUp::Ambiguous { candidates }),
        };
        let report = lookup_report(chosen, now);
        self.record(
            &id,
            CallCommand::RecordReport {
                report: Box::new(report),
            },
            &meta,
        )
        .await?;
        Ok(LookUp::Found {
            sid: chosen.sid.clone(),
        })
    }

    /// The calls found that no other call of the organisation's has claimed
    /// and that name no other call in their `CustomField`.
    async fn unclaimed(
        &self,
        request: &CallRequest,
        call_id: Uuid,
        found: Vec<CallInfo>,
    ) -> Result<Vec<CallInfo>, CallsError> {
        let mut kept = Vec::new();
        for info in found {
            let other = info
                .custom_field
                .as_deref()
                .and_then(|c| Uuid::try_parse(c).ok())
                .is_some_and(|named| named != call_id);
            let claimed = self.directory.by_sid(request.organisation_id, &info.sid).await?;
            if !other && claimed.is_none_or(|owner| owner == call_id) {
                kept.push(info);
            }
        }
        Ok(kept)
    }

    /// When a call placed by the attempt started at `started` would have
    /// ended and reached the listing: the request's longest wait, the
    /// ringing, the call's time limit and the settling time.
    fn provable_absence(&self, call: &Call, started: DateTime<Utc>) -> DateTime<Utc> {
        let request = call.request.as_deref();
        let time_limit = request
            .and_then(|r| r.time_limit_secs)
            .unwrap_or(domain::call::MAX_TIME_LIMIT_SECS);
        started
            + span(self.timing.in_doubt_after)
            + Span::seconds(i64::from(self.timing.ring_timeout_secs) + i64::from(time_limit))
            + span(self.timing.settle)
    }

    /// Asks Exotel for a placed call's details and records what it says:
    /// for a call whose callbacks never came, or whose duration, price or
    /// recording have not arrived. A failed look-up is tried again on the
    /// next pass.
    pub async fn reconcile(&self, call_id: Uuid) -> Result<(), CallsError> {
        let Some(call) = self.load(call_id).await? else {
            return Ok(());
        };
        let (Some(request), Some(sid)) = (call.request.as_deref(), call.provider_sid.as_deref()) else {
            return Ok(());
        };
        if !unsettled(&call) {
            return Ok(());
        }
        let Ok(account) = exotel_phone_account(request.organisation_id, &self.integrations).await else {
            return Ok(());
        };
        let info = match self.voice.call_details(&account, sid).await {
            Ok(info) => info,
            Err(error) => {
                tracing::warn!(%call_id, %error, "reconciling a call failed; trying again later");
                return Ok(());
            }
        };
        let command = CallCommand::RecordReport {
            report: Box::new(lookup_report(&info, Utc::now())),
        };
        self.record(&call_id.to_string(), command, &meta(request)).await
    }
}

/// Whether a placed call still lacks its ending, or the duration, price
/// or recording that follow it.
fn unsettled(call: &Call) -> bool {
    let recorded = call.request.as_deref().is_some_and(|r| r.record);
    let answered = call.answered_at.is_some() || call.status == Some(CallStatus::Completed);
    match call.status {
        Some(status) if status.is_terminal() => {
            call.details.duration_secs.is_none()
                || call.details.price_paise.is_none()
                || (recorded && answered && call.details.recording_url.is_none())
        }
        _ => true,
    }
}

fn span(duration: std::time::Duration) -> Span {
    Span::from_std(duration).unwrap_or_else(|_| Span::seconds(i64::MAX / 1_000_000))
}

fn refusal_code(error: &ExotelError) -> Option<u32> {
    match error {
        ExotelError::Refused { code, .. } => code.and_then(|c| u32::try_from(c).ok()),
        _ => None,
    }
}

/// The connect request for a recorded call: the agent dialled first, the
/// call's id as `CustomField`, JSON callbacks on answer and at the end.
pub(super) fn connect_request(
    call_id: Uuid,
    request: &CallRequest,
    callback: String,
    ring_timeout: u32,
) -> ConnectCall {
    ConnectCall {
        from: request.agent_phone.clone(),
        target: CallTarget::Number(request.customer_phone.clone()),
        caller_id: request.caller_id.clone(),
        call_type: Some(
            match request.purpose {
                domain::call::Purpose::Transactional => "trans",
                domain::call::Purpose::Promotional => "promo",
            }
            .into(),
        ),
        time_limit_secs: request.time_limit_secs,
        time_out_secs: Some(ring_timeout),
        record: request.record.then_some(match request.recording_channels {
            2 => RecordingChannels::Dual,
            _ => RecordingChannels::Single,
        }),
        custom_field: Some(call_id.to_string()),
        status_callback: Some(callback),
        callback_events: vec!["answered".into(), "terminal".into()],
        callback_json: true,
        wait_url: None,
    }
}
