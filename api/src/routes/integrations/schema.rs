//! What the integration routes take and answer, per kind: typed, refusing
//! unknown and duplicate fields. Bodies are checked again by
//! `application::integrations::parse_configuration`, the one place their
//! rules live.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use domain::integration::IntegrationSettings;
use domain::integration::settings::{
    BusinessHours, DayHours, ExotelPhone, ExotelSms, ExotelWhatsapp, MailSecurity, ZohoMail,
};

/// The kinds of integration, as the `{type}` of a path.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationType {
    ExotelPhone,
    ExotelSms,
    ExotelWhatsapp,
    ZohoMail,
}

/// Exotel voice: settings and the account's key and token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExotelPhoneConfiguration {
    pub account_sid: String,
    /// Secret: sealed, never answered.
    pub api_key: String,
    /// Secret: sealed, never answered.
    pub api_token: String,
    /// E.164 (`+91…`) or `0` and ten digits.
    pub virtual_number: String,
    pub caller_id: Option<String>,
    pub display_name: Option<String>,
    /// `api.exotel.com` (default), `api.in.exotel.com`, or a loopback simulator URL.
    pub api_host: Option<String>,
    /// Save without the connection test.
    pub save_unverified: Option<bool>,
}

/// Exotel SMS with India's DLT registration: settings and secrets.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExotelSmsConfiguration {
    pub account_sid: String,
    /// Secret: sealed, never answered.
    pub api_key: String,
    /// Secret: sealed, never answered.
    pub api_token: String,
    /// The six-character DLT header.
    pub sender_id: String,
    /// 19 digits.
    pub dlt_entity_id: Option<String>,
    pub display_name: Option<String>,
    pub api_host: Option<String>,
    pub save_unverified: Option<bool>,
}

/// Exotel WhatsApp Business: settings and secrets.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExotelWhatsappConfiguration {
    pub account_sid: String,
    /// Secret: sealed, never answered.
    pub api_key: String,
    /// Secret: sealed, never answered.
    pub api_token: String,
    /// E.164.
    pub whatsapp_number: String,
    /// The WhatsApp Business Account whose templates are synced.
    pub waba_id: Option<String>,
    pub business_name: Option<String>,
    pub auto_reply_enabled: Option<bool>,
    /// The away message, sent outside business hours and on holidays.
    /// With auto replies on, this, a welcome message or a keyword rule is required.
    pub auto_reply_message: Option<String>,
    pub business_hours: Option<Box<BusinessHoursBody>>,
    /// Sent once to a contact who never wrote before.
    pub welcome_message: Option<String>,
    /// Tried before the welcome and away messages, lowest `priority` first; the first match answers.
    #[schema(max_items = 50)]
    pub keyword_rules: Option<Vec<KeywordRuleBody>>,
    /// At most one auto-reply per contact within this many minutes (default 60).
    #[schema(minimum = 1, maximum = 10080)]
    pub auto_reply_cooldown_minutes: Option<u32>,
    pub api_host: Option<String>,
    pub save_unverified: Option<bool>,
}

/// How a keyword rule matches a customer's text.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeywordMatchBody {
    /// The whole text, ignoring case and surrounding space.
    Exact,
    /// Anywhere in the text, ignoring case.
    Contains,
    /// A case-insensitive regular expression of at most 64 KiB compiled.
    Regex,
}

/// A keyword auto-reply.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeywordRuleBody {
    #[schema(max_length = 200)]
    pub keyword: String,
    /// `contains` when not given.
    pub match_type: Option<KeywordMatchBody>,
    pub reply: String,
    /// Lower numbers are tried first (0 when not given).
    pub priority: Option<i32>,
}

impl From<&domain::auto_reply::KeywordRule> for KeywordRuleBody {
    fn from(rule: &domain::auto_reply::KeywordRule) -> Self {
        use domain::auto_reply::KeywordMatch as M;
        Self {
            keyword: rule.keyword.clone(),
            match_type: Some(match rule.match_type {
                M::Exact => KeywordMatchBody::Exact,
                M::Contains => KeywordMatchBody::Contains,
                M::Regex => KeywordMatchBody::Regex,
            }),
            reply: rule.reply.clone(),
            priority: Some(rule.priority),
        }
    }
}

