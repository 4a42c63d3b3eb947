//! WhatsApp auto-replies: when a customer's message is recorded, the rules
//! of the organisation's WhatsApp integration (keywords, welcome, away, its
//! holidays) decide whether Switchboard answers by itself. The answer is an
//! outbound message like any other, sent by the dispatcher, whose request
//! names the rule that fired.
//!
//! At most one auto-reply goes to a contact per cooldown: the read model's
//! last auto-reply is checked, and the reply's id is derived from the
//! contact and the cooldown period it falls in, so two callbacks racing
//! past the read model still record one reply. A callback delivered again
//! decides again and finds the reply it recorded the first time.

use uuid::Uuid;

use domain::OrganisationId;
use domain::auto_reply::{AutoReplies, DEFAULT_COOLDOWN_MINUTES, Incoming};
use domain::inbound_message::ReceivedMessage;
use domain::integration::settings::{ExotelWhatsapp, IntegrationSettings};
use domain::integration::{IntegrationKind, IntegrationStatus};
use domain::outbound_message::{MessageCommand, MessageContent, MessageError, MessageRequest, WhatsappOut};
use domain::whatsapp::WhatsappContent;

use super::{Messages, MessagesError};
use crate::error::CommandError;
use crate::metadata::EventMetadata;

const AUTO_REPLY_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0014);

/// The id of the one auto-reply `contact` may have in the period `at` falls in.
pub fn auto_reply_id(organisation_id: OrganisationId, contact: &str, at: i64, cooldown_minutes: u32) -> Uuid {
    let period = at.div_euclid(i64::from(cooldown_minutes.max(1)) * 60);
    Uuid::new_v5(
        &AUTO_REPLY_NAMESPACE,
        format!("{organisation_id}/{contact}/{period}").as_bytes(),
    )
}

impl Messages<'_> {
    /// Records the auto-reply to a customer's message when a rule fires;
    /// its id, or `None` when nothing is sent.
    pub(super) async fn auto_reply(
        &self,
        message: &ReceivedMessage,
        meta: &EventMetadata,
    ) -> Result<Option<Uuid>, MessagesError> {
        let organisation_id = message.organisation_id;
        let Some(settings) = self.active_whatsapp(organisation_id).await? else {
            return Ok(None);
        };
        if !settings.auto_reply_enabled {
            return Ok(None);
        }
        let holidays = self
            .organisations
            .load(&organisation_id.to_string())
            .await?
            .map(|l| l.aggregate.holidays)
            .unwrap_or_default();
        let cooldown_minutes = settings.auto_reply_cooldown_minutes.unwrap_or(DEFAULT_COOLDOWN_MINUTES);
        let rules = AutoReplies {
            enabled: settings.auto_reply_enabled,
            welcome: settings.welcome_message.clone(),
            away: settings.auto_reply_message.clone(),
            hours: settings.business_hours.clone(),
            holidays,
            keywords: settings.keyword_rules.clone(),
            cooldown_minutes,
        };
        let first = self
            .inbound_directory
            .first_inbound(organisation_id, "whatsapp", &message.from)
            .await?;
        let last_auto_reply = self.directory.last_auto_reply(organisation_id, &message.from).await?;
        // The reply goes out now: whether the business is open is decided for now.
        let now = self.clock.now();
        let incoming = Incoming {
            text: message.content.text(),
            from: &message.from,
            own_number: &settings.whatsapp_number,
            first_contact: first.is_none_or(|first| first >= message.received_at),
            last_auto_reply,
            at: now,
        };
        let Some((rule, reply)) = rules.decide(&incoming) else {
            return Ok(None);
        };
        let id = auto_reply_id(organisation_id, &message.from, now.timestamp(), cooldown_minutes);
        if self.load(id).await?.is_some() {
            return Ok(None);
        }
        let request = MessageRequest {
            organisation_id,
            requested_by: None,
            to: message.from.clone(),
            customer_id: message.customer_id,
            content: MessageContent::Whatsapp(WhatsappOut {
                from: settings.whatsapp_number.clone(),
                content: WhatsappContent::Text {
                    body: reply,
                    preview_url: false,
                },
            }),
            custom_data: None,
            not_before: None,
            batch_id: None,
            auto_reply: Some(rule),
            thread_id: message.thread_id,
        };
        let command = MessageCommand::Request {
            request: Box::new(request),
            at: now,
        };
        match self.store.execute(&id.to_string(), command, meta).await {
            Ok(()) => Ok(Some(id)),
            // Another callback recorded this period's reply first.
            Err(CommandError::Rejected(MessageError::MessageIdReused)) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// The organisation's active WhatsApp settings.
    pub(super) async fn active_whatsapp(
        &self,
        organisation_id: OrganisationId,
    ) -> Result<Option<ExotelWhatsapp>, MessagesError> {
        let integration = self
            .integrations
            .current(organisation_id, IntegrationKind::ExotelWhatsapp)
            .await?
            .filter(|i| i.status == IntegrationStatus::Active);
        match integration.and_then(|i| i.settings).map(|s| *s) {
            Some(IntegrationSettings::ExotelWhatsapp(settings)) => Ok(Some(settings)),
            _ => Ok(None),
        }
    }
}
