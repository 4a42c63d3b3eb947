//! Handing recorded messages to Exotel. Each attempt is claimed on the
//! message just before Exotel is asked, so of any number of dispatchers
//! exactly one asks, and never before the message's time. An attempt whose
//! answer was lost (a time-out, a 5xx, a crash) is never repeated: Exotel
//! lists no SMS by our id, so the message waits for the delivery report
//! that names it (its `CustomField`), and is recorded as unknown if none
//! comes in time.

use chrono::Duration as Span;
use uuid::Uuid;

use domain::OrganisationId;
use domain::integration::{IntegrationKind, IntegrationStatus, integration_id};
use domain::outbound_message::{
    Channel, Dispatch, MessageCommand, MessageContent, MessageRequest, MessageStatus, ProviderRefusal, SmsContent,
};
use domain::sms::SmsEncoding;

use super::meta_content;
use super::report::lookup_report;
use super::{Messages, MessagesError};
use crate::error::CommandError;
use crate::exotel::{ExotelAccount, ExotelError, SendSms, SendWhatsapp, WhatsappMessage, WhatsappOutcome};
use crate::integrations::Integrations;
use crate::metadata::EventMetadata;

/// What one dispatch of a message came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Not waiting to be sent, not yet due, or taken by another
    /// dispatcher: nothing was sent.
    Skipped,
    Submitted {
        sid: String,
    },
    Refused {
        message: String,
    },
    /// Exotel did not act (rate limited, unreachable): waiting again.
    NotSent {
        reason: String,
    },
    /// Exotel may have acted: waiting for a report that names it.
    InDoubt {
        reason: String,
    },
}

fn meta(request: &MessageRequest) -> EventMetadata {
    EventMetadata::system("sms-dispatcher", Some(request.organisation_id))
}

/// What Exotel answered a send.
enum Sent {
    Accepted(String),
    Refused {
        code: Option<i64>,
        message: String,
    },
    /// An answer without the message in it.
    Nothing,
}

/// The organisation's active Exotel SMS account.
pub(super) async fn sms_account(
    organisation_id: OrganisationId,
    integrations: &Integrations<'_>,
) -> Result<(domain::integration::Integration, ExotelAccount), MessagesError> {
    provider_account(organisation_id, IntegrationKind::ExotelSms, integrations).await
}

/// The organisation's active Exotel WhatsApp account.
pub(super) async fn whatsapp_account(
    organisation_id: OrganisationId,
    integrations: &Integrations<'_>,
) -> Result<(domain::integration::Integration, ExotelAccount), MessagesError> {
    provider_account(organisation_id, IntegrationKind::ExotelWhatsapp, integrations).await
}

/// The organisation's active Exotel account of a messaging integration.
pub async fn provider_account(
    organisation_id: OrganisationId,
    kind: IntegrationKind,
    integrations: &Integrations<'_>,
) -> Result<(domain::integration::Integration, ExotelAccount), MessagesError> {
    let missing = || match kind {
        IntegrationKind::ExotelWhatsapp => MessagesError::WhatsappNotConfigured,
        _ => MessagesError::NotConfigured,
    };
    let integration = integrations
        .current(organisation_id, kind)
        .await?
        .filter(|i| i.status == IntegrationStatus::Active)
        .ok_or_else(missing)?;
    let settings = integration.settings.as_deref().ok_or_else(missing)?;
    let secrets = integrations.open_secrets(organisation_id, kind).await?;
    let account = ExotelAccount::of(settings, &secrets).ok_or_else(missing)?;
    Ok((integration, account))
}

fn span(duration: std::time::Duration) -> Span {
    Span::from_std(duration).unwrap_or_else(|_| Span::seconds(i64::MAX / 1_000_000))
}

