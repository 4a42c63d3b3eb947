//! An e-mail account's settings as a caller sends them, and their rules.
//! Zoho's servers are the defaults; any SMTP/IMAP provider works.

use serde::{Deserialize, Serialize};

use crate::EmailAddress;
use crate::integration::settings::{MailSecurity, SettingsError};

/// Fewest and most seconds between polls.
pub const POLL_INTERVAL_SECS: std::ops::RangeInclusive<u64> = 10..=300;
const DEFAULT_POLL_SECS: u64 = 30;
const MAX_SIGNATURE: usize = 10_000;
const MAX_FOLDERS: usize = 20;

fn invalid(field: &str, reason: &str) -> SettingsError {
    SettingsError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// A mail server: host, port, how the connection is secured, who logs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub security: MailSecurity,
    pub user: String,
}

/// The checked settings of an account (never its passwords).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxSettings {
    pub name: String,
    pub address: EmailAddress,
    pub smtp: Server,
    pub imap: Server,
    pub folders: Vec<String>,
    pub poll_interval_secs: u64,
    pub smtp_enabled: bool,
    pub imap_enabled: bool,
    pub is_default: bool,
    pub signature_html: Option<String>,
    pub signature_text: Option<String>,
}

/// The body of a create or update request; every field optional so that a
/// PATCH can name only what changes. `smtp_secure`/`imap_tls` are the
/// seed's spellings of the security settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_security: Option<MailSecurity>,
    pub smtp_secure: Option<bool>,
    pub smtp_user: Option<String>,
    pub smtp_password: Option<String>,
    pub imap_host: Option<String>,
    pub imap_port: Option<u16>,
    pub imap_security: Option<MailSecurity>,
    pub imap_tls: Option<bool>,
    pub imap_user: Option<String>,
    pub imap_password: Option<String>,
    pub folders: Option<Vec<String>>,
    pub poll_interval_secs: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub smtp_enabled: Option<bool>,
    pub imap_enabled: Option<bool>,
    pub is_default: Option<bool>,
    pub signature_html: Option<String>,
    pub signature_text: Option<String>,
}

fn host(field: &str, text: &str) -> Result<String, SettingsError> {
    let host = text.trim().to_lowercase();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    ok.then_some(host).ok_or_else(|| invalid(field, "not a host name"))
}

fn text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, SettingsError> {
    match value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > max => Err(invalid(field, &format!("must be at most {max} characters"))),
        other => Ok(other),
    }
}

fn security(explicit: Option<MailSecurity>, flag: Option<bool>, port: u16, implicit_port: u16) -> MailSecurity {
    match (explicit, flag) {
        (Some(security), _) => security,
        (None, Some(true)) => MailSecurity::Tls,
        (None, Some(false)) => MailSecurity::Starttls,
        (None, None) if port == implicit_port => MailSecurity::Tls,
        (None, None) => MailSecurity::Starttls,
    }
}

fn folders(list: Option<Vec<String>>) -> Result<Vec<String>, SettingsError> {
    let list = list.unwrap_or_else(|| vec!["INBOX".into()]);
    if list.is_empty() || list.len() > MAX_FOLDERS {
        return Err(invalid("folders", "name 1 to 20 folders"));
    }
    let bad = |f: &String| f.trim().is_empty() || f.len() > 255 || f.chars().any(char::is_control);
    match list.iter().any(bad) {
        true => Err(invalid("folders", "a folder name is 1 to 255 printable characters")),
        false => Ok(list.into_iter().map(|f| f.trim().to_string()).collect()),
    }
}

fn poll_interval(secs: Option<u64>, ms: Option<u64>) -> Result<u64, SettingsError> {
    let (field, secs) = match (secs, ms) {
        (Some(s), _) => ("poll_interval_secs", s),
        (None, Some(ms)) => ("poll_interval_ms", ms / 1000),
        (None, None) => return Ok(DEFAULT_POLL_SECS),
    };
    match POLL_INTERVAL_SECS.contains(&secs) {
        true => Ok(secs),
        false => Err(invalid(field, "must be 10 to 300 seconds")),
    }
}

