//! What an inbound e-mail event may hold: no control characters in any
//! text (PostgreSQL's jsonb refuses NUL, and JSON escapes stay short; bodies
//! keep tabs and line breaks), every field within its limit, and the whole
//! event within [`MAX_EVENT_BYTES`] so that the event feed can carry it
//! (NATS refuses messages over 1 MB by default). Cut bodies are marked and
//! unlisted attachments counted; only a pathological header (thousands of
//! long addresses) loses list entries silently.

use super::{AttachmentRecord, Bodies, MailAddress, ReceivedEmail, RejectedEmail};

/// Largest text or HTML body kept; longer ones are cut and marked.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Longest subject or Message-ID kept (RFC 5322's line limit).
pub const MAX_HEADER_CHARS: usize = 998;
/// Most addresses kept per field (to, cc).
pub const MAX_ADDRESSES: usize = 50;
/// Most Message-IDs kept from `References` (the latest ones).
pub const MAX_REFERENCES: usize = 20;
/// Most attachments listed; the rest are counted.
pub const MAX_ATTACHMENTS: usize = 100;
/// Largest serialised event; bodies are halved until it fits.
pub const MAX_EVENT_BYTES: usize = 512 * 1024;
const MAX_NAME_CHARS: usize = 200;
const MAX_ADDRESS_CHARS: usize = 320;
const MAX_TYPE_CHARS: usize = 100;

/// One line of text: no control characters, at most `max` characters.
fn line(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

/// A header value as an event keeps it (a subject, a Message-ID).
pub fn header_value(text: &str) -> String {
    line(text, MAX_HEADER_CHARS)
}

fn optional(text: Option<String>, max: usize) -> Option<String> {
    text.map(|t| line(&t, max)).filter(|t| !t.is_empty())
}

/// A body without control characters other than tab and line breaks.
fn body(text: String) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// `text` cut to at most `max` bytes on a character boundary; whether it was.
fn cut(text: String, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_string(), true)
}

impl MailAddress {
    fn capped(self) -> Self {
        Self {
            name: optional(self.name, MAX_NAME_CHARS),
            address: line(&self.address, MAX_ADDRESS_CHARS),
        }
    }
}

impl AttachmentRecord {
    fn capped(self) -> Self {
        Self {
            filename: optional(self.filename, MAX_NAME_CHARS),
            content_type: line(&self.content_type, MAX_TYPE_CHARS),
            charset: optional(self.charset, MAX_TYPE_CHARS),
            content_id: optional(self.content_id, MAX_NAME_CHARS),
            ..self
        }
    }
}

impl Bodies {
    fn capped(self) -> Self {
        let (text, text_cut) = self.text.map(|t| cut(body(t), MAX_BODY_BYTES)).unzip();
        let (html, html_cut) = self.html.map(|h| cut(body(h), MAX_BODY_BYTES)).unzip();
        Self {
            text,
            html,
            text_truncated: self.text_truncated || text_cut.unwrap_or(false),
            html_truncated: self.html_truncated || html_cut.unwrap_or(false),
        }
    }

    /// Halves the longer body; false when there is nothing left to halve.
    fn halve(&mut self) -> bool {
        let length = |b: &Option<String>| b.as_ref().map_or(0, String::len);
        let (text, html) = (length(&self.text), length(&self.html));
        let (longer, flag, size) = match text >= html {
            true => (&mut self.text, &mut self.text_truncated, text),
            false => (&mut self.html, &mut self.html_truncated, html),
        };
        if size == 0 {
            return false;
        }
        if let Some(kept) = longer.take() {
            *longer = Some(cut(kept, size / 2).0);
            *flag = true;
        }
        true
    }
}

fn list<T>(items: Vec<T>, max: usize, each: impl Fn(T) -> T) -> Vec<T> {
    items.into_iter().take(max).map(each).collect()
}

impl ReceivedEmail {
    /// The e-mail within every limit.
    pub fn capped(self) -> Self {
        let skip = self.references.len().saturating_sub(MAX_REFERENCES);
        let omitted = self.attachments.len().saturating_sub(MAX_ATTACHMENTS);
        let mut email = Self {
            message_id: optional(self.message_id, MAX_HEADER_CHARS),
            in_reply_to: optional(self.in_reply_to, MAX_HEADER_CHARS),
            references: self
                .references
                .into_iter()
                .skip(skip)
                .filter_map(|r| optional(Some(r), MAX_HEADER_CHARS))
                .collect(),
            from: self.from.map(MailAddress::capped),
            to: list(self.to, MAX_ADDRESSES, MailAddress::capped),
            cc: list(self.cc, MAX_ADDRESSES, MailAddress::capped),
            subject: optional(self.subject, MAX_HEADER_CHARS),
            bodies: self.bodies.capped(),
            attachments: list(self.attachments, MAX_ATTACHMENTS, AttachmentRecord::capped),
            omitted_attachments: self
                .omitted_attachments
                .saturating_add(u32::try_from(omitted).unwrap_or(u32::MAX)),
            ..self
        };
        while email.serialised_size() > MAX_EVENT_BYTES && (email.bodies.halve() || email.halve_lists()) {}
        email
    }

    /// The last resort for an event still too large without bodies: halves
    /// the attachment list (counting the rest), then the address lists and
    /// references; false when nothing is left to halve.
    fn halve_lists(&mut self) -> bool {
        let half = |n: usize| n.div_ceil(2);
        if self.attachments.len() > 1 {
            let dropped = self.attachments.len() - half(self.attachments.len());
            self.attachments.truncate(half(self.attachments.len()));
            let dropped = u32::try_from(dropped).unwrap_or(u32::MAX);
            self.omitted_attachments = self.omitted_attachments.saturating_add(dropped);
            return true;
        }
        if self.to.len() + self.cc.len() > 2 {
            self.to.truncate(half(self.to.len()));
            self.cc.truncate(half(self.cc.len()));
            return true;
        }
        if self.references.len() > 1 {
            let keep = half(self.references.len());
            self.references.drain(..self.references.len() - keep);
            return true;
        }
        false
    }

    /// Bytes of the event's JSON.
    pub fn serialised_size(&self) -> usize {
        serde_json::to_vec(self).map_or(usize::MAX, |json| json.len())
    }
}

impl RejectedEmail {
    /// The rejection within every limit.
    pub fn capped(self) -> Self {
        Self {
            message_id: optional(self.message_id, MAX_HEADER_CHARS),
            detail: line(&self.detail, MAX_HEADER_CHARS),
            ..self
        }
    }
}

#[cfg(test)]
mod tests;
