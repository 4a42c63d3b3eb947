//! How an SMS body is encoded and how many parts it is sent in (3GPP TS
//! 23.038 and 23.040).
//!
//! A body made only of characters of the GSM 03.38 default alphabet and its
//! extension table is sent as GSM-7: each basic character is one septet and
//! each extension character two (an escape and the character). Up to 160
//! septets go in one part; a longer body goes in parts of at most 153
//! septets, and an escape pair is never split across two parts. Any other
//! body is sent as UCS-2: up to 70 UTF-16 code units go in one part; a
//! longer body goes in parts of at most 67 units, and a surrogate pair is
//! never split across two parts.

use serde::{Deserialize, Serialize};

/// The characters of the GSM 03.38 default alphabet, in table order,
/// without the escape (0x1B) that introduces the extension table.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The characters of the GSM 03.38 extension table, each sent after an
/// escape.
const EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Septets a GSM-7 body may have to go in one part.
const GSM7_SINGLE: u32 = 160;
/// Septets each part of a multipart GSM-7 body may hold.
const GSM7_PART: u32 = 153;
/// UTF-16 code units a UCS-2 body may have to go in one part.
const UCS2_SINGLE: u32 = 70;
/// UTF-16 code units each part of a multipart UCS-2 body may hold.
const UCS2_PART: u32 = 67;

/// The character set an SMS body is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsEncoding {
    /// The GSM 03.38 7-bit default alphabet with its extension table.
    Gsm7,
    /// UCS-2, counted in UTF-16 code units.
    Ucs2,
}

/// How an SMS body is sent: its encoding, its size and its number of parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsSegments {
    /// The encoding the body is sent in.
    pub encoding: SmsEncoding,
    /// Parts the body is sent in (0 for an empty body).
    pub segments: u32,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2) of the whole body.
    pub units: u32,
}

/// The encoding, size and number of parts of `body`: GSM-7 when every
/// character is in the GSM 03.38 alphabet or its extension table, UCS-2
/// otherwise.
pub fn segments(body: &str) -> SmsSegments {
    match segments_as(body, SmsEncoding::Gsm7) {
        Some(gsm7) => gsm7,
        None => ucs2(body),
    }
}

/// The same, with the encoding forced (`Ucs2` for a GSM-7 body counts its
/// UTF-16 units; `Gsm7` for a body with characters outside GSM-7 is `None`).
pub fn segments_as(body: &str, encoding: SmsEncoding) -> Option<SmsSegments> {
    match encoding {
        SmsEncoding::Gsm7 => {
            let widths = body.chars().map(septets).collect::<Option<Vec<u32>>>()?;
            Some(pack(SmsEncoding::Gsm7, widths, GSM7_SINGLE, GSM7_PART))
        }
        SmsEncoding::Ucs2 => Some(ucs2(body)),
    }
}

/// Whether every character of `body` is in the GSM 03.38 default alphabet
/// or its extension table (an empty body is).
pub fn is_gsm7(body: &str) -> bool {
    body.chars().all(|c| septets(c).is_some())
}

/// Septets `c` takes in GSM-7: 1 for a basic character, 2 for an extension
/// character, `None` for a character GSM-7 cannot carry.
fn septets(c: char) -> Option<u32> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// `body` counted and packed as UCS-2.
fn ucs2(body: &str) -> SmsSegments {
    let widths = body.chars().map(|c| c.len_utf16() as u32).collect();
    pack(SmsEncoding::Ucs2, widths, UCS2_SINGLE, UCS2_PART)
}

/// Characters of the given widths put in parts: none for no units, one
/// when they fit in `single`, else parts of at most `part` units filled in
/// order, a character that does not fit in what is left of a part starting
/// the next one.
fn pack(encoding: SmsEncoding, widths: Vec<u32>, single: u32, part: u32) -> SmsSegments {
    let units: u32 = widths.iter().sum();
    let segments = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        let mut parts = 1;
        let mut used = 0;
        for width in widths {
            if used + width > part {
                parts += 1;
                used = width;
            } else {
                used += width;
            }
        }
        parts
    };
    SmsSegments {
        encoding,
        segments,
        units,
    }
}

#[cfg(test)]
mod tests;
