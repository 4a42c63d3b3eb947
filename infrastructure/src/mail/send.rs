//! Sending e-mail with lettre: the MIME message from its builder, and an
//! SMTP conversation driven step by step so that the intent can be marked
//! started just before `DATA` (see `session`).
//!
//! The message: From (the account), To, Cc, Reply-To, Subject, Date,
//! the recorded Message-ID, In-Reply-To and References when replying,
//! `X-Priority`/`Importance`, the caller's checked headers; the body is
//! multipart/alternative (text and HTML) or a single part, inside
//! multipart/mixed when there are attachments. Bcc recipients are in the
//! envelope only: lettre drops the Bcc header.

mod directory;
mod session;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Body as Encoded, Mailbox, MessageBuilder, MultiPart, SinglePart};
use lettre::{Address, Message};
use std::time::SystemTime;

use application::outbound_email::AttachmentFile;
use domain::EmailAddress;
use domain::outbound_email::{Content, DraftError, OutboundMessage};

pub use directory::EventDirectory;

fn invalid(field: &str, reason: impl Into<String>) -> DraftError {
    DraftError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// An address as lettre takes it.
pub(crate) fn address(field: &str, email: &EmailAddress) -> Result<Address, DraftError> {
    email
        .as_str()
        .parse::<Address>()
        .map_err(|e| invalid(field, format!("`{email}`: {e}")))
}

fn header(name: &str, value: &str) -> Result<HeaderValue, DraftError> {
    let field = format!("headers.{name}");
    let name = HeaderName::new_from_ascii(name.to_string()).map_err(|_| invalid(&field, "not a header name"))?;
    Ok(HeaderValue::new(name, value.to_string()))
}

fn recipients(mut builder: MessageBuilder, content: &Content) -> Result<MessageBuilder, DraftError> {
    for to in &content.to {
        builder = builder.to(Mailbox::new(None, address("to", to)?));
    }
    for cc in &content.cc {
        builder = builder.cc(Mailbox::new(None, address("cc", cc)?));
    }
    for bcc in &content.bcc {
        builder = builder.bcc(Mailbox::new(None, address("bcc", bcc)?));
    }
    for reply_to in &content.reply_to {
        builder = builder.reply_to(Mailbox::new(None, address("reply_to", reply_to)?));
    }
    Ok(builder)
}

fn headers(mut builder: MessageBuilder, content: &Content) -> Result<MessageBuilder, DraftError> {
    if let Some(parent) = &content.in_reply_to {
        builder = builder.in_reply_to(parent.clone());
    }
    if !content.references.is_empty() {
        builder = builder.references(content.references.join(" "));
    }
    if let Some((x_priority, importance)) = content.priority.headers() {
        builder = builder
            .raw_header(header("X-Priority", x_priority)?)
            .raw_header(header("Importance", importance)?);
    }
    for custom in &content.headers {
        builder = builder.raw_header(header(&custom.name, &custom.value)?);
    }
    Ok(builder)
}

enum Body {
    Single(SinglePart),
    Multi(MultiPart),
}

fn body(content: &Content) -> Result<Body, DraftError> {
    match (&content.text, &content.html) {
        (Some(text), Some(html)) => Ok(Body::Multi(MultiPart::alternative_plain_html(
            text.clone(),
            html.clone(),
        ))),
        (None, Some(html)) => Ok(Body::Single(SinglePart::html(html.clone()))),
        (Some(text), None) => Ok(Body::Single(SinglePart::plain(text.clone()))),
        (None, None) => Err(invalid("text", "send an html or a text body, or both")),
    }
}

fn with_attachments(body: Body, files: &[AttachmentFile]) -> Result<Body, DraftError> {
    if files.is_empty() {
        return Ok(body);
    }
    let mut mixed = match body {
        Body::Single(part) => MultiPart::mixed().singlepart(part),
        Body::Multi(part) => MultiPart::mixed().multipart(part),
    };
    for (index, file) in files.iter().enumerate() {
        let content_type = ContentType::parse(&file.record.content_type)
            .map_err(|_| invalid(&format!("attachments[{index}].content_type"), "not a MIME type"))?;
        // Base64 whatever the type, so the bytes arrive exactly as given
        // (a text file's bare line feeds are not turned into CRLF).
        let encoded = Encoded::new_with_encoding(file.bytes.clone(), ContentTransferEncoding::Base64)
            .map_err(|_| invalid(&format!("attachments[{index}]"), "cannot be encoded"))?;
        let part = Attachment::new(file.record.filename.clone()).body(encoded, content_type);
        mixed = mixed.singlepart(part);
    }
    Ok(Body::Multi(mixed))
}

/// The RFC 5322 bytes of the message, dated `date`.
pub fn compose(
    message: &OutboundMessage,
    attachments: &[AttachmentFile],
    date: DateTime<Utc>,
) -> Result<Vec<u8>, DraftError> {
    let content = &message.content;
    let from = Mailbox::new(message.from_name.clone(), address("from", &message.from)?);
    let builder = Message::builder()
        .from(from)
        .subject(content.subject.clone())
        .date(SystemTime::from(date))
        .message_id(Some(message.message_id.clone()));
    let builder = headers(recipients(builder, content)?, content)?;
    let built = match with_attachments(body(content)?, attachments)? {
        Body::Single(part) => builder.singlepart(part),
        Body::Multi(part) => builder.multipart(part),
    };
    built.map(|m| m.formatted()).map_err(|e| invalid("to", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::outbound_email::draft::message_id;
    use domain::outbound_email::{AttachmentRecord, Draft, Priority};
    use std::collections::BTreeMap;

    fn message(attachments: Vec<AttachmentRecord>) -> OutboundMessage {
        let from = EmailAddress::parse("support@acme.in").unwrap();
        let draft = Draft {
            to: vec!["bob@switchboard.test".into()],
            bcc: vec!["audit@acme.in".into()],
            subject: "Namaste — invoice".into(),
            html: Some("<p>Hi</p>".into()),
            text: Some("Hi".into()),
            headers: BTreeMap::from([("X-Campaign".to_string(), "diwali".to_string())]),
            priority: Priority::High,
            in_reply_to: Some("<parent@acme.in>".into()),
            ..Draft::default()
        };
        OutboundMessage {
            message_id: message_id(uuid::Uuid::from_u128(7), &from),
            from,
            from_name: Some("Acme Support".into()),
            content: draft.check().unwrap(),
            attachments,
        }
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn the_message_carries_its_headers_and_no_bcc() {
        let raw = text(&compose(&message(vec![]), &[], Utc::now()).unwrap());
        for expected in [
            "Message-ID: <00000000000000000000000000000007@acme.in>",
            "In-Reply-To: <parent@acme.in>",
            "References: <parent@acme.in>",
            "X-Priority: 1 (Highest)",
            "Importance: High",
            "X-Campaign: diwali",
            "multipart/alternative",
        ] {
            assert!(raw.contains(expected), "{expected} missing from\n{raw}");
        }
        assert!(!raw.to_ascii_lowercase().contains("bcc:"));
        assert!(!raw.contains("multipart/mixed"));
    }

    #[test]
    fn attachments_make_the_message_mixed() {
        let record = AttachmentRecord {
            filename: "invoice.pdf".into(),
            content_type: "application/pdf".into(),
            size: 3,
            sha256: String::new(),
        };
        let file = AttachmentFile {
            record: record.clone(),
            bytes: vec![1, 2, 3],
        };
        let raw = text(&compose(&message(vec![record]), &[file], Utc::now()).unwrap());
        assert!(raw.contains("multipart/mixed"));
        assert!(raw.contains("filename=\"invoice.pdf\""));
    }
}
