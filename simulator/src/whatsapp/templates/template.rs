//! A WhatsApp message template as Meta describes it (addendum A.1): its
//! status, category and components, the object a listing shows, and why
//! a change to one is refused.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::wire::iso_time;

/// A template's review status, as Meta writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Approved,
    Pending,
    Rejected,
    Paused,
    Disabled,
    InAppeal,
}

impl Status {
    const ALL: [Status; 6] = [
        Status::Approved,
        Status::Pending,
        Status::Rejected,
        Status::Paused,
        Status::Disabled,
        Status::InAppeal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Approved => "APPROVED",
            Status::Pending => "PENDING",
            Status::Rejected => "REJECTED",
            Status::Paused => "PAUSED",
            Status::Disabled => "DISABLED",
            Status::InAppeal => "IN_APPEAL",
        }
    }

    /// A status in any case (`approved`, `APPROVED`).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// A template's category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Marketing,
    Utility,
    Authentication,
}

impl Category {
    const ALL: [Category; 3] = [Category::Marketing, Category::Utility, Category::Authentication];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Marketing => "MARKETING",
            Category::Utility => "UTILITY",
            Category::Authentication => "AUTHENTICATION",
        }
    }

    /// A category in any case (`utility`, `UTILITY`).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// A template as submitted, once its fields passed the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub name: String,
    pub language: String,
    pub category: Category,
    /// As submitted, with UPPERCASE `type`s.
    pub components: Vec<Value>,
}

/// An edit of a template, once its fields passed the rules; what is
/// absent stays.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    /// The template's id, as sent.
    pub id: String,
    pub category: Option<Category>,
    pub components: Option<Vec<Value>>,
}

/// A review outcome scripted through the simulator's admin route.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub status: Status,
    /// Meta's reason; kept only for `REJECTED` (else `NONE`).
    pub rejected_reason: Option<String>,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`; unchanged when absent.
    pub quality_score: Option<String>,
}

/// One template of one WABA.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub id: u64,
    pub waba_id: String,
    pub name: String,
    pub language: String,
    pub category: Category,
    pub components: Vec<Value>,
    pub status: Status,
    pub rejected_reason: String,
    pub quality_score: String,
    pub updated: DateTime<Utc>,
}

impl Template {
    /// Meta's message-template object, as the list's `data` carries it.
    pub fn meta(&self) -> Value {
        json!({
            "id": self.id.to_string(), "name": self.name, "language": self.language,
            "status": self.status.as_str(), "category": self.category.as_str(),
            "components": self.components, "rejected_reason": self.rejected_reason,
            "quality_score": {"score": self.quality_score}, "last_updated_time": iso_time(self.updated),
        })
    }

    /// What a create or an edit answers: `{id, status, category}`.
    pub fn receipt(&self) -> Value {
        json!({"id": self.id.to_string(), "status": self.status.as_str(), "category": self.category.as_str()})
    }
}

/// Why a template change is refused, each with the per-item `code` it is
/// answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// 400: a field breaks a rule; the text names the field.
    Invalid(String),
    /// 400: the WABA has a template of this name in this language.
    AlreadyExists { language: String },
    /// 400: the name was deleted less than four weeks before.
    NameNotReusable { name: String, until: DateTime<Utc> },
    /// 404: the WABA has no template with this id.
    UnknownId(String),
    /// 404: the WABA has no template with this name.
    UnknownName(String),
}

impl TemplateError {
    /// The per-item `code`.
    pub fn code(&self) -> u16 {
        match self {
            TemplateError::UnknownId(_) | TemplateError::UnknownName(_) => 404,
            _ => 400,
        }
    }

    /// `error_data.message`: what kind of refusal.
    pub fn message(&self) -> &'static str {
        match self {
            TemplateError::Invalid(_) => "Invalid parameter",
            TemplateError::AlreadyExists { .. } => "Template already exists",
            TemplateError::NameNotReusable { .. } => "Template name cannot be reused yet",
            TemplateError::UnknownId(_) | TemplateError::UnknownName(_) => "Template not found",
        }
    }

    /// `error_data.description`: Meta's wording where it is known.
    pub fn description(&self) -> String {
        match self {
            TemplateError::Invalid(text) => text.clone(),
            TemplateError::AlreadyExists { language } => format!(
                "There is already {} content for this template. You can create a new template and try again.",
                language_name(language)
            ),
            TemplateError::NameNotReusable { name, until } => format!(
                "The template name {name} was deleted recently and cannot be reused until {}.",
                iso_time(*until)
            ),
            TemplateError::UnknownId(id) => format!("No template has the id {id}"),
            TemplateError::UnknownName(name) => format!("No template has the name {name}"),
        }
    }
}

/// Meta's English name of a language code, for its "already … content"
/// text (the code itself when it is not one of these).
fn language_name(code: &str) -> &str {
    let names = [
        ("en", "English"),
        ("en_US", "English (US)"),
        ("en_GB", "English (UK)"),
        ("hi", "Hindi"),
        ("bn", "Bengali"),
        ("gu", "Gujarati"),
        ("kn", "Kannada"),
        ("ml", "Malayalam"),
        ("mr", "Marathi"),
        ("pa", "Punjabi"),
        ("ta", "Tamil"),
        ("te", "Telugu"),
    ];
    names.iter().find(|(c, _)| *c == code).map_or(code, |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_categories_are_read_in_any_case() {
        assert_eq!(Status::parse("in_appeal"), Some(Status::InAppeal));
        assert_eq!(Status::parse("LIVE"), None);
        assert_eq!(Category::parse("Marketing"), Some(Category::Marketing));
        assert_eq!(Category::parse("SERVICE"), None);
    }
}
