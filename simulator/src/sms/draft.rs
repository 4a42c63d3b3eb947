//! Reading an SMS request: sender, recipients, body and options, with
//! Exotel's documented `RestException` codes for what it refuses.
//!
//! Exotel documents the codes but not which rule each answers; where one
//! code could fit several rules (40200 "empty body", 40205/40210 "From")
//! the choice here is a guess.

use std::collections::BTreeMap;

use super::Rejection;
use crate::callbacks::Encoding;
use crate::request::{Form, field, is_http_url};
use crate::state::{Account, national};

/// Most recipients (`Sms/send`) or messages (`Sms/bulksend`) per request.
pub const MAX_PER_REQUEST: usize = 100;

/// The longest `Body` Exotel takes, in characters.
pub const MAX_BODY: usize = 2000;

/// What is sent, before it is addressed.
#[derive(Debug, Clone)]
pub struct Message {
    /// As Exotel echoes it: `<ExoPhone>/<SenderId>`, or `/<SenderId>`.
    pub from: String,
    pub body: String,
    pub sms_type: String,
    pub units: u32,
    pub custom_field: Option<String>,
    pub status_callback: Option<String>,
    pub encoding: Encoding,
}

/// One SMS to one number.
#[derive(Debug, Clone)]
pub struct Draft {
    pub to: String,
    /// No SMS reaches this number: it fails as an invalid destination.
    pub unreachable: bool,
    pub message: Message,
}

/// `Sms/send`: one body to each `To` (single, repeated, or `To[0]`, `To[1]`…).
/// Also says whether the answer is a list (more than one `To`, or array keys).
pub fn static_send(account: &Account, form: &Form) -> Result<(bool, Vec<Draft>), Rejection> {
    if form.is_empty() {
        return Err(Rejection::bad(40200, "The request is empty"));
    }
    let recipients: Vec<&(String, String)> = form.iter().filter(|(k, _)| is_to(k)).collect();
    let list = recipients.len() > 1 || recipients.iter().any(|(k, _)| k != "To");
    let numbers: Vec<&str> = recipients
        .iter()
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .collect();
    let message = message(account, form)?;
    if numbers.is_empty() {
        return Err(Rejection::bad(40203, "To is a mandatory parameter"));
    }
    if numbers.len() > MAX_PER_REQUEST {
        return Err(Rejection::bad(40406, "No more than 100 numbers in To per request"));
    }
    let drafts: Vec<Draft> = numbers.iter().map(|to| address(&message, to)).collect();
    reachable(drafts).map(|drafts| (list, drafts))
}

/// `Sms/bulksend`: `Messages[i][To]`, `Messages[i][Body]` and any other
/// parameter per message (`Message[i][…]` is taken too), the request's own
/// parameters serving as defaults. The answer is always a list.
pub fn bulk_send(account: &Account, form: &Form) -> Result<(bool, Vec<Draft>), Rejection> {
    let (defaults, groups) = split_messages(form);
    if groups.is_empty() {
        return Err(Rejection::bad(40201, "Messages is a mandatory parameter"));
    }
    if groups.len() > MAX_PER_REQUEST {
        return Err(Rejection::bad(40400, "No more than 100 Messages per request"));
    }
    let mut drafts = Vec::new();
    for (index, mut fields) in groups {
        fields.extend(defaults.iter().cloned());
        let message = message(account, &fields).map_err(|r| r.at(&format!("Messages[{index}]")))?;
        let to =
            field(&fields, "To").ok_or_else(|| Rejection::bad(40203, &format!("Messages[{index}][To] is missing")))?;
        drafts.push(address(&message, to));
    }
    reachable(drafts).map(|drafts| (true, drafts))
}

fn is_to(key: &str) -> bool {
    key == "To" || (key.starts_with("To[") && key.ends_with(']'))
}

/// The request's own fields, and each message's fields by index.
fn split_messages(form: &Form) -> (Form, BTreeMap<usize, Form>) {
    let mut defaults = Form::new();
    let mut groups: BTreeMap<usize, Form> = BTreeMap::new();
    for (key, value) in form {
        match message_key(key) {
            Some((index, name)) => groups.entry(index).or_default().push((name, value.clone())),
            None => defaults.push((key.clone(), value.clone())),
        }
    }
    (defaults, groups)
}

/// `Messages[3][To]` → `(3, "To")`.
fn message_key(key: &str) -> Option<(usize, String)> {
    let rest = key.strip_prefix("Messages[").or_else(|| key.strip_prefix("Message["))?;
    let (index, rest) = rest.split_once("][")?;
    Some((index.parse().ok()?, rest.strip_suffix(']')?.to_string()))
}

fn address(message: &Message, to: &str) -> Draft {
    let number = national(to);
    let first_digit = number.as_bytes().get(1);
    let mobile =
        number.len() == 11 && number.starts_with('0') && first_digit.is_some_and(|d| (b'6'..=b'9').contains(d));
    Draft {
        to: if number.is_empty() { to.to_string() } else { number },
        unreachable: !mobile,
        message: message.clone(),
    }
}

fn reachable(drafts: Vec<Draft>) -> Result<Vec<Draft>, Rejection> {
    if drafts.iter().all(|d| d.unreachable) {
        return Err(Rejection::bad(
            40203,
            "None of the numbers in To is a valid mobile number",
        ));
    }
    Ok(drafts)
}

