use serde::{Deserialize, Serialize};

/// The kinds of integration an organisation can configure, one of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    ExotelPhone,
    ExotelSms,
    ExotelWhatsapp,
    ZohoMail,
}

impl IntegrationKind {
    pub const ALL: [IntegrationKind; 4] = [
        IntegrationKind::ExotelPhone,
        IntegrationKind::ExotelSms,
        IntegrationKind::ExotelWhatsapp,
        IntegrationKind::ZohoMail,
    ];

    /// The stable name used in URLs and events.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::ExotelPhone => "exotel_phone",
            IntegrationKind::ExotelSms => "exotel_sms",
            IntegrationKind::ExotelWhatsapp => "exotel_whatsapp",
            IntegrationKind::ZohoMail => "zoho_mail",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// What a person calls it.
    pub fn display_name(self) -> &'static str {
        match self {
            IntegrationKind::ExotelPhone => "Exotel Phone",
            IntegrationKind::ExotelSms => "Exotel SMS",
            IntegrationKind::ExotelWhatsapp => "Exotel WhatsApp",
            IntegrationKind::ZohoMail => "Zoho Mail",
        }
    }

    /// The provider behind it.
    pub fn provider(self) -> &'static str {
        match self {
            IntegrationKind::ZohoMail => "zoho",
            _ => "exotel",
        }
    }
}
