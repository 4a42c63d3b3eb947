//! What an event does to a thread: a new item on its timeline, a later
//! status of an item, or something an agent did to the thread. The threads
//! view and realtime push both read events through [`effect_of`], so what
//! a client is told is what the view records.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use application::feed::StoredEvent;
use domain::call::{CallEvent, CallRequest, CallStatus};
use domain::email_thread::new_thread_id;
use domain::inbound_email::{InboundEmailEvent, ReceivedEmail};
use domain::inbound_message::{InboundContent, InboundMessageEvent, ReceivedMessage};
use domain::outbound_email::{OutboundEmailEvent, SendIntent};
use domain::outbound_message::{MessageContent, MessageEvent, MessageRequest};
use domain::thread::ThreadEvent;
use domain::whatsapp::WhatsappContent;

use crate::calls::word;
use crate::{ProjectionError, decode};

/// Longest preview kept of a message's text.
pub const PREVIEW_CHARS: usize = 160;

/// The aggregate types whose events can touch a thread.
pub const TYPES: &[&str] = &[
    "inbound_email",
    "outbound_email",
    "inbound_message",
    "outbound_message",
    "call",
    "thread",
];

/// A new item of a thread's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub item_id: Uuid,
    pub thread_id: Uuid,
    pub organisation_id: Uuid,
    /// The customer it was with, as first seen.
    pub customer_id: Option<Uuid>,
    /// `email`, `sms`, `whatsapp` or `call`.
    pub channel: &'static str,
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    pub status: String,
    pub preview: Option<String>,
    /// The customer's address or number.
    pub counterpart: Option<String>,
    /// An e-mail's subject: a thread's subject is its first.
    pub subject: Option<String>,
    pub detail: Value,
    pub at: DateTime<Utc>,
}

/// What one event does.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Item(Box<Item>),
    /// A later status of the item with this id (its thread is the item's).
    Status {
        item_id: Uuid,
        status: String,
        at: DateTime<Utc>,
    },
    Thread(ThreadEvent),
}

/// The effect of `event` on a thread, if it has one.
pub fn effect_of(event: &StoredEvent) -> Result<Option<Effect>, ProjectionError> {
    let item_id = || Uuid::parse_str(&event.aggregate_id).ok();
    Ok(match event.aggregate_type.as_str() {
        "inbound_email" => match decode::<InboundEmailEvent>(event)? {
            InboundEmailEvent::EmailReceived(email) => Some(email_in(*email)),
            InboundEmailEvent::EmailRejected(_) => None,
        },
        "outbound_email" => {
            let Some(id) = item_id() else { return Ok(None) };
            match decode::<OutboundEmailEvent>(event)? {
                OutboundEmailEvent::EmailSendRequested { intent, at } => Some(email_out(*intent, at)),
                OutboundEmailEvent::EmailAccepted { at, .. } => Some(status(id, "sent", at)),
                OutboundEmailEvent::EmailSendFailed { at, .. } => Some(status(id, "failed", at)),
                _ => None,
            }
        }
        "inbound_message" => match decode::<InboundMessageEvent>(event)? {
            InboundMessageEvent::InboundMessageReceived { message } => item_id().map(|id| message_in(id, *message)),
            _ => None,
        },
        "outbound_message" => {
            let Some(id) = item_id() else { return Ok(None) };
            match decode::<MessageEvent>(event)? {
                MessageEvent::MessageRequested { request, at } => Some(message_out(id, *request, at)),
                MessageEvent::MessageSubmitted { at, .. } => Some(status(id, "submitted", at)),
                MessageEvent::MessageRefused { at, .. } => Some(status(id, "refused", at)),
                MessageEvent::MessageProgressed { status: s, at, .. } => Some(status(id, &word(s), at)),
                _ => None,
            }
        }
        "call" => {
            let Some(id) = item_id() else { return Ok(None) };
            match decode::<CallEvent>(event)? {
                CallEvent::CallRequested { request, at } => call(id, *request, at),
                CallEvent::CallRefused { at, .. } => Some(status(id, "refused", at)),
                CallEvent::CallProgressed { status: s, at } => Some(status(id, &call_status(s), at)),
                _ => None,
            }
        }
        "thread" => Some(Effect::Thread(decode::<ThreadEvent>(event)?)),
        _ => None,
    })
}

fn status(item_id: Uuid, status: &str, at: DateTime<Utc>) -> Effect {
    Effect::Status {
        item_id,
        status: status.to_string(),
        at,
    }
}

fn call_status(status: CallStatus) -> String {
    word(status)
}

/// At most [`PREVIEW_CHARS`] of a text, whitespace collapsed; `None` when blank.
pub fn preview(text: Option<&str>) -> Option<String> {
    let words: Vec<&str> = text?.split_whitespace().collect();
    let joined: String = words.join(" ").chars().take(PREVIEW_CHARS).collect();
    (!joined.is_empty()).then_some(joined)
}

