//! A part whose multipart `Content-Type` is followed by a second one (the
//! first part's), with the first boundary left out: mail-parser obeys the
//! last header and reads the whole multipart as one text, the HTML part's
//! source included. Such a part is read again as the multipart it is.

use mail_parser::{HeaderName, HeaderValue, Message, MessageParser, MessagePart};

/// The part read as the multipart its first `Content-Type` declares, when
/// a later `Content-Type` overrode it; `None` for an ordinary part.
pub(super) fn as_multipart(message: &Message<'_>, part: &MessagePart<'_>) -> Option<Message<'static>> {
    let types: Vec<_> = part
        .headers
        .iter()
        .filter(|h| h.name == HeaderName::ContentType)
        .collect();
    let (declared, overridden) = types.split_last()?;
    let multipart = overridden.iter().find_map(|h| match &h.value {
        HeaderValue::ContentType(ct) if ct.ctype().eq_ignore_ascii_case("multipart") => {
            Some((h, ct.subtype()?.to_string(), ct.attribute("boundary")?.to_string()))
        }
        _ => None,
    });
    let (header, subtype, boundary) = multipart?;
    if matches!(&declared.value, HeaderValue::ContentType(ct) if ct.ctype().eq_ignore_ascii_case("multipart")) {
        return None;
    }
    let raw = message.raw_message();
    let at = |offset: u32| usize::try_from(offset).unwrap_or(usize::MAX);
    let first_headers = raw.get(at(part.offset_header)..at(header.offset_field))?;
    let other_headers = raw.get(at(header.offset_end)..at(part.offset_body))?;
    let body = raw.get(at(part.offset_body)..at(part.offset_end))?;
    let mut rebuilt =
        format!("Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n").into_bytes();
    rebuilt.extend_from_slice(first_headers);
    rebuilt.extend_from_slice(other_headers);
    rebuilt.extend_from_slice(body);
    rebuilt.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    MessageParser::default().parse(&rebuilt).map(Message::into_owned)
}
