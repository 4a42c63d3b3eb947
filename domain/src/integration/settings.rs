//! The non-secret settings of each integration kind, and their rules.
//! Secrets (API tokens, passwords) never pass through here: they are sealed
//! before a command is built.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::IntegrationKind;

/// Longest free-text message accepted (WhatsApp's text limit).
pub const MAX_MESSAGE_LEN: usize = 4096;

/// A field that breaks a rule, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SettingsError {
    pub field: String,
    pub reason: String,
}

fn invalid(field: &str, reason: &str) -> SettingsError {
    SettingsError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Exotel phone numbers: E.164 (`+91…`) or Exotel's 0-prefixed national
/// form (`0` and ten digits), normalised to E.164.
pub fn phone_number(field: &str, text: &str) -> Result<String, SettingsError> {
    let text = text.trim();
    let parsed = phonenumber::parse(Some(phonenumber::country::Id::IN), text)
        .map_err(|_| invalid(field, "not a phone number; use +91XXXXXXXXXX or 0XXXXXXXXXX"))?;
    let national_form = text.starts_with('0') && text.len() == 11 && text.chars().all(|c| c.is_ascii_digit());
    if !(text.starts_with('+') || national_form) {
        return Err(invalid(
            field,
            "use E.164 (+91XXXXXXXXXX) or the 0-prefixed national form (0XXXXXXXXXX)",
        ));
    }
    if !phonenumber::is_valid(&parsed) {
        return Err(invalid(field, "not a valid number"));
    }
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

fn required(field: &str, text: &str, max: usize) -> Result<String, SettingsError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid(field, "is required"));
    }
    if text.chars().count() > max {
        return Err(invalid(field, &format!("must be at most {max} characters")));
    }
    Ok(text.to_string())
}

fn account_sid(text: &str) -> Result<String, SettingsError> {
    let sid = required("account_sid", text, 64)?;
    if !sid.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(invalid("account_sid", "letters, digits, '_' and '-' only"));
    }
    Ok(sid)
}

/// Exotel's own hosts by name, or an `http(s)` URL of a host and port alone
/// (a simulator): parsed, never matched by prefix, and kept in its
/// normalised form. Whether its address may be reached is the outbound
/// rule's to decide when it is requested.
fn exotel_host(text: &Option<String>) -> Result<String, SettingsError> {
    const REASON: &str =
        "api.exotel.com, api.in.exotel.com, or an http(s) URL of a host and port alone (no user name, path or query)";
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok("api.exotel.com".into()),
        Some(host @ ("api.exotel.com" | "api.in.exotel.com")) => Ok(host.into()),
        Some(text) => {
            let url = crate::outbound_url::parse(text).map_err(|e| invalid("api_host", &format!("{REASON}: {e}")))?;
            let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
            match bare {
                true => Ok(url.origin().ascii_serialization()),
                false => Err(invalid("api_host", REASON)),
            }
        }
    }
}

fn host_name(field: &str, text: &str) -> Result<String, SettingsError> {
    let host = required(field, text, 253)?;
    let ok = host
        .split('.')
        .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !ok {
        return Err(invalid(field, "not a host name"));
    }
    Ok(host.to_lowercase())
}

/// Exotel voice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExotelPhone {
    pub account_sid: String,
    pub virtual_number: String,
    #[serde(default)]
    pub caller_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub api_host: Option<String>,
}

/// Exotel SMS, with India's DLT registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExotelSms {
    pub account_sid: String,
    pub sender_id: String,
    #[serde(default)]
    pub dlt_entity_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub api_host: Option<String>,
}

/// One day's opening hours, or closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayHours {
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub closed: bool,
}

/// When the business answers, per weekday, in one time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessHours {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(flatten)]
    pub days: BTreeMap<String, DayHours>,
}

fn default_timezone() -> String {
    "Asia/Kolkata".into()
}

/// Exotel WhatsApp Business.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExotelWhatsapp {
    pub account_sid: String,
    pub whatsapp_number: String,
    /// The WhatsApp Business Account whose templates are synced.
    #[serde(default)]
    pub waba_id: Option<String>,
    #[serde(default)]
    pub business_name: Option<String>,
    #[serde(default)]
    pub auto_reply_enabled: bool,
    #[serde(default)]
    pub auto_reply_message: Option<String>,
    #[serde(default)]
    pub business_hours: Option<BusinessHours>,
    /// Sent once to a contact who never wrote before, when auto-replies are on.
    #[serde(default)]
    pub welcome_message: Option<String>,
    /// Tried before the welcome and away messages, lowest priority first.
    #[serde(default)]
    pub keyword_rules: Vec<crate::auto_reply::KeywordRule>,
    /// At most one auto-reply per contact within this many minutes (60 when unset).
    #[serde(default)]
    pub auto_reply_cooldown_minutes: Option<u32>,
    #[serde(default)]
    pub api_host: Option<String>,
}

/// How a mail connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailSecurity {
    Starttls,
    Tls,
    /// Only for a relay on the same machine or network.
    None,
}