impl Messages<'_> {
    /// Sends a message waiting to be sent, once.
    pub async fn dispatch(&self, message_id: Uuid) -> Result<Attempt, MessagesError> {
        let Some(message) = self.load(message_id).await? else {
            return Ok(Attempt::Skipped);
        };
        let now = self.clock.now();
        let due = message
            .request
            .as_deref()
            .filter(|r| message.dispatch == Dispatch::Pending && r.not_before.is_none_or(|t| t <= now));
        let Some(request) = due else {
            return Ok(Attempt::Skipped);
        };
        let meta = meta(request);
        let id = message_id.to_string();
        let reachable = match self.reachable(request).await {
            Err(MessagesError::Store(error)) => {
                // A passing fault (the store, the keys) refuses nothing: the
                // message stays queued, unclaimed.
                return Ok(Attempt::NotSent {
                    reason: error.to_string(),
                });
            }
            other => other,
        };
        if let Ok(Ok((account, _))) = &reachable {
            // Wait for the account's rate before the claim, so a claimed
            // attempt is sent at once rather than held in doubt meanwhile.
            match request.content.channel() {
                Channel::Sms => self.provider.sms_capacity(account).await,
                Channel::Whatsapp => self.whatsapp.whatsapp_capacity(account).await,
            }
        }
        let now = self.clock.now();
        match self
            .store
            .execute(&id, MessageCommand::StartDispatch { at: now }, &meta)
            .await
        {
            Ok(()) => {}
            Err(CommandError::Rejected(_)) => return Ok(Attempt::Skipped),
            Err(other) => return Err(other.into()),
        }
        let (account, callback) = match reachable {
            Ok(Ok(found)) => found,
            Err(error) => return Err(error),
            Ok(Err(refusal)) => {
                let message = refusal.message.clone();
                let command = MessageCommand::RecordRefusal {
                    refusal,
                    at: self.clock.now(),
                };
                self.record(&id, command, &meta).await?;
                return Ok(Attempt::Refused { message });
            }
        };
        let (command, attempt) = match self.send(message_id, request, &account, callback).await {
            Ok(Sent::Accepted(sid)) => (
                MessageCommand::RecordSubmitted {
                    provider_sid: sid.clone(),
                    at: self.clock.now(),
                },
                Attempt::Submitted { sid },
            ),
            Ok(Sent::Refused { code, message }) => {
                let refusal = ProviderRefusal {
                    http_status: 202,
                    code,
                    message: message.clone(),
                };
                let command = MessageCommand::RecordRefusal {
                    refusal,
                    at: self.clock.now(),
                };
                (command, Attempt::Refused { message })
            }
            Ok(Sent::Nothing) => return Ok(in_doubt(message_id, "Exotel answered without the message")),
            Err(error) if error.outcome_unknown() || matches!(error, ExotelError::Malformed(_)) => {
                return Ok(in_doubt(message_id, &error.to_string()));
            }
            Err(error @ (ExotelError::RateLimited { .. } | ExotelError::Unreachable(_))) => {
                let reason = error.to_string();
                let command = MessageCommand::RecordNotSent {
                    reason: reason.clone(),
                    at: self.clock.now(),
                };
                (command, Attempt::NotSent { reason })
            }
            Err(error) => {
                let refusal = ProviderRefusal {
                    http_status: error.status_code().unwrap_or(0),
                    code: refusal_code(&error),
                    message: error.exotel_message(),
                };
                let message = refusal.message.clone();
                let command = MessageCommand::RecordRefusal {
                    refusal,
                    at: self.clock.now(),
                };
                (command, Attempt::Refused { message })
            }
        };
        self.record(&id, command, &meta).await?;
        Ok(attempt)
    }

    /// Asks Exotel to send the message, through its channel's API.
    async fn send(
        &self,
        message_id: Uuid,
        request: &MessageRequest,
        account: &ExotelAccount,
        callback: String,
    ) -> Result<Sent, ExotelError> {
        match &request.content {
            MessageContent::Sms(sms) => {
                let send = send_request(message_id, &request.to, sms, callback);
                let answers = self.provider.send_sms(account, &send).await?;
                Ok(answers
                    .into_iter()
                    .next()
                    .map_or(Sent::Nothing, |info| Sent::Accepted(info.sid)))
            }
            MessageContent::Whatsapp(out) => {
                let send = SendWhatsapp {
                    messages: vec![WhatsappMessage {
                        from: out.from.clone(),
                        to: request.to.clone(),
                        content: meta_content(&out.content),
                        custom_data: Some(message_id.to_string()),
                    }],
                    status_callback: Some(callback),
                    custom_data: None,
                };
                let outcomes = self.whatsapp.send_whatsapp(account, &send).await?;
                Ok(match outcomes.into_iter().next() {
                    Some(WhatsappOutcome::Accepted { sid }) => Sent::Accepted(sid),
                    Some(WhatsappOutcome::Refused { code, message }) => Sent::Refused { code, message },
                    None => Sent::Nothing,
                })
            }
        }
    }

    /// The account and callback URL to send with, or why the message
    /// cannot be sent at all.
    /// A missing or disabled integration, or no address Exotel can post reports to,
    /// refuses the message (inner `Err`); a fault of the store or the keys
    /// is a `MessagesError::Store`, and refuses nothing.
    async fn reachable(
        &self,
        request: &MessageRequest,
    ) -> Result<Result<(ExotelAccount, String), ProviderRefusal>, MessagesError> {
        let refusal = |message: String| ProviderRefusal {
            http_status: 0,
            code: None,
            message,
        };
        let (kind, route) = match request.content.channel() {
            Channel::Sms => (IntegrationKind::ExotelSms, "sms"),
            Channel::Whatsapp => (IntegrationKind::ExotelWhatsapp, "whatsapp"),
        };
        let (integration, account) = match provider_account(request.organisation_id, kind, &self.integrations).await {
            Ok(found) => found,
            Err(error @ (MessagesError::NotConfigured | MessagesError::WhatsappNotConfigured)) => {
                return Ok(Err(refusal(error.to_string())));
            }
            Err(other) => return Err(MessagesError::Store(crate::error::StoreError(other.to_string()))),
        };
        let id = integration_id(request.organisation_id, kind);
        Ok(
            match self
                .callbacks
                .webhook(id, integration.callback_generation, &account.base_url, route)
            {
                Some(url) => Ok((account, url)),
                None => Err(refusal(
                    "no public URL is configured for Exotel's status callbacks (SWITCHBOARD_PUBLIC_URL)".into(),
                )),
            },
        )
    }

    /// Records an outcome; a rejection means a report got there first.
    async fn record(&self, id: &str, command: MessageCommand, meta: &EventMetadata) -> Result<(), MessagesError> {
        match self.store.execute(id, command, meta).await {
            Ok(()) | Err(CommandError::Rejected(_)) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// An attempt in doubt for longer than a report takes to come is
    /// recorded as unknown; it is never sent again.
    pub async fn give_up(&self, message_id: Uuid) -> Result<bool, MessagesError> {
        let Some(message) = self.load(message_id).await? else {
            return Ok(false);
        };
        let (Some(request), Some(started)) = (message.request.as_deref(), message.dispatch_started_at) else {
            return Ok(false);
        };
        let now = self.clock.now();
        if message.dispatch != Dispatch::Started || now < started + span(self.timing.report_wait) {
            return Ok(false);
        }
        tracing::warn!(%message_id, "no report named an SMS whose attempt was in doubt; its outcome is unknown");
        self.record(
            &message_id.to_string(),
            MessageCommand::RecordOutcomeUnknown { at: now },
            &meta(request),
        )
        .await?;
        Ok(true)
    }

    /// Asks Exotel for a submitted message's details when its final report
    /// has not come, and records what it says.
    pub async fn reconcile(&self, message_id: Uuid) -> Result<(), MessagesError> {
        let Some(message) = self.load(message_id).await? else {
            return Ok(());
        };
        let (Some(request), Some(sid)) = (message.request.as_deref(), message.provider_sid.as_deref()) else {
            return Ok(());
        };
        let settled = message
            .status
            .is_some_and(|s| s.is_final() || s == MessageStatus::Delivered);
        if settled {
            return Ok(());
        }
        let Ok((_, account)) = sms_account(request.organisation_id, &self.integrations).await else {
            return Ok(());
        };
        let info = match self.provider.sms_details(&account, sid).await {
            Ok(info) => info,
            Err(error) => {
                tracing::warn!(%message_id, %error, "looking up an SMS failed; trying again later");
                return Ok(());
            }
        };
        let command = MessageCommand::RecordReport {
            report: Box::new(lookup_report(&info, self.clock.now())),
        };
        self.record(&message_id.to_string(), command, &meta(request)).await
    }
}

fn in_doubt(message_id: Uuid, reason: &str) -> Attempt {
    tracing::warn!(%message_id, %reason, "SMS attempt in doubt; it is not sent again");
    Attempt::InDoubt {
        reason: reason.to_string(),
    }
}

fn refusal_code(error: &ExotelError) -> Option<i64> {
    match error {
        ExotelError::Refused { code, .. } => *code,
        _ => None,
    }
}

/// The send request of a recorded message: its id as `CustomField`, the
/// DLT fields, the encoding it was counted in.
pub(super) fn send_request(message_id: Uuid, to: &str, sms: &SmsContent, callback: String) -> SendSms {
    SendSms {
        from: sms.sender_id.clone(),
        to: vec![to.to_string()],
        body: sms.body.clone(),
        sms_type: Some(sms.sms_type.exotel().into()),
        dlt_entity_id: sms.dlt_entity_id.clone(),
        dlt_template_id: sms.dlt_template_id.clone(),
        encoding: Some(
            match sms.encoding {
                SmsEncoding::Gsm7 => "plain",
                SmsEncoding::Ucs2 => "unicode",
            }
            .into(),
        ),
        priority: None,
        status_callback: Some(callback),
        custom_field: Some(message_id.to_string()),
    }
}
