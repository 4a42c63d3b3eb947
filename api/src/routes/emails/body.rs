//! The send route's JSON: the request body and how an intent is shown.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

use application::outbound_email::AttachmentInput;
use domain::EmailAddress;
use domain::outbound_email::{Draft, OutboundEmail, Outcome, Priority, SmtpFailure, SmtpStage};

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

/// One recipient as a string, several as a list (the seed's shape).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Recipients {
    One(String),
    Many(Vec<String>),
}

impl Recipients {
    fn of(list: &[EmailAddress]) -> Self {
        match list {
            [one] => Recipients::One(one.to_string()),
            many => Recipients::Many(many.iter().map(EmailAddress::to_string).collect()),
        }
    }
}

/// Why a send failed, in the server's words.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmtpFailureResponse {
    /// `connect`, `login`, `envelope` or `data`.
    #[schema(value_type = String)]
    pub stage: SmtpStage,
    /// The SMTP reply code, if the server answered.
    pub code: Option<u16>,
    pub message: String,
    /// A 5xx reply: sending the same again will fail again.
    pub permanent: bool,
}

impl From<&SmtpFailure> for SmtpFailureResponse {
    fn from(f: &SmtpFailure) -> Self {
        Self {
            stage: f.stage,
            code: f.code,
            message: f.message.clone(),
            permanent: f.permanent,
        }
    }
}

/// A sent e-mail as the send route answers it: `message_id` is the intent.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentEmailResponse {
    pub message_id: Uuid,
    pub smtp_message_id: String,
    /// `pending`, `sent`, `failed` or `in_doubt`.
    pub status: String,
    pub account_id: Uuid,
    pub from: String,
    pub to: Recipients,
    pub subject: String,
    pub created_at: Option<DateTime<Utc>>,
    /// The server's answer to the message (`250 …`), once sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_response: Option<String>,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<SmtpFailureResponse>,
}

/// An attachment of a sent e-mail.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentAttachmentResponse {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

/// A sent e-mail with the rest of its record.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailResponse {
    #[serde(flatten)]
    pub summary: SentEmailResponse,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub reply_to: Vec<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub thread_id: Option<Uuid>,
    /// `high`, `normal` or `low`.
    #[schema(value_type = String)]
    pub priority: Priority,
    pub attachments: Vec<SentAttachmentResponse>,
    /// Attempts that failed before `DATA`.
    pub failed_attempts: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

fn strings(list: &[EmailAddress]) -> Vec<String> {
    list.iter().map(EmailAddress::to_string).collect()
}

/// The seed's shape: `message_id` (the intent), `smtp_message_id`,
/// `status`, `to`, `subject`, `created_at`, and the server's answer; `None`
/// for an intent never recorded.
pub fn describe(email: &OutboundEmail) -> Option<SentEmailResponse> {
    let intent = email.intent.as_ref()?;
    let message = &intent.message;
    let status = match email.outcome() {
        Some(Outcome::Sent) => "sent",
        Some(Outcome::Failed) => "failed",
        Some(Outcome::InDoubt) => "in_doubt",
        Some(Outcome::Pending) | None => "pending",
    };
    Some(SentEmailResponse {
        message_id: intent.intent_id,
        smtp_message_id: message.message_id.clone(),
        status: status.to_string(),
        account_id: intent.account_id,
        from: message.from.to_string(),
        to: Recipients::of(&message.content.to),
        subject: message.content.subject.clone(),
        created_at: email.requested_at,
        smtp_response: email
            .accepted
            .as_ref()
            .map(|(code, response)| format!("{code} {response}")),
        error: email
            .last_failure
            .as_ref()
            .filter(|_| status == "failed")
            .map(SmtpFailureResponse::from),
    })
}

/// The whole record, for the single-email route.
pub fn detailed(email: &OutboundEmail) -> Option<EmailResponse> {
    let summary = describe(email)?;
    let intent = email.intent.as_ref()?;
    let content = &intent.message.content;
    Some(EmailResponse {
        summary,
        cc: strings(&content.cc),
        bcc: strings(&content.bcc),
        reply_to: strings(&content.reply_to),
        in_reply_to: content.in_reply_to.clone(),
        references: content.references.clone(),
        thread_id: content.thread_id,
        priority: content.priority,
        attachments: intent
            .message
            .attachments
            .iter()
            .map(|a| SentAttachmentResponse {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                size: a.size,
                sha256: a.sha256.clone(),
            })
            .collect(),
        failed_attempts: email.failed_attempts,
        started_at: email.started_at,
        finished_at: email.finished_at,
    })
}