/// Sender, body and options, checked in the order Exotel lists them.
fn message(account: &Account, form: &Form) -> Result<Message, Rejection> {
    let from = field(form, "From").ok_or_else(|| Rejection::bad(40205, "From is a mandatory parameter"))?;
    let (echo, header) = sender(account, from)?;
    let body = field(form, "Body").ok_or_else(|| Rejection::bad(40200, "Body is a mandatory parameter"))?;
    if body.chars().count() > MAX_BODY {
        return Err(Rejection::bad(40200, "Body is longer than 2000 characters"));
    }
    let unicode = match field(form, "EncodingType") {
        None => !is_gsm(body),
        Some("plain") => false,
        Some("unicode") => true,
        Some(_) => return Err(Rejection::bad(40209, "EncodingType must be plain or unicode")),
    };
    let sms_type = sms_type(form, header)?;
    check_options(form)?;
    Ok(Message {
        from: echo,
        body: body.to_string(),
        sms_type,
        units: units(body, unicode),
        custom_field: field(form, "CustomField").map(str::to_string),
        status_callback: field(form, "StatusCallback").map(str::to_string),
        encoding: Encoding::from_content_type(field(form, "StatusCallbackContentType")),
    })
}

/// `From` as Exotel echoes it, and the DLT header it sends under.
fn sender<'a>(account: &'a Account, from: &str) -> Result<(String, &'a str), Rejection> {
    let first = account.sender_ids.first().map(String::as_str).unwrap_or_default();
    let digits = national(from);
    if !digits.is_empty() && account.owns(&digits) {
        return Ok((format!("{digits}/{first}"), first));
    }
    match account.sender_ids.iter().find(|id| id.eq_ignore_ascii_case(from)) {
        Some(id) => Ok((format!("/{id}"), id.as_str())),
        None => Err(Rejection::bad(
            40210,
            &format!("From {from} is neither an ExoPhone nor a sender id of this account"),
        )),
    }
}

/// `SmsType`, by default promotional under a numeric (promotional) header
/// and transactional otherwise; TRAI keeps each header to its kind.
fn sms_type(form: &Form, header: &str) -> Result<String, Rejection> {
    let promotional_header = !header.is_empty() && header.chars().all(|c| c.is_ascii_digit());
    let default = if promotional_header {
        "promotional"
    } else {
        "transactional"
    };
    let sms_type = field(form, "SmsType").unwrap_or(default);
    if !["transactional", "transactional_opt_in", "promotional"].contains(&sms_type) {
        return Err(Rejection::bad(
            40204,
            "SmsType must be transactional, transactional_opt_in or promotional",
        ));
    }
    if !header.is_empty() && (sms_type == "promotional") != promotional_header {
        return Err(Rejection::bad(
            40206,
            &format!("Sender id {header} cannot send {sms_type} SMS"),
        ));
    }
    Ok(sms_type.to_string())
}

/// Options without a documented code of their own: a plain 400.
fn check_options(form: &Form) -> Result<(), Rejection> {
    if field(form, "Priority").is_some_and(|p| !["normal", "high"].contains(&p)) {
        return Err(Rejection::plain("Priority must be normal or high"));
    }
    if field(form, "ShortenUrl").is_some_and(|s| !["true", "false"].contains(&s)) {
        return Err(Rejection::plain("ShortenUrl must be true or false"));
    }
    for name in ["DltEntityId", "DltTemplateId"] {
        if field(form, name).is_some_and(|id| !id.chars().all(|c| c.is_ascii_digit())) {
            return Err(Rejection::plain(&format!("{name} must be the numeric id DLT issued")));
        }
    }
    let callback = field(form, "StatusCallback");
    if callback.is_some_and(|url| !is_http_url(url)) {
        return Err(Rejection::plain("StatusCallback must be an http(s) URL"));
    }
    Ok(())
}

/// GSM 03.38 characters; the extension set (`^{}\[~]|€`) takes two places.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION: &str = "^{}\\[~]|€\u{000C}";

fn is_gsm(body: &str) -> bool {
    body.chars().all(|c| GSM_BASIC.contains(c) || GSM_EXTENSION.contains(c))
}

/// SMS parts the body takes: 160 GSM places (153 each when split) or 70
/// UTF-16 units (67 each when split).
pub fn units(body: &str, unicode: bool) -> u32 {
    let (length, single, part) = if unicode {
        (body.encode_utf16().count(), 70, 67)
    } else {
        let places = body
            .chars()
            .map(|c| if GSM_EXTENSION.contains(c) { 2 } else { 1 })
            .sum();
        (places, 160, 153)
    };
    if length <= single {
        1
    } else {
        length.div_ceil(part) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_unicode_bodies_take_more_units() {
        assert_eq!(units(&"a".repeat(160), false), 1);
        assert_eq!(units(&"a".repeat(161), false), 2);
        assert_eq!(units(&"{".repeat(80), false), 1);
        assert_eq!(units(&"न".repeat(70), true), 1);
        assert_eq!(units(&"न".repeat(71), true), 2);
        assert!(is_gsm("Your OTP is 1234 @ £5") && !is_gsm("नमस्ते"));
    }

    #[test]
    fn message_keys_name_their_index_and_field() {
        assert_eq!(message_key("Messages[3][To]"), Some((3, "To".into())));
        assert_eq!(message_key("Message[0][Body]"), Some((0, "Body".into())));
        assert_eq!(message_key("Messages[x][To]"), None);
        assert_eq!(message_key("To[0]"), None);
    }
}
