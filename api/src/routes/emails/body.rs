//! The send route's JSON: the request body and how an intent is shown.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

use application::outbound_email::AttachmentInput;
use domain::EmailAddress;
use domain::outbound_email::{Draft, OutboundEmail, Outcome, Priority};

use crate::error::ApiError;

/// One address or a list of them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

/// An attachment: its name, MIME type and bytes in base64.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentBody {
    pub filename: String,
    /// Defaults to `application/octet-stream`.
    pub content_type: Option<String>,
    pub content_base64: String,
}

/// An e-mail to send. `to`, `cc`, `bcc`, `reply_to` and `references` take
/// one string or a list; `content_html`/`content_text` are accepted for
/// `html`/`text`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendEmailBody {
    /// The sending account; the organisation's default account if absent.
    pub account_id: Option<Uuid>,
    #[schema(value_type = Vec<String>)]
    pub to: OneOrMany,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub cc: OneOrMany,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub bcc: OneOrMany,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub reply_to: OneOrMany,
    pub subject: String,
    #[serde(default, alias = "content_html")]
    pub html: Option<String>,
    #[serde(default, alias = "content_text")]
    pub text: Option<String>,
    #[serde(default)]
    pub attachments: Vec<AttachmentBody>,
    /// Extra headers; structural ones (From, Subject, Content-*, …) are refused.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `high`, `normal` (default) or `low`.
    #[serde(default)]
    #[schema(value_type = String)]
    pub priority: Priority,
    /// The Message-ID replied to.
    pub in_reply_to: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub references: OneOrMany,
    pub thread_id: Option<Uuid>,
    /// The caller's id for this send: the same id never sends twice.
    pub intent_id: Option<Uuid>,
}

impl SendEmailBody {
    /// The attachments decoded; bad base64 names its field.
    pub fn attachments(&self) -> Result<Vec<AttachmentInput>, ApiError> {
        self.attachments
            .iter()
            .enumerate()
            .map(|(index, a)| {
                let compact: String = a.content_base64.split_ascii_whitespace().collect();
                let bytes = STANDARD.decode(compact).map_err(|e| {
                    ApiError::invalid(
                        &format!("attachments[{index}].content_base64"),
                        format!("not base64: {e}"),
                    )
                })?;
                Ok(AttachmentInput {
                    filename: a.filename.clone(),
                    content_type: a.content_type.clone(),
                    bytes,
                })
            })
            .collect()
    }

    pub fn into_draft(self) -> Draft {
        Draft {
            to: self.to.into_vec(),
            cc: self.cc.into_vec(),
            bcc: self.bcc.into_vec(),
            reply_to: self.reply_to.into_vec(),
            subject: self.subject,
            html: self.html,
            text: self.text,
            headers: self.headers,
            priority: self.priority,
            in_reply_to: self.in_reply_to,
            references: self.references.into_vec(),
            thread_id: self.thread_id,
        }
    }
}

fn addresses(list: &[EmailAddress]) -> Value {
    match list {
        [one] => json!(one),
        many => json!(many),
    }
}

/// The seed's shape: `message_id` (the intent), `smtp_message_id`,
/// `status`, `to`, `subject`, `created_at`, and the server's answer.
pub fn describe(email: &OutboundEmail) -> Value {
    let Some(intent) = &email.intent else {
        return Value::Null;
    };
    let message = &intent.message;
    let status = match email.outcome() {
        Some(Outcome::Sent) => "sent",
        Some(Outcome::Failed) => "failed",
        Some(Outcome::InDoubt) => "in_doubt",
        Some(Outcome::Pending) | None => "pending",
    };
    let mut data = json!({
        "message_id": intent.intent_id,
        "smtp_message_id": message.message_id,
        "status": status,
        "account_id": intent.account_id,
        "from": message.from,
        "to": addresses(&message.content.to),
        "subject": message.content.subject,
        "created_at": email.requested_at,
    });
    if let Some((code, response)) = &email.accepted {
        data["smtp_response"] = json!(format!("{code} {response}"));
    }
    if let Some(failure) = email.last_failure.as_ref().filter(|_| status == "failed") {
        data["error"] = json!(failure);
    }
    data
}

/// The rest of the record, for the single-email route.
pub fn add_details(data: &mut Value, email: &OutboundEmail) {
    let Some(intent) = &email.intent else {
        return;
    };
    let content = &intent.message.content;
    data["cc"] = json!(content.cc);
    data["bcc"] = json!(content.bcc);
    data["reply_to"] = json!(content.reply_to);
    data["in_reply_to"] = json!(content.in_reply_to);
    data["references"] = json!(content.references);
    data["thread_id"] = json!(content.thread_id);
    data["priority"] = json!(content.priority);
    data["attachments"] = json!(intent.message.attachments);
    data["failed_attempts"] = json!(email.failed_attempts);
    data["started_at"] = json!(email.started_at);
    data["finished_at"] = json!(email.finished_at);
}
