//! What a caller asks to send, its rules, and the message that is recorded:
//! the caller's content with the account's signature and a Message-ID.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

use crate::EmailAddress;

/// Most recipients over To, Cc and Bcc together.
pub const MAX_RECIPIENTS: usize = 100;
/// Most custom headers.
pub const MAX_HEADERS: usize = 50;
/// Most attachments.
pub const MAX_ATTACHMENTS: usize = 100;
const MAX_SUBJECT: usize = 998;
const MAX_HEADER_NAME: usize = 76;
const MAX_HEADER_VALUE: usize = 998;
const MAX_REFERENCES: usize = 100;
const MAX_FILENAME: usize = 255;

/// Headers Switchboard writes itself; a caller may not set or override them.
const STRUCTURAL: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "return-path",
    "received",
    "x-priority",
    "importance",
    "priority",
    "dkim-signature",
];

/// A part of the request that breaks a rule: the field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct DraftError {
    pub field: String,
    pub reason: String,
}

fn invalid(field: &str, reason: impl Into<String>) -> DraftError {
    DraftError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// `X-Priority` and `Importance`; normal writes neither.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    High,
    #[default]
    Normal,
    Low,
}

impl Priority {
    /// The `X-Priority` and `Importance` values, or none for normal.
    pub fn headers(self) -> Option<(&'static str, &'static str)> {
        match self {
            Priority::High => Some(("1 (Highest)", "High")),
            Priority::Normal => None,
            Priority::Low => Some(("5 (Lowest)", "Low")),
        }
    }
}

/// A header the caller adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomHeader {
    pub name: String,
    pub value: String,
}

/// The request as the caller sent it.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub reply_to: Vec<String>,
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub priority: Priority,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub thread_id: Option<Uuid>,
}

/// The checked content of a message, without the account's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    pub bcc: Vec<EmailAddress>,
    pub reply_to: Vec<EmailAddress>,
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
    pub headers: Vec<CustomHeader>,
    pub priority: Priority,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub thread_id: Option<Uuid>,
}

/// What an attachment was: never its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRecord {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

/// The message as it is sent and recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub from: EmailAddress,
    pub from_name: Option<String>,
    /// `<uuid@account-domain>`.
    pub message_id: String,
    pub content: Content,
    pub attachments: Vec<AttachmentRecord>,
}

impl OutboundMessage {
    /// Every envelope recipient (To, Cc and Bcc), each once.
    pub fn recipients(&self) -> Vec<EmailAddress> {
        let c = &self.content;
        let mut all: Vec<EmailAddress> = Vec::new();
        for address in c.to.iter().chain(&c.cc).chain(&c.bcc) {
            if !all.contains(address) {
                all.push(address.clone());
            }
        }
        all
    }
}

/// A Message-ID in the account's domain.
pub fn message_id(id: Uuid, from: &EmailAddress) -> String {
    let domain = from.as_str().rsplit_once('@').map_or("localhost", |(_, d)| d);
    format!("<{}@{domain}>", id.simple())
}

fn addresses(field: &str, list: &[String]) -> Result<Vec<EmailAddress>, DraftError> {
    let mut out = Vec::with_capacity(list.len());
    for text in list {
        let address = EmailAddress::parse(text)
            .map_err(|_| invalid(field, format!("`{}` is not a valid e-mail address", text.trim())))?;
        if !address.is_sendable() {
            return Err(invalid(field, format!("`{address}` is not an ASCII address")));
        }
        out.push(address);
    }
    Ok(out)
}

fn subject(text: &str) -> Result<String, DraftError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid("subject", "is required"));
    }
    if text.chars().count() > MAX_SUBJECT || text.chars().any(char::is_control) {
        return Err(invalid("subject", "must be at most 998 characters on one line"));
    }
    Ok(text.to_string())
}

fn body(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn header(name: &str, value: &str) -> Result<CustomHeader, DraftError> {
    let field = format!("headers.{name}");
    let name_ok = !name.is_empty()
        && name.len() <= MAX_HEADER_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !name_ok {
        return Err(invalid(&field, "a header name is 1 to 76 letters, digits or dashes"));
    }
    let lower = name.to_ascii_lowercase();
    if STRUCTURAL.contains(&lower.as_str()) || lower.starts_with("content-") {
        return Err(invalid(
            &field,
            "this header is written by Switchboard and cannot be set",
        ));
    }
    if value.contains(['\r', '\n']) || value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(invalid(
            &field,
            "a header value must not contain line breaks or control characters",
        ));
    }
    if value.trim().is_empty() || value.len() > MAX_HEADER_VALUE {
        return Err(invalid(&field, "a header value is 1 to 998 characters"));
    }
    Ok(CustomHeader {
        name: name.to_string(),
        value: value.trim().to_string(),
    })
}

