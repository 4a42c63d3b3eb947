//! An attachment or inline image as stored: byte for byte what was
//! attached. Transfer encodings are undone (base64, quoted-printable and
//! x-uuencode), character sets are not: a text attachment keeps its bytes
//! and its declared `charset`. A uuencoded file's type comes from its name
//! (else `application/octet-stream`), never from a header written for the
//! encoded text.

use mail_parser::parsers::MessageStream;
use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};

use domain::inbound_email::{AttachmentRecord, AttachmentStorage};

use super::super::attachments::{AttachmentStore, sha256_hex};
use super::{clean_id, uuencode};

const OCTET_STREAM: &str = "application/octet-stream";

fn declared_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_lowercase(),
            None => ct.ctype().to_lowercase(),
        },
        None => OCTET_STREAM.into(),
    }
}

/// The type a file name suggests, if it suggests one.
fn type_of_name(name: Option<&str>) -> Option<String> {
    let guess = mime_guess::from_path(name?).first()?;
    Some(guess.essence_str().to_string())
}

fn is_uuencoded(part: &MessagePart<'_>) -> bool {
    matches!(
        part.content_transfer_encoding(),
        Some(encoding) if encoding.eq_ignore_ascii_case("x-uuencode") || encoding.eq_ignore_ascii_case("x-uue")
    )
}

/// The bytes of a text part as attached: its transfer encoding undone, its
/// character set left alone.
fn text_as_attached(message: &Message<'_>, part: &MessagePart<'_>) -> Option<Vec<u8>> {
    let at = |offset: u32| usize::try_from(offset).unwrap_or(usize::MAX);
    let raw = message
        .raw_message()
        .get(at(part.raw_body_offset())..at(part.raw_end_offset()))?;
    let mut stream = MessageStream::new(raw);
    let (end, bytes) = match part.encoding {
        Encoding::Base64 => stream.decode_base64_mime(b""),
        Encoding::QuotedPrintable => stream.decode_quoted_printable_mime(b""),
        Encoding::None => return Some(raw.to_vec()),
    };
    (end != usize::MAX).then(|| bytes.into_owned())
}

/// The declared `charset` of a text part, as written.
fn charset(part: &MessagePart<'_>) -> Option<String> {
    let charset = part.content_type()?.attribute("charset")?.trim();
    (!charset.is_empty()).then(|| charset.to_string())
}

/// What is stored of a part: its bytes, type, name and charset.
struct Content {
    bytes: Vec<u8>,
    content_type: String,
    filename: Option<String>,
    charset: Option<String>,
}

fn content(message: &Message<'_>, part: &MessagePart<'_>) -> Content {
    let filename = part.attachment_name().map(str::to_string);
    let is_text = matches!(part.body, PartType::Text(_) | PartType::Html(_));
    let bytes = match is_text {
        true => text_as_attached(message, part).unwrap_or_else(|| part.contents().to_vec()),
        false => part.contents().to_vec(),
    };
    if is_uuencoded(part) {
        return match uuencode::decode(&bytes) {
            Some((name, decoded)) => {
                let filename = filename.or(name);
                let content_type = type_of_name(filename.as_deref()).unwrap_or_else(|| OCTET_STREAM.into());
                Content {
                    bytes: decoded,
                    content_type,
                    filename,
                    charset: None,
                }
            }
            None => Content {
                bytes,
                content_type: OCTET_STREAM.into(),
                filename,
                charset: None,
            },
        };
    }
    Content {
        bytes,
        content_type: declared_type(part),
        filename,
        charset: charset(part).filter(|_| is_text),
    }
}

pub(super) fn attachment(
    message: &Message<'_>,
    part: &MessagePart<'_>,
    store: &AttachmentStore,
    limit: u64,
) -> std::io::Result<AttachmentRecord> {
    let content = content(message, part);
    let sha256 = sha256_hex(&content.bytes);
    let size = content.bytes.len() as u64;
    let disposition = part.content_disposition().map(|d| d.ctype().to_ascii_lowercase());
    let inline = match disposition.as_deref() {
        Some("inline") => true,
        Some(_) => false,
        None => part.content_id().is_some(),
    };
    let storage = match size > limit {
        true => AttachmentStorage::SkippedOverLimit { limit_bytes: limit },
        false => {
            store.put(&sha256, &content.bytes)?;
            AttachmentStorage::Stored
        }
    };
    Ok(AttachmentRecord {
        filename: content.filename,
        content_type: content.content_type,
        charset: content.charset,
        size,
        sha256,
        content_id: part.content_id().and_then(clean_id),
        inline,
        storage,
    })
}