fn email_in(email: ReceivedEmail) -> Effect {
    let at = email.date.map_or(email.received_at, |d| d.min(email.received_at));
    let text = email.bodies.text.as_deref().or(email.subject.as_deref());
    Effect::Item(Box::new(Item {
        item_id: email.email_id,
        thread_id: email.thread_id,
        organisation_id: email.organisation_id,
        customer_id: email.customer_id,
        channel: "email",
        direction: "inbound",
        status: "received".into(),
        preview: preview(text),
        counterpart: email.from.as_ref().map(|f| f.address.clone()),
        subject: email.subject.clone(),
        detail: json!({
            "account_id": email.account_id,
            "message_id": email.message_id,
            "subject": email.subject,
            "from": email.from.as_ref().map(|f| json!({"name": f.name, "address": f.address})),
        }),
        at,
    }))
}

fn email_out(intent: SendIntent, at: DateTime<Utc>) -> Effect {
    let organisation_id = intent.organisation_id;
    let content = &intent.message.content;
    let first = content.to.first();
    Effect::Item(Box::new(Item {
        item_id: intent.intent_id,
        thread_id: content.thread_id.unwrap_or(intent.intent_id),
        organisation_id,
        customer_id: first.map(|to| domain::customer::customer_id(organisation_id, to)),
        channel: "email",
        direction: "outbound",
        status: "requested".into(),
        preview: preview(content.text.as_deref().or(Some(&content.subject))),
        counterpart: first.map(ToString::to_string),
        subject: Some(content.subject.clone()),
        detail: json!({
            "account_id": intent.account_id,
            "message_id": intent.message.message_id,
            "subject": content.subject,
            "to": content.to.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
        at,
    }))
}

fn message_in(item_id: Uuid, message: ReceivedMessage) -> Effect {
    let channel = match message.channel {
        domain::outbound_message::Channel::Sms => "sms",
        domain::outbound_message::Channel::Whatsapp => "whatsapp",
    };
    let kind = match &message.content {
        InboundContent::Text { .. } => "text",
        InboundContent::Media { .. } => "media",
        InboundContent::Location { .. } => "location",
        InboundContent::ButtonReply { .. } => "button_reply",
        InboundContent::ListReply { .. } => "list_reply",
        InboundContent::Other { .. } => "other",
    };
    Effect::Item(Box::new(Item {
        item_id,
        thread_id: message.thread_id.unwrap_or_else(|| new_thread_id(item_id)),
        organisation_id: message.organisation_id,
        customer_id: message.customer_id,
        channel,
        direction: "inbound",
        status: "received".into(),
        preview: preview(message.content.text()),
        counterpart: Some(message.from.clone()),
        subject: None,
        detail: json!({
            "kind": kind,
            "to": message.to,
            "profile_name": message.profile_name,
            "content": message.content,
        }),
        at: message.received_at,
    }))
}

fn message_out(item_id: Uuid, request: MessageRequest, at: DateTime<Utc>) -> Effect {
    let (channel, text, detail) = match &request.content {
        MessageContent::Sms(sms) => (
            "sms",
            Some(sms.body.clone()),
            json!({"sender_id": sms.sender_id, "sms_type": word(sms.sms_type), "segments": sms.segments}),
        ),
        MessageContent::Whatsapp(out) => {
            let (kind, text) = match &out.content {
                WhatsappContent::Text { body, .. } => ("text", Some(body.clone())),
                WhatsappContent::Media(media) => ("media", media.caption.clone()),
                WhatsappContent::Location(place) => ("location", place.name.clone()),
                WhatsappContent::Interactive(_) => ("interactive", None),
                WhatsappContent::Template(template) => ("template", Some(template.name.clone())),
            };
            ("whatsapp", text, json!({"from": out.from, "kind": kind}))
        }
    };
    Effect::Item(Box::new(Item {
        item_id,
        thread_id: request.thread_id.unwrap_or_else(|| new_thread_id(item_id)),
        organisation_id: request.organisation_id,
        customer_id: request.customer_id,
        channel,
        direction: "outbound",
        status: "requested".into(),
        preview: preview(text.as_deref()),
        counterpart: Some(request.to.clone()),
        subject: None,
        detail: with(detail, "requested_by", json!(request.requested_by)),
        at,
    }))
}

/// A call between the parties of a masked session is theirs, not a
/// conversation with a customer: it is on no thread.
fn call(item_id: Uuid, request: CallRequest, at: DateTime<Utc>) -> Option<Effect> {
    if request.masked_session_id.is_some() {
        return None;
    }
    Some(call_item(item_id, request, at))
}

fn call_item(item_id: Uuid, request: CallRequest, at: DateTime<Utc>) -> Effect {
    let direction = match word(request.direction).as_str() {
        "inbound" => "inbound",
        _ => "outbound",
    };
    Effect::Item(Box::new(Item {
        item_id,
        thread_id: request.thread_id.unwrap_or_else(|| new_thread_id(item_id)),
        organisation_id: request.organisation_id,
        customer_id: request.customer_id,
        channel: "call",
        direction,
        status: "requested".into(),
        preview: None,
        counterpart: Some(request.customer_phone.clone()),
        subject: None,
        detail: json!({
            "agent_user_id": request.agent_user_id,
            "caller_id": request.caller_id,
            "requested_by": request.requested_by,
            "record": request.record,
        }),
        at,
    }))
}

fn with(mut detail: Value, key: &str, value: Value) -> Value {
    if let Value::Object(map) = &mut detail {
        map.insert(key.to_string(), value);
    }
    detail
}