/// A mailbox over SMTP and IMAP (Zoho's servers by default): settings and passwords.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZohoMailConfiguration {
    pub email: String,
    /// Secret: sealed, never answered.
    pub smtp_password: String,
    /// Secret: sealed, never answered.
    pub imap_password: String,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_security: Option<Security>,
    pub imap_host: Option<String>,
    pub imap_port: Option<u16>,
    pub display_name: Option<String>,
    pub save_unverified: Option<bool>,
}

/// The body of `POST /settings/integrations/{type}` and `…/{type}/test`:
/// the one of these that `{type}` names.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Configuration {
    ExotelPhone(ExotelPhoneConfiguration),
    ExotelSms(ExotelSmsConfiguration),
    ExotelWhatsapp(ExotelWhatsappConfiguration),
    ZohoMail(ZohoMailConfiguration),
}

/// How a mail connection is secured.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    Starttls,
    Tls,
    /// Only for a relay on the same machine or network.
    None,
}

impl From<MailSecurity> for Security {
    fn from(security: MailSecurity) -> Self {
        match security {
            MailSecurity::Starttls => Security::Starttls,
            MailSecurity::Tls => Security::Tls,
            MailSecurity::None => Security::None,
        }
    }
}

/// When the business answers, per weekday, in one time zone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// An IANA time zone (default `Asia/Kolkata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monday: Option<Hours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuesday: Option<Hours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wednesday: Option<Hours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thursday: Option<Hours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friday: Option<Hours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saturday: Option<Hours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sunday: Option<Hours>,
}

/// One day's opening hours (`HH:MM`, start before end), or closed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<bool>,
}

impl From<&DayHours> for Hours {
    fn from(day: &DayHours) -> Self {
        Self {
            start: day.start.clone(),
            end: day.end.clone(),
            closed: Some(day.closed),
        }
    }
}

impl From<&BusinessHours> for BusinessHoursBody {
    fn from(hours: &BusinessHours) -> Self {
        let day = |name: &str| hours.days.get(name).map(Hours::from);
        Self {
            enabled: Some(hours.enabled),
            timezone: Some(hours.timezone.clone()),
            monday: day("monday"),
            tuesday: day("tuesday"),
            wednesday: day("wednesday"),
            thursday: day("thursday"),
            friday: day("friday"),
            saturday: day("saturday"),
            sunday: day("sunday"),
        }
    }
}

/// Exotel voice settings as saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExotelPhoneSettings {
    pub account_sid: String,
    pub virtual_number: String,
    pub caller_id: Option<String>,
    pub display_name: Option<String>,
    pub api_host: Option<String>,
}

/// Exotel SMS settings as saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExotelSmsSettings {
    pub account_sid: String,
    pub sender_id: String,
    pub dlt_entity_id: Option<String>,
    pub display_name: Option<String>,
    pub api_host: Option<String>,
}

/// Exotel WhatsApp settings as saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExotelWhatsappSettings {
    pub account_sid: String,
    pub whatsapp_number: String,
    pub waba_id: Option<String>,
    pub business_name: Option<String>,
    pub auto_reply_enabled: bool,
    pub auto_reply_message: Option<String>,
    pub business_hours: Option<Box<BusinessHoursBody>>,
    pub welcome_message: Option<String>,
    pub keyword_rules: Vec<KeywordRuleBody>,
    pub auto_reply_cooldown_minutes: Option<u32>,
    pub api_host: Option<String>,
}

/// Mailbox settings as saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZohoMailSettings {
    pub email: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: Security,
    pub imap_host: String,
    pub imap_port: u16,
    pub display_name: Option<String>,
}

/// An integration's non-secret settings, the shape its type's.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SettingsResponse {
    ExotelPhone(ExotelPhoneSettings),
    ExotelSms(ExotelSmsSettings),
    ExotelWhatsapp(ExotelWhatsappSettings),
    ZohoMail(ZohoMailSettings),
}

