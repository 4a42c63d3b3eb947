//! Messages through Exotel: SMS under India's DLT rules (the request that
//! checks every rule and records one message per recipient, and the
//! organisation's DLT templates) and WhatsApp inside its customer-service
//! window; the dispatcher that hands each recorded message to Exotel once
//! (and never before its time); the delivery reports; customers' messages.

mod auto_reply;
mod dispatch;
mod dnd;
mod incoming;
mod media;
mod report;
mod request;
mod templates;
mod whatsapp;
mod whatsapp_templates;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;
use uuid::Uuid;

use domain::OrganisationId;
use domain::integration::settings::SettingsError;
use domain::outbound_message::{MessageError, MessageStatus, OutboundMessage};
use domain::sms_template::{SmsTemplate, SmsTemplateError};

use crate::access::IntegrationAccess;
use crate::calls::CallbackUrls;
use crate::clock::Clock;
use crate::error::{CommandError, StoreError};
use crate::exotel::{ExotelNumbers, ExotelSms};
use crate::integrations::{Integrations, IntegrationsError};
use crate::policy::Denied;
use crate::store::AggregateStore;

pub use auto_reply::auto_reply_id;
pub use dispatch::{Attempt, provider_account};
pub use dnd::DndCache;
pub use incoming::{Incoming, IncomingSms};
pub use media::{Fetched, InboundMedia, KeptMedia, MAX_MEDIA_BYTES, MediaDownloader, MediaFiles, PendingMedia};
pub use report::{SmsCallback, callback_report};
pub use request::{SmsInput, message_id};
pub use templates::{SmsTemplateInput, SmsTemplateSummary};
pub use whatsapp::{
    InboundDirectory, InboundSummary, MediaFacts, MediaProbe, SERVICE_WINDOW_HOURS, WhatsappInput, WhatsappItem,
    meta_content,
};
pub use whatsapp_templates::{MAX_SYNC_PAGES, TemplateSync, WhatsappTemplateDirectory, WhatsappTemplateSummary};

/// Most recipients of one request (Exotel's own limit for one send).
pub const MAX_RECIPIENTS: usize = 100;
/// Longest `custom_data` kept with a message, in bytes.
pub const MAX_CUSTOM_DATA_BYTES: usize = 2_000;

/// Where a page of messages ends: the last one's request time and id.
pub type MessageCursor = (DateTime<Utc>, Uuid);

/// A message as the read model lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageSummary {
    pub message_id: Uuid,
    pub channel: String,
    pub to: String,
    pub status: String,
    pub dispatch: String,
    pub provider_sid: Option<String>,
    pub sender_id: Option<String>,
    pub sms_type: Option<String>,
    pub segments: Option<i64>,
    pub requested_by: Option<Uuid>,
    pub requested_at: DateTime<Utc>,
    pub not_before: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub failure_code: Option<i64>,
    pub batch_id: Option<Uuid>,
}

/// Which of the organisation's messages to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageFilter {
    pub channel: Option<String>,
    pub status: Option<MessageStatus>,
    /// E.164.
    pub to: Option<String>,
    pub batch_id: Option<Uuid>,
}

