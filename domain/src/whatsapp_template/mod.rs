//! One WhatsApp message template of an organisation as its provider last
//! listed it: Meta approves each template before it may be sent outside the
//! customer-service window, and may pause, disable or reject it later. The
//! id is derived from the organisation, the name and the language: one
//! aggregate per template, however many syncs see it.
//!
//! A template message is checked against the synced template before
//! anything is sent: it must be approved, and its header, body variables
//! and buttons must be the ones the template asks for.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OrganisationId;
use crate::whatsapp::{MediaKind, TemplateHeaderValue, TemplateMessage};

const WHATSAPP_TEMPLATE_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0013);

/// The aggregate id of an organisation's template in one language.
pub fn whatsapp_template_id(organisation_id: OrganisationId, name: &str, language: &str) -> Uuid {
    Uuid::new_v5(
        &WHATSAPP_TEMPLATE_NAMESPACE,
        format!("{organisation_id}/{name}/{}", language.to_ascii_lowercase()).as_bytes(),
    )
}

/// Meta's review of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateStatus {
    Approved,
    Pending,
    Rejected,
    Paused,
    Disabled,
    InAppeal,
    /// A status this version does not know; never sendable.
    Other,
}

impl TemplateStatus {
    /// The provider's status word, in any case.
    pub fn parse(word: &str) -> Self {
        match word.trim().to_ascii_uppercase().as_str() {
            "APPROVED" => Self::Approved,
            "PENDING" => Self::Pending,
            "REJECTED" => Self::Rejected,
            "PAUSED" => Self::Paused,
            "DISABLED" => Self::Disabled,
            "IN_APPEAL" => Self::InAppeal,
            _ => Self::Other,
        }
    }
}

/// What a template's header shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderFormat {
    Text,
    Image,
    Video,
    Document,
    Location,
}