/// A mailbox over SMTP and IMAP (Zoho presets by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZohoMail {
    pub email: String,
    #[serde(default = "zoho_smtp")]
    pub smtp_host: String,
    #[serde(default = "starttls_port")]
    pub smtp_port: u16,
    #[serde(default = "starttls")]
    pub smtp_security: MailSecurity,
    #[serde(default = "zoho_imap")]
    pub imap_host: String,
    #[serde(default = "imaps_port")]
    pub imap_port: u16,
    #[serde(default)]
    pub display_name: Option<String>,
}

fn zoho_smtp() -> String {
    "smtp.zoho.com".into()
}
fn zoho_imap() -> String {
    "imap.zoho.com".into()
}
fn starttls_port() -> u16 {
    587
}
fn imaps_port() -> u16 {
    993
}
fn starttls() -> MailSecurity {
    MailSecurity::Starttls
}

/// The settings of one integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IntegrationSettings {
    ExotelPhone(ExotelPhone),
    ExotelSms(ExotelSms),
    ExotelWhatsapp(ExotelWhatsapp),
    ZohoMail(ZohoMail),
}

impl IntegrationSettings {
    pub fn kind(&self) -> IntegrationKind {
        match self {
            IntegrationSettings::ExotelPhone(_) => IntegrationKind::ExotelPhone,
            IntegrationSettings::ExotelSms(_) => IntegrationKind::ExotelSms,
            IntegrationSettings::ExotelWhatsapp(_) => IntegrationKind::ExotelWhatsapp,
            IntegrationSettings::ZohoMail(_) => IntegrationKind::ZohoMail,
        }
    }

    /// The settings checked and normalised, or the first field at fault.
    pub fn validated(self) -> Result<Self, SettingsError> {
        Ok(match self {
            IntegrationSettings::ExotelPhone(s) => IntegrationSettings::ExotelPhone(ExotelPhone {
                account_sid: account_sid(&s.account_sid)?,
                virtual_number: phone_number("virtual_number", &s.virtual_number)?,
                caller_id: s
                    .caller_id
                    .filter(|c| !c.trim().is_empty())
                    .map(|c| phone_number("caller_id", &c))
                    .transpose()?,
                display_name: optional_text("display_name", s.display_name, 255)?,
                api_host: Some(exotel_host(&s.api_host)?),
            }),
            IntegrationSettings::ExotelSms(s) => IntegrationSettings::ExotelSms(validated_sms(s)?),
            IntegrationSettings::ExotelWhatsapp(s) => IntegrationSettings::ExotelWhatsapp(validated_whatsapp(s)?),
            IntegrationSettings::ZohoMail(s) => IntegrationSettings::ZohoMail(validated_mail(s)?),
        })
    }

    /// The name shown for the integration.
    pub fn display_name(&self) -> Option<&str> {
        match self {
            IntegrationSettings::ExotelPhone(s) => s.display_name.as_deref(),
            IntegrationSettings::ExotelSms(s) => s.display_name.as_deref(),
            IntegrationSettings::ExotelWhatsapp(s) => s.business_name.as_deref(),
            IntegrationSettings::ZohoMail(s) => s.display_name.as_deref(),
        }
    }
}

fn optional_text(field: &str, text: Option<String>, max: usize) -> Result<Option<String>, SettingsError> {
    text.filter(|t| !t.trim().is_empty())
        .map(|t| required(field, &t, max))
        .transpose()
}

fn validated_sms(s: ExotelSms) -> Result<ExotelSms, SettingsError> {
    let sender = required("sender_id", &s.sender_id, 6)?;
    if sender.len() != 6 || !sender.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid("sender_id", "a DLT header is six letters or digits"));
    }
    let entity = s
        .dlt_entity_id
        .filter(|e| !e.trim().is_empty())
        .map(|e| e.trim().to_string());
    if entity
        .as_ref()
        .is_some_and(|e| e.len() != 19 || !e.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(invalid("dlt_entity_id", "a DLT principal entity id is 19 digits"));
    }
    Ok(ExotelSms {
        account_sid: account_sid(&s.account_sid)?,
        sender_id: sender.to_uppercase(),
        dlt_entity_id: entity,
        display_name: optional_text("display_name", s.display_name, 255)?,
        api_host: Some(exotel_host(&s.api_host)?),
    })
}

/// A WhatsApp Business Account id: 1 to 64 letters, digits, `-` or `_`.
fn waba_id(id: Option<String>) -> Result<Option<String>, SettingsError> {
    let Some(id) = id.map(|i| i.trim().to_string()) else {
        return Ok(None);
    };
    let ok = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match ok {
        true => Ok(Some(id)),
        false => Err(invalid(
            "waba_id",
            "a WhatsApp Business Account id is 1 to 64 letters, digits, - or _",
        )),
    }
}