impl MailboxInput {
    /// The settings of a new account; unset servers default to Zoho's.
    pub fn create(self) -> Result<MailboxSettings, SettingsError> {
        let address = EmailAddress::parse(self.email.as_deref().unwrap_or_default())
            .map_err(|_| invalid("email", "not a valid e-mail address"))?;
        let smtp_port = self.smtp_port.unwrap_or(587);
        let imap_port = self.imap_port.unwrap_or(993);
        let user = |given: Option<String>| given.filter(|u| !u.trim().is_empty()).unwrap_or(address.to_string());
        let settings = MailboxSettings {
            name: text("name", self.name, 100)?.unwrap_or(address.to_string()),
            smtp: Server {
                host: host("smtp_host", self.smtp_host.as_deref().unwrap_or("smtp.zoho.com"))?,
                port: smtp_port,
                security: security(self.smtp_security, self.smtp_secure, smtp_port, 465),
                user: user(self.smtp_user),
            },
            imap: Server {
                host: host("imap_host", self.imap_host.as_deref().unwrap_or("imap.zoho.com"))?,
                port: imap_port,
                security: security(self.imap_security, self.imap_tls, imap_port, 993),
                user: user(self.imap_user),
            },
            address,
            folders: folders(self.folders)?,
            poll_interval_secs: poll_interval(self.poll_interval_secs, self.poll_interval_ms)?,
            smtp_enabled: self.smtp_enabled.unwrap_or(true),
            imap_enabled: self.imap_enabled.unwrap_or(true),
            is_default: self.is_default.unwrap_or(false),
            signature_html: text("signature_html", self.signature_html, MAX_SIGNATURE)?,
            signature_text: text("signature_text", self.signature_text, MAX_SIGNATURE)?,
        };
        settings.checked()
    }

    /// `current` with the fields this input names changed.
    pub fn update(self, current: &MailboxSettings) -> Result<MailboxSettings, SettingsError> {
        let c = current.clone();
        let merged = MailboxInput {
            name: self.name.or(Some(c.name)),
            email: self.email.or(Some(c.address.to_string())),
            smtp_host: self.smtp_host.or(Some(c.smtp.host)),
            smtp_port: self.smtp_port.or(Some(c.smtp.port)),
            smtp_security: self
                .smtp_security
                .or((self.smtp_secure.is_none()).then_some(c.smtp.security)),
            smtp_secure: self.smtp_secure,
            smtp_user: self.smtp_user.or(Some(c.smtp.user)),
            smtp_password: None,
            imap_host: self.imap_host.or(Some(c.imap.host)),
            imap_port: self.imap_port.or(Some(c.imap.port)),
            imap_security: self
                .imap_security
                .or((self.imap_tls.is_none()).then_some(c.imap.security)),
            imap_tls: self.imap_tls,
            imap_user: self.imap_user.or(Some(c.imap.user)),
            imap_password: None,
            folders: self.folders.or(Some(c.folders)),
            poll_interval_secs: self
                .poll_interval_secs
                .or(self.poll_interval_ms.is_none().then_some(c.poll_interval_secs)),
            poll_interval_ms: self.poll_interval_ms,
            smtp_enabled: self.smtp_enabled.or(Some(c.smtp_enabled)),
            imap_enabled: self.imap_enabled.or(Some(c.imap_enabled)),
            is_default: self.is_default.or(Some(c.is_default)),
            signature_html: self.signature_html.or(c.signature_html),
            signature_text: self.signature_text.or(c.signature_text),
        };
        merged.create()
    }
}

impl MailboxSettings {
    fn checked(self) -> Result<Self, SettingsError> {
        for (field, server) in [("smtp_port", &self.smtp), ("imap_port", &self.imap)] {
            if server.port == 0 {
                return Err(invalid(field, "must be a port number"));
            }
        }
        for (field, server) in [("smtp_user", &self.smtp), ("imap_user", &self.imap)] {
            if server.user.len() > 255 {
                return Err(invalid(field, "must be at most 255 characters"));
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests;