/// What the messages' read model answers.
#[async_trait]
pub trait MessageDirectory: Send + Sync {
    /// A page of the organisation's messages, newest first, after the cursor.
    async fn list(
        &self,
        organisation_id: OrganisationId,
        filter: &MessageFilter,
        after: Option<MessageCursor>,
        limit: u32,
    ) -> Result<Vec<MessageSummary>, StoreError>;
    /// Messages of a channel a user asked for since `since` (the daily limit).
    async fn requested_since(
        &self,
        organisation_id: OrganisationId,
        user_id: Uuid,
        channel: &str,
        since: DateTime<Utc>,
    ) -> Result<u32, StoreError>;
    /// The oldest `limit` messages waiting to be sent whose time has come
    /// by `now`, oldest request first, with their organisations; promotional
    /// SMS only when `promotional` (within promotional hours).
    async fn due(
        &self,
        now: DateTime<Utc>,
        promotional: bool,
        limit: u32,
    ) -> Result<Vec<(Uuid, OrganisationId)>, StoreError>;
    /// Messages whose latest attempt started before `before` with no outcome.
    async fn in_doubt(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<Uuid>, StoreError>;
    /// Messages handed to the provider between the two times with no final report.
    async fn unreported(&self, between: (DateTime<Utc>, DateTime<Utc>), limit: u32) -> Result<Vec<Uuid>, StoreError>;
    /// The organisation's message the provider knows by `sid`.
    async fn by_sid(&self, organisation_id: OrganisationId, sid: &str) -> Result<Option<Uuid>, StoreError>;
    /// When `to` last had an auto-reply from the organisation.
    async fn last_auto_reply(
        &self,
        organisation_id: OrganisationId,
        to: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
}

/// What the DLT templates' read model answers.
#[async_trait]
pub trait SmsTemplateDirectory: Send + Sync {
    /// Every registered template of the organisation, by DLT id.
    async fn list(&self, organisation_id: OrganisationId) -> Result<Vec<SmsTemplateSummary>, StoreError>;
}

/// How long the SMS dispatcher waits on an attempt whose answer was lost.
#[derive(Debug, Clone, Copy)]
pub struct MessageTiming {
    /// Longer than any request to Exotel can take.
    pub in_doubt_after: Duration,
    /// How long a delivery report naming a message in doubt is waited for
    /// before its outcome is recorded as unknown (it is never sent again).
    pub report_wait: Duration,
    /// How long after submission a message without a final report is
    /// looked up at Exotel.
    pub look_up_after: Duration,
}

impl Default for MessageTiming {
    fn default() -> Self {
        Self {
            in_doubt_after: Duration::from_secs(60),
            report_wait: Duration::from_secs(6 * 3600),
            look_up_after: Duration::from_secs(15 * 60),
        }
    }
}

/// Why an SMS use case failed. The API's status for each is given.
#[derive(Debug, thiserror::Error)]
pub enum MessagesError {
    /// 409: no Exotel SMS integration, or it is disabled.
    #[error("Exotel SMS is not configured or is disabled")]
    NotConfigured,
    /// 403.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// 422, naming the field.
    #[error(transparent)]
    Invalid(#[from] SettingsError),
    /// 422 on `body`: the body does not follow its DLT template.
    #[error(
        "the body does not match DLT template {template_id}: its first {position} characters follow the template and the next does not{}",
        expected.as_deref().map(|e| format!(" (the template has \"{e}\" there)")).unwrap_or_else(|| " (the template ends there)".into())
    )]
    TemplateMismatch {
        template_id: String,
        position: usize,
        expected: Option<String>,
    },
    /// 422 on `customer_phone`-like field `to`: a promotional SMS to a
    /// number on the DND registry.
    #[error("{0} is on India's Do-Not-Disturb registry: a promotional SMS may not reach it")]
    RecipientOnDnd(String),
    /// 409: no Exotel WhatsApp integration, or it is disabled.
    #[error("Exotel WhatsApp is not configured or is disabled")]
    WhatsappNotConfigured,
    /// 422 on `to`: outside the 24-hour customer-service window only
    /// approved templates may be sent.
    #[error(
        "{0} has not written in the last 24 hours: outside WhatsApp's customer-service window only an approved template may be sent"
    )]
    WindowClosed(String),
    /// 502: Exotel failed or could not be reached.
    #[error(transparent)]
    Exotel(#[from] crate::exotel::ExotelError),
    #[error(transparent)]
    Integration(#[from] IntegrationsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError<MessageError>),
    #[error(transparent)]
    Template(#[from] CommandError<SmsTemplateError>),
    /// 422 on `content.name`: no template of that name and language was
    /// synced from the provider (or it was removed there).
    #[error(
        "no WhatsApp template {name} in language {language} is known: sync the templates, or check the name and language"
    )]
    UnknownTemplate { name: String, language: String },
    /// 422 naming the field: the message is not what its synced template
    /// takes, or the template is not approved.
    #[error(transparent)]
    TemplateRule(#[from] domain::whatsapp_template::TemplateRule),
    /// 404: the provider no longer has the customer's media file.
    #[error("the provider no longer has this media file")]
    MediaUnavailable,
    #[error(transparent)]
    WhatsappTemplate(#[from] CommandError<domain::whatsapp_template::WhatsappTemplateError>),
}

/// A 422 naming the field at fault.
pub(super) fn invalid(field: &str, reason: impl Into<String>) -> MessagesError {
    MessagesError::Invalid(SettingsError {
        field: field.into(),
        reason: reason.into(),
    })
}

impl From<crate::access::AccessError> for MessagesError {
    fn from(error: crate::access::AccessError) -> Self {
        use crate::access::AccessError as A;
        match error {
            A::Denied(denied) => Self::Denied(denied),
            A::Store(e) => Self::Store(e),
            A::UnknownUser => Self::Denied(Denied::NotGranted),
            A::Command(CommandError::Store(e)) => Self::Store(StoreError(e)),
            A::Command(_) => Self::Store(StoreError("a permission could not be read".into())),
        }
    }
}

/// The stores and ports SMS needs.
pub struct Messages<'a> {
    pub store: &'a dyn AggregateStore<OutboundMessage>,
    pub templates: &'a dyn AggregateStore<SmsTemplate>,
    pub whatsapp_templates: &'a dyn AggregateStore<domain::whatsapp_template::WhatsappTemplate>,
    pub whatsapp_template_directory: &'a dyn WhatsappTemplateDirectory,
    /// The customers numbers are linked to.
    pub customers: &'a dyn AggregateStore<domain::customer::Customer>,
    /// The organisations, for their holidays.
    pub organisations: &'a dyn AggregateStore<domain::organisation::Organisation>,
    pub access: IntegrationAccess<'a>,
    pub integrations: Integrations<'a>,
    pub provider: &'a dyn ExotelSms,
    pub whatsapp: &'a dyn crate::exotel::ExotelWhatsapp,
    pub inbound: &'a dyn AggregateStore<domain::inbound_message::InboundMessage>,
    pub inbound_directory: &'a dyn InboundDirectory,
    /// Asks media URLs for their type and size before a message is recorded.
    pub media_probe: &'a dyn MediaProbe,
    /// DND standing of recipients, for promotional SMS.
    pub numbers_api: &'a dyn ExotelNumbers,
    pub dnd: &'a DndCache,
    pub directory: &'a dyn MessageDirectory,
    pub template_directory: &'a dyn SmsTemplateDirectory,
    pub callbacks: &'a dyn CallbackUrls,
    pub clock: &'a dyn Clock,
    pub timing: MessageTiming,
    /// Where messages go on threads.
    pub threads: crate::threads::ThreadLinks<'a>,
}

/// The message, if it was ever requested (a command refused before its
/// first event leaves the empty aggregate).
fn recorded(message: OutboundMessage) -> Option<OutboundMessage> {
    (message.dispatch != domain::outbound_message::Dispatch::None).then_some(message)
}

/// Whether `organisation_id` may see the message: it was requested, and by
/// this organisation.
fn seen_by(message: &OutboundMessage, organisation_id: OrganisationId) -> bool {
    message.dispatch != domain::outbound_message::Dispatch::None && message.is_in(organisation_id)
}

/// The message as `organisation_id` may see it.
fn visible(
    message: Option<OutboundMessage>,
    organisation_id: OrganisationId,
) -> Result<OutboundMessage, MessagesError> {
    message
        .filter(|m| seen_by(m, organisation_id))
        .ok_or(MessagesError::Command(CommandError::Rejected(MessageError::NotFound)))
}

impl Messages<'_> {
    /// The organisation's message, or `NotFound`.
    pub async fn get(
        &self,
        organisation_id: OrganisationId,
        message_id: Uuid,
    ) -> Result<OutboundMessage, MessagesError> {
        visible(self.load(message_id).await?, organisation_id)
    }

    async fn load(&self, message_id: Uuid) -> Result<Option<OutboundMessage>, MessagesError> {
        let loaded = self.store.load(&message_id.to_string()).await?;
        Ok(loaded.and_then(|l| recorded(l.aggregate)))
    }

    /// A page of the organisation's messages.
    pub async fn list(
        &self,
        organisation_id: OrganisationId,
        filter: &MessageFilter,
        after: Option<MessageCursor>,
        limit: u32,
    ) -> Result<Vec<MessageSummary>, MessagesError> {
        Ok(self.directory.list(organisation_id, filter, after, limit).await?)
    }
}

#[cfg(test)]
mod tests;