fn validated_whatsapp(s: ExotelWhatsapp) -> Result<ExotelWhatsapp, SettingsError> {
    if !s.whatsapp_number.trim().starts_with('+') {
        return Err(invalid(
            "whatsapp_number",
            "a WhatsApp number is in E.164 form (+91XXXXXXXXXX)",
        ));
    }
    let message = optional_text("auto_reply_message", s.auto_reply_message, MAX_MESSAGE_LEN)?;
    let welcome = optional_text("welcome_message", s.welcome_message, MAX_MESSAGE_LEN)?;
    let keyword_rules = validated_keywords(s.keyword_rules)?;
    if s.auto_reply_enabled && message.is_none() && welcome.is_none() && keyword_rules.is_empty() {
        return Err(invalid(
            "auto_reply_message",
            "is required when auto_reply_enabled is true, unless a welcome message or keyword rules are given",
        ));
    }
    Ok(ExotelWhatsapp {
        account_sid: account_sid(&s.account_sid)?,
        whatsapp_number: phone_number("whatsapp_number", &s.whatsapp_number)?,
        waba_id: waba_id(s.waba_id)?,
        business_name: optional_text("business_name", s.business_name, 255)?,
        auto_reply_enabled: s.auto_reply_enabled,
        auto_reply_message: message,
        business_hours: s.business_hours.map(validated_hours).transpose()?,
        welcome_message: welcome,
        keyword_rules,
        auto_reply_cooldown_minutes: match s.auto_reply_cooldown_minutes {
            Some(m) if !(1..=crate::auto_reply::MAX_COOLDOWN_MINUTES).contains(&m) => {
                return Err(invalid("auto_reply_cooldown_minutes", "is 1 to 10080 minutes (a week)"));
            }
            other => other,
        },
        api_host: Some(exotel_host(&s.api_host)?),
    })
}

/// Keyword rules with their keywords and replies trimmed, or the first at fault.
fn validated_keywords(
    rules: Vec<crate::auto_reply::KeywordRule>,
) -> Result<Vec<crate::auto_reply::KeywordRule>, SettingsError> {
    use crate::auto_reply::{KeywordMatch, MAX_KEYWORD_CHARS, MAX_KEYWORD_RULES, compile};
    if rules.len() > MAX_KEYWORD_RULES {
        return Err(invalid("keyword_rules", "at most 50 keyword rules"));
    }
    let mut kept = Vec::with_capacity(rules.len());
    for (i, rule) in rules.into_iter().enumerate() {
        let keyword = required(&format!("keyword_rules[{i}].keyword"), &rule.keyword, MAX_KEYWORD_CHARS)?;
        if rule.match_type == KeywordMatch::Regex
            && let Err(error) = compile(&keyword)
        {
            let reason = match error {
                regex::Error::CompiledTooBig(_) => "the pattern is larger than 64 KiB compiled".to_string(),
                other => format!(
                    "not a valid regular expression: {}",
                    other.to_string().lines().last().unwrap_or_default()
                ),
            };
            return Err(invalid(&format!("keyword_rules[{i}].keyword"), &reason));
        }
        let reply = required(&format!("keyword_rules[{i}].reply"), &rule.reply, MAX_MESSAGE_LEN)?;
        kept.push(crate::auto_reply::KeywordRule { keyword, reply, ..rule });
    }
    Ok(kept)
}

/// The settings' name of a weekday (`monday` …).
pub fn weekday_name(day: chrono::Weekday) -> &'static str {
    WEEKDAYS[day.num_days_from_monday() as usize]
}

/// Whether two phone numbers are the same number, in whatever form.
pub fn same_number(a: &str, b: &str) -> bool {
    match (phone_number("", a), phone_number("", b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.trim() == b.trim(),
    }
}

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn validated_hours(hours: BusinessHours) -> Result<BusinessHours, SettingsError> {
    if hours.timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(invalid(
            "business_hours.timezone",
            "not an IANA time zone such as Asia/Kolkata",
        ));
    }
    for (day, times) in &hours.days {
        let field = format!("business_hours.{day}");
        if !WEEKDAYS.contains(&day.as_str()) {
            return Err(invalid(&field, "not a weekday"));
        }
        if times.closed {
            continue;
        }
        let parse = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| chrono::NaiveTime::parse_from_str(t, "%H:%M").ok())
        };
        match (parse(&times.start), parse(&times.end)) {
            (Some(start), Some(end)) if start < end => {}
            _ => {
                return Err(invalid(
                    &field,
                    "give start and end as HH:MM with start before end, or closed: true",
                ));
            }
        }
    }
    Ok(hours)
}

fn validated_mail(s: ZohoMail) -> Result<ZohoMail, SettingsError> {
    let email = crate::EmailAddress::parse(&s.email).map_err(|_| invalid("email", "not a valid e-mail address"))?;
    if s.smtp_port == 0 {
        return Err(invalid("smtp_port", "must be a port number"));
    }
    if s.imap_port == 0 {
        return Err(invalid("imap_port", "must be a port number"));
    }
    Ok(ZohoMail {
        email: email.to_string(),
        smtp_host: host_name("smtp_host", &s.smtp_host)?,
        smtp_port: s.smtp_port,
        smtp_security: s.smtp_security,
        imap_host: host_name("imap_host", &s.imap_host)?,
        imap_port: s.imap_port,
        display_name: optional_text("display_name", s.display_name, 255)?,
    })
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