impl HeaderFormat {
    /// The media a message sends in this header, if it is a media header.
    pub fn media(self) -> Option<MediaKind> {
        match self {
            Self::Image => Some(MediaKind::Image),
            Self::Video => Some(MediaKind::Video),
            Self::Document => Some(MediaKind::Document),
            Self::Text | Self::Location => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateHeader {
    pub format: HeaderFormat,
    /// A text header's text, with `{{1}}` when it takes a variable.
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonKind {
    QuickReply,
    Url,
    PhoneNumber,
    CopyCode,
    Flow,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateButton {
    pub kind: ButtonKind,
    pub text: String,
    /// A URL button's address, ending in `{{1}}` when the message completes it.
    pub url: Option<String>,
}

impl TemplateButton {
    /// Whether a message must send a value for it: a URL with a variable.
    pub fn takes_value(&self) -> bool {
        self.kind == ButtonKind::Url && self.url.as_deref().is_some_and(|u| variables(u) > 0)
    }
}

/// A template as the provider lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateDefinition {
    /// Meta's id of the template.
    pub provider_id: String,
    pub name: String,
    pub language: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`, as the provider says.
    pub category: String,
    pub status: TemplateStatus,
    /// Why Meta rejected or paused it, when it says.
    pub rejected_reason: Option<String>,
    pub header: Option<TemplateHeader>,
    /// The body, each variable written `{{n}}`.
    pub body: String,
    pub footer: Option<String>,
    pub buttons: Vec<TemplateButton>,
}

/// The highest `{{n}}` in a text: how many values it takes.
pub fn variables(text: &str) -> usize {
    let mut highest = 0;
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find("}}") else { break };
        if let Ok(n) = rest[..end].trim().parse::<usize>() {
            highest = highest.max(n);
        }
        rest = &rest[end + 2..];
    }
    highest
}

/// One variant per way a template message can differ from its template;
/// each names the field of the request's `content` at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateRule {
    #[error("template {name} ({language}) is {status:?} at the provider, not approved: it cannot be sent")]
    NotApproved {
        name: String,
        language: String,
        status: TemplateStatus,
    },
    #[error("template {name} takes {expected} body variables; {given} were given")]
    BodyVariables {
        name: String,
        expected: usize,
        given: usize,
    },
    #[error("template {name}'s header is {expected}; the message's header does not match it")]
    Header { name: String, expected: String },
    #[error("template {name} has no button {index} that takes a value")]
    UnknownButton { name: String, index: usize },
    #[error("template {name}'s button {index} needs a value")]
    MissingButton { name: String, index: usize },
}

impl TemplateRule {
    /// The field of the request's `content` the rule is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::NotApproved { .. } => "content.name",
            Self::BodyVariables { .. } => "content.body",
            Self::Header { .. } => "content.header",
            Self::UnknownButton { .. } | Self::MissingButton { .. } => "content.buttons",
        }
    }
}

impl TemplateDefinition {
    /// Whether it may be sent now.
    pub fn is_sendable(&self) -> bool {
        self.status == TemplateStatus::Approved
    }

    /// The first way `message` differs from what this template takes.
    pub fn check(&self, message: &TemplateMessage) -> Result<(), TemplateRule> {
        let name = || self.name.clone();
        if !self.is_sendable() {
            return Err(TemplateRule::NotApproved {
                name: name(),
                language: self.language.clone(),
                status: self.status,
            });
        }
        self.check_header(message.header.as_ref())?;
        let expected = variables(&self.body);
        if message.body.len() != expected {
            return Err(TemplateRule::BodyVariables {
                name: name(),
                expected,
                given: message.body.len(),
            });
        }
        for value in &message.buttons {
            let takes = self.buttons.get(value.index).is_some_and(TemplateButton::takes_value);
            if !takes {
                return Err(TemplateRule::UnknownButton {
                    name: name(),
                    index: value.index,
                });
            }
        }
        let missing = self
            .buttons
            .iter()
            .enumerate()
            .find(|(index, button)| button.takes_value() && !message.buttons.iter().any(|v| v.index == *index));
        match missing {
            Some((index, _)) => Err(TemplateRule::MissingButton { name: name(), index }),
            None => Ok(()),
        }
    }

    fn check_header(&self, given: Option<&TemplateHeaderValue>) -> Result<(), TemplateRule> {
        let wanted = self.header.as_ref();
        let fits = match (wanted, given) {
            (None, None) => true,
            (Some(header), None) => match header.format {
                HeaderFormat::Text => header.text.as_deref().is_none_or(|t| variables(t) == 0),
                HeaderFormat::Location => true,
                _ => false,
            },
            (Some(header), Some(TemplateHeaderValue::Text { .. })) => {
                header.format == HeaderFormat::Text && header.text.as_deref().is_some_and(|t| variables(t) == 1)
            }
            (Some(header), Some(TemplateHeaderValue::Media { kind, .. })) => header.format.media() == Some(*kind),
            (None, Some(_)) => false,
        };
        match fits {
            true => Ok(()),
            false => Err(TemplateRule::Header {
                name: self.name.clone(),
                expected: match wanted {
                    None => "absent".to_string(),
                    Some(h) if h.format == HeaderFormat::Text => match h.text.as_deref().map(variables) {
                        Some(1) => "a text with one variable".to_string(),
                        _ => "a fixed text".to_string(),
                    },
                    Some(h) => format!("{:?}", h.format).to_lowercase(),
                },
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WhatsappTemplateCommand {
    /// Keeps the template as the provider listed it; the same again changes nothing.
    Sync {
        organisation_id: OrganisationId,
        definition: Box<TemplateDefinition>,
        at: DateTime<Utc>,
    },
    /// The provider no longer lists it: it can no longer be sent.
    Remove { at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WhatsappTemplateEvent {
    WhatsappTemplateSynced {
        organisation_id: OrganisationId,
        definition: Box<TemplateDefinition>,
        at: DateTime<Utc>,
    },
    WhatsappTemplateRemoved {
        at: DateTime<Utc>,
    },
}

impl DomainEvent for WhatsappTemplateEvent {
    fn event_type(&self) -> String {
        match self {
            Self::WhatsappTemplateSynced { .. } => "WhatsappTemplateSynced",
            Self::WhatsappTemplateRemoved { .. } => "WhatsappTemplateRemoved",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhatsappTemplateError {
    /// The id belongs to another organisation's template.
    #[error("this template belongs to another organisation")]
    OtherOrganisation,
    /// A sync named a template by another name or language than its id's.
    #[error("a synced template keeps its name and language")]
    Renamed,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatsappTemplate {
    pub organisation_id: Option<OrganisationId>,
    /// The template while the provider lists it.
    pub definition: Option<TemplateDefinition>,
    pub synced_at: Option<DateTime<Utc>>,
}

impl WhatsappTemplate {
    /// The organisation's listed template, if this is one.
    pub fn of(&self, organisation_id: OrganisationId) -> Option<&TemplateDefinition> {
        self.definition
            .as_ref()
            .filter(|_| self.organisation_id == Some(organisation_id))
    }

    fn sync(
        &self,
        organisation_id: OrganisationId,
        definition: Box<TemplateDefinition>,
        at: DateTime<Utc>,
    ) -> Result<Vec<WhatsappTemplateEvent>, WhatsappTemplateError> {
        if self.organisation_id.is_some_and(|o| o != organisation_id) {
            return Err(WhatsappTemplateError::OtherOrganisation);
        }
        if let Some(mine) = &self.definition {
            if mine.name != definition.name || !mine.language.eq_ignore_ascii_case(&definition.language) {
                return Err(WhatsappTemplateError::Renamed);
            }
            if *mine == *definition {
                return Ok(Vec::new());
            }
        }
        Ok(vec![WhatsappTemplateEvent::WhatsappTemplateSynced {
            organisation_id,
            definition,
            at,
        }])
    }

    fn remove(&self, at: DateTime<Utc>) -> Vec<WhatsappTemplateEvent> {
        match self.definition {
            Some(_) => vec![WhatsappTemplateEvent::WhatsappTemplateRemoved { at }],
            None => Vec::new(),
        }
    }
}

impl Aggregate for WhatsappTemplate {
    const TYPE: &'static str = "whatsapp_template";
    type Command = WhatsappTemplateCommand;
    type Event = WhatsappTemplateEvent;
    type Error = WhatsappTemplateError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let events = match command {
            WhatsappTemplateCommand::Sync {
                organisation_id,
                definition,
                at,
            } => self.sync(organisation_id, definition, at)?,
            WhatsappTemplateCommand::Remove { at } => self.remove(at),
        };
        crate::write_all(self, sink, events).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            WhatsappTemplateEvent::WhatsappTemplateSynced {
                organisation_id,
                definition,
                at,
            } => {
                self.organisation_id = Some(organisation_id);
                self.definition = Some(*definition);
                self.synced_at = Some(at);
            }
            WhatsappTemplateEvent::WhatsappTemplateRemoved { at } => {
                self.definition = None;
                self.synced_at = Some(at);
            }
        }
    }
}

#[cfg(test)]
mod tests;
