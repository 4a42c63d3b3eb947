//! WhatsApp through Exotel: a free-form message only inside the 24-hour
//! customer-service window the customer's last message opened, WhatsApp's
//! limits checked by the aggregate, the Meta-style content Exotel takes,
//! and the one callback route's two kinds of items: receipts of our
//! messages and the customers' messages.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use domain::OrganisationId;
use domain::customer::phone_customer_id;
use domain::inbound_message::InboundContent;
use domain::integration::IntegrationKind;
use domain::integration::settings::phone_number;
use domain::outbound_message::{
    Channel, MessageCommand, MessageContent, MessageError, MessageReport, MessageRequest, MessageStatus,
    OutboundMessage, ReportSource, WhatsappOut,
};
use domain::whatsapp::{
    Interactive, Media, MediaKind, TemplateHeaderValue, TemplateMessage, WhatsappContent, WhatsappRule,
};

use super::incoming::Incoming;
use super::{MAX_CUSTOM_DATA_BYTES, Messages, MessagesError, invalid};
use crate::calls::Callback;
use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;
use crate::policy;
use crate::store::execute_on;
use crate::users::Acting;

/// How long a customer's message keeps the free-form window open.
pub const SERVICE_WINDOW_HOURS: i64 = 24;

/// A customer's message as the read model lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundSummary {
    pub message_id: Uuid,
    pub channel: String,
    pub from: String,
    pub to: String,
    pub profile_name: Option<String>,
    /// `text`, `media`, `location`, `button_reply`, `list_reply` or `other`.
    pub kind: String,
    /// The text, caption or reply title.
    pub text: Option<String>,
    pub context_sid: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// What the inbound messages' read model answers.
#[async_trait]
pub trait InboundDirectory: Send + Sync {
    /// When `contact` last wrote to the organisation on `channel`.
    async fn last_inbound(
        &self,
        organisation_id: OrganisationId,
        channel: &str,
        contact: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// When `contact` first wrote to the organisation on `channel`.
    async fn first_inbound(
        &self,
        organisation_id: OrganisationId,
        channel: &str,
        contact: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// The organisation's received messages, newest first.
    async fn list(
        &self,
        organisation_id: OrganisationId,
        contact: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<InboundSummary>, StoreError>;
}

/// What a media URL says of its file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaFacts {
    pub content_type: Option<String>,
    pub length: Option<u64>,
}

/// Asks a media URL for its type and length, under the outbound address rule.
#[async_trait]
pub trait MediaProbe: Send + Sync {
    /// The facts, or why the URL could not be asked (refused by the address
    /// rule, unreachable, or answering an error).
    async fn probe(&self, url: &str) -> Result<MediaFacts, String>;
}

/// A WhatsApp message as the caller gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatsappInput {
    /// The caller's idempotency: the same id and message again is the same message.
    pub message_id: Uuid,
    pub to: String,
    pub content: WhatsappContent,
    pub custom_data: Option<String>,
    /// The thread it goes on (a thread's own route gives it); by default
    /// the customer's open thread, or a new one.
    pub thread_id: Option<Uuid>,
}

/// One item of Exotel's WhatsApp callback envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum WhatsappItem {
    /// A receipt of one of our messages.
    Receipt {
        sid: String,
        exo_status_code: Option<i64>,
        exo_detailed_status: Option<String>,
        description: Option<String>,
        /// Our message id, as sent.
        custom_data: Option<String>,
        /// A digest of the item, identifying it.
        digest: String,
    },
    /// A customer's message.
    Incoming {
        sid: String,
        from: String,
        to: String,
        profile_name: Option<String>,
        content: InboundContent,
        context_sid: Option<String>,
        /// When the customer sent it, as the callback says.
        sent_at: Option<DateTime<Utc>>,
    },
}