impl From<&IntegrationSettings> for SettingsResponse {
    fn from(settings: &IntegrationSettings) -> Self {
        match settings {
            IntegrationSettings::ExotelPhone(s) => SettingsResponse::ExotelPhone(phone(s)),
            IntegrationSettings::ExotelSms(s) => SettingsResponse::ExotelSms(sms(s)),
            IntegrationSettings::ExotelWhatsapp(s) => SettingsResponse::ExotelWhatsapp(whatsapp(s)),
            IntegrationSettings::ZohoMail(s) => SettingsResponse::ZohoMail(mail(s)),
        }
    }
}

fn phone(s: &ExotelPhone) -> ExotelPhoneSettings {
    ExotelPhoneSettings {
        account_sid: s.account_sid.clone(),
        virtual_number: s.virtual_number.clone(),
        caller_id: s.caller_id.clone(),
        display_name: s.display_name.clone(),
        api_host: s.api_host.clone(),
    }
}

fn sms(s: &ExotelSms) -> ExotelSmsSettings {
    ExotelSmsSettings {
        account_sid: s.account_sid.clone(),
        sender_id: s.sender_id.clone(),
        dlt_entity_id: s.dlt_entity_id.clone(),
        display_name: s.display_name.clone(),
        api_host: s.api_host.clone(),
    }
}

fn whatsapp(s: &ExotelWhatsapp) -> ExotelWhatsappSettings {
    ExotelWhatsappSettings {
        account_sid: s.account_sid.clone(),
        whatsapp_number: s.whatsapp_number.clone(),
        waba_id: s.waba_id.clone(),
        business_name: s.business_name.clone(),
        auto_reply_enabled: s.auto_reply_enabled,
        auto_reply_message: s.auto_reply_message.clone(),
        business_hours: s.business_hours.as_ref().map(|h| Box::new(BusinessHoursBody::from(h))),
        welcome_message: s.welcome_message.clone(),
        keyword_rules: s.keyword_rules.iter().map(KeywordRuleBody::from).collect(),
        auto_reply_cooldown_minutes: s.auto_reply_cooldown_minutes,
        api_host: s.api_host.clone(),
    }
}

fn mail(s: &ZohoMail) -> ZohoMailSettings {
    ZohoMailSettings {
        email: s.email.clone(),
        smtp_host: s.smtp_host.clone(),
        smtp_port: s.smtp_port,
        smtp_security: s.smtp_security.into(),
        imap_host: s.imap_host.clone(),
        imap_port: s.imap_port,
        display_name: s.display_name.clone(),
    }
}

/// A fingerprint per secret field, by field name.
pub type Fingerprints = BTreeMap<String, String>;

/// What a passed connection test found; which fields appear depends on the type.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct TestDetails {
    #[serde(default)]
    pub account_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_number_active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_number_active: Option<bool>,
}

/// Why a connection test failed, as the provider said.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailureDetails {
    /// The provider's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// The provider's own words, when it gave any.
    pub exotel_error: Option<String>,
}

/// The outcome of a connection test: `{success: true, message, data}` when
/// it passed, `{success: false, error, details}` when the provider refused.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TestResponse {
    Passed {
        /// Always true.
        success: bool,
        message: String,
        data: TestDetails,
    },
    Failed {
        /// Always false.
        success: bool,
        error: String,
        details: FailureDetails,
    },
}

/// How each kind is configured, as a person reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigurationStatus {
    pub email: EmailStatus,
    pub phone: ChannelStatus,
    pub whatsapp: ChannelStatus,
    pub sms: ChannelStatus,
}

/// The organisation's e-mail accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailStatus {
    /// At least one account exists.
    pub configured: bool,
    pub accounts: usize,
    /// The address of the default account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_account: Option<String>,
}

/// An Exotel channel: whether it is configured and, when it is, what
/// identifies it.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ChannelStatus {
    pub configured: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<&'static str>,
    /// Voice: the active numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numbers: Option<usize>,
    /// WhatsApp: the number messages come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// SMS: the sender id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_id: Option<String>,
}

impl ChannelStatus {
    /// A configured channel of Exotel's, its details to be added.
    pub fn exotel() -> Self {
        Self {
            configured: true,
            provider: Some("exotel"),
            ..Self::default()
        }
    }
}