/// A Message-ID as `<left@right>`, with or without the brackets given.
pub fn message_id_reference(field: &str, text: &str) -> Result<String, DraftError> {
    let inner = text.trim().trim_start_matches('<').trim_end_matches('>');
    let ok = inner
        .split_once('@')
        .is_some_and(|(l, r)| !l.is_empty() && !r.is_empty() && !r.contains('@'))
        && inner.len() <= 995
        && inner.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>'));
    match ok {
        true => Ok(format!("<{inner}>")),
        false => Err(invalid(field, format!("`{}` is not a Message-ID", text.trim()))),
    }
}

fn threading(
    in_reply_to: Option<String>,
    references: Vec<String>,
) -> Result<(Option<String>, Vec<String>), DraftError> {
    if references.len() > MAX_REFERENCES {
        return Err(invalid("references", "at most 100 Message-IDs"));
    }
    let in_reply_to = in_reply_to
        .filter(|v| !v.trim().is_empty())
        .map(|v| message_id_reference("in_reply_to", &v))
        .transpose()?;
    let mut refs = Vec::with_capacity(references.len() + 1);
    for r in &references {
        refs.push(message_id_reference("references", r)?);
    }
    if let Some(parent) = &in_reply_to
        && refs.last() != Some(parent)
    {
        refs.retain(|r| r != parent);
        refs.push(parent.clone());
    }
    Ok((in_reply_to, refs))
}

impl Draft {
    /// Applies every rule; the first broken one names its field.
    pub fn check(self) -> Result<Content, DraftError> {
        let to = addresses("to", &self.to)?;
        let cc = addresses("cc", &self.cc)?;
        let bcc = addresses("bcc", &self.bcc)?;
        let reply_to = addresses("reply_to", &self.reply_to)?;
        if to.is_empty() {
            return Err(invalid("to", "name at least one recipient"));
        }
        if to.len() + cc.len() + bcc.len() > MAX_RECIPIENTS {
            return Err(invalid("to", "at most 100 recipients over to, cc and bcc"));
        }
        let (html, text) = (body(self.html), body(self.text));
        if html.is_none() && text.is_none() {
            return Err(invalid("text", "send an html or a text body, or both"));
        }
        if self.headers.len() > MAX_HEADERS {
            return Err(invalid("headers", "at most 50 headers"));
        }
        let headers = self
            .headers
            .iter()
            .map(|(n, v)| header(n, v))
            .collect::<Result<Vec<_>, _>>()?;
        let (in_reply_to, references) = threading(self.in_reply_to, self.references)?;
        Ok(Content {
            to,
            cc,
            bcc,
            reply_to,
            subject: subject(&self.subject)?,
            html,
            text,
            headers,
            priority: self.priority,
            in_reply_to,
            references,
            thread_id: self.thread_id,
        })
    }
}

impl Content {
    /// The content with the account's signatures appended: the HTML one to
    /// the HTML part, the text one (after the `-- ` delimiter) to the text part.
    pub fn signed(mut self, signature_html: Option<&str>, signature_text: Option<&str>) -> Self {
        if let (Some(html), Some(signature)) = (&self.html, signature_html) {
            self.html = Some(sign_html(html, signature));
        }
        if let (Some(text), Some(signature)) = (&self.text, signature_text) {
            self.text = Some(format!("{}\n\n-- \n{signature}\n", text.trim_end()));
        }
        self
    }
}

fn sign_html(html: &str, signature: &str) -> String {
    let block = format!("<div class=\"signature\">{signature}</div>");
    match html.to_ascii_lowercase().rfind("</body>") {
        Some(at) => format!("{}{block}{}", &html[..at], &html[at..]),
        None => format!("{html}\n{block}"),
    }
}

/// An attachment's name and type, checked.
pub fn attachment(index: usize, filename: &str, content_type: &str) -> Result<(String, String), DraftError> {
    let filename = filename.trim();
    let name_ok = !filename.is_empty()
        && filename.chars().count() <= MAX_FILENAME
        && !filename.chars().any(|c| c.is_control() || c == '/' || c == '\\');
    if !name_ok {
        return Err(invalid(
            &format!("attachments[{index}].filename"),
            "a file name is 1 to 255 characters without slashes or control characters",
        ));
    }
    let content_type = content_type.trim().to_ascii_lowercase();
    let type_ok = content_type
        .split_once('/')
        .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty())
        && content_type.len() <= 255
        && content_type.is_ascii()
        && !content_type.chars().any(|c| c.is_control());
    if !type_ok {
        return Err(invalid(
            &format!("attachments[{index}].content_type"),
            "a MIME type such as application/pdf",
        ));
    }
    Ok((filename.to_string(), content_type))
}

#[cfg(test)]
mod tests;