impl Messages<'_> {
    /// Records a WhatsApp message and returns it as recorded.
    pub async fn request_whatsapp(
        &self,
        acting: &Acting,
        input: WhatsappInput,
        meta: &EventMetadata,
    ) -> Result<OutboundMessage, MessagesError> {
        let organisation_id = acting.organisation_id;
        let existing = self.load(input.message_id).await?;
        if existing.as_ref().is_some_and(|m| !m.is_in(organisation_id)) {
            return Err(MessagesError::Command(CommandError::Rejected(
                MessageError::MessageIdReused,
            )));
        }
        // A retry of a recorded message is answered as recorded: the window
        // and the media were checked when it was asked for.
        let replay = existing.is_some();
        let to = phone_number("to", &input.to)?;
        if input
            .custom_data
            .as_ref()
            .is_some_and(|d| d.len() > MAX_CUSTOM_DATA_BYTES)
        {
            return Err(invalid(
                "custom_data",
                format!("custom_data may be at most {MAX_CUSTOM_DATA_BYTES} bytes"),
            ));
        }
        self.permit_whatsapp(acting).await?;
        let from = self.whatsapp_number(organisation_id).await?;
        input
            .content
            .check()
            .map_err(|rule| invalid(rule.field(), rule.to_string()))?;
        let now = self.clock.now();
        if !replay {
            self.check_whatsapp(organisation_id, &to, &input.content, now).await?;
        }
        let customer_id = phone_customer_id(organisation_id, &to);
        let thread_id = match existing.as_ref().and_then(|m| m.request.as_deref()) {
            Some(kept) => kept.thread_id,
            None => Some(
                self.threads
                    .for_outbound(organisation_id, customer_id, input.thread_id, input.message_id)
                    .await?,
            ),
        };
        let request = MessageRequest {
            organisation_id,
            requested_by: acting.user_id,
            customer_id: Some(customer_id),
            to,
            content: MessageContent::Whatsapp(WhatsappOut {
                from,
                content: input.content,
            }),
            custom_data: input.custom_data,
            not_before: None,
            batch_id: None,
            auto_reply: None,
            thread_id,
        };
        let command = MessageCommand::Request {
            request: Box::new(request),
            at: now,
        };
        self.store.execute(&input.message_id.to_string(), command, meta).await?;
        self.get(organisation_id, input.message_id).await
    }

    /// What only a new message is checked for: a template against the one
    /// synced (it may go outside the window), anything else against the
    /// customer-service window; the file behind a media URL.
    async fn check_whatsapp(
        &self,
        organisation_id: OrganisationId,
        to: &str,
        content: &WhatsappContent,
        now: DateTime<Utc>,
    ) -> Result<(), MessagesError> {
        if let WhatsappContent::Template(template) = content {
            self.check_template(organisation_id, template).await?;
        } else {
            let last = self
                .inbound_directory
                .last_inbound(organisation_id, "whatsapp", to)
                .await?;
            if last.is_none_or(|at| at <= now - Duration::hours(SERVICE_WINDOW_HOURS)) {
                return Err(MessagesError::WindowClosed(to.to_string()));
            }
        }
        let media = match content {
            WhatsappContent::Media(media) => Some(media.clone()),
            WhatsappContent::Template(TemplateMessage {
                header: Some(TemplateHeaderValue::Media { kind, url, filename }),
                ..
            }) => Some(Media {
                kind: *kind,
                url: url.clone(),
                caption: None,
                filename: filename.clone(),
            }),
            _ => None,
        };
        match media {
            Some(media) => self.check_media_file(&media).await,
            None => Ok(()),
        }
    }

    /// The file behind a media URL is of a type and size WhatsApp takes.
    async fn check_media_file(&self, media: &Media) -> Result<(), MessagesError> {
        let refuse = |rule: WhatsappRule, detail: Option<String>| {
            let reason = match detail {
                Some(detail) => format!("{rule}: {detail}"),
                None => rule.to_string(),
            };
            invalid(rule.field(), reason)
        };
        let facts = self
            .media_probe
            .probe(&media.url)
            .await
            .map_err(|detail| refuse(WhatsappRule::MediaUnreachable, Some(detail)))?;
        media
            .kind
            .check_file(facts.content_type.as_deref(), facts.length)
            .map_err(|rule| {
                let said = format!(
                    "the URL answered {} of {} bytes",
                    facts.content_type.as_deref().unwrap_or("no type"),
                    facts.length.map_or("unknown".to_string(), |l| l.to_string())
                );
                refuse(rule, Some(said))
            })
    }

    async fn permit_whatsapp(&self, acting: &Acting) -> Result<(), MessagesError> {
        if acting.role == domain::Role::Admin {
            return Ok(());
        }
        let grant = self.access.grant(acting, IntegrationKind::ExotelWhatsapp).await?;
        let used = match (grant.is_some_and(|g| g.daily_limit.is_some()), acting.user_id) {
            (true, Some(user_id)) => {
                let now = self.clock.now();
                let since = now.date_naive().and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc());
                self.directory
                    .requested_since(acting.organisation_id, user_id, "whatsapp", since)
                    .await?
            }
            _ => 0,
        };
        Ok(policy::may_use(acting.role, grant, used)?)
    }

    /// The organisation's active WhatsApp number.
    async fn whatsapp_number(&self, organisation_id: OrganisationId) -> Result<String, MessagesError> {
        let settings = self.active_whatsapp(organisation_id).await?;
        settings
            .map(|s| s.whatsapp_number)
            .ok_or(MessagesError::WhatsappNotConfigured)
    }

    /// Records each item of a callback: receipts on the messages they name,
    /// customers' messages once each. What each item came to, in order.
    pub async fn record_whatsapp_callback(
        &self,
        organisation_id: OrganisationId,
        items: Vec<WhatsappItem>,
        meta: &EventMetadata,
    ) -> Result<Vec<Callback>, MessagesError> {
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            let outcome = match item {
                WhatsappItem::Receipt {
                    sid,
                    exo_status_code,
                    exo_detailed_status,
                    description,
                    custom_data,
                    digest,
                } => {
                    let report = MessageReport {
                        report_id: digest,
                        source: ReportSource::Callback,
                        provider_sid: Some(sid.clone()),
                        status: MessageStatus::from_whatsapp(exo_status_code, exo_detailed_status.as_deref()),
                        provider_status: exo_detailed_status.clone(),
                        detailed_code: exo_status_code,
                        detailed_status: exo_detailed_status.or(description),
                        units: None,
                        price_paise: None,
                        received_at: self.clock.now(),
                    };
                    self.record_report(organisation_id, custom_data.as_deref(), &sid, report, meta)
                        .await?
                }
                WhatsappItem::Incoming {
                    sid,
                    from,
                    to,
                    profile_name,
                    content,
                    context_sid,
                    sent_at,
                } => {
                    let incoming = Incoming {
                        channel: Channel::Whatsapp,
                        sid,
                        from,
                        to,
                        profile_name,
                        content,
                        context_sid,
                        sent_at,
                    };
                    let (id, message) = self.receive(organisation_id, incoming, meta).await?;
                    self.auto_reply(&message, meta).await?;
                    Callback::Recorded(id)
                }
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// Records a report on the message it names (by our id, else by the
    /// provider's sid).
    pub(super) async fn record_report(
        &self,
        organisation_id: OrganisationId,
        named: Option<&str>,
        sid: &str,
        report: MessageReport,
        meta: &EventMetadata,
    ) -> Result<Callback, MessagesError> {
        let named = named.and_then(|c| Uuid::try_parse(c.trim()).ok());
        // The message our id names, as loaded: the command decides on it.
        let mut found = None;
        if let Some(named) = named
            && let Some(loaded) = self.store.load(&named.to_string()).await?
            && super::seen_by(&loaded.aggregate, organisation_id)
        {
            found = Some((named, Some(loaded)));
        }
        if found.is_none() {
            found = self.directory.by_sid(organisation_id, sid).await?.map(|id| (id, None));
        }
        let Some((message_id, loaded)) = found else {
            return Ok(Callback::Unmatched);
        };
        let command = MessageCommand::RecordReport {
            report: Box::new(report),
        };
        let id = message_id.to_string();
        let outcome = match loaded {
            Some(loaded) => execute_on(self.store, &id, loaded, command, meta).await.map(drop),
            None => self.store.execute(&id, command, meta).await,
        };
        match outcome {
            Ok(()) => Ok(Callback::Recorded(message_id)),
            Err(CommandError::Rejected(MessageError::SidMismatch)) => Ok(Callback::Unmatched),
            Err(other) => Err(other.into()),
        }
    }

    /// The organisation's received messages.
    pub async fn inbound(
        &self,
        organisation_id: OrganisationId,
        contact: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<InboundSummary>, MessagesError> {
        Ok(self
            .inbound_directory
            .list(organisation_id, contact, limit, offset)
            .await?)
    }
}

/// The content as Exotel takes it: Meta's Cloud API shapes.
pub fn meta_content(content: &WhatsappContent) -> Value {
    match content {
        WhatsappContent::Text { body, preview_url } => {
            json!({"recipient_type": "individual", "type": "text", "text": {"preview_url": preview_url, "body": body}})
        }
        WhatsappContent::Media(media) => {
            let kind = media_word(media.kind);
            let mut object = json!({"link": media.url});
            if let Some(caption) = &media.caption {
                object["caption"] = json!(caption);
            }
            if let Some(filename) = &media.filename {
                object["filename"] = json!(filename);
            }
            json!({"type": kind, kind: object})
        }
        WhatsappContent::Location(location) => json!({"type": "location", "location": {
            "latitude": location.latitude, "longitude": location.longitude,
            "name": location.name, "address": location.address}}),
        WhatsappContent::Interactive(interactive) => {
            json!({"type": "interactive", "interactive": interactive_json(interactive)})
        }
        WhatsappContent::Template(template) => json!({"type": "template", "template": template_json(template)}),
    }
}

fn media_word(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Document => "document",
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
        MediaKind::Sticker => "sticker",
    }
}

/// A template message as Exotel takes it (name plus language object, lower-case
/// component types: `header`, `body`, and one `button` per value by index).
fn template_json(template: &TemplateMessage) -> Value {
    let mut components = Vec::new();
    match &template.header {
        Some(TemplateHeaderValue::Text { text }) => {
            components.push(json!({"type": "header", "parameters": [{"type": "text", "text": text}]}));
        }
        Some(TemplateHeaderValue::Media { kind, url, filename }) => {
            let word = media_word(*kind);
            let mut object = json!({"link": url});
            if let Some(filename) = filename {
                object["filename"] = json!(filename);
            }
            components.push(json!({"type": "header", "parameters": [{"type": word, word: object}]}));
        }
        None => {}
    }
    if !template.body.is_empty() {
        let parameters: Vec<Value> = template
            .body
            .iter()
            .map(|v| json!({"type": "text", "text": v}))
            .collect();
        components.push(json!({"type": "body", "parameters": parameters}));
    }
    for button in &template.buttons {
        components.push(
            json!({"type": "button", "sub_type": "url", "index": button.index.to_string(),
            "parameters": [{"type": "text", "text": button.text}]}),
        );
    }
    json!({"name": template.name, "language": {"code": template.language}, "components": components})
}

fn frame(body: &str, header: &Option<String>, footer: &Option<String>) -> Value {
    let mut frame = json!({"body": {"text": body}});
    if let Some(header) = header {
        frame["header"] = json!({"type": "text", "text": header});
    }
    if let Some(footer) = footer {
        frame["footer"] = json!({"text": footer});
    }
    frame
}

fn interactive_json(interactive: &Interactive) -> Value {
    match interactive {
        Interactive::Buttons {
            body,
            header,
            footer,
            buttons,
        } => {
            let mut value = frame(body, header, footer);
            value["type"] = json!("button");
            let buttons: Vec<Value> = buttons
                .iter()
                .map(|b| json!({"type": "reply", "reply": {"id": b.id, "title": b.title}}))
                .collect();
            value["action"] = json!({ "buttons": buttons });
            value
        }
        Interactive::List {
            body,
            header,
            footer,
            button,
            sections,
        } => {
            let mut value = frame(body, header, footer);
            value["type"] = json!("list");
            let sections: Vec<Value> = sections
                .iter()
                .map(|s| {
                    let rows: Vec<Value> = s
                        .rows
                        .iter()
                        .map(|r| json!({"id": r.id, "title": r.title, "description": r.description}))
                        .collect();
                    json!({"title": s.title, "rows": rows})
                })
                .collect();
            value["action"] = json!({"button": button, "sections": sections});
            value
        }
    }
}
