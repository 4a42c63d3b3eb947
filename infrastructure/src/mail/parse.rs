//! Raw RFC 5322 messages read with mail-parser into what the inbound use
//! case records. Whatever can be understood is kept: bodies in any charset
//! mail-parser knows (invalid bytes replaced), every attachment and inline
//! image stored by content (see [`attachment`]) or recorded as skipped when
//! over the limit, a sender without an address as written. A message with
//! no readable header at all is rejected, never dropped.

mod attachment;
mod repair;
mod uuencode;

use mail_parser::{Addr, Address, HeaderValue, Message, MessageParser, PartType};

use application::inbound_email::{Fetched, ParsedEmail};
use domain::inbound_email::{Bodies, MailAddress, RejectReason};

use super::attachments::{AttachmentStore, sha256_hex};
use attachment::attachment;

/// Reads `raw`, storing its attachments of at most `max_attachment_bytes`.
/// Only a failure to store an attachment is an error (the message is
/// fetched again later); anything about the message itself is in `Fetched`.
pub fn parse(raw: &[u8], store: &AttachmentStore, max_attachment_bytes: u64) -> std::io::Result<Fetched> {
    let sha256 = sha256_hex(raw);
    let size = raw.len() as u64;
    let Some(message) = MessageParser::default().parse(raw) else {
        return Ok(Fetched::Rejected {
            message_id: None,
            sha256: Some(sha256),
            size,
            reason: RejectReason::Unparseable,
            detail: "no message header could be read".into(),
        });
    };
    let attachments = message
        .attachments()
        .map(|part| attachment(&message, part, store, max_attachment_bytes))
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(Fetched::Parsed(Box::new(ParsedEmail {
        message_id: message_id(&message),
        in_reply_to: ids(message.in_reply_to()).into_iter().next(),
        references: ids(message.references()),
        from: sender(&message),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        subject: message.subject().map(str::to_string),
        date: date(&message),
        bodies: bodies(&message),
        attachments,
        size,
        sha256,
    })))
}

/// The Message-ID of a message too large to fetch, from its header alone.
pub fn header_message_id(header: &[u8]) -> Option<String> {
    MessageParser::default()
        .parse_headers(header)
        .and_then(|m| message_id(&m))
}

/// A Message-ID without its angle brackets or any control character.
fn clean_id(id: &str) -> Option<String> {
    let id: String = id.chars().filter(|c| !c.is_control()).collect();
    let id = id.trim().trim_start_matches('<').trim_end_matches('>').trim();
    (!id.is_empty()).then(|| id.to_string())
}

fn message_id(message: &Message<'_>) -> Option<String> {
    message.message_id().and_then(clean_id)
}

/// Message-IDs of `In-Reply-To` or `References`, in header order.
fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => clean_id(id).into_iter().collect(),
        HeaderValue::TextList(list) => list.iter().filter_map(|id| clean_id(id)).collect(),
        _ => Vec::new(),
    }
}

fn mail_address(addr: &Addr<'_>) -> Option<MailAddress> {
    let address = addr.address()?.trim().to_lowercase();
    let name = addr.name().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
    (!address.is_empty()).then_some(MailAddress { name, address })
}

/// The first `From` address; a `From` without one (a bare name) as written.
fn sender(message: &Message<'_>) -> Option<MailAddress> {
    if let Some(address) = message.from().and_then(Address::first).and_then(mail_address) {
        return Some(address);
    }
    let written = message.header_raw("From")?.trim();
    (!written.is_empty()).then(|| MailAddress {
        name: None,
        address: written.to_string(),
    })
}

fn addresses(field: Option<&Address<'_>>) -> Vec<MailAddress> {
    field
        .map(|a| a.iter().filter_map(mail_address).collect())
        .unwrap_or_default()
}

fn date(message: &Message<'_>) -> Option<chrono::DateTime<chrono::Utc>> {
    let date = message.date().filter(|d| d.is_valid())?;
    chrono::DateTime::from_timestamp(date.to_timestamp(), 0)
}

/// The first text/plain and the first text/html body as written (no
/// conversion of one into the other). A text body that is really a
/// multipart missing its first boundary is read as that multipart, so that
/// the other parts' source never shows as text.
fn bodies(message: &Message<'_>) -> Bodies {
    let text_part = message.text_bodies().find(|p| matches!(p.body, PartType::Text(_)));
    let written = first_bodies(message);
    match text_part.and_then(|part| repair::as_multipart(message, part)) {
        Some(repaired) => {
            let inner = first_bodies(&repaired);
            Bodies {
                text: inner.text,
                html: inner.html.or(written.html),
                ..Bodies::default()
            }
        }
        None => written,
    }
}

fn first_bodies(message: &Message<'_>) -> Bodies {
    let text = message.text_bodies().find_map(|p| match &p.body {
        PartType::Text(text) => Some(text.to_string()),
        _ => None,
    });
    let html = message.html_bodies().find_map(|p| match &p.body {
        PartType::Html(html) => Some(html.to_string()),
        _ => None,
    });
    Bodies {
        text,
        html,
        ..Bodies::default()
    }
}

#[cfg(test)]
mod tests;
